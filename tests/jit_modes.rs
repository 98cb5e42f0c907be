//! The JIT end to end (`--jit mode=jit`, the default of a VM with
//! jitcodes): every program gives the output the native interpreter gives,
//! at the default parameters and at very low ones (every loop traced at
//! its first or second `can_enter_jit`, every failing guard bridged), and
//! the JIT summary (`METATRACE_LOG=jit-summary:FILE`) shows that the loops
//! we expect were compiled and that no trace aborted for a reason that
//! means a bug (a panic while tracing a program that does not panic, a
//! trace the backend refused, recursion in a non-recursive interpreter).
//!
//! `targets/calls` is an interpreter shaped so that guards fail inside
//! inlined calls (its helpers branch on the data): its programs run in
//! every mode, and the summary must show guard failures and bridges there.
//!
//! `targets/rec`'s `call` recurses natively into the portal: its
//! functions are compiled as function traces ending in `finish`, and the
//! recursive calls in them as `call_assembler`, in every mode.
//!
//! Quasi-immutable fields (`metatrace::QuasiImmut`): `calls`' `scale` and
//! Lox's globals are read as constants by traces and written natively,
//! in the blackhole and from machine code; the outputs stay those of the
//! native interpreter and the summary counts the invalidations.

mod compare;
mod jit_summary;

use compare::jit_args;
use jit_summary::{jit_run, jit_run_log, Summary};
use metatrace_testkit::vms::{
    bf_cases, excerpt, lox, on_two_threads, rec, run, run_env, shared_programs, stackvm_program,
    tlr_program, vms, workspace_root, write, Run, STACKVM_CASES, STACKVM_ERRORS,
};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// Very low thresholds: every loop is traced the first time its
/// `can_enter_jit` is reached, every guard that fails gets a bridge.
const LOW1: &str = "mode=jit,threshold=1,trace_eagerness=1";
/// The same, one iteration later (the loop runs once natively first).
const LOW2: &str = "mode=jit,threshold=2,trace_eagerness=1";
/// The default parameters (`mode=auto` is `jit` in these VMs).
const DEFAULT: &str = "default";

/// Per run: the slowest shared bf programs take 3-9 s with the JIT.
const TIMEOUT: Duration = Duration::from_secs(240);
const QUICK: Duration = Duration::from_secs(30);

/// The differences between a native run and a JIT run (stdout, stderr,
/// status), if any.
fn differences(native: &Run, jit: &Run) -> Option<String> {
    let d = compare::differences("native", native, "jit", jit);
    (!d.is_empty()).then(|| d.join("\n"))
}

/// A JIT run `what` with its summary: it must succeed with `expected` on
/// stdout and nothing on stderr, without unexpected aborts, and with a
/// compiled loop if `loop_expected`.
fn check_jit_run(
    what: &str,
    r: &Run,
    s: &Summary,
    expected: &[u8],
    loop_expected: bool,
) -> Result<(), String> {
    if r.code() != Some(0) {
        return Err(format!("{what}: {}: {}", r.describe_status(), r.stderr));
    }
    if r.stdout != expected {
        return Err(format!(
            "{what}: wrong output:\n  got      {}\n  expected {}",
            excerpt(&r.stdout),
            excerpt(expected)
        ));
    }
    if !r.stderr.is_empty() {
        return Err(format!("{what}: stderr {:?}", r.stderr));
    }
    let unexpected = s.unexpected_aborts();
    if !unexpected.is_empty() {
        return Err(format!("{what}: unexpected aborts {unexpected:?}"));
    }
    if loop_expected && s.loops() == 0 {
        return Err(format!("{what}: no loop compiled ({})", s.short()));
    }
    Ok(())
}

/// bf programs (`.b` with `.out` and maybe `.in`) in `dir`, in the default
/// JIT mode and the very low one; `loops_expected`: the programs whose
/// summary must show a compiled loop at the default parameters; in the low
/// mode every program must have one, except those of `no_hot_loop` (no
/// loop of theirs goes round twice).
fn bf_programs(dir: &Path, loops_expected: &[&str], no_hot_loop: &[&str]) {
    let (mut cases, _) = bf_cases(dir);
    assert!(!cases.is_empty(), "no programs in {}", dir.display());
    let names: Vec<String> = cases.iter().map(|c| c.name.clone()).collect();
    for n in loops_expected.iter().chain(no_hot_loop) {
        assert!(names.iter().any(|c| c == n), "no {n} in {}", dir.display());
    }
    // The slowest first, so that the two threads end together.
    cases.sort_by_key(|c| std::cmp::Reverse(std::fs::metadata(&c.program).unwrap().len()));
    let jobs: Vec<_> = cases
        .iter()
        .flat_map(|c| [(c, DEFAULT), (c, LOW1)])
        .collect();
    let bf = &vms().bf;
    let failures = on_two_threads(jobs, |(case, opts)| {
        let program = case.program.to_string_lossy().into_owned();
        let (r, s) = jit_run(bf, opts, &[&program], &case.input, TIMEOUT);
        eprintln!(
            "bf {:<16} --jit {opts:<40} {:>6.2} s  {}",
            case.name,
            r.elapsed.as_secs_f64(),
            s.short()
        );
        let name = case.name.as_str();
        let loop_expected = if opts == LOW1 {
            !no_hot_loop.contains(&name)
        } else {
            loops_expected.contains(&name)
        };
        let what = format!("bf --jit {opts} {name}");
        check_jit_run(&what, &r, &s, &case.expected, loop_expected)
    });
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
}

#[test]
fn bf_own_programs() {
    bf_programs(
        &workspace_root().join("targets/bf/programs"),
        &["nested.b", "grow.b", "scan.b"],
        &[],
    );
}

#[test]
fn bf_shared_programs() {
    let Some(dir) = shared_programs("bf") else {
        return;
    };
    bf_programs(
        &dir,
        &[
            "Collatz.b",
            "Counter.b",
            "Factor.b",
            "Life.b",
            "Long.b",
            "Mandelbrot.b",
            "SelfInt.b",
            "bench.b",
            "mandel.b",
        ],
        &["Hello2.b"],
    );
}

