//! The blackhole interpreter on hand-built `Tables`: control flow, calls
//! (regular, elidable, recursive), panics, hints, constants and residual
//! calls. Arithmetic is in `blackhole_arith.rs`, memory operations in
//! `blackhole_memory.rs`; the shared fixture in `common/`.

use metatrace_runtime::blackhole;
use metatrace_runtime::jitcode::*;
use metatrace_testkit::insn;
use std::sync::atomic::Ordering;

use metatrace_testkit::fixture::*;
use metatrace_testkit::jitcode::*;

// ---------------------------------------------------------------------------
// Control flow.

/// `fn count(n: i64) -> i64 { let mut i = 0; let mut s = 0; while i < n { s += i; i += 1 } s }`
fn counting_loop() -> Code {
    // i0 = n, i1 = i, i2 = s, i3 = cond
    let mut c = Code::new("count", [4, 0, 0], vec![ki(0)], vec![Kind::Int]);
    let zero = c.ci(0);
    let one = c.ci(1);
    c.push(insn::copy(Kind::Int, zero, 1));
    c.push(insn::copy(Kind::Int, zero, 2));
    let head = c.pc();
    c.push(insn::int_cmp(CmpOp::Lt, IntTy::I64, 1, 0, 3));
    c.push(insn::goto_if_not(3, head + 5));
    c.push(insn::int_bin(IntBinOp::Add, IntTy::I64, 2, 1, 2));
    c.push(insn::int_bin(IntBinOp::Add, IntTy::I64, 1, one, 1));
    c.push(Insn::Goto { target: head });
    c.push(insn::ret(vec![ki(2)]));
    c
}

#[test]
fn counting_loop_sums() {
    let t = tables(vec![counting_loop()]);
    for n in [0i64, 1, 2, 10, 1000, -5] {
        let expect: i64 = (0..n.max(0)).sum();
        assert_eq!(
            blackhole::call(t, 0, &[n as u64]),
            vec![expect as u64],
            "n = {n}"
        );
    }
}

#[test]
#[ignore = "speed measurement; run with --release -- --ignored --nocapture"]
fn counting_loop_speed() {
    let t = tables(vec![counting_loop()]);
    let n: i64 = 50_000_000;
    let start = std::time::Instant::now();
    let r = blackhole::call(t, 0, &[n as u64]);
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(r[0] as i64, (0..n).sum::<i64>());
    let insns = 5.0 * n as f64 + 4.0;
    println!(
        "counting loop: {insns:.0} instructions in {secs:.3} s = {:.1} M insns/s",
        insns / secs / 1e6
    );
}

#[test]
#[ignore = "speed measurement; run with --release -- --ignored --nocapture"]
fn fib_speed() {
    let t = tables(vec![fib_code(0)]);
    let start = std::time::Instant::now();
    let r = blackhole::call(t, 0, &[30]);
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(r, vec![832040]);
    // fib(30) makes 2_692_537 calls; 3 instructions in the leaves, 9 in the others.
    let calls = 2_692_537.0;
    let leaves = (calls + 1.0) / 2.0;
    let insns = leaves * 3.0 + (calls - leaves) * 9.0;
    println!("fib(30): {calls} calls, {insns:.0} instructions in {secs:.3} s = {:.1} M insns/s, {:.1} M calls/s", insns / secs / 1e6, calls / secs / 1e6);
}

