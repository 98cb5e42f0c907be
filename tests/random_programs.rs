//! Differential testing with generated programs: every program runs in every
//! mode of `random::harness::MODES` (native `--jit off`, the reference;
//! `--jit mode=jitcode-only`; ...), and stdout, stderr and the exit status
//! must be identical. The reference is also checked against a model of the
//! language in the generator. A divergence is shrunk to a small reproducer
//! that can be kept in `tests/regressions/`, whose files `regressions` runs
//! in every mode. See docs/testing.md (seeds, counts, adding a mode).

mod random;

use metatrace_testkit::rng::{self, SplitMix as Rng};
use random::bf::{self, Bf};
use random::harness::{self, Target};
use random::tlr::{self, Tlr};
use random::um::Um;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[test]
fn tlr_random_programs() {
    harness::differential(&Tlr, 3000);
}

#[test]
fn bf_random_programs() {
    harness::differential(&Bf, 3000);
}

#[test]
fn um_random_programs() {
    harness::differential(&Um, 1000);
}

/// Every file of tests/regressions (`*.tlr` with its N in a `# N: ...`
/// comment line, else 0; `*.b` with stdin from the `.in` file of the same
/// name, if any) in every supported mode.
/// The JIT at low thresholds with each optimization pass off alone, and
/// with none: a pass that others cover for would hide its bugs in
/// `tlr_random_programs`/`bf_random_programs`.
fn each_pass_off() -> Vec<String> {
    use metatrace::runtime::optimizer::Pass;
    let mut modes = vec!["off".to_string()];
    for off in Pass::ALL {
        let on: Vec<&str> = Pass::ALL
            .iter()
            .filter(|p| **p != off)
            .map(|p| p.name())
            .collect();
        modes.push(format!(
            "mode=jit,threshold=2,trace_eagerness=1,enable_opts={}",
            on.join(":")
        ));
    }
    modes.push("mode=jit,threshold=2,trace_eagerness=1,enable_opts=none".to_string());
    modes
}

#[test]
fn tlr_random_programs_each_pass_off() {
    harness::differential_in_modes(&Tlr, 400, each_pass_off());
}

#[test]
fn bf_random_programs_each_pass_off() {
    harness::differential_in_modes(&Bf, 400, each_pass_off());
}

