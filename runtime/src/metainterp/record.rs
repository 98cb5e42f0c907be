//! The trace builder: appends operations in SSA form and keeps the
//! guards' resume data. It records as little as it can (`heapcache`):
//! pure operations on constants are folded (with the value the executor
//! computed, so that a folded result is exactly what the blackhole
//! computes) and pure operations recorded before are reused; reads of
//! memory the trace knows are the known values; writes of what memory
//! holds already are dropped; operations that may change memory make the
//! heap cache forget what they may change.

use super::heapcache::{Effect, HeapCache};
use crate::alias::Loc;
use crate::jitcode::{ArrayId, IntBinOp, Kind, Tables};
use crate::trace::{FrameSnapshot, GuardInfo, Opcode, Trace, TraceOp, TraceStart, Val};

/// The most arguments of an operation other than a call.
const MAX_ARGS: usize = 3;

/// The arguments of an operation other than a call, inline: most
/// instructions are folded or found in the cache, and need no vector.
struct Args {
    vals: [Val; MAX_ARGS],
    n: usize,
}

impl std::ops::Deref for Args {
    type Target = [Val];
    fn deref(&self) -> &[Val] {
        &self.vals[..self.n]
    }
}

pub(crate) struct Recorder {
    trace: Trace,
    cache: HeapCache,
    /// The `Ref` constants of the operations and guards recorded so far
    /// (up to `consts_seen`), for [`Recorder::publish_gc_words`].
    ref_consts: rustc_hash::FxHashSet<usize>,
    consts_seen: (usize, usize),
    /// The collector's range over `gc_words` (declared first: dropped,
    /// and so unregistered, before the words are freed).
    gc_root: crate::gc::ConservativeRoot,
    /// What [`Recorder::publish_gc_words`] has published: those
    /// constants, and the heap cache's concrete values up to
    /// `concrete_seen`. Only appended to, and only there, so that the
    /// collector's range over it never dangles.
    gc_words: Vec<usize>,
    concrete_seen: usize,
    /// A `guard_not_invalidated` was recorded after the last residual
    /// call (`Recorder::not_invalidated_checked`).
    not_invalidated_checked: bool,
}

impl Recorder {
    pub fn new(tables: &'static Tables, start: TraceStart, inputs: Vec<Kind>) -> Recorder {
        Recorder {
            trace: Trace {
                start,
                inputs,
                // (Most traces are shorter: growing copies.)
                ops: Vec::with_capacity(64),
                guards: Vec::new(),
            },
            cache: HeapCache::new(tables),
            ref_consts: Default::default(),
            consts_seen: (0, 0),
            gc_root: crate::gc::ConservativeRoot::new(),
            gc_words: Vec::new(),
            concrete_seen: 0,
            not_invalidated_checked: false,
        }
    }

    /// Publishes to the collector every address the recording holds
    /// that may point into a GC object: the `Ref` constants of its
    /// operations and resume data, and the concrete values the heap cache
    /// may answer with. The tracer calls it with its registers before
    /// anything that may collect (DESIGN §8), so that those objects are
    /// kept and do not move while the trace is recorded: a moved object
    /// would leave a stale constant in the trace, or a stale concrete
    /// value that the tracer hands to the interpreter's code the next
    /// time the cache answers (a string freed under `print`, found by
    /// `tests/lox_random.rs` under `--gc stress`). Compiled traces pin
    /// their constants the same way (`jit::compile::gc_constants`). Each
    /// call adds only what was recorded since the last: a value the cache
    /// has forgotten stays published until the trace ends.
    pub fn publish_gc_words(&mut self) {
        let (ops_seen, guards_seen) = self.consts_seen;
        let (consts, words) = (&mut self.ref_consts, &mut self.gc_words);
        let mut note = |v: &Val| {
            if let Val::Ref(addr) = *v {
                if addr != 0 && consts.insert(addr) {
                    words.push(addr);
                }
            }
        };
        for op in &self.trace.ops[ops_seen..] {
            op.args.iter().for_each(&mut note);
        }
        for g in &self.trace.guards[guards_seen..] {
            g.values().for_each(|v| note(&v));
        }
        self.consts_seen = (self.trace.ops.len(), self.trace.guards.len());
        let concrete = self.cache.concrete_values_from(self.concrete_seen);
        self.concrete_seen += concrete.len();
        self.gc_words.extend_from_slice(concrete);
        self.gc_root
            .set(self.gc_words.as_ptr(), self.gc_words.len());
    }

    /// Is there a `guard_not_invalidated` after the last residual call
    /// (or `call_assembler`)? Then a quasi-immutable read needs no other:
    /// nothing the trace does without a call invalidates it (the optimizer
    /// keeps one per such stretch too, `pure.rs`), and a long trace that
    /// reads one at every step (the UM's program fetch) records one
    /// guard, not thousands with their resume data.
    pub fn not_invalidated_checked(&self) -> bool {
        self.not_invalidated_checked
    }

    /// Operations recorded so far.
    pub fn len(&self) -> usize {
        self.trace.ops.len()
    }

