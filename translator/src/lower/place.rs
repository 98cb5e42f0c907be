//! Places: where a value lives (a local's leaves, or memory reached through
//! a reference), and how to load, store and take its address.

use super::{Leaves, Lowerer};
use crate::typeck::{enum_variants, key, member_name, PathRes};
use metatrace_jitcodegen::flowgraph::{
    Const, Exit, FieldRef, Helper, LinkCase, Op, Operand, PanicKind,
};
use metatrace_jitcodegen::types::{AdtKind, IntTy, TagRepr, Ty};
use syn::spanned::Spanned;

#[derive(Clone, Debug)]
pub enum Lval {
    /// Leaves `start..start+n` of a local, `n` the leaf count of `ty`.
    Local {
        id: crate::typeck::LocalId,
        start: usize,
        ty: Ty,
    },
    /// A value computed into registers (not addressable).
    Temp { leaves: Leaves, ty: Ty },
    /// A value of type `ty` in memory at `addr`.
    Mem { addr: Operand, ty: Ty },
    /// Field `field` of the object at `base`.
    Field {
        base: Operand,
        field: FieldRef,
        ty: Ty,
    },
    /// Item `idx` of the `Vec` at `vec`, bounds already checked.
    VecElem { vec: Operand, idx: Operand, ty: Ty },
    /// Item `idx` of the slice or array whose data starts at `ptr`.
    SliceElem { ptr: Operand, idx: Operand, ty: Ty },
    /// An unsized `[T]` (or `str` when `elem` is `None`) given by a fat pointer.
    Slice {
        ptr: Operand,
        len: Operand,
        elem: Option<Ty>,
    },
}

impl Lval {
    pub fn ty(&self) -> Ty {
        match self {
            Lval::Local { ty, .. }
            | Lval::Temp { ty, .. }
            | Lval::Mem { ty, .. }
            | Lval::Field { ty, .. }
            | Lval::VecElem { ty, .. }
            | Lval::SliceElem { ty, .. } => ty.clone(),
            Lval::Slice { elem: Some(e), .. } => Ty::Slice(Box::new(e.clone())),
            Lval::Slice { elem: None, .. } => Ty::Str,
        }
    }
}

/// Whether an expression denotes a place (rather than a temporary).
pub fn is_place_expr(e: &syn::Expr) -> bool {
    match e {
        syn::Expr::Path(_) | syn::Expr::Field(_) | syn::Expr::Index(_) => true,
        syn::Expr::Unary(u) => matches!(u.op, syn::UnOp::Deref(_)),
        syn::Expr::Paren(p) => is_place_expr(&p.expr),
        syn::Expr::Group(g) => is_place_expr(&g.expr),
        _ => false,
    }
}

impl Lowerer<'_, '_> {
    /// The place an expression denotes; temporaries for non-place expressions.
    pub(super) fn place(&mut self, e: &syn::Expr) -> Option<Lval> {
        self.set_loc(e.span());
        match e {
            syn::Expr::Paren(p) => self.place(&p.expr),
            syn::Expr::Group(g) => self.place(&g.expr),
            syn::Expr::Path(_) => match self.tc.paths.get(&key(e)) {
                Some(PathRes::Local(id)) => Some(Lval::Local {
                    id: *id,
                    start: 0,
                    ty: self.local_tys[id.0 as usize].clone(),
                }),
                _ => self.temp(e),
            },
            syn::Expr::Field(f) => {
                let base = self.deref_place(&f.base)?;
                self.field_place(base, &member_name(&f.member), f.member.span())
            }
            syn::Expr::Index(ix) => {
                let base = self.deref_place(&ix.expr)?;
                let idx = self.rvalue(&ix.index)?.pop()?;
                self.index_place(base, idx, ix.span())
            }
            syn::Expr::Unary(u) if matches!(u.op, syn::UnOp::Deref(_)) => {
                let inner_ty = self.tc.ty(&u.expr).clone();
                let v = if let Ty::Box(_) = inner_ty {
                    // Reading through a box does not move it.
                    let lv = self.place(&u.expr)?;
                    if !self.box_place_ok(&lv, u.expr.span()) {
                        return None;
                    }
                    self.load(&lv, u.span())?
                } else {
                    self.rvalue(&u.expr)?
                };
                self.deref_value(v, &inner_ty, u.span())
            }
            _ => self.temp(e),
        }
    }

