//! The crate's items: user types (into the shared `TypeTable`), functions
//! and methods with their hints, constants, and the module scopes that
//! resolve paths. Built once per translation; later phases borrow it.

use crate::consteval;
use crate::diag::{at, Diagnostic, FileId, SourceMap};
use crate::hints::{parse_driver_args, DriverSpec};
use crate::load::{LoadedCrate, ModId};
use metatrace_jitcodegen::flowgraph::{Const, Param};
use metatrace_jitcodegen::types::{
    AdtDef, AdtId, AdtKind, FieldDef, IntTy, Ty, TypeTable, VariantDef,
};
use proc_macro2::Span;
use std::collections::HashMap;
use syn::spanned::Spanned;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FnId(pub usize);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConstId(pub usize);

/// What a name in a module refers to.
#[derive(Clone, Debug, PartialEq)]
pub enum Def {
    Adt(AdtId),
    Fn(FnId),
    Const(ConstId),
    Module(ModId),
    /// An enum variant, by enum and index.
    Variant(AdtId, u32),
    /// A name from outside the crate (`std::...`, `metatrace::...`), by its
    /// full path; the type checker knows a few of them.
    External(Vec<String>),
    /// An item of the crate that the subset cannot express (a generic
    /// struct, a trait, a static): an error only if traced code uses it.
    Unsupported {
        what: String,
        help: String,
    },
}

#[derive(Clone, Debug, Default)]
pub struct Hints {
    pub elidable: bool,
    pub dont_look_inside: bool,
    pub unroll_safe: bool,
    pub loop_invariant: bool,
    pub driver: Option<DriverSpec>,
    pub driver_span: Option<Span>,
}

#[derive(Clone, Debug)]
pub struct ParamDef {
    pub name: String,
    pub ty: Ty,
    pub mutable: bool,
    pub span: Span,
}

pub struct FnDef<'a> {
    /// Path from the crate root: `interp::run`, `interp::Tape::step`.
    pub path: String,
    pub name: String,
    pub module: ModId,
    pub file: FileId,
    pub sig: &'a syn::Signature,
    pub body: &'a syn::Block,
    pub attrs: &'a [syn::Attribute],
    /// For methods and associated functions: the `impl` type.
    pub self_ty: Option<AdtId>,
    pub hints: Hints,
    /// As declared (`pub`, `pub(crate)`, ...): the glue calls a
    /// `#[dont_look_inside]` function by path (`privacy`).
    pub vis: Option<&'a syn::Visibility>,
    /// Resolved signature, or the errors found resolving it (reported only
    /// if the function is reachable from a portal).
    pub signature: Result<(Vec<ParamDef>, Ty), Vec<Diagnostic>>,
}

impl FnDef<'_> {
    pub fn params(&self) -> &[ParamDef] {
        match &self.signature {
            Ok((p, _)) => p,
            Err(_) => &[],
        }
    }

    /// The parameters as a flow graph or residual call lists them.
    pub fn flow_params(&self) -> Vec<Param> {
        let param = |p: &ParamDef| Param {
            name: p.name.clone(),
            ty: p.ty.clone(),
        };
        self.params().iter().map(param).collect()
    }

    pub fn ret(&self) -> Ty {
        match &self.signature {
            Ok((_, r)) => r.clone(),
            Err(_) => Ty::Unit,
        }
    }

    pub fn has_receiver(&self) -> bool {
        matches!(self.sig.inputs.first(), Some(syn::FnArg::Receiver(_)))
    }
}

pub struct ConstDef<'a> {
    pub path: String,
    pub module: ModId,
    pub file: FileId,
    pub ty: &'a syn::Type,
    pub expr: &'a syn::Expr,
}

#[derive(Default)]
struct Scope {
    names: HashMap<String, Def>,
    /// `use a::b as c;` → ("c", [a, b]); globs have alias "*".
    uses: Vec<(String, Vec<String>)>,
}

pub struct ItemTable<'a> {
    pub krate: &'a LoadedCrate,
    pub types: TypeTable,
    pub fns: Vec<FnDef<'a>>,
    pub consts: Vec<ConstDef<'a>>,
    /// Inherent methods and associated functions, by type and name.
    pub methods: HashMap<(AdtId, String), FnId>,
    /// Module and file of each ADT's definition.
    pub adt_home: Vec<(ModId, FileId, Span)>,
    /// Methods of the crate's traits (declared or implemented), by name:
    /// the trait's name, so that `x.nand(y)` is reported as the trait
    /// method call it is rather than as an unknown std method.
    pub trait_methods: HashMap<String, String>,
    /// Misplaced or misused attributes on items (`#[virtualizable]`).
    pub attr_errors: Vec<Diagnostic>,
    scopes: Vec<Scope>,
}

