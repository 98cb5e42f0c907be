//! `cargo translate`: check an interpreter crate against the metatrace
//! subset, translate it, and build its VM.
//!
//! Runs as a cargo subcommand (`cargo translate <CRATE_DIR> ...`, where cargo
//! passes `translate` as the first argument) or directly
//! (`cargo-translate <CRATE_DIR> ...`,
//! `cargo run -p metatrace-translator -- translate <CRATE_DIR> ...`).
//!
//! - `-o VM`: front end and codewriter (diagnostics here, before cargo
//!   runs), then `cargo build --release` of the crate, whose build script
//!   (`metatrace_translator::Build`) runs the same pipeline again to write
//!   the glue; the VM binary is copied to `VM`.
//! - `--no-jit -o VM`: the same VM without jitcodes (`METATRACE_NO_JIT=1`
//!   for the build script), the baseline; nothing is translated.
//! - `--emit flowgraph|jitcode [-o DIR]`: the intermediate forms, as files
//!   in DIR or as text on stdout.
//! - neither: check and translate only, and print a summary.
//!
//! Exit codes: 0 success, 1 the input was rejected (diagnostics on stderr),
//! cannot be read, or its VM did not build, 2 bad command line, 101
//! internal error (a translator bug; never a panic trace).

use clap::{Parser, ValueEnum};
use metatrace_jitcodegen::flowgraph::{print_graph, to_dot};
use metatrace_translator::build::{codegen, translate_catching, BuildError, Generated, NO_JIT_ENV};
use metatrace_translator::Translation;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

#[derive(Parser, Debug)]
#[command(
    name = "cargo translate",
    bin_name = "cargo translate",
    version,
    about = "Check an interpreter crate against the metatrace Rust subset, translate it and build its VM",
    after_help = "Without --emit and -o, the crate is checked and translated to jitcodes, and a summary is printed.\n\
                  With -o VM, the release VM binary is built (cargo build --release) and copied to VM."
)]
struct Cli {
    /// The interpreter crate: a directory with Cargo.toml and src/main.rs or src/lib.rs.
    #[arg(value_name = "CRATE_DIR")]
    crate_dir: PathBuf,

    /// Write an intermediate form instead of building the VM.
    /// `flowgraph`: one Graphviz .dot and one .txt per translated function;
    /// `jitcode`: one .jitcode text per function; in the -o directory, or
    /// as text on stdout without -o.
    #[arg(long, value_enum, value_name = "WHAT")]
    emit: Option<Emit>,

    /// Output: the VM binary to build, or the directory for --emit.
    #[arg(short = 'o', long = "out", value_name = "PATH")]
    out: Option<PathBuf>,

    /// Build the VM without the JIT (native only: the baseline).
    #[arg(long)]
    no_jit: bool,

    /// Print nothing but errors.
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Emit {
    /// Graphviz dot and text, one pair of files per function.
    Flowgraph,
    /// Jitcode text, one file per function.
    Jitcode,
}

const EXIT_REJECTED: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_INTERNAL: u8 = 101;

fn main() -> ExitCode {
    // `cargo translate ARGS` runs `cargo-translate translate ARGS`.
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).map(|a| a == "translate").unwrap_or(false) {
        args.remove(1);
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        // --help and --version exit 0, usage errors 2.
        Err(e) => e.exit(),
    };
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => ExitCode::from(code),
    }
}

fn usage_error(msg: &str) -> u8 {
    eprintln!("error: {msg}");
    EXIT_USAGE
}

