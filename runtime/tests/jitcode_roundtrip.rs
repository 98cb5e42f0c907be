//! `encode` then `decode` gives back every instruction, with every operand
//! value the encoding distinguishes.

use metatrace_runtime::jitcode::*;
use metatrace_testkit::ops::{CMP_OPS, FLOAT_BIN_OPS, INT_BIN_OPS};

/// Exhaustive on purpose: a new instruction fails to compile here until it
/// is added to `all_insns`.
fn variant(insn: &Insn) -> usize {
    match insn {
        Insn::Copy { .. } => 0,
        Insn::IntBin { .. } => 1,
        Insn::IntNeg { .. } => 2,
        Insn::IntNot { .. } => 3,
        Insn::IntCmp { .. } => 4,
        Insn::FloatBin { .. } => 5,
        Insn::FloatNeg { .. } => 6,
        Insn::FloatCmp { .. } => 7,
        Insn::Cast { .. } => 8,
        Insn::GetField { .. } => 9,
        Insn::SetField { .. } => 10,
        Insn::FieldAddr { .. } => 11,
        Insn::Load { .. } => 12,
        Insn::Store { .. } => 13,
        Insn::EnumTag { .. } => 14,
        Insn::VecLen { .. } => 15,
        Insn::VecItemAddr { .. } => 16,
        Insn::VecGetItem { .. } => 17,
        Insn::VecSetItem { .. } => 18,
        Insn::VecPush { .. } => 19,
        Insn::VecPop { .. } => 20,
        Insn::VecAsSlice { .. } => 21,
        Insn::SliceItemAddr { .. } => 22,
        Insn::SliceGetItem { .. } => 23,
        Insn::SliceSetItem { .. } => 24,
        Insn::StringAsStr { .. } => 25,
        Insn::Call { .. } => 26,
        Insn::ResidualCall { .. } => 27,
        Insn::Promote { .. } => 28,
        Insn::WeAreJitted { .. } => 29,
        Insn::MergePoint { .. } => 30,
        Insn::CanEnterJit { .. } => 31,
        Insn::Live { .. } => 32,
        Insn::Goto { .. } => 33,
        Insn::GotoIfNot { .. } => 34,
        Insn::Switch { .. } => 35,
        Insn::Return { .. } => 36,
        Insn::Panic { .. } => 37,
        Insn::New { .. } => 38,
        Insn::Free { .. } => 39,
        Insn::VecPushSlot { .. } => 40,
        Insn::VecPopSlot { .. } => 41,
        Insn::VecInit { .. } => 42,
        Insn::VecDrop { .. } => 43,
        Insn::VecTake { .. } => 44,
        Insn::VecTruncate { .. } => 45,
        Insn::QuasiImmutGet { .. } => 46,
        Insn::FunctionEntry { .. } => 47,
    }
}
const VARIANTS: usize = 48;

fn scalars() -> Vec<ScalarTy> {
    let mut v: Vec<ScalarTy> = IntTy::ALL.iter().map(|&t| ScalarTy::Int(t)).collect();
    v.extend([ScalarTy::Bool, ScalarTy::Char, ScalarTy::F64, ScalarTy::Ref]);
    v
}

fn kregs(n: u16) -> Vec<KReg> {
    (0..n)
        .map(|k| KReg {
            kind: Kind::ALL[k as usize % 3],
            reg: k * 1000 + 7,
        })
        .collect()
}

