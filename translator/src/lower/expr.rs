//! Expressions that compute values: literals, operators, casts, calls,
//! constructors and the builtin methods.

use super::place::is_place_expr;
use super::{Leaves, Lowerer};
use crate::builtins::Lowering;
use crate::consteval::lit_const;
use crate::items::FnId;
use crate::typeck::{enum_variants, key, member_name, CallRes, MethodRes, PathRes};
use metatrace_jitcodegen::flowgraph::{
    adt_field_name, CallKind, Const, Exit, Op, Operand, PanicKind,
};
use metatrace_jitcodegen::types::{IntTy, Ty};
use proc_macro2::Span;
use syn::spanned::Spanned;

fn int_const(v: i64, t: IntTy) -> Operand {
    Operand::Const(Const::Int(t.wrap(v as i128), t))
}

impl Lowerer<'_, '_> {
    /// Lower an expression to the leaves of its value. `None` when control
    /// does not come back (or an error was reported).
    pub(super) fn rvalue(&mut self, e: &syn::Expr) -> Option<Leaves> {
        self.cur?;
        self.set_loc(e.span());
        let ty = self.tc.ty(e).clone();
        let is_pop = matches!(e, syn::Expr::MethodCall(m) if m.method == "pop");
        if super::nested_box(&ty) && !is_pop {
            self.error(
                e.span(),
                format!(
                    "a value of type `{}` holds a Box inside another value, which is not supported in traced code yet",
                    self.items.types.display(&ty)
                ),
                "keep each box in a local variable of its own (`let b = Box::new(..);`), or build the value in a #[dont_look_inside] function",
            );
            return None;
        }
        if let Some(v) = self.box_local_ref(e) {
            return v;
        }
        let v = self.rvalue_inner(e)?;
        match self.tc.coercions.get(&key(e)) {
            Some(target) => {
                let from = self.tc.ty(e).clone();
                let target = target.clone();
                self.coerce(v, &from, &target, e.span())
            }
            None => Some(v),
        }
    }

    fn coerce(&mut self, v: Leaves, from: &Ty, to: &Ty, span: Span) -> Option<Leaves> {
        let (Ty::Ref { to: inner, .. }, Ty::Ref { to: target, .. }) = (from, to) else {
            return Some(v);
        };
        match (&**inner, &**target) {
            (Ty::Vec(elem), Ty::Slice(_)) => {
                let r = self.emit(
                    Op::VecAsSlice((**elem).clone()),
                    v,
                    &[Ty::reference(false, Ty::Slice(elem.clone())), Ty::usize()],
                );
                Some(r.into_iter().map(Operand::Var).collect())
            }
            (Ty::String, Ty::Str) => {
                let r = self.emit(
                    Op::StringAsStr,
                    v,
                    &[Ty::reference(false, Ty::Str), Ty::usize()],
                );
                Some(r.into_iter().map(Operand::Var).collect())
            }
            (Ty::Ref { .. }, _) | (Ty::Box(_), _) => {
                let lv = self.deref_value(v, from, span)?;
                let inner_v = self.load(&lv, span)?;
                let inner_ref = match &**inner {
                    Ty::Box(t) => Ty::reference(false, (**t).clone()),
                    other => other.clone(),
                };
                self.coerce(inner_v, &inner_ref, to, span)
            }
            _ => Some(v),
        }
    }

