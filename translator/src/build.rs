//! The build.rs API, and the one pipeline behind it and `cargo translate`:
//! front end ([`translate_catching`]), codewriter and glue ([`codegen`]),
//! the glue written to `$OUT_DIR` ([`Build`]).
//!
//! An interpreter crate's `build.rs`:
//!
//! ```ignore
//! fn main() {
//!     metatrace_translator::Build::new().run();
//! }
//! ```
//!
//! With `metatrace::include_jit!();` at the crate root, the VM then has its
//! jitcodes and supports `--jit mode=jitcode-only`. With
//! `METATRACE_NO_JIT=1` in the environment (what `cargo translate --no-jit`
//! sets), nothing is translated: the VM is native only.

use crate::pipeline::{translate_crate_dir, TranslateError, Translation};
use metatrace_jitcodegen::codewriter::{assemble, Assembly};
use metatrace_jitcodegen::glue;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use metatrace_jitcodegen::glue::{
    enter_fn_name, function_entry_fn_name, portal_fn_name, GLUE_FILE,
};

/// The environment variable that turns the translation off (any value but
/// empty or `0`).
pub const NO_JIT_ENV: &str = "METATRACE_NO_JIT";
/// The cfg set on the interpreter crate when its glue was generated.
pub const JITCODES_CFG: &str = "metatrace_jitcodes";

/// The cfg set on the interpreter crate when only its GC impls were
/// generated (a build without jitcodes).
pub const GC_IMPLS_CFG: &str = "metatrace_gc_impls";

/// Does the environment ask for a VM without the JIT?
pub fn no_jit_requested() -> bool {
    std::env::var_os(NO_JIT_ENV).is_some_and(|v| !v.is_empty() && v != "0")
}

/// Why a build (or `cargo translate`) failed.
pub enum BuildError {
    /// The interpreter is not in the subset: diagnostics for the user.
    Rejected(TranslateError),
    /// A bug in metatrace (a panic in the front end, a codewriter or glue
    /// failure on input the front end accepted).
    Internal(String),
    /// The environment: no crate directory, `OUT_DIR` not set or not
    /// writable.
    Env(String),
}

impl BuildError {
    /// What to print on stderr: rustc-style diagnostics, or an `error:` line.
    pub fn render(&self) -> String {
        match self {
            BuildError::Rejected(e) => e.render(),
            BuildError::Internal(msg) => format!(
                "error: internal error in metatrace: {msg}\n\
                 note: this is a bug in metatrace; please report it with the crate that triggered it\n"
            ),
            BuildError::Env(msg) => format!("error: {msg}\n"),
        }
    }
}

impl fmt::Debug for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.render().trim_end())
    }
}

/// The front end on the crate in `dir`; a panic in it becomes
/// [`BuildError::Internal`] (one line, not a crash).
pub fn translate_catching(dir: &Path) -> Result<Translation, BuildError> {
    // The hook keeps where the panic happened: the report of an internal
    // error is only useful with the translator's own file and line.
    static PANIC_AT: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        if let Some(loc) = info.location() {
            *PANIC_AT.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(format!("{}:{}", loc.file(), loc.line()));
        }
    }));
    let result = std::panic::catch_unwind(|| translate_crate_dir(dir));
    std::panic::set_hook(default_hook);
    match result {
        Ok(Ok(t)) => Ok(t),
        Ok(Err(e)) => Err(BuildError::Rejected(e)),
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            let at = PANIC_AT
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take()
                .map(|at| format!(" (at {at})"))
                .unwrap_or_default();
            Err(BuildError::Internal(format!(
                "the translator panicked: {msg}{at}"
            )))
        }
    }
}

/// What the codewriter and the glue generator made of a translation.
pub struct Generated {
    pub assembly: Assembly,
    /// The Rust source of `$OUT_DIR/metatrace_glue.rs`.
    pub glue: String,
    /// Wall time of the codewriter and the glue generator.
    pub elapsed: Duration,
}

/// Jitcodes and glue for a translated crate.
pub fn codegen(t: &Translation) -> Result<Generated, BuildError> {
    let start = Instant::now();
    let assembly = assemble(&t.program).map_err(BuildError::Internal)?;
    let glue = glue::generate(&t.program, &assembly)
        .map_err(|e| BuildError::Internal(format!("cannot generate the glue: {e}")))?;
    Ok(Generated {
        assembly,
        glue,
        elapsed: start.elapsed(),
    })
}

/// Runs the pipeline from an interpreter crate's build script.
#[derive(Debug, Clone, Default)]
pub struct Build {
    crate_dir: Option<PathBuf>,
    out_dir: Option<PathBuf>,
    print_directives: Option<bool>,
}