const PRELUDE_TYPES: &[&str] = &["Option", "Result", "Vec", "String", "Box"];

/// Whether `path` (from a glob `use`) is a GC type of `metatrace::prelude`.
fn gc_prelude_item(path: &[String]) -> bool {
    path.len() == 3
        && path[0] == "metatrace"
        && path[1] == "prelude"
        && matches!(path[2].as_str(), "Gc" | "GcCell" | "QuasiImmut")
}

/// The name `resolve_type` knows an external type by: the last segment,
/// except for metatrace's GC types (`metatrace::Gc`, `metatrace::gc::Gc`,
/// `metatrace::prelude::Gc`), which are `metatrace::Gc` and
/// `metatrace::GcCell` so that a user's own `Gc` is not taken for them
/// (and `metatrace::QuasiImmut`, `metatrace::quasiimmut::QuasiImmut`).
fn external_type_name(path: &[String]) -> String {
    let last = path.last().cloned().unwrap_or_default();
    if path.first().map(String::as_str) == Some("metatrace")
        && matches!(last.as_str(), "Gc" | "GcCell" | "QuasiImmut")
    {
        return format!("metatrace::{last}");
    }
    last
}

impl<'a> ItemTable<'a> {
    pub fn build(krate: &'a LoadedCrate) -> ItemTable<'a> {
        let mut table = ItemTable {
            krate,
            types: TypeTable::default(),
            fns: Vec::new(),
            consts: Vec::new(),
            methods: HashMap::new(),
            adt_home: Vec::new(),
            trait_methods: HashMap::new(),
            attr_errors: Vec::new(),
            scopes: krate.modules.iter().map(|_| Scope::default()).collect(),
        };
        table.collect_names();
        table.resolve_adt_fields();
        table.collect_fns();
        table
    }

    pub fn sources(&self) -> &SourceMap {
        &self.krate.sources
    }

    pub fn fn_def(&self, id: FnId) -> &FnDef<'a> {
        &self.fns[id.0]
    }

    fn qualify(&self, module: ModId, name: &str) -> String {
        let m = self.krate.module(module);
        if m.path.is_empty() {
            name.to_owned()
        } else {
            format!("{}::{}", m.path_string(), name)
        }
    }

    // ---- pass 1: names -------------------------------------------------

    fn collect_names(&mut self) {
        let krate = self.krate;
        for (mi, module) in krate.modules.iter().enumerate() {
            let mid = ModId(mi);
            // Child modules.
            for (ci, child) in krate.modules.iter().enumerate() {
                if child.parent == Some(mid) {
                    if let Some(name) = child.path.last() {
                        self.scopes[mi]
                            .names
                            .insert(name.clone(), Def::Module(ModId(ci)));
                    }
                }
            }
            for item in &module.items {
                match item {
                    syn::Item::Struct(s) => {
                        self.declare_adt(mid, module.file, &s.ident, &s.generics, &s.attrs, false)
                    }
                    syn::Item::Enum(e) => {
                        self.declare_adt(mid, module.file, &e.ident, &e.generics, &e.attrs, true)
                    }
                    syn::Item::Const(c) => {
                        let id = ConstId(self.consts.len());
                        self.consts.push(ConstDef {
                            path: self.qualify(mid, &c.ident.to_string()),
                            module: mid,
                            file: module.file,
                            ty: &c.ty,
                            expr: &c.expr,
                        });
                        self.scopes[mi]
                            .names
                            .insert(c.ident.to_string(), Def::Const(id));
                    }
                    syn::Item::Static(syn::ItemStatic { ident, .. })
                    | syn::Item::Trait(syn::ItemTrait { ident, .. })
                    | syn::Item::Union(syn::ItemUnion { ident, .. })
                    | syn::Item::Type(syn::ItemType { ident, .. }) => {
                        let (what, help) = match item {
                            syn::Item::Static(_) => (
                                "statics are not supported in traced code",
                                "use a `const`, or keep the state in a struct passed by reference",
                            ),
                            syn::Item::Trait(_) => (
                                "traits are not supported in traced code",
                                "use inherent methods (`impl Type { ... }`) or an enum and a `match`",
                            ),
                            syn::Item::Union(_) => {
                                ("unions are not supported in traced code", "use an enum")
                            }
                            _ => (
                                "type aliases are not supported in traced code yet",
                                "write the type out",
                            ),
                        };
                        if let syn::Item::Trait(t) = item {
                            for it in &t.items {
                                if let syn::TraitItem::Fn(m) = it {
                                    self.trait_methods
                                        .insert(m.sig.ident.to_string(), ident.to_string());
                                }
                            }
                        }
                        let (what, help) = (what.into(), help.into());
                        let def = Def::Unsupported { what, help };
                        self.scopes[mi].names.insert(ident.to_string(), def);
                    }
                    syn::Item::Use(u) => {
                        let mut out = Vec::new();
                        flatten_use(&u.tree, &mut Vec::new(), &mut out);
                        self.scopes[mi].uses.extend(out);
                    }
                    _ => {}
                }
            }
        }
    }

