//! The C baselines, compiled at bench time with `cc -O2`: for Brainfuck a
//! straightforward interpreter (`benches/c/bf.c`) and each program
//! translated to C by [`crate::bf2c`] ("the limit"); for Lox, clox
//! (`../shared/peers/clox`, the book's C implementation); for the
//! Universal Machine, `../shared/peers/um/um.c`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A working C compiler and what it has built.
pub struct Baselines {
    /// The compiler command: `$CC` (split on whitespace) or `cc`.
    cc: Vec<String>,
    /// Where the sources and binaries go.
    dir: PathBuf,
    /// The interpreter binary, or why it could not be built.
    interp: Result<PathBuf, String>,
}

impl Baselines {
    /// The C compiler to use, if one runs: `$CC` or `cc`.
    pub fn find_cc() -> Option<Vec<String>> {
        let cc: Vec<String> = match std::env::var("CC") {
            Ok(v) if !v.trim().is_empty() => v.split_whitespace().map(String::from).collect(),
            _ => vec!["cc".to_string()],
        };
        let ok = Command::new(&cc[0])
            .args(&cc[1..])
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        ok.then_some(cc)
    }

    /// Compiles the interpreter into `dir`.
    pub fn new(cc: Vec<String>, dir: PathBuf) -> Baselines {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/c/bf.c");
        let exe = dir.join("bf-c");
        let interp = std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))
            .and_then(|()| compile(&cc, &src, &exe))
            .map(|()| exe);
        Baselines { cc, dir, interp }
    }

    /// The compiled interpreter (`bf-c PROGRAM`, input on stdin).
    pub fn interp(&self) -> Result<PathBuf, String> {
        self.interp.clone()
    }

    /// Where the baselines' files go.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// clox, compiled from `../shared/peers/clox` (`clox FILE`).
    pub fn clox(&self) -> Result<PathBuf, String> {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/peers/clox");
        let mut sources: Vec<PathBuf> = std::fs::read_dir(&src)
            .map_err(|e| format!("cannot read {}: {e}", src.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "c"))
            .collect();
        sources.sort();
        let exe = self.dir.join("clox");
        compile_all(&self.cc, &sources, &exe)?;
        Ok(exe)
    }

    /// The C UM, compiled from `../shared/peers/um/um.c` (`um IMAGE`).
    pub fn um(&self) -> Result<PathBuf, String> {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/peers/um/um.c");
        if !src.is_file() {
            return Err(format!("{} not found", src.display()));
        }
        let exe = self.dir.join("um-c");
        compile(&self.cc, &src, &exe)?;
        Ok(exe)
    }

    /// Translates `program` with bf2c and compiles the C: the binary runs the
    /// program with input on stdin.
    pub fn bf2c(&self, program: &Path) -> Result<PathBuf, String> {
        let name = program
            .file_name()
            .map_or_else(|| "program".into(), |n| n.to_string_lossy());
        let source = std::fs::read(program)
            .map_err(|e| format!("cannot read {}: {e}", program.display()))?;
        let c = crate::bf2c::translate(&source, &name)
            .map_err(|e| format!("bf2c: {}: {e}", program.display()))?;
        let stem = format!("bf2c-{}", name.replace(['.', ' '], "_"));
        let c_file = self.dir.join(format!("{stem}.c"));
        std::fs::write(&c_file, c)
            .map_err(|e| format!("cannot write {}: {e}", c_file.display()))?;
        let exe = self.dir.join(stem);
        compile(&self.cc, &c_file, &exe)?;
        Ok(exe)
    }
}

/// `cc -O2 -o exe src`.
fn compile(cc: &[String], src: &Path, exe: &Path) -> Result<(), String> {
    compile_all(cc, &[src.to_path_buf()], exe)
}

/// `cc -O2 -o exe src...`.
fn compile_all(cc: &[String], srcs: &[PathBuf], exe: &Path) -> Result<(), String> {
    let src = srcs.first().map_or_else(PathBuf::new, |s| {
        if srcs.len() == 1 {
            s.clone()
        } else {
            s.with_file_name("*.c")
        }
    });
    let out = Command::new(&cc[0])
        .args(&cc[1..])
        .arg("-O2")
        .arg("-o")
        .arg(exe)
        .args(srcs)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", cc[0]))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{} -O2 -o {} {}` failed ({}):\n{}",
            cc.join(" "),
            exe.display(),
            src.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim_end()
        ))
    }
}