#[test]
fn switch_small_dense_and_sparse() {
    // Returns the number of the case taken; 99 for the default.
    fn switch_code(cases: &[i64]) -> Code {
        let mut c = Code::new("sw", [1, 0, 0], vec![ki(0)], vec![Kind::Int]);
        let n = cases.len() as u32;
        let results: Vec<Reg> = (0..n).map(|k| c.ci(k as i64)).collect();
        let dflt = c.ci(99);
        // 0: switch; 1..=n: return k; n+1: return 99
        let cs = cases
            .iter()
            .enumerate()
            .map(|(k, &v)| (v, 1 + k as u32))
            .collect();
        c.push(insn::switch(0, cs, n + 1));
        for r in results {
            c.push(insn::ret(vec![ki(r)]));
        }
        c.push(insn::ret(vec![ki(dflt)]));
        c
    }
    fn expect(cases: &[i64], v: i64) -> u64 {
        cases
            .iter()
            .position(|&c| c == v)
            .map(|k| k as u64)
            .unwrap_or(99)
    }
    let small = [3i64, -1, 7];
    let dense: Vec<i64> = (10..40).rev().collect();
    // Dense, with duplicates: the first one wins.
    let dense_dup = [0i64, 1, 2, 3, 4, 5, 3, 6, 7, 0];
    // Sparse, with a duplicate: the first one wins.
    let sparse = [i64::MIN, -1_000_000, 5, 1 << 40, 5, i64::MAX, 77, 0];
    for cases in [&small[..], &dense[..], &dense_dup[..], &sparse[..]] {
        let t = tables(vec![switch_code(cases)]);
        let mut probes: Vec<i64> = cases.to_vec();
        probes.extend([0, 1, 2, 4, 9, 40, 41, -2, i64::MIN + 1, i64::MAX - 1, 6]);
        for v in probes {
            assert_eq!(
                blackhole::call(t, 0, &[v as u64]),
                vec![expect(cases, v)],
                "cases {cases:?} value {v}"
            );
        }
    }
}

/// `fn fib(n: i64) -> i64 { if n < 2 { n } else { fib(n - 1) + fib(n - 2) } }`
/// as jitcode number `me`.
fn fib_code(me: u16) -> Code {
    let mut fib = Code::new("fib", [5, 0, 0], vec![ki(0)], vec![Kind::Int]);
    let one = fib.ci(1);
    let two = fib.ci(2);
    fib.push(insn::int_cmp(CmpOp::Lt, IntTy::I64, 0, two, 1)); // 0
    fib.push(Insn::GotoIfNot { cond: 1, target: 3 }); // 1
    fib.push(insn::ret(vec![ki(0)])); // 2
    fib.push(insn::int_bin(IntBinOp::Sub, IntTy::I64, 0, one, 2)); // 3
    fib.push(Insn::Live { regs: vec![ki(0)] });
    fib.push(insn::call(
        CallFlavor::Regular,
        me,
        vec![ki(2)],
        vec![ki(3)],
    ));
    fib.push(insn::int_bin(IntBinOp::Sub, IntTy::I64, 0, two, 2));
    fib.push(insn::call(
        CallFlavor::Regular,
        me,
        vec![ki(2)],
        vec![ki(4)],
    ));
    fib.push(insn::int_bin(IntBinOp::Add, IntTy::I64, 3, 4, 3));
    fib.push(insn::ret(vec![ki(3)]));

    fib
}

#[test]
fn call_with_multiple_results_and_recursion() {
    // jitcode 0: main(a: i64, x: f64, p: ref) -> (i64, f64, ref, i64)
    //   (q, r, p2) = split(a, x, p); return (q, r, p2, fib(10))
    // jitcode 1: split(a: i64, x: f64, p: ref) -> (i64, f64, ref) = (a*2, x/2, p)
    // jitcode 2: fib(n) = if n < 2 { n } else { fib(n-1) + fib(n-2) }
    let mut main = Code::new(
        "main",
        [3, 2, 1],
        vec![ki(0), kf(0), kr(0)],
        vec![Kind::Int, Kind::Float, Kind::Ref, Kind::Int],
    );
    let ten = main.ci(10);
    main.push(insn::call(
        CallFlavor::Regular,
        1,
        vec![ki(0), kf(0), kr(0)],
        vec![ki(1), kf(0), kr(1)],
    ));
    main.push(insn::call(
        CallFlavor::Elidable,
        2,
        vec![ki(ten)],
        vec![ki(2)],
    ));
    main.push(insn::ret(vec![ki(1), kf(0), kr(1), ki(2)]));

    let mut split = Code::new(
        "split",
        [2, 1, 2],
        vec![ki(1), kf(1), kr(0)],
        vec![Kind::Int, Kind::Float, Kind::Ref],
    );
    let two = split.ci(2);
    let ftwo = split.cf(2.0);
    split.push(insn::int_bin(IntBinOp::Mul, IntTy::I64, 1, two, 0));
    split.push(insn::float_bin(FloatBinOp::Div, 1, ftwo, 0));
    split.push(insn::ret(vec![ki(0), kf(0), kr(0)]));

    let fib = fib_code(2);

    let t = tables(vec![main, split, fib]);
    let marker = 0u8;
    let r = blackhole::call(t, 0, &[21, 5.0f64.to_bits(), addr(&marker)]);
    assert_eq!(r, vec![42, 2.5f64.to_bits(), addr(&marker), 55]);
    assert_eq!(blackhole::call(t, 2, &[20]), vec![6765]);
    assert_eq!(
        blackhole::call(t, 1, &[(-4i64) as u64, 1.0f64.to_bits(), 0]),
        vec![(-8i64) as u64, 0.5f64.to_bits(), 0]
    );
}

