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

use crate::jitcode::Kind;
use crate::trace::{FrameSnapshot, GuardInfo, Opcode, Trace, TraceOp, Val};
use rustc_hash::FxHashMap as HashMap;

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
    /// Input operation → its value in the output (`None`: not reached yet
    /// or without a result).
    ops_map: Vec<Option<Val>>,
    /// Output value → an equal value known from here on.
    subst: HashMap<Val, Val>,
    ops: Vec<TraceOp>,
    /// Resume data of the emitted guards (`TraceOp::guard` indexes it).
    guards: Vec<Vec<FrameSnapshot>>,
    killed: Vec<bool>,
    dead: bool,
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
        Emitter {
            src,
            ops_map: vec![None; src.ops.len()],
            subst: HashMap::default(),
            ops: Vec::with_capacity(src.ops.len()),
            guards: Vec::new(),
            killed: Vec::new(),
            dead: false,
        }
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

    /// Has a guard that always fails been emitted? Then nothing more is.
    pub fn is_dead(&self) -> bool {
        self.dead
    }

    /// The output value of an input value, with what is known about it.
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
    pub fn resolve(&self, mut v: Val) -> Val {
        while let Some(w) = self.subst.get(&v) {
            v = *w;
        }
        v
    }

    /// The output arguments of input operation `i`.
    pub fn args(&self, i: usize) -> Vec<Val> {
        self.src.ops[i].args.iter().map(|a| self.map(*a)).collect()
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
        }
    }

    /// Emit a new operation (not a guard). Returns its value (for
    /// operations without a result, `Val::Op` of its index, for `kill`).
    pub fn emit(&mut self, opcode: Opcode, args: Vec<Val>, result: Option<Kind>) -> Val {
        debug_assert!(!opcode.is_guard() && !opcode.is_final());
        if self.dead {
            return Val::constant(result.unwrap_or(Kind::Int), 0);
        }
        self.ops.push(TraceOp {
            opcode,
            args,
            result,
            guard: None,
        });
        self.killed.push(false);
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
        let v = self.emit(op.opcode.clone(), args, op.result);
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
            return GuardFate::Dropped;
        }
        let g = op.guard.expect("a guard has resume data") as usize;
        let frames = self.src.guards[g]
            .frames
            .iter()
            .map(|f| FrameSnapshot {
                jitcode: f.jitcode,
                pc: f.pc,
                regs: f
                    .regs
                    .iter()
                    .map(|(r, v)| {
                        let mut w = self.map(*v);
                        if let Some((_, c)) = own.iter().find(|(x, _)| *x == w) {
                            w = *c;
                        }
                        (*r, w)
                    })
                    .collect(),
            })
            .collect();
        self.guards.push(frames);
        self.ops.push(TraceOp {
            opcode: op.opcode.clone(),
            args,
            result: None,
            guard: Some(self.guards.len() as u32 - 1),
        });
        self.killed.push(false);
        if outcome == Some(false) {
            self.dead = true;
            GuardFate::Fails
        } else {
            GuardFate::Kept
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
        self.ops_map[i] = Some(v);
    }

    /// Input operation `i` (without a result) is not emitted.
    pub fn drop_op(&mut self, i: usize) {
        debug_assert!(self.src.ops[i].result.is_none() || self.dead);
        if self.src.ops[i].result.is_some() {
            let k = self.src.ops[i].result.unwrap();
            self.ops_map[i] = Some(Val::constant(k, 0));
        }
    }

    /// Output value `x` is known to equal `v` from here on.
    pub fn learn(&mut self, x: Val, v: Val) {
        let x = self.resolve(x);
        let v = self.resolve(v);
        if x != v && !x.is_const() {
            self.subst.insert(x, v);
        }
    }

    /// Remove an already emitted operation without a result.
    pub fn kill(&mut self, v: Val) {
        if let Val::Op(n) = v {
            debug_assert!(self.ops[n as usize].result.is_none());
            self.killed[n as usize] = true;
        }
    }

    /// Number of operations emitted so far.
    pub fn emitted(&self) -> usize {
        self.ops.len()
    }

    /// The output trace.
    pub fn finish(mut self) -> Trace {
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
        if self.dead && !self.ops.iter().any(|o| o.opcode == Opcode::Label) {
            // An unreachable label (loop peeling's) stays: the final jump's
            // arguments are counted against it.
            if let Some(label) = src.ops.iter().find(|o| o.opcode == Opcode::Label) {
                self.ops.push(TraceOp {
                    opcode: Opcode::Label,
                    args: as_constants(&label.args),
                    result: None,
                    guard: None,
                });
                self.killed.push(false);
            }
        }
        let args: Vec<Val> = if self.dead {
            as_constants(&last.args)
        } else {
            last.args.iter().map(|a| self.map(*a)).collect()
        };
        self.ops.push(TraceOp {
            opcode: last.opcode.clone(),
            args,
            result: None,
            guard: None,
        });
        self.killed.push(false);

        // Drop killed operations and renumber.
        let mut renum: Vec<u32> = Vec::with_capacity(self.ops.len());
        let mut n = 0u32;
        for k in &self.killed {
            renum.push(n);
            if !k {
                n += 1;
            }
        }
        let any_killed = self.killed.iter().any(|k| *k);
        let remap = |v: Val| match v {
            Val::Op(i) if any_killed => Val::Op(renum[i as usize]),
            v => v,
        };
        let mut ops = Vec::with_capacity(n as usize);
        let mut guards = Vec::new();
        let mut frames_of = std::mem::take(&mut self.guards)
            .into_iter()
            .map(Some)
            .collect::<Vec<_>>();
        for (op, killed) in self.ops.into_iter().zip(self.killed) {
            if killed {
                continue;
            }
            let mut op = op;
            for a in &mut op.args {
                *a = remap(*a);
            }
            if let Some(g) = op.guard {
                let mut frames = frames_of[g as usize].take().expect("one op per guard");
                for f in &mut frames {
                    for (_, v) in &mut f.regs {
                        *v = remap(*v);
                    }
                }
                op.guard = Some(guards.len() as u32);
                guards.push(GuardInfo::new(frames));
            }
            ops.push(op);
        }
        Trace {
            start: src.start.clone(),
            inputs: src.inputs.clone(),
            ops,
            guards,
        }
    }
}

/// The `call_result` operations that read the results of the call at `i`
/// (those before the next call): (index, n, kind).
pub fn call_results_after(t: &Trace, i: usize) -> Vec<(usize, u8, Kind)> {
    let mut out = Vec::new();
    for (j, op) in t.ops.iter().enumerate().skip(i + 1) {
        match op.opcode {
            Opcode::CallResult(n, k) => out.push((j, n, k)),
            Opcode::CallPure(_) | Opcode::CallResidual(_) => break,
            _ => {}
        }
    }
    out
}
