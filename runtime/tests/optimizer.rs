//! The optimizer, pass by pass: a small trace in, the optimized trace out
//! (as printed by `format_trace`; the input is parsed from the same
//! format, see `metatrace_testkit::trace_text::parse`). Then the whole pipeline on the
//! loop of tlr's `square`, and `enable_opts`.

use metatrace_runtime::optimizer::{optimize, Ctx, EnabledOpts, Pass};
use metatrace_runtime::params::JitParams;
use metatrace_runtime::trace::interp;
use metatrace_runtime::trace::*;
use metatrace_testkit::optimizer::*;
use metatrace_testkit::trace_text::*;

fn run_pass(p: Pass, text: &str) -> Trace {
    let t = parse(text);
    p.run(t, &Ctx { tables: tables() })
}

fn run_all(text: &str) -> Trace {
    optimize(parse(text), tables(), &EnabledOpts::all())
}

/// The loop of tlr's `square` as the tracer records it (`Regs.values` is
/// the register file; `i0` the accumulator): every register access
/// re-reads the Vec and checks the index twice (`idx >= len` panics,
/// `idx < len` is the item access's own check).
pub const TLR: &str = "
[i0, r1]
r2 = fieldaddr<Regs.values>(r1)
i3 = vec_len<Vec<i64>>(r2)
i4 = int_ge/usize(0, i3)
guard_false(i4) [r1, i4]
r6 = fieldaddr<Regs.values>(r1)
i7 = vec_len<Vec<i64>>(r6)
i8 = int_lt/usize(0, i7)
guard_true(i8) [i8, r1, r6]
r10 = vec_ptr<Vec<i64>>(r6)
i11 = getitem<Vec<i64>>(r10, 0)
i12 = int_add/i64(-1, i11)
r13 = fieldaddr<Regs.values>(r1)
i14 = vec_len<Vec<i64>>(r13)
i15 = int_ge/usize(0, i14)
guard_false(i15) [i12, r1, i15]
r17 = fieldaddr<Regs.values>(r1)
i18 = vec_len<Vec<i64>>(r17)
i19 = int_lt/usize(0, i18)
guard_true(i19) [i12, i19, r1, r17]
r21 = vec_ptr<Vec<i64>>(r17)
setitem<Vec<i64>>(r21, 0, i12)
r23 = fieldaddr<Regs.values>(r1)
i24 = vec_len<Vec<i64>>(r23)
i25 = int_ge/usize(2, i24)
guard_false(i25) [r1, i25]
r27 = fieldaddr<Regs.values>(r1)
i28 = vec_len<Vec<i64>>(r27)
i29 = int_lt/usize(2, i28)
guard_true(i29) [i29, r1, r27]
r31 = vec_ptr<Vec<i64>>(r27)
i32 = getitem<Vec<i64>>(r31, 2)
r33 = fieldaddr<Regs.values>(r1)
i34 = vec_len<Vec<i64>>(r33)
i35 = int_ge/usize(1, i34)
guard_false(i35) [i32, r1, i35]
r37 = fieldaddr<Regs.values>(r1)
i38 = vec_len<Vec<i64>>(r37)
i39 = int_lt/usize(1, i38)
guard_true(i39) [i32, i39, r1, r37]
r41 = vec_ptr<Vec<i64>>(r37)
i42 = getitem<Vec<i64>>(r41, 1)
i43 = int_add/i64(i32, i42)
r44 = fieldaddr<Regs.values>(r1)
i45 = vec_len<Vec<i64>>(r44)
i46 = int_ge/usize(2, i45)
guard_false(i46) [i43, r1, i46]
r48 = fieldaddr<Regs.values>(r1)
i49 = vec_len<Vec<i64>>(r48)
i50 = int_lt/usize(2, i49)
guard_true(i50) [i43, i50, r1, r48]
r52 = vec_ptr<Vec<i64>>(r48)
setitem<Vec<i64>>(r52, 2, i43)
r54 = fieldaddr<Regs.values>(r1)
i55 = vec_len<Vec<i64>>(r54)
i56 = int_ge/usize(0, i55)
guard_false(i56) [r1, i56]
r58 = fieldaddr<Regs.values>(r1)
i59 = vec_len<Vec<i64>>(r58)
i60 = int_lt/usize(0, i59)
guard_true(i60) [i60, r1, r58]
r62 = vec_ptr<Vec<i64>>(r58)
i63 = getitem<Vec<i64>>(r62, 0)
i64 = int_ne/i64(i63, 0)
guard_true(i64) [i63, i64, r1]
jump(i63, r1)
";

// ---------------------------------------------------------------------------
// rewrite

