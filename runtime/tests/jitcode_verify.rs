//! The jitcode verifier: valid code passes, each malformation is reported
//! with its message, all of them at once.

use metatrace_runtime::jitcode::*;
use metatrace_testkit::jitcode::{array, kf, ki, kr};

/// Descr tables for the tests:
/// - fields: 0 scalar i32, 1 aggregate;
/// - arrays: 0 `Vec<u8>`, 1 `[u16]` (slice), 2 `Vec<Point>` (non-scalar items), 3 `Vec<f64>`;
/// - one enum; calls: 0 `(int, ref) -> (float)`; jitcodes: 0 `(int) -> (int, float)`;
/// - one string, one driver.
struct Mock;

impl DescrInfo for Mock {
    fn field_ty(&self, i: FieldId) -> Option<Option<ScalarTy>> {
        match i.0 {
            0 => Some(Some(ScalarTy::Int(IntTy::I32))),
            1 => Some(None),
            _ => None,
        }
    }
    fn array_ty(&self, i: ArrayId) -> Option<(bool, Option<ScalarTy>)> {
        match i.0 {
            0 => Some((true, Some(ScalarTy::Int(IntTy::U8)))),
            1 => Some((false, Some(ScalarTy::Int(IntTy::U16)))),
            2 => Some((true, None)),
            3 => Some((true, Some(ScalarTy::F64))),
            _ => None,
        }
    }
    fn call_kinds(&self, i: CallId) -> Option<(Vec<Kind>, Vec<Kind>)> {
        (i.0 == 0).then(|| (vec![Kind::Int, Kind::Ref], vec![Kind::Float]))
    }
    fn jitcode_kinds(&self, i: JitCodeId) -> Option<(Vec<Kind>, Vec<Kind>)> {
        (i.0 == 0).then(|| (vec![Kind::Int], vec![Kind::Int, Kind::Float]))
    }
}

impl JitCodeNames for Mock {
    fn descr(&self, table: DescrTable, i: u16) -> Option<String> {
        let n = match table {
            DescrTable::Field { .. } => 2,
            DescrTable::Array { .. } => 4,
            DescrTable::Alloc => 0,
            _ => 1,
        };
        (i < n).then(|| format!("{}{i}", table.what()))
    }
}

const ARGS: &[KReg] = &[
    KReg {
        kind: Kind::Int,
        reg: 0,
    },
    KReg {
        kind: Kind::Ref,
        reg: 0,
    },
];
const RESULTS: &[Kind] = &[Kind::Int];

/// Verify `insns` in a jitcode `f(i0, r0) -> int` with 4 int, 3 ref and 2
/// float registers, and 2 constants of each kind (`%i4`, `%i5`, `%r3`,
/// `%r4`, `%f2`, `%f3`).
fn check(insns: Vec<Insn>) -> Result<(), Vec<String>> {
    let shape = JitCodeShape {
        name: "f",
        insns: &insns,
        num_regs: [4, 3, 2],
        num_consts: [2, 2, 2],
        args: ARGS,
        results: RESULTS,
    };
    verify_jitcode(&shape, &Mock)
}

/// The errors of `insns` followed by `return %i0`.
fn errors(mut insns: Vec<Insn>) -> Vec<String> {
    insns.push(Insn::Return {
        values: vec![ki(0)],
    });
    check(insns).expect_err("must be rejected")
}

fn one_error(insns: Vec<Insn>) -> String {
    let e = errors(insns);
    assert_eq!(e.len(), 1, "{e:#?}");
    e.into_iter().next().unwrap()
}

