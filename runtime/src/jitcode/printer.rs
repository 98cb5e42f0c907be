//! Text form of jitcodes, for `cargo translate --emit jitcode`, the JIT log
//! and tests:
//!
//! ```text
//! L3: int_add/u8 %i1, $1 -> %i2
//!     getfield %r0 <Tape.cells> -> %r1
//!     goto_if_not %i2 L7
//! ```
//! Registers print as `%i3`/`%r0`/`%f1`; constants as `$` and their value.

use super::*;
use std::collections::BTreeSet;

/// A descr's name, or `what#i` when the index is out of range (printing
/// must not fail on malformed code: the verifier reports it).
pub fn indexed_name(what: &str, i: u16, name: Option<String>) -> String {
    name.unwrap_or_else(|| format!("{what}#{i}"))
}

/// How to name what instructions refer to by index.
pub trait JitCodeNames {
    fn field(&self, i: u16) -> String;
    fn array(&self, i: u16) -> String;
    fn enum_(&self, i: u16) -> String;
    fn call(&self, i: u16) -> String;
    fn jitcode(&self, i: u16) -> String;
    fn string(&self, i: u16) -> String;
    fn driver(&self, i: u16) -> String;
    /// Name of an allocated type (`Tables::allocs`).
    fn alloc(&self, i: u16) -> String {
        indexed_name("alloc", i, None)
    }
    /// Kind of a scalar field / array item, to print the register read or
    /// written by getfield and friends.
    fn field_kind(&self, _i: u16) -> Option<Kind> {
        None
    }
    fn item_kind(&self, _i: u16) -> Option<Kind> {
        None
    }
}

impl JitCodeNames for Tables {
    fn field(&self, i: u16) -> String {
        indexed_name(
            "field",
            i,
            self.fields.get(i as usize).map(|d| d.name.to_string()),
        )
    }
    fn array(&self, i: u16) -> String {
        indexed_name(
            "array",
            i,
            self.arrays.get(i as usize).map(|d| d.name.to_string()),
        )
    }
    fn enum_(&self, i: u16) -> String {
        indexed_name(
            "enum",
            i,
            self.enums.get(i as usize).map(|d| d.name.to_string()),
        )
    }
    fn call(&self, i: u16) -> String {
        indexed_name(
            "call",
            i,
            self.calls.get(i as usize).map(|d| d.name.to_string()),
        )
    }
    fn jitcode(&self, i: u16) -> String {
        indexed_name(
            "jitcode",
            i,
            self.jitcodes.get(i as usize).map(|d| d.name.to_string()),
        )
    }
    fn alloc(&self, i: u16) -> String {
        indexed_name(
            "alloc",
            i,
            self.allocs.get(i as usize).map(|d| d.name.to_string()),
        )
    }
    fn string(&self, i: u16) -> String {
        indexed_name(
            "string",
            i,
            self.strings.get(i as usize).map(|s| format!("{s:?}")),
        )
    }
    fn driver(&self, i: u16) -> String {
        indexed_name(
            "driver",
            i,
            self.drivers.get(i as usize).map(|d| d.portal.to_string()),
        )
    }
    fn field_kind(&self, i: u16) -> Option<Kind> {
        self.fields.get(i as usize)?.ty.map(ScalarTy::kind)
    }
    fn item_kind(&self, i: u16) -> Option<Kind> {
        self.arrays.get(i as usize)?.item.map(ScalarTy::kind)
    }
}

/// Registers and constants of one jitcode, for naming operands.
pub struct RegNames<'a> {
    pub num_regs: [u16; 3],
    /// Printed constants per kind, in pool order.
    pub consts: [&'a [String]; 3],
}

impl RegNames<'_> {
    fn reg(&self, kind: Kind, r: Reg) -> String {
        let n = self.num_regs[kind.index()];
        if r < n {
            format!("%{}{}", kind.letter(), r)
        } else {
            match self.consts[kind.index()].get((r - n) as usize) {
                Some(c) => format!("${c}"),
                None => format!("%{}{}?", kind.letter(), r),
            }
        }
    }

    fn list(&self, rs: &[KReg]) -> String {
        rs.iter()
            .map(|r| self.reg(r.kind, r.reg))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn cmp_name(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "eq",
        CmpOp::Ne => "ne",
        CmpOp::Lt => "lt",
        CmpOp::Le => "le",
        CmpOp::Gt => "gt",
        CmpOp::Ge => "ge",
    }
}

