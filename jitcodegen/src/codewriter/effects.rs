//! Effect summaries of residual calls: what a `#[dont_look_inside]`
//! function may write, in terms of the crate's descrs, so that the
//! optimizer's heap cache keeps what a call cannot change
//! (`CallDescr::effects`; `docs/optimizer.md`, "Effects of residual
//! calls").
//!
//! The body of a residual function stays native and unseen, so the
//! summary comes from its signature, by a rule safe Rust guarantees: a
//! function can write only memory it reaches through a `&mut` (a `&mut`
//! parameter, or one inside a parameter passed by value), and through
//! shared references only what sits in an `UnsafeCell` (`Cell`,
//! `RefCell`, atomics, ...). Everything mutably reachable from the
//! parameters' types may be written — the fields of the structs behind
//! them, the items and headers of their Vecs, and so on through struct
//! fields, tuples, enum payloads, `Option`, `Vec`, `Box` and arrays,
//! transitively; behind a shared reference, nothing. A type the front
//! end does not understand (`Ty::Opaque`: `Cell<T>`, raw pointers,
//! `HashMap`, ... held in a field) may hide interior mutability or a
//! `&mut`, so reaching one, mutably or not, makes the summary
//! "everything"; so does a parameter type the analysis has no rule for.
//! (Memory reached otherwise — statics, thread-locals — is never read by
//! traced code except through such opaque types, which it cannot touch.)
//!
//! Written memory is named by type, then turned into descrs:
//!
//! - a scalar in a field (`Io.eof`): every descr of that field (the
//!   mutable one and its immutable twin: the optimizer matches descrs
//!   exactly);
//! - a scalar reached directly by a `&mut` (`&mut u8`), which may sit in
//!   any field or item of its type: every field and array descr of that
//!   type, and raw memory;
//! - the items of a `Vec<T>`, `[T]` or `[T; N]`: every array descr of item
//!   type `T` (Vec and slice data alike: a slice may view a Vec's data);
//! - a `Vec<T>` itself (it may be resized or reallocated): every Vec descr
//!   of `T`;
//! - enum tags (the whole enum may be assigned), `String`s, `str`, the
//!   pointer in a `Box` and fat pointers stored in memory: "other".
//!
//! Vecs of one item type share their descrs, so a call that pushes to
//! `io.out: Vec<u8>` would also throw away the cached length and items of
//! `tape.cells: Vec<u8>`. Where a written Vec or array lives is known
//! from the type walk too: a `Vec<T>` reached as a field `F` is the Vec in
//! field `F`, which is no other field's Vec, and one reached inside a
//! `Box` or as an item lives in no field at all; only a container reached
//! directly by a `&mut Vec<T>` / `&mut [T]` (or an item type reached by
//! `&mut T`) may be anywhere. When no container of item type `T` may be
//! anywhere, every field of type `Vec<T>` or `[T; N]` that is not written
//! is listed in `kept_fields`: the heap cache keeps the header and items
//! of the Vec it finds at `fieldaddr<F>(x)` for those.

use super::{Assembly, CallEffectsData, Container};
use crate::flowgraph::FieldRef;
use crate::types::{AdtDef, AdtId, Ty, TypeTable};
use std::collections::HashSet;

/// The summary of a call taking parameters of types `params`.
pub(crate) fn call_effects(asm: &Assembly, params: &[Ty]) -> CallEffectsData {
    let mut w = Walk::new(&asm.types);
    for p in params {
        w.value(p);
        if w.everything {
            return CallEffectsData::everything();
        }
    }
    w.descrs(asm)
}

