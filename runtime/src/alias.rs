//! The alias facts about memory that both the tracer's heap cache
//! (`metainterp/heapcache.rs`) and the optimizer's heap pass
//! (`optimizer/heap.rs`) reason with: the locations a trace reads and
//! writes ([`Loc`]), which of them a write or a residual call may change
//! ([`scalars_may_alias`], [`CallEffects`]), and whether a written value
//! reads back unchanged ([`reads_back`]). (RPython keeps these in
//! `heapcache.py` and `optimizeopt/heap.py` twice; here there is one
//! copy.)

use crate::executor as ops;
use crate::jitcode::{
    ArrayId, CallEffectsDescr, CallId, EnumId, FieldDescr, FieldId, FieldPlace, MemType, ScalarTy,
    Tables,
};
use crate::order::{offset_of, Order};
use crate::trace::{Opcode, TraceOp, Val};

/// A memory location the cache knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Loc {
    Field {
        base: Val,
        descr: FieldId,
    },
    Item {
        ptr: Val,
        idx: Val,
        descr: ArrayId,
    },
    Raw {
        addr: Val,
        ty: ScalarTy,
    },
    VecLen {
        vec: Val,
        descr: ArrayId,
    },
    VecPtr {
        vec: Val,
        descr: ArrayId,
    },
    /// A Vec's capacity: changed only by what reallocates (push, reserve,
    /// a call that resizes), never by `vec_set_len`.
    VecCap {
        vec: Val,
        descr: ArrayId,
    },
    Tag {
        addr: Val,
        descr: EnumId,
    },
    StrPtr(Val),
    StrLen(Val),
}

/// What a set of descrs a call may write: none, some, or all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Writes<D> {
    Nothing,
    /// Exactly these descrs (see [`CallEffects`]).
    Some(Vec<D>),
    Everything,
}

impl<D: Copy + PartialEq> Writes<D> {
    fn from_list(ds: &[u16], id: fn(u16) -> D) -> Writes<D> {
        if ds.is_empty() {
            Writes::Nothing
        } else {
            Writes::Some(ds.iter().map(|&d| id(d)).collect())
        }
    }

    fn has(&self, d: D) -> bool {
        match self {
            Writes::Nothing => false,
            Writes::Everything => true,
            Writes::Some(ds) => ds.contains(&d),
        }
    }

    fn any(&self, f: impl Fn(D) -> bool) -> bool {
        match self {
            Writes::Nothing => false,
            Writes::Everything => true,
            Writes::Some(ds) => ds.iter().any(|d| f(*d)),
        }
    }
}

/// What a residual call may change: the effect summary of a call descr
/// (`CallDescr::effects`, read by [`call_effects`]).
///
/// The lists are exact, not "descrs that alias these": the codewriter
/// lists every descr naming a location the callee may write (both
/// mutabilities of a field, every Vec and slice descr of an item type),
/// and it knows the types, which this pass does not. Matching by aliasing
/// instead (`fields_may_alias`, which compares offsets) would also throw
/// away every field of every other struct at the same offset, and every
/// field behind a shim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallEffects {
    /// Scalar fields written (field descrs).
    pub fields: Writes<FieldId>,
    /// Array items written (array descrs), except in `kept_fields`.
    pub items: Writes<ArrayId>,
    /// Vecs resized or reallocated (array descrs): their headers and
    /// items, except in `kept_fields`.
    pub vecs: Writes<ArrayId>,
    /// Fields whose Vec or array the call leaves alone (header and
    /// items), even if its descr is in `items` or `vecs`.
    pub kept_fields: Vec<FieldId>,
    /// Anything else: raw memory, enum tags, strings.
    pub other: bool,
}

impl CallEffects {
    pub fn everything() -> CallEffects {
        CallEffects {
            fields: Writes::Everything,
            items: Writes::Everything,
            vecs: Writes::Everything,
            kept_fields: Vec::new(),
            other: true,
        }
    }

    pub fn nothing() -> CallEffects {
        CallEffects {
            fields: Writes::Nothing,
            items: Writes::Nothing,
            vecs: Writes::Nothing,
            kept_fields: Vec::new(),
            other: false,
        }
    }

    /// The effects a call descr's static summary describes.
    pub fn from_descr(d: &CallEffectsDescr) -> CallEffects {
        if d.everything {
            return CallEffects::everything();
        }
        CallEffects {
            fields: Writes::from_list(d.fields, FieldId),
            items: Writes::from_list(d.items, ArrayId),
            vecs: Writes::from_list(d.vecs, ArrayId),
            kept_fields: d.kept_fields.iter().map(|&f| FieldId(f)).collect(),
            other: d.other,
        }
    }

