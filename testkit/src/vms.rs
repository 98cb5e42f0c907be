//! Helpers of the end-to-end tests (the root package's): building the
//! target VMs once per test process, running them with a time limit,
//! finding `../shared/programs`, and the TLR error cases.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The workspace root (the root package's manifest directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testkit is in the workspace")
        .to_path_buf()
}

/// `../shared/programs/<sub>` relative to the workspace root, if it exists.
/// When it does not, prints "skipped: ../shared/programs/<sub> not found"
/// and returns `None`: the caller returns without failing.
pub fn shared_programs(sub: &str) -> Option<PathBuf> {
    let dir = workspace_root().join("../shared/programs").join(sub);
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipped: ../shared/programs/{sub} not found");
        None
    }
}

/// The target directory this test binary was built in
/// (`<target>/<profile>/deps/<test-exe>`), so that the VMs are built into the
/// same one, whatever `CARGO_TARGET_DIR` says.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent() // deps
        .and_then(Path::parent) // debug or release
        .and_then(Path::parent) // target
        .map(Path::to_path_buf)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// Paths of the release binaries of the example VMs.
#[derive(Debug, Clone)]
pub struct Vms {
    pub bf: PathBuf,
    pub tlr: PathBuf,
    pub calls: PathBuf,
    pub stackvm: PathBuf,
}

/// Builds `bf`, `tlr`, `calls` and `stackvm` in release mode, once per test process,
/// with their jitcodes (their build scripts run the translator)
/// (`cargo build --release -p bf -p tlr -p calls -p stackvm` into the shared target
/// directory), and returns their paths. Panics with cargo's output if the
/// build fails.
pub fn vms() -> &'static Vms {
    static VMS: OnceLock<Result<Vms, String>> = OnceLock::new();
    let result = VMS.get_or_init(|| {
        build_release(&["bf", "tlr", "calls", "stackvm"])?;
        Ok(Vms {
            bf: release_exe("bf"),
            tlr: release_exe("tlr"),
            calls: release_exe("calls"),
            stackvm: release_exe("stackvm"),
        })
    });
    match result {
        Ok(vms) => vms,
        Err(e) => panic!("{e}"),
    }
}

/// Builds the Lox VM (`targets/lox`) in release mode, once per test
/// process, and returns its path; panics with cargo's output if the build
/// fails. Apart from `vms()` so that the other VMs' tests do not wait for
/// it (nor fail with it).
pub fn lox() -> &'static Path {
    static LOX: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match LOX.get_or_init(|| build_release(&["lox"]).map(|()| release_exe("lox"))) {
        Ok(path) => path,
        Err(e) => panic!("{e}"),
    }
}

/// Builds `rec` (`targets/rec`, whose `call` recurses natively into the
/// portal) in release mode, once per test process, and returns its path;
/// panics with cargo's output if the build fails.
pub fn rec() -> &'static Path {
    static REC: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match REC.get_or_init(|| build_release(&["rec"]).map(|()| release_exe("rec"))) {
        Ok(path) => path,
        Err(e) => panic!("{e}"),
    }
}

/// clox (`../shared/peers/clox`, the reference Lox implementation), built
/// with `cc -O2` into `<target>/clox/clox` once per test process, or the
/// binary `$CLOX` names. `None` (with the reason on stderr, for the test
/// to say it skipped) when the sources or a C compiler are missing.
pub fn clox() -> Option<&'static Path> {
    static CLOX: OnceLock<Option<PathBuf>> = OnceLock::new();
    CLOX.get_or_init(|| {
        if let Some(path) = std::env::var_os("CLOX") {
            return Some(PathBuf::from(path));
        }
        let src = workspace_root().join("../shared/peers/clox");
        let Ok(entries) = std::fs::read_dir(&src) else {
            eprintln!("skipped: ../shared/peers/clox not found (or set CLOX)");
            return None;
        };
        let mut sources: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "c"))
            .collect();
        sources.sort();
        let dir = target_dir().join("clox");
        let exe = dir.join("clox");
        // Built under a name of this process's, then renamed: test binaries
        // running at the same time may build it too.
        let building = dir.join(format!("clox.{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
        let built = Command::new(&cc)
            .arg("-O2")
            .arg("-o")
            .arg(&building)
            .args(&sources)
            .output();
        match built {
            Ok(out) if out.status.success() => {
                std::fs::rename(&building, &exe).ok()?;
                Some(exe)
            }
            Ok(out) => {
                eprintln!(
                    "skipped: `{cc} -O2` of ../shared/peers/clox failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                None
            }
            Err(e) => {
                eprintln!("skipped: no C compiler to build clox ({cc}: {e})");
                None
            }
        }
    })
    .as_deref()
}

