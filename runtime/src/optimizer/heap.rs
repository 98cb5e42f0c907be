//! The heap cache (RPython's `heap.py`): reads of memory the trace has
//! already read or written are replaced by the known value; stores that
//! change nothing, or that are overwritten before anything could see them,
//! go.
//!
//! Locations ([`Loc`]) are scalar fields by (base, field descr) — a `load`
//! or `store` through a `fieldaddr` of a scalar field of the same type is
//! the same location — array items by (data pointer, index, array descr)
//! (likewise for `itemaddr`), other addresses by (address, type), Vec
//! headers (`vec_len`, `vec_ptr`) by (Vec, descr), enum tags and string
//! headers by their address.
//!
//! A write forwards its value to later reads of the same location and
//! invalidates what may alias it:
//! - fields: the same descr at a base that may be the same (two different
//!   constants are not), or a descr whose bytes overlap at the same offset
//!   (descrs of different offsets do not alias; a field behind a shim
//!   aliases every field);
//! - items: arrays whose items have the same size (a `Vec<i64>` and an
//!   `[i64]` may share data), unless they are known to be different items
//!   of the same data pointer;
//! - raw `store`s: fields and items whose scalars have the same size, and
//!   every other raw location;
//! - every write invalidates enum tags;
//! - `vec_push`/`vec_pop` invalidate the headers and items of Vecs of
//!   that kind;
//! - residual calls invalidate what their [`CallEffects`] say they may
//!   write ([`call_effects`]: the summary the codewriter computed from the
//!   callee's parameter types, `CallDescr::effects`).
//!
//! Reads through immutable descrs are invalidated like any other (an
//! immutable descr describes one access through a shared reference, not
//! memory that never changes while a trace runs). A stored value is
//! forwarded only when it reads back unchanged (for types narrower than
//! 64 bits: a constant that round-trips, or a value produced at that
//! type).
//!
//! A store is dropped when the location is known to hold that value
//! already, or when a later store to the same location comes before any
//! read that may alias it, any guard (an exit shows memory to the
//! interpreter), any call and any `vec_push`/`vec_pop`.

use super::emit::{recycle, Emitter, GuardFate};
use super::Ctx;
use crate::executor as ops;
use crate::jitcode::{CallEffectsDescr, FieldPlace, IntBinOp, ScalarTy, Tables};
use crate::trace::{Opcode, Trace, TraceOp, Val};
use rustc_hash::FxHashMap as HashMap;

/// A memory location the cache knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Loc {
    Field { base: Val, descr: u16 },
    Item { ptr: Val, idx: Val, descr: u16 },
    Raw { addr: Val, ty: ScalarTy },
    VecLen { vec: Val, descr: u16 },
    VecPtr { vec: Val, descr: u16 },
    Tag { addr: Val, descr: u16 },
    StrPtr(Val),
    StrLen(Val),
}

/// What a set of descrs a call may write: none, some, or all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Writes {
    Nothing,
    /// Exactly these descrs (see [`CallEffects`]).
    Some(Vec<u16>),
    Everything,
}

impl Writes {
    fn from_list(ds: &[u16]) -> Writes {
        if ds.is_empty() {
            Writes::Nothing
        } else {
            Writes::Some(ds.to_vec())
        }
    }

    fn has(&self, d: u16) -> bool {
        match self {
            Writes::Nothing => false,
            Writes::Everything => true,
            Writes::Some(ds) => ds.contains(&d),
        }
    }

