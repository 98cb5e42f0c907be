//! The code generator's instruction forms, compiled vs `trace::interp`:
//! comparisons with a constant on either side (mirrored, `test` for 0,
//! 8- and 32-bit immediates) at boundary values; memory operands with
//! no, 8-bit and 32-bit displacements, an index, and every base register
//! (`rbp`/`r13` need a displacement, `r12` a SIB byte); operations that
//! are copies of their operand (`fieldaddr` at offset 0, widening casts);
//! narrow results that are only stored (not re-canonicalised); the guard
//! right before a loop's jump branching back itself; bridges entered with
//! the fail arguments where the guard has them (registers, slots,
//! constants, duplicates, copies) and jumps into a loop's header
//! registers and slots.

#![allow(clippy::needless_range_loop)]

use metatrace_runtime::backend;
use metatrace_runtime::executor::wrap;
use metatrace_runtime::jitcode::*;
use metatrace_runtime::trace::interp;
use metatrace_runtime::trace::*;
use metatrace_testkit::backend::*;
use metatrace_testkit::ops::CMP_OPS;
use std::collections::{BTreeSet, HashMap};

use IntTy::*;

const CMPS: [CmpOp; 6] = CMP_OPS;

/// Constants where the encodings change (0: `test`; 8-bit, 32-bit
/// immediates; beyond: through a register), canonical for `ty`.
fn boundary(ty: IntTy) -> Vec<i64> {
    let (lo, hi) = ty.range();
    let raw = [
        0i64,
        1,
        -1,
        2,
        127,
        128,
        -128,
        -129,
        255,
        256,
        0x7fff,
        0x8000,
        0xffff,
        i32::MAX as i64,
        i32::MIN as i64,
        i32::MAX as i64 + 1,
        i32::MIN as i64 - 1,
        u32::MAX as i64,
        1 << 40,
        i64::MAX,
        i64::MIN,
        lo as i64,
        hi as i64,
    ];
    let set: BTreeSet<i64> = raw.iter().map(|&c| wrap(ty, c)).collect();
    set.into_iter().collect()
}

/// Operand values around every boundary constant.
fn around(ty: IntTy) -> Vec<u64> {
    let mut set = BTreeSet::new();
    for c in boundary(ty) {
        for d in [-1i64, 0, 1] {
            set.insert(wrap(ty, c.wrapping_add(d)) as u64);
        }
    }
    set.into_iter().collect()
}

/// `c op x` and `x op c` for every boundary constant `c`, as values
/// (`setcc`), with `x` in a register and in a spill slot.
#[test]
fn comparisons_with_a_constant_on_either_side() {
    for op in CMPS {
        for ty in IntTy::ALL {
            let consts = boundary(ty);
            let xs = around(ty);
            for in_slot in [false, true] {
                // 12 int and 16 float inputs before x, live to the exit:
                // x gets a slot
                let pad = if in_slot { 28 } else { 0 };
                let mut kinds = vec![Kind::Int; 12.min(pad)];
                kinds.extend(vec![Kind::Float; pad - kinds.len()]);
                kinds.push(Kind::Int);
                let x = Val::Input(pad as u16);
                let mut tb = TB::new(&kinds);
                let mut out = Vec::new();
                for &c in &consts {
                    out.push(tb.int_cmp(op, ty, Val::Int(c), x));
                    out.push(tb.int_cmp(op, ty, x, Val::Int(c)));
                }
                out.extend((0..=pad).map(|k| Val::Input(k as u16)));
                tb.exit(out);
                let mut rng = Rng::new(31);
                let sets: Vec<Vec<u64>> = xs
                    .iter()
                    .map(|&x| {
                        let mut v: Vec<u64> = (0..12.min(pad)).map(|_| rng.next()).collect();
                        v.extend((0..pad - v.len()).map(|_| rng.float().to_bits()));
                        v.push(x);
                        v
                    })
                    .collect();
                check(tb.finish_straight(), &sets);
            }
        }
    }
}

