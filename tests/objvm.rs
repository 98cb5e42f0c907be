//! `targets/objvm`: `Gc`, `GcCell` and `Cell` in traced code (DESIGN §7,
//! §8). Every program gives the native output natively, on jitcodes only
//! and with the JIT at low thresholds, each with the default collector and
//! with `--gc stress` (a collection at every allocation, so that any
//! object the JIT, the blackhole or the tracer holds without the collector
//! knowing is freed or moved under it). The JIT summaries show that the
//! loops compiled, that no trace aborted for an unexpected reason, and
//! that the virtuals pass removed `sum2`'s temporary object while the
//! pairs that escape into registers of the machine stay allocations.

use metatrace_testkit::vms::{
    excerpt, objvm, objvm_program, run, run_with_summary, unexpected_aborts, Run,
};
use std::collections::BTreeMap;
use std::time::Duration;

const QUICK: Duration = Duration::from_secs(60);

/// Program, argument, expected stdout.
const CASES: &[(&str, &str, &str)] = &[
    ("list.ovm", "10", "90\n20\n=> 2\n"),
    ("list.ovm", "3000", "8997000\n6000\n=> 2\n"),
    ("cycle.ovm", "10", "(1 2 3 1 2 3 1 2 ...)\n19\n1\n=> 5\n"),
    (
        "cycle.ovm",
        "3000",
        "(1 2 3 1 2 3 1 2 ...)\n6000\n1\n=> 1001\n",
    ),
    ("lists.ovm", "10", "(9 10 11)\n=> 165\n"),
    ("lists.ovm", "3000", "(2999 3000 3001)\n=> 13504500\n"),
    (
        "trees.ovm",
        "10",
        "(((9 . 10) 11 . 12) (13 . 14) 15 . 16)\n=> 45\n",
    ),
    (
        "trees.ovm",
        "3000",
        "(((2999 . 3000) 3001 . 3002) (3003 . 3004) 3005 . 3006)\n=> 4498500\n",
    ),
    ("sum2.ovm", "10", "=> 45\n"),
    ("sum2.ovm", "3000", "=> 4498500\n"),
];

/// The JIT at low thresholds: loops traced at their second
/// `can_enter_jit`, every failing guard bridged.
const LOW: &str = "mode=jit,threshold=2,trace_eagerness=1";

fn objvm_run(args: &[&str]) -> (Run, BTreeMap<String, u64>) {
    run_with_summary(objvm(), args, b"", QUICK)
}

#[test]
fn objvm_programs_in_every_mode_and_under_gc_stress() {
    let mut failures = Vec::new();
    let mut summaries = BTreeMap::new();
    for &(p, n, expected) in CASES {
        let path = objvm_program(p);
        for jit in ["off", "mode=jitcode-only", LOW] {
            for gc in ["default", "stress"] {
                let what = format!("objvm --jit {jit} --gc {gc} {p} {n}");
                let (r, s) = objvm_run(&["--jit", jit, "--gc", gc, &path, n]);
                if r.code() != Some(0) || r.stdout != expected.as_bytes() {
                    failures.push(format!(
                        "{what}: {}: got {} (stderr {})",
                        r.describe_status(),
                        excerpt(&r.stdout),
                        r.stderr
                    ));
                    continue;
                }
                if jit == LOW {
                    summaries.insert((p, n, gc), s);
                }
            }
        }
    }
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
    for ((p, n, gc), s) in &summaries {
        let what = format!("{p} {n} --gc {gc}: {s:?}");
        // Every loop of these programs runs at least 10 times: compiled.
        assert!(s["loops"] >= 1, "{what}");
        let unexpected = unexpected_aborts(s);
        assert!(unexpected.is_empty(), "{what}");
    }
    // `sum2`'s accumulator never escapes: traced as a `new` every
    // iteration, compiled without one. The pairs of `list` and `cycle`
    // are stored into the machine's registers: they stay allocations.
    for gc in ["default", "stress"] {
        let s = &summaries[&("sum2.ovm", "3000", gc)];
        assert_eq!(s["allocs_compiled"], 0, "sum2 --gc {gc}: {s:?}");
        let s = &summaries[&("list.ovm", "3000", gc)];
        assert!(s["allocs_compiled"] >= 1, "list --gc {gc}: {s:?}");
    }
}

/// Compiled code allocates `list`'s pairs inline (a bump of the
/// collector's cursor), and the buffer running out in compiled code takes
/// the call that may collect: in a heap a tenth of the list's size, the
/// collector runs many times under compiled code and the list survives.
/// `--gc stress` and MarkSweep always call.
#[test]
fn compiled_code_allocates_inline_and_collects_when_the_buffer_is_full() {
    let path = objvm_program("list.ovm");
    // 200000 pairs of 64 bytes: 12.8 MB live at the end.
    let want = "39999800000\n400000\n=> 2\n";
    for (gc, inline) in [
        ("default", true),
        ("plan=immix", true),
        ("stress", false),
        ("plan=marksweep", false),
    ] {
        let n = if gc == "stress" { "3000" } else { "200000" };
        let (r, s) = objvm_run(&["--jit", LOW, "--gc", gc, &path, n]);
        let what = format!("list {n} --gc {gc}: {s:?}");
        r.assert_success(&what);
        if n == "200000" {
            assert_eq!(String::from_utf8_lossy(&r.stdout), want, "{what}");
        }
        assert!(s["allocs_compiled"] >= 1, "{what}");
        assert_eq!(s["allocs_inline"] >= 1, inline, "{what}");
    }
    // `lists` makes 3,000,000 pairs (192 MB), nearly all garbage at
    // once, in a 16 MB heap: the buffer runs out inside compiled code
    // again and again, and the collector runs under it.
    let lists = objvm_program("lists.ovm");
    let args = ["--jit", LOW, "--gc", "heap=16M", &lists, "1000000"];
    let (r, s) = objvm_run(&args);
    r.assert_success("lists --gc heap=16M");
    let want = "(999999 1000000 1000001)\n=> 1500001500000\n";
    assert_eq!(String::from_utf8_lossy(&r.stdout), want, "{s:?}");
    assert!(s["allocs_inline"] >= 3, "{s:?}");
}

/// A run-time type error (`car` of an integer) stops every mode the same
/// way, from inside compiled code too.
#[test]
fn objvm_type_error_in_every_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.ovm");
    std::fs::write(
        &path,
        "int r1 0\nint r2 1\nnil r3\nloop:\ncons r3 r1 r3\nadd r1 r1 r2\njlt r1 r7 loop\ncar r0 r1\n",
    )
    .unwrap();
    let path = path.to_string_lossy().into_owned();
    let native = run(objvm(), &["--jit", "off", &path, "100"], b"", QUICK);
    assert_eq!(
        (native.code(), native.stderr.as_str()),
        (Some(1), "error: type error at instruction 6\n")
    );
    for jit in ["mode=jitcode-only", LOW] {
        for gc in ["default", "stress"] {
            let r = run(
                objvm(),
                &["--jit", jit, "--gc", gc, &path, "100"],
                b"",
                QUICK,
            );
            assert_eq!(
                (r.code(), r.stderr.as_str(), r.stdout.as_slice()),
                (
                    native.code(),
                    native.stderr.as_str(),
                    native.stdout.as_slice()
                ),
                "--jit {jit} --gc {gc}"
            );
        }
    }
}
