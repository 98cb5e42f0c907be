//! The meta-tracer on a small hand-built interpreter (`tracer_world`: a
//! portal with a merge point, an elidable opcode fetch, an inlined
//! regular call, a residual call, Vec reads, pops and promotes).
//!
//! Checked: the printed traces; that every trace verifies; that running
//! the traces (with `trace::interp`) plus the blackhole on guard failures
//! gives exactly the state of a plain blackhole run; that the frames of an
//! aborted trace finish in the blackhole like a plain run; traces too
//! long, cut and run in pieces. Bridges: tracer_bridges.rs.

mod tracer_world;
use tracer_world::*;

// ---------------------------------------------------------------------------
// The loop trace.

const MAIN_TRACE: &str = "\
[i0, r1]
r2 = fieldaddr<St.data>(r1)
i3 = vec_len<Vec<i64>>(r2)
i4 = int_and/i64(i0, 3)
i5 = int_lt/usize(i4, i3)
guard_true(i5) [i0, i4, i5, r1, r2] #0
r7 = vec_ptr<Vec<i64>>(r2)
i8 = getitem<Vec<i64>>(r7, i4)
i9 = int_gt/i64(i8, 10)
guard_true(i9) [i0, i8, r1, i9] #1
i11 = int_add/i64(i8, 3)
i12 = getfield<St.acc>(r1)
i13 = int_add/i64(i12, i11)
setfield<St.acc>(r1, i13)
debug_merge_point<portal @1>(1, PROG)
call_residual<record>(r1, i13)
debug_merge_point<portal @1>(2, PROG)
i18 = int_gt/i64(i0, 0)
guard_true(i18) [i0, i18, r1] #2
i20 = int_sub/i64(i0, 1)
jump(i20, r1)
";

#[test]
fn loop_trace_of_the_small_interpreter() {
    let t = tables();
    let mut w = World::new(&MAIN, &BIG, &[]);
    let args = w.args(0, 10);
    let (trace, end) = closed(metainterp::trace_loop(t, 0, &args, &params(1000)));
    assert_eq!(w.show(t, &trace), MAIN_TRACE);
    assert_eq!(trace.inputs, vec![Kind::Int, Kind::Ref]);
    assert_eq!(
        trace.start,
        trace::TraceStart::Loop {
            driver: 0,
            greens: vec![0, w.prog()]
        }
    );
    // The program ran one iteration while it was traced, up to the merge
    // point that closed the loop.
    assert_eq!(end, w.args(0, 9));
    assert_eq!(w.st.acc, 33);
    assert_eq!(w.st.log, 33);
}

#[test]
fn guards_carry_every_frame_with_its_live_registers() {
    let t = tables();
    let mut w = World::new(&MAIN, &BIG, &[]);
    let args = w.args(0, 10);
    let (trace, _) = closed(metainterp::trace_loop(t, 0, &args, &params(1000)));
    let prog = Val::Ref(w.prog() as usize);
    let op = |i: u32| Val::Op(i);
    // #0: the bounds check in the portal, at its goto_if_not.
    assert_eq!(
        trace.guards[0].frames,
        vec![FrameSnapshot {
            jitcode: PORTAL,
            pc: 13,
            regs: vec![
                (ki(0), Val::Int(0)),
                (ki(1), Val::Input(0)),
                (ki(4), op(2)),
                (ki(6), op(3)),
                (kr(0), prog),
                (kr(1), Val::Input(1)),
                (kr(2), op(0)),
            ],
        }]
    );
    // #1: in add3, inlined: the portal suspended in its call. (op 6 is
    // the item read, op 7 the comparison.)
    assert_eq!(
        trace.guards[1].frames,
        vec![
            FrameSnapshot {
                jitcode: PORTAL,
                pc: 16,
                regs: vec![
                    (ki(0), Val::Int(0)),
                    (ki(1), Val::Input(0)),
                    (ki(5), op(6)),
                    (kr(0), prog),
                    (kr(1), Val::Input(1)),
                ],
            },
            FrameSnapshot {
                jitcode: ADD3,
                pc: ADD3_GUARD_PC,
                regs: vec![(ki(0), op(6)), (ki(1), op(7))],
            },
        ]
    );
    assert_eq!(
        trace.guards[1].fail_args,
        vec![Val::Input(0), op(6), Val::Input(1), op(7)]
    );
    // #2: the portal at JMP's branch, with pc = 2 (a constant).
    assert_eq!(trace.guards[2].frames.len(), 1);
    assert_eq!(trace.guards[2].frames[0].regs[0], (ki(0), Val::Int(2)));
}