/// `ty` with every reference shared: rustc has checked borrows, and the
/// front end may see one place under both mutabilities.
fn norm(ty: &Ty) -> Ty {
    match ty {
        Ty::Ref { to, .. } => Ty::reference(false, norm(to)),
        Ty::Tuple(items) => Ty::Tuple(items.iter().map(norm).collect()),
        Ty::Array(t, n) => Ty::Array(Box::new(norm(t)), *n),
        Ty::Slice(t) => Ty::Slice(Box::new(norm(t))),
        Ty::Vec(t) => Ty::Vec(Box::new(norm(t))),
        Ty::Box(t) => Ty::Box(Box::new(norm(t))),
        Ty::Gc(t) => Ty::Gc(Box::new(norm(t))),
        Ty::Cell(t) => Ty::Cell(Box::new(norm(t))),
        Ty::GcCell(t) => Ty::GcCell(Box::new(norm(t))),
        Ty::QuasiImmut(t) => Ty::QuasiImmut(Box::new(norm(t))),
        Ty::Option(t) => Ty::Option(Box::new(norm(t))),
        Ty::Result(a, b) => Ty::Result(Box::new(norm(a)), Box::new(norm(b))),
        other => other.clone(),
    }
}

fn norm_field(f: &FieldRef) -> FieldRef {
    FieldRef {
        owner: norm(&f.owner),
        variant: f.variant,
        index: f.index,
    }
}

/// Where a place of the walk lives.
#[derive(Clone, Debug)]
enum Pos {
    /// Behind a reference: it may be any field, item or element of its
    /// type anywhere.
    Anywhere,
    /// In this field (of any object).
    Field(FieldRef),
    /// An item of a Vec or array, or behind a `Box`: in no field.
    Unfielded,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Mode {
    /// The callee may write the place.
    Mut,
    /// The callee may only read it (it was reached through `&`).
    Shared,
}

struct Walk<'a> {
    types: &'a TypeTable,
    everything: bool,
    /// Raw memory, enum tags, strings, box and fat pointers.
    other: bool,
    /// Scalar fields written (normalized).
    fields: HashSet<FieldRef>,
    /// Scalars written wherever they are (normalized types).
    scalars: HashSet<Ty>,
    /// Item types whose items may be written.
    items: HashSet<Ty>,
    /// Item types of Vecs that may be resized.
    vecs: HashSet<Ty>,
    /// Item types of which a written container (or item) may be anywhere,
    /// including in any field: no field of those is kept.
    anywhere: HashSet<Ty>,
    /// Fields holding a written Vec or array.
    containers: HashSet<FieldRef>,
    seen: HashSet<(AdtId, Mode)>,
}

impl<'a> Walk<'a> {
    fn new(types: &'a TypeTable) -> Walk<'a> {
        Walk {
            types,
            everything: false,
            other: false,
            fields: HashSet::new(),
            scalars: HashSet::new(),
            items: HashSet::new(),
            vecs: HashSet::new(),
            anywhere: HashSet::new(),
            containers: HashSet::new(),
            seen: HashSet::new(),
        }
    }

    /// The definition of `id`; a type the table does not have gets no
    /// rule: the summary is "everything".
    fn adt(&mut self, id: AdtId) -> Option<&'a AdtDef> {
        let adt = self.types.adts.get(id.0 as usize);
        self.everything |= adt.is_none();
        adt
    }

