//! Allocation removal (`optimizer::virtuals`): a small trace in, the
//! optimized trace out; then what a guard's resume data makes of a virtual
//! object when the guard fails.

use metatrace_runtime::optimizer::{optimize, optimize_loop, Ctx, EnabledOpts, Optimized, Pass};
use metatrace_runtime::resume::ResumeFrame;
use metatrace_runtime::trace::interp;
use metatrace_runtime::trace::*;
use metatrace_testkit::optimizer::*;
use metatrace_testkit::trace_text::*;

fn virtuals(text: &str) -> Trace {
    Pass::Virtuals.run(parse(text), &Ctx { tables: tables() })
}

#[test]
fn an_object_that_does_not_escape_is_not_allocated() {
    // `let p = Box::new(Pair { x: a, y: 7 }); p.x + p.y` (then dropped).
    let t = virtuals(
        "
        [i0]
        r1 = new<Pair>()
        setfield<Pair.x>(r1, i0)
        setfield<Pair.y>(r1, 7)
        i4 = getfield<Pair.x>(r1)
        i5 = getfield<Pair.y>(r1)
        i6 = int_add/i64(i4, i5)
        free<Pair>(r1)
        jump(i6)
        ",
    );
    assert_trace(
        &t,
        "
        [i0]
        i1 = int_add/i64(i0, 7)
        jump(i1)
        ",
    );
}

#[test]
fn a_store_into_memory_forces_the_object_there() {
    // The object escapes at the store into `Obj.next`: allocated and
    // filled in right before it, with the fields' latest values; reads
    // before the escape are still forwarded.
    let t = virtuals(
        "
        [r0, i1]
        r2 = new<Pair>()
        setfield<Pair.x>(r2, i1)
        setfield<Pair.y>(r2, 1)
        setfield<Pair.y>(r2, 2)
        i6 = getfield<Pair.y>(r2)
        setfield<Obj.a>(r0, i6)
        setfield<Obj.next>(r0, r2)
        setfield<Pair.x>(r2, 9)
        jump(r0, i1)
        ",
    );
    assert_trace(
        &t,
        "
        [r0, i1]
        setfield<Obj.a>(r0, 2)
        r3 = new<Pair>()
        setfield<Pair.x>(r3, i1)
        setfield<Pair.y>(r3, 2)
        setfield<Obj.next>(r0, r3)
        setfield<Pair.x>(r3, 9)
        jump(r0, i1)
        ",
    );
}

#[test]
fn objects_live_at_the_jump_or_passed_to_calls_escape() {
    // Nothing changes.
    let text = "
        [r0, i1]
        r2 = new<i64>()
        store/i64(r2, i1)
        call_residual<bump>(r2)
        r5 = new<i64>()
        store/i64(r5, 3)
        jump(r5, i1)
        ";
    assert_trace(&virtuals(text), text);
}

/// The guard inside the object's life: `new` and the writes go, the
/// resume data describes the object, and its field values become fail
/// arguments.
const GUARDED: &str = "
    [i0, i1]
    r2 = new<Pair>()
    setfield<Pair.x>(r2, i0)
    setfield<Pair.y>(r2, 40)
    i5 = int_lt/i64(i0, i1)
    guard_true(i5) [i0, r2]
    i7 = getfield<Pair.x>(r2)
    i8 = int_add/i64(i7, 1)
    free<Pair>(r2)
    jump(i8, i1)
    ";

#[test]
fn a_guard_describes_a_virtual_object_in_its_resume_data() {
    let t = virtuals(GUARDED);
    assert_trace(
        &t,
        "
        [i0, i1]
        i2 = int_lt/i64(i0, i1)
        guard_true(i2) [i0] #0 virtual0 = new<Pair>(Pair.x: i0, Pair.y: 40)
        i4 = int_add/i64(i0, 1)
        jump(i4, i1)
        ",
    );
    assert_eq!(
        show_resume(&t),
        "#0: [i0, virtual0] virtual0 = new<Pair>(Pair.x: i0, Pair.y: 40)\n"
    );
    assert!(verify_trace(&t).is_ok(), "{:?}", verify_trace(&t));
}

#[test]
fn a_failing_guard_allocates_the_virtual_object() {
    for opts in [EnabledOpts::all(), EnabledOpts::only(&[Pass::Virtuals])] {
        let t = optimize(parse(GUARDED), tables(), &opts);
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
