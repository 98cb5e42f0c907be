//! The Lox VM (`targets/lox`) on the Crafting Interpreters test suite
//! (`../shared/programs/lox/test/`), judged as the upstream runner
//! (`tool/bin/test.dart`) judges clox, and on the suite's benchmarks.
//!
//! Judging (`../shared/programs/README.md`): `// expect: X` lines are the
//! whole stdout, in order; `// Error ...` and `// [line N] Error ...`
//! (`[c line N]` too, not `[java line N]`) are the compile errors, every
//! stderr line must be one of them and the exit status is 65; `// expect
//! runtime error: M` wants M as the first stderr line, a stack trace whose
//! first `[line N]` is the comment's line, and exit status 70; otherwise
//! stderr is empty and the status 0. The clox suite is every file but
//! `scanning/`, `expressions/` (tests of jlox's scanner and parser alone)
//! and `benchmark/`: 246 files.
//!
//! Modes: natively, on jitcodes only and with the JIT (default and low
//! thresholds, and with `--gc stress`), and natively on the real
//! collector with each plan: the default plan
//! (StickyImmix), `--gc stress` (a collection before every allocation),
//! `plan=immix` and `plan=marksweep`. The benchmarks run at full size
//! with each plan, and shrunk (`SMALL_BENCHMARKS`: smaller loop counts,
//! `clock()` made 0 so that the output is deterministic) under `--gc
//! stress` with each plan, compared with the default run's output: at full
//! size, collecting at every allocation would take hours. And
//! binary_trees.lox runs in bounded memory (its peak RSS, from `wait4`,
//! under a fixed bound). The benchmarks also run with the JIT at full
//! size and under `--gc stress` with the JIT at low thresholds, shrunk;
//! `benchmark_loops_compile` checks from the JIT summary that their loops
//! compile without unexpected aborts.

use metatrace_testkit::files_with_extension;
use metatrace_testkit::vms::{
    excerpt, lox, on_two_threads, run, run_env, run_max_rss, shared_programs, write, Run,
};
use std::path::PathBuf;
use std::time::Duration;

/// The modes the suite runs in: a name and the VM's options.
const MODES: &[(&str, &[&str])] = &[
    ("native", &["--jit", "off"]),
    ("jitcode-only", &["--jit", "mode=jitcode-only"]),
    ("jit", &[]),
    ("jit-low", &["--jit", "threshold=1,trace_eagerness=1"]),
    (
        "jit-low2, gc stress",
        &["--jit", "threshold=2,trace_eagerness=1", "--gc", "stress"],
    ),
    (
        "jitcode-only, gc stress",
        &["--jit", "mode=jitcode-only", "--gc", "stress"],
    ),
    ("native, gc stress", &["--jit", "off", "--gc", "stress"]),
    // Traces that end in the function traces they reach instead of
    // inlining the calls (lox inlines by default since 2026-12-07; docs/jit.md,
    // "Inlining").
    (
        "no inlining, jit-low2, gc stress",
        &[
            "--jit",
            "threshold=2,function_threshold=2,trace_eagerness=1,inlining=0",
            "--gc",
            "stress",
        ],
    ),
    // The variant whose calls recurse natively into the portal: calls of
    // compiled code (`call_assembler`), traces ending in `finish`.
    (
        "recursive calls, jit-low2, gc stress",
        &[
            "--recursive-calls",
            "--jit",
            "threshold=2,function_threshold=2,trace_eagerness=1",
            "--gc",
            "stress",
        ],
    ),
    (
        "recursive calls, jitcode-only",
        &["--recursive-calls", "--jit", "mode=jitcode-only"],
    ),
    ("native, immix", &["--jit", "off", "--gc", "plan=immix"]),
    (
        "native, marksweep",
        &["--jit", "off", "--gc", "plan=marksweep"],
    ),
];

/// The modes the benchmarks run in at full size (not under stress).
const BENCHMARK_MODES: &[(&str, &[&str])] = &[
    ("native", &["--jit", "off"]),
    ("jit", &[]),
    ("jit, no inlining", &["--jit", "inlining=0"]),
    ("native, immix", &["--jit", "off", "--gc", "plan=immix"]),
    (
        "native, marksweep",
        &["--jit", "off", "--gc", "plan=marksweep"],
    ),
];

/// The modes the shrunk benchmarks run in, compared with the first.
const STRESS_MODES: &[(&str, &[&str])] = &[
    ("native", &["--jit", "off"]),
    (
        "jit-low, gc stress",
        &["--jit", "threshold=2,trace_eagerness=1", "--gc", "stress"],
    ),
    (
        "jit-low, no inlining, gc stress",
        &[
            "--jit",
            "threshold=2,function_threshold=2,trace_eagerness=1,inlining=0",
            "--gc",
            "stress",
        ],
    ),
    ("native, gc stress", &["--jit", "off", "--gc", "stress"]),
    (
        "native, immix, gc stress",
        &["--jit", "off", "--gc", "plan=immix,stress"],
    ),
    (
        "native, marksweep, gc stress",
        &["--jit", "off", "--gc", "plan=marksweep,stress"],
    ),
];

