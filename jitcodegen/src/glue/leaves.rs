//! Rust values to and from their scalar leaves: the one place where the
//! glue's code for `TypeTable::flatten` is generated. Residual-call shims,
//! Vec push/pop shims and portal entries all use it.
//!
//! Leaves are canonical register values (`u64`): ints as the bits of the
//! sign- or zero-extended value, `bool` 0/1, `char` its scalar value, `f64`
//! its bits, references their address, `&[T]`/`&str` as (data pointer,
//! length). Aggregates are laid out exactly as `TypeTable::flatten` says:
//! structs and tuples field by field, enums (and `Option`, `Result`) as a
//! `u32` tag followed by every variant's leaves in turn, the leaves of the
//! variants not taken being zero.

use super::rust_ty::{adt_path, field_member, rust_type};
use crate::types::{AdtKind, Ty, TypeTable};
use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::quote;
use std::cell::Cell;

pub struct Leaves<'a> {
    pub types: &'a TypeTable,
    /// For fresh binding names.
    counter: Cell<u32>,
}

fn idx(i: usize) -> Literal {
    Literal::usize_unsuffixed(i)
}

impl<'a> Leaves<'a> {
    pub fn new(types: &'a TypeTable) -> Self {
        Leaves {
            types,
            counter: Cell::new(0),
        }
    }

    fn fresh(&self) -> Ident {
        let n = self.counter.get();
        self.counter.set(n + 1);
        Ident::new(&format!("__v{n}"), Span::call_site())
    }

    /// Number of leaves of `ty`; an error for types that cannot be exploded.
    pub fn count(&self, ty: &Ty) -> Result<usize, String> {
        self.types.flatten(ty).map(|l| l.len()).ok_or_else(|| {
            format!(
                "a value of type `{}` cannot be passed by value between native code and jitcodes",
                self.types.display(ty)
            )
        })
    }

    fn rust_type(&self, ty: &Ty) -> Result<TokenStream, String> {
        rust_type(self.types, ty, None)
    }

