//! What every pass builds its output with: an [`Emitter`] walks beside the
//! input trace and collects the output operations.
//!
//! For each input operation a pass either keeps it ([`Emitter::keep`],
//! with its arguments as the pass rewrote them), replaces its result by
//! another value ([`Emitter::replace`]: a constant, or an earlier
//! equivalent value) or drops it ([`Emitter::drop_op`]). The emitter maps
//! input values to output values, so that a replacement shows in every
//! later use: operation arguments, guards' resume data and the final
//! jump's arguments. [`Emitter::learn`] records that an output value is
//! known to equal another from here on (after `guard_value(x, 7)`, `x` is
//! 7), which also applies to later uses only.
//!
//! Guards go through [`Emitter::keep_guard`]: a guard whose condition is a
//! constant that holds is dropped; one that always fails is kept, and the
//! rest of the trace — unreachable — is dropped (the final operation then
//! passes constants). `finish` drops operations a pass killed after
//! emitting them (dead stores), renumbers, renumbers the surviving guards
//! in order and recomputes their `fail_args`.
//!
//! `finish` also notes whether the output is the input unchanged
//! ([`take_unchanged`]), so that the optimizer's rounds stop without
//! keeping a copy of every trace to compare with.
//!
//! The optimizer builds several traces of a few dozen small vectors each
//! per trace it is given, and drops them again: the buffers of traces the
//! passes are done with go back to a per-thread store ([`recycle`]) that
//! the next emitters take them from, rather than to the allocator.
//!
//! A pass that has no more use for its input after one walk hands its
//! resume data to the emitter ([`Emitter::consuming`]): each kept guard's
//! then moves to the output and is substituted in place, instead of being
//! copied vector by vector (what made a long trace's guards, a few frames
//! each, the largest cost of every pass). (RPython's optimizer walks a
//! trace once, its passes chained per operation, and builds each guard's
//! resume data once at the end; here every pass walks the trace, so each
//! hands the next what its input owned.)

use crate::jitcode::{KReg, Kind};
use crate::trace::{
    FrameSnapshot, GuardInfo, Opcode, PendingWrite, Trace, TraceOp, Val, VirtualObj,
};
use std::cell::{Cell, RefCell};

/// What became of a guard handed to [`Emitter::keep_guard`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuardFate {
    /// Emitted: its condition is not known.
    Kept,
    /// Not emitted: its condition always holds.
    Dropped,
    /// Emitted, and it always fails: the rest of the trace is unreachable.
    Fails,
}

pub struct Emitter<'t> {
    src: &'t Trace,
    /// The input's resume data (`src.guards`, or moved out of it).
    input_guards: InputGuards<'t>,
    /// Input operation → its value in the output (`None`: not reached yet
    /// or without a result).
    ops_map: Vec<Option<Val>>,
    /// Output value → an equal value known from here on, for inputs and
    /// for operations by index (constants are never substituted): indexed
    /// rather than hashed, as every argument of every operation is looked
    /// up here.
    subst_inputs: Vec<Option<Val>>,
    subst_ops: Vec<Option<Val>>,
    ops: Vec<TraceOp>,
    /// The emitted guards' resume data (`TraceOp::guard` indexes it).
    guards: Vec<GuardInfo>,
    /// Operations killed after they were emitted (rare: dead stores).
    killed: Vec<u32>,
    /// Per output value (inputs, then operations), the last collection of
    /// `fail_args` that took it: deduplicates without searching.
    fail_stamp: Vec<u32>,
    /// The last collection's number (0: none yet).
    stamp: u32,
    dead: bool,
    /// The next body operation [`Emitter::next_op`] hands out.
    cursor: usize,
    /// Is the output so far the input's prefix, unchanged? (False when in
    /// doubt: it only decides whether the optimizer's rounds go on.)
    same: bool,
    /// The thread's spare buffers, held while the emitter lives: taken from
    /// without going through the thread-local each time.
    spare: RefCell<Option<Box<Spare>>>,
}

/// Where an emitter reads the input's resume data from.
enum InputGuards<'t> {
    /// The input trace's: each kept guard's is copied, substituted.
    Borrowed(&'t [GuardInfo]),
    /// Handed over by the pass ([`Emitter::consuming`]): each kept
    /// guard's moves to the output and is substituted in place, with
    /// nothing allocated or copied (`movable`: each guard index is used
    /// by one operation only, as in every trace the tracer records;
    /// otherwise they are copied as when borrowed).
    Owned {
        guards: Vec<GuardInfo>,
        movable: bool,
    },
    /// None wanted ([`Emitter::without_resume_data`]).
    Dropped,
}

impl Drop for Emitter<'_> {
    fn drop(&mut self) {
        if let Some(mut spare) = self.spare.get_mut().take() {
            spare.maps.put(std::mem::take(&mut self.ops_map));
            spare.stamps.put(std::mem::take(&mut self.fail_stamp));
            if let InputGuards::Owned { guards, .. } = &mut self.input_guards {
                // (Those of the guards that were dropped, and the husks.)
                spare.put_guards(std::mem::take(guards));
            }
            give_back(spare);
        }
    }
}