    /// May the call change what the cache holds for `loc`? `def` gives
    /// the operation defining a value of the trace, which tells where a
    /// Vec or array lives (for `kept_fields`); `&|_| None` is always
    /// correct (it ignores `kept_fields`).
    pub fn may_change<'e>(
        &self,
        t: &Tables,
        loc: &Loc,
        def: &dyn Fn(Val) -> Option<&'e TraceOp>,
    ) -> bool {
        let kept = |f: Option<FieldId>| f.is_some_and(|f| self.kept_fields.contains(&f));
        match *loc {
            Loc::Field { descr, .. } => self.fields.has(descr),
            Loc::Item { ptr, descr, .. } => {
                (self.items.has(descr) || self.vecs.has(descr)) && !kept(data_holder(ptr, def))
            }
            Loc::VecLen { vec, descr }
            | Loc::VecPtr { vec, descr }
            | Loc::VecCap { vec, descr } => self.vecs.has(descr) && !kept(vec_holder(vec, def)),
            Loc::Raw { ty, .. } => {
                // A `load` may read a field or an item of its size.
                let size = Some(ty.size());
                self.other
                    || self.fields.any(|f| scalar_size(t.fields[f].ty) == size)
                    || self.items.any(|a| t.arrays[a].item_size == ty.size())
                    || self.vecs.any(|a| t.arrays[a].item_size == ty.size())
            }
            Loc::Tag { .. } | Loc::StrPtr(_) | Loc::StrLen(_) => self.other,
        }
    }
}

/// The field a Vec lives in: `vec = fieldaddr<f>(_)`. (Not through
/// `vec_ptr`: the Vec at `vec_ptr(fieldaddr<f>(_))`, the first item of a
/// Vec of Vecs, is not the one in field `f`.)
fn vec_holder<'e>(vec: Val, def: &dyn Fn(Val) -> Option<&'e TraceOp>) -> Option<FieldId> {
    match def(vec)?.opcode {
        Opcode::FieldAddr(f) => Some(f),
        _ => None,
    }
}

/// The field holding the Vec or array whose items start at `ptr`:
/// `ptr = vec_ptr(v)` with `v = fieldaddr<f>(_)`, or `ptr = fieldaddr<f>(_)`
/// (an array held in the field).
fn data_holder<'e>(ptr: Val, def: &dyn Fn(Val) -> Option<&'e TraceOp>) -> Option<FieldId> {
    let d = def(ptr)?;
    match d.opcode {
        Opcode::FieldAddr(f) => Some(f),
        Opcode::VecPtr(_) => vec_holder(*d.args.first()?, def),
        _ => None,
    }
}

/// The effects of residual call `descr`: its descr's summary.
pub fn call_effects(tables: &Tables, descr: CallId) -> CallEffects {
    match tables.calls.get(descr.index()) {
        Some(c) => CallEffects::from_descr(&c.effects),
        None => CallEffects::everything(),
    }
}

/// The location read by an operation with `opcode` and operands `args`,
/// if it reads memory (`def` gives the trace's definitions, for `load`s
/// through a field address).
pub fn read_loc<'e>(
    t: &Tables,
    opcode: &Opcode,
    args: &[Val],
    def: &dyn Fn(Val) -> Option<&'e TraceOp>,
) -> Option<Loc> {
    Some(match *opcode {
        Opcode::GetField(d) => Loc::Field {
            base: args[0],
            descr: d,
        },
        Opcode::Load(ty) => raw_loc(t, def(args[0]), args[0], ty),
        Opcode::GetItem(d) => Loc::Item {
            ptr: args[0],
            idx: args[1],
            descr: d,
        },
        Opcode::VecLen(d) => Loc::VecLen {
            vec: args[0],
            descr: d,
        },
        Opcode::VecPtr(d) => Loc::VecPtr {
            vec: args[0],
            descr: d,
        },
        Opcode::VecCap(d) => Loc::VecCap {
            vec: args[0],
            descr: d,
        },
        Opcode::EnumTag(d) => Loc::Tag {
            addr: args[0],
            descr: d,
        },
        Opcode::StringPtr => Loc::StrPtr(args[0]),
        Opcode::StringLen => Loc::StrLen(args[0]),
        _ => return None,
    })
}

/// The `itemaddr` `b` lies in, through `fieldaddr`s, if any.
pub fn item_under<'e>(mut b: Val, def: &dyn Fn(Val) -> Option<&'e TraceOp>) -> Option<&'e TraceOp> {
    loop {
        let op = def(b)?;
        match op.opcode {
            Opcode::FieldAddr(_) => b = op.args[0],
            Opcode::ItemAddr(_) => return Some(op),
            _ => return None,
        }
    }
}

/// Is `b` inside a Vec's buffer: through `fieldaddr`s, an `itemaddr` of
/// a `vec_ptr`?
pub fn in_vec_data<'e>(b: Val, def: &dyn Fn(Val) -> Option<&'e TraceOp>) -> bool {
    item_under(b, def)
        .and_then(|item| def(item.args[0]))
        .is_some_and(|p| matches!(p.opcode, Opcode::VecPtr(_)))
}

/// Is `b` a constant address inside a GC object?
pub fn in_gc_heap(b: Val) -> bool {
    matches!(b, Val::Ref(a) if crate::gc::in_gc_object(a))
}

/// Is one base inside a Vec's buffer and the other a constant address
/// inside a GC object? Then they are apart: a Vec's buffer comes from the
/// global allocator, never from the GC heap. (A Lox trace reads a
/// global's `Value` at a constant address in the heap; told apart, a
/// stack slot's store stays pending past it.)
fn vec_data_apart_from_gc_heap(b1: Val, f1: &BaseFacts, b2: Val, f2: &BaseFacts) -> bool {
    (f1.in_vec_data && in_gc_heap(b2)) || (f2.in_vec_data && in_gc_heap(b1))
}