/// The folders of the suite that are not clox's tests.
const NOT_CLOX: [&str; 3] = ["scanning", "expressions", "benchmark"];

const QUICK: Duration = Duration::from_secs(60);
/// zoo_batch.lox runs for 10 s of processor time by design.
const SLOW: Duration = Duration::from_secs(300);

/// What a test file expects (test.dart's `_parse`).
#[derive(Debug, Default)]
struct Expected {
    output: Vec<String>,
    /// `[N] Error...`, as compile errors are matched.
    compile_errors: Vec<String>,
    /// The message and the line of the expected runtime error.
    runtime_error: Option<(String, usize)>,
    exit_code: i32,
}

fn parse_expectations(text: &str) -> Expected {
    let mut e = Expected::default();
    for (i, line) in text.split('\n').enumerate() {
        let n = i + 1;
        if let Some(rest) = after(line, "// expect: ").or_else(|| after(line, "// expect:")) {
            e.output.push(rest.to_string());
        } else if let Some(rest) = after(line, "// Error") {
            e.compile_errors.push(format!("[{n}] Error{rest}"));
            e.exit_code = 65;
        } else if let Some((language, line_no, error)) = error_line(line) {
            if language.is_none() || language == Some("c") {
                e.compile_errors.push(format!("[{line_no}] {error}"));
                e.exit_code = 65;
            }
        } else if let Some(rest) = after(line, "// expect runtime error: ") {
            e.runtime_error = Some((rest.to_string(), n));
            e.exit_code = 70;
        }
    }
    e
}

/// What follows the first `marker` in `line`.
fn after<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    line.find(marker).map(|i| &line[i + marker.len()..])
}

/// `// [line N] Error...` or `// [c line N] Error...`: the language, N and
/// the error.
fn error_line(line: &str) -> Option<(Option<&str>, usize, &str)> {
    let rest = after(line, "// [")?;
    let (language, rest) = match rest.split_once(" line ") {
        Some((lang, rest)) if !lang.contains(' ') && !lang.is_empty() => (Some(lang), rest),
        _ => (None, rest.strip_prefix("line ")?),
    };
    let (number, error) = rest.split_once("] ")?;
    let number = number.parse().ok()?;
    error
        .starts_with("Error")
        .then_some((language, number, error))
}

/// `[line N] Error...` (or `[c line N]`): N and the error, as test.dart's
/// `_syntaxErrorPattern` reads a stderr line.
fn reported_error(line: &str) -> Option<(usize, &str)> {
    let start = line.find('[')?;
    let rest = &line[start + 1..];
    let at = rest.find("line ")?;
    let (number, error) = rest[at + 5..].split_once("] ")?;
    let number = number.parse().ok()?;
    error.starts_with("Error").then_some((number, error))
}

/// The first `[line N]` of a stack trace.
fn trace_line(line: &str) -> Option<usize> {
    let rest = after(line, "[line ")?;
    rest.split_once(']')?.0.parse().ok()
}

/// Why `r` does not meet `e`, if it does not.
fn judge(e: &Expected, r: &Run) -> Vec<String> {
    let mut problems = Vec::new();
    if r.timed_out() {
        return vec![format!("timed out after {:.1?}", r.elapsed)];
    }
    let stderr: Vec<&str> = r.stderr.lines().collect();
    match &e.runtime_error {
        Some((message, line)) => match stderr.first() {
            None => problems.push(format!("expected runtime error {message:?} and got none")),
            Some(first) => {
                if first != message {
                    problems.push(format!("runtime error {first:?}, expected {message:?}"));
                }
                match stderr[1..].iter().find_map(|l| trace_line(l)) {
                    None => problems.push("no stack trace".to_string()),
                    Some(n) if n != *line => {
                        problems.push(format!("stack trace at line {n}, expected {line}"))
                    }
                    Some(_) => {}
                }
            }
        },
        None => {
            let mut found = Vec::new();
            for l in &stderr {
                match reported_error(l) {
                    Some((n, error)) => {
                        let got = format!("[{n}] {error}");
                        if e.compile_errors.contains(&got) {
                            found.push(got);
                        } else {
                            problems.push(format!("unexpected error {l:?}"));
                        }
                    }
                    None if !l.is_empty() => problems.push(format!("unexpected stderr {l:?}")),
                    None => {}
                }
            }
            for missing in e.compile_errors.iter().filter(|x| !found.contains(x)) {
                problems.push(format!("missing error {missing:?}"));
            }
        }
    }
    if r.code() != Some(e.exit_code) {
        problems.push(format!(
            "exit status {}, expected {}",
            r.describe_status(),
            e.exit_code
        ));
    }
    let stdout = r.stdout_str();
    let mut lines: Vec<&str> = stdout.split('\n').collect();
    if lines.last() == Some(&"") {
        lines.pop();
    }
    if lines != e.output {
        problems.push(format!(
            "stdout {}, expected {}",
            excerpt(stdout.as_bytes()),
            excerpt(e.output.join("\n").as_bytes())
        ));
    }
    problems
}