#[test]
fn deep_recursion_does_not_use_the_native_stack() {
    // depth(n) = if n == 0 { 0 } else { depth(n - 1) + 1 }
    let mut c = Code::new("depth", [3, 0, 0], vec![ki(0)], vec![Kind::Int]);
    let zero = c.ci(0);
    let one = c.ci(1);
    c.push(insn::int_cmp(CmpOp::Eq, IntTy::U32, 0, zero, 1));
    c.push(Insn::GotoIfNot { cond: 1, target: 3 });
    c.push(insn::ret(vec![ki(zero)]));
    c.push(insn::int_bin(IntBinOp::Sub, IntTy::U32, 0, one, 2));
    c.push(insn::call(CallFlavor::Regular, 0, vec![ki(2)], vec![ki(2)]));
    c.push(insn::int_bin(IntBinOp::Add, IntTy::U32, 2, one, 2));
    c.push(insn::ret(vec![ki(2)]));
    let t = tables(vec![c]);
    // Run on a small native stack: a recursive interpreter would overflow.
    let r = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || blackhole::call(t, 0, &[300_000]))
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(r, vec![300_000]);
}

#[test]
fn panic_carries_the_message() {
    let mut c = Code::new("p", [1, 0, 0], vec![ki(0)], vec![Kind::Int]);
    c.push(Insn::GotoIfNot { cond: 0, target: 2 });
    c.push(insn::panic(PanicKind::BoundsCheck, S_BOOM));
    c.push(insn::ret(vec![ki(0)]));
    let t = tables(vec![c]);
    assert_eq!(blackhole::call(t, 0, &[0]), vec![0]);
    let err = std::panic::catch_unwind(|| blackhole::call(t, 0, &[1])).expect_err("must panic");
    let msg = err
        .downcast_ref::<String>()
        .map(|s| s.as_str())
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap();
    assert_eq!(
        msg,
        "boom: index out of bounds: the len is 3 but the index is 7"
    );
    // The blackhole still works on this thread after a panic.
    assert_eq!(blackhole::call(t, 0, &[0]), vec![0]);
}

#[test]
fn hints_are_plain_in_the_blackhole() {
    // promote copies, we_are_jitted is 0, merge points/can_enter_jit/live do nothing.
    let mut c = Code::new(
        "portal",
        [3, 1, 1],
        vec![ki(0), kr(0), kf(0)],
        vec![Kind::Int, Kind::Int, Kind::Ref, Kind::Float],
    );
    c.push(insn::merge_point(0, vec![ki(0), kr(0)]));
    c.push(insn::promote(Kind::Int, 0, 1));
    c.push(insn::promote(Kind::Ref, 0, 0));
    c.push(insn::promote(Kind::Float, 0, 0));
    c.push(Insn::WeAreJitted { dst: 2 });
    c.push(insn::live(vec![ki(1), ki(2)]));
    c.push(insn::can_enter_jit(0, vec![ki(1), kr(0)]));
    c.push(insn::ret(vec![ki(1), ki(2), kr(0), kf(0)]));
    let r = run1(c, &[17, 0xdead0, 1.5f64.to_bits()]);
    assert_eq!(r, vec![17, 0, 0xdead0, 1.5f64.to_bits()]);
}

#[test]
fn constants_are_preloaded() {
    let mut c = Code::new(
        "k",
        [0, 0, 0],
        vec![],
        vec![Kind::Int, Kind::Ref, Kind::Ref, Kind::Float],
    );
    let i = c.ci(-7);
    let s = c.cr(RefConst::Str("hello"));
    let n = c.cr(RefConst::Null);
    let f = c.cf(-0.25);
    c.push(insn::ret(vec![ki(i), kr(s), kr(n), kf(f)]));
    let t = tables(vec![c]);
    let r = blackhole::call(t, 0, &[]);
    assert_eq!(r[0] as i64, -7);
    let RefConst::Str(lit) = t.jitcodes[0].consts_r[0] else {
        unreachable!()
    };
    assert_eq!(r[1], lit.as_ptr() as u64);
    let bytes = unsafe { std::slice::from_raw_parts(r[1] as usize as *const u8, 5) };
    assert_eq!(bytes, b"hello");
    assert_eq!(r[2], 0);
    assert_eq!(f64::from_bits(r[3]), -0.25);
}

