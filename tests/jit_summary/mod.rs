//! The JIT's summary as the tests of `jit_modes.rs` read it: a run of a
//! VM with `METATRACE_LOG=jit-summary:FILE`, and its counters by name.

use crate::compare::jit_args;
use metatrace_testkit::vms::{run_env, Run};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// Aborts that happen in correct runs: a trace longer than `trace_limit`,
/// a trace that reaches the portal's return (a loop's last iteration), a
/// bridge that goes round a loop that has no compiled code yet.
const EXPECTED_ABORTS: &[&str] = &["too_long", "portal_returned", "no_target_loop"];

/// A JIT summary: the `name: value` lines of the `jit-summary` section.
#[derive(Debug, Default)]
pub struct Summary(pub BTreeMap<String, String>);

impl Summary {
    pub fn parse(log: &str) -> Result<Summary, String> {
        let start = log
            .find("{jit-summary\n")
            .ok_or_else(|| format!("no jit-summary section in {log:?}"))?;
        let body = &log[start + "{jit-summary\n".len()..];
        let end = body
            .find("jit-summary}")
            .ok_or_else(|| "unterminated jit-summary".to_string())?;
        let mut map = BTreeMap::new();
        for line in body[..end].lines() {
            let (k, v) = line
                .split_once(": ")
                .ok_or_else(|| format!("summary line without `: `: {line:?}"))?;
            map.insert(k.to_string(), v.to_string());
        }
        Ok(Summary(map))
    }

    pub fn get(&self, name: &str) -> u64 {
        match self.0.get(name) {
            Some(v) => v
                .parse()
                .unwrap_or_else(|_| panic!("summary {name}: {v:?} is not a count")),
            None => panic!("no `{name}` in the summary {:?}", self.0),
        }
    }

    /// Loops and entry bridges compiled.
    pub fn loops(&self) -> u64 {
        self.get("loops") + self.get("entry_bridges")
    }

    /// The aborts whose reason is not in [`EXPECTED_ABORTS`].
    pub fn unexpected_aborts(&self) -> Vec<String> {
        self.0
            .iter()
            .filter_map(|(k, v)| {
                let reason = k.strip_prefix("aborts.")?;
                (v != "0" && !EXPECTED_ABORTS.contains(&reason)).then(|| format!("{reason}: {v}"))
            })
            .collect()
    }

    pub fn short(&self) -> String {
        let keys = [
            "loops",
            "entry_bridges",
            "bridges",
            "aborts",
            "guard_failures",
            "blackhole_runs",
        ];
        keys.iter()
            .map(|k| format!("{k} {}", self.0.get(*k).map(String::as_str).unwrap_or("?")))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Runs `vm --jit OPTS ARGS...` with the summary written to a temporary
/// file; the run and the summary (an empty one for `off` and
/// `mode=jitcode-only`, which write none).
pub fn jit_run(
    vm: &Path,
    opts: &str,
    args: &[&str],
    stdin: &[u8],
    timeout: Duration,
) -> (Run, Summary) {
    let (r, summary, _) = jit_run_log(vm, opts, args, stdin, timeout, "jit-summary");
    (r, summary)
}

/// [`jit_run`] with the log categories `categories` (`jit-summary` among
/// them): the run, the summary and the whole log.
pub fn jit_run_log(
    vm: &Path,
    opts: &str,
    args: &[&str],
    stdin: &[u8],
    timeout: Duration,
    categories: &str,
) -> (Run, Summary, String) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("jit.log");
    let spec = format!("{categories}:{}", log.display());
    let r = run_env(
        vm,
        &jit_args(opts, args),
        &[("METATRACE_LOG", &spec)],
        stdin,
        timeout,
    );
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let summary = if !text.is_empty() && !r.timed_out() && r.code() != Some(101) {
        Summary::parse(&text).unwrap_or_else(|e| panic!("{} {opts} {args:?}: {e}", vm.display()))
    } else {
        Summary::default()
    };
    (r, summary, text)
}