/// One instruction, without its label.
pub fn format_insn(insn: &Insn, regs: &RegNames, names: &dyn JitCodeNames) -> String {
    let i = |r: Reg| regs.reg(Kind::Int, r);
    let rf = |r: Reg| regs.reg(Kind::Ref, r);
    let f = |r: Reg| regs.reg(Kind::Float, r);
    let by = |t: ScalarTy, r: Reg| regs.reg(t.kind(), r);
    let fld = |d: u16, r: Reg| match names.field_kind(d) {
        Some(k) => regs.reg(k, r),
        None => format!("%{r}"),
    };
    let item = |d: u16, r: Reg| match names.item_kind(d) {
        Some(k) => regs.reg(k, r),
        None => format!("%{r}"),
    };
    match insn {
        Insn::Copy { kind, src, dst } => format!(
            "{}_copy {} -> {}",
            kind,
            regs.reg(*kind, *src),
            regs.reg(*kind, *dst)
        ),
        Insn::IntBin { op, ty, a, b, dst } => format!(
            "int_{}/{} {}, {} -> {}",
            format!("{op:?}").to_lowercase(),
            ty.name(),
            i(*a),
            i(*b),
            i(*dst)
        ),
        Insn::IntNeg { ty, a, dst } => format!("int_neg/{} {} -> {}", ty.name(), i(*a), i(*dst)),
        Insn::IntNot { ty, a, dst } => format!("int_not/{} {} -> {}", ty.name(), i(*a), i(*dst)),
        Insn::IntCmp { op, ty, a, b, dst } => format!(
            "int_{}/{} {}, {} -> {}",
            cmp_name(*op),
            ty.name(),
            i(*a),
            i(*b),
            i(*dst)
        ),
        Insn::FloatBin { op, a, b, dst } => format!(
            "float_{} {}, {} -> {}",
            format!("{op:?}").to_lowercase(),
            f(*a),
            f(*b),
            f(*dst)
        ),
        Insn::FloatNeg { a, dst } => format!("float_neg {} -> {}", f(*a), f(*dst)),
        Insn::FloatCmp { op, a, b, dst } => format!(
            "float_{} {}, {} -> {}",
            cmp_name(*op),
            f(*a),
            f(*b),
            i(*dst)
        ),
        Insn::Cast { from, to, src, dst } => format!(
            "cast/{}->{} {} -> {}",
            from.name(),
            to.name(),
            by(*from, *src),
            by(*to, *dst)
        ),
        Insn::New { descr, dst } => format!("new <{}> -> {}", names.alloc(*descr), rf(*dst)),
        Insn::Free { descr, ptr } => format!("free {} <{}>", rf(*ptr), names.alloc(*descr)),
        Insn::GetField { descr, base, dst } => format!(
            "getfield {} <{}> -> {}",
            rf(*base),
            names.field(*descr),
            fld(*descr, *dst)
        ),
        Insn::SetField { descr, base, value } => format!(
            "setfield {} <{}>, {}",
            rf(*base),
            names.field(*descr),
            fld(*descr, *value)
        ),
        Insn::FieldAddr { descr, base, dst } => format!(
            "fieldaddr {} <{}> -> {}",
            rf(*base),
            names.field(*descr),
            rf(*dst)
        ),
        Insn::Load { ty, addr, dst } => {
            format!("load/{} {} -> {}", ty.name(), rf(*addr), by(*ty, *dst))
        }
        Insn::Store { ty, addr, value } => {
            format!("store/{} {}, {}", ty.name(), rf(*addr), by(*ty, *value))
        }
        Insn::EnumTag { descr, addr, dst } => format!(
            "enum_tag {} <{}> -> {}",
            rf(*addr),
            names.enum_(*descr),
            i(*dst)
        ),
        Insn::VecLen { descr, vec, dst } => format!(
            "vec_len {} <{}> -> {}",
            rf(*vec),
            names.array(*descr),
            i(*dst)
        ),
        Insn::VecItemAddr {
            descr,
            vec,
            idx,
            dst,
        } => format!(
            "vec_itemaddr {}, {} <{}> -> {}",
            rf(*vec),
            i(*idx),
            names.array(*descr),
            rf(*dst)
        ),
        Insn::VecGetItem {
            descr,
            vec,
            idx,
            dst,
        } => format!(
            "vec_getitem {}, {} <{}> -> {}",
            rf(*vec),
            i(*idx),
            names.array(*descr),
            item(*descr, *dst)
        ),
        Insn::VecSetItem {
            descr,
            vec,
            idx,
            value,
        } => format!(
            "vec_setitem {}, {} <{}>, {}",
            rf(*vec),
            i(*idx),
            names.array(*descr),
            item(*descr, *value)
        ),
        Insn::VecPush { descr, vec, value } => format!(
            "vec_push {} <{}>, {}",
            rf(*vec),
            names.array(*descr),
            item(*descr, *value)
        ),
        Insn::VecPop {
            descr,
            vec,
            tag,
            value,
        } => format!(
            "vec_pop {} <{}> -> {}, {}",
            rf(*vec),
            names.array(*descr),
            i(*tag),
            item(*descr, *value)
        ),
        Insn::VecAsSlice {
            descr,
            vec,
            ptr,
            len,
        } => format!(
            "vec_as_slice {} <{}> -> {}, {}",
            rf(*vec),
            names.array(*descr),
            rf(*ptr),
            i(*len)
        ),
        Insn::SliceItemAddr {
            descr,
            ptr,
            idx,
            dst,
        } => format!(
            "slice_itemaddr {}, {} <{}> -> {}",
            rf(*ptr),
            i(*idx),
            names.array(*descr),
            rf(*dst)
        ),
        Insn::SliceGetItem {
            descr,
            ptr,
            idx,
            dst,
        } => format!(
            "slice_getitem {}, {} <{}> -> {}",
            rf(*ptr),
            i(*idx),
            names.array(*descr),
            item(*descr, *dst)
        ),
        Insn::SliceSetItem {
            descr,
            ptr,
            idx,
            value,
        } => format!(
            "slice_setitem {}, {} <{}>, {}",
            rf(*ptr),
            i(*idx),
            names.array(*descr),
            item(*descr, *value)
        ),
        Insn::StringAsStr { string, ptr, len } => {
            format!("string_as_str {} -> {}, {}", rf(*string), rf(*ptr), i(*len))
        }
        Insn::Call {
            flavor,
            jitcode,
            args,
            results,
        } => {
            let name = match flavor {
                CallFlavor::Regular => "call",
                CallFlavor::Elidable => "call_elidable",
                CallFlavor::LoopInvariant => "call_loopinvariant",
            };
            format!(
                "{name} <{}> ({}) -> ({})",
                names.jitcode(*jitcode),
                regs.list(args),
                regs.list(results)
            )
        }
        Insn::ResidualCall {
            descr,
            args,
            results,
        } => format!(
            "residual_call <{}> ({}) -> ({})",
            names.call(*descr),
            regs.list(args),
            regs.list(results)
        ),
        Insn::Promote { kind, src, dst } => format!(
            "{}_promote {} -> {}",
            kind,
            regs.reg(*kind, *src),
            regs.reg(*kind, *dst)
        ),
        Insn::WeAreJitted { dst } => format!("we_are_jitted -> {}", i(*dst)),
        Insn::MergePoint { driver, args } => format!(
            "jit_merge_point <{}> ({})",
            names.driver(*driver),
            regs.list(args)
        ),
        Insn::CanEnterJit { driver, args } => format!(
            "can_enter_jit <{}> ({})",
            names.driver(*driver),
            regs.list(args)
        ),
        Insn::Live { regs: live } => format!("-live- {}", regs.list(live)),
        Insn::Goto { target } => format!("goto L{target}"),
        Insn::GotoIfNot { cond, target } => format!("goto_if_not {} L{target}", i(*cond)),
        Insn::Switch {
            value,
            cases,
            default,
        } => {
            let cs: Vec<String> = cases.iter().map(|(v, l)| format!("{v}: L{l}")).collect();
            format!(
                "switch {} [{}] default L{default}",
                i(*value),
                cs.join(", ")
            )
        }
        Insn::Return { values } => format!("return ({})", regs.list(values)),
        Insn::Panic { kind, message } => format!(
            "panic/{} {}",
            format!("{kind:?}").to_lowercase(),
            names.string(*message)
        ),
    }
}

/// A whole jitcode: header, then one instruction per line, labels where
/// something jumps.
pub fn format_jitcode(
    name: &str,
    insns: &[Insn],
    args: &[KReg],
    regs: &RegNames,
    names: &dyn JitCodeNames,
) -> String {
    let mut targets = BTreeSet::new();
    for insn in insns {
        match insn {
            Insn::Goto { target } | Insn::GotoIfNot { target, .. } => {
                targets.insert(*target);
            }
            Insn::Switch { cases, default, .. } => {
                targets.insert(*default);
                targets.extend(cases.iter().map(|c| c.1));
            }
            _ => {}
        }
    }
    let mut out = format!(
        "jitcode {}({}) regs i{} r{} f{}\n",
        name,
        regs.list(args),
        regs.num_regs[0],
        regs.num_regs[1],
        regs.num_regs[2]
    );
    for (pc, insn) in insns.iter().enumerate() {
        let label = if targets.contains(&(pc as u32)) {
            format!("L{pc}:")
        } else {
            String::new()
        };
        out.push_str(&format!("{label:<5} {}\n", format_insn(insn, regs, names)));
    }
    out
}