#[test]
fn copies_of_every_kind() {
    let mut c = Code::new(
        "cp",
        [2, 2, 2],
        vec![ki(0), kr(0), kf(0)],
        vec![Kind::Int, Kind::Ref, Kind::Float],
    );
    c.push(insn::copy(Kind::Int, 0, 1));
    c.push(insn::copy(Kind::Ref, 0, 1));
    c.push(insn::copy(Kind::Float, 0, 1));
    c.push(insn::ret(vec![ki(1), kr(1), kf(1)]));
    let nan = f64::from_bits(0x7ff8_0000_dead_beef);
    assert_eq!(
        run1(c, &[u64::MAX, 1234, nan.to_bits()]),
        vec![u64::MAX, 1234, nan.to_bits()]
    );
}

#[test]
fn argument_count_is_checked() {
    let t = tables(vec![counting_loop()]);
    assert!(std::panic::catch_unwind(|| blackhole::call(t, 0, &[])).is_err());
    assert!(std::panic::catch_unwind(|| blackhole::call(t, 5, &[1])).is_err());
}

#[test]
fn invalid_tables_are_refused_with_the_verifier_message() {
    let mut c = Code::new("bad", [1, 0, 0], vec![], vec![]);
    c.push(Insn::Goto { target: 9 });
    let t = tables(vec![c]);
    let err = std::panic::catch_unwind(|| blackhole::call(t, 0, &[])).expect_err("must refuse");
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(
        msg.contains("bad: insn 0 (goto L9): label 9 out of range (1 instructions)"),
        "{msg}"
    );
}

// ---------------------------------------------------------------------------
// Residual calls.

#[test]
fn residual_calls_through_real_shims() {
    // f(a, b, v, k) -> (q, r, sum, scaled); bump()
    let mut c = Code::new(
        "res",
        [4, 1, 2],
        vec![ki(0), ki(1), kr(0), kf(0)],
        vec![Kind::Int, Kind::Int, Kind::Int, Kind::Float],
    );
    c.push(insn::residual_call(
        C_DIVMOD,
        vec![ki(0), ki(1)],
        vec![ki(2), ki(3)],
    ));
    c.push(insn::residual_call(
        C_SUM_SCALED,
        vec![kr(0), kf(0)],
        vec![ki(0), kf(1)],
    ));
    c.push(insn::residual_call(C_BUMP, vec![], vec![]));
    c.push(insn::ret(vec![ki(2), ki(3), ki(0), kf(1)]));
    let t = tables(vec![c]);
    let v: Vec<i64> = vec![1, 2, 3, 4];
    let before = BUMPS.load(Ordering::SeqCst);
    let r = blackhole::call(t, 0, &[(-7i64) as u64, 2, addr(&v), 0.5f64.to_bits()]);
    assert_eq!(r, vec![(-4i64) as u64, 1, 10, 5.0f64.to_bits()]);
    assert!(BUMPS.load(Ordering::SeqCst) > before);
}

#[test]
fn residual_call_may_reenter_the_blackhole() {
    // jitcode 0: outer(n) = reenter(n) + count... ; jitcode 1: count(n) (the counting loop)
    let mut outer = Code::new("outer", [2, 0, 0], vec![ki(0)], vec![Kind::Int]);
    outer.push(insn::residual_call(C_REENTER, vec![ki(0)], vec![ki(1)]));
    outer.push(insn::call(CallFlavor::Regular, 1, vec![ki(0)], vec![ki(0)]));
    outer.push(insn::int_bin(IntBinOp::Add, IntTy::I64, 0, 1, 0));
    outer.push(insn::ret(vec![ki(0)]));
    let t = tables(vec![outer, counting_loop()]);
    assert!(REENTER.set(t).is_ok(), "set once");
    assert_eq!(blackhole::call(t, 0, &[100]), vec![2 * 4950]);
}
