//! Backward liveness over a jitcode's instructions: which registers are
//! live on entry to each (what it reads, plus what is live after it minus
//! what it writes; constants never listed; a `-live-` neither reads nor
//! writes). The codewriter fills `-live-` markers with it; the tracer and
//! blackhole use it where a hand-written jitcode lacks a marker.

use super::*;

/// A set of registers of all three kinds, one bit each.
#[derive(Clone, PartialEq, Eq)]
struct RegSet(Vec<u64>);

impl RegSet {
    fn new(n: usize) -> RegSet {
        RegSet(vec![0; n.div_ceil(64).max(1)])
    }
    fn insert(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    fn remove(&mut self, i: usize) {
        self.0[i / 64] &= !(1 << (i % 64));
    }
    fn contains(&self, i: usize) -> bool {
        self.0[i / 64] & (1 << (i % 64)) != 0
    }
    fn union_with(&mut self, other: &RegSet) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a |= *b;
        }
    }
}

/// Registers live on entry to each instruction, in order int, ref, float
/// and by number. `descrs` gives the kinds of registers typed by a descr.
pub fn live_in(insns: &[Insn], num_regs: [u16; 3], descrs: &dyn DescrInfo) -> Vec<Vec<KReg>> {
    let base = [
        0,
        num_regs[0] as usize,
        num_regs[0] as usize + num_regs[1] as usize,
    ];
    let total = base[2] + num_regs[2] as usize;
    let slot = |k: Kind, r: u16| (r < num_regs[k.index()]).then(|| base[k.index()] + r as usize);
    let mut uses = Vec::with_capacity(insns.len());
    let mut defs = Vec::with_capacity(insns.len());
    for insn in insns {
        let (mut u, mut d) = (Vec::new(), Vec::new());
        if !matches!(insn, Insn::Live { .. }) {
            insn.regs(descrs, &mut |k, r, acc| {
                if let Some(s) = slot(k, r) {
                    match acc {
                        Access::Read => u.push(s),
                        Access::Write => d.push(s),
                    }
                }
            });
        }
        uses.push(u);
        defs.push(d);
    }
    let succs: Vec<Vec<usize>> = insns
        .iter()
        .enumerate()
        .map(|(pc, insn)| insn.successors(pc))
        .collect();
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
