//! File tests, as Cranelift's filetests: one file holds a command, its
//! input and the expected output; one runner runs every file of a
//! directory and compares (see docs/testing.md, "File tests").
//!
//! A file:
//!
//! ```text
//! ; test: pass rewrite
//! ; Free comment lines (why the output is what it is).
//! [i0, i1]
//! i2 = int_add/i64(i0, 0)
//! jump(i2, i1)
//! ; expect:
//! [i0, i1]
//! jump(i0, i1)
//! ```
//!
//! - The first line is `<c> test: <command> <args...>`, where `<c>` is the
//!   file's comment marker: `;` (traces) or `//` (Rust sources); the
//!   command and its arguments are words separated by spaces, and what
//!   they mean is the caller's (the closure given to [`run_dir`]).
//! - The lines after it that start with the marker are comments (the
//!   test's documentation); the input starts at the first line that does
//!   not, and runs, verbatim, up to the line `<c> expect:`.
//! - What follows `<c> expect:` is the expected output. It is compared
//!   with what the command printed line by line, with white space at the
//!   end of lines and blank lines at the start and the end ignored
//!   (indentation counts).
//! - `$name` in the input and the expected output stands for a value only
//!   known when the test runs (an address): [`Runner::var`].
//!
//! [`Runner::run`] runs every file of its directory with the given
//! extension, in name order, and fails with the list of all the files
//! that failed (the command panicked, or its output differs: a line diff,
//! `-` expected, `+` got). A directory without a test file fails, and so
//! does one holding anything else (a misnamed test is not skipped). With
//! `METATRACE_BLESS=1` it rewrites the expected part of each file that
//! differs with the output instead (review the diff before committing).
//!
//! Rust tests that check more than text about the same input (run the
//! trace interpreter on it, look at the assembled jitcode) read the
//! input from the file: [`input`].

use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// The command of a file: its first line after `test:`, split at spaces.
#[derive(Debug, Clone)]
pub struct Command {
    pub name: String,
    pub args: Vec<String>,
}

impl Command {
    /// Whether the word `flag` is among the arguments.
    pub fn has(&self, flag: &str) -> bool {
        self.args.iter().any(|a| a == flag)
    }

    /// The value of argument `key=value`, if given.
    pub fn value(&self, key: &str) -> Option<&str> {
        self.args
            .iter()
            .find_map(|a| a.strip_prefix(key)?.strip_prefix('='))
    }
}

/// A test file, split in its parts.
#[derive(Debug, Clone)]
pub struct TestFile {
    /// The comment marker (`;` or `//`).
    pub marker: String,
    pub command: Command,
    /// Everything up to and including the `expect:` line (what blessing
    /// keeps), or the whole file when it has none.
    pub head: String,
    /// The input, verbatim.
    pub input: String,
    /// The expected output, `None` without an `expect:` line.
    pub expected: Option<String>,
}

/// Split the text of a test file.
pub fn parse(text: &str) -> Result<TestFile, String> {
    let first = text.lines().next().unwrap_or("");
    let (marker, command) = [";", "//"]
        .iter()
        .find_map(|m| {
            let rest = first.strip_prefix(m)?.trim_start().strip_prefix("test:")?;
            Some((m.to_string(), rest))
        })
        .ok_or("the first line must be `; test: COMMAND` or `// test: COMMAND`")?;
    let mut words = command.split_whitespace().map(str::to_string);
    let name = words.next().ok_or("no command after `test:`")?;
    let command = Command {
        name,
        args: words.collect(),
    };
    let separator = format!("{marker} expect:");
    let mut head = String::new();
    let mut input = String::new();
    let mut in_input = false;
    let mut lines = text.split_inclusive('\n');
    head.push_str(lines.next().unwrap_or(""));
    let mut expected = None;
    for line in lines.by_ref() {
        head.push_str(line);
        if line.trim_end() == separator {
            expected = Some(String::new());
            break;
        }
        if !in_input && !line.starts_with(&marker) {
            in_input = true;
        }
        if in_input {
            input.push_str(line);
        }
    }
    if let Some(e) = expected.as_mut() {
        e.extend(lines);
    }
    Ok(TestFile {
        marker,
        command,
        head,
        input,
        expected,
    })
}

