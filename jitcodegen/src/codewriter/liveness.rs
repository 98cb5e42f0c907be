//! Filling the `-live-` markers of flattened code.
//!
//! A `-live-` placed before an instruction lists the registers live across
//! it: its live-in, from the runtime's analysis over the instruction table
//! ([`metatrace_runtime::jitcode::live_in`], which the tracer also uses on
//! jitcodes without markers). Those are the registers resume data must
//! restore when the tracer or the blackhole resumes at that instruction.
//! Constants are never listed: they are part of the jitcode.

use metatrace_runtime::jitcode::{live_in, DescrInfo, Insn};

/// Fill every `-live-` with the registers live at that point.
pub(crate) fn fill_live(insns: &mut [Insn], num_regs: [u16; 3], descrs: &dyn DescrInfo) {
    let live = live_in(insns, num_regs, descrs);
    for (pc, insn) in insns.iter_mut().enumerate() {
        if let Insn::Live { regs } = insn {
            *regs = live[pc].clone();
        }
    }
}