/// What a successful [`Build::try_run`] did.
#[derive(Debug, Clone)]
pub struct Output {
    /// The glue file written (`None` with `METATRACE_NO_JIT`).
    pub glue: Option<PathBuf>,
    /// Every source file the front end read.
    pub sources: Vec<PathBuf>,
    /// The `cargo:` lines for cargo, in the order printed.
    pub directives: Vec<String>,
    /// Number of jitcodes.
    pub jitcodes: usize,
    pub front_end: Duration,
    pub codewriter: Duration,
}

impl Build {
    /// The crate whose build script is running (`CARGO_MANIFEST_DIR`),
    /// writing to `OUT_DIR`.
    pub fn new() -> Build {
        Build::default()
    }

    /// Translate the crate in `dir` instead.
    pub fn crate_dir(mut self, dir: impl Into<PathBuf>) -> Build {
        self.crate_dir = Some(dir.into());
        self
    }

    /// Write the glue to `dir` instead of `OUT_DIR`.
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Build {
        self.out_dir = Some(dir.into());
        self
    }

    /// Whether to print the `cargo:` directives on stdout (default: only
    /// when running in a build script, i.e. when `OUT_DIR` is set and no
    /// `out_dir` was given).
    pub fn print_directives(mut self, yes: bool) -> Build {
        self.print_directives = Some(yes);
        self
    }

    fn dirs(&self) -> Result<(PathBuf, PathBuf), BuildError> {
        // The directory given, else the one cargo gives a build script.
        let dir = |given: &Option<PathBuf>, var: &str, setter: &str| {
            match given {
            Some(d) => Ok(d.clone()),
            None => std::env::var_os(var).map(PathBuf::from).ok_or_else(|| {
                BuildError::Env(format!(
                    "{var} is not set: run metatrace_translator::Build from a build script, or give it .{setter}(..)"
                ))
            }),
        }
        };
        Ok((
            dir(&self.crate_dir, "CARGO_MANIFEST_DIR", "crate_dir")?,
            dir(&self.out_dir, "OUT_DIR", "out_dir")?,
        ))
    }

    /// Run the pipeline: translate the crate, generate jitcodes and glue,
    /// write `OUT_DIR/metatrace_glue.rs`, tell cargo what to watch and set
    /// the `metatrace_jitcodes` cfg. Directives are printed (see
    /// [`Build::print_directives`]) and returned.
    pub fn try_run(&self) -> Result<Output, BuildError> {
        let print = self
            .print_directives
            .unwrap_or(self.out_dir.is_none() && std::env::var_os("OUT_DIR").is_some());
        let emit = |directives: &[String]| {
            if print {
                for d in directives {
                    println!("{d}");
                }
            }
        };
        let mut directives = vec![
            format!("cargo:rerun-if-env-changed={NO_JIT_ENV}"),
            format!("cargo:rustc-check-cfg=cfg({JITCODES_CFG})"),
        ];
        directives.push(format!("cargo:rustc-check-cfg=cfg({GC_IMPLS_CFG})"));
        if no_jit_requested() {
            directives.extend(self.gc_impls_without_jit());
            emit(&directives);
            return Ok(Output {
                glue: None,
                sources: Vec::new(),
                directives,
                jitcodes: 0,
                front_end: Duration::ZERO,
                codewriter: Duration::ZERO,
            });
        }
        let (crate_dir, out_dir) = self.dirs()?;
        let translation = match translate_catching(&crate_dir) {
            Ok(t) => t,
            Err(e) => {
                // Watch what was read, so that fixing it reruns the script.
                if let BuildError::Rejected(r) = &e {
                    directives.extend(rerun_lines(r.sources.paths()));
                }
                emit(&directives);
                return Err(e);
            }
        };
        let sources: Vec<PathBuf> = translation.sources.paths().to_vec();
        directives.extend(rerun_lines(&sources));
        directives.extend(warning_lines(&translation));
        let generated = match codegen(&translation) {
            Ok(g) => g,
            Err(e) => {
                emit(&directives);
                return Err(e);
            }
        };
        let path = out_dir.join(GLUE_FILE);
        write_if_changed(&path, &generated.glue)
            .map_err(|e| BuildError::Env(format!("cannot write `{}`: {e}", path.display())))?;
        directives.push(format!("cargo:rustc-cfg={JITCODES_CFG}"));
        emit(&directives);
        Ok(Output {
            glue: Some(path),
            sources,
            directives,
            jitcodes: generated.assembly.jitcodes.len(),
            front_end: translation.elapsed,
            codewriter: generated.elapsed,
        })
    }

