//! The differential runner: runs each generated program in every mode of
//! [`MODES`], compares stdout, stderr and exit status byte for byte with the
//! first mode (the reference, native `--jit off`), checks the reference
//! against the generator's own model of the language, and on the first
//! divergence shrinks the program and fails with a reproducer.

use super::shrink;
use metatrace_testkit::rng::{self, SplitMix as Rng};
use metatrace_testkit::vms;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The modes every program runs in, each passed to the VM as `--jit MODE`.
/// The first one is the reference the others are compared with. A new mode
/// is one more line here (or, without editing, `METATRACE_MODES`).
pub const MODES: &[&str] = &[
    "off",
    "mode=jitcode-only",
    // The JIT with very low thresholds: every loop that runs twice is
    // traced (at its first or second `can_enter_jit`), every guard that
    // fails gets a bridge.
    "mode=jit,threshold=1,trace_eagerness=1",
    "mode=jit,threshold=2,trace_eagerness=1",
];

/// What a VM says (in `error: ...`, on the trivial probe program) when asked
/// for a mode it cannot run: built without jitcodes, or a mode whose
/// implementation has not landed yet.
pub const UNSUPPORTED: &[&str] = &["built without jitcodes", "not implemented yet"];

/// Per run. Generated programs take well under a millisecond natively; this
/// only catches hangs.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(20);
/// Per run while shrinking: every candidate that still hangs costs this
/// much, and generated programs take milliseconds in any mode.
pub const SHRINK_TIMEOUT: Duration = Duration::from_secs(3);
/// The time the shrinker may spend on one divergence.
pub const SHRINK_BUDGET: Duration = Duration::from_secs(90);
/// Worker threads (the CI machine has two cores).
pub const WORKERS: usize = 2;
/// VM processes alive at once across all tests of this binary.
const MAX_PROCESSES: usize = 2;

/// What a VM is given for one run: the program file's contents, the
/// arguments after PROGRAM, and stdin.
#[derive(Clone, Debug)]
pub struct Case {
    pub source: Vec<u8>,
    pub args: Vec<String>,
    pub stdin: Vec<u8>,
}

/// What the generator's model of the language predicts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelOutcome {
    pub stdout: Vec<u8>,
    /// Exit status 0 (else status 1 with `error: ...` on stderr).
    pub ok: bool,
}

/// What a run produced, in a form compared byte for byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// `exit status N`, `killed by signal N` or `timeout`.
    pub status: String,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.status == "exit status 0"
    }

    pub fn timed_out(&self) -> bool {
        self.status == "timeout"
    }

    pub fn show(&self) -> String {
        format!(
            "  status: {}\n  stdout: {}\n  stderr: {}",
            self.status,
            vms::excerpt(&self.stdout),
            vms::excerpt(self.stderr.as_bytes())
        )
    }
}

/// Does the reference run agree with the model?
pub fn model_agrees(m: &ModelOutcome, o: &Outcome) -> bool {
    o.stdout == m.stdout
        && if m.ok {
            o.ok() && o.stderr.is_empty()
        } else {
            o.status == "exit status 1" && o.stderr.starts_with("error: ")
        }
}

