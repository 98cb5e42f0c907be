//! The operations of each `Lowering` of the builtins registry
//! (`crate::builtins`). Methods on integers become arithmetic; Vec, slice
//! and str methods become the memory operations the tracer knows;
//! Option/Result methods become tests.

use super::{Leaves, Lowerer};
use crate::builtins::{Builtin, Lowering};
use crate::consteval::str_literal;
use metatrace_jitcodegen::flowgraph::{Const, Helper, Op, Operand, PanicKind};
use metatrace_jitcodegen::types::{IntTy, Ty};
use proc_macro2::Span;
use syn::spanned::Spanned;

fn int(v: i64, t: IntTy) -> Operand {
    Operand::Const(Const::Int(t.wrap(v as i128), t))
}

impl Lowerer<'_, '_> {
    /// Builtins whose receiver and arguments are single scalars.
    pub(super) fn builtin_scalar(
        &mut self,
        b: &Builtin,
        vals: Vec<Operand>,
        ty: &Ty,
        span: Span,
    ) -> Option<Operand> {
        let x = vals[0].clone();
        let it = match ty {
            Ty::Int(t) => Some(*t),
            _ => None,
        };
        let bool_t = Ty::Bool;
        match (&b.lower, it) {
            (Lowering::Op(op), Some(_)) => Some(self.emit1(op.clone(), vals, ty.clone())),
            (Lowering::Copy, _) => Some(x),
            (Lowering::MinMax(op), Some(_)) => {
                let take_x = self.emit1(op.clone(), vec![x.clone(), vals[1].clone()], bool_t);
                Some(self.select(take_x, x, vals[1].clone(), ty))
            }
            (Lowering::Abs, Some(t)) => {
                let neg = self.emit1(Op::IntLt, vec![x.clone(), int(0, t)], bool_t);
                let negated = self.emit1(Op::IntNeg, vec![x.clone()], ty.clone());
                Some(self.select(neg, negated, x, ty))
            }
            (Lowering::Signum, Some(t)) => {
                let pos = self.emit1(Op::IntGt, vec![x.clone(), int(0, t)], bool_t.clone());
                let neg = self.emit1(Op::IntLt, vec![x, int(0, t)], bool_t);
                let p = self.emit1(Op::Cast, vec![pos], ty.clone());
                let n = self.emit1(Op::Cast, vec![neg], ty.clone());
                Some(self.emit1(Op::IntSub, vec![p, n], ty.clone()))
            }
            (Lowering::CmpZero(op), _) => Some(self.cmp_const(op.clone(), x, 0)),
            (Lowering::IsPowerOfTwo, _) => {
                // x != 0 && x & (x - 1) == 0
                let t = self.operand_int(&x)?;
                let nz = self.emit1(Op::IntNe, vec![x.clone(), int(0, t)], Ty::Bool);
                let m1 = self.emit1(Op::IntSub, vec![x.clone(), int(1, t)], Ty::Int(t));
                let and = self.emit1(Op::IntAnd, vec![x, m1], Ty::Int(t));
                let z = self.emit1(Op::IntEq, vec![and, int(0, t)], Ty::Bool);
                Some(self.emit1(Op::BoolAnd, vec![nz, z], Ty::Bool))
            }
            (Lowering::InRanges(ranges), _) => Some(self.char_in(x, ranges)),
            // `cast_unsigned`/`cast_signed`: an `as` cast to the same width.
            (Lowering::Cast, Some(_)) => Some(self.emit1(Op::Cast, vec![x], ty.clone())),
            (Lowering::BitCast, _) => {
                let h = match ty {
                    Ty::F64 => Helper::F64FromBits,
                    _ => Helper::F64ToBits,
                };
                let r = self.emit(Op::Helper(h), vals, std::slice::from_ref(ty));
                Some(Operand::Var(r[0]))
            }
            (Lowering::IsDigit, _) => {
                let Operand::Const(Const::Int(10, _)) = vals[1] else {
                    self.error(
                        span,
                        "only `is_digit(10)` is supported in traced code",
                        "pass the radix 10 as a literal; for another radix, compare the character with its ranges (`'0'..='7'`)",
                    );
                    return None;
                };
                Some(self.char_in(x, &[('0', '9')]))
            }
            _ => {
                self.error(
                    span,
                    format!("`{}` is not supported in traced code yet", b.name),
                    "compute it with arithmetic, or in a #[dont_look_inside] function",
                );
                None
            }
        }
    }