#[test]
fn rewrite_folds_constants_and_identities() {
    let t = run_pass(
        Pass::Rewrite,
        "
        [i0, i1, f2]
        i3 = int_add/i64(3, 4)
        i4 = int_mul/i64(i0, i3)
        i5 = int_add/i64(i4, 0)
        i6 = int_mul/i64(1, i5)
        i7 = int_sub/i64(i6, i6)
        i8 = int_or/i64(i6, i7)
        i9 = int_shl/i64(i8, 64)
        i10 = int_lt/i64(i9, i9)
        i11 = int_neg/i64(i0)
        i12 = int_neg/i64(i11)
        i13 = cast/i64->u8(300)
        i14 = int_and/u8(i13, 255)
        i15 = int_xor/i64(i1, i1)
        i16 = int_mul/i64(i1, i15)
        i17 = int_div/i64(i1, 1)
        i18 = int_rem/i64(i1, 1)
        f19 = float_add(1.5, 2.25)
        f20 = float_neg(f2)
        f21 = float_neg(f20)
        i22 = cast/u8->i64(i14)
        i23 = cast/i64->u8(i22)
        i24 = cast/i64->u8(i1)
        i25 = cast/u8->i64(i24)
        i26 = cast/i64->u8(i25)
        i27 = int_add/i64(i12, i9)
        i28 = int_add/i64(i27, i10)
        i29 = int_add/i64(i28, i16)
        i30 = int_add/i64(i29, i17)
        i31 = int_add/i64(i30, i18)
        i32 = int_add/i64(i31, i23)
        i33 = int_add/i64(i32, i26)
        f34 = float_add(f19, f21)
        jump(i33, i14, f34)
        ",
    );
    // (what became unused is dce's to remove)
    assert_trace(
        &t,
        "
        [i0, i1, f2]
        i3 = int_mul/i64(i0, 7)
        i4 = int_neg/i64(i0)
        f5 = float_neg(f2)
        i6 = cast/i64->u8(i1)
        i7 = cast/u8->i64(i6)
        i8 = int_add/i64(i0, i3)
        i9 = int_add/i64(i8, i1)
        i10 = int_add/i64(i9, 44)
        i11 = int_add/i64(i10, i6)
        f12 = float_add(3.75, f2)
        jump(i11, 44, f12)
        ",
    );
}

#[test]
fn rewrite_guards_make_values_known() {
    let t = run_pass(
        Pass::Rewrite,
        "
        [i0, i1]
        i2 = int_lt/i64(1, 2)
        guard_true(i2) [i0]
        guard_value(i0, 7) [i0, i1]
        i4 = int_add/i64(i0, i1)
        i5 = int_eq/i64(i1, 3)
        guard_true(i5) [i0, i1, i5]
        i7 = int_mul/i64(i4, i1)
        guard_false(i5) [i7]
        i9 = int_add/i64(i7, 1)
        jump(i9, i1)
        ",
    );
    // The guard on a constant that holds goes; after guard_value i0 is 7,
    // after guard_true(i1 == 3) i1 is 3 and the comparison is 1, so the
    // guard_false on it always fails: it stays, and what follows is
    // unreachable. In its own resume data, a guard_true's comparison is 0.
    assert_trace(
        &t,
        "
        [i0, i1]
        guard_value(i0, 7) [i0, i1] #0
        i3 = int_add/i64(7, i1)
        i4 = int_eq/i64(i1, 3)
        guard_true(i4) [i1] #1
        i6 = int_mul/i64(i3, 3)
        guard_false(1) [i6] #2
        jump(0, 0)
        ",
    );
    assert_eq!(show_resume(&t), "#0: [i0, i1]\n#1: [7, i1, 0]\n#2: [i6]\n");
}

#[test]
fn rewrite_reads_immutable_memory_from_constants() {
    let prog = format!("0x{:x}", prog_addr());
    let circle = format!("0x{:x}", circle_addr());
    let t = run_pass(
        Pass::Rewrite,
        &format!(
            "
            [i0]
            i1 = getfield<Prog.n>({prog})
            r2 = fieldaddr<Prog.code>({prog})
            i3 = vec_len<&Vec<i64>>(r2)
            r4 = vec_ptr<&Vec<i64>>(r2)
            i5 = getitem<&Vec<i64>>(r4, 2)
            r6 = itemaddr<&Vec<i64>>(r4, 3)
            i7 = load/i64(r6)
            i8 = enum_tag<&Shape>({circle})
            i9 = vec_len<Vec<i64>>(r2)
            i10 = int_add/i64(i1, i3)
            i11 = int_add/i64(i10, i5)
            i12 = int_add/i64(i11, i7)
            i13 = int_add/i64(i12, i8)
            i14 = int_add/i64(i13, i9)
            jump(i14)
            "
        ),
    );
    // 42 + 5 + 30 + 40 + 1; the read through a mutable descr stays.
    let code = prog_addr() + std::mem::offset_of!(Prog, code);
    assert_trace(
        &t,
        &format!(
            "
            [i0]
            i1 = vec_len<Vec<i64>>(0x{code:x})
            i2 = int_add/i64(118, i1)
            jump(i2)
            "
        ),
    );
}

#[test]
fn rewrite_runs_elidable_calls_on_constants() {
    let t = run_pass(
        Pass::Rewrite,
        "
        [i0]
        call_pure<pair>(3, 4)
        i2 = call_result#0()
        i3 = call_result#1()
        call_pure<pair>(i0, 4)
        i5 = call_result#1()
        i6 = int_add/i64(i2, i3)
        i7 = int_add/i64(i6, i5)
        jump(i7)
        ",
    );
    assert_trace(
        &t,
        "
        [i0]
        call_pure<pair>(i0, 4)
        i2 = call_result#1()
        i3 = int_add/i64(19, i2)
        jump(i3)
        ",
    );
}

// ---------------------------------------------------------------------------
// pure

