//! Type inference and name resolution for one function body.
//!
//! The result (`TypeckResults`) records the type of every expression, what
//! every path, call and method call refers to, and the type and binding
//! mode of every local; the lowering reads it instead of working types out
//! again. Unsupported constructs found on the way are diagnostics.

mod call;
mod expr;

pub(crate) use expr::vec_repeat_args;
mod infer;
mod pat;

use crate::builtins::Builtin;
use crate::diag::{at, Diagnostic, FileId};
use crate::items::{ConstId, FnId, ItemTable};
use crate::load::ModId;
use infer::{Subst, IT};
use metatrace_jitcodegen::flowgraph::Const;
use metatrace_jitcodegen::types::{AdtId, Ty};
use proc_macro2::Span;
use std::collections::HashMap;

/// Identity of a syn node: its address in the (immutable, long-lived) tree.
pub type NodeKey = usize;

pub fn key<T>(node: &T) -> NodeKey {
    node as *const T as usize
}

/// A field's name as written: `x`, or `0` for a tuple field.
pub fn member_name(m: &syn::Member) -> String {
    match m {
        syn::Member::Named(n) => n.to_string(),
        syn::Member::Unnamed(i) => i.index.to_string(),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LocalId(pub u32);

#[derive(Clone, Debug)]
pub struct LocalInfo {
    pub name: String,
    pub ty: Ty,
    pub mutable: bool,
    /// `Some(mutable)` for bindings made by reference under a default
    /// binding mode (`match &x { Some(v) => .. }`): `ty` is then `&T`.
    pub by_ref: Option<bool>,
    pub span: Span,
}

/// What a path expression refers to.
#[derive(Clone, Debug, PartialEq)]
pub enum PathRes {
    Local(LocalId),
    Const(ConstId),
    /// `i64::MAX` and other constants known without a definition.
    Value(Const),
    /// A variant without fields (`Op::Halt`, `None`) of an enum-like type.
    UnitVariant(u32),
    /// A unit struct.
    UnitStruct(AdtId),
}

/// What the callee of a call expression is.
#[derive(Clone, Debug, PartialEq)]
pub enum CallRes {
    Fn(FnId),
    /// Tuple struct constructor.
    Struct(AdtId),
    /// Enum variant constructor, including `Some`, `Ok`, `Err`: the variant
    /// index in the enum-like type of the call's result.
    Variant(u32),
    /// `promote(x)`.
    Promote,
    /// `we_are_jitted()`.
    WeAreJitted,
    /// `u64::from(x)`, `Box::new(x)` and the like: the registry's entry.
    Builtin(&'static Builtin),
}

#[derive(Clone, Debug, PartialEq)]
pub enum MethodRes {
    Fn(FnId),
    Builtin(&'static Builtin),
}

/// What a pattern node matches.
#[derive(Clone, Debug, PartialEq)]
pub enum PatRes {
    Binding(LocalId),
    /// An identifier or path pattern naming a constant.
    Const(Const),
    /// A variant of the enum-like type being matched.
    Variant(u32),
}

/// The macro invocations of the body, with their arguments parsed once so
/// that lowering sees the same syn nodes (and keys) as the type checker.
pub struct MacroArgs {
    pub name: String,
    pub args: Vec<syn::Expr>,
    /// `vec![x; n]` (args `x`, `n`), as against `vec![a, b, c]`.
    pub repeat: bool,
}

#[derive(Default)]
pub struct TypeckResults {
    pub expr_types: HashMap<NodeKey, Ty>,
    /// Type a pattern node is matched against, after default binding modes
    /// strip references (see `pat_deref`).
    pub pat_types: HashMap<NodeKey, Ty>,
    /// How many references were stripped before matching a pattern node.
    pub pat_deref: HashMap<NodeKey, usize>,
    pub pat_res: HashMap<NodeKey, PatRes>,
    pub paths: HashMap<NodeKey, PathRes>,
    pub calls: HashMap<NodeKey, CallRes>,
    pub methods: HashMap<NodeKey, MethodRes>,
    pub locals: Vec<LocalInfo>,
    /// Locals of the parameters, in order.
    pub params: Vec<LocalId>,
    /// Keyed by the address of the `syn::Macro`.
    pub macros: HashMap<NodeKey, Box<MacroArgs>>,
    /// Deref coercions: the expression's value is converted to this type
    /// where it is used (`&Vec<T>` to `&[T]`, `&String` to `&str`, `&&T` to `&T`).
    pub coercions: HashMap<NodeKey, Ty>,
}

impl TypeckResults {
    pub fn ty(&self, e: &syn::Expr) -> &Ty {
        self.expr_types.get(&key(e)).unwrap_or(&Ty::Never)
    }

    pub fn local(&self, id: LocalId) -> &LocalInfo {
        &self.locals[id.0 as usize]
    }
}

/// Labels of enclosing loops, for `break`/`continue` and break values.
struct LoopCtx {
    label: Option<String>,
    /// `Some` for `loop`, the type of its `break` values.
    break_ty: Option<IT>,
}

pub(crate) struct Checker<'t, 'a> {
    items: &'t ItemTable<'a>,
    module: ModId,
    file: FileId,
    self_ty: Option<AdtId>,
    subst: Subst,
    ret: IT,
    scopes: Vec<HashMap<String, LocalId>>,
    loops: Vec<LoopCtx>,
    /// Types of locals and nodes while inference runs.
    local_its: Vec<IT>,
    expr_its: HashMap<NodeKey, (IT, Span)>,
    pat_its: HashMap<NodeKey, IT>,
    coercion_its: HashMap<NodeKey, IT>,
    out: TypeckResults,
    pub diags: Vec<Diagnostic>,
    /// A callee's signature could not be resolved (its own errors are
    /// reported with it): types left open here are not worth a diagnostic.
    poisoned: bool,
    /// Functions declared or imported inside the body: the subset check
    /// refuses them, so their calls are not reported again.
    nested_fns: Vec<String>,
}

/// Type-check one function. The results are partial when there are
/// errors (the pipeline still follows the calls they resolved).
pub fn check_fn(items: &ItemTable, id: FnId) -> (TypeckResults, Vec<Diagnostic>) {
    let f = items.fn_def(id);
    let ret = IT::from_ty(&f.ret());
    let mut c = Checker {
        items,
        module: f.module,
        file: f.file,
        self_ty: f.self_ty,
        subst: Subst::default(),
        ret,
        scopes: vec![HashMap::new()],
        loops: Vec::new(),
        local_its: Vec::new(),
        expr_its: HashMap::new(),
        pat_its: HashMap::new(),
        coercion_its: HashMap::new(),
        out: TypeckResults::default(),
        diags: Vec::new(),
        poisoned: false,
        nested_fns: nested_fns(f.body),
    };
    if f.signature.is_err() {
        c.broken_signature(f.sig);
    }
    for p in f.params() {
        let id = c.new_local(&p.name, IT::from_ty(&p.ty), p.mutable, None, p.span);
        c.out.params.push(id);
    }
    let ret = c.ret.clone();
    let body_ty = c.block(f.body, Some(&ret));
    if !c.subst.unify(&body_ty, &ret) && !c.subst.is_never(&body_ty) {
        // rustc accepted the code; a mismatch here is our own limitation.
        let span = f.sig.ident.span();
        c.error(
            span,
            "cannot work out the type of this function's body",
            "add type annotations to its `let` bindings",
        );
    }
    c.finish()
}

impl<'t, 'a> Checker<'t, 'a> {
    /// The parameters and result of a signature that did not resolve (its
    /// errors are reported with it): what resolves keeps its type, the
    /// rest is an error type, so that the body is checked too.
    fn broken_signature(&mut self, sig: &syn::Signature) {
        use syn::spanned::Spanned;
        for input in &sig.inputs {
            let (name, mutable, ty, span) = match input {
                syn::FnArg::Receiver(r) => {
                    let ty = match self.self_ty {
                        Some(adt) if r.reference.is_some() => {
                            IT::Ref(r.mutability.is_some(), Box::new(IT::Leaf(Ty::Adt(adt))))
                        }
                        Some(adt) => IT::Leaf(Ty::Adt(adt)),
                        None => self.subst.fresh(infer::VarKind::Error),
                    };
                    ("self".to_string(), false, ty, r.self_token.span)
                }
                syn::FnArg::Typed(pt) => {
                    let syn::Pat::Ident(pi) = &*pt.pat else {
                        continue; // reported: patterns in parameters
                    };
                    let ty =
                        match self
                            .items
                            .resolve_type(self.module, self.file, self.self_ty, &pt.ty)
                        {
                            Ok(ty) => IT::from_ty(&ty),
                            Err(_) => self.subst.fresh(infer::VarKind::Error),
                        };
                    (
                        pi.ident.to_string(),
                        pi.mutability.is_some(),
                        ty,
                        pt.pat.span(),
                    )
                }
            };
            let id = self.new_local(&name, ty, mutable, None, span);
            self.out.params.push(id);
        }
        self.ret = match &sig.output {
            syn::ReturnType::Default => IT::unit(),
            syn::ReturnType::Type(_, t) => {
                match self
                    .items
                    .resolve_type(self.module, self.file, self.self_ty, t)
                {
                    Ok(ty) => IT::from_ty(&ty),
                    Err(_) => self.subst.fresh(infer::VarKind::Error),
                }
            }
        };
    }

    fn error(&mut self, span: Span, msg: impl Into<String>, help: impl Into<String>) {
        let d = at(self.items.sources(), self.file, span, msg).with_help(help);
        if !self.diags.contains(&d) {
            self.diags.push(d);
        }
    }

    fn new_local(
        &mut self,
        name: &str,
        ty: IT,
        mutable: bool,
        by_ref: Option<bool>,
        span: Span,
    ) -> LocalId {
        let id = LocalId(self.local_its.len() as u32);
        self.local_its.push(ty);
        self.out.locals.push(LocalInfo {
            name: name.to_owned(),
            ty: Ty::Unit,
            mutable,
            by_ref,
            span,
        });
        self.scopes.last_mut().unwrap().insert(name.to_owned(), id);
        id
    }

    fn lookup_local(&self, name: &str) -> Option<LocalId> {
        self.scopes.iter().rev().find_map(|s| s.get(name).copied())
    }

    fn record(&mut self, e: &syn::Expr, t: IT) -> IT {
        use syn::spanned::Spanned;
        self.expr_its.insert(key(e), (t.clone(), e.span()));
        t
    }

    fn finish(mut self) -> (TypeckResults, Vec<Diagnostic>) {
        for (i, t) in self.local_its.iter().enumerate() {
            match self.subst.resolve(t) {
                Some(ty) => self.out.locals[i].ty = ty,
                None if self.poisoned || self.subst.has_error(t) => {}
                None => {
                    let span = self.out.locals[i].span;
                    let name = self.out.locals[i].name.clone();
                    let d = at(
                        self.items.sources(),
                        self.file,
                        span,
                        format!("cannot infer the type of `{name}`"),
                    )
                    .with_help("add a type annotation: `let name: Type = ...`");
                    self.diags.push(d);
                }
            }
        }
        let mut unresolved = Vec::new();
        // The first place each private struct or enum shows in a type.
        let mut private: HashMap<AdtId, Span> = HashMap::new();
        let mut adts = Vec::new();
        for (k, (t, span)) in &self.expr_its {
            match self.subst.resolve(t) {
                Some(ty) => {
                    adts.clear();
                    crate::privacy::adts_in(&ty, &mut adts);
                    for &adt in &adts {
                        let earlier = private.get(&adt).is_some_and(|s| {
                            (s.start().line, s.start().column)
                                <= (span.start().line, span.start().column)
                        });
                        if !earlier && !crate::privacy::adt_visible(self.items, adt) {
                            private.insert(adt, *span);
                        }
                    }
                    self.out.expr_types.insert(*k, ty);
                }
                None if self.subst.has_error(t) => {}
                None => unresolved.push(*span),
            }
        }
        for (adt, span) in private {
            let a = self.items.types.adt(adt);
            let kind = if a.is_enum() { "enum" } else { "struct" };
            let d = at(
                self.items.sources(),
                self.file,
                span,
                format!("type `{}` is private to its module, and the code generated for the JIT cannot name it", a.name),
            )
            .with_help(format!("declare it `pub(crate) {kind} {}`: the JIT's glue, a module at the crate root, names the types traced code uses; `pub(crate)` keeps it inside the crate", a.name))
            .once_per(format!("private type {}", a.path));
            self.diags.push(d);
        }
        let resolved = |its: &HashMap<NodeKey, IT>| -> HashMap<NodeKey, Ty> {
            its.iter()
                .filter_map(|(k, t)| Some((*k, self.subst.resolve(t)?)))
                .collect()
        };
        self.out.coercions = resolved(&self.coercion_its);
        self.out.pat_types = resolved(&self.pat_its);
        if self.diags.is_empty() && !self.poisoned {
            if let Some(span) = unresolved
                .into_iter()
                .min_by_key(|s| (s.start().line, s.start().column))
            {
                let d = at(
                    self.items.sources(),
                    self.file,
                    span,
                    "cannot infer the type of this expression",
                )
                .with_help("add a type annotation to the `let` it is bound to");
                self.diags.push(d);
            }
        }
        self.diags.sort_by_key(|d| (d.line, d.col));
        (self.out, self.diags)
    }

    fn resolve_written_type(&mut self, t: &syn::Type) -> IT {
        match self
            .items
            .resolve_type(self.module, self.file, self.self_ty, t)
        {
            Ok(ty) => IT::from_ty(&ty),
            Err(d) => {
                self.diags.push(d);
                self.subst.fresh(infer::VarKind::Error)
            }
        }
    }
}

/// The names of the functions declared or imported (`use`) inside
/// `body`, at any depth.
fn nested_fns(body: &syn::Block) -> Vec<String> {
    struct Finder(Vec<String>);
    impl<'ast> syn::visit::Visit<'ast> for Finder {
        fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
            self.0.push(f.sig.ident.to_string());
            syn::visit::visit_item_fn(self, f);
        }
        fn visit_use_name(&mut self, n: &'ast syn::UseName) {
            self.0.push(n.ident.to_string());
        }
        fn visit_use_rename(&mut self, r: &'ast syn::UseRename) {
            self.0.push(r.rename.to_string());
        }
    }
    let mut finder = Finder(Vec::new());
    syn::visit::Visit::visit_block(&mut finder, body);
    finder.0
}

/// Variant list of an enum-like type: user enums, `Option`, `Result`.
/// Each variant: its name and field types. Shared with the lowering.
pub fn enum_variants(items: &ItemTable, ty: &Ty) -> Option<Vec<(String, Vec<Ty>)>> {
    match ty {
        Ty::Adt(id) => {
            let adt = items.types.adt(*id);
            if !adt.is_enum() {
                return None;
            }
            Some(
                adt.variants()
                    .iter()
                    .map(|v| {
                        (
                            v.name.clone(),
                            v.fields.iter().map(|f| f.ty.clone()).collect(),
                        )
                    })
                    .collect(),
            )
        }
        Ty::Option(t) => Some(vec![
            ("None".into(), vec![]),
            ("Some".into(), vec![(**t).clone()]),
        ]),
        Ty::Result(a, b) => Some(vec![
            ("Ok".into(), vec![(**a).clone()]),
            ("Err".into(), vec![(**b).clone()]),
        ]),
        _ => None,
    }
}