#[test]
fn mutable_fields_are_read_and_non_constant_greens_guarded() {
    // With `Prog.start` mutable, JMP's new pc is read in the trace; the
    // loop is specialised to pc 0, so the closing merge point guards it.
    let t = tables_mutable_start();
    let mut w = World::new(&MAIN, &BIG, &[]);
    let args = w.args(0, 10);
    let (trace, _) = closed(metainterp::trace_loop(t, 0, &args, &params(1000)));
    let text = w.show(t, &trace);
    let tail = "\
i18 = int_gt/i64(i0, 0)
guard_true(i18) [i0, i18, r1] #2
i20 = int_sub/i64(i0, 1)
i21 = getfield<Prog.start>(PROG)
guard_value(i21, 0) [i21, i20, r1] #3
jump(i20, r1)
";
    assert!(text.ends_with(tail), "{text}");
    // The guard resumes at the merge point itself.
    let g = &trace.guards[3];
    assert_eq!(g.frames.len(), 1);
    assert_eq!(g.frames[0].pc, PORTAL_MERGE_PC);
}

#[test]
fn elidable_calls_fold_on_constants_and_are_recorded_otherwise() {
    let t = tables();
    let mut w = World::new(&[PURE, JMP, RET, ADD], &BIG, &[]);
    let args = w.args(0, 6);
    let (trace, _) = closed(metainterp::trace_loop(t, 0, &args, &params(1000)));
    assert_eq!(
        w.show(t, &trace),
        "\
[i0, r1]
i2 = int_and/i64(i0, 3)
call_pure<opcode>(PROG, i2)
i4 = call_result#0()
i5 = getfield<St.acc>(r1)
i6 = int_add/i64(i5, i4)
setfield<St.acc>(r1, i6)
debug_merge_point<portal @1>(1, PROG)
i9 = int_gt/i64(i0, 0)
guard_true(i9) [i0, i9, r1] #0
i11 = int_sub/i64(i0, 1)
jump(i11, r1)
"
    );
}

#[test]
fn promote_and_switch_record_guard_value() {
    let t = tables();
    let mut w = World::new(&[PROM, PAR, JMP, RET], &BIG, &[]);
    let args = w.args(0, 6);
    let (trace, _) = closed(metainterp::trace_loop(t, 0, &args, &params(1000)));
    assert_eq!(
        w.show(t, &trace),
        "\
[i0, r1]
r2 = fieldaddr<St.data>(r1)
i3 = vec_len<Vec<i64>>(r2)
guard_value(i3, 4) [i0, i3, r1] #0
i5 = getfield<St.acc>(r1)
i6 = int_add/i64(i5, 40)
setfield<St.acc>(r1, i6)
debug_merge_point<portal @1>(1, PROG)
i9 = int_and/i64(i0, 1)
guard_value(i9, 0) [i0, i9, r1] #1
i11 = int_add/i64(i5, 140)
setfield<St.acc>(r1, i11)
debug_merge_point<portal @1>(2, PROG)
i14 = int_gt/i64(i0, 0)
guard_true(i14) [i0, i14, r1] #2
i16 = int_sub/i64(i0, 1)
jump(i16, r1)
"
    );
}

#[test]
fn vec_pop_guards_emptiness_with_computed_liveness() {
    let t = tables();
    let mut w = World::new(&[POP, JMP, RET], &BIG, &[5, 6, 7]);
    let args = w.args(0, 6);
    let (trace, _) = closed(metainterp::trace_loop(t, 0, &args, &params(1000)));
    assert_eq!(
        w.show(t, &trace),
        "\
[i0, r1]
r2 = fieldaddr<St.stack>(r1)
i3 = vec_len<Vec<i64>>(r2)
i4 = int_ne/usize(i3, 0)
guard_true(i4) [i0, r1, r2] #0
i6 = vec_pop<Vec<i64>>(r2)
i7 = getfield<St.acc>(r1)
i8 = int_add/i64(i7, i6)
setfield<St.acc>(r1, i8)
debug_merge_point<portal @1>(1, PROG)
i11 = int_gt/i64(i0, 0)
guard_true(i11) [i0, i11, r1] #1
i13 = int_sub/i64(i0, 1)
jump(i13, r1)
"
    );
    // No `-live-` before the pop: the live registers are computed (pc,
    // n, prog, st and the Vec; not the pop's results).
    let f = &trace.guards[0].frames[0];
    let regs: Vec<KReg> = f.regs.iter().map(|r| r.0).collect();
    assert_eq!(regs, vec![ki(0), ki(1), kr(0), kr(1), kr(2)]);
    assert!(matches!(program_insn(t, PORTAL, f.pc), Insn::VecPop { .. }));
    assert_eq!(w.st.stack, vec![5, 6]);
    assert_eq!(w.st.acc, 7);
}