/// mandel.b: loops and bridges at the default parameters; with the very
/// low ones, far more bridges (every failing guard gets one).
#[test]
fn bf_mandel_compiles_loops_and_bridges() {
    let Some(dir) = shared_programs("bf") else {
        return;
    };
    let program = dir.join("mandel.b");
    let program = program.to_str().unwrap();
    let expected = std::fs::read(dir.join("mandel.b.out")).unwrap();
    let (r, s) = jit_run(&vms().bf, DEFAULT, &[program], b"", TIMEOUT);
    r.assert_success("mandel.b");
    assert_eq!(r.stdout, expected);
    eprintln!("mandel.b, default parameters: {:?}", s.0);
    assert!(s.get("loops") >= 10, "{}", s.short());
    assert!(s.get("bridges") >= 10, "{}", s.short());
    assert!(s.get("compiled_entries") > 0 && s.get("guards_compiled") > 0);
    assert!(s.unexpected_aborts().is_empty(), "{:?}", s.0);
    // Nearly every peeled loop walks the tape with invariant headers: it
    // gets a short preamble, and most bridges enter it directly.
    assert!(
        s.get("short_preambles") * 4 > s.get("preambles") * 3,
        "{:?}",
        s.0
    );
    assert!(s.get("short_entries") * 2 > s.get("bridges"), "{:?}", s.0);
}

/// scan.b: the exit of each scanning loop bridges to the other one's
/// header; the bridges jump into the peeled loops directly, through
/// their short preambles, not through their preambles.
#[test]
fn bf_bridges_enter_peeled_loops_directly() {
    let program = workspace_root().join("targets/bf/programs/scan.b");
    let expected = std::fs::read(workspace_root().join("targets/bf/programs/scan.out")).unwrap();
    let (r, s) = jit_run(
        &vms().bf,
        DEFAULT,
        &[program.to_str().unwrap()],
        b"",
        TIMEOUT,
    );
    r.assert_success("scan.b");
    assert_eq!(r.stdout, expected);
    assert_eq!(s.get("short_preambles"), 2, "{:?}", s.0);
    assert!(s.get("bridges") >= 2, "{:?}", s.0);
    assert_eq!(s.get("short_entries"), s.get("bridges"), "{:?}", s.0);
}

/// A peeled loop that no bridge enters gets no short preamble: deriving
/// one re-optimizes the loop, so it waits for the first bridge into the
/// loop's header (`short::LazyShort`). Here the only loop, a scan over
/// 300 cells like scan.b's (which get short preambles), runs once and
/// leaves once: its exit guard never gets a bridge.
#[test]
fn short_preambles_wait_for_a_bridge() {
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("one_scan.b");
    // Cells 0 to 300 hold 1; scan right to the first zero, print the
    // cell before it.
    let text = format!("+{}{}[>]<.", ">+".repeat(300), "<".repeat(300));
    std::fs::write(&program, text).unwrap();
    let (r, s) = jit_run(
        &vms().bf,
        "threshold=20",
        &[program.to_str().unwrap()],
        b"",
        TIMEOUT,
    );
    r.assert_success("one_scan.b");
    assert_eq!(r.stdout, [1u8]);
    assert_eq!(s.get("preambles"), 1, "{:?}", s.0);
    assert_eq!(s.get("bridges"), 0, "{:?}", s.0);
    assert_eq!(s.get("short_preambles"), 0, "{:?}", s.0);
}

#[test]
fn tlr_programs_in_jit_modes() {
    let tlr = &vms().tlr;
    let mut jobs = Vec::new();
    for (p, n, out) in [
        ("square.tlr", "1", "1\n"),
        ("square.tlr", "10", "100\n"),
        ("square.tlr", "3000", "9000000\n"),
        ("square.tlr", "100000", "10000000000\n"),
        ("sum.tlr", "0", "0\n"),
        ("sum.tlr", "10", "55\n"),
        ("sum.tlr", "1000000", "500000500000\n"),
        ("fib.tlr", "0", "0\n"),
        ("fib.tlr", "10", "55\n"),
        ("fib.tlr", "90", "2880067194370816120\n"),
        ("fib.tlr", "100", "3736710778780434371\n"),
        ("fib.tlr", "100000", "2754320626097736315\n"),
    ] {
        for opts in [DEFAULT, LOW1, LOW2] {
            jobs.push((tlr_program(p), n, out, opts));
        }
    }
    let failures = on_two_threads(jobs, |(p, n, out, opts)| {
        let (r, s) = jit_run(tlr, opts, &[&p, n], b"", QUICK);
        // Every loop that runs long enough is compiled; the square of a
        // big N, at the default parameters too.
        let long = n.len() >= 5 || (opts != DEFAULT && n.len() >= 2);
        let what = format!("tlr --jit {opts} {p} {n}");
        check_jit_run(&what, &r, &s, out.as_bytes(), long)
    });
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
}

/// The square of a big N: one loop, no aborts, and the loop's exit is the
/// only guard failure at the default parameters.
#[test]
fn tlr_square_summary() {
    let square = tlr_program("square.tlr");
    let (r, s) = jit_run(&vms().tlr, DEFAULT, &[&square, "1000000"], b"", QUICK);
    r.assert_success("square 1000000");
    assert_eq!(r.stdout_str(), "1000000000000\n");
    eprintln!("tlr square 1000000, default parameters: {:?}", s.0);
    assert_eq!(s.get("loops"), 1, "{:?}", s.0);
    // The loop is peeled: its Vec header reads and bounds checks moved
    // into the preamble.
    assert_eq!(s.get("preambles"), 1, "{:?}", s.0);
    assert_eq!(s.get("aborts"), 0, "{:?}", s.0);
    assert!(s.get("guard_failures") <= 2, "{:?}", s.0);
}

