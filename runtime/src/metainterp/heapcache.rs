//! What the tracer knows while it records, so that it records less
//! (RPython's `heapcache.py` and the folding in pyjitpl's
//! `execute_and_record`). Everything here is about one trace, from its
//! start: a bridge starts knowing nothing.
//!
//! - **Pure operations** (`Opcode::is_pure`) recorded earlier, by opcode
//!   and arguments: the same operation on the same arguments is the earlier
//!   result (record-time CSE; pure operations do not depend on memory). A
//!   `fieldaddr` (`itemaddr`) under the twin descr of the same field (array
//!   type) is the same address. `x + c` or `x - c` of an `x` recorded as
//!   `y + k` of the same 64-bit integer type is recorded as `y + (k ± c)`,
//!   and is `y` when that is 0 ([`HeapCache::reassociate`]).
//! - **The heap**: for every memory location ([`Loc`], the optimizer's
//!   locations) the trace has read or written, the trace value it holds. A
//!   read of a known location (under its descr or a twin) is that value
//!   instead of a new operation, until an operation that may change the
//!   location is recorded:
//!   - `setfield`: fields of the same descr at a base that may be the same
//!     (two different constants are not), or of a descr whose bytes overlap
//!     at the same offset (a field behind a shim overlaps every field);
//!   - `setitem`: items of arrays of the same descr or of the same item
//!     size, unless they are surely other items of the same data pointer
//!     (different constant indices, or different constant offsets of the
//!     same index value);
//!   - `store` (raw memory): every field, item and raw location;
//!   - every write: enum tags and raw locations;
//!   - `vec_push`, `vec_pop`, `vec_reserve`: the headers (length, data
//!     pointer) of the Vecs that may be that one, items of arrays that may
//!     be its items, raw locations and enum tags;
//!   - `vec_set_len`: the lengths of the Vecs that may be that one, and
//!     raw locations (the new length is then known);
//!   - `call_residual`: what `alias::call_effects` says the call
//!     may write (its descr's effect summary); `call_pure`: everything.
//!
//!   Immutable descrs get no exemption: "immutable" means reached through
//!   a shared reference, and a `&T` borrow may end within the trace, after
//!   which the same memory is written through `&mut T` (the twin descr).
//!   A write makes the written value known at its location when it reads
//!   back unchanged (a 64-bit location, a constant that round-trips, a
//!   value produced at the location's type); a write of the value the
//!   location is known to hold already is not recorded.
//! - **Guards**: what a guard proved, from there on. After
//!   `guard_value(v, c)` `v` is `c`; after `guard_false(v)` `v` is 0; after
//!   `guard_true(v)`, `v` is 1 if it is a comparison's result, else known
//!   to be true. After a guard on an integer comparison, its negation and
//!   its mirror image on the same arguments are known constants too
//!   (`int_lt(a, b)` after `guard_false(int_ge(a, b))`), and after
//!   `guard_true(int_eq(x, c))` (or `guard_false(int_ne(x, c))`) with `c`
//!   a constant, `x` is `c`. A guard on an unsigned comparison also gives
//!   an order between its arguments (`a < b`, `a <= b`, as `u64`), and a
//!   64-bit `x - y` after a guard proved `y <= x` is at most `x`; an
//!   unsigned comparison these orders decide is a constant
//!   ([`HeapCache::decide`], by `crate::order` as in intbounds: bf's
//!   bounds check after a move left). A guard
//!   on a value whose outcome is known already is not recorded. The tracer
//!   replaces the values a guard made constant in every register of its
//!   frames (as it always did after `guard_value`), so that the resume
//!   data of later guards holds the constants: the same values on every
//!   run that reaches them.
//!
//! Every answer from the pure operations and the heap comes with the
//! concrete value the tracer computed when the answer was recorded: in
//! debug builds, it must be the one the tracer just computed by executing
//! the instruction again (and a decided comparison or guard must agree with
//! the concrete outcome).

