//! One function per jitcode instruction, its fields as arguments in
//! declaration order: `insn::int_bin(IntBinOp::Add, IntTy::I64, a, b, dst)`
//! for `Insn::IntBin { op, ty, a, b, dst }`, so that hand-written jitcodes
//! take a line per instruction.

use metatrace_runtime::jitcode::*;

pub fn copy(kind: Kind, src: Reg, dst: Reg) -> Insn {
    Insn::Copy { kind, src, dst }
}

pub fn int_bin(op: IntBinOp, ty: IntTy, a: Reg, b: Reg, dst: Reg) -> Insn {
    Insn::IntBin { op, ty, a, b, dst }
}

pub fn int_neg(ty: IntTy, a: Reg, dst: Reg) -> Insn {
    Insn::IntNeg { ty, a, dst }
}

pub fn int_not(ty: IntTy, a: Reg, dst: Reg) -> Insn {
    Insn::IntNot { ty, a, dst }
}

pub fn int_cmp(op: CmpOp, ty: IntTy, a: Reg, b: Reg, dst: Reg) -> Insn {
    Insn::IntCmp { op, ty, a, b, dst }
}

pub fn float_bin(op: FloatBinOp, a: Reg, b: Reg, dst: Reg) -> Insn {
    Insn::FloatBin { op, a, b, dst }
}

pub fn float_neg(a: Reg, dst: Reg) -> Insn {
    Insn::FloatNeg { a, dst }
}

pub fn float_cmp(op: CmpOp, a: Reg, b: Reg, dst: Reg) -> Insn {
    Insn::FloatCmp { op, a, b, dst }
}

pub fn cast(from: ScalarTy, to: ScalarTy, src: Reg, dst: Reg) -> Insn {
    Insn::Cast { from, to, src, dst }
}

pub fn get_field(descr: u16, base: Reg, dst: Reg) -> Insn {
    Insn::GetField {
        descr: FieldId(descr),
        base,
        dst,
    }
}

pub fn set_field(descr: u16, base: Reg, value: Reg) -> Insn {
    Insn::SetField {
        descr: FieldId(descr),
        base,
        value,
    }
}

pub fn field_addr(descr: u16, base: Reg, dst: Reg) -> Insn {
    Insn::FieldAddr {
        descr: FieldId(descr),
        base,
        dst,
    }
}

pub fn load(ty: ScalarTy, addr: Reg, dst: Reg) -> Insn {
    Insn::Load { ty, addr, dst }
}

pub fn store(ty: ScalarTy, addr: Reg, value: Reg) -> Insn {
    Insn::Store { ty, addr, value }
}

pub fn enum_tag(descr: u16, addr: Reg, dst: Reg) -> Insn {
    Insn::EnumTag {
        descr: EnumId(descr),
        addr,
        dst,
    }
}

pub fn vec_len(descr: u16, vec: Reg, dst: Reg) -> Insn {
    Insn::VecLen {
        descr: ArrayId(descr),
        vec,
        dst,
    }
}

pub fn vec_item_addr(descr: u16, vec: Reg, idx: Reg, dst: Reg) -> Insn {
    Insn::VecItemAddr {
        descr: ArrayId(descr),
        vec,
        idx,
        dst,
    }
}

pub fn vec_get_item(descr: u16, vec: Reg, idx: Reg, dst: Reg) -> Insn {
    Insn::VecGetItem {
        descr: ArrayId(descr),
        vec,
        idx,
        dst,
    }
}

pub fn vec_set_item(descr: u16, vec: Reg, idx: Reg, value: Reg) -> Insn {
    Insn::VecSetItem {
        descr: ArrayId(descr),
        vec,
        idx,
        value,
    }
}

pub fn vec_push(descr: u16, vec: Reg, value: Reg) -> Insn {
    Insn::VecPush {
        descr: ArrayId(descr),
        vec,
        value,
    }
}

