//! Loop peeling (`optimizer::unroll` through `optimize_loop`): what is
//! more than a loop in and the printed preamble and peeled loop out
//! (those are file tests, `filetests/optimizer_unroll/*.trace`, run by
//! `filetests.rs`): loops that stay one trace, and short preambles.

use metatrace_runtime::optimizer::{optimize_loop, EnabledOpts, Optimized, Pass, Peeled};
use metatrace_testkit::filetest;
use metatrace_testkit::optimizer::*;
use metatrace_testkit::trace_text::*;

fn peel(text: &str, opts: &EnabledOpts) -> Peeled {
    match optimize_loop(parse(text), tables(), opts) {
        Optimized::Peeled(p) => *p,
        Optimized::Loop(t) => panic!("not peeled:\n{}", show(&t)),
    }
}

/// The input of the file test `filetests/optimizer_unroll/<name>.trace`.
fn input_of(name: &str) -> String {
    filetest::input(format!(
        "{}/tests/filetests/optimizer_unroll/{name}.trace",
        env!("CARGO_MANIFEST_DIR")
    ))
}

/// A loop over `[i0, r1]` that reads `i2 = r1.a`, guards it is `value`
/// and goes on with `rest`.
fn guard_a_then(value: i64, rest: &str) -> String {
    format!("[i0, r1]\ni2 = getfield<Obj.a>(r1)\nguard_value(i2, {value}) [i0, r1]\n{rest}")
}

/// A loop in the style of the bf interpreter: walk a Vec (the tape) held
/// by an invariant object, until an item is 0.
fn walk() -> String {
    input_of("invariant_reads_leave_the_loop")
}

/// A field the loop writes and reads again in the next iteration.
fn carry() -> String {
    input_of("stored_values_are_carried_to_the_next_iteration")
}

#[test]
fn a_loop_peeling_cannot_shorten_stays_one_trace() {
    // Without the other passes nothing moves out of the loop: peeling
    // would only add a trace.
    let o = optimize_loop(
        parse(&carry()),
        tables(),
        &EnabledOpts::only(&[Pass::Unroll]),
    );
    assert!(matches!(o, Optimized::Loop(_)), "{o:?}");
}

#[test]
fn a_loop_that_always_leaves_is_not_peeled() {
    // The second iteration reads back the 1 the first one stored, and its
    // guard wants 0: it always fails, the "loop" never loops.
    let t = guard_a_then(
        0,
        "
        setfield<Obj.a>(r1, 1)
        i5 = int_add/i64(i0, 1)
        jump(i5, r1)
        ",
    );
    let o = optimize_loop(parse(&t), tables(), &EnabledOpts::all());
    assert!(matches!(o, Optimized::Loop(_)), "{o:?}");
}

/// A Brainfuck loop `[>>>>><<<<<<>]`-like walk right: the move right by
/// 5 is checked against cell 0, and the pointer grows by 1, checked
/// against the tape's length.
fn walk_right() -> String {
    input_of("loop_carried_ranges_are_assumed_and_checked_on_the_back_edge")
}

/// The rest of the file test `loop_carried_ranges_are_assumed_and_checked_on_the_back_edge`:
/// without intbounds the check of `3 > ptr + 5` stays in the loop.
#[test]
fn loop_carried_ranges_without_intbounds() {
    let no_bounds = EnabledOpts::only(
        &Pass::ALL
            .into_iter()
            .filter(|p| *p != Pass::IntBounds)
            .collect::<Vec<_>>(),
    );
    let p = peel(&walk_right(), &no_bounds);
    assert!(
        show(&p.body).contains("int_gt/usize(3"),
        "{}",
        show(&p.body)
    );
}

// ---------------------------------------------------------------------------
// Short preambles: how bridges enter the peeled loop directly.

use metatrace_runtime::optimizer::optimize_entering;
use metatrace_runtime::trace::TraceStart;

/// The short preamble of `p` as a trace from the loop header.
fn short_of(p: &Peeled, looped: &str) -> String {
    let t = parse(looped);
    match p.short.get() {
        Ok(s) => show(&s.to_trace(t.start.clone(), &t.inputs, 7)),
        Err(why) => panic!("no short preamble: {why}"),
    }
}

/// A bridge from some guard: `ops` (over inputs `[i0, r1]`), then the
/// loop header with `(i0, r1)`.
fn bridge(ops: &str) -> metatrace_runtime::trace::Trace {
    let mut t = parse(&format!("[i0, r1]\n{ops}\njump_to<loop 3>(i0, r1)\n"));
    t.start = TraceStart::Bridge { code: 1, guard: 0 };
    t
}

