//! `perf` support: with `METATRACE_PERF_MAP=1` in the environment, every
//! compiled trace (loop, preamble, entry bridge, bridge) is written to
//! `/tmp/perf-<pid>.map` in perf's "perf map" format, one line per trace:
//!
//! ```text
//! <hex start> <hex size> <name>
//! 7f51a2080000 98 metatrace loop 0 interp::interpret [10, 0x55aacc33dad0, 30]
//! 7f51a207e000 c4 metatrace bridge 3 from guard #4 of trace 1
//! ```
//!
//! `perf report` reads the file to attribute samples in JIT code to the
//! traces (`perf record ./vm prog; perf report --sort sym`). The file is
//! created on the first compilation and left in place when the process
//! exits (perf reads it afterwards). The environment is read once; when
//! the variable is not set, registering a trace is one atomic load.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

/// The environment variable that turns the perf map on (`1`).
pub const ENV: &str = "METATRACE_PERF_MAP";

static ON: OnceLock<bool> = OnceLock::new();
static FAILED: AtomicBool = AtomicBool::new(false);
static FILE: Mutex<Option<BufWriter<File>>> = Mutex::new(None);

/// Is the perf map being written? (Reads the environment the first time.)
pub fn enabled() -> bool {
    *ON.get_or_init(|| {
        std::env::var(ENV)
            .map(|v| {
                let v = v.trim();
                !v.is_empty() && v != "0"
            })
            .unwrap_or(false)
    }) && !FAILED.load(Ordering::Relaxed)
}

/// The path of this process's perf map.
pub fn path() -> String {
    format!("/tmp/perf-{}.map", std::process::id())
}

/// The perf map's name of a compiled trace: `metatrace <kind> <id> <what>`,
/// without the kind and `at` repeated from the driver's description
/// (`loop at interp::run [..]` → `metatrace loop 12 interp::run [..]`).
pub fn symbol(kind: &str, id: u32, what: &str) -> String {
    let rest = what.strip_prefix(kind).map(str::trim_start).unwrap_or(what);
    let rest = rest.strip_prefix("at ").unwrap_or(rest);
    let name = format!("metatrace {kind} {id} {rest}");
    // one line per symbol
    name.replace(['\n', '\r'], " ")
}

/// The line of the perf map for code at `addr`, `size` bytes.
pub fn line(addr: usize, size: usize, name: &str) -> String {
    format!("{addr:x} {size:x} {name}\n")
}

/// Records `size` bytes of machine code at `addr` as `name()` (built only
/// when the map is on). Failing to create or write the file is reported
/// once on stderr and turns the map off.
pub fn register(addr: usize, size: usize, name: impl FnOnce() -> String) {
    if !enabled() || size == 0 {
        return;
    }
    let text = line(addr, size, &name());
    let mut f = FILE.lock().unwrap_or_else(|e| e.into_inner());
    if f.is_none() {
        let p = path();
        match File::create(&p) {
            Ok(file) => *f = Some(BufWriter::new(file)),
            Err(e) => {
                eprintln!("metatrace: {ENV}: cannot create {p}: {e}; no perf map");
                FAILED.store(true, Ordering::Relaxed);
                return;
            }
        }
    }
    if let Some(w) = f.as_mut() {
        // flushed at once: perf reads the file after the process is gone,
        // whatever way it ended
        if let Err(e) = w.write_all(text.as_bytes()).and_then(|_| w.flush()) {
            eprintln!(
                "metatrace: {ENV}: cannot write {}: {e}; no perf map",
                path()
            );
            FAILED.store(true, Ordering::Relaxed);
            *f = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_lines() {
        assert_eq!(
            symbol("loop", 12, "loop at interp::run [215, 0x55d0]"),
            "metatrace loop 12 interp::run [215, 0x55d0]"
        );
        assert_eq!(
            symbol("bridge", 40, "bridge from guard #3 of trace 12"),
            "metatrace bridge 40 from guard #3 of trace 12"
        );
        assert_eq!(
            symbol("entry bridge", 2, "entry bridge at interp::run [7]"),
            "metatrace entry bridge 2 interp::run [7]"
        );
        assert_eq!(
            symbol("preamble", 1, "preamble of loop at interp::run [7]"),
            "metatrace preamble 1 of loop at interp::run [7]"
        );
        assert_eq!(
            line(0x7f51a2080000, 152, "metatrace loop 0 x"),
            "7f51a2080000 98 metatrace loop 0 x\n"
        );
    }
}