    fn rvalue_inner(&mut self, e: &syn::Expr) -> Option<Leaves> {
        let ty = self.tc.ty(e).clone();
        match e {
            syn::Expr::Paren(p) => self.rvalue(&p.expr),
            syn::Expr::Group(g) => self.rvalue(&g.expr),
            syn::Expr::Lit(l) => self.literal(&l.lit, &ty, l.span()),
            syn::Expr::Path(_) => match self.tc.paths.get(&key(e)).cloned() {
                Some(PathRes::Local(id)) => {
                    let lv = self.place(e)?;
                    let v = self.load(&lv, e.span())?;
                    // A box or Vec used by value is moved out: the local's
                    // drop flag is its null pointer.
                    let local_ty = self.local_tys[id.0 as usize].clone();
                    self.move_out(id, 0, &local_ty);
                    Some(v)
                }
                Some(PathRes::Const(id)) => match self.items.const_value(id) {
                    Ok(c) => Some(vec![Operand::Const(c)]),
                    Err(d) => {
                        self.diags.push(d);
                        None
                    }
                },
                Some(PathRes::Value(c)) => Some(vec![Operand::Const(c)]),
                Some(PathRes::UnitVariant(idx)) => Some(self.enum_value(&ty, idx as usize, vec![])),
                Some(PathRes::UnitStruct(_)) => Some(vec![]),
                None => {
                    self.error(e.span(), "cannot lower this path", "rewrite it with the constructs listed in docs/subset.md, or move it into a #[dont_look_inside] function");
                    None
                }
            },
            syn::Expr::Field(_) | syn::Expr::Index(_) => {
                let lv = self.place(e)?;
                let v = self.load(&lv, e.span())?;
                if let super::Lval::Local { id, start, ty } = &lv {
                    // A field of a local used by value (`t.items`): moved out.
                    let (id, start, ty) = (*id, *start, ty.clone());
                    self.move_out(id, start, &ty);
                }
                Some(v)
            }
            syn::Expr::Unary(u) => match u.op {
                syn::UnOp::Deref(_) => {
                    let lv = self.place(e)?;
                    self.load(&lv, e.span())
                }
                syn::UnOp::Neg(_) => {
                    let v = self.scalar(&u.expr)?;
                    Some(vec![match ty {
                        Ty::F64 => self.emit1(Op::FloatNeg, vec![v], ty),
                        _ => self.emit1(Op::IntNeg, vec![v], ty),
                    }])
                }
                syn::UnOp::Not(_) => {
                    let v = self.scalar(&u.expr)?;
                    Some(vec![match ty {
                        Ty::Bool => self.emit1(Op::BoolNot, vec![v], ty),
                        _ => self.emit1(Op::IntNot, vec![v], ty),
                    }])
                }
                _ => {
                    self.error(u.span(), "unsupported unary operator", "rewrite it with the constructs listed in docs/subset.md, or move it into a #[dont_look_inside] function");
                    None
                }
            },
            syn::Expr::Binary(b) => self.binary(b, &ty),
            syn::Expr::Assign(a) => {
                if let syn::Expr::Infer(_) = &*a.left {
                    self.rvalue(&a.right)?;
                    return Some(vec![]);
                }
                let v = self.rvalue(&a.right)?;
                let lv = self.place(&a.left)?;
                if let super::Lval::Local { id, start, ty } = &lv {
                    // The old box or Vec is dropped when the new value takes
                    // its place.
                    let (id, start, ty) = (*id, *start, ty.clone());
                    self.drop_local_place(id, start, &ty);
                }
                self.store(&lv, v, a.span())?;
                Some(vec![])
            }
            syn::Expr::Reference(r) => {
                // `&x.borrow()`, `&r` of a reference used where a `&T` is
                // expected: deref coercion, the reference itself.
                let inner = self.tc.ty(&r.expr).clone();
                if matches!(inner, Ty::Ref { .. }) && inner == ty {
                    return self.rvalue(&r.expr);
                }
                if !is_place_expr(&r.expr) {
                    // `&CONST`, `&5`: rustc promotes these to statics; we do not.
                    self.error(
                        r.span(),
                        "taking a reference to a temporary value is not supported in traced code",
                        "bind the value to a field of a struct reached through a reference",
                    );
                    return None;
                }
                let lv = self.place(&r.expr)?;
                if let super::Lval::Field { field, .. } = &lv {
                    if field.is_virtualizable(&self.items.types) {
                        // (The JIT takes the field's accesses to be the
                        // only ones: a reference would be another.)
                        let name = adt_field_name(&self.items.types, field);
                        self.error(
                            r.span(),
                            format!("taking a reference to the virtualizable field `{name}` is not supported in traced code"),
                            "read and write it in place (`frame.regs[i] = x`): the JIT keeps it in registers, and must see every access",
                        );
                        return None;
                    }
                }
                self.addr_of(&lv, r.span())
            }
            syn::Expr::Cast(c) => {
                let from = self.tc.ty(&c.expr).clone();
                let v = self.rvalue(&c.expr)?;
                self.cast(v, &from, &ty, c.span())
            }
            syn::Expr::Tuple(t) => {
                let mut out = Vec::new();
                for el in &t.elems {
                    out.extend(self.rvalue(el)?);
                }
                Some(out)
            }
            syn::Expr::Struct(s) => self.struct_lit(s, &ty),
            syn::Expr::Call(c) => self.call(e, c, &ty),
            syn::Expr::MethodCall(m) => self.method_call(e, m, &ty),
            syn::Expr::Macro(m) => self.macro_expr(&m.mac, &ty),
            syn::Expr::Block(b) => self.block(&b.block, &ty),
            syn::Expr::If(i) => self.if_expr(i, &ty),
            syn::Expr::Match(m) => self.match_expr(m, &ty),
            syn::Expr::While(w) => self.while_expr(w),
            syn::Expr::Loop(l) => self.loop_expr(l, &ty),
            syn::Expr::ForLoop(f) => self.for_expr(f),
            syn::Expr::Break(b) => self.break_expr(b),
            syn::Expr::Continue(c) => self.continue_expr(c),
            syn::Expr::Return(r) => self.return_expr(r),
            syn::Expr::Try(t) => self.try_expr(t, &ty),
            syn::Expr::Array(_) | syn::Expr::Repeat(_) => {
                self.error(e.span(), "arrays cannot be built in traced code", "keep the array in a struct reached through a reference, and build it outside the portal");
                None
            }
            other => {
                self.error(
                    other.span(),
                    "this expression is not supported in traced code",
                    "see docs/subset.md",
                );
                None
            }
        }
    }