/// Spare vectors of one element type, by capacity: class `k` holds
/// vectors of capacity at least `2^k`, so that any vector taken from the
/// class of a request fits it without growing (growing copies). Vectors
/// handed out are allocated with a power of two capacity, at least `MIN`.
struct Pool<T, const MIN: usize> {
    classes: [Vec<Vec<T>>; CLASSES],
}

/// Capacities up to `2^(CLASSES - 1)` are kept.
const CLASSES: usize = 16;
/// How many vectors a class keeps at most: enough for every frame of
/// every guard of a long trace (a Lox loop of 5,000 operations has over
/// 2,000 guards of a few frames each; with fewer, each pass freed and
/// allocated again most of them). The store never holds more than the
/// largest two traces in flight needed at once.
const CLASS_MAX: usize = 1 << 14;

impl<T, const MIN: usize> Default for Pool<T, MIN> {
    fn default() -> Self {
        Pool {
            classes: std::array::from_fn(|_| Vec::new()),
        }
    }
}

impl<T, const MIN: usize> Pool<T, MIN> {
    /// How many vectors it holds.
    fn size(&self) -> usize {
        self.classes.iter().map(|c| c.len()).sum()
    }

    /// An empty vector for at least `n` items.
    #[inline]
    fn take(&mut self, n: usize) -> Vec<T> {
        let cap = n.max(MIN).next_power_of_two();
        let k = cap.trailing_zeros() as usize;
        match self.classes.get_mut(k).and_then(|c| c.pop()) {
            Some(v) => v,
            None => Vec::with_capacity(cap),
        }
    }

    /// Drops vectors, the largest first, until those kept hold at most
    /// `budget` bytes of items.
    fn trim(&mut self, budget: usize) {
        let item = std::mem::size_of::<T>().max(1);
        let mut kept = 0usize;
        for (k, class) in self.classes.iter_mut().enumerate() {
            let bytes = item << k;
            let room = budget.saturating_sub(kept) / bytes;
            class.truncate(room);
            class.shrink_to_fit();
            kept += class.len() * bytes;
        }
    }

    /// `v` is not needed any more.
    #[inline]
    fn put(&mut self, mut v: Vec<T>) {
        let cap = v.capacity();
        if cap < MIN {
            return;
        }
        let k = (usize::BITS - 1 - cap.leading_zeros()) as usize;
        if let Some(c) = self.classes.get_mut(k) {
            if c.len() < CLASS_MAX {
                v.clear();
                c.push(v);
            }
        }
    }
}

/// Spare buffers (see the module doc).
#[derive(Default)]
struct Spare {
    vals: Pool<Val, 1>,
    regs: Pool<(KReg, Val), 8>,
    frames: Pool<FrameSnapshot, 1>,
    ops: Pool<TraceOp, 16>,
    guards: Pool<GuardInfo, 4>,
    maps: Pool<Option<Val>, 16>,
    stamps: Pool<u32, 16>,
}

impl Spare {
    fn size(&self) -> usize {
        self.vals.size() + self.regs.size() + self.ops.size()
    }

    /// Keeps at most [`SPARE_BUDGET`] bytes per pool, the smallest
    /// vectors first.
    fn trim(&mut self) {
        self.vals.trim(SPARE_BUDGET);
        self.regs.trim(SPARE_BUDGET);
        self.frames.trim(SPARE_BUDGET);
        self.ops.trim(SPARE_BUDGET);
        self.guards.trim(SPARE_BUDGET);
        self.maps.trim(SPARE_BUDGET);
        self.stamps.trim(SPARE_BUDGET);
    }

    fn recycle(&mut self, t: Trace) {
        let Trace {
            mut ops, guards, ..
        } = t;
        for op in ops.drain(..) {
            self.vals.put(op.args);
        }
        self.ops.put(ops);
        self.put_guards(guards);
    }

    fn put_guards(&mut self, mut guards: Vec<GuardInfo>) {
        for g in guards.drain(..) {
            let mut frames = g.frames;
            for f in frames.drain(..) {
                self.regs.put(f.regs);
            }
            self.frames.put(frames);
            self.vals.put(g.fail_args);
        }
        self.guards.put(guards);
    }
}

thread_local! {
    /// The store: an emitter holds it while it lives (see `Emitter::spare`).
    static SPARE: Cell<Option<Box<Spare>>> = const { Cell::new(None) };
}

/// The store, taken from the thread (a new one if an emitter holds it).
fn take_spare() -> Box<Spare> {
    SPARE.with(|s| s.take()).unwrap_or_default()
}

/// Give the store back (one of two, if another emitter gave one back in
/// the meantime: they are only caches).
fn give_back(spare: Box<Spare>) {
    SPARE.with(|s| {
        if let Some(other) = s.take() {
            let keep = if other.size() >= spare.size() {
                other
            } else {
                spare
            };
            s.set(Some(keep));
        } else {
            s.set(Some(spare));
        }
    })
}

