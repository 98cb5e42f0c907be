//! `cargo bench --bench vms`: the speed of the metatrace VMs, as ratios
//! measured side by side in one invocation (`../shared/DESIGN.md` §6).
//!
//! Builds the VMs in release, runs every benchmark in every configuration
//! (`--jit off`, `--jit mode=jit`, for Brainfuck two C baselines, for Lox
//! clox, for the Universal Machine a C UM),
//! interleaved, for a number of rounds, checks every run's output, and
//! prints a table of medians and speedups against `--jit off`. The usage
//! is in `USAGE` below and in docs/benchmarks.md.

mod baselines;
mod bf2c;
mod configs;
mod lox;
mod machine;
mod runner;
mod table;
mod um;
mod vms;

use baselines::Baselines;
use configs::{Benchmark, Kind, Selection, State};
use std::process::ExitCode;
use table::{Cells, Row};

const USAGE: &str = "\
usage: cargo bench --bench vms -- [OPTIONS] [FILTER]

Measures the metatrace VMs (bf, tlr, lox, um) against their own `--jit off`
and against C (Brainfuck: a C interpreter and bf2c; Lox: clox; UM: um.c on
sandmark). Every run's output is checked.

options:
  --rounds N   run every configuration N times, interleaved (default 5)
  --quick      one round: a smoke test of the harness, not a measurement
  --all        also the other Brainfuck programs (bench.b, Factor.b, Long.b),
               tlr square with a small n in mode=jitcode-only, and the other
               Lox benchmarks
  --tlr-n N    the n of `tlr square` (default 300000000)
  -h, --help   print this help
FILTER         run only the benchmarks whose name contains FILTER
";

struct Options {
    rounds: usize,
    selection: Selection,
}

fn parse_args() -> Result<Option<Options>, String> {
    let mut rounds = 5;
    let mut selection = Selection {
        all: false,
        tlr_n: configs::TLR_N,
        filter: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |what: &str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs {what}"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            // cargo bench passes `--bench` to every harness = false bench.
            "--bench" => {}
            "--quick" => rounds = 1,
            "--all" => selection.all = true,
            "--rounds" => {
                let v = value("a number of rounds")?;
                rounds = v
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| format!("--rounds needs a positive number, not '{v}'"))?;
            }
            "--tlr-n" => {
                let v = value("a number")?;
                selection.tlr_n = v
                    .parse()
                    .map_err(|_| format!("--tlr-n needs an integer (i64), not '{v}'"))?;
            }
            f if f.starts_with('-') => return Err(format!("unknown option '{f}'")),
            _ if selection.filter.is_none() => selection.filter = Some(arg),
            _ => return Err(format!("unexpected argument '{arg}' (one FILTER at most)")),
        }
    }
    Ok(Some(Options { rounds, selection }))
}

fn main() -> ExitCode {
    let opts = match parse_args() {
        Ok(Some(opts)) => opts,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&opts) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Measures and prints the table; `Ok(false)` if some run failed.
fn run(opts: &Options) -> Result<bool, String> {
    let vms = vms::build()?;
    let work_dir = vms
        .bf
        .parent()
        .map_or_else(|| "bench-vms".into(), |d| d.join("bench-vms"));
    std::fs::create_dir_all(&work_dir)
        .map_err(|e| format!("cannot create {}: {e}", work_dir.display()))?;

    let cc = Baselines::find_cc();
    let header = machine::describe(cc.as_ref().map(|cc| cc.join(" ")).as_deref());
    let c = match cc {
        Some(cc) => Ok(Baselines::new(cc, work_dir.clone())),
        None => Err("no C compiler (`cc`, or $CC) found".to_string()),
    };
    let (mut benches, skipped) =
        configs::suite(&opts.selection, &vms, c.as_ref().map_err(|e| e.as_str()));
    for s in &skipped {
        eprintln!("{s}");
    }
    if benches.is_empty() {
        return Err("no benchmark to run".to_string());
    }

    let plural = if opts.rounds == 1 { "" } else { "s" };
    eprintln!("== {} round{plural}, interleaved", opts.rounds);
    runner::run_rounds(&mut benches, opts.rounds, &work_dir);

    println!();
    for line in header {
        println!("{line}");
    }
    println!(
        "rounds:  {} (times are wall-clock seconds per run of a whole process){}",
        opts.rounds,
        if opts.rounds == 1 {
            "; --quick: a smoke test, not a measurement"
        } else {
            ""
        }
    );
    println!();
    print!("{}", table::render(&rows(&benches)));
    println!(
        "speedup = median of the VM's `--jit off` / median of the configuration (> 1: faster);"
    );
    println!("spread = (max - min) / median.");
    for s in &skipped {
        println!("{s}");
    }
    let notes = notes(&benches);
    for n in &notes.lines {
        println!("{n}");
    }
    if notes.failed > 0 {
        println!(
            "FAILED: {} configuration(s), details above on stderr",
            notes.failed
        );
    }
    Ok(notes.failed == 0)
}

fn rows(benches: &[Benchmark]) -> Vec<Row> {
    let mut rows = Vec::new();
    for b in benches {
        let off = b
            .configs
            .iter()
            .find(|c| c.kind == Kind::Off && matches!(c.state, State::Ready(_)))
            .and_then(|c| runner::stats(&c.times))
            .map(|s| s.median);
        for c in &b.configs {
            let cells = match &c.state {
                State::Ready(_) => match runner::stats(&c.times) {
                    Some(s) => Cells::Measured {
                        median: s.median,
                        min: s.min,
                        spread: (s.runs > 1).then(|| (s.max - s.min) / s.median),
                        speedup: off.map(|off| off / s.median),
                    },
                    None => Cells::Text("no runs".to_string()),
                },
                State::NotAvailable(_) => Cells::Text(match c.kind {
                    Kind::Mode("jit") => "n/a (JIT not available in this VM)".to_string(),
                    Kind::Mode(mode) => format!("n/a (mode={mode} not available in this VM)"),
                    _ => "n/a".to_string(),
                }),
                State::Skipped(why) => Cells::Text(format!(
                    "skipped: {}",
                    why.lines().next().unwrap_or_default()
                )),
                State::Failed { what, .. } => {
                    Cells::Text(format!("FAILED: {what} (details on stderr)"))
                }
            };
            rows.push(Row {
                bench: b.name.clone(),
                config: c.label.clone(),
                cells,
            });
        }
    }
    rows
}

struct Notes {
    /// Each distinct reason for an n/a or a skip, once.
    lines: Vec<String>,
    failed: usize,
}

fn notes(benches: &[Benchmark]) -> Notes {
    let mut lines: Vec<String> = Vec::new();
    let mut failed = 0;
    for c in benches.iter().flat_map(|b| &b.configs) {
        let line = match &c.state {
            State::NotAvailable(why) => {
                let vm = c.label.split_whitespace().next().unwrap_or_default();
                format!("n/a: {vm} says: {why}")
            }
            State::Skipped(why) => format!("skipped {}: {why}", c.label),
            State::Failed { .. } => {
                failed += 1;
                continue;
            }
            State::Ready(_) => continue,
        };
        if !lines.contains(&line) {
            lines.push(line);
        }
    }
    Notes { lines, failed }
}
