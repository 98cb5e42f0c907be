//! The JIT log, in the style of PyPy's `PYPYLOG`: the environment variable
//! `METATRACE_LOG=CATEGORIES[:FILE]` selects what is written, and where.
//!
//! - `CATEGORIES`: comma-separated; each one selects the sections whose
//!   name is it or starts with it followed by `-` (`jit` selects
//!   everything, `jit-log-opt` both `jit-log-opt-loop` and
//!   `jit-log-opt-bridge`, `jit-log` the traces before and after the
//!   optimizer).
//! - `FILE`: the file to write (created or truncated when the VM starts);
//!   `-` or nothing: stderr.
//!
//! The sections (see `docs/jit.md` for examples):
//!
//! | section | when | what |
//! |---|---|---|
//! | `jit-log-noopt-loop` | a loop or entry bridge was traced | the trace as recorded |
//! | `jit-log-noopt-bridge` | a bridge was traced | the same |
//! | `jit-log-opt-loop` | a loop or entry bridge is compiled | its id, green key, sizes, times, the trace after the optimizer (`trace::format_trace`) |
//! | `jit-log-opt-bridge` | a bridge is compiled | the same, and the guard it starts from |
//! | `jit-log-short` | a peeled loop is compiled | its short preamble (what a bridge runs to enter it directly), or why it has none |
//! | `jit-abort` | tracing stops without a trace, or the backend refuses one | the reason, the green key or guard, what happens next (backoff, blacklist) |
//! | `jit-warning` | a green key or a guard is blacklisted | one line: what will not be traced again, and why |
//! | `jit-backend` | any trace is compiled | its machine code, disassembled |
//! | `jit-summary` | the VM exits normally | the counters of [`super::stats`], one `name: value` per line, then every blacklisted key or guard and the most frequent abort sites |
//! | `gc-summary` | the VM exits normally, if it made a GC heap (with the JIT off too) | the collector's counters (`gc::heap::summary`): collections, full ones, those the memory-pressure check asked for, the time the mutator was parked for them, heap and malloc bytes |
//!
//! Each section is written as
//!
//! ```text
//! {jit-log-opt-loop
//! ...
//! jit-log-opt-loop}
//! ```
//!
//! The summary is written once, by [`finish`]: the VMs call it
//! (`metatrace::__private::vm_exit()`) before returning from `main`, and
//! an `atexit` handler calls it for VMs that do not (a VM that dies of a
//! panic or a signal writes no summary).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

/// The environment variable that selects the log.
pub const ENV: &str = "METATRACE_LOG";

/// The section names the JIT writes.
pub const SECTIONS: &[&str] = &[
    "jit-log-noopt-loop",
    "jit-log-noopt-bridge",
    "jit-log-opt-loop",
    "jit-log-opt-bridge",
    "jit-log-short",
    "jit-abort",
    "jit-warning",
    "jit-backend",
    "jit-summary",
    "gc-summary",
];

struct Log {
    categories: Vec<String>,
    out: Mutex<Box<dyn Write + Send>>,
}

static LOG: OnceLock<Option<Log>> = OnceLock::new();
static FINISHED: AtomicBool = AtomicBool::new(false);

/// A parsed `METATRACE_LOG` value: the categories and the file (`None`:
/// stderr).
pub fn parse_spec(spec: &str) -> (Vec<String>, Option<String>) {
    let (cats, file) = match spec.split_once(':') {
        Some((c, f)) => (c, Some(f.trim())),
        None => (spec, None),
    };
    let categories = cats
        .split(',')
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .collect();
    let file = file
        .filter(|f| !f.is_empty() && *f != "-")
        .map(str::to_string);
    (categories, file)
}

/// Does a category of the spec select `section`?
pub fn selects(categories: &[String], section: &str) -> bool {
    categories.iter().any(|c| {
        section == c
            || (section.starts_with(c.as_str()) && section.as_bytes().get(c.len()) == Some(&b'-'))
    })
}

