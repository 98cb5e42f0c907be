//! The meta-tracer's bridges, on the small interpreter of tracer_world:
//! a bridge from a guard inside an inlined call ends in `jump_to` the
//! loop; one told what its guard's failure fixes does not guard it again;
//! bridges without a target loop abort or stop at an inner loop; a bridge
//! too long is cut and finishes like the blackhole.

mod tracer_world;
use tracer_world::*;

// ---------------------------------------------------------------------------
// Bridges.

#[test]
fn bridge_from_an_inlined_guard_ends_in_jump_to() {
    let t = tables();
    let (w, lp, exit) = loop_until_failure(t);
    // n = 7: data[3] = 2, add3's guard fails.
    assert_eq!(exit.guard, 1);
    let info = &lp.guards[1];
    assert_eq!(info.frames.len(), 2);
    let key = [0, w.prog()];
    let target = |g: &[u64]| (g == &key[..]).then_some(LoopTarget { id: LOOP_ID });
    let (bridge, args) = closed(metainterp::trace_bridge(
        t,
        info,
        &exit.values,
        &params(1000),
        &target,
    ));
    assert_eq!(
        w.show(t, &bridge),
        "\
[i0, i1, r2, i3]
guard_false(i3) [i0, i1, r2, i3] #0
i5 = int_sub/i64(i1, 1)
i6 = getfield<St.acc>(r2)
i7 = int_add/i64(i6, i5)
setfield<St.acc>(r2, i7)
debug_merge_point<portal @1>(1, PROG)
call_residual<record>(r2, i7)
debug_merge_point<portal @1>(2, PROG)
i12 = int_gt/i64(i0, 0)
guard_true(i12) [i0, i12, r2] #1
i14 = int_sub/i64(i0, 1)
jump_to<loop 7>(i14, r2)
"
    );
    assert_eq!(
        bridge.inputs,
        vec![Kind::Int, Kind::Int, Kind::Ref, Kind::Int]
    );
    assert!(matches!(bridge.start, trace::TraceStart::Bridge { .. }));
    // The bridge's iteration ran while it was traced: the loop's guard
    // failed at n = 7; the bridge ended at pc 0 with n = 6.
    assert_eq!(args[..2], key[..]);
    assert_eq!(args[2], 6);
    // Running the bridge from the same failure in another world does what
    // tracing it did.
    let mut w2 = World::new(&MAIN, &MIXED, &[]);
    let a = w2.args(0, 8);
    let (_, a) = closed(metainterp::trace_loop(t, 0, &a, &params(1000)));
    let e = interp::run(&lp, t, &a[2..]);
    assert_eq!(e.guard, 1);
    let e2 = interp::run(&bridge, t, &e.values);
    assert!(e2.is_jump_to());
    assert_eq!(e2.values, vec![6, w2.st()]);
    assert_eq!(*w.st, *w2.st);
    // acc: 20 + 3 (the traced iteration), 2 - 1 (the bridge).
    assert_eq!(w.st.acc, 24);
}

/// The same bridge, told what the failure of its guard fixes
/// (`trace::outcome`): the loop's `guard_true(i3)` failed, so `i3` is 0,
/// and the bridge starts without guarding it again. It still does what
/// the program does.
#[test]
fn bridge_from_a_failed_guard_true_knows_its_condition() {
    let t = tables();
    let (w, lp, exit) = loop_until_failure(t);
    assert_eq!(exit.guard, 1);
    let facts = trace::outcome::failure_facts(&lp);
    let fixed = facts[1].map(|(at, v)| (at as usize, v));
    assert!(
        fixed.is_some(),
        "no fact for guard #1 of\n{}",
        w.show(t, &lp)
    );
    let key = [0, w.prog()];
    let target = |g: &[u64]| (g == &key[..]).then_some(LoopTarget { id: LOOP_ID });
    let (bridge, args) = closed(metainterp::trace_bridge_stopping(
        t,
        &lp.guards[1],
        &exit.values,
        &params(1000),
        &target,
        None,
        false,
        fixed,
    ));
    let text = w.show(t, &bridge);
    assert!(
        text.lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("i4 = int_sub")),
        "the bridge guards its condition again:\n{text}"
    );
    assert_eq!(text.matches("guard_").count(), 1, "{text}");
    assert_eq!(args[2], 6);
    assert_eq!(w.st.acc, 24);
}

