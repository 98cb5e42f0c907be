//! Calls: of the crate's functions, struct and variant constructors, the
//! std functions and methods of the builtins registry, and the crate's
//! inherent methods; with the deref coercions of their arguments.

use super::infer::{VarKind, IT};
use super::{key, CallRes, Checker, MethodRes};
use crate::builtins::{self, Builtin, Recv, Shape, TyRule};
use crate::items::{path_idents, Def, FnId};
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
            return self.error_ty();
        };
        let idents = path_idents(&fp.path);
        if let Some(local) = (idents.len() == 1)
            .then(|| self.lookup_local(&idents[0]))
            .flatten()
        {
            self.exprs_alone(&args_of(c));
            if self
                .subst
                .is_error(&self.local_its[local.0 as usize].clone())
            {
                // A closure, already reported.
                return self.error_ty();
            }
            self.error(
                c.func.span(),
                "calling a local variable is not supported in traced code",
                "call a function by its name",
            );
            return self.error_ty();
        }
        let def = self.resolve_def(&fp.path);
        let args: Vec<&syn::Expr> = c.args.iter().collect();
        match def {
            Some(Def::Fn(id)) => {
                self.check_residual_visible(id, c.func.span());
                let ret = self.crate_fn_args(id, 0, c.span(), &args);
                self.out.calls.insert(key(e), CallRes::Fn(id));
                ret.unwrap_or_else(|| self.error_ty())
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
                        self.error_ty()
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
                self.error_ty()
            }
            Some(Def::External(p)) => self.external_call(e, c, &p, &args, expected),
            _ => {
                self.error(
                    c.func.span(),
                    format!("cannot find function `{}`", idents.join("::")),
                    "rustc rejects this too: fix what `cargo check` reports first",
                );
                self.error_ty()
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
            (_, 1) if last == "promote" => {
                let t = self.expr(args[0], expected);
                self.out.calls.insert(key(e), CallRes::Promote);
                t
            }
            (_, 0) if last == "we_are_jitted" => {
                self.out.calls.insert(key(e), CallRes::WeAreJitted);
                IT::bool()
            }
            // `Box::new` under any path (`std::boxed::Box::new`); the other
            // types' functions as `u64::from`.
            ([.., ty, f], n)
                if (names.len() == 2
                    || matches!(*ty, "Box" | "Gc" | "Cell" | "GcCell" | "QuasiImmut" | "Vec"))
                    && builtins::assoc_fn(ty, f, n).is_some() =>
            {
                let b = builtins::assoc_fn(ty, f, n).unwrap();
                self.builtin_assoc_call(e, b, ty, args, expected_shallow)
            }
            ([nested], _) if self.nested_fns.iter().any(|n| n.as_str() == *nested) => {
                self.exprs_alone(args);
                self.error_ty()
            }
            _ => {
                let shown = path.join("::");
                let os = matches!(
                    names.as_slice(),
                    [
                        "std",
                        "io" | "fs" | "env" | "process" | "net" | "thread" | "time",
                        ..
                    ]
                );
                let (msg, help) = match last {
                    _ if os => (
                        format!("`{shown}` does I/O, which is not supported in traced code"),
                        "do I/O in a #[dont_look_inside] function and call it".to_string(),
                    ),
                    _ if names.len() >= 2 && self.items.trait_methods.contains_key(last) => (
                        format!(
                            "`{shown}` is a method of trait `{}`: traits are not supported in traced code",
                            self.items.trait_methods[last]
                        ),
                        format!("write it as a plain function (`fn {last}(..)`) or, on your own type, as an inherent method (`impl Type {{ fn {last}(..) }}`), and call that"),
                    ),
                    "new" | "with_capacity" | "from" if names.len() >= 2 => (
                        format!("`{shown}` allocates, which is not supported in traced code"),
                        "create heap values outside the portal or in a #[dont_look_inside] function, and pass them by reference".to_string(),
                    ),
                    _ => (
                        format!("call to `{shown}`, which is not part of the translated crate"),
                        "wrap it in a #[dont_look_inside] function of your crate and call that".to_string(),
                    ),
                };
                let gc_instead = names
                    .iter()
                    .any(|n| matches!(*n, "Rc" | "RefCell" | "HashMap" | "Weak"));
                let help = if gc_instead {
                    crate::diag::GC_INSTEAD_HELP.to_string()
                } else {
                    help
                };
                self.error(c.func.span(), msg, help);
                self.exprs_alone(args);
                self.error_ty()
            }
        }
    }

    /// Type the arguments of a call to the crate's function `id` against
    /// its parameters after the first `skip`; its return type, or `None`
    /// if its signature did not resolve (already reported: the arguments
    /// are typed on their own, and the function is poisoned).
    fn crate_fn_args(
        &mut self,
        id: FnId,
        skip: usize,
        span: Span,
        args: &[&syn::Expr],
    ) -> Option<IT> {
        let f = self.items.fn_def(id);
        if f.signature.is_err() {
            self.poisoned = true;
            self.exprs_alone(args);
            return None;
        }
        let params = f.params().iter().skip(skip);
        let params: Vec<IT> = params.map(|p| IT::from_ty(&p.ty)).collect();
        self.check_args(span, args, &params);
        Some(IT::from_ty(&f.ret()))
    }

    /// A `#[dont_look_inside]` function is called by the glue
    /// (`privacy`): report a private one at its call, once.
    fn check_residual_visible(&mut self, id: FnId, span: Span) {
        let f = self.items.fn_def(id);
        let Some(vis) = f.vis else { return };
        if !f.hints.dont_look_inside || crate::privacy::visible_from_root(self.items, f.module, vis)
        {
            return;
        }
        let d = crate::diag::at(
            self.items.sources(),
            self.file,
            span,
            format!("#[dont_look_inside] function `{}` is private to its module, and the code generated for the JIT cannot call it", f.name),
        )
        .with_help(format!("declare it `pub(crate) fn {}`: the JIT's glue, a module at the crate root, calls it by path; `pub(crate)` keeps it inside the crate", f.name))
        .once_per(format!("private residual {}", f.path));
        self.diags.push(d);
    }

    /// Type expressions with nothing expected of them: the arguments of a
    /// call that is already an error.
    fn exprs_alone(&mut self, args: &[&syn::Expr]) {
        for a in args {
            self.expr(a, None);
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
                "rustc rejects this too: fix what `cargo check` reports first",
            );
        }
        for (a, p) in args.iter().zip(params) {
            let t = self.expr(a, Some(p));
            if !self.subst.unify(&t, p) && !self.coerce(a, &t, p) {
                self.error(
                    a.span(),
                    "mismatched argument type",
                    "rustc rejects this too: fix what `cargo check` reports first",
                );
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
                self.exprs_alone(&args);
                return self.error_ty();
            }
        }
        if self.subst.is_error(&d) {
            self.exprs_alone(&args);
            return self.error_ty();
        }
        if m.turbofish.is_some() {
            self.error(
                m.span(),
                "generic method calls are not supported in traced code",
                "write the types out: annotate the `let` the result is bound to instead of the turbofish, or call a function with a concrete type",
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
                    return self.error_ty();
                }
                self.check_residual_visible(id, m.method.span());
                // The first parameter is the receiver.
                let ret = self.crate_fn_args(id, 1, m.span(), &args);
                self.out.methods.insert(key(e), MethodRes::Fn(id));
                return ret.unwrap_or_else(IT::unit);
            }
        }
        if let IT::Var(v) = d {
            if self.subst.kind(v) == VarKind::Int {
                self.error(
                    m.receiver.span(),
                    format!("cannot call `{name}` on an integer of unknown type"),
                    "give the literal a suffix (`0i64`) or its `let` a type, as rustc requires",
                );
                return self.error_ty();
            }
            self.error(
                m.receiver.span(),
                "cannot infer the type of this value before the method call",
                "add a type annotation to its `let`",
            );
            return self.error_ty();
        }
        let found = self
            .shape(&d)
            .and_then(|shape| builtins::method_of(shape, &name))
            // `clone(x)` of a Copy struct is no call of `Clone::clone`.
            .filter(|b| b.recv != Recv::CopyAdt || args.is_empty());
        match found {
            Some(b) => {
                if b.lower == builtins::Lowering::NotYet {
                    // Known to the registry, so its type is known: only
                    // this call is reported, in the same run as the rest.
                    self.error(
                        m.method.span(),
                        format!("`{name}` is not supported in traced code yet"),
                        "compute it with arithmetic, or in a #[dont_look_inside] function",
                    );
                }
                let params: Vec<IT> = b.params.iter().map(|p| instantiate(*p, &d)).collect();
                self.check_args(m.span(), &args, &params);
                self.out.methods.insert(key(e), MethodRes::Builtin(b));
                instantiate(b.ret, &d)
            }
            None if self.items.trait_methods.contains_key(&name) => {
                let trait_name = &self.items.trait_methods[&name];
                self.error(
                    m.method.span(),
                    format!("`{name}` is a method of trait `{trait_name}`: traits are not supported in traced code"),
                    format!("write it as a plain function (`fn {name}(..)`) or, on your own type, as an inherent method (`impl Type {{ fn {name}(..) }}`), and call that"),
                );
                self.exprs_alone(&args);
                self.error_ty()
            }
            None => {
                let shown = match self.subst.resolve(&d) {
                    Some(t) => self.items.types.display(&t).to_string(),
                    None => "this value".into(),
                };
                self.error(
                    m.method.span(),
                    format!("method `{name}` of `{shown}` is not supported in traced code"),
                    builtins::unsupported_method_help(&name, self.shape(&d)),
                );
                self.exprs_alone(&args);
                self.error_ty()
            }
        }
    }

    /// `T::f(args)` of the builtins registry. `Box::new`'s `T` is the
    /// argument's type; the others' `Self` is the type named.
    fn builtin_assoc_call(
        &mut self,
        e: &syn::Expr,
        b: &'static Builtin,
        ty_name: &str,
        args: &[&syn::Expr],
        expected: Option<IT>,
    ) -> IT {
        let target = match ty_name {
            "f64" => Some(IT::Leaf(Ty::F64)),
            "char" => Some(IT::Leaf(Ty::Char)),
            t => IntTy::from_name(t).map(IT::int),
        };
        let elem_expected = match &expected {
            Some(IT::Box(t) | IT::Gc(t) | IT::Cell(t) | IT::GcCell(t) | IT::QuasiImmut(t))
                if target.is_none() =>
            {
                Some((**t).clone())
            }
            _ => None,
        };
        // `Vec::new()`: `Vec<T>` with `T` from what is expected, or
        // inferred from the uses.
        let target = match (ty_name, target) {
            ("Vec", None) => Some(IT::Vec(Box::new(match expected {
                Some(IT::Vec(t)) => *t,
                _ => self.fresh_any(),
            }))),
            (_, t) => t,
        };
        // `Box<T>` is known once its argument is; `Gc::ptr_eq`'s `Self`
        // once its first one is.
        let mut recv = target.clone();
        self.out.calls.insert(key(e), CallRes::Builtin(b));
        for (a, p) in args.iter().zip(b.params) {
            match p {
                TyRule::Any => {
                    self.expr(a, None);
                }
                TyRule::Elem => {
                    let t = Box::new(self.expr(a, elem_expected.as_ref()));
                    recv = Some(match b.recv {
                        Recv::Gc => IT::Gc(t),
                        Recv::Cell => IT::Cell(t),
                        Recv::GcCell => IT::GcCell(t),
                        Recv::QuasiImmut => IT::QuasiImmut(t),
                        _ => IT::Box(t),
                    });
                }
                TyRule::Recv if recv.is_none() => {
                    recv = Some(self.expr(a, None));
                }
                rule => {
                    let recv = recv.clone().unwrap_or_else(IT::unit);
                    let want = instantiate(*rule, &recv);
                    let t = self.expr(a, Some(&want));
                    if !self.subst.unify(&t, &want) && b.recv == Recv::Gc {
                        self.error(
                            a.span(),
                            "mismatched argument type",
                            "rustc rejects this too: fix what `cargo check` reports first",
                        );
                    }
                }
            }
        }
        instantiate(b.ret, &recv.unwrap_or_else(IT::unit))
    }

    /// The registry's view of a (dereferenced) receiver type.
    fn shape(&self, d: &IT) -> Option<Shape> {
        let recv = match d {
            IT::Leaf(Ty::Int(t)) => return Some(Shape::Int(*t)),
            IT::Leaf(Ty::Char) => Recv::Char,
            IT::Leaf(Ty::Bool) => Recv::Bool,
            IT::Leaf(Ty::F64) => Recv::F64,
            IT::Leaf(Ty::Str) => Recv::Str,
            IT::Leaf(Ty::String) => Recv::String,
            IT::Leaf(Ty::Adt(adt)) if self.items.types.adt(*adt).is_copy => Recv::CopyAdt,
            IT::Vec(_) => Recv::Vec,
            IT::Slice(_) => Recv::Slice,
            IT::Array(..) => Recv::Array,
            IT::Option(_) => Recv::Option,
            IT::Result(..) => Recv::Result,
            IT::Tuple(_) => Recv::Tuple,
            IT::Box(_) => Recv::Box,
            IT::Gc(_) => Recv::Gc,
            IT::Cell(_) => Recv::Cell,
            IT::GcCell(_) => Recv::GcCell,
            IT::QuasiImmut(_) => Recv::QuasiImmut,
            _ => return None,
        };
        Some(Shape::Of(recv))
    }
}

