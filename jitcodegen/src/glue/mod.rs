//! The Rust glue the jitcodes need at run time, generated as source text
//! into the interpreter's own build (`$OUT_DIR/metatrace_glue.rs`, included
//! by `metatrace::include_jit!()` as the module `crate::__metatrace_glue`).
//!
//! Layout of the generated file, top to bottom:
//!
//! - `use ::metatrace::runtime::jitcode as __mt;`
//! - `pub static TABLES: __mt::Tables`: what the runtime reads, pointing
//!   at the statics below;
//! - `static JITCODES: [__mt::JitCode; N]`: one entry per jitcode, in
//!   `Assembly::jitcodes` order (code encoded at generation time as a byte
//!   string, constant pools, argument registers, result kinds);
//! - `static FIELDS`, `ARRAYS`, `ENUMS`, `CALLS`, `ALLOCS`, `DRIVERS`, `STRINGS`:
//!   the descr tables, indexed as the instructions index them (a call's
//!   entry carries its effect summary, `CallEffectsDescr`, as lists of
//!   descr indices: `codewriter::effects`);
//! - the shims those tables point to, one `unsafe fn` each:
//!   `field_<i>` (address of an enum variant's field: rustc keeps that
//!   layout to itself, so it is found by `match`), `vec_len_<i>`,
//!   `vec_ptr_<i>`, `vec_push_<i>`, `vec_pop_<i>`, `vec_set_len_<i>`,
//!   `vec_cap_<i>`, `vec_reserve_<i>` (`Vec` layout is not stable
//!   either), `enum_tag_<i>` (variant index), `call_<i>` (a
//!   `#[dont_look_inside]` function, or a generated helper, called with
//!   its arguments rebuilt from register values and its result exploded
//!   back);
//! - `pub fn portal_<name>(...)`, one per driver, with the portal's own
//!   signature: explodes the arguments, runs the portal's jitcode on the
//!   blackhole interpreter, rebuilds the return value. `#[jit_driver]`
//!   calls it at the top of the portal in `--jit mode=jitcode-only`.
//! - `pub fn can_enter_jit_<name>(...)`, one per driver (`enter`): every
//!   green and red by `&mut`; calls the JIT (`runtime::jit::can_enter_jit`)
//!   and writes the state it hands back. `#[jit_driver]` calls it at every
//!   `can_enter_jit!()`.
//!
//! Field offsets of structs and tuples are `offset_of!` (evaluated by rustc,
//! so they are right for the layout rustc chose), item sizes `size_of`;
//! the tag and variant fields of enums with a primitive representation
//! are at offsets computed from `#[repr(C)]` mirrors (`repr.rs`).
//! Everything is named from the crate root (`crate::interp::Tape`): the
//! types, fields and `#[dont_look_inside]` functions the jitcodes use must
//! be visible there (`pub` or `pub(crate)`).

mod enter;
mod leaves;
mod repr;
mod rust_ty;
#[cfg(test)]
mod tests;

pub use enter::enter_fn_name;
pub use leaves::Leaves;
pub use rust_ty::rust_type;

use crate::codewriter::{mem_scalar, var_kind, Assembly, CallEffectsData, Container, RefConstText};
use crate::flowgraph::{adt_field_name, FieldRef, Helper, Program};
use crate::types::{AdtKind, Ty, TypeTable};
use metatrace_runtime::jitcode::{encode, DescrTable, JitCodeNames};
use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::quote;
use rust_ty::{adt_path, field_member, kind, scalar_ty};

/// The name of the generated file in `OUT_DIR`.
pub const GLUE_FILE: &str = "metatrace_glue.rs";

/// Lints the generated code may trip in the user's crate, whatever it
/// enables: `metatrace::include_jit!()` puts exactly this on the module the
/// glue is included in (the facade cannot depend on this crate, so the list
/// is written there too; a test of the facade keeps the two equal).
pub const ALLOW_LINTS: &str = "unused_unsafe, unused_variables, unused_mut, unused_parens, \
unused_braces, unused_qualifications, unused_results, unreachable_code, unreachable_patterns, \
non_snake_case, non_upper_case_globals, dead_code, missing_docs, unreachable_pub, \
trivial_casts, trivial_numeric_casts, clippy::all";

fn id(name: &str) -> Ident {
    Ident::new(name, Span::call_site())
}

fn str_lit(s: &str) -> Literal {
    Literal::string(s)
}

