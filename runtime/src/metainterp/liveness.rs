//! Which registers resume data must hold at an instruction.
//!
//! The codewriter puts a `-live-` marker before every instruction a guard
//! or a suspended call can resume at (calls, branches, switches, promotes,
//! merge points); [`live_at`] uses it. A few guards come from instructions
//! without one (the emptiness check of `VecPop`), and hand-written
//! jitcodes may lack markers: for those, the live-in set is computed here
//! by a backward data-flow analysis, with the codewriter's definition
//! (what the instruction reads, plus what is live after it minus what it
//! writes; constants never listed).

use crate::blackhole::Code;
use crate::jitcode::{Insn, KReg, Kind, Tables};
use rustc_hash::FxHashMap as HashMap;

/// Live-in sets of the jitcodes that needed one, computed on demand.
#[derive(Default)]
pub(crate) struct Liveness {
    computed: HashMap<u16, Vec<Vec<KReg>>>,
}

impl Liveness {
    /// The registers live on entry to instruction `pc` of jitcode `index`:
    /// the `-live-` marker just before it if there is one, else computed.
    pub fn live_at(&mut self, tables: &Tables, index: u16, code: &Code, pc: u32) -> Vec<KReg> {
        let pc = pc as usize;
        if pc > 0 {
            if let Insn::Live { regs } = &code.insns[pc - 1] {
                return regs.clone();
            }
        }
        self.computed
            .entry(index)
            .or_insert_with(|| live_in(tables, code))[pc]
            .clone()
    }
}

/// The uses and definitions of one instruction (constants included; the
/// caller drops them).
fn visit(insn: &Insn, tables: &Tables, f: &mut dyn FnMut(KReg, bool)) {
    let k = |kind: Kind, reg: u16| KReg { kind, reg };
    let field = |d: u16| {
        tables.fields[d as usize]
            .ty
            .map(|t| t.kind())
            .unwrap_or(Kind::Int)
    };
    let item = |d: u16| {
        tables.arrays[d as usize]
            .item
            .map(|t| t.kind())
            .unwrap_or(Kind::Int)
    };
    let (u, d) = (false, true);
    use Kind::*;
    match insn {
        Insn::Copy { kind, src, dst } | Insn::Promote { kind, src, dst } => {
            f(k(*kind, *src), u);
            f(k(*kind, *dst), d);
        }
        Insn::IntBin { a, b, dst, .. } | Insn::IntCmp { a, b, dst, .. } => {
            f(k(Int, *a), u);
            f(k(Int, *b), u);
            f(k(Int, *dst), d);
        }
        Insn::IntNeg { a, dst, .. } | Insn::IntNot { a, dst, .. } => {
            f(k(Int, *a), u);
            f(k(Int, *dst), d);
        }
        Insn::FloatBin { a, b, dst, .. } => {
            f(k(Float, *a), u);
            f(k(Float, *b), u);
            f(k(Float, *dst), d);
        }
        Insn::FloatNeg { a, dst } => {
            f(k(Float, *a), u);
            f(k(Float, *dst), d);
        }
        Insn::FloatCmp { a, b, dst, .. } => {
            f(k(Float, *a), u);
            f(k(Float, *b), u);
            f(k(Int, *dst), d);
        }
        Insn::Cast { from, to, src, dst } => {
            f(k(from.kind(), *src), u);
            f(k(to.kind(), *dst), d);
        }
        Insn::GetField { descr, base, dst } => {
            f(k(Ref, *base), u);
            f(k(field(*descr), *dst), d);
        }
        Insn::SetField { descr, base, value } => {
            f(k(Ref, *base), u);
            f(k(field(*descr), *value), u);
        }
        Insn::New { dst, .. } => f(k(Ref, *dst), d),
        Insn::Free { ptr, .. } => f(k(Ref, *ptr), u),
        Insn::FieldAddr { base, dst, .. } => {
            f(k(Ref, *base), u);
            f(k(Ref, *dst), d);
        }
        Insn::Load { ty, addr, dst } => {
            f(k(Ref, *addr), u);
            f(k(ty.kind(), *dst), d);
        }
        Insn::Store { ty, addr, value } => {
            f(k(Ref, *addr), u);
            f(k(ty.kind(), *value), u);
        }
        Insn::EnumTag { addr, dst, .. } => {
            f(k(Ref, *addr), u);
            f(k(Int, *dst), d);
        }
        Insn::VecLen { vec, dst, .. } => {
            f(k(Ref, *vec), u);
            f(k(Int, *dst), d);
        }
        Insn::VecItemAddr { vec, idx, dst, .. } => {
            f(k(Ref, *vec), u);
            f(k(Int, *idx), u);
            f(k(Ref, *dst), d);
        }
        Insn::VecGetItem {
            descr,
            vec,
            idx,
            dst,
        } => {
            f(k(Ref, *vec), u);
            f(k(Int, *idx), u);
            f(k(item(*descr), *dst), d);
        }
        Insn::VecSetItem {
            descr,
            vec,
            idx,
            value,
        } => {
            f(k(Ref, *vec), u);
            f(k(Int, *idx), u);
            f(k(item(*descr), *value), u);
        }
        Insn::VecPush { descr, vec, value } => {
            f(k(Ref, *vec), u);
            f(k(item(*descr), *value), u);
        }
        Insn::VecPop {
            descr,
            vec,
            tag,
            value,
        } => {
            f(k(Ref, *vec), u);
            f(k(Int, *tag), d);
            f(k(item(*descr), *value), d);
        }
        Insn::VecAsSlice { vec, ptr, len, .. } => {
            f(k(Ref, *vec), u);
            f(k(Ref, *ptr), d);
            f(k(Int, *len), d);
        }
        Insn::SliceItemAddr { ptr, idx, dst, .. } => {
            f(k(Ref, *ptr), u);
            f(k(Int, *idx), u);
            f(k(Ref, *dst), d);
        }
        Insn::SliceGetItem {
            descr,
            ptr,
            idx,
            dst,
        } => {
            f(k(Ref, *ptr), u);
            f(k(Int, *idx), u);
            f(k(item(*descr), *dst), d);
        }
        Insn::SliceSetItem {
            descr,
            ptr,
            idx,
            value,
        } => {
            f(k(Ref, *ptr), u);
            f(k(Int, *idx), u);
            f(k(item(*descr), *value), u);
        }
        Insn::StringAsStr { string, ptr, len } => {
            f(k(Ref, *string), u);
            f(k(Ref, *ptr), d);
            f(k(Int, *len), d);
        }
        Insn::Call { args, results, .. } | Insn::ResidualCall { args, results, .. } => {
            for a in args {
                f(*a, u);
            }
            for r in results {
                f(*r, d);
            }
        }
        Insn::WeAreJitted { dst } => f(k(Int, *dst), d),
        Insn::MergePoint { args, .. } | Insn::CanEnterJit { args, .. } => {
            for a in args {
                f(*a, u);
            }
        }
        Insn::Return { values } => {
            for v in values {
                f(*v, u);
            }
        }
        Insn::GotoIfNot { cond, .. } => f(k(Int, *cond), u),
        Insn::Switch { value, .. } => f(k(Int, *value), u),
        Insn::Live { .. } | Insn::Goto { .. } | Insn::Panic { .. } => {}
    }
}