    fn any(&self, f: impl Fn(u16) -> bool) -> bool {
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
    pub fields: Writes,
    /// Array items written (array descrs), except in `kept_fields`.
    pub items: Writes,
    /// Vecs resized or reallocated (array descrs): their headers and
    /// items, except in `kept_fields`.
    pub vecs: Writes,
    /// Fields whose Vec or array the call leaves alone (header and
    /// items), even if its descr is in `items` or `vecs`.
    pub kept_fields: Vec<u16>,
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
            fields: Writes::from_list(d.fields),
            items: Writes::from_list(d.items),
            vecs: Writes::from_list(d.vecs),
            kept_fields: d.kept_fields.to_vec(),
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
        let kept = |f: Option<u16>| f.is_some_and(|f| self.kept_fields.contains(&f));
        match *loc {
            Loc::Field { descr, .. } => self.fields.has(descr),
            Loc::Item { ptr, descr, .. } => {
                (self.items.has(descr) || self.vecs.has(descr)) && !kept(data_holder(ptr, def))
            }
            Loc::VecLen { vec, descr } | Loc::VecPtr { vec, descr } => {
                self.vecs.has(descr) && !kept(vec_holder(vec, def))
            }
            Loc::Raw { ty, .. } => {
                // A `load` may read a field or an item of its size.
                let size = Some(ty.size());
                self.other
                    || self
                        .fields
                        .any(|f| scalar_size(t.fields[f as usize].ty) == size)
                    || self
                        .items
                        .any(|a| t.arrays[a as usize].item_size == ty.size())
                    || self
                        .vecs
                        .any(|a| t.arrays[a as usize].item_size == ty.size())
            }
            Loc::Tag { .. } | Loc::StrPtr(_) | Loc::StrLen(_) => self.other,
        }
    }
}

/// The field a Vec lives in: `vec = fieldaddr<f>(_)`. (Not through
/// `vec_ptr`: the Vec at `vec_ptr(fieldaddr<f>(_))`, the first item of a
/// Vec of Vecs, is not the one in field `f`.)
fn vec_holder<'e>(vec: Val, def: &dyn Fn(Val) -> Option<&'e TraceOp>) -> Option<u16> {
    match def(vec)?.opcode {
        Opcode::FieldAddr(f) => Some(f),
        _ => None,
    }
}

/// The field holding the Vec or array whose items start at `ptr`:
/// `ptr = vec_ptr(v)` with `v = fieldaddr<f>(_)`, or `ptr = fieldaddr<f>(_)`
/// (an array held in the field).
fn data_holder<'e>(ptr: Val, def: &dyn Fn(Val) -> Option<&'e TraceOp>) -> Option<u16> {
    let d = def(ptr)?;
    match d.opcode {
        Opcode::FieldAddr(f) => Some(f),
        Opcode::VecPtr(_) => vec_holder(*d.args.first()?, def),
        _ => None,
    }
}

/// The effects of residual call `descr`: its descr's summary.
pub fn call_effects(tables: &Tables, descr: u16) -> CallEffects {
    match tables.calls.get(descr as usize) {
        Some(c) => CallEffects::from_descr(&c.effects),
        None => CallEffects::everything(),
    }
}

/// May two values be the same address? (Different constants are not.)
pub(crate) fn may_equal(a: Val, b: Val) -> bool {
    a == b || !(a.is_const() && b.is_const())
}

fn scalar_size(t: Option<ScalarTy>) -> Option<usize> {
    t.map(|t| t.size())
}

