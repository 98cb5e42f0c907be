//! Expressions and statements.

use super::infer::{VarKind, IT};
use super::{key, member_name, Checker, LoopCtx, MacroArgs, PathRes};
use crate::builtins;
use crate::consteval::str_literal;
use crate::diag::at;
use crate::hints::HINT_MACROS;
use crate::items::{path_idents, Def};
use metatrace_jitcodegen::flowgraph::Const;
use metatrace_jitcodegen::types::{AdtId, AdtKind, IntTy, Ty};
use proc_macro2::Span;
use std::collections::HashMap;
use syn::spanned::Spanned;

/// Macros whose invocation never returns.
pub const DIVERGING_MACROS: &[&str] = &["panic", "unreachable", "todo", "unimplemented"];
/// Macros that check a condition and give `()`.
pub const ASSERT_MACROS: &[&str] = &[
    "assert",
    "assert_eq",
    "assert_ne",
    "debug_assert",
    "debug_assert_eq",
    "debug_assert_ne",
];

impl Checker<'_, '_> {
    pub(super) fn block(&mut self, b: &syn::Block, expected: Option<&IT>) -> IT {
        self.scopes.push(HashMap::new());
        let mut diverges = false;
        let mut result: Option<IT> = None;
        for (i, stmt) in b.stmts.iter().enumerate() {
            let last = i + 1 == b.stmts.len();
            match stmt {
                syn::Stmt::Local(l) => self.let_stmt(l),
                syn::Stmt::Item(_) => {} // reported by the subset checker
                syn::Stmt::Expr(e, semi) => {
                    let tail = last && semi.is_none();
                    let t = self.expr(e, if tail { expected } else { None });
                    if tail {
                        result = Some(t);
                    } else if self.subst.is_never(&t) {
                        diverges = true;
                    }
                }
                syn::Stmt::Macro(m) => {
                    let t = self.macro_call(&m.mac);
                    if last && m.semi_token.is_none() {
                        result = Some(t);
                    } else if self.subst.is_never(&t) {
                        diverges = true;
                    }
                }
            }
        }
        self.scopes.pop();
        match result {
            Some(t) => t,
            None if diverges => IT::never(),
            None => IT::unit(),
        }
    }

    fn let_stmt(&mut self, l: &syn::Local) {
        let (pat, annotated) = match &l.pat {
            syn::Pat::Type(pt) => (&*pt.pat, Some(self.resolve_written_type(&pt.ty))),
            p => (p, None),
        };
        let ty = match (&l.init, annotated) {
            (Some(init), Some(ann)) => {
                let t = self.expr(&init.expr, Some(&ann));
                if !self.subst.unify(&t, &ann) && !self.coerce(&init.expr, &t, &ann) {
                    self.error(
                        init.expr.span(),
                        "mismatched types in `let`",
                        "check the annotation",
                    );
                }
                ann
            }
            (Some(init), None) => self.expr(&init.expr, None),
            (None, Some(ann)) => ann,
            (None, None) => self.subst.fresh(VarKind::Any),
        };
        if let Some(init) = &l.init {
            if let Some((_, diverge)) = &init.diverge {
                let t = self.expr(diverge, None);
                if !self.subst.is_never(&t) {
                    self.error(
                        diverge.span(),
                        "the `else` block of `let ... else` must not fall through",
                        "end it with `return`, `break`, `continue` or a panic",
                    );
                }
            }
        }
        self.pat(pat, &ty, None);
    }

    pub(super) fn expr(&mut self, e: &syn::Expr, expected: Option<&IT>) -> IT {
        let t = self.expr_inner(e, expected);
        self.record(e, t)
    }

    pub(super) fn fresh_any(&mut self) -> IT {
        self.subst.fresh(VarKind::Any)
    }

    /// The type of an expression just reported: nothing that uses it is
    /// reported again (`VarKind::Error`).
    pub(super) fn error_ty(&mut self) -> IT {
        self.subst.fresh(VarKind::Error)
    }

