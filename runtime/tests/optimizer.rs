//! The optimizer: what is more than a trace in and the optimized trace
//! out (those are file tests, `filetests/optimizer/*.trace`, run by
//! `filetests.rs`): passes that change nothing, the loop of tlr's
//! `square` run before and after, `enable_opts`.

use metatrace_runtime::optimizer::{optimize, Ctx, EnabledOpts, Pass};
use metatrace_runtime::params::{JitParams, OptionList};
use metatrace_runtime::trace::interp;
use metatrace_runtime::trace::*;
use metatrace_testkit::filetest;
use metatrace_testkit::optimizer::*;
use metatrace_testkit::trace_text::*;

fn run_pass(p: Pass, text: &str) -> Trace {
    let t = parse(text);
    p.run(t, &Ctx { tables: tables() })
}

fn run_all(text: &str) -> Trace {
    optimize(parse(text), tables(), &EnabledOpts::all())
}

/// The loop of tlr's `square` as the tracer records it: the input of the
/// file test `filetests/optimizer/tlr_square_loop.trace`.
fn tlr() -> String {
    filetest::input(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/filetests/optimizer/tlr_square_loop.trace"
    ))
}

/// The resume data of the guard that always fails in
/// `filetests/optimizer/intbounds_from_guards.trace`: i0 is 9 there.
#[test]
fn intbounds_from_guards_resume() {
    let t = run_pass(
        Pass::IntBounds,
        &filetest::input(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/filetests/optimizer/intbounds_from_guards.trace"
        )),
    );
    assert!(
        show_resume(&t).ends_with("#4: [9, i6]\n"),
        "{}",
        show_resume(&t)
    );
}

// ---------------------------------------------------------------------------
// virtuals, unroll

#[test]
fn virtuals_is_a_stub_and_unroll_alone_is_not_a_pass() {
    // (peeling makes two traces: `optimize_loop`, tests in optimizer_unroll.rs)
    for p in [Pass::Virtuals, Pass::Unroll] {
        let t = parse(&tlr());
        assert_eq!(p.run(t.clone(), &Ctx { tables: tables() }), t);
    }
}

// ---------------------------------------------------------------------------
// The whole pipeline.

/// Both loops, run on a real register file: the same exit, the same
/// resume values, the same registers.
#[test]
fn tlr_square_loop_runs_the_same() {
    use metatrace_runtime::blackhole::ResumeFrame;
    let before = parse(&tlr());
    let after = run_all(&tlr());
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

// ---------------------------------------------------------------------------
// Lazy stores: writes delayed past guards

/// Stores overwritten after a guard are delayed past it (`heap`): the
/// guard's resume data holds them, memory does not when it fails, and
/// `from_guard` does them before the frames are rebuilt.
#[test]
fn a_failing_guard_does_the_writes_delayed_past_it() {
    use metatrace_runtime::blackhole::ResumeFrame;
    let text = "\
[r0, i1, r2]
setfield<Obj.a>(r0, i1)
setfield<Obj.f>(r0, 2.5)
i5 = vec_len<Vec<i64>>(r2)
i6 = int_add/usize(i5, 1)
vec_set_len<Vec<i64>>(r2, i6)
i8 = int_lt/i64(i1, 10)
guard_true(i8) [r0, i1]
setfield<Obj.a>(r0, 7)
setfield<Obj.f>(r0, 0.5)
vec_set_len<Vec<i64>>(r2, i5)
jump(r0, i1, r2)
";
    let before = parse(text);
    let after = run_all(text);
    // (The last length is the one read: that write goes.)
    assert_eq!(
        show(&after),
        "\
[r0, i1, r2]
i3 = vec_len<Vec<i64>>(r2)
i4 = int_add/usize(i3, 1)
i5 = int_lt/i64(i1, 10)
guard_true(i5) [r0, i1, r2, i4] #0 pending setfield<Obj.a>(r0, i1) pending setfield<Obj.f>(r0, 2.5) pending vec_set_len<Vec<i64>>(r2, i4)
setfield<Obj.a>(r0, 7)
setfield<Obj.f>(r0, 0.5)
jump(r0, i1, r2)
"
    );
    for (t, delayed) in [(&before, false), (&after, true)] {
        let mut obj = Box::new(Obj {
            a: -1,
            b: 0,
            flag: false,
            h: 0,
            c: 0,
            d: 0,
            f: -1.0,
            next: 0,
            vals: Vec::with_capacity(8),
        });
        obj.vals.extend([1, 2, 3]);
        let addr = &mut *obj as *mut Obj as u64;
        let vals = &mut obj.vals as *mut Vec<i64> as u64;
        let e = interp::run(t, tables(), &[addr, 20, vals]);
        assert!(!e.is_jump_to());
        // The guard failed: memory lacks the delayed writes until resume.
        let seen = (obj.a, obj.f, obj.vals.len());
        if delayed {
            assert_eq!(seen, (-1, -1.0, 3));
        } else {
            assert_eq!(seen, (20, 2.5, 4));
        }
        let frames = ResumeFrame::from_guard(tables(), &t.guards[e.guard as usize], &e.values);
        assert_eq!((obj.a, obj.f, obj.vals.len()), (20, 2.5, 4));
        assert_eq!(frames[0].regs.len(), 2);
    }
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
    let t = parse(&tlr());
    assert_eq!(optimize(t.clone(), tables(), &EnabledOpts::none()), t);
}

/// Passes that take over their input's resume data (`Emitter::consuming`)
/// move each kept guard's into the output; two guards sharing one entry
/// (never recorded, but valid) must both keep it.
#[test]
fn guards_sharing_resume_data_keep_it() {
    let mut t = parse(
        "[i0, i1]
i2 = int_gt/i64(i0, 0)
guard_true(i2) [i0, i1]
i4 = int_lt/i64(i1, 5)
guard_true(i4) [i1]
jump(i0, i1)",
    );
    t.ops[3].guard = Some(0);
    t.guards.truncate(1);
    assert!(verify_trace(&t).is_ok());
    for p in [
        Pass::Rewrite,
        Pass::Pure,
        Pass::Heap,
        Pass::IntBounds,
        Pass::Dce,
    ] {
        let out = p.run(t.clone(), &Ctx { tables: tables() });
        assert_eq!(out.guards.len(), 2, "{p:?}: {}", show_resume(&out));
        for g in &out.guards {
            assert_eq!(g, &t.guards[0], "{p:?}: {}", show_resume(&out));
        }
    }
}
