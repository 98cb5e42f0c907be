//! The trace IR: what the meta-tracer records, the optimizer rewrites and
//! the backend compiles (RPython's `resoperation`, LuaJIT's IR).
//!
//! A trace is a list of operations in SSA form over typed values: the
//! trace's input arguments, results of earlier operations, or constants
//! (kept inline). A loop trace starts at a merge point with the reds'
//! leaves as inputs (the greens are constants: a loop is specialised to one
//! green key) and ends with `Jump` back to its start. A bridge starts at a
//! failing guard with that guard's fail arguments as inputs and ends with
//! `JumpTo` into a compiled loop.
//!
//! Every guard carries resume data (`GuardInfo`): the interpreter frames to
//! rebuild if it fails, each a jitcode, a position and the live registers
//! mapped to trace values; the objects the optimizer kept virtual; the
//! writes it delayed past the guard (`PendingWrite`). The data is declared here, with the IR; what
//! builds it and rebuilds frames from it is `crate::resume`. Only operations with one result or none exist;
//! a residual call with several results writes them to a per-thread
//! buffer that `CallResult` reads.

pub mod interp;
mod ops;
pub mod outcome;
mod parser;
mod printer;
mod verify;

pub use ops::{ArgKinds, OpClass, OpKind, Opcode, Param};
pub use parser::{check_text_round_trip, parse_trace, text_checks_enabled};
pub use printer::{format_trace, format_virtuals, opcode_name};
pub use verify::verify_trace;

use crate::jitcode::{AllocId, FieldId, KReg, Kind, ScalarTy};

/// Index of an operation in `Trace::ops`.
pub type OpIdx = u32;

/// An operand: an input, an operation's result, or a constant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Val {
    Input(u16),
    Op(OpIdx),
    Int(i64),
    Ref(usize),
    /// `f64` by its bits.
    Float(u64),
    /// Only in resume data (`GuardInfo::frames` and `virtuals`): the
    /// object `GuardInfo::virtuals[i]`, which the optimizer kept virtual;
    /// it is allocated when the guard fails.
    Virtual(u32),
}

impl Val {
    pub fn is_const(self) -> bool {
        matches!(self, Val::Int(_) | Val::Ref(_) | Val::Float(_))
    }

    /// The constant as a canonical register value.
    pub fn const_bits(self) -> Option<u64> {
        match self {
            Val::Int(v) => Some(v as u64),
            Val::Ref(r) => Some(r as u64),
            Val::Float(b) => Some(b),
            _ => None,
        }
    }