/// A VM and its program generator.
pub trait Target: Sync {
    type Program: Clone + Send;
    /// `tlr`, `bf`.
    const NAME: &'static str;
    /// The program file's extension.
    const EXT: &'static str;
    fn vm(&self) -> PathBuf;
    /// A program the model says terminates within its step budget.
    fn generate(&self, rng: &mut Rng) -> Self::Program;
    fn case(&self, p: &Self::Program) -> Case;
    /// `None` if the program does not end within the model's step budget.
    fn model(&self, p: &Self::Program) -> Option<ModelOutcome>;
    /// The lengths of the lists the shrinker removes chunks from.
    fn lists(&self, p: &Self::Program) -> Vec<usize>;
    /// `p` without items `a..b` of list `list` (`None` if not representable).
    fn remove(&self, p: &Self::Program, list: usize, a: usize, b: usize) -> Option<Self::Program>;
    /// Simpler variants of `p` of the same size (smaller numbers).
    fn simplifications(&self, p: &Self::Program) -> Vec<Self::Program>;
    /// E.g. `12 instructions (23 bytes)`.
    fn size(&self, p: &Self::Program) -> String;
    /// The program, printable (for failure messages).
    fn describe(&self, p: &Self::Program) -> String;
    /// The regression files for `p`: (extension, contents).
    fn files(&self, p: &Self::Program) -> Vec<(&'static str, Vec<u8>)>;
    /// The VM's error messages, for the statistics: (what the message
    /// contains, the name of its category).
    const ERRORS: &'static [(&'static str, &'static str)];
    /// A short category of a reference outcome, for the statistics: `ok`,
    /// `error (NAME)` for one of [`Target::ERRORS`], or `other: ...`.
    fn classify(&self, o: &Outcome) -> String {
        if o.ok() {
            return "ok".into();
        }
        let e = &o.stderr;
        for (needle, name) in Self::ERRORS {
            if e.contains(needle) {
                return format!("error ({name})");
            }
        }
        format!(
            "other: {} {}",
            o.status,
            e.chars().take(60).collect::<String>()
        )
    }
    /// A trivial valid program, to ask the VM whether it supports a mode.
    fn probe(&self) -> Self::Program;
}

// ---------------------------------------------------------------- running

static PROCESSES: Mutex<usize> = Mutex::new(0);
static PROCESS_FREED: Condvar = Condvar::new();

/// A permit to run one VM process (at most `MAX_PROCESSES` at once, whatever
/// the number of tests running in parallel).
struct Permit;

impl Permit {
    fn acquire() -> Permit {
        let mut n = PROCESSES.lock().unwrap();
        while *n >= MAX_PROCESSES {
            n = PROCESS_FREED.wait(n).unwrap();
        }
        *n += 1;
        Permit
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        *PROCESSES.lock().unwrap() -= 1;
        PROCESS_FREED.notify_one();
    }
}

/// Runs `vm --jit MODE PROGRAM ARGS...` with `stdin`, killing it at
/// `timeout`. Unlike `vms::run` it does not poll: a run of a small
/// program costs about one process spawn.
pub fn run_vm(
    vm: &Path,
    mode: &str,
    program: &Path,
    args: &[String],
    stdin: &[u8],
    timeout: Duration,
) -> (Outcome, Duration) {
    let _permit = Permit::acquire();
    let start = Instant::now();
    let mut child = Command::new(vm)
        // No JIT log: it may write to stderr, which is compared.
        .env_remove("METATRACE_LOG")
        // Every compiled trace must print and parse back (docs/testing.md).
        .env("METATRACE_CHECK_IR_TEXT", "1")
        .arg("--jit")
        .arg(mode)
        .arg(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", vm.display()));
    let mut child_stdin = child.stdin.take().unwrap();
    let writer = if stdin.len() <= 4096 {
        // Fits in the pipe's buffer: no thread needed. EPIPE (the VM exited
        // without reading) is fine.
        let _ = child_stdin.write_all(stdin);
        drop(child_stdin);
        None
    } else {
        let input = stdin.to_vec();
        Some(std::thread::spawn(move || {
            let _ = child_stdin.write_all(&input);
        }))
    };
    let (tx, rx) = mpsc::channel::<()>();
    let reader = |mut pipe: Box<dyn Read + Send>, tx: mpsc::Sender<()>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            let _ = tx.send(());
            buf
        })
    };
    let out = reader(Box::new(child.stdout.take().unwrap()), tx.clone());
    let err = reader(Box::new(child.stderr.take().unwrap()), tx);
    let deadline = start + timeout;
    let mut closed = 0;
    let mut timed_out = false;
    while closed < 2 {
        let now = Instant::now();
        if now >= deadline {
            timed_out = true;
            break;
        }
        match rx.recv_timeout(deadline - now) {
            Ok(()) => closed += 1,
            Err(mpsc::RecvTimeoutError::Timeout) => timed_out = true,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if timed_out {
            break;
        }
    }
    let status = loop {
        if timed_out {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        match child.try_wait().expect("try_wait") {
            Some(status) => break Some(status),
            None if Instant::now() >= deadline => timed_out = true,
            None => std::thread::sleep(Duration::from_micros(200)),
        }
    };
    let elapsed = start.elapsed();
    if let Some(w) = writer {
        let _ = w.join();
    }
    let stdout = out.join().unwrap();
    let stderr = String::from_utf8_lossy(&err.join().unwrap()).into_owned();
    let status = match status {
        None => "timeout".to_string(),
        Some(s) => describe_status(s),
    };
    (
        Outcome {
            status,
            stdout,
            stderr,
        },
        elapsed,
    )
}

fn describe_status(s: std::process::ExitStatus) -> String {
    if let Some(code) = s.code() {
        return format!("exit status {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = s.signal() {
            return format!("killed by signal {sig}");
        }
    }
    s.to_string()
}

// ---------------------------------------------------------------- settings

/// The base seed: `METATRACE_SEED` (decimal, `0x` hex, or `random`), else a
/// fixed default so that CI runs are reproducible. `who` names the test in
/// the note printed for `random`.
pub fn base_seed(who: &str) -> u64 {
    match std::env::var("METATRACE_SEED") {
        Err(_) => 0x6d65_7461_7472_6163, // "metatrac"
        Ok(s) if s.trim() == "random" => {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap();
            let seed = rng::mix(t.as_nanos() as u64, std::process::id() as u64);
            eprintln!("{who}: METATRACE_SEED=random: using METATRACE_SEED={seed:#x}");
            seed
        }
        Ok(s) => {
            let s = s.trim();
            let parsed = match s.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => s.parse(),
            };
            parsed.unwrap_or_else(|_| {
                panic!("METATRACE_SEED must be a u64 (decimal or 0x hex) or `random`, not {s:?}")
            })
        }
    }
}