    fn operand_int(&self, o: &Operand) -> Option<IntTy> {
        match self.g.operand_ty(o) {
            Ty::Int(t) => Some(t),
            Ty::Char => Some(IntTy::U32),
            _ => None,
        }
    }

    fn cmp_const(&mut self, op: Op, x: Operand, c: i64) -> Operand {
        let t = self.operand_int(&x).unwrap_or(IntTy::I64);
        self.emit1(op, vec![x, int(c, t)], Ty::Bool)
    }

    /// Whether a `u8` or `char` lies in one of the inclusive ranges.
    fn char_in(&mut self, x: Operand, ranges: &[(char, char)]) -> Operand {
        let ty = self.g.operand_ty(&x);
        let c = |ch: char| match ty {
            Ty::Char => Operand::Const(Const::Char(ch)),
            _ => Operand::Const(Const::Int(ch as i64, IntTy::U8)),
        };
        let mut acc: Option<Operand> = None;
        for (lo, hi) in ranges {
            let ge = self.emit1(Op::IntGe, vec![x.clone(), c(*lo)], Ty::Bool);
            let le = self.emit1(Op::IntLe, vec![x.clone(), c(*hi)], Ty::Bool);
            let both = self.emit1(Op::BoolAnd, vec![ge, le], Ty::Bool);
            acc = Some(match acc {
                None => both,
                Some(a) => self.emit1(Op::BoolOr, vec![a, both], Ty::Bool),
            });
        }
        acc.expect("at least one range")
    }

    /// `if cond { a } else { b }` on scalars, as a branch and a join.
    fn select(&mut self, cond: Operand, a: Operand, b: Operand, ty: &Ty) -> Operand {
        let (t, f, keys) = self.branch(cond);
        let join = self.new_join(&keys, std::slice::from_ref(ty));
        self.enter(t, &keys);
        self.goto(join, &keys, vec![a]);
        self.enter(f, &keys);
        self.goto(join, &keys, vec![b]);
        self.enter(join, &keys).remove(0)
    }

    /// `len()` is the length; `is_empty()` compares it with 0.
    fn len_or_empty(&mut self, b: &Builtin, len: Operand) -> Leaves {
        match b.lower {
            Lowering::IsEmpty => {
                vec![self.emit1(Op::IntEq, vec![len, int(0, IntTy::Usize)], Ty::Bool)]
            }
            _ => vec![len],
        }
    }

    /// The `&str` (`ptr`, `len`) as the same fat reference typed `&[u8]`.
    fn str_as_bytes(&mut self, ptr: Operand, len: Operand) -> Leaves {
        let bytes = Ty::reference(false, Ty::Slice(Box::new(Ty::Int(IntTy::U8))));
        vec![self.emit1(Op::Cast, vec![ptr], bytes), len]
    }

    /// The receiver's value, read through any references.
    fn recv_value(&mut self, recv: &syn::Expr) -> Option<(Leaves, Ty)> {
        let ty = self.tc.ty(recv).clone();
        // Through a box too: reading what it holds does not move it.
        if let Ty::Ref { .. } | Ty::Box(_) | Ty::Gc(_) = ty {
            let lv = self.deref_place(recv)?;
            let t = lv.ty();
            if t.is_unsized() {
                let v = self.addr_of(&lv, recv.span())?;
                return Some((v, Ty::reference(false, t)));
            }
            return Some((self.load(&lv, recv.span())?, t));
        }
        Some((self.rvalue(recv)?, ty))
    }