fn fail(e: BuildError) -> u8 {
    eprint!("{}", e.render());
    match e {
        BuildError::Internal(_) => EXIT_INTERNAL,
        _ => EXIT_REJECTED,
    }
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

fn run(cli: &Cli) -> Result<(), u8> {
    if cli.no_jit && cli.emit.is_some() {
        return Err(usage_error(
            "`--no-jit` builds a VM without jitcodes; it cannot be combined with `--emit`",
        ));
    }
    if cli.no_jit && cli.out.is_none() {
        return Err(usage_error(
            "`--no-jit` builds a VM: give its path with `-o VM`",
        ));
    }
    let dir = crate_dir(&cli.crate_dir)?;
    // What was done, on stderr, unless `--quiet`.
    let note = |msg: String| {
        if !cli.quiet {
            eprintln!("{msg}");
        }
    };

    if cli.no_jit {
        let vm = cli.out.as_deref().expect("checked above");
        let start = Instant::now();
        let built = build_vm(&dir, vm, true, cli.quiet)?;
        note(format!(
            "built {} without the JIT (native only) in {:.1} s",
            built.display(),
            start.elapsed().as_secs_f64()
        ));
        return Ok(());
    }

    let translation = translate_catching(&dir).map_err(fail)?;
    // Warnings go out even with `--quiet`, as rustc's do.
    eprint!("{}", translation.render_warnings());
    let n = translation.program.graphs.len();
    let functions = plural(n, "function");
    let front_ms = translation.elapsed.as_secs_f64() * 1000.0;

    if cli.emit == Some(Emit::Flowgraph) {
        match &cli.out {
            Some(out) => {
                write_flowgraphs(&translation, out)?;
                note(format!(
                    "translated {functions} in {front_ms:.0} ms; wrote {} files to {}",
                    2 * n,
                    out.display()
                ));
            }
            None => {
                let types = &translation.program.types;
                for g in &translation.program.graphs {
                    println!("{}", print_graph(g, types));
                }
                note(format!("translated {functions} in {front_ms:.0} ms"));
            }
        }
        return Ok(());
    }

    let generated = codegen(&translation).map_err(fail)?;
    let jitcodes = plural(generated.assembly.jitcodes.len(), "jitcode");
    let cw_ms = generated.elapsed.as_secs_f64() * 1000.0;
    let summary = format!(
        "translated {functions} in {front_ms:.0} ms (front end), {jitcodes} in {cw_ms:.0} ms (codewriter)"
    );

    if cli.emit == Some(Emit::Jitcode) {
        match &cli.out {
            Some(out) => {
                write_jitcodes(&generated, out)?;
                note(format!(
                    "{summary}; wrote {} files to {}",
                    generated.assembly.jitcodes.len(),
                    out.display()
                ));
            }
            None => {
                println!("{}", generated.assembly.print());
                note(summary);
            }
        }
        return Ok(());
    }

    match &cli.out {
        Some(vm) => {
            let start = Instant::now();
            let built = build_vm(&dir, vm, false, cli.quiet)?;
            note(format!(
                "{summary}; built {} in {:.1} s",
                built.display(),
                start.elapsed().as_secs_f64()
            ));
        }
        None => note(format!(
            "{summary}\nnote: no VM was built; `-o VM` builds it, `--emit jitcode` shows the jitcodes"
        )),
    }
    Ok(())
}

/// `cargo build --release` of the crate in `dir` (without jitcodes if
/// `no_jit`), then copies its executable to `out` (into it, if `out` is a
/// directory). Cargo's own output goes to stderr as usual. The path of the
/// VM written.
fn build_vm(dir: &Path, out: &Path, no_jit: bool, quiet: bool) -> Result<PathBuf, u8> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = dir.join("Cargo.toml");
    let mut cmd = Command::new(&cargo);
    cmd.arg("build")
        .arg("--release")
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--message-format=json-render-diagnostics")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if quiet {
        cmd.arg("--quiet");
    }
    if no_jit {
        cmd.env(NO_JIT_ENV, "1");
    } else {
        cmd.env_remove(NO_JIT_ENV);
    }
    let output = cmd.output().map_err(|e| {
        eprintln!(
            "error: cannot run `{} build`: {e}",
            Path::new(&cargo).display()
        );
        EXIT_REJECTED
    })?;
    if !output.status.success() {
        eprintln!(
            "error: `cargo build --release --manifest-path {}` failed ({})",
            manifest.display(),
            output.status
        );
        return Err(EXIT_REJECTED);
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let exes: Vec<(String, PathBuf)> = stdout.lines().filter_map(executable).collect();
    let exe = match exes.as_slice() {
        [] => {
            eprintln!(
                "error: `{}` has no binary target: an interpreter crate builds a VM executable (src/main.rs)",
                manifest.display()
            );
            return Err(EXIT_REJECTED);
        }
        [(_, exe)] => exe.clone(),
        many => {
            let package = package_name(&manifest);
            match many.iter().find(|(name, _)| Some(name) == package.as_ref()) {
                Some((_, exe)) => exe.clone(),
                None => {
                    let names: Vec<&str> = many.iter().map(|(n, _)| n.as_str()).collect();
                    eprintln!(
                        "error: `{}` has several binaries ({}) and none is named after the package",
                        manifest.display(),
                        names.join(", ")
                    );
                    return Err(EXIT_REJECTED);
                }
            }
        }
    };
    let dest = if out.is_dir() {
        out.join(exe.file_name().unwrap_or_default())
    } else {
        out.to_owned()
    };
    if let Some(parent) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
        if let Err(e) = std::fs::create_dir_all(parent) {
            eprintln!("error: cannot create `{}`: {e}", parent.display());
            return Err(EXIT_REJECTED);
        }
    }
    // Copy to a temporary name and rename: a running VM at `dest` is not
    // overwritten in place.
    let tmp = dest.with_extension("metatrace-tmp");
    let copied = std::fs::copy(&exe, &tmp).and_then(|_| std::fs::rename(&tmp, &dest));
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&tmp);
        eprintln!(
            "error: cannot copy `{}` to `{}`: {e}",
            exe.display(),
            dest.display()
        );
        return Err(EXIT_REJECTED);
    }
    Ok(dest)
}

