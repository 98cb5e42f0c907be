//! Calls: of the crate's functions, struct and variant constructors, the
//! std functions and methods of the builtins registry, and the crate's
//! inherent methods; with the deref coercions of their arguments.

use super::builtins;
use super::infer::{VarKind, IT};
use super::{key, CallRes, Checker, MethodRes};
use crate::items::{path_idents, Def};
use metatrace_jitcodegen::types::{AdtKind, IntTy, Ty};
use proc_macro2::Span;
use syn::spanned::Spanned;

impl Checker<'_, '_> {
    pub(super) fn call(&mut self, e: &syn::Expr, c: &syn::ExprCall, expected: Option<&IT>) -> IT {
        let syn::Expr::Path(fp) = &*c.func else {
            self.error(
                c.func.span(),
                "calling a computed function value is not supported in traced code",
                "call a function by its name",
            );
            return self.fresh_any();
        };
        let idents = path_idents(&fp.path);
        if idents.len() == 1 && self.lookup_local(&idents[0]).is_some() {
            self.error(
                c.func.span(),
                "calling a local variable is not supported in traced code",
                "call a function by its name",
            );
            return self.fresh_any();
        }
        let def = self.resolve_def(&fp.path);
        let args: Vec<&syn::Expr> = c.args.iter().collect();
        match def {
            Some(Def::Fn(id)) => {
                let f = self.items.fn_def(id);
                let params: Vec<IT> = f.params().iter().map(|p| IT::from_ty(&p.ty)).collect();
                let ret = IT::from_ty(&f.ret());
                if f.signature.is_err() {
                    self.poisoned = true;
                    for a in &args {
                        self.expr(a, None);
                    }
                    self.out.calls.insert(key(e), CallRes::Fn(id));
                    return self.fresh_any();
                }
                self.check_args(c.span(), &args, &params);
                self.out.calls.insert(key(e), CallRes::Fn(id));
                ret
            }
            Some(Def::Adt(adt)) => {
                let a = self.items.types.adt(adt);
                match &a.kind {
                    AdtKind::Struct {
                        fields,
                        named: false,
                    } => {
                        let params: Vec<IT> = fields.iter().map(|f| IT::from_ty(&f.ty)).collect();
                        self.check_args(c.span(), &args, &params);
                        self.out.calls.insert(key(e), CallRes::Struct(adt));
                        IT::Leaf(Ty::Adt(adt))
                    }
                    _ => {
                        self.error(
                            c.func.span(),
                            "this struct has named fields",
                            "build it with `Name { field: value }`",
                        );
                        self.fresh_any()
                    }
                }
            }
            Some(Def::Variant(adt, idx)) => {
                let params: Vec<IT> = self.items.types.adt(adt).variants()[idx as usize]
                    .fields
                    .iter()
                    .map(|f| IT::from_ty(&f.ty))
                    .collect();
                self.check_args(c.span(), &args, &params);
                self.out.calls.insert(key(e), CallRes::Variant(idx));
                IT::Leaf(Ty::Adt(adt))
            }
            Some(Def::Unsupported { what, help }) => {
                self.error(c.func.span(), what, help);
                self.fresh_any()
            }
            Some(Def::External(p)) => self.external_call(e, c, &p, &args, expected),
            _ => {
                self.error(
                    c.func.span(),
                    format!("cannot find function `{}`", idents.join("::")),
                    "",
                );
                self.fresh_any()
            }
        }
    }