    fn expr_inner(&mut self, e: &syn::Expr, expected: Option<&IT>) -> IT {
        match e {
            syn::Expr::Paren(p) => self.expr(&p.expr, expected),
            syn::Expr::Group(g) => self.expr(&g.expr, expected),
            syn::Expr::Lit(l) => self.lit(&l.lit, expected),
            syn::Expr::Path(p) => self.path_expr(e, &p.path),
            syn::Expr::Unary(u) => {
                let inner_expected = match u.op {
                    syn::UnOp::Deref(_) => None,
                    _ => expected,
                };
                let t = self.expr(&u.expr, inner_expected);
                match u.op {
                    syn::UnOp::Deref(_) => match self.subst.shallow(&t) {
                        IT::Ref(_, inner) | IT::Box(inner) | IT::Gc(inner) => *inner,
                        _ if self.subst.is_error(&t) => self.error_ty(),
                        _ => {
                            self.error(
                                u.span(),
                                "cannot dereference this value",
                                "only references and boxes can be dereferenced",
                            );
                            self.error_ty()
                        }
                    },
                    _ => self.subst.autoderef(&t).0,
                }
            }
            syn::Expr::Binary(b) => self.binary(b, expected),
            syn::Expr::Assign(a) => {
                if let syn::Expr::Infer(_) = &*a.left {
                    self.expr(&a.right, None);
                    return IT::unit();
                }
                if matches!(&*a.left, syn::Expr::Tuple(_)) {
                    self.error(
                        a.left.span(),
                        "destructuring assignment is not supported in traced code",
                        "assign each variable separately, using `let` for temporaries",
                    );
                    return IT::unit();
                }
                let l = self.expr(&a.left, None);
                let r = self.expr(&a.right, Some(&l));
                self.subst.unify(&l, &r);
                IT::unit()
            }
            syn::Expr::Call(c) => self.call(e, c, expected),
            syn::Expr::MethodCall(m) => self.method_call(e, m),
            syn::Expr::Field(f) => self.field(f),
            syn::Expr::Index(ix) => {
                let base = self.expr(&ix.expr, None);
                if let syn::Expr::Range(r) = &*ix.index {
                    self.error(
                        r.span(),
                        "slicing with a range is not supported in traced code yet",
                        "index single elements, passing start and end indices along",
                    );
                    return self.error_ty();
                }
                let idx = self.expr(&ix.index, Some(&IT::usize()));
                self.subst.unify(&idx, &IT::usize());
                let (d, _) = self.subst.autoderef(&base);
                match d {
                    IT::Vec(t) | IT::Slice(t) | IT::Array(t, _) => *t,
                    _ if self.subst.is_error(&d) => self.error_ty(),
                    _ => {
                        self.error(
                            ix.span(),
                            "indexing is supported on Vec, slices and arrays only",
                            "index a Vec<T>, &[T] or [T; N]",
                        );
                        self.error_ty()
                    }
                }
            }
            syn::Expr::Reference(r) => {
                let inner_expected = expected.and_then(|t| match self.subst.shallow(t) {
                    IT::Ref(_, x) => Some(*x),
                    _ => None,
                });
                let t = self.expr(&r.expr, inner_expected.as_ref());
                // `&guard` where a `&T` is expected and the expression is
                // already a reference (`&cell.borrow()`): deref coercion
                // makes it that reference.
                let is_ref = |t: &IT| matches!(t, IT::Ref(..));
                if r.mutability.is_none()
                    && inner_expected
                        .as_ref()
                        .is_some_and(|u| !is_ref(&self.subst.shallow(u)))
                    && is_ref(&self.subst.shallow(&t))
                {
                    return t;
                }
                IT::Ref(r.mutability.is_some(), Box::new(t))
            }
            syn::Expr::If(i) => self.if_expr(i, expected),
            syn::Expr::Match(m) => {
                let s = self.expr(&m.expr, None);
                let mut result: Option<IT> = None;
                for arm in &m.arms {
                    self.scopes.push(HashMap::new());
                    self.pat(&arm.pat, &s, None);
                    if let Some((_, g)) = &arm.guard {
                        let gt = self.expr(g, Some(&IT::bool()));
                        self.subst.unify(&gt, &IT::bool());
                    }
                    let exp = result.clone().or_else(|| expected.cloned());
                    let t = self.expr(&arm.body, exp.as_ref());
                    self.scopes.pop();
                    result = Some(self.join(result, t, arm.body.span()));
                }
                result.unwrap_or_else(IT::never)
            }
            syn::Expr::While(w) => {
                self.scopes.push(HashMap::new());
                self.condition(&w.cond);
                self.loops.push(LoopCtx {
                    label: w.label.as_ref().map(|l| l.name.ident.to_string()),
                    break_ty: None,
                });
                self.block(&w.body, None);
                self.loops.pop();
                self.scopes.pop();
                IT::unit()
            }
            syn::Expr::Loop(l) => {
                let bt = self.fresh_any();
                self.loops.push(LoopCtx {
                    label: l.label.as_ref().map(|l| l.name.ident.to_string()),
                    break_ty: Some(bt.clone()),
                });
                self.block(&l.body, None);
                let ctx = self.loops.pop().unwrap();
                if self.loop_has_break(&l.body, ctx.label.as_deref()) {
                    bt
                } else {
                    IT::never()
                }
            }
            syn::Expr::ForLoop(f) => self.for_loop(f),
            syn::Expr::Break(b) => {
                let label = b.label.as_ref().map(|l| l.ident.to_string());
                let target = match &label {
                    Some(l) => self
                        .loops
                        .iter()
                        .rposition(|c| c.label.as_deref() == Some(l)),
                    None => self.loops.len().checked_sub(1),
                };
                let Some(target) = target else {
                    self.error(
                        b.span(),
                        "`break` outside of a loop",
                        "rustc rejects this too: fix what `cargo check` reports first",
                    );
                    return IT::never();
                };
                let bt = self.loops[target].break_ty.clone();
                match (&b.expr, bt) {
                    (Some(v), Some(bt)) => {
                        let t = self.expr(v, Some(&bt));
                        self.subst.unify(&t, &bt);
                    }
                    (None, Some(bt)) => {
                        self.subst.unify(&bt, &IT::unit());
                    }
                    (Some(v), None) => {
                        self.error(
                            v.span(),
                            "`break` with a value is only allowed in `loop`",
                            "rustc rejects this too: fix what `cargo check` reports first",
                        );
                    }
                    (None, None) => {}
                }
                IT::never()
            }
            syn::Expr::Continue(_) => IT::never(),
            syn::Expr::Return(r) => {
                let ret = self.ret.clone();
                match &r.expr {
                    Some(v) => {
                        let t = self.expr(v, Some(&ret));
                        self.subst.unify(&t, &ret);
                    }
                    None => {
                        self.subst.unify(&ret, &IT::unit());
                    }
                }
                IT::never()
            }
            syn::Expr::Block(b) => {
                if b.label.is_some() {
                    self.error(
                        b.span(),
                        "labeled blocks are not supported in traced code",
                        "use a `loop` with `break` at its end",
                    );
                }
                self.block(&b.block, expected)
            }
            syn::Expr::Cast(c) => {
                self.expr(&c.expr, None);
                self.resolve_written_type(&c.ty)
            }
            syn::Expr::Tuple(t) => {
                if t.elems.is_empty() {
                    return IT::unit();
                }
                let exp: Option<Vec<IT>> = expected.and_then(|x| match self.subst.shallow(x) {
                    IT::Tuple(xs) if xs.len() == t.elems.len() => Some(xs),
                    _ => None,
                });
                let items = t
                    .elems
                    .iter()
                    .enumerate()
                    .map(|(i, el)| self.expr(el, exp.as_ref().map(|x| &x[i])))
                    .collect();
                IT::Tuple(items)
            }
            syn::Expr::Struct(s) => self.struct_lit(s),
            syn::Expr::Try(t) => self.try_expr(t),
            syn::Expr::Macro(m) => self.macro_call(&m.mac),
            syn::Expr::Array(a) => {
                let elem_exp = expected.and_then(|x| match self.subst.shallow(x) {
                    IT::Array(t, _) => Some(*t),
                    _ => None,
                });
                let elem = elem_exp.unwrap_or_else(|| self.fresh_any());
                for el in &a.elems {
                    let t = self.expr(el, Some(&elem));
                    self.subst.unify(&t, &elem);
                }
                IT::Array(Box::new(elem), a.elems.len() as u64)
            }
            syn::Expr::Repeat(r) => {
                let t = self.expr(&r.expr, None);
                match self.items.eval_const_expr(self.module, self.file, &r.len) {
                    Ok(Const::Int(n, _)) if n >= 0 => IT::Array(Box::new(t), n as u64),
                    _ => {
                        self.error(
                            r.len.span(),
                            "array length must be an integer constant",
                            "use a literal or a `const`",
                        );
                        self.error_ty()
                    }
                }
            }
            syn::Expr::Let(l) => {
                self.error(
                    l.span(),
                    "`let` is only supported directly in an `if` or `while` condition",
                    "nest the conditions instead of chaining them with `&&`",
                );
                IT::bool()
            }
            syn::Expr::Range(r) => {
                self.error(
                    r.span(),
                    "ranges are only supported as the iterated value of a `for` loop",
                    "loop with `for i in a..b`",
                );
                self.error_ty()
            }
            syn::Expr::Unsafe(u) => {
                // Still walk the block: the calls in it are reachable code.
                // What is wrong inside goes with the block into the
                // #[dont_look_inside] function its error asks for: only
                // the block is reported.
                let before = self.diags.len();
                let t = self.block(&u.block, expected);
                self.diags.truncate(before);
                self.error(
                    u.unsafe_token.span,
                    "unsafe blocks are not supported in traced code",
                    "move the unsafe code into a #[dont_look_inside] function",
                );
                t
            }
            other => {
                self.error(
                    other.span(),
                    "this expression is not supported in traced code",
                    "see docs/subset.md for the supported subset",
                );
                self.error_ty()
            }
        }
    }

