//! Constant arithmetic at translation time: the values of literals and
//! what unary and binary operators and `as` casts make of constant
//! operands. Pure functions of `Const` values; the walk over a constant's
//! expression, which resolves names, is `ItemTable::eval_const_expr`.

use crate::builtins;
use metatrace_jitcodegen::flowgraph::Const;
use metatrace_jitcodegen::types::{IntTy, Ty};

/// `-v` and `!v`; `None` where the operator does not apply.
pub fn unary(op: &syn::UnOp, v: Const) -> Option<Const> {
    match (op, v) {
        (syn::UnOp::Neg(_), Const::Int(v, t)) => Some(Const::Int(t.wrap(-(v as i128)), t)),
        (syn::UnOp::Neg(_), Const::F64(b)) => Some(Const::F64((-f64::from_bits(b)).to_bits())),
        (syn::UnOp::Not(_), Const::Bool(b)) => Some(Const::Bool(!b)),
        (syn::UnOp::Not(_), Const::Int(v, t)) => Some(Const::Int(t.wrap(!(v as i128)), t)),
        _ => None,
    }
}

/// `l op r` on integers (typed as `l`) and on f64; `None` where the
/// operator does not apply or the result is undefined (division by zero,
/// a shift by 64 or more).
pub fn binary(op: &syn::BinOp, l: Const, r: Const) -> Option<Const> {
    match (l, r) {
        (Const::Int(a, t), Const::Int(c, _)) => {
            let (a, c) = (a as i128, c as i128);
            let v = match op {
                syn::BinOp::Add(_) => a + c,
                syn::BinOp::Sub(_) => a - c,
                syn::BinOp::Mul(_) => a.wrapping_mul(c),
                syn::BinOp::Div(_) if c != 0 => a / c,
                syn::BinOp::Rem(_) if c != 0 => a % c,
                syn::BinOp::BitAnd(_) => a & c,
                syn::BinOp::BitOr(_) => a | c,
                syn::BinOp::BitXor(_) => a ^ c,
                syn::BinOp::Shl(_) if (0..64).contains(&c) => a << c,
                syn::BinOp::Shr(_) if (0..64).contains(&c) => a >> c,
                _ => return None,
            };
            Some(Const::Int(t.wrap(v), t))
        }
        (Const::F64(a), Const::F64(c)) => {
            let (a, c) = (f64::from_bits(a), f64::from_bits(c));
            let v = match op {
                syn::BinOp::Add(_) => a + c,
                syn::BinOp::Sub(_) => a - c,
                syn::BinOp::Mul(_) => a * c,
                syn::BinOp::Div(_) => a / c,
                _ => return None,
            };
            Some(Const::F64(v.to_bits()))
        }
        _ => None,
    }
}

/// `v as ty` in a constant; `None` for the casts constants do not support.
pub fn cast(v: Const, ty: &Ty) -> Option<Const> {
    match (v, ty) {
        (Const::Int(v, _), Ty::Int(t)) => Some(Const::Int(t.wrap(v as i128), *t)),
        (Const::Int(v, from), Ty::F64) => Some(Const::F64(
            if from.signed() {
                v as f64
            } else {
                v as u64 as f64
            }
            .to_bits(),
        )),
        (Const::Char(ch), Ty::Int(t)) => Some(Const::Int(t.wrap(ch as i128), *t)),
        (Const::Bool(b), Ty::Int(t)) => Some(Const::Int(b as i64, *t)),
        _ => None,
    }
}

/// `i64::MAX` and `i64::MIN` (likewise every integer type) in a constant:
/// the integer limits among the registry's associated constants.
pub fn int_limit(ty_name: &str, which: &str) -> Option<Const> {
    match which {
        "MAX" | "MIN" if IntTy::from_name(ty_name).is_some() => {
            builtins::assoc_const(ty_name, which)
        }
        _ => None,
    }
}

/// A literal's value; integers without suffix are typed `i64` for now.
pub fn lit_const(lit: &syn::Lit) -> Option<Const> {
    match lit {
        syn::Lit::Int(i) => {
            let t = if i.suffix().is_empty() {
                IntTy::I64
            } else {
                IntTy::from_name(i.suffix())?
            };
            let v: u128 = i.base10_parse().ok()?;
            Some(Const::Int(t.wrap(v as i128), t))
        }
        syn::Lit::Byte(b) => Some(Const::Int(b.value() as i64, IntTy::U8)),
        syn::Lit::Bool(b) => Some(Const::Bool(b.value)),
        syn::Lit::Char(c) => Some(Const::Char(c.value())),
        syn::Lit::Float(f) => Some(Const::F64(f.base10_parse::<f64>().ok()?.to_bits())),
        _ => None,
    }
}

/// The text of a string literal expression (`"..."`), if `e` is one.
pub fn str_literal(e: &syn::Expr) -> Option<String> {
    match e {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        }) => Some(s.value()),
        _ => None,
    }
}

/// Fit an evaluated value to the declared type of a constant.
pub fn convert(v: Const, ty: &Ty) -> Option<Const> {
    match (v, ty) {
        (Const::Int(v, _), Ty::Int(t)) => {
            let (lo, hi) = t.range();
            let wide = v as i128;
            if wide < lo || wide > hi {
                // A literal that was typed i64 may still fit unsigned 64-bit.
                if *t == IntTy::U64 || *t == IntTy::Usize {
                    return Some(Const::Int(v, *t));
                }
                return None;
            }
            Some(Const::Int(v, *t))
        }
        (Const::Int(v, _), Ty::F64) => Some(Const::F64((v as f64).to_bits())),
        (c @ Const::Bool(_), Ty::Bool)
        | (c @ Const::Char(_), Ty::Char)
        | (c @ Const::F64(_), Ty::F64) => Some(c),
        _ => None,
    }
}