    fn declare_adt(
        &mut self,
        module: ModId,
        file: FileId,
        ident: &syn::Ident,
        generics: &syn::Generics,
        attrs: &[syn::Attribute],
        is_enum: bool,
    ) {
        let name = ident.to_string();
        if !generics.params.is_empty()
            && generics
                .params
                .iter()
                .any(|p| !matches!(p, syn::GenericParam::Lifetime(_)))
        {
            self.scopes[module.0].names.insert(
                name,
                Def::Unsupported {
                    what: "generic types are not supported in traced code".into(),
                    help: "write a concrete type for each use".into(),
                },
            );
            return;
        }
        let id = AdtId(self.types.adts.len() as u32);
        self.types.adts.push(AdtDef {
            name: name.clone(),
            path: self.qualify(module, &name),
            kind: if is_enum {
                AdtKind::Enum {
                    variants: Vec::new(),
                }
            } else {
                AdtKind::Struct {
                    fields: Vec::new(),
                    named: true,
                }
            },
            owns_heap: false,
            is_copy: derives(attrs, "Copy"),
            tag: if is_enum { tag_repr(attrs) } else { None },
        });
        self.adt_home.push((module, file, ident.span()));
        self.scopes[module.0].names.insert(name, Def::Adt(id));
    }

    // ---- pass 2: fields ------------------------------------------------

