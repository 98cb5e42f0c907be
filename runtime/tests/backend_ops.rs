//! Every operation of the trace IR, compiled vs `trace::interp`, on edge
//! values and many random ones (property style, deterministic PRNG), in
//! every operand form the code generator distinguishes: registers (the
//! result reusing either operand's register), constants in either
//! position, operands and results in spill slots.

#![allow(clippy::needless_range_loop)]

use metatrace_runtime::jitcode::*;
use metatrace_runtime::trace::*;
use metatrace_testkit::backend::*;
use metatrace_testkit::ops::{CMP_OPS, FLOAT_BIN_OPS, INT_BIN_OPS};

/// How many random input sets per compiled trace.
const N: usize = 150;

/// One operation with operand kinds `kinds`, checked in every form.
/// `gen` makes the operands' values; `consts` are constants to try in
/// each operand position.
fn check_op(
    opcode: Opcode,
    kinds: &[Kind],
    result: Option<Kind>,
    consts: &[Vec<Val>],
    gen: &mut dyn FnMut(&mut Rng) -> Vec<u64>,
    seed: u64,
) {
    let mut rng = Rng::new(seed);
    let sets: Vec<Vec<u64>> = (0..N).map(|_| gen(&mut rng)).collect();
    let n = kinds.len();
    let exit_with = |tb: &mut TB, r: Option<Val>, extra: Vec<Val>| {
        let mut fa: Vec<Val> = r.into_iter().collect();
        fa.extend(extra);
        tb.exit(fa);
    };

    // A: operands in registers, all dying at the operation.
    // B: operand k stays live (the result may take the other's register).
    for keep in std::iter::once(None).chain((0..n).map(Some)) {
        let mut tb = TB::new(kinds);
        let args: Vec<Val> = (0..n).map(|k| Val::Input(k as u16)).collect();
        let r = tb.op(opcode.clone(), args, result);
        let extra = keep.map(|k| vec![Val::Input(k as u16)]).unwrap_or_default();
        exit_with(&mut tb, result.map(|_| r), extra);
        check(tb.finish_straight(), &sets);
    }
    // C: a constant in position k.
    for k in 0..n {
        for c in &consts[k] {
            let mut tb = TB::new(kinds);
            let args: Vec<Val> = (0..n)
                .map(|j| if j == k { *c } else { Val::Input(j as u16) })
                .collect();
            let r = tb.op(opcode.clone(), args, result);
            exit_with(&mut tb, result.map(|_| r), vec![]);
            check(tb.finish_straight(), &sets);
        }
    }
    // D: operands (and the result) in spill slots: 12 int and 16 float
    // inputs before them stay live until the exit.
    let mut all = vec![Kind::Int; 12];
    all.extend(vec![Kind::Float; 16]);
    let base = all.len();
    all.extend_from_slice(kinds);
    let mut tb = TB::new(&all);
    let args: Vec<Val> = (0..n).map(|k| Val::Input((base + k) as u16)).collect();
    let r = tb.op(opcode.clone(), args, result);
    let pad: Vec<Val> = (0..base).map(|k| Val::Input(k as u16)).collect();
    exit_with(&mut tb, result.map(|_| r), pad);
    let mut prng = Rng::new(seed ^ 0x55);
    let spill_sets: Vec<Vec<u64>> = sets
        .iter()
        .map(|s| {
            let mut v: Vec<u64> = (0..12).map(|_| prng.next()).collect();
            v.extend((0..16).map(|_| prng.float().to_bits()));
            v.extend_from_slice(s);
            v
        })
        .collect();
    check(tb.finish_straight(), &spill_sets);
}

fn int_consts(ty: IntTy) -> Vec<Val> {
    let (lo, hi) = ty.range();
    let mut v = vec![
        0i64,
        1,
        2,
        3,
        7,
        8,
        -1,
        31,
        32,
        63,
        64,
        100,
        1 << 40,
        0x7fff_ffff,
        0x8000_0000,
    ];
    v.push(lo as i64);
    v.push(hi as i64);
    v.push((hi as i64).wrapping_sub(1));
    let set: std::collections::BTreeSet<i64> = v
        .into_iter()
        .map(|c| metatrace_runtime::executor::wrap(ty, c))
        .collect();
    set.into_iter().map(Val::Int).collect()
}

fn canon_pair(ty: IntTy) -> impl FnMut(&mut Rng) -> Vec<u64> {
    move |r: &mut Rng| vec![r.canon(ty) as u64, r.canon(ty) as u64]
}