    /// A parameter of type `ty`, passed by value: the callee's own copy,
    /// whose references lead to the caller's memory.
    fn value(&mut self, ty: &Ty) {
        match ty {
            Ty::Unit | Ty::Never | Ty::Bool | Ty::Char | Ty::Int(_) | Ty::F64 => {}
            Ty::Ref { mutable, to } => {
                let mode = if *mutable { Mode::Mut } else { Mode::Shared };
                self.place(to, Pos::Anywhere, mode);
            }
            Ty::Tuple(items) => items.iter().for_each(|t| self.value(t)),
            // The object is immutable but for its cells.
            Ty::Gc(to) => self.place(to, Pos::Anywhere, Mode::Shared),
            Ty::Cell(t) => self.value(t),
            Ty::GcCell(t) | Ty::QuasiImmut(t) => self.value(t),
            Ty::Option(t) => self.value(t),
            Ty::Result(a, b) => {
                self.value(a);
                self.value(b);
            }
            Ty::Adt(id) => {
                let Some(adt) = self.adt(*id) else { return };
                if adt.owns_heap && self.types.flatten(ty).is_none() {
                    // Not passable from traced code: no rule for it.
                    self.everything = true;
                    return;
                }
                for (_, _, f) in adt.all_fields() {
                    self.value(&f.ty);
                }
            }
            // A box passed by value (moved to the callee, which may write
            // what is in it and free it): what is in it, as through a
            // `&mut T` (traced code reads it by address).
            Ty::Box(t) if !t.is_unsized() => self.place(t, Pos::Anywhere, Mode::Mut),
            // A Vec value (moved to the callee, which may change it and
            // what its items point to): in no field, as a Vec in a box.
            Ty::Vec(_) => self.place(ty, Pos::Unfielded, Mode::Mut),
            // Other heap owners, unsized and opaque values are never
            // passed by value from traced code.
            Ty::Array(..) | Ty::Slice(_) | Ty::Str | Ty::Box(_) | Ty::String | Ty::Opaque(_) => {
                self.everything = true
            }
        }
    }

    /// A place of type `ty` at `pos`, which the callee may write (`Mut`)
    /// or only read (`Shared`).
    fn place(&mut self, ty: &Ty, pos: Pos, mode: Mode) {
        if self.everything {
            return;
        }
        if mode == Mode::Shared {
            return self.shared(ty);
        }
        match ty {
            Ty::Unit | Ty::Never => {}
            Ty::Bool | Ty::Char | Ty::Int(_) | Ty::F64 => self.scalar(ty, &pos),
            Ty::Ref { mutable, to } => {
                // The pointer itself may be replaced...
                if to.is_unsized() {
                    self.other = true;
                } else {
                    self.scalar(ty, &pos);
                }
                // ...and what it points to written, through `&mut`.
                let mode = if *mutable { Mode::Mut } else { Mode::Shared };
                self.place(to, Pos::Anywhere, mode);
            }
            Ty::Tuple(items) => {
                for (i, t) in items.iter().enumerate() {
                    let f = FieldRef {
                        owner: ty.clone(),
                        variant: None,
                        index: i as u32,
                    };
                    self.place(t, Pos::Field(f), Mode::Mut);
                }
            }
            Ty::Adt(id) => {
                let Some(adt) = self.adt(*id) else { return };
                if !self.seen.insert((*id, Mode::Mut)) {
                    return;
                }
                if adt.is_enum() {
                    self.other = true; // the tag
                    if adt.tag.is_some() {
                        // ... a field of its own with a primitive repr.
                        self.fields.insert(norm_field(&FieldRef::tag(ty)));
                    }
                }
                for (variant, index, f) in adt.all_fields() {
                    let r = FieldRef {
                        owner: ty.clone(),
                        variant,
                        index,
                    };
                    self.place(&f.ty, Pos::Field(r), Mode::Mut);
                }
            }
            Ty::Option(t) => {
                self.other = true; // the tag
                let r = FieldRef {
                    owner: ty.clone(),
                    variant: Some(1),
                    index: 0,
                };
                self.place(t, Pos::Field(r), Mode::Mut);
            }
            Ty::Result(a, b) => {
                self.other = true; // the tag
                for (v, t) in [a, b].into_iter().enumerate() {
                    let r = FieldRef {
                        owner: ty.clone(),
                        variant: Some(v as u32),
                        index: 0,
                    };
                    self.place(t, Pos::Field(r), Mode::Mut);
                }
            }
            Ty::Array(t, _) | Ty::Slice(t) => {
                self.container(t, &pos, false);
                self.place(t, Pos::Unfielded, Mode::Mut);
            }
            Ty::Vec(t) => {
                self.container(t, &pos, true);
                self.place(t, Pos::Unfielded, Mode::Mut);
            }
            Ty::Box(t) => {
                self.other = true; // the box's pointer
                self.place(t, Pos::Unfielded, Mode::Mut);
            }
            Ty::Gc(to) => {
                self.scalar(ty, &pos);
                self.place(to, Pos::Anywhere, Mode::Shared);
            }
            // `repr(transparent)`: the value is the cell. Traced code may
            // also read a cell's value by a raw `load` (through a
            // `&Cell<T>`, or what `GcCell::borrow` gives): `other`.
            Ty::Cell(t) => {
                self.other = true;
                self.place(t, pos, Mode::Mut)
            }
            Ty::GcCell(_) | Ty::QuasiImmut(_) => {
                self.other = true;
                let parts = match ty {
                    Ty::GcCell(t) => {
                        vec![Ty::Int(crate::types::IntTy::Isize), Ty::Bool, (**t).clone()]
                    }
                    Ty::QuasiImmut(t) => vec![Ty::usize(), (**t).clone()],
                    _ => unreachable!(),
                };
                for (index, f) in parts.iter().enumerate() {
                    let r = FieldRef {
                        owner: ty.clone(),
                        variant: None,
                        index: index as u32,
                    };
                    self.place(f, Pos::Field(r), Mode::Mut);
                }
            }
            Ty::Str | Ty::String => self.other = true,
            Ty::Opaque(_) => self.everything = true,
        }
    }