pub fn vec_pop(descr: u16, vec: Reg, tag: Reg, value: Reg) -> Insn {
    Insn::VecPop {
        descr: ArrayId(descr),
        vec,
        tag,
        value,
    }
}

pub fn vec_push_slot(descr: u16, vec: Reg, dst: Reg) -> Insn {
    Insn::VecPushSlot {
        descr: ArrayId(descr),
        vec,
        dst,
    }
}

pub fn vec_pop_slot(descr: u16, vec: Reg, tag: Reg, dst: Reg) -> Insn {
    Insn::VecPopSlot {
        descr: ArrayId(descr),
        vec,
        tag,
        dst,
    }
}

pub fn vec_as_slice(descr: u16, vec: Reg, ptr: Reg, len: Reg) -> Insn {
    Insn::VecAsSlice {
        descr: ArrayId(descr),
        vec,
        ptr,
        len,
    }
}

pub fn slice_item_addr(descr: u16, ptr: Reg, idx: Reg, dst: Reg) -> Insn {
    Insn::SliceItemAddr {
        descr: ArrayId(descr),
        ptr,
        idx,
        dst,
    }
}

pub fn slice_get_item(descr: u16, ptr: Reg, idx: Reg, dst: Reg) -> Insn {
    Insn::SliceGetItem {
        descr: ArrayId(descr),
        ptr,
        idx,
        dst,
    }
}

pub fn slice_set_item(descr: u16, ptr: Reg, idx: Reg, value: Reg) -> Insn {
    Insn::SliceSetItem {
        descr: ArrayId(descr),
        ptr,
        idx,
        value,
    }
}

pub fn string_as_str(string: Reg, ptr: Reg, len: Reg) -> Insn {
    Insn::StringAsStr { string, ptr, len }
}

pub fn call(flavor: CallFlavor, jitcode: u16, args: Vec<KReg>, results: Vec<KReg>) -> Insn {
    Insn::Call {
        flavor,
        jitcode: JitCodeId(jitcode),
        args,
        results,
    }
}

pub fn residual_call(descr: u16, args: Vec<KReg>, results: Vec<KReg>) -> Insn {
    Insn::ResidualCall {
        descr: CallId(descr),
        args,
        results,
    }
}

pub fn new(descr: u16, dst: Reg) -> Insn {
    Insn::New {
        descr: AllocId(descr),
        dst,
    }
}

pub fn free(descr: u16, ptr: Reg) -> Insn {
    Insn::Free {
        descr: AllocId(descr),
        ptr,
    }
}

pub fn promote(kind: Kind, src: Reg, dst: Reg) -> Insn {
    Insn::Promote { kind, src, dst }
}

pub fn we_are_jitted(dst: Reg) -> Insn {
    Insn::WeAreJitted { dst }
}

pub fn merge_point(driver: u16, args: Vec<KReg>) -> Insn {
    Insn::MergePoint {
        driver: DriverId(driver),
        args,
    }
}

pub fn can_enter_jit(driver: u16, args: Vec<KReg>) -> Insn {
    Insn::CanEnterJit {
        driver: DriverId(driver),
        args,
    }
}

pub fn function_entry(driver: u16, args: Vec<KReg>) -> Insn {
    Insn::FunctionEntry {
        driver: DriverId(driver),
        args,
    }
}

pub fn live(regs: Vec<KReg>) -> Insn {
    Insn::Live { regs }
}

pub fn goto(target: Label) -> Insn {
    Insn::Goto { target }
}

pub fn goto_if_not(cond: Reg, target: Label) -> Insn {
    Insn::GotoIfNot { cond, target }
}

pub fn switch(value: Reg, cases: Vec<(i64, Label)>, default: Label) -> Insn {
    Insn::Switch {
        value,
        cases,
        default,
    }
}

pub fn ret(values: Vec<KReg>) -> Insn {
    Insn::Return { values }
}

pub fn panic(kind: PanicKind, message: u16) -> Insn {
    Insn::Panic {
        kind,
        message: StringId(message),
    }
}