/// Hand the buffers of a trace no one needs any more to the next emitters.
/// Bytes of items one pool of the store keeps between traces
/// ([`trim_spare_buffers`]).
const SPARE_BUDGET: usize = 256 << 10;

/// Called once a trace is optimized: the store keeps the small vectors
/// every trace needs by the thousand, up to [`SPARE_BUDGET`] bytes per
/// pool, and gives the rest back to the allocator. Kept whole, it held
/// the largest buffers of every size of trace the VM had optimized:
/// 20 MB of a JIT'd UM's 48 MB of max RSS on sandmark.
pub fn trim_spare_buffers() {
    SPARE.with(|s| {
        if let Some(mut spare) = s.take() {
            spare.trim();
            s.set(Some(spare));
        }
    });
}

pub(crate) fn recycle(t: Trace) {
    let mut spare = take_spare();
    spare.recycle(t);
    give_back(spare);
}

thread_local! {
    /// What the last [`Emitter::finish`] on this thread produced, when its
    /// output equals its input: the output's buffers, to recognise it.
    static UNCHANGED: Cell<Option<Buffers>> = const { Cell::new(None) };
}

type Buffers = (usize, usize, usize, usize);

/// The identity of a trace's buffers (moving a `Trace` keeps them).
fn buffers_of(t: &Trace) -> Buffers {
    (
        t.ops.as_ptr() as usize,
        t.ops.len(),
        t.guards.as_ptr() as usize,
        t.guards.len(),
    )
}

/// Forget what the last [`Emitter::finish`] noted.
pub(crate) fn clear_unchanged() {
    UNCHANGED.with(|c| c.set(None));
}

/// Is `t` the output of the last [`Emitter::finish`] on this thread since
/// [`clear_unchanged`], and equal to that emitter's input? (A pass that
/// does not go through an emitter, or changes its output afterwards,
/// reads as changed.) Forgets the answer.
pub(crate) fn take_unchanged(t: &Trace) -> bool {
    let noted = UNCHANGED.with(|c| c.take());
    // (An empty `ops` has a dangling pointer shared by every empty Vec; a
    // trace always ends with a final operation.)
    !t.ops.is_empty() && noted == Some(buffers_of(t))
}

/// Note that `t` was returned unchanged by a pass without an emitter.
pub(crate) fn note_unchanged(t: &Trace) {
    UNCHANGED.with(|c| c.set(Some(buffers_of(t))));
}

/// Does a guard on these (constant) arguments hold? `None` when an
/// argument is not a constant.
pub fn guard_outcome(opcode: &Opcode, args: &[Val]) -> Option<bool> {
    match opcode {
        Opcode::GuardTrue => args[0].const_bits().map(|b| b != 0),
        Opcode::GuardFalse => args[0].const_bits().map(|b| b == 0),
        Opcode::GuardValue => match (args[0].const_bits(), args[1].const_bits()) {
            (Some(a), Some(b)) => Some(a == b),
            _ if args[0] == args[1] => Some(true),
            _ => None,
        },
        _ => None,
    }
}