#[test]
fn pure_reuses_operations() {
    let t = run_pass(
        Pass::Pure,
        "
        [i0, i1, r2]
        i3 = int_add/i64(i0, i1)
        i4 = int_add/i64(i1, i0)
        i5 = int_lt/i64(i0, i1)
        i6 = int_gt/i64(i1, i0)
        i7 = int_lt/i64(i1, i0)
        i8 = int_sub/i64(i0, i1)
        i9 = int_sub/i64(i1, i0)
        r10 = fieldaddr<Obj.vals>(r2)
        r11 = fieldaddr<Obj.vals>(r2)
        i12 = getfield<Obj.a>(r2)
        i13 = getfield<Obj.a>(r2)
        i14 = int_add/i64(i3, i4)
        i15 = int_add/i64(i14, i5)
        i16 = int_add/i64(i15, i6)
        i17 = int_add/i64(i16, i7)
        i18 = int_add/i64(i17, i8)
        i19 = int_add/i64(i18, i9)
        i20 = int_add/i64(i19, i12)
        i21 = int_add/i64(i20, i13)
        setfield<Obj.a>(r11, i21)
        jump(i21, i1, r10)
        ",
    );
    // Commutative and mirrored forms match; a read is not pure (heap's).
    assert_trace(
        &t,
        "
        [i0, i1, r2]
        i3 = int_add/i64(i0, i1)
        i4 = int_lt/i64(i0, i1)
        i5 = int_lt/i64(i1, i0)
        i6 = int_sub/i64(i0, i1)
        i7 = int_sub/i64(i1, i0)
        r8 = fieldaddr<Obj.vals>(r2)
        i9 = getfield<Obj.a>(r2)
        i10 = getfield<Obj.a>(r2)
        i11 = int_add/i64(i3, i3)
        i12 = int_add/i64(i11, i4)
        i13 = int_add/i64(i12, i4)
        i14 = int_add/i64(i13, i5)
        i15 = int_add/i64(i14, i6)
        i16 = int_add/i64(i15, i7)
        i17 = int_add/i64(i16, i9)
        i18 = int_add/i64(i17, i10)
        setfield<Obj.a>(r8, i18)
        jump(i18, i1, r8)
        ",
    );
}

#[test]
fn pure_reuses_elidable_calls() {
    let t = run_pass(
        Pass::Pure,
        "
        [i0, i1]
        call_pure<pair>(i0, i1)
        i3 = call_result#0()
        i4 = call_result#1()
        call_pure<pair>(i0, i1)
        i6 = call_result#1()
        call_pure<pair>(i1, i0)
        i8 = call_result#0()
        call_pure<pair>(i1, i0)
        i10 = call_result#1()
        i11 = int_add/i64(i3, i4)
        i12 = int_add/i64(i11, i6)
        i13 = int_add/i64(i12, i8)
        i14 = int_add/i64(i13, i10)
        jump(i14, i1)
        ",
    );
    // The second (i0, i1) call goes; the second (i1, i0) call stays: it
    // reads a result the first one's trace did not.
    assert_trace(
        &t,
        "
        [i0, i1]
        call_pure<pair>(i0, i1)
        i3 = call_result#0()
        i4 = call_result#1()
        call_pure<pair>(i1, i0)
        i6 = call_result#0()
        call_pure<pair>(i1, i0)
        i8 = call_result#1()
        i9 = int_add/i64(i3, i4)
        i10 = int_add/i64(i9, i4)
        i11 = int_add/i64(i10, i6)
        i12 = int_add/i64(i11, i8)
        jump(i12, i1)
        ",
    );
}

#[test]
fn pure_removes_repeated_guards() {
    let t = run_pass(
        Pass::Pure,
        "
        [i0, i1]
        i2 = int_lt/i64(i0, i1)
        guard_true(i2) [i0]
        guard_true(i2) [i1]
        i5 = int_ge/i64(i0, i1)
        i6 = int_gt/i64(i1, i0)
        guard_value(i0, 5) [i0]
        guard_value(i0, 5) [i1]
        i9 = int_add/i64(i5, i6)
        guard_false(i2) [i0, i9]
        i11 = int_add/i64(i9, 1)
        jump(i11, i1)
        ",
    );
    // After guard_true(i0 < i1), i0 >= i1 is 0 and i1 > i0 is 1; the
    // guard_false(i2) contradicts guard_true(i2): it always fails.
    assert_trace(
        &t,
        "
        [i0, i1]
        i2 = int_lt/i64(i0, i1)
        guard_true(i2) [i0] #0
        guard_value(i0, 5) [i0] #1
        i5 = int_add/i64(0, 1)
        guard_false(i2) [i0, i5] #2
        jump(0, 0)
        ",
    );
}

// ---------------------------------------------------------------------------
// intbounds

#[test]
fn intbounds_removes_bounds_checks() {
    let t = run_pass(
        Pass::IntBounds,
        "
        [i0, r1]
        i2 = vec_len<Vec<i64>>(r1)
        i3 = int_ge/usize(2, i2)
        guard_false(i3) [r1, i3]
        i5 = int_lt/usize(2, i2)
        guard_true(i5) [r1, i5]
        i7 = int_ge/usize(1, i2)
        guard_false(i7) [r1, i7]
        i9 = int_lt/usize(0, i2)
        jump(i9, r1)
        ",
    );
    // After `!(2 >= len)`, len >= 3: the other checks are decided.
    assert_trace(
        &t,
        "
        [i0, r1]
        i2 = vec_len<Vec<i64>>(r1)
        i3 = int_ge/usize(2, i2)
        guard_false(i3) [r1, i3] #0
        jump(1, r1)
        ",
    );
}

