//! Which registers resume data must hold at an instruction.
//!
//! The codewriter puts a `-live-` marker before every instruction a guard
//! or a suspended call can resume at (calls, branches, switches, promotes,
//! merge points); [`live_at`] uses it. A few guards come from instructions
//! without one (the emptiness check of `VecPop`), and hand-written
//! jitcodes may lack markers: for those, the live-in set is computed by
//! the same analysis the codewriter fills the markers with
//! ([`crate::jitcode::live_in`]).

use crate::jitcode::{live_in, Insn, KReg, Tables};
use rustc_hash::FxHashMap as HashMap;

/// Live-in sets of the jitcodes that needed one, computed on demand.
#[derive(Default)]
pub(crate) struct Liveness {
    computed: HashMap<u16, Vec<Vec<KReg>>>,
}

impl Liveness {
    /// The registers live on entry to instruction `pc` of jitcode `index`:
    /// the `-live-` marker just before it if there is one, else computed.
    pub fn live_at(
        &mut self,
        tables: &Tables,
        index: u16,
        insns: &[Insn],
        num_regs: [u16; 3],
        pc: u32,
    ) -> Vec<KReg> {
        let pc = pc as usize;
        if pc > 0 {
            if let Insn::Live { regs } = &insns[pc - 1] {
                return regs.clone();
            }
        }
        self.computed
            .entry(index)
            .or_insert_with(|| live_in(insns, num_regs, tables))[pc]
            .clone()
    }
}