/// What the alias analysis asks of a field's base, read from the chain
/// of operations defining it: computed once per base ([`BaseFacts::of`],
/// [`FactsMemo`]) instead of walking the chain again at every comparison
/// (on a long Lox trace, those walks were most of the heap pass).
#[derive(Clone, Copy, Debug)]
pub struct BaseFacts {
    /// `base = fieldaddr<f>(parent)`: `(parent, f)`.
    parent: Option<(Val, FieldId)>,
    /// `base` is an `itemaddr`.
    is_item: bool,
    /// Following the `fieldaddr`s out from `base`: the type of the last
    /// field (`FieldDescr::owner`); `Some(None)` when a field on the way
    /// has no owner, `None` when `base` is no field address.
    outer_owner: Option<Option<&'static MemType>>,
    /// That chain ends at an `itemaddr` of a `vec_ptr`: `base` lies in
    /// an item of a Vec's buffer ([`in_vec_data`]).
    in_vec_data: bool,
    /// The `itemaddr` of [`holder`]`(base)`: (array, data pointer, index).
    holder_item: Option<(ArrayId, Val, Val)>,
}

impl BaseFacts {
    pub fn of<'e>(t: &Tables, base: Val, def: &dyn Fn(Val) -> Option<&'e TraceOp>) -> BaseFacts {
        let first = def(base);
        let parent = first.and_then(|op| match op.opcode {
            Opcode::FieldAddr(f) => Some((op.args[0], f)),
            _ => None,
        });
        let is_item = first.is_some_and(|op| matches!(op.opcode, Opcode::ItemAddr(_)));
        let mut outer_owner = None;
        let mut end = first;
        while let Some(op) = end {
            let Opcode::FieldAddr(f) = op.opcode else {
                break;
            };
            let owner = t.fields[f].owner;
            outer_owner = Some(match outer_owner {
                Some(None) => None,
                _ => owner,
            });
            end = def(op.args[0]);
        }
        let in_vec_data = end.is_some_and(|op| {
            matches!(op.opcode, Opcode::ItemAddr(_))
                && def(op.args[0]).is_some_and(|p| matches!(p.opcode, Opcode::VecPtr(_)))
        });
        let holder_item = def(holder(base, def)).and_then(|op| match op.opcode {
            Opcode::ItemAddr(a) => Some((a, op.args[0], op.args[1])),
            _ => None,
        });
        BaseFacts {
            parent,
            is_item,
            outer_owner,
            in_vec_data,
            holder_item,
        }
    }

    /// The outermost object a field `descr` of this base lies in, as far
    /// as the trace shows: the type of the last field following the
    /// `fieldaddr`s out (`FieldDescr::owner`), and whether that object is
    /// an item of a Vec's buffer. `None` when a descr has no owner.
    fn container(&self, t: &Tables, descr: FieldId) -> Option<(&'static MemType, bool)> {
        let own = t.fields[descr].owner?;
        match self.outer_owner {
            None => Some((own, self.in_vec_data)),
            Some(outer) => Some((outer?, self.in_vec_data)),
        }
    }
}

/// [`BaseFacts`] of the bases a pass compares, each computed once. Valid
/// while the operations defining those values stay as they are (within
/// one run of a pass over a trace).
#[derive(Default)]
pub struct FactsMemo(rustc_hash::FxHashMap<Val, BaseFacts>);

impl FactsMemo {
    fn of<'e>(
        &mut self,
        t: &Tables,
        base: Val,
        def: &dyn Fn(Val) -> Option<&'e TraceOp>,
    ) -> BaseFacts {
        *self
            .0
            .entry(base)
            .or_insert_with(|| BaseFacts::of(t, base, def))
    }

    /// [`scalars_may_alias`], with the facts of field bases from here.
    pub fn scalars_may_alias<'e>(
        &mut self,
        t: &Tables,
        w: &Loc,
        r: &Loc,
        def: &dyn Fn(Val) -> Option<&'e TraceOp>,
        order: Option<&Order>,
    ) -> bool {
        may_alias_with(t, w, r, def, order, &mut |b| self.of(t, b, def))
    }
}

/// Is one field in an item of a Vec's buffer, of type `T`, and the other
/// in an object of a type `X` that no `T` holds by value
/// (`MemType::within`)? Then they are apart: the buffer holds nothing
/// but `T`s, so an `X` overlapping it would lie in one. (A Lox stack
/// slot's `Value` and the `Value` in an instance's field block.)
fn apart_by_container(
    t: &Tables,
    (d1, f1): (FieldId, &BaseFacts),
    (d2, f2): (FieldId, &BaseFacts),
) -> bool {
    let (Some((o1, item1)), Some((o2, item2))) = (f1.container(t, d1), f2.container(t, d2)) else {
        return false;
    };
    let outside =
        |item: &MemType, other: &MemType| item.id != other.id && !other.within.contains(&item.id);
    (item1 && outside(o1, o2)) || (item2 && outside(o2, o1))
}

/// The base address of a scalar location (a field's object, an item's
/// data pointer, a raw address).
pub fn scalar_base(loc: &Loc) -> Option<Val> {
    match *loc {
        Loc::Field { base, .. } => Some(base),
        Loc::Item { ptr, .. } => Some(ptr),
        Loc::Raw { addr, .. } => Some(addr),
        _ => None,
    }
}

/// May two values be the same address? (Different constants are not.)
pub fn may_equal(a: Val, b: Val) -> bool {
    a == b || !(a.is_const() && b.is_const())
}

fn scalar_size(t: Option<ScalarTy>) -> Option<usize> {
    t.map(|t| t.size())
}

