//! Both IRs as text: the trace parser and the verifier's arity and kind
//! checks (`trace/ops.rs`), and the jitcode parser's errors
//! (`jitcode/parser.rs`). Round trips over real jitcodes and traces are in
//! translator/tests/ir_text.rs and, for every trace the end-to-end tests
//! compile, `METATRACE_CHECK_IR_TEXT` (docs/testing.md).

use metatrace_runtime::jitcode::{parse_jitcode, Kind};
use metatrace_runtime::trace::*;
use metatrace_testkit::optimizer::tables;

/// Parse without the verifier that `optimizer_util::parse` runs.
fn raw(text: &str) -> Trace {
    parse_trace(text, tables()).unwrap_or_else(|e| panic!("{e}"))
}

fn errors(text: &str) -> Vec<String> {
    verify_trace(&raw(text)).expect_err("the verifier accepts it")
}

/// The verifier rejects each `(text, _)` with a first error containing
/// the `(_, expected)` message.
fn first_errors_contain(cases: &[(&str, &str)]) {
    for (text, expected) in cases {
        let e = errors(text);
        assert!(e[0].contains(expected), "{text}\n{e:?}");
    }
}

#[test]
fn traces_round_trip_with_guards_virtuals_and_every_kind_of_name() {
    for text in [
        "[i0, r1, f2]
         i3 = int_add/i64(i0, 1)
         i4 = int_lt/i64(i3, 100)
         guard_true(i4) [i3, r1] #0
         f5 = float_mul(f2, 0.5)
         i6 = cast/f64->i64(f5)
         i7 = getfield<Obj.a>(r1)
         setfield<Obj.a>(r1, i6)
         r8 = fieldaddr<Obj.vals>(r1)
         i9 = vec_len<Vec<i64>>(r8)
         debug_merge_point<pair @3>(7, 0x10)
         jump(i7, r1, f5)",
        "[i0]
         r1 = new<Pair>()
         setfield<Pair.x>(r1, i0)
         i3 = int_gt/i64(i0, 0)
         guard_false(i3) [i0] #0 virtual0 = new<Pair>(Pair.x: i0, Pair.y: 7)
         jump_to<loop 3>(i0)",
    ] {
        let t = raw(text);
        verify_trace(&t).unwrap();
        check_text_round_trip(&t, tables()).unwrap();
    }
}

#[test]
fn the_verifier_checks_arity() {
    first_errors_contain(&[
        (
            "[i0]\ni1 = int_add/i64(i0)\njump(i1)",
            "1 arguments, expected 2",
        ),
        (
            "[i0]\nguard_true(i0, i0) [i0]\njump(i0)",
            "2 arguments, expected 1",
        ),
    ]);
}

#[test]
fn the_verifier_checks_operand_kinds() {
    first_errors_contain(&[
        (
            "[i0, f1]\ni2 = int_add/i64(i0, f1)\njump(i2, f1)",
            "argument 1 is float, expected int",
        ),
        (
            "[i0]\ni1 = getfield<Obj.a>(i0)\njump(i1)",
            "argument 0 is int, expected ref",
        ),
        (
            "[i0, r1]\nguard_value(i0, 0x10) [i0]\njump(i0, r1)",
            "different kinds",
        ),
    ]);
}

#[test]
fn the_verifier_checks_result_kinds() {
    first_errors_contain(&[
        (
            "[i0]\nf1 = int_add/i64(i0, 1)\njump(i0)",
            "result is float, expected int",
        ),
        (
            "[r0]\ni1 = setfield<Obj.a>(r0, 1)\njump(r0)",
            "expected none",
        ),
        ("[r0]\nvec_len<Vec<i64>>(r0)\njump(r0)", "has no result"),
    ]);
}

#[test]
fn bad_trace_text_is_an_error_naming_the_line() {
    let e = parse_trace("[i0]\ni1 = int_frob/i64(i0, 1)\njump(i1)", tables()).unwrap_err();
    assert!(
        e.starts_with("line 2: unknown operation `int_frob/i64`"),
        "{e}"
    );
    let e = parse_trace("[i0]\ni1 = int_add/i64(i0, i9)\njump(i1)", tables()).unwrap_err();
    assert!(e.contains("unknown value `i9`"), "{e}");
    let e = parse_trace("[i0]\ni1 = getfield<Nope.x>(i0)\njump(i1)", tables()).unwrap_err();
    assert!(e.contains("unknown operation `getfield<Nope.x>`"), "{e}");
}

#[test]
fn jitcode_text_parses_and_bad_text_is_an_error_naming_the_line() {
    let text = "jitcode f(%i0, %r0) regs i2 r1 f0
        int_add/i64 %i0, $1 -> %i1
        getfield %r0 <Obj.a> -> %i0
        goto_if_not %i1 L4
        return (%i0)
  L4:   panic/explicit string#0";
    let j = parse_jitcode(text, tables()).unwrap();
    assert_eq!(j.insns.len(), 5);
    assert_eq!(j.consts_i, vec![1]);
    assert_eq!(j.args[1].kind, Kind::Ref);
    for (bad, want) in [
        (
            "int_frob/i64 %i0, %i0 -> %i1",
            "line 2: unknown instruction `int_frob/i64`",
        ),
        ("int_add/i64 %i0 -> %i1", "line 2: expected a register"),
        (
            "getfield %r0 <Nope.a> -> %i0",
            "line 2: unknown field `Nope.a`",
        ),
        ("goto Lx", "line 2: bad number"),
        ("int_add/i64 %i0, %i0 -> $3", "line 2:"),
    ] {
        let e = parse_jitcode(&format!("jitcode f() regs i2 r1 f0\n{bad}"), tables()).unwrap_err();
        assert!(e.starts_with(want), "{bad}: {e}");
    }
}

/// What a guard's failure fixes (`trace::outcome`): a failed
/// `guard_true(x)` saw 0; a failed `guard_false(b)` saw 1 when `b` is a
/// boolean (a comparison, `xor` of booleans), nothing when `b` may be any
/// integer; a condition that is no fail argument fixes nothing a bridge
/// sees.
#[test]
fn guard_failures_fix_their_boolean_conditions() {
    let t = raw("[i0, i1]
i2 = int_lt/i64(i0, i1)
guard_true(i2) [i0, i2] #0
i4 = int_xor/u8(i2, 1)
guard_false(i4) [i4, i0] #1
guard_false(i1) [i0, i1] #2
i7 = int_eq/i64(i0, 5)
guard_false(i7) [i0] #3
jump(i0, i1)");
    assert_eq!(
        outcome::failure_facts(&t),
        vec![Some((1, 0)), Some((0, 1)), None, None]
    );
}