/// The same comparisons fused with the guard after them (both
/// polarities), and `guard_value` with the constant on either side.
#[test]
fn guards_on_comparisons_with_a_constant_on_either_side() {
    for ty in IntTy::ALL {
        let consts = boundary(ty);
        let xs: Vec<Vec<u64>> = around(ty).into_iter().map(|x| vec![x]).collect();
        for op in CMPS {
            for guard in [Opcode::GuardTrue, Opcode::GuardFalse] {
                for left in [false, true] {
                    // a chain: the first guard that fails says which
                    let mut tb = TB::new(&[Kind::Int]);
                    let x = Val::Input(0);
                    for (k, &c) in consts.iter().enumerate() {
                        let args = if left {
                            vec![Val::Int(c), x]
                        } else {
                            vec![x, Val::Int(c)]
                        };
                        let r = tb.int(Opcode::IntCmp(op, ty), args);
                        tb.guard(guard.clone(), vec![r], vec![x, Val::Int(k as i64)]);
                    }
                    tb.exit(vec![x]);
                    check(tb.finish_straight(), &xs);
                }
            }
        }
        for &c in &consts {
            for left in [false, true] {
                let mut tb = TB::new(&[Kind::Int]);
                let x = Val::Input(0);
                let args = if left {
                    vec![Val::Int(c), x]
                } else {
                    vec![x, Val::Int(c)]
                };
                tb.guard(Opcode::GuardValue, args, vec![x]);
                tb.exit(vec![Val::Int(1), x]);
                let mut sets = xs.clone();
                sets.push(vec![c as u64]);
                check(tb.finish_straight(), &sets);
            }
        }
    }
}

#[derive(Clone, Debug)]
struct Data {
    u32s: Vec<u32>,
    i8s: Vec<i8>,
    recs: Vec<Rec>,
    bytes: Vec<u64>,
}

impl Data {
    fn sample(r: &mut Rng) -> Data {
        Data {
            u32s: (0..64).map(|_| r.next() as u32).collect(),
            i8s: (0..256).map(|_| r.next() as i8).collect(),
            recs: (0..4).map(|_| Rec::sample(r)).collect(),
            bytes: (0..8).map(|_| r.next()).collect(),
        }
    }
    fn same(&self, o: &Data) -> bool {
        self.u32s == o.u32s
            && self.i8s == o.i8s
            && self.bytes == o.bytes
            && self.recs.iter().zip(&o.recs).all(|(a, b)| same_rec(a, b))
    }
}

