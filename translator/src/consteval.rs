//! Evaluation of `const` items and array lengths at translation time.

use crate::diag::{at, Diagnostic, FileId};
use crate::items::{path_idents, Def, ItemTable};
use crate::load::ModId;
use metatrace_jitcodegen::flowgraph::Const;
use metatrace_jitcodegen::types::{IntTy, Ty};
use syn::spanned::Spanned;

/// Evaluate a constant expression. Unsuffixed integer literals come back as
/// `i64`-typed values; `convert` fits them to the declared type.
pub fn eval(
    items: &ItemTable,
    module: ModId,
    file: FileId,
    e: &syn::Expr,
) -> Result<Const, Diagnostic> {
    let unsupported = || {
        Err(at(
            items.sources(),
            file,
            e.span(),
            "this expression cannot be evaluated at translation time",
        )
        .with_help("constants may use literals, other constants, arithmetic and `as` casts"))
    };
    match e {
        syn::Expr::Paren(p) => eval(items, module, file, &p.expr),
        syn::Expr::Group(g) => eval(items, module, file, &g.expr),
        syn::Expr::Lit(l) => lit_const(&l.lit).ok_or(()).or_else(|_| unsupported()),
        syn::Expr::Path(p) => match items.resolve_path_in(module, &path_idents(&p.path)) {
            Some(Def::Const(id)) => items.const_value(id),
            _ => {
                let idents = path_idents(&p.path);
                if idents.len() == 2 {
                    if let Some(t) = IntTy::from_name(&idents[0]) {
                        let (lo, hi) = t.range();
                        match idents[1].as_str() {
                            "MAX" => return Ok(Const::Int(t.wrap(hi), t)),
                            "MIN" => return Ok(Const::Int(t.wrap(lo), t)),
                            _ => {}
                        }
                    }
                }
                unsupported()
            }
        },
        syn::Expr::Unary(u) => {
            let v = eval(items, module, file, &u.expr)?;
            match (&u.op, v) {
                (syn::UnOp::Neg(_), Const::Int(v, t)) => Ok(Const::Int(t.wrap(-(v as i128)), t)),
                (syn::UnOp::Neg(_), Const::F64(b)) => {
                    Ok(Const::F64((-f64::from_bits(b)).to_bits()))
                }
                (syn::UnOp::Not(_), Const::Bool(b)) => Ok(Const::Bool(!b)),
                (syn::UnOp::Not(_), Const::Int(v, t)) => Ok(Const::Int(t.wrap(!(v as i128)), t)),
                _ => unsupported(),
            }
        }
        syn::Expr::Binary(b) => {
            let l = eval(items, module, file, &b.left)?;
            let r = eval(items, module, file, &b.right)?;
            match (l, r) {
                (Const::Int(a, t), Const::Int(c, _)) => {
                    let (a, c) = (a as i128, c as i128);
                    let v = match b.op {
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
                        _ => return unsupported(),
                    };
                    Ok(Const::Int(t.wrap(v), t))
                }
                (Const::F64(a), Const::F64(c)) => {
                    let (a, c) = (f64::from_bits(a), f64::from_bits(c));
                    let v = match b.op {
                        syn::BinOp::Add(_) => a + c,
                        syn::BinOp::Sub(_) => a - c,
                        syn::BinOp::Mul(_) => a * c,
                        syn::BinOp::Div(_) => a / c,
                        _ => return unsupported(),
                    };
                    Ok(Const::F64(v.to_bits()))
                }
                _ => unsupported(),
            }
        }
        syn::Expr::Cast(c) => {
            let v = eval(items, module, file, &c.expr)?;
            let ty = items.resolve_type(module, file, None, &c.ty)?;
            match (v, &ty) {
                (Const::Int(v, _), Ty::Int(t)) => Ok(Const::Int(t.wrap(v as i128), *t)),
                (Const::Int(v, from), Ty::F64) => Ok(Const::F64(
                    if from.signed() {
                        v as f64
                    } else {
                        v as u64 as f64
                    }
                    .to_bits(),
                )),
                (Const::Char(ch), Ty::Int(t)) => Ok(Const::Int(t.wrap(ch as i128), *t)),
                (Const::Bool(b), Ty::Int(t)) => Ok(Const::Int(b as i64, *t)),
                _ => unsupported(),
            }
        }
        _ => unsupported(),
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