/// May field `d1` of `b1` and field `d2` of `b2` share bytes?
pub(crate) fn fields_may_alias(t: &Tables, d1: u16, d2: u16, b1: Val, b2: Val) -> bool {
    if d1 == d2 {
        return may_equal(b1, b2);
    }
    let (f1, f2) = (&t.fields[d1 as usize], &t.fields[d2 as usize]);
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

/// May items of arrays `a1` and `a2` share bytes?
pub(crate) fn items_may_alias(t: &Tables, a1: u16, a2: u16) -> bool {
    a1 == a2 || scalar_size(t.arrays[a1 as usize].item) == scalar_size(t.arrays[a2 as usize].item)
}

/// May Vec descrs `a1` and `a2` describe the same Vec?
pub(crate) fn vecs_may_alias(t: &Tables, a1: u16, a2: u16) -> bool {
    let (x, y) = (&t.arrays[a1 as usize], &t.arrays[a2 as usize]);
    a1 == a2 || (x.item == y.item && x.item_size == y.item_size)
}

/// The scalar size of a scalar location.
fn loc_size(t: &Tables, loc: &Loc) -> Option<usize> {
    match *loc {
        Loc::Field { descr, .. } => scalar_size(t.fields[descr as usize].ty),
        Loc::Item { descr, .. } => scalar_size(t.arrays[descr as usize].item),
        Loc::Raw { ty, .. } => Some(ty.size()),
        _ => None,
    }
}

/// Are the indices `i1` and `i2` surely different (by less than 2^32)?
/// They are when both are constants, or the same value plus different
/// constants (64-bit arithmetic: `x + 1` is never `x + 2`).
pub(crate) fn indices_differ<'e>(
    i1: Val,
    i2: Val,
    def: &dyn Fn(Val) -> Option<&'e TraceOp>,
) -> bool {
    let form = |v: Val| -> (Option<Val>, i64) {
        if let Some(c) = v.const_bits() {
            return (None, c as i64);
        }
        if let Some(d) = def(v) {
            match (&d.opcode, d.args.as_slice()) {
                (&Opcode::IntBin(IntBinOp::Add, ty), &[y, Val::Int(k)])
                | (&Opcode::IntBin(IntBinOp::Add, ty), &[Val::Int(k), y])
                    if ty.bits() == 64 && !y.is_const() =>
                {
                    return (Some(y), k)
                }
                (&Opcode::IntBin(IntBinOp::Sub, ty), &[y, Val::Int(k)])
                    if ty.bits() == 64 && !y.is_const() =>
                {
                    return (Some(y), k.wrapping_neg())
                }
                _ => {}
            }
        }
        (Some(v), 0)
    };
    let ((y1, k1), (y2, k2)) = (form(i1), form(i2));
    y1 == y2 && k1 != k2 && k1.wrapping_sub(k2).unsigned_abs() < 1 << 32
}

/// May a write to scalar location `w` change scalar location `r`? `def`
/// gives the operations defining values (items at `x + 1` and `x + 2` of
/// one data pointer are different items).
pub(crate) fn scalars_may_alias<'e>(
    t: &Tables,
    w: &Loc,
    r: &Loc,
    def: &dyn Fn(Val) -> Option<&'e TraceOp>,
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
        ) => fields_may_alias(t, d1, d2, b1, b2),
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
            let size = t.arrays[a1 as usize].item_size;
            let same_size = size == t.arrays[a2 as usize].item_size;
            !(p1 == p2 && same_size && size < 1 << 31 && indices_differ(i1, i2, def))
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

/// Is `loc` one of the scalar locations (fields, items, raw)?
fn is_scalar(loc: &Loc) -> bool {
    matches!(loc, Loc::Field { .. } | Loc::Item { .. } | Loc::Raw { .. })
}

/// Does the stored `v` read back unchanged from a `ty` in memory?
fn reads_back(e: &Emitter, t: &Tables, v: Val, ty: ScalarTy) -> bool {
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
    let Some(d) = e.def(v) else {
        return false;
    };
    match d.opcode {
        Opcode::IntBin(_, it) | Opcode::IntNeg(it) | Opcode::IntNot(it) => ScalarTy::Int(it) == ty,
        Opcode::IntCmp(..) | Opcode::FloatCmp(_) => true,
        Opcode::Cast(_, to) => to == ty,
        Opcode::GetField(f) => t.fields[f as usize].ty == Some(ty),
        Opcode::Load(lt) => lt == ty,
        Opcode::GetItem(a) | Opcode::VecPopNonEmpty(a) => t.arrays[a as usize].item == Some(ty),
        _ => false,
    }
}