#[test]
fn intbounds_from_types_and_operations() {
    let t = run_pass(
        Pass::IntBounds,
        "
        [i0, r1]
        i2 = getfield<Obj.b>(r1)
        i3 = cast/u8->i64(i2)
        i4 = int_le/i64(i3, 255)
        i5 = int_lt/i64(i3, 0)
        i6 = int_add/i64(i3, 10)
        i7 = int_gt/i64(i6, 9)
        i8 = int_and/i64(i0, 15)
        i9 = int_lt/i64(i8, 16)
        i10 = int_rem/i64(i0, 10)
        i11 = int_lt/i64(i10, 10)
        i12 = int_gt/i64(i10, -10)
        i13 = int_lt/i64(i6, 200)
        i14 = int_add/i64(i4, i5)
        i15 = int_add/i64(i14, i7)
        i16 = int_add/i64(i15, i9)
        i17 = int_add/i64(i16, i11)
        i18 = int_add/i64(i17, i12)
        i19 = int_add/i64(i18, i13)
        jump(i19, r1)
        ",
    );
    // u8 is 0..=255, +10 is 10..=265, &15 is 0..=15, %10 is -9..=9; a sum
    // of known values is known. (i6 < 200 is not decided.)
    assert_trace(
        &t,
        "
        [i0, r1]
        i2 = getfield<Obj.b>(r1)
        i3 = cast/u8->i64(i2)
        i4 = int_add/i64(i3, 10)
        i5 = int_and/i64(i0, 15)
        i6 = int_rem/i64(i0, 10)
        i7 = int_lt/i64(i4, 200)
        i8 = int_add/i64(5, i7)
        jump(i8, r1)
        ",
    );
}

#[test]
fn intbounds_from_guards() {
    let t = run_pass(
        Pass::IntBounds,
        "
        [i0, i1]
        i2 = int_lt/i64(i0, 10)
        guard_true(i2) [i0]
        i4 = int_gt/i64(i0, 8)
        guard_true(i4) [i0, i1]
        i6 = int_add/i64(i0, i1)
        guard_value(i1, 3) [i1]
        i8 = int_mul/i64(i1, 2)
        i9 = int_lt/i64(i6, 100)
        guard_true(i9) [i6]
        i11 = int_ge/i64(i1, 4)
        guard_true(i11) [i0, i6]
        jump(i6, i8)
        ",
    );
    // 8 < i0 < 10: i0 is 9 from there on; i1 is 3 after guard_value, so
    // i1 >= 4 is false and its guard always fails.
    assert_trace(
        &t,
        "
        [i0, i1]
        i2 = int_lt/i64(i0, 10)
        guard_true(i2) [i0] #0
        i4 = int_gt/i64(i0, 8)
        guard_true(i4) [i0, i1] #1
        i6 = int_add/i64(9, i1)
        guard_value(i1, 3) [i1] #2
        i8 = int_lt/i64(i6, 100)
        guard_true(i8) [i6] #3
        guard_true(0) [i6] #4
        jump(0, 0)
        ",
    );
    assert!(
        show_resume(&t).ends_with("#4: [9, i6]\n"),
        "{}",
        show_resume(&t)
    );
}

#[test]
fn intbounds_no_wrap_from_a_checked_neighbour() {
    // A Brainfuck `>`, `>>>>>>>>>`, `<<<<<<<<<`: after `ptr + 1 < len`
    // (len <= isize::MAX), `ptr` is signed -1..isize::MAX - 2, so
    // `ptr + 10` cannot wrap: it is at least 9, and the move left by 9 from
    // it cannot go below cell 0.
    let t = run_pass(
        Pass::IntBounds,
        "
        [i0, r1]
        i2 = vec_len<Vec<i64>>(r1)
        i3 = int_add/usize(i0, 1)
        i4 = int_ge/usize(i3, i2)
        guard_false(i4) [i3]
        i6 = int_add/usize(i0, 10)
        i7 = int_gt/usize(9, i6)
        guard_false(i7) [i6]
        i9 = int_sub/usize(i6, 9)
        jump(i9, r1)
        ",
    );
    assert_trace(
        &t,
        "
        [i0, r1]
        i2 = vec_len<Vec<i64>>(r1)
        i3 = int_add/usize(i0, 1)
        i4 = int_ge/usize(i3, i2)
        guard_false(i4) [i3] #0
        i6 = int_add/usize(i0, 10)
        i7 = int_sub/usize(i6, 9)
        jump(i7, r1)
        ",
    );
}

#[test]
fn intbounds_offsets_from_one_base() {
    // After `ptr < len`, `ptr + 9` and `ptr + 10` cannot wrap. The check of
    // `ptr + 9` is strengthened to the later one, `ptr + 10` (one exit, at
    // the first check: the interpreter goes on from there); `ptr + 3 < len`
    // and `ptr + 10 < len` (through `ptr + 3`, as another operation) are
    // then known. The first check, on `ptr` itself, cannot be strengthened:
    // `ptr + 10` may wrap there.
    let t = run_pass(
        Pass::IntBounds,
        "
        [i0, r1]
        i2 = vec_len<Vec<i64>>(r1)
        i3 = int_lt/usize(i0, i2)
        guard_true(i3) [i0]
        i5 = int_add/usize(i0, 9)
        i6 = int_lt/usize(i5, i2)
        guard_true(i6) [i5]
        i8 = int_add/usize(i0, 3)
        i9 = int_ge/usize(i8, i2)
        guard_false(i9) [i8]
        i11 = int_add/usize(i8, 6)
        i12 = int_lt/usize(i11, i2)
        guard_true(i12) [i11]
        i14 = int_add/usize(i8, 7)
        i15 = int_lt/usize(i14, i2)
        guard_true(i15) [i14]
        jump(i14, r1)
        ",
    );
    assert_trace(
        &t,
        "
        [i0, r1]
        i2 = vec_len<Vec<i64>>(r1)
        i3 = int_lt/usize(i0, i2)
        guard_true(i3) [i0] #0
        i5 = int_add/usize(i0, 9)
        i6 = int_lt/usize(i5, i2)
        i7 = int_add/usize(i0, 10)
        i8 = int_lt/usize(i7, i2)
        guard_true(i8) [i5] #1
        i10 = int_add/usize(i0, 3)
        i11 = int_add/usize(i10, 6)
        i12 = int_add/usize(i10, 7)
        jump(i12, r1)
        ",
    );
}