#[test]
fn clox_suite() {
    let Some(dir) = shared_programs("lox/test") else {
        return;
    };
    let files: Vec<PathBuf> = files_with_extension(&dir, "lox")
        .into_iter()
        .filter(|p| {
            let top = p.strip_prefix(&dir).unwrap().iter().next().unwrap();
            !NOT_CLOX.iter().any(|d| top == *d)
        })
        .collect();
    eprintln!(
        "skipped: lox/test/scanning and lox/test/expressions (jlox-only tests, not in the clox suite); benchmarks: see `benchmarks`"
    );
    assert_eq!(files.len(), 246, "the clox suite has 246 files");
    let vm = lox();
    let mut all_failures = Vec::new();
    for (mode, options) in MODES {
        let failures = on_two_threads(files.clone(), |path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let expected = parse_expectations(&text);
            let program = path.to_string_lossy().into_owned();
            let mut args = options.to_vec();
            args.push(&program);
            let r = run(vm, &args, b"", QUICK);
            let problems = judge(&expected, &r);
            if problems.is_empty() {
                Ok(())
            } else {
                let name = path.strip_prefix(&dir).unwrap().display();
                Err(format!("{mode}: {name}: {}", problems.join("; ")))
            }
        });
        eprintln!(
            "lox {mode}: {} passed, {} failed",
            files.len() - failures.len(),
            failures.len()
        );
        all_failures.extend(failures);
    }
    all_failures.sort();
    assert!(
        all_failures.is_empty(),
        "{} failures:\n{}",
        all_failures.len(),
        all_failures.join("\n")
    );
}

/// The project's own Lox programs (`targets/lox/programs`: shapes and
/// fields, regressions found by the random tests), judged as the suite's
/// files, in every mode. They need nothing from `../shared`.
#[test]
fn own_programs() {
    let dir = metatrace_testkit::vms::workspace_root().join("targets/lox/programs");
    let files = files_with_extension(&dir, "lox");
    assert!(files.len() >= 2, "targets/lox/programs has its programs");
    let vm = lox();
    let mut failures = Vec::new();
    for (mode, options) in MODES {
        failures.extend(on_two_threads(files.clone(), |path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let program = path.to_string_lossy().into_owned();
            let mut args = options.to_vec();
            args.push(&program);
            let problems = judge(&parse_expectations(&text), &run(vm, &args, b"", QUICK));
            if problems.is_empty() {
                Ok(())
            } else {
                Err(format!("{mode}: {program}: {}", problems.join("; ")))
            }
        }));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `METATRACE_LOG=gc-summary` (docs/gc.md): the collector's counters at
/// exit. Lox installs `CountingAllocator`, so the malloc bytes in use are
/// counted; under `--gc stress` every allocation collects, young first.
#[test]
fn the_gc_summary_counts_collections() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("gc.log");
    let spec = format!("gc-summary:{}", log.display());
    let program = metatrace_testkit::vms::workspace_root().join("targets/lox/programs/fields.lox");
    let program = program.to_string_lossy().into_owned();
    let r = run_env(
        lox(),
        &["--gc", "stress", &program],
        &[("METATRACE_LOG", &spec)],
        b"",
        QUICK,
    );
    assert_eq!(r.code(), Some(70), "fields.lox ends with a runtime error");
    let text = std::fs::read_to_string(&log).unwrap();
    let value = |name: &str| -> u64 {
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no `{name}` in the summary:\n{text}"));
        line.parse()
            .unwrap_or_else(|_| panic!("`{name}: {line}` is not a count"))
    };
    assert!(
        text.starts_with("{gc-summary\nplan: stickyimmix\n"),
        "{text}"
    );
    assert!(value("collections") > 100, "{text}");
    assert!(value("full_collections") < value("collections"), "{text}");
    assert!(value("malloc_in_use") > 0, "{text}");
    // With the JIT off: the collector's summary, not the JIT's.
    let r = run_env(
        lox(),
        &["--jit", "off", "--gc", "stress", &program],
        &[(
            "METATRACE_LOG",
            &spec.replace("gc-summary", "gc-summary,jit-summary"),
        )],
        b"",
        QUICK,
    );
    assert_eq!(r.code(), Some(70));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.starts_with("{gc-summary\n"), "{text}");
    assert!(!text.contains("jit-summary"), "{text}");
}

/// A number whose value depends on the run's timing.
const TIME: &str = "<number>";