#[test]
fn bridge_without_a_target_aborts_at_a_repeated_key() {
    let t = tables();
    let (mut w, lp, exit) = loop_until_failure(t);
    let info = &lp.guards[exit.guard as usize];
    let (reason, frames) = aborted(metainterp::trace_bridge(
        t,
        info,
        &exit.values,
        &params(1000),
        &|_| None,
    ));
    assert_eq!(reason, AbortReason::NoTargetLoop);
    // Stopped at the portal's merge point, the second time at pc 1: the
    // bridge ran from n = 7 through JMP (n = 6) and ADD again.
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].pc, PORTAL_MERGE_PC);
    let st = w.st();
    let RunOutcome::MergePoint { args } = blackhole::resume(t, frames) else {
        panic!("not at the merge point");
    };
    assert_eq!(args, vec![1, w.prog(), 6, st]);
}

#[test]
fn loop_trace_stops_at_an_inner_loop_without_compiled_code() {
    // pc 0 runs once; JMP goes back to pc 1: tracing from pc 0 passes the
    // merge point of pc 1 twice. Without a target function the tracer
    // unrolls that inner loop; with one (the driver's), it stops there, so
    // that the inner loop is traced first.
    let t = tables();
    let mut w = World::new(&MAIN, &MIXED, &[]);
    w.prog.start = 1;
    let args = w.args(0, 5);
    let (reason, frames) = aborted(metainterp::trace_loop_or_entry(
        t,
        0,
        &args,
        &params(1000),
        Some(&|_| None),
    ));
    assert_eq!(reason, AbortReason::NoTargetLoop);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].pc, PORTAL_MERGE_PC);
    let st = w.st();
    let RunOutcome::MergePoint { args } = blackhole::resume(t, frames) else {
        panic!("not at the merge point");
    };
    // At pc 1 the second time: n went from 5 to 4 at JMP.
    assert_eq!(args, vec![1, w.prog(), 4, st]);
    // Without a target function, the same trace runs until its start key
    // comes back (never here: the portal returns).
    let mut w2 = World::new(&MAIN, &MIXED, &[]);
    w2.prog.start = 1;
    let args = w2.args(0, 5);
    let (reason, _) = aborted(metainterp::trace_loop(t, 0, &args, &params(1000)));
    assert_eq!(reason, AbortReason::PortalReturned);
    // A key the target function knows still ends the trace there.
    let mut w3 = World::new(&MAIN, &MIXED, &[]);
    w3.prog.start = 1;
    let key = [1, w3.prog()];
    let args = w3.args(0, 5);
    let (entry, _) = closed(metainterp::trace_loop_or_entry(
        t,
        0,
        &args,
        &params(1000),
        Some(&|g: &[u64]| (g == &key[..]).then_some(LoopTarget { id: 9 })),
    ));
    assert!(matches!(
        entry.ops.last().map(|o| &o.opcode),
        Some(trace::Opcode::JumpTo(9))
    ));
}

#[test]
fn bridge_too_long_is_cut_and_finishes_like_the_blackhole() {
    let t = tables();
    let want = plain(t, &MAIN, &MIXED, &[], 8);
    for limit in 1..12 {
        let (mut w, lp, exit) = loop_until_failure(t);
        let info = &lp.guards[exit.guard as usize];
        let (bridge, at_merge_point, frames) = cut(metainterp::trace_bridge(
            t,
            info,
            &exit.values,
            &params(limit),
            &|_| None,
        ));
        check_cut_end(&bridge, at_merge_point);
        let got = End {
            result: caught(|| finish(t, frames)),
            st: (*w.st).clone(),
        };
        let _ = w.st();
        assert_eq!(got, want, "limit {limit}");
    }
}
