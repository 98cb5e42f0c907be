//! Backward liveness over flattened code, to fill the `-live-` markers.
//!
//! A `-live-` placed before an instruction lists the registers live across
//! it: its live-in (what it reads, plus what is live after it minus what it
//! writes). Those are the registers resume data must restore when the
//! tracer or the blackhole resumes at that instruction. Constants are never
//! listed: they are part of the jitcode.

use super::insn_regs::{successors, visit_regs, Access, DescrKinds};
use metatrace_runtime::jitcode::{Insn, KReg, Kind};

/// A set of registers of all three kinds, one bit each.
#[derive(Clone, PartialEq, Eq)]
struct RegSet {
    bits: Vec<u64>,
}

impl RegSet {
    fn new(n: usize) -> RegSet {
        RegSet {
            bits: vec![0; n.div_ceil(64)],
        }
    }
    fn insert(&mut self, i: usize) {
        self.bits[i / 64] |= 1 << (i % 64);
    }
    fn remove(&mut self, i: usize) {
        self.bits[i / 64] &= !(1 << (i % 64));
    }
    fn contains(&self, i: usize) -> bool {
        self.bits[i / 64] & (1 << (i % 64)) != 0
    }
    fn union_with(&mut self, other: &RegSet) {
        for (a, b) in self.bits.iter_mut().zip(&other.bits) {
            *a |= *b;
        }
    }
}

/// Registers live on entry to each instruction (constants excluded), in
/// order int, ref, float and by number.
pub(crate) fn live_in(insns: &[Insn], num_regs: [u16; 3], dk: &dyn DescrKinds) -> Vec<Vec<KReg>> {
    let base = [
        0,
        num_regs[0] as usize,
        num_regs[0] as usize + num_regs[1] as usize,
    ];
    let total = base[2] + num_regs[2] as usize;
    let slot = |k: Kind, r: u16| -> Option<usize> {
        (r < num_regs[k.index()]).then(|| base[k.index()] + r as usize)
    };
    // Uses and defs per instruction; `-live-` itself neither reads nor writes.
    let mut uses = Vec::with_capacity(insns.len());
    let mut defs = Vec::with_capacity(insns.len());
    for insn in insns {
        let (mut u, mut d) = (Vec::new(), Vec::new());
        if !matches!(insn, Insn::Live { .. }) {
            visit_regs(&mut insn.clone(), dk, &mut |k, r, acc| {
                if let Some(s) = slot(k, *r) {
                    match acc {
                        Access::Use => u.push(s),
                        Access::Def => d.push(s),
                    }
                }
            });
        }
        uses.push(u);
        defs.push(d);
    }
    let succs: Vec<Vec<usize>> = (0..insns.len()).map(|pc| successors(insns, pc)).collect();
    let mut live: Vec<RegSet> = vec![RegSet::new(total); insns.len()];
    let mut changed = true;
    while changed {
        changed = false;
        for pc in (0..insns.len()).rev() {
            let mut set = RegSet::new(total);
            for &s in &succs[pc] {
                if let Some(l) = live.get(s) {
                    set.union_with(l);
                }
            }
            for &d in &defs[pc] {
                set.remove(d);
            }
            for &u in &uses[pc] {
                set.insert(u);
            }
            if set != live[pc] {
                live[pc] = set;
                changed = true;
            }
        }
    }
    live.iter()
        .map(|set| {
            let mut out = Vec::new();
            for k in Kind::ALL {
                for r in 0..num_regs[k.index()] {
                    if set.contains(base[k.index()] + r as usize) {
                        out.push(KReg { kind: k, reg: r });
                    }
                }
            }
            out
        })
        .collect()
}

/// Fill every `-live-` with the registers live at that point.
pub(crate) fn fill_live(insns: &mut [Insn], num_regs: [u16; 3], dk: &dyn DescrKinds) {
    let live = live_in(insns, num_regs, dk);
    for (pc, insn) in insns.iter_mut().enumerate() {
        if let Insn::Live { regs } = insn {
            *regs = live[pc].clone();
        }
    }
}