/// What each benchmark prints (clox's output; `TIME` for what depends on
/// time), or for `string_equality.lox` the compile error clox gives: it
/// exceeds the 256-constant limit.
const BENCHMARKS: &[(&str, &[&str])] = &[
    (
        "binary_trees.lox",
        &[
            "stretch tree of depth:",
            "15",
            "check:",
            "-1",
            "num trees:",
            "32768",
            "depth:",
            "4",
            "check:",
            "-32768",
            "num trees:",
            "8192",
            "depth:",
            "6",
            "check:",
            "-8192",
            "num trees:",
            "2048",
            "depth:",
            "8",
            "check:",
            "-2048",
            "num trees:",
            "512",
            "depth:",
            "10",
            "check:",
            "-512",
            "num trees:",
            "128",
            "depth:",
            "12",
            "check:",
            "-128",
            "num trees:",
            "32",
            "depth:",
            "14",
            "check:",
            "-32",
            "long lived tree of depth:",
            "14",
            "check:",
            "-1",
            "elapsed:",
            TIME,
        ],
    ),
    (
        "equality.lox",
        &["loop", TIME, "elapsed", TIME, "equals", TIME],
    ),
    ("fib.lox", &["true", TIME]),
    ("instantiation.lox", &[TIME]),
    ("invocation.lox", &[TIME]),
    ("method_call.lox", &["true", "false", TIME]),
    ("properties.lox", &[TIME]),
    ("string_equality.lox", &[]),
    ("trees.lox", &[TIME]),
    ("zoo.lox", &["1e+07", TIME]),
    // The score and the number of batches depend on the speed.
    ("zoo_batch.lox", &[TIME, TIME, TIME]),
];

/// The first compile error of string_equality.lox, as clox reports it.
const STRING_EQUALITY_ERROR: &str = "[line 32] Error at 'a4': Too many constants in one chunk.";

/// Whether `line` is what a `print` of a number gives (`%g`).
fn is_number(line: &str) -> bool {
    let line = line.strip_prefix('-').unwrap_or(line);
    line == "inf" || line == "nan" || line.parse::<f64>().is_ok()
}