// ---------------------------------------------------------------------------
// heap

#[test]
fn heap_forwards_fields() {
    let t = run_pass(
        Pass::Heap,
        "
        [r0, r1, i2]
        i3 = getfield<Obj.a>(r0)
        i4 = getfield<Obj.a>(r0)
        setfield<Obj.a>(r0, i2)
        i6 = getfield<Obj.a>(r0)
        i7 = getfield<Obj.c>(r0)
        setfield<Obj.a>(r1, 5)
        i9 = getfield<Obj.a>(r0)
        i10 = getfield<Obj.c>(r0)
        i11 = getfield<Obj.a#2>(r1)
        call_residual<bump>(r0)
        i13 = getfield<Obj.c>(r0)
        i14 = int_add/i64(i3, i4)
        i15 = int_add/i64(i14, i6)
        i16 = int_add/i64(i15, i7)
        i17 = int_add/i64(i16, i9)
        i18 = int_add/i64(i17, i10)
        i19 = int_add/i64(i18, i11)
        i20 = int_add/i64(i19, i13)
        jump(r0, r1, i20)
        ",
    );
    // A write to Obj.a of r1 (maybe r0) forgets r0's Obj.a, not its
    // Obj.c; the residual call (`bump(&mut Obj)`) forgets Obj's fields.
    assert_trace(
        &t,
        "
        [r0, r1, i2]
        i3 = getfield<Obj.a>(r0)
        setfield<Obj.a>(r0, i2)
        i5 = getfield<Obj.c>(r0)
        setfield<Obj.a>(r1, 5)
        i7 = getfield<Obj.a>(r0)
        i8 = getfield<Obj.a#2>(r1)
        call_residual<bump>(r0)
        i10 = getfield<Obj.c>(r0)
        i11 = int_add/i64(i3, i3)
        i12 = int_add/i64(i11, i2)
        i13 = int_add/i64(i12, i5)
        i14 = int_add/i64(i13, i7)
        i15 = int_add/i64(i14, i5)
        i16 = int_add/i64(i15, i8)
        i17 = int_add/i64(i16, i10)
        jump(r0, r1, i17)
        ",
    );
}

#[test]
fn heap_forwards_vec_headers_and_items() {
    let t = run_pass(
        Pass::Heap,
        "
        [r0, i1]
        r2 = fieldaddr<Obj.vals>(r0)
        i3 = vec_len<Vec<i64>>(r2)
        r4 = vec_ptr<Vec<i64>>(r2)
        i5 = getitem<Vec<i64>>(r4, 0)
        setitem<Vec<i64>>(r4, 1, i1)
        i7 = getitem<Vec<i64>>(r4, 0)
        i8 = getitem<Vec<i64>>(r4, 1)
        i9 = vec_len<Vec<i64>>(r2)
        r10 = itemaddr<Vec<i64>>(r4, 1)
        i11 = load/i64(r10)
        setitem<[i64]>(r4, i1, 7)
        i13 = getitem<Vec<i64>>(r4, 0)
        i14 = vec_len<Vec<i64>>(r2)
        vec_push<Vec<i64>>(r2, i1)
        i16 = vec_len<Vec<i64>>(r2)
        r17 = vec_ptr<Vec<i64>>(r2)
        i18 = getitem<Vec<i64>>(r17, 0)
        i19 = int_add/i64(i3, i5)
        i20 = int_add/i64(i19, i7)
        i21 = int_add/i64(i20, i8)
        i22 = int_add/i64(i21, i9)
        i23 = int_add/i64(i22, i11)
        i24 = int_add/i64(i23, i13)
        i25 = int_add/i64(i24, i14)
        i26 = int_add/i64(i25, i16)
        i27 = int_add/i64(i26, i18)
        jump(r0, i27)
        ",
    );
    // Items 0 and 1 of one pointer are different; a load through
    // itemaddr is the item; a write of an unknown item through another
    // descr of the same item type forgets the items, not the length;
    // push forgets length, pointer and items.
    assert_trace(
        &t,
        "
        [r0, i1]
        r2 = fieldaddr<Obj.vals>(r0)
        i3 = vec_len<Vec<i64>>(r2)
        r4 = vec_ptr<Vec<i64>>(r2)
        i5 = getitem<Vec<i64>>(r4, 0)
        setitem<Vec<i64>>(r4, 1, i1)
        r7 = itemaddr<Vec<i64>>(r4, 1)
        setitem<[i64]>(r4, i1, 7)
        i9 = getitem<Vec<i64>>(r4, 0)
        vec_push<Vec<i64>>(r2, i1)
        i11 = vec_len<Vec<i64>>(r2)
        r12 = vec_ptr<Vec<i64>>(r2)
        i13 = getitem<Vec<i64>>(r12, 0)
        i14 = int_add/i64(i3, i5)
        i15 = int_add/i64(i14, i5)
        i16 = int_add/i64(i15, i1)
        i17 = int_add/i64(i16, i3)
        i18 = int_add/i64(i17, i1)
        i19 = int_add/i64(i18, i9)
        i20 = int_add/i64(i19, i3)
        i21 = int_add/i64(i20, i11)
        i22 = int_add/i64(i21, i13)
        jump(r0, i22)
        ",
    );
}

