//! Comparing runs of a VM in two modes (`jit_modes.rs`, `jitcode_only.rs`).

use metatrace_testkit::vms::{excerpt, Run};

/// The arguments `--jit OPTS ARGS...`.
pub fn jit_args<'a>(opts: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec!["--jit", opts];
    a.extend_from_slice(args);
    a
}

/// How the runs `a` and `b` (named `a_name` and `b_name` in the messages)
/// differ: which of them timed out, else their exit status, stdout and
/// stderr; empty if they do not differ.
pub fn differences(a_name: &str, a: &Run, b_name: &str, b: &Run) -> Vec<String> {
    let timed_out: Vec<String> = [(a_name, a), (b_name, b)]
        .into_iter()
        .filter(|(_, r)| r.timed_out())
        .map(|(name, r)| format!("{name} timed out after {:.1?}", r.elapsed))
        .collect();
    if !timed_out.is_empty() {
        return timed_out;
    }
    let w = a_name.len().max(b_name.len());
    let mut d = Vec::new();
    if a.status != b.status {
        d.push(format!(
            "exit status: {a_name} {}, {b_name} {}",
            a.describe_status(),
            b.describe_status()
        ));
    }
    if a.stdout != b.stdout {
        d.push(format!(
            "stdout:\n  {a_name:<w$} {}\n  {b_name:<w$} {}",
            excerpt(&a.stdout),
            excerpt(&b.stdout)
        ));
    }
    if a.stderr != b.stderr {
        d.push(format!(
            "stderr:\n  {a_name:<w$} {:?}\n  {b_name:<w$} {:?}",
            a.stderr, b.stderr
        ));
    }
    d
}