fn valid_code() -> Vec<Insn> {
    use Insn::*;
    vec![
        Copy {
            kind: Kind::Int,
            src: 4,
            dst: 1,
        },
        IntBin {
            op: IntBinOp::Add,
            ty: IntTy::U8,
            a: 0,
            b: 5,
            dst: 2,
        },
        IntNeg {
            ty: IntTy::I8,
            a: 2,
            dst: 2,
        },
        IntNot {
            ty: IntTy::I8,
            a: 2,
            dst: 2,
        },
        IntCmp {
            op: CmpOp::Lt,
            ty: IntTy::U64,
            a: 1,
            b: 2,
            dst: 3,
        },
        FloatBin {
            op: FloatBinOp::Add,
            a: 0,
            b: 3,
            dst: 1,
        },
        FloatNeg { a: 1, dst: 1 },
        FloatCmp {
            op: CmpOp::Eq,
            a: 0,
            b: 1,
            dst: 3,
        },
        Cast {
            from: ScalarTy::F64,
            to: ScalarTy::Int(IntTy::U8),
            src: 1,
            dst: 2,
        },
        Cast {
            from: ScalarTy::Int(IntTy::U8),
            to: ScalarTy::Char,
            src: 2,
            dst: 2,
        },
        GetField {
            descr: FieldId(0),
            base: 0,
            dst: 1,
        },
        SetField {
            descr: FieldId(0),
            base: 0,
            value: 5,
        },
        FieldAddr {
            descr: FieldId(1),
            base: 0,
            dst: 1,
        },
        Load {
            ty: ScalarTy::F64,
            addr: 1,
            dst: 0,
        },
        Store {
            ty: ScalarTy::Ref,
            addr: 1,
            value: 4,
        },
        EnumTag {
            descr: EnumId(0),
            addr: 1,
            dst: 1,
        },
        VecLen {
            descr: ArrayId(2),
            vec: 0,
            dst: 1,
        },
        VecItemAddr {
            descr: ArrayId(2),
            vec: 0,
            idx: 1,
            dst: 2,
        },
        VecGetItem {
            descr: ArrayId(0),
            vec: 0,
            idx: 1,
            dst: 2,
        },
        VecSetItem {
            descr: ArrayId(3),
            vec: 0,
            idx: 1,
            value: 2,
        },
        VecPush {
            descr: ArrayId(0),
            vec: 0,
            value: 4,
        },
        VecPop {
            descr: ArrayId(3),
            vec: 0,
            tag: 1,
            value: 0,
        },
        VecAsSlice {
            descr: ArrayId(0),
            vec: 0,
            ptr: 1,
            len: 2,
        },
        SliceItemAddr {
            descr: ArrayId(2),
            ptr: 1,
            idx: 2,
            dst: 2,
        },
        SliceGetItem {
            descr: ArrayId(1),
            ptr: 1,
            idx: 2,
            dst: 2,
        },
        SliceSetItem {
            descr: ArrayId(0),
            ptr: 1,
            idx: 2,
            value: 5,
        },
        StringAsStr {
            string: 3,
            ptr: 1,
            len: 2,
        },
        Live {
            regs: vec![ki(0), kr(1), kf(0)],
        },
        Call {
            flavor: CallFlavor::Regular,
            jitcode: JitCodeId(0),
            args: vec![ki(5)],
            results: vec![ki(1), kf(1)],
        },
        ResidualCall {
            descr: CallId(0),
            args: vec![ki(1), kr(4)],
            results: vec![kf(0)],
        },
        Promote {
            kind: Kind::Ref,
            src: 4,
            dst: 2,
        },
        WeAreJitted { dst: 3 },
        MergePoint {
            driver: DriverId(0),
            args: vec![ki(0), kr(0)],
        },
        CanEnterJit {
            driver: DriverId(0),
            args: vec![ki(0), kr(0)],
        },
        GotoIfNot {
            cond: 3,
            target: 36,
        },
        Switch {
            value: 1,
            cases: vec![(1, 0), (-7, 37)],
            default: 38,
        },
        Goto { target: 0 },
        Panic {
            kind: PanicKind::Explicit,
            message: StringId(0),
        },
        Return {
            values: vec![ki(4)],
        },
    ]
}

#[test]
fn valid_code_passes() {
    assert_eq!(check(valid_code()), Ok(()));
}

#[test]
fn register_out_of_range() {
    // int registers: 4 + 2 constants, so 6 is out of range.
    assert_eq!(
        one_error(vec![Insn::IntBin { op: IntBinOp::Add, ty: IntTy::I64, a: 6, b: 0, dst: 1 }]),
        "f: insn 0 (int_add/i64 %i6?, %i0 -> %i1): int register 6 out of range (4 registers + 2 constants)"
    );
    let e = one_error(vec![Insn::Load {
        ty: ScalarTy::F64,
        addr: 5,
        dst: 0,
    }]);
    assert!(
        e.ends_with("ref register 5 out of range (3 registers + 2 constants)"),
        "{e}"
    );
    let e = one_error(vec![Insn::FloatNeg { a: 0, dst: 9 }]);
    assert!(
        e.ends_with("float register 9 out of range (2 registers + 2 constants)"),
        "{e}"
    );
    let e = one_error(vec![Insn::Live {
        regs: vec![ki(0), kr(40)],
    }]);
    assert!(e.contains("ref register 40 out of range"), "{e}");
    let e = one_error(vec![Insn::GotoIfNot {
        cond: 100,
        target: 0,
    }]);
    assert!(e.contains("int register 100 out of range"), "{e}");
}

