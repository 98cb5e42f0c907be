//! The example VMs (`targets/bf`, `targets/tlr`, `targets/stackvm`) run natively (`--jit off`;
//! a few runs use the default mode, the JIT, where the output is all that
//! matters): programs written by others (`../shared/programs/bf`), the
//! targets' own programs, error cases and the `--jit` command line. The JIT
//! itself is tested in `jit_modes.rs`.

use metatrace_testkit::vms::{
    bf_cases, excerpt, on_two_threads, run, shared_programs, stackvm_program, tlr_program, vms,
    workspace_root, write, BfCase, STACKVM_CASES, STACKVM_ERRORS, TLR_LOAD_ERRORS,
    TLR_PORTAL_ERRORS,
};
use std::time::Duration;

/// Generous: the slowest shared program takes ~15 s natively in release.
const SLOW: Duration = Duration::from_secs(240);
const QUICK: Duration = Duration::from_secs(30);

/// Runs the cases on two threads (the machine has two cores); returns the
/// failures and prints each program's time.
fn run_bf_cases(cases: Vec<BfCase>, extra_args: &[&str]) -> Vec<String> {
    let bf = vms().bf.clone();
    on_two_threads(cases, |case| {
        let mut args: Vec<&str> = extra_args.to_vec();
        let program = case.program.to_string_lossy().into_owned();
        args.push(&program);
        let r = run(&bf, &args, &case.input, SLOW);
        eprintln!("bf {:<20} {:>7.2} s", case.name, r.elapsed.as_secs_f64());
        let problem = if r.timed_out() {
            Some(format!("timed out after {:.1?}", r.elapsed))
        } else if r.code() != Some(0) {
            Some(format!("{}: {}", r.describe_status(), r.stderr))
        } else if r.stdout != case.expected {
            Some(format!(
                "wrong output:\n  got      {}\n  expected {}",
                excerpt(&r.stdout),
                excerpt(&case.expected)
            ))
        } else {
            None
        };
        match problem {
            Some(p) => Err(format!("{}: {p}", case.name)),
            None => Ok(()),
        }
    })
}

#[test]
fn bf_shared_programs() {
    let Some(dir) = shared_programs("bf") else {
        return;
    };
    let (cases, without_out) = bf_cases(&dir);
    assert!(
        !cases.is_empty(),
        "no programs with .out files in {}",
        dir.display()
    );
    // cristofani-tests.b is a collection of programs: see bf_cristofani_tests.
    assert_eq!(
        without_out,
        ["cristofani-tests.b"],
        "programs without an expected output"
    );
    let failures = run_bf_cases(cases, &[]);
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
}

#[test]
fn bf_own_programs() {
    let dir = workspace_root().join("targets/bf/programs");
    let (cases, without_out) = bf_cases(&dir);
    assert!(without_out.is_empty(), "without .out: {without_out:?}");
    assert!(
        cases.len() >= 4,
        "expected the bundled programs in {}",
        dir.display()
    );
    let failures = run_bf_cases(cases, &["--jit", "off"]);
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
}

