//! Differential tests of the jitcodes: every program runs twice on the same
//! VM, `--jit off` (the native interpreter) and `--jit mode=jitcode-only`
//! (the portal run entirely on its jitcodes by the blackhole interpreter),
//! and stdout, stderr and the exit status must be byte-identical.
//!
//! The blackhole is ~35 times slower than the native bf interpreter, so
//! this file runs the shared Brainfuck programs that take well under a
//! second natively, plus Factor.b (~2 s native); the slow ones (Collatz,
//! Counter, Life, Long, SelfInt, Mandelbrot, mandel: 3-16 s native, minutes
//! on jitcodes) are left to the JIT's tests, where the blackhole runs only
//! after guard failures.

mod compare;

use compare::{differences, jit_args};
use metatrace_testkit::vms::{
    bf_cases, excerpt, on_two_threads, run, shared_programs, stackvm_program, tlr_program, vms,
    workspace_root, write, Run, STACKVM_CASES, STACKVM_ERRORS, TLR_PORTAL_ERRORS,
};
use std::path::{Path, PathBuf};
use std::time::Duration;

const QUICK: Duration = Duration::from_secs(60);
/// For one jitcode-only run of the slower shared programs (and its native
/// twin).
const SLOW: Duration = Duration::from_secs(400);

/// The shared bf programs run here; the others are listed in `LEFT_OUT`.
const SHARED: &[&str] = &[
    "Beer.b", "Factor.b", "Golden.b", "Hello.b", "Hello2.b", "bench.b",
];
/// Too slow on jitcodes for this file (see the module doc), and
/// `cristofani-tests.b`, which is several programs in one (its pieces are
/// run by `bf_semantics_and_errors`).
const LEFT_OUT: &[&str] = &[
    "Collatz.b",
    "Counter.b",
    "Life.b",
    "Long.b",
    "Mandelbrot.b",
    "SelfInt.b",
    "cristofani-tests.b",
    "mandel.b",
];

/// Runs `vm` with `args` in both modes; `Err` describes every difference.
/// The native run's result is returned for further checks.
fn differential(vm: &Path, args: &[&str], stdin: &[u8], timeout: Duration) -> Result<Run, String> {
    let with = |mode: &str| run(vm, &jit_args(mode, args), stdin, timeout);
    let native = with("off");
    let jitcodes = with("mode=jitcode-only");
    let what = format!(
        "{} {}",
        vm.file_name().unwrap().to_string_lossy(),
        args.join(" ")
    );
    eprintln!(
        "{what:<60} native {:>6.2} s, jitcode-only {:>7.2} s",
        native.elapsed.as_secs_f64(),
        jitcodes.elapsed.as_secs_f64()
    );
    let problems = differences("native", &native, "jitcode-only", &jitcodes);
    if problems.is_empty() {
        Ok(native)
    } else {
        Err(format!("{what}: {}", problems.join("\n")))
    }
}

/// A differential run that must also succeed with the expected output.
fn expect_output(
    vm: &Path,
    args: &[&str],
    stdin: &[u8],
    timeout: Duration,
    expected: &[u8],
) -> Result<(), String> {
    let native = differential(vm, args, stdin, timeout)?;
    if native.code() != Some(0) {
        return Err(format!(
            "{args:?}: {} ({})",
            native.describe_status(),
            native.stderr
        ));
    }
    if native.stdout != expected {
        return Err(format!(
            "{args:?}: wrong output (both modes):\n  got      {}\n  expected {}",
            excerpt(&native.stdout),
            excerpt(expected)
        ));
    }
    Ok(())
}