/// Builds `targets/objvm` (GC objects in traced code) in release mode,
/// once per test process, and returns its path; apart from `vms()` as
/// `lox()` is.
pub fn objvm() -> &'static Path {
    static OBJVM: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match OBJVM.get_or_init(|| build_release(&["objvm"]).map(|()| release_exe("objvm"))) {
        Ok(path) => path,
        Err(e) => panic!("{e}"),
    }
}

/// Builds `targets/um` (the Universal Machine) in release mode, once per
/// test process, and returns its path; apart from `vms()` as `lox()` is.
pub fn um() -> &'static Path {
    static UM: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match UM.get_or_init(|| build_release(&["um"]).map(|()| release_exe("um"))) {
        Ok(path) => path,
        Err(e) => panic!("{e}"),
    }
}

/// The counters of the `jit-summary` section of a JIT log.
pub fn jit_summary(log: &str) -> std::collections::BTreeMap<String, u64> {
    let body = log
        .split("{jit-summary\n")
        .nth(1)
        .and_then(|b| b.split("jit-summary}").next())
        .unwrap_or_else(|| panic!("no jit-summary in {log:?}"));
    body.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(": ")?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

/// [`run`] with `METATRACE_LOG=jit-summary:FILE`: the run and the
/// summary's counters (empty when the VM wrote none).
pub fn run_with_summary(
    bin: &Path,
    args: &[&str],
    stdin: &[u8],
    timeout: Duration,
) -> (Run, std::collections::BTreeMap<String, u64>) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("jit.log");
    let spec = format!("jit-summary:{}", log.display());
    let r = run_env(bin, args, &[("METATRACE_LOG", &spec)], stdin, timeout);
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let s = if text.is_empty() {
        Default::default()
    } else {
        jit_summary(&text)
    };
    (r, s)
}

/// The counters `aborts.*` of a summary that are not 0 and not among the
/// aborts every VM may have (a trace too long, the portal returning, a
/// bridge without a loop to jump to).
pub fn unexpected_aborts(s: &std::collections::BTreeMap<String, u64>) -> Vec<(&String, &u64)> {
    s.iter()
        .filter(|(k, v)| {
            k.strip_prefix("aborts.").is_some_and(|r| {
                **v > 0 && !["too_long", "portal_returned", "no_target_loop"].contains(&r)
            })
        })
        .collect()
}

