//! Loop peeling (`optimizer::unroll` through `optimize_loop`): a loop in,
//! the preamble and the peeled loop out, as printed by `format_trace`;
//! and both run by the trace interpreter against the loop they came from.

mod optimizer_util;

use metatrace_runtime::optimizer::{optimize_loop, EnabledOpts, Optimized, Pass, Peeled};
use optimizer_util::*;

fn peel(text: &str, opts: &EnabledOpts) -> Peeled {
    match optimize_loop(parse(text), tables(), opts) {
        Optimized::Peeled(p) => p,
        Optimized::Loop(t) => panic!("not peeled:\n{}", show(&t)),
    }
}

/// A loop in the style of the bf interpreter: walk a Vec (the tape) held
/// by an invariant object, until an item is 0.
const WALK: &str = "
[i0, r1]
r2 = fieldaddr<Obj.vals>(r1)
i3 = vec_len<Vec<i64>>(r2)
i4 = int_lt/usize(i0, i3)
guard_true(i4) [i0, r1]
r6 = vec_ptr<Vec<i64>>(r2)
i7 = getitem<Vec<i64>>(r6, i0)
i8 = int_add/i64(i7, 1)
setitem<Vec<i64>>(r6, i0, i8)
i10 = int_add/usize(i0, 1)
i11 = int_ne/i64(i7, 0)
guard_true(i11) [i10, r1]
jump(i10, r1)
";

#[test]
fn invariant_reads_leave_the_loop() {
    let p = peel(WALK, &EnabledOpts::all());
    assert_trace(
        &p.preamble,
        "
        [i0, r1]
        r2 = fieldaddr<Obj.vals>(r1)
        i3 = vec_len<Vec<i64>>(r2)
        i4 = int_lt/usize(i0, i3)
        guard_true(i4) [i0, r1] #0
        r6 = vec_ptr<Vec<i64>>(r2)
        i7 = getitem<Vec<i64>>(r6, i0)
        i8 = int_add/i64(i7, 1)
        setitem<Vec<i64>>(r6, i0, i8)
        i10 = int_add/usize(i0, 1)
        i11 = int_ne/i64(i7, 0)
        guard_true(i11) [i10, r1] #1
        jump_to<loop 4294967295>(r1, i10, i3, r6)
        ",
    );
    // The Vec's length and data pointer come in from the preamble: the
    // loop reads no header.
    assert_trace(
        &p.body,
        "
        [r0, i1, i2, r3]
        i4 = int_lt/usize(i1, i2)
        guard_true(i4) [i1, r0] #0
        i6 = getitem<Vec<i64>>(r3, i1)
        i7 = int_add/i64(i6, 1)
        setitem<Vec<i64>>(r3, i1, i7)
        i9 = int_add/usize(i1, 1)
        i10 = int_ne/i64(i6, 0)
        guard_true(i10) [i9, r0] #1
        jump(r0, i9, i2, r3)
        ",
    );
}

/// A field the loop writes and reads again in the next iteration: the
/// peeled loop gets its value from the previous iteration (a phi), not a
/// read.
const CARRY: &str = "
[i0, r1]
i2 = getfield<Obj.a>(r1)
i3 = int_add/i64(i2, i0)
setfield<Obj.a>(r1, i3)
i5 = int_sub/i64(i0, 1)
i6 = int_gt/i64(i5, 0)
guard_true(i6) [i5, r1]
jump(i5, r1)
";

#[test]
fn stored_values_are_carried_to_the_next_iteration() {
    let p = peel(CARRY, &EnabledOpts::all());
    assert_trace(
        &p.preamble,
        "
        [i0, r1]
        i2 = getfield<Obj.a>(r1)
        i3 = int_add/i64(i2, i0)
        setfield<Obj.a>(r1, i3)
        i5 = int_sub/i64(i0, 1)
        i6 = int_gt/i64(i5, 0)
        guard_true(i6) [i5, r1] #0
        jump_to<loop 4294967295>(r1, i5, i3)
        ",
    );
    assert_trace(
        &p.body,
        "
        [r0, i1, i2]
        i3 = int_add/i64(i2, i1)
        setfield<Obj.a>(r0, i3)
        i5 = int_sub/i64(i1, 1)
        i6 = int_gt/i64(i5, 0)
        guard_true(i6) [i5, r0] #0
        jump(r0, i5, i3)
        ",
    );
}

#[test]
fn a_loop_peeling_cannot_shorten_stays_one_trace() {
    // Without the other passes nothing moves out of the loop: peeling
    // would only add a trace.
    let o = optimize_loop(parse(CARRY), tables(), &EnabledOpts::only(&[Pass::Unroll]));
    assert!(matches!(o, Optimized::Loop(_)), "{o:?}");
}

#[test]
fn a_loop_that_always_leaves_is_not_peeled() {
    // The second iteration reads back the 1 the first one stored, and its
    // guard wants 0: it always fails, the "loop" never loops.
    let t = "
    [i0, r1]
    i2 = getfield<Obj.a>(r1)
    guard_value(i2, 0) [i0, r1]
    setfield<Obj.a>(r1, 1)
    i5 = int_add/i64(i0, 1)
    jump(i5, r1)
    ";
    let o = optimize_loop(parse(t), tables(), &EnabledOpts::all());
    assert!(matches!(o, Optimized::Loop(_)), "{o:?}");
}

/// A Brainfuck loop `[>>>>><<<<<<>]`-like walk right: the move right by
/// 5 is checked against cell 0 (the interpreter's `<` check after it), and
/// the pointer grows by 1, checked against the tape's length.
const WALK_RIGHT: &str = "
[i0, r1]
i2 = int_add/usize(i0, 5)
i3 = int_gt/usize(3, i2)
guard_false(i3) [i2, r1]
i5 = vec_len<Vec<i64>>(r1)
i6 = int_add/usize(i0, 1)
i7 = int_lt/usize(i6, i5)
guard_true(i7) [i6, r1]
jump(i6, r1)
";

#[test]
fn loop_carried_ranges_are_assumed_and_checked_on_the_back_edge() {
    // The preamble knows nothing of i0 and keeps the check of `i0 + 5`.
    // The peeled loop's pointer is the previous one plus 1, below the
    // length, so at most isize::MAX - 1: that is assumed on entry to the
    // loop (it holds for the preamble's value) and holds again on the back
    // edge, so `3 > ptr + 5` is false in the loop.
    let p = peel(WALK_RIGHT, &EnabledOpts::all());
    assert_trace(
        &p.preamble,
        "
        [i0, r1]
        i2 = int_add/usize(i0, 5)
        i3 = int_gt/usize(3, i2)
        guard_false(i3) [i2, r1] #0
        i5 = vec_len<Vec<i64>>(r1)
        i6 = int_add/usize(i0, 1)
        i7 = int_lt/usize(i6, i5)
        guard_true(i7) [i6, r1] #1
        jump_to<loop 4294967295>(r1, i6, i5)
        ",
    );
    assert_trace(
        &p.body,
        "
        [r0, i1, i2]
        i3 = int_add/usize(i1, 1)
        i4 = int_lt/usize(i3, i2)
        guard_true(i4) [i3, r0] #0
        jump(r0, i3, i2)
        ",
    );
    // Without intbounds the check stays in the loop.
    let no_bounds = EnabledOpts::only(
        &Pass::ALL
            .into_iter()
            .filter(|p| *p != Pass::IntBounds)
            .collect::<Vec<_>>(),
    );
    let p = peel(WALK_RIGHT, &no_bounds);
    assert!(
        show(&p.body).contains("int_gt/usize(3"),
        "{}",
        show(&p.body)
    );
}