#[test]
fn the_kind_follows_the_types() {
    // A getfield of an i32 writes an int register: %i5 is a constant, %r5 would be fine otherwise.
    let e = one_error(vec![Insn::GetField {
        descr: FieldId(0),
        base: 0,
        dst: 6,
    }]);
    assert!(e.contains("int register 6 out of range"), "{e}");
    // Cast from f64 reads a float register: float 4 is out of range, int 4 would not be.
    let e = one_error(vec![Insn::Cast {
        from: ScalarTy::F64,
        to: ScalarTy::Int(IntTy::I64),
        src: 4,
        dst: 0,
    }]);
    assert!(e.contains("float register 4 out of range"), "{e}");
    // A Vec<f64> item goes to a float register.
    let e = one_error(vec![Insn::VecGetItem {
        descr: ArrayId(3),
        vec: 0,
        idx: 0,
        dst: 3,
    }]);
    assert!(
        e.contains("writes float constant 1 (register 3; 2 registers)"),
        "{e}"
    );
}

#[test]
fn writing_a_constant() {
    assert_eq!(
        one_error(vec![Insn::Copy {
            kind: Kind::Int,
            src: 0,
            dst: 4
        }]),
        "f: insn 0 (int_copy %i0 -> $c0): writes int constant 0 (register 4; 4 registers)"
    );
    let e = one_error(vec![Insn::VecPop {
        descr: ArrayId(0),
        vec: 0,
        tag: 5,
        value: 1,
    }]);
    assert!(e.contains("writes int constant 1"), "{e}");
    let e = one_error(vec![Insn::Call {
        flavor: CallFlavor::Regular,
        jitcode: JitCodeId(0),
        args: vec![ki(0)],
        results: vec![ki(1), kf(2)],
    }]);
    assert!(e.contains("writes float constant 0"), "{e}");
    let e = one_error(vec![Insn::StringAsStr {
        string: 0,
        ptr: 3,
        len: 0,
    }]);
    assert!(e.contains("writes ref constant 0"), "{e}");
    let e = one_error(vec![Insn::WeAreJitted { dst: 5 }]);
    assert!(e.contains("writes int constant 1"), "{e}");
    // Reading constants is fine.
    assert_eq!(
        check(vec![Insn::Return {
            values: vec![ki(5)]
        }]),
        Ok(())
    );
}

#[test]
fn bad_labels() {
    let insns = vec![
        Insn::Goto { target: 99 },
        Insn::Return {
            values: vec![ki(0)],
        },
    ];
    assert_eq!(
        check(insns).unwrap_err(),
        vec!["f: insn 0 (goto L99): label 99 out of range (2 instructions)".to_string()]
    );
    let e = one_error(vec![Insn::GotoIfNot { cond: 0, target: 2 }]);
    assert!(e.contains("label 2 out of range (2 instructions)"), "{e}");
    // Every bad label of a switch, cases and default.
    let e = errors(vec![Insn::Switch {
        value: 0,
        cases: vec![(1, 0), (2, 7), (3, 8)],
        default: 9,
    }]);
    assert_eq!(e.len(), 3, "{e:#?}");
    assert!(e[0].contains("label 7 out of range"));
    assert!(e[2].contains("label 9 out of range"));
}

