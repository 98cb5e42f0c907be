//! Running the configurations, interleaved, and the statistics of the runs.

use crate::configs::{Benchmark, Cmd, Config, Kind, State};
use std::fs::File;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Instant;

/// Runs `rounds` rounds. Each round runs every benchmark once in every
/// configuration still `Ready`, so that the noise of the machine hits all
/// configurations alike; the order of the configurations rotates from round
/// to round, so none always runs right after the same other one. A run that
/// fails, or prints anything but the expected output, marks its
/// configuration `Failed` (reported at once on stderr; the wrong output is
/// saved in `dump_dir`) and it is not run again.
pub fn run_rounds(benches: &mut [Benchmark], rounds: usize, dump_dir: &Path) {
    for round in 0..rounds {
        for bench in benches.iter_mut() {
            let n = bench.configs.len();
            for i in 0..n {
                let config = &mut bench.configs[(i + round) % n];
                let State::Ready(cmd) = &config.state else {
                    continue;
                };
                let outcome = run_once(cmd, bench.stdin.as_deref());
                let next = judge(outcome, config, &bench.name, &bench.expected, dump_dir);
                match &next {
                    None => eprintln!(
                        "round {}/{rounds}  {:<22} {:<30} {:>8.3} s",
                        round + 1,
                        bench.name,
                        config.label,
                        config.times.last().copied().unwrap_or(0.0)
                    ),
                    Some(State::NotAvailable(why)) => eprintln!(
                        "round {}/{rounds}  {:<22} {:<30} n/a: {why}",
                        round + 1,
                        bench.name,
                        config.label
                    ),
                    Some(State::Failed { details: why, .. }) => eprintln!(
                        "\nFAILED: {} with {}:\n  {}\n",
                        bench.name,
                        config.label,
                        why.replace('\n', "\n  ")
                    ),
                    Some(_) => {}
                }
                if let Some(state) = next {
                    config.state = state;
                }
            }
        }
    }
}

/// Runs `cmd` once with stdin from `stdin` (or empty), capturing stdout and
/// stderr; the wall-clock time is from spawning to having reaped the process
/// and read all its output.
fn run_once(cmd: &Cmd, stdin: Option<&Path>) -> Result<(f64, Output), String> {
    let input = match stdin {
        Some(path) => Stdio::from(
            File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?,
        ),
        None => Stdio::null(),
    };
    let start = Instant::now();
    let output = Command::new(&cmd.program)
        .args(&cmd.args)
        .stdin(input)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", cmd.program.display()))?;
    Ok((start.elapsed().as_secs_f64(), output))
}

/// Records a good run in `config.times` (and returns `None`), or returns
/// the configuration's new state.
fn judge(
    outcome: Result<(f64, Output), String>,
    config: &mut Config,
    bench: &str,
    expected: &[u8],
    dump_dir: &Path,
) -> Option<State> {
    let (secs, out) = match outcome {
        Ok(run) => run,
        Err(why) => {
            return Some(State::Failed {
                what: "cannot run".to_string(),
                details: why,
            })
        }
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        // A VM refuses a mode it cannot run at once, with `error: --jit
        // mode=...: why` (see `check_mode_supported` in the runtime).
        if matches!(config.kind, Kind::Mode(_))
            && config.times.is_empty()
            && out.stdout.is_empty()
            && stderr.starts_with("error: --jit mode=")
        {
            let why = stderr.lines().next().unwrap_or_default();
            return Some(State::NotAvailable(why["error: ".len()..].to_string()));
        }
        return Some(State::Failed {
            what: out.status.to_string(),
            details: format!(
                "{} ({}), stderr:\n{}",
                out.status,
                command_line(config),
                tail(&stderr, 20)
            ),
        });
    }
    if out.stdout != expected {
        let dump = dump_dir.join(format!(
            "{}--{}.out",
            bench.replace([' ', '/'], "_"),
            config.label.replace([' ', '/', ',', ':', '='], "_")
        ));
        let saved = match std::fs::write(&dump, &out.stdout) {
            Ok(()) => format!("saved in {}", dump.display()),
            Err(e) => format!("could not save it: {e}"),
        };
        let at = out
            .stdout
            .iter()
            .zip(expected)
            .position(|(a, b)| a != b)
            .unwrap_or(out.stdout.len().min(expected.len()));
        return Some(State::Failed {
            what: "wrong output".to_string(),
            details: format!(
            "wrong output ({}): {} bytes where {} were expected, first difference at byte {at}; \
             the output is {saved}{}",
            command_line(config),
            out.stdout.len(),
            expected.len(),
            if stderr.is_empty() {
                String::new()
            } else {
                format!("\nstderr:\n{}", tail(&stderr, 20))
            }
        ),
        });
    }
    config.times.push(secs);
    None
}

fn command_line(config: &Config) -> String {
    match &config.state {
        State::Ready(cmd) => std::iter::once(cmd.program.as_os_str())
            .chain(cmd.args.iter().map(|a| a.as_os_str()))
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" "),
        _ => config.label.clone(),
    }
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Summary of the times of one configuration.
pub struct Stats {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub runs: usize,
}

pub fn stats(times: &[f64]) -> Option<Stats> {
    if times.is_empty() {
        return None;
    }
    let mut sorted = times.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    Some(Stats {
        median,
        min: sorted[0],
        max: sorted[n - 1],
        runs: n,
    })
}