    /// Record an operation as it is; its result, if it has one. (Only for
    /// operations without effects on memory and without a value the cache
    /// could know: the others go through the methods below.)
    pub fn op(&mut self, opcode: Opcode, args: Vec<Val>, result: Option<Kind>) -> Val {
        debug_assert!(!opcode.is_guard(), "guards go through `guard`");
        if matches!(opcode, Opcode::CallResidual(_) | Opcode::CallAssembler(_)) {
            self.not_invalidated_checked = false;
        }
        let at = self.trace.ops.len() as u32;
        self.trace.ops.push(TraceOp {
            opcode,
            args,
            result,
            guard: None,
        });
        Val::Op(at)
    }

    /// `v`, or the constant a guard proved it is.
    pub fn resolve(&self, v: Val) -> Val {
        self.cache.resolve(v)
    }

    fn resolve_all(&self, mut args: Vec<Val>) -> Vec<Val> {
        for a in &mut args {
            *a = self.cache.resolve(*a);
        }
        args
    }

    /// `args` resolved, inline.
    fn resolved(&self, args: &[Val]) -> Args {
        debug_assert!(args.len() <= MAX_ARGS);
        let mut out = Args {
            vals: [Val::Int(0); MAX_ARGS],
            n: args.len(),
        };
        for (o, a) in out.vals.iter_mut().zip(args) {
            *o = self.cache.resolve(*a);
        }
        out
    }

    /// A pure operation whose result (computed by the caller on the
    /// concrete values) is `bits`: a constant when every argument is one
    /// (or an unsigned comparison the guards decide), `y` for `(y + k) -
    /// k`, the earlier result when the same operation was recorded before,
    /// else recorded.
    pub fn pure(&mut self, opcode: Opcode, args: &[Val], kind: Kind, bits: u64) -> Val {
        debug_assert!(opcode.is_pure());
        let args = self.resolved(args);
        let args = &*args;
        if args.iter().all(|a| a.is_const()) {
            return Val::constant(kind, bits);
        }
        if let Some(truth) = self.cache.decide(&opcode, args) {
            debug_assert_eq!(
                truth as u64, bits,
                "metatrace: {opcode:?}{args:?} was proved {truth}"
            );
            return Val::Int(truth as i64);
        }
        // `x - y` without wrap-around is at most `x`.
        let sub_of = match (&opcode, args) {
            (Opcode::IntBin(IntBinOp::Sub, ty), &[x, y]) if ty.bits() == 64 => Some((x, y)),
            _ => None,
        };
        let v = self.pure_op(opcode, args, kind, bits);
        if let Some((x, y)) = sub_of {
            self.cache.learn_sub(x, y, v);
        }
        v
    }

    /// `pure` after folding and deciding: reassociated, reused or recorded.
    fn pure_op(&mut self, opcode: Opcode, args: &[Val], kind: Kind, bits: u64) -> Val {
        let mut opcode = opcode;
        let reassociated;
        let mut args = args;
        if let Some((y, k)) = HeapCache::reassociate(&self.trace.ops, &opcode, args) {
            if k == 0 {
                return y;
            }
            if let Opcode::IntBin(_, ty) = opcode {
                opcode = Opcode::IntBin(IntBinOp::Add, ty);
                reassociated = [y, Val::Int(k)];
                args = &reassociated;
            }
        }
        if let Some((v, known)) = self.cache.lookup_pure(&opcode, args) {
            debug_assert_eq!(
                known, bits,
                "metatrace: {opcode:?}{args:?} was {v:?} = {known:#x}, computed {bits:#x}"
            );
            debug_assert!(v.const_bits().is_none_or(|c| c == bits));
            return v;
        }
        let v = self.op(opcode.clone(), args.to_vec(), Some(kind));
        self.cache.add_pure(opcode, args, v, bits);
        v
    }

    /// A read of memory whose concrete value is `bits`: folded to `bits`
    /// when `foldable` (a constant base through an immutable descr), the
    /// known value when the trace knows what the location holds, else
    /// recorded.
    pub fn read(
        &mut self,
        opcode: Opcode,
        args: &[Val],
        kind: Kind,
        bits: u64,
        foldable: bool,
    ) -> Val {
        let args = self.resolved(args);
        let args = &*args;
        if foldable && args.iter().all(|a| a.is_const()) {
            return Val::constant(kind, bits);
        }
        let loc = self.cache.read_loc(&self.trace.ops, &opcode, args);
        if let Some(loc) = &loc {
            if let Some((v, known)) = self.cache.lookup(loc) {
                debug_assert_eq!(
                    known, bits,
                    "metatrace: {loc:?} was known to hold {v:?} = {known:#x}, read {bits:#x}"
                );
                debug_assert!(v.const_bits().is_none_or(|c| c == bits));
                return v;
            }
        }
        let v = self.op(opcode, args.to_vec(), Some(kind));
        if let Some(loc) = loc {
            self.cache.remember(loc, v, bits);
        }
        v
    }