/// The (target name, executable) of a `compiler-artifact` message of
/// `cargo build --message-format=json` that has one.
fn executable(line: &str) -> Option<(String, PathBuf)> {
    if !line.contains("\"reason\":\"compiler-artifact\"") {
        return None;
    }
    let exe = json_string_field(line, "executable")?;
    let target = line.find("\"target\":").map(|i| &line[i..])?;
    let name = json_string_field(target, "name")?;
    Some((name, PathBuf::from(exe)))
}

/// The string value of the first `"key":` in `text` (`None` if absent or
/// not a string, e.g. `null`). Enough JSON for cargo's messages.
fn json_string_field(text: &str, key: &str) -> Option<String> {
    let pat = format!("\"{key}\":");
    let rest = text[text.find(&pat)? + pat.len()..].trim_start();
    let mut chars = rest.strip_prefix('"')?.chars();
    let mut out = String::new();
    loop {
        match chars.next()? {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                c => out.push(c),
            },
            c => out.push(c),
        }
    }
}

/// `name = "..."` of the `[package]` section of a manifest.
fn package_name(manifest: &Path) -> Option<String> {
    let text = std::fs::read_to_string(manifest).ok()?;
    let mut in_package = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package {
            if let Some(v) = line.strip_prefix("name") {
                let v = v.trim_start().strip_prefix('=')?.trim();
                return Some(v.trim_matches('"').to_string());
            }
        }
    }
    None
}

/// The crate directory: the argument itself, or the directory of a
/// `Cargo.toml` given by path.
fn crate_dir(arg: &Path) -> Result<PathBuf, u8> {
    if arg.is_dir() {
        return Ok(arg.to_owned());
    }
    if arg.is_file() && arg.file_name().map(|f| f == "Cargo.toml").unwrap_or(false) {
        let parent = arg
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        return Ok(parent.to_owned());
    }
    if arg.exists() {
        eprintln!("error: `{}` is not a crate directory", arg.display());
    } else {
        eprintln!("error: crate directory `{}` does not exist", arg.display());
    }
    Err(EXIT_REJECTED)
}

/// `a::B::c` → `a.B.c`, and nothing that is not safe in a file name.
fn file_stem(graph_name: &str) -> String {
    graph_name
        .replace("::", ".")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn write_flowgraphs(t: &Translation, out: &Path) -> Result<(), u8> {
    let fail = |what: &Path, e: std::io::Error| {
        eprintln!("error: cannot write `{}`: {e}", what.display());
        EXIT_REJECTED
    };
    std::fs::create_dir_all(out).map_err(|e| fail(out, e))?;
    let types = &t.program.types;
    for g in &t.program.graphs {
        let stem = file_stem(&g.name);
        let dot = out.join(format!("{stem}.dot"));
        std::fs::write(&dot, to_dot(g, types)).map_err(|e| fail(&dot, e))?;
        let txt = out.join(format!("{stem}.txt"));
        std::fs::write(&txt, print_graph(g, types)).map_err(|e| fail(&txt, e))?;
    }
    Ok(())
}

fn write_jitcodes(g: &Generated, out: &Path) -> Result<(), u8> {
    let fail = |what: &Path, e: std::io::Error| {
        eprintln!("error: cannot write `{}`: {e}", what.display());
        EXIT_REJECTED
    };
    std::fs::create_dir_all(out).map_err(|e| fail(out, e))?;
    for (i, j) in g.assembly.jitcodes.iter().enumerate() {
        let path = out.join(format!("{}.jitcode", file_stem(&j.name)));
        std::fs::write(&path, g.assembly.print_jitcode(i) + "\n").map_err(|e| fail(&path, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_executables_from_cargo_messages() {
        let line = r#"{"reason":"compiler-artifact","package_id":"path+file:///w/targets/tlr#0.1.0","manifest_path":"/w/targets/tlr/Cargo.toml","target":{"kind":["bin"],"crate_types":["bin"],"name":"tlr","src_path":"/w/targets/tlr/src/main.rs","edition":"2021","doc":true,"doctest":false,"test":true},"profile":{},"features":[],"filenames":["/w/target/release/tlr"],"executable":"/w/target/release/t\u00e9 \"x\"","fresh":false}"#;
        assert_eq!(
            executable(line),
            Some((
                "tlr".to_string(),
                PathBuf::from("/w/target/release/té \"x\"")
            ))
        );
        let lib = r#"{"reason":"compiler-artifact","target":{"kind":["lib"],"name":"metatrace"},"executable":null}"#;
        assert_eq!(executable(lib), None);
        assert_eq!(
            executable(r#"{"reason":"build-finished","success":true}"#),
            None
        );
    }
}
