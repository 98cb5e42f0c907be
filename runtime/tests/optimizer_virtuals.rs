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
