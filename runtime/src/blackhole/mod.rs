//! The blackhole interpreter: runs jitcodes on concrete values, with the
//! native code's semantics, without recording anything. Used for
//! `--jit mode=jitcode-only` ([`call`]), and to finish an iteration after
//! a guard fails in compiled code or tracing stops ([`resume`], from the
//! frames `crate::resume` rebuilt).
//!
//! - [`crate::executor`]: the pure semantics of int/float operations, casts,
//!   loads and stores (shared with the meta-tracer).
//! - [`program`]: every `Tables` decoded and verified once per process.
//! - `interp`: the interpreter loop, with an explicit frame stack.

mod interp;
mod program;

pub use program::{program, try_program, Code, Program};

use crate::jitcode::Tables;
use interp::Machine;
use std::cell::RefCell;

/// Machines kept per thread so that their register files are reused.
const POOL_SIZE: usize = 4;

thread_local! {
    static POOL: RefCell<Vec<Machine>> = const { RefCell::new(Vec::new()) };
}

/// Run jitcode `jitcode` of `tables` to completion on `args` (canonical
/// register values of the exploded arguments, in order) and return its
/// exploded results. Panics exactly where the native code would.
///
/// The first call for a `Tables` decodes and verifies all its jitcodes
/// (and panics if they are malformed). Re-entrant: a residual call may
/// call back into the blackhole.
pub fn call(tables: &'static Tables, jitcode: u16, args: &[u64]) -> Vec<u64> {
    let prog = program(tables);
    with_machine(|m| m.call(prog, jitcode, args))
}

/// Run `f` on a machine from the pool (or a new one), and give the
/// machine back afterwards. A machine whose run panicked is dropped.
fn with_machine<R>(f: impl FnOnce(&mut Machine) -> R) -> R {
    let mut m = POOL
        .try_with(|p| p.borrow_mut().pop())
        .ok()
        .flatten()
        .unwrap_or_default();
    let out = f(&mut m);
    m.reset();
    let _ = POOL.try_with(|p| {
        let mut p = p.borrow_mut();
        if p.len() < POOL_SIZE {
            p.push(m);
        }
    });
    out
}

/// One interpreter frame to resume in the blackhole (built from a guard's
/// resume data by `crate::resume`, or from the tracer's frames when
/// tracing stops).
#[derive(Clone, Debug, PartialEq)]
pub struct ResumeFrame {
    pub jitcode: u16,
    /// Innermost frame: the instruction to execute next. Outer frames: the
    /// `Call` instruction they are suspended in; they continue at `pc + 1`
    /// once the inner frame returns into that call's result registers.
    pub pc: u32,
    /// Register values; registers not listed start as zero.
    pub regs: Vec<(crate::jitcode::KReg, u64)>,
}

/// Where a resumed run stopped.
#[derive(Clone, Debug, PartialEq)]
pub enum RunOutcome {
    /// The portal (the outermost frame) reached its `MergePoint`: the
    /// values of its arguments (greens then reds, exploded). The native
    /// interpreter continues from there.
    MergePoint { args: Vec<u64> },
    /// The portal returned: its exploded results.
    Return(Vec<u64>),
}

/// Resume the frames (outermost, the portal, first) and run until the
/// portal reaches its merge point or returns. Panics where the native code
/// would.
///
/// Each frame gets the registers listed in its `regs` (the others start
/// as zero, constants preloaded); every frame but the innermost must be
/// at a `Call` of the next frame's jitcode. Only the outermost frame's
/// merge point stops the run: inner frames run through theirs. A
/// recursive call of a portal with a native entry goes through
/// `jit::portal_call` (natively, or into the callee's compiled code, as
/// `call_assembler` does); without one (tables built by hand) it runs
/// here, with no merge point of its own, as in [`call`].
///
/// Panics (with a message) if the frames do not fit the jitcodes: a
/// jitcode or pc out of range, an outer frame not at a call of its inner
/// frame's jitcode, a listed register that is a constant or out of range.
pub fn resume(tables: &'static Tables, frames: Vec<ResumeFrame>) -> RunOutcome {
    let prog = program(tables);
    with_machine(|m| m.resume(prog, &frames))
}

/// [`resume`], and whether the portal stopped at its merge point right
/// after a `can_enter_jit` (where the native interpreter would have
/// counted the iteration): how the JIT runs a callee of `call_assembler`
/// that has no compiled code, one iteration at a time.
pub fn resume_counted(tables: &'static Tables, frames: Vec<ResumeFrame>) -> (RunOutcome, bool) {
    let prog = program(tables);
    with_machine(|m| {
        let out = m.resume(prog, &frames);
        (out, m.can_enter_jit_seen)
    })
}
