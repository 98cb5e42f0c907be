//! The Lox benchmarks: `../shared/programs/lox/test/benchmark`, run by the
//! Lox VM (`targets/lox`) and by clox built with `cc -O2`, side by side.
//!
//! Each program is run as a copy whose `clock()` calls are `0`, so that
//! its output is deterministic (the times it would print are measured
//! from outside, as every row is); the expected output is what clox
//! prints for that copy, so without a C compiler the Lox rows are skipped.
//! Where `luajit` and `pypy3` are installed, the ports of
//! `../shared/peers/lox-ports` run beside them (their clocks made 0 the
//! same way); the rows say "skipped" otherwise.
//! Left out: `string_equality.lox` (a compile error in clox: more than 256
//! constants) and `zoo_batch.lox` (it runs for 10 s of processor time and
//! reports how much it did, not how long it took).

use crate::baselines::Baselines;
use crate::configs::{Benchmark, Config, Kind, Selection, State};
use crate::vms::Vms;
use std::path::Path;
use std::process::Command;

/// The Lox VM's configurations: native and with the JIT.
const LOX_KINDS: &[Kind] = &[Kind::Off, Kind::Mode("jit")];

/// Measured by default; the others with `--all`.
const LOX_PROGRAMS: &[&str] = &["binary_trees.lox", "fib.lox", "method_call.lox"];
const LOX_PROGRAMS_ALL: &[&str] = &[
    "equality.lox",
    "instantiation.lox",
    "invocation.lox",
    "properties.lox",
    "trees.lox",
    "zoo.lox",
];

/// The Lox benchmarks selected, and messages about those skipped.
pub fn benchmarks(
    sel: &Selection,
    vms: &Vms,
    c: Result<&Baselines, &str>,
) -> (Vec<Benchmark>, Vec<String>) {
    let mut benches = Vec::new();
    let mut skipped = Vec::new();
    let extra: &[&str] = if sel.all { LOX_PROGRAMS_ALL } else { &[] };
    let wanted: Vec<&str> = LOX_PROGRAMS
        .iter()
        .chain(extra)
        .copied()
        .filter(|f| sel.filter.as_deref().is_none_or(|w| f.contains(w)))
        .collect();
    if wanted.is_empty() {
        return (benches, skipped);
    }
    let c = match c {
        Ok(c) => c,
        Err(why) => {
            skipped.push(format!(
                "skipping the Lox benchmarks: {why} (clox gives the expected output)"
            ));
            return (benches, skipped);
        }
    };
    let clox = match c.clox() {
        Ok(exe) => exe,
        Err(why) => {
            skipped.push(format!("skipping the Lox benchmarks: clox: {why}"));
            return (benches, skipped);
        }
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/programs/lox/test/benchmark");
    for file in wanted {
        match benchmark(&dir, file, vms, c.dir(), &clox) {
            Ok(b) => benches.push(b),
            Err(why) => skipped.push(format!("skipping {file}: {why}")),
        }
    }
    (benches, skipped)
}

fn benchmark(
    dir: &Path,
    file: &str,
    vms: &Vms,
    work_dir: &Path,
    clox: &Path,
) -> Result<Benchmark, String> {
    let source = dir.join(file);
    let text = std::fs::read_to_string(&source)
        .map_err(|e| format!("cannot read {}: {e}", source.display()))?;
    let program = work_dir.join(format!("noclock-{file}"));
    std::fs::write(&program, text.replace("clock()", "0"))
        .map_err(|e| format!("cannot write {}: {e}", program.display()))?;
    let out = Command::new(clox)
        .arg(&program)
        .output()
        .map_err(|e| format!("cannot run clox: {e}"))?;
    if !out.status.success() {
        return Err(format!("clox failed on it ({})", out.status));
    }
    let args = [program.clone().into_os_string()];
    let mut configs: Vec<Config> = LOX_KINDS
        .iter()
        .map(|&k| Config::vm("lox", &vms.lox, k, &args))
        .collect();
    configs.push(Config::new(
        "C: clox, cc -O2".to_string(),
        Kind::C,
        State::Ready(crate::configs::Cmd {
            program: clox.to_path_buf(),
            args: args.to_vec(),
        }),
    ));
    configs.extend(PORTS.iter().map(|p| port_config(p, file, work_dir)));
    Ok(Benchmark {
        name: format!("lox {file}"),
        stdin: None,
        expected: out.stdout,
        configs,
    })
}

/// A peer implementation that runs the Lox benchmarks' ports.
struct Port {
    label: &'static str,
    /// The executable, looked up on `PATH`.
    exe: &'static str,
    /// The ports' folder in `../shared/peers/lox-ports` and extension.
    dir: &'static str,
    /// The clock call the ports make, replaced by `0`.
    clock: &'static str,
}

const PORTS: &[Port] = &[
    Port {
        label: "LuaJIT (lox-ports)",
        exe: "luajit",
        dir: "lua",
        clock: "os.clock()",
    },
    Port {
        label: "PyPy (lox-ports)",
        exe: "pypy3",
        dir: "py",
        clock: "time.process_time()",
    },
];

/// The row of `port` for the Lox benchmark `file`: ready when its
/// executable is on `PATH` and the port exists, else skipped, saying why.
fn port_config(port: &Port, file: &str, work_dir: &Path) -> Config {
    let state = match port_cmd(port, file, work_dir) {
        Ok(cmd) => State::Ready(cmd),
        Err(why) => State::Skipped(why),
    };
    Config::new(port.label.to_string(), Kind::C, state)
}

fn port_cmd(port: &Port, file: &str, work_dir: &Path) -> Result<crate::configs::Cmd, String> {
    let exe = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(port.exe))
        .find(|p| p.is_file())
        .ok_or_else(|| format!("{} is not installed", port.exe))?;
    let stem = file.trim_end_matches(".lox");
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/peers/lox-ports")
        .join(port.dir)
        .join(format!("{stem}.{}", port.dir));
    let text = std::fs::read_to_string(&source)
        .map_err(|e| format!("cannot read {}: {e}", source.display()))?;
    let copy = work_dir.join(format!("noclock-{stem}.{}", port.dir));
    std::fs::write(&copy, text.replace(port.clock, "0"))
        .map_err(|e| format!("cannot write {}: {e}", copy.display()))?;
    Ok(crate::configs::Cmd {
        program: exe,
        args: vec![copy.into_os_string()],
    })
}