    fn temp(&mut self, e: &syn::Expr) -> Option<Lval> {
        let leaves = self.rvalue(e)?;
        let ty = self.tc.ty(e).clone();
        Some(Lval::Temp { leaves, ty })
    }

    /// The place of `e` with references followed (auto-deref for field
    /// access, indexing and method receivers).
    pub(super) fn deref_place(&mut self, e: &syn::Expr) -> Option<Lval> {
        let mut lv = self.place(e)?;
        if !self.box_place_ok(&lv, e.span()) {
            return None;
        }
        loop {
            let ty = lv.ty();
            match ty {
                Ty::Ref { .. } | Ty::Box(_) | Ty::Gc(_) => {
                    let v = self.load(&lv, e.span())?;
                    lv = self.deref_value(v, &ty, e.span())?;
                }
                _ => return Some(lv),
            }
        }
    }

    /// A box read through (`*b`, `b.f`, `b.method()`) must be in a place:
    /// a temporary box would never be freed.
    fn box_place_ok(&mut self, lv: &Lval, span: proc_macro2::Span) -> bool {
        if let Lval::Temp { ty: Ty::Box(_), .. } = lv {
            self.error(
                span,
                "using a temporary Box is not supported in traced code",
                "bind it to a local first: `let b = ...;`, then use `*b` or `b.field`",
            );
            return false;
        }
        true
    }

    /// The place a reference (or box) value points to.
    pub(super) fn deref_value(
        &mut self,
        v: Leaves,
        ty: &Ty,
        span: proc_macro2::Span,
    ) -> Option<Lval> {
        match ty {
            Ty::Ref { to, .. } => match &**to {
                Ty::Slice(_) | Ty::Str => Some(Lval::Slice {
                    ptr: v[0].clone(),
                    len: v[1].clone(),
                    elem: match &**to {
                        Ty::Slice(elem) => Some((**elem).clone()),
                        _ => None,
                    },
                }),
                inner => Some(Lval::Mem {
                    addr: v[0].clone(),
                    ty: inner.clone(),
                }),
            },
            Ty::Box(inner) | Ty::Gc(inner) => Some(Lval::Mem {
                addr: v[0].clone(),
                ty: (**inner).clone(),
            }),
            other => {
                self.error(
                    span,
                    format!(
                        "cannot dereference a value of type `{}`",
                        self.items.types.display(other)
                    ),
                    "only references, boxes and `Gc`s can be dereferenced",
                );
                None
            }
        }
    }

    pub(super) fn field_place(
        &mut self,
        base: Lval,
        name: &str,
        span: proc_macro2::Span,
    ) -> Option<Lval> {
        let owner = base.ty();
        let (index, fty) = match &owner {
            Ty::Adt(id) => {
                let adt = self.items.types.adt(*id);
                let i = adt.fields().iter().position(|f| f.name == name)?;
                (i, adt.fields()[i].ty.clone())
            }
            Ty::Tuple(items) => {
                let i: usize = name.parse().ok()?;
                (i, items.get(i)?.clone())
            }
            other => {
                self.error(
                    span,
                    format!("no field `{name}` on `{}`", self.items.types.display(other)),
                    "rewrite it with the constructs listed in docs/subset.md, or move it into a #[dont_look_inside] function",
                );
                return None;
            }
        };
        let field = field_ref(&owner, index);
        match base {
            Lval::Local { id, start, .. } => Some(Lval::Local {
                id,
                start: start + self.field_leaf_offset(&owner, index),
                ty: fty,
            }),
            Lval::Temp { leaves, .. } => {
                let off = self.field_leaf_offset(&owner, index);
                let n = self.leaf_types(&fty).len();
                Some(Lval::Temp {
                    leaves: leaves[off..off + n].to_vec(),
                    ty: fty,
                })
            }
            other => {
                let addr = self.addr_of(&other, span)?;
                Some(Lval::Field {
                    base: addr[0].clone(),
                    field,
                    ty: fty,
                })
            }
        }
    }

