//! The translator's rejection tests (`translator/tests/subset_errors.rs`,
//! `translator/tests/bad_input.rs`): a source must be rejected with
//! exactly the expected errors, rendered rustc-style.

use metatrace_translator::{translate_source, TranslateError};

/// The portal appended to every `step` case: it calls `step` in its loop.
pub const PORTAL: &str = r#"
use metatrace::prelude::*;

#[jit_driver(greens = [pc, code], reds = [acc])]
pub fn run(code: &[u8], mut acc: i64) -> i64 {
    let mut pc: usize = 0;
    while pc < code.len() {
        jit_merge_point!();
        acc = step(code, pc, acc);
        pc += 1;
    }
    acc
}
"#;

pub fn with_portal(step: &str) -> String {
    format!("{step}{PORTAL}")
}

pub fn translate_err(src: &str) -> TranslateError {
    match translate_source("interp.rs", src) {
        Ok(t) => panic!(
            "expected the source to be rejected, but it translated to {} graphs:\n{src}",
            t.program.graphs.len()
        ),
        Err(e) => e,
    }
}

/// `src` is rejected with exactly `expected` (`line:col: message`, in
/// order); the rendering names the file, shows every offending line and,
/// when `help` is set, a help line for every error.
pub fn check(src: &str, expected: &[&str], help: bool) {
    let err = translate_err(src);
    assert_eq!(
        err.short(),
        expected,
        "\nsource:\n{src}\nrendered:\n{}",
        err.render()
    );
    let rendered = err.render();
    assert!(
        rendered.contains("interp.rs"),
        "no file name in:\n{rendered}"
    );
    let lines: Vec<&str> = src.lines().collect();
    for d in &err.diags {
        if d.line == 0 {
            continue;
        }
        assert!(
            rendered.contains(&format!("interp.rs:{}:{}", d.line, d.col)),
            "no `interp.rs:{}:{}` in:\n{rendered}",
            d.line,
            d.col
        );
        let line = lines[d.line - 1].trim();
        assert!(
            rendered.contains(line),
            "source line `{line}` not shown in:\n{rendered}"
        );
        if help {
            assert!(d.help.is_some(), "no help for `{d}`");
        }
    }
    if help {
        assert_eq!(
            rendered.matches("help: ").count(),
            expected.len(),
            "one help line per error expected in:\n{rendered}"
        );
    }
}

/// A subset error: exact message and place, and a help line.
pub fn rejects(src: &str, expected: &[&str]) {
    check(src, expected, true)
}

/// A `step` case.
pub fn step_rejects(step: &str, expected: &[&str]) {
    rejects(&with_portal(step), expected)
}

/// `src` is rejected with exactly `expected` — each `(line:col: message,
/// a fragment of its help)` — rendered as `rejects` checks, and each help
/// says what the fragment says (the advice that applies to that problem).
pub fn rejects_with_help(src: &str, expected: &[(&str, &str)]) {
    let messages: Vec<&str> = expected.iter().map(|(m, _)| *m).collect();
    rejects(src, &messages);
    let err = translate_err(src);
    for (d, (message, help)) in err.diags.iter().zip(expected) {
        let got = d.help.as_deref().unwrap_or("");
        assert!(
            got.contains(help),
            "the help of `{message}` should say {help:?}, it says {got:?}"
        );
    }
}