/// The path of `targets/objvm/programs/<name>`.
pub fn objvm_program(name: &str) -> String {
    workspace_root()
        .join("targets/objvm/programs")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// `cargo build --release -p P...` into the target directory of this test
/// binary, with the VMs' jitcodes whatever the caller's environment says.
fn build_release(packages: &[&str]) -> Result<(), String> {
    let cargo = option_env!("CARGO").unwrap_or("cargo");
    let mut args = vec!["build", "--release"];
    for p in packages {
        args.extend(["-p", p]);
    }
    let out = Command::new(cargo)
        .args(&args)
        .arg("--target-dir")
        .arg(target_dir())
        .current_dir(workspace_root())
        .env_remove("METATRACE_NO_JIT")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {cargo}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo {} failed ({}):\n{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

/// The path of release binary `name` in this test binary's target
/// directory.
fn release_exe(name: &str) -> PathBuf {
    target_dir()
        .join("release")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// The path of `targets/stackvm/programs/<name>`.
pub fn stackvm_program(name: &str) -> String {
    workspace_root()
        .join("targets/stackvm/programs")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// The stackvm programs with an argument and their expected output
/// (stdout; exit status 0), and the programs that fail (the argument and
/// the expected `error: ...` line, exit status 1).
pub const STACKVM_CASES: &[(&str, &str, &str)] = &[
    ("count.svm", "0", "0\n=> 0\n"),
    ("count.svm", "1000", "1000\n=> 1000\n"),
    ("count.svm", "100000", "100000\n=> 100000\n"),
    ("sum.svm", "10", "285\n0..1\n0..1\n1031\n=> true\n"),
    (
        "sum.svm",
        "100000",
        "333328333350000\n0..1\n0..1\n1071\n=> true\n",
    ),
    ("mixed.svm", "7", "9\n6\n=> 7\n"),
    ("mixed.svm", "100000", "100000\nfalse\n=> 100000\n"),
    ("bags.svm", "0", "0\n=> 0\n"),
    ("bags.svm", "10", "264\n=> 10\n"),
    ("bags.svm", "1000", "521499\n=> 1000\n"),
    ("bags.svm", "100000", "5002149999\n=> 100000\n"),
];

/// stackvm programs that stop with a run-time error: program, argument,
/// the error line on stderr.
pub const STACKVM_ERRORS: &[(&str, &str, &str)] = &[
    ("typeerr.svm", "5", "error: type error at instruction 12\n"),
    (
        "typeerr.svm",
        "100000",
        "error: type error at instruction 12\n",
    ),
    (
        "bagerr.svm",
        "1000",
        "error: stack underflow at instruction 15\n",
    ),
];

/// What a run produced.
#[derive(Debug)]
pub struct Run {
    pub stdout: Vec<u8>,
    pub stderr: String,
    /// `None` if the process was killed at the time limit.
    pub status: Option<ExitStatus>,
    pub elapsed: Duration,
}

impl Run {
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn timed_out(&self) -> bool {
        self.status.is_none()
    }

    /// The exit code (`None` if timed out or killed by a signal).
    pub fn code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }

    /// Panics unless the run exited with status 0.
    pub fn assert_success(&self, what: &str) -> &Self {
        assert!(
            self.code() == Some(0),
            "{what}: expected success, got {}\nstderr:\n{}",
            self.describe_status(),
            self.stderr
        );
        self
    }

    /// Panics unless the run failed with status 1 and `error: ...` on stderr
    /// containing `needle`.
    pub fn assert_error(&self, what: &str, needle: &str) -> &Self {
        assert!(
            self.code() == Some(1),
            "{what}: expected exit status 1, got {}\nstdout: {}\nstderr: {}",
            self.describe_status(),
            self.stdout_str(),
            self.stderr
        );
        assert!(
            self.stderr.starts_with("error: "),
            "{what}: stderr should start with `error: `: {}",
            self.stderr
        );
        assert!(
            self.stderr.contains(needle),
            "{what}: stderr should contain {needle:?}: {}",
            self.stderr
        );
        self
    }

    pub fn describe_status(&self) -> String {
        match self.status {
            None => format!("a timeout after {:.1?}", self.elapsed),
            Some(s) => s.to_string(),
        }
    }
}

/// Runs `bin` with `args`, feeding it `stdin`, killing it after `timeout`.
pub fn run(bin: &Path, args: &[&str], stdin: &[u8], timeout: Duration) -> Run {
    run_env(bin, args, &[], stdin, timeout)
}

/// [`run`] with extra environment variables.
pub fn run_env(
    bin: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: &[u8],
    timeout: Duration,
) -> Run {
    let start = Instant::now();
    let mut child = Command::new(bin)
        .args(args)
        // No JIT log unless asked for: it may write to stderr.
        .env_remove("METATRACE_LOG")
        // Every compiled trace must print and parse back (docs/testing.md).
        .env("METATRACE_CHECK_IR_TEXT", "1")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    let mut child_stdin = child.stdin.take().unwrap();
    let input = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        // The program may exit without reading everything: ignore EPIPE.
        let _ = child_stdin.write_all(&input);
    });
    let out_reader = read_all_in_thread(child.stdout.take().unwrap());
    let err_reader = read_all_in_thread(child.stderr.take().unwrap());
    let status = loop {
        match child.try_wait().expect("try_wait") {
            Some(status) => break Some(status),
            None if start.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    let elapsed = start.elapsed();
    let _ = writer.join();
    let stdout = out_reader.join().unwrap();
    let stderr = String::from_utf8_lossy(&err_reader.join().unwrap()).into_owned();
    Run {
        stdout,
        stderr,
        status,
        elapsed,
    }
}

/// Reads `r` to its end on a thread of its own (a child's pipe, so that
/// the child never blocks on a full one).
fn read_all_in_thread(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        buf
    })
}

/// Runs `jobs` on two threads (the machine has two cores); every failure.
pub fn on_two_threads<T: Send>(
    jobs: Vec<T>,
    f: impl Fn(T) -> Result<(), String> + Sync,
) -> Vec<String> {
    let queue = std::sync::Mutex::new(jobs.into_iter());
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let Some(job) = queue.lock().unwrap().next() else {
                    break;
                };
                if let Err(e) = f(job) {
                    failures.lock().unwrap().push(e);
                }
            });
        }
    });
    failures.into_inner().unwrap()
}

/// The path of `targets/tlr/programs/<name>`.
pub fn tlr_program(name: &str) -> String {
    workspace_root()
        .join("targets/tlr/programs")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// Write `contents` to `dir/name`; its path.
pub fn write(dir: &Path, name: &str, contents: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, contents).unwrap();
    p.to_string_lossy().into_owned()
}

