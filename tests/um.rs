//! `targets/um`, the Universal Machine (issue 16): its own programs,
//! written with the assembler of `metatrace_testkit::um_asm` (output, a
//! counting loop, code that writes into array 0 while traces of it run,
//! allocation churn with identifier reuse, programs loaded from other
//! arrays, input to end of file, and every failure the spec allows), each
//! natively, on jitcodes only and with the JIT at low thresholds and at
//! its defaults: the same stdout, stderr and exit status. The JIT
//! summaries show that the loops compiled, without unexpected aborts, and
//! that writes into traced code invalidated traces; with a trace limit
//! shorter than their loops, that the loops compiled in pieces (traces
//! cut, nothing aborted or blacklisted). Sandmark
//! (`../shared/programs/um`) byte for byte natively and with the JIT,
//! with its longest traces cut and nothing blacklisted.

use metatrace_testkit::um_asm::UmAsm;
use metatrace_testkit::vms::{
    excerpt, on_two_threads, run, run_with_summary, shared_programs, um, unexpected_aborts, write,
    Run,
};
use std::collections::BTreeMap;
use std::time::Duration;

const QUICK: Duration = Duration::from_secs(120);
/// Sandmark takes some tens of seconds natively on the 2-core machine.
const SLOW: Duration = Duration::from_secs(900);

/// `--jit` of every mode the programs run in; the first is the reference.
const MODES: &[&str] = &[
    "off",
    "mode=jitcode-only",
    LOWEST,
    "mode=jit,threshold=2,trace_eagerness=2",
    "mode=jit",
    CUT,
];

/// The lowest thresholds and a trace limit shorter than the programs'
/// loops: every trace is cut, and the loops compile in pieces.
const CUT: &str = "mode=jit,threshold=1,trace_eagerness=1,trace_limit=20";

/// The JIT at its lowest thresholds: a loop traced at its first backward
/// jump, a guard bridged at its first failure.
const LOWEST: &str = "mode=jit,threshold=1,trace_eagerness=1";

// Register conventions of the programs below: r0 holds 0 (array 0, for
// jumps), r7 is a scratch register.

/// "Hello" through Orthography and Output.
fn hello() -> UmAsm {
    let mut p = UmAsm::new();
    p.print("Hello, Universal Machine!\n", 1).halt();
    p
}

/// Outputs the last decimal digit of every i in 0..n, then a newline:
/// division, multiplication, subtraction by Not-And, a conditional jump.
fn count(n: u32) -> (UmAsm, String) {
    let mut p = UmAsm::new();
    p.ortho(1, 0)
        .ortho(2, n)
        .ortho(4, 10)
        .ortho(5, u32::from(b'0'));
    p.label("loop");
    p.div(6, 1, 4)
        .mul(6, 6, 4)
        .sub(6, 1, 6, 7)
        .add(6, 6, 5)
        .output(6);
    p.ortho(7, 1).add(1, 1, 7);
    p.sub(6, 1, 2, 7).jump_if(6, "loop", "done", 0, 7, 3);
    p.label("done").print("\n", 6).halt();
    let digits: String = (0..n).map(|i| char::from(b'0' + (i % 10) as u8)).collect();
    (p, digits + "\n")
}

/// The platter `ortho rA, value`, built in register `r` from values that
/// fit an Orthography (`scratch` clobbered).
fn build_ortho_word(p: &mut UmAsm, r: u32, a: u32, value: u32, scratch: u32) {
    let word = 13 << 28 | a << 25 | value;
    p.ortho(r, word >> 8).ortho(scratch, 256).mul(r, r, scratch);
    p.ortho(scratch, word & 0xff).add(r, r, scratch);
}