fn all_insns() -> Vec<Insn> {
    use Insn::*;
    let mut v = Vec::new();
    for kind in Kind::ALL {
        v.push(Copy {
            kind,
            src: 1,
            dst: 65535,
        });
        v.push(Promote {
            kind,
            src: 300,
            dst: 2,
        });
    }
    for ty in IntTy::ALL {
        for op in INT_BIN_OPS {
            v.push(IntBin {
                op,
                ty,
                a: 1,
                b: 2,
                dst: 3,
            });
        }
        for op in CMP_OPS {
            v.push(IntCmp {
                op,
                ty,
                a: 4,
                b: 5,
                dst: 6,
            });
        }
        v.push(IntNeg { ty, a: 7, dst: 8 });
        v.push(IntNot { ty, a: 9, dst: 10 });
    }
    for op in FLOAT_BIN_OPS {
        v.push(FloatBin {
            op,
            a: 11,
            b: 12,
            dst: 13,
        });
    }
    v.push(FloatNeg { a: 14, dst: 15 });
    for op in CMP_OPS {
        v.push(FloatCmp {
            op,
            a: 16,
            b: 17,
            dst: 18,
        });
    }
    for from in scalars() {
        for to in scalars() {
            v.push(Cast {
                from,
                to,
                src: 19,
                dst: 20,
            });
        }
        v.push(Load {
            ty: from,
            addr: 21,
            dst: 22,
        });
        v.push(Store {
            ty: from,
            addr: 23,
            value: 24,
        });
    }
    v.push(GetField {
        descr: FieldId(1),
        base: 2,
        dst: 3,
    });
    v.push(QuasiImmutGet {
        descr: FieldId(3),
        base: 4,
        dst: 5,
    });
    v.push(SetField {
        descr: FieldId(4),
        base: 5,
        value: 6,
    });
    v.push(FieldAddr {
        descr: FieldId(7),
        base: 8,
        dst: 9,
    });
    v.push(EnumTag {
        descr: EnumId(10),
        addr: 11,
        dst: 12,
    });
    v.push(VecLen {
        descr: ArrayId(13),
        vec: 14,
        dst: 15,
    });
    v.push(VecItemAddr {
        descr: ArrayId(16),
        vec: 17,
        idx: 18,
        dst: 19,
    });
    v.push(VecGetItem {
        descr: ArrayId(20),
        vec: 21,
        idx: 22,
        dst: 23,
    });
    v.push(VecSetItem {
        descr: ArrayId(24),
        vec: 25,
        idx: 26,
        value: 27,
    });
    v.push(VecPush {
        descr: ArrayId(28),
        vec: 29,
        value: 30,
    });
    v.push(VecPop {
        descr: ArrayId(31),
        vec: 32,
        tag: 33,
        value: 34,
    });
    v.push(VecAsSlice {
        descr: ArrayId(35),
        vec: 36,
        ptr: 37,
        len: 38,
    });
    v.push(SliceItemAddr {
        descr: ArrayId(39),
        ptr: 40,
        idx: 41,
        dst: 42,
    });
    v.push(SliceGetItem {
        descr: ArrayId(43),
        ptr: 44,
        idx: 45,
        dst: 46,
    });
    v.push(SliceSetItem {
        descr: ArrayId(47),
        ptr: 48,
        idx: 49,
        value: 50,
    });
    v.push(StringAsStr {
        string: 51,
        ptr: 52,
        len: 53,
    });
    for flavor in [
        CallFlavor::Regular,
        CallFlavor::Elidable,
        CallFlavor::LoopInvariant,
    ] {
        v.push(Call {
            flavor,
            jitcode: JitCodeId(54),
            args: kregs(5),
            results: kregs(2),
        });
    }
    v.push(Call {
        flavor: CallFlavor::Regular,
        jitcode: JitCodeId(65535),
        args: vec![],
        results: vec![],
    });
    v.push(ResidualCall {
        descr: CallId(55),
        args: kregs(3),
        results: kregs(0),
    });
    v.push(ResidualCall {
        descr: CallId(56),
        args: vec![],
        results: kregs(4),
    });
    v.push(WeAreJitted { dst: 57 });
    v.push(MergePoint {
        driver: DriverId(58),
        args: kregs(6),
    });
    v.push(CanEnterJit {
        driver: DriverId(59),
        args: kregs(6),
    });
    v.push(FunctionEntry {
        driver: DriverId(59),
        args: kregs(3),
    });
    v.push(Live { regs: kregs(0) });
    v.push(Live { regs: kregs(9) });
    v.push(Goto { target: 0 });
    v.push(Goto { target: u32::MAX });
    v.push(GotoIfNot {
        cond: 60,
        target: 123_456,
    });
    v.push(Switch {
        value: 61,
        cases: vec![],
        default: 3,
    });
    v.push(Switch {
        value: 62,
        cases: vec![(i64::MIN, 1), (-1, 2), (0, 3), (i64::MAX, 70_000)],
        default: 4,
    });
    v.push(Return { values: vec![] });
    v.push(Return { values: kregs(3) });
    for kind in [
        PanicKind::BoundsCheck,
        PanicKind::DivideByZero,
        PanicKind::DivideOverflow,
        PanicKind::Unwrap,
        PanicKind::Explicit,
    ] {
        v.push(Panic {
            kind,
            message: StringId(63),
        });
    }
    for (descr, reg) in [(0, 0), (7, 300), (u16::MAX, u16::MAX)] {
        v.push(New {
            descr: AllocId(descr),
            dst: reg,
        });
        v.push(Free {
            descr: AllocId(descr),
            ptr: reg,
        });
        v.push(VecPushSlot {
            vec: reg,
            descr: ArrayId(descr),
            dst: reg,
        });
        v.push(VecPopSlot {
            vec: reg,
            descr: ArrayId(descr),
            tag: reg,
            dst: reg,
        });
        v.push(VecInit {
            vec: reg,
            len: reg,
            descr: ArrayId(descr),
        });
        v.push(VecDrop {
            vec: reg,
            descr: ArrayId(descr),
        });
        v.push(VecTake {
            dst: reg,
            src: reg,
            descr: ArrayId(descr),
        });
        v.push(VecTruncate {
            vec: reg,
            len: reg,
            descr: ArrayId(descr),
        });
    }
    v
}

