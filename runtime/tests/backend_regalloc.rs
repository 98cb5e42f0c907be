//! The register allocator's choices, seen in the machine code: under
//! pressure it gives up the register whose value is read again furthest
//! away (not the one that lives longest), and it brings an evicted value
//! back into a register when it is read again (one load, not a load per
//! use). The results are checked against `trace::interp` as well.

use metatrace_runtime::backend;
use metatrace_runtime::jitcode::*;
use metatrace_runtime::trace::*;
use metatrace_testkit::backend::*;

/// Loads and stores of spill slots (`[r15-...]`) in the body of trace
/// `id`, before its exit stubs.
fn slot_accesses(id: backend::TraceId) -> usize {
    let text = backend::disassemble(id);
    let body = text.split("stub of guard").next().unwrap_or(&text);
    body.lines().filter(|l| l.contains("[r15-")).count()
}

/// Twelve values live at once (more than the ten allocatable general
/// registers), while input `x` is read by every step of a chain that
/// consumes them, and once more at the very end. `x` lives longest, so a
/// policy of evicting the longest-lived value pushes it out and reads it
/// from memory at each of its dozen uses; evicting by next use keeps it
/// (or reloads it once).
fn pressure_trace() -> Trace {
    let mut tb = TB::new(&[Kind::Int]);
    let x = Val::Input(0);
    let vs: Vec<Val> = (1..=12)
        .map(|k| tb.int_bin(IntBinOp::Add, IntTy::I64, x, Val::Int(k * 1000 + 7)))
        .collect();
    let mut acc = tb.int_bin(IntBinOp::Mul, IntTy::I64, x, Val::Int(3));
    for v in &vs {
        acc = tb.int_bin(IntBinOp::Add, IntTy::I64, acc, *v);
        acc = tb.int_bin(IntBinOp::Xor, IntTy::I64, acc, x);
    }
    let last = tb.int_bin(IntBinOp::Sub, IntTy::I64, acc, x);
    tb.exit(vec![last, acc]);
    tb.finish_straight()
}

#[test]
fn a_value_read_often_is_not_read_from_memory_at_each_use() {
    let trace = pressure_trace();
    let inputs: Vec<Vec<u64>> = [0i64, 1, -1, 12345, i64::MAX, i64::MIN]
        .iter()
        .map(|&v| vec![v as u64])
        .collect();
    let id = check(trace, &inputs);
    // The values that do not fit are stored once and read once each
    // (eight accesses); reading `x` from its slot would add a dozen.
    let n = slot_accesses(id);
    assert!(
        n <= 9,
        "{n} spill-slot accesses for 12 reads of a value under pressure:\n{}",
        backend::disassemble(id)
    );
}

/// The same under float pressure: sixteen floats live at once (fifteen
/// xmm registers).
#[test]
fn float_pressure_keeps_the_value_read_often() {
    let mut tb = TB::new(&[Kind::Float]);
    let x = Val::Input(0);
    let vs: Vec<Val> = (1..=16)
        .map(|k| {
            tb.float(
                Opcode::FloatBin(FloatBinOp::Add),
                vec![x, Val::Float((k as f64).to_bits())],
            )
        })
        .collect();
    let mut acc = tb.float(Opcode::FloatBin(FloatBinOp::Mul), vec![x, x]);
    for v in &vs {
        acc = tb.float(Opcode::FloatBin(FloatBinOp::Add), vec![acc, *v]);
        acc = tb.float(Opcode::FloatBin(FloatBinOp::Mul), vec![acc, x]);
    }
    tb.exit(vec![acc]);
    let trace = tb.finish_straight();
    let inputs: Vec<Vec<u64>> = [0.0f64, 1.0, -0.5, 3.25]
        .iter()
        .map(|&v| vec![v.to_bits()])
        .collect();
    let id = check(trace, &inputs);
    let n = slot_accesses(id);
    assert!(
        n <= 8,
        "{n} spill-slot accesses for 16 reads of a value under pressure:\n{}",
        backend::disassemble(id)
    );
}

/// A value pushed out while it is not needed (twelve others are live and
/// read before it), then read a dozen times: it is loaded back into a
/// register once, not read from its slot at each use.
#[test]
fn an_evicted_value_is_reloaded_once() {
    let mut tb = TB::new(&[Kind::Int, Kind::Int]);
    let (x, y) = (Val::Input(0), Val::Input(1));
    let vs: Vec<Val> = (1..=12)
        .map(|k| tb.int_bin(IntBinOp::Add, IntTy::I64, y, Val::Int(k * 1000 + 7)))
        .collect();
    let mut acc = tb.int_bin(IntBinOp::Mul, IntTy::I64, y, Val::Int(3));
    for v in &vs {
        acc = tb.int_bin(IntBinOp::Add, IntTy::I64, acc, *v);
    }
    for k in 0..12 {
        acc = tb.int_bin(IntBinOp::Xor, IntTy::I64, acc, x);
        acc = tb.int_bin(IntBinOp::Add, IntTy::I64, acc, Val::Int(k));
    }
    let last = tb.int_bin(IntBinOp::Sub, IntTy::I64, acc, x);
    tb.exit(vec![last, acc]);
    let trace = tb.finish_straight();
    let inputs: Vec<Vec<u64>> = [(0i64, 0i64), (1, -1), (-77, 12345), (i64::MAX, i64::MIN)]
        .iter()
        .map(|&(a, b)| vec![a as u64, b as u64])
        .collect();
    let id = check(trace, &inputs);
    let n = slot_accesses(id);
    // About the same as above; reading `x` from its slot at each of its
    // thirteen uses would add a dozen.
    assert!(
        n <= 10,
        "{n} spill-slot accesses for 13 reads of a value evicted once:\n{}",
        backend::disassemble(id)
    );
}