/// Loads and stores at displacements 0, 8-bit and 32-bit, negative ones,
/// with a register index and constant indices, of every width, with the
/// base pointers in each allocatable register in turn (and in a slot).
#[test]
fn memory_operands_at_every_displacement_and_base() {
    let mut rng = Rng::new(44);
    for pad in 0..=11usize {
        // inputs: `pad` ints, then u32s, i8s, recs (refs), an index, a value
        let mut kinds = vec![Kind::Int; pad];
        kinds.extend([Kind::Ref, Kind::Ref, Kind::Ref, Kind::Int, Kind::Int]);
        let inp = |k: usize| Val::Input((pad + k) as u16);
        let (u32s, i8s, recs, idx, v) = (inp(0), inp(1), inp(2), inp(3), inp(4));
        let mut tb = TB::new(&kinds);
        let mut out = Vec::new();
        // [u32]: [base + idx*4], [base], [base+4], [base+160]
        out.push(tb.int(Opcode::GetItem(ArrayId(A_SLICE_U32)), vec![u32s, idx]));
        for k in [0i64, 1, 31, 32, 40, 63] {
            out.push(tb.int(
                Opcode::GetItem(ArrayId(A_SLICE_U32)),
                vec![u32s, Val::Int(k)],
            ));
        }
        tb.effect(
            Opcode::SetItem(ArrayId(A_SLICE_U32)),
            vec![u32s, Val::Int(0), v],
        );
        tb.effect(
            Opcode::SetItem(ArrayId(A_SLICE_U32)),
            vec![u32s, Val::Int(50), v],
        );
        tb.effect(
            Opcode::SetItem(ArrayId(A_SLICE_U32)),
            vec![u32s, Val::Int(33), Val::Int(0xdead_beef)],
        );
        let i1 = tb.int_bin(IntBinOp::Add, Usize, idx, Val::Int(1));
        tb.effect(Opcode::SetItem(ArrayId(A_SLICE_U32)), vec![u32s, i1, v]);
        // [i8]: disp 0, 127, 128, 255
        for k in [0i64, 127, 128, 255] {
            out.push(tb.int(Opcode::GetItem(ArrayId(A_SLICE_I8)), vec![i8s, Val::Int(k)]));
        }
        out.push(tb.int(Opcode::GetItem(ArrayId(A_SLICE_I8)), vec![i8s, idx]));
        tb.effect(
            Opcode::SetItem(ArrayId(A_SLICE_I8)),
            vec![i8s, Val::Int(127), v],
        );
        tb.effect(
            Opcode::SetItem(ArrayId(A_SLICE_I8)),
            vec![i8s, Val::Int(200), Val::Int(-3)],
        );
        tb.effect(Opcode::SetItem(ArrayId(A_SLICE_I8)), vec![i8s, idx, v]);
        // a field at offset 0 (through fieldaddr: a copy of the base, and
        // directly), fields further in, of the item at 2 (displacement
        // beyond 8 bits)
        let a0 = tb.r#ref(Opcode::FieldAddr(FieldId(F_I8)), vec![recs]);
        out.push(tb.int(Opcode::Load(ScalarTy::Int(I8)), vec![a0]));
        out.push(tb.int(Opcode::GetField(FieldId(F_I8)), vec![recs]));
        out.push(tb.int(Opcode::GetField(FieldId(F_U64)), vec![recs]));
        out.push(tb.float(Opcode::GetField(FieldId(F_F64)), vec![recs]));
        let r2 = tb.r#ref(
            Opcode::ItemAddr(ArrayId(A_SLICE_REC)),
            vec![recs, Val::Int(2)],
        );
        out.push(tb.int(Opcode::GetField(FieldId(F_I64)), vec![r2]));
        out.push(tb.float(Opcode::GetField(FieldId(F_F64)), vec![r2]));
        let inner = tb.r#ref(Opcode::FieldAddr(FieldId(F_INNER)), vec![r2]);
        out.push(tb.int(Opcode::GetField(FieldId(F_INNER_X)), vec![inner]));
        tb.effect(Opcode::SetField(FieldId(F_I32)), vec![r2, v]);
        tb.effect(
            Opcode::SetField(FieldId(F_U16)),
            vec![recs, Val::Int(0xfff0)],
        );
        tb.effect(Opcode::Store(ScalarTy::Int(I8)), vec![a0, v]);
        // addresses only (not accessed): index -1, a huge index
        for k in [-1i64, 1 << 40, -(1 << 40)] {
            let a = tb.r#ref(
                Opcode::ItemAddr(ArrayId(A_SLICE_U32)),
                vec![u32s, Val::Int(k)],
            );
            let ai = tb.int(Opcode::Cast(ScalarTy::Ref, ScalarTy::Int(Usize)), vec![a]);
            let bi = tb.int(
                Opcode::Cast(ScalarTy::Ref, ScalarTy::Int(Usize)),
                vec![u32s],
            );
            out.push(tb.int_bin(IntBinOp::Sub, I64, ai, bi));
        }
        out.extend((0..pad).map(|k| Val::Input(k as u16)));
        tb.exit(out);
        let trace = tb.finish_straight();
        let id = backend::compile_loop(trace.clone(), tables())
            .unwrap_or_else(|e| panic!("{e}\n{}", describe(&trace)));
        for _ in 0..20 {
            let data = Data::sample(&mut rng);
            let pads: Vec<u64> = (0..pad).map(|_| rng.next()).collect();
            let i = rng.below(60);
            let val = rng.int() as u64;
            check_on_data(
                &trace,
                id,
                &data,
                |d: &mut Data| {
                    let mut inputs = pads.clone();
                    inputs.extend([
                        d.u32s.as_mut_ptr() as u64,
                        d.i8s.as_mut_ptr() as u64,
                        d.recs.as_mut_ptr() as u64,
                        i,
                        val,
                    ]);
                    inputs
                },
                Data::same,
            );
        }
    }
}