    /// An expression whose value is one scalar.
    pub(super) fn scalar(&mut self, e: &syn::Expr) -> Option<Operand> {
        let ty = self.tc.ty(e).clone();
        let v = self.rvalue(e)?;
        if let Ty::Ref { to, .. } = &ty {
            // Arithmetic on `&i64` and friends reads through the reference.
            if to.is_scalar() || matches!(**to, Ty::Int(_) | Ty::Bool | Ty::Char | Ty::F64) {
                let lv = self.deref_value(v, &ty, e.span())?;
                return self.load(&lv, e.span()).map(|mut l| l.remove(0));
            }
        }
        if v.len() != 1 {
            self.error(
                e.span(),
                format!(
                    "expected a single value, found `{}`",
                    self.items.types.display(&ty)
                ),
                "bind each part to a variable of its own, or pass the value by reference",
            );
            return None;
        }
        v.into_iter().next()
    }

    fn literal(&mut self, lit: &syn::Lit, ty: &Ty, span: Span) -> Option<Leaves> {
        match lit {
            syn::Lit::Str(s) => {
                let text = s.value();
                let len = text.len() as i64;
                Some(vec![
                    Operand::Const(Const::Str(text)),
                    int_const(len, IntTy::Usize),
                ])
            }
            syn::Lit::ByteStr(_) => {
                self.error(
                    span,
                    "byte string literals are not supported in traced code yet",
                    "pass the bytes in as a `&[u8]` parameter, or use a `const` array",
                );
                None
            }
            _ => {
                let c = lit_const(lit)?;
                Some(vec![Operand::Const(retype_const(c, ty))])
            }
        }
    }

    /// The leaves of an enum-like value: tag, then the variant's fields in
    /// their slots, every other slot zero.
    pub(super) fn enum_value(&mut self, ty: &Ty, variant: usize, fields: Vec<Leaves>) -> Leaves {
        let leaf_tys = self.leaf_types(ty);
        let mut out: Leaves = leaf_tys
            .iter()
            .map(|t| Operand::Const(Const::zero(t)))
            .collect();
        if out.is_empty() {
            return out;
        }
        out[0] = int_const(variant as i64, IntTy::U32);
        for (j, f) in fields.into_iter().enumerate() {
            let off = self.variant_leaf_offset(ty, variant, j);
            for (k, v) in f.into_iter().enumerate() {
                out[off + k] = v;
            }
        }
        out
    }

    fn struct_lit(&mut self, s: &syn::ExprStruct, ty: &Ty) -> Option<Leaves> {
        let mut given = Vec::new();
        for fv in &s.fields {
            let name = member_name(&fv.member);
            given.push((name, self.rvalue(&fv.expr)?));
        }
        let take = |given: &mut Vec<(String, Leaves)>, name: &str| {
            given
                .iter()
                .position(|(n, _)| n == name)
                .map(|i| given.remove(i).1)
        };
        match ty {
            Ty::Adt(id) if self.items.types.adt(*id).is_enum() => {
                let last = s.path.segments.last()?.ident.to_string();
                let variants = enum_variants(self.items, ty)?;
                let vi = variants.iter().position(|(n, _)| *n == last)?;
                let names: Vec<String> = self.items.types.adt(*id).variants()[vi]
                    .fields
                    .iter()
                    .map(|f| f.name.clone())
                    .collect();
                let mut fields = Vec::new();
                for n in &names {
                    fields.push(take(&mut given, n)?);
                }
                Some(self.enum_value(ty, vi, fields))
            }
            Ty::Adt(id) => {
                let adt = self.items.types.adt(*id);
                // (A struct holding Vecs is built from Vec values.)
                if adt.owns_heap && self.items.types.flatten(ty).is_none() {
                    self.error(
                        s.span(),
                        format!(
                            "`{}` owns heap memory and cannot be built in traced code",
                            adt.name
                        ),
                        "build it outside the portal or in a #[dont_look_inside] function",
                    );
                    return None;
                }
                let names: Vec<String> = adt.fields().iter().map(|f| f.name.clone()).collect();
                let mut out = Vec::new();
                for n in &names {
                    out.extend(take(&mut given, n)?);
                }
                Some(out)
            }
            _ => None,
        }
    }

