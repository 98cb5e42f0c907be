//! The `cargo-translate` binary: flags, exit codes, emitted files, and the
//! VMs it builds (with and without jitcodes).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cargo-translate"))
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run cargo-translate")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn no_panic(o: &Output) {
    let err = stderr(o);
    assert!(!err.contains("panicked"), "the binary panicked:\n{err}");
    assert_ne!(o.status.code(), Some(101), "internal error:\n{err}");
}

/// Runs the binary, which must succeed (without panicking); its output.
fn run_ok(args: &[&str]) -> Output {
    let o = run(args);
    no_panic(&o);
    assert!(o.status.success(), "{args:?} failed:\n{}", stderr(&o));
    o
}

/// Runs the binary, which must exit with `code` (without panicking); its
/// stderr.
fn run_fails(args: &[&str], code: i32) -> String {
    let o = run(args);
    no_panic(&o);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(code), "{args:?}:\n{err}");
    err
}

/// `translate targets/TARGET --emit WHAT -o DIR`, which must succeed: the
/// crate's directory, DIR (a temporary one) and the run's stderr.
fn emit_into_temp_dir(target: &str, what: &str) -> (PathBuf, tempfile::TempDir, String) {
    let dir = workspace().join("targets").join(target);
    let out = tempfile::tempdir().unwrap();
    let o = run_ok(&[
        "translate",
        dir.to_str().unwrap(),
        "--emit",
        what,
        "-o",
        out.path().to_str().unwrap(),
    ]);
    (dir, out, stderr(&o))
}

/// `--emit flowgraph -o DIR` on a bundled target: one .dot and one .txt per
/// translated function, named after the function.
fn emits_flowgraphs(target: &str) {
    let (dir, out, err) = emit_into_temp_dir(target, "flowgraph");
    assert!(err.contains("translated "), "no summary:\n{err}");

    let translation = match metatrace_translator::translate_crate_dir(&dir) {
        Ok(t) => t,
        Err(e) => panic!("{target} is rejected by the library:\n{}", e.render()),
    };
    let graphs = &translation.program.graphs;
    assert!(!graphs.is_empty(), "{target}: no graphs");
    let mut dots = 0;
    let mut txts = 0;
    for entry in std::fs::read_dir(out.path()).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.trim().is_empty(), "{} is empty", path.display());
        match path.extension().and_then(|e| e.to_str()) {
            Some("dot") => {
                dots += 1;
                assert!(
                    text.starts_with("digraph"),
                    "{} does not start with `digraph`",
                    path.display()
                );
            }
            Some("txt") => txts += 1,
            _ => panic!("unexpected file {}", path.display()),
        }
    }
    assert_eq!(dots, graphs.len(), "one .dot per function");
    assert_eq!(txts, graphs.len(), "one .txt per function");
    for g in graphs {
        let stem = g.name.replace("::", ".");
        assert!(
            out.path().join(format!("{stem}.dot")).is_file(),
            "no {stem}.dot"
        );
        assert!(
            out.path().join(format!("{stem}.txt")).is_file(),
            "no {stem}.txt"
        );
    }
    // The portal is among them.
    for d in &translation.program.drivers {
        let stem = d.portal.replace("::", ".");
        assert!(
            out.path().join(format!("{stem}.dot")).is_file(),
            "no graph for the portal {}",
            d.portal
        );
    }
}

#[test]
fn flowgraph_bf() {
    emits_flowgraphs("bf");
}

#[test]
fn flowgraph_tlr() {
    emits_flowgraphs("tlr");
}

#[test]
fn check_only_prints_a_summary() {
    let dir = workspace().join("targets/tlr");
    // Both spellings: as `cargo translate` runs it and directly.
    for args in [
        vec!["translate", dir.to_str().unwrap()],
        vec![dir.to_str().unwrap()],
    ] {
        let o = run_ok(&args);
        let err = stderr(&o);
        // translated 3 functions in 21 ms (front end), 3 jitcodes in 8 ms (codewriter)
        assert!(
            err.contains("translated ")
                && err.contains(" functions in ")
                && err.contains(" ms (front end), ")
                && err.contains(" jitcodes in ")
                && err.contains(" ms (codewriter)"),
            "{err}"
        );
        assert!(err.contains("no VM was built"), "{err}");
        assert!(o.stdout.is_empty());
    }
    let o = run_ok(&["translate", dir.to_str().unwrap(), "--quiet"]);
    assert_eq!(stderr(&o), "");
}