    /// A written scalar place of type `ty` at `pos`.
    fn scalar(&mut self, ty: &Ty, pos: &Pos) {
        match pos {
            Pos::Field(f) => {
                self.fields.insert(norm_field(f));
            }
            Pos::Anywhere => {
                let t = norm(ty);
                self.scalars.insert(t.clone());
                // It may be an item of any array of its type...
                self.items.insert(t.clone());
                self.anywhere.insert(t);
                // ...or be read by a raw `load`.
                self.other = true;
            }
            // An item (its array's items are listed) or a boxed value
            // (the box set `other`: it is read by a raw `load`).
            Pos::Unfielded => {}
        }
    }

    /// A written Vec (`vec`) or array of `item`s at `pos`.
    fn container(&mut self, item: &Ty, pos: &Pos, vec: bool) {
        let t = norm(item);
        self.items.insert(t.clone());
        if vec {
            self.vecs.insert(t.clone());
        }
        match pos {
            Pos::Anywhere => {
                self.anywhere.insert(t);
            }
            Pos::Field(f) => {
                self.containers.insert(norm_field(f));
            }
            Pos::Unfielded => {}
        }
    }

    /// A place of type `ty` the callee may only read: only interior
    /// mutability matters.
    fn shared(&mut self, ty: &Ty) {
        match ty {
            Ty::Unit
            | Ty::Never
            | Ty::Bool
            | Ty::Char
            | Ty::Int(_)
            | Ty::F64
            | Ty::Str
            | Ty::String => {}
            // A `&mut` behind a `&` is frozen too.
            Ty::Ref { to, .. } | Ty::Gc(to) => self.shared(to),
            // Interior mutability: written wherever it is.
            Ty::Cell(_) | Ty::GcCell(_) | Ty::QuasiImmut(_) => {
                self.place(ty, Pos::Anywhere, Mode::Mut)
            }
            Ty::Tuple(items) => items.iter().for_each(|t| self.shared(t)),
            Ty::Array(t, _) | Ty::Slice(t) | Ty::Vec(t) | Ty::Box(t) | Ty::Option(t) => {
                self.shared(t)
            }
            Ty::Result(a, b) => {
                self.shared(a);
                self.shared(b);
            }
            Ty::Adt(id) => {
                let Some(adt) = self.adt(*id) else { return };
                if !self.seen.insert((*id, Mode::Shared)) {
                    return;
                }
                for (variant, index, f) in adt.all_fields() {
                    match f.ty {
                        // A cell field is written where it is.
                        Ty::Cell(_) | Ty::GcCell(_) | Ty::QuasiImmut(_) => {
                            let r = FieldRef {
                                owner: ty.clone(),
                                variant,
                                index,
                            };
                            self.place(&f.ty, Pos::Field(r), Mode::Mut);
                        }
                        _ => self.shared(&f.ty),
                    }
                }
            }
            // `RefCell`, atomics, raw pointers, or anything else
            // the front end cannot see into.
            Ty::Opaque(_) => self.everything = true,
        }
    }