use crate::alias::{
    call_effects, field_descrs_may_alias, items_may_alias, may_equal, raw_loc, reads_back,
    rewrites_held_value, vecs_may_alias, CallEffects, FactsMemo, Loc,
};
use crate::jitcode::{ArrayId, CallId, CmpOp, EnumId, FieldId, FieldPlace, ScalarTy, Tables};
use crate::locmap::LocMap;
use crate::optimizer::pure::{mirror, negate};
use crate::order::{self, Order};
use crate::trace::{Opcode, TraceOp, Val};
use rustc_hash::FxHashMap as HashMap;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// Something recorded that may change memory.
pub(crate) enum Effect {
    /// `setfield`/`setitem` (or a `store` through a field or item
    /// address) of this value to this location.
    Write(Loc, Val),
    /// A raw `store`.
    Store,
    /// `vec_push`/`vec_pop`/`vec_reserve` of the Vec (value, array descr).
    Resize(Val, ArrayId),
    /// `vec_set_len` of the Vec (value, array descr): its length changes,
    /// its data pointer and items stay.
    SetLen(Val, ArrayId),
    /// `call_residual` of this call descr.
    Call(CallId),
    /// Anything (`call_pure`).
    Everything,
}

pub(crate) struct HeapCache {
    tables: &'static Tables,
    twins: Rc<Twins>,
    /// Pure operations recorded, and facts learnt from guards, by
    /// arguments and opcode (of the first descr of its twins): the result
    /// and its concrete value.
    pure: HashMap<(ArgKey, Opcode), (Val, u64)>,
    /// What the trace knows memory holds: location → (value, its concrete
    /// value).
    heap: LocMap<(Val, u64)>,
    /// Values a guard proved equal to a constant.
    known: ValMap<Val>,
    /// Values a guard proved true (non-zero) or false.
    truth: ValMap<bool>,
    /// Orders guards proved, the registers compared as `u64`.
    order: Order,
    /// Every concrete value the cache has been given, in order, kept
    /// after the cache forgets it: the tracer publishes them as GC roots
    /// a stretch at a time ([`HeapCache::concrete_values_from`]), not the
    /// whole cache at every call (which made tracing quadratic).
    concrete: Vec<usize>,
    /// What the alias analysis reads from the definitions of the bases
    /// it compares (recorded operations, which stay as they are until
    /// [`HeapCache::forget_facts`]).
    facts: FactsMemo,
}

/// The tables of a [`HeapCache`], empty, kept for the next trace (with
/// their capacity: they would otherwise grow again for every trace).
#[derive(Default)]
struct Facts {
    pure: HashMap<(ArgKey, Opcode), (Val, u64)>,
    heap: LocMap<(Val, u64)>,
    known: ValMap<Val>,
    truth: ValMap<bool>,
    order: Order,
    concrete: Vec<usize>,
}

thread_local! {
    static SPARE_FACTS: Cell<Option<Facts>> = const { Cell::new(None) };
}

impl Drop for HeapCache {
    fn drop(&mut self) {
        let mut f = Facts {
            pure: std::mem::take(&mut self.pure),
            heap: std::mem::take(&mut self.heap),
            known: std::mem::take(&mut self.known),
            truth: std::mem::take(&mut self.truth),
            order: std::mem::take(&mut self.order),
            concrete: std::mem::take(&mut self.concrete),
        };
        f.pure.clear();
        f.heap.clear();
        f.known.clear();
        f.truth.clear();
        f.order.clear();
        f.concrete.clear();
        SPARE_FACTS.with(|s| s.set(Some(f)));
    }
}

/// The twin descrs of an interpreter's tables (see [`twins`]).
struct Twins {
    /// Per field descr, the other descrs of the same field.
    fields: Vec<Vec<u16>>,
    /// Per array descr, the other descrs of the same array type.
    arrays: Vec<Vec<u16>>,
}

impl Twins {
    /// The same operation under the first descr of its twins: one key for
    /// all of them.
    fn canonical(&self, op: &Opcode) -> Opcode {
        let first = |d: u16, twins: &[u16]| match twins.first() {
            Some(&t) if t < d => t,
            _ => d,
        };
        match *op {
            Opcode::FieldAddr(d) => Opcode::FieldAddr(FieldId(first(d.0, &self.fields[d.index()]))),
            Opcode::ItemAddr(d) => Opcode::ItemAddr(ArrayId(first(d.0, &self.arrays[d.index()]))),
            ref op => op.clone(),
        }
    }
}