/// A loop of n iterations outputs the operand of the platter `patch`
/// (`ortho r3 'A'`); at iteration n/2 it rewrites that platter to
/// `ortho r3 'B'`, so code compiled from the old platter must not run
/// again. Every iteration also stores its counter into a data platter
/// of array 0 (as sandmark keeps data there), which invalidates nothing;
/// at the end, that platter / 100 is output.
fn self_modifying(n: u32) -> (UmAsm, String) {
    let mut p = UmAsm::new();
    p.ortho(1, 0).ortho(2, n).ortho(4, n / 2);
    p.label("loop");
    p.label("patch").ortho(3, u32::from(b'A')).output(3);
    p.ortho(7, 1).add(1, 1, 7);
    p.sub(6, 1, 4, 7).jump_if(6, "store", "rewrite", 0, 7, 5);
    p.label("rewrite");
    build_ortho_word(&mut p, 5, 3, u32::from(b'B'), 7);
    p.ortho_label(6, "patch").amend(0, 6, 5);
    p.label("store").ortho_label(6, "data").amend(0, 6, 1);
    p.sub(6, 1, 2, 7).jump_if(6, "loop", "done", 0, 7, 5);
    p.label("done").ortho_label(6, "data").index(6, 0, 6);
    p.ortho(7, 100).div(6, 6, 7).output(6).print("\n", 6).halt();
    p.label("data").word(0);
    let mut want = "A".repeat((n / 2) as usize) + &"B".repeat((n - n / 2) as usize);
    want.push(char::from((n / 100) as u8));
    (p, want + "\n")
}

/// n iterations of: allocate A and B (5 platters), store into A, read it
/// back, abandon A, allocate C (A's identifier again: the free list),
/// check that C is zeros, abandon B and C. Outputs per iteration the
/// letters of A's, B's and C's identifiers (`a` is 1) and C's platter 2
/// as a digit.
fn churn(n: u32) -> (UmAsm, String) {
    let mut p = UmAsm::new();
    p.ortho(1, 0).ortho(2, 5);
    p.label("loop");
    p.alloc(3, 2).alloc(4, 2);
    p.ortho(7, 2).amend(3, 7, 1).index(5, 3, 7);
    p.abandon(3).alloc(6, 2);
    for r in [3, 4, 6] {
        p.ortho(7, u32::from(b'a') - 1).add(7, 7, r).output(7);
    }
    p.ortho(7, 2)
        .index(7, 6, 7)
        .ortho(3, u32::from(b'0'))
        .add(7, 7, 3)
        .output(7);
    p.abandon(4).abandon(6);
    p.ortho(7, 1).add(1, 1, 7);
    p.ortho(6, n)
        .sub(6, 6, 1, 7)
        .jump_if(6, "loop", "done", 0, 7, 3);
    p.label("done").print("\n", 6).halt();
    (p, "aba0".repeat(n as usize) + "\n")
}

/// n times: copy array 0 into a new array (a hot copy loop), rewrite the
/// operand of the copy's platter `msg` to the next letter, load the copy
/// as the program at `second`, which outputs the letter, abandons the
/// copy's array (array 0 is a duplicate) and starts over. Traces of each
/// program read the platters of the one before.
fn reload(n: u32) -> (UmAsm, String) {
    let mut p = UmAsm::new();
    p.ortho(1, 0);
    p.label("start")
        .ortho_label(2, "end")
        .alloc(3, 2)
        .ortho(4, 0);
    p.label("copy").index(5, 0, 4).amend(3, 4, 5);
    p.ortho(7, 1)
        .add(4, 4, 7)
        .sub(6, 4, 2, 7)
        .jump_if(6, "copy", "go", 0, 7, 5);
    p.label("go");
    build_ortho_word(&mut p, 5, 5, u32::from(b'A'), 7);
    p.add(5, 5, 1).ortho_label(6, "msg").amend(3, 6, 5);
    p.ortho_label(6, "second").load(3, 6);
    p.label("second")
        .label("msg")
        .ortho(5, u32::from(b'?'))
        .output(5);
    p.abandon(3).ortho(7, 1).add(1, 1, 7);
    p.ortho(6, n)
        .sub(6, 6, 1, 7)
        .jump_if(6, "start", "done", 0, 7, 5);
    p.label("done").print("\n", 6).halt();
    p.label("end");
    let letters: String = (0..n).map(|k| char::from(b'A' + k as u8)).collect();
    (p, letters + "\n")
}

/// Outputs every input byte plus one, until the end of input (all ones).
fn echo() -> UmAsm {
    let mut p = UmAsm::new();
    p.label("loop").input(1).ortho(7, 1).add(6, 1, 7);
    p.jump_if(6, "more", "done", 0, 7, 5);
    p.label("more")
        .ortho(7, 1)
        .add(1, 1, 7)
        .output(1)
        .jump("loop", 0, 7);
    p.label("done").halt();
    p
}