    fn external_call(
        &mut self,
        e: &syn::Expr,
        c: &syn::ExprCall,
        path: &[String],
        args: &[&syn::Expr],
        expected: Option<&IT>,
    ) -> IT {
        let names: Vec<&str> = path.iter().map(String::as_str).collect();
        let last = *names.last().unwrap_or(&"");
        let expected_shallow = expected.map(|t| self.subst.shallow(t));
        match (names.as_slice(), args.len()) {
            (["Some"], 1) => {
                let exp = match &expected_shallow {
                    Some(IT::Option(t)) => Some((**t).clone()),
                    _ => None,
                };
                let t = self.expr(args[0], exp.as_ref());
                self.out.calls.insert(key(e), CallRes::Variant(1));
                IT::Option(Box::new(t))
            }
            (["Ok"], 1) | (["Err"], 1) => {
                let (ok_exp, err_exp) = match &expected_shallow {
                    Some(IT::Result(a, b)) => (Some((**a).clone()), Some((**b).clone())),
                    _ => (None, None),
                };
                let is_ok = last == "Ok";
                let t = self.expr(
                    args[0],
                    if is_ok {
                        ok_exp.as_ref()
                    } else {
                        err_exp.as_ref()
                    },
                );
                self.out
                    .calls
                    .insert(key(e), CallRes::Variant(if is_ok { 0 } else { 1 }));
                let other =
                    if is_ok { err_exp } else { ok_exp }.unwrap_or_else(|| self.fresh_any());
                if is_ok {
                    IT::Result(Box::new(t), Box::new(other))
                } else {
                    IT::Result(Box::new(other), Box::new(t))
                }
            }
            ([.., "Box", "new"], 1) => {
                let exp = match &expected_shallow {
                    Some(IT::Box(t)) => Some((**t).clone()),
                    _ => None,
                };
                let t = self.expr(args[0], exp.as_ref());
                self.out.calls.insert(key(e), CallRes::BoxNew);
                IT::Box(Box::new(t))
            }
            (_, 1) if last == "promote" => {
                let t = self.expr(args[0], expected);
                self.out.calls.insert(key(e), CallRes::Promote);
                t
            }
            (_, 0) if last == "we_are_jitted" => {
                self.out.calls.insert(key(e), CallRes::WeAreJitted);
                IT::bool()
            }
            ([ty, f], n)
                if builtins::assoc_fn(ty, f)
                    .map(|(_, arity)| arity == n)
                    .unwrap_or(false) =>
            {
                let (name, _) = builtins::assoc_fn(ty, f).unwrap();
                let target = match *ty {
                    "f64" => IT::Leaf(Ty::F64),
                    "char" => IT::Leaf(Ty::Char),
                    t => IT::int(IntTy::from_name(t).unwrap()),
                };
                self.out.calls.insert(key(e), CallRes::Builtin(name));
                if name == "from" {
                    self.expr(args[0], None);
                } else {
                    for a in args {
                        let t = self.expr(a, Some(&target));
                        self.subst.unify(&t, &target);
                    }
                }
                target
            }
            _ => {
                let shown = path.join("::");
                let (msg, help) = match last {
                    "new" | "with_capacity" | "from" if names.len() >= 2 => (
                        format!("`{shown}` allocates, which is not supported in traced code"),
                        "create heap values outside the portal or in a #[dont_look_inside] function, and pass them by reference".to_string(),
                    ),
                    _ => (
                        format!("call to `{shown}`, which is not part of the translated crate"),
                        "wrap it in a #[dont_look_inside] function of your crate and call that".to_string(),
                    ),
                };
                self.error(c.func.span(), msg, help);
                for a in args {
                    self.expr(a, None);
                }
                self.fresh_any()
            }
        }
    }

    fn check_args(&mut self, span: Span, args: &[&syn::Expr], params: &[IT]) {
        if args.len() != params.len() {
            self.error(
                span,
                format!(
                    "this call passes {} arguments but the function takes {}",
                    args.len(),
                    params.len()
                ),
                "",
            );
        }
        for (a, p) in args.iter().zip(params) {
            let t = self.expr(a, Some(p));
            if !self.subst.unify(&t, p) && !self.coerce(a, &t, p) {
                self.error(a.span(), "mismatched argument type", "");
            }
        }
    }