fn successors(insns: &[Insn], pc: usize) -> Vec<usize> {
    match &insns[pc] {
        Insn::Goto { target } => vec![*target as usize],
        Insn::GotoIfNot { target, .. } => vec![pc + 1, *target as usize],
        Insn::Switch { cases, default, .. } => {
            let mut s: Vec<usize> = cases.iter().map(|c| c.1 as usize).collect();
            s.push(*default as usize);
            s
        }
        Insn::Return { .. } | Insn::Panic { .. } => vec![],
        _ => vec![pc + 1],
    }
}

/// Live-in registers of every instruction, sorted by kind then number.
fn live_in(tables: &Tables, code: &Code) -> Vec<Vec<KReg>> {
    let n = code.jitcode.num_regs;
    let base = [0, n[0] as usize, n[0] as usize + n[1] as usize];
    let total = base[2] + n[2] as usize;
    let words = total.div_ceil(64).max(1);
    let slot = |r: KReg| (r.reg < n[r.kind.index()]).then(|| base[r.kind.index()] + r.reg as usize);
    let insns = &code.insns;
    let mut uses = Vec::with_capacity(insns.len());
    let mut defs = Vec::with_capacity(insns.len());
    for insn in insns {
        let (mut us, mut ds) = (Vec::new(), Vec::new());
        visit(insn, tables, &mut |r, is_def| {
            if let Some(s) = slot(r) {
                if is_def {
                    ds.push(s)
                } else {
                    us.push(s)
                }
            }
        });
        uses.push(us);
        defs.push(ds);
    }
    let succs: Vec<Vec<usize>> = (0..insns.len()).map(|pc| successors(insns, pc)).collect();
    let mut live = vec![vec![0u64; words]; insns.len()];
    let mut changed = true;
    while changed {
        changed = false;
        for pc in (0..insns.len()).rev() {
            let mut set = vec![0u64; words];
            for &s in &succs[pc] {
                if let Some(l) = live.get(s) {
                    for (a, b) in set.iter_mut().zip(l) {
                        *a |= *b;
                    }
                }
            }
            for &d in &defs[pc] {
                set[d / 64] &= !(1 << (d % 64));
            }
            for &u in &uses[pc] {
                set[u / 64] |= 1 << (u % 64);
            }
            if set != live[pc] {
                live[pc] = set;
                changed = true;
            }
        }
    }
    live.iter()
        .map(|set| {
            let mut regs = Vec::new();
            for kind in Kind::ALL {
                for reg in 0..n[kind.index()] {
                    let s = base[kind.index()] + reg as usize;
                    if set[s / 64] & (1 << (s % 64)) != 0 {
                        regs.push(KReg { kind, reg });
                    }
                }
            }
            regs
        })
        .collect()
}