    fn binary(&mut self, b: &syn::ExprBinary, ty: &Ty) -> Option<Leaves> {
        use syn::BinOp as B;
        let span = b.span();
        match b.op {
            B::And(_) | B::Or(_) => {
                let is_and = matches!(b.op, B::And(_));
                let l = self.scalar(&b.left)?;
                let (t, f, keys) = self.branch(l);
                let join = self.new_join(&keys, &[Ty::Bool]);
                // `a && b`: false without evaluating b when a is false.
                let (eval_right, short) = if is_and { (t, f) } else { (f, t) };
                self.enter(short, &keys);
                self.goto(join, &keys, vec![Operand::Const(Const::Bool(!is_and))]);
                self.enter(eval_right, &keys);
                if let Some(r) = self.scalar(&b.right) {
                    self.goto(join, &keys, vec![r]);
                }
                let out = self.enter(join, &keys);
                Some(out)
            }
            B::Eq(_) | B::Ne(_) | B::Lt(_) | B::Le(_) | B::Gt(_) | B::Ge(_) => {
                let lt = self.tc.ty(&b.left).clone();
                if !self.box_compare_ok(&lt, span) {
                    return None;
                }
                let mut pointee = &lt;
                while let Ty::Ref { to, .. } = pointee {
                    pointee = to;
                }
                if matches!(
                    pointee,
                    Ty::Vec(_) | Ty::String | Ty::Str | Ty::Slice(_) | Ty::Opaque(_)
                ) {
                    self.refuse_comparison(&lt, span);
                    return None;
                }
                let l = self.rvalue(&b.left)?;
                let r = self.rvalue(&b.right)?;
                self.compare(&b.op, l, r, &lt, span).map(|v| vec![v])
            }
            B::AddAssign(_)
            | B::SubAssign(_)
            | B::MulAssign(_)
            | B::DivAssign(_)
            | B::RemAssign(_)
            | B::BitAndAssign(_)
            | B::BitOrAssign(_)
            | B::BitXorAssign(_)
            | B::ShlAssign(_)
            | B::ShrAssign(_) => {
                let r = self.scalar(&b.right)?;
                let lv = self.place(&b.left)?;
                let lty = lv.ty();
                let cur = self.load(&lv, span)?.remove(0);
                let v = self.arith(&b.op, cur, r, &lty, span)?;
                self.store(&lv, vec![v], span)?;
                Some(vec![])
            }
            _ => {
                let l = self.scalar(&b.left)?;
                let r = self.scalar(&b.right)?;
                self.arith(&b.op, l, r, ty, span).map(|v| vec![v])
            }
        }
    }

    /// Arithmetic with release-build semantics: wrapping, shifts masked,
    /// division checked for zero and overflow (which panic even in release).
    pub(super) fn arith(
        &mut self,
        op: &syn::BinOp,
        l: Operand,
        r: Operand,
        ty: &Ty,
        span: Span,
    ) -> Option<Operand> {
        use syn::BinOp as B;
        if let Ty::F64 | Ty::Bool = ty {
            let flow_op = match (op, ty) {
                (B::Add(_) | B::AddAssign(_), Ty::F64) => Op::FloatAdd,
                (B::Sub(_) | B::SubAssign(_), Ty::F64) => Op::FloatSub,
                (B::Mul(_) | B::MulAssign(_), Ty::F64) => Op::FloatMul,
                (B::Div(_) | B::DivAssign(_), Ty::F64) => Op::FloatDiv,
                (B::Rem(_) | B::RemAssign(_), Ty::F64) => Op::FloatRem,
                (B::BitAnd(_) | B::BitAndAssign(_), Ty::Bool) => Op::BoolAnd,
                (B::BitOr(_) | B::BitOrAssign(_), Ty::Bool) => Op::BoolOr,
                (B::BitXor(_) | B::BitXorAssign(_), Ty::Bool) => Op::BoolXor,
                _ => {
                    let msg = format!("unsupported operator on {}", self.items.types.display(ty));
                    self.error(
                        span,
                        msg,
                        "operators apply to integers, `f64` and `bool` in traced code",
                    );
                    return None;
                }
            };
            return Some(self.emit1(flow_op, vec![l, r], ty.clone()));
        }
        let Ty::Int(it) = ty else {
            self.error(
                span,
                format!(
                    "arithmetic on `{}` is not supported",
                    self.items.types.display(ty)
                ),
                "arithmetic applies to integers and `f64` in traced code; convert with `as` first",
            );
            return None;
        };
        let iop = match op {
            B::Add(_) | B::AddAssign(_) => Op::IntAdd,
            B::Sub(_) | B::SubAssign(_) => Op::IntSub,
            B::Mul(_) | B::MulAssign(_) => Op::IntMul,
            B::BitAnd(_) | B::BitAndAssign(_) => Op::IntAnd,
            B::BitOr(_) | B::BitOrAssign(_) => Op::IntOr,
            B::BitXor(_) | B::BitXorAssign(_) => Op::IntXor,
            B::Shl(_) | B::ShlAssign(_) => Op::IntShl,
            B::Shr(_) | B::ShrAssign(_) => Op::IntShr,
            B::Div(_) | B::DivAssign(_) | B::Rem(_) | B::RemAssign(_) => {
                let is_div = matches!(op, B::Div(_) | B::DivAssign(_));
                return self.checked_div(is_div, l, r, *it);
            }
            _ => {
                self.error(span, "unsupported operator", "rewrite it with the constructs listed in docs/subset.md, or move it into a #[dont_look_inside] function");
                return None;
            }
        };
        Some(self.emit1(iop, vec![l, r], ty.clone()))
    }