impl<'t> Emitter<'t> {
    pub fn new(src: &'t Trace) -> Emitter<'t> {
        assert!(
            src.ops.last().is_some_and(|o| o.opcode.is_final()),
            "metatrace: the optimizer needs a trace ending with jump or jump_to"
        );
        let mut spare = take_spare();
        let mut ops_map = spare.maps.take(src.ops.len());
        ops_map.resize(src.ops.len(), None);
        let ops = spare.ops.take(src.ops.len());
        let guards = spare.guards.take(src.guards.len());
        let mut fail_stamp = spare.stamps.take(src.inputs.len() + src.ops.len());
        fail_stamp.resize(src.inputs.len() + src.ops.len(), 0);
        Emitter {
            src,
            input_guards: InputGuards::Borrowed(&src.guards),
            ops_map,
            subst_inputs: Vec::new(),
            subst_ops: Vec::new(),
            ops,
            guards,
            killed: Vec::new(),
            fail_stamp,
            stamp: 0,
            dead: false,
            cursor: 0,
            same: true,
            spare: RefCell::new(Some(spare)),
        }
    }

    /// An emitter that owns the input's resume data, `guards`, taken out
    /// of `src` (whose `guards` are then empty): a pass that has no more
    /// use for its input saves copying every guard's.
    pub fn consuming(src: &'t Trace, guards: Vec<GuardInfo>) -> Emitter<'t> {
        debug_assert!(src.guards.is_empty(), "the guards are handed over");
        let mut seen = vec![false; guards.len()];
        let movable = src.ops.iter().filter_map(|o| o.guard).all(|g| {
            let first = seen.get(g as usize) == Some(&false);
            if first {
                seen[g as usize] = true;
            }
            first
        });
        let mut e = Emitter::new(src);
        e.guards.reserve(guards.len());
        e.input_guards = InputGuards::Owned { guards, movable };
        e
    }

    /// An emitter whose output is looked at but never run: its guards get
    /// no resume data (a walk for what a pass learns on the way, such as
    /// `intbounds::exit_bounds`, need not copy every guard's).
    pub fn without_resume_data(src: &'t Trace) -> Emitter<'t> {
        let mut e = Emitter::new(src);
        e.input_guards = InputGuards::Dropped;
        e
    }

    fn spare(&self) -> std::cell::RefMut<'_, Spare> {
        std::cell::RefMut::map(self.spare.borrow_mut(), |s| {
            &mut **s.as_mut().expect("held until the emitter is dropped")
        })
    }

    /// The input trace.
    pub fn src(&self) -> &'t Trace {
        self.src
    }

    /// The operations to walk: all but the final jump, which `finish`
    /// handles.
    pub fn body_len(&self) -> usize {
        self.src.ops.len() - 1
    }

    /// The next body operation to rewrite, its arguments mapped into
    /// `args`; `None` at the end of the body, or once a guard that always
    /// fails made the rest unreachable. A pass's loop:
    /// `while let Some(i) = e.next_op(&mut args) { ... }`.
    pub fn next_op(&mut self, args: &mut Vec<Val>) -> Option<usize> {
        if self.dead || self.cursor >= self.body_len() {
            return None;
        }
        let i = self.cursor;
        self.cursor += 1;
        self.args_into(i, args);
        Some(i)
    }

    /// Has a guard that always fails been emitted? Then nothing more is.
    pub fn is_dead(&self) -> bool {
        self.dead
    }

    /// The output value of an input value, with what is known about it.
    #[inline]
    pub fn map(&self, v: Val) -> Val {
        let v = match v {
            Val::Op(i) => self.ops_map[i as usize].unwrap_or_else(|| {
                panic!("metatrace: optimizer: value of op {i} used before it is defined")
            }),
            v => v,
        };
        self.resolve(v)
    }

    /// An output value with what is known about it.
    #[inline]
    pub fn resolve(&self, mut v: Val) -> Val {
        loop {
            let next = match v {
                Val::Input(i) => self.subst_inputs.get(i as usize),
                Val::Op(i) => self.subst_ops.get(i as usize),
                _ => None,
            };
            match next {
                Some(Some(w)) => v = *w,
                _ => return v,
            }
        }
    }

    /// The output arguments of input operation `i`.
    pub fn args(&self, i: usize) -> Vec<Val> {
        let src = &self.src.ops[i].args;
        let mut v = self.spare().vals.take(src.len());
        v.extend(src.iter().map(|a| self.map(*a)));
        v
    }

    /// A vector holding `items` (for [`Emitter::keep`] and the like).
    pub fn vals(&self, items: &[Val]) -> Vec<Val> {
        let mut v = self.spare().vals.take(items.len());
        v.extend_from_slice(items);
        v
    }

    /// [`Emitter::args`] into `buf` (replacing its contents): a pass that
    /// often replaces or drops the operation allocates only for the ones it
    /// keeps.
    pub fn args_into(&self, i: usize, buf: &mut Vec<Val>) {
        buf.clear();
        buf.extend(self.src.ops[i].args.iter().map(|a| self.map(*a)));
    }

    /// The output operation defining an output value.
    pub fn def(&self, v: Val) -> Option<&TraceOp> {
        match v {
            Val::Op(i) => self.ops.get(i as usize),
            _ => None,
        }
    }

    /// Kind of an output value.
    pub fn kind_of(&self, v: Val) -> Kind {
        match v {
            Val::Input(i) => self.src.inputs[i as usize],
            Val::Op(i) => self.ops[i as usize].result.expect("a value with a result"),
            Val::Int(_) => Kind::Int,
            Val::Ref(_) => Kind::Ref,
            Val::Float(_) => Kind::Float,
            Val::Virtual(_) => Kind::Ref,
        }
    }

    /// Emit a new operation (not a guard). Returns its value (for
    /// operations without a result, `Val::Op` of its index, for `kill`).
    pub fn emit(&mut self, opcode: Opcode, args: Vec<Val>, result: Option<Kind>) -> Val {
        debug_assert!(!opcode.is_guard() && !opcode.is_final());
        self.same = false;
        self.push(opcode, args, result)
    }

    fn push(&mut self, opcode: Opcode, args: Vec<Val>, result: Option<Kind>) -> Val {
        if self.dead {
            return Val::constant(result.unwrap_or(Kind::Int), 0);
        }
        self.ops.push(TraceOp {
            opcode,
            args,
            result,
            guard: None,
        });
        Val::Op(self.ops.len() as u32 - 1)
    }

    /// Keep input operation `i` with output arguments `args`; returns its
    /// output value (see `emit`). Guards go through `keep_guard`.
    pub fn keep(&mut self, i: usize, args: Vec<Val>) -> Val {
        let op = &self.src.ops[i];
        if op.opcode.is_guard() {
            self.keep_guard(i, args, &[]);
            return Val::Int(0);
        }
        if self.same {
            self.same = self.ops.len() == i && op.guard.is_none() && args == op.args;
        }
        let v = self.push(op.opcode.clone(), args, op.result);
        if op.result.is_some() {
            self.ops_map[i] = Some(v);
        }
        v
    }

    /// Keep guard `i` with output arguments `args`, unless its condition
    /// is a constant that holds. `own` substitutes values in this guard's
    /// resume data only (what is known when it fails).
    pub fn keep_guard(&mut self, i: usize, args: Vec<Val>, own: &[(Val, Val)]) -> GuardFate {
        if self.dead {
            return GuardFate::Dropped;
        }
        let op = &self.src.ops[i];
        debug_assert!(op.opcode.is_guard());
        let outcome = guard_outcome(&op.opcode, &args);
        if outcome == Some(true) {
            self.same = false;
            return GuardFate::Dropped;
        }
        let g = op.guard.expect("a guard has resume data") as usize;
        let mut same =
            self.same && self.ops.len() == i && g == self.guards.len() && args == op.args;
        // While the output is the input so far and nothing is known to be
        // equal to anything, every value maps to itself.
        let identity =
            same && own.is_empty() && self.subst_inputs.is_empty() && self.subst_ops.is_empty();
        if let InputGuards::Owned {
            guards,
            movable: true,
        } = &mut self.input_guards
        {
            let info = std::mem::replace(
                &mut guards[g],
                GuardInfo {
                    frames: Vec::new(),
                    virtuals: Vec::new(),
                    pending: Vec::new(),
                    fail_args: Vec::new(),
                },
            );
            return self.keep_moved_guard(i, args, own, info, same, identity, outcome);
        }
        if let InputGuards::Dropped = self.input_guards {
            self.same = false;
            let info = GuardInfo {
                frames: Vec::new(),
                virtuals: Vec::new(),
                pending: Vec::new(),
                fail_args: Vec::new(),
            };
            return self.push_guard(i, args, info, outcome);
        }
        let input: std::borrow::Cow<'t, GuardInfo> = match &self.input_guards {
            InputGuards::Borrowed(guards) => {
                let guards: &'t [GuardInfo] = guards;
                std::borrow::Cow::Borrowed(&guards[g])
            }
            InputGuards::Owned { guards, .. } => std::borrow::Cow::Owned(guards[g].clone()),
            InputGuards::Dropped => unreachable!("handled above"),
        };
        let input = &*input;
        let mut info = {
            let spare = &mut *self.spare();
            let mut frames = spare.frames.take(input.frames.len());
            frames.extend(input.frames.iter().map(|f| FrameSnapshot {
                jitcode: f.jitcode,
                pc: f.pc,
                regs: spare.regs.take(f.regs.len()),
            }));
            let fail_args = spare.vals.take(input.fail_args.len());
            GuardInfo {
                frames,
                virtuals: Vec::new(),
                pending: Vec::new(),
                fail_args,
            }
        };
        for obj in &input.virtuals {
            let fields = obj
                .fields
                .iter()
                .map(|&(w, v)| (w, self.substitute(v, own)));
            let obj = VirtualObj {
                descr: obj.descr,
                fields: fields.collect(),
            };
            same &= input.virtuals.get(info.virtuals.len()) == Some(&obj);
            info.virtuals.push(obj);
        }
        for w in &input.pending {
            let args: Vec<Val> = w.args.iter().map(|&v| self.substitute(v, own)).collect();
            same &= args == w.args;
            info.pending.push(PendingWrite {
                opcode: w.opcode.clone(),
                args,
            });
        }
        for (out, f) in info.frames.iter_mut().zip(&input.frames) {
            if identity {
                out.regs.extend_from_slice(&f.regs);
                continue;
            }
            for &(r, v) in &f.regs {
                let w = self.substitute(v, own);
                same &= w == v;
                out.regs.push((r, w));
            }
        }
        self.refresh_fail_args(&mut info);
        self.same = same && info.fail_args == input.fail_args;
        self.push_guard(i, args, info, outcome)
    }