/// Results that are only stored, narrowly, skip the re-canonicalisation;
/// stored wider than their type, or also used otherwise, they do not.
#[test]
fn narrow_results_that_are_only_stored() {
    let mut rng = Rng::new(45);
    for ty in [U8, I8, U16, I16, U32, I32] {
        let st = ScalarTy::Int(ty);
        let wider = match ty.bits() {
            8 => ScalarTy::Int(U16),
            16 => ScalarTy::Int(I32),
            _ => ScalarTy::Int(U64),
        };
        // inputs: 8 addresses into `bytes`, x, y
        let mut kinds = vec![Kind::Ref; 8];
        kinds.extend([Kind::Int, Kind::Int]);
        let mut tb = TB::new(&kinds);
        let p = |k: usize| Val::Input(k as u16);
        let (x, y) = (Val::Input(8), Val::Input(9));
        let s = tb.int_bin(IntBinOp::Add, ty, x, y);
        tb.effect(Opcode::Store(st), vec![p(0), s]);
        let m = tb.int_bin(IntBinOp::Mul, ty, x, Val::Int(255));
        tb.effect(Opcode::Store(st), vec![p(1), m]);
        tb.effect(Opcode::Store(st), vec![p(2), m]);
        let n = tb.int(Opcode::IntNeg(ty), vec![y]);
        tb.effect(Opcode::Store(st), vec![p(3), n]);
        // stored wider: must be canonical
        let w = tb.int_bin(IntBinOp::Sub, ty, x, Val::Int(-3));
        tb.effect(Opcode::Store(wider), vec![p(4), w]);
        // stored and used: canonical
        let u = tb.int(Opcode::IntNot(ty), vec![x]);
        tb.effect(Opcode::Store(st), vec![p(5), u]);
        let c = tb.int_cmp(CmpOp::Lt, ty, u, Val::Int(3));
        // stored and exits
        let e = tb.int_bin(IntBinOp::Add, ty, y, Val::Int(1));
        tb.effect(Opcode::Store(st), vec![p(6), e]);
        tb.exit(vec![c, e, u]);
        let trace = tb.finish_straight();
        let id = backend::compile_loop(trace.clone(), tables()).unwrap();
        for _ in 0..100 {
            let data = Data::sample(&mut rng);
            let (xv, yv) = (rng.canon(ty) as u64, rng.canon(ty) as u64);
            check_on_data(
                &trace,
                id,
                &data,
                |d: &mut Data| {
                    let mut v: Vec<u64> = (0..8)
                        .map(|k| d.bytes.as_mut_ptr() as u64 + 8 * k as u64)
                        .collect();
                    v.extend([xv, yv]);
                    v
                },
                Data::same,
            );
        }
    }
}