/// The input of the test file `path` (for a Rust test that checks more
/// about the same input than its text output).
pub fn input(path: impl AsRef<Path>) -> String {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    parse(&text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .input
}

/// Lines as compared: white space at the end of each line and blank
/// lines at the start and the end dropped.
fn lines(text: &str) -> Vec<&str> {
    let mut v: Vec<&str> = text.lines().map(str::trim_end).collect();
    while v.last() == Some(&"") {
        v.pop();
    }
    let start = v.iter().position(|l| !l.is_empty()).unwrap_or(v.len());
    v.drain(..start);
    v
}

/// A line diff of `want` and `got` (longest common subsequence): ` `
/// both, `-` only expected, `+` only got.
pub fn diff(want: &str, got: &str) -> String {
    let (a, b) = (lines(want), lines(got));
    let (n, m) = (a.len(), b.len());
    // lcs[i][j]: the longest common subsequence of a[i..] and b[j..].
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = String::new();
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            let _ = writeln!(out, "  {}", a[i]);
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            let _ = writeln!(out, "- {}", a[i]);
            i += 1;
        } else {
            let _ = writeln!(out, "+ {}", b[j]);
            j += 1;
        }
    }
    out
}

fn panic_message(e: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = e.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = e.downcast_ref::<String>() {
        s.clone()
    } else {
        "(panic without a message)".to_string()
    }
}

/// The runner of one directory of test files.
pub struct Runner {
    dir: PathBuf,
    ext: String,
    vars: Vec<(String, String)>,
}

impl Runner {
    /// Every `*.<ext>` file of `dir` (not below it).
    pub fn new(dir: impl Into<PathBuf>, ext: &str) -> Runner {
        Runner {
            dir: dir.into(),
            ext: ext.to_string(),
            vars: Vec::new(),
        }
    }

    /// `$name` stands for `value` in the files: replaced in the input and
    /// the expected output before the comparison, put back in place of
    /// `value` in the output that blessing writes.
    pub fn var(mut self, name: &str, value: impl Into<String>) -> Runner {
        self.vars.push((format!("${name}"), value.into()));
        // Longest names first: `$a_b` before `$a`.
        self.vars.sort_by(|x, y| y.0.len().cmp(&x.0.len()));
        self
    }

    fn substitute(&self, text: &str) -> String {
        let mut text = text.to_string();
        for (name, value) in &self.vars {
            text = text.replace(name.as_str(), value);
        }
        text
    }

    fn unsubstitute(&self, text: &str) -> String {
        let mut vars: Vec<&(String, String)> = self.vars.iter().collect();
        vars.sort_by(|x, y| y.1.len().cmp(&x.1.len()));
        let mut text = text.to_string();
        for (name, value) in vars {
            text = text.replace(value.as_str(), name);
        }
        text
    }

    /// Everything in the directory, in name order: the test files, and
    /// what else is there (which fails the run rather than being skipped).
    pub fn files(&self) -> (Vec<PathBuf>, Vec<PathBuf>) {
        let mut all: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", self.dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        all.sort();
        all.into_iter()
            .partition(|p| p.is_file() && p.to_string_lossy().ends_with(&format!(".{}", self.ext)))
    }