/// Daniel Cristofani's tests.b is several programs in one file, with prose
/// between them (and, taken as a whole, unbalanced brackets). Each program is
/// taken from the file and run on its own, checking what its prose says.
#[test]
fn bf_cristofani_tests() {
    let Some(dir) = shared_programs("bf") else {
        return;
    };
    let path = dir.join("cristofani-tests.b");
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let line_starting = |prefix: &str| -> usize {
        lines
            .iter()
            .position(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line starting with {prefix:?} in {}", path.display()))
    };
    let tmp = tempfile::tempdir().unwrap();
    let bf = &vms().bf;
    let run_piece = |name: &str, src: &str, input: &[u8]| {
        let p = tmp.path().join(name);
        std::fs::write(&p, src).unwrap();
        run(bf, &[p.to_str().unwrap()], input, QUICK)
    };

    // I/O: "give it a return followed by an EOF"; "LK means newline input is
    // working fine, and EOF leaves the cell unchanged"; two identical lines.
    let io = lines[line_starting(">,>+++++++++,")];
    let r = run_piece("io.b", io, b"\n");
    r.assert_success("io test");
    assert_eq!(r.stdout_str(), "LK\nLK\n");

    // "Goes to cell 30000 and reports from there with a #." (two lines)
    let i = line_starting("++++[>++++++<-]>[");
    let r = run_piece("far.b", &format!("{}\n{}", lines[i], lines[i + 1]), b"");
    r.assert_success("30000-cell test");
    assert_eq!(r.stdout_str(), "#\n");

    // "Tests for several obscure problems. Should output an H."
    let r = run_piece("obscure.b", lines[line_starting("[]++++++++++[")], b"");
    r.assert_success("obscure test");
    assert_eq!(r.stdout_str(), "H\n");

    // "Should ideally give error message "unmatched [" or the like, and not
    // give any output." (and likewise for "]")
    for (file, end, what, needle) in [
        ("open.b", ">.>.[", "unmatched [", "unmatched '['"),
        ("close.b", ">.>.][", "unmatched ]", "unmatched ']'"),
    ] {
        let line = lines
            .iter()
            .find(|l| l.ends_with(end))
            .unwrap_or_else(|| panic!("the {what} test"));
        let r = run_piece(file, line, b"");
        r.assert_error(what, needle);
        assert!(r.stdout.is_empty());
        assert!(r.stderr.contains(":1:26: "), "{}", r.stderr);
    }

    // Array bounds, left: "If bounds checking is present and working, the
    // left should measure 0": no output, and moving left of cell 0 is an error.
    let left = lines[line_starting("+[<+")];
    let r = run_piece("left.b", left, b"");
    r.assert_error("left bound", "moved left of cell 0");
    assert!(r.stdout.is_empty());
    assert!(r.stderr.contains(":1:3 (byte offset 2)"), "{}", r.stderr);
    // Array bounds, right (`+[>+...]`): with a tape that grows on the right,
    // it prints until the tape's limit (2^28 cells); not run here.

    // The file as a whole is not a valid program (its prose leaves a `[`
    // unmatched): a clear error, no output.
    let r = run(bf, &[path.to_str().unwrap()], b"", QUICK);
    r.assert_error("whole file", "unmatched '['");
    assert!(r.stdout.is_empty());
}

#[test]
fn bf_errors() {
    let bf = &vms().bf;
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();

    let p = write(d, "close.b", b"+[-]\n  ]+");
    run(bf, &[&p], b"", QUICK).assert_error(
        "unmatched ]",
        &format!("{p}:2:3: unmatched ']' (byte offset 7)"),
    );
    let p = write(d, "open.b", b"comment\n [[]\n[");
    let r = run(bf, &[&p], b"", QUICK);
    r.assert_error(
        "unmatched [",
        &format!("{p}:2:2: unmatched '[' (byte offset 9) (and 1 more unmatched '[')"),
    );
    // Output before the error is written; the error names the exact `<`.
    let p = write(d, "left.b", b"+++++++++++++++++++++++++++++++++.>>\n<<<");
    let r = run(bf, &[&p], b"", QUICK);
    r.assert_error(
        "left of cell 0",
        &format!("'<' moved left of cell 0 at {p}:2:3 (byte offset 39)"),
    );
    assert_eq!(r.stdout, b"!");

    let missing = d.join("missing.b");
    run(bf, &[missing.to_str().unwrap()], b"", QUICK).assert_error("missing file", "cannot read");
    run(bf, &[], b"", QUICK).assert_error("no program", "missing PROGRAM");
    let p = write(d, "ok.b", b"");
    run(bf, &[&p, "extra"], b"", QUICK)
        .assert_error("extra argument", "unexpected argument 'extra'");
    run(bf, &[&p], b"", QUICK).assert_success("empty program");
}

#[test]
fn bf_tape_and_input_semantics() {
    let bf = &vms().bf;
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // Cells wrap at 8 bits, both ways.
    let p = write(
        d,
        "wrap.b",
        b"-.+.>++++++++[<++++++++++++++++++++++++++++++++>-]<.",
    );
    assert_eq!(
        run(bf, &[&p], b"", QUICK).assert_success("wrap").stdout,
        [255, 0, 0]
    );
    // The tape grows beyond 30000 cells on the right: one long move...
    let src = format!("{}{}.", ">".repeat(70000), "+".repeat(65));
    let p = write(d, "far.b", src.as_bytes());
    assert_eq!(
        run(bf, &[&p], b"", QUICK)
            .assert_success("far right")
            .stdout,
        b"A"
    );
    // ... and many single steps, then a scan back over them.
    let src = format!(">{}<[<]>{}.[>]<.", "+>".repeat(35000), "+".repeat(64));
    let p = write(d, "steps.b", src.as_bytes());
    assert_eq!(
        run(bf, &[&p], b"", QUICK).assert_success("steps").stdout,
        [65, 1]
    );
    // `,` at EOF leaves the cell unchanged.
    let p = write(d, "eof.b", b"+++++++++++++++++++++++++++++++++,.,.,.");
    let r = run(bf, &[&p], b"a", QUICK);
    r.assert_success("eof");
    assert_eq!(r.stdout, b"aaa");
}

fn tlr(args: &[&str]) -> metatrace_testkit::vms::Run {
    run(&vms().tlr, args, b"", QUICK)
}

#[test]
fn tlr_programs() {
    let square = tlr_program("square.tlr");
    let sum = tlr_program("sum.tlr");
    let fib = tlr_program("fib.tlr");
    for (args, expected) in [
        (vec![square.as_str(), "10"], "100\n"),
        (vec![square.as_str(), "1"], "1\n"),
        (vec![square.as_str(), "3000"], "9000000\n"),
        (vec!["--jit", "off", square.as_str(), "10"], "100\n"),
        (vec!["--jit=off", "--", square.as_str(), "12"], "144\n"),
        (
            vec![
                "--jit",
                "threshold=2,trace_eagerness=1",
                square.as_str(),
                "10",
            ],
            "100\n",
        ),
        (vec![sum.as_str(), "10"], "55\n"),
        (vec![sum.as_str(), "0"], "0\n"),
        (vec![sum.as_str(), "1000000"], "500000500000\n"),
        (vec![fib.as_str(), "0"], "0\n"),
        (vec![fib.as_str(), "1"], "1\n"),
        (vec![fib.as_str(), "10"], "55\n"),
        (vec![fib.as_str(), "90"], "2880067194370816120\n"),
        // i64 wrap-around
        (vec![fib.as_str(), "93"], "-6246583658587674878\n"),
        (vec![fib.as_str(), "100"], "3736710778780434371\n"),
    ] {
        let r = tlr(&args);
        r.assert_success(&format!("tlr {args:?}"));
        assert_eq!(r.stdout_str(), expected, "tlr {args:?}");
    }
}

#[test]
fn tlr_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let cases = TLR_PORTAL_ERRORS.iter().chain(TLR_LOAD_ERRORS);
    for (name, src, needle) in cases {
        let p = write(d, name, src);
        tlr(&[&p, "5"]).assert_error(name, needle);
    }
    let square = tlr_program("square.tlr");
    tlr(&[&square]).assert_error("no N", "missing argument N");
    tlr(&[&square, "ten"]).assert_error(
        "bad N",
        "the argument N must be an integer (i64), not 'ten'",
    );
    tlr(&[&square, "99999999999999999999"]).assert_error("huge N", "must be an integer");
    tlr(&[&square, "1", "2"]).assert_error("extra", "unexpected argument '2'");
    tlr(&[]).assert_error("no program", "missing PROGRAM");
    tlr(&["/nonexistent/x.tlr", "1"]).assert_error("no file", "cannot read /nonexistent/x.tlr");
}