/// Operations that are copies of their operand: `fieldaddr` at offset 0
/// and widening casts, used next to the operand, in fail arguments, and
/// passed to the jump in place of the operand.
#[test]
fn copies_of_operands() {
    let rec: &'static Rec = Box::leak(Box::new(Rec::sample(&mut Rng::new(46))));
    let p = rec as *const Rec as u64;
    // straight: [p, x (u8), y (i8)]
    let mut tb = TB::new(&[Kind::Ref, Kind::Int, Kind::Int]);
    let (rp, x, y) = (Val::Input(0), Val::Input(1), Val::Input(2));
    let a = tb.r#ref(Opcode::FieldAddr(FieldId(F_I8)), vec![rp]);
    let l = tb.int(Opcode::Load(ScalarTy::Int(I8)), vec![a]);
    let g = tb.int(Opcode::GetField(FieldId(F_I8)), vec![rp]);
    let w1 = tb.int(Opcode::Cast(ScalarTy::Int(U8), ScalarTy::Int(U32)), vec![x]);
    let w2 = tb.int(Opcode::Cast(ScalarTy::Int(U8), ScalarTy::Int(I16)), vec![x]);
    let w3 = tb.int(Opcode::Cast(ScalarTy::Int(I8), ScalarTy::Int(I64)), vec![y]);
    let n1 = tb.int(Opcode::Cast(ScalarTy::Int(I8), ScalarTy::Int(U8)), vec![y]);
    let s = tb.int_bin(IntBinOp::Add, U32, w1, x);
    let s2 = tb.int_bin(IntBinOp::Sub, I64, w3, y);
    let pi = tb.int(Opcode::Cast(ScalarTy::Ref, ScalarTy::Int(Usize)), vec![a]);
    let ai = tb.int(Opcode::Cast(ScalarTy::Ref, ScalarTy::Int(Usize)), vec![rp]);
    let z = tb.int_bin(IntBinOp::Sub, I64, pi, ai);
    let c = tb.int_cmp(CmpOp::Eq, I64, pi, ai);
    tb.guard(Opcode::GuardTrue, vec![c], vec![a, rp, x]);
    tb.exit(vec![l, g, w1, w2, w3, n1, s, s2, z, a, rp, pi]);
    let mut rng = Rng::new(47);
    let sets: Vec<Vec<u64>> = (0..50)
        .map(|_| vec![p, rng.canon(U8) as u64, rng.canon(I8) as u64])
        .collect();
    check(tb.finish_straight(), &sets);

    // loop: [p, n]: the copy of p goes round as p
    let mut tb = TB::new(&[Kind::Ref, Kind::Int]);
    let (rp, n) = (Val::Input(0), Val::Input(1));
    let a = tb.r#ref(Opcode::FieldAddr(FieldId(F_I8)), vec![rp]);
    let n1 = tb.int_bin(IntBinOp::Sub, I64, n, Val::Int(1));
    let v = tb.int(Opcode::GetField(FieldId(F_I64)), vec![a]);
    let c = tb.int_cmp(CmpOp::Gt, I64, n1, Val::Int(0));
    tb.guard(Opcode::GuardTrue, vec![c], vec![a, n1, v, rp]);
    let trace = tb.finish_loop(vec![a, n1]);
    check(trace, &[vec![p, 1], vec![p, 2], vec![p, 1000]]);
}

/// The guard right before the loop's jump branches back to the header
/// itself when the jump moves nothing: fused int comparisons, a plain
/// boolean, `guard_value`; and the forms that keep the jump (a float
/// comparison, values that move at the jump).
#[test]
fn the_last_guard_branches_back() {
    let mut sets = vec![
        vec![1, 0, 3],
        vec![2, 5, 3],
        vec![1000, 7, 3],
        vec![3, 1, 4],
    ];
    let mut rng = Rng::new(48);
    for _ in 0..10 {
        sets.push(vec![1 + rng.below(300), rng.int() as u64, 3]);
    }
    for form in 0..6 {
        // [n, acc, k]
        let mut tb = TB::new(&[Kind::Int, Kind::Int, Kind::Int]);
        let (n, acc, k) = (Val::Input(0), Val::Input(1), Val::Input(2));
        let n1 = tb.int_bin(IntBinOp::Sub, I64, n, Val::Int(1));
        let acc1 = tb.int_bin(IntBinOp::Add, I64, acc, n1);
        let args = match form {
            // fused `0 < n1`, constant on the left
            0 => {
                let c = tb.int_cmp(CmpOp::Lt, I64, Val::Int(0), n1);
                tb.guard(Opcode::GuardTrue, vec![c], vec![n1, acc1]);
                vec![n1, acc1, k]
            }
            // fused, guard_false(n1 == 0)
            1 => {
                let c = tb.int_cmp(CmpOp::Eq, I64, n1, Val::Int(0));
                tb.guard(Opcode::GuardFalse, vec![c], vec![n1, acc1]);
                vec![n1, acc1, k]
            }
            // a boolean the guard tests (also a fail argument: not fused)
            2 => {
                let c = tb.int_cmp(CmpOp::Ne, I64, n1, Val::Int(0));
                tb.guard(Opcode::GuardTrue, vec![c], vec![n1, acc1, c]);
                vec![n1, acc1, k]
            }
            // guard_value on a loop invariant, a counter guard before it
            3 => {
                let c = tb.int_cmp(CmpOp::Gt, I64, n1, Val::Int(0));
                tb.guard(Opcode::GuardTrue, vec![c], vec![n1, acc1]);
                tb.guard(Opcode::GuardValue, vec![k, Val::Int(3)], vec![k, acc1]);
                vec![n1, acc1, k]
            }
            // values that move at the jump (acc and k swap)
            4 => {
                let c = tb.int_cmp(CmpOp::Gt, I64, n1, Val::Int(0));
                tb.guard(Opcode::GuardTrue, vec![c], vec![n1, acc1, k]);
                vec![n1, k, acc1]
            }
            // a float comparison (two branches)
            _ => {
                let f = tb.float(Opcode::Cast(ScalarTy::Int(I64), ScalarTy::F64), vec![n1]);
                let c = tb.int(
                    Opcode::FloatCmp(CmpOp::Gt),
                    vec![f, Val::Float(0.5f64.to_bits())],
                );
                tb.guard(Opcode::GuardTrue, vec![c], vec![n1, acc1]);
                vec![n1, acc1, k]
            }
        };
        check(tb.finish_loop(args), &sets);
    }
}

