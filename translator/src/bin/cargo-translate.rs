//! `cargo translate`: check an interpreter crate against the metatrace
//! subset and translate it.
//!
//! Runs as a cargo subcommand (`cargo translate <CRATE_DIR> ...`, where cargo
//! passes `translate` as the first argument) or directly
//! (`cargo-translate <CRATE_DIR> ...`,
//! `cargo run -p metatrace-translator -- translate <CRATE_DIR> ...`).
//!
//! Exit codes: 0 success, 1 the input was rejected (diagnostics on stderr) or
//! cannot be read, 2 bad command line or a mode that is not implemented yet,
//! 101 internal error (a translator bug; never a panic trace).

use clap::{Parser, ValueEnum};
use metatrace_jitcodegen::flowgraph::{print_graph, to_dot};
use metatrace_translator::{translate_crate_dir, Translation};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "cargo translate",
    bin_name = "cargo translate",
    version,
    about = "Check an interpreter crate against the metatrace Rust subset and translate it",
    after_help = "Without --emit, the crate is checked and translated to flow graphs, and a summary is printed.\n\
                  Building the VM binary (-o without --emit, --no-jit) comes with the jitcode codewriter."
)]
struct Cli {
    /// The interpreter crate: a directory with Cargo.toml and src/main.rs or src/lib.rs.
    #[arg(value_name = "CRATE_DIR")]
    crate_dir: PathBuf,

    /// Write an intermediate form instead of building the VM.
    /// `flowgraph`: one Graphviz .dot and one .txt per translated function
    /// in the -o directory (or the text of every graph on stdout without -o).
    #[arg(long, value_enum, value_name = "WHAT")]
    emit: Option<Emit>,

    /// Output: the directory for --emit, or the VM binary (not implemented yet).
    #[arg(short = 'o', long = "out", value_name = "PATH")]
    out: Option<PathBuf>,

    /// Build the VM without the JIT (the baseline; not implemented yet).
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
    /// Jitcode text (not implemented yet).
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

fn run(cli: &Cli) -> Result<(), u8> {
    // Modes that come with the jitcode codewriter.
    if cli.emit == Some(Emit::Jitcode) {
        return Err(usage_error(
            "`--emit jitcode` is not implemented yet: it comes with the jitcode codewriter; `--emit flowgraph` works",
        ));
    }
    if cli.no_jit {
        return Err(usage_error(
            "`--no-jit` applies to building the VM binary, which is not implemented yet: it comes with the jitcode codewriter",
        ));
    }
    if cli.emit.is_none() {
        if let Some(out) = &cli.out {
            return Err(usage_error(&format!(
                "building the VM binary (`-o {}` without `--emit`) is not implemented yet: it comes with the jitcode codewriter\n\
                 hint: `--emit flowgraph -o DIR` writes the flow graphs; without `-o`, the crate is only checked",
                out.display()
            )));
        }
    }

    let dir = crate_dir(&cli.crate_dir)?;
    let translation = translate(&dir)?;

    let n = translation.program.graphs.len();
    let functions = if n == 1 {
        "1 function".to_string()
    } else {
        format!("{n} functions")
    };
    let ms = translation.elapsed.as_secs_f64() * 1000.0;
    match cli.emit {
        Some(Emit::Flowgraph) => match &cli.out {
            Some(out) => {
                write_flowgraphs(&translation, out)?;
                if !cli.quiet {
                    eprintln!(
                        "translated {functions} in {ms:.0} ms; wrote {} files to {}",
                        2 * n,
                        out.display()
                    );
                }
            }
            None => {
                let types = &translation.program.types;
                for g in &translation.program.graphs {
                    println!("{}", print_graph(g, types));
                }
                if !cli.quiet {
                    eprintln!("translated {functions} in {ms:.0} ms");
                }
            }
        },
        _ => {
            if !cli.quiet {
                eprintln!("translated {functions} in {ms:.0} ms");
                eprintln!(
                    "note: the crate was checked only; building the VM binary comes with the jitcode codewriter \
                     (use `--emit flowgraph -o DIR` to see the flow graphs)"
                );
            }
        }
    }
    Ok(())
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

/// Run the front end; a rejected crate prints its diagnostics. A panic in
/// the translator is a bug: report it in one line, not as a crash.
fn translate(dir: &Path) -> Result<Translation, u8> {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(|| translate_crate_dir(dir));
    std::panic::set_hook(default_hook);
    match result {
        Ok(Ok(t)) => Ok(t),
        Ok(Err(e)) => {
            eprint!("{}", e.render());
            Err(EXIT_REJECTED)
        }
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            eprintln!("error: internal error in the translator: {msg}");
            eprintln!("note: this is a bug in metatrace; please report it with the crate that triggered it");
            Err(EXIT_INTERNAL)
        }
    }
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