#[test]
fn int_binary_ops() {
    let ops = &INT_BIN_OPS[..8];
    for (n, op) in ops.iter().enumerate() {
        for (m, ty) in IntTy::ALL.iter().enumerate() {
            let c = int_consts(*ty);
            check_op(
                Opcode::IntBin(*op, *ty),
                &[Kind::Int, Kind::Int],
                Some(Kind::Int),
                &[c.clone(), c],
                &mut canon_pair(*ty),
                (n * 100 + m) as u64,
            );
        }
    }
}

#[test]
fn int_shifts() {
    for (n, op) in [IntBinOp::Shl, IntBinOp::Shr].iter().enumerate() {
        for (m, ty) in IntTy::ALL.iter().enumerate() {
            // the amount may be canonical for any type: any i64
            let amounts: Vec<Val> = [
                0i64,
                1,
                3,
                7,
                8,
                15,
                16,
                31,
                32,
                33,
                63,
                64,
                65,
                -1,
                -8,
                i64::MIN,
                1 << 40,
            ]
            .iter()
            .map(|&c| Val::Int(c))
            .collect();
            let ty = *ty;
            check_op(
                Opcode::IntBin(*op, ty),
                &[Kind::Int, Kind::Int],
                Some(Kind::Int),
                &[int_consts(ty), amounts],
                &mut move |r: &mut Rng| {
                    let b = if r.chance(70) {
                        r.below(80) as i64 - 8
                    } else {
                        r.int()
                    };
                    vec![r.canon(ty) as u64, b as u64]
                },
                (1000 + n * 100 + m) as u64,
            );
        }
    }
}

#[test]
fn int_unary_ops() {
    for (m, ty) in IntTy::ALL.iter().enumerate() {
        let ty = *ty;
        for (n, opc) in [Opcode::IntNeg(ty), Opcode::IntNot(ty)]
            .into_iter()
            .enumerate()
        {
            check_op(
                opc,
                &[Kind::Int],
                Some(Kind::Int),
                &[int_consts(ty)],
                &mut move |r: &mut Rng| vec![r.canon(ty) as u64],
                (2000 + n * 100 + m) as u64,
            );
        }
    }
}

#[test]
fn int_comparisons() {
    let cmps = CMP_OPS;
    for (n, op) in cmps.iter().enumerate() {
        for (m, ty) in IntTy::ALL.iter().enumerate() {
            let ty = *ty;
            let c = int_consts(ty);
            check_op(
                Opcode::IntCmp(*op, ty),
                &[Kind::Int, Kind::Int],
                Some(Kind::Int),
                &[c.clone(), c],
                &mut move |r: &mut Rng| {
                    let a = r.canon(ty);
                    // equal operands often
                    let b = if r.chance(25) { a } else { r.canon(ty) };
                    vec![a as u64, b as u64]
                },
                (3000 + n * 100 + m) as u64,
            );
        }
    }
}

/// A comparison whose only use is the guard right after it (the guard
/// branches on the flags), for both guard polarities, int and float.
#[test]
fn fused_compare_and_guard() {
    let cmps = CMP_OPS;
    let mut rng = Rng::new(77);
    for op in cmps {
        for guard in [Opcode::GuardTrue, Opcode::GuardFalse] {
            for ty in IntTy::ALL {
                let mut tb = TB::new(&[Kind::Int, Kind::Int]);
                let c = tb.int_cmp(op, ty, Val::Input(0), Val::Input(1));
                tb.guard(
                    guard.clone(),
                    vec![c],
                    vec![Val::Input(0), Val::Input(1), Val::Int(5)],
                );
                tb.exit(vec![Val::Int(9), Val::Input(1)]);
                let sets: Vec<Vec<u64>> = (0..60)
                    .map(|_| {
                        let a = rng.canon(ty);
                        let b = if rng.chance(30) { a } else { rng.canon(ty) };
                        vec![a as u64, b as u64]
                    })
                    .collect();
                check(tb.finish_straight(), &sets);
            }
            let mut tb = TB::new(&[Kind::Float, Kind::Float]);
            let c = tb.int(Opcode::FloatCmp(op), vec![Val::Input(0), Val::Input(1)]);
            tb.guard(guard.clone(), vec![c], vec![Val::Input(0), Val::Input(1)]);
            tb.exit(vec![Val::Int(9)]);
            let sets: Vec<Vec<u64>> = (0..200)
                .map(|_| {
                    let a = rng.float();
                    let b = if rng.chance(30) { a } else { rng.float() };
                    vec![a.to_bits(), b.to_bits()]
                })
                .collect();
            check(tb.finish_straight(), &sets);
        }
    }
}

fn float_consts() -> Vec<Val> {
    [
        0.0,
        -0.0,
        1.0,
        -2.5,
        0.1,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        1e300,
        5e-324,
    ]
    .iter()
    .map(|f| Val::Float(f.to_bits()))
    .collect()
}

fn float_pair(r: &mut Rng) -> Vec<u64> {
    let a = r.float();
    let b = if r.chance(20) { a } else { r.float() };
    vec![a.to_bits(), b.to_bits()]
}