fn bf_programs(dir: &Path, names: Option<&[&str]>, timeout: Duration) {
    let (mut cases, without_out) = bf_cases(dir);
    if let Some(names) = names {
        let all: Vec<String> = cases
            .iter()
            .map(|c| c.name.clone())
            .chain(without_out)
            .collect();
        let unknown: Vec<&String> = all
            .iter()
            .filter(|n| !names.contains(&n.as_str()) && !LEFT_OUT.contains(&n.as_str()))
            .collect();
        assert!(
            unknown.is_empty(),
            "new programs in {}: add them to SHARED or LEFT_OUT: {unknown:?}",
            dir.display()
        );
        cases.retain(|c| names.contains(&c.name.as_str()));
        assert_eq!(
            cases.len(),
            names.len(),
            "missing programs in {}",
            dir.display()
        );
        eprintln!(
            "not run on jitcodes here (too slow for the blackhole alone): {}",
            LEFT_OUT.join(", ")
        );
    } else {
        assert!(without_out.is_empty(), "without .out: {without_out:?}");
    }
    assert!(!cases.is_empty(), "no programs in {}", dir.display());
    // The slowest first, so that the two threads end together.
    cases.sort_by_key(|c| std::cmp::Reverse(std::fs::metadata(&c.program).unwrap().len()));
    let bf = vms().bf.clone();
    let failures = on_two_threads(cases, |case| {
        let program = case.program.to_string_lossy().into_owned();
        expect_output(&bf, &[&program], &case.input, timeout, &case.expected)
            .map_err(|e| format!("{}: {e}", case.name))
    });
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
}

#[test]
fn bf_own_programs() {
    bf_programs(&workspace_root().join("targets/bf/programs"), None, QUICK);
}

#[test]
fn bf_shared_programs() {
    let Some(dir) = shared_programs("bf") else {
        return;
    };
    bf_programs(&dir, Some(SHARED), SLOW);
}

/// Semantics corners (wrap-around, a tape growing through the residual
/// call, end of input) and error paths: an error returned from the portal
/// must come out the same, after the same output.
#[test]
fn bf_semantics_and_errors() {
    let bf = &vms().bf;
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let mut failures = Vec::new();
    let mut check = |args: &[&str], stdin: &[u8], expected: Option<&[u8]>| {
        let r = match expected {
            Some(out) => expect_output(bf, args, stdin, QUICK, out),
            None => differential(bf, args, stdin, QUICK).map(|_| ()),
        };
        if let Err(e) = r {
            failures.push(e);
        }
    };
    let wrap = write(
        d,
        "wrap.b",
        b"-.+.>++++++++[<++++++++++++++++++++++++++++++++>-]<.",
    );
    check(&[&wrap], b"", Some(&[255, 0, 0]));
    let far = write(
        d,
        "far.b",
        format!("{}{}.", ">".repeat(70000), "+".repeat(65)).as_bytes(),
    );
    check(&[&far], b"", Some(b"A"));
    let steps = write(
        d,
        "steps.b",
        format!(">{}<[<]>{}.[>]<.", "+>".repeat(35000), "+".repeat(64)).as_bytes(),
    );
    check(&[&steps], b"", Some(&[65, 1]));
    let eof = write(d, "eof.b", b"+++++++++++++++++++++++++++++++++,.,.,.");
    check(&[&eof], b"a", Some(b"aaa"));
    let echo = write(d, "echo.b", b",[.[-],]");
    check(&[&echo], b"some input\n", Some(b"some input\n"));

    // Moving left of cell 0, after some output: exit 1, same message.
    let left = write(d, "left.b", b"+++++++++++++++++++++++++++++++++.>>\n<<<");
    check(&[&left], b"", None);
    let r = run(bf, &["--jit", "mode=jitcode-only", &left], b"", QUICK);
    r.assert_error(
        "left of cell 0",
        &format!("'<' moved left of cell 0 at {left}:2:3 (byte offset 39)"),
    );
    assert_eq!(r.stdout, b"!");
    let left2 = write(d, "left2.b", b"+[<+]");
    check(&[&left2], b"", None);
    // Errors before the portal runs are the same too.
    let open = write(d, "open.b", b"[[]");
    check(&[&open], b"", None);
    let missing = d.join("missing.b");
    check(&[missing.to_str().unwrap()], b"", None);
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
}