/// May field `d1` of `b1` and field `d2` of `b2` share bytes?
///
/// Fields of two different types (`FieldDescr::owner`) only through an
/// enum or a null-pointer option: a field descr names a direct field of
/// its type, and in safe Rust (no unions) two objects share bytes only
/// when one holds the other by value, inside a field of its own, which a
/// struct's own scalar fields never overlap, with two exceptions
/// (`held_in`; they must not be told apart, or a delayed store to one
/// could be done after a later store to the other). An enum's variants
/// overlap: a field of one variant may lie over a field of a type another
/// variant holds. And a struct's field that is a null-pointer option
/// (`Option<Gc<T>>`) is a scalar, the pointer, which is also the option's
/// `Some` payload. This is
/// RPython's rule (a descr is a location), made safe for enums; it keeps
/// a Lox trace's stack slots, call frames and object fields apart though
/// they sit at the same offsets of their types.
pub fn fields_may_alias(t: &Tables, d1: FieldId, d2: FieldId, b1: Val, b2: Val) -> bool {
    if d1 == d2 {
        return may_equal(b1, b2);
    }
    let (f1, f2) = (&t.fields[d1], &t.fields[d2]);
    if let Some((o1, o2)) = owners(t, d1, d2) {
        if o1.id != o2.id {
            return held_in(f1, o1, f2, o2) || held_in(f2, o2, f1, o1);
        }
    }
    match (f1.place, f2.place) {
        (FieldPlace::Offset(o1), FieldPlace::Offset(o2)) => {
            let s1 = scalar_size(f1.ty).unwrap_or(1);
            let s2 = scalar_size(f2.ty).unwrap_or(1);
            if o1 + s1 <= o2 || o2 + s2 <= o1 {
                false
            } else if o1 == o2 && s1 == s2 {
                // The same field under two descrs (say, one immutable).
                may_equal(b1, b2)
            } else {
                true
            }
        }
        _ => true,
    }
}

/// May field `outer` of type `e` share bytes with field `inner` of type
/// `held`, which `e` may hold by value (`MemType::held_by`: in another
/// variant of an enum, or as a null-pointer option field of a struct)?
fn held_in(outer: &FieldDescr, e: &MemType, inner: &FieldDescr, held: &MemType) -> bool {
    let span = |f: &FieldDescr, shift: usize| match f.place {
        FieldPlace::Offset(o) => Some((shift + o, shift + o + scalar_size(f.ty).unwrap_or(1))),
        FieldPlace::Shim(_) => None,
    };
    held.held_by
        .iter()
        .filter(|(holder, _)| *holder == e.id)
        .any(
            |&(_, at)| match (span(outer, 0), at.and_then(|k| span(inner, k))) {
                (Some((s1, e1)), Some((s2, e2))) => !(e1 <= s2 || e2 <= s1),
                _ => true,
            },
        )
}

/// May field `d1` of some base and field `d2` of another share bytes?
/// When not, [`fields_may_alias`] is `false` whatever the bases.
pub fn field_descrs_may_alias(t: &Tables, d1: FieldId, d2: FieldId) -> bool {
    // Two bases that may be equal (neither is a constant).
    fields_may_alias(t, d1, d2, Val::Input(0), Val::Input(1))
}

/// May items of arrays `a1` and `a2` share bytes?
pub fn items_may_alias(t: &Tables, a1: ArrayId, a2: ArrayId) -> bool {
    let (x, y) = (&t.arrays[a1], &t.arrays[a2]);
    if x.virtualizable || y.virtualizable {
        // A virtualizable struct's array is reached only through it (its
        // descrs, one per mutability, share the name).
        return a1 == a2 || (x.virtualizable == y.virtualizable && x.name == y.name);
    }
    a1 == a2 || scalar_size(x.item) == scalar_size(y.item)
}

/// May Vec descrs `a1` and `a2` describe the same Vec? Only when they
/// are one Vec type (the same descr, or its twin reached through the
/// other kind of reference): in safe Rust a `Vec<Value>` is never a
/// `Vec<CallFrame>`, whatever their item sizes (their items may still
/// share memory through slices: [`items_may_alias`]).
pub fn vecs_may_alias(t: &Tables, a1: ArrayId, a2: ArrayId) -> bool {
    let (x, y) = (&t.arrays[a1], &t.arrays[a2]);
    a1 == a2
        || (x.name == y.name
            && x.item == y.item
            && x.item_size == y.item_size
            && x.vec.is_some() == y.vec.is_some())
}

/// The scalar size of a scalar location.
fn loc_size(t: &Tables, loc: &Loc) -> Option<usize> {
    match *loc {
        Loc::Field { descr, .. } => scalar_size(t.fields[descr].ty),
        Loc::Item { descr, .. } => scalar_size(t.arrays[descr].item),
        Loc::Raw { ty, .. } => Some(ty.size()),
        _ => None,
    }
}

/// Are the indices `i1` and `i2` surely different (by less than 2^32)?
/// They are when both are constants, or the same value plus different
/// constants (64-bit arithmetic: `x + 1` is never `x + 2`).
pub fn indices_differ<'e>(i1: Val, i2: Val, def: &dyn Fn(Val) -> Option<&'e TraceOp>) -> bool {
    let form = |v: Val| -> (Option<Val>, i64) {
        if let Some(c) = v.const_bits() {
            return (None, c as i64);
        }
        match def(v).and_then(|d| offset_of(&d.opcode, &d.args)) {
            Some((y, k, _)) if !y.is_const() => (Some(y), k),
            _ => (Some(v), 0),
        }
    };
    let ((y1, k1), (y2, k2)) = (form(i1), form(i2));
    y1 == y2 && k1 != k2 && k1.wrapping_sub(k2).unsigned_abs() < 1 << 32
}