/// The `Option<ScalarTy>` of a value of type `ty` in memory (a field, an
/// item), as the descr tables hold it.
fn mem_scalar_ty(ty: &Ty) -> TokenStream {
    match mem_scalar(ty).map(scalar_ty) {
        Some(t) => quote!(::core::option::Option::Some(#t)),
        None => quote!(::core::option::Option::None),
    }
}

fn kinds(types: &TypeTable, tys: &[Ty]) -> Result<TokenStream, String> {
    let mut out = Vec::new();
    for t in tys {
        let leaves = types.flatten(t).ok_or_else(|| {
            format!(
                "a value of type `{}` cannot be passed to or from a jitcode",
                types.display(t)
            )
        })?;
        for l in leaves {
            let k = var_kind(&l).ok_or_else(|| format!("leaf of no kind in {l:?}"))?;
            out.push(kind(k));
        }
    }
    Ok(quote!(&[#(#out),*]))
}

/// Generate the glue for `assembly` (the codewriter's output for
/// `program`; the program gives the portals' signatures). The text is a
/// sequence of items, one per line or group, to be `include!`d in a module
/// at the interpreter crate's root. An `Err` is an internal error: the
/// front end should have rejected what the glue cannot express.
pub fn generate(program: &Program, assembly: &Assembly) -> Result<String, String> {
    let g = Gen {
        asm: assembly,
        types: &assembly.types,
        leaves: Leaves::new(&assembly.types),
    };
    let mut items: Vec<TokenStream> = Vec::new();
    let mut shims: Vec<TokenStream> = Vec::new();

    items.push(quote!(
        use ::metatrace::runtime::jitcode as __mt;
    ));

    let jitcodes = g.jitcodes()?;
    let fields = g.fields(&mut shims)?;
    let arrays = g.arrays(&mut shims)?;
    let enums = g.enums(&mut shims)?;
    let calls = g.calls(&mut shims)?;
    let allocs = g.allocs(&mut shims)?;
    let drivers = g.drivers()?;
    let strings: Vec<TokenStream> = assembly.strings.iter().map(|s| quote!(#s)).collect();
    let mut portals = g.portals(program)?;
    portals.extend(g.enter_fns(program)?);

    items.push(quote! {
        /// Everything the runtime needs about this interpreter's jitcodes.
        pub static TABLES: __mt::Tables = __mt::Tables {
            jitcodes: &JITCODES,
            fields: &FIELDS,
            arrays: &ARRAYS,
            enums: &ENUMS,
            calls: &CALLS,
            allocs: &ALLOCS,
            drivers: &DRIVERS,
            strings: &STRINGS,
        };
    });
    // One line per table entry: a compile error in the glue points at a
    // line that says which descr it is.
    let table = |name: &str, ty: TokenStream, entries: &[TokenStream]| {
        let name = id(name);
        let len = Literal::usize_unsuffixed(entries.len());
        let mut s = quote!(static #name: [#ty; #len] =).to_string();
        s.push_str(" [\n");
        for e in entries {
            s.push_str("    ");
            s.push_str(&e.to_string());
            s.push_str(",\n");
        }
        s.push_str("];");
        s
    };
    let mut text = String::new();
    text.push_str(
        "// @generated by metatrace (jitcodegen::glue) from the interpreter's jitcodes.\n\
         // Do not edit: rebuilt by the crate's build.rs (metatrace_translator::Build).\n\n",
    );
    for item in &items {
        text.push_str(&item.to_string());
        text.push_str("\n\n");
    }
    for (name, ty, entries) in [
        ("JITCODES", quote!(__mt::JitCode), &jitcodes),
        ("FIELDS", quote!(__mt::FieldDescr), &fields),
        ("ARRAYS", quote!(__mt::ArrayDescr), &arrays),
        ("ENUMS", quote!(__mt::EnumDescr), &enums),
        ("CALLS", quote!(__mt::CallDescr), &calls),
        ("ALLOCS", quote!(__mt::AllocDescr), &allocs),
        ("DRIVERS", quote!(__mt::DriverDescr), &drivers),
        ("STRINGS", quote!(&'static str), &strings),
    ] {
        text.push_str(&table(name, ty, entries));
        text.push_str("\n\n");
    }
    for s in shims.iter().chain(&portals) {
        text.push_str(&s.to_string());
        text.push_str("\n\n");
    }
    Ok(text)
}

struct Gen<'a> {
    asm: &'a Assembly,
    types: &'a TypeTable,
    leaves: Leaves<'a>,
}

impl Gen<'_> {
    fn jitcodes(&self) -> Result<Vec<TokenStream>, String> {
        let mut out = Vec::new();
        for j in &self.asm.jitcodes {
            let name = str_lit(&j.name);
            let code = Literal::byte_string(&encode(&j.insns));
            let [ri, rr, rf] = j.num_regs;
            let consts_i = j.consts_i.iter().map(|&v| i64_lit(v));
            let consts_r = j.consts_r.iter().map(|c| match c {
                RefConstText::Null => quote!(__mt::RefConst::Null),
                RefConstText::Str(s) => {
                    let s = str_lit(s);
                    quote!(__mt::RefConst::Str(#s))
                }
            });
            let consts_f = j.consts_f.iter().map(|&b| Literal::u64_suffixed(b));
            let args = j.args.iter().map(|r| {
                let k = kind(r.kind);
                let reg = Literal::u16_suffixed(r.reg);
                quote!(__mt::KReg { kind: #k, reg: #reg })
            });
            let results = j.results.iter().map(|&k| kind(k));
            out.push(quote!(__mt::JitCode {
                name: #name,
                code: #code,
                num_regs: [#ri, #rr, #rf],
                consts_i: &[#(#consts_i),*],
                consts_r: &[#(#consts_r),*],
                consts_f: &[#(#consts_f),*],
                args: &[#(#args),*],
                results: &[#(#results),*],
            }));
        }
        Ok(out)
    }

    /// The types `Box::new` allocates: size and alignment from rustc, as
    /// `Box::new` itself uses them.
    fn allocs(&self, shims: &mut Vec<TokenStream>) -> Result<Vec<TokenStream>, String> {
        let mut out = Vec::new();
        for (i, a) in self.asm.allocs.iter().enumerate() {
            let name = str_lit(&self.asm.name(DescrTable::Alloc, i as u16));
            let t = rust_type(self.types, &a.ty, None)?;
            // A type that owns heap memory (a Vec value's box, a struct
            // holding Vecs) is dropped before its box is freed.
            let drop = if a.ty.owns_heap(self.types) {
                let f = id(&format!("drop_{i}"));
                shims.push(quote! {
                    unsafe fn #f(p: usize) {
                        unsafe { ::core::ptr::drop_in_place(p as *mut #t) }
                    }
                });
                quote!(::core::option::Option::Some(#f))
            } else {
                quote!(::core::option::Option::None)
            };
            out.push(quote!(__mt::AllocDescr {
                name: #name,
                size: ::core::mem::size_of::<#t>(),
                align: ::core::mem::align_of::<#t>(),
                drop: #drop,
            }));
        }
        Ok(out)
    }

    fn fields(&self, shims: &mut Vec<TokenStream>) -> Result<Vec<TokenStream>, String> {
        let mut out = Vec::new();
        for (i, f) in self.asm.fields.iter().enumerate() {
            let name = str_lit(&adt_field_name(self.types, &f.field));
            let ty = mem_scalar_ty(&f.ty);
            let place = self.field_place(i, &f.field, shims)?;
            let immutable = f.immutable;
            out.push(quote!(__mt::FieldDescr {
                name: #name,
                ty: #ty,
                place: #place,
                immutable: #immutable,
            }));
        }
        Ok(out)
    }

    fn field_place(
        &self,
        i: usize,
        f: &FieldRef,
        shims: &mut Vec<TokenStream>,
    ) -> Result<TokenStream, String> {
        let bad = || format!("no field {}", adt_field_name(self.types, f));
        match (&f.owner, f.variant) {
            (Ty::Adt(aid), None) if self.types.adt(*aid).is_enum() => {
                // The tag of an enum with a primitive representation: its
                // first bytes in both layouts of RFC 2195.
                if self.types.adt(*aid).tag.is_none() {
                    return Err(bad());
                }
                Ok(quote!(__mt::FieldPlace::Offset(0)))
            }
            (Ty::Adt(aid), None) => {
                let adt = self.types.adts.get(aid.0 as usize).ok_or_else(bad)?;
                let AdtKind::Struct { fields, .. } = &adt.kind else {
                    return Err(bad());
                };
                let field = fields.get(f.index as usize).ok_or_else(bad)?;
                let path = adt_path(&adt.path)?;
                let m = field_member(&field.name);
                Ok(quote!(__mt::FieldPlace::Offset(
                    ::core::mem::offset_of!(#path, #m)
                )))
            }
            (Ty::Tuple(_), None) => {
                let t = rust_type(self.types, &f.owner, None)?;
                let m = Literal::usize_unsuffixed(f.index as usize);
                Ok(quote!(__mt::FieldPlace::Offset(
                    ::core::mem::offset_of!(#t, #m)
                )))
            }
            (Ty::Adt(aid), Some(v)) => {
                let adt = self.types.adts.get(aid.0 as usize).ok_or_else(bad)?;
                let AdtKind::Enum { variants } = &adt.kind else {
                    return Err(bad());
                };
                let var = variants.get(v as usize).ok_or_else(bad)?;
                let field = var.fields.get(f.index as usize).ok_or_else(bad)?;
                if let Some(tag) = adt.tag {
                    return repr::variant_field_offset(self.types, variants, tag, v, f.index);
                }
                let path = adt_path(&adt.path)?;
                let vname = rust_ty::ident(&var.name);
                let m = field_member(&field.name);
                let shim = id(&format!("field_{i}"));
                let msg = format!(
                    "metatrace: field {} read from another variant",
                    adt_field_name(self.types, f)
                );
                shims.push(quote! {
                    unsafe fn #shim(base: usize) -> usize {
                        unsafe {
                            match &*(base as *const #path) {
                                #path::#vname { #m: __f, .. } => __f as *const _ as usize,
                                _ => ::core::unreachable!(#msg),
                            }
                        }
                    }
                });
                Ok(quote!(__mt::FieldPlace::Shim(#shim)))
            }
            (Ty::Option(_) | Ty::Result(..), Some(v)) if f.index == 0 => {
                let t = rust_type(self.types, &f.owner, None)?;
                let pat = match (&f.owner, v) {
                    (Ty::Option(_), 1) => quote!(::core::option::Option::Some(__f)),
                    (Ty::Result(..), 0) => quote!(::core::result::Result::Ok(__f)),
                    (Ty::Result(..), 1) => quote!(::core::result::Result::Err(__f)),
                    _ => return Err(bad()),
                };
                let shim = id(&format!("field_{i}"));
                let msg = format!(
                    "metatrace: field {} read from another variant",
                    adt_field_name(self.types, f)
                );
                shims.push(quote! {
                    unsafe fn #shim(base: usize) -> usize {
                        unsafe {
                            match &*(base as *const #t) {
                                #pat => __f as *const _ as usize,
                                _ => ::core::unreachable!(#msg),
                            }
                        }
                    }
                });
                Ok(quote!(__mt::FieldPlace::Shim(#shim)))
            }
            _ => Err(bad()),
        }
    }

    fn arrays(&self, shims: &mut Vec<TokenStream>) -> Result<Vec<TokenStream>, String> {
        let mut out = Vec::new();
        for (i, arr) in self.asm.arrays.iter().enumerate() {
            let name = str_lit(&self.asm.array_name(i as u16));
            let item_ty = rust_type(self.types, &arr.item, None)?;
            let item = mem_scalar_ty(&arr.item);
            let vec = match arr.container {
                Container::Slice => quote!(::core::option::Option::None),
                Container::Vec => {
                    let (len, ptr, push, pop) = (
                        id(&format!("vec_len_{i}")),
                        id(&format!("vec_ptr_{i}")),
                        id(&format!("vec_push_{i}")),
                        id(&format!("vec_pop_{i}")),
                    );
                    let vec_ty = quote!(::std::vec::Vec<#item_ty>);
                    shims.push(quote! {
                        unsafe fn #len(v: usize) -> usize {
                            unsafe { (*(v as *const #vec_ty)).len() }
                        }
                        unsafe fn #ptr(v: usize) -> usize {
                            unsafe { (*(v as *const #vec_ty)).as_ptr() as usize }
                        }
                    });
                    let (push_field, pop_field) = if mem_scalar(&arr.item).is_some() {
                        let x = id("__x");
                        let o = id("__o");
                        let item = self.leaves.rebuild(&arr.item, &x, 0)?;
                        let explode = self.leaves.explode(&arr.item, quote!(__item), &o, 0)?;
                        shims.push(quote! {
                            unsafe fn #push(v: usize, value: u64) {
                                unsafe {
                                    let #x = [value];
                                    (*(v as *mut #vec_ty)).push(#item)
                                }
                            }
                            unsafe fn #pop(v: usize) -> ::core::option::Option<u64> {
                                unsafe {
                                    (*(v as *mut #vec_ty)).pop().map(|__item| {
                                        let mut #o = [0u64; 1];
                                        #explode
                                        #o[0]
                                    })
                                }
                            }
                        });
                        (
                            quote!(::core::option::Option::Some(#push)),
                            quote!(::core::option::Option::Some(#pop)),
                        )
                    } else {
                        (
                            quote!(::core::option::Option::None),
                            quote!(::core::option::Option::None),
                        )
                    };
                    let (set_len, cap, reserve) = (
                        id(&format!("vec_set_len_{i}")),
                        id(&format!("vec_cap_{i}")),
                        id(&format!("vec_reserve_{i}")),
                    );
                    let (with_capacity, drop) = (
                        id(&format!("vec_with_capacity_{i}")),
                        id(&format!("vec_drop_{i}")),
                    );
                    shims.push(quote! {
                        unsafe fn #set_len(v: usize, n: usize) {
                            unsafe { (*(v as *mut #vec_ty)).set_len(n) }
                        }
                        unsafe fn #cap(v: usize) -> usize {
                            unsafe { (*(v as *const #vec_ty)).capacity() }
                        }
                        unsafe fn #reserve(v: usize) {
                            unsafe { (*(v as *mut #vec_ty)).reserve(1) }
                        }
                        unsafe fn #with_capacity(v: usize, n: usize) {
                            unsafe { ::core::ptr::write(v as *mut #vec_ty, ::std::vec::Vec::with_capacity(n)) }
                        }
                        unsafe fn #drop(v: usize) {
                            unsafe { ::core::ptr::drop_in_place(v as *mut #vec_ty) }
                        }
                    });
                    quote!(::core::option::Option::Some(__mt::VecShims {
                        len: #len,
                        ptr: #ptr,
                        push: #push_field,
                        pop: #pop_field,
                        slots: ::core::option::Option::Some(__mt::SlotShims {
                            set_len: #set_len,
                            cap: #cap,
                            reserve: #reserve,
                            with_capacity: #with_capacity,
                            drop: #drop,
                        }),
                    }))
                }
            };
            let immutable = arr.immutable;
            out.push(quote!(__mt::ArrayDescr {
                immutable: #immutable,
                name: #name,
                item: #item,
                item_size: ::core::mem::size_of::<#item_ty>(),
                vec: #vec,
            }));
        }
        Ok(out)
    }

    fn enums(&self, shims: &mut Vec<TokenStream>) -> Result<Vec<TokenStream>, String> {
        let mut out = Vec::new();
        for (i, req) in self.asm.enums.iter().enumerate() {
            let ty = &req.ty;
            let immutable = req.immutable;
            let name = str_lit(&self.asm.name(DescrTable::Enum, i as u16));
            let shim = id(&format!("enum_tag_{i}"));
            let rt = rust_type(self.types, ty, None)?;
            let arms = match ty {
                Ty::Adt(aid) => {
                    let adt = self.types.adt(*aid);
                    let AdtKind::Enum { variants } = &adt.kind else {
                        return Err(format!("EnumTag on struct {}", adt.name));
                    };
                    let path = adt_path(&adt.path)?;
                    let arms = variants.iter().enumerate().map(|(k, v)| {
                        let vname = rust_ty::ident(&v.name);
                        let k = Literal::u32_suffixed(k as u32);
                        quote!(#path::#vname { .. } => #k,)
                    });
                    quote!(#(#arms)*)
                }
                Ty::Option(_) => quote! {
                    ::core::option::Option::None => 0u32,
                    ::core::option::Option::Some(_) => 1u32,
                },
                Ty::Result(..) => quote! {
                    ::core::result::Result::Ok(_) => 0u32,
                    ::core::result::Result::Err(_) => 1u32,
                },
                other => {
                    return Err(format!(
                        "EnumTag on `{}`, which is not an enum",
                        self.types.display(other)
                    ))
                }
            };
            shims.push(quote! {
                unsafe fn #shim(addr: usize) -> u32 {
                    unsafe {
                        match &*(addr as *const #rt) { #arms }
                    }
                }
            });
            out.push(quote!(__mt::EnumDescr { immutable: #immutable, name: #name, tag: #shim }));
        }
        Ok(out)
    }

    fn calls(&self, shims: &mut Vec<TokenStream>) -> Result<Vec<TokenStream>, String> {
        let mut out = Vec::new();
        for (i, c) in self.asm.calls.iter().enumerate() {
            let name = str_lit(&c.path);
            let shim = id(&format!("call_{i}"));
            let args = id("args");
            let results = id("results");
            let mut params = Vec::new();
            let mut at = 0;
            for p in &c.params {
                params.push(self.leaves.rebuild(p, &args, at)?);
                at += self.leaves.count(p)?;
            }
            let explode = self.leaves.explode(&c.ret, quote!(__r), &results, 0)?;
            let body = match &c.helper {
                Some(h) => helper_body(h, &params),
                None => {
                    let func = adt_path(&c.path)?;
                    quote!(#func(#(#params),*))
                }
            };
            shims.push(quote! {
                unsafe fn #shim(#args: &[u64], #results: &mut [u64]) {
                    unsafe {
                        let __r = #body;
                        #explode
                    }
                }
            });
            let arg_kinds = kinds(self.types, &c.params)?;
            let result_kinds = kinds(self.types, std::slice::from_ref(&c.ret))?;
            let effects = call_effects(&c.effects);
            out.push(quote!(__mt::CallDescr {
                name: #name,
                shim: #shim,
                arg_kinds: #arg_kinds,
                result_kinds: #result_kinds,
                effects: #effects,
            }));
        }
        Ok(out)
    }

    fn drivers(&self) -> Result<Vec<TokenStream>, String> {
        let mut out = Vec::new();
        for d in &self.asm.drivers {
            let portal = str_lit(&d.portal);
            let jitcode = Literal::u16_suffixed(d.jitcode);
            let greens = kinds(self.types, &d.greens)?;
            let reds = kinds(self.types, &d.reds)?;
            out.push(quote!(__mt::DriverDescr {
                portal: #portal,
                jitcode: #jitcode,
                greens: #greens,
                reds: #reds,
            }));
        }
        Ok(out)
    }

    /// `pub fn portal_<name>(p0: .., p1: ..) -> Ret`, one per driver.
    fn portals(&self, program: &Program) -> Result<Vec<TokenStream>, String> {
        let mut out = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        for d in &self.asm.drivers {
            let fn_name = portal_fn_name(&d.portal);
            if seen.contains(&fn_name) {
                return Err(format!(
                    "two #[jit_driver] functions are named `{}`: their jitcode-only entries \
                     (`{fn_name}`) would clash; rename one of them",
                    d.portal.rsplit("::").next().unwrap_or(&d.portal)
                ));
            }
            seen.push(fn_name.clone());
            let g = program
                .graph(&d.portal)
                .ok_or_else(|| format!("the portal {} has no graph", d.portal))?;
            let j = self
                .asm
                .jitcodes
                .get(d.jitcode as usize)
                .ok_or_else(|| format!("the portal {} has no jitcode", d.portal))?;
            // A reference in the result: tie every reference to one lifetime.
            let lt = if has_ref(self.types, &g.ret) {
                Some(quote!('__a))
            } else {
                None
            };
            let args = id("args");
            let mut params = Vec::new();
            let mut explode = TokenStream::new();
            let mut at = 0;
            for (k, p) in g.params.iter().enumerate() {
                let name = id(&format!("p{k}"));
                let ty = rust_type(self.types, &p.ty, lt.as_ref())?;
                params.push(quote!(#name: #ty));
                explode.extend(self.leaves.explode(&p.ty, quote!(#name), &args, at)?);
                at += self.leaves.count(&p.ty)?;
            }
            if at != j.args.len() {
                return Err(format!(
                    "the portal {} takes {at} leaves but its jitcode {}",
                    d.portal,
                    j.args.len()
                ));
            }
            let nret = self.leaves.count(&g.ret)?;
            if nret != j.results.len() {
                return Err(format!(
                    "the portal {} returns {nret} leaves but its jitcode {}",
                    d.portal,
                    j.results.len()
                ));
            }
            let ret_ty = rust_type(self.types, &g.ret, lt.as_ref())?;
            let results = id("results");
            let rebuild = self.leaves.rebuild(&g.ret, &results, 0)?;
            let generics = lt.as_ref().map(|l| quote!(<#l>));
            let n = Literal::usize_unsuffixed(at);
            let jitcode = Literal::u16_suffixed(d.jitcode);
            let name = id(&fn_name);
            let doc = format!(
                " `{}` run on its jitcode by the blackhole interpreter (`--jit mode=jitcode-only`).",
                d.portal
            );
            out.push(quote! {
                #[doc = #doc]
                pub fn #name #generics (#(#params),*) -> #ret_ty {
                    let mut #args = [0u64; #n];
                    #explode
                    let #results = ::metatrace::runtime::blackhole::call(&TABLES, #jitcode, &#args);
                    unsafe { #rebuild }
                }
            });
        }
        Ok(out)
    }
}

/// The body of a helper's shim (`Helper`), given its rebuilt arguments.
fn helper_body(h: &Helper, params: &[TokenStream]) -> TokenStream {
    let p = |i: usize| params[i].clone();
    match h {
        Helper::EnumWrite(_) => {
            let (at, v) = (p(0), p(1));
            quote!(::core::ptr::write(#at, #v))
        }
        Helper::VecInsert(_) => {
            let (v, i, x) = (p(0), p(1), p(2));
            quote!((#v).insert(#i, #x))
        }
        Helper::VecTruncate(_) => {
            let (v, n) = (p(0), p(1));
            quote!((#v).truncate(#n))
        }
        Helper::VecSwap(_) => {
            let (v, a, b) = (p(0), p(1), p(2));
            quote!((#v).swap(#a, #b))
        }
        Helper::VecClear(_) => {
            let v = p(0);
            quote!((#v).clear())
        }
        Helper::VecResize(_) => {
            let (v, n, x) = (p(0), p(1), p(2));
            quote!((#v).resize(#n, #x))
        }
        Helper::F64ToBits => {
            let x = p(0);
            quote!(f64::to_bits(#x))
        }
        Helper::F64FromBits => {
            let x = p(0);
            quote!(f64::from_bits(#x))
        }
    }
}

/// The name of the jitcode-only entry of the portal at `path`:
/// `interp::run` → `portal_run`. `#[jit_driver]` calls it by this name.
pub fn portal_fn_name(path: &str) -> String {
    format!("portal_{}", path.rsplit("::").next().unwrap_or(path))
}

/// Does a value of type `ty` hold a reference (so that a signature
/// returning it needs a named lifetime)?
fn has_ref(types: &TypeTable, ty: &Ty) -> bool {
    fn go(types: &TypeTable, ty: &Ty, seen: &mut Vec<crate::types::AdtId>) -> bool {
        match ty {
            Ty::Ref { .. } => true,
            Ty::Tuple(items) => items.iter().any(|t| go(types, t, seen)),
            Ty::Option(t) | Ty::Array(t, _) | Ty::Slice(t) | Ty::Vec(t) | Ty::Box(t) => {
                go(types, t, seen)
            }
            Ty::Result(a, b) => go(types, a, seen) || go(types, b, seen),
            Ty::Adt(id) => {
                if seen.contains(id) || id.0 as usize >= types.adts.len() {
                    return false;
                }
                seen.push(*id);
                let adt = types.adt(*id);
                adt.all_fields().any(|(_, _, f)| go(types, &f.ty, seen))
            }
            _ => false,
        }
    }
    go(types, ty, &mut Vec::new())
}

/// A call's effect summary as a `CallEffectsDescr` (static lists of
/// descr indices).
fn call_effects(e: &CallEffectsData) -> TokenStream {
    if e.everything {
        return quote!(__mt::CallEffectsDescr::EVERYTHING);
    }
    let list = |ds: &[u16]| {
        let ds = ds.iter().map(|&d| Literal::u16_suffixed(d));
        quote!(&[#(#ds),*])
    };
    let (fields, items, vecs, kept) = (
        list(&e.fields),
        list(&e.items),
        list(&e.vecs),
        list(&e.kept_fields),
    );
    let other = e.other;
    quote!(__mt::CallEffectsDescr {
        everything: false,
        fields: #fields,
        items: #items,
        vecs: #vecs,
        kept_fields: #kept,
        other: #other,
    })
}

fn i64_lit(v: i64) -> TokenStream {
    if v == i64::MIN {
        quote!(i64::MIN)
    } else {
        let l = Literal::i64_suffixed(v);
        quote!(#l)
    }
}