fn args_of(c: &syn::ExprCall) -> Vec<&syn::Expr> {
    c.args.iter().collect()
}

/// The integer type of `t`'s width with the given signedness.
fn same_width(t: IntTy, signed: bool) -> IntTy {
    use IntTy::*;
    match (t, signed) {
        (I8 | U8, true) => I8,
        (I8 | U8, false) => U8,
        (I16 | U16, true) => I16,
        (I16 | U16, false) => U16,
        (I32 | U32, true) => I32,
        (I32 | U32, false) => U32,
        (I64 | U64, true) => I64,
        (I64 | U64, false) => U64,
        (Isize | Usize, true) => Isize,
        (Isize | Usize, false) => Usize,
    }
}

/// A registry type rule for a call on `recv`.
fn instantiate(rule: TyRule, recv: &IT) -> IT {
    let elem = || match recv {
        IT::Vec(t)
        | IT::Option(t)
        | IT::Result(t, _)
        | IT::Box(t)
        | IT::Gc(t)
        | IT::Cell(t)
        | IT::GcCell(t)
        | IT::QuasiImmut(t) => (**t).clone(),
        _ => IT::unit(),
    };
    let str_ref = || IT::Ref(false, Box::new(IT::Leaf(Ty::Str)));
    match rule {
        TyRule::Recv | TyRule::Any => recv.clone(),
        TyRule::Elem => elem(),
        TyRule::U32 => IT::int(IntTy::U32),
        TyRule::I32 => IT::int(IntTy::I32),
        TyRule::Usize => IT::usize(),
        TyRule::Bool => IT::bool(),
        TyRule::Unit => IT::unit(),
        TyRule::StrRef => str_ref(),
        TyRule::BytesRef => IT::Ref(false, Box::new(IT::Slice(Box::new(IT::int(IntTy::U8))))),
        TyRule::OptionU32 => IT::Option(Box::new(IT::int(IntTy::U32))),
        TyRule::OptionElem => IT::Option(Box::new(elem())),
        TyRule::OptionElemRef => IT::Option(Box::new(IT::Ref(false, Box::new(elem())))),
        TyRule::U64 => IT::int(IntTy::U64),
        TyRule::ElemRef => IT::Ref(false, Box::new(elem())),
        TyRule::ElemMut => IT::Ref(true, Box::new(elem())),
        TyRule::UnsignedRecv | TyRule::SignedRecv => match recv {
            IT::Leaf(Ty::Int(t)) => IT::int(same_width(*t, rule == TyRule::SignedRecv)),
            other => other.clone(),
        },
    }
}