/// `METATRACE_RANDOM_PROGRAMS`, else `default`.
fn program_count(default: usize) -> usize {
    match std::env::var("METATRACE_RANDOM_PROGRAMS") {
        Ok(s) => s
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("METATRACE_RANDOM_PROGRAMS must be a count, not {s:?}")),
        Err(_) => default,
    }
}

/// [`MODES`], or `METATRACE_MODES` (modes separated by `;`, the first being
/// the reference), e.g. `METATRACE_MODES='off;mode=jit,threshold=2'`.
pub fn modes() -> Vec<String> {
    match std::env::var("METATRACE_MODES") {
        Ok(s) => s
            .split(';')
            .map(|m| m.trim().to_string())
            .filter(|m| !m.is_empty())
            .collect(),
        Err(_) => MODES.iter().map(|m| m.to_string()).collect(),
    }
}

/// `METATRACE_REQUIRE_MODES=1`: a mode the VM does not support fails the
/// test instead of being skipped.
fn require_modes() -> bool {
    std::env::var("METATRACE_REQUIRE_MODES").is_ok_and(|v| v != "0" && !v.is_empty())
}

/// The modes `t`'s VM supports, the reference first; prints a note for
/// each one skipped.
pub fn supported_modes<T: Target>(t: &T, dir: &Path, modes: Vec<String>) -> Vec<String> {
    assert!(!modes.is_empty(), "no modes to run");
    let p = t.probe();
    let case = t.case(&p);
    let path = dir.join(format!("probe.{}", T::EXT));
    std::fs::write(&path, &case.source).unwrap();
    let mut supported = Vec::new();
    for (i, mode) in modes.iter().enumerate() {
        let (o, _) = run_vm(&t.vm(), mode, &path, &case.args, &case.stdin, RUN_TIMEOUT);
        if o.status == "exit status 1" && UNSUPPORTED.iter().any(|u| o.stderr.contains(u)) {
            let msg = format!(
                "{}: skipping `--jit {mode}`: the VM says {:?}",
                T::NAME,
                o.stderr.trim()
            );
            assert!(i > 0, "{msg}: the reference mode must be supported");
            assert!(
                !require_modes(),
                "{msg} (and METATRACE_REQUIRE_MODES is set)"
            );
            eprintln!("note: {msg}");
        } else {
            supported.push(mode.clone());
        }
    }
    supported
}