    /// Leaf offset of field `index` within a flattened struct or tuple.
    pub(super) fn field_leaf_offset(&self, owner: &Ty, index: usize) -> usize {
        let tys = self.field_tys(owner).unwrap_or_default();
        tys[..index].iter().map(|t| self.leaf_types(t).len()).sum()
    }

    /// The field types of a tuple or struct type.
    fn field_tys(&self, ty: &Ty) -> Option<Vec<Ty>> {
        match ty {
            Ty::Adt(id) if matches!(self.items.types.adt(*id).kind, AdtKind::Struct { .. }) => {
                let fields = self.items.types.adt(*id).fields();
                Some(fields.iter().map(|f| f.ty.clone()).collect())
            }
            Ty::Tuple(items) => Some(items.clone()),
            // `repr(C)`: `GCCELL_BORROW`, `GCCELL_LOGGED`, `GCCELL_VALUE`.
            Ty::GcCell(t) => Some(vec![Ty::Int(IntTy::Isize), Ty::Bool, (**t).clone()]),
            // `QUASIIMMUT_WATCHED`, `QUASIIMMUT_VALUE`.
            Ty::QuasiImmut(t) => Some(vec![Ty::usize(), (**t).clone()]),
            _ => None,
        }
    }

    /// Leaf offset of field `field` of `variant` within a flattened enum-like value.
    pub(super) fn variant_leaf_offset(&self, ty: &Ty, variant: usize, field: usize) -> usize {
        let variants = enum_variants(self.items, ty).unwrap_or_default();
        let mut off = 1;
        for (i, (_, fields)) in variants.iter().enumerate() {
            for (j, f) in fields.iter().enumerate() {
                if i == variant && j == field {
                    return off;
                }
                off += self.leaf_types(f).len();
            }
        }
        off
    }

    pub(super) fn index_place(
        &mut self,
        base: Lval,
        idx: Operand,
        span: proc_macro2::Span,
    ) -> Option<Lval> {
        let usize_t = Ty::usize();
        match base.ty() {
            Ty::Vec(elem) => {
                let vec = self.addr_of(&base, span)?.remove(0);
                let len = self.emit1(Op::VecLen((*elem).clone()), vec![vec.clone()], usize_t);
                self.bounds_check(&idx, len);
                Some(Lval::VecElem {
                    vec,
                    idx,
                    ty: (*elem).clone(),
                })
            }
            Ty::Slice(elem) => {
                let Lval::Slice { ptr, len, .. } = base else {
                    return None;
                };
                self.bounds_check(&idx, len);
                Some(Lval::SliceElem {
                    ptr,
                    idx,
                    ty: (*elem).clone(),
                })
            }
            Ty::Array(elem, n) => {
                let ptr = self.addr_of(&base, span)?.remove(0);
                self.bounds_check(&idx, Operand::Const(Const::Int(n as i64, IntTy::Usize)));
                Some(Lval::SliceElem {
                    ptr,
                    idx,
                    ty: (*elem).clone(),
                })
            }
            other => {
                self.error(
                    span,
                    format!(
                        "cannot index a value of type `{}`",
                        self.items.types.display(&other)
                    ),
                    "index a Vec, a slice or an array",
                );
                None
            }
        }
    }