    /// [`Emitter::keep_guard`] of a guard whose resume data `info` the
    /// emitter owns: substituted in place.
    #[allow(clippy::too_many_arguments)]
    fn keep_moved_guard(
        &mut self,
        i: usize,
        args: Vec<Val>,
        own: &[(Val, Val)],
        mut info: GuardInfo,
        mut same: bool,
        identity: bool,
        outcome: Option<bool>,
    ) -> GuardFate {
        if !identity {
            for obj in &mut info.virtuals {
                for (_, v) in &mut obj.fields {
                    let w = self.substitute(*v, own);
                    same &= w == *v;
                    *v = w;
                }
            }
            for f in &mut info.frames {
                for (_, v) in &mut f.regs {
                    let w = self.substitute(*v, own);
                    same &= w == *v;
                    *v = w;
                }
            }
            for pw in &mut info.pending {
                for v in &mut pw.args {
                    let w = self.substitute(*v, own);
                    same &= w == *v;
                    *v = w;
                }
            }
        }
        let mut fail_args = self.spare().vals.take(info.fail_args.len());
        self.fail_args_into(&info, &mut fail_args);
        same &= fail_args == info.fail_args;
        let old = std::mem::replace(&mut info.fail_args, fail_args);
        self.spare().vals.put(old);
        self.same = same;
        self.push_guard(i, args, info, outcome)
    }

