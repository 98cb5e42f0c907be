//! Values that own heap memory, by value in traced code: `Box<T>` locals
//! and `Vec<T>` values (on their own or as fields of struct and tuple
//! values). Their drops follow Rust's rules with drop flags made of null
//! pointers, as RPython's rtyper turns `malloc`/`free` of GC-less
//! structures into explicit operations (`rpython/rtyper/lltypesystem`),
//! and in the manner of rustc's drop elaboration (`rustc_mir_transform/
//! elaborate_drops`), which is where the rules come from.
//!
//! A Vec value is one leaf, the pointer to a box holding the Vec's three
//! words (`TypeTable::flatten`); `new` of `Vec<T>` and `vec_init` make one,
//! `free` of `Vec<T>` drops it (the box's drop glue frees the buffer). A
//! Vec moved into memory (a field, a box, a Vec item) is `vec_take` into
//! place and its box freed; overwriting a Vec in memory drops the old one
//! first (`vec_drop`).

use super::{Leaves, Lowerer};
use crate::typeck::LocalId;
use metatrace_jitcodegen::flowgraph::{Const, Helper, Op, Operand};
use metatrace_jitcodegen::types::{IntTy, Ty};
use proc_macro2::Span;

/// Whether a leaf type owns what it points to: a box, a Vec value.
pub(crate) fn is_owned_leaf(ty: &Ty) -> bool {
    matches!(ty, Ty::Box(_) | Ty::Vec(_))
}

impl Lowerer<'_, '_> {
    /// The positions and types of the owned leaves of a value of type `ty`.
    pub(super) fn owned_leaves(&self, ty: &Ty) -> Vec<(usize, Ty)> {
        let leaves = self.leaf_types(ty);
        let owned = leaves.into_iter().enumerate();
        owned.filter(|(_, t)| is_owned_leaf(t)).collect()
    }

    /// Whether a value of type `ty` held in registers owns heap memory
    /// (so that a local of it is dropped at the end of its scope).
    pub(super) fn owns_leaves(&self, ty: &Ty) -> bool {
        self.leaf_types(ty).iter().any(is_owned_leaf)
    }

    /// Drop a value held in registers: its owned leaves, last first (Rust
    /// drops fields in declaration order; the order of frees of
    /// independent allocations is not observable, but this one is
    /// stable).
    pub(super) fn drop_value(&mut self, value: &[Operand], ty: &Ty) {
        for (i, t) in self.owned_leaves(ty).into_iter().rev() {
            if let Some(v) = value.get(i).cloned() {
                self.free_owned(v, &t);
            }
        }
    }

    /// Drop one owned leaf (`Box<T>` or `Vec<T>`): `free`, which drops
    /// what the box holds and does nothing for null (moved out).
    pub(super) fn free_owned(&mut self, v: Operand, leaf: &Ty) {
        if matches!(v, Operand::Const(Const::NullRef(_))) {
            return;
        }
        match leaf {
            Ty::Box(inner) => self.emit0(Op::Free((**inner).clone()), vec![v]),
            Ty::Vec(_) => self.emit0(Op::Free(leaf.clone()), vec![v]),
            _ => {}
        }
    }

    /// The leaves `start..` of local `id` (of type `ty`) were used by
    /// value: what they own moved out, and the local's drop flags (its
    /// owned leaves) become null.
    pub(super) fn move_out(&mut self, id: LocalId, start: usize, ty: &Ty) {
        let owned = self.owned_leaves(ty);
        if let Some(leaves) = self.env.get_mut(&id) {
            for (i, t) in owned {
                if let Some(l) = leaves.get_mut(start + i) {
                    *l = Operand::Const(Const::NullRef(t));
                }
            }
        }
    }

    /// Drop the owned leaves held by `lv`, a local's place about to be
    /// overwritten (`v = Vec::new()`, `t.items = v`).
    pub(super) fn drop_local_place(&mut self, id: LocalId, start: usize, ty: &Ty) {
        let Some(vals) = self.env.get(&id).cloned() else {
            return;
        };
        let n = self.leaf_types(ty).len();
        if let Some(old) = vals.get(start..start + n) {
            self.drop_value(&old.to_vec(), ty);
        }
    }

    /// `Vec::new()` (`len` 0) or `Vec::with_capacity(len)` of `elem`
    /// items: a new Vec value.
    pub(super) fn new_vec(&mut self, elem: &Ty, len: Operand) -> Operand {
        let vec_ty = Ty::Vec(Box::new(elem.clone()));
        let h = self.emit1(Op::New(vec_ty.clone()), vec![], vec_ty);
        self.emit0(Op::VecInit(elem.clone()), vec![h.clone(), len]);
        h
    }