/// Errors returned from the portal inside compiled code or the blackhole
/// (after a loop got hot) come out as natively, after the same output.
#[test]
fn errors_in_hot_loops() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (bf, tlr) = (&vms().bf, &vms().tlr);
    let mut cases: Vec<(&Path, Vec<String>, Vec<u8>)> = Vec::new();
    let mut bf_case = |name: &str, src: &[u8], stdin: &[u8]| {
        cases.push((bf, vec![write(d, name, src)], stdin.to_vec()));
    };
    // Moving left of cell 0 after some iterations of a loop.
    bf_case("left.b", b">>>>>>>>>>>>>>>>>>>>>>>>>+[<+.]", b"");
    // The tape grows inside a hot loop (a residual call).
    bf_case(
        "steps.b",
        format!(">{}<[<]>{}.[>]<.", "+>".repeat(35000), "+".repeat(64)).as_bytes(),
        b"",
    );
    bf_case(
        "wrap.b",
        b"-.+.>++++++++[<++++++++++++++++++++++++++++++++>-]<.",
        b"",
    );
    // Input in a hot loop, up to the end of input.
    bf_case(
        "echo.b",
        b",[.[-],]",
        b"some input that is long enough to get hot\n",
    );
    // tlr: a loop counting r0 down from N to 0, then an error:
    //  0: ALLOCATE 2; MOV_A_R 0; SET_A 1; NEG_A; MOV_A_R 1 (r1 = -1)
    //  9: MOV_R_A 0; ADD_R_TO_A 1; MOV_A_R 0; JUMP_IF_A 9
    // 17: the tail
    let tlr_src = |tail: &str| format!("7,2, 1,0, 4,1, 8, 1,1, 2,0, 5,1, 1,0, 3,9, {tail}");
    for (name, tail) in [
        ("reg.tlr", "2,9"),    // register 9 out of range
        ("opcode.tlr", "99"),  // unknown opcode
        ("end.tlr", "4,1"),    // runs off the end
        ("ok.tlr", "4,42, 6"), // returns 42
    ] {
        cases.push((
            tlr,
            vec![write(d, name, tlr_src(tail).as_bytes()), "100".into()],
            vec![],
        ));
    }
    let mut failures = Vec::new();
    for (vm, args, stdin) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let with = |opts: &str| run(vm, &jit_args(opts, &args), stdin, QUICK);
        let native = with("off");
        if native.timed_out() {
            failures.push(format!("{args:?}: native timed out"));
            continue;
        }
        for opts in [DEFAULT, LOW1, LOW2] {
            if let Some(d) = differences(&native, &with(opts)) {
                failures.push(format!("{args:?} --jit {opts}: {d}"));
            }
        }
    }
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
}

