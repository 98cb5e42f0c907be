//! Allocation removal (`optimizer::virtuals`): what a guard's resume data
//! makes of a virtual object when the guard fails, and peeled loops. (A
//! small trace in, the optimized trace out: file tests,
//! `filetests/optimizer_virtuals/*.trace`, run by `filetests.rs`.)

use metatrace_runtime::blackhole::ResumeFrame;
use metatrace_runtime::optimizer::{optimize, optimize_loop, EnabledOpts, Optimized, Pass};
use metatrace_runtime::trace::interp;
use metatrace_runtime::trace::*;
use metatrace_testkit::filetest;
use metatrace_testkit::optimizer::*;
use metatrace_testkit::trace_text::*;

/// The guard inside the object's life: the input of the file test
/// `filetests/optimizer_virtuals/a_guard_describes_a_virtual_object_in_its_resume_data.trace`.
fn guarded() -> String {
    filetest::input(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/filetests/optimizer_virtuals/a_guard_describes_a_virtual_object_in_its_resume_data.trace"
    ))
}

#[test]
fn a_failing_guard_allocates_the_virtual_object() {
    for opts in [EnabledOpts::all(), EnabledOpts::only(&[Pass::Virtuals])] {
        let t = optimize(parse(&guarded()), tables(), &opts);
        assert!(
            !t.ops.iter().any(|op| matches!(op.opcode, Opcode::New(_))),
            "{}",
            show(&t)
        );
        // i0 = 50 is not below i1 = 10: the guard fails.
        let exit = interp::run(&t, tables(), &[50, 10]);
        assert!(!exit.is_jump_to());
        let frames =
            ResumeFrame::from_guard(tables(), &t.guards[exit.guard as usize], &exit.values);
        let regs = &frames[0].regs;
        assert_eq!(regs[0].1, 50);
        let pair = unsafe { Box::from_raw(regs[1].1 as *mut Pair) };
        assert_eq!(*pair, Pair { x: 50, y: 40 });
    }
}

#[test]
fn a_peeled_loop_keeps_its_objects_virtual() {
    // Each iteration boxes its counter and reads it back: with loop
    // peeling on, nothing allocates (whether or not peeling is kept).
    let text = "
        [i0, i1]
        r2 = new<i64>()
        store/i64(r2, i0)
        i4 = load/i64(r2)
        i5 = int_add/i64(i4, 1)
        free<i64>(r2)
        i7 = int_lt/i64(i5, i1)
        guard_true(i7) [i5, i1]
        jump(i5, i1)
        ";
    let traces = match optimize_loop(parse(text), tables(), &EnabledOpts::all()) {
        Optimized::Peeled(p) => vec![p.preamble, p.body],
        Optimized::Loop(t) => vec![t],
    };
    for t in &traces {
        assert!(
            !t.ops
                .iter()
                .any(|op| matches!(op.opcode, Opcode::New(_) | Opcode::Free(_))),
            "{}",
            show(t)
        );
    }
}

/// The `Pair` in register `reg` of the first frame a guard exit resumes.
fn resumed_pair(t: &Trace, exit: &interp::TraceExit, reg: usize) -> Pair {
    assert!(!exit.is_jump_to());
    let frames = ResumeFrame::from_guard(tables(), &t.guards[exit.guard as usize], &exit.values);
    unsafe { *Box::from_raw(frames[0].regs[reg].1 as *mut Pair) }
}

#[test]
fn an_object_carried_around_the_loop_is_never_allocated_and_resumes_right() {
    // Each iteration reads the pair the previous one made, frees it and
    // makes the next: the back edge carries the pair's fields.
    let text = "
        [r0, i1]
        i2 = getfield<Pair.x>(r0)
        i3 = getfield<Pair.y>(r0)
        free<Pair>(r0)
        i5 = int_add/i64(i2, 1)
        i6 = int_add/i64(i3, i2)
        r7 = new<Pair>()
        setfield<Pair.x>(r7, i5)
        setfield<Pair.y>(r7, i6)
        i10 = int_lt/i64(i5, i1)
        guard_true(i10) [r7, i1]
        jump(r7, i1)
        ";
    let start = || Box::into_raw(Box::new(Pair { x: 0, y: 0 })) as u64;
    let original = parse(text);
    let want = resumed_pair(
        &original,
        &interp::run(&original, tables(), &[start(), 10]),
        0,
    );
    assert_eq!(want, Pair { x: 10, y: 45 });
    let Optimized::Peeled(p) = optimize_loop(parse(text), tables(), &EnabledOpts::all()) else {
        panic!("not peeled");
    };
    for t in [&p.preamble, &p.body] {
        assert!(
            !t.ops.iter().any(|op| matches!(op.opcode, Opcode::New(_))),
            "{}",
            show(t)
        );
    }
    assert!(
        p.short.get().is_err(),
        "a bridge cannot enter: it has no pair"
    );
    let e = interp::run(&p.preamble, tables(), &[start(), 10]);
    assert!(e.is_jump_to());
    let got = resumed_pair(&p.body, &interp::run(&p.body, tables(), &e.values), 0);
    assert_eq!(got, want);
    // Leaving in the preamble's own iteration resumes right too.
    let e = interp::run(&p.preamble, tables(), &[start(), 1]);
    assert_eq!(resumed_pair(&p.preamble, &e, 0), Pair { x: 1, y: 0 });
}

#[test]
fn a_guard_before_the_carried_object_is_consumed_resumes_with_it() {
    // The guard at the top fails (x reaches i1) while the pair the
    // previous iteration made is alive and not yet freed: in the peeled
    // loop that pair is virtual, and the guard's resume data rebuilds it.
    let text = "
        [r0, i1]
        i2 = getfield<Pair.x>(r0)
        i3 = int_lt/i64(i2, i1)
        guard_true(i3) [r0, i1]
        i5 = getfield<Pair.y>(r0)
        free<Pair>(r0)
        i7 = int_add/i64(i2, 1)
        i8 = int_mul/i64(i5, 3)
        r9 = new<Pair>()
        setfield<Pair.x>(r9, i7)
        setfield<Pair.y>(r9, i8)
        jump(r9, i1)
        ";
    let start = || Box::into_raw(Box::new(Pair { x: 0, y: 1 })) as u64;
    let original = parse(text);
    let want = resumed_pair(
        &original,
        &interp::run(&original, tables(), &[start(), 7]),
        0,
    );
    assert_eq!(want, Pair { x: 7, y: 2187 });
    let Optimized::Peeled(p) = optimize_loop(parse(text), tables(), &EnabledOpts::all()) else {
        panic!("not peeled");
    };
    assert!(
        !p.body
            .ops
            .iter()
            .any(|op| matches!(op.opcode, Opcode::New(_) | Opcode::Free(_))),
        "{}",
        show(&p.body)
    );
    let e = interp::run(&p.preamble, tables(), &[start(), 7]);
    assert!(e.is_jump_to(), "{}", show(&p.preamble));
    let got = resumed_pair(&p.body, &interp::run(&p.body, tables(), &e.values), 0);
    assert_eq!(got, want);
}