#[test]
fn bad_descrs() {
    let cases: Vec<(Insn, &str)> = vec![
        (
            Insn::GetField {
                descr: FieldId(2),
                base: 0,
                dst: 0,
            },
            "field descr 2 out of range",
        ),
        (
            Insn::SetField {
                descr: FieldId(7),
                base: 0,
                value: 0,
            },
            "field descr 7 out of range",
        ),
        (
            Insn::FieldAddr {
                descr: FieldId(2),
                base: 0,
                dst: 0,
            },
            "field descr 2 out of range",
        ),
        (
            Insn::EnumTag {
                descr: EnumId(1),
                addr: 0,
                dst: 0,
            },
            "enum descr 1 out of range",
        ),
        (
            Insn::VecLen {
                descr: ArrayId(4),
                vec: 0,
                dst: 0,
            },
            "array descr 4 out of range",
        ),
        (
            Insn::SliceGetItem {
                descr: ArrayId(9),
                ptr: 0,
                idx: 0,
                dst: 0,
            },
            "array descr 9 out of range",
        ),
        (
            Insn::ResidualCall {
                descr: CallId(1),
                args: vec![],
                results: vec![],
            },
            "call descr 1 out of range",
        ),
        (
            Insn::Call {
                flavor: CallFlavor::Elidable,
                jitcode: JitCodeId(3),
                args: vec![],
                results: vec![],
            },
            "jitcode 3 out of range",
        ),
        (
            Insn::Panic {
                kind: PanicKind::Unwrap,
                message: StringId(1),
            },
            "string 1 out of range",
        ),
        (
            Insn::MergePoint {
                driver: DriverId(1),
                args: vec![],
            },
            "driver 1 out of range",
        ),
        (
            Insn::CanEnterJit {
                driver: DriverId(2),
                args: vec![],
            },
            "driver 2 out of range",
        ),
    ];
    for (insn, msg) in cases {
        let e = one_error(vec![insn.clone()]);
        assert!(
            e.starts_with("f: insn 0 (") && e.ends_with(msg),
            "{insn:?}: {e}"
        );
    }
}

#[test]
fn scalar_and_vec_requirements() {
    let cases: Vec<(Insn, &str)> = vec![
        (
            Insn::GetField {
                descr: FieldId(1),
                base: 0,
                dst: 0,
            },
            "field descr 1 is not a scalar field",
        ),
        (
            Insn::SetField {
                descr: FieldId(1),
                base: 0,
                value: 0,
            },
            "field descr 1 is not a scalar field",
        ),
        (
            Insn::VecGetItem {
                descr: ArrayId(2),
                vec: 0,
                idx: 0,
                dst: 0,
            },
            "array descr 2 has no scalar items",
        ),
        (
            Insn::VecSetItem {
                descr: ArrayId(2),
                vec: 0,
                idx: 0,
                value: 0,
            },
            "array descr 2 has no scalar items",
        ),
        (
            Insn::SliceGetItem {
                descr: ArrayId(2),
                ptr: 0,
                idx: 0,
                dst: 0,
            },
            "array descr 2 has no scalar items",
        ),
        (
            Insn::SliceSetItem {
                descr: ArrayId(2),
                ptr: 0,
                idx: 0,
                value: 0,
            },
            "array descr 2 has no scalar items",
        ),
        (
            Insn::VecPush {
                descr: ArrayId(2),
                vec: 0,
                value: 0,
            },
            "array descr 2 has no scalar items",
        ),
        (
            Insn::VecLen {
                descr: ArrayId(1),
                vec: 0,
                dst: 0,
            },
            "array descr 1 is not a Vec",
        ),
        (
            Insn::VecItemAddr {
                descr: ArrayId(1),
                vec: 0,
                idx: 0,
                dst: 1,
            },
            "array descr 1 is not a Vec",
        ),
        (
            Insn::VecAsSlice {
                descr: ArrayId(1),
                vec: 0,
                ptr: 1,
                len: 0,
            },
            "array descr 1 is not a Vec",
        ),
        (
            Insn::VecPop {
                descr: ArrayId(1),
                vec: 0,
                tag: 0,
                value: 1,
            },
            "array descr 1 is not a Vec",
        ),
        (
            Insn::Cast {
                from: ScalarTy::Int(IntTy::U32),
                to: ScalarTy::Char,
                src: 0,
                dst: 0,
            },
            "invalid cast from u32 to char",
        ),
        (
            Insn::Cast {
                from: ScalarTy::F64,
                to: ScalarTy::Ref,
                src: 0,
                dst: 0,
            },
            "invalid cast from f64 to ref",
        ),
    ];
    for (insn, msg) in cases {
        let e = one_error(vec![insn.clone()]);
        assert!(e.ends_with(msg), "{insn:?}: {e}");
    }
    // Slice ops accept Vec descrs too (e.g. on a String's bytes).
    assert_eq!(
        check(vec![
            Insn::SliceGetItem {
                descr: ArrayId(0),
                ptr: 0,
                idx: 0,
                dst: 0
            },
            Insn::Return {
                values: vec![ki(0)]
            }
        ]),
        Ok(())
    );
}

