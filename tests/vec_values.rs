//! Vec values made, moved and dropped by traced code (`targets/stackvm`'s
//! `gather` and `stash`, docs/values.md "Vec values"): no leak and no
//! invalid access in any mode. Run under valgrind's memcheck when it is
//! installed (the test says so and passes when it is not): the memory
//! still in use at exit must not grow with the number of iterations (the
//! VM's tables, the JIT's code and logs are allocated once), nothing may
//! be definitely or indirectly lost, and memcheck must find no error (a
//! double free, a read of freed memory).
//!
//! The outputs in every mode, and the JIT summaries, are checked with the
//! other stackvm programs (`bags.svm`, `bagerr.svm` in `STACKVM_CASES`
//! and `STACKVM_ERRORS`: targets_native.rs, jitcode_only.rs,
//! jit_modes.rs).

use metatrace_testkit::vms::{run, stackvm_program, vms};
use std::process::Command;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(240);

/// The modes: native, jitcodes only (the blackhole runs every drop), and
/// the JIT at the lowest threshold (compiled code runs them).
const MODES: &[&str] = &[
    "off",
    "mode=jitcode-only",
    "mode=jit,threshold=1,trace_eagerness=1",
];

/// What memcheck reports about one run.
#[derive(Debug)]
struct Memcheck {
    in_use_at_exit: u64,
    lost: u64,
    errors: u64,
    stderr: String,
}

fn number_after(text: &str, marker: &str) -> Option<u64> {
    let rest = &text[text.find(marker)? + marker.len()..];
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ',')
        .filter(|c| *c != ',')
        .collect();
    digits.parse().ok()
}

fn memcheck(args: &[&str]) -> Memcheck {
    let vm = &vms().stackvm;
    let mut all = vec!["--leak-check=full", "--errors-for-leak-kinds=definite"];
    let vm_path = vm.to_string_lossy().into_owned();
    all.push(&vm_path);
    all.extend_from_slice(args);
    let r = run(std::path::Path::new("valgrind"), &all, b"", TIMEOUT);
    let stderr = r.stderr.clone();
    // With nothing lost, memcheck prints "All heap blocks were freed" or
    // a leak summary without the "lost" lines: zero then.
    let lost = number_after(&stderr, "definitely lost:").unwrap_or(0)
        + number_after(&stderr, "indirectly lost:").unwrap_or(0);
    Memcheck {
        in_use_at_exit: number_after(&stderr, "in use at exit:").unwrap_or(0),
        lost,
        errors: number_after(&stderr, "ERROR SUMMARY:").expect("memcheck's error summary"),
        stderr,
    }
}

fn valgrind_installed() -> bool {
    Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn vecs_made_in_the_loop_are_freed_once() {
    if !valgrind_installed() {
        eprintln!("skipped: valgrind is not installed");
        return;
    }
    let bags = stackvm_program("bags.svm");
    let bagerr = stackvm_program("bagerr.svm");
    let mut failures = Vec::new();
    for mode in MODES {
        let small = memcheck(&["--jit", mode, &bags, "200"]);
        let large = memcheck(&["--jit", mode, &bags, "2000"]);
        // Dropped by the `?` that leaves `gather` with the Vec half full.
        let error = memcheck(&["--jit", mode, &bagerr, "200"]);
        for (what, m) in [("200", &small), ("2000", &large), ("bagerr", &error)] {
            if m.errors != 0 || m.lost != 0 {
                failures.push(format!(
                    "{mode} {what}: {} errors, {} bytes lost\n{}",
                    m.errors, m.lost, m.stderr
                ));
            }
        }
        if large.in_use_at_exit != small.in_use_at_exit {
            failures.push(format!(
                "{mode}: {} bytes in use at exit after 200 iterations, {} after 2000",
                small.in_use_at_exit, large.in_use_at_exit
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