/// Are items `i1` and `i2` of one data pointer surely different items?
/// When [`indices_differ`] says so, or when `order` (what the guards
/// proved about the trace's values as `u64`) puts one index below the
/// other: the item at `base + 2` and the one at the stack's length, which
/// a guard checked `base + 2` against. Unlike [`indices_differ`], whose
/// indices may be anything, this relies on both items being accessed,
/// which the trace does only after checking them against the array's
/// bounds: two different indices of items of one allocation (less than
/// 2^63 bytes) are different addresses.
pub fn items_differ<'e>(
    i1: Val,
    i2: Val,
    def: &dyn Fn(Val) -> Option<&'e TraceOp>,
    order: Option<&Order>,
) -> bool {
    indices_differ(i1, i2, def)
        || order.is_some_and(|o| {
            !o.is_empty() && (o.proves(i1, i2, true, 4, 32) || o.proves(i2, i1, true, 4, 32))
        })
}

/// The object `b` lies in: `b` itself, or, when `b` is the address of a
/// field (`fieldaddr`, at any depth), the object holding it. A field's
/// bytes lie within its holder's.
fn holder<'e>(mut b: Val, def: &dyn Fn(Val) -> Option<&'e TraceOp>) -> Val {
    // (A bound, not to walk a long chain at every comparison.)
    for _ in 0..8 {
        match def(b) {
            Some(d) if matches!(d.opcode, Opcode::FieldAddr(_)) => b = d.args[0],
            _ => break,
        }
    }
    b
}

/// Do `b1` and `b2` lie in two different items of one array
/// (`itemaddr` of the same data pointer, items of one size, indices that
/// differ; directly or through field addresses)? Then no field of one
/// overlaps a field of the other: the items of a `Vec<Value>` stack at
/// `len` and `len + 1`, and the `Obj`s those `Value`s hold.
fn distinct_items<'e>(
    t: &Tables,
    f1: &BaseFacts,
    f2: &BaseFacts,
    def: &dyn Fn(Val) -> Option<&'e TraceOp>,
    order: Option<&Order>,
) -> bool {
    let (Some((a1, p1, i1)), Some((a2, p2, i2))) = (f1.holder_item, f2.holder_item) else {
        return false;
    };
    let size = t.arrays[a1].item_size;
    p1 == p2 && size == t.arrays[a2].item_size && size < 1 << 31 && items_differ(i1, i2, def, order)
}

/// Are `b1` and `b2`, two objects of one type, a field of some object
/// and an item of some array? Then they are two objects: in safe Rust a
/// struct's field is never an array's item (an array held in a field has
/// its items at `itemaddr`s), and an object of a type never holds
/// another of that type. (A `Value` local in a Lox instance's slots and a
/// `Value` on the stack.)
fn field_and_item(f1: &BaseFacts, f2: &BaseFacts) -> bool {
    let kind = |f: &BaseFacts| {
        if f.parent.is_some() {
            Some(true)
        } else if f.is_item {
            Some(false)
        } else {
            None
        }
    };
    matches!((kind(f1), kind(f2)), (Some(x), Some(y)) if x != y)
}

/// The types of field descrs `d1` and `d2`, when both are known.
fn owners(t: &Tables, d1: FieldId, d2: FieldId) -> Option<(&'static MemType, &'static MemType)> {
    Some((t.fields[d1].owner?, t.fields[d2].owner?))
}

/// Do field descrs `d1` and `d2` belong to one type?
fn one_owner(t: &Tables, d1: FieldId, d2: FieldId) -> bool {
    d1 == d2 || owners(t, d1, d2).is_some_and(|(o1, o2)| o1.id == o2.id)
}

/// Are field `d1` of `b1` and field `d2` of `b2` disjoint bytes of one
/// object, one base being a field address in the other
/// (`b1 = fieldaddr<f>(b2)`)? The tag of a `Value` and the tag of the
/// `Obj` it holds at offset 8 are both at offset 0 of their bases, but
/// not at the same address.
fn apart_in_one_object(
    t: &Tables,
    (b1, d1, f1): (Val, FieldId, &BaseFacts),
    (b2, d2, f2): (Val, FieldId, &BaseFacts),
) -> bool {
    let inner_offset = |inner: &BaseFacts, outer: Val| -> Option<usize> {
        match inner.parent {
            Some((base, f)) if base == outer => match t.fields[f].place {
                FieldPlace::Offset(o) => Some(o),
                FieldPlace::Shim(_) => None,
            },
            _ => None,
        }
    };
    let span = |d: FieldId, shift: usize| -> Option<(usize, usize)> {
        let f = &t.fields[d];
        match f.place {
            FieldPlace::Offset(o) => Some((shift + o, shift + o + scalar_size(f.ty)?)),
            FieldPlace::Shim(_) => None,
        }
    };
    let (r1, r2) = if let Some(k) = inner_offset(f1, b2) {
        (span(d1, k), span(d2, 0))
    } else if let Some(k) = inner_offset(f2, b1) {
        (span(d1, 0), span(d2, k))
    } else {
        return false;
    };
    match (r1, r2) {
        (Some((s1, e1)), Some((s2, e2))) => e1 <= s2 || e2 <= s1,
        _ => false,
    }
}

