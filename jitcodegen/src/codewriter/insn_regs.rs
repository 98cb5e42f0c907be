//! The register and label operands of every instruction, with their kinds
//! and whether they are read or written: one table shared by constant
//! resolution, label resolution and liveness.

use super::{mem_scalar, Assembly};
use metatrace_runtime::jitcode::{Insn, Kind, Label, Reg};

/// Whether an operand is read or written by its instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    Use,
    Def,
}

/// The kinds of the registers whose kind comes from a descr.
pub(crate) trait DescrKinds {
    fn field_kind(&self, descr: u16) -> Kind;
    fn item_kind(&self, descr: u16) -> Kind;
}

impl DescrKinds for Assembly {
    // An out-of-range descr or a non-scalar type is reported by the
    // verifier; `Int` only keeps the walk going.
    fn field_kind(&self, descr: u16) -> Kind {
        self.fields
            .get(descr as usize)
            .and_then(|f| mem_scalar(&f.ty))
            .map_or(Kind::Int, |t| t.kind())
    }
    fn item_kind(&self, descr: u16) -> Kind {
        self.arrays
            .get(descr as usize)
            .and_then(|a| mem_scalar(&a.item))
            .map_or(Kind::Int, |t| t.kind())
    }
}

/// Call `f` on every register operand of `insn` (the registers listed by a
/// `-live-` included, as uses), reads before writes.
pub(crate) fn visit_regs(
    insn: &mut Insn,
    dk: &dyn DescrKinds,
    f: &mut dyn FnMut(Kind, &mut Reg, Access),
) {
    use Access::{Def, Use};
    use Kind::{Float as F, Int as I, Ref as R};
    match insn {
        Insn::Copy { kind, src, dst } | Insn::Promote { kind, src, dst } => {
            f(*kind, src, Use);
            f(*kind, dst, Def);
        }
        Insn::IntBin { a, b, dst, .. } | Insn::IntCmp { a, b, dst, .. } => {
            f(I, a, Use);
            f(I, b, Use);
            f(I, dst, Def);
        }
        Insn::IntNeg { a, dst, .. } | Insn::IntNot { a, dst, .. } => {
            f(I, a, Use);
            f(I, dst, Def);
        }
        Insn::FloatBin { a, b, dst, .. } => {
            f(F, a, Use);
            f(F, b, Use);
            f(F, dst, Def);
        }
        Insn::FloatNeg { a, dst } => {
            f(F, a, Use);
            f(F, dst, Def);
        }
        Insn::FloatCmp { a, b, dst, .. } => {
            f(F, a, Use);
            f(F, b, Use);
            f(I, dst, Def);
        }
        Insn::Cast { from, to, src, dst } => {
            f(from.kind(), src, Use);
            f(to.kind(), dst, Def);
        }
        Insn::GetField { descr, base, dst } => {
            f(R, base, Use);
            f(dk.field_kind(*descr), dst, Def);
        }
        Insn::SetField { descr, base, value } => {
            f(R, base, Use);
            f(dk.field_kind(*descr), value, Use);
        }
        Insn::FieldAddr { base, dst, .. } => {
            f(R, base, Use);
            f(R, dst, Def);
        }
        Insn::Load { ty, addr, dst } => {
            f(R, addr, Use);
            f(ty.kind(), dst, Def);
        }
        Insn::Store { ty, addr, value } => {
            f(R, addr, Use);
            f(ty.kind(), value, Use);
        }
        Insn::EnumTag { addr, dst, .. } => {
            f(R, addr, Use);
            f(I, dst, Def);
        }
        Insn::VecLen { vec, dst, .. } => {
            f(R, vec, Use);
            f(I, dst, Def);
        }
        Insn::VecItemAddr { vec, idx, dst, .. } => {
            f(R, vec, Use);
            f(I, idx, Use);
            f(R, dst, Def);
        }
        Insn::VecGetItem {
            descr,
            vec,
            idx,
            dst,
        } => {
            f(R, vec, Use);
            f(I, idx, Use);
            f(dk.item_kind(*descr), dst, Def);
        }
        Insn::VecSetItem {
            descr,
            vec,
            idx,
            value,
        } => {
            f(R, vec, Use);
            f(I, idx, Use);
            f(dk.item_kind(*descr), value, Use);
        }
        Insn::VecPush { descr, vec, value } => {
            f(R, vec, Use);
            f(dk.item_kind(*descr), value, Use);
        }
        Insn::VecPop {
            descr,
            vec,
            tag,
            value,
        } => {
            f(R, vec, Use);
            f(I, tag, Def);
            f(dk.item_kind(*descr), value, Def);
        }
        Insn::VecAsSlice { vec, ptr, len, .. } => {
            f(R, vec, Use);
            f(R, ptr, Def);
            f(I, len, Def);
        }
        Insn::SliceItemAddr { ptr, idx, dst, .. } => {
            f(R, ptr, Use);
            f(I, idx, Use);
            f(R, dst, Def);
        }
        Insn::SliceGetItem {
            descr,
            ptr,
            idx,
            dst,
        } => {
            f(R, ptr, Use);
            f(I, idx, Use);
            f(dk.item_kind(*descr), dst, Def);
        }
        Insn::SliceSetItem {
            descr,
            ptr,
            idx,
            value,
        } => {
            f(R, ptr, Use);
            f(I, idx, Use);
            f(dk.item_kind(*descr), value, Use);
        }
        Insn::StringAsStr { string, ptr, len } => {
            f(R, string, Use);
            f(R, ptr, Def);
            f(I, len, Def);
        }
        Insn::Call { args, results, .. } | Insn::ResidualCall { args, results, .. } => {
            for a in args.iter_mut() {
                f(a.kind, &mut a.reg, Use);
            }
            for r in results.iter_mut() {
                f(r.kind, &mut r.reg, Def);
            }
        }
        Insn::WeAreJitted { dst } => f(I, dst, Def),
        Insn::New { dst, .. } => f(R, dst, Def),
        Insn::Free { ptr, .. } => f(R, ptr, Use),
        Insn::MergePoint { args, .. }
        | Insn::CanEnterJit { args, .. }
        | Insn::Live { regs: args }
        | Insn::Return { values: args } => {
            for a in args.iter_mut() {
                f(a.kind, &mut a.reg, Use);
            }
        }
        Insn::Goto { .. } | Insn::Panic { .. } => {}
        Insn::GotoIfNot { cond, .. } => f(I, cond, Use),
        Insn::Switch { value, .. } => f(I, value, Use),
    }
}

/// Call `f` on every label operand of `insn`.
pub(crate) fn visit_labels(insn: &mut Insn, f: &mut dyn FnMut(&mut Label)) {
    match insn {
        Insn::Goto { target } | Insn::GotoIfNot { target, .. } => f(target),
        Insn::Switch { cases, default, .. } => {
            for (_, l) in cases.iter_mut() {
                f(l);
            }
            f(default);
        }
        _ => {}
    }
}

/// Where control goes after instruction `pc` of `insns`.
pub(crate) fn successors(insns: &[Insn], pc: usize) -> Vec<usize> {
    match &insns[pc] {
        Insn::Goto { target } => vec![*target as usize],
        Insn::GotoIfNot { target, .. } => vec![pc + 1, *target as usize],
        Insn::Switch { cases, default, .. } => {
            let mut v: Vec<usize> = cases.iter().map(|c| c.1 as usize).collect();
            v.push(*default as usize);
            v
        }
        Insn::Return { .. } | Insn::Panic { .. } => vec![],
        _ => vec![pc + 1],
    }
}