/// Inputs `first` then `pad` more (every third a float, the others
/// ints): the kinds, a builder on them and the padding inputs.
fn padded(first: [Kind; 3], pad: usize) -> (Vec<Kind>, TB, Vec<Val>) {
    let mut kinds = first.to_vec();
    kinds.extend((0..pad).map(|k| if k % 3 == 2 { Kind::Float } else { Kind::Int }));
    let tb = TB::new(&kinds);
    let pads = (0..pad).map(|k| Val::Input(3 + k as u16)).collect();
    (kinds, tb, pads)
}

/// Bridges start with their inputs where the guard has them: registers
/// (ints, floats), spill slots, constants, a value passed twice, a copy
/// next to its operand; they jump into loops whose header keeps inputs in
/// registers and in slots; a bridge of a bridge; a loop whose jump_to
/// (a preamble's) goes into another loop.
#[test]
fn bridges_enter_with_the_guards_registers() {
    let rec: &'static Rec = Box::leak(Box::new(Rec::sample(&mut Rng::new(49))));
    let p = rec as *const Rec as u64;
    for pad in [0usize, 6, 14] {
        // loop A: [n, r, f, pads...]
        let (kinds, mut tb, pads) = padded([Kind::Int, Kind::Ref, Kind::Float], pad);
        let (n, r, f) = (Val::Input(0), Val::Input(1), Val::Input(2));
        let n1 = tb.int_bin(IntBinOp::Sub, I64, n, Val::Int(1));
        let a = tb.r#ref(Opcode::FieldAddr(FieldId(F_I8)), vec![r]);
        let c = tb.int_cmp(CmpOp::Gt, I64, n1, Val::Int(0));
        // fail args: n1 twice, r and its copy, constants, a float, the pads
        let mut fa = vec![n1, r, a, f, Val::Int(5), n1, Val::Float(2.5f64.to_bits())];
        fa.extend(pads.iter().rev().copied());
        tb.guard(Opcode::GuardTrue, vec![c], fa.clone());
        let odd = tb.int_bin(IntBinOp::And, I64, n1, Val::Int(1));
        tb.guard(Opcode::GuardFalse, vec![odd], vec![n1, r, f]);
        let f1 = tb.float(
            Opcode::FloatBin(FloatBinOp::Add),
            vec![f, Val::Float(1.0f64.to_bits())],
        );
        let mut jargs = vec![n1, r, f1];
        jargs.extend(pads.iter().copied());
        let loop_a = tb.finish_loop(jargs);
        let la = backend::compile_loop(loop_a.clone(), tables()).unwrap();

        // loop B: [x, y, r, pads...]: counts x down, y += x
        let (_, mut tb, bpads) = padded([Kind::Int, Kind::Float, Kind::Ref], pad);
        let (x, y, rb) = (Val::Input(0), Val::Input(1), Val::Input(2));
        let x1 = tb.int_bin(IntBinOp::Sub, I64, x, Val::Int(1));
        let xf = tb.float(Opcode::Cast(ScalarTy::Int(I64), ScalarTy::F64), vec![x1]);
        let y1 = tb.float(Opcode::FloatBin(FloatBinOp::Add), vec![y, xf]);
        let v = tb.int(Opcode::GetField(FieldId(F_I32)), vec![rb]);
        let gz = tb.int_cmp(CmpOp::Gt, I64, x1, Val::Int(0));
        let mut bfa = vec![x1, y1, v];
        bfa.extend(bpads.iter().copied());
        tb.guard(Opcode::GuardTrue, vec![gz], bfa);
        let mut bj = vec![x1, y1, rb];
        // the pads rotate, ints among ints, floats among floats
        let ints: Vec<usize> = (0..pad).filter(|k| k % 3 != 2).collect();
        let floats: Vec<usize> = (0..pad).filter(|k| k % 3 == 2).collect();
        for k in 0..pad {
            let same = if k % 3 == 2 { &floats } else { &ints };
            let at = same.iter().position(|&j| j == k).expect("listed");
            bj.push(bpads[same[(at + 1) % same.len()]]);
        }
        let loop_b = tb.finish_loop(bj);
        let lb = backend::compile_loop(loop_b.clone(), tables()).unwrap();

        // bridge 1 on A#1 (odd n1): [n1, r, f] -> back into A with n1 - 1
        let mut tb = TB::new(&[Kind::Int, Kind::Ref, Kind::Float]);
        let m = tb.int_bin(IntBinOp::Sub, I64, Val::Input(0), Val::Int(1));
        let big = tb.int_cmp(CmpOp::Lt, I64, m, Val::Int(500));
        tb.guard(Opcode::GuardTrue, vec![big], vec![m, Val::Input(2)]);
        let mut j = vec![m, Val::Input(1), Val::Input(2)];
        // the pads are lost on this path: constants instead
        j.extend((0..pad).map(|k| {
            if k % 3 == 2 {
                Val::Float((k as f64).to_bits())
            } else {
                Val::Int(k as i64 * 1000)
            }
        }));
        let bridge1 = tb.finish_bridge(la, 1, la, j);
        let b1 = backend::compile_bridge(bridge1.clone(), tables()).unwrap();

        // bridge 2 on A#0 (the loop ends): every input used, into loop B
        let bk: Vec<Kind> = fa
            .iter()
            .map(|v| match v {
                Val::Input(i) => kinds[*i as usize],
                Val::Op(_) if *v == a => Kind::Ref,
                Val::Op(_) => Kind::Int,
                Val::Int(_) => Kind::Int,
                Val::Float(_) => Kind::Float,
                Val::Ref(_) | Val::Virtual(_) => Kind::Ref,
            })
            .collect();
        let mut tb = TB::new(&bk);
        let bi = |k: usize| Val::Input(k as u16);
        let mut s = tb.int_bin(IntBinOp::Add, I64, bi(0), bi(4));
        s = tb.int_bin(IntBinOp::Add, I64, s, bi(5));
        let mut fs = tb.float(Opcode::FloatBin(FloatBinOp::Mul), vec![bi(3), bi(6)]);
        for k in 7..bk.len() {
            if bk[k] == Kind::Int {
                s = tb.int_bin(IntBinOp::Xor, I64, s, bi(k));
            } else {
                fs = tb.float(Opcode::FloatBin(FloatBinOp::Add), vec![fs, bi(k)]);
            }
        }
        let g1 = tb.int(Opcode::GetField(FieldId(F_I8)), vec![bi(2)]);
        let pa = tb.int(
            Opcode::Cast(ScalarTy::Ref, ScalarTy::Int(Usize)),
            vec![bi(1)],
        );
        let pb = tb.int(
            Opcode::Cast(ScalarTy::Ref, ScalarTy::Int(Usize)),
            vec![bi(2)],
        );
        let same = tb.int_cmp(CmpOp::Eq, I64, pa, pb);
        tb.guard(Opcode::GuardTrue, vec![same], vec![s, g1]);
        let cnt = tb.int_bin(IntBinOp::And, I64, s, Val::Int(15));
        let cnt = tb.int_bin(IntBinOp::Add, I64, cnt, Val::Int(1));
        let mut j = vec![cnt, fs, bi(2)];
        for k in 0..pad {
            // B's pads in A's order: fail args hold them reversed from 7
            j.push(bi(7 + pad - 1 - k));
        }
        let bridge2 = tb.finish_bridge(la, 0, lb, j);
        let b2 = backend::compile_bridge(bridge2.clone(), tables()).unwrap();

        // bridge 3 on bridge 1's guard: [m, f] -> loop B
        let mut tb = TB::new(&[Kind::Int, Kind::Float]);
        let x = tb.int_bin(IntBinOp::And, I64, Val::Input(0), Val::Int(7));
        let x = tb.int_bin(IntBinOp::Add, I64, x, Val::Int(2));
        let mut j = vec![x, Val::Input(1), Val::Ref(p as usize)];
        j.extend((0..pad).map(|k| if k % 3 == 2 { Val::Input(1) } else { x }));
        let bridge3 = tb.finish_bridge(b1, 0, lb, j);
        let b3 = backend::compile_bridge(bridge3.clone(), tables()).unwrap();

        let loops: HashMap<_, _> = [(la, loop_a), (lb, loop_b)].into_iter().collect();
        let mut bridges = HashMap::new();
        bridges.insert((la, 1), (b1, bridge1));
        bridges.insert((la, 0), (b2, bridge2));
        bridges.insert((b1, 0), (b3, bridge3));
        let mut rng = Rng::new(50 + pad as u64);
        for round in 0..30 {
            let mut v = vec![
                match round {
                    0 => 1,
                    1 => 2,
                    2 => 600,
                    _ => 1 + rng.below(800),
                },
                p,
                rng.float().to_bits(),
            ];
            for k in 0..pad {
                v.push(if k % 3 == 2 {
                    rng.float().to_bits()
                } else {
                    rng.int() as u64
                });
            }
            let want = model(&loops, &bridges, la, &v);
            let got = backend::execute(la, &v);
            assert_eq!(
                (got.trace, got.guard, got.values.clone()),
                want,
                "pad {pad} inputs {v:x?}\n{}\n{}\n{}",
                backend::disassemble(la),
                backend::disassemble(b2),
                backend::disassemble(lb),
            );
        }
    }
}