/// A program and what every mode must give: stdin, stdout, stderr and
/// exit status.
struct Case {
    name: &'static str,
    program: UmAsm,
    stdin: Vec<u8>,
    stdout: Vec<u8>,
    stderr: String,
    code: i32,
    /// Whether the JIT must compile a loop at the lowest thresholds.
    loops: bool,
}

fn ok(name: &'static str, program: UmAsm, stdin: &[u8], stdout: impl AsRef<[u8]>) -> Case {
    Case {
        name,
        program,
        stdin: stdin.to_vec(),
        stdout: stdout.as_ref().to_vec(),
        stderr: String::new(),
        code: 0,
        loops: true,
    }
}

fn run_case(dir: &std::path::Path, case: &Case) -> Result<(), String> {
    let path = write(dir, &format!("{}.um", case.name), &case.program.image());
    let mut failures = Vec::new();
    for jit in MODES {
        let (r, s) = run_with_summary(um(), &["--jit", jit, &path], &case.stdin, QUICK);
        let what = format!("{} --jit {jit}", case.name);
        if (r.code(), r.stdout.as_slice(), r.stderr.as_str())
            != (
                Some(case.code),
                case.stdout.as_slice(),
                case.stderr.as_str(),
            )
        {
            failures.push(format!(
                "{what}: {}: stdout {}, stderr {:?}; want status {}, stdout {}, stderr {:?}",
                r.describe_status(),
                excerpt(&r.stdout),
                r.stderr,
                case.code,
                excerpt(&case.stdout),
                case.stderr
            ));
            continue;
        }
        let counter = |name: &str| s.get(name).copied().unwrap_or(0);
        if *jit == CUT && case.loops {
            // Cut, not thrown away: nothing too long aborts, nothing is
            // given up on, and the pieces run.
            if counter("traces_cut") == 0
                || counter("aborts.too_long") > 0
                || counter("keys_blacklisted") + counter("guards_blacklisted") > 0
                || counter("bridges") == 0
            {
                failures.push(format!("{what}: not compiled in pieces: {s:?}"));
            }
        }
        if *jit == LOWEST {
            if case.loops && counter("loops") == 0 {
                failures.push(format!("{what}: no loop compiled: {s:?}"));
            }
            let unexpected = unexpected_aborts(&s);
            if !unexpected.is_empty() {
                failures.push(format!("{what}: unexpected aborts {unexpected:?}: {s:?}"));
            }
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}

#[test]
fn um_programs_in_every_mode() {
    let (count, count_out) = count(3000);
    let (smc, smc_out) = self_modifying(4000);
    let (churn, churn_out) = churn(2000);
    let (reload, reload_out) = reload(20);
    let input: Vec<u8> = (0..3000u32).map(|i| (i % 200) as u8).collect();
    let echoed: Vec<u8> = input.iter().map(|&b| b + 1).collect();
    let mut hello = ok("hello", hello(), b"", "Hello, Universal Machine!\n");
    hello.loops = false;
    let cases = vec![
        hello,
        ok("count", count, b"", &count_out),
        ok("self_modifying", smc, b"", &smc_out),
        ok("churn", churn, b"", &churn_out),
        ok("reload", reload, b"", &reload_out),
        ok("echo", echo(), &input, &echoed),
    ];
    let dir = tempfile::tempdir().unwrap();
    let failures = on_two_threads(cases.iter().collect(), |c| run_case(dir.path(), c));
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
}

/// Writes into a platter that compiled code fetched invalidate that code
/// (and only writes into fetched platters do: the data platter written
/// every iteration does not invalidate the loop 4000 times).
#[test]
fn writes_into_traced_code_invalidate_it() {
    let (p, want) = self_modifying(4000);
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "smc.um", &p.image());
    for jit in [LOWEST, "mode=jit"] {
        let (r, s) = run_with_summary(um(), &["--jit", jit, &path], b"", QUICK);
        r.assert_success(jit);
        assert_eq!(r.stdout_str(), want, "--jit {jit}");
        let what = format!("--jit {jit}: {s:?}");
        assert!(s["invalidations"] >= 1, "{what}");
        assert!(s["invalidations"] <= 10, "{what}");
        assert!(s["blackhole_runs"] < 1000, "{what}");
    }
}

/// Every failure the spec allows, in a loop hot enough to be compiled:
/// the operand is a good one for `N` iterations, then the bad one, so
/// that the failure happens in compiled code. The message names the
/// failure and the finger; the output before it is written.
#[test]
fn um_failures_in_every_mode() {
    const N: u32 = 1500;
    // (name, setup, bad value, good value, the failing operation with the
    // chosen value in r5; its message given the finger)
    type Op = fn(&mut UmAsm);
    type Message = fn(u32) -> String;
    let cases: Vec<(&'static str, Op, u32, u32, Op, Message)> = vec![
        (
            "division_by_zero",
            |_| {},
            0,
            1,
            |p| {
                p.div(7, 1, 5);
            },
            |f| format!("division by zero at finger {f}"),
        ),
        (
            "output_above_255",
            |_| {},
            256,
            u32::from(b'.'),
            |p| {
                p.output(5);
            },
            |f| format!("output of 256, above 255, at finger {f}"),
        ),
        (
            "index_out_of_bounds",
            |p| {
                p.ortho(7, 10).alloc(2, 7);
            },
            10,
            3,
            |p| {
                p.index(7, 2, 5);
            },
            |f| format!("offset 10 is outside array 1 (10 platters) at finger {f}"),
        ),
        (
            "amend_out_of_bounds",
            |p| {
                p.ortho(7, 10).alloc(2, 7);
            },
            10,
            9,
            |p| {
                p.amend(2, 5, 1);
            },
            |f| format!("offset 10 is outside array 1 (10 platters) at finger {f}"),
        ),
        (
            "index_array_0_out_of_bounds",
            |p| {
                p.ortho(2, 0);
            },
            1 << 20,
            1,
            |p| {
                p.index(7, 2, 5);
            },
            |f| format!("offset 1048576 is outside array 0 (40 platters) at finger {f}"),
        ),
        (
            "index_abandoned_array",
            // Arrays 1 (active) and 2 (abandoned).
            |p| {
                p.ortho(7, 1).alloc(2, 7).alloc(2, 7).abandon(2);
            },
            2,
            1,
            |p| {
                p.index(7, 5, 0);
            },
            |f| format!("array 2 is not active (never allocated or abandoned) at finger {f}"),
        ),
        (
            "amend_never_allocated_array",
            |p| {
                p.ortho(7, 4).alloc(2, 7);
            },
            77,
            1,
            |p| {
                p.amend(5, 0, 1);
            },
            |f| format!("array 77 is not active (never allocated or abandoned) at finger {f}"),
        ),
        (
            "abandon_array_0",
            |_| {},
            0,
            1,
            // Allocates array 1 (of 0 platters) every iteration, and
            // abandons the chosen one: 1 while good.
            |p| {
                p.alloc(7, 0).abandon(5);
            },
            |f| format!("abandonment of array 0 at finger {}", f + 1),
        ),
        (
            "abandon_inactive_array",
            |_| {},
            5,
            1,
            |p| {
                p.alloc(7, 0).abandon(5);
            },
            |f| {
                format!(
                    "array 5 is not active (never allocated or abandoned) at finger {}",
                    f + 1
                )
            },
        ),
        (
            "load_from_inactive_array",
            |_| {},
            9,
            0,
            // Load Program from array 0 (a jump to the next platter)
            // while good.
            |p| {
                let next = p.here() + 2;
                p.ortho(7, next).load(5, 7);
            },
            |f| {
                format!(
                    "array 9 is not active (never allocated or abandoned) at finger {}",
                    f + 1
                )
            },
        ),
        (
            "finger_outside_array_0",
            |_| {},
            1 << 24,
            0,
            // A jump to the next platter, or outside.
            |p| {
                let next = p.here() + 3;
                p.ortho(7, next).cmov(7, 5, 5).load(0, 7);
            },
            |_| format!("the finger {} is outside array 0 (40 platters)", 1 << 24),
        ),
    ];
    let mut all = Vec::new();
    for (name, setup, bad, good, op, message) in cases {
        let mut p = UmAsm::new();
        setup(&mut p);
        // r1 counts, r3 the bad value, r4 the good one, r5 the chosen one.
        p.ortho(1, 0).ortho(3, bad).ortho(4, good);
        p.label("loop");
        p.ortho(6, N).sub(6, 6, 1, 7);
        p.add(5, 3, 0).cmov(5, 4, 6);
        let finger = p.here();
        op(&mut p);
        p.ortho(7, 1).add(1, 1, 7).jump("loop", 0, 7);
        // Pads array 0 to 40 platters (the messages name its length).
        while p.here() < 40 {
            p.halt();
        }
        assert_eq!(p.here(), 40, "{name} is too long for the padding");
        let dots = if name == "output_above_255" {
            ".".repeat(N as usize)
        } else {
            String::new()
        };
        all.push(Case {
            name,
            program: p,
            stdin: Vec::new(),
            stdout: dots.into_bytes(),
            stderr: format!("error: {}\n", message(finger)),
            code: 1,
            loops: true,
        });
    }
    // An invalid instruction (operator 14) reached after the loop.
    let mut p = UmAsm::new();
    p.ortho(1, 0).label("loop").ortho(7, 1).add(1, 1, 7);
    p.ortho(6, N)
        .sub(6, 6, 1, 7)
        .jump_if(6, "loop", "bad", 0, 7, 5);
    let bad = p.here();
    p.label("bad").word(0xE000_0000);
    all.push(Case {
        name: "invalid_instruction",
        program: p,
        stdin: Vec::new(),
        stdout: Vec::new(),
        stderr: format!("error: invalid instruction 0xe0000000 (operator 14) at finger {bad}\n"),
        code: 1,
        loops: true,
    });
    let dir = tempfile::tempdir().unwrap();
    let failures = on_two_threads(all.iter().collect(), |c| run_case(dir.path(), c));
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
}

/// A missing image, an image whose length is not a multiple of 4, an
/// empty one (the finger is outside array 0 at once).
#[test]
fn bad_images() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.um").to_string_lossy().into_owned();
    let odd = write(dir.path(), "odd.um", &[0x70, 0, 0, 0, 0]);
    let empty = write(dir.path(), "empty.um", b"");
    let cases: [(&str, &str); 3] = [
        (&missing, "cannot read"),
        (&odd, "its length (5 bytes) is not a multiple of 4"),
        (&empty, "the finger 0 is outside array 0 (0 platters)"),
    ];
    for (path, needle) in cases {
        for jit in ["off", LOWEST] {
            let r: Run = run(um(), &["--jit", jit, path], b"", QUICK);
            r.assert_error(&format!("{path} --jit {jit}"), needle);
        }
    }
}