#[test]
fn flowgraph_text_on_stdout_without_out_dir() {
    let dir = workspace().join("targets/tlr");
    let o = run_ok(&["translate", dir.to_str().unwrap(), "--emit", "flowgraph"]);
    assert!(!o.stdout.is_empty());
}

/// A crate in a temporary directory with `src/main.rs` = `main`.
fn temp_crate(main: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Cargo.toml"),
        "[package]\nname = \"bad\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("src")).unwrap();
    std::fs::write(dir.path().join("src/main.rs"), main).unwrap();
    dir
}

const REJECTED: &str = r#"use metatrace::prelude::*;

#[jit_driver(greens = [pc, code], reds = [acc])]
fn run(code: &[u8], mut acc: i64) -> i64 {
    let mut pc: usize = 0;
    while pc < code.len() {
        jit_merge_point!();
        let f = |x: i64| x + 1;
        acc = f(acc);
        println!("{}", acc);
        pc += 1;
    }
    acc
}

fn main() {
    run(b"abc", 0);
}
"#;

#[test]
fn rejected_crate_exits_1_with_diagnostics() {
    let krate = temp_crate(REJECTED);
    let out = tempfile::tempdir().unwrap();
    let vms = tempfile::tempdir().unwrap();
    let vm = vms.path().join("vm");
    let (dir, out_dir) = (krate.path().to_str().unwrap(), out.path().to_str().unwrap());
    for args in [
        vec!["translate", dir],
        vec!["translate", dir, "--emit", "flowgraph", "-o", out_dir],
        vec!["translate", dir, "--emit", "jitcode", "-o", out_dir],
        // Rejected before cargo runs: no VM.
        vec!["translate", dir, "-o", vm.to_str().unwrap()],
    ] {
        let err = run_fails(&args, 1);
        for needle in [
            "closures are not supported in traced code",
            "`println!` is not supported in traced code",
            "src/main.rs:8:17",
            "let f = |x: i64| x + 1;",
            "help: ",
        ] {
            assert!(err.contains(needle), "no {needle:?} in:\n{err}");
        }
    }
    // Nothing was written for a rejected crate.
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
    assert!(!vm.exists());
}

#[test]
fn syntax_error_and_empty_crate_exit_1() {
    for main in ["fn main( {\n", "", "fn main() {}\n"] {
        let krate = temp_crate(main);
        let err = run_fails(&["translate", krate.path().to_str().unwrap()], 1);
        assert!(err.contains("error"), "for {main:?}:\n{err}");
    }
}

#[test]
fn missing_crate_dir_exits_1() {
    let err = run_fails(&["translate", "/nonexistent/crate/dir"], 1);
    assert!(err.contains("does not exist"), "{err}");
    // A directory that is not a crate.
    let empty = tempfile::tempdir().unwrap();
    let err = run_fails(&["translate", empty.path().to_str().unwrap()], 1);
    assert!(err.contains("error"), "{err}");
}

#[test]
fn bad_flags_exit_2() {
    let dir = workspace().join("targets/tlr");
    let dir = dir.to_str().unwrap();
    for args in [
        vec!["translate", dir, "--bogus"],
        vec!["translate", dir, "--emit", "assembly"],
        vec!["translate"],
        vec![],
        vec!["translate", dir, "-o"],
    ] {
        let err = run_fails(&args, 2);
        assert!(err.contains("error"), "{err}");
    }
}

#[test]
fn no_jit_needs_a_vm_path_and_no_emit() {
    let dir = workspace().join("targets/tlr");
    let dir = dir.to_str().unwrap();
    let out = tempfile::tempdir().unwrap();
    let vm = out.path().join("vm");
    for (args, needle) in [
        (
            vec!["translate", dir, "--no-jit"],
            "give its path with `-o VM`",
        ),
        (
            vec![
                "translate",
                dir,
                "--no-jit",
                "--emit",
                "jitcode",
                "-o",
                vm.to_str().unwrap(),
            ],
            "cannot be combined with `--emit`",
        ),
    ] {
        let err = run_fails(&args, 2);
        assert!(err.contains(needle), "{err}");
    }
    assert!(!vm.exists());
}