#[test]
fn heap_drops_redundant_stores() {
    let t = run_pass(
        Pass::Heap,
        "
        [r0, i1, i2]
        setfield<Obj.a>(r0, i1)
        setfield<Obj.a>(r0, i1)
        setfield<Obj.a>(r0, i2)
        i6 = getfield<Obj.a>(r0)
        i7 = int_lt/i64(i6, 0)
        guard_true(i7) [r0]
        setfield<Obj.a>(r0, 0)
        setfield<Obj.c>(r0, 1)
        i11 = getfield<Obj.c>(r0)
        setfield<Obj.b>(r0, i1)
        i13 = getfield<Obj.b>(r0)
        setfield<Obj.b>(r0, 300)
        i15 = getfield<Obj.b>(r0)
        setfield<Obj.b>(r0, 44)
        i17 = getfield<Obj.b>(r0)
        i18 = int_add/i64(i11, i13)
        i19 = int_add/i64(i18, i15)
        i20 = int_add/i64(i19, i17)
        jump(r0, i20, i6)
        ",
    );
    // The same value twice: once. Overwritten before any read: gone (the
    // read after it is served from the cache). A guard in between sees
    // memory: both stay. A u8 field forwards only values that read back
    // unchanged (not an input of unknown width, not 300).
    assert_trace(
        &t,
        "
        [r0, i1, i2]
        setfield<Obj.a>(r0, i2)
        i4 = int_lt/i64(i2, 0)
        guard_true(i4) [r0] #0
        setfield<Obj.a>(r0, 0)
        setfield<Obj.c>(r0, 1)
        setfield<Obj.b>(r0, i1)
        i9 = getfield<Obj.b>(r0)
        setfield<Obj.b>(r0, 300)
        i11 = getfield<Obj.b>(r0)
        setfield<Obj.b>(r0, 44)
        i13 = int_add/i64(1, i9)
        i14 = int_add/i64(i13, i11)
        i15 = int_add/i64(i14, 44)
        jump(r0, i15, i2)
        ",
    );
}

/// Residual calls forget only what their effect summaries say they may
/// write (`CallDescr::effects`, computed by the codewriter).
#[test]
fn heap_keeps_what_a_call_cannot_write() {
    let t = run_pass(
        Pass::Heap,
        "
        [r0, r1, r2, i3]
        i4 = getfield<Obj.a>(r0)
        i5 = getfield<Obj.b>(r0)
        r6 = fieldaddr<Obj.vals>(r0)
        i7 = vec_len<Vec<i64>>(r6)
        r8 = vec_ptr<Vec<i64>>(r6)
        i9 = getitem<Vec<i64>>(r8, i3)
        r10 = fieldaddr<Regs.values>(r1)
        i11 = vec_len<Vec<i64>>(r10)
        r12 = vec_ptr<Vec<i64>>(r10)
        i13 = getitem<Vec<i64>>(r12, 0)
        i14 = vec_len<Vec<i64>>(r2)
        call_residual<peek>(r0)
        call_residual<reset>(r1)
        i17 = getfield<Obj.a>(r0)
        i18 = getfield<Obj.b>(r0)
        i19 = vec_len<Vec<i64>>(r6)
        r20 = vec_ptr<Vec<i64>>(r6)
        i21 = getitem<Vec<i64>>(r20, i3)
        i22 = vec_len<Vec<i64>>(r10)
        r23 = vec_ptr<Vec<i64>>(r10)
        i24 = getitem<Vec<i64>>(r23, 0)
        i25 = vec_len<Vec<i64>>(r2)
        call_residual<bump>(r0)
        i27 = getfield<Obj.a>(r0)
        i28 = vec_len<Vec<i64>>(r6)
        i29 = vec_len<Vec<i64>>(r10)
        r30 = vec_ptr<Vec<i64>>(r10)
        i31 = getitem<Vec<i64>>(r30, 0)
        i32 = int_add/i64(i4, i5)
        i33 = int_add/i64(i32, i7)
        i34 = int_add/i64(i33, i9)
        i35 = int_add/i64(i34, i11)
        i36 = int_add/i64(i35, i13)
        i37 = int_add/i64(i36, i14)
        i38 = int_add/i64(i37, i17)
        i39 = int_add/i64(i38, i18)
        i40 = int_add/i64(i39, i19)
        i41 = int_add/i64(i40, i21)
        i42 = int_add/i64(i41, i22)
        i43 = int_add/i64(i42, i24)
        i44 = int_add/i64(i43, i25)
        i45 = int_add/i64(i44, i27)
        i46 = int_add/i64(i45, i28)
        i47 = int_add/i64(i46, i29)
        i48 = int_add/i64(i47, i31)
        jump(r0, r1, r2, i48)
        ",
    );
    // `peek(&Obj)` writes nothing. `reset(&mut Regs)` resizes the Vec in
    // `Regs.values` (re-read: length, data, item), leaves Obj's fields and
    // the Vec in `Obj.vals` alone (forwarded), and may have resized `r2`,
    // a Vec<i64> that may be any (re-read). `bump(&mut Obj)` writes Obj's
    // fields and its Vec, not the one in `Regs.values`.
    assert_trace(
        &t,
        "
        [r0, r1, r2, i3]
        i4 = getfield<Obj.a>(r0)
        i5 = getfield<Obj.b>(r0)
        r6 = fieldaddr<Obj.vals>(r0)
        i7 = vec_len<Vec<i64>>(r6)
        r8 = vec_ptr<Vec<i64>>(r6)
        i9 = getitem<Vec<i64>>(r8, i3)
        r10 = fieldaddr<Regs.values>(r1)
        i11 = vec_len<Vec<i64>>(r10)
        r12 = vec_ptr<Vec<i64>>(r10)
        i13 = getitem<Vec<i64>>(r12, 0)
        i14 = vec_len<Vec<i64>>(r2)
        call_residual<peek>(r0)
        call_residual<reset>(r1)
        i17 = vec_len<Vec<i64>>(r10)
        r18 = vec_ptr<Vec<i64>>(r10)
        i19 = getitem<Vec<i64>>(r18, 0)
        i20 = vec_len<Vec<i64>>(r2)
        call_residual<bump>(r0)
        i22 = getfield<Obj.a>(r0)
        i23 = vec_len<Vec<i64>>(r6)
        i24 = int_add/i64(i4, i5)
        i25 = int_add/i64(i24, i7)
        i26 = int_add/i64(i25, i9)
        i27 = int_add/i64(i26, i11)
        i28 = int_add/i64(i27, i13)
        i29 = int_add/i64(i28, i14)
        i30 = int_add/i64(i29, i4)
        i31 = int_add/i64(i30, i5)
        i32 = int_add/i64(i31, i7)
        i33 = int_add/i64(i32, i9)
        i34 = int_add/i64(i33, i17)
        i35 = int_add/i64(i34, i19)
        i36 = int_add/i64(i35, i20)
        i37 = int_add/i64(i36, i22)
        i38 = int_add/i64(i37, i23)
        i39 = int_add/i64(i38, i17)
        i40 = int_add/i64(i39, i19)
        jump(r0, r1, r2, i40)
        ",
    );
}