    /// Move the Vec value `v` into the memory at `addr`: dropping the Vec
    /// there first unless the memory is fresh (`Box::new`'s, a pushed
    /// item's), then `vec_take` and freeing `v`'s box.
    pub(super) fn store_vec(&mut self, addr: Operand, elem: &Ty, v: Operand, fresh: bool) {
        if !fresh {
            self.emit0(Op::VecDrop(elem.clone()), vec![addr.clone()]);
        }
        if let Operand::Const(Const::NullRef(_)) = v {
            // (moved out before: rustc has rejected this use)
            return;
        }
        self.emit0(Op::VecTake(elem.clone()), vec![addr, v.clone()]);
        self.emit0(Op::Free(Ty::Vec(Box::new(elem.clone()))), vec![v]);
    }

    /// `v.push(x)` of `x`'s leaves: `vec_push` for a scalar item, else in
    /// place (`vec_push_slot`, then the value stored into the new item,
    /// fresh memory: a Vec inside is moved in, nothing is dropped).
    pub(super) fn push_leaves(
        &mut self,
        vec: Operand,
        elem: &Ty,
        x: Leaves,
        span: Span,
    ) -> Option<()> {
        if elem.is_scalar() {
            self.emit0(Op::VecPush(elem.clone()), vec![vec, x[0].clone()]);
            return Some(());
        }
        let slot = self.emit1(
            Op::VecPushSlot(elem.clone()),
            vec![vec],
            Ty::reference(true, elem.clone()),
        );
        let outer = std::mem::replace(&mut self.fresh_memory, true);
        let stored = self.store_mem(slot, elem, x, span);
        self.fresh_memory = outer;
        stored
    }

    /// `vec![]`, `vec![a, b, c]` (a Vec of that capacity, the items
    /// pushed) and `vec![x; n]` (a Vec of capacity `n`, filled by the
    /// generated helper `Vec<T>::resize`, a residual call: `x` is plain
    /// data, cloned natively).
    pub(super) fn vec_macro(
        &mut self,
        args: &[syn::Expr],
        repeat: bool,
        ty: &Ty,
        span: Span,
    ) -> Option<Leaves> {
        let Ty::Vec(elem) = ty else {
            self.error(span, "cannot lower this `vec!`", "rewrite it with the constructs listed in docs/subset.md, or move it into a #[dont_look_inside] function");
            return None;
        };
        let elem = (**elem).clone();
        if repeat {
            if !self.items.types.is_plain_data(&elem) {
                let shown = self.items.types.display(&elem).to_string();
                self.error(
                    span,
                    format!("`vec![x; n]` of a value of type `{shown}` is not supported in traced code"),
                    "only plain data is repeated in traced code (scalars, and structs, tuples and enums of them); push the items one by one",
                );
                return None;
            }
            let x = self.rvalue(&args[0])?;
            let n = self.scalar(&args[1])?;
            self.set_loc(span);
            let v = self.new_vec(&elem, n.clone());
            let mut helper_args = vec![v.clone(), n];
            helper_args.extend(x);
            self.emit(Op::Helper(Helper::VecResize(elem)), helper_args, &[]);
            return Some(vec![v]);
        }
        let mut items = Vec::new();
        for a in args {
            items.push(self.rvalue(a)?);
        }
        self.set_loc(span);
        let len = Operand::Const(Const::Int(items.len() as i64, IntTy::Usize));
        let v = self.new_vec(&elem, len);
        for x in items {
            self.push_leaves(v.clone(), &elem, x, span)?;
        }
        Some(vec![v])
    }

    /// A value owning heap memory cannot be destructured by a pattern (the
    /// bindings would need drop flags of their own).
    pub(super) fn owned_pattern_error(&mut self, ty: &Ty, span: Span) {
        if matches!(ty, Ty::Box(_)) {
            self.box_pattern_error(span);
            return;
        }
        let shown = self.items.types.display(ty).to_string();
        self.error(
            span,
            format!("matching on or destructuring a value of type `{shown}`, which owns a Vec, is not supported in traced code"),
            "bind it to a plain `let` variable and use its fields (`s.items`), or match on a reference to it",
        );
    }

    /// `Vec` values used through a temporary (`make().len()`) would never
    /// be dropped.
    pub(super) fn temp_vec_error(&mut self, span: Span) {
        self.error(
            span,
            "using a temporary Vec is not supported in traced code",
            "bind it to a local first: `let v = ...;`, then use `v.len()` or `&v`",
        );
    }

    /// Leaves of a place of a Vec value held in registers (a local or a
    /// field of one): its box is where the Vec is.
    pub(super) fn vec_value_addr(&mut self, leaves: &Leaves) -> Option<Leaves> {
        leaves.first().cloned().map(|h| vec![h])
    }
}
