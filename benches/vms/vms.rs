//! Building the VMs under test and finding their binaries.

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The release binaries of the VMs.
pub struct Vms {
    pub bf: PathBuf,
    pub tlr: PathBuf,
    pub lox: PathBuf,
    pub um: PathBuf,
}

/// Runs `cargo build --release -p bf -p tlr -p lox -p um` in the workspace (its progress
/// goes to the terminal) and takes the binaries' paths from cargo's JSON
/// messages, so a `CARGO_TARGET_DIR` or `build.target-dir` is respected.
pub fn build() -> Result<Vms, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let build = [
        "build",
        "--release",
        "-p",
        "bf",
        "-p",
        "tlr",
        "-p",
        "lox",
        "-p",
        "um",
    ];
    eprintln!("== cargo {}", build.join(" "));
    let out = Command::new(&cargo)
        .args(build)
        .arg("--message-format=json-render-diagnostics")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {cargo}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`cargo {}` failed ({}); the VMs must build before they can be measured",
            build.join(" "),
            out.status
        ));
    }
    let mut bf = None;
    let mut tlr = None;
    let mut lox = None;
    let mut um = None;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if !line.contains(r#""reason":"compiler-artifact""#) {
            continue;
        }
        let Some(exe) = json_string_field(line, "executable") else {
            continue;
        };
        let exe = PathBuf::from(exe);
        match exe.file_stem().and_then(|s| s.to_str()) {
            Some("bf") => bf = Some(exe),
            Some("tlr") => tlr = Some(exe),
            Some("lox") => lox = Some(exe),
            Some("um") => um = Some(exe),
            _ => {}
        }
    }
    match (bf, tlr, lox, um) {
        (Some(bf), Some(tlr), Some(lox), Some(um)) => Ok(Vms { bf, tlr, lox, um }),
        _ => Err(
            "cargo built the VMs but did not report the binaries of bf, tlr, lox and um"
                .to_string(),
        ),
    }
}

/// The value of the string field `"name":"..."` in one line of JSON (cargo
/// writes no spaces); `None` if absent or not a string (e.g. `null`).
fn json_string_field(line: &str, name: &str) -> Option<String> {
    let key = format!("\"{name}\":\"");
    let start = line.find(&key)? + key.len();
    let mut value = String::new();
    let mut chars = line[start..].chars();
    loop {
        match chars.next()? {
            '"' => return Some(value),
            '\\' => match chars.next()? {
                'n' => value.push('\n'),
                't' => value.push('\t'),
                c => value.push(c), // `\\`, `\"`, `\/`
            },
            c => value.push(c),
        }
    }
}