/// A loop that is not entered by `execute` directly: a straight trace
/// compiled as a loop (a preamble) ends in `jump_to` another loop, whose
/// header takes the values in its registers.
#[test]
fn a_preamble_jumps_into_its_loop() {
    // the loop: [i, acc, step]
    let mut tb = TB::new(&[Kind::Int, Kind::Int, Kind::Int]);
    let (i, acc, step) = (Val::Input(0), Val::Input(1), Val::Input(2));
    let i1 = tb.int_bin(IntBinOp::Sub, I64, i, Val::Int(1));
    let a1 = tb.int_bin(IntBinOp::Add, I64, acc, step);
    let c = tb.int_cmp(CmpOp::Gt, I64, i1, Val::Int(0));
    tb.guard(Opcode::GuardTrue, vec![c], vec![i1, a1, step]);
    let body = tb.finish_loop(vec![i1, a1, step]);
    let lb = backend::compile_loop(body.clone(), tables()).unwrap();
    // the preamble: [step, i] (another order), passes them on permuted
    let mut tb = TB::new(&[Kind::Int, Kind::Int]);
    let s2 = tb.int_bin(IntBinOp::Mul, I64, Val::Input(0), Val::Int(3));
    let c = tb.int_cmp(CmpOp::Ge, I64, Val::Input(1), Val::Int(1));
    tb.guard(Opcode::GuardTrue, vec![c], vec![Val::Input(1)]);
    tb.ops.push(TraceOp {
        opcode: Opcode::JumpTo(lb),
        args: vec![Val::Input(1), Val::Int(7), s2],
        result: None,
        guard: None,
    });
    let pre = Trace {
        start: TraceStart::Loop {
            driver: 0,
            greens: vec![],
        },
        inputs: tb.inputs,
        ops: tb.ops,
        guards: tb.guards,
    };
    let lp = backend::compile_loop(pre.clone(), tables()).unwrap();
    for (step, n) in [(1u64, 1u64), (2, 5), (7, 1000), (-3i64 as u64, 0)] {
        let e = backend::execute(lp, &[step, n]);
        let pe = interp::run(&pre, tables(), &[step, n]);
        if pe.is_jump_to() {
            let want = interp::run(&body, tables(), &pe.values);
            assert_eq!((e.trace, e.guard, e.values), (lb, want.guard, want.values));
        } else {
            assert_eq!((e.trace, e.guard, e.values), (lp, pe.guard, pe.values));
        }
    }
}