// ---------------------------------------------------------------- the test

/// What went wrong with one program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The reference run disagrees with the model (or timed out).
    Model,
    /// `modes[i]` disagrees with the reference.
    Diverges(usize),
}

struct Found<P> {
    index: usize,
    program: P,
    problem: Problem,
}

#[derive(Default)]
struct Stats {
    programs: usize,
    runs: usize,
    categories: BTreeMap<String, usize>,
    /// Per mode: total time of its runs.
    time: Vec<Duration>,
    /// Per mode: programs compared with the reference.
    compared: Vec<usize>,
}

/// Runs one program in `modes`; returns the outcomes and the first problem.
fn check<T: Target>(
    t: &T,
    vm: &Path,
    modes: &[String],
    p: &T::Program,
    path: &Path,
    timeout: Duration,
    only: Option<Problem>,
) -> (Vec<(Outcome, Duration)>, Option<Problem>) {
    let model = t
        .model(p)
        .expect("the generator made a program its model does not see terminate");
    let case = t.case(p);
    std::fs::write(path, &case.source).unwrap();
    let run = |m: &str| run_vm(vm, m, path, &case.args, &case.stdin, timeout);
    let mut runs = vec![run(&modes[0])];
    let base = runs[0].0.clone();
    if base.timed_out() || !model_agrees(&model, &base) {
        return (runs, Some(Problem::Model));
    }
    if only == Some(Problem::Model) {
        return (runs, None);
    }
    let mut problem = None;
    for (i, mode) in modes.iter().enumerate().skip(1) {
        if only.is_some_and(|o| o != Problem::Diverges(i)) {
            continue;
        }
        let r = run(mode);
        if problem.is_none() && r.0 != base {
            problem = Some(Problem::Diverges(i));
        }
        runs.push(r);
    }
    (runs, problem)
}

/// The random-program test of target `t`: `default_count` programs (or
/// `METATRACE_RANDOM_PROGRAMS`), in every supported mode.
pub fn differential<T: Target>(t: &T, default_count: usize) {
    differential_in_modes(t, default_count, modes());
}