/// A push then a pop in place: the item's address is the same
/// `itemaddr` of the same length, so the load reads back what was
/// stored (`i3`); the length goes up and down. The Vec is full when the
/// trace is recorded: the push reserves room (instead of the guard that
/// there is some).
#[test]
fn push_and_pop_in_place_forward_the_item() {
    let t = tables();
    let mut w = World::new(&[SLOT, JMP, RET], &BIG, &[5]);
    w.st.acc = 1;
    let args = w.args(0, 6);
    let (trace, _) = closed(metainterp::trace_loop(t, 0, &args, &params(1000)));
    assert_eq!(
        w.show(t, &trace),
        "\
[i0, r1]
r2 = fieldaddr<St.stack>(r1)
i3 = getfield<St.acc>(r1)
i4 = vec_len<Vec<i64>>(r2)
vec_reserve<Vec<i64>>(r2)
i6 = int_add/usize(i4, 1)
vec_set_len<Vec<i64>>(r2, i6)
r8 = vec_ptr<Vec<i64>>(r2)
r9 = itemaddr<Vec<i64>>(r8, i4)
store/i64(r9, i3)
i11 = int_ne/usize(i6, 0)
guard_true(i11) [i0, r1, r2] #0
vec_set_len<Vec<i64>>(r2, i4)
i14 = getfield<St.acc>(r1)
i15 = int_add/i64(i14, i3)
setfield<St.acc>(r1, i15)
debug_merge_point<portal @1>(1, PROG)
i18 = int_gt/i64(i0, 0)
guard_true(i18) [i0, i18, r1] #1
i20 = int_sub/i64(i0, 1)
jump(i20, r1)
"
    );
    assert_eq!(w.st.stack, vec![5]);
    assert_eq!(w.st.acc, 2);
}

/// A scalar push into spare room: the guard that there is room, the new
/// length, the store; no call. The pop after it reads the length the
/// push wrote.
#[test]
fn scalar_push_into_room_is_a_store() {
    let t = tables();
    let mut w = World::new(&[PUSH, POP, JMP, RET], &BIG, &[5]);
    w.st.stack.reserve(8);
    w.st.acc = 1;
    let args = w.args(0, 6);
    let (trace, _) = closed(metainterp::trace_loop(t, 0, &args, &params(1000)));
    assert_eq!(
        w.show(t, &trace),
        "\
[i0, r1]
r2 = fieldaddr<St.stack>(r1)
i3 = getfield<St.acc>(r1)
i4 = vec_len<Vec<i64>>(r2)
i5 = vec_cap<Vec<i64>>(r2)
i6 = int_lt/usize(i4, i5)
guard_true(i6) [i0, i3, r1, r2] #0
i8 = int_add/usize(i4, 1)
vec_set_len<Vec<i64>>(r2, i8)
r10 = vec_ptr<Vec<i64>>(r2)
setitem<Vec<i64>>(r10, i4, i3)
debug_merge_point<portal @1>(1, PROG)
i13 = int_ne/usize(i8, 0)
guard_true(i13) [i0, r1, r2] #1
i15 = vec_pop<Vec<i64>>(r2)
i16 = int_add/i64(i3, i15)
setfield<St.acc>(r1, i16)
debug_merge_point<portal @1>(2, PROG)
i19 = int_gt/i64(i0, 0)
guard_true(i19) [i0, i19, r1] #2
i21 = int_sub/i64(i0, 1)
jump(i21, r1)
"
    );
    // The guard resumes at the push itself.
    let g = &trace.guards[0].frames[0];
    assert!(matches!(
        program_insn(t, PORTAL, g.pc),
        Insn::VecPush { .. }
    ));
    assert_eq!(w.st.stack, vec![5]);
    assert_eq!(w.st.acc, 2);
}

// ---------------------------------------------------------------------------
// Traces run like the blackhole.

/// Programs and inputs that exercise every path of the portal, including
/// guards that fail inside the inlined call, an emptied stack, a parity
/// switch that flips every iteration.
/// (program, data, stack, n)
type Case = (Vec<u8>, Vec<i64>, Vec<i64>, i64);