/// `rounds` times a loop of `n` iterations that only computes in
/// registers (`r3 += r1 * r1`, `r1 -= 1` down to 0), each round then
/// printing the last digit of r3: the registers the loop writes stay in
/// machine registers (`Machine` is `#[virtualizable(regs)]`), and its
/// exit guard writes them back.
fn registers_only(rounds: u32, n: u32) -> (UmAsm, String) {
    let mut p = UmAsm::new();
    p.ortho(3, 0).ortho(4, 1).ortho(5, rounds);
    p.label("round").ortho(1, n);
    p.label("loop");
    p.mul(6, 1, 1).add(3, 3, 6).sub(1, 1, 4, 7);
    p.jump_if(1, "loop", "print", 0, 7, 6);
    p.label("print")
        .ortho(6, 10)
        .div(7, 3, 6)
        .mul(7, 7, 6)
        .sub(7, 3, 7, 6);
    p.ortho(6, u32::from(b'0')).add(7, 7, 6).output(7);
    p.sub(5, 5, 4, 7).jump_if(5, "round", "done", 0, 7, 6);
    p.label("done").print("\n", 6).halt();
    let mut acc: u32 = 0;
    let mut out = String::new();
    for _ in 0..rounds {
        for i in (1..=n).rev() {
            acc = acc.wrapping_add(i.wrapping_mul(i));
        }
        out.push(char::from(b'0' + (acc % 10) as u8));
    }
    (p, out + "\n")
}