/// The bytes of field `d` of `base` as (root, start, end): following
/// `fieldaddr`s of fields at known offsets out to a base that is none.
fn field_span<'e>(
    t: &Tables,
    mut base: Val,
    d: FieldId,
    def: &dyn Fn(Val) -> Option<&'e TraceOp>,
) -> Option<(Val, usize, usize)> {
    let f = &t.fields[d];
    let FieldPlace::Offset(mut start) = f.place else {
        return None;
    };
    let size = scalar_size(f.ty)?;
    while let Some(op) = def(base) {
        let Opcode::FieldAddr(outer) = op.opcode else {
            break;
        };
        let FieldPlace::Offset(o) = t.fields[outer].place else {
            return None;
        };
        start += o;
        base = op.args[0];
    }
    Some((base, start, start + size))
}

/// Does a write to `later` overwrite every byte of `earlier`? Fields of
/// one object, reached through `fieldaddr`s at known offsets: the
/// `Number` a Lox slot is given covers the tag of the `Obj` it held.
pub fn covers<'e>(
    t: &Tables,
    later: &Loc,
    earlier: &Loc,
    def: &dyn Fn(Val) -> Option<&'e TraceOp>,
) -> bool {
    let (
        &Loc::Field {
            base: b1,
            descr: d1,
        },
        &Loc::Field {
            base: b2,
            descr: d2,
        },
    ) = (later, earlier)
    else {
        return false;
    };
    match (field_span(t, b1, d1, def), field_span(t, b2, d2, def)) {
        (Some((r1, s1, e1)), Some((r2, s2, e2))) => r1 == r2 && s1 <= s2 && e2 <= e1,
        _ => false,
    }
}

/// Does writing `v` to `w` leave `r`, which holds `held`, holding it?
/// Yes when the write stores that very value and the two locations either
/// coincide exactly or do not overlap at all (one field descr on two
/// bases, one array descr's items): whichever they are, `r` holds `held`
/// afterwards, so a possible alias need not forget it. (Dynamic-language
/// VMs store the same tag over and over: a number into a slot that held
/// a number.)
pub fn rewrites_held_value(w: &Loc, v: Val, r: &Loc, held: Val) -> bool {
    v == held
        && match (*w, *r) {
            (Loc::Field { descr: d1, .. }, Loc::Field { descr: d2, .. }) => d1 == d2,
            (Loc::Item { descr: a1, .. }, Loc::Item { descr: a2, .. }) => a1 == a2,
            _ => false,
        }
}

/// May a write to scalar location `w` change scalar location `r`? `def`
/// gives the operations defining values (items at `x + 1` and `x + 2` of
/// one data pointer are different items), `order` what guards proved
/// about them, if known ([`items_differ`]).
pub fn scalars_may_alias<'e>(
    t: &Tables,
    w: &Loc,
    r: &Loc,
    def: &dyn Fn(Val) -> Option<&'e TraceOp>,
    order: Option<&Order>,
) -> bool {
    may_alias_with(t, w, r, def, order, &mut |b| BaseFacts::of(t, b, def))
}

/// [`scalars_may_alias`], the facts of field bases from `facts`.
fn may_alias_with<'e>(
    t: &Tables,
    w: &Loc,
    r: &Loc,
    def: &dyn Fn(Val) -> Option<&'e TraceOp>,
    order: Option<&Order>,
    facts: &mut dyn FnMut(Val) -> BaseFacts,
) -> bool {
    match (*w, *r) {
        (
            Loc::Field {
                base: b1,
                descr: d1,
            },
            Loc::Field {
                base: b2,
                descr: d2,
            },
        ) => {
            fields_may_alias(t, d1, d2, b1, b2) && {
                let (f1, f2) = (facts(b1), facts(b2));
                known_fields_may_alias(t, (b1, d1, &f1), (b2, d2, &f2), def, order)
            }
        }
        (
            Loc::Item {
                ptr: p1,
                idx: i1,
                descr: a1,
            },
            Loc::Item {
                ptr: p2,
                idx: i2,
                descr: a2,
            },
        ) => {
            if !items_may_alias(t, a1, a2) {
                return false;
            }
            let size = t.arrays[a1].item_size;
            let same_size = size == t.arrays[a2].item_size;
            !(p1 == p2 && same_size && size < 1 << 31 && items_differ(i1, i2, def, order))
        }
        (Loc::Raw { addr: x, ty: t1 }, Loc::Raw { addr: y, ty: t2 }) => {
            match (x.const_bits(), y.const_bits()) {
                (Some(a), Some(b)) => {
                    let (a, b) = (a as u128, b as u128);
                    !(a + t1.size() as u128 <= b || b + t2.size() as u128 <= a)
                }
                _ => true,
            }
        }
        (Loc::Raw { .. }, _) | (_, Loc::Raw { .. }) => loc_size(t, w) == loc_size(t, r),
        // A scalar field is never an array item.
        _ => false,
    }
}