    /// The summary in descrs.
    fn descrs(&self, asm: &Assembly) -> CallEffectsData {
        if self.everything {
            return CallEffectsData::everything();
        }
        let mut out = CallEffectsData {
            other: self.other,
            ..CallEffectsData::default()
        };
        for (i, f) in asm.fields.iter().enumerate() {
            if super::mem_scalar(&f.ty).is_none() {
                continue;
            }
            if self.fields.contains(&norm_field(&f.field)) || self.scalars.contains(&norm(&f.ty)) {
                out.fields.push(i as u16);
            }
        }
        for (i, a) in asm.arrays.iter().enumerate() {
            let t = norm(&a.item);
            if self.items.contains(&t) || self.vecs.contains(&t) {
                out.items.push(i as u16);
            }
            if a.container == Container::Vec && self.vecs.contains(&t) {
                out.vecs.push(i as u16);
            }
        }
        for (i, f) in asm.fields.iter().enumerate() {
            let item = match norm(&f.ty) {
                Ty::Vec(t) | Ty::Array(t, _) => *t,
                _ => continue,
            };
            let listed = self.items.contains(&item) || self.vecs.contains(&item);
            if listed
                && !self.anywhere.contains(&item)
                && !self.containers.contains(&norm_field(&f.field))
            {
                out.kept_fields.push(i as u16);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ArrayRequest, CallRequest, FieldRequest};
    use super::*;
    use crate::types::{AdtKind, FieldDef, IntTy, VariantDef};

    const TAPE: Ty = Ty::Adt(AdtId(0));
    const IO: Ty = Ty::Adt(AdtId(1));
    const NODE: Ty = Ty::Adt(AdtId(2));
    const CTX: Ty = Ty::Adt(AdtId(3));
    const BOXED: Ty = Ty::Adt(AdtId(4));
    const GRID: Ty = Ty::Adt(AdtId(5));
    const STATS: Ty = Ty::Adt(AdtId(6));
    const OP: Ty = Ty::Adt(AdtId(7));

    fn u8t() -> Ty {
        Ty::Int(IntTy::U8)
    }

    fn vec(t: Ty) -> Ty {
        Ty::Vec(Box::new(t))
    }

    fn r#mut(t: Ty) -> Ty {
        Ty::reference(true, t)
    }

    fn shared(t: Ty) -> Ty {
        Ty::reference(false, t)
    }

    /// `Tape { cells: Vec<u8>, pos: usize }`, `Io { out: Vec<u8>, eof: bool }`,
    /// `Node { val: i64, next: Option<Box<Node>>, kids: Vec<Node> }`,
    /// `Ctx<'a> { tape: &'a mut Tape, n: u64 }`, `Boxed { inner: Box<Vec<u8>> }`,
    /// `Grid { rows: Vec<Vec<u8>> }`, `Stats { hits: Cell<u64> }`,
    /// `enum Op { Add(u8), Jump { to: usize } }`.
    fn types() -> TypeTable {
        let f = |name: &str, ty: Ty| FieldDef {
            name: name.into(),
            ty,
            virtualizable: false,
        };
        let st = |name: &str, fields: Vec<FieldDef>, owns_heap| AdtDef {
            name: name.into(),
            path: format!("interp::{name}"),
            kind: AdtKind::Struct {
                fields,
                named: true,
            },
            owns_heap,
            is_copy: false,
            tag: None,
        };
        let op = AdtDef {
            name: "Op".into(),
            path: "interp::Op".into(),
            kind: AdtKind::Enum {
                variants: vec![
                    VariantDef {
                        name: "Add".into(),
                        fields: vec![f("0", u8t())],
                        named: false,
                    },
                    VariantDef {
                        name: "Jump".into(),
                        fields: vec![f("to", Ty::usize())],
                        named: true,
                    },
                ],
            },
            owns_heap: false,
            is_copy: true,
            tag: None,
        };
        TypeTable {
            adts: vec![
                st(
                    "Tape",
                    vec![f("cells", vec(u8t())), f("pos", Ty::usize())],
                    true,
                ),
                st("Io", vec![f("out", vec(u8t())), f("eof", Ty::Bool)], true),
                st(
                    "Node",
                    vec![
                        f("val", Ty::Int(IntTy::I64)),
                        f("next", Ty::Option(Box::new(Ty::Box(Box::new(NODE))))),
                        f("kids", vec(NODE)),
                    ],
                    true,
                ),
                st(
                    "Ctx",
                    vec![f("tape", r#mut(TAPE)), f("n", Ty::Int(IntTy::U64))],
                    false,
                ),
                st(
                    "Boxed",
                    vec![f("inner", Ty::Box(Box::new(vec(u8t()))))],
                    true,
                ),
                st("Grid", vec![f("rows", vec(vec(u8t())))], true),
                st(
                    "Stats",
                    vec![f("hits", Ty::Opaque("Cell<u64>".into()))],
                    true,
                ),
                op,
            ],
        }
    }

    fn assembly() -> Assembly {
        let field = |owner: Ty, variant, index, ty, immutable| FieldRequest {
            field: FieldRef {
                owner,
                variant,
                index,
            },
            ty,
            immutable,
            virtualizable: false,
        };
        let array = |container, item, immutable| ArrayRequest {
            container,
            item,
            immutable,
            virtualizable: false,
        };
        Assembly {
            fields: vec![
                field(TAPE, None, 0, vec(u8t()), false),
                field(TAPE, None, 1, Ty::usize(), false),
                field(TAPE, None, 1, Ty::usize(), true),
                field(IO, None, 0, vec(u8t()), false),
                field(IO, None, 1, Ty::Bool, false),
                field(NODE, None, 0, Ty::Int(IntTy::I64), false),
                field(NODE, None, 2, vec(NODE), false),
                field(CTX, None, 1, Ty::Int(IntTy::U64), false),
                field(OP, Some(1), 0, Ty::usize(), false),
            ],
            arrays: vec![
                array(Container::Vec, u8t(), false),
                array(Container::Slice, u8t(), false),
                array(Container::Vec, u8t(), true),
                array(Container::Vec, NODE, false),
                array(Container::Vec, Ty::Int(IntTy::I64), false),
            ],
            types: types(),
            ..Assembly::default()
        }
    }

    /// The printed summary of a call taking `params`.
    fn summary(params: Vec<Ty>) -> String {
        let mut asm = assembly();
        let effects = call_effects(&asm, &params);
        asm.calls.push(CallRequest {
            path: "f".into(),
            helper: None,
            params,
            ret: Ty::Unit,
            effects,
        });
        asm.print_call_effects(0)
    }

    #[test]
    fn a_mut_struct_reaches_its_fields_and_vecs_only() {
        assert_eq!(
            summary(vec![r#mut(TAPE), u8t()]),
            "f(&mut Tape, u8):\n  fields Tape.pos, Tape.pos (imm)\n  items Vec<u8>, [u8], Vec<u8> (imm)\n  vecs Vec<u8>, Vec<u8> (imm)\n  kept Io.out\n"
        );
        assert_eq!(
            summary(vec![r#mut(IO)]),
            "f(&mut Io):\n  fields Io.eof\n  items Vec<u8>, [u8], Vec<u8> (imm)\n  vecs Vec<u8>, Vec<u8> (imm)\n  kept Tape.cells\n"
        );
    }

    #[test]
    fn shared_references_and_values_write_nothing() {
        assert_eq!(
            summary(vec![shared(TAPE), Ty::usize(), OP]),
            "f(&Tape, usize, Op): nothing\n"
        );
        // A `&mut` behind a `&` is frozen: only the `&Tape` may be replaced.
        assert_eq!(summary(vec![shared(CTX)]), "f(&Ctx): nothing\n");
        assert_eq!(
            summary(vec![r#mut(shared(TAPE))]),
            "f(&mut &Tape):\n  other\n"
        );
    }

    #[test]
    fn a_mut_inside_a_value_is_followed() {
        assert_eq!(
            summary(vec![CTX]),
            "f(Ctx):\n  fields Tape.pos, Tape.pos (imm)\n  items Vec<u8>, [u8], Vec<u8> (imm)\n  vecs Vec<u8>, Vec<u8> (imm)\n  kept Io.out\n"
        );
        assert_eq!(
            summary(vec![Ty::Option(Box::new(r#mut(IO)))]),
            "f(Option<&mut Io>):\n  fields Io.eof\n  items Vec<u8>, [u8], Vec<u8> (imm)\n  vecs Vec<u8>, Vec<u8> (imm)\n  kept Tape.cells\n"
        );
    }

    #[test]
    fn interior_mutability_and_opaque_types_are_everything() {
        assert_eq!(summary(vec![shared(STATS)]), "f(&Stats): everything\n");
        assert_eq!(
            summary(vec![shared(vec(STATS))]),
            "f(&Vec<Stats>): everything\n"
        );
        assert_eq!(summary(vec![r#mut(STATS)]), "f(&mut Stats): everything\n");
        // No rule for a type the table does not have.
        assert_eq!(
            summary(vec![r#mut(Ty::Adt(AdtId(99)))]),
            "f(&mut adt#99): everything\n"
        );
    }

    #[test]
    fn containers_anywhere_keep_no_field() {
        // A bare `&mut Vec<u8>` may be the Vec in any field.
        assert_eq!(
            summary(vec![r#mut(vec(u8t()))]),
            "f(&mut Vec<u8>):\n  items Vec<u8>, [u8], Vec<u8> (imm)\n  vecs Vec<u8>, Vec<u8> (imm)\n"
        );
        // A slice's items may be any Vec's or array's.
        assert_eq!(
            summary(vec![Ty::reference(true, Ty::Slice(Box::new(u8t())))]),
            "f(&mut [u8]):\n  items Vec<u8>, [u8], Vec<u8> (imm)\n"
        );
        // A bare `&mut usize` may be any usize field or item.
        assert_eq!(
            summary(vec![r#mut(Ty::usize())]),
            "f(&mut usize):\n  fields Tape.pos, Tape.pos (imm), Op::Jump.to\n  other\n"
        );
    }

    #[test]
    fn containers_in_no_field_keep_the_fields() {
        // The Vec in a Box, and the Vecs in a Vec, are in no field.
        assert_eq!(
            summary(vec![r#mut(BOXED)]),
            "f(&mut Boxed):\n  items Vec<u8>, [u8], Vec<u8> (imm)\n  vecs Vec<u8>, Vec<u8> (imm)\n  kept Tape.cells, Io.out\n  other\n"
        );
        assert_eq!(
            summary(vec![r#mut(GRID)]),
            "f(&mut Grid):\n  items Vec<u8>, [u8], Vec<u8> (imm)\n  vecs Vec<u8>, Vec<u8> (imm)\n  kept Tape.cells, Io.out\n"
        );
    }

    #[test]
    fn recursive_types_and_enums() {
        // Node's fields, its Vec<Node> and the boxes (other), once.
        assert_eq!(
            summary(vec![r#mut(NODE)]),
            "f(&mut Node):\n  fields Node.val\n  items Vec<Node>\n  vecs Vec<Node>\n  other\n"
        );
        // An enum: its tag (other) and every variant's fields.
        assert_eq!(
            summary(vec![r#mut(OP)]),
            "f(&mut Op):\n  fields Op::Jump.to\n  other\n"
        );
    }
}