    fn bounds_check(&mut self, idx: &Operand, len: Operand) {
        let ok = self.emit1(Op::IntLt, vec![idx.clone(), len], Ty::Bool);
        self.check(ok, PanicKind::BoundsCheck, "index out of bounds");
    }

    /// The address of a place, as the leaves of a reference to it.
    pub(super) fn addr_of(&mut self, lv: &Lval, span: proc_macro2::Span) -> Option<Leaves> {
        // An address derived from a shared reference is shared too: the JIT
        // may fold reads through it when the base is a constant.
        // A GC object is immutable but for its cells, and a cell's address
        // is writable wherever it was reached from.
        let ref_to = |base: &Operand, t: &Ty| {
            let mutable = match self.g.operand_ty(base) {
                _ if matches!(t, Ty::Cell(_) | Ty::GcCell(_) | Ty::QuasiImmut(_)) => true,
                Ty::Ref { mutable, .. } => mutable,
                Ty::Gc(_) => false,
                _ => true,
            };
            Ty::reference(mutable, t.clone())
        };
        match lv {
            Lval::Mem { addr, .. } => Some(vec![addr.clone()]),
            Lval::Field { .. } | Lval::VecElem { .. } | Lval::SliceElem { .. } => {
                let ([addr_op, ..], args) = access(lv)?;
                let rt = ref_to(&args[0], &lv.ty());
                Some(vec![self.emit1(addr_op, args, rt)])
            }
            Lval::Slice { ptr, len, .. } => Some(vec![ptr.clone(), len.clone()]),
            // A Vec value (a local, or a field of one) is its box's pointer,
            // which is where the Vec is.
            Lval::Local { ty: Ty::Vec(_), .. } => {
                let v = self.load(lv, span)?;
                self.vec_value_addr(&v)
            }
            Lval::Temp { ty: Ty::Vec(_), .. } => {
                self.temp_vec_error(span);
                None
            }
            // Its `let` was refused and reported.
            Lval::Local { id, .. } if self.poisoned.contains(id) => None,
            Lval::Local { id, ty, .. } => {
                let name = self.local_names[id.0 as usize].clone();
                // A Box gives the value an address only if traced code
                // can box it (not an enum holding a String, say).
                let help = if self.items.types.is_boxable(ty) {
                    "keep the value in a struct reached through a reference, or pass it by value; a value that needs an address can live in a Box: `let b = Box::new(x);` then `&mut *b`"
                } else {
                    "keep the value in a struct reached through a reference, or pass it by value"
                };
                self.error(
                    span,
                    format!("taking a reference to the local variable `{name}` is not supported in traced code"),
                    help,
                );
                None
            }
            Lval::Temp { .. } => {
                self.error(
                    span,
                    "taking a reference to a temporary value is not supported in traced code",
                    "bind the value to a field of a struct reached through a reference",
                );
                None
            }
        }
    }

    /// Read the value of a place into leaves.
    pub(super) fn load(&mut self, lv: &Lval, span: proc_macro2::Span) -> Option<Leaves> {
        let lv = &uncell(lv);
        let ty = lv.ty();
        match lv {
            Lval::Local { id, start, .. } => {
                let n = self.leaf_types(&ty).len();
                let vals = self.env.get(id)?;
                Some(vals[*start..*start + n].to_vec())
            }
            Lval::Temp { leaves, .. } => Some(leaves.clone()),
            Lval::Field { .. } | Lval::VecElem { .. } | Lval::SliceElem { .. }
                if ty.is_scalar() =>
            {
                let ([_, get, _], args) = access(lv)?;
                Some(vec![self.emit1(get, args, ty)])
            }
            Lval::Slice { .. } => {
                self.error(
                    span,
                    "an unsized value cannot be copied into a variable",
                    "keep a reference to it",
                );
                None
            }
            _ => {
                let addr = self.addr_of(lv, span)?.remove(0);
                self.load_mem(addr, &ty, span)
            }
        }
    }