struct Heap<'a> {
    t: &'a Tables,
    cache: HashMap<Loc, Val>,
    /// Stores no one may have seen yet: location → the store (output op).
    pending: HashMap<Loc, Val>,
}

/// Something that changes memory.
enum Write<'w> {
    /// A scalar location, and the definitions of the trace's values.
    Scalar(Loc, &'w dyn Fn(Val) -> Option<&'w TraceOp>),
    Resize(Val, u16),
    /// A call's effects, and the definitions of the trace's values.
    Call(&'w CallEffects, &'w dyn Fn(Val) -> Option<&'w TraceOp>),
}

impl Heap<'_> {
    fn invalidate(&mut self, w: Write) {
        let t = self.t;
        self.cache.retain(|loc, _| {
            // (Reads through immutable descrs are invalidated too: such a
            // descr only says that *this access* went through a shared
            // reference. A trace spans many iterations of the interpreter,
            // and the same memory may be written through `&mut` in
            // another: `peek(&vm.stack)` then `vm.stack.push(x)`.)
            let hit = match &w {
                Write::Scalar(wl, def) => match loc {
                    Loc::Tag { .. } => true,
                    l if is_scalar(l) => wl != l && scalars_may_alias(t, wl, l, *def),
                    _ => false,
                },
                Write::Resize(vec, d) => match *loc {
                    Loc::VecLen { vec: v2, descr } | Loc::VecPtr { vec: v2, descr } => {
                        vecs_may_alias(t, *d, descr) && may_equal(*vec, v2)
                    }
                    Loc::Item { descr, .. } => items_may_alias(t, *d, descr),
                    Loc::Raw { .. } | Loc::Tag { .. } => true,
                    _ => false,
                },
                Write::Call(eff, def) => eff.may_change(t, loc, *def),
            };
            !hit
        });
    }

    /// A read of `loc` is emitted: stores it may see are needed.
    fn observe<'e>(&mut self, loc: &Loc, def: &dyn Fn(Val) -> Option<&'e TraceOp>) {
        let t = self.t;
        match loc {
            Loc::Tag { .. } => self.pending.clear(),
            l if is_scalar(l) => self.pending.retain(|w, _| !scalars_may_alias(t, w, l, def)),
            _ => {}
        }
    }

    /// A write of `v` to `loc` (emitted as `store`); drops an earlier
    /// unseen store to the same location.
    fn write(&mut self, e: &mut Emitter, loc: Loc, v: Val, ty: ScalarTy, store: Val) {
        self.invalidate(Write::Scalar(loc, &|v| e.def(v)));
        if reads_back(e, self.t, v, ty) {
            self.cache.insert(loc, v);
        } else {
            self.cache.remove(&loc);
        }
        if let Some(prev) = self.pending.insert(loc, store) {
            e.kill(prev);
        }
    }
}