#[test]
fn jit_command_line() {
    let square = tlr_program("square.tlr");
    let r = tlr(&["--jit", "nope=1", &square, "10"]);
    r.assert_error("--jit nope=1", "unknown JIT parameter 'nope'; valid: threshold=1039, function_threshold=1619, trace_eagerness=200, trace_limit=6000, decay=40, mode=auto");
    assert!(r.stdout.is_empty());
    tlr(&["--jit", "threshold=0", &square, "10"]).assert_error("threshold=0", "'threshold': '0'");
    tlr(&["--jit", "mode=fast", &square, "10"])
        .assert_error("mode=fast", "valid modes: native, jitcode-only, jit, auto");
    // The VMs are built with their jitcodes (build.rs): every mode runs
    // (tests/jitcode_only.rs and tests/jit_modes.rs compare them with
    // native).
    for mode in ["mode=jitcode-only", "mode=jit", "mode=auto", "mode=native"] {
        let r = tlr(&["--jit", mode, &square, "10"]);
        r.assert_success(mode);
        assert_eq!(r.stdout_str(), "100\n");
    }
    tlr(&["--bogus", &square, "10"]).assert_error("unknown option", "unknown option '--bogus'");

    let bf = &vms().bf;
    let hello = workspace_root().join("targets/bf/programs/hello.b");
    let hello = hello.to_str().unwrap();
    run(bf, &["--jit", "nope=1", hello], b"", QUICK).assert_error(
        "bf --jit nope=1",
        "unknown JIT parameter 'nope'; valid: threshold=1039",
    );
    let r = run(bf, &["--jit", "mode=jitcode-only", hello], b"", QUICK);
    r.assert_success("bf jitcode-only");
    assert_eq!(r.stdout_str(), "Hello from metatrace!\n");
    let r = run(bf, &["--jit", "mode=jit", hello], b"", QUICK);
    r.assert_success("bf jit");
    assert_eq!(r.stdout_str(), "Hello from metatrace!\n");
    let r = run(bf, &["--jit", "off", hello], b"", QUICK);
    r.assert_success("bf --jit off");
    assert_eq!(r.stdout_str(), "Hello from metatrace!\n");

    for (vm, name) in [(&vms().tlr, "tlr"), (bf, "bf")] {
        let r = run(vm, &["--help"], b"", QUICK);
        r.assert_success("--help");
        assert!(
            r.stdout_str().starts_with(&format!(
                "usage: {name} [--jit OPTIONS] [--gc OPTIONS] PROGRAM [ARGS...]"
            )),
            "{}",
            r.stdout_str()
        );
        assert!(r.stdout_str().contains("threshold=1039"));
        assert!(r.stdout_str().contains("plan=stickyimmix"));
    }
}