    /// Load a value of type `ty` stored at `addr`, leaf by leaf.
    pub(super) fn load_mem(
        &mut self,
        addr: Operand,
        ty: &Ty,
        span: proc_macro2::Span,
    ) -> Option<Leaves> {
        if let Ty::Cell(inner) = ty {
            // `repr(transparent)`: the value is at the cell's address.
            return self.load_mem(addr, inner, span);
        }
        if ty.is_scalar() {
            return Some(vec![self.emit1(Op::Load, vec![addr], ty.clone())]);
        }
        if ty.owns_heap(&self.items.types) || self.items.types.flatten(ty).is_none() {
            self.error(
                span,
                format!(
                    "a value of type `{}` cannot be copied out of memory in traced code",
                    self.items.types.display(ty)
                ),
                "work on it in place, through a reference",
            );
            return None;
        }
        match ty {
            Ty::Unit | Ty::Never => Some(vec![]),
            Ty::Ref { to, .. } if to.is_unsized() => {
                // A fat reference stored in memory: its two words.
                self.error(
                    span,
                    "loading a slice reference from memory is not supported in traced code yet",
                    "store the slice's owner (a Vec) instead",
                );
                None
            }
            _ => match self.field_tys(ty) {
                Some(fields) => {
                    let mut out = Vec::new();
                    for (i, t) in fields.into_iter().enumerate() {
                        let field = field_ref(ty, i);
                        let base = addr.clone();
                        out.extend(self.load(&Lval::Field { base, field, ty: t }, span)?);
                    }
                    Some(out)
                }
                None => self.load_enum(addr, ty, span),
            },
        }
    }

    /// An enum-like value in memory: read the tag, then only the fields of
    /// the variant it names (the other leaves are zero).
    fn load_enum(&mut self, addr: Operand, ty: &Ty, span: proc_macro2::Span) -> Option<Leaves> {
        let variants = enum_variants(self.items, ty)?;
        let leaf_tys = self.leaf_types(ty);
        let tag = self.switch_tag(addr.clone(), ty);
        if variants.iter().all(|(_, f)| f.is_empty()) {
            return Some(vec![self.tag_as_u32(tag)]);
        }
        let keys = self.keys();
        let join = self.new_join(&keys, &leaf_tys);
        // The payload is read through the same kind of reference as the
        // tag (one descr per field and mutability).
        let addr_ty = match self.g.operand_ty(&addr) {
            t @ Ty::Ref { .. } => t,
            _ => Ty::reference(false, ty.clone()),
        };
        let addr_local = self.new_hidden_local("enum_addr", addr_ty, vec![addr]);
        let tag_local = self.new_hidden_local("enum_tag", Ty::Int(IntTy::U32), vec![tag.clone()]);
        let inner_keys = self.keys();
        let mut arms = Vec::new();
        for _ in &variants {
            arms.push(self.new_join(&inner_keys, &[]));
        }
        for (i, b) in arms.iter().enumerate() {
            let case = if i + 1 == arms.len() {
                LinkCase::Default
            } else {
                LinkCase::Value(i as i64)
            };
            self.link(*b, case, &inner_keys, vec![]);
        }
        self.finish_block(Exit::Switch { value: tag });
        for (i, (_, fields)) in variants.iter().enumerate() {
            self.enter(arms[i], &inner_keys);
            let addr = self.env[&addr_local][0].clone();
            let _ = &self.env[&tag_local];
            let mut values = Vec::new();
            for (j, fty) in fields.iter().enumerate() {
                let field = FieldRef {
                    owner: ty.clone(),
                    variant: Some(i as u32),
                    index: j as u32,
                };
                values.push(if fty.is_scalar() {
                    vec![self.emit1(Op::GetField(field), vec![addr.clone()], fty.clone())]
                } else {
                    // Nested too: an enum in a cell is read through a
                    // `&mut`, so that its payload gets no immutable descr
                    // a constant cell's reads would be folded by.
                    let mutable = matches!(self.g.operand_ty(&addr), Ty::Ref { mutable: true, .. });
                    let a = self.emit1(
                        Op::FieldAddr(field),
                        vec![addr.clone()],
                        Ty::reference(mutable, fty.clone()),
                    );
                    self.load_mem(a, fty, span)?
                });
            }
            // In this arm the tag is known: it goes as a constant, so that a
            // `match` on the loaded value can jump straight to its arm.
            let leaves = self.enum_value(ty, i, values);
            self.goto(join, &keys, leaves);
        }
        let leaves = self.enter(join, &keys);
        Some(leaves)
    }

