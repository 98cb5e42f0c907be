//! Micro-benchmarks of compiled traces vs `trace::interp` (ignored by
//! default; tests never assert on timing). Run with
//! `cargo test --release -p metatrace-runtime --test backend_bench -- --ignored --nocapture`.

use metatrace_runtime::backend;
use metatrace_runtime::jitcode::*;
use metatrace_runtime::trace::interp;
use metatrace_runtime::trace::*;
use metatrace_testkit::backend::*;
use std::time::Instant;

fn time<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let t = Instant::now();
    let r = f();
    (r, t.elapsed().as_secs_f64())
}

fn bench(name: &str, trace: Trace, inputs: &[u64], iters: f64) {
    let (id, ct) = time(|| backend::compile_loop(trace.clone(), tables()).unwrap());
    let (got, jt) = time(|| backend::execute(id, inputs));
    let (want, it) = time(|| interp::run(&trace, tables(), inputs));
    assert_eq!((got.guard, &got.values), (want.guard, &want.values));
    if std::env::var_os("SHOW_CODE").is_some() {
        eprintln!("{}", backend::disassemble(id));
    }
    eprintln!(
        "{name}: {iters:.0} iterations: compiled {:.3} s ({:.2} ns/iter), trace::interp {:.3} s ({:.2} ns/iter): {:.0}x; compile {:.1} us, {} bytes",
        jt,
        jt / iters * 1e9,
        it,
        it / iters * 1e9,
        it / jt,
        ct * 1e6,
        backend::code_info(id).unwrap().0
    );
}

/// `while i < n { i += 1 }`, 10^8 iterations.
#[test]
#[ignore]
fn counting_loop_1e8() {
    let mut tb = TB::new(&[Kind::Int, Kind::Int]);
    let i1 = tb.int_bin(IntBinOp::Add, IntTy::I64, Val::Input(0), Val::Int(1));
    let c = tb.int_cmp(CmpOp::Lt, IntTy::I64, i1, Val::Input(1));
    tb.guard(Opcode::GuardTrue, vec![c], vec![i1]);
    let t = tb.finish_loop(vec![i1, Val::Input(1)]);
    bench("counting loop", t, &[0, 100_000_000], 1e8);
}

/// Sum of a `Vec<i64>` with bounds checks (VecLen, VecPtr inline),
/// wrapping i32 arithmetic and a float accumulator.
#[test]
#[ignore]
fn vec_sum_loop() {
    let n = 10_000_000usize;
    let v: Vec<i64> = (0..n as i64).collect();
    // [v, i, acc, facc]
    let mut tb = TB::new(&[Kind::Ref, Kind::Int, Kind::Int, Kind::Float]);
    let (vv, i, acc, facc) = (Val::Input(0), Val::Input(1), Val::Input(2), Val::Input(3));
    let len = tb.int(Opcode::VecLen(ArrayId(A_VI64)), vec![vv]);
    let inb = tb.int_cmp(CmpOp::Lt, IntTy::Usize, i, len);
    tb.guard(Opcode::GuardTrue, vec![inb], vec![i, acc, facc]);
    let p = tb.r#ref(Opcode::VecPtr(ArrayId(A_VI64)), vec![vv]);
    let x = tb.int(Opcode::GetItem(ArrayId(A_VI64)), vec![p, i]);
    let x32 = tb.int(
        Opcode::Cast(ScalarTy::Int(IntTy::I64), ScalarTy::Int(IntTy::I32)),
        vec![x],
    );
    let a1 = tb.int_bin(IntBinOp::Add, IntTy::I32, acc, x32);
    let xf = tb.float(
        Opcode::Cast(ScalarTy::Int(IntTy::I64), ScalarTy::F64),
        vec![x],
    );
    let f1 = tb.float(Opcode::FloatBin(FloatBinOp::Add), vec![facc, xf]);
    let i1 = tb.int_bin(IntBinOp::Add, IntTy::Usize, i, Val::Int(1));
    let t = tb.finish_loop(vec![vv, i1, a1, f1]);
    bench(
        "vec sum loop",
        t,
        &[&v as *const Vec<i64> as u64, 0, 0, 0],
        n as f64,
    );
}

/// A loop making a residual call per iteration, with live values across.
#[test]
#[ignore]
fn residual_call_loop() {
    let n = 10_000_000u64;
    let mut tb = TB::new(&[Kind::Int, Kind::Int, Kind::Float]);
    let (i, acc, f) = (Val::Input(0), Val::Input(1), Val::Input(2));
    tb.effect(
        Opcode::CallResidual(CallId(C_FLOATS)),
        vec![f, Val::Float(1.0f64.to_bits())],
    );
    let f1 = tb.float(Opcode::CallResult(0, Kind::Float), vec![]);
    let a1 = tb.int_bin(IntBinOp::Add, IntTy::I64, acc, i);
    let i1 = tb.int_bin(IntBinOp::Sub, IntTy::I64, i, Val::Int(1));
    let c = tb.int_cmp(CmpOp::Gt, IntTy::I64, i1, Val::Int(0));
    tb.guard(Opcode::GuardTrue, vec![c], vec![a1, f1]);
    let t = tb.finish_loop(vec![i1, a1, f1]);
    bench("residual call loop", t, &[n, 0, 1.0f64.to_bits()], n as f64);
}

/// The fixed cost of entering and leaving compiled code.
#[test]
#[ignore]
fn execute_overhead() {
    let mut tb = TB::new(&[Kind::Int, Kind::Int]);
    let x = tb.int_bin(IntBinOp::Add, IntTy::I64, Val::Input(0), Val::Input(1));
    tb.exit(vec![x, Val::Input(1)]);
    let id = backend::compile_loop(tb.finish_straight(), tables()).unwrap();
    let n = 1_000_000;
    let (s, t) = time(|| {
        let mut s = 0u64;
        for k in 0..n {
            s = s.wrapping_add(backend::execute(id, &[k, 1]).values[0]);
        }
        s
    });
    assert_eq!(s, (0..n).map(|k| k + 1).sum::<u64>());
    eprintln!("execute + exit: {:.1} ns per call", t / n as f64 * 1e9);
}