    fn join(&mut self, acc: Option<IT>, t: IT, span: Span) -> IT {
        match acc {
            None => t,
            Some(a) if self.subst.is_never(&a) => t,
            Some(a) => {
                if !self.subst.is_never(&t) && !self.subst.unify(&a, &t) {
                    self.error(
                        span,
                        "the branches have different types",
                        "make every branch give the same type",
                    );
                }
                a
            }
        }
    }

    fn lit(&mut self, lit: &syn::Lit, expected: Option<&IT>) -> IT {
        match lit {
            syn::Lit::Int(i) => {
                if !i.suffix().is_empty() {
                    return match IntTy::from_name(i.suffix()) {
                        Some(t) => IT::int(t),
                        None => {
                            self.error(
                                i.span(),
                                format!(
                                    "integer suffix `{}` is not supported in traced code",
                                    i.suffix()
                                ),
                                "use a 64-bit or smaller integer type",
                            );
                            self.error_ty()
                        }
                    };
                }
                let v = self.subst.fresh(VarKind::Int);
                if let Some(exp) = expected {
                    // A float context leaves the literal an int: rustc would have refused.
                    let _ = self.subst.unify(&v, exp);
                }
                v
            }
            syn::Lit::Float(f) => {
                if !f.suffix().is_empty() && f.suffix() != "f64" {
                    self.error(
                        f.span(),
                        "`f32` is not supported in traced code",
                        "use `f64`",
                    );
                }
                IT::Leaf(Ty::F64)
            }
            syn::Lit::Byte(_) => IT::int(IntTy::U8),
            syn::Lit::Char(_) => IT::Leaf(Ty::Char),
            syn::Lit::Bool(_) => IT::bool(),
            syn::Lit::Str(_) => IT::Ref(false, Box::new(IT::Leaf(Ty::Str))),
            syn::Lit::ByteStr(b) => IT::Ref(
                false,
                Box::new(IT::Array(
                    Box::new(IT::int(IntTy::U8)),
                    b.value().len() as u64,
                )),
            ),
            other => {
                self.error(
                    other.span(),
                    "this literal is not supported in traced code",
                    "use integer, float, `bool`, `char` and string literals",
                );
                self.error_ty()
            }
        }
    }