/// [`differential`] in the given modes (the first is the reference).
pub fn differential_in_modes<T: Target>(t: &T, default_count: usize, modes: Vec<String>) {
    let vm = t.vm(); // builds the VMs the first time: not counted
    let start = Instant::now();
    let seed = base_seed(T::NAME);
    let target_seed = rng::mix(seed, rng::hash_str(T::NAME));
    let count = program_count(default_count);
    let dir = tempfile::tempdir().unwrap();
    let modes = supported_modes(t, dir.path(), modes);

    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let stats = Mutex::new(Stats {
        time: vec![Duration::ZERO; modes.len()],
        compared: vec![0; modes.len()],
        ..Stats::default()
    });
    let found: Mutex<Option<Found<T::Program>>> = Mutex::new(None);
    std::thread::scope(|s| {
        for w in 0..WORKERS {
            let path = dir.path().join(format!("w{w}.{}", T::EXT));
            let (next, stop, stats, found, modes, vm) = (&next, &stop, &stats, &found, &modes, &vm);
            s.spawn(move || loop {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let index = next.fetch_add(1, Ordering::SeqCst);
                if index >= count {
                    break;
                }
                let mut rng = Rng::new(rng::mix(target_seed, index as u64));
                let p = t.generate(&mut rng);
                let (runs, problem) = check(t, vm, modes, &p, &path, RUN_TIMEOUT, None);
                {
                    let mut st = stats.lock().unwrap();
                    st.programs += 1;
                    st.runs += runs.len();
                    *st.categories.entry(t.classify(&runs[0].0)).or_default() += 1;
                    for (i, (_, d)) in runs.iter().enumerate() {
                        st.time[i] += *d;
                        if i > 0 {
                            st.compared[i] += 1;
                        }
                    }
                }
                if let Some(problem) = problem {
                    stop.store(true, Ordering::SeqCst);
                    let mut f = found.lock().unwrap();
                    if f.as_ref().is_none_or(|f| index < f.index) {
                        *f = Some(Found {
                            index,
                            program: p,
                            problem,
                        });
                    }
                }
            });
        }
    });
    let elapsed = start.elapsed();
    let st = stats.into_inner().unwrap();

    let mut summary = format!(
        "{}: METATRACE_SEED={seed:#x}: {} programs, {} VM runs in {:.1} s ({:.0} programs/s)\n",
        T::NAME,
        st.programs,
        st.runs,
        elapsed.as_secs_f64(),
        st.programs as f64 / elapsed.as_secs_f64()
    );
    summary.push_str(&format!("  outcomes with `--jit {}`:", modes[0]));
    for (category, n) in &st.categories {
        summary.push_str(&format!(" {category}: {n};"));
    }
    summary.push('\n');
    for (i, mode) in modes.iter().enumerate() {
        let runs = if i == 0 { st.programs } else { st.compared[i] };
        summary.push_str(&format!(
            "  `--jit {mode}`: {runs} runs, {:.1} s of run time ({:.2} ms per run){}\n",
            st.time[i].as_secs_f64(),
            st.time[i].as_secs_f64() * 1000.0 / runs.max(1) as f64,
            if i == 0 {
                " (reference, checked against the generator's model)".to_string()
            } else {
                format!(", {} compared with `--jit {}`", st.compared[i], modes[0])
            }
        ));
    }
    if modes.len() == 1 {
        summary.push_str(
            "  note: no other mode supported: only the reference was checked (against the model)\n",
        );
    }
    eprint!("{summary}");

    if let Some(f) = found.into_inner().unwrap() {
        fail(t, &vm, &modes, seed, f, dir.path());
    }
    assert_eq!(st.programs, count, "not every program ran");
    for (i, mode) in modes.iter().enumerate().skip(1) {
        assert_eq!(
            st.compared[i], count,
            "`--jit {mode}` was not compared on every program"
        );
        assert!(
            count < 1000 || st.compared[i] >= 1000,
            "`--jit {mode}`: only {} comparisons",
            st.compared[i]
        );
    }
}