/// The location a `load`/`store` of `ty` at `addr` (defined by `def`)
/// touches: a field or an item when the address is a `fieldaddr` or
/// `itemaddr` of that type.
pub(crate) fn raw_loc(t: &Tables, def: Option<&TraceOp>, addr: Val, ty: ScalarTy) -> Loc {
    if let Some(d) = def {
        match d.opcode {
            Opcode::FieldAddr(f) if t.fields[f as usize].ty == Some(ty) => {
                return Loc::Field {
                    base: d.args[0],
                    descr: f,
                }
            }
            Opcode::ItemAddr(a) if t.arrays[a as usize].item == Some(ty) => {
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

pub fn run(trace: Trace, cx: &Ctx) -> Trace {
    let out = forward(&trace, cx);
    recycle(trace);
    out
}

fn forward(trace: &Trace, cx: &Ctx) -> Trace {
    let t = cx.tables;
    let mut e = Emitter::new(trace);
    let src = e.src();
    let mut h = Heap {
        t,
        cache: HashMap::default(),
        pending: HashMap::default(),
    };
    let mut args = Vec::new();
    for i in 0..e.body_len() {
        if e.is_dead() {
            break;
        }
        let op = &src.ops[i];
        e.args_into(i, &mut args);
        // Reads: the location, if this is one.
        let read = match op.opcode {
            Opcode::GetField(d) => Some(Loc::Field {
                base: args[0],
                descr: d,
            }),
            Opcode::Load(ty) => Some(raw_loc(t, e.def(args[0]), args[0], ty)),
            Opcode::GetItem(d) => Some(Loc::Item {
                ptr: args[0],
                idx: args[1],
                descr: d,
            }),
            Opcode::VecLen(d) => Some(Loc::VecLen {
                vec: args[0],
                descr: d,
            }),
            Opcode::VecPtr(d) => Some(Loc::VecPtr {
                vec: args[0],
                descr: d,
            }),
            Opcode::EnumTag(d) => Some(Loc::Tag {
                addr: args[0],
                descr: d,
            }),
            Opcode::StringPtr => Some(Loc::StrPtr(args[0])),
            Opcode::StringLen => Some(Loc::StrLen(args[0])),
            _ => None,
        };
        if let Some(loc) = read {
            match h.cache.get(&loc) {
                Some(v) => e.replace(i, *v),
                None => {
                    h.observe(&loc, &|v| e.def(v));
                    let v = e.keep(i, e.vals(&args));
                    h.cache.insert(loc, v);
                }
            }
            continue;
        }
        // Writes: the location, the value and its type.
        let write = match op.opcode {
            Opcode::SetField(d) => t.fields[d as usize].ty.map(|ty| {
                (
                    Loc::Field {
                        base: args[0],
                        descr: d,
                    },
                    args[1],
                    ty,
                )
            }),
            Opcode::Store(ty) => Some((raw_loc(t, e.def(args[0]), args[0], ty), args[1], ty)),
            Opcode::SetItem(d) => t.arrays[d as usize].item.map(|ty| {
                (
                    Loc::Item {
                        ptr: args[0],
                        idx: args[1],
                        descr: d,
                    },
                    args[2],
                    ty,
                )
            }),
            _ => None,
        };
        if let Some((loc, v, ty)) = write {
            if h.cache.get(&loc) == Some(&v) {
                // The location holds that value already.
                e.drop_op(i);
            } else {
                let store = e.keep(i, e.vals(&args));
                h.write(&mut e, loc, v, ty, store);
            }
            continue;
        }
        match op.opcode {
            Opcode::VecPush(d) | Opcode::VecPopNonEmpty(d) => {
                h.pending.clear();
                h.invalidate(Write::Resize(args[0], d));
                e.keep(i, e.vals(&args));
            }
            Opcode::CallResidual(d) => {
                h.pending.clear();
                let eff = call_effects(t, d);
                h.invalidate(Write::Call(&eff, &|v| e.def(v)));
                e.keep(i, e.vals(&args));
            }
            Opcode::Free(_) => {
                // (Conservative: a store to the freed object is dead, but
                // keeping it is simpler than proving nothing else sees it.)
                h.pending.clear();
                e.keep(i, e.vals(&args));
            }
            Opcode::CallPure(_) => {
                // Reads memory, maybe; writes none.
                h.pending.clear();
                e.keep(i, e.vals(&args));
            }
            Opcode::GuardTrue | Opcode::GuardFalse | Opcode::GuardValue => {
                if e.keep_guard(i, e.vals(&args), &[]) == GuardFate::Kept {
                    h.pending.clear();
                }
            }
            Opcode::SetField(_) | Opcode::SetItem(_) | Opcode::Store(_) => {
                // (a write of no scalar type: not in valid traces)
                h.pending.clear();
                h.invalidate(Write::Call(&CallEffects::everything(), &|_| None));
                e.keep(i, e.vals(&args));
            }
            _ => {
                e.keep(i, e.vals(&args));
            }
        }
    }
    e.finish()
}