fn cases() -> Vec<Case> {
    let mut v = vec![];
    for n in [0, 1, 2, 5, 17] {
        v.push((MAIN.to_vec(), BIG.to_vec(), vec![], n));
        v.push((MAIN.to_vec(), MIXED.to_vec(), vec![], n));
        v.push((
            vec![POP, RES, JMP, RET],
            BIG.to_vec(),
            vec![1, 2, 3, 4, 5, 6],
            n,
        ));
        v.push((vec![PROM, PAR, JMP, RET], MIXED.to_vec(), vec![], n));
        v.push((vec![PURE, RES, JMP, RET], BIG.to_vec(), vec![], n));
        v.push((vec![ADD, SLOT, POP, JMP, RET], BIG.to_vec(), vec![3], n));
        v.push((
            vec![ADD, PUSH, POP, PUSH, JMP, RET],
            BIG.to_vec(),
            vec![3],
            n,
        ));
        v.push((
            vec![ADD, PAR, POP, PURE, PROM, RES, JMP, RET],
            MIXED.to_vec(),
            vec![9, 8, 7],
            n,
        ));
    }
    v
}

#[test]
fn traces_and_resume_compute_what_the_blackhole_computes() {
    let t = tables();
    let mut used_loop = 0;
    let mut failed_inside_call = false;
    for (ops, data, stack, n) in cases() {
        let want = plain(t, &ops, &data, &stack, n);
        let (got, stats) = jitted(t, &ops, &data, &stack, n, &params(1000), false);
        assert_eq!(got, want, "{ops:?} {data:?} {stack:?} n={n}: {stats:?}");
        assert_eq!(stats.bridges, 0);
        if stats.loop_entries > 0 {
            used_loop += 1;
        }
        if ops == MAIN && data == MIXED && n > 2 {
            assert!(stats.guard_failures > 1, "{stats:?}");
            failed_inside_call = true;
        }
    }
    assert!(used_loop >= 20, "{used_loop}");
    assert!(failed_inside_call);
}

#[test]
fn with_bridges_too() {
    let t = tables();
    let mut bridges = 0;
    for (ops, data, stack, n) in cases() {
        let want = plain(t, &ops, &data, &stack, n);
        let (got, stats) = jitted(t, &ops, &data, &stack, n, &params(1000), true);
        assert_eq!(got, want, "{ops:?} {data:?} {stack:?} n={n}: {stats:?}");
        bridges += stats.bridges;
    }
    assert!(bridges >= 5, "{bridges}");
}

#[test]
fn mutable_start_runs_the_same() {
    let t = tables_mutable_start();
    for (ops, data, stack, n) in cases() {
        let want = plain(t, &ops, &data, &stack, n);
        let (got, stats) = jitted(t, &ops, &data, &stack, n, &params(1000), true);
        assert_eq!(got, want, "{ops:?} {data:?} {stack:?} n={n}: {stats:?}");
    }
}

// ---------------------------------------------------------------------------
// Aborts.

#[test]
fn too_long_is_cut_at_every_length_and_runs_like_the_blackhole() {
    let t = tables();
    let full = MAIN_TRACE.lines().count() - 2; // ops before the jump
    let mut cut_where = [0; 2];
    for (ops, data, stack) in [
        (MAIN.to_vec(), BIG.to_vec(), vec![]),
        (
            vec![ADD, PAR, POP, PURE, PROM, RES, JMP, RET],
            MIXED.to_vec(),
            vec![9, 8, 7],
        ),
    ] {
        let want = plain(t, &ops, &data, &stack, 4);
        for limit in 1..full as u32 {
            let mut w = World::new(&ops, &data, &stack);
            let args = w.args(0, 4);
            let (trace, at_merge_point, frames) =
                cut(metainterp::trace_loop(t, 0, &args, &params(limit)));
            check_cut_end(&trace, at_merge_point);
            cut_where[at_merge_point as usize] += 1;
            // The work traced past the cut was done: the program goes on
            // from where tracing stopped.
            let result = caught(|| finish(t, frames));
            let got = End {
                result,
                st: (*w.st).clone(),
            };
            assert_eq!(got, want, "{ops:?} limit {limit}");
            // And through the driver: the cut trace is the loop, its exit
            // is bridged (each bridge cut again at this limit), and nothing
            // aborts.
            let (got, stats) = jitted(t, &ops, &data, &stack, 4, &params(limit), true);
            assert_eq!(got, want, "{ops:?} limit {limit}");
            assert_eq!(stats.aborts, vec![], "{ops:?} limit {limit}");
            assert!(stats.cuts >= 1 && stats.bridges >= 1, "{stats:?}");
            // Without bridges, the exit resumes the blackhole.
            let (got, stats) = jitted(t, &ops, &data, &stack, 4, &params(limit), false);
            assert_eq!(got, want, "{ops:?} limit {limit}");
            assert_eq!(stats.cuts, 1, "{stats:?}");
        }
    }
    // Short limits cut before the first merge point, longer ones at one.
    assert!(cut_where[0] > 0 && cut_where[1] > 0, "{cut_where:?}");
}