#[test]
fn benchmarks() {
    let Some(dir) = shared_programs("lox/test/benchmark") else {
        return;
    };
    let files = files_with_extension(&dir, "lox");
    let vm = lox();
    let mut failures = Vec::new();
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy();
        if !BENCHMARKS.iter().any(|(b, _)| *b == name) {
            failures.push(format!("{name}: no expected output in BENCHMARKS"));
        }
    }
    for (mode, options) in BENCHMARK_MODES {
        failures.extend(on_two_threads(BENCHMARKS.to_vec(), |(name, expected)| {
            let program = dir.join(name).to_string_lossy().into_owned();
            let mut args = options.to_vec();
            args.push(&program);
            let r = run(vm, &args, b"", SLOW);
            eprintln!("lox {mode} {name:<20} {:>7.2} s", r.elapsed.as_secs_f64());
            let problem = if r.timed_out() {
                Some(format!("timed out after {:.1?}", r.elapsed))
            } else if name == "string_equality.lox" {
                let first = r.stderr.lines().next().unwrap_or("");
                (r.code() != Some(65) || first != STRING_EQUALITY_ERROR).then(|| {
                    format!(
                        "{}, stderr starts {first:?}, expected status 65 and {STRING_EQUALITY_ERROR:?}",
                        r.describe_status()
                    )
                })
            } else {
                let stdout = r.stdout_str();
                let lines: Vec<&str> = stdout.lines().collect();
                let matches = lines.len() == expected.len()
                    && lines
                        .iter()
                        .zip(expected.iter())
                        .all(|(got, want)| got == want || (*want == TIME && is_number(got)));
                (r.code() != Some(0) || !matches).then(|| {
                    format!(
                        "{}: stdout {}, expected {:?}; stderr {}",
                        r.describe_status(),
                        excerpt(stdout.as_bytes()),
                        expected,
                        r.stderr
                    )
                })
            };
            match problem {
                Some(p) => Err(format!("{mode}: {name}: {p}")),
                None => Ok(()),
            }
        }));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Each benchmark made small: (file, [(text, replacement)]). Then every
/// `clock()` becomes `0`, so that what was a time prints `0`.
const SMALL_BENCHMARKS: &[(&str, &[(&str, &str)])] = &[
    (
        "binary_trees.lox",
        &[("var maxDepth = 14;", "var maxDepth = 6;")],
    ),
    ("equality.lox", &[("10000000", "2000")]),
    ("fib.lox", &[("fib(35) == 9227465", "fib(15) == 610")]),
    ("instantiation.lox", &[("500000", "300")]),
    ("invocation.lox", &[("500000", "300")]),
    ("method_call.lox", &[("var n = 100000;", "var n = 100;")]),
    ("properties.lox", &[("500000", "300")]),
    ("string_equality.lox", &[]),
    (
        "trees.lox",
        &[
            ("Tree(8)", "Tree(3)"),
            ("122068", "38"),
            ("i < 100", "i < 3"),
        ],
    ),
    ("zoo.lox", &[("10000000", "3000")]),
    (
        "zoo_batch.lox",
        &[
            ("clock() - start < 10", "batch < 2"),
            ("i < 10000", "i < 300"),
        ],
    ),
];

/// The benchmarks, shrunk, under `--gc stress` with every plan: the same
/// output as the default run, which must itself be what the program
/// computes (no "Error" line, status 0, or clox's compile error).
#[test]
fn small_benchmarks_under_gc_stress() {
    let Some(dir) = shared_programs("lox/test/benchmark") else {
        return;
    };
    let vm = lox();
    let tmp = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (name, replacements) in SMALL_BENCHMARKS {
        let mut text = std::fs::read_to_string(dir.join(name)).unwrap();
        for (from, to) in *replacements {
            assert!(text.contains(from), "{name}: no {from:?} to shrink");
            text = text.replace(from, to);
        }
        let text = text.replace("clock()", "0");
        let program = write(tmp.path(), name, text.as_bytes());
        let runs: Vec<Run> = STRESS_MODES
            .iter()
            .map(|(_, options)| {
                let mut args = options.to_vec();
                args.push(&program);
                run(vm, &args, b"", SLOW)
            })
            .collect();
        let reference = &runs[0];
        let expected_code = if *name == "string_equality.lox" {
            65
        } else {
            0
        };
        if reference.code() != Some(expected_code) || reference.stdout_str().contains("Error") {
            failures.push(format!(
                "{name}: the default run: {}, stdout {}, stderr {}",
                reference.describe_status(),
                excerpt(&reference.stdout),
                reference.stderr
            ));
        }
        for ((mode, _), r) in STRESS_MODES.iter().zip(&runs).skip(1) {
            eprintln!(
                "lox {mode} small {name:<20} {:>7.2} s",
                r.elapsed.as_secs_f64()
            );
            if r.stdout != reference.stdout
                || r.stderr != reference.stderr
                || r.code() != reference.code()
            {
                failures.push(format!(
                    "{mode}: small {name}: {}, stdout {}, stderr {}; the default run: {}, stdout {}, stderr {}",
                    r.describe_status(),
                    excerpt(&r.stdout),
                    r.stderr,
                    reference.describe_status(),
                    excerpt(&reference.stdout),
                    reference.stderr
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The peak RSS binary_trees.lox may reach with each plan, also where
/// clox is not built to compare with (the test's main bound is twice
/// clox's). clox reaches about 25 MiB; the stand-in that never freed
/// reached 1.7 GB; measured 26-46 MiB since instances have shapes
/// (targets/lox/README.md), 55-71 MiB before.
const BINARY_TREES_MAX_RSS_MIB: u64 = 64;

/// binary_trees.lox runs in bounded memory: garbage (with the field tables
/// it owns on the malloc heap) is freed as the program goes.
#[test]
fn binary_trees_runs_in_bounded_memory() {
    let Some(dir) = shared_programs("lox/test/benchmark") else {
        return;
    };
    let program = dir.join("binary_trees.lox").to_string_lossy().into_owned();
    let mut failures = Vec::new();
    // Issue 13's bar: within 2x of clox's max RSS on the same file.
    let clox_kib = match metatrace_testkit::vms::clox() {
        Some(clox) => {
            let (_, code, kib) = run_max_rss(clox, &[&program]);
            assert_eq!(code, Some(0), "clox binary_trees.lox");
            eprintln!(
                "clox binary_trees.lox: max RSS {:.1} MiB",
                kib as f64 / 1024.0
            );
            Some(kib)
        }
        None => {
            eprintln!("skipped: the 2x-of-clox bound (clox is not built: no C compiler or no ../shared/peers/clox)");
            None
        }
    };
    for (jit, plan) in [
        ("off", "stickyimmix"),
        ("off", "immix"),
        ("off", "marksweep"),
        ("default", "stickyimmix"),
    ] {
        let gc = format!("plan={plan}");
        let (stdout, code, max_rss_kib) =
            run_max_rss(lox(), &["--jit", jit, "--gc", &gc, &program]);
        let mib = max_rss_kib as f64 / 1024.0;
        eprintln!("lox binary_trees.lox --jit {jit} --gc {gc}: max RSS {mib:.1} MiB");
        let checks = String::from_utf8_lossy(&stdout).matches("check:").count();
        if code != Some(0) || checks != 8 {
            failures.push(format!(
                "--jit {jit} {plan}: exit code {code:?}, {checks} checks printed"
            ));
        }
        if let Some(c) = clox_kib.filter(|&c| max_rss_kib > 2 * c) {
            failures.push(format!(
                "--jit {jit} {plan}: max RSS {mib:.1} MiB, over twice clox's {:.1} MiB",
                c as f64 / 1024.0
            ));
        }
        if max_rss_kib > BINARY_TREES_MAX_RSS_MIB * 1024 {
            failures.push(format!(
                "--jit {jit} {plan}: max RSS {mib:.1} MiB, over {BINARY_TREES_MAX_RSS_MIB} MiB"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The judge itself, on made-up runs (no VM needed).
#[test]
fn the_judge_reads_expectations_as_test_dart() {
    let e = parse_expectations(
        "print 1; // expect: 1\n\
         x; // Error at 'x': Bad.\n\
         // [line 7] Error at end: Expect '}'.\n\
         // [c line 8] Error: C only.\n\
         // [java line 9] Error: Java only.\n",
    );
    assert_eq!(e.output, ["1"]);
    assert_eq!(
        e.compile_errors,
        [
            "[2] Error at 'x': Bad.",
            "[7] Error at end: Expect '}'.",
            "[8] Error: C only."
        ]
    );
    assert_eq!(e.exit_code, 65);
    let e = parse_expectations("a;\nb; // expect runtime error: Boom.\n");
    assert_eq!(e.runtime_error, Some(("Boom.".to_string(), 2)));
    assert_eq!(e.exit_code, 70);
    assert_eq!(
        reported_error("[line 3] Error at 'a': X."),
        Some((3, "Error at 'a': X."))
    );
    assert_eq!(trace_line("[line 12] in f()"), Some(12));
    assert!(is_number("-1.5e-07") && is_number("12") && !is_number("check:"));
}

/// The REPL (as clox's: a prompt per line, globals kept, errors reported
/// and the session going on) and the command line.
#[test]
fn repl_and_command_line() {
    let vm = lox();
    let input = "var a = 1;\nprint a + 1;\nprint b;\nfun f() { return a; }\nprint f();\nprint 1 +;\nprint \"x\";";
    let r = run(vm, &[], input.as_bytes(), QUICK);
    r.assert_success("repl");
    assert_eq!(r.stdout_str(), "> > 2\n> > > 1\n> > x\n> \n");
    assert_eq!(
        r.stderr,
        "Undefined variable 'b'.\n[line 1] in script\n[line 1] Error at ';': Expect expression.\n"
    );

    let dir = tempfile::tempdir().unwrap();
    let program = write(dir.path(), "p.lox", b"print 1 + 2;");
    let r = run(
        vm,
        &["--gc", "plan=immix,stress", "--jit", "off", &program],
        b"",
        QUICK,
    );
    r.assert_success("--gc options");
    assert_eq!(r.stdout_str(), "3\n");
    let r = run(vm, &["--help"], b"", QUICK);
    r.assert_success("--help");
    assert!(r
        .stdout_str()
        .starts_with("usage: lox [--jit OPTIONS] [--gc OPTIONS] [FILE]"));

    let missing = dir
        .path()
        .join("missing.lox")
        .to_string_lossy()
        .into_owned();
    let r = run(vm, &[&missing], b"", QUICK);
    assert_eq!(r.code(), Some(74), "{}", r.stderr);
    assert_eq!(r.stderr, format!("Could not open file \"{missing}\".\n"));
    let usage_errors: [(&[&str], &str); 4] = [
        (&[&program, &program], "unexpected argument"),
        (
            &["--gc", "plan=copying", &program],
            "--gc plan=copying: bad value for GC option 'plan'",
        ),
        (&["--frobnicate", &program], "unknown option '--frobnicate'"),
        (&["--jit", "threshold=-1", &program], "--jit threshold=-1"),
    ];
    for (args, needle) in usage_errors {
        let r = run(vm, args, b"", QUICK);
        assert_eq!(r.code(), Some(64), "{args:?}: {}", r.stderr);
        assert!(
            r.stderr.starts_with("error: ") && r.stderr.contains(needle),
            "{args:?}: {}",
            r.stderr
        );
    }
}

/// The benchmarks' loops compile: from the JIT summary (`METATRACE_LOG=
/// jit-summary`), each of these compiles at least one loop and no trace
/// aborts for a reason other than the expected ones (a trace too long, the
/// portal returning, a bridge round a loop not compiled yet). Not listed:
/// `fib.lox` and `trees.lox` (their work is recursion: a function without
/// a loop is not traced until tracing from a function's entry exists),
/// `properties.lox` (its loop body is longer than `trace_limit`), the
/// ten-second `zoo_batch.lox` and `string_equality.lox` (a compile error).
#[test]
fn benchmark_loops_compile() {
    let Some(dir) = shared_programs("lox/test/benchmark") else {
        return;
    };
    let expected_aborts = ["too_long", "portal_returned", "no_target_loop"];
    let mut failures = Vec::new();
    // (fib.lox has no loop: its calls compile only because Lox marks
    // a function's entry with `jit_function_entry!()`.)
    for name in [
        "binary_trees.lox",
        "fib.lox",
        "trees.lox",
        "equality.lox",
        "instantiation.lox",
        "invocation.lox",
        "method_call.lox",
        "zoo.lox",
    ] {
        let log = tempfile::NamedTempFile::new().unwrap();
        let spec = format!("jit-summary:{}", log.path().display());
        let path = dir.join(name).to_string_lossy().into_owned();
        let r = run_env(lox(), &[&path], &[("METATRACE_LOG", &spec)], b"", QUICK);
        if r.code() != Some(0) {
            failures.push(format!("{name}: {}", r.describe_status()));
            continue;
        }
        let text = std::fs::read_to_string(log.path()).unwrap_or_default();
        let count = |key: &str| summary_count(&text, key).unwrap_or(0);
        if count("loops") == 0 {
            failures.push(format!("{name}: no loop compiled:\n{text}"));
        }
        // A cliff, not a speed: iterations that keep ending in the
        // blackhole (a guard that fails for ever without a bridge: an
        // invalidated bridge once made binary_trees do 2.6 million).
        if count("blackhole_runs") > 50_000 {
            failures.push(format!("{name}: blackhole runs without end:\n{text}"));
        }
        for l in text.lines() {
            if let Some((reason, n)) = l.strip_prefix("aborts.").and_then(|l| l.split_once(": ")) {
                if n != "0" && !expected_aborts.contains(&reason) {
                    failures.push(format!("{name}: {n} aborts for {reason}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// With `--jit inlining=1`, the loop of `instantiation.lox` (thirty calls
/// of `Foo()` and its `init()` per iteration) is traced whole, the calls
/// inlined: a loop of its own besides `init()`'s function trace, and
/// fewer bridges than the chain of one bridge per call site it runs
/// through without inlining (and no blacklisting).
#[test]
fn inlining_traces_the_loop_that_makes_the_calls() {
    let Some(dir) = shared_programs("lox/test/benchmark") else {
        return;
    };
    let path = dir.join("instantiation.lox").to_string_lossy().into_owned();
    let summary = |jit: &str| -> (u64, u64, u64, String) {
        let log = tempfile::NamedTempFile::new().unwrap();
        let spec = format!("jit-summary:{}", log.path().display());
        let r = run_env(
            lox(),
            &["--jit", jit, &path],
            &[("METATRACE_LOG", &spec)],
            b"",
            QUICK,
        );
        assert_eq!(r.code(), Some(0), "{jit}: {}", r.describe_status());
        let text = std::fs::read_to_string(log.path()).unwrap_or_default();
        let count = |key: &str| summary_count(&text, key).unwrap_or(0);
        let blacklisted = count("keys_blacklisted") + count("guards_blacklisted");
        (count("loops"), count("bridges"), blacklisted, text)
    };
    let (loops, bridges, blacklisted, text) = summary("inlining=1");
    let (loops0, bridges0, _, text0) = summary("inlining=0");
    assert!(
        loops > loops0 && bridges < bridges0 && blacklisted == 0,
        "inlining=1:\n{text}\ninlining=0:\n{text0}"
    );
}

/// The Lox VM whose calls recurse natively into the portal
/// (`--recursive-calls`, as PyPy's interpreter calls itself) runs the
/// benchmarks (shrunk) with compiled recursion: the outputs are the
/// default VM's, natively, on jitcodes only and with the JIT at low
/// thresholds (under `--gc stress` too); with the JIT, fib.lox and
/// method_call.lox compile function traces ending in `finish`, their
/// calls are `call_assembler` calls, and no trace aborts for recursion.
#[test]
fn recursive_calls_compile_recursion() {
    let Some(dir) = shared_programs("lox/test/benchmark") else {
        return;
    };
    let vm = lox();
    let tmp = tempfile::tempdir().unwrap();
    let low = "threshold=2,function_threshold=2,trace_eagerness=1";
    let modes: &[&[&str]] = &[
        &["--recursive-calls", "--jit", "off"],
        &["--recursive-calls", "--jit", "mode=jitcode-only"],
        &["--recursive-calls"],
        &["--recursive-calls", "--jit", low],
        &["--recursive-calls", "--jit", low, "--gc", "stress"],
    ];
    let mut failures = Vec::new();
    for (name, replacements) in SMALL_BENCHMARKS {
        let mut text = std::fs::read_to_string(dir.join(name)).unwrap();
        for (from, to) in *replacements {
            text = text.replace(from, to);
        }
        let text = text.replace("clock()", "0");
        let program = write(tmp.path(), name, text.as_bytes());
        let reference = run(vm, &["--jit", "off", &program], b"", SLOW);
        for options in modes {
            let log = tmp.path().join(format!("{name}.log"));
            let spec = format!("jit-summary:{}", log.display());
            let mut args = options.to_vec();
            args.push(&program);
            let r = run_env(vm, &args, &[("METATRACE_LOG", &spec)], b"", SLOW);
            if r.stdout != reference.stdout
                || r.stderr != reference.stderr
                || r.code() != reference.code()
            {
                failures.push(format!(
                    "{options:?} {name}: {}, stdout {}, stderr {}; the default VM: {}, stdout {}",
                    r.describe_status(),
                    excerpt(&r.stdout),
                    r.stderr,
                    reference.describe_status(),
                    excerpt(&reference.stdout),
                ));
            }
            let summary = std::fs::read_to_string(&log).unwrap_or_default();
            let count = |key: &str| summary_count(&summary, key).unwrap_or(0);
            if count("aborts.recursion") != 0 {
                failures.push(format!(
                    "{options:?} {name}: aborts for recursion:\n{summary}"
                ));
            }
            let jit_low = options.contains(&low);
            if jit_low && ["fib.lox", "method_call.lox"].contains(name) {
                for key in ["functions", "call_assembler_calls", "finish_exits"] {
                    if count(key) == 0 {
                        failures.push(format!("{options:?} {name}: no {key}:\n{summary}"));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A recursive `fib(25)`: the shape of fib.lox, small.
const FIB_25: &str =
    "fun fib(n) {\n  if (n < 2) return n;\n  return fib(n - 2) + fib(n - 1);\n}\nprint fib(25);\n";

/// Runs `source` (written to a temporary file) with `args` before its
/// path and the JIT log `category` written to a file; the run and that
/// log.
fn run_logged(source: &str, args: &[&str], category: &str) -> (Run, String) {
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("program.lox");
    std::fs::write(&program, source).unwrap();
    let log = dir.path().join("jit.log");
    let spec = format!("{category}:{}", log.display());
    let path = program.to_string_lossy().into_owned();
    let mut all: Vec<&str> = args.to_vec();
    all.push(&path);
    let r = run_env(lox(), &all, &[("METATRACE_LOG", &spec)], b"", QUICK);
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    (r, text)
}

/// A call pushes a `CallFrame` and the callee's slots, and its return pops
/// them: where the trace would store them (at a call it makes, at its
/// end), the heap pass drops those stores instead, leaving them to the
/// guards that were passed while they were pending (`stores_only_on_exits`
/// in the summary). On this recursive `fib` that is a dozen stores; it was
/// one (a store overwritten whole) with the popped ones kept.
#[test]
fn popped_frames_are_not_stored() {
    let (r, text) = run_logged(FIB_25, &[], "jit-summary");
    r.assert_success("fib.lox");
    assert_eq!(r.stdout, b"75025\n");
    let left = summary_count(&text, "stores_only_on_exits")
        .unwrap_or_else(|| panic!("no stores_only_on_exits in the summary:\n{text}"));
    assert!(left >= 6, "{left} stores left to exits:\n{text}");
}

/// Counter `key` of a `jit-summary` section in `text`.
fn summary_count(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(": ")?.parse().ok())
}

/// A loop that calls methods and assigns a global (zoo_batch.lox's
/// shape) is peeled, and its peeled loop neither probes the globals'
/// hash table (a reassigned global is one store into its cell,
/// targets/lox/src/globals.rs) nor reads the caller's closure again (the
/// heap pass knows a field the preamble guarded to be that constant,
/// so the peeled iteration's guard on it folds; before, the peeled loop
/// kept the preamble's read alive, which no label slot carries, and
/// peeling gave up).
#[test]
fn a_loop_assigning_a_global_is_peeled_without_table_probes() {
    let source = "class Zoo {\n  init() { this.a = 1; this.b = 2; }\n  ant() { return this.a; }\n  bee() { return this.b; }\n}\n\
         var zoo = Zoo();\nvar sum = 0;\n\
         for (var i = 0; i < 5000; i = i + 1) { sum = sum + zoo.ant() + zoo.bee(); }\nprint sum;\n";
    let (r, text) = run_logged(source, &[], "jit-log-opt-loop");
    r.assert_success("zoo.lox");
    assert_eq!(r.stdout, b"15000\n");
    let peeled: Vec<&str> = text
        .split("{jit-log-opt-loop\n")
        .filter(|section| section.starts_with("# loop") && section.contains(": peeled loop at"))
        .collect();
    assert_eq!(peeled.len(), 1, "one peeled loop expected:\n{text}");
    for read in ["getfield<Table.count>", "getfield<Closure.function>"] {
        assert!(
            !peeled[0].contains(read),
            "the peeled loop has {read}:\n{}",
            peeled[0]
        );
    }
}

/// A trace that closes at a function's entry (a recursive call is its
/// back edge) is not peeled: the returns, as bridges, enter it far more
/// often than it goes round, and would each run a preamble first. One
/// that closes at the back edge of a loop starting a function (the same
/// key) is.
/// fib's loop peels since the heap pass folds guarded fields into the
/// peeled iteration; it ran about 7% slower peeled (trees 10%).
#[test]
fn recursion_loops_are_not_peeled() {
    let count = |text: &str, key: &str| {
        summary_count(text, key).unwrap_or_else(|| panic!("no {key} in the summary:\n{text}"))
    };
    let (r, text) = run_logged(FIB_25, &[], "jit-summary");
    r.assert_success("fib.lox");
    assert_eq!(r.stdout, b"75025\n");
    assert!(
        count(&text, "loops") >= 1,
        "fib's recursion compiles a loop:\n{text}"
    );
    assert_eq!(
        count(&text, "preambles"),
        0,
        "a recursion loop was peeled:\n{text}"
    );

    // A `while` that starts a function has the function entry's key: traced
    // from the entry (a low function_threshold makes it so), it closes at
    // the loop's back edge, and is peeled like any loop.
    let spin = "fun spin(n) {\n  while (n > 0) {\n    n = n - 1;\n  }\n  return n;\n}\n\
         var total = 0;\nfor (var i = 0; i < 3000; i = i + 1) { total = total + spin(2); }\nprint total;\n";
    let (r, text) = run_logged(spin, &["--jit", "function_threshold=100"], "jit-summary");
    r.assert_success("spin.lox");
    assert_eq!(r.stdout, b"0\n");
    assert_eq!(
        count(&text, "preambles"),
        1,
        "the loop at a function's start:\n{text}"
    );
}