/// `--gc` beside `--jit`: a bad option or value is an `error:` naming it
/// (status 1, as for `--jit`), never a panic; good ones run the program
/// unchanged (tlr allocates no GC object: the heap is never created).
#[test]
fn gc_command_line() {
    let square = tlr_program("square.tlr");
    for (opts, needle) in [
        ("plan=semispace", "--gc plan=semispace: bad value for GC option 'plan': 'semispace'; valid plans: stickyimmix, immix, marksweep"),
        ("heap=lots", "--gc heap=lots: bad value for GC option 'heap': 'lots'"),
        ("heap=64M:16M", "MIN is larger than MAX"),
        ("threads=0", "bad value for GC option 'threads': '0'"),
        ("nursery=4M", "unknown GC option 'nursery'; valid: plan=stickyimmix, heap=16M:512M, threads=1, stress=0"),
    ] {
        let r = tlr(&["--gc", opts, &square, "10"]);
        r.assert_error(opts, needle);
        assert!(r.stdout.is_empty());
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    }
    tlr(&["--gc"]).assert_error("--gc", "--gc needs a value");
    for opts in [
        "plan=immix",
        "plan=marksweep,heap=16M",
        "stress",
        "plan=stickyimmix,heap=16M:1G,threads=2",
    ] {
        let r = tlr(&["--gc", opts, "--jit", "threshold=3", &square, "10"]);
        r.assert_success(opts);
        assert_eq!(r.stdout_str(), "100\n");
    }
}

/// `targets/stackvm` (tagged values in a `Vec<Value>`): its programs give
/// the expected output natively, and its run-time errors the expected
/// message and exit status 1.
#[test]
fn stackvm_programs() {
    let vm = &vms().stackvm;
    for &(p, n, expected) in STACKVM_CASES {
        let r = run(vm, &["--jit", "off", &stackvm_program(p), n], b"", QUICK);
        r.assert_success(&format!("stackvm {p} {n}"));
        assert_eq!(r.stdout_str(), expected, "stackvm {p} {n}");
    }
    for &(p, n, line) in STACKVM_ERRORS {
        let r = run(vm, &["--jit", "off", &stackvm_program(p), n], b"", QUICK);
        r.assert_error(&format!("stackvm {p} {n}"), line.trim_end());
        assert_eq!(r.stderr, line, "stackvm {p} {n}");
    }
    let count = stackvm_program("count.svm");
    run(vm, &[&count, "x"], b"", QUICK).assert_error("bad N", "N must be a number, not 'x'");
}
