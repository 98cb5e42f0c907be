//! Traces longer than `trace_limit`, end to end (docs/jit.md, "Traces too
//! long"): a Lox loop whose iteration is longer than the limit
//! (`targets/lox/programs/long_iteration.lox`) compiles in pieces. Its
//! traces are cut at merge points and bridged from their exits; nothing
//! aborts for being too long, no key or guard is blacklisted, and the
//! output is the native one in every mode, under `--gc stress` too (the
//! loop allocates). The same for the UM's programs is in `tests/um.rs`
//! (its `trace_limit=40` mode), and the tracer's cuts at every length in
//! `runtime/tests/tracer.rs`.

use metatrace_testkit::vms::{lox, run, run_with_summary, unexpected_aborts, workspace_root, Run};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(240);

/// Status, stdout and stderr, for comparing a run with the native one.
fn outcome(r: &Run) -> (Option<i32>, &[u8], &str) {
    (r.code(), r.stdout.as_slice(), r.stderr.as_str())
}

#[test]
fn lox_iterations_longer_than_the_trace_limit_compile_in_pieces() {
    let vm = lox();
    let path = workspace_root().join("targets/lox/programs/long_iteration.lox");
    let path = path.to_str().unwrap();
    let native = run(vm, &["--jit", "off", path], b"", TIMEOUT);
    native.assert_success("native");
    let only = run(vm, &["--jit", "mode=jitcode-only", path], b"", TIMEOUT);
    assert_eq!(outcome(&only), outcome(&native), "jitcode-only");
    let lowest = "mode=jit,threshold=1,trace_eagerness=1,trace_limit=100";
    for args in [
        vec!["--jit", "trace_limit=100", path],
        vec!["--jit", lowest, path],
        vec![
            "--jit",
            "mode=jit,threshold=2,trace_eagerness=1,trace_limit=60",
            path,
        ],
        vec!["--jit", lowest, "--gc", "stress", path],
    ] {
        let (r, s) = run_with_summary(vm, &args, b"", TIMEOUT);
        let counter = |name: &str| s.get(name).copied().unwrap_or(0);
        assert_eq!(outcome(&r), outcome(&native), "{args:?}");
        assert!(
            counter("traces_cut") > 0 && counter("bridges") > 0,
            "{args:?}: {s:?}"
        );
        assert_eq!(counter("aborts.too_long"), 0, "{args:?}: {s:?}");
        assert_eq!(
            counter("keys_blacklisted") + counter("guards_blacklisted"),
            0,
            "{args:?}: {s:?}"
        );
        assert!(unexpected_aborts(&s).is_empty(), "{args:?}: {s:?}");
    }
    // At the default limit the iteration fits: a loop, nothing cut.
    let (r, s) = run_with_summary(vm, &[path], b"", TIMEOUT);
    assert_eq!(outcome(&r), outcome(&native), "default");
    assert!(s["loops"] > 0 && s["traces_cut"] == 0, "{s:?}");
}