/// The registers of a loop stay out of memory in compiled code and are
/// written back at its exits, in every mode (and under `--gc stress`):
/// the same output, and with the JIT the summary counts registers kept
/// in the peeled loop and written back at guard failures.
#[test]
fn registers_stay_in_registers_in_every_mode() {
    let (p, want) = registers_only(30, 200);
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "registers.um", &p.image());
    let modes = MODES.iter().map(|m| (*m, false)).chain([(LOWEST, true)]);
    for (jit, stress) in modes {
        let mut args = vec!["--jit", jit];
        if stress {
            args.extend(["--gc", "stress"]);
        }
        args.push(&path);
        let (r, s) = run_with_summary(um(), &args, b"", QUICK);
        let what = format!("{args:?}: {s:?}");
        r.assert_success(&what);
        assert_eq!(r.stdout_str(), want, "{what}");
        // (At a `trace_limit` shorter than the loop, its trace is cut
        // into pieces: no peeled loop to keep registers in.)
        if jit != "off" && !jit.contains("jitcode-only") && !jit.contains("trace_limit") {
            assert!(s["loops"] >= 1, "{what}");
            assert!(s["vable_kept_in_registers"] >= 3, "{what}");
            assert!(s["vable_writebacks"] >= 3, "{what}");
        }
    }
}