    pub(super) fn checked_div(
        &mut self,
        is_div: bool,
        l: Operand,
        r: Operand,
        it: IntTy,
    ) -> Option<Operand> {
        let ty = Ty::Int(it);
        let nonzero = self.emit1(Op::IntNe, vec![r.clone(), int_const(0, it)], Ty::Bool);
        let msg = if is_div {
            "attempt to divide by zero"
        } else {
            "attempt to calculate the remainder with a divisor of zero"
        };
        self.check(nonzero, PanicKind::DivideByZero, msg);
        if it.signed() {
            let (lo, _) = it.range();
            let is_min = self.emit1(
                Op::IntEq,
                vec![l.clone(), int_const(it.wrap(lo), it)],
                Ty::Bool,
            );
            let is_m1 = self.emit1(Op::IntEq, vec![r.clone(), int_const(-1, it)], Ty::Bool);
            let both = self.emit1(Op::BoolAnd, vec![is_min, is_m1], Ty::Bool);
            let ok = self.emit1(Op::BoolNot, vec![both], Ty::Bool);
            let msg = if is_div {
                "attempt to divide with overflow"
            } else {
                "attempt to calculate the remainder with overflow"
            };
            self.check(ok, PanicKind::DivideOverflow, msg);
        }
        Some(self.emit1(if is_div { Op::IntDiv } else { Op::IntRem }, vec![l, r], ty))
    }

    /// `==` of strings, slices, Vecs (or references to them): Rust
    /// compares the items, which traced code does not do.
    fn refuse_comparison(&mut self, ty: &Ty, span: Span) {
        self.error(
            span,
            format!(
                "comparing values of type `{}` is not supported in traced code",
                self.items.types.display(ty)
            ),
            "compare them in a #[dont_look_inside] function, or compare the items one by one in a loop (`a.len() == b.len()`, then `a.as_bytes()[i]` or `a[i]`)",
        );
    }

    pub(super) fn compare(
        &mut self,
        op: &syn::BinOp,
        l: Leaves,
        r: Leaves,
        ty: &Ty,
        span: Span,
    ) -> Option<Operand> {
        use syn::BinOp as B;
        let ty = match ty {
            Ty::Ref { to, .. }
                if to.is_scalar() || matches!(**to, Ty::Int(_) | Ty::Bool | Ty::Char | Ty::F64) =>
            {
                let lv = self.deref_value(l.clone(), ty, span)?;
                let lval = self.load(&lv, span)?;
                let rv = self.deref_value(r.clone(), ty, span)?;
                let rval = self.load(&rv, span)?;
                return self.compare(op, lval, rval, to, span);
            }
            // `==` of references compares what they point to, as Rust
            // does: loaded for plain data, refused for the rest.
            Ty::Ref { to, .. } if self.items.types.is_plain_data(to) => {
                let lv = self.deref_value(l.clone(), ty, span)?;
                let lval = self.load(&lv, span)?;
                let rv = self.deref_value(r.clone(), ty, span)?;
                let rval = self.load(&rv, span)?;
                return self.compare(op, lval, rval, to, span);
            }
            Ty::Ref { .. }
            | Ty::Str
            | Ty::String
            | Ty::Slice(_)
            | Ty::Vec(_)
            | Ty::Box(_)
            | Ty::Opaque(_) => {
                self.refuse_comparison(ty, span);
                return None;
            }
            t => t.clone(),
        };
        let float = ty == Ty::F64;
        if !ty.is_scalar() {
            if !matches!(op, B::Eq(_) | B::Ne(_)) {
                self.error(
                    span,
                    format!(
                        "ordering comparisons of `{}` are not supported in traced code",
                        self.items.types.display(&ty)
                    ),
                    "compare the fields",
                );
                return None;
            }
            // Leaf-wise equality: inactive enum slots are always zero.
            let leaf_tys = self.leaf_types(&ty);
            let mut acc = Operand::Const(Const::Bool(true));
            for ((a, b), lt) in l.into_iter().zip(r).zip(leaf_tys) {
                let eq = if lt == Ty::F64 {
                    Op::FloatEq
                } else {
                    Op::IntEq
                };
                let e = self.emit1(eq, vec![a, b], Ty::Bool);
                acc = self.emit1(Op::BoolAnd, vec![acc, e], Ty::Bool);
            }
            if matches!(op, B::Ne(_)) {
                acc = self.emit1(Op::BoolNot, vec![acc], Ty::Bool);
            }
            return Some(acc);
        }
        let cop = match (op, float) {
            (B::Eq(_), false) => Op::IntEq,
            (B::Ne(_), false) => Op::IntNe,
            (B::Lt(_), false) => Op::IntLt,
            (B::Le(_), false) => Op::IntLe,
            (B::Gt(_), false) => Op::IntGt,
            (B::Ge(_), false) => Op::IntGe,
            (B::Eq(_), true) => Op::FloatEq,
            (B::Ne(_), true) => Op::FloatNe,
            (B::Lt(_), true) => Op::FloatLt,
            (B::Le(_), true) => Op::FloatLe,
            (B::Gt(_), true) => Op::FloatGt,
            (B::Ge(_), true) => Op::FloatGe,
            _ => return None,
        };
        Some(self.emit1(cop, vec![l[0].clone(), r[0].clone()], Ty::Bool))
    }