    /// A write (`setfield`, `setitem`, `store`) of a value whose concrete
    /// value is `bits`: not recorded when the location is known to hold
    /// that value already.
    pub fn write(&mut self, opcode: Opcode, args: &[Val], bits: u64) {
        let args = self.resolved(args);
        let args = &*args;
        let Some((loc, v, ty)) = self.cache.write_loc(&self.trace.ops, &opcode, args) else {
            // (a write of no scalar type: not in verified jitcodes)
            self.effect(opcode, args.to_vec(), None, Effect::Everything);
            return;
        };
        if self.cache.lookup(&loc).is_some_and(|(known, _)| known == v) {
            return;
        }
        let effect = match opcode {
            Opcode::Store(_) => Effect::Store,
            _ => Effect::Write(loc, v),
        };
        self.op(opcode, args.to_vec(), None);
        self.cache.invalidate(&self.trace.ops, &effect);
        self.cache.written(&self.trace.ops, loc, v, ty, bits);
    }

    /// Record an operation that may change memory (`vec_push`, `vec_pop`,
    /// calls): the cache forgets what `effect` may change.
    pub fn effect(
        &mut self,
        opcode: Opcode,
        args: Vec<Val>,
        result: Option<Kind>,
        effect: Effect,
    ) -> Val {
        let args = self.resolve_all(args);
        let v = self.op(opcode, args, result);
        self.cache.invalidate(&self.trace.ops, &effect);
        v
    }

    /// The length of `vec` is `len` (concrete `bits`) after an operation
    /// recorded already (`vec_init`: 0).
    pub fn knows_len(&mut self, descr: ArrayId, vec: Val, len: Val, bits: u64) {
        let vec = self.resolve(vec);
        self.cache.remember(Loc::VecLen { vec, descr }, len, bits);
    }

    /// Forget what `effect` may change, for an operation recorded already
    /// (one with two effects: `vec_take`).
    pub fn forget(&mut self, effect: Effect) {
        self.cache.invalidate(&self.trace.ops, &effect);
    }

    /// `vec_set_len(vec, len)` (concrete length `bits`): not recorded
    /// when the length is known to be `len` already; afterwards it is.
    pub fn set_len(&mut self, descr: ArrayId, vec: Val, len: Val, bits: u64) {
        let (vec, len) = (self.resolve(vec), self.resolve(len));
        let loc = Loc::VecLen { vec, descr };
        if self
            .cache
            .lookup(&loc)
            .is_some_and(|(known, _)| known == len)
        {
            return;
        }
        self.effect(
            Opcode::VecSetLen(descr),
            vec![vec, len],
            None,
            Effect::SetLen(vec, descr),
        );
        self.cache.remember(loc, len, bits);
    }

    /// Whether `v` is known to be true (non-zero) or false.
    pub fn known_truth(&self, v: Val) -> Option<bool> {
        self.cache.known_truth(v)
    }

    /// After `guard_true(v)` (`truth`) or `guard_false(v)`: the values
    /// that became constants.
    pub fn learn_truth(&mut self, v: Val, truth: bool) -> Vec<(Val, Val)> {
        self.cache.learn_truth(&self.trace.ops, v, truth)
    }

    /// After `guard_value(v, c)`.
    pub fn learn_value(&mut self, v: Val, c: Val) {
        self.cache.learn_value(v, c)
    }

    /// Record a guard with the frames to resume if it fails.
    pub fn guard(&mut self, opcode: Opcode, args: Vec<Val>, frames: Vec<FrameSnapshot>) {
        debug_assert!(opcode.is_guard());
        if opcode == Opcode::GuardNotInvalidated {
            self.not_invalidated_checked = true;
        }
        let g = self.trace.guards.len() as u32;
        self.trace.guards.push(GuardInfo::new(frames));
        self.trace.ops.push(TraceOp {
            opcode,
            args,
            result: None,
            guard: Some(g),
        });
    }

    /// Guards recorded so far.
    pub fn guards_len(&self) -> usize {
        self.trace.guards.len()
    }

    /// The trace cut back to its first `ops` operations and `guards`
    /// guards, then ended by a guard that always fails, resuming `frames`
    /// (the program's state where it was cut), and by `end` (without
    /// arguments: it is never reached). Hands the trace over.
    pub fn cut(
        &mut self,
        ops: usize,
        guards: usize,
        frames: Vec<FrameSnapshot>,
        end: Opcode,
    ) -> Trace {
        self.trace.ops.truncate(ops);
        self.trace.guards.truncate(guards);
        self.cache.forget_facts();
        self.consts_seen = (self.consts_seen.0.min(ops), self.consts_seen.1.min(guards));
        self.guard(Opcode::GuardTrue, vec![Val::Int(0)], frames);
        self.finish(end, Vec::new())
    }

    /// Record the final jump and hand the trace over.
    pub fn finish(&mut self, opcode: Opcode, args: Vec<Val>) -> Trace {
        debug_assert!(opcode.is_final());
        self.op(opcode, args, None);
        let empty = Trace {
            start: self.trace.start.clone(),
            inputs: Vec::new(),
            ops: Vec::new(),
            guards: Vec::new(),
        };
        std::mem::replace(&mut self.trace, empty)
    }
}