/// Sandmark's output byte for byte, natively and with the JIT at its
/// defaults (the two at once, on the two cores).
#[test]
fn sandmark() {
    let Some(dir) = shared_programs("um") else {
        return;
    };
    let image = dir.join("sandmark.umz").to_string_lossy().into_owned();
    let want = std::fs::read(dir.join("sandmark-output.txt")).unwrap();
    let summaries = std::sync::Mutex::new(BTreeMap::new());
    let failures = on_two_threads(vec!["off", "mode=jit"], |jit| {
        let (r, s) = run_with_summary(um(), &["--jit", jit, &image], b"", SLOW);
        if r.code() != Some(0) || r.stdout != want {
            return Err(format!(
                "sandmark --jit {jit}: {}: {} (stderr {})",
                r.describe_status(),
                excerpt(&r.stdout),
                r.stderr
            ));
        }
        summaries.lock().unwrap().insert(jit, s);
        Ok(())
    });
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
    let s = &summaries.lock().unwrap()["mode=jit"];
    assert!(s["loops"] >= 1, "{s:?}");
    assert!(unexpected_aborts(s).is_empty(), "{s:?}");
    // Its longest bridges are cut and compiled in pieces; no guard or key
    // is given up on (in some runs, one guard used to be, after four
    // bridges too long, and failed into the blackhole 150,000 times).
    assert!(s["traces_cut"] >= 1, "{s:?}");
    assert_eq!(s["aborts.too_long"], 0, "{s:?}");
    assert_eq!(s["keys_blacklisted"] + s["guards_blacklisted"], 0, "{s:?}");
}

/// A loop fetches from the program array, a quasi-immutable field, at
/// every instruction; with no residual call in it, the tracer records one
/// `guard_not_invalidated` for all of them (it recorded one per fetch,
/// each with its resume data: most of sandmark's memory while tracing).
#[test]
fn one_guard_not_invalidated_per_stretch_without_calls() {
    let (p, want) = registers_only(30, 200);
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "registers.um", &p.image());
    let log = dir.path().join("noopt.log");
    let spec = format!("jit-log-noopt-loop:{}", log.display());
    let r = metatrace_testkit::vms::run_env(
        um(),
        &["--jit", "mode=jit", &path],
        &[("METATRACE_LOG", &spec)],
        b"",
        QUICK,
    );
    r.assert_success("registers.um");
    assert_eq!(r.stdout_str(), want);
    let text = std::fs::read_to_string(&log).unwrap();
    let loops: Vec<&str> = text.split("{jit-log-noopt-loop").skip(1).collect();
    assert!(!loops.is_empty(), "no loop traced:\n{text}");
    for l in loops {
        let calls = l.matches("call_residual<").count();
        let guards = l.matches("guard_not_invalidated(").count();
        assert!(guards >= 1, "{l}");
        assert!(guards <= calls + 1, "{guards} guards, {calls} calls:\n{l}");
        assert!(l.matches("debug_merge_point").count() > 2, "{l}");
    }
}
