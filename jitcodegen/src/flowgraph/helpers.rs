//! Helpers: std operations that traced code asks native code to do, one
//! small generated function each (`glue`: `call_<i>` shims that rebuild
//! the values from their leaves and call the std method), called as
//! residual calls whose effect summary comes from the signature below
//! (`codewriter::effects`), as if the helper were a `#[dont_look_inside]`
//! function of that signature (RPython's `rlist` helpers called with an
//! oopspec play the same part).
//!
//! They do what the JIT has no instruction for: writing an enum of
//! rustc's own layout into memory, the Vec methods that move or drop
//! several items (`insert`, `truncate`, `swap`, `clear`, `resize` for
//! `vec![x; n]`; `push` and `pop`
//! are instructions: `vec_push`/`vec_pop` for scalars, `vec_push_slot`/
//! `vec_pop_slot` and stores or loads for other items) and the `f64` bit
//! casts.

use crate::types::{IntTy, Ty, TypeTable};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Helper {
    /// `ptr::write(p, v)` of an enum-like value (a user enum, `Option`,
    /// `Result`) of plain data: args (the address, the value's leaves).
    EnumWrite(Ty),
    /// `v.insert(i, x)`: args (vec, i, x's leaves); panics as `insert` does.
    VecInsert(Ty),
    /// `v.truncate(n)`: args (vec, n).
    VecTruncate(Ty),
    /// `v.swap(a, b)`: args (vec, a, b); panics as `swap` does.
    VecSwap(Ty),
    /// `v.clear()`: args (vec).
    VecClear(Ty),
    /// `v.resize(n, x)` (`vec![x; n]`): args (vec, n, x's leaves).
    VecResize(Ty),
    /// `x.to_bits()` of an `f64`.
    F64ToBits,
    /// `f64::from_bits(x)`.
    F64FromBits,
    /// The rare path of a `GcCell<T>`'s write barrier: args (the cell);
    /// `GcCell::write_barrier`, which remembers the cell when the plan is
    /// generational. Traced code calls it only when the cell's `logged`
    /// flag is clear.
    GcCellBarrier(Ty),
    /// The rare half of `QuasiImmut<T>::set`: args (the `QuasiImmut`);
    /// `QuasiImmut::invalidate_dependents`, which invalidates the traces
    /// that read it as a constant. Traced code calls it only when the
    /// field's `watched` word is set.
    QuasiImmutInvalidate(Ty),
}

impl Helper {
    /// The signature of the helper as a function: parameter types.
    pub fn params(&self) -> Vec<Ty> {
        let usize_t = Ty::usize();
        let vec = |t: &Ty| Ty::reference(true, Ty::Vec(Box::new(t.clone())));
        match self {
            Helper::EnumWrite(t) => vec![Ty::reference(true, t.clone()), t.clone()],
            Helper::VecClear(t) => vec![vec(t)],
            Helper::VecResize(t) => vec![vec(t), usize_t, t.clone()],
            Helper::VecInsert(t) => vec![vec(t), usize_t, t.clone()],
            Helper::VecTruncate(t) => vec![vec(t), usize_t],
            Helper::VecSwap(t) => vec![vec(t), usize_t.clone(), usize_t],
            Helper::F64ToBits => vec![Ty::F64],
            Helper::F64FromBits => vec![Ty::Int(IntTy::U64)],
            Helper::GcCellBarrier(t) => vec![Ty::reference(false, Ty::GcCell(Box::new(t.clone())))],
            Helper::QuasiImmutInvalidate(t) => {
                vec![Ty::reference(false, Ty::QuasiImmut(Box::new(t.clone())))]
            }
        }
    }

    /// The return type.
    pub fn ret(&self) -> Ty {
        match self {
            Helper::F64ToBits => Ty::Int(IntTy::U64),
            Helper::F64FromBits => Ty::F64,
            _ => Ty::Unit,
        }
    }

    /// The type the helper is about (the enum, or the Vec's item type).
    pub fn ty(&self) -> Option<&Ty> {
        match self {
            Helper::EnumWrite(t)
            | Helper::VecInsert(t)
            | Helper::VecTruncate(t)
            | Helper::VecSwap(t)
            | Helper::VecClear(t)
            | Helper::GcCellBarrier(t)
            | Helper::QuasiImmutInvalidate(t)
            | Helper::VecResize(t) => Some(t),
            Helper::F64ToBits | Helper::F64FromBits => None,
        }
    }

    /// The helper's name in printed flow graphs and jitcodes, and in the
    /// JIT log: `Vec<Value>::push`, `write<Option<i64>>`.
    pub fn name(&self, types: &TypeTable) -> String {
        let t = |t: &Ty| types.display(t).to_string();
        match self {
            Helper::EnumWrite(ty) => format!("write<{}>", t(ty)),
            Helper::VecInsert(ty) => format!("Vec<{}>::insert", t(ty)),
            Helper::VecTruncate(ty) => format!("Vec<{}>::truncate", t(ty)),
            Helper::VecSwap(ty) => format!("Vec<{}>::swap", t(ty)),
            Helper::VecClear(ty) => format!("Vec<{}>::clear", t(ty)),
            Helper::VecResize(ty) => format!("Vec<{}>::resize", t(ty)),
            Helper::F64ToBits => "f64::to_bits".into(),
            Helper::F64FromBits => "f64::from_bits".into(),
            Helper::GcCellBarrier(ty) => format!("GcCell<{}>::write_barrier", t(ty)),
            Helper::QuasiImmutInvalidate(ty) => {
                format!("QuasiImmut<{}>::invalidate_dependents", t(ty))
            }
        }
    }

    /// Does the helper write no memory (so that its effect summary is
    /// "nothing")? The bit casts.
    pub fn is_pure(&self) -> bool {
        matches!(self, Helper::F64ToBits | Helper::F64FromBits)
    }
}