#[test]
fn panic_aborts_at_the_panic() {
    let t = tables();
    let want = plain(t, &MAIN, &[], &[], 3);
    assert_eq!(want.result, Err("index out of bounds".to_string()));
    let mut w = World::new(&MAIN, &[], &[]);
    let args = w.args(0, 3);
    let (reason, frames) = aborted(metainterp::trace_loop(t, 0, &args, &params(1000)));
    assert_eq!(reason, AbortReason::Panic);
    let last = frames.last().unwrap();
    assert!(matches!(
        program_insn(t, last.jitcode, last.pc),
        Insn::Panic { .. }
    ));
    let got = End {
        result: caught(|| finish(t, frames)),
        st: (*w.st).clone(),
    };
    assert_eq!(got, want);
}

/// Traced from a function's entry, the same run ends the trace with
/// `finish` of the portal's result; the trace, run again on a fresh
/// state, finishes with the same result and leaves the same state.
#[test]
fn portal_return_from_a_function_entry_is_finish() {
    let t = tables();
    let want = plain(t, &MAIN, &BIG, &[], 0);
    let mut w = World::new(&MAIN, &BIG, &[]);
    let args = w.args(0, 0);
    let r = metainterp::trace_from_merge_point(
        t,
        0,
        &args,
        &params(1000),
        None,
        metainterp::TraceFrom::FunctionEntry,
    );
    let (trace, results) = closed(r);
    assert_eq!(trace.ops.last().unwrap().opcode, trace::Opcode::Finish);
    assert_eq!(results, vec![want.result.clone().unwrap()]);
    assert_eq!(*w.st, want.st);
    let mut again = World::new(&MAIN, &BIG, &[]);
    let args = again.args(0, 0);
    let exit = interp::run(&trace, t, &args[2..]);
    assert_eq!(
        exit.guard,
        interp::TraceExit::FINISH,
        "{}",
        w.show(t, &trace)
    );
    assert_eq!(exit.values, results);
    assert_eq!(*again.st, want.st);
}

#[test]
fn portal_return_aborts_and_the_blackhole_returns() {
    let t = tables();
    // n = 0: JMP falls through to RET before the loop closes.
    let want = plain(t, &MAIN, &BIG, &[], 0);
    let mut w = World::new(&MAIN, &BIG, &[]);
    let args = w.args(0, 0);
    let (reason, frames) = aborted(metainterp::trace_loop(t, 0, &args, &params(1000)));
    assert_eq!(reason, AbortReason::PortalReturned);
    assert_eq!(frames.len(), 1);
    assert!(matches!(
        program_insn(t, PORTAL, frames[0].pc),
        Insn::Return { .. }
    ));
    assert_eq!(
        blackhole::resume(t, frames),
        RunOutcome::Return(vec![want.result.clone().unwrap()])
    );
    assert_eq!(*w.st, want.st);
}

#[test]
fn recursive_portal_call_aborts() {
    let t = tables();
    // SUB runs the portal from pc 1 with n = 0 (RES, JMP falling through,
    // RET), then continues at pc 2.
    let ops = [SUB, RES, JMP, RET];
    let want = plain(t, &ops, &BIG, &[], 2);
    let mut w = World::new(&ops, &BIG, &[]);
    let args = w.args(0, 2);
    let (reason, frames) = aborted(metainterp::trace_loop(t, 0, &args, &params(1000)));
    assert_eq!(reason, AbortReason::Recursion);
    assert!(matches!(
        program_insn(t, PORTAL, frames[0].pc),
        Insn::Call { jitcode, .. } if jitcode.0 == PORTAL
    ));
    let got = End {
        result: caught(|| finish(t, frames)),
        st: (*w.st).clone(),
    };
    assert_eq!(got, want);
}