    /// Emit guard `i` with its output resume data.
    fn push_guard(
        &mut self,
        i: usize,
        args: Vec<Val>,
        info: GuardInfo,
        outcome: Option<bool>,
    ) -> GuardFate {
        self.guards.push(info);
        self.ops.push(TraceOp {
            opcode: self.src.ops[i].opcode.clone(),
            args,
            result: None,
            guard: Some(self.guards.len() as u32 - 1),
        });
        if outcome == Some(false) {
            self.dead = true;
            GuardFate::Fails
        } else {
            GuardFate::Kept
        }
    }

    /// A value of the input's resume data in the output's.
    #[inline]
    fn substitute(&self, v: Val, own: &[(Val, Val)]) -> Val {
        let w = self.map(v);
        match own.iter().find(|(x, _)| *x == w) {
            Some((_, c)) => *c,
            None => w,
        }
    }

    /// `info.fail_args` collected again (in its own buffer).
    fn refresh_fail_args(&mut self, info: &mut GuardInfo) {
        let mut fail_args = std::mem::take(&mut info.fail_args);
        self.fail_args_into(info, &mut fail_args);
        info.fail_args = fail_args;
    }

    /// What [`GuardInfo::collect_fail_args`] collects, into `out`: the
    /// non-constant values of the frames, the virtuals' fields and the
    /// delayed writes, in order, without duplicates (found by stamping
    /// each value's slot rather than by searching or hashing).
    fn fail_args_into(&mut self, info: &GuardInfo, out: &mut Vec<Val>) {
        out.clear();
        let n_inputs = self.src.inputs.len();
        let need = n_inputs + self.ops.len();
        if self.fail_stamp.len() < need {
            // (More operations than the input had: a pass emits new ones.)
            self.fail_stamp
                .resize(need.max(2 * self.fail_stamp.len()), 0);
        }
        self.stamp += 1;
        let stamp = self.stamp;
        for v in info.values() {
            let slot = match v {
                Val::Input(k) if (k as usize) < n_inputs => k as usize,
                Val::Op(k) if (k as usize) < self.ops.len() => n_inputs + k as usize,
                Val::Virtual(_) => continue,
                v if v.is_const() => continue,
                // (not a value of the output: not in valid traces)
                v => {
                    if !out.contains(&v) {
                        out.push(v);
                    }
                    continue;
                }
            };
            if self.fail_stamp[slot] != stamp {
                self.fail_stamp[slot] = stamp;
                out.push(v);
            }
        }
    }

    /// Guard `i` with arguments `args`, whose outcome a pass may have
    /// decided: dropped if it always holds, kept as always failing if it
    /// never does (`None` back), else the arguments back to go on with.
    pub fn settle_guard(
        &mut self,
        i: usize,
        args: Vec<Val>,
        outcome: Option<bool>,
    ) -> Option<Vec<Val>> {
        match outcome {
            Some(true) => {
                self.drop_op(i);
                None
            }
            Some(false) => {
                self.keep_failing_guard(i, args);
                None
            }
            None => Some(args),
        }
    }

    /// Keep guard `i`, known to always fail: the rest is unreachable.
    pub fn keep_failing_guard(&mut self, i: usize, args: Vec<Val>) {
        if self.keep_guard(i, args, &[]) == GuardFate::Kept {
            self.dead = true;
        }
    }

    /// The code after the last emitted guard is unreachable (the facts
    /// known there contradict each other).
    pub fn set_unreachable(&mut self) {
        self.dead = true;
    }

    /// Input operation `i` is not emitted; its result is `v`.
    pub fn replace(&mut self, i: usize, v: Val) {
        self.same = false;
        self.ops_map[i] = Some(v);
    }

    /// Input operation `i` (without a result) is not emitted.
    pub fn drop_op(&mut self, i: usize) {
        self.same = false;
        debug_assert!(self.src.ops[i].result.is_none() || self.dead);
        if let Some(k) = self.src.ops[i].result {
            self.ops_map[i] = Some(Val::constant(k, 0));
        }
    }