#[test]
fn bridges_enter_the_peeled_loop_through_the_short_preamble() {
    // The peeled loop takes the Vec's length and data pointer from the
    // preamble; a bridge reads them itself and jumps in.
    let p = peel(&walk(), &EnabledOpts::all());
    assert_eq!(
        short_of(&p, &walk()),
        "[i0, r1]\n\
         r2 = fieldaddr<Obj.vals>(r1)\n\
         i3 = vec_len<Vec<i64>>(r2)\n\
         r4 = vec_ptr<Vec<i64>>(r2)\n\
         jump_to<loop 7>(r1, i0, i3, r4)\n"
    );
    // The preamble's pointer is in 1..=isize::MAX, which the loop does not
    // need: a bridge that knows nothing of it enters too (the loop is
    // checked again with the range widened to the bridge's).
    let short = p.short.get().as_ref().unwrap();
    assert_eq!(short.ranges.len(), 1, "{:?}", short.ranges);
    // A bridge that read the length already reads it once.
    let b = bridge(
        "r2 = fieldaddr<Obj.vals>(r1)\n\
         i3 = vec_len<Vec<i64>>(r2)\n\
         i4 = int_gt/usize(i3, 2)\n\
         guard_true(i4) [i0, r1]",
    );
    let direct = optimize_entering(&b, 7, short, tables(), &EnabledOpts::all())
        .expect("the loop does not need the range");
    assert_trace(
        &direct,
        "
        [i0, r1]
        r2 = fieldaddr<Obj.vals>(r1)
        i3 = vec_len<Vec<i64>>(r2)
        i4 = int_gt/usize(i3, 2)
        guard_true(i4) [i0, r1] #0
        r6 = vec_ptr<Vec<i64>>(r2)
        jump_to<loop 7>(r1, i0, i3, r6)
        ",
    );
}

#[test]
fn a_loop_relying_on_a_preamble_guard_has_a_short_preamble_that_checks_it() {
    // The preamble's guard_value makes `a` a constant in the peeled loop,
    // which then no longer reads or checks it: a bridge must check it
    // again. The short preamble carries the guard; when it fails, the
    // interpreter resumes at the loop header (the short preamble wrote
    // nothing), where the preamble is entered.
    let t = guard_a_then(
        3,
        "
        i4 = int_add/i64(i0, i2)
        i5 = int_lt/i64(i4, 100)
        guard_true(i5) [i4, r1]
        jump(i4, r1)
        ",
    );
    let p = peel(&t, &EnabledOpts::all());
    assert!(!show(&p.body).contains("getfield"), "{}", show(&p.body));
    assert_eq!(
        short_of(&p, &t),
        "[i0, r1]\n\
         i2 = getfield<Obj.a>(r1)\n\
         guard_value(i2, 3) [i0, r1] #0\n\
         jump_to<loop 7>(r1, i0)\n"
    );
    let short = p.short.get().as_ref().unwrap();
    // The guard resumes the loop's portal at its merge point, with the
    // header's values: the bridge's own.
    let blind = optimize_entering(
        &bridge("i2 = int_add/i64(i0, 1)"),
        7,
        short,
        tables(),
        &EnabledOpts::all(),
    )
    .expect("a guard, not a range: every bridge may enter");
    let g = blind.guards.last().expect("the short preamble's guard");
    assert_eq!(g.frames.len(), 1);
    assert_eq!(
        (g.frames[0].jitcode, g.frames[0].pc),
        (1, 0),
        "{:?}",
        g.frames
    );
    assert!(show(&blind).contains("guard_value"), "{}", show(&blind));
    // A bridge that checked `a` already does not check it again.
    let knowing = bridge("i2 = getfield<Obj.a>(r1)\nguard_value(i2, 3) [i0, r1]");
    let direct = optimize_entering(&knowing, 7, short, tables(), &EnabledOpts::all()).unwrap();
    assert_eq!(
        show(&direct).matches("guard_value").count(),
        1,
        "{}",
        show(&direct)
    );
}

#[test]
fn a_bridge_enters_directly_only_with_the_ranges_the_loop_assumes() {
    // The peeled loop of walk_right() dropped `3 > ptr + 5` because its
    // pointer is below the tape's length (a range from the preamble).
    let p = peel(&walk_right(), &EnabledOpts::all());
    let short = p.short.get().as_ref().unwrap();
    assert_eq!(short.ranges.len(), 1, "{:?}", short.ranges);
    // A bridge that knows nothing of the pointer jumps to the preamble.
    let blind = bridge("");
    assert!(optimize_entering(&blind, 7, short, tables(), &EnabledOpts::all()).is_none());
    // One that checked it against the length enters directly.
    let checked = bridge(
        "i2 = vec_len<Vec<i64>>(r1)\n\
         i3 = int_lt/usize(i0, i2)\n\
         guard_true(i3) [i0, r1]",
    );
    let direct = optimize_entering(&checked, 7, short, tables(), &EnabledOpts::all())
        .expect("the bridge shows the pointer's range");
    assert!(
        show(&direct).ends_with("jump_to<loop 7>(r1, i0, i2)\n"),
        "{}",
        show(&direct)
    );
}

