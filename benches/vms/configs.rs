//! The benchmarks and the configurations each one runs in.

use crate::baselines::Baselines;
use crate::vms::Vms;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// `tlr square N`: one iteration of the loop per unit of N. At ~11 ns an
/// iteration natively, 300M iterations take ~3.5 s with `--jit off` on a
/// 2020s x86-64 (the brief: 2-5 s).
pub const TLR_N: i64 = 300_000_000;
/// The smaller N of the `--all` run in `mode=jitcode-only` (~100x slower
/// than native on tlr).
const TLR_SMALL_N: i64 = 2_000_000;
/// The classic Brainfuck programs measured by default, then with `--all`.
const BF_PROGRAMS: &[&str] = &["mandel.b"];
const BF_PROGRAMS_ALL: &[&str] = &["bench.b", "Factor.b", "Long.b"];

/// The JIT with the trace optimizer off: what the tracer and the backend
/// give alone.
const JIT_NO_OPT: &str = "jit,enable_opts=none";

/// What to measure, from the command line.
pub struct Selection {
    pub all: bool,
    pub tlr_n: i64,
    /// Only benchmarks whose name contains this.
    pub filter: Option<String>,
}

/// One program with its input and expected output, and the configurations
/// to run it in.
pub struct Benchmark {
    pub name: String,
    pub stdin: Option<PathBuf>,
    pub expected: Vec<u8>,
    pub configs: Vec<Config>,
}

pub struct Config {
    pub label: String,
    pub kind: Kind,
    pub state: State,
    /// Wall-clock seconds of the runs so far.
    pub times: Vec<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The VM with `--jit off`: the native interpreter, the reference of the
    /// speedup column.
    Off,
    /// The VM with `--jit mode=...` (`jit`, `jitcode-only`; more JIT
    /// parameters may follow: [`JIT_NO_OPT`]).
    Mode(&'static str),
    /// A C baseline (not a VM).
    C,
}

pub enum State {
    /// To be run.
    Ready(Cmd),
    /// The VM refuses the mode; the VM's message.
    NotAvailable(String),
    /// Not run, for a reason known before running.
    Skipped(String),
    /// A run failed or printed the wrong output: in short (for the table),
    /// and in full.
    Failed { what: String, details: String },
}

/// A command line to run.
pub struct Cmd {
    pub program: PathBuf,
    pub args: Vec<OsString>,
}

impl Config {
    pub fn new(label: String, kind: Kind, state: State) -> Config {
        Config {
            label,
            kind,
            state,
            times: Vec::new(),
        }
    }

    pub fn vm(vm_name: &str, vm: &Path, kind: Kind, args: &[OsString]) -> Config {
        let jit = match kind {
            Kind::Off => "off".to_string(),
            Kind::Mode(mode) => format!("mode={mode}"),
            Kind::C => unreachable!("a C baseline is not a VM"),
        };
        let mut all: Vec<OsString> = vec!["--jit".into(), jit.clone().into()];
        all.extend_from_slice(args);
        let cmd = Cmd {
            program: vm.to_path_buf(),
            args: all,
        };
        Config::new(format!("{vm_name} --jit {jit}"), kind, State::Ready(cmd))
    }
}

/// The benchmarks selected, and messages about those skipped.
pub fn suite(
    sel: &Selection,
    vms: &Vms,
    c: Result<&Baselines, &str>,
) -> (Vec<Benchmark>, Vec<String>) {
    let mut benches = Vec::new();
    let mut skipped = Vec::new();
    let wanted = |name: &str| sel.filter.as_deref().is_none_or(|f| name.contains(f));

    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/programs/bf");
    let extra: &[&str] = if sel.all { BF_PROGRAMS_ALL } else { &[] };
    for &file in BF_PROGRAMS.iter().chain(extra) {
        if wanted(file) {
            match bf_benchmark(&shared, file, vms, c) {
                Ok(b) => benches.push(b),
                Err(why) => skipped.push(format!("skipping {file}: {why}")),
            }
        }
    }

    let square = Path::new(env!("CARGO_MANIFEST_DIR")).join("targets/tlr/programs/square.tlr");
    let mut tlr = vec![(
        sel.tlr_n,
        &[Kind::Off, Kind::Mode("jit"), Kind::Mode(JIT_NO_OPT)][..],
    )];
    if sel.all {
        let modes = &[Kind::Off, Kind::Mode("jitcode-only"), Kind::Mode("jit")][..];
        tlr.push((TLR_SMALL_N, modes));
    }
    for (n, kinds) in tlr {
        let name = format!("tlr square {n}");
        if wanted(&name) {
            let args = [square.clone().into_os_string(), n.to_string().into()];
            benches.push(Benchmark {
                name,
                stdin: None,
                expected: format!("{}\n", n.wrapping_mul(n)).into_bytes(),
                configs: kinds
                    .iter()
                    .map(|&k| Config::vm("tlr", &vms.tlr, k, &args))
                    .collect(),
            });
        }
    }
    let (lox, lox_skipped) = crate::lox::benchmarks(sel, vms, c);
    benches.extend(lox);
    skipped.extend(lox_skipped);
    let (um, um_skipped) = crate::um::benchmarks(sel, vms, c);
    benches.extend(um);
    skipped.extend(um_skipped);
    (benches, skipped)
}

/// A program of `../shared/programs/bf`: `X.b`, its output `X.b.out` or
/// `X.out`, its input `X.in` if there is one.
fn bf_benchmark(
    dir: &Path,
    file: &str,
    vms: &Vms,
    c: Result<&Baselines, &str>,
) -> Result<Benchmark, String> {
    let program = dir.join(file);
    if !program.is_file() {
        return Err(format!("{} not found", program.display()));
    }
    let stem = file.strip_suffix(".b").unwrap_or(file);
    let expected_path = [format!("{file}.out"), format!("{stem}.out")]
        .into_iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!(
                "no expected output ({file}.out or {stem}.out) in {}",
                dir.display()
            )
        })?;
    let expected = std::fs::read(&expected_path)
        .map_err(|e| format!("cannot read {}: {e}", expected_path.display()))?;
    let stdin = Some(dir.join(format!("{stem}.in"))).filter(|p| p.is_file());

    let args = [program.clone().into_os_string()];
    let mut configs = vec![
        Config::vm("bf", &vms.bf, Kind::Off, &args),
        Config::vm("bf", &vms.bf, Kind::Mode("jit"), &args),
        Config::vm("bf", &vms.bf, Kind::Mode(JIT_NO_OPT), &args),
    ];
    let interp = c
        .map_err(str::to_string)
        .and_then(Baselines::interp)
        .map(|exe| Cmd {
            program: exe,
            args: args.to_vec(),
        });
    configs.push(Config::new(
        "C: bf.c interpreter, cc -O2".to_string(),
        Kind::C,
        ready_or_skipped(interp),
    ));
    let translated = c
        .map_err(str::to_string)
        .and_then(|c| c.bf2c(&program))
        .map(|exe| Cmd {
            program: exe,
            args: Vec::new(),
        });
    configs.push(Config::new(
        "C: bf2c translation, cc -O2".to_string(),
        Kind::C,
        ready_or_skipped(translated),
    ));
    Ok(Benchmark {
        name: file.to_string(),
        stdin,
        expected,
        configs,
    })
}

fn ready_or_skipped(cmd: Result<Cmd, String>) -> State {
    match cmd {
        Ok(cmd) => State::Ready(cmd),
        Err(why) => State::Skipped(why),
    }
}