/// A map from the trace's values, indexed by input and operation number
/// (constants, never keys in practice, in a side table): looked up for
/// every argument of every instruction traced.
struct ValMap<T> {
    inputs: Vec<Option<T>>,
    ops: Vec<Option<T>>,
    consts: HashMap<Val, T>,
}

impl<T> Default for ValMap<T> {
    fn default() -> Self {
        ValMap {
            inputs: Vec::new(),
            ops: Vec::new(),
            consts: HashMap::default(),
        }
    }
}

impl<T: Copy> ValMap<T> {
    fn clear(&mut self) {
        self.inputs.clear();
        self.ops.clear();
        self.consts.clear();
    }

    #[inline]
    fn get(&self, v: &Val) -> Option<&T> {
        match *v {
            Val::Input(i) => self.inputs.get(i as usize)?.as_ref(),
            Val::Op(i) => self.ops.get(i as usize)?.as_ref(),
            ref c => self.consts.get(c),
        }
    }

    fn insert(&mut self, v: Val, x: T) -> Option<T> {
        let (table, i) = match v {
            Val::Input(i) => (&mut self.inputs, i as usize),
            Val::Op(i) => (&mut self.ops, i as usize),
            c => return self.consts.insert(c, x),
        };
        if table.len() <= i {
            table.resize(i + 1, None);
        }
        table[i].replace(x)
    }
}

thread_local! {
    /// The twins of the tables traced on this thread, computed once per
    /// `Tables` rather than once per trace.
    static TWINS: RefCell<Vec<(usize, Rc<Twins>)>> = const { RefCell::new(Vec::new()) };
}

/// The arguments of a pure operation (one or two), inline: every pure
/// operation recorded is looked up by them.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct ArgKey {
    n: u8,
    args: [Val; 2],
}

impl ArgKey {
    /// `None` for more than two arguments (no pure operation has them).
    fn of(args: &[Val]) -> Option<ArgKey> {
        let pad = Val::Int(0);
        match *args {
            [] => Some(ArgKey {
                n: 0,
                args: [pad, pad],
            }),
            [a] => Some(ArgKey {
                n: 1,
                args: [a, pad],
            }),
            [a, b] => Some(ArgKey { n: 2, args: [a, b] }),
            _ => None,
        }
    }
}

/// The operation defining `v`, if it is an operation's result.
fn def(ops: &[TraceOp], v: Val) -> Option<&TraceOp> {
    match v {
        Val::Op(i) => ops.get(i as usize),
        _ => None,
    }
}

impl HeapCache {
    pub fn new(tables: &'static Tables) -> HeapCache {
        let key = tables as *const Tables as usize;
        let twins = TWINS.with(|cache| {
            let mut cache = cache.borrow_mut();
            if let Some((_, t)) = cache.iter().find(|(k, _)| *k == key) {
                return t.clone();
            }
            let fields = twins(tables.fields, |f| match f.place {
                FieldPlace::Offset(o) => Some((f.name, f.ty, o)),
                FieldPlace::Shim(_) => None,
            });
            let arrays = twins(tables.arrays, |a| {
                Some((a.name, a.item, a.item_size, a.vec.is_some()))
            });
            let t = Rc::new(Twins { fields, arrays });
            cache.push((key, t.clone()));
            t
        });
        let Facts {
            pure,
            heap,
            known,
            truth,
            order,
            concrete,
        } = SPARE_FACTS.with(|s| s.take()).unwrap_or_default();
        HeapCache {
            tables,
            twins,
            pure,
            heap,
            known,
            truth,
            order,
            concrete,
            facts: FactsMemo::default(),
        }
    }

    /// Operations were dropped from the recording: values may now name
    /// other operations.
    pub fn forget_facts(&mut self) {
        self.facts = FactsMemo::default();
    }

    /// `v`, or the constant a guard proved it is.
    pub fn resolve(&self, v: Val) -> Val {
        if v.is_const() {
            return v;
        }
        self.known.get(&v).copied().unwrap_or(v)
    }