    pub fn constant(kind: Kind, bits: u64) -> Val {
        match kind {
            Kind::Int => Val::Int(bits as i64),
            Kind::Ref => Val::Ref(bits as usize),
            Kind::Float => Val::Float(bits),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TraceOp {
    pub opcode: Opcode,
    pub args: Vec<Val>,
    /// Kind of the result, `None` for operations without one.
    pub result: Option<Kind>,
    /// For guards: index into `Trace::guards`.
    pub guard: Option<u32>,
}

/// One interpreter frame to rebuild when a guard fails.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FrameSnapshot {
    pub jitcode: u16,
    /// The innermost frame resumes by executing the instruction at `pc`
    /// again (the branch, switch or promote the guard came from, with its
    /// operand registers holding the real values). Outer frames are
    /// suspended in the `Call` instruction at `pc`: they continue at
    /// `pc + 1` once the inner frame returns into that call's result
    /// registers.
    pub pc: u32,
    /// The live registers (from the `-live-` marker) and their values.
    pub regs: Vec<(KReg, Val)>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct GuardInfo {
    /// Outermost (the portal) first.
    pub frames: Vec<FrameSnapshot>,
    /// The objects `Val::Virtual(i)` in `frames` (and in these fields)
    /// stands for: allocated and filled in when the guard fails.
    pub virtuals: Vec<VirtualObj>,
    /// Writes the optimizer delayed past this guard (RPython's
    /// `pending_setfields`): in memory they have not happened yet when
    /// the guard fails, so they are done then, in this order, before the
    /// frames are rebuilt (and a bridge from the guard does them first).
    pub pending: Vec<PendingWrite>,
    /// The non-constant values the resume data needs, without duplicates:
    /// what compiled code saves when the guard fails, in this order.
    pub fail_args: Vec<Val>,
}

/// A write delayed past a guard (`GuardInfo::pending`): `setfield`,
/// `setitem`, `store` or `vec_set_len`, with its arguments (never
/// virtual: the optimizer allocates an object such a write names).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PendingWrite {
    pub opcode: Opcode,
    pub args: Vec<Val>,
}

impl PendingWrite {
    /// Can `opcode` be delayed past a guard?
    pub fn may_delay(opcode: &Opcode) -> bool {
        matches!(
            opcode,
            Opcode::SetField(_) | Opcode::SetItem(_) | Opcode::Store(_) | Opcode::VecSetLen(_)
        )
    }

    /// Does it write a virtualizable field or array item (`setfield` or
    /// `setitem` with a `virtualizable` descr)?
    pub fn is_virtualizable(&self, t: &crate::jitcode::Tables) -> bool {
        writes_virtualizable(t, &self.opcode)
    }
}

/// Is `opcode` a `setfield` or `setitem` of a virtualizable descr?
pub fn writes_virtualizable(t: &crate::jitcode::Tables, opcode: &Opcode) -> bool {
    match *opcode {
        Opcode::SetField(d) => t.fields[d].virtualizable,
        Opcode::SetItem(d) => t.arrays[d].virtualizable,
        _ => false,
    }
}

/// An object a guard's resume data describes instead of pointing to
/// (RPython's virtual info): allocated for `Tables::allocs[descr]`, then
/// `fields` written in order.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct VirtualObj {
    pub descr: AllocId,
    pub fields: Vec<(FieldWrite, Val)>,
}

/// How a virtual object's field is written when it is materialized.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldWrite {
    /// `setfield<descr>` on the object.
    Field(FieldId),
    /// `store/ty` at the object's address (a `Box<i64>`, say).
    Store(ScalarTy),
}

/// Where a trace starts.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TraceStart {
    /// A loop at a merge point of `driver`, for the green key `greens`
    /// (canonical values of the green leaves).
    Loop { driver: u16, greens: Vec<u64> },
    /// A bridge from guard `guard` of compiled loop or bridge `code`.
    Bridge { code: u32, guard: u32 },
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Trace {
    pub start: TraceStart,
    /// Kinds of the inputs.
    pub inputs: Vec<Kind>,
    pub ops: Vec<TraceOp>,
    pub guards: Vec<GuardInfo>,
}

impl Trace {
    /// Heap bytes the trace holds (its operations and resume data), for
    /// the JIT's memory figures.
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of_val;
        let ops: usize = self.ops.iter().map(|o| size_of_val(&*o.args)).sum();
        let guards: usize = self
            .guards
            .iter()
            .map(|g| {
                size_of_val(&*g.frames)
                    + g.frames
                        .iter()
                        .map(|f| size_of_val(&*f.regs))
                        .sum::<usize>()
                    + size_of_val(&*g.virtuals)
                    + g.virtuals
                        .iter()
                        .map(|v| size_of_val(&*v.fields))
                        .sum::<usize>()
                    + size_of_val(&*g.pending)
                    + g.pending
                        .iter()
                        .map(|w| size_of_val(&*w.args))
                        .sum::<usize>()
                    + size_of_val(&*g.fail_args)
            })
            .sum();
        std::mem::size_of::<Trace>()
            + size_of_val(&*self.inputs)
            + size_of_val(&*self.ops)
            + ops
            + size_of_val(&*self.guards)
            + guards
    }

    /// The kind of a value, if it is well-formed.
    pub fn kind_of(&self, v: Val) -> Option<Kind> {
        match v {
            Val::Input(i) => self.inputs.get(i as usize).copied(),
            Val::Op(i) => self.ops.get(i as usize)?.result,
            Val::Int(_) => Some(Kind::Int),
            Val::Ref(_) => Some(Kind::Ref),
            Val::Float(_) => Some(Kind::Float),
            Val::Virtual(_) => Some(Kind::Ref),
        }
    }
}
