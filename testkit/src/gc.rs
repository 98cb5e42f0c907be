//! Running GC tests in child processes. The GC heap is one per process,
//! bound to one thread and created with one plan, while the test harness
//! runs tests on several threads of one process: so each GC scenario is
//! an ignored test that a parent test runs in a child process of the same
//! test binary, once per plan or option set.
//!
//! ```ignore
//! #[test]
//! #[ignore = "run in a child process by `scenario_per_plan`"]
//! fn child_scenario() {
//!     let Some(options) = child_options() else { return };
//!     metatrace_runtime::gc::configure(&options).unwrap();
//!     // ... allocate, collect, assert ...
//! }
//!
//! #[test]
//! fn scenario_per_plan() {
//!     for plan in PLANS {
//!         run_child("child_scenario", &format!("plan={plan}"));
//!     }
//! }
//! ```

use metatrace_runtime::gc::GcOptions;
use metatrace_runtime::options::OptionList;
use std::process::Command;

/// The environment variable that carries the child's `--gc` options.
pub const CHILD_ENV: &str = "METATRACE_GC_TEST_CHILD";

/// Every plan `--gc plan=` accepts.
pub const PLANS: [&str; 3] = ["stickyimmix", "immix", "marksweep"];

/// In a child process: the GC options its parent asked for. `None` when
/// the ignored test was run directly (it should then do nothing).
pub fn child_options() -> Option<GcOptions> {
    let opts = std::env::var(CHILD_ENV).ok()?;
    Some(GcOptions::parse(&opts).unwrap_or_else(|e| panic!("{CHILD_ENV}={opts}: {e}")))
}

/// In a child process: configures the heap with the options its parent
/// asked for and returns them; `None` when the ignored test was run
/// directly (it should then do nothing).
pub fn configure_child() -> Option<GcOptions> {
    let options = child_options()?;
    metatrace_runtime::gc::configure(&options).unwrap_or_else(|e| panic!("{e}"));
    Some(options)
}

/// What follows `marker` on the first line of a child's output that has
/// it (a figure the child printed), or `""`.
pub fn child_figure<'a>(out: &'a str, marker: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.split_once(marker))
        .map_or("", |(_, figure)| figure)
}

/// Runs the ignored test `name` of the current test binary in a child
/// process with GC options `options`; panics with the child's output if
/// it fails. Returns the child's stdout (what it printed with
/// `--nocapture`).
pub fn run_child(name: &str, options: &str) -> String {
    let out = run_child_output(name, options);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{name} with --gc {options}: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    stdout
}

/// Runs the ignored test `name` in a child process as [`run_child`]
/// does, and returns how it ended, whatever that was.
pub fn run_child_output(name: &str, options: &str) -> std::process::Output {
    let exe = std::env::current_exe().expect("the test binary's path");
    Command::new(exe)
        .args([
            name,
            "--exact",
            "--ignored",
            "--test-threads=1",
            "--nocapture",
        ])
        .env(CHILD_ENV, options)
        .output()
        .expect("cannot run the test binary")
}

/// Overwrites the stack below the caller's frame with zeros, so that words
/// left there by returned calls (the frames that built some garbage) do
/// not keep it alive through the conservative stack scan.
#[inline(never)]
pub fn clobber_stack() {
    let mut a = [0usize; 8192];
    std::hint::black_box(&mut a);
}

/// The process's peak resident set size in KiB (`VmHWM`), if known.
pub fn max_rss_kib() -> Option<u64> {
    status_kib("VmHWM:")
}

/// The process's peak virtual size in KiB (`VmPeak`), if known.
pub fn max_virtual_kib() -> Option<u64> {
    status_kib("VmPeak:")
}

fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