    // -----------------------------------------------------------------
    // Pure operations.

    /// The result of `opcode(args)` recorded earlier (or learnt), with its
    /// concrete value.
    pub fn lookup_pure(&self, opcode: &Opcode, args: &[Val]) -> Option<(Val, u64)> {
        // The address of a field or an item is the same under its twin
        // descrs (the same offset, the same item size).
        let key = (ArgKey::of(args)?, self.twins.canonical(opcode));
        self.pure
            .get(&key)
            .map(|&(v, bits)| (self.resolve(v), bits))
    }

    /// `x + c` or `x - c` (`opcode(args)`, `c` a constant, a 64-bit
    /// type) as `y + k`, when `x` is `y + k'` of the same type (recorded
    /// as such): the root `y` and `k`. `y` when `k` is 0 (and `x` for
    /// `x ± 0`). Exact: 64-bit wrap-around arithmetic is associative.
    pub fn reassociate(ops: &[TraceOp], opcode: &Opcode, args: &[Val]) -> Option<(Val, i64)> {
        // 64-bit types only: wrapping to them changes no register, so
        // this does not even rely on operands being canonical.
        let (x, c, ty) = order::offset_of(opcode, args).filter(|f| !f.0.is_const())?;
        match def(ops, x).and_then(|d| order::offset_of(&d.opcode, &d.args)) {
            Some((y, k, t)) if t == ty => Some((y, k.wrapping_add(c))),
            // `x + 0`, `x - 0`
            _ if c == 0 => Some((x, 0)),
            _ => None,
        }
    }

    /// `opcode(args)` was recorded as `result` (concrete value `bits`).
    /// (An operation [`HeapCache::lookup_pure`] knows keeps its first
    /// result.)
    pub fn add_pure(&mut self, opcode: Opcode, args: &[Val], result: Val, bits: u64) {
        if let Some(key) = ArgKey::of(args) {
            let key = (key, self.twins.canonical(&opcode));
            if let std::collections::hash_map::Entry::Vacant(e) = self.pure.entry(key) {
                e.insert((result, bits));
                self.concrete.push(bits as usize);
            }
        }
    }

    // -----------------------------------------------------------------
    // The heap.

    /// The location a read operation reads, if it is one.
    pub fn read_loc(&self, ops: &[TraceOp], opcode: &Opcode, args: &[Val]) -> Option<Loc> {
        Some(match *opcode {
            Opcode::GetField(descr) => Loc::Field {
                base: args[0],
                descr,
            },
            Opcode::Load(ty) => self.raw_loc(ops, args[0], ty),
            Opcode::GetItem(descr) => Loc::Item {
                ptr: args[0],
                idx: args[1],
                descr,
            },
            Opcode::VecLen(descr) => Loc::VecLen {
                vec: args[0],
                descr,
            },
            Opcode::VecPtr(descr) => Loc::VecPtr {
                vec: args[0],
                descr,
            },
            Opcode::VecCap(descr) => Loc::VecCap {
                vec: args[0],
                descr,
            },
            Opcode::EnumTag(descr) => Loc::Tag {
                addr: args[0],
                descr,
            },
            Opcode::StringPtr => Loc::StrPtr(args[0]),
            Opcode::StringLen => Loc::StrLen(args[0]),
            _ => return None,
        })
    }

    /// The location, value and scalar type of a write operation.
    pub fn write_loc(
        &self,
        ops: &[TraceOp],
        opcode: &Opcode,
        args: &[Val],
    ) -> Option<(Loc, Val, ScalarTy)> {
        let t = self.tables;
        match *opcode {
            Opcode::SetField(descr) => t.fields[descr].ty.map(|ty| {
                let loc = Loc::Field {
                    base: args[0],
                    descr,
                };
                (loc, args[1], ty)
            }),
            Opcode::SetItem(descr) => t.arrays[descr].item.map(|ty| {
                let loc = Loc::Item {
                    ptr: args[0],
                    idx: args[1],
                    descr,
                };
                (loc, args[2], ty)
            }),
            Opcode::Store(ty) => Some((self.raw_loc(ops, args[0], ty), args[1], ty)),
            _ => None,
        }
    }