    pub(super) fn builtin_method(
        &mut self,
        b: &Builtin,
        m: &syn::ExprMethodCall,
        ty: &Ty,
    ) -> Option<Leaves> {
        let name = b.name;
        let span = m.span();
        let recv_ty = self.tc.ty(&m.receiver).clone();
        let mut base = &recv_ty;
        while let Ty::Ref { to, .. } | Ty::Box(to) | Ty::Gc(to) = base {
            base = to;
        }
        let base = base.clone();
        match (&base, &b.lower) {
            (Ty::Cell(_) | Ty::GcCell(_), _) => self.cell_method(b, m, &base),
            (Ty::QuasiImmut(_), _) => self.quasiimmut_method(b, m, &base),
            (Ty::Vec(elem), _) => {
                let lv = self.deref_place(&m.receiver)?;
                let vec = self.addr_of(&lv, span)?.remove(0);
                let elem = (**elem).clone();
                match b.lower {
                    Lowering::Len | Lowering::IsEmpty => {
                        let len = self.emit1(Op::VecLen(elem), vec![vec], Ty::usize());
                        Some(self.len_or_empty(b, len))
                    }
                    Lowering::Push | Lowering::Pop | Lowering::VecHelper | Lowering::Truncate
                        if matches!(elem, Ty::Box(_))
                            && (name != "truncate" && name != "clear" && name != "swap") =>
                    {
                        self.error(
                            span,
                            format!(
                                "`{name}` on a Vec of `{}` is not supported in traced code yet",
                                self.items.types.display(&elem)
                            ),
                            "moving boxes into or out of a Vec is not supported yet: do it in a #[dont_look_inside] function",
                        );
                        None
                    }
                    Lowering::Push | Lowering::Pop | Lowering::VecHelper | Lowering::Truncate
                        if (name == "push" || name == "pop" || name == "insert")
                            && !self.items.types.is_plain_data(&elem)
                            // (a value owning Vecs is moved into a new item)
                            && !(name == "push" && self.items.types.is_boxable(&elem)) =>
                    {
                        self.error(
                            span,
                            format!(
                                "`{name}` on a Vec of `{}` is not supported in traced code yet",
                                self.items.types.display(&elem)
                            ),
                            "only items of plain data (scalars, and structs, tuples and enums of them) are moved in and out of a Vec in traced code; do it in a #[dont_look_inside] function",
                        );
                        None
                    }
                    Lowering::Push if elem.is_scalar() => {
                        let x = self.scalar(&m.args[0])?;
                        self.push_leaves(vec, &elem, vec![x], span)?;
                        Some(vec![])
                    }
                    Lowering::Pop if elem.is_scalar() => {
                        let r = self.emit(
                            Op::VecPop(elem.clone()),
                            vec![vec],
                            &[Ty::Int(IntTy::U32), elem],
                        );
                        Some(r.into_iter().map(Operand::Var).collect())
                    }
                    Lowering::Push => {
                        let x = self.rvalue(&m.args[0])?;
                        self.set_loc(span);
                        self.push_leaves(vec, &elem, x, span)?;
                        Some(vec![])
                    }
                    Lowering::Pop => self.vec_pop_in_place(vec, elem, span),
                    Lowering::Last => Some(self.vec_last(vec, elem)),
                    Lowering::VecHelper | Lowering::Truncate => {
                        let mut args = vec![vec];
                        for a in &m.args {
                            args.extend(self.rvalue(a)?);
                        }
                        let h = match name {
                            "insert" => Helper::VecInsert(elem),
                            "truncate" => Helper::VecTruncate(elem),
                            "swap" => Helper::VecSwap(elem),
                            _ => Helper::VecClear(elem),
                        };
                        self.emit(Op::Helper(h), args, &[]);
                        Some(vec![])
                    }
                    _ => None,
                }
            }
            (Ty::Slice(_) | Ty::Str, Lowering::Len | Lowering::IsEmpty) => {
                let lv = self.deref_place(&m.receiver)?;
                let len = self.addr_of(&lv, span)?.remove(1);
                Some(self.len_or_empty(b, len))
            }
            (Ty::Array(_, n), Lowering::Len) => Some(vec![int(*n as i64, IntTy::Usize)]),
            (Ty::Array(_, n), Lowering::IsEmpty) => {
                Some(vec![Operand::Const(Const::Bool(*n == 0))])
            }
            (Ty::Str, Lowering::AsBytes) => {
                let lv = self.deref_place(&m.receiver)?;
                let v = self.addr_of(&lv, span)?;
                Some(self.str_as_bytes(v[0].clone(), v[1].clone()))
            }
            (Ty::String, _) => {
                let lv = self.deref_place(&m.receiver)?;
                let s = self.addr_of(&lv, span)?.remove(0);
                let r = self.emit(
                    Op::StringAsStr,
                    vec![s],
                    &[Ty::reference(false, Ty::Str), Ty::usize()],
                );
                match b.lower {
                    Lowering::AsStr => Some(r.into_iter().map(Operand::Var).collect()),
                    Lowering::Len | Lowering::IsEmpty => {
                        Some(self.len_or_empty(b, Operand::Var(r[1])))
                    }
                    Lowering::AsBytes => {
                        Some(self.str_as_bytes(Operand::Var(r[0]), Operand::Var(r[1])))
                    }
                    _ => None,
                }
            }
            (Ty::Option(_), _) | (Ty::Result(..), _) => {
                let (v, vty) = self.recv_value(&m.receiver)?;
                let is_option = matches!(vty, Ty::Option(_));
                let good_tag = if is_option { 1 } else { 0 };
                let tag = v[0].clone();
                let good = self.emit1(Op::IntEq, vec![tag, int(good_tag, IntTy::U32)], Ty::Bool);
                let payload = || {
                    let off = self.variant_leaf_offset(&vty, good_tag as usize, 0);
                    let n = self.leaf_types(ty).len();
                    v[off..off + n].to_vec()
                };
                match b.lower {
                    Lowering::IsVariant(true) => Some(vec![good]),
                    Lowering::IsVariant(false) => {
                        Some(vec![self.emit1(Op::BoolNot, vec![good], Ty::Bool)])
                    }
                    Lowering::Unwrap | Lowering::Expect => {
                        let p = payload();
                        let msg = match (&b.lower, is_option) {
                            (Lowering::Expect, _) => {
                                str_literal(&m.args[0]).unwrap_or_else(|| "expect failed".into())
                            }
                            (_, true) => "called `Option::unwrap()` on a `None` value".into(),
                            (_, false) => "called `Result::unwrap()` on an `Err` value".into(),
                        };
                        self.check(good, PanicKind::Unwrap, &msg);
                        Some(p)
                    }
                    Lowering::UnwrapOr if ty.is_scalar() => {
                        let p = payload();
                        let d = self.scalar(&m.args[0])?;
                        Some(vec![self.select(good, p[0].clone(), d, ty)])
                    }
                    Lowering::Copy => Some(v),
                    _ => {
                        self.error(
                            span,
                            format!("`{name}` is not supported in traced code yet"),
                            "use a `match`",
                        );
                        None
                    }
                }
            }
            (Ty::Char, Lowering::ToDigit) => {
                let x = self.scalar_recv(&m.receiver)?;
                let Some(Operand::Const(Const::Int(10, _))) =
                    self.rvalue(&m.args[0]).map(|mut v| v.remove(0))
                else {
                    self.error(
                        span,
                        "only `to_digit(10)` is supported in traced code",
                        "pass the radix 10 as a literal; for another radix, compare the character with its ranges and subtract (`c as u32 - 'a' as u32 + 10`)",
                    );
                    return None;
                };
                let code = self.emit1(Op::Cast, vec![x], Ty::Int(IntTy::U32));
                let d = self.emit1(
                    Op::IntSub,
                    vec![code, int('0' as i64, IntTy::U32)],
                    Ty::Int(IntTy::U32),
                );
                let ok = self.emit1(Op::IntLt, vec![d.clone(), int(10, IntTy::U32)], Ty::Bool);
                let tag = self.emit1(Op::Cast, vec![ok], Ty::Int(IntTy::U32));
                // The inactive payload slot must be zero: d * (ok as u32).
                let v = self.emit1(Op::IntMul, vec![d, tag.clone()], Ty::Int(IntTy::U32));
                Some(vec![tag, v])
            }
            (Ty::Adt(_) | Ty::Tuple(_), Lowering::Copy) => {
                self.recv_value(&m.receiver).map(|(v, _)| v)
            }
            _ => {
                let mut vals = vec![self.scalar_recv(&m.receiver)?];
                for a in &m.args {
                    vals.push(self.scalar(a)?);
                }
                let recv_scalar_ty = base.clone();
                let out_ty = if ty.is_scalar() {
                    ty.clone()
                } else {
                    recv_scalar_ty
                };
                self.builtin_scalar(b, vals, &out_ty, span).map(|v| vec![v])
            }
        }
    }