#[test]
fn tlr_programs() {
    let tlr = &vms().tlr;
    let mut jobs: Vec<(Vec<String>, &str)> = Vec::new();
    for (p, n, out) in [
        ("square.tlr", "1", "1\n"),
        ("square.tlr", "10", "100\n"),
        ("square.tlr", "3000", "9000000\n"),
        ("sum.tlr", "0", "0\n"),
        ("sum.tlr", "10", "55\n"),
        ("sum.tlr", "1000000", "500000500000\n"),
        ("fib.tlr", "0", "0\n"),
        ("fib.tlr", "1", "1\n"),
        ("fib.tlr", "10", "55\n"),
        ("fib.tlr", "90", "2880067194370816120\n"),
        // i64 wrap-around
        ("fib.tlr", "93", "-6246583658587674878\n"),
        ("fib.tlr", "100", "3736710778780434371\n"),
    ] {
        jobs.push((vec![tlr_program(p), n.to_string()], out));
    }
    let failures = on_two_threads(jobs, |(args, out)| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        expect_output(tlr, &args, b"", QUICK, out.as_bytes())
    });
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
}

/// Every way a TLR program fails inside the portal (and one before it)
/// gives the same message and status on jitcodes.
#[test]
fn tlr_errors() {
    let tlr = &vms().tlr;
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let cases = TLR_PORTAL_ERRORS;
    let mut failures = Vec::new();
    for (name, src, needle) in cases {
        let p = write(d, name, src);
        match differential(tlr, &[&p, "5"], b"", QUICK) {
            Ok(native) => {
                native.assert_error(name, needle);
            }
            Err(e) => failures.push(e),
        }
    }
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
}

/// Every mode runs on VMs with jitcodes (`auto`, the default, is `jit`);
/// bad modes and parameters are refused with the valid ones listed.
#[test]
fn jit_modes_on_vms_with_jitcodes() {
    let square = tlr_program("square.tlr");
    let hello: PathBuf = workspace_root().join("targets/bf/programs/hello.b");
    let hello = hello.to_str().unwrap();
    for (vm, args) in [
        (&vms().tlr, vec![square.as_str(), "10"]),
        (&vms().bf, vec![hello]),
    ] {
        let with = |opts: &str| run(vm, &jit_args(opts, &args), b"", QUICK);
        let reference = with("off");
        reference.assert_success("off");
        for mode in ["mode=jit", "mode=auto", "default", "mode=jitcode-only"] {
            let r = with(mode);
            r.assert_success(mode);
            assert_eq!(r.stdout, reference.stdout, "{mode}");
        }
        with("mode=turbo")
            .assert_error("mode=turbo", "valid modes: native, jitcode-only, jit, auto");
        with("speed=11").assert_error(
            "speed=11",
            "unknown JIT parameter 'speed'; valid: threshold=",
        );
        // The last --jit option wins.
        with("mode=jit,mode=jitcode-only").assert_success("mode=jit,mode=jitcode-only");
        with("mode=jitcode-only,off").assert_success("mode=jitcode-only,off");
    }
}

/// `targets/stackvm`: enums stored into a `Vec`, a struct field and an
/// enum of rustc's layout, push/pop and the other Vec methods, on
/// jitcodes as natively.
#[test]
fn stackvm_programs() {
    let vm = &vms().stackvm;
    let mut failures = Vec::new();
    for &(p, n, expected) in STACKVM_CASES {
        let path = stackvm_program(p);
        if let Err(e) = expect_output(vm, &[&path, n], b"", QUICK, expected.as_bytes()) {
            failures.push(e);
        }
    }
    for &(p, n, line) in STACKVM_ERRORS {
        let path = stackvm_program(p);
        match differential(vm, &[&path, n], b"", QUICK) {
            Ok(native) if native.code() == Some(1) && native.stderr == line => {}
            Ok(native) => failures.push(format!(
                "{p} {n}: {} {:?}",
                native.describe_status(),
                native.stderr
            )),
            Err(e) => failures.push(e),
        }
    }
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
}