    fn resolve_adt_fields(&mut self) {
        let krate = self.krate;
        for (mi, module) in krate.modules.iter().enumerate() {
            let mid = ModId(mi);
            for item in &module.items {
                match item {
                    syn::Item::Struct(s) => {
                        let Some(Def::Adt(id)) =
                            self.scopes[mi].names.get(&s.ident.to_string()).cloned()
                        else {
                            continue;
                        };
                        let (mut fields, named) = self.field_defs(mid, module.file, &s.fields);
                        self.mark_virtualizable(module.file, s, &mut fields);
                        self.types.adt_mut(id).kind = AdtKind::Struct { fields, named };
                    }
                    syn::Item::Enum(e) => {
                        let Some(Def::Adt(id)) =
                            self.scopes[mi].names.get(&e.ident.to_string()).cloned()
                        else {
                            continue;
                        };
                        // Explicit discriminants: the tag in memory is not
                        // the variant index; rustc's `match` reads it.
                        if let Some(a) = virtualizable_attr(&e.attrs) {
                            let err = crate::hints::virtualizable_not_on_struct(a.span());
                            let d = crate::hints::hint_error(self.sources(), module.file, &err);
                            self.attr_errors.push(d);
                        }
                        if e.variants.iter().any(|v| v.discriminant.is_some()) {
                            self.types.adt_mut(id).tag = None;
                        }
                        let variants = e
                            .variants
                            .iter()
                            .map(|v| {
                                let (fields, named) = self.field_defs(mid, module.file, &v.fields);
                                VariantDef {
                                    name: v.ident.to_string(),
                                    fields,
                                    named,
                                }
                            })
                            .collect();
                        self.types.adt_mut(id).kind = AdtKind::Enum { variants };
                    }
                    _ => {}
                }
            }
        }
        // Heap ownership is a fixpoint over nested definitions.
        loop {
            let mut changed = false;
            for i in 0..self.types.adts.len() {
                let adt = &self.types.adts[i];
                if adt.owns_heap {
                    continue;
                }
                if adt
                    .all_fields()
                    .any(|(_, _, f)| f.ty.owns_heap(&self.types))
                {
                    self.types.adts[i].owns_heap = true;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
    }

    /// The fields a struct's `#[virtualizable]` keeps in registers.
    fn mark_virtualizable(&mut self, file: FileId, s: &syn::ItemStruct, fields: &mut [FieldDef]) {
        let Some(a) = virtualizable_attr(&s.attrs) else {
            return;
        };
        let args = match &a.meta {
            syn::Meta::List(l) => l.tokens.clone(),
            syn::Meta::Path(_) => proc_macro2::TokenStream::new(),
            // `#[virtualizable = ...]`: not an argument list (the tokens
            // keep their spans, for the error).
            syn::Meta::NameValue(nv) => {
                let (eq, value) = (&nv.eq_token, &nv.value);
                quote::quote!(#eq #value)
            }
        };
        match crate::hints::virtualizable_fields(args, s) {
            Ok(kept) => kept
                .into_iter()
                .for_each(|i| fields[i].virtualizable = true),
            Err(errors) => {
                for e in errors {
                    let d = crate::hints::hint_error(self.sources(), file, &e);
                    self.attr_errors.push(d);
                }
            }
        }
    }

    fn field_defs(
        &self,
        module: ModId,
        file: FileId,
        fields: &syn::Fields,
    ) -> (Vec<FieldDef>, bool) {
        let named = matches!(fields, syn::Fields::Named(_));
        let defs = fields
            .iter()
            .enumerate()
            .map(|(i, f)| FieldDef {
                name: f
                    .ident
                    .as_ref()
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| i.to_string()),
                ty: self
                    .resolve_type(module, file, None, &f.ty)
                    .unwrap_or_else(|_| Ty::Opaque(crate::diag::rust_text(&f.ty))),
                virtualizable: false,
            })
            .collect();
        (defs, named)
    }

    // ---- pass 3: functions ---------------------------------------------

    fn collect_fns(&mut self) {
        let krate = self.krate;
        for (mi, module) in krate.modules.iter().enumerate() {
            let mid = ModId(mi);
            for item in &module.items {
                match item {
                    syn::Item::Fn(f) => {
                        let id = FnId(self.fns.len());
                        let mut def =
                            self.make_fn(mid, module.file, None, &f.sig, &f.block, &f.attrs, None);
                        def.vis = Some(&f.vis);
                        self.fns.push(def);
                        self.scopes[mi]
                            .names
                            .insert(f.sig.ident.to_string(), Def::Fn(id));
                    }
                    syn::Item::Impl(imp) => {
                        if let Some((_, trait_path, _)) = &imp.trait_ {
                            // Trait impls: their methods are not callable
                            // from traced code; a call is reported by name.
                            let trait_name = path_idents(trait_path).pop().unwrap_or_default();
                            for it in &imp.items {
                                if let syn::ImplItem::Fn(m) = it {
                                    self.trait_methods
                                        .entry(m.sig.ident.to_string())
                                        .or_insert_with(|| trait_name.clone());
                                }
                            }
                            continue;
                        }
                        let self_adt = match &*imp.self_ty {
                            syn::Type::Path(p) if p.qself.is_none() => {
                                match self.resolve_path_in(mid, &path_idents(&p.path)) {
                                    Some(Def::Adt(id)) => Some(id),
                                    _ => None,
                                }
                            }
                            _ => None,
                        };
                        let Some(adt) = self_adt else { continue };
                        for it in &imp.items {
                            if let syn::ImplItem::Fn(m) = it {
                                let id = FnId(self.fns.len());
                                let mut def = self.make_fn(
                                    mid,
                                    module.file,
                                    Some(adt),
                                    &m.sig,
                                    &m.block,
                                    &m.attrs,
                                    Some(&self.types.adt(adt).name.clone()),
                                );
                                def.vis = Some(&m.vis);
                                self.fns.push(def);
                                self.methods.insert((adt, m.sig.ident.to_string()), id);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn make_fn(
        &self,
        module: ModId,
        file: FileId,
        self_ty: Option<AdtId>,
        sig: &'a syn::Signature,
        body: &'a syn::Block,
        attrs: &'a [syn::Attribute],
        type_name: Option<&str>,
    ) -> FnDef<'a> {
        let name = sig.ident.to_string();
        let path = match type_name {
            Some(t) => self.qualify(module, &format!("{t}::{name}")),
            None => self.qualify(module, &name),
        };
        let (hints, mut errors) = self.read_hints(file, attrs);
        let signature = match self.resolve_signature(module, file, self_ty, sig) {
            Ok(s) if errors.is_empty() => Ok(s),
            Ok(_) => Err(std::mem::take(&mut errors)),
            Err(mut e) => {
                errors.append(&mut e);
                Err(errors)
            }
        };
        FnDef {
            path,
            name,
            module,
            file,
            sig,
            body,
            attrs,
            self_ty,
            hints,
            vis: None,
            signature,
        }
    }

    fn read_hints(&self, file: FileId, attrs: &[syn::Attribute]) -> (Hints, Vec<Diagnostic>) {
        let mut hints = Hints::default();
        let mut errors = Vec::new();
        for a in attrs {
            let Some(last) = a.path().segments.last() else {
                continue;
            };
            match last.ident.to_string().as_str() {
                "elidable" => hints.elidable = true,
                "dont_look_inside" => hints.dont_look_inside = true,
                "unroll_safe" => hints.unroll_safe = true,
                "loop_invariant" => hints.loop_invariant = true,
                "virtualizable" => {
                    let e = crate::hints::virtualizable_not_on_struct(a.span());
                    errors.push(crate::hints::hint_error(self.sources(), file, &e));
                }
                "jit_driver" => {
                    let tokens = match &a.meta {
                        syn::Meta::List(l) => l.tokens.clone(),
                        _ => proc_macro2::TokenStream::new(),
                    };
                    match parse_driver_args(tokens) {
                        Ok(spec) => {
                            hints.driver = Some(spec);
                            hints.driver_span = Some(a.span());
                        }
                        Err(e) => errors.push(crate::hints::hint_error(self.sources(), file, &e)),
                    }
                }
                _ => {}
            }
        }
        (hints, errors)
    }

    fn resolve_signature(
        &self,
        module: ModId,
        file: FileId,
        self_ty: Option<AdtId>,
        sig: &syn::Signature,
    ) -> Result<(Vec<ParamDef>, Ty), Vec<Diagnostic>> {
        let mut errors = Vec::new();
        let mut params = Vec::new();
        for input in &sig.inputs {
            match input {
                syn::FnArg::Receiver(r) => {
                    let Some(adt) = self_ty else { continue };
                    let base = Ty::Adt(adt);
                    let ty = match &r.reference {
                        Some(_) => Ty::reference(r.mutability.is_some(), base),
                        None => base,
                    };
                    params.push(ParamDef {
                        name: "self".into(),
                        ty,
                        mutable: r.reference.is_none() && r.mutability.is_some(),
                        span: r.self_token.span,
                    });
                }
                syn::FnArg::Typed(pt) => {
                    let (name, mutable) = match &*pt.pat {
                        syn::Pat::Ident(pi) if pi.subpat.is_none() && pi.by_ref.is_none() => {
                            (pi.ident.to_string(), pi.mutability.is_some())
                        }
                        other => {
                            errors.push(
                                at(
                                    self.sources(),
                                    file,
                                    other.span(),
                                    "patterns in parameters are not supported",
                                )
                                .with_help(
                                    "name the parameter and destructure it with `let` in the body",
                                ),
                            );
                            continue;
                        }
                    };
                    match self.resolve_type(module, file, self_ty, &pt.ty) {
                        Ok(ty) => params.push(ParamDef {
                            name,
                            ty,
                            mutable,
                            span: pt.pat.span(),
                        }),
                        Err(d) => errors.push(d),
                    }
                }
            }
        }
        let ret = match &sig.output {
            syn::ReturnType::Default => Ty::Unit,
            syn::ReturnType::Type(_, t) => match self.resolve_type(module, file, self_ty, t) {
                Ok(t) => t,
                Err(d) => {
                    errors.push(d);
                    Ty::Unit
                }
            },
        };
        if errors.is_empty() {
            Ok((params, ret))
        } else {
            Err(errors)
        }
    }

    // ---- types -----------------------------------------------------------

    /// Resolve a written type. Errors name the type and say what to write.
    pub fn resolve_type(
        &self,
        module: ModId,
        file: FileId,
        self_ty: Option<AdtId>,
        ty: &syn::Type,
    ) -> Result<Ty, Diagnostic> {
        let err = |span: Span, msg: &str, help: &str| {
            Err(at(self.sources(), file, span, msg.to_string()).with_help(help.to_string()))
        };
        match ty {
            syn::Type::Paren(p) => self.resolve_type(module, file, self_ty, &p.elem),
            syn::Type::Group(g) => self.resolve_type(module, file, self_ty, &g.elem),
            syn::Type::Never(_) => Ok(Ty::Never),
            syn::Type::Tuple(t) => {
                let items = t
                    .elems
                    .iter()
                    .map(|e| self.resolve_type(module, file, self_ty, e))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(if items.is_empty() { Ty::Unit } else { Ty::Tuple(items) })
            }
            syn::Type::Reference(r) => {
                let inner = self.resolve_type(module, file, self_ty, &r.elem)?;
                Ok(Ty::reference(r.mutability.is_some(), inner))
            }
            syn::Type::Slice(s) => Ok(Ty::Slice(Box::new(self.resolve_type(module, file, self_ty, &s.elem)?))),
            syn::Type::Array(a) => {
                let elem = self.resolve_type(module, file, self_ty, &a.elem)?;
                match self.eval_const_expr(module, file, &a.len) {
                    Ok(Const::Int(n, _)) if n >= 0 => Ok(Ty::Array(Box::new(elem), n as u64)),
                    _ => err(a.len.span(), "array length must be an integer constant", "use a literal or a `const` of integer type"),
                }
            }
            syn::Type::Ptr(p) => err(p.span(), "raw pointers are not supported in traced code", "use a reference (`&T` or `&mut T`)"),
            syn::Type::TraitObject(t) => err(t.span(), "trait objects are not supported in traced code", "use an enum with one variant per implementation and `match` on it"),
            syn::Type::ImplTrait(t) => err(t.span(), "`impl Trait` types are not supported in traced code", "use a concrete type"),
            syn::Type::BareFn(f) => err(f.span(), "function pointers are not supported in traced code", "call the function directly, or dispatch with a `match`"),
            syn::Type::Infer(i) => err(i.span(), "the placeholder `_` is not allowed here", "write the type"),
            syn::Type::Path(p) => {
                if p.qself.is_some() {
                    return err(p.span(), "qualified paths (`<T as Trait>::X`) are not supported in traced code", "write the concrete type");
                }
                self.resolve_type_path(module, file, self_ty, &p.path)
            }
            other => err(other.span(), "this kind of type is not supported in traced code", "use integers, bool, char, f64, references, tuples, arrays, Vec, Option, Result, or your own structs and enums"),
        }
    }

    fn resolve_type_path(
        &self,
        module: ModId,
        file: FileId,
        self_ty: Option<AdtId>,
        path: &syn::Path,
    ) -> Result<Ty, Diagnostic> {
        let last = path.segments.last().expect("path has a segment");
        let name = last.ident.to_string();
        let span = path.span();
        let generic_args: Vec<&syn::Type> = match &last.arguments {
            syn::PathArguments::AngleBracketed(a) => a
                .args
                .iter()
                .filter_map(|g| match g {
                    syn::GenericArgument::Type(t) => Some(t),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        let error =
            |msg: String, help: &str| Err(at(self.sources(), file, span, msg).with_help(help));
        let arg = |i: usize| -> Result<Ty, Diagnostic> {
            match generic_args.get(i) {
                Some(t) => self.resolve_type(module, file, self_ty, t),
                None => error(
                    format!("`{name}` needs its type arguments"),
                    &format!("write `{name}<...>`"),
                ),
            }
        };
        if path.segments.len() == 1 {
            if let Some(int) = IntTy::from_name(&name) {
                return Ok(Ty::Int(int));
            }
            match name.as_str() {
                "bool" => return Ok(Ty::Bool),
                "char" => return Ok(Ty::Char),
                "f64" => return Ok(Ty::F64),
                "str" => return Ok(Ty::Str),
                "f32" => return error("`f32` is not supported in traced code".into(), "use `f64`"),
                "i128" | "u128" => {
                    let msg = format!("`{name}` is not supported in traced code");
                    return error(msg, "use a 64-bit integer type");
                }
                "Self" => {
                    if let Some(adt) = self_ty {
                        return Ok(Ty::Adt(adt));
                    }
                }
                _ => {}
            }
        }
        let idents = path_idents(path);
        let def = self.resolve_path_in(module, &idents);
        let std_name = match &def {
            Some(Def::External(p)) => Some(external_type_name(p)),
            None if idents.len() == 1 && PRELUDE_TYPES.contains(&name.as_str()) => {
                Some(name.clone())
            }
            _ => None,
        };
        if let Some(std_name) = std_name {
            return match std_name.as_str() {
                "Vec" => Ok(Ty::Vec(Box::new(arg(0)?))),
                "Box" => Ok(Ty::Box(Box::new(arg(0)?))),
                "Option" => Ok(Ty::Option(Box::new(arg(0)?))),
                "Result" => Ok(Ty::Result(Box::new(arg(0)?), Box::new(arg(1)?))),
                "String" => Ok(Ty::String),
                "metatrace::Gc" => Ok(Ty::Gc(Box::new(arg(0)?))),
                "metatrace::GcCell" => Ok(Ty::GcCell(Box::new(arg(0)?))),
                // (Of a plain scalar: checked where it is used.)
                "metatrace::QuasiImmut" => Ok(Ty::QuasiImmut(Box::new(arg(0)?))),
                "Cell" => Ok(Ty::Cell(Box::new(arg(0)?))),
                "Rc" | "RefCell" | "HashMap" | "Weak" => Err(at(self.sources(), file, span, format!("type `{std_name}` is not supported in traced code"))
                    .with_help(crate::diag::GC_INSTEAD_HELP)),
                other => Err(at(self.sources(), file, span, format!("type `{other}` is not supported in traced code"))
                    .with_help("keep it in a struct that traced code passes by reference to #[dont_look_inside] functions")),
            };
        }
        match def {
            Some(Def::Adt(id)) => {
                if !generic_args.is_empty() {
                    let msg = "generic types are not supported in traced code";
                    return error(msg.into(), "write a concrete type for each use");
                }
                Ok(Ty::Adt(id))
            }
            Some(Def::Unsupported { what, help }) => {
                Err(at(self.sources(), file, span, what).with_help(help))
            }
            _ => error(
                format!("cannot find type `{}` in this crate", idents.join("::")),
                "define it in the crate, or use one of the supported std types",
            ),
        }
    }

    // ---- paths -----------------------------------------------------------

    /// Resolve a path as seen from `module`. `None` if nothing has that name.
    pub fn resolve_path_in(&self, module: ModId, idents: &[String]) -> Option<Def> {
        self.resolve_path_depth(module, idents, 0)
    }

    fn resolve_path_depth(&self, module: ModId, idents: &[String], depth: usize) -> Option<Def> {
        if depth > 16 || idents.is_empty() {
            return None;
        }
        let (mut def, rest) = match idents[0].as_str() {
            "crate" => (Def::Module(ModId(0)), &idents[1..]),
            "self" => (Def::Module(module), &idents[1..]),
            "super" => (Def::Module(self.krate.module(module).parent?), &idents[1..]),
            "std" | "core" | "alloc" | "metatrace" => return Some(Def::External(idents.to_vec())),
            first => (self.lookup(module, first, depth)?, &idents[1..]),
        };
        for seg in rest {
            def = match def {
                Def::Module(m) => self.lookup_in_module(m, seg, depth)?,
                Def::Adt(id) => {
                    let adt = self.types.adt(id);
                    if let Some(v) = adt.variants().iter().position(|v| &v.name == seg) {
                        Def::Variant(id, v as u32)
                    } else {
                        Def::Fn(*self.methods.get(&(id, seg.clone()))?)
                    }
                }
                Def::External(mut p) => {
                    p.push(seg.clone());
                    Def::External(p)
                }
                _ => return None,
            };
        }
        Some(def)
    }

    /// A name as seen inside `module`: its items, then its `use`s, then globs.
    fn lookup(&self, module: ModId, name: &str, depth: usize) -> Option<Def> {
        if let Some(d) = self.lookup_in_module(module, name, depth) {
            return Some(d);
        }
        None
    }

    fn lookup_in_module(&self, module: ModId, name: &str, depth: usize) -> Option<Def> {
        let scope = &self.scopes[module.0];
        if let Some(d) = scope.names.get(name) {
            return Some(d.clone());
        }
        for (alias, path) in &scope.uses {
            if alias == name {
                return self.resolve_use_path(module, path, depth + 1);
            }
        }
        for (alias, path) in &scope.uses {
            if alias == "*" {
                let mut full = path.clone();
                full.push(name.to_owned());
                match self.resolve_use_path(module, &full, depth + 1) {
                    // `use metatrace::prelude::*;` brings the GC types.
                    Some(Def::External(p)) if gc_prelude_item(&p) => return Some(Def::External(p)),
                    Some(Def::External(_)) | None => {}
                    Some(d) => return Some(d),
                }
            }
        }
        None
    }

    /// `use` paths are relative to the crate root in edition 2018+ unless
    /// they start with `self`/`super`/`crate`, or name a local item.
    fn resolve_use_path(&self, module: ModId, path: &[String], depth: usize) -> Option<Def> {
        match path.first().map(String::as_str) {
            Some("crate") | Some("self") | Some("super") => {
                self.resolve_path_depth(module, path, depth)
            }
            Some(first) if self.scopes[module.0].names.contains_key(first) => {
                self.resolve_path_depth(module, path, depth)
            }
            Some(_) => {
                // An external crate (std, metatrace, ...).
                Some(Def::External(path.to_vec()))
            }
            None => None,
        }
    }

    // ---- constants -------------------------------------------------------

    pub fn const_type(&self, id: ConstId) -> Result<Ty, Diagnostic> {
        let c = &self.consts[id.0];
        self.resolve_type(c.module, c.file, None, c.ty)
    }

    /// Evaluate a constant's value (integers, bool, char, f64).
    pub fn const_value(&self, id: ConstId) -> Result<Const, Diagnostic> {
        let c = &self.consts[id.0];
        let ty = self.const_type(id)?;
        let v = self.eval_const_expr(c.module, c.file, c.expr)?;
        consteval::convert(v, &ty).ok_or_else(|| {
            at(
                self.sources(),
                c.file,
                c.expr.span(),
                format!("constant value does not fit `{}`", self.types.display(&ty)),
            )
            .with_help("constants of integer, bool, char or f64 type are supported")
        })
    }

    /// Evaluate a constant expression. Unsuffixed integer literals come
    /// back as `i64`-typed values; `consteval::convert` fits them to the
    /// declared type.
    pub fn eval_const_expr(
        &self,
        module: ModId,
        file: FileId,
        e: &syn::Expr,
    ) -> Result<Const, Diagnostic> {
        let unsupported = || {
            at(
                self.sources(),
                file,
                e.span(),
                "this expression cannot be evaluated at translation time",
            )
            .with_help("constants may use literals, other constants, arithmetic and `as` casts")
        };
        let eval = |e| self.eval_const_expr(module, file, e);
        match e {
            syn::Expr::Paren(p) => eval(&p.expr),
            syn::Expr::Group(g) => eval(&g.expr),
            syn::Expr::Lit(l) => consteval::lit_const(&l.lit).ok_or_else(unsupported),
            syn::Expr::Path(p) => {
                let idents = path_idents(&p.path);
                match self.resolve_path_in(module, &idents) {
                    Some(Def::Const(id)) => self.const_value(id),
                    _ => match idents.as_slice() {
                        [ty, which] => consteval::int_limit(ty, which).ok_or_else(unsupported),
                        _ => Err(unsupported()),
                    },
                }
            }
            syn::Expr::Unary(u) => consteval::unary(&u.op, eval(&u.expr)?).ok_or_else(unsupported),
            syn::Expr::Binary(b) => {
                let l = eval(&b.left)?;
                let r = eval(&b.right)?;
                consteval::binary(&b.op, l, r).ok_or_else(unsupported)
            }
            syn::Expr::Cast(c) => {
                let v = eval(&c.expr)?;
                let ty = self.resolve_type(module, file, None, &c.ty)?;
                consteval::cast(v, &ty).ok_or_else(unsupported)
            }
            _ => Err(unsupported()),
        }
    }
}

/// `a::b::C` as strings.
pub fn path_idents(path: &syn::Path) -> Vec<String> {
    path.segments.iter().map(|s| s.ident.to_string()).collect()
}

fn flatten_use(
    tree: &syn::UseTree,
    prefix: &mut Vec<String>,
    out: &mut Vec<(String, Vec<String>)>,
) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            flatten_use(&p.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) => {
            let name = n.ident.to_string();
            let mut full = prefix.clone();
            if name == "self" {
                let alias = prefix.last().cloned().unwrap_or_default();
                out.push((alias, full));
            } else {
                full.push(name.clone());
                out.push((name, full));
            }
        }
        syn::UseTree::Rename(r) => {
            let mut full = prefix.clone();
            full.push(r.ident.to_string());
            out.push((r.rename.to_string(), full));
        }
        syn::UseTree::Glob(_) => out.push(("*".into(), prefix.clone())),
        syn::UseTree::Group(g) => {
            for t in &g.items {
                flatten_use(t, prefix, out);
            }
        }
    }
}

/// The tag layout an enum's `#[repr(...)]` guarantees (RFC 2195):
/// `repr(Int)`, `repr(C)`, `repr(C, Int)`; `None` without one (or with
/// `repr(transparent)`, `align`, `packed`).
fn tag_repr(attrs: &[syn::Attribute]) -> Option<metatrace_jitcodegen::types::TagRepr> {
    let mut int = None;
    let mut c = false;
    for a in attrs.iter().filter(|a| a.path().is_ident("repr")) {
        let list = a
            .parse_args_with(
                syn::punctuated::Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated,
            )
            .ok()?;
        for m in list {
            let syn::Meta::Path(p) = m else { return None };
            let name = p.get_ident()?.to_string();
            match name.as_str() {
                "C" => c = true,
                n => match IntTy::from_name(n) {
                    Some(t) => int = Some(t),
                    None => return None,
                },
            }
        }
    }
    let int = match (int, c) {
        (Some(t), _) => t,
        // C's `int` on the targets metatrace supports (x86-64).
        (None, true) => IntTy::I32,
        (None, false) => return None,
    };
    Some(metatrace_jitcodegen::types::TagRepr { int, c_outer: c })
}

/// The `#[virtualizable]` (or `#[metatrace::virtualizable(...)]`) among `attrs`.
fn virtualizable_attr(attrs: &[syn::Attribute]) -> Option<&syn::Attribute> {
    attrs.iter().find(|a| {
        a.path()
            .segments
            .last()
            .is_some_and(|s| s.ident == "virtualizable")
    })
}

fn derives(attrs: &[syn::Attribute], name: &str) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("derive")
            && a.parse_args_with(
                syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated,
            )
            .map(|list| {
                list.iter()
                    .any(|p| p.segments.last().map(|s| s.ident == name).unwrap_or(false))
            })
            .unwrap_or(false)
    })
}
