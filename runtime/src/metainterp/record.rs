//! The trace builder: appends operations in SSA form, folds pure
//! operations on constants (with the value the executor computed, so that
//! a folded result is exactly what the blackhole computes), and keeps the
//! guards' resume data.

use crate::jitcode::Kind;
use crate::trace::{FrameSnapshot, GuardInfo, Opcode, Trace, TraceOp, TraceStart, Val};

pub(crate) struct Recorder {
    trace: Trace,
}

impl Recorder {
    pub fn new(start: TraceStart, inputs: Vec<Kind>) -> Recorder {
        Recorder {
            trace: Trace {
                start,
                inputs,
                ops: Vec::new(),
                guards: Vec::new(),
            },
        }
    }

    /// Operations recorded so far.
    pub fn len(&self) -> usize {
        self.trace.ops.len()
    }

    /// Record an operation; its result, if it has one.
    pub fn op(&mut self, opcode: Opcode, args: Vec<Val>, result: Option<Kind>) -> Val {
        debug_assert!(!opcode.is_guard(), "guards go through `guard`");
        let at = self.trace.ops.len() as u32;
        self.trace.ops.push(TraceOp {
            opcode,
            args,
            result,
            guard: None,
        });
        Val::Op(at)
    }

    /// A pure operation whose result (computed by the caller on the
    /// concrete values) is `bits`: a constant when every argument is one,
    /// else recorded.
    pub fn pure(&mut self, opcode: Opcode, args: Vec<Val>, kind: Kind, bits: u64) -> Val {
        debug_assert!(opcode.is_pure());
        if args.iter().all(|a| a.is_const()) {
            Val::constant(kind, bits)
        } else {
            self.op(opcode, args, Some(kind))
        }
    }

    /// A load: folded to `bits` when `foldable` (a constant base through
    /// an immutable descr), else recorded.
    pub fn load(
        &mut self,
        opcode: Opcode,
        args: Vec<Val>,
        kind: Kind,
        bits: u64,
        foldable: bool,
    ) -> Val {
        if foldable && args.iter().all(|a| a.is_const()) {
            Val::constant(kind, bits)
        } else {
            self.op(opcode, args, Some(kind))
        }
    }

    /// Record a guard with the frames to resume if it fails.
    pub fn guard(&mut self, opcode: Opcode, args: Vec<Val>, frames: Vec<FrameSnapshot>) {
        debug_assert!(opcode.is_guard());
        let g = self.trace.guards.len() as u32;
        self.trace.guards.push(GuardInfo::new(frames));
        self.trace.ops.push(TraceOp {
            opcode,
            args,
            result: None,
            guard: Some(g),
        });
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