/// A raw `load` may read any field or item of its size: a call that may
/// write an 8-byte item forgets it; one that writes nothing does not.
#[test]
fn heap_forgets_raw_reads_of_what_a_call_may_write() {
    let t = run_pass(
        Pass::Heap,
        "
        [r0, r1, r2]
        i3 = load/i64(r2)
        i4 = load/u8(r2)
        call_residual<peek>(r0)
        i6 = load/i64(r2)
        i7 = load/u8(r2)
        call_residual<reset>(r1)
        i9 = load/i64(r2)
        i10 = load/u8(r2)
        i11 = int_add/i64(i3, i4)
        i12 = int_add/i64(i11, i6)
        i13 = int_add/i64(i12, i7)
        i14 = int_add/i64(i13, i9)
        i15 = int_add/i64(i14, i10)
        jump(r0, r1, r2)
        ",
    );
    assert_trace(
        &t,
        "
        [r0, r1, r2]
        i3 = load/i64(r2)
        i4 = load/u8(r2)
        call_residual<peek>(r0)
        call_residual<reset>(r1)
        i7 = load/i64(r2)
        i8 = int_add/i64(i3, i4)
        i9 = int_add/i64(i8, i3)
        i10 = int_add/i64(i9, i4)
        i11 = int_add/i64(i10, i7)
        i12 = int_add/i64(i11, i4)
        jump(r0, r1, r2)
        ",
    );
}

#[test]
fn heap_keeps_immutable_reads_across_calls() {
    let t = run_pass(
        Pass::Heap,
        "
        [r0, r1]
        i2 = getfield<Prog.n>(r1)
        r3 = fieldaddr<Prog.code>(r1)
        i4 = vec_len<&Vec<i64>>(r3)
        i5 = getfield<Obj.a>(r0)
        call_residual<bump>(r0)
        i7 = call_result#0()
        i8 = getfield<Prog.n>(r1)
        i9 = vec_len<&Vec<i64>>(r3)
        i10 = getfield<Obj.a>(r0)
        i11 = int_add/i64(i2, i4)
        i12 = int_add/i64(i11, i5)
        i13 = int_add/i64(i12, i7)
        i14 = int_add/i64(i13, i8)
        i15 = int_add/i64(i14, i9)
        i16 = int_add/i64(i15, i10)
        setfield<Obj.a>(r0, i16)
        jump(r0, r1)
        ",
    );
    assert_trace(
        &t,
        "
        [r0, r1]
        i2 = getfield<Prog.n>(r1)
        r3 = fieldaddr<Prog.code>(r1)
        i4 = vec_len<&Vec<i64>>(r3)
        i5 = getfield<Obj.a>(r0)
        call_residual<bump>(r0)
        i7 = call_result#0()
        i8 = getfield<Obj.a>(r0)
        i9 = int_add/i64(i2, i4)
        i10 = int_add/i64(i9, i5)
        i11 = int_add/i64(i10, i7)
        i12 = int_add/i64(i11, i2)
        i13 = int_add/i64(i12, i4)
        i14 = int_add/i64(i13, i8)
        setfield<Obj.a>(r0, i14)
        jump(r0, r1)
        ",
    );
}

// ---------------------------------------------------------------------------
// dce, virtuals, unroll

#[test]
fn dce_removes_unused_pure_ops_and_reads() {
    let t = run_pass(
        Pass::Dce,
        "
        [i0, r1]
        i2 = int_add/i64(i0, 1)
        i3 = getfield<Obj.a>(r1)
        i4 = int_mul/i64(i0, 2)
        i5 = getfield<Obj.c>(r1)
        call_pure<pair>(i0, i0)
        i7 = call_result#0()
        i8 = int_gt/i64(i0, 0)
        guard_true(i8) [i3]
        setfield<Obj.c>(r1, 1)
        i11 = getfield<Obj.h>(r1)
        i12 = int_add/i64(i11, 1)
        jump(i4, r1)
        ",
    );
    // Kept: what the jump and resume data use, writes, guards, calls (an
    // elidable call may panic).
    assert_trace(
        &t,
        "
        [i0, r1]
        i2 = getfield<Obj.a>(r1)
        i3 = int_mul/i64(i0, 2)
        call_pure<pair>(i0, i0)
        i5 = int_gt/i64(i0, 0)
        guard_true(i5) [i2] #0
        setfield<Obj.c>(r1, 1)
        jump(i3, r1)
        ",
    );
}