    /// Without jitcodes the crate still needs the `Trace` and `GcType`
    /// impls the glue would have had (docs/gc.md, "Generated GC impls"):
    /// the front end runs to find its GC types, and
    /// `OUT_DIR/metatrace_gc.rs` gets their impls. If the front end
    /// rejects the crate, nothing is written (the crate writes its own).
    /// The directives to add.
    fn gc_impls_without_jit(&self) -> Vec<String> {
        let Ok((crate_dir, out_dir)) = self.dirs() else {
            return Vec::new();
        };
        let Ok(t) = translate_catching(&crate_dir) else {
            return Vec::new();
        };
        let mut directives = rerun_lines(t.sources.paths());
        if t.program.gc_types.is_empty() {
            return directives;
        }
        let Ok(text) = glue::generate_gc_impls(&t.program) else {
            return directives;
        };
        if write_if_changed(&out_dir.join(glue::GC_IMPLS_FILE), &text).is_ok() {
            directives.push(format!("cargo:rustc-cfg={GC_IMPLS_CFG}"));
        }
        directives
    }

    /// [`Build::try_run`] for a build script: on failure, the diagnostics go
    /// to stderr (cargo shows them) and the process exits with status 1.
    pub fn run(&self) {
        if let Err(e) = self.try_run() {
            eprint!("{}", e.render());
            if let BuildError::Rejected(r) = &e {
                let n = r.diags.len();
                eprintln!(
                    "error: metatrace cannot translate this interpreter ({n} error{}); \
                     `cargo translate <crate-dir>` shows the same diagnostics",
                    if n == 1 { "" } else { "s" }
                );
            }
            std::process::exit(1);
        }
    }
}

fn rerun_lines(paths: &[PathBuf]) -> Vec<String> {
    paths
        .iter()
        .map(|p| format!("cargo:rerun-if-changed={}", p.display()))
        .collect()
}

/// Leaves the file (and its mtime) alone when the text is the same.
fn write_if_changed(path: &Path, text: &str) -> std::io::Result<()> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn writes_glue_and_directives_for_tlr() {
        let out = tempfile::tempdir().unwrap();
        let dir = workspace().join("targets/tlr");
        let o = Build::new()
            .crate_dir(&dir)
            .out_dir(out.path())
            .try_run()
            .unwrap();
        let glue = std::fs::read_to_string(out.path().join(GLUE_FILE)).unwrap();
        assert!(glue.contains("pub static TABLES"), "{glue}");
        assert!(glue.contains("pub fn portal_interpret"), "{glue}");
        assert_eq!(
            o.glue.as_deref(),
            Some(out.path().join(GLUE_FILE).as_path())
        );
        assert!(o.jitcodes >= 1);
        let main = dir.join("src/main.rs");
        let interp = dir.join("src/interp.rs");
        assert!(
            o.sources.contains(&main) && o.sources.contains(&interp),
            "{:?}",
            o.sources
        );
        assert_eq!(
            o.directives[..2],
            [
                "cargo:rerun-if-env-changed=METATRACE_NO_JIT",
                "cargo:rustc-check-cfg=cfg(metatrace_jitcodes)"
            ]
        );
        assert!(o
            .directives
            .contains(&format!("cargo:rerun-if-changed={}", interp.display())));
        assert_eq!(
            o.directives.last().unwrap(),
            "cargo:rustc-cfg=metatrace_jitcodes"
        );
        // Same input, same text: the file is not rewritten.
        let before = std::fs::metadata(out.path().join(GLUE_FILE))
            .unwrap()
            .modified()
            .unwrap();
        Build::new()
            .crate_dir(&dir)
            .out_dir(out.path())
            .try_run()
            .unwrap();
        let after = std::fs::metadata(out.path().join(GLUE_FILE))
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(before, after);
    }

    #[test]
    fn rejected_crate_gives_diagnostics() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("src/main.rs"), "fn main() {}\n").unwrap();
        let out = tempfile::tempdir().unwrap();
        let e = Build::new()
            .crate_dir(dir.path())
            .out_dir(out.path())
            .try_run()
            .unwrap_err();
        assert!(matches!(e, BuildError::Rejected(_)));
        assert!(e.render().contains("no #[jit_driver] function"), "{e}");
        assert!(!out.path().join(GLUE_FILE).exists());
    }

    #[test]
    fn missing_dirs_are_env_errors() {
        let e = Build::new()
            .crate_dir("/nonexistent")
            .print_directives(false)
            .dirs();
        // OUT_DIR is not set for this crate's tests.
        if std::env::var_os("OUT_DIR").is_none() {
            assert!(matches!(e, Err(BuildError::Env(m)) if m.contains("OUT_DIR is not set")));
        }
    }
}

/// `cargo:warning=` lines for the translation's warnings (cargo shows
/// them on one line each: place, message, help).
fn warning_lines(t: &Translation) -> Vec<String> {
    t.warnings
        .iter()
        .map(|w| {
            let place = match w.file {
                Some(f) => format!("{}:{}:{}: ", t.sources.path(f).display(), w.line, w.col),
                None => String::new(),
            };
            let help = w
                .help
                .as_deref()
                .map(|h| format!(" (help: {h})"))
                .unwrap_or_default();
            format!("cargo:warning={place}{}{help}", w.message)
        })
        .collect()
}