#[test]
fn call_arity_and_kinds() {
    // jitcode 0: (int) -> (int, float)
    assert_eq!(
        one_error(vec![Insn::Call { flavor: CallFlavor::Regular, jitcode: JitCodeId(0), args: vec![ki(0), ki(1)], results: vec![ki(1), kf(0)] }]),
        "f: insn 0 (call <jitcode#0> (%i0, %i1) -> (%i1, %f0)): arguments (int, int) do not match the expected (int)"
    );
    let cases = [
        (
            Insn::Call {
                flavor: CallFlavor::Regular,
                jitcode: JitCodeId(0),
                args: vec![kr(0)],
                results: vec![ki(1), kf(0)],
            },
            "arguments (ref) do not match the expected (int)",
        ),
        (
            Insn::Call {
                flavor: CallFlavor::LoopInvariant,
                jitcode: JitCodeId(0),
                args: vec![ki(0)],
                results: vec![ki(1)],
            },
            "results (int) do not match the expected (int, float)",
        ),
        // residual call 0: (int, ref) -> (float)
        (
            Insn::ResidualCall {
                descr: CallId(0),
                args: vec![kr(0), ki(0)],
                results: vec![kf(0)],
            },
            "arguments (ref, int) do not match the expected (int, ref)",
        ),
        (
            Insn::ResidualCall {
                descr: CallId(0),
                args: vec![ki(0), kr(0)],
                results: vec![],
            },
            "results () do not match the expected (float)",
        ),
    ];
    for (insn, msg) in cases {
        let e = one_error(vec![insn]);
        assert!(e.ends_with(msg), "{e}");
    }
}

#[test]
fn return_values_match_the_results() {
    let e = check(vec![Insn::Return {
        values: vec![ki(0), ki(1)],
    }])
    .unwrap_err();
    assert_eq!(e, vec!["f: insn 0 (return (%i0, %i1)): returned values (int, int) do not match the expected (int)".to_string()]);
    let e = check(vec![Insn::Return {
        values: vec![kf(0)],
    }])
    .unwrap_err();
    assert!(
        e[0].ends_with("returned values (float) do not match the expected (int)"),
        "{e:?}"
    );
}

#[test]
fn missing_terminator() {
    let e = check(vec![Insn::Copy {
        kind: Kind::Int,
        src: 0,
        dst: 1,
    }])
    .unwrap_err();
    assert_eq!(
        e,
        vec!["f: insn 0 (int_copy %i0 -> %i1): last instruction is not a terminator (goto, switch, return, panic): execution can fall off the end".to_string()]
    );
    // A conditional jump is not a terminator.
    assert!(check(vec![Insn::GotoIfNot { cond: 0, target: 0 }]).is_err());
    // Each terminator is.
    for t in [
        Insn::Goto { target: 0 },
        Insn::Switch {
            value: 0,
            cases: vec![],
            default: 0,
        },
        Insn::Panic {
            kind: PanicKind::Explicit,
            message: StringId(0),
        },
        Insn::Return {
            values: vec![ki(0)],
        },
    ] {
        assert_eq!(check(vec![t.clone()]), Ok(()), "{t:?}");
        assert!(t.is_terminator());
    }
    assert_eq!(
        check(vec![]).unwrap_err(),
        vec!["f: no instructions".to_string()]
    );
}