#[test]
fn every_variant_is_covered() {
    let mut seen = [false; VARIANTS];
    for i in all_insns() {
        seen[variant(&i)] = true;
    }
    let missing: Vec<usize> = (0..VARIANTS).filter(|&k| !seen[k]).collect();
    assert!(
        missing.is_empty(),
        "variants without a round-trip case: {missing:?}"
    );
}

#[test]
fn each_instruction_round_trips_alone() {
    for insn in all_insns() {
        let bytes = encode(std::slice::from_ref(&insn));
        assert_eq!(
            decode(&bytes),
            Ok(vec![insn.clone()]),
            "{insn:?} as {bytes:?}"
        );
    }
}

#[test]
fn a_whole_sequence_round_trips() {
    let insns = all_insns();
    let bytes = encode(&insns);
    assert_eq!(decode(&bytes).unwrap(), insns);
    // Encoding is deterministic and injective enough that re-encoding gives the same bytes.
    assert_eq!(encode(&decode(&bytes).unwrap()), bytes);
}

#[test]
fn distinct_instructions_encode_distinctly() {
    let insns = all_insns();
    let mut seen = std::collections::HashMap::new();
    for i in &insns {
        if let Some(prev) = seen.insert(encode(std::slice::from_ref(i)), i.clone()) {
            assert_eq!(&prev, i, "two instructions with one encoding");
        }
    }
}

#[test]
fn truncated_code_is_an_error_not_a_panic() {
    let insns = all_insns();
    for insn in &insns {
        let bytes = encode(std::slice::from_ref(insn));
        for cut in 1..bytes.len() {
            let e = decode(&bytes[..cut]).expect_err("truncated");
            assert!(e.offset <= cut, "{insn:?} cut at {cut}: {e}");
        }
    }
}

#[test]
fn malformed_bytes_are_reported() {
    assert_eq!(decode(&[]), Ok(vec![]));
    // (Past the table, however long it grows.)
    let e = decode(&[255]).unwrap_err();
    assert_eq!((e.offset, e.message.as_str()), (0, "unknown opcode 255"));
    // A valid Goto, then a Copy with a bad kind byte.
    let mut bytes = encode(&[Insn::Goto { target: 1 }]);
    let at = bytes.len();
    bytes.extend([0, 3, 0, 0, 0, 0]);
    let e = decode(&bytes).unwrap_err();
    assert_eq!(e.message, "bad register kind");
    assert!(e.offset > at);
    // IntBin with an operator byte out of range: the offset names that byte.
    let e = decode(&[1, 10, 0, 0, 0, 0, 0, 0, 0]).unwrap_err();
    assert_eq!((e.offset, e.message.as_str()), (1, "bad int op"));
    // IntNeg with a bad int type.
    assert_eq!(
        decode(&[2, 10, 0, 0, 0, 0]).unwrap_err().message,
        "bad int type"
    );
    // Load with a bad scalar type.
    assert_eq!(
        decode(&[12, 5, 0, 0, 0, 0]).unwrap_err().message,
        "bad scalar type"
    );
}

/// Every instruction prints (descrs by index: `field#3`) and parses back
/// to itself.
#[test]
fn every_instruction_prints_and_parses_back() {
    struct Indices;
    impl JitCodeNames for Indices {
        fn descr(&self, _table: DescrTable, _i: u16) -> Option<String> {
            None
        }
    }
    // So many registers that every operand is one (no constants).
    let n = u16::MAX;
    let regs = RegNames {
        num_regs: [n, n, n],
        consts: [&[], &[], &[]],
    };
    for insn in all_insns() {
        let line = format_insn(&insn, &regs, &Indices);
        let text = format!("jitcode t() regs i{n} r{n} f{n}\n{line}");
        let parsed = parse_jitcode(&text, &Indices).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed.insns, vec![insn.clone()], "{line}");
    }
}