    /// Write leaves into a place.
    pub(super) fn store(
        &mut self,
        lv: &Lval,
        value: Leaves,
        span: proc_macro2::Span,
    ) -> Option<()> {
        let lv = &uncell(lv);
        let ty = lv.ty();
        // (Into fresh memory, `Box::new`'s, a box moves: its pointer is
        // stored, and the new box's drop glue owns it.)
        if let (Ty::Box(_), false, false) =
            (&ty, matches!(lv, Lval::Local { .. }), self.fresh_memory)
        {
            self.error(
                span,
                "storing a Box into memory is not supported in traced code yet",
                "keep the box in a local variable, or store it from a #[dont_look_inside] function",
            );
            return None;
        }
        match lv {
            Lval::Local { id, start, .. } => {
                let vals = self.env.get_mut(id)?;
                for (i, v) in value.into_iter().enumerate() {
                    vals[start + i] = v;
                }
                Some(())
            }
            Lval::Field { .. } | Lval::VecElem { .. } | Lval::SliceElem { .. }
                if ty.is_scalar() =>
            {
                let ([.., set], mut args) = access(lv)?;
                args.push(value[0].clone());
                self.emit0(set, args);
                Some(())
            }
            Lval::Temp { .. } | Lval::Slice { .. } => {
                self.error(span, "cannot assign to this expression", "rewrite it with the constructs listed in docs/subset.md, or move it into a #[dont_look_inside] function");
                None
            }
            _ => {
                let addr = self.addr_of(lv, span)?.remove(0);
                self.store_mem(addr, &ty, value, span)
            }
        }
    }

    pub(super) fn store_mem(
        &mut self,
        addr: Operand,
        ty: &Ty,
        value: Leaves,
        span: proc_macro2::Span,
    ) -> Option<()> {
        if let Ty::Cell(inner) = ty {
            return self.store_mem(addr, inner, value, span);
        }
        if ty.is_scalar() {
            self.emit0(Op::Store, vec![addr, value[0].clone()]);
            return Some(());
        }
        if let Ty::Vec(elem) = ty {
            let fresh = self.fresh_memory;
            self.store_vec(addr, elem, value[0].clone(), fresh);
            return Some(());
        }
        let fields = match self.field_tys(ty) {
            _ if *ty == Ty::Unit => return Some(()),
            Some(fields)
                if matches!(ty, Ty::Tuple(_))
                    || !ty.owns_heap(&self.items.types)
                    || self.items.types.flatten(ty).is_some() =>
            {
                fields
            }
            None if enum_variants(self.items, ty).is_some()
                && (self.items.types.is_plain_data(ty)
                    || (self.fresh_memory && self.items.types.flatten(ty).is_some())) =>
            {
                // (An enum holding boxes or Vecs only into fresh memory:
                // there is no old value to drop.)
                return self.store_enum(addr, ty, value, span);
            }
            _ => {
                let help = if enum_variants(self.items, ty).is_some() {
                    "an enum holding a Box, Vec or String cannot be written from traced code yet: write it in a #[dont_look_inside] function"
                } else {
                    "store its scalar fields one by one, or do it in a #[dont_look_inside] function"
                };
                self.error(span, format!("storing a value of type `{}` into memory is not supported in traced code yet", self.items.types.display(ty)), help);
                return None;
            }
        };
        let mut off = 0;
        for (i, fty) in fields.iter().enumerate() {
            let n = self.leaf_types(fty).len();
            let (base, field) = (addr.clone(), field_ref(ty, i));
            let lv = Lval::Field {
                base,
                field,
                ty: fty.clone(),
            };
            self.store(&lv, value[off..off + n].to_vec(), span)?;
            off += n;
        }
        Some(())
    }
}