/// A short, printable excerpt of `bytes` for failure messages.
pub fn excerpt(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    if s.chars().count() > 300 {
        format!(
            "{}... ({} bytes)",
            s.chars().take(300).collect::<String>(),
            bytes.len()
        )
    } else {
        format!("{s:?}")
    }
}

/// A `.b` program with its optional `.in` and its expected `.out`
/// (`X.out` or `X.b.out`).
pub struct BfCase {
    pub name: String,
    pub program: PathBuf,
    pub input: Vec<u8>,
    pub expected: Vec<u8>,
}

/// The cases of `dir`, sorted by name, and the `.b` files without an
/// expected output.
pub fn bf_cases(dir: &Path) -> (Vec<BfCase>, Vec<String>) {
    let mut cases = Vec::new();
    let mut without_out = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "b"))
        .collect();
    entries.sort();
    for program in entries {
        let name = program.file_name().unwrap().to_string_lossy().into_owned();
        let stem = program.with_extension("");
        let expected = [
            stem.with_extension("out"),
            PathBuf::from(format!("{}.out", program.display())),
        ]
        .into_iter()
        .find(|p| p.is_file());
        let Some(expected) = expected else {
            without_out.push(name);
            continue;
        };
        let input = [
            stem.with_extension("in"),
            PathBuf::from(format!("{}.in", program.display())),
        ]
        .into_iter()
        .find(|p| p.is_file())
        .map(|p| std::fs::read(p).unwrap())
        .unwrap_or_default();
        cases.push(BfCase {
            name,
            program,
            input,
            expected: std::fs::read(expected).unwrap(),
        });
    }
    (cases, without_out)
}

/// A TLR program that fails, and what its error message contains: file
/// name, source, needle.
pub type TlrError = (&'static str, &'static [u8], &'static str);

/// TLR programs that fail inside the portal (and one before it).
pub const TLR_PORTAL_ERRORS: &[TlrError] = &[
    ("opcode.tlr", b"4,1,9", "unknown opcode 9 at pc 2"),
    ("opcode0.tlr", b"0", "unknown opcode 0 at pc 0"),
    (
        "reg.tlr",
        b"7,2,1,5",
        "register 5 out of range at pc 2 (MOV_A_R 5): 2 registers are allocated",
    ),
    (
        "noalloc.tlr",
        b"2,0",
        "register 0 out of range at pc 0 (MOV_R_A 0): 0 registers are allocated",
    ),
    (
        "addreg.tlr",
        b"7,1,5,1",
        "register 1 out of range at pc 2 (ADD_R_TO_A 1): 1 register is allocated",
    ),
    (
        "end.tlr",
        b"4,1",
        "ran off the end of the bytecode at pc 2 (2 bytes) without RETURN_A",
    ),
    (
        "jump.tlr",
        b"4,1,3,200",
        "ran off the end of the bytecode at pc 200 (4 bytes) without RETURN_A",
    ),
    (
        "operand.tlr",
        b"4,1,7",
        "ran off the end of the bytecode: ALLOCATE at pc 2 has no operand (3 bytes)",
    ),
    (
        "nan.tlr",
        b"4,1,\n six",
        "nan.tlr:2:2: expected a number (0..=255), found 'six'",
    ),
];

/// TLR programs the loader refuses (not a byte, empty).
pub const TLR_LOAD_ERRORS: &[TlrError] = &[
    (
        "big.tlr",
        b"4,256",
        "big.tlr:1:3: 256 does not fit in a byte (0..=255)",
    ),
    (
        "neg.tlr",
        b"4,-1",
        "neg.tlr:1:3: expected a number (0..=255), found '-1'",
    ),
    (
        "double.tlr",
        b"4,,1",
        "double.tlr:1:3: expected a number (0..=255) before ','",
    ),
    ("empty.tlr", b"", "empty.tlr: the program is empty"),
    (
        "blank.tlr",
        b"  \n# only a comment\n",
        "the program is empty",
    ),
];

/// Runs `bin` with `args` to the end (stdin empty) and returns its stdout
/// and exit code with its peak resident set size in KiB, from `wait4`'s
/// resource usage of that one child (other tests' children do not mix
/// in, as they would with `getrusage(RUSAGE_CHILDREN)`).
pub fn run_max_rss(bin: &Path, args: &[&str]) -> (Vec<u8>, Option<i32>, u64) {
    let mut child = Command::new(bin)
        .args(args)
        .env_remove("METATRACE_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    let reader = read_all_in_thread(child.stdout.take().unwrap());
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid out-parameter; the pid is our
    // child's, reaped here and nowhere else.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4 failed");
    let stdout = reader.join().unwrap();
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    // ru_maxrss is in KiB on Linux.
    (stdout, code, usage.ru_maxrss as u64)
}