#[test]
fn argument_registers_must_be_registers() {
    let insns = [Insn::Return {
        values: vec![ki(0)],
    }];
    let shape = |args: &'static [KReg]| JitCodeShape {
        name: "g",
        insns: &insns,
        num_regs: [1, 1, 0],
        num_consts: [1, 0, 1],
        args,
        results: RESULTS,
    };
    const CONST_ARG: &[KReg] = &[KReg {
        kind: Kind::Int,
        reg: 1,
    }];
    assert_eq!(
        verify_jitcode(&shape(CONST_ARG), &Mock).unwrap_err(),
        vec!["g: argument register i1 is not a register (1 int registers)".to_string()]
    );
    const FLOAT_ARG: &[KReg] = &[KReg {
        kind: Kind::Float,
        reg: 0,
    }];
    assert!(verify_jitcode(&shape(FLOAT_ARG), &Mock).unwrap_err()[0]
        .contains("argument register f0 is not a register"));
    const TWICE: &[KReg] = &[
        KReg {
            kind: Kind::Ref,
            reg: 0,
        },
        KReg {
            kind: Kind::Ref,
            reg: 0,
        },
    ];
    assert_eq!(
        verify_jitcode(&shape(TWICE), &Mock).unwrap_err(),
        vec!["g: argument register r0 appears twice".to_string()]
    );
    // `ARGS` is `(%i0, %r0)`: distinct registers of two kinds.
    assert_eq!(verify_jitcode(&shape(ARGS), &Mock), Ok(()));
}

#[test]
fn all_problems_are_collected() {
    let insns = vec![
        Insn::Copy {
            kind: Kind::Int,
            src: 77,
            dst: 5,
        },
        Insn::Goto { target: 50 },
        Insn::GetField {
            descr: FieldId(1),
            base: 9,
            dst: 0,
        },
        Insn::IntNeg {
            ty: IntTy::I8,
            a: 0,
            dst: 0,
        },
    ];
    let e = check(insns).unwrap_err();
    assert_eq!(e.len(), 6, "{e:#?}");
    assert!(e[0].starts_with("f: insn 0 ") && e[0].contains("int register 77 out of range"));
    assert!(e[1].starts_with("f: insn 0 ") && e[1].contains("writes int constant 1"));
    assert!(
        e[2].starts_with("f: insn 1 ") && e[2].contains("label 50 out of range (4 instructions)")
    );
    assert!(e[3].starts_with("f: insn 2 ") && e[3].contains("ref register 9 out of range"));
    assert!(e[4].starts_with("f: insn 2 ") && e[4].contains("not a scalar field"));
    assert!(e[5].starts_with("f: insn 3 ") && e[5].contains("not a terminator"));
}

// ---------------------------------------------------------------------------
// DescrInfo for static Tables.

unsafe fn vlen(_: usize) -> usize {
    0
}
unsafe fn vptr(_: usize) -> usize {
    0
}
unsafe fn tag(_: usize) -> u32 {
    0
}
unsafe fn shim(_: &[u64], _: &mut [u64]) {}

static CALLEE_ARGS: [KReg; 2] = [
    KReg {
        kind: Kind::Float,
        reg: 0,
    },
    KReg {
        kind: Kind::Int,
        reg: 1,
    },
];

fn static_tables(code: Vec<u8>, driver_jitcode: u16) -> &'static Tables {
    let jitcodes = vec![
        JitCode {
            name: "main",
            code: Box::leak(code.into_boxed_slice()),
            num_regs: [2, 1, 1],
            consts_i: &[7],
            consts_r: &[RefConst::Null],
            consts_f: &[],
            args: &[KReg {
                kind: Kind::Int,
                reg: 0,
            }],
            results: &[Kind::Int],
        },
        JitCode {
            name: "callee",
            code: Box::leak(
                encode(&[Insn::Return {
                    values: vec![ki(1)],
                }])
                .into_boxed_slice(),
            ),
            num_regs: [2, 0, 1],
            consts_i: &[],
            consts_r: &[],
            consts_f: &[],
            args: &CALLEE_ARGS,
            results: &[Kind::Int],
        },
    ];
    Box::leak(Box::new(Tables {
        jitcodes: Box::leak(jitcodes.into_boxed_slice()),
        fields: Box::leak(Box::new([
            FieldDescr {
                name: "S.a",
                ty: Some(ScalarTy::Bool),
                place: FieldPlace::Offset(0),
                immutable: true,
                virtualizable: false,
                owner: None,
            },
            FieldDescr {
                name: "S.b",
                ty: None,
                place: FieldPlace::Offset(8),
                immutable: false,
                virtualizable: false,
                owner: None,
            },
        ])),
        arrays: Box::leak(Box::new([
            array("[i32]", Some(ScalarTy::Int(IntTy::I32)), 4, None),
            array(
                "Vec<S>",
                None,
                16,
                Some(VecShims {
                    len: vlen,
                    ptr: vptr,
                    push: None,
                    pop: None,
                    slots: None,
                }),
            ),
        ])),
        enums: Box::leak(Box::new([EnumDescr {
            immutable: false,
            name: "E",
            tag,
            null_pointer: false,
        }])),
        calls: Box::leak(Box::new([CallDescr {
            name: "h",
            shim,
            arg_kinds: &[Kind::Ref],
            result_kinds: &[Kind::Int, Kind::Int],
            effects: CallEffectsDescr::EVERYTHING,
        }])),
        allocs: &[],
        drivers: Box::leak(Box::new([DriverDescr {
            portal: "main",
            jitcode: driver_jitcode,
            greens: &[],
            reds: &[],
            native: None,
        }])),
        strings: &["oops"],
    }))
}