    pub(super) fn cast(&mut self, v: Leaves, from: &Ty, to: &Ty, span: Span) -> Option<Leaves> {
        if from == to {
            return Some(v);
        }
        let ok = match (from, to) {
            (Ty::Int(_) | Ty::Bool | Ty::Char, Ty::Int(_)) => true,
            (Ty::Int(IntTy::U8), Ty::Char) => true,
            (Ty::Int(_), Ty::F64) | (Ty::F64, Ty::Int(_)) => true,
            (Ty::Adt(id), Ty::Int(_)) => {
                let adt = self.items.types.adt(*id);
                adt.is_enum() && adt.variants().iter().all(|v| v.fields.is_empty())
            }
            _ => false,
        };
        if !ok {
            self.error(
                span,
                format!(
                    "casting `{}` to `{}` is not supported in traced code",
                    self.items.types.display(from),
                    self.items.types.display(to)
                ),
                "traced code casts integers to integers and `f64`, `f64` to integers, `bool`, `char` and fieldless enums to integers, `u8` to `char`; convert other values by hand",
            );
            return None;
        }
        if let Ty::Adt(_) = from {
            // A fieldless enum: its tag is the variant index (explicit
            // discriminants are rejected when the type is read).
            return Some(vec![self.emit1(Op::Cast, vec![v[0].clone()], to.clone())]);
        }
        if let Operand::Const(c) = &v[0] {
            if let Some(folded) = fold_cast(c, to) {
                return Some(vec![Operand::Const(folded)]);
            }
        }
        Some(vec![self.emit1(Op::Cast, vec![v[0].clone()], to.clone())])
    }

    // ---- calls -----------------------------------------------------------

    fn call(&mut self, e: &syn::Expr, c: &syn::ExprCall, ty: &Ty) -> Option<Leaves> {
        let res = self.tc.calls.get(&key(e)).cloned();
        let args: Vec<&syn::Expr> = c.args.iter().collect();
        match res {
            Some(CallRes::Fn(id)) => {
                let mut vals = Vec::new();
                for a in &args {
                    vals.extend(self.rvalue(a)?);
                }
                self.call_fn(id, vals, ty, c.span())
            }
            Some(CallRes::Struct(_)) => {
                let mut vals = Vec::new();
                for a in &args {
                    vals.extend(self.rvalue(a)?);
                }
                Some(vals)
            }
            Some(CallRes::Variant(idx)) => {
                let mut fields = Vec::new();
                for a in &args {
                    fields.push(self.rvalue(a)?);
                }
                Some(self.enum_value(ty, idx as usize, fields))
            }
            Some(CallRes::Promote) => {
                let v = self.rvalue(args[0])?;
                let tys = self.leaf_types(ty);
                let mut out = Vec::new();
                for (x, t) in v.into_iter().zip(tys) {
                    out.push(self.emit1(Op::Promote, vec![x], t));
                }
                Some(out)
            }
            Some(CallRes::WeAreJitted) => Some(vec![self.emit1(Op::WeAreJitted, vec![], Ty::Bool)]),
            Some(CallRes::Builtin(b)) if b.lower == Lowering::BoxNew => {
                self.box_new(args[0], ty, c.span())
            }
            Some(CallRes::Builtin(b))
                if matches!(
                    b.lower,
                    Lowering::GcNew | Lowering::GcPtrEq | Lowering::CellNew
                ) =>
            {
                self.gc_assoc_call(b, &args, ty, c.span())
            }
            Some(CallRes::Builtin(b)) if b.lower == Lowering::VecNew => {
                let Ty::Vec(elem) = ty else {
                    self.error(c.span(), "cannot lower this `Vec` constructor", "rewrite it with the constructs listed in docs/subset.md, or move it into a #[dont_look_inside] function");
                    return None;
                };
                let len = match args.first() {
                    Some(n) => self.scalar(n)?,
                    None => int_const(0, IntTy::Usize),
                };
                self.set_loc(c.span());
                Some(vec![self.new_vec(elem, len)])
            }
            Some(CallRes::Builtin(b)) => {
                let mut vals = Vec::new();
                let mut tys = Vec::new();
                for a in &args {
                    tys.push(self.tc.ty(a).clone());
                    vals.push(self.scalar(a)?);
                }
                if b.lower == Lowering::Cast {
                    return self.cast(vec![vals[0].clone()], &tys[0], ty, c.span());
                }
                self.builtin_scalar(b, vals, ty, c.span()).map(|v| vec![v])
            }
            None => {
                self.error(c.span(), "cannot lower this call", "rewrite it with the constructs listed in docs/subset.md, or move it into a #[dont_look_inside] function");
                None
            }
        }
    }