    /// Statements that write the leaves of `value` (an expression of type
    /// `ty`, evaluated once and moved) into `out[at..]`.
    pub fn explode(
        &self,
        ty: &Ty,
        value: TokenStream,
        out: &Ident,
        at: usize,
    ) -> Result<TokenStream, String> {
        let i = idx(at);
        Ok(match ty {
            Ty::Unit | Ty::Never => quote!(let _ = #value;),
            Ty::Bool => quote!(#out[#i] = (#value) as u64;),
            Ty::Char => quote!(#out[#i] = (#value) as u32 as u64;),
            Ty::Int(t) if t.signed() => quote!(#out[#i] = (#value) as i64 as u64;),
            Ty::Int(_) => quote!(#out[#i] = (#value) as u64;),
            Ty::F64 => quote!(#out[#i] = f64::to_bits(#value);),
            Ty::Ref { mutable, to } => match &**to {
                Ty::Slice(_) | Ty::Str => {
                    let v = self.fresh();
                    let j = idx(at + 1);
                    quote! {
                        let #v = #value;
                        #out[#i] = #v.as_ptr() as usize as u64;
                        #out[#j] = #v.len() as u64;
                    }
                }
                _ if *mutable => quote!(#out[#i] = (#value) as *mut _ as usize as u64;),
                _ => quote!(#out[#i] = (#value) as *const _ as usize as u64;),
            },
            // An owned box: its pointer; the jitcode (or the native code
            // it hands it to) owns it from now on.
            Ty::Box(_) => {
                quote!(#out[#i] = ::std::boxed::Box::into_raw(#value) as usize as u64;)
            }
            Ty::Gc(_) => quote!(#out[#i] = ::metatrace::Gc::as_ptr(#value) as usize as u64;),
            // A Vec value: the box that holds it (`TypeTable::flatten`).
            Ty::Vec(_) => quote! {
                #out[#i] = ::std::boxed::Box::into_raw(::std::boxed::Box::new(#value)) as usize as u64;
            },
            Ty::Tuple(items) => {
                let vars: Vec<Ident> = items.iter().map(|_| self.fresh()).collect();
                let mut body = quote!(let (#(#vars,)*) = #value;);
                let mut at = at;
                for (v, t) in vars.iter().zip(items) {
                    body.extend(self.explode(t, quote!(#v), out, at)?);
                    at += self.count(t)?;
                }
                body
            }
            Ty::Adt(id) => {
                let adt = self.types.adt(*id);
                let n = self.count(ty)?;
                let path = adt_path(&adt.path)?;
                match &adt.kind {
                    AdtKind::Struct { fields, .. } => {
                        let vars: Vec<Ident> = fields.iter().map(|_| self.fresh()).collect();
                        let members = fields.iter().map(|f| field_member(&f.name));
                        let mut body = quote!(let #path { #(#members: #vars,)* } = #value;);
                        let mut at = at;
                        for (v, f) in vars.iter().zip(fields) {
                            body.extend(self.explode(&f.ty, quote!(#v), out, at)?);
                            at += self.count(&f.ty)?;
                        }
                        body
                    }
                    AdtKind::Enum { variants } => {
                        let end = idx(at + n);
                        let mut arms = Vec::new();
                        let mut slot = at + 1;
                        for (k, var) in variants.iter().enumerate() {
                            let name = super::rust_ty::ident(&var.name);
                            let vars: Vec<Ident> =
                                var.fields.iter().map(|_| self.fresh()).collect();
                            let members = var.fields.iter().map(|f| field_member(&f.name));
                            let tag = Literal::u64_suffixed(k as u64);
                            let mut body = quote!(#out[#i] = #tag;);
                            for (v, f) in vars.iter().zip(&var.fields) {
                                body.extend(self.explode(&f.ty, quote!(#v), out, slot)?);
                                slot += self.count(&f.ty)?;
                            }
                            arms.push(quote!(#path::#name { #(#members: #vars,)* } => { #body }));
                        }
                        quote! {
                            #out[#i..#end].fill(0);
                            match #value { #(#arms)* }
                        }
                    }
                }
            }
            Ty::Option(t) => {
                let v = self.fresh();
                let end = idx(at + self.count(ty)?);
                let some = self.explode(t, quote!(#v), out, at + 1)?;
                quote! {
                    #out[#i..#end].fill(0);
                    match #value {
                        ::core::option::Option::None => {}
                        ::core::option::Option::Some(#v) => { #out[#i] = 1u64; #some }
                    }
                }
            }
            Ty::Result(a, b) => {
                let v = self.fresh();
                let end = idx(at + self.count(ty)?);
                let ok = self.explode(a, quote!(#v), out, at + 1)?;
                let err = self.explode(b, quote!(#v), out, at + 1 + self.count(a)?)?;
                quote! {
                    #out[#i..#end].fill(0);
                    match #value {
                        ::core::result::Result::Ok(#v) => { #ok }
                        ::core::result::Result::Err(#v) => { #out[#i] = 1u64; #err }
                    }
                }
            }
            _ => return Err(self.count(ty).unwrap_err()),
        })
    }

    /// An expression of type `ty` rebuilt from the leaves `input[at..]`.
    /// Must be used in an `unsafe` context: references are made from
    /// addresses, `char`s from their scalar values without checks.
    pub fn rebuild(&self, ty: &Ty, input: &Ident, at: usize) -> Result<TokenStream, String> {
        let i = idx(at);
        Ok(match ty {
            Ty::Unit => quote!(()),
            Ty::Never => {
                quote!(::core::unreachable!(
                    "metatrace: a value of type `!` was returned"
                ))
            }
            Ty::Bool => quote!((#input[#i] != 0)),
            Ty::Char => quote!(::core::char::from_u32_unchecked(#input[#i] as u32)),
            Ty::Int(t) => {
                let t = super::rust_ty::int_ident(*t);
                quote!((#input[#i] as #t))
            }
            Ty::F64 => quote!(f64::from_bits(#input[#i])),
            Ty::Ref { mutable, to } => {
                let j = idx(at + 1);
                match (&**to, mutable) {
                    (Ty::Slice(e), false) => {
                        let e = self.rust_type(e)?;
                        quote!(::core::slice::from_raw_parts(#input[#i] as usize as *const #e, #input[#j] as usize))
                    }
                    (Ty::Slice(e), true) => {
                        let e = self.rust_type(e)?;
                        quote!(::core::slice::from_raw_parts_mut(#input[#i] as usize as *mut #e, #input[#j] as usize))
                    }
                    (Ty::Str, false) => quote!(::core::str::from_utf8_unchecked(
                        ::core::slice::from_raw_parts(#input[#i] as usize as *const u8, #input[#j] as usize)
                    )),
                    (Ty::Str, true) => quote!(::core::str::from_utf8_unchecked_mut(
                        ::core::slice::from_raw_parts_mut(#input[#i] as usize as *mut u8, #input[#j] as usize)
                    )),
                    (to, false) => {
                        let t = self.rust_type(to)?;
                        quote!(&*(#input[#i] as usize as *const #t))
                    }
                    (to, true) => {
                        let t = self.rust_type(to)?;
                        quote!(&mut *(#input[#i] as usize as *mut #t))
                    }
                }
            }
            // Ownership of the box passes to the native code.
            Ty::Box(to) => {
                let t = self.rust_type(to)?;
                quote!(::std::boxed::Box::from_raw(#input[#i] as usize as *mut #t))
            }
            Ty::Gc(to) => {
                let t = self.rust_type(to)?;
                quote!(::metatrace::Gc::from_raw(#input[#i] as usize as *const #t))
            }
            // A Vec value moves out of its box, which is freed.
            Ty::Vec(_) => {
                let t = self.rust_type(ty)?;
                quote!(*::std::boxed::Box::from_raw(#input[#i] as usize as *mut #t))
            }
            Ty::Tuple(items) => {
                let mut parts = Vec::new();
                let mut at = at;
                for t in items {
                    parts.push(self.rebuild(t, input, at)?);
                    at += self.count(t)?;
                }
                quote!((#(#parts,)*))
            }
            Ty::Adt(id) => {
                let adt = self.types.adt(*id);
                self.count(ty)?;
                let path = adt_path(&adt.path)?;
                match &adt.kind {
                    AdtKind::Struct { fields, .. } => {
                        let mut parts = Vec::new();
                        let mut at = at;
                        for f in fields {
                            let m = field_member(&f.name);
                            let e = self.rebuild(&f.ty, input, at)?;
                            parts.push(quote!(#m: #e));
                            at += self.count(&f.ty)?;
                        }
                        quote!(#path { #(#parts,)* })
                    }
                    AdtKind::Enum { variants } => {
                        let mut arms = Vec::new();
                        let mut slot = at + 1;
                        for (k, var) in variants.iter().enumerate() {
                            let name = super::rust_ty::ident(&var.name);
                            let mut parts = Vec::new();
                            for f in &var.fields {
                                let m = field_member(&f.name);
                                let e = self.rebuild(&f.ty, input, slot)?;
                                parts.push(quote!(#m: #e));
                                slot += self.count(&f.ty)?;
                            }
                            let tag = Literal::u64_suffixed(k as u64);
                            arms.push(quote!(#tag => #path::#name { #(#parts,)* },));
                        }
                        let msg = format!("metatrace: bad tag for enum {}", adt.name);
                        quote!(match #input[#i] { #(#arms)* _ => ::core::unreachable!(#msg), })
                    }
                }
            }
            Ty::Option(t) => {
                let some = self.rebuild(t, input, at + 1)?;
                quote!(match #input[#i] {
                    0u64 => ::core::option::Option::None,
                    _ => ::core::option::Option::Some(#some),
                })
            }
            Ty::Result(a, b) => {
                let ok = self.rebuild(a, input, at + 1)?;
                let err = self.rebuild(b, input, at + 1 + self.count(a)?)?;
                quote!(match #input[#i] {
                    0u64 => ::core::result::Result::Ok(#ok),
                    _ => ::core::result::Result::Err(#err),
                })
            }
            _ => return Err(self.count(ty).unwrap_err()),
        })
    }
}