/// The rest of [`scalars_may_alias`] for two fields whose descrs and
/// bases [`fields_may_alias`] lets overlap: the bases' facts may tell
/// them apart.
fn known_fields_may_alias<'e>(
    t: &Tables,
    (b1, d1, f1): (Val, FieldId, &BaseFacts),
    (b2, d2, f2): (Val, FieldId, &BaseFacts),
    def: &dyn Fn(Val) -> Option<&'e TraceOp>,
    order: Option<&Order>,
) -> bool {
    !vec_data_apart_from_gc_heap(b1, f1, b2, f2)
        && !apart_by_container(t, (d1, f1), (d2, f2))
        && !distinct_items(t, f1, f2, def, order)
        && !apart_in_one_object(t, (b1, d1, f1), (b2, d2, f2))
        && !(one_owner(t, d1, d2) && field_and_item(f1, f2))
}

/// Is `loc` one of the scalar locations (fields, items, raw)?
pub fn is_scalar(loc: &Loc) -> bool {
    matches!(loc, Loc::Field { .. } | Loc::Item { .. } | Loc::Raw { .. })
}

/// Does `v`, written as a `ty` to memory, read back unchanged? Yes for
/// 64-bit types, for a constant that round-trips, and for a value
/// produced at that type (`def` gives the operation defining a value).
pub fn reads_back<'e>(
    t: &Tables,
    v: Val,
    ty: ScalarTy,
    def: &dyn Fn(Val) -> Option<&'e TraceOp>,
) -> bool {
    match ty {
        ScalarTy::F64 | ScalarTy::Ref => return true,
        ScalarTy::Int(it) if it.bits() == 64 => return true,
        _ => {}
    }
    if let Some(c) = v.const_bits() {
        let mut buf = 0u64;
        let addr = &mut buf as *mut u64 as usize;
        // Safety: an 8-byte local holds every scalar.
        let back = unsafe {
            ops::store(ty, addr, c);
            ops::load(ty, addr)
        };
        return back == c;
    }
    let Some(d) = def(v) else {
        return false;
    };
    match d.opcode {
        Opcode::IntBin(_, it) | Opcode::IntNeg(it) | Opcode::IntNot(it) => ScalarTy::Int(it) == ty,
        // 0 or 1.
        Opcode::IntCmp(..) | Opcode::FloatCmp(_) => true,
        Opcode::Cast(_, to) => to == ty,
        Opcode::GetField(f) => t.fields[f].ty == Some(ty),
        Opcode::Load(lt) => lt == ty,
        Opcode::GetItem(a) | Opcode::VecPopNonEmpty(a) => t.arrays[a].item == Some(ty),
        _ => false,
    }
}