    /// `Box::new(x)`: `new`, then `x` stored into the fresh memory leaf by
    /// leaf. Only plain data is boxed here (freeing it is freeing memory).
    fn box_new(&mut self, arg: &syn::Expr, ty: &Ty, span: Span) -> Option<Leaves> {
        let Ty::Box(inner) = ty else {
            self.error(span, "cannot lower this `Box::new`", "rewrite it with the constructs listed in docs/subset.md, or move it into a #[dont_look_inside] function");
            return None;
        };
        let inner = (**inner).clone();
        if !self.items.types.is_boxable(&inner) {
            let shown = self.items.types.display(&inner).to_string();
            let is_enum = match &inner {
                Ty::Option(_) | Ty::Result(..) => true,
                Ty::Adt(id) => self.items.types.adt(*id).is_enum(),
                _ => false,
            };
            let zero_sized = self
                .items
                .types
                .flatten(&inner)
                .is_some_and(|l| l.is_empty());
            let help = if is_enum {
                "an enum holding a String, and an `Option` or `Result` holding a Box or Vec, cannot be boxed in traced code yet: create the box in a #[dont_look_inside] function"
            } else if zero_sized {
                "a zero-sized value needs no box: use the value itself"
            } else {
                "only plain data and values owning Vecs or boxes can be boxed in traced code (scalars, Vecs, structs or tuples of them, enums of the crate holding boxes or Vecs); create other boxes in a #[dont_look_inside] function"
            };
            self.error(
                span,
                format!("`Box::new` of a value of type `{shown}` is not supported in traced code"),
                help,
            );
            return None;
        }
        self.new_and_store(Op::New(inner.clone()), arg, &inner, ty, span)
    }

    /// `arg` computed, then `new` (a `Box`'s or a `Gc`'s: `new_op`, of
    /// result type `ty`) and `arg` stored into the fresh `inner` leaf by
    /// leaf.
    pub(super) fn new_and_store(
        &mut self,
        new_op: Op,
        arg: &syn::Expr,
        inner: &Ty,
        ty: &Ty,
        span: Span,
    ) -> Option<Leaves> {
        let v = self.rvalue(arg)?;
        self.set_loc(span);
        let p = self.emit1(new_op, vec![], ty.clone());
        // Fresh memory: a Vec moves in without dropping what was there.
        let outer = std::mem::replace(&mut self.fresh_memory, true);
        let stored = self.store_mem(p.clone(), inner, v, span);
        self.fresh_memory = outer;
        stored?;
        Some(vec![p])
    }

    /// `&b` / `&mut b` for a `Box` local `b`: its pointer when the
    /// reference is coerced to `&T` (deref coercion), an error otherwise
    /// (there is no `Box` in memory to point to). `None` for any other
    /// expression.
    fn box_local_ref(&mut self, e: &syn::Expr) -> Option<Option<Leaves>> {
        let syn::Expr::Reference(r) = e else {
            return None;
        };
        let mut inner = &*r.expr;
        while let syn::Expr::Paren(p) = inner {
            inner = &p.expr;
        }
        let Some(PathRes::Local(id)) = self.tc.paths.get(&key(inner)).cloned() else {
            return None;
        };
        let Ty::Box(to) = self.local_tys[id.0 as usize].clone() else {
            return None;
        };
        let name = self.local_names[id.0 as usize].clone();
        let target = self.tc.coercions.get(&key(e)).cloned();
        let (Some(target), Some(v)) = (target, self.env.get(&id).cloned()) else {
            let m = if r.mutability.is_some() { "mut " } else { "" };
            self.error(
                r.span(),
                format!("taking a reference to the box in local variable `{name}` is not supported in traced code"),
                format!("borrow what it holds instead: `&{m}*{name}`"),
            );
            return Some(None);
        };
        let from = Ty::reference(r.mutability.is_some(), (*to).clone());
        Some(self.coerce(v, &from, &target, r.span()))
    }