#[test]
fn descr_info_of_static_tables() {
    let t = static_tables(
        encode(&[Insn::Return {
            values: vec![ki(0)],
        }]),
        0,
    );
    assert_eq!(t.field_ty(FieldId(0)), Some(Some(ScalarTy::Bool)));
    assert_eq!(t.field_ty(FieldId(1)), Some(None));
    assert_eq!(t.field_ty(FieldId(2)), None);
    assert_eq!(
        DescrInfo::array_ty(t, ArrayId(0)),
        Some((false, Some(ScalarTy::Int(IntTy::I32))))
    );
    assert_eq!(DescrInfo::array_ty(t, ArrayId(1)), Some((true, None)));
    assert_eq!(DescrInfo::array_ty(t, ArrayId(2)), None);
    assert_eq!(t.count(DescrTable::Enum), 1);
    assert_eq!(
        t.call_kinds(CallId(0)),
        Some((vec![Kind::Ref], vec![Kind::Int, Kind::Int]))
    );
    assert_eq!(t.call_kinds(CallId(1)), None);
    assert_eq!(
        t.jitcode_kinds(JitCodeId(1)),
        Some((vec![Kind::Float, Kind::Int], vec![Kind::Int]))
    );
    assert_eq!(t.jitcode_kinds(JitCodeId(2)), None);
    assert_eq!(t.count(DescrTable::String), 1);
    assert_eq!(t.count(DescrTable::Driver), 1);
    assert_eq!(t.jitcodes[0].num_consts(), [1, 1, 0]);
    assert_eq!(t.verify(), Ok(()));
}

#[test]
fn whole_tables_are_verified() {
    // main(i0): (a, b) = h(r0); callee(f0, i1) with a float constant that does not exist.
    let code = encode(&[
        Insn::ResidualCall {
            descr: CallId(0),
            args: vec![kr(0)],
            results: vec![ki(0), ki(1)],
        },
        Insn::Call {
            flavor: CallFlavor::Regular,
            jitcode: JitCodeId(1),
            args: vec![kf(1), ki(0)],
            results: vec![ki(2)],
        },
        Insn::Return {
            values: vec![ki(0)],
        },
    ]);
    let t = static_tables(code, 3);
    let e = t.verify().unwrap_err();
    assert_eq!(
        e,
        vec![
            "main: insn 1 (call <jitcode#1> (%f1?, %i0) -> ($c0)): float register 1 out of range (1 registers + 0 constants)".to_string(),
            "main: insn 1 (call <jitcode#1> (%f1?, %i0) -> ($c0)): writes int constant 0 (register 2; 2 registers)".to_string(),
            "driver main: portal jitcode 3 out of range (2 jitcodes)".to_string(),
        ]
    );
    // Undecodable code is reported with the jitcode's name.
    let t = static_tables(vec![200], 0);
    assert_eq!(
        t.verify().unwrap_err(),
        vec!["main: bad jitcode at byte 0: unknown opcode 200".to_string()]
    );
    // The shape of a static jitcode.
    let insns = decode(t.jitcodes[1].code).unwrap();
    let s = t.jitcodes[1].shape(&insns);
    assert_eq!(
        (s.name, s.num_regs, s.num_consts, s.args, s.results),
        (
            "callee",
            [2, 0, 1],
            [0, 0, 0],
            &CALLEE_ARGS[..],
            &[Kind::Int][..]
        )
    );
    assert_eq!(verify_jitcode(&s, t), Ok(()));
}