/// The location a `load`/`store` of `ty` at `addr` (defined by `def`)
/// touches: a field or an item when the address is a `fieldaddr` or
/// `itemaddr` of that type.
pub fn raw_loc(t: &Tables, def: Option<&TraceOp>, addr: Val, ty: ScalarTy) -> Loc {
    if let Some(d) = def {
        match d.opcode {
            Opcode::FieldAddr(f) if t.fields[f].ty == Some(ty) => {
                return Loc::Field {
                    base: d.args[0],
                    descr: f,
                }
            }
            Opcode::ItemAddr(a) if t.arrays[a].item == Some(ty) => {
                return Loc::Item {
                    ptr: d.args[0],
                    idx: d.args[1],
                    descr: a,
                }
            }
            _ => {}
        }
    }
    Loc::Raw { addr, ty }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jitcode::IntTy;

    // enum E { V(u64), W(B) } with `#[repr(u8)]`: the tag at 0, both
    // payloads at 8; struct B { g: u64 } held at offset 8 of an E; struct
    // S { x: u64 } held by no enum.
    const fn mem(name: &'static str, id: u16, held_by: &'static [(u16, Option<usize>)]) -> MemType {
        MemType {
            name,
            id,
            held_by,
            within: &[],
        }
    }
    static E: MemType = mem("E", 0, &[]);
    static B: MemType = mem("B", 1, &[(0, Some(8))]);
    static S: MemType = mem("S", 2, &[]);
    static B_SOMEWHERE: MemType = mem("B", 1, &[(0, None)]);

    fn field(name: &'static str, ty: ScalarTy, off: usize, owner: &'static MemType) -> FieldDescr {
        FieldDescr {
            name,
            ty: Some(ty),
            place: FieldPlace::Offset(off),
            immutable: false,
            virtualizable: false,
            owner: Some(owner),
        }
    }

    fn tables(b: &'static MemType) -> &'static Tables {
        let u64t = ScalarTy::Int(IntTy::U64);
        let fields = vec![
            field("E.tag", ScalarTy::Int(IntTy::U8), 0, &E),
            field("E::V.0", u64t, 8, &E),
            field("B.g", u64t, 0, b),
            field("S.x", u64t, 0, &S),
        ];
        Box::leak(Box::new(Tables {
            fields: Box::leak(fields.into_boxed_slice()),
            ..Tables::EMPTY
        }))
    }

    #[test]
    fn fields_of_different_types_alias_only_through_an_enum_holding_one() {
        let (tag, v0, g, x) = (FieldId(0), FieldId(1), FieldId(2), FieldId(3));
        let (p, q) = (Val::Input(0), Val::Input(1));
        let t = tables(&B);
        // Another variant's field lies over the held B's field...
        assert!(fields_may_alias(t, v0, g, p, q));
        assert!(fields_may_alias(t, g, v0, q, p));
        // ...not the tag, before it.
        assert!(!fields_may_alias(t, tag, g, p, q));
        // A type no enum holds is apart from both.
        assert!(!fields_may_alias(t, x, g, p, q));
        assert!(!fields_may_alias(t, x, v0, p, q));
        // Held at an offset rustc does not tell: anything may overlap.
        let t = tables(&B_SOMEWHERE);
        assert!(fields_may_alias(t, tag, g, p, q));
    }

    /// A field of an item in a Vec's buffer of `E`s, and the field of a `B`
    /// or an `S` somewhere: apart from an `S` (no `E` holds one), not from
    /// a `B` an `E` holds (`within`), nor from another `E`.
    #[test]
    fn a_vec_buffer_holds_nothing_but_its_items() {
        static E2: MemType = mem("E", 0, &[]);
        static B_IN_E: MemType = MemType {
            name: "B",
            id: 1,
            held_by: &[(0, Some(8))],
            within: &[0],
        };
        static S_ALONE: MemType = mem("S", 2, &[]);
        let u64t = ScalarTy::Int(IntTy::U64);
        let fields = vec![
            field("E.tag", ScalarTy::Int(IntTy::U8), 0, &E2),
            field("E::V.0", u64t, 8, &E2),
            field("B.g", u64t, 0, &B_IN_E),
            field("S.x", u64t, 0, &S_ALONE),
        ];
        let t: &'static Tables = Box::leak(Box::new(Tables {
            fields: Box::leak(fields.into_boxed_slice()),
            ..Tables::EMPTY
        }));
        let (v0, g, x) = (FieldId(1), FieldId(2), FieldId(3));
        // op 0: vec_ptr(r_vec); op 1: itemaddr(op 0, i); op 2: itemaddr(r_arr, i)
        let ops = [
            TraceOp {
                opcode: Opcode::VecPtr(ArrayId(0)),
                args: vec![Val::Input(0)],
                result: Some(crate::jitcode::Kind::Ref),
                guard: None,
            },
            TraceOp {
                opcode: Opcode::ItemAddr(ArrayId(0)),
                args: vec![Val::Op(0), Val::Input(1)],
                result: Some(crate::jitcode::Kind::Ref),
                guard: None,
            },
            TraceOp {
                opcode: Opcode::ItemAddr(ArrayId(1)),
                args: vec![Val::Input(2), Val::Input(1)],
                result: Some(crate::jitcode::Kind::Ref),
                guard: None,
            },
        ];
        let def = |v: Val| match v {
            Val::Op(i) => ops.get(i as usize),
            _ => None,
        };
        let (item, other, slice_item) = (Val::Op(1), Val::Input(3), Val::Op(2));
        fn apart_by_container<'e>(
            t: &Tables,
            (b1, d1): (Val, FieldId),
            (b2, d2): (Val, FieldId),
            def: &dyn Fn(Val) -> Option<&'e TraceOp>,
        ) -> bool {
            let (f1, f2) = (BaseFacts::of(t, b1, def), BaseFacts::of(t, b2, def));
            super::apart_by_container(t, (d1, &f1), (d2, &f2))
        }
        assert!(apart_by_container(t, (item, v0), (other, x), &def));
        assert!(apart_by_container(t, (other, x), (item, v0), &def));
        assert!(!apart_by_container(t, (item, v0), (other, g), &def));
        assert!(!apart_by_container(t, (item, v0), (other, v0), &def));
        // An item of a slice, not a Vec: its buffer may be anything's.
        assert!(!apart_by_container(t, (slice_item, v0), (other, x), &def));
    }

    /// A write covers an earlier one when it overwrites all its bytes in
    /// one object: `E::V.0` at `p` (bytes 8..16) covers `B.g` of the `B`
    /// held at offset 8 (`fieldaddr<E::W.0>(p)`), not the other way round
    /// when sizes differ, and nothing at another base.
    #[test]
    fn a_write_covers_the_bytes_of_an_earlier_one() {
        let u64t = ScalarTy::Int(IntTy::U64);
        let fields = vec![
            field("E.tag", ScalarTy::Int(IntTy::U8), 0, &E),
            field("E::V.0", u64t, 8, &E),
            field("B.g", u64t, 0, &B),
            FieldDescr {
                name: "E::W.0",
                ty: None,
                place: FieldPlace::Offset(8),
                immutable: false,
                virtualizable: false,
                owner: Some(&E),
            },
            field("B.h", ScalarTy::Int(IntTy::U8), 4, &B),
        ];
        let t: &'static Tables = Box::leak(Box::new(Tables {
            fields: Box::leak(fields.into_boxed_slice()),
            ..Tables::EMPTY
        }));
        let ops = [TraceOp {
            opcode: Opcode::FieldAddr(FieldId(3)),
            args: vec![Val::Input(0)],
            result: Some(crate::jitcode::Kind::Ref),
            guard: None,
        }];
        let def = |v: Val| match v {
            Val::Op(i) => ops.get(i as usize),
            _ => None,
        };
        let (p, q, held) = (Val::Input(0), Val::Input(1), Val::Op(0));
        let at = |base, d| Loc::Field {
            base,
            descr: FieldId(d),
        };
        assert!(covers(t, &at(p, 1), &at(held, 2), &def));
        assert!(covers(t, &at(p, 1), &at(held, 4), &def));
        assert!(covers(t, &at(held, 2), &at(p, 1), &def));
        assert!(!covers(t, &at(held, 4), &at(p, 1), &def));
        assert!(!covers(t, &at(p, 0), &at(held, 2), &def));
        assert!(!covers(t, &at(q, 1), &at(held, 2), &def));
    }
}