#[test]
fn virtuals_is_a_stub_and_unroll_alone_is_not_a_pass() {
    // (peeling makes two traces: `optimize_loop`, tests in optimizer_unroll.rs)
    for p in [Pass::Virtuals, Pass::Unroll] {
        let t = parse(TLR);
        assert_eq!(p.run(t.clone(), &Ctx { tables: tables() }), t);
    }
}

// ---------------------------------------------------------------------------
// The whole pipeline.

#[test]
fn tlr_square_loop() {
    let t = run_all(TLR);
    assert_trace(
        &t,
        "
        [i0, r1]
        r2 = fieldaddr<Regs.values>(r1)
        i3 = vec_len<Vec<i64>>(r2)
        i4 = int_ge/usize(0, i3)
        guard_false(i4) [r1] #0
        r6 = vec_ptr<Vec<i64>>(r2)
        i7 = getitem<Vec<i64>>(r6, 0)
        i8 = int_add/i64(-1, i7)
        setitem<Vec<i64>>(r6, 0, i8)
        i10 = int_ge/usize(2, i3)
        guard_false(i10) [r1] #1
        i12 = getitem<Vec<i64>>(r6, 2)
        i13 = getitem<Vec<i64>>(r6, 1)
        i14 = int_add/i64(i12, i13)
        setitem<Vec<i64>>(r6, 2, i14)
        i16 = int_ne/i64(i8, 0)
        guard_true(i16) [i8, r1] #2
        jump(i8, r1)
        ",
    );
    // Each guard keeps its resume data, with known values substituted.
    assert_eq!(
        show_resume(&t),
        "#0: [r1, 1]\n#1: [r1, 1]\n#2: [i8, 0, r1]\n"
    );
}

/// Both loops, run on a real register file: the same exit, the same
/// resume values, the same registers.
#[test]
fn tlr_square_loop_runs_the_same() {
    use metatrace_runtime::resume::ResumeFrame;
    let before = parse(TLR);
    let after = run_all(TLR);
    let mut regs = Box::new(Regs { values: vec![] });
    let addr = &mut *regs as *mut Regs as usize as u64;
    for regs0 in [
        vec![5, 2, 7],
        vec![1, 3, 0],
        vec![3, 1, 1],
        vec![9],
        vec![2, 5],
    ] {
        let mut outs = Vec::new();
        for t in [&before, &after] {
            regs.values = regs0.clone();
            let e = interp::run(t, tables(), &[0, addr]);
            let frames = ResumeFrame::from_guard(tables(), &t.guards[e.guard as usize], &e.values);
            outs.push((frames, regs.values.clone()));
        }
        assert_eq!(outs[0], outs[1], "registers {regs0:?}");
    }
}

#[test]
fn pipeline_removes_everything_dead() {
    // All passes: the folded reads and identities of rewrite's test leave
    // nothing behind.
    let t = run_all(
        "
        [i0, f1]
        i2 = int_add/i64(i0, 0)
        f3 = float_neg(f1)
        f4 = float_neg(f3)
        i5 = int_sub/i64(i2, i0)
        jump(i5, f4)
        ",
    );
    assert_trace(&t, "[i0, f1]\njump(0, f1)");
}

// ---------------------------------------------------------------------------
// enable_opts

#[test]
fn enable_opts_names() {
    let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        EnabledOpts::parse(&names(&["all"])).unwrap(),
        EnabledOpts::all()
    );
    assert_eq!(
        EnabledOpts::parse(&names(&["intbounds", "rewrite"]))
            .unwrap()
            .passes(),
        vec![Pass::Rewrite, Pass::IntBounds]
    );
    assert_eq!(EnabledOpts::parse(&[]).unwrap().passes(), vec![]);
    assert_eq!(
        EnabledOpts::parse(&names(&["virtualize"]))
            .unwrap()
            .passes(),
        vec![Pass::Virtuals]
    );
    let e = EnabledOpts::parse(&names(&["rewrite", "earlyforce"])).unwrap_err();
    assert!(
        e.contains("'earlyforce'")
            && e.contains("rewrite, pure, heap, intbounds, virtuals, unroll, dce, all"),
        "{e}"
    );
    let p = JitParams::parse("enable_opts=heap:dce").unwrap();
    assert_eq!(
        EnabledOpts::parse(&p.enable_opts).unwrap().passes(),
        vec![Pass::Heap, Pass::Dce]
    );
    assert_eq!(
        EnabledOpts::parse(&JitParams::default().enable_opts).unwrap(),
        EnabledOpts::all()
    );
}

#[test]
fn disabled_passes_do_nothing() {
    let t = parse(TLR);
    assert_eq!(optimize(t.clone(), tables(), &EnabledOpts::none()), t);
}

#[test]
fn heap_rereads_immutable_descrs_after_a_write_through_the_mutable_one() {
    // `&Vec<i64>` (immutable) and `Vec<i64>` describe the same items: a
    // read through `&` (say, a `peek(&vm.stack)` helper), a write through
    // `&mut` in the next interpreter iteration, a read through `&` again.
    let t = run_pass(
        Pass::Heap,
        "
        [r0, i1]
        i2 = getitem<&Vec<i64>>(r0, 0)
        setitem<Vec<i64>>(r0, 0, i1)
        i4 = getitem<&Vec<i64>>(r0, 0)
        i5 = int_add/i64(i2, i4)
        jump(r0, i5)
        ",
    );
    assert_trace(
        &t,
        "
        [r0, i1]
        i2 = getitem<&Vec<i64>>(r0, 0)
        setitem<Vec<i64>>(r0, 0, i1)
        i4 = getitem<&Vec<i64>>(r0, 0)
        i5 = int_add/i64(i2, i4)
        jump(r0, i5)
        ",
    );
}