    /// The location a `load`/`store` of `ty` at `addr` touches.
    fn raw_loc(&self, ops: &[TraceOp], addr: Val, ty: ScalarTy) -> Loc {
        raw_loc(self.tables, def(ops, addr), addr, ty)
    }

    /// What the trace knows `loc` holds, with its concrete value: at
    /// `loc`, or at the same location under a twin descr.
    pub fn lookup(&self, loc: &Loc) -> Option<(Val, u64)> {
        let found = self.heap.get(loc).or_else(|| {
            let twins: &[u16] = match *loc {
                Loc::Field { descr, .. } => &self.twins.fields[descr.index()],
                Loc::Item { descr, .. }
                | Loc::VecLen { descr, .. }
                | Loc::VecPtr { descr, .. }
                | Loc::VecCap { descr, .. } => &self.twins.arrays[descr.index()],
                _ => &[],
            };
            twins
                .iter()
                .find_map(|&d| self.heap.get(&with_descr(*loc, d)))
        });
        found.map(|(v, bits)| (self.resolve(v), bits))
    }

    /// The concrete values the cache was given from the `from`-th on
    /// (all it may answer with are among them: the tracer's GC roots,
    /// as some are addresses of GC objects or into them).
    pub fn concrete_values_from(&self, from: usize) -> &[usize] {
        &self.concrete[from.min(self.concrete.len())..]
    }

    /// `loc` was read: it holds `v` (concrete value `bits`).
    pub fn remember(&mut self, loc: Loc, v: Val, bits: u64) {
        self.heap.insert(loc, (v, bits));
        self.concrete.push(bits as usize);
    }

    /// `v` (concrete value `bits`), of type `ty`, was written to `loc`
    /// (after `invalidate(Effect::Write(loc))` or `Effect::Store`).
    pub fn written(&mut self, ops: &[TraceOp], loc: Loc, v: Val, ty: ScalarTy, bits: u64) {
        if reads_back(self.tables, v, ty, &|v| def(ops, v)) {
            self.heap.insert(loc, (v, bits));
            self.concrete.push(bits as usize);
        } else {
            self.heap.remove(&loc);
        }
    }

    /// Forget what `effect` may change.
    pub fn invalidate(&mut self, ops: &[TraceOp], effect: &Effect) {
        let t = self.tables;
        let call;
        let effect = match *effect {
            Effect::Call(descr) => {
                call = call_effects(t, descr);
                Hit::Call(&call)
            }
            Effect::Write(w, v) => Hit::Write(w, v),
            Effect::Store => Hit::Store,
            Effect::Resize(vec, descr) => Hit::Resize(vec, descr),
            Effect::SetLen(vec, descr) => Hit::SetLen(vec, descr),
            Effect::Everything => Hit::Everything,
        };
        let def = |v: Val| def(ops, v);
        let descr_may_be_hit = |d: FieldId| effect.may_hit_field(t, d, &def);
        let facts = &mut self.facts;
        self.heap.forget(descr_may_be_hit, |loc, (held, _)| {
            effect.hits(t, loc, held, &def, facts)
        });
    }

    // -----------------------------------------------------------------
    // Guards.

    /// Whether `v` is known to be true (non-zero) or false.
    pub fn known_truth(&self, v: Val) -> Option<bool> {
        match self.resolve(v).const_bits() {
            Some(c) => Some(c != 0),
            None => self.truth.get(&v).copied(),
        }
    }

    /// A guard proved `v` equal to the constant `c`.
    pub fn learn_value(&mut self, v: Val, c: Val) {
        debug_assert!(!v.is_const() && c.is_const());
        self.known.insert(v, c);
    }