    /// Resolve a value path, with `Self` replaced by the impl type.
    pub(super) fn resolve_def(&self, path: &syn::Path) -> Option<Def> {
        let mut idents = path_idents(path);
        if idents.first().map(String::as_str) == Some("Self") {
            let adt = self.self_ty?;
            let mut def = Def::Adt(adt);
            for seg in &idents[1..] {
                def = match def {
                    Def::Adt(id) => {
                        let a = self.items.types.adt(id);
                        if let Some(v) = a.variants().iter().position(|v| &v.name == seg) {
                            Def::Variant(id, v as u32)
                        } else {
                            Def::Fn(*self.items.methods.get(&(id, seg.clone()))?)
                        }
                    }
                    _ => return None,
                };
            }
            return Some(def);
        }
        if idents.len() == 1 && self.lookup_local(&idents[0]).is_some() {
            return None;
        }
        if idents.first().map(String::as_str) == Some("std")
            || idents.first().map(String::as_str) == Some("core")
        {
            // `std::i64::MAX` → `i64::MAX`
            if idents.len() == 3 && IntTy::from_name(&idents[1]).is_some() {
                idents.remove(0);
                return Some(Def::External(idents));
            }
        }
        self.items
            .resolve_path_in(self.module, &idents)
            .or_else(|| {
                // Primitive types and prelude names are not items of the crate.
                Some(Def::External(idents))
            })
    }