fn calls_program(name: &str) -> String {
    workspace_root()
        .join("targets/calls/programs")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// Guards that fail inside inlined calls (two and three deep) resume
/// correctly, in the blackhole and through bridges, in every mode.
#[test]
fn calls_guards_fail_in_inlined_calls() {
    let calls = &vms().calls;
    let (collatz, mix) = (calls_program("collatz.calls"), calls_program("mix.calls"));
    let boxed = calls_program("boxed.calls");
    let mut failures = Vec::new();
    let mut summaries = BTreeMap::new();
    for p in [&collatz, &mix, &boxed] {
        // (N = 0 would count down through 2^64 iterations.)
        for n in ["1", "10", "1000", "100000", "1000000"] {
            let native = run(calls, &["--jit", "off", p, n], b"", QUICK);
            native.assert_success("native");
            let mut modes = vec![DEFAULT, LOW1, LOW2];
            if n.len() <= 6 {
                modes.push("mode=jitcode-only");
            }
            for opts in modes {
                let (r, s) = jit_run(calls, opts, &[p, n], b"", QUICK);
                if let Some(d) = differences(&native, &r) {
                    failures.push(format!("calls {p} {n} --jit {opts}: {d}"));
                }
                let unexpected = s.unexpected_aborts();
                if !unexpected.is_empty() {
                    failures.push(format!("calls {p} {n} --jit {opts}: aborts {unexpected:?}"));
                }
                summaries.insert((p.clone(), n, opts), s);
            }
        }
    }
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
    // Known results (the model: `step`/`half` and `mix` by hand).
    let r = run(calls, &[&collatz, "1000"], b"", QUICK);
    assert_eq!(r.stdout_str(), "320\n87583\n");
    for p in [&collatz, &mix, &boxed] {
        let name = Path::new(p).file_name().unwrap().to_string_lossy();
        // Default parameters: guards in the helpers fail (and are resumed
        // in the blackhole) until they are hot enough to be bridged.
        let s = &summaries[&(p.clone(), "100000", DEFAULT)];
        eprintln!("{name} 100000, default parameters: {}", s.short());
        assert!(s.loops() >= 1, "{name}: {:?}", s.0);
        assert!(s.get("guard_failures_inlined") > 0, "{name}: {:?}", s.0);
        assert!(s.get("bridges_inlined") > 0, "{name}: {:?}", s.0);
        // Very low parameters: the first failure of each guard bridges it.
        let s = &summaries[&(p.clone(), "1000", LOW1)];
        eprintln!("{name} 1000, {LOW1}: {}", s.short());
        assert!(s.get("bridges_inlined") >= 2, "{name}: {:?}", s.0);
    }
    // `boxed` allocates a Box per iteration, and its guards fail while the
    // box is alive: `virtuals` leaves no allocation in compiled code (the
    // failing guards allocate it), where without that pass every trace
    // through the helpers allocates.
    for opts in [DEFAULT, LOW1, LOW2] {
        let s = &summaries[&(boxed.clone(), "100000", opts)];
        assert!(s.loops() >= 1, "boxed --jit {opts}: {:?}", s.0);
        assert_eq!(s.get("allocs_compiled"), 0, "boxed --jit {opts}: {:?}", s.0);
    }
    let without = "enable_opts=rewrite:pure:heap:intbounds:unroll:dce";
    let native = run(calls, &["--jit", "off", &boxed, "100000"], b"", QUICK);
    let (r, s) = jit_run(calls, without, &[&boxed, "100000"], b"", QUICK);
    assert_eq!(differences(&native, &r), None, "boxed --jit {without}");
    assert!(
        s.get("allocs_compiled") > 0,
        "boxed --jit {without}: {:?}",
        s.0
    );
}

/// Greens are promoted at the merge point: after `goto r1` (a computed
/// jump) the pc is a value read from a register; the tracer guards it, so
/// the loop's instructions are decoded while tracing and the compiled loop
/// never dispatches on the program (no `enum_tag<Op>`), where before every
/// instruction after the jump was dispatched again in the trace.
#[test]
fn calls_computed_jumps_are_promoted_at_the_merge_point() {
    let calls = &vms().calls;
    let goto = calls_program("goto.calls");
    for n in ["1", "3000", "100000"] {
        let native = run(calls, &["--jit", "off", &goto, n], b"", QUICK);
        native.assert_success("native");
        for opts in ["mode=jitcode-only", DEFAULT, LOW1, LOW2] {
            let (r, s) = jit_run(calls, opts, &[&goto, n], b"", QUICK);
            assert_eq!(differences(&native, &r), None, "goto {n} --jit {opts}");
            assert!(
                s.unexpected_aborts().is_empty(),
                "goto {n} --jit {opts}: {:?}",
                s.0
            );
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("opt.log");
    let spec = format!("jit-log-opt:{}", file.display());
    let r = run_env(
        calls,
        &[&goto, "100000"],
        &[("METATRACE_LOG", &spec)],
        b"",
        QUICK,
    );
    r.assert_success("jit-log-opt");
    let log = std::fs::read_to_string(&file).unwrap();
    let peeled = log
        .split("{jit-log-opt-loop\n")
        .find(|t| t.starts_with("# loop ") && t.contains("peeled loop"))
        .unwrap_or_else(|| panic!("no peeled loop in the log:\n{log}"));
    assert!(!peeled.contains("enum_tag<Op>"), "{peeled}");
    assert!(log.contains("guard_value("), "{log}");
}

/// A panic in a hot loop (division by zero in compiled code, where the
/// guard fails and the blackhole reaches the panic) surfaces like the
/// native one: exit status 101, the same message, the same stdout.
#[test]
fn calls_panics_surface_like_native_ones() {
    let calls = &vms().calls;
    let div = calls_program("div.calls");
    for n in ["3", "5000"] {
        let native = run(calls, &["--jit", "off", &div, n], b"", QUICK);
        assert_eq!(native.code(), Some(101), "{}", native.stderr);
        for opts in ["off", "mode=jitcode-only", DEFAULT, LOW1, LOW2] {
            let r = run(calls, &["--jit", opts, &div, n], b"", QUICK);
            assert_eq!(r.code(), Some(101), "--jit {opts}: {}", r.describe_status());
            assert!(
                r.stderr.contains("panicked at")
                    && r.stderr.contains("\nattempt to divide by zero\n"),
                "--jit {opts}: {}",
                r.stderr
            );
            assert_eq!(r.stdout, native.stdout, "--jit {opts}");
        }
    }
}

/// `METATRACE_LOG`: the sections, to a file or to stderr.
#[test]
fn jit_log() {
    let bf = &vms().bf;
    let nested = workspace_root().join("targets/bf/programs/nested.b");
    let nested = nested.to_str().unwrap();
    let expected = std::fs::read(workspace_root().join("targets/bf/programs/nested.out")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("all.log");
    let spec = format!("jit:{}", file.display());
    // bf ARGS with METATRACE_LOG=LOG.
    let with_log =
        |args: &[&str], log: &str| run_env(bf, args, &[("METATRACE_LOG", log)], b"", QUICK);
    let r = with_log(&[nested], &spec);
    r.assert_success("jit:FILE");
    assert_eq!(r.stdout, expected);
    assert_eq!(r.stderr, "");
    let log = std::fs::read_to_string(&file).unwrap();
    for needle in [
        "{jit-log-noopt-loop\n# loop at interp::run [",
        "{jit-log-opt-loop\n# loop ",
        "jit-log-opt-loop}\n",
        "{jit-backend\n# loop ",
        "jump(",
        "{jit-summary\nloops: ",
    ] {
        assert!(log.contains(needle), "no {needle:?} in the log:\n{log}");
    }
    // The disassembly is x86-64 code.
    assert!(log.contains("ret") && log.contains("mov"), "{log}");
    Summary::parse(&log).unwrap();
    // A trace limit that is too low: traces are cut, compiled in pieces,
    // and nothing aborts.
    let r = with_log(
        &["--jit", "trace_limit=5", nested],
        "jit-abort,jit-warning,jit-log-opt,jit-summary",
    );
    r.assert_success("trace_limit=5");
    assert_eq!(r.stdout, expected);
    assert!(!r.stderr.contains("{jit-abort"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains(", cut at the last merge point it passed: ")
            && r.stderr
                .contains(", cut where it stopped (no merge point passed): "),
        "{}",
        r.stderr
    );
    let s = Summary::parse(&r.stderr).unwrap();
    assert!(
        s.get("traces_cut") > s.get("traces_cut_mid_iteration"),
        "{:?}",
        s.0
    );
    assert_eq!(s.get("aborts"), 0, "{:?}", s.0);
    // With `inlining=1` too: a loop too long is traced again without its
    // calls inlined only when it inlined some (bf has no function entries:
    // its loops are cut as before, not aborted as too long).
    let r = with_log(
        &["--jit", "trace_limit=5,inlining=1", nested],
        "jit-summary",
    );
    r.assert_success("trace_limit=5,inlining=1");
    assert_eq!(r.stdout, expected);
    let s = Summary::parse(&r.stderr).unwrap();
    assert!(s.get("traces_cut") > 0, "{:?}", s.0);
    assert_eq!(s.get("aborts.too_long"), 0, "{:?}", s.0);
    // Aborts are logged with their reason: a loop whose peeled trace has
    // more inputs than the backend's frame takes (600 cells) fails to
    // compile every time it is traced.
    let wide = dir.path().join("wide.b");
    let program = format!(
        "{}[{}{}-]",
        "+".repeat(40),
        ">+".repeat(600),
        "<".repeat(600)
    );
    std::fs::write(&wide, program).unwrap();
    let r = with_log(
        &["--jit", LOW2, wide.to_str().unwrap()],
        "jit-abort,jit-warning,jit-summary",
    );
    r.assert_success("a loop too wide to compile");
    assert!(
        r.stderr.starts_with(
            "{jit-abort\nabort compile_error: the backend could not compile the trace ("
        ),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("; retried after "), "{}", r.stderr);
    assert!(r.stderr.contains("; blacklisted\n"), "{}", r.stderr);
    let s = Summary::parse(&r.stderr).unwrap();
    assert!(
        s.get("aborts.compile_error") >= 4 && s.get("keys_blacklisted") >= 1,
        "{:?}",
        s.0
    );
    assert_eq!(s.loops(), 0);
    // Each blacklisted key: a warning in the log, a line in the summary
    // naming it and the reason; and where the aborts happened.
    assert!(
        r.stderr
            .contains("{jit-warning\nwarning: loop at interp::run [")
            && r.stderr.contains(
                " is blacklisted after compile_error (the backend could not compile the trace)"
            ),
        "{}",
        r.stderr
    );
    let listed = |prefix: &str| s.0.keys().filter(|k| k.starts_with(prefix)).count() as u64;
    assert_eq!(
        listed("blacklisted."),
        s.get("keys_blacklisted"),
        "{:?}",
        s.0
    );
    assert!(
        s.0["blacklisted.1"].starts_with("loop at interp::run [")
            && s.0["blacklisted.1"].ends_with(": compile_error"),
        "{:?}",
        s.0
    );
    assert!(
        s.0["abort_site.1"].starts_with("compile_error x"),
        "{:?}",
        s.0
    );
    // Only the sections asked for; nothing at all with the JIT off.
    let r = with_log(&[nested], "jit-summary");
    assert!(r.stderr.starts_with("{jit-summary\n") && r.stderr.ends_with("jit-summary}\n"));
    let r = with_log(&["--jit", "off", nested], "jit");
    assert_eq!(r.stderr, "");
    // The optimizer's passes can be chosen; unknown ones are refused.
    let r = run(
        bf,
        &["--jit", "enable_opts=rewrite:dce", nested],
        b"",
        QUICK,
    );
    r.assert_success("enable_opts=rewrite:dce");
    assert_eq!(r.stdout, expected);
    run(
        bf,
        &["--jit", "enable_opts=rewrite:fast", nested],
        b"",
        QUICK,
    )
    .assert_error(
        "enable_opts=rewrite:fast",
        "--jit enable_opts=rewrite:fast: unknown optimization 'fast' in enable_opts; valid: ",
    );
}

/// `targets/stackvm`: tagged values (`#[repr(u8)] enum Value`) in a
/// `Vec<Value>` stack, an enum of rustc's layout and an `Option` stored in
/// memory. Every program gives the native output at every setting; the
/// summaries show that the hot loops compiled, that no trace aborted for
/// an unexpected reason, and (in `mixed.svm`, whose two paths alternate)
/// that guards on tags failed and were bridged.
#[test]
fn stackvm_programs() {
    let vm = &vms().stackvm;
    let mut failures = Vec::new();
    let mut summaries = BTreeMap::new();
    for &(p, n, expected) in STACKVM_CASES {
        let path = stackvm_program(p);
        for opts in [DEFAULT, LOW1, LOW2] {
            let (r, s) = jit_run(vm, opts, &[&path, n], b"", QUICK);
            // Loops of 100000 iterations are compiled at any setting, of
            // 1000 at the low ones.
            let hot = n.len() >= 6 || (opts != DEFAULT && n.len() >= 4);
            let what = format!("stackvm {p} {n} --jit {opts}");
            if let Err(e) = check_jit_run(&what, &r, &s, expected.as_bytes(), hot) {
                failures.push(e);
            }
            summaries.insert((p, n, opts), s);
        }
    }
    for &(p, n, line) in STACKVM_ERRORS {
        let path = stackvm_program(p);
        let native = run(vm, &["--jit", "off", &path, n], b"", QUICK);
        assert_eq!((native.code(), native.stderr.as_str()), (Some(1), line));
        for opts in [DEFAULT, LOW1, LOW2] {
            let (r, s) = jit_run(vm, opts, &[&path, n], b"", QUICK);
            if let Some(d) = differences(&native, &r) {
                failures.push(format!("stackvm {p} {n} --jit {opts}: {d}"));
            }
            let unexpected = s.unexpected_aborts();
            if !unexpected.is_empty() {
                failures.push(format!(
                    "stackvm {p} {n} --jit {opts}: aborts {unexpected:?}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
    let mixed = &summaries[&("mixed.svm", "100000", DEFAULT)];
    eprintln!("mixed.svm 100000: {}", mixed.short());
    assert!(mixed.get("guard_failures") > 0, "{:?}", mixed.0);
    assert!(mixed.get("bridges") > 0, "{:?}", mixed.0);
    for p in ["count.svm", "sum.svm", "mixed.svm", "bags.svm"] {
        let s = &summaries[&(p, "100000", DEFAULT)];
        assert_eq!(s.get("aborts"), 0, "{p}: {:?}", s.0);
    }
    // The Vecs, the struct and the box `gather` and `stash` make are
    // allocations in the compiled loop (not hidden in residual calls).
    let bags = &summaries[&("bags.svm", "100000", DEFAULT)];
    assert!(bags.get("loops") > 0, "{:?}", bags.0);
    assert!(bags.get("allocs_compiled") > 0, "{:?}", bags.0);
}

/// A bf program of `n` loops one after another, each at its own pc (its
/// own green key), each run a few dozen times: thousands of distinct hot
/// loops, most of them cold soon after they were compiled.
fn many_loops_program(n: usize) -> String {
    let mut p = String::new();
    for i in 0..n {
        p.push_str(&"+".repeat(10 + i % 13));
        p.push_str("[->");
        p.push_str(&"+".repeat(1 + i % 5));
        p.push_str("<]>");
        if i % 50 == 0 {
            p.push('.');
        }
    }
    p
}

/// `--jit max_code`: a program making 2,000 hot loops one after another
/// runs in 16K of code memory with the output of the native
/// interpreter; the summary shows the traces retired and the code memory
/// never above the bound. Without the bound the same run holds far more.
#[test]
fn many_hot_loops_run_under_a_small_max_code() {
    let bf = &vms().bf;
    let dir = tempfile::tempdir().unwrap();
    let program = write(dir.path(), "many.b", many_loops_program(2000).as_bytes());
    let native = run(bf, &["--jit", "off", &program], b"", QUICK);
    native.assert_success("native");
    let (free, s_free) = jit_run(bf, "threshold=3", &[&program], b"", QUICK);
    assert_eq!(differences(&native, &free), None, "threshold=3");
    let bound = 16 << 10;
    let (r, s) = jit_run(bf, "threshold=3,max_code=16K", &[&program], b"", QUICK);
    assert_eq!(differences(&native, &r), None, "max_code=16K");
    assert!(s.get("loops") >= 1000, "{:?}", s.0);
    assert!(s.get("code_flushes") > 0, "{:?}", s.0);
    assert!(s.get("traces_retired") >= 1000, "{:?}", s.0);
    assert!(s.get("code_bytes_peak") <= bound, "{:?}", s.0);
    assert!(s.get("code_bytes_in_use") <= s.get("code_bytes_peak"));
    assert_eq!(s_free.get("traces_retired"), 0, "{:?}", s_free.0);
    assert!(s_free.get("code_bytes_peak") > 10 * bound, "{:?}", s_free.0);
    assert!(
        s.get("jit_mem_peak") * 10 < s_free.get("jit_mem_peak"),
        "trace and resume data are freed with the code: {:?} against {:?}",
        s.0,
        s_free.0
    );
    let bad = run(bf, &["--jit", "max_code=lots", &program], b"", QUICK);
    bad.assert_error("max_code=lots", "'max_code': 'lots'");
}

/// Loops with bridges retired together (a bridge never outlives the loop
/// it jumps into): Life.b, whose code needs about 66K, in 32K, at the
/// default parameters and with every failing guard bridged.
#[test]
fn loops_and_bridges_retired_under_max_code() {
    let Some(dir) = shared_programs("bf") else {
        return;
    };
    let bf = &vms().bf;
    let program = dir.join("Life.b");
    let program = program.to_str().unwrap();
    let input = std::fs::read(dir.join("Life.in")).unwrap();
    let expected = std::fs::read(dir.join("Life.out")).unwrap();
    let mut bridge_sites = 0;
    for opts in ["max_code=32K", "threshold=5,trace_eagerness=5,max_code=48K"] {
        let (r, s) = jit_run(bf, opts, &[program], &input, TIMEOUT);
        check_jit_run(&format!("Life.b --jit {opts}"), &r, &s, &expected, true).unwrap();
        assert!(s.get("bridges") > 0, "{opts}: {:?}", s.0);
        assert!(s.get("traces_retired") > 0, "{opts}: {:?}", s.0);
        let bound = if opts.ends_with("32K") { 32 } else { 48 } << 10;
        assert!(s.get("code_bytes_peak") <= bound, "{opts}: {:?}", s.0);
        // An aborted bridge is named with the green key of its loop.
        for (k, v) in &s.0 {
            if k.starts_with("abort_site.") && v.contains("bridge from guard") {
                assert!(v.contains(" in the loop at interp::run ["), "{k}: {v}");
                bridge_sites += 1;
            }
        }
    }
    assert!(bridge_sites > 0, "no bridge aborted in Life.b");
}

/// Lox under `--gc stress` with traces retired: 40 functions, each with
/// its own hot loop making objects and calling a method, in a code memory
/// that holds about three of their traces. The classes and methods the
/// traces embed are pinned while a trace lives and unpinned when it is
/// retired; the collector runs at every allocation meanwhile.
#[test]
fn lox_traces_retired_under_gc_stress() {
    let lox = metatrace_testkit::vms::lox();
    let mut program = String::from(
        "class C { init(n) { this.n = n; } get() { return this.n; } }\nvar total = 0;\n",
    );
    for k in 0..40 {
        program.push_str(&format!(
            "fun f{k}() {{ for (var i = 0; i < 30; i = i + 1) {{ var c = C(i + {k}); total = total + c.get() * {}; }} }}\nf{k}();\n",
            k % 7 + 1
        ));
        if k % 10 == 0 {
            program.push_str("print total;\n");
        }
    }
    program.push_str("print total;\n");
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "many.lox", program.as_bytes());
    let native = run(lox, &["--jit", "off", &file], b"", QUICK);
    native.assert_success("native");
    let opts = "threshold=3,trace_eagerness=3,max_code=100K";
    let dir2 = tempfile::tempdir().unwrap();
    let log = dir2.path().join("jit.log");
    let spec = format!("jit-summary:{}", log.display());
    let r = run_env(
        lox,
        &["--jit", opts, "--gc", "stress", &file],
        &[("METATRACE_LOG", &spec)],
        b"",
        TIMEOUT,
    );
    assert_eq!(differences(&native, &r), None, "--jit {opts} --gc stress");
    let s = Summary::parse(&std::fs::read_to_string(&log).unwrap()).unwrap();
    assert!(s.get("loops") > 0, "{:?}", s.0);
    assert!(s.get("traces_retired") > 0, "{:?}", s.0);
    assert!(s.get("code_bytes_peak") <= 100 << 10, "{:?}", s.0);
    assert!(s.unexpected_aborts().is_empty(), "{:?}", s.0);
}

/// [`jit_run_log`] of the summary and the optimized traces.
fn jit_run_logged(vm: &Path, opts: &str, args: &[&str]) -> (Run, Summary, String) {
    jit_run_log(vm, opts, args, b"", QUICK, "jit-summary,jit-log-opt")
}

/// `calls`' `scale` is a quasi-immutable field of the (green) program:
/// the inner loop of scale.calls reads it as a constant, and every round
/// writes it. The outputs are the native ones in every mode; with the
/// JIT each round invalidates the inner loop, which is traced again; at
/// low thresholds the write is made by a bridge, in machine code (the
/// write's guard on `watched` fails once the inner loop watches it).
#[test]
fn calls_quasi_immutable_field_is_a_constant_until_written() {
    let calls = &vms().calls;
    let scale = calls_program("scale.calls");
    let machine_code_writes = "mode=jit,threshold=3,trace_eagerness=1";
    for n in ["1", "2", "50"] {
        let native = run(calls, &["--jit", "off", &scale, n], b"", QUICK);
        native.assert_success("native");
        for opts in [
            "mode=jitcode-only",
            DEFAULT,
            LOW1,
            LOW2,
            machine_code_writes,
        ] {
            let (r, s) = jit_run(calls, opts, &[&scale, n], b"", QUICK);
            assert_eq!(differences(&native, &r), None, "scale {n} --jit {opts}");
            assert!(
                s.unexpected_aborts().is_empty(),
                "scale {n} --jit {opts}: {:?}",
                s.0
            );
        }
    }
    let native = run(calls, &["--jit", "off", &scale, "50"], b"", QUICK);
    assert_eq!(native.stdout_str(), "382500\n382500\n");
    let (r, s, log) = jit_run_logged(calls, machine_code_writes, &[&scale, "50"]);
    assert_eq!(differences(&native, &r), None);
    // Every round but the first finds the inner loop compiled and valid.
    assert!(s.get("invalidations") >= 49, "{:?}", s.0);
    assert!(s.loops() >= 50, "the inner loop is traced again: {:?}", s.0);
    let bridges: Vec<&str> = log.split("{jit-log-opt-bridge\n").skip(1).collect();
    assert!(
        bridges
            .iter()
            .any(|b| b.contains("call_residual<QuasiImmut<i64>::invalidate_dependents>")),
        "no bridge writes `scale` from machine code:\n{log}"
    );
    // The inner loop reads `scale` as a constant: no read of it, one
    // `guard_not_invalidated` per loop (there is no call in it).
    let inner = log
        .split("{jit-log-opt-loop\n")
        .find(|t| t.starts_with("# loop ") && t.contains("[2, "))
        .unwrap_or_else(|| panic!("no inner loop in the log:\n{log}"));
    assert!(!inner.contains("QuasiImmut<i64>.value"), "{inner}");
    assert_eq!(
        inner.matches("guard_not_invalidated(").count(),
        1,
        "{inner}"
    );
}

/// Lox's globals (targets/lox/src/globals.rs): a function bound once is a
/// constant in traces; redefining it natively, or assigning a global for
/// the first time in the blackhole (a guard of the loop fails there),
/// invalidates the traces that read it, and the loop is traced again. A
/// global assigned in the loop is read from its cell.
#[test]
fn lox_globals_are_constants_until_rebound() {
    let vm = lox();
    let dir = tempfile::tempdir().unwrap();
    let rebound = write(
        dir.path(),
        "rebound.lox",
        b"fun f(x) { return x + 1; }\n\
          fun run() { var t = 0; for (var i = 0; i < 3000; i = i + 1) { t = f(t); } return t; }\n\
          print run();\n\
          fun f(x) { return x + 2; }\n\
          print run();\n",
    );
    let first_assignment = write(
        dir.path(),
        "first_assignment.lox",
        b"var k = 1;\n\
          fun g() { return k; }\n\
          var t = 0;\n\
          var i = 0;\n\
          while (i < 6000) {\n\
            if (i == 2000) k = 5;\n\
            t = t + g();\n\
            i = i + 1;\n\
          }\n\
          print t;\n",
    );
    let expected = [(&rebound, "3000\n6000\n"), (&first_assignment, "22000\n")];
    for (p, out) in expected {
        let native = run(vm, &["--jit", "off", p], b"", QUICK);
        native.assert_success("native");
        assert_eq!(native.stdout_str(), out, "{p}");
        for opts in ["mode=jitcode-only", DEFAULT, LOW1, LOW2] {
            let (r, s) = jit_run(vm, opts, &[p], b"", QUICK);
            assert_eq!(differences(&native, &r), None, "{p} --jit {opts}");
            assert!(
                s.unexpected_aborts().is_empty(),
                "{p} --jit {opts}: {:?}",
                s.0
            );
        }
        let (_, s, log) = jit_run_logged(vm, DEFAULT, &[p]);
        assert!(s.get("invalidations") >= 1, "{p}: {:?}", s.0);
        assert!(s.loops() >= 2, "{p}: traced again: {:?}", s.0);
        assert!(log.contains("guard_not_invalidated("), "{p}");
    }
}

/// Lazy stores (docs/optimizer.md): a Lox loop's traces delay stores to
/// its value stack past guards (`pending` in the guard's resume data).
/// The guard on `i < 1500` fails from then on, so the blackhole resumes
/// from it and then a bridge is traced from it: both must do the delayed
/// writes first. The outputs are the native ones, and the log shows a
/// bridge from a guard with delayed writes.
#[test]
fn lox_bridges_from_guards_with_delayed_writes() {
    let vm = lox();
    let dir = tempfile::tempdir().unwrap();
    let program = write(
        dir.path(),
        "delayed.lox",
        b"fun run(n) {\n\
            var t = 0;\n\
            for (var i = 0; i < n; i = i + 1) {\n\
              var x = i * 2;\n\
              if (i < 1500) { t = t + x; } else { t = t - x / 2 + 1; }\n\
            }\n\
            return t;\n\
          }\n\
          print run(3000);\n\
          print run(100);\n",
    );
    let path = program;
    let native = run(vm, &["--jit", "off", &path], b"", QUICK);
    for opts in [DEFAULT, LOW1, LOW2] {
        let (r, _, log) = jit_run_logged(vm, opts, &[&path]);
        assert_eq!(differences(&native, &r), None, "--jit {opts}");
        if opts != DEFAULT {
            continue;
        }
        let from_delayed = bridge_parents(&log)
            .into_iter()
            .filter(|guard_line| guard_line.contains(" pending "))
            .count();
        assert!(
            from_delayed > 0,
            "no bridge from a guard with delayed writes:\n{log}"
        );
    }
}

/// The guard line, in the log of its trace, of every bridge's parent.
fn bridge_parents(log: &str) -> Vec<String> {
    let mut out = Vec::new();
    for b in log.split("{jit-log-opt-bridge\n").skip(1) {
        // "# bridge N: bridge from guard #G of trace T ..."
        let Some(rest) = b.split("bridge from guard #").nth(1) else {
            continue;
        };
        let mut words = rest.split_whitespace();
        let (Some(guard), Some("of"), Some("trace"), Some(trace)) =
            (words.next(), words.next(), words.next(), words.next())
        else {
            continue;
        };
        // Sections start "# loop T:", "# preamble T:", "# bridge T:".
        let parent = log.split("\n# ").find(|t| {
            t.split_once(':')
                .is_some_and(|(h, _)| h.rsplit(' ').next() == Some(trace))
        });
        let mark = format!("] #{guard}");
        if let Some(line) = parent.and_then(|t| {
            t.lines()
                .find(|l| l.ends_with(&mark) || l.contains(&format!("{mark} ")))
        }) {
            out.push(line.to_string());
        }
    }
    out
}

fn rec_program(name: &str) -> String {
    workspace_root()
        .join("targets/rec/programs")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// Low thresholds for `rec`: functions are traced from their entry at
/// their first or second call, loops at their first or second back edge,
/// every failing guard gets a bridge.
const REC_LOW1: &str = "mode=jit,threshold=1,function_threshold=1,trace_eagerness=1";
const REC_LOW2: &str = "mode=jit,threshold=2,function_threshold=2,trace_eagerness=1";

/// Recursive portal calls compiled (`targets/rec`, whose `call` is a
/// native call of the portal): recursive fib and a loop calling a
/// function give the native outputs in every mode, and the summary shows
/// function traces ending in `finish`, `call_assembler` calls, and no
/// trace aborted for recursion. In fib, the function trace's guard on
/// `n < 2` fails inside the callee's compiled code, at every depth: its
/// bridge (or the blackhole) gives the result back to the caller's trace.
#[test]
fn rec_recursive_portal_calls_are_compiled() {
    let rec = rec();
    let (fib, loop_call) = (rec_program("fib.rec"), rec_program("loop_call.rec"));
    let mut failures = Vec::new();
    let mut summaries = BTreeMap::new();
    for (p, ns) in [
        (&fib, ["0", "1", "10", "22"]),
        (&loop_call, ["0", "1", "100", "5000"]),
    ] {
        for n in ns {
            let native = run(rec, &["--jit", "off", p, n], b"", QUICK);
            native.assert_success("native");
            for opts in [
                DEFAULT,
                REC_LOW1,
                REC_LOW2,
                "mode=jit,threshold=3,function_threshold=5,trace_eagerness=3,enable_opts=none",
                "mode=jitcode-only",
            ] {
                let (r, s) = jit_run(rec, opts, &[p, n], b"", QUICK);
                if let Some(d) = differences(&native, &r) {
                    failures.push(format!("rec {p} {n} --jit {opts}: {d}"));
                }
                let unexpected = s.unexpected_aborts();
                if !unexpected.is_empty() {
                    failures.push(format!("rec {p} {n} --jit {opts}: aborts {unexpected:?}"));
                }
                summaries.insert((p.clone(), n, opts), s);
            }
        }
    }
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
    assert_eq!(
        run(rec, &[&fib, "22"], b"", QUICK).stdout_str(),
        "17711\n",
        "fib(22)"
    );
    assert_eq!(
        run(rec, &[&loop_call, "100"], b"", QUICK).stdout_str(),
        "338350\n338350\n",
        "the sum of the first 100 squares"
    );
    // (At REC_LOW1 the outermost call is the one traced, and the whole
    // recursion runs under it, natively: no trace is started while one is
    // recorded, and nothing is compiled yet.)
    for opts in [REC_LOW2, DEFAULT] {
        let s = &summaries[&(fib.clone(), "22", opts)];
        let what = format!("fib.rec 22 --jit {opts}: {}", s.short());
        assert!(s.get("functions") >= 1, "{what}: no function trace");
        assert!(
            s.get("call_assembler_calls") > 0,
            "{what}: no call_assembler"
        );
        assert!(s.get("finish_exits") > 0, "{what}: no exit through finish");
        assert_eq!(s.get("aborts.recursion"), 0, "{what}");
    }
    let s = &summaries[&(fib.clone(), "22", REC_LOW2)];
    assert!(
        s.get("bridges") >= 1,
        "fib.rec 22 --jit {REC_LOW2}: the other side of `n < 2` is a bridge ({})",
        s.short()
    );
    for opts in [REC_LOW1, REC_LOW2] {
        let s = &summaries[&(loop_call.clone(), "5000", opts)];
        let what = format!("loop_call.rec 5000 --jit {opts}: {}", s.short());
        assert!(s.loops() >= 1, "{what}: the loop is not compiled");
        assert!(
            s.get("call_assembler_calls") >= 4000,
            "{what}: the loop's calls are not call_assembler"
        );
        assert!(
            s.get("functions") >= 1,
            "{what}: sq is not a function trace"
        );
    }
}

/// Retracing (docs/jit.md): a loop traced while its iterations took the
/// branch they soon stop taking (here `i < 300`, traced near iteration
/// 50) has that branch in its preamble; the other branch fails the
/// preamble's guard, and the bridge from there comes back to the loop's
/// own header, so every later iteration ran the preamble's first half
/// and the bridge, never the peeled loop. The bridge's first pass traces
/// the loop again, once, on the branch now taken. Outputs are the native
/// ones in every mode.
#[test]
fn lox_loop_traced_on_a_rare_branch_is_traced_again() {
    let vm = lox();
    let dir = tempfile::tempdir().unwrap();
    let program = write(
        dir.path(),
        "rare_first.lox",
        b"var t = 0;\n\
          for (var i = 0; i < 4000; i = i + 1) {\n\
            if (i < 300) { t = t + 2; } else { t = t + 1; }\n\
          }\n\
          print t;\n",
    );
    let native = run(vm, &["--jit", "off", &program], b"", QUICK);
    native.assert_success("native");
    assert_eq!(native.stdout_str(), "4300\n");
    let early = "mode=jit,threshold=50,trace_eagerness=10";
    for opts in ["mode=jitcode-only", DEFAULT, LOW1, LOW2, early] {
        let (r, s) = jit_run(vm, opts, &[&program], b"", QUICK);
        assert_eq!(differences(&native, &r), None, "--jit {opts}");
        assert!(s.unexpected_aborts().is_empty(), "--jit {opts}: {:?}", s.0);
    }
    let (_, s) = jit_run(vm, early, &[&program], b"", QUICK);
    assert_eq!(s.get("retraces"), 1, "{:?}", s.0);
    assert_eq!(
        s.loops(),
        2,
        "the loop again, on the other branch: {:?}",
        s.0
    );
}