    /// A `guard_true(v)` (`truth`) or `guard_false(v)` was recorded: learn
    /// what it proved. Returns the values that became constants, to replace
    /// in the frames' registers.
    pub fn learn_truth(&mut self, ops: &[TraceOp], v: Val, truth: bool) -> Vec<(Val, Val)> {
        let mut consts = Vec::new();
        self.truth.insert(v, truth);
        let d = def(ops, v);
        let is_bool =
            d.is_some_and(|d| matches!(d.opcode, Opcode::IntCmp(..) | Opcode::FloatCmp(_)));
        if !truth || is_bool {
            self.learn_const(v, Val::Int(truth as i64), &mut consts);
        }
        if let Some(&TraceOp {
            opcode: Opcode::IntCmp(op, ty),
            ref args,
            ..
        }) = d
        {
            let (a, b) = (args[0], args[1]);
            // The negation and the mirror image: the same comparison.
            let facts = [
                (negate(op), [a, b], !truth),
                (mirror(op), [b, a], truth),
                (negate(mirror(op)), [b, a], !truth),
            ];
            for (op, args, truth) in facts {
                self.learn_fact(Opcode::IntCmp(op, ty), &args, truth, &mut consts);
            }
            // Unsigned comparisons compare the registers as `u64`.
            let holds = if truth { op } else { negate(op) };
            self.order.learn_cmp(holds, ty, a, b);
            // `int_eq` compares the whole registers: equal to a constant is
            // that constant.
            if (op == CmpOp::Eq && truth) || (op == CmpOp::Ne && !truth) {
                match (a.is_const(), b.is_const()) {
                    (false, true) => self.learn_const(a, b, &mut consts),
                    (true, false) => self.learn_const(b, a, &mut consts),
                    _ => {}
                }
            }
        }
        consts
    }

    /// `x - y` (64-bit wrap-around, recorded as `result`): when a guard
    /// proved `y <= x` (no wrap-around), `result <= x`.
    pub fn learn_sub(&mut self, x: Val, y: Val, result: Val) {
        if !result.is_const() && result != x && self.proves_below(y, x, false) {
            self.order.add(result, x, false);
        }
    }

    /// Do the guards prove `a <= b` (`a < b` if `strict`), as `u64`? A
    /// short search (it runs for every unsigned comparison traced): up to
    /// 6 values in between, 64 visited.
    fn proves_below(&self, a: Val, b: Val, strict: bool) -> bool {
        (a == b && !strict) || self.order.proves(a, b, strict, 6, 64)
    }

    /// The outcome of an unsigned comparison `opcode(args)` the guards
    /// prove, if they do.
    pub fn decide(&self, opcode: &Opcode, args: &[Val]) -> Option<bool> {
        match *opcode {
            Opcode::IntCmp(op, ty) if !ty.signed() && !self.order.is_empty() => {
                order::decide(op, args[0], args[1], |x, y, s| self.proves_below(x, y, s))
            }
            _ => None,
        }
    }

    /// `v` is the constant `c` from here on.
    fn learn_const(&mut self, v: Val, c: Val, consts: &mut Vec<(Val, Val)>) {
        if self.known.insert(v, c).is_none() {
            consts.push((v, c));
        }
    }

    /// `opcode(args)` (a comparison) is known to be `truth`.
    fn learn_fact(
        &mut self,
        opcode: Opcode,
        args: &[Val],
        truth: bool,
        consts: &mut Vec<(Val, Val)>,
    ) {
        let c = Val::Int(truth as i64);
        match self.lookup_pure(&opcode, args) {
            // Recorded earlier: that result is the constant.
            Some((v, _)) if !v.is_const() => self.learn_const(v, c, consts),
            Some(_) => {}
            None => self.add_pure(opcode, args, c, truth as u64),
        }
    }
}

/// `loc` under descr `d` (of the same kind).
fn with_descr(loc: Loc, d: u16) -> Loc {
    match loc {
        Loc::Field { base, .. } => Loc::Field {
            base,
            descr: FieldId(d),
        },
        Loc::Item { ptr, idx, .. } => Loc::Item {
            ptr,
            idx,
            descr: ArrayId(d),
        },
        Loc::VecLen { vec, .. } => Loc::VecLen {
            vec,
            descr: ArrayId(d),
        },
        Loc::VecPtr { vec, .. } => Loc::VecPtr {
            vec,
            descr: ArrayId(d),
        },
        Loc::VecCap { vec, .. } => Loc::VecCap {
            vec,
            descr: ArrayId(d),
        },
        Loc::Tag { addr, .. } => Loc::Tag {
            addr,
            descr: EnumId(d),
        },
        Loc::Raw { .. } | Loc::StrPtr(_) | Loc::StrLen(_) => loc,
    }
}