    fn path_expr(&mut self, e: &syn::Expr, path: &syn::Path) -> IT {
        let idents = path_idents(path);
        if idents.len() == 1 {
            if let Some(id) = self.lookup_local(&idents[0]) {
                self.out.paths.insert(key(e), PathRes::Local(id));
                return self.local_its[id.0 as usize].clone();
            }
        }
        match self.resolve_def(path) {
            Some(Def::Const(id)) => match self.items.const_type(id) {
                Ok(ty) => {
                    self.out.paths.insert(key(e), PathRes::Const(id));
                    IT::from_ty(&ty)
                }
                Err(d) => {
                    self.diags.push(d);
                    self.error_ty()
                }
            },
            Some(Def::Variant(adt, idx)) => {
                let fields = self.items.types.adt(adt).variants()[idx as usize]
                    .fields
                    .len();
                if fields > 0 {
                    self.error(
                        path.span(),
                        "enum constructors cannot be used as values in traced code",
                        "call the constructor with its fields",
                    );
                }
                self.out.paths.insert(key(e), PathRes::UnitVariant(idx));
                IT::Leaf(Ty::Adt(adt))
            }
            Some(Def::Adt(adt)) => {
                let unit = matches!(&self.items.types.adt(adt).kind, AdtKind::Struct { fields, .. } if fields.is_empty());
                if !unit {
                    self.error(
                        path.span(),
                        "a struct name is not a value here",
                        "build it with `Name { field: value, .. }`",
                    );
                }
                self.out.paths.insert(key(e), PathRes::UnitStruct(adt));
                IT::Leaf(Ty::Adt(adt))
            }
            Some(Def::Fn(_)) => {
                self.error(
                    path.span(),
                    "functions cannot be used as values in traced code",
                    "call the function directly, or dispatch with a `match`",
                );
                self.error_ty()
            }
            Some(Def::Unsupported { what, help }) => {
                self.error(path.span(), what, help);
                self.error_ty()
            }
            Some(Def::Module(_)) => {
                self.error(
                    path.span(),
                    "a module is not a value",
                    "rustc rejects this too: fix what `cargo check` reports first",
                );
                self.error_ty()
            }
            Some(Def::External(p)) => {
                let names: Vec<&str> = p.iter().map(String::as_str).collect();
                match names.as_slice() {
                    ["None"] => {
                        self.out.paths.insert(key(e), PathRes::UnitVariant(0));
                        let t = self.fresh_any();
                        IT::Option(Box::new(t))
                    }
                    [ty, which] if builtins::assoc_const(ty, which).is_some() => {
                        let c = builtins::assoc_const(ty, which).unwrap();
                        let ty = c.ty();
                        self.out.paths.insert(key(e), PathRes::Value(c));
                        IT::from_ty(&ty)
                    }
                    _ => {
                        self.error(
                            path.span(),
                            format!("cannot find value `{}` in traced code", p.join("::")),
                            "define it in the crate as a `const`, or pass it in",
                        );
                        self.error_ty()
                    }
                }
            }
            None => {
                self.error(
                    path.span(),
                    format!("cannot find value `{}`", idents.join("::")),
                    "rustc rejects this too: fix what `cargo check` reports first",
                );
                self.error_ty()
            }
        }
    }

    fn binary(&mut self, b: &syn::ExprBinary, expected: Option<&IT>) -> IT {
        use syn::BinOp::*;
        match b.op {
            And(_) | Or(_) => {
                let l = self.expr(&b.left, Some(&IT::bool()));
                let r = self.expr(&b.right, Some(&IT::bool()));
                self.subst.unify(&l, &IT::bool());
                self.subst.unify(&r, &IT::bool());
                IT::bool()
            }
            Eq(_) | Ne(_) | Lt(_) | Le(_) | Gt(_) | Ge(_) => {
                let l = self.expr(&b.left, None);
                let r = self.expr(&b.right, Some(&l));
                if !self.subst.unify(&l, &r) {
                    let (ld, _) = self.subst.autoderef(&l);
                    let (rd, _) = self.subst.autoderef(&r);
                    self.subst.unify(&ld, &rd);
                }
                IT::bool()
            }
            Shl(_) | Shr(_) => {
                let l = self.expr(&b.left, expected);
                self.expr(&b.right, None);
                self.subst.autoderef(&l).0
            }
            ShlAssign(_) | ShrAssign(_) => {
                self.expr(&b.left, None);
                self.expr(&b.right, None);
                IT::unit()
            }
            AddAssign(_) | SubAssign(_) | MulAssign(_) | DivAssign(_) | RemAssign(_)
            | BitAndAssign(_) | BitOrAssign(_) | BitXorAssign(_) => {
                let l = self.expr(&b.left, None);
                let r = self.expr(&b.right, Some(&l));
                let (rd, _) = self.subst.autoderef(&r);
                self.subst.unify(&l, &rd);
                IT::unit()
            }
            _ => {
                let l = self.expr(&b.left, expected);
                let ld = self.subst.autoderef(&l).0;
                let r = self.expr(&b.right, Some(&ld));
                let rd = self.subst.autoderef(&r).0;
                if !self.subst.unify(&ld, &rd) {
                    self.error(
                        b.span(),
                        "mismatched operand types",
                        "convert one side with `as`",
                    );
                }
                ld
            }
        }
    }