    /// Output value `x` is known to equal `v` from here on.
    pub fn learn(&mut self, x: Val, v: Val) {
        let x = self.resolve(x);
        let v = self.resolve(v);
        if x != v && !x.is_const() {
            // `x` is resolved: it has no substitution yet.
            let (table, k) = match x {
                Val::Input(k) => (&mut self.subst_inputs, k as usize),
                Val::Op(k) => (&mut self.subst_ops, k as usize),
                _ => unreachable!("not a constant"),
            };
            if table.len() <= k {
                let n = if matches!(x, Val::Op(_)) {
                    self.ops_map.len()
                } else {
                    self.src.inputs.len()
                };
                table.resize((k + 1).max(n), None);
            }
            table[k] = Some(v);
        }
    }

    /// Remove an already emitted operation without a result.
    pub fn kill(&mut self, v: Val) {
        if let Val::Op(n) = v {
            debug_assert!(self.ops[n as usize].result.is_none());
            self.same = false;
            self.killed.push(n);
        }
    }

    /// The resume data of the last emitted guard, for a pass that
    /// describes objects in it (`virtuals`). The caller keeps `fail_args`
    /// right.
    pub fn last_guard_mut(&mut self) -> Option<&mut GuardInfo> {
        self.same = false;
        self.guards.last_mut()
    }

    /// Number of operations emitted so far.
    pub fn emitted(&self) -> usize {
        self.ops.len()
    }

    /// Number of guards emitted so far (the last one's index is one less).
    pub fn guards_emitted(&self) -> usize {
        self.guards.len()
    }

    /// Writes delayed past emitted guard `g` that happen before those its
    /// resume data delays already (`heap`: the stores it removed come
    /// before those an earlier run removed, which were the last to their
    /// locations). Recomputes its fail arguments.
    pub fn delay_writes_past(&mut self, g: usize, writes: Vec<PendingWrite>) {
        self.same = false;
        let mut info = std::mem::take(&mut self.guards[g]);
        info.pending.splice(0..0, writes);
        self.refresh_fail_args(&mut info);
        self.guards[g] = info;
    }

    /// The output trace.
    pub fn finish(mut self) -> Trace {
        // (Taken out: dropping the emitter gives its spare buffers back.)
        let mut ops = std::mem::take(&mut self.ops);
        let guards = std::mem::take(&mut self.guards);
        let src = self.src;
        let last = src.ops.last().expect("checked in new");
        let as_constants = |args: &[Val]| -> Vec<Val> {
            args.iter()
                .map(|a| {
                    if a.is_const() {
                        *a
                    } else {
                        Val::constant(src.kind_of(*a).unwrap_or(Kind::Int), 0)
                    }
                })
                .collect()
        };
        let last_i = src.ops.len() - 1;
        if self.dead && !ops.iter().any(|o| o.opcode == Opcode::Label) {
            // An unreachable label (loop peeling's) stays: the final jump's
            // arguments are counted against it.
            if let Some(label) = src.ops.iter().position(|o| o.opcode == Opcode::Label) {
                ops.push(TraceOp {
                    opcode: Opcode::Label,
                    args: as_constants(&src.ops[label].args),
                    result: None,
                    guard: None,
                });
            }
        }
        let (args, unchanged) = if self.dead {
            (as_constants(&last.args), false)
        } else {
            let mut args = self.spare().vals.take(last.args.len());
            args.extend(last.args.iter().map(|a| self.map(*a)));
            let unchanged = args == last.args;
            (args, unchanged)
        };
        let same = self.same && unchanged && ops.len() == last_i;
        ops.push(TraceOp {
            opcode: last.opcode.clone(),
            args,
            result: None,
            guard: None,
        });
        let (ops, guards) = if self.killed.is_empty() {
            (ops, guards)
        } else {
            drop_killed(ops, guards, &self.killed)
        };
        let out = Trace {
            start: src.start.clone(),
            inputs: src.inputs.clone(),
            ops,
            guards,
        };
        debug_assert!(
            !same
                || (out.ops == src.ops
                    && match &self.input_guards {
                        InputGuards::Borrowed(input) => out.guards == *input,
                        // (moved: the input's are gone)
                        InputGuards::Owned { .. } | InputGuards::Dropped => {
                            out.guards.len() == src.ops.iter().filter(|o| o.guard.is_some()).count()
                        }
                    })
        );
        UNCHANGED.with(|c| c.set(same.then(|| buffers_of(&out))));
        out
    }
}

/// A map from an output's values (its inputs and operation results) to
/// `T`, indexed rather than hashed: a pass that looks up a fact about
/// every argument of every operation (intbounds' ranges) does so by a
/// load. Constants have no entry (`get` says `None`, `insert` ignores
/// them). Built on a buffer that the pass keeps between runs
/// ([`ValMap::into_buffer`]).
pub struct ValMap<T> {
    n_inputs: usize,
    slots: Vec<Option<T>>,
}

impl<T: Copy> ValMap<T> {
    /// An empty map for a trace of `n_inputs` inputs and about `n_ops`
    /// operations, on `buffer`'s allocation.
    pub fn with_buffer(mut buffer: Vec<Option<T>>, n_inputs: usize, n_ops: usize) -> ValMap<T> {
        buffer.clear();
        buffer.resize(n_inputs + n_ops, None);
        ValMap {
            n_inputs,
            slots: buffer,
        }
    }