    /// Deref coercion of a reference argument: `&Vec<T>` → `&[T]`,
    /// `&String` → `&str`, `&&T` → `&T`, `&Box<T>` → `&T`.
    pub(super) fn coerce(&mut self, e: &syn::Expr, from: &IT, to: &IT) -> bool {
        let (IT::Ref(_, inner), IT::Ref(m, target)) =
            (self.subst.shallow(from), self.subst.shallow(to))
        else {
            return false;
        };
        let ok = match (self.subst.shallow(&inner), self.subst.shallow(&target)) {
            (IT::Vec(x), IT::Slice(y)) => self.subst.unify(&x, &y),
            (IT::Leaf(Ty::String), IT::Leaf(Ty::Str)) => true,
            (IT::Ref(_, x), y) | (IT::Box(x), y) => self.subst.unify(&x, &y),
            _ => false,
        };
        if ok {
            self.coercion_its.insert(key(e), IT::Ref(m, target));
        }
        ok
    }

    pub(super) fn method_call(&mut self, e: &syn::Expr, m: &syn::ExprMethodCall) -> IT {
        let recv = self.expr(&m.receiver, None);
        let (d, _) = self.subst.autoderef(&recv);
        let name = m.method.to_string();
        let args: Vec<&syn::Expr> = m.args.iter().collect();
        if name == "clone" {
            // `b.clone()` on a box is `Box::clone`: a new box, not what it holds.
            let mut t = self.subst.shallow(&recv);
            while let IT::Ref(_, inner) = t {
                t = self.subst.shallow(&inner);
            }
            if let IT::Box(_) = t {
                self.error(
                    m.span(),
                    "cloning a Box is not supported in traced code",
                    "box a copy of what it holds: `Box::new(*b)`",
                );
                for a in &args {
                    self.expr(a, None);
                }
                return self.fresh_any();
            }
        }
        if m.turbofish.is_some() {
            self.error(
                m.span(),
                "generic method calls are not supported in traced code",
                "",
            );
        }
        if let IT::Leaf(Ty::Adt(adt)) = &d {
            if let Some(&id) = self.items.methods.get(&(*adt, name.clone())) {
                let f = self.items.fn_def(id);
                if !f.has_receiver() {
                    self.error(
                        m.method.span(),
                        format!("`{name}` is an associated function, not a method"),
                        format!(
                            "call it as `{}::{name}(..)`",
                            self.items.types.adt(*adt).name
                        ),
                    );
                    return self.fresh_any();
                }
                let params: Vec<IT> = f
                    .params()
                    .iter()
                    .skip(1)
                    .map(|p| IT::from_ty(&p.ty))
                    .collect();
                let ret = IT::from_ty(&f.ret());
                if f.signature.is_ok() {
                    self.check_args(m.span(), &args, &params);
                } else {
                    self.poisoned = true;
                    for a in &args {
                        self.expr(a, None);
                    }
                }
                self.out.methods.insert(key(e), MethodRes::Fn(id));
                return ret;
            }
            if name == "clone" && self.items.types.adt(*adt).is_copy && args.is_empty() {
                self.out.methods.insert(key(e), MethodRes::Builtin("clone"));
                return d.clone();
            }
        }
        if let IT::Var(v) = d {
            if self.subst.kind(v) == VarKind::Int {
                self.error(
                    m.receiver.span(),
                    format!("cannot call `{name}` on an integer of unknown type"),
                    "give the literal a suffix (`0i64`) or its `let` a type, as rustc requires",
                );
                return self.fresh_any();
            }
            self.error(
                m.receiver.span(),
                "cannot infer the type of this value before the method call",
                "add a type annotation to its `let`",
            );
            return self.fresh_any();
        }
        match builtins::method(&d, &name) {
            Some(sig) => {
                self.check_args(m.span(), &args, &sig.params);
                self.out
                    .methods
                    .insert(key(e), MethodRes::Builtin(sig.name));
                sig.ret
            }
            None => {
                let shown = match self.subst.resolve(&d) {
                    Some(t) => self.items.types.display(&t).to_string(),
                    None => "this value".into(),
                };
                self.error(
                    m.method.span(),
                    format!("method `{name}` of `{shown}` is not supported in traced code"),
                    builtins::unsupported_method_help(&name),
                );
                for a in &args {
                    self.expr(a, None);
                }
                self.fresh_any()
            }
        }
    }
}