    /// `v.pop()` of a non-scalar item: the popped item's address, and
    /// the item loaded from there when there was one.
    fn vec_pop_in_place(&mut self, vec: Operand, elem: Ty, span: Span) -> Option<Leaves> {
        // (`&mut`: the item is read under the descrs it was written with.)
        let ref_t = Ty::reference(true, elem.clone());
        let r = self.emit(
            Op::VecPopSlot(elem.clone()),
            vec![vec],
            &[Ty::Int(IntTy::U32), ref_t],
        );
        let (tag, addr) = (Operand::Var(r[0]), Operand::Var(r[1]));
        let leaf_tys = self.leaf_types(&Ty::Option(Box::new(elem.clone())));
        let some = self.emit1(Op::IntNe, vec![tag, int(0, IntTy::U32)], Ty::Bool);
        let addr_local =
            self.new_hidden_local("popped", Ty::reference(true, elem.clone()), vec![addr]);
        let (t, f, keys) = self.branch(some);
        let join = self.new_join(&keys, &leaf_tys);
        self.enter(t, &keys);
        let addr = self.env[&addr_local][0].clone();
        let mut leaves = vec![int(1, IntTy::U32)];
        leaves.extend(self.load_mem(addr, &elem, span)?);
        self.goto(join, &keys, leaves);
        self.enter(f, &keys);
        let zeros = leaf_tys
            .iter()
            .map(|t| Operand::Const(Const::zero(t)))
            .collect();
        self.goto(join, &keys, zeros);
        let out = self.enter(join, &keys);
        self.env.remove(&addr_local);
        Some(out)
    }