    /// `==` and friends compare what boxes hold: not lowered, and reading
    /// a box for it must not move it.
    pub(super) fn box_compare_ok(&mut self, ty: &Ty, span: Span) -> bool {
        if !matches!(ty, Ty::Box(_)) {
            return true;
        }
        self.error(
            span,
            "comparing boxes is not supported in traced code",
            "compare what they hold: `*a == *b`",
        );
        false
    }

    pub(super) fn call_fn(
        &mut self,
        id: FnId,
        args: Leaves,
        ret: &Ty,
        span: Span,
    ) -> Option<Leaves> {
        let kind = self.call_kind(id);
        match kind {
            CallKind::Residual => {
                if !self.residuals.contains(&id) {
                    self.residuals.push(id);
                }
            }
            _ => {
                if !self.callees.contains(&id) {
                    self.callees.push(id);
                }
            }
        }
        let ret_tys = self.leaf_types(ret);
        let callee = self.items.fn_def(id).path.clone();
        let results = self.emit(Op::Call { callee, kind }, args, &ret_tys);
        if *ret == Ty::Never {
            self.finish_block(Exit::Panic {
                kind: PanicKind::Explicit,
                message: "a function returning `!` returned".into(),
            });
            let _ = span;
            return None;
        }
        Some(results.into_iter().map(Operand::Var).collect())
    }

    fn method_call(&mut self, e: &syn::Expr, m: &syn::ExprMethodCall, ty: &Ty) -> Option<Leaves> {
        match self.tc.methods.get(&key(e)).cloned() {
            Some(MethodRes::Fn(id)) => {
                let self_ty = self.items.fn_def(id).params()[0].ty.clone();
                let mut vals = self.receiver(&m.receiver, &self_ty)?;
                for a in &m.args {
                    vals.extend(self.rvalue(a)?);
                }
                self.call_fn(id, vals, ty, m.span())
            }
            Some(MethodRes::Builtin(b)) => self.builtin_method(b, m, ty),
            None => {
                self.error(m.span(), "cannot lower this method call", "rewrite it with the constructs listed in docs/subset.md, or move it into a #[dont_look_inside] function");
                None
            }
        }
    }

    /// The receiver adjusted to what the method takes: `&self`, `&mut self`
    /// or `self` (auto-ref and auto-deref).
    fn receiver(&mut self, recv: &syn::Expr, self_ty: &Ty) -> Option<Leaves> {
        let lv = self.deref_place(recv)?;
        match self_ty {
            Ty::Ref { .. } => self.addr_of(&lv, recv.span()),
            _ => {
                let v = self.load(&lv, recv.span())?;
                if let super::Lval::Local { id, start, ty } = &lv {
                    // `self` by value: the receiver moves.
                    let (id, start, ty) = (*id, *start, ty.clone());
                    self.move_out(id, start, &ty);
                }
                Some(v)
            }
        }
    }

    fn macro_expr(&mut self, mac: &syn::Macro, ty: &Ty) -> Option<Leaves> {
        if let Some(m) = self.tc.macros.get(&key(mac)).filter(|m| m.name == "vec") {
            return self.vec_macro(&m.args, m.repeat, ty, mac.span());
        }
        self.macro_stmt(mac);
        if self.cur.is_some() {
            Some(vec![])
        } else {
            None
        }
    }
}

/// Give an unsuffixed literal the type inference found for it.
pub(super) fn retype_const(c: Const, ty: &Ty) -> Const {
    match (c, ty) {
        (Const::Int(v, _), Ty::Int(t)) => Const::Int(t.wrap(v as i128), *t),
        (Const::Int(v, _), Ty::F64) => Const::F64((v as f64).to_bits()),
        (c, _) => c,
    }
}

fn fold_cast(c: &Const, to: &Ty) -> Option<Const> {
    match (c, to) {
        (Const::Int(v, from), Ty::Int(t)) => {
            let wide = if from.signed() {
                *v as i128
            } else {
                (*v as u64) as i128
            };
            Some(Const::Int(t.wrap(wide), *t))
        }
        (Const::Char(ch), Ty::Int(t)) => Some(Const::Int(t.wrap(*ch as i128), *t)),
        (Const::Bool(b), Ty::Int(t)) => Some(Const::Int(*b as i64, *t)),
        (Const::Int(v, IntTy::U8), Ty::Char) => Some(Const::Char(*v as u8 as char)),
        _ => None,
    }
}
