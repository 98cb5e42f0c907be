//! What the numbers were measured on: printed at the top of every run, so
//! that a pasted table describes itself.

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// The header lines: date, machine, load, toolchain, source revision.
pub fn describe(cc: Option<&str>) -> Vec<String> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "unknown CPU".to_string());
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| format!("Linux {}", s.trim()))
        .unwrap_or_else(|_| std::env::consts::OS.to_string());
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "?".to_string());
    let mut lines = vec![
        format!("date:    {}", utc_now()),
        format!("machine: {model}, nproc {nproc}, {kernel}"),
        format!("load:    {load} (1, 5, 15 min averages before the run)"),
        format!(
            "rustc:   {}",
            first_line("rustc", &["--version"]).unwrap_or_else(|| "?".to_string())
        ),
    ];
    if let Some(cc) = cc {
        let version = first_line(cc, &["--version"]).unwrap_or_else(|| "?".to_string());
        lines.push(format!("cc:      {version}"));
    }
    lines.push(format!("source:  {}", revision()));
    lines
}

/// `git` commit of the workspace, and whether it has local changes.
fn revision() -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    let Some(commit) = first_line("git", &["-C", root, "rev-parse", "--short", "HEAD"]) else {
        return "(not a git checkout)".to_string();
    };
    let dirty = Command::new("git")
        .args(["-C", root, "status", "--porcelain", "--untracked-files=no"])
        .output()
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(false);
    if dirty {
        format!("git {commit} + uncommitted changes")
    } else {
        format!("git {commit}")
    }
}

fn first_line(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().next().map(|l| l.trim().to_string())
}

/// The current time as `YYYY-MM-DD HH:MM:SS UTC`.
fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day)
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}