    /// `v.last()`: `None`, or `Some` of the address of the last item.
    fn vec_last(&mut self, vec: Operand, elem: Ty) -> Leaves {
        let len = self.emit1(Op::VecLen(elem.clone()), vec![vec.clone()], Ty::usize());
        let nonempty = self.emit1(Op::IntNe, vec![len.clone(), int(0, IntTy::Usize)], Ty::Bool);
        let (t, f, keys) = self.branch(nonempty);
        let ref_t = Ty::reference(false, elem.clone());
        let join = self.new_join(&keys, &[Ty::Int(IntTy::U32), ref_t.clone()]);
        self.enter(t, &keys);
        let last = self.emit1(Op::IntSub, vec![len, int(1, IntTy::Usize)], Ty::usize());
        let addr = self.emit1(Op::VecItemAddr(elem), vec![vec, last], ref_t.clone());
        self.goto(join, &keys, vec![int(1, IntTy::U32), addr]);
        self.enter(f, &keys);
        let null = Operand::Const(Const::zero(&ref_t));
        self.goto(join, &keys, vec![int(0, IntTy::U32), null]);
        self.enter(join, &keys)
    }

    fn scalar_recv(&mut self, recv: &syn::Expr) -> Option<Operand> {
        let (v, _) = self.recv_value(recv)?;
        v.into_iter().next()
    }
}