    /// Run `command(cmd, input)` on every file and compare its output
    /// with the file's expected part; panic listing every failure.
    pub fn run(&self, command: impl Fn(&Command, &str) -> String) {
        let bless = std::env::var_os("METATRACE_BLESS").is_some();
        let (files, others) = self.files();
        assert!(
            !files.is_empty(),
            "no *.{} file in {}: nothing tested",
            self.ext,
            self.dir.display()
        );
        let mut failures: Vec<String> = others
            .iter()
            .map(|p| format!("--- {}: not a *.{} file", p.display(), self.ext))
            .collect();
        let mut blessed = 0;
        for path in &files {
            let text = std::fs::read_to_string(path).unwrap();
            let file = match parse(&text) {
                Ok(f) => f,
                Err(e) => {
                    failures.push(format!("--- {}: {e}", path.display()));
                    continue;
                }
            };
            let input = self.substitute(&file.input);
            let got = match catch_unwind(AssertUnwindSafe(|| command(&file.command, &input))) {
                Ok(got) => got,
                Err(e) => {
                    failures.push(format!(
                        "--- {}: `{}` panicked:\n{}",
                        path.display(),
                        file.command.name,
                        panic_message(&*e)
                    ));
                    continue;
                }
            };
            let want = file.expected.as_deref().map(|e| self.substitute(e));
            if want.as_deref().is_some_and(|w| lines(w) == lines(&got)) {
                continue;
            }
            if bless {
                let mut head = file.head.clone();
                if file.expected.is_none() {
                    if !head.ends_with('\n') {
                        head.push('\n');
                    }
                    head.push_str(&format!("{} expect:\n", file.marker));
                }
                let out = self.unsubstitute(&lines(&got).join("\n"));
                std::fs::write(path, format!("{head}{out}\n")).unwrap();
                blessed += 1;
                continue;
            }
            failures.push(match want {
                None => format!(
                    "--- {}: no `{} expect:` line; got:\n{got}",
                    path.display(),
                    file.marker
                ),
                Some(want) => format!(
                    "--- {}: output differs (- expected, + got):\n{}",
                    path.display(),
                    diff(&self.unsubstitute(&want), &self.unsubstitute(&got))
                ),
            });
        }
        if blessed > 0 {
            eprintln!(
                "METATRACE_BLESS: rewrote {blessed} file(s) in {}",
                self.dir.display()
            );
        }
        if !failures.is_empty() {
            panic!(
                "{} of {} file tests in {} failed (METATRACE_BLESS=1 rewrites the expected parts):\n{}",
                failures.len(),
                files.len(),
                self.dir.display(),
                failures.join("\n")
            );
        }
    }
}

/// Run every `*.<ext>` file of `dir` with `command` (a [`Runner`]
/// without variables).
pub fn run_dir(dir: impl Into<PathBuf>, ext: &str, command: impl Fn(&Command, &str) -> String) {
    Runner::new(dir, ext).run(command)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_of_a_file() {
        let f =
            parse("; test: pass rewrite x=1\n; why\n[i0]\njump(i0)\n; expect:\n[i0]\n").unwrap();
        assert_eq!(f.marker, ";");
        assert_eq!(f.command.name, "pass");
        assert_eq!(f.command.args, ["rewrite", "x=1"]);
        assert_eq!(f.command.value("x"), Some("1"));
        assert_eq!(f.input, "[i0]\njump(i0)\n");
        assert_eq!(
            f.head,
            "; test: pass rewrite x=1\n; why\n[i0]\njump(i0)\n; expect:\n"
        );
        assert_eq!(f.expected.as_deref(), Some("[i0]\n"));
        let f = parse("// test: jitcode f\n\nfn f() {}\n// comment\n// expect:\nx\n").unwrap();
        assert_eq!(f.marker, "//");
        assert_eq!(f.input, "\nfn f() {}\n// comment\n");
        assert!(parse("[i0]\n").is_err());
        assert!(parse("; test: x\n[i0]\n").unwrap().expected.is_none());
    }

    #[test]
    fn a_directory_without_files_fails_and_a_difference_is_shown() {
        let dir = std::env::temp_dir().join(format!("metatrace-filetest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let upper = |_: &Command, input: &str| input.to_uppercase();
        let r = catch_unwind(|| run_dir(&dir, "t", upper));
        assert!(r.is_err(), "an empty directory passed");
        let file = dir.join("a.t");
        std::fs::write(&file, "; test: upper\nab\n; expect:\nAB\n").unwrap();
        run_dir(&dir, "t", upper);
        std::fs::write(dir.join("b.tt"), "").unwrap();
        let r = catch_unwind(|| run_dir(&dir, "t", upper));
        let msg = panic_message(&*r.unwrap_err());
        assert!(msg.contains("b.tt: not a *.t file"), "{msg}");
        std::fs::remove_file(dir.join("b.tt")).unwrap();
        std::fs::write(&file, "; test: upper\nab\n; expect:\nAb\n").unwrap();
        let r = catch_unwind(|| run_dir(&dir, "t", upper));
        let msg = panic_message(&*r.unwrap_err());
        assert!(
            msg.contains("a.t: output differs") && msg.contains("- Ab\n+ AB"),
            "{msg}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn comparison_and_diff() {
        assert_eq!(lines("\n a \n b\n\n"), [" a", " b"]);
        assert_eq!(diff("a\nb\nc\n", "a\nx\nc"), "  a\n- b\n+ x\n  c\n");
    }
}
