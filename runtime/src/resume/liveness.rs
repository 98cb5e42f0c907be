//! Which registers resume data must hold at an instruction.
//!
//! The codewriter puts a `-live-` marker before every instruction a guard
//! or a suspended call can resume at (calls, branches, switches, promotes,
//! merge points, and the pushes and pops of Vecs, which guard on room and
//! emptiness); [`live_at`] uses it. Hand-written jitcodes may lack
//! markers: for those, the live-in set is computed by the same analysis
//! the codewriter fills the markers with ([`crate::jitcode::live_in`]).

use crate::blackhole::Code;
use crate::jitcode::{live_in, Insn, KReg, Tables};

/// The registers live on entry to instruction `pc` of `code`: the
/// `-live-` marker just before it if there is one, else computed (once
/// per jitcode and process, [`Code::live_in`]).
pub(crate) fn live_at<'c>(tables: &Tables, code: &'c Code, pc: u32) -> &'c [KReg] {
    let pc = pc as usize;
    if pc > 0 {
        if let Insn::Live { regs } = &code.insns[pc - 1] {
            return regs;
        }
    }
    &code
        .live_in
        .get_or_init(|| live_in(&code.insns, code.jitcode.num_regs, tables))[pc]
}