#[test]
fn float_ops() {
    let binary = |opcode, result, seed| {
        let c = float_consts();
        check_op(
            opcode,
            &[Kind::Float, Kind::Float],
            Some(result),
            &[c.clone(), c],
            &mut float_pair,
            seed,
        );
    };
    for (n, op) in FLOAT_BIN_OPS.iter().enumerate() {
        binary(Opcode::FloatBin(*op), Kind::Float, 4000 + n as u64);
    }
    check_op(
        Opcode::FloatNeg,
        &[Kind::Float],
        Some(Kind::Float),
        &[float_consts()],
        &mut |r: &mut Rng| vec![r.float().to_bits()],
        4100,
    );
    for (n, op) in CMP_OPS.iter().enumerate() {
        binary(Opcode::FloatCmp(*op), Kind::Int, 4200 + n as u64);
    }
}

fn scalars() -> Vec<ScalarTy> {
    let mut v: Vec<ScalarTy> = IntTy::ALL.iter().map(|&t| ScalarTy::Int(t)).collect();
    v.extend([ScalarTy::Bool, ScalarTy::Char, ScalarTy::F64, ScalarTy::Ref]);
    v
}

/// A canonical value of scalar type `t`.
fn scalar_value(r: &mut Rng, t: ScalarTy) -> u64 {
    match t {
        ScalarTy::Int(t) => r.canon(t) as u64,
        ScalarTy::Bool => r.below(2),
        ScalarTy::Char => {
            if r.chance(50) {
                r.below(128)
            } else {
                char::from_u32(r.below(0x110000) as u32).unwrap_or('?') as u64
            }
        }
        ScalarTy::F64 => r.float().to_bits(),
        ScalarTy::Ref => r.next(),
    }
}

fn scalar_consts(r: &mut Rng, t: ScalarTy) -> Vec<Val> {
    (0..4)
        .map(|_| {
            let b = scalar_value(r, t);
            Val::constant(t.kind(), b)
        })
        .collect()
}

#[test]
fn casts_between_all_scalar_types() {
    let mut crng = Rng::new(5000);
    for (n, from) in scalars().into_iter().enumerate() {
        for (m, to) in scalars().into_iter().enumerate() {
            let consts = scalar_consts(&mut crng, from);
            check_op(
                Opcode::Cast(from, to),
                &[from.kind()],
                Some(to.kind()),
                &[consts],
                &mut move |r: &mut Rng| vec![scalar_value(r, from)],
                (5000 + n * 100 + m) as u64,
            );
        }
    }
}

/// Float to int casts on values around every type's limits.
#[test]
fn float_to_int_saturation() {
    let mut edges = vec![
        f64::NAN,
        -f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        0.0,
        -0.0,
        0.99,
        -0.99,
        1.0,
        -1.0,
    ];
    for t in IntTy::ALL {
        let (lo, hi) = t.range();
        for base in [lo as f64, hi as f64] {
            for d in [-1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5] {
                edges.push(base + d);
            }
            edges.push(base * 2.0);
            edges.push(f64::from_bits(base.to_bits() + 1));
            edges.push(f64::from_bits(base.to_bits().wrapping_sub(1)));
        }
    }
    let sets: Vec<Vec<u64>> = edges.iter().map(|f| vec![f.to_bits()]).collect();
    for to in scalars() {
        let mut tb = TB::new(&[Kind::Float]);
        let r = tb.op(
            Opcode::Cast(ScalarTy::F64, to),
            vec![Val::Input(0)],
            Some(to.kind()),
        );
        tb.exit(vec![r]);
        check(tb.finish_straight(), &sets);
    }
    // and int to float on the u64 edges (rounding of the unsigned convert)
    let mut rng = Rng::new(9);
    let mut ints: Vec<Vec<u64>> = [
        0u64,
        1,
        u64::MAX,
        u64::MAX - 1,
        1 << 63,
        (1 << 63) + 1,
        (1 << 63) - 1,
        (1 << 53) + 1,
        0xffff_ffff_ffff_f7ff,
        0xffff_ffff_ffff_fbff,
        0xffff_ffff_ffff_fc00,
    ]
    .iter()
    .map(|&x| vec![x])
    .collect();
    ints.extend((0..200).map(|_| vec![rng.next() | (1 << 63)]));
    for from in [IntTy::U64, IntTy::Usize, IntTy::I64] {
        let mut tb = TB::new(&[Kind::Int]);
        let r = tb.float(
            Opcode::Cast(ScalarTy::Int(from), ScalarTy::F64),
            vec![Val::Input(0)],
        );
        tb.exit(vec![r]);
        check(tb.finish_straight(), &ints);
    }
}