#[test]
fn a_vec_capacity_read_is_in_the_short_preamble() {
    // A loop that checks an index against the capacity of an invariant
    // Vec, as a push does: reading the capacity is as safe without the
    // preamble's guards as reading the length (Lox's loops had no short
    // preamble for want of it).
    let looped = "[i0, r1]\n\
         r2 = fieldaddr<Obj.vals>(r1)\n\
         i3 = vec_cap<Vec<i64>>(r2)\n\
         i4 = int_lt/usize(i0, i3)\n\
         guard_true(i4) [i0, r1]\n\
         i6 = int_add/usize(i0, 1)\n\
         jump(i6, r1)\n";
    let p = peel(looped, &EnabledOpts::all());
    assert_eq!(
        short_of(&p, looped),
        "[i0, r1]\n\
         r2 = fieldaddr<Obj.vals>(r1)\n\
         i3 = vec_cap<Vec<i64>>(r2)\n\
         jump_to<loop 7>(r1, i0, i3)\n"
    );
}

#[test]
fn a_value_the_iteration_stored_is_read_back_by_the_short_preamble() {
    // Each iteration sets the Vec's length to `i + 1` (a variant input's
    // value) and checks the length it finds. The peeled loop takes the
    // length the preamble stored; a bridge's short preamble reads it from
    // the Vec at the header.
    let t = "
        [i0, r1]
        r2 = fieldaddr<Obj.vals>(r1)
        i3 = vec_len<Vec<i64>>(r2)
        i4 = int_lt/i64(i3, 1000)
        guard_true(i4) [i0, r1]
        i5 = int_add/i64(i0, 1)
        vec_set_len<Vec<i64>>(r2, i5)
        jump(i5, r1)
        ";
    let p = peel(t, &EnabledOpts::all());
    // The loop takes the length for the input it equals.
    assert!(!show(&p.body).contains("vec_len"), "{}", show(&p.body));
    assert_eq!(
        short_of(&p, t),
        "[i0, r1]\n\
         r2 = fieldaddr<Obj.vals>(r1)\n\
         i3 = vec_len<Vec<i64>>(r2)\n\
         i4 = int_eq/i64(i3, i0)\n\
         guard_true(i4) [i0, r1] #0\n\
         jump_to<loop 7>(r1, i0, r2)\n"
    );
    // A bridge that set the length itself enters without a check.
    let b = bridge(
        "r2 = fieldaddr<Obj.vals>(r1)\n\
         vec_set_len<Vec<i64>>(r2, i0)",
    );
    let short = p.short.get().as_ref().unwrap();
    let direct = optimize_entering(&b, 7, short, tables(), &EnabledOpts::all()).unwrap();
    assert!(!show(&direct).contains("guard"), "{}", show(&direct));
}

/// The loop of `filetests/optimizer_unroll/virtualizable_stores_leave_the_peeled_loop.trace`,
/// run as recorded and as preamble then peeled loop, on a real frame:
/// whichever guard fails (the counter running out, or `regs[0]` reaching
/// 1000 in a later iteration), memory lacks the frame's last writes until
/// the guard's resume data does them, and then holds what the loop as
/// recorded left, with the same frames resumed.
#[test]
fn a_failing_guard_writes_the_virtualizable_frame_back() {
    use metatrace_runtime::blackhole::ResumeFrame;
    use metatrace_runtime::trace::{interp, Trace};
    let text = input_of("virtualizable_stores_leave_the_peeled_loop");
    let recorded = parse(&text);
    let p = peel(&text, &EnabledOpts::all());
    let body = show(&p.body);
    let stores_frame = |l: &str| {
        l.starts_with("setitem<[i64] virtualizable>") || l.starts_with("setfield<Frame.pc>")
    };
    assert!(!body.lines().any(stores_frame), "{body}");
    // (regs[0], counter): the counter runs out; regs[0] reaches 1000
    // in the fourth iteration.
    for (reg0, counter) in [(5, 6), (970, 10)] {
        // (One frame and object for both runs: the resumed frames hold
        // their addresses.)
        let mut frame = Box::new(Frame {
            pc: 0,
            regs: [0; 4],
        });
        let mut obj = Box::new(Obj::zeroed(0));
        let mut run = |traces: &[&Trace]| {
            *frame = Frame {
                pc: -1,
                regs: [reg0, 0, 0, 0],
            };
            obj.d = 0;
            let f = &mut *frame as *mut Frame as u64;
            let regs = &mut frame.regs as *mut [i64; 4] as u64;
            let o = &mut *obj as *mut Obj as u64;
            let mut inputs = vec![f, regs, o, counter as u64];
            let mut exit = None;
            for t in traces {
                let e = interp::run(t, tables(), &inputs);
                if e.is_jump_to() {
                    inputs = e.values;
                    continue;
                }
                exit = Some((t, e));
                break;
            }
            let (t, e) = exit.expect("a guard fails");
            let before = *frame;
            let frames = ResumeFrame::from_guard(tables(), &t.guards[e.guard as usize], &e.values);
            (before, *frame, obj.d, frames)
        };
        let (_, as_recorded, d, frames) = run(&[&recorded]);
        let (before, after, d2, frames2) = run(&[&p.preamble, &p.body]);
        assert_eq!(
            (as_recorded, d, &frames),
            (after, d2, &frames2),
            "start {reg0}, {counter}"
        );
        assert_ne!(
            before, after,
            "the writes were delayed: start {reg0}, {counter}"
        );
    }
}