    fn condition(&mut self, cond: &syn::Expr) {
        if let syn::Expr::Let(l) = cond {
            let t = self.expr(&l.expr, None);
            self.pat(&l.pat, &t, None);
            self.record(cond, IT::bool());
        } else {
            let t = self.expr(cond, Some(&IT::bool()));
            self.subst.unify(&t, &IT::bool());
        }
    }

    fn if_expr(&mut self, i: &syn::ExprIf, expected: Option<&IT>) -> IT {
        self.scopes.push(HashMap::new());
        self.condition(&i.cond);
        let then = self.block(&i.then_branch, expected);
        self.scopes.pop();
        match &i.else_branch {
            Some((_, els)) => {
                let exp = if self.subst.is_never(&then) {
                    expected.cloned()
                } else {
                    Some(then.clone())
                };
                let e = self.expr(els, exp.as_ref());
                self.join(Some(then), e, els.span())
            }
            None => IT::unit(),
        }
    }

    fn for_loop(&mut self, f: &syn::ExprForLoop) -> IT {
        let mut iter = &*f.expr;
        while let syn::Expr::Paren(p) = iter {
            iter = &p.expr;
        }
        let elem = match iter {
            syn::Expr::Range(r) if r.start.is_some() && r.end.is_some() => {
                let s = self.expr(r.start.as_ref().unwrap(), None);
                let e = self.expr(r.end.as_ref().unwrap(), Some(&s));
                self.subst.unify(&s, &e);
                self.record(iter, s.clone());
                s
            }
            other => {
                self.error(
                    other.span(),
                    "`for` loops are supported over integer ranges only",
                    "loop over an index range: `for i in 0..v.len()`",
                );
                self.error_ty()
            }
        };
        self.scopes.push(HashMap::new());
        match &*f.pat {
            syn::Pat::Ident(_) | syn::Pat::Wild(_) => self.pat(&f.pat, &elem, None),
            // Over anything but a range (already reported), the variables
            // are errors: `for (i, x) in v.iter().enumerate()`.
            other if self.subst.is_error(&elem) => self.pat(other, &elem, None),
            other => self.error(
                other.span(),
                "the loop variable of a `for` must be a name or `_`",
                "bind the index to a name and destructure inside the body: `for i in a..b { let (x, y) = pairs[i]; ... }`",
            ),
        }
        self.loops.push(LoopCtx {
            label: f.label.as_ref().map(|l| l.name.ident.to_string()),
            break_ty: None,
        });
        self.block(&f.body, None);
        self.loops.pop();
        self.scopes.pop();
        IT::unit()
    }