impl Lowerer<'_, '_> {
    /// The tag layout of an enum with a primitive representation.
    fn tag_repr(&self, ty: &Ty) -> Option<TagRepr> {
        match ty {
            Ty::Adt(id) => self.items.types.adt(*id).tag,
            _ => None,
        }
    }

    /// The tag of the enum-like value at `addr`, to switch on: a plain
    /// field read (of the repr's integer type) for an enum with a
    /// primitive representation, else `enum_tag` (the variant index, a
    /// `u32`). Either way the value is the variant index.
    pub(super) fn switch_tag(&mut self, addr: Operand, ty: &Ty) -> Operand {
        match self.tag_repr(ty) {
            Some(tag) => self.emit1(
                Op::GetField(FieldRef::tag(ty)),
                vec![addr],
                Ty::Int(tag.int),
            ),
            None => self.emit1(Op::EnumTag(ty.clone()), vec![addr], Ty::Int(IntTy::U32)),
        }
    }

    /// A tag from `switch_tag` as the `u32` leaf of an exploded enum.
    pub(super) fn tag_as_u32(&mut self, tag: Operand) -> Operand {
        match self.g.operand_ty(&tag) {
            Ty::Int(IntTy::U32) => tag,
            _ => self.emit1(Op::Cast, vec![tag], Ty::Int(IntTy::U32)),
        }
    }

    /// Write an enum-like value of plain data (leaves `value`) at `addr`.
    /// With a primitive representation: the tag and the fields of the
    /// variant, as field writes (a switch on the tag when it is not a
    /// constant); else through the generated `write<T>` helper.
    fn store_enum(
        &mut self,
        addr: Operand,
        ty: &Ty,
        value: Leaves,
        span: proc_macro2::Span,
    ) -> Option<()> {
        // `Option` of a `Gc`, box or thin reference: Rust guarantees the
        // null-pointer layout (None is 0, `Some(p)` is `p`), so a store of
        // a known variant is one pointer store. (Lox makes every instance
        // with a `GcCell::new(None)`: the helper call made the allocation
        // a residual call the virtuals pass could not remove.)
        if ty.is_null_pointer_option() {
            if let Operand::Const(Const::Int(k, _)) = value[0] {
                let word = match k {
                    0 => Operand::Const(Const::NullRef(payload_ty(ty))),
                    _ => value[1].clone(),
                };
                self.emit0(Op::Store, vec![addr, word]);
                return Some(());
            }
        }
        let Some(tag) = self.tag_repr(ty) else {
            let mut args = vec![addr];
            args.extend(value);
            self.emit(Op::Helper(Helper::EnumWrite(ty.clone())), args, &[]);
            return Some(());
        };
        if let Operand::Const(Const::Int(k, _)) = value[0] {
            return self.store_variant(addr, ty, tag, k as usize, &value, span);
        }
        let variants = enum_variants(self.items, ty)?;
        let keys = self.keys();
        let join = self.new_join(&keys, &[]);
        // (Typed as the operand is: a reference, or the new box of
        // `Box::new`.)
        let addr_ty = match self.g.operand_ty(&addr) {
            t @ (Ty::Ref { .. } | Ty::Box(_)) => t,
            _ => Ty::reference(true, ty.clone()),
        };
        let addr_local = self.new_hidden_local("store_addr", addr_ty, vec![addr]);
        let value_local = self.new_hidden_local("store_value", ty.clone(), value.clone());
        let inner_keys = self.keys();
        let arms: Vec<_> = variants
            .iter()
            .map(|_| self.new_join(&inner_keys, &[]))
            .collect();
        for (i, b) in arms.iter().enumerate() {
            let case = if i + 1 == arms.len() {
                LinkCase::Default
            } else {
                LinkCase::Value(i as i64)
            };
            self.link(*b, case, &inner_keys, vec![]);
        }
        self.finish_block(Exit::Switch {
            value: value[0].clone(),
        });
        for (i, arm) in arms.into_iter().enumerate() {
            self.enter(arm, &inner_keys);
            let addr = self.env[&addr_local][0].clone();
            let v = self.env[&value_local].clone();
            self.store_variant(addr, ty, tag, i, &v, span)?;
            self.goto(join, &keys, vec![]);
        }
        self.enter(join, &keys);
        Some(())
    }