/// Shrinks the divergence `f` and panics with a reproducer.
fn fail<T: Target>(
    t: &T,
    vm: &Path,
    modes: &[String],
    seed: u64,
    f: Found<T::Program>,
    dir: &Path,
) -> ! {
    let path = dir.join(format!("shrink.{}", T::EXT));
    let what = match f.problem {
        Problem::Model => format!(
            "`--jit {}` disagrees with the generator's model of {} (a bug in the VM, or in tests/random/{}.rs)",
            modes[0],
            T::NAME,
            T::NAME
        ),
        Problem::Diverges(i) => format!(
            "`--jit {}` and `--jit {}` disagree",
            modes[i], modes[0]
        ),
    };
    eprintln!(
        "{}: program #{} (METATRACE_SEED={seed:#x}): {what}; shrinking ({})...",
        T::NAME,
        f.index,
        t.size(&f.program)
    );
    let predicate = |p: &T::Program| -> bool {
        if t.model(p).is_none() {
            return false; // might not terminate
        }
        check(t, vm, modes, p, &path, SHRINK_TIMEOUT, Some(f.problem)).1 == Some(f.problem)
    };
    let shrunk = shrink::minimize(t, f.program.clone(), predicate, SHRINK_BUDGET);
    let small = shrunk.program;

    // Save the reproducer where it survives the test.
    let out_dir = vms::target_dir().join("random_programs");
    std::fs::create_dir_all(&out_dir).unwrap();
    let stem = format!("{}-{seed:x}-{}", T::NAME, f.index);
    let mut saved = Vec::new();
    for (ext, contents) in t.files(&small) {
        let p = out_dir.join(format!("{stem}.{ext}"));
        std::fs::write(&p, contents).unwrap();
        saved.push(p.display().to_string());
    }

    let (runs, _) = check(t, vm, modes, &small, &path, RUN_TIMEOUT, Some(f.problem));
    let model = t.model(&small).unwrap();
    let mut msg = format!(
        "\n{}: {what}\non program #{} of METATRACE_SEED={seed:#x}, shrunk from {} to {} \
         ({} candidates tried in {:.1} s{}):\n\n{}\n",
        T::NAME,
        f.index,
        t.size(&f.program),
        t.size(&small),
        shrunk.tries,
        shrunk.elapsed.as_secs_f64(),
        if shrunk.out_of_time {
            ", out of time"
        } else {
            ""
        },
        t.describe(&small)
    );
    match f.problem {
        Problem::Model => {
            msg.push_str(&format!(
                "model: status {}, stdout {}\n",
                if model.ok { "0" } else { "1 (error)" },
                vms::excerpt(&model.stdout)
            ));
            msg.push_str(&format!("`--jit {}`:\n{}\n", modes[0], runs[0].0.show()));
        }
        Problem::Diverges(i) => {
            msg.push_str(&format!("`--jit {}`:\n{}\n", modes[0], runs[0].0.show()));
            msg.push_str(&format!("`--jit {}`:\n{}\n", modes[i], runs[1].0.show()));
        }
    }
    let modes_env = match std::env::var("METATRACE_MODES") {
        Ok(m) => format!("METATRACE_MODES='{m}' "),
        Err(_) => String::new(),
    };
    msg.push_str(&format!(
        "\nreproduce: {modes_env}METATRACE_SEED={seed:#x} cargo test --release --test random_programs {}_random_programs -- --nocapture\n\
         saved: {}\n\
         to keep it as a regression test (run in every mode by `regressions`), copy it to \
         tests/regressions/ under a descriptive name:\n  cp {} tests/regressions/\n",
        T::NAME,
        saved.join(" "),
        saved.join(" ")
    ));
    panic!("{msg}");
}

// ---------------------------------------------------------------- regressions

/// One regression file.
pub struct Regression {
    pub vm: PathBuf,
    pub path: PathBuf,
    pub args: Vec<String>,
    pub stdin: Vec<u8>,
}

/// Runs every regression in every supported mode of its VM, comparing with
/// the reference. `modes_of(ext)` gives the supported modes of that VM.
/// Returns (failures, comparisons made).
pub fn run_regressions(
    cases: &[Regression],
    modes_of: impl Fn(&Path) -> Vec<String>,
) -> (Vec<String>, usize) {
    let mut failures = Vec::new();
    let mut compared = 0;
    for c in cases {
        let modes = modes_of(&c.vm);
        let run = |m: &str| run_vm(&c.vm, m, &c.path, &c.args, &c.stdin, RUN_TIMEOUT).0;
        let base = run(&modes[0]);
        if base.timed_out() {
            failures.push(format!(
                "{}: timed out with `--jit {}`",
                c.path.display(),
                modes[0]
            ));
            continue;
        }
        for mode in &modes[1..] {
            let o = run(mode);
            compared += 1;
            if o != base {
                failures.push(format!(
                    "{} (args {:?}, stdin {}): `--jit {mode}` disagrees with `--jit {}`\n`--jit {}`:\n{}\n`--jit {mode}`:\n{}",
                    c.path.display(),
                    c.args,
                    vms::excerpt(&c.stdin),
                    modes[0],
                    modes[0],
                    base.show(),
                    o.show()
                ));
            }
        }
    }
    (failures, compared)
}