/// `--emit jitcode -o DIR`: one `.jitcode` text per translated function,
/// named after it; without `-o`, all of them on stdout.
fn emits_jitcodes(target: &str) {
    let (dir, out, err) = emit_into_temp_dir(target, "jitcode");
    assert!(err.contains(" ms (codewriter); wrote "), "{err}");
    let translation = metatrace_translator::translate_crate_dir(&dir).unwrap();
    let graphs = &translation.program.graphs;
    assert_eq!(
        std::fs::read_dir(out.path()).unwrap().count(),
        graphs.len(),
        "one file per function"
    );
    for g in graphs {
        let path = out
            .path()
            .join(format!("{}.jitcode", g.name.replace("::", ".")));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            text.starts_with(&format!("jitcode {}(", g.name)),
            "{}:\n{text}",
            path.display()
        );
    }
    for d in &translation.program.drivers {
        let text = std::fs::read_to_string(
            out.path()
                .join(format!("{}.jitcode", d.portal.replace("::", "."))),
        )
        .unwrap();
        assert!(text.contains("jit_merge_point"), "{text}");
    }
    let o = run_ok(&["translate", dir.to_str().unwrap(), "--emit", "jitcode"]);
    let text = String::from_utf8_lossy(&o.stdout);
    for g in graphs {
        assert!(text.contains(&format!("jitcode {}(", g.name)), "{text}");
    }
}

#[test]
fn jitcode_bf() {
    emits_jitcodes("bf");
}

#[test]
fn jitcode_tlr() {
    emits_jitcodes("tlr");
}

fn run_vm(vm: &Path, args: &[&str]) -> Output {
    Command::new(vm)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", vm.display()))
}

/// `-o VM` builds the release VM with its jitcodes; `--no-jit -o VM` the
/// same VM without them. One test: both build the same crate in the same
/// target directory, one after the other.
#[test]
fn builds_vms_with_and_without_jitcodes() {
    let dir = workspace().join("targets/tlr");
    let square = dir.join("programs/square.tlr");
    let square = square.to_str().unwrap();
    let out = tempfile::tempdir().unwrap();

    let vm = out.path().join("bin/tlr-jit");
    let o = run_ok(&[
        "translate",
        dir.to_str().unwrap(),
        "-o",
        vm.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert!(
        err.contains(" ms (front end), ")
            && err.contains(" ms (codewriter); built ")
            && err.contains("tlr-jit in "),
        "{err}"
    );
    for mode in [
        "off",
        "mode=jitcode-only",
        "mode=jit",
        "threshold=1,trace_eagerness=1",
    ] {
        let r = run_vm(&vm, &["--jit", mode, square, "12"]);
        assert!(r.status.success(), "{mode}: {}", stderr(&r));
        assert_eq!(String::from_utf8_lossy(&r.stdout), "144\n", "{mode}");
    }

    // -o an existing directory: the VM goes into it, under its own name.
    run_ok(&[
        "translate",
        dir.to_str().unwrap(),
        "-o",
        out.path().to_str().unwrap(),
        "-q",
    ]);
    assert!(out.path().join("tlr").is_file());

    let native = out.path().join("tlr-native");
    let o = run_ok(&[
        "translate",
        dir.to_str().unwrap(),
        "--no-jit",
        "-o",
        native.to_str().unwrap(),
    ]);
    assert!(
        stderr(&o).contains("without the JIT (native only)"),
        "{}",
        stderr(&o)
    );
    // The default (mode=auto) is native there; jitcode-only and jit are
    // refused.
    let r = run_vm(&native, &[square, "12"]);
    assert_eq!(String::from_utf8_lossy(&r.stdout), "144\n");
    for mode in ["mode=jitcode-only", "mode=jit"] {
        let r = run_vm(&native, &["--jit", mode, square, "12"]);
        assert_eq!(r.status.code(), Some(1));
        assert!(
            stderr(&r).contains("this VM was built without jitcodes"),
            "{}",
            stderr(&r)
        );
    }
    // The first VM is unaffected by the rebuild.
    let r = run_vm(&vm, &["--jit", "mode=jitcode-only", square, "3"]);
    assert_eq!(String::from_utf8_lossy(&r.stdout), "9\n");
}

#[test]
fn help_and_version_exit_0() {
    for args in [["translate", "--help"], ["translate", "--version"]] {
        let o = run(&args);
        assert!(o.status.success(), "{args:?}");
        assert!(!o.stdout.is_empty());
    }
    let o = run(&["--help"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("--emit"), "{text}");
}