#[test]
fn regressions() {
    let dir = metatrace_testkit::vms::workspace_root().join("tests/regressions");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    paths.sort();
    let vms = metatrace_testkit::vms::vms();
    let mut cases = Vec::new();
    for path in paths {
        match path.extension().and_then(|e| e.to_str()) {
            Some("tlr") => {
                let text = std::fs::read_to_string(&path).unwrap();
                let n = text
                    .lines()
                    .find_map(|l| l.trim().strip_prefix("# N:").map(|n| n.trim().to_string()))
                    .unwrap_or_else(|| "0".to_string());
                cases.push(harness::Regression {
                    vm: vms.tlr.clone(),
                    path,
                    args: vec![n],
                    stdin: Vec::new(),
                });
            }
            Some("b") => {
                let stdin = std::fs::read(path.with_extension("in")).unwrap_or_default();
                cases.push(harness::Regression {
                    vm: vms.bf.clone(),
                    path,
                    args: Vec::new(),
                    stdin,
                });
            }
            _ => {}
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let tlr_modes = harness::supported_modes(&Tlr, tmp.path(), harness::modes());
    let bf_modes = harness::supported_modes(&Bf, tmp.path(), harness::modes());
    let modes_of = |vm: &Path| {
        if vm == vms.tlr {
            tlr_modes.clone()
        } else {
            bf_modes.clone()
        }
    };
    let (failures, compared) = harness::run_regressions(&cases, modes_of);
    eprintln!(
        "regressions: {} files in tests/regressions, {compared} comparisons with the reference",
        cases.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} regressions fail:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

/// Program `i` of the generator of `t` in the stream `stream` of `seed`.
fn generated<T: Target>(t: &T, seed: u64, stream: &str, i: u64) -> T::Program {
    let mut rng = Rng::new(rng::mix(rng::mix(seed, rng::hash_str(stream)), i));
    t.generate(&mut rng)
}

/// Between 80 % and 95 % of the `count` programs end with `ok`, the rest
/// with errors.
fn assert_mostly_ok(ends: &BTreeMap<String, usize>, ok: &str, count: u64) {
    let ok = ends[ok];
    assert!(
        ok > count as usize * 80 / 100 && ok < count as usize * 95 / 100,
        "{ends:?}"
    );
}

/// The generators alone (no VM): programs end within the model's budget,
/// and the mix has what the differential tests rely on (loops that iterate
/// enough to get hot, nesting, every error path).
#[test]
fn generators_cover_what_they_promise() {
    let seed = harness::base_seed("generators");
    let count = 3000;

    let mut tlr_errors = BTreeMap::<String, usize>::new();
    let (mut hot, mut long, mut total_steps) = (0, 0, 0u64);
    for i in 0..count {
        let p = generated(&Tlr, seed, "tlr-gen", i);
        let (end, steps) = tlr::model(&p).expect("generated program does not end");
        total_steps += steps;
        let key = match end {
            tlr::End::Return(_) => "ok",
            tlr::End::Error(e) => e,
        };
        *tlr_errors.entry(key.to_string()).or_default() += 1;
        // A backward jump (a loop) in a run long enough to get hot.
        let backward =
            p.insns.iter().enumerate().any(|(k, i)| {
                i.op == tlr::JUMP_IF_A && matches!(i.arg, tlr::Arg::Label(l) if l <= k)
            });
        if backward && steps > 200 {
            hot += 1;
        }
        if steps > 2000 {
            long += 1;
        }
    }
    eprintln!(
        "tlr generator: {count} programs, {:.0} steps on average, {hot} with loops over 200 steps, {long} over 2000 steps; ends: {tlr_errors:?}",
        total_steps as f64 / count as f64
    );
    assert_mostly_ok(&tlr_errors, "ok", count);
    for kind in [
        "unknown opcode",
        "register out of range",
        "missing operand",
        "ran off the end",
    ] {
        assert!(
            tlr_errors.get(kind).copied().unwrap_or(0) >= 10,
            "few `{kind}`: {tlr_errors:?}"
        );
    }
    assert!(
        hot > count as usize / 4,
        "only {hot} programs with hot loops"
    );
    assert!(long > 10, "only {long} long programs");

    let mut bf_ends = BTreeMap::<String, usize>::new();
    let (mut with_input, mut nested, mut grown, mut total_steps) = (0, 0, 0, 0u64);
    for i in 0..count {
        let p = generated(&Bf, seed, "bf-gen", i);
        let (_, end, steps) = bf::model(&p).expect("generated program does not end");
        total_steps += steps;
        *bf_ends.entry(format!("{end:?}")).or_default() += 1;
        if p.src.contains(&b',') && !p.stdin.is_empty() {
            with_input += 1;
        }
        let mut depth = 0i32;
        let mut max_depth = 0;
        for &c in &p.src {
            depth += (c == b'[') as i32 - (c == b']') as i32;
            max_depth = max_depth.max(depth);
        }
        if max_depth >= 2 {
            nested += 1;
        }
        if p.src.windows(30).any(|w| w.iter().all(|&c| c == b'>')) && end == bf::End::Ok {
            grown += 1;
        }
    }
    eprintln!(
        "bf generator: {count} programs, {:.0} steps on average, {with_input} reading input, {nested} with nested loops, {grown} growing the tape; ends: {bf_ends:?}",
        total_steps as f64 / count as f64
    );
    assert_mostly_ok(&bf_ends, "Ok", count);
    assert!(
        bf_ends.get("LeftOfTape").copied().unwrap_or(0) >= 30,
        "{bf_ends:?}"
    );
    assert!(
        bf_ends.get("Unbalanced").copied().unwrap_or(0) >= 30,
        "{bf_ends:?}"
    );
    assert!(with_input > count as usize / 5 && nested > count as usize / 5 && grown >= 20);
}

/// The first of the programs of `t` from `seed` (10,000 at most) that is
/// `big` and `fails`, and what the shrinker makes of it in 20 s, which
/// must still fail.
fn shrink_first<T: Target>(
    t: &T,
    seed: u64,
    big: impl Fn(&T::Program) -> bool,
    fails: impl Fn(&T::Program) -> bool,
) -> (T::Program, T::Program) {
    let p = (0..10_000)
        .map(|i| t.generate(&mut Rng::new(rng::mix(seed, i))))
        .find(|p| big(p) && fails(p))
        .unwrap_or_else(|| panic!("no {} program fails", T::NAME));
    let budget = std::time::Duration::from_secs(20);
    let small = random::shrink::minimize(t, p.clone(), &fails, budget).program;
    assert!(fails(&small));
    (p, small)
}

/// The shrinker on a synthetic divergence (decided by the model, no VM):
/// it must get down to the few instructions or bytes that matter.
#[test]
fn shrinker_minimizes_a_synthetic_divergence() {
    // tlr: "diverges" when the result is negative and odd.
    let (p, small) = shrink_first(
        &Tlr,
        1,
        |p| p.insns.len() > 20,
        |q| matches!(tlr::model(q), Some((tlr::End::Return(v), _)) if v < 0 && v % 2 != 0),
    );
    eprintln!(
        "tlr: {} -> {}:\n{}",
        Tlr.size(&p),
        Tlr.size(&small),
        small.listing()
    );
    // E.g. `SET_A 1; NEG_A; RETURN_A`, or N odd and negative with RETURN_A.
    assert!(small.insns.len() <= 3, "{}", small.listing());

    // bf: "diverges" when the output contains the byte 3.
    let (p, small) = shrink_first(
        &Bf,
        2,
        |p| p.src.len() > 60,
        |q| matches!(bf::model(q), Some((out, _, _)) if out.contains(&3)),
    );
    eprintln!(
        "bf: {} -> {}: {}",
        Bf.size(&p),
        Bf.size(&small),
        Bf.describe(&small)
    );
    // `+++.`, `---[...]` or `,.` with a 3 in the input, ...
    assert!(small.src.len() <= 8, "{}", Bf.describe(&small));
}