    /// Whether a `loop` body contains a `break` that leaves this loop.
    fn loop_has_break(&self, body: &syn::Block, label: Option<&str>) -> bool {
        struct Finder<'l> {
            label: Option<&'l str>,
            depth: usize,
            found: bool,
        }
        impl<'ast> syn::visit::Visit<'ast> for Finder<'_> {
            fn visit_expr_break(&mut self, b: &'ast syn::ExprBreak) {
                let targets_us = match &b.label {
                    Some(l) => Some(l.ident.to_string().as_str()) == self.label,
                    None => self.depth == 0,
                };
                self.found |= targets_us;
                syn::visit::visit_expr_break(self, b);
            }
            fn visit_expr_loop(&mut self, l: &'ast syn::ExprLoop) {
                self.depth += 1;
                syn::visit::visit_expr_loop(self, l);
                self.depth -= 1;
            }
            fn visit_expr_while(&mut self, l: &'ast syn::ExprWhile) {
                self.depth += 1;
                syn::visit::visit_expr_while(self, l);
                self.depth -= 1;
            }
            fn visit_expr_for_loop(&mut self, l: &'ast syn::ExprForLoop) {
                self.depth += 1;
                syn::visit::visit_expr_for_loop(self, l);
                self.depth -= 1;
            }
            fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
        }
        let mut f = Finder {
            label,
            depth: 0,
            found: false,
        };
        syn::visit::Visit::visit_block(&mut f, body);
        f.found
    }

    fn field(&mut self, f: &syn::ExprField) -> IT {
        let base = self.expr(&f.base, None);
        let (d, _) = self.subst.autoderef(&base);
        if self.subst.is_error(&d) {
            return self.error_ty();
        }
        let ty = match (&d, &f.member) {
            (IT::Leaf(Ty::Adt(adt)), member) => {
                let a = self.items.types.adt(*adt);
                let name = member_name(member);
                match a.fields().iter().find(|fd| fd.name == name) {
                    Some(fd) => {
                        let ty = fd.ty.clone();
                        self.check_field_visible(*adt, &name, f.member.span());
                        ty
                    }
                    None => {
                        self.error(
                            f.member.span(),
                            format!("no field `{name}` on `{}`", a.name),
                            "rustc rejects this too: fix what `cargo check` reports first",
                        );
                        return self.error_ty();
                    }
                }
            }
            (IT::Tuple(items), syn::Member::Unnamed(i)) => match items.get(i.index as usize) {
                Some(t) => return t.clone(),
                None => {
                    self.error(
                        f.member.span(),
                        "no such tuple field",
                        "rustc rejects this too: fix what `cargo check` reports first",
                    );
                    return self.error_ty();
                }
            },
            _ => {
                self.error(
                    f.span(),
                    "field access on a value whose type is not known here",
                    "add a type annotation to its `let`",
                );
                return self.error_ty();
            }
        };
        if let Ty::Opaque(written) = &ty {
            let owner = match &d {
                IT::Leaf(Ty::Adt(adt)) => self.items.types.adt(*adt).name.clone(),
                _ => String::new(),
            };
            let field = member_name(&f.member);
            let help = if ["Rc", "RefCell", "HashMap", "Weak"]
                .iter()
                .any(|t| written.contains(t))
            {
                crate::diag::GC_INSTEAD_HELP
            } else {
                "only pass the struct to #[dont_look_inside] functions, which may use the field"
            };
            let d = at(
                self.items.sources(),
                self.file,
                f.member.span(),
                format!("field `{field}` has type `{written}`, which traced code cannot use"),
            )
            .with_help(help)
            .once_per(format!("field {owner}.{field}"));
            self.diags.push(d);
            return self.error_ty();
        }
        IT::from_ty(&ty)
    }

    /// A field traced code reads or writes is named by the glue
    /// (`privacy`): report a private one here, once.
    fn check_field_visible(&mut self, adt: AdtId, field: &str, span: Span) {
        if crate::privacy::field_visible(self.items, adt, field) != Some(false) {
            return;
        }
        let owner = self.items.types.adt(adt).name.clone();
        let d = at(
            self.items.sources(),
            self.file,
            span,
            format!("field `{field}` of `{owner}` is private to its module, and the code generated for the JIT cannot read it"),
        )
        .with_help(format!("declare the field (and `{owner}`) `pub(crate)`: the JIT's glue, a module at the crate root, reads the field's offset; `pub(crate)` keeps it inside the crate"))
        .once_per(format!("private field {owner}.{field}"));
        self.diags.push(d);
    }

    fn struct_lit(&mut self, s: &syn::ExprStruct) -> IT {
        if let Some(rest) = &s.rest {
            self.error(
                rest.span(),
                "struct update syntax is not supported in traced code",
                "write every field",
            );
        }
        let def = self.resolve_def(&s.path);
        let (adt, fields) = match def {
            Some(Def::Adt(adt)) => (adt, self.items.types.adt(adt).fields().to_vec()),
            Some(Def::Variant(adt, idx)) => (
                adt,
                self.items.types.adt(adt).variants()[idx as usize]
                    .fields
                    .clone(),
            ),
            _ => {
                self.error(
                    s.path.span(),
                    "cannot find this struct",
                    "rustc rejects this too: fix what `cargo check` reports first",
                );
                return self.error_ty();
            }
        };
        for fv in &s.fields {
            let name = member_name(&fv.member);
            match fields.iter().find(|f| f.name == name) {
                Some(fd) => {
                    let exp = IT::from_ty(&fd.ty);
                    let t = self.expr(&fv.expr, Some(&exp));
                    self.subst.unify(&t, &exp);
                }
                None => self.error(
                    fv.member.span(),
                    format!("no field `{name}`"),
                    "rustc rejects this too: fix what `cargo check` reports first",
                ),
            }
        }
        IT::Leaf(Ty::Adt(adt))
    }

    fn try_expr(&mut self, t: &syn::ExprTry) -> IT {
        let inner = self.expr(&t.expr, None);
        let ret = self.subst.shallow(&self.ret.clone());
        match (self.subst.shallow(&inner), ret) {
            (IT::Result(ok, err), IT::Result(_, ret_err)) => {
                if !self.subst.unify(&err, &ret_err) {
                    self.error(t.question_token.span, "`?` would convert the error type with `From`, which is not supported in traced code", "make the error types the same, or convert with a `match`");
                }
                *ok
            }
            (IT::Option(x), IT::Option(_)) => *x,
            _ if self.subst.is_error(&inner) => self.error_ty(),
            _ => {
                self.error(t.question_token.span, "`?` needs a Result in a function returning Result, or an Option in a function returning Option", "rustc rejects this too: fix what `cargo check` reports first");
                self.error_ty()
            }
        }
    }

    /// Macros: the hint macros, panics and assertions. Their arguments are
    /// parsed once here and kept for the lowering.
    pub(super) fn macro_call(&mut self, mac: &syn::Macro) -> IT {
        let name = mac
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default();
        let repeat = if name == "vec" {
            vec_repeat_args(mac)
        } else {
            None
        };
        let is_repeat = repeat.is_some();
        let mut unreadable = false;
        let args: Vec<syn::Expr> = if HINT_MACROS.contains(&name.as_str()) {
            Vec::new()
        } else if let Some((x, n)) = repeat {
            vec![x, n]
        } else {
            match mac.parse_body_with(
                syn::punctuated::Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated,
            ) {
                Ok(list) => list.into_iter().collect(),
                Err(err) => {
                    unreadable = true;
                    self.error(
                        mac.span(),
                        format!("cannot read the arguments of `{name}!`: {err}"),
                        "write the arguments as comma-separated expressions",
                    );
                    Vec::new()
                }
            }
        };
        // The arguments are checked inside their final Box: its heap address,
        // and so every key taken below, survives the move into the map.
        let entry = Box::new(MacroArgs {
            name: name.clone(),
            args,
            repeat: is_repeat,
        });
        let t = if unreadable {
            self.error_ty()
        } else if name == "vec" {
            self.vec_macro_args(&entry.args, is_repeat)
        } else {
            self.macro_args(mac, &name, &entry.args)
        };
        self.out.macros.insert(key(mac), entry);
        t
    }

    /// `vec![a, b, c]` (items of one type) or `vec![x; n]` (`n` a `usize`):
    /// a `Vec` of the items' type.
    fn vec_macro_args(&mut self, args: &[syn::Expr], repeat: bool) -> IT {
        let elem = self.fresh_any();
        let items = if repeat { &args[..1] } else { args };
        for a in items {
            let t = self.expr(a, Some(&elem));
            if !self.subst.unify(&t, &elem) && !self.coerce(a, &t, &elem) {
                self.error(
                    a.span(),
                    "mismatched types in `vec!`",
                    "rustc rejects this too: fix what `cargo check` reports first",
                );
            }
        }
        if repeat {
            let t = self.expr(&args[1], Some(&IT::usize()));
            self.subst.unify(&t, &IT::usize());
        }
        IT::Vec(Box::new(elem))
    }

    fn macro_args(&mut self, mac: &syn::Macro, name: &str, args: &[syn::Expr]) -> IT {
        let name = name.to_owned();
        if HINT_MACROS.contains(&name.as_str()) {
            IT::unit()
        } else if DIVERGING_MACROS.contains(&name.as_str()) {
            if let Some(first) = args.first() {
                if str_literal(first).is_none() || args.len() > 1 {
                    self.error(
                        mac.span(),
                        format!("`{name}!` with format arguments is not supported in traced code"),
                        "use a literal message, or return an error value",
                    );
                }
            }
            IT::never()
        } else if ASSERT_MACROS.contains(&name.as_str()) {
            let two = name.ends_with("_eq") || name.ends_with("_ne");
            if two && args.len() >= 2 {
                let a = self.expr(&args[0], None);
                let b = self.expr(&args[1], Some(&a));
                self.subst.unify(&a, &b);
            } else if let Some(c) = args.first() {
                let t = self.expr(c, Some(&IT::bool()));
                self.subst.unify(&t, &IT::bool());
            }
            let msg_at = if two { 2 } else { 1 };
            let non_literal = args.get(msg_at).is_some_and(|m| str_literal(m).is_none());
            if args.len() > msg_at + 1 || non_literal {
                self.error(
                    mac.span(),
                    format!("`{name}!` with format arguments is not supported in traced code"),
                    "use a literal message",
                );
            }
            IT::unit()
        } else {
            self.error(
                mac.path.span(),
                format!("macro `{name}!` is not supported in traced code"),
                "see docs/subset.md for the macros traced code may use",
            );
            self.error_ty()
        }
    }
}

/// The operands of `vec![x; n]`, if the macro has that form.
pub(crate) fn vec_repeat_args(mac: &syn::Macro) -> Option<(syn::Expr, syn::Expr)> {
    mac.parse_body_with(|input: syn::parse::ParseStream| {
        let x: syn::Expr = input.parse()?;
        input.parse::<syn::Token![;]>()?;
        let n: syn::Expr = input.parse()?;
        Ok((x, n))
    })
    .ok()
}