    #[inline]
    fn slot(&self, v: Val) -> Option<usize> {
        match v {
            Val::Input(k) => {
                debug_assert!((k as usize) < self.n_inputs);
                Some(k as usize)
            }
            Val::Op(i) => Some(self.n_inputs + i as usize),
            _ => None,
        }
    }

    #[inline]
    pub fn get(&self, v: Val) -> Option<T> {
        self.slot(v)
            .and_then(|s| self.slots.get(s).copied().flatten())
    }

    #[inline]
    pub fn insert(&mut self, v: Val, t: T) {
        if let Some(s) = self.slot(v) {
            if s >= self.slots.len() {
                // (A pass emitted more operations than its input had.)
                let n = (s + 1).max(2 * self.slots.len());
                self.slots.resize(n, None);
            }
            self.slots[s] = Some(t);
        }
    }

    /// The allocation, for the next map.
    pub fn into_buffer(self) -> Vec<Option<T>> {
        self.slots
    }
}

/// `ops` without the operations `killed`, renumbered, with their guards
/// renumbered in order.
fn drop_killed(
    ops: Vec<TraceOp>,
    guards: Vec<GuardInfo>,
    killed: &[u32],
) -> (Vec<TraceOp>, Vec<GuardInfo>) {
    let mut is_killed = vec![false; ops.len()];
    for &k in killed {
        is_killed[k as usize] = true;
    }
    let mut renum: Vec<u32> = Vec::with_capacity(ops.len());
    let mut n = 0u32;
    for k in &is_killed {
        renum.push(n);
        if !k {
            n += 1;
        }
    }
    // (Renumbering keeps the order of the values: `fail_args` stays
    // without duplicates and in order.)
    let remap = |v: &mut Val| {
        if let Val::Op(i) = v {
            *i = renum[*i as usize];
        }
    };
    let mut out_ops = Vec::with_capacity(n as usize);
    let mut out_guards = Vec::new();
    let mut guards: Vec<Option<GuardInfo>> = guards.into_iter().map(Some).collect();
    for (mut op, killed) in ops.into_iter().zip(is_killed) {
        if killed {
            continue;
        }
        op.args.iter_mut().for_each(remap);
        if let Some(g) = op.guard {
            let mut info = guards[g as usize].take().expect("one op per guard");
            info.values_mut(remap);
            info.fail_args.iter_mut().for_each(remap);
            op.guard = Some(out_guards.len() as u32);
            out_guards.push(info);
        }
        out_ops.push(op);
    }
    (out_ops, out_guards)
}

/// Would an emitter that keeps every operation of `t` as it is return `t`
/// itself? It would unless `t` numbers its guards out of order, has a guard
/// on constants, or `fail_args` other than its frames give (all only in
/// hand-made traces).
pub(crate) fn keeps_as_is(t: &Trace) -> bool {
    if !t.ops.last().is_some_and(|o| o.opcode.is_final()) {
        return false;
    }
    let n_inputs = t.inputs.len();
    let mut stamp = vec![0u32; n_inputs + t.ops.len()];
    let mut fail_args = Vec::new();
    let mut guards = 0;
    for op in &t.ops {
        if !op.opcode.is_guard() {
            if op.guard.is_some() {
                return false;
            }
            continue;
        }
        if op.result.is_some()
            || op.guard != Some(guards as u32)
            || guard_outcome(&op.opcode, &op.args).is_some()
        {
            return false;
        }
        let Some(info) = t.guards.get(guards) else {
            return false;
        };
        guards += 1;
        fail_args.clear();
        for f in &info.frames {
            for &(_, v) in &f.regs {
                let slot = match v {
                    Val::Input(k) if (k as usize) < n_inputs => k as usize,
                    Val::Op(k) if (k as usize) < t.ops.len() => n_inputs + k as usize,
                    Val::Virtual(_) => continue,
                    v if v.is_const() => continue,
                    _ => return false,
                };
                if stamp[slot] != guards as u32 {
                    stamp[slot] = guards as u32;
                    fail_args.push(v);
                }
            }
        }
        if fail_args != info.fail_args {
            return false;
        }
    }
    guards == t.guards.len()
}

/// The `call_result` operations that read the results of the call at `i`
/// (those before the next call): (index, n, kind).
pub fn call_results_after(t: &Trace, i: usize) -> Vec<(usize, u8, Kind)> {
    let mut out = Vec::new();
    for (j, op) in t.ops.iter().enumerate().skip(i + 1) {
        match op.opcode {
            Opcode::CallResult(n, k) => out.push((j, n, k)),
            Opcode::CallPure(_) | Opcode::CallResidual(_) | Opcode::CallAssembler(_) => break,
            _ => {}
        }
    }
    out
}