/// Reads `METATRACE_LOG` (once per process; later calls do nothing).
/// Called by `config::set_params` when the JIT is on. A file that
/// cannot be created is reported on stderr and the log is off.
pub fn init_from_env() {
    LOG.get_or_init(|| {
        let spec = std::env::var(ENV).ok()?;
        let (categories, file) = parse_spec(&spec);
        if categories.is_empty() {
            return None;
        }
        let out: Box<dyn Write + Send> = match &file {
            None => Box::new(std::io::stderr()),
            Some(path) => match File::create(path) {
                Ok(f) => Box::new(BufWriter::new(f)),
                Err(e) => {
                    eprintln!("metatrace: {ENV}: cannot create {path}: {e}; no JIT log");
                    return None;
                }
            },
        };
        if selects(&categories, "jit-summary") || selects(&categories, "gc-summary") {
            register_atexit();
        }
        Some(Log {
            categories,
            out: Mutex::new(out),
        })
    });
}

fn log() -> Option<&'static Log> {
    LOG.get().and_then(|l| l.as_ref())
}

/// Is `section` being logged? Cheap: check before building the text.
pub fn enabled(section: &str) -> bool {
    log().is_some_and(|l| selects(&l.categories, section))
}

/// Writes one section (if it is selected): `{name`, the text, `name}`.
pub fn section(name: &str, text: impl FnOnce() -> String) {
    let Some(l) = log() else { return };
    if !selects(&l.categories, name) {
        return;
    }
    let mut body = text();
    if !body.ends_with('\n') {
        body.push('\n');
    }
    let mut out = l.out.lock().unwrap_or_else(|e| e.into_inner());
    let _ = write!(out, "{{{name}\n{body}{name}}}\n");
    let _ = out.flush();
}

/// Writes the summary (if selected) and flushes the log; only the first
/// call does anything.
pub fn finish() {
    if FINISHED.swap(true, Ordering::AcqRel) {
        return;
    }
    // With the JIT off the log was never opened: the collector's summary
    // is still wanted (comparing `--jit off` with the JIT), the JIT's is not.
    let jit_on = LOG.get().is_some();
    // (No log without the variable: then nothing to format.)
    let asked = std::env::var_os(ENV).is_some();
    let gc = if asked {
        crate::gc::heap::summary()
    } else {
        String::new()
    };
    if !jit_on && asked && !gc.is_empty() {
        init_from_env();
    }
    if jit_on {
        section("jit-summary", || {
            super::stats().summary() + &super::stats::sites_summary()
        });
    }
    if !gc.is_empty() {
        section("gc-summary", || gc);
    }
    if let Some(l) = log() {
        let _ = l.out.lock().unwrap_or_else(|e| e.into_inner()).flush();
    }
}

#[cfg(unix)]
fn register_atexit() {
    extern "C" {
        fn atexit(f: extern "C" fn()) -> std::os::raw::c_int;
    }
    extern "C" fn at_exit() {
        let _ = std::panic::catch_unwind(finish);
    }
    // SAFETY: registers a plain function; `at_exit` never unwinds.
    unsafe {
        atexit(at_exit);
    }
}

#[cfg(not(unix))]
fn register_atexit() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_and_selection() {
        let (c, f) = parse_spec("jit-log-opt,jit-summary:/tmp/x.log");
        assert_eq!(c, ["jit-log-opt", "jit-summary"]);
        assert_eq!(f.as_deref(), Some("/tmp/x.log"));
        let (c, f) = parse_spec("jit");
        assert_eq!((c.as_slice(), f), (&["jit".to_string()][..], None));
        assert_eq!(parse_spec("jit-abort:-").1, None);
        assert!(selects(&c, "jit-summary") && selects(&c, "jit-log-opt-loop"));
        let c = vec!["jit-log".to_string()];
        assert!(selects(&c, "jit-log-opt-bridge"));
        assert!(!selects(&c, "jit-abort"));
        let c = vec!["jit-log-opt-loop".to_string()];
        assert!(selects(&c, "jit-log-opt-loop"));
        assert!(!selects(&c, "jit-log-opt-bridge"));
        let c = vec!["jit-back".to_string()];
        assert!(!selects(&c, "jit-backend"));
    }
}