/// Per descr, the other descrs with the same key: the *twins* the
/// codewriter makes of one field or array type reached through `&T` and
/// through `&mut T` (one immutable, one not). The same memory read under
/// twin descrs holds the same value.
fn twins<T, K: Eq + std::hash::Hash + Clone>(
    descrs: &[T],
    key: impl Fn(&T) -> Option<K>,
) -> Vec<Vec<u16>> {
    let mut classes: HashMap<K, Vec<u16>> = HashMap::default();
    let keys: Vec<Option<K>> = descrs.iter().map(key).collect();
    for (i, k) in keys.iter().enumerate() {
        if let Some(k) = k {
            if let Some(c) = classes.get_mut(k) {
                c.push(i as u16);
            } else {
                classes.insert(k.clone(), vec![i as u16]);
            }
        }
    }
    keys.iter()
        .enumerate()
        .map(|(i, k)| match k.as_ref().and_then(|k| classes.get(k)) {
            Some(c) => c.iter().copied().filter(|&d| d as usize != i).collect(),
            None => Vec::new(),
        })
        .collect()
}

/// An effect, ready to test locations against.
enum Hit<'a> {
    Write(Loc, Val),
    Store,
    Resize(Val, ArrayId),
    SetLen(Val, ArrayId),
    Call(&'a CallEffects),
    Everything,
}

impl Hit<'_> {
    /// May this change a field of descr `d` (of any base)? `false` only
    /// when [`Hit::hits`] is `false` for every field of that descr.
    fn may_hit_field<'e>(
        &self,
        t: &Tables,
        d: FieldId,
        def: &dyn Fn(Val) -> Option<&'e TraceOp>,
    ) -> bool {
        let any_base = Loc::Field {
            base: Val::Input(0),
            descr: d,
        };
        match *self {
            Hit::Write(Loc::Field { descr, .. }, _) => field_descrs_may_alias(t, descr, d),
            // A scalar field is never an array item.
            Hit::Write(Loc::Item { .. }, _) => false,
            Hit::Write(..) | Hit::Store | Hit::Everything => true,
            Hit::Resize(..) | Hit::SetLen(..) => false,
            Hit::Call(eff) => eff.may_change(t, &any_base, def),
        }
    }

    /// May this change what `loc` (a mutable location, holding `held`)
    /// holds?
    fn hits<'e>(
        &self,
        t: &Tables,
        loc: &Loc,
        held: Val,
        def: &dyn Fn(Val) -> Option<&'e TraceOp>,
        facts: &mut FactsMemo,
    ) -> bool {
        let scalar = matches!(loc, Loc::Field { .. } | Loc::Item { .. } | Loc::Raw { .. });
        match *self {
            Hit::Write(w, v) => match loc {
                Loc::Raw { .. } | Loc::Tag { .. } => true,
                Loc::Field { .. } | Loc::Item { .. } => {
                    facts.scalars_may_alias(t, &w, loc, def, None)
                        && !rewrites_held_value(&w, v, loc, held)
                }
                // No scalar write reaches a Vec's or a String's header.
                _ => false,
            },
            Hit::Store => scalar || matches!(loc, Loc::Tag { .. }),
            Hit::Resize(vec, d) => match *loc {
                Loc::VecLen { vec: v2, descr }
                | Loc::VecPtr { vec: v2, descr }
                | Loc::VecCap { vec: v2, descr } => {
                    vecs_may_alias(t, d, descr) && may_equal(vec, v2)
                }
                Loc::Item { descr, .. } => items_may_alias(t, d, descr),
                Loc::Raw { .. } | Loc::Tag { .. } => true,
                _ => false,
            },
            Hit::SetLen(vec, d) => match *loc {
                Loc::VecLen { vec: v2, descr } => vecs_may_alias(t, d, descr) && may_equal(vec, v2),
                Loc::Raw { .. } => true,
                _ => false,
            },
            Hit::Call(eff) => eff.may_change(t, loc, def),
            Hit::Everything => true,
        }
    }
}