    /// The tag and the fields of variant `variant` of `value`, at `addr`.
    fn store_variant(
        &mut self,
        addr: Operand,
        ty: &Ty,
        tag: TagRepr,
        variant: usize,
        value: &[Operand],
        span: proc_macro2::Span,
    ) -> Option<()> {
        let variants = enum_variants(self.items, ty)?;
        let (_, fields) = variants.get(variant)?;
        let k = Operand::Const(Const::Int(tag.int.wrap(variant as i128), tag.int));
        self.emit0(Op::SetField(FieldRef::tag(ty)), vec![addr.clone(), k]);
        for (j, fty) in fields.iter().enumerate() {
            let off = self.variant_leaf_offset(ty, variant, j);
            let n = self.leaf_types(fty).len();
            let lv = Lval::Field {
                base: addr.clone(),
                field: FieldRef {
                    owner: ty.clone(),
                    variant: Some(variant as u32),
                    index: j as u32,
                },
                ty: fty.clone(),
            };
            self.store(&lv, value[off..off + n].to_vec(), span)?;
        }
        Some(())
    }
}

/// Field `index` of a struct or tuple type.
/// A `Cell<T>` field is read and written as its `T`, through the same
/// field (`FieldRef::ty` sees through the cell): one `getfield`/`setfield`
/// the optimizer knows, never with an immutable descr (`FieldRef::is_cell`).
pub(super) fn uncell(lv: &Lval) -> Lval {
    match lv {
        Lval::Field {
            base,
            field,
            ty: Ty::Cell(t),
        } => Lval::Field {
            base: base.clone(),
            field: field.clone(),
            ty: (**t).clone(),
        },
        other => other.clone(),
    }
}

fn field_ref(owner: &Ty, index: usize) -> FieldRef {
    FieldRef {
        owner: owner.clone(),
        variant: None,
        index: index as u32,
    }
}

/// How a field, or an item of a Vec or slice, is reached: the operations
/// that take its address, read it and write it, and the operands they take
/// first.
fn access(lv: &Lval) -> Option<([Op; 3], Vec<Operand>)> {
    Some(match lv {
        Lval::Field { base, field: f, .. } => (
            [Op::FieldAddr, Op::GetField, Op::SetField].map(|o| o(f.clone())),
            vec![base.clone()],
        ),
        Lval::VecElem { vec, idx, ty } => (
            [Op::VecItemAddr, Op::VecGetItem, Op::VecSetItem].map(|o| o(ty.clone())),
            vec![vec.clone(), idx.clone()],
        ),
        Lval::SliceElem { ptr, idx, ty } => (
            [Op::SliceItemAddr, Op::SliceGetItem, Op::SliceSetItem].map(|o| o(ty.clone())),
            vec![ptr.clone(), idx.clone()],
        ),
        _ => return None,
    })
}

/// The `T` of an `Option<T>`.
fn payload_ty(ty: &Ty) -> Ty {
    match ty {
        Ty::Option(inner) => (**inner).clone(),
        _ => unreachable!("an Option"),
    }
}
