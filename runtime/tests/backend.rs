//! The backend on whole traces: memory operations on real `#[repr(C)]`
//! data, Vec/String/enum operations through real shims, residual and pure
//! calls with live values across them, guards failing at every position,
//! loops running many iterations with loop-carried values that permute,
//! register pressure, bridges, panics, W^X, the registry and counters.
//! Compiled code must exit exactly like `trace::interp::run`.

#![allow(clippy::needless_range_loop)]

use metatrace_runtime::backend::{self, frame};
use metatrace_runtime::jitcode::*;
use metatrace_runtime::trace::interp;
use metatrace_runtime::trace::*;
use metatrace_testkit::backend::*;
use std::collections::HashMap;

use IntTy::*;

fn addr<T>(x: &T) -> u64 {
    x as *const T as usize as u64
}

// ---------------------------------------------------------------------------
// Memory.

#[test]
fn fields_of_every_type() {
    let mut rng = Rng::new(1);
    for round in 0..3 {
        // inputs: rec, then one new value per scalar field
        let fields = rec_fields();
        let mut kinds = vec![Kind::Ref];
        kinds.extend(fields.iter().map(|(_, t)| t.kind()));
        let mut tb = TB::new(&kinds);
        let rec = Val::Input(0);
        let mut olds = Vec::new();
        for (k, (d, ty)) in fields.iter().enumerate() {
            let old = tb.op(Opcode::GetField(FieldId(*d)), vec![rec], Some(ty.kind()));
            olds.push(old);
            // round 1: store constants; others: the inputs
            let v = if round == 1 {
                Val::constant(ty.kind(), scalar_value(&mut rng, *ty))
            } else {
                Val::Input(k as u16 + 1)
            };
            tb.effect(Opcode::SetField(FieldId(*d)), vec![rec, v]);
        }
        // nested: FieldAddr, then fields of the inner struct, Load/Store
        let inner = tb.r#ref(Opcode::FieldAddr(FieldId(F_INNER)), vec![rec]);
        let x = tb.int(Opcode::GetField(FieldId(F_INNER_X)), vec![inner]);
        let x1 = tb.int_bin(IntBinOp::Add, I64, x, Val::Int(1));
        tb.effect(Opcode::SetField(FieldId(F_INNER_X)), vec![inner, x1]);
        let ya = tb.r#ref(Opcode::FieldAddr(FieldId(F_INNER_Y)), vec![inner]);
        let y = tb.float(Opcode::Load(ScalarTy::F64), vec![ya]);
        let y2 = tb.float(
            Opcode::FloatBin(FloatBinOp::Mul),
            vec![y, Val::Float(3.0f64.to_bits())],
        );
        tb.effect(Opcode::Store(ScalarTy::F64), vec![ya, y2]);
        // FieldAddr as an offset from the base
        let ri = tb.int(Opcode::Cast(ScalarTy::Ref, ScalarTy::Int(Usize)), vec![rec]);
        let yi = tb.int(Opcode::Cast(ScalarTy::Ref, ScalarTy::Int(Usize)), vec![ya]);
        let off = tb.int_bin(IntBinOp::Sub, Usize, yi, ri);
        let mut fa = olds.clone();
        fa.extend([x, y, off]);
        tb.exit(fa);
        let trace = tb.finish_straight();
        let id = backend::compile_loop(trace.clone(), tables()).expect("compiles");
        for _ in 0..40 {
            let rec = Rec::sample(&mut rng);
            let news = scalar_values(&mut rng, &fields);
            check_on_data(
                &trace,
                id,
                &Box::new(rec),
                |r: &mut Box<Rec>| {
                    let mut v = vec![addr(&**r)];
                    v.extend_from_slice(&news);
                    v
                },
                |a, b| same_rec(a, b),
            );
        }
    }
}

fn scalar_value(r: &mut Rng, t: ScalarTy) -> u64 {
    match t {
        ScalarTy::Int(t) => r.canon(t) as u64,
        ScalarTy::Bool => r.below(2),
        ScalarTy::Char => char::from_u32(r.below(0x110000) as u32).unwrap_or('?') as u64,
        ScalarTy::F64 => r.float().to_bits(),
        ScalarTy::Ref => r.next(),
    }
}

/// One value per `(descr, type)` entry.
fn scalar_values(r: &mut Rng, tys: &[(u16, ScalarTy)]) -> Vec<u64> {
    tys.iter().map(|(_, t)| scalar_value(r, *t)).collect()
}

#[derive(Clone, Debug, PartialEq)]
struct Arrays {
    u16s: Vec<u16>,
    i8s: Vec<i8>,
    u32s: Vec<u32>,
    i32s: Vec<i32>,
    bools: Vec<bool>,
    triples: Vec<[u8; 3]>,
    recs: Vec<Rec>,
}

type ArrayScalars<'a> = (
    &'a [u16],
    &'a [i8],
    &'a [u32],
    &'a [i32],
    &'a [bool],
    &'a [[u8; 3]],
);

impl Arrays {
    /// Everything but `recs` (whose floats compare by bits).
    fn scalars(&self) -> ArrayScalars<'_> {
        (
            &self.u16s,
            &self.i8s,
            &self.u32s,
            &self.i32s,
            &self.bools,
            &self.triples,
        )
    }
}

#[test]
fn array_items_of_every_width() {
    let mut rng = Rng::new(2);
    let cases: [(u16, ScalarTy); 5] = [
        (A_SLICE_U16, ScalarTy::Int(U16)),
        (A_SLICE_I8, ScalarTy::Int(I8)),
        (A_SLICE_U32, ScalarTy::Int(U32)),
        (A_SLICE_I32, ScalarTy::Int(I32)),
        (A_SLICE_BOOL, ScalarTy::Bool),
    ];
    // inputs: 5 data pointers, index i, value v (per array), triples ptr, recs ptr
    let mut kinds = vec![Kind::Ref; 5];
    kinds.push(Kind::Int);
    kinds.extend(vec![Kind::Int; 5]);
    kinds.extend([Kind::Ref, Kind::Ref]);
    let mut tb = TB::new(&kinds);
    let idx = Val::Input(5);
    let mut out = Vec::new();
    for (k, (d, _ty)) in cases.iter().enumerate() {
        let p = Val::Input(k as u16);
        out.push(tb.int(Opcode::GetItem(ArrayId(*d)), vec![p, idx]));
        out.push(tb.int(Opcode::GetItem(ArrayId(*d)), vec![p, Val::Int(3)]));
        tb.effect(
            Opcode::SetItem(ArrayId(*d)),
            vec![p, Val::Int(1), Val::Input(6 + k as u16)],
        );
        let i2 = tb.int_bin(IntBinOp::Add, Usize, idx, Val::Int(2));
        tb.effect(
            Opcode::SetItem(ArrayId(*d)),
            vec![p, i2, Val::Input(6 + k as u16)],
        );
        let a = tb.r#ref(Opcode::ItemAddr(ArrayId(*d)), vec![p, idx]);
        out.push(tb.int(Opcode::Load(cases[k].1), vec![a]));
    }
    // const stores of each width
    tb.effect(
        Opcode::SetItem(ArrayId(A_SLICE_U16)),
        vec![Val::Input(0), Val::Int(0), Val::Int(0xbeef)],
    );
    tb.effect(
        Opcode::SetItem(ArrayId(A_SLICE_I8)),
        vec![Val::Input(1), Val::Int(0), Val::Int(-7)],
    );
    tb.effect(
        Opcode::SetItem(ArrayId(A_SLICE_U32)),
        vec![Val::Input(2), Val::Int(0), Val::Int(0xdead_beef)],
    );
    // items of 3 bytes and of size_of::<Rec>() (not powers of two)
    let t = tb.r#ref(
        Opcode::ItemAddr(ArrayId(A_SLICE_3)),
        vec![Val::Input(11), idx],
    );
    out.push(tb.int(Opcode::Load(ScalarTy::Int(U8)), vec![t]));
    let t2 = tb.r#ref(
        Opcode::ItemAddr(ArrayId(A_SLICE_3)),
        vec![Val::Input(11), Val::Int(4)],
    );
    tb.effect(Opcode::Store(ScalarTy::Int(U8)), vec![t2, Val::Int(200)]);
    let r = tb.r#ref(
        Opcode::ItemAddr(ArrayId(A_SLICE_REC)),
        vec![Val::Input(12), idx],
    );
    out.push(tb.int(Opcode::GetField(FieldId(F_I32)), vec![r]));
    let rf = tb.float(Opcode::GetField(FieldId(F_F64)), vec![r]);
    out.push(rf);
    tb.effect(Opcode::SetField(FieldId(F_U16)), vec![r, Val::Input(6)]);
    tb.exit(out);
    let trace = tb.finish_straight();
    let id = backend::compile_loop(trace.clone(), tables()).expect("compiles");
    for _ in 0..60 {
        let n = 8;
        let data = Arrays {
            u16s: (0..n).map(|_| rng.next() as u16).collect(),
            i8s: (0..n).map(|_| rng.next() as i8).collect(),
            u32s: (0..n).map(|_| rng.next() as u32).collect(),
            i32s: (0..n).map(|_| rng.next() as i32).collect(),
            bools: (0..n).map(|_| rng.chance(50)).collect(),
            triples: (0..n)
                .map(|_| [rng.next() as u8, rng.next() as u8, rng.next() as u8])
                .collect(),
            recs: (0..n).map(|_| Rec::sample(&mut rng)).collect(),
        };
        let i = rng.below(5);
        let vals = scalar_values(&mut rng, &cases);
        check_on_data(
            &trace,
            id,
            &data,
            |d: &mut Arrays| {
                let mut v = vec![
                    d.u16s.as_mut_ptr() as u64,
                    d.i8s.as_mut_ptr() as u64,
                    d.u32s.as_mut_ptr() as u64,
                    d.i32s.as_mut_ptr() as u64,
                    d.bools.as_mut_ptr() as u64,
                    i,
                ];
                v.extend_from_slice(&vals);
                v.push(d.triples.as_mut_ptr() as u64);
                v.push(d.recs.as_mut_ptr() as u64);
                v
            },
            |a, b| {
                a.scalars() == b.scalars()
                    && a.recs.iter().zip(&b.recs).all(|(x, y)| same_rec(x, y))
            },
        );
    }
}

#[derive(Clone, Debug)]
struct Vecs {
    bytes: Vec<u8>,
    ints: Vec<i64>,
    floats: Vec<f64>,
    refs: Vec<usize>,
    ring: Box<Ring>,
    s: String,
}

#[test]
fn vec_string_and_enum_operations() {
    let mut rng = Rng::new(3);
    // inputs: &Vec<u8>, &Vec<i64>, &Vec<f64>, &Vec<usize>, &Ring, &String, i, x (int), f (float)
    let kinds = [
        Kind::Ref,
        Kind::Ref,
        Kind::Ref,
        Kind::Ref,
        Kind::Ref,
        Kind::Ref,
        Kind::Int,
        Kind::Int,
        Kind::Float,
    ];
    let mut tb = TB::new(&kinds);
    let (vb, vi, vf, vr, ring, s) = (
        Val::Input(0),
        Val::Input(1),
        Val::Input(2),
        Val::Input(3),
        Val::Input(4),
        Val::Input(5),
    );
    let (i, x, f) = (Val::Input(6), Val::Input(7), Val::Input(8));
    let mut out = Vec::new();
    for (v, d) in [
        (vb, A_VU8),
        (vi, A_VI64),
        (vf, A_VF64),
        (vr, A_VREF),
        (ring, A_RING),
    ] {
        out.push(tb.int(Opcode::VecLen(ArrayId(d)), vec![v]));
    }
    // read item i of each through VecPtr
    let pb = tb.r#ref(Opcode::VecPtr(ArrayId(A_VU8)), vec![vb]);
    out.push(tb.int(Opcode::GetItem(ArrayId(A_VU8)), vec![pb, i]));
    let pi = tb.r#ref(Opcode::VecPtr(ArrayId(A_VI64)), vec![vi]);
    out.push(tb.int(Opcode::GetItem(ArrayId(A_VI64)), vec![pi, i]));
    let pf = tb.r#ref(Opcode::VecPtr(ArrayId(A_VF64)), vec![vf]);
    let fi = tb.float(Opcode::GetItem(ArrayId(A_VF64)), vec![pf, i]);
    out.push(fi);
    let pr = tb.r#ref(Opcode::VecPtr(ArrayId(A_RING)), vec![ring]);
    out.push(tb.int(Opcode::GetItem(ArrayId(A_RING)), vec![pr, Val::Int(0)]));
    // push, pop, push again (reallocation), read length
    tb.effect(Opcode::VecPush(ArrayId(A_VU8)), vec![vb, x]);
    tb.effect(Opcode::VecPush(ArrayId(A_VI64)), vec![vi, x]);
    tb.effect(Opcode::VecPush(ArrayId(A_VF64)), vec![vf, f]);
    tb.effect(Opcode::VecPush(ArrayId(A_VREF)), vec![vr, Val::Ref(0x1234)]);
    tb.effect(Opcode::VecPush(ArrayId(A_RING)), vec![ring, x]);
    let popped_f = tb.float(Opcode::VecPopNonEmpty(ArrayId(A_VF64)), vec![vf]);
    out.push(popped_f);
    let popped_b = tb.int(Opcode::VecPopNonEmpty(ArrayId(A_VU8)), vec![vb]);
    out.push(popped_b);
    let popped_r = tb.r#ref(Opcode::VecPopNonEmpty(ArrayId(A_VREF)), vec![vr]);
    out.push(popped_r);
    out.push(tb.int(Opcode::VecPopNonEmpty(ArrayId(A_RING)), vec![ring]));
    for k in 0..20 {
        tb.effect(Opcode::VecPush(ArrayId(A_VI64)), vec![vi, Val::Int(k)]);
    }
    out.push(tb.int(Opcode::VecLen(ArrayId(A_VI64)), vec![vi]));
    let pi2 = tb.r#ref(Opcode::VecPtr(ArrayId(A_VI64)), vec![vi]);
    out.push(tb.int(Opcode::GetItem(ArrayId(A_VI64)), vec![pi2, Val::Int(10)]));
    // string
    out.push(tb.int(Opcode::StringLen, vec![s]));
    let sp = tb.r#ref(Opcode::StringPtr, vec![s]);
    out.push(tb.int(Opcode::Load(ScalarTy::Int(U8)), vec![sp]));
    out.push(x);
    out.push(f);
    tb.exit(out);
    let trace = tb.finish_straight();
    let id = backend::compile_loop(trace.clone(), tables()).expect("compiles");
    for _ in 0..40 {
        let n = 3 + rng.below(5) as usize;
        let data = Box::new(Vecs {
            bytes: (0..n).map(|_| rng.next() as u8).collect(),
            ints: (0..n).map(|_| rng.int()).collect(),
            floats: (0..n).map(|_| rng.float()).collect(),
            refs: (0..n).map(|_| rng.next() as usize).collect(),
            ring: Box::new(Ring {
                start: 0,
                end: n,
                data: (0..n).map(|_| rng.int()).collect(),
            }),
            s: (0..1 + rng.below(30))
                .map(|_| (b'a' + rng.below(26) as u8) as char)
                .collect(),
        });
        let idx = rng.below(n as u64);
        let xv = rng.int() as u64;
        let fv = rng.float().to_bits();
        check_on_data(
            &trace,
            id,
            &data,
            |d: &mut Box<Vecs>| {
                vec![
                    addr(&d.bytes),
                    addr(&d.ints),
                    addr(&d.floats),
                    addr(&d.refs),
                    addr(&*d.ring),
                    addr(&d.s),
                    idx,
                    xv,
                    fv,
                ]
            },
            |a, b| {
                a.bytes == b.bytes
                    && a.ints == b.ints
                    && a.floats
                        .iter()
                        .map(|f| f.to_bits())
                        .eq(b.floats.iter().map(|f| f.to_bits()))
                    && a.refs == b.refs
                    && a.ring.data == b.ring.data
                    && a.ring.end == b.ring.end
                    && a.s == b.s
            },
        );
    }
    // The probe found the real layouts: Vec<T> and String inline, Ring not.
    assert!(backend::layout::string_layout().is_some());
    let t = tables();
    assert!(backend::layout::vec_layout(&t.arrays[A_VI64 as usize].vec.unwrap()).is_some());
    assert!(backend::layout::vec_layout(&t.arrays[A_RING as usize].vec.unwrap()).is_none());
}

#[test]
fn enum_tags_and_shim_fields() {
    // inputs: &Shape (rect), &Shape (circle), &Shape (any), v
    let mut tb = TB::new(&[Kind::Ref, Kind::Ref, Kind::Ref, Kind::Int]);
    let (rect, circle, any, v) = (Val::Input(0), Val::Input(1), Val::Input(2), Val::Input(3));
    let t0 = tb.int(Opcode::EnumTag(EnumId(E_SHAPE)), vec![rect]);
    let t1 = tb.int(Opcode::EnumTag(EnumId(E_SHAPE)), vec![circle]);
    let t2 = tb.int(Opcode::EnumTag(EnumId(E_SHAPE)), vec![any]);
    let h = tb.int(Opcode::GetField(FieldId(F_RECT_H)), vec![rect]);
    let r = tb.float(Opcode::GetField(FieldId(F_CIRCLE_R)), vec![circle]);
    let r2 = tb.float(Opcode::FloatBin(FloatBinOp::Mul), vec![r, r]);
    tb.effect(Opcode::SetField(FieldId(F_RECT_H)), vec![rect, v]);
    tb.effect(Opcode::SetField(FieldId(F_CIRCLE_R)), vec![circle, r2]);
    let ha = tb.r#ref(Opcode::FieldAddr(FieldId(F_RECT_H)), vec![rect]);
    let h2 = tb.int(Opcode::Load(ScalarTy::Int(I32)), vec![ha]);
    tb.exit(vec![t0, t1, t2, h, r, h2, v]);
    let trace = tb.finish_straight();
    let id = backend::compile_loop(trace.clone(), tables()).expect("compiles");
    let mut rng = Rng::new(4);
    for k in 0..30 {
        let mut shapes = [
            Shape::Rect {
                w: rng.int() as i32,
                h: rng.int() as i32,
            },
            Shape::Circle(rng.float()),
            match k % 3 {
                0 => Shape::Empty,
                1 => Shape::Circle(1.0),
                _ => Shape::Rect { w: 1, h: 2 },
            },
        ];
        let vv = rng.canon(I32) as u64;
        let inputs = vec![addr(&shapes[0]), addr(&shapes[1]), addr(&shapes[2]), vv];
        // interp first on a copy of the shapes
        let mut copy = [
            match &shapes[0] {
                Shape::Rect { w, h } => Shape::Rect { w: *w, h: *h },
                _ => unreachable!(),
            },
            match &shapes[1] {
                Shape::Circle(r) => Shape::Circle(*r),
                _ => unreachable!(),
            },
            match &shapes[2] {
                Shape::Empty => Shape::Empty,
                Shape::Circle(r) => Shape::Circle(*r),
                Shape::Rect { w, h } => Shape::Rect { w: *w, h: *h },
            },
        ];
        let ci = vec![addr(&copy[0]), addr(&copy[1]), addr(&copy[2]), vv];
        let want = interp::run(&trace, tables(), &ci);
        let got = backend::execute(id, &inputs);
        assert_same(&want, &got, id, &inputs, &describe(&trace));
        let key = |s: &Shape| match s {
            Shape::Empty => (0, 0, 0),
            Shape::Circle(r) => (1, r.to_bits(), 0),
            Shape::Rect { w, h } => (2, *w as u64, *h as u64),
        };
        assert_eq!(key(&shapes[0]), key(&copy[0]));
        assert_eq!(key(&shapes[1]), key(&copy[1]));
        let _ = (&mut shapes, &mut copy);
    }
}

// ---------------------------------------------------------------------------
// Calls.

/// Values in every kind of location across residual calls: ints (callee-
/// and caller-saved registers), floats (all xmm registers are caller-
/// saved), spilled ones; the call's results read back by CallResult.
#[test]
fn residual_calls_keep_live_values() {
    let mut rng = Rng::new(5);
    let n_int = 14;
    let n_float = 18;
    let mut kinds = vec![Kind::Int; n_int];
    kinds.extend(vec![Kind::Float; n_float]);
    kinds.push(Kind::Ref);
    let mut tb = TB::new(&kinds);
    let ints: Vec<Val> = (0..n_int).map(|k| Val::Input(k as u16)).collect();
    let floats: Vec<Val> = (n_int..n_int + n_float)
        .map(|k| Val::Input(k as u16))
        .collect();
    let rf = Val::Input((n_int + n_float) as u16);
    // values computed before the calls, live after them
    let mut live = Vec::new();
    for k in 0..n_int {
        live.push(tb.int(
            Opcode::IntBin(IntBinOp::Mul, I64),
            vec![ints[k], Val::Int(k as i64 + 3)],
        ));
    }
    for k in 0..n_float {
        live.push(tb.float(
            Opcode::FloatBin(FloatBinOp::Add),
            vec![floats[k], Val::Float(0.25f64.to_bits())],
        ));
    }
    tb.effect(
        Opcode::CallResidual(CallId(C_MIX)),
        vec![ints[0], floats[0], rf],
    );
    let m0 = tb.int(Opcode::CallResult(0, Kind::Int), vec![]);
    let m1 = tb.float(Opcode::CallResult(1, Kind::Float), vec![]);
    let m2 = tb.r#ref(Opcode::CallResult(2, Kind::Ref), vec![]);
    tb.effect(Opcode::CallResidual(CallId(C_BUMP)), vec![]);
    // eight arguments: more than the argument registers
    tb.effect(Opcode::CallResidual(CallId(C_SUM8)), live[..8].to_vec());
    let s0 = tb.int(Opcode::CallResult(0, Kind::Int), vec![]);
    let s1 = tb.int(Opcode::CallResult(1, Kind::Int), vec![]);
    tb.effect(
        Opcode::CallResidual(CallId(C_FLOATS)),
        vec![live[n_int], Val::Float(1.5f64.to_bits())],
    );
    let f0 = tb.float(Opcode::CallResult(0, Kind::Float), vec![]);
    let f1 = tb.float(Opcode::CallResult(1, Kind::Float), vec![]);
    // a pure call (the blackhole runs the jitcode)
    tb.effect(Opcode::CallPure(JitCodeId(J_AFFINE)), vec![m0, f0]);
    let p0 = tb.int(Opcode::CallResult(0, Kind::Int), vec![]);
    let p1 = tb.float(Opcode::CallResult(1, Kind::Float), vec![]);
    // float rem and f64 -> u64 call helpers too
    let rem = tb.float(
        Opcode::FloatBin(FloatBinOp::Rem),
        vec![live[n_int + 1], Val::Float(0.75f64.to_bits())],
    );
    let cu = tb.int(
        Opcode::Cast(ScalarTy::F64, ScalarTy::Int(U64)),
        vec![live[n_int + 2]],
    );
    let mut fa = live.clone();
    fa.extend([m0, m1, m2, s0, s1, f0, f1, p0, p1, rem, cu]);
    tb.exit(fa);
    let trace = tb.finish_straight();
    let sets: Vec<Vec<u64>> = (0..30)
        .map(|_| {
            let mut v: Vec<u64> = (0..n_int).map(|_| rng.int() as u64).collect();
            v.extend((0..n_float).map(|_| rng.float().to_bits()));
            v.push(rng.next());
            v
        })
        .collect();
    let before = BUMPS.load(std::sync::atomic::Ordering::SeqCst);
    check(trace, &sets);
    // the interpreter and the compiled code each bumped once per run
    assert!(BUMPS.load(std::sync::atomic::Ordering::SeqCst) >= before + 2 * sets.len() as u64);
}

#[test]
fn panics_in_calls_propagate() {
    // residual call that panics, with live values around
    let mut tb = TB::new(&[Kind::Int, Kind::Float]);
    let a = tb.int_bin(IntBinOp::Add, I64, Val::Input(0), Val::Int(1));
    tb.effect(Opcode::CallResidual(CallId(C_BOOM)), vec![a]);
    tb.exit(vec![a, Val::Input(1)]);
    let trace = tb.finish_straight();
    let id = backend::compile_loop(trace, tables()).unwrap();
    let r = std::panic::catch_unwind(|| backend::execute(id, &[41, 0]));
    let msg = r.expect_err("the call panics");
    let msg = msg.downcast_ref::<String>().cloned().unwrap_or_default();
    assert_eq!(msg, "boom 42");
    // the same trace still works afterwards (panic state cleared)
    let r = std::panic::catch_unwind(|| backend::execute(id, &[1, 0]));
    assert_eq!(
        r.expect_err("panics")
            .downcast_ref::<String>()
            .map(|s| s.as_str()),
        Some("boom 2")
    );

    // pure call: the blackhole panics like the native code
    let mut tb = TB::new(&[Kind::Int]);
    tb.effect(Opcode::CallPure(JitCodeId(J_PANIC)), vec![Val::Input(0)]);
    tb.exit(vec![]);
    let id = backend::compile_loop(tb.finish_straight(), tables()).unwrap();
    let r = std::panic::catch_unwind(|| backend::execute(id, &[0]));
    let e = r.expect_err("the pure call panics");
    let m = e
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    assert!(m.contains("pure function panicked"), "{m}");
}

/// A residual call that runs compiled code itself (the inner `execute`
/// gets its own frame buffer); a panic in the inner run crosses both.
#[test]
fn reentrant_execute_from_a_residual_call() {
    // inner loop: [x] counts x down to 0 via a residual boom when x == 1000
    let mut tb = TB::new(&[Kind::Int]);
    let x1 = tb.int_bin(IntBinOp::Sub, I64, Val::Input(0), Val::Int(1));
    let big = tb.int_cmp(CmpOp::Eq, I64, Val::Input(0), Val::Int(1000));
    let ok = tb.int_cmp(CmpOp::Gt, I64, x1, Val::Int(0));
    tb.guard(Opcode::GuardFalse, vec![big], vec![Val::Input(0)]);
    tb.guard(Opcode::GuardTrue, vec![ok], vec![Val::Int(-1), x1]);
    let inner = tb.finish_loop(vec![x1]);
    let inner_id = backend::compile_loop(inner, tables()).unwrap();
    // outer: live values around a call that re-enters
    let mut tb = TB::new(&[Kind::Int, Kind::Float, Kind::Int]);
    let a = tb.int_bin(IntBinOp::Mul, I64, Val::Input(0), Val::Int(3));
    tb.effect(Opcode::CallResidual(CallId(C_REENTER)), vec![Val::Input(2)]);
    let r = tb.int(Opcode::CallResult(0, Kind::Int), vec![]);
    let f = tb.float(
        Opcode::FloatBin(FloatBinOp::Add),
        vec![Val::Input(1), Val::Input(1)],
    );
    tb.exit(vec![a, r, f, Val::Input(0)]);
    let outer = tb.finish_straight();
    // (the shim reads the id from a static: both runs use the same loop)
    REENTER_ID.store(inner_id, std::sync::atomic::Ordering::SeqCst);
    check(
        outer.clone(),
        &[
            vec![5, 1.5f64.to_bits(), 10],
            vec![7, (-0.0f64).to_bits(), 1],
        ],
    );
    // inner guard #0 fails when x == 1000 and returns 1000: no panic here;
    // now make the inner loop panic through a residual boom
    let mut tb = TB::new(&[Kind::Int]);
    tb.effect(Opcode::CallResidual(CallId(C_BOOM)), vec![Val::Input(0)]);
    tb.exit(vec![Val::Input(0)]);
    let boom_id = backend::compile_loop(tb.finish_straight(), tables()).unwrap();
    let outer_id = backend::compile_loop(outer, tables()).unwrap();
    REENTER_ID.store(boom_id, std::sync::atomic::Ordering::SeqCst);
    let e = std::panic::catch_unwind(|| backend::execute(outer_id, &[1, 0, 6]))
        .expect_err("inner panic");
    assert_eq!(
        e.downcast_ref::<String>().map(|s| s.as_str()),
        Some("boom 6")
    );
    REENTER_ID.store(inner_id, std::sync::atomic::Ordering::SeqCst);
    let e = backend::execute(outer_id, &[1, 0, 4]);
    assert_eq!(
        e.values[1],
        (-1i64) as u64,
        "the inner loop exits through guard #1 with [-1, 0]"
    );
}

// ---------------------------------------------------------------------------
// Guards, loops, spills.

/// A trace with many guards; the inputs select which one fails. Fail
/// arguments mix registers, spilled values, floats and constants.
#[test]
fn guards_fail_at_every_position() {
    let n_guards = 12;
    // inputs: selector, 12 ints, 18 floats (more than the registers)
    let mut kinds = vec![Kind::Int; 13];
    kinds.extend(vec![Kind::Float; 18]);
    let mut tb = TB::new(&kinds);
    let sel = Val::Input(0);
    let mut vals: Vec<Val> = (1..31).map(|k| Val::Input(k as u16)).collect();
    for g in 0..n_guards {
        // some fresh values at each step
        let x = tb.int(
            Opcode::IntBin(IntBinOp::Add, I64),
            vec![vals[g % 12], Val::Int(g as i64)],
        );
        let y = tb.float(
            Opcode::FloatBin(FloatBinOp::Mul),
            vec![vals[12 + g % 18], Val::Float(2.0f64.to_bits())],
        );
        vals.push(x);
        vals.push(y);
        let c = tb.int_cmp(CmpOp::Ne, I64, sel, Val::Int(g as i64));
        let mut fa: Vec<Val> = vals.iter().rev().step_by(1 + g % 3).copied().collect();
        fa.insert(g % 5, Val::Int(-(g as i64) - 100));
        fa.push(Val::Float(0.5f64.to_bits()));
        fa.push(Val::Ref(0xdead_0000 + g));
        fa.push(Val::Int(i64::MIN + g as i64));
        if g % 2 == 0 {
            tb.guard(Opcode::GuardTrue, vec![c], fa);
        } else {
            // the comparison result is also a fail argument: not fused
            fa.push(c);
            tb.guard(Opcode::GuardTrue, vec![c], fa);
        }
    }
    // guard_value on an int and on a float
    let gv = tb.int_bin(IntBinOp::Sub, I64, sel, Val::Int(100));
    tb.guard(Opcode::GuardValue, vec![gv, Val::Int(0)], vec![gv, sel]);
    let fv = tb.float(Opcode::Cast(ScalarTy::Int(I64), ScalarTy::F64), vec![sel]);
    tb.guard(
        Opcode::GuardValue,
        vec![fv, Val::Float(100.0f64.to_bits())],
        vec![fv],
    );
    tb.guard(Opcode::GuardFalse, vec![sel], vec![Val::Int(1), sel]);
    tb.exit(vals.clone());
    let trace = tb.finish_straight();
    let mut rng = Rng::new(6);
    let mut sets = Vec::new();
    for s in [0u64, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 100, 101] {
        for _ in 0..3 {
            let mut v = vec![s];
            v.extend((0..12).map(|_| rng.int() as u64));
            v.extend((0..18).map(|_| rng.float().to_bits()));
            sets.push(v);
        }
    }
    // selector 100 passes guard_value on the int, fails none of the others
    // but the float guard_value passes too, then guard_false(100) fails.
    check(trace, &sets);
}

/// `i = i + 1; guard(i < n)`: many iterations, then the exit.
#[test]
fn counting_loop_runs_many_iterations() {
    let mut tb = TB::new(&[Kind::Int, Kind::Int, Kind::Int]);
    let (i, n, acc) = (Val::Input(0), Val::Input(1), Val::Input(2));
    let i1 = tb.int_bin(IntBinOp::Add, I64, i, Val::Int(1));
    let a1 = tb.int_bin(IntBinOp::Xor, I64, acc, i1);
    let a2 = tb.int_bin(IntBinOp::Mul, U32, a1, Val::Int(0x9E37));
    let c = tb.int_cmp(CmpOp::Lt, I64, i1, n);
    tb.guard(Opcode::GuardTrue, vec![c], vec![i1, a2, Val::Int(7)]);
    let trace = tb.finish_loop(vec![i1, n, a2]);
    check(
        trace,
        &[
            vec![0, 1_000_000, 1],
            vec![5, 6, 0],
            vec![0, 1, 0],
            vec![(-10i64) as u64, 3000, 12345],
        ],
    );
}

/// `finish` hands the portal's results back: from registers, from spill
/// slots (more values than registers), constants and floats among them,
/// on the path past a guard; the guard's own exit stays a guard exit.
#[test]
fn finish_hands_the_results_back() {
    let mut tb = TB::new(&[Kind::Int, Kind::Int, Kind::Float]);
    let (a, b, f) = (Val::Input(0), Val::Input(1), Val::Input(2));
    let c = tb.int_cmp(CmpOp::Lt, I64, a, b);
    tb.guard(Opcode::GuardTrue, vec![c], vec![a, b]);
    let mut results = vec![f, Val::Int(-3)];
    let mut x = a;
    for k in 0..20 {
        x = tb.int_bin(IntBinOp::Add, I64, x, Val::Int(k));
        results.push(x);
    }
    let g = tb.float(Opcode::FloatBin(FloatBinOp::Add), vec![f, f]);
    results.push(g);
    results.push(b);
    let id = check(
        tb.finish_function(results),
        &[
            vec![1, 2, 1.5f64.to_bits()],
            vec![2, 1, 0],
            vec![(-7i64) as u64, 0, (-0.25f64).to_bits()],
        ],
    );
    let exit = backend::execute(id, &[1, 2, 1.5f64.to_bits()]);
    assert_eq!(exit.guard, backend::FINISH_EXIT);
    assert_eq!(exit.values.len(), 24);
    assert_eq!(exit.values[..3], [1.5f64.to_bits(), (-3i64) as u64, 1]);
    assert_eq!(exit.values[22..], [3.0f64.to_bits(), 2]);
}

/// Loop-carried values that permute (swaps, rotations: cycles in the
/// parallel move at the jump), of every kind and location.
#[test]
fn loop_carried_permutations() {
    for spill in [false, true] {
        let mut kinds = vec![
            Kind::Int,
            Kind::Int,
            Kind::Int,
            Kind::Int,
            Kind::Float,
            Kind::Float,
            Kind::Float,
            Kind::Ref,
        ];
        let pad_i = if spill { 12 } else { 0 };
        let pad_f = if spill { 16 } else { 0 };
        kinds.extend(vec![Kind::Int; pad_i]);
        kinds.extend(vec![Kind::Float; pad_f]);
        let mut tb = TB::new(&kinds);
        let inp = |k: usize| Val::Input(k as u16);
        // input 0 is a counter
        let c1 = tb.int_bin(IntBinOp::Sub, I64, inp(0), Val::Int(1));
        let g = tb.int_cmp(CmpOp::Gt, I64, c1, Val::Int(0));
        let mut fa: Vec<Val> = (0..kinds.len()).map(inp).collect();
        fa.push(c1);
        tb.guard(Opcode::GuardTrue, vec![g], fa);
        let x = tb.int_bin(IntBinOp::Add, I64, inp(1), inp(3));
        // ints: (c1, i2, i3 -> i1 ..): rotate 1->2->3->1 with a twist
        let mut next = vec![c1, inp(2), inp(3), x, inp(6), inp(4), inp(5), inp(7)];
        // padding: reversed (pairs swap through slots)
        for k in 0..pad_i {
            next.push(inp(8 + pad_i - 1 - k));
        }
        for k in 0..pad_f {
            next.push(inp(8 + pad_i + pad_f - 1 - k));
        }
        let trace = tb.finish_loop(next);
        let mut rng = Rng::new(7);
        let sets: Vec<Vec<u64>> = (0..10)
            .map(|_| {
                let mut v = vec![1 + rng.below(20)];
                v.extend((0..3).map(|_| rng.int() as u64));
                v.extend((0..3).map(|_| rng.float().to_bits()));
                v.push(rng.next());
                v.extend((0..pad_i).map(|_| rng.int() as u64));
                v.extend((0..pad_f).map(|_| rng.float().to_bits()));
                v
            })
            .collect();
        check(trace, &sets);
    }
}

/// More live values than registers: 40 ints and 24 floats computed, all
/// used at the end; spilled values as operands, in fail args, at the jump.
#[test]
fn register_pressure_spills() {
    let mut tb = TB::new(&[Kind::Int, Kind::Int, Kind::Float]);
    let (cnt, seed, fs) = (Val::Input(0), Val::Input(1), Val::Input(2));
    let mut ints = vec![seed];
    for k in 0..40 {
        let prev = ints[ints.len() - 1];
        let other = ints[(k * 7) % ints.len()];
        let op = [IntBinOp::Add, IntBinOp::Mul, IntBinOp::Xor, IntBinOp::Sub][k % 4];
        let v = tb.int_bin(op, I64, prev, other);
        let v = tb.int_bin(IntBinOp::Add, I64, v, Val::Int(k as i64 * 0x1_2345_6789));
        ints.push(v);
    }
    let mut floats = vec![fs];
    for k in 0..24 {
        let prev = floats[floats.len() - 1];
        let other = floats[(k * 5) % floats.len()];
        let v = tb.float(Opcode::FloatBin(FloatBinOp::Add), vec![prev, other]);
        floats.push(v);
    }
    // use every value again (all live until here)
    let mut acc = Val::Int(0);
    for &v in &ints {
        acc = tb.int_bin(IntBinOp::Add, I64, acc, v);
    }
    let mut facc = Val::Float(0);
    for &v in &floats {
        facc = tb.float(Opcode::FloatBin(FloatBinOp::Sub), vec![v, facc]);
    }
    let c1 = tb.int_bin(IntBinOp::Sub, I64, cnt, Val::Int(1));
    let g = tb.int_cmp(CmpOp::Ne, I64, c1, Val::Int(0));
    let mut fa = ints.clone();
    fa.extend(floats.iter().copied());
    fa.push(acc);
    fa.push(facc);
    tb.guard(Opcode::GuardTrue, vec![g], fa);
    let fnext = tb.float(
        Opcode::FloatBin(FloatBinOp::Mul),
        vec![facc, Val::Float(1e-3f64.to_bits())],
    );
    let trace = tb.finish_loop(vec![c1, acc, fnext]);
    let mut rng = Rng::new(8);
    let sets: Vec<Vec<u64>> = (0..20)
        .map(|_| vec![1 + rng.below(30), rng.int() as u64, rng.float().to_bits()])
        .collect();
    let id = check(trace, &sets);
    let (_, slots) = backend::code_info(id).unwrap();
    assert!(slots > 0, "this trace must spill");
}

// ---------------------------------------------------------------------------
// Bridges.

/// A loop whose guard fails every other iteration gets a bridge that
/// jumps back into the loop; the bridge has a guard of its own, which gets
/// a bridge too, into a second loop.
#[test]
fn bridges_attach_and_jump_back() {
    // loop A: [n, i, acc, f]
    //   i1 = i + 1; guard(i1 < n) #0 [i1, acc, f]
    //   odd = i1 & 1; guard_false(odd) #1 [n, i1, acc, f, 99]
    //   acc2 = acc + i1; jump(n, i1, acc2, f)
    let mut tb = TB::new(&[Kind::Int, Kind::Int, Kind::Int, Kind::Float]);
    let (n, i, acc, f) = (Val::Input(0), Val::Input(1), Val::Input(2), Val::Input(3));
    let i1 = tb.int_bin(IntBinOp::Add, I64, i, Val::Int(1));
    let c = tb.int_cmp(CmpOp::Lt, I64, i1, n);
    tb.guard(Opcode::GuardTrue, vec![c], vec![i1, acc, f]);
    let odd = tb.int_bin(IntBinOp::And, I64, i1, Val::Int(1));
    tb.guard(
        Opcode::GuardFalse,
        vec![odd],
        vec![n, i1, acc, f, Val::Int(99)],
    );
    let acc2 = tb.int_bin(IntBinOp::Add, I64, acc, i1);
    let loop_a = tb.finish_loop(vec![n, i1, acc2, f]);
    let a = backend::compile_loop(loop_a.clone(), tables()).unwrap();

    let inputs = vec![1000u64, 0, 0, 1.0f64.to_bits()];
    let before = backend::execute(a, &inputs);
    assert_eq!(
        (before.trace, before.guard),
        (a, 1),
        "the odd guard fails first"
    );

    // loop B: [x, f] counts x down, multiplying f
    let mut tb = TB::new(&[Kind::Int, Kind::Float]);
    let x1 = tb.int_bin(IntBinOp::Sub, I64, Val::Input(0), Val::Int(1));
    let f1 = tb.float(
        Opcode::FloatBin(FloatBinOp::Mul),
        vec![Val::Input(1), Val::Float(1.5f64.to_bits())],
    );
    let gz = tb.int_cmp(CmpOp::Gt, I64, x1, Val::Int(0));
    tb.guard(Opcode::GuardTrue, vec![gz], vec![x1, f1]);
    let loop_b = tb.finish_loop(vec![x1, f1]);
    let b = backend::compile_loop(loop_b.clone(), tables()).unwrap();

    // bridge on A#1: [n, i1, acc, f, k]: acc' = acc * 3 - i1 (+ k);
    //   guard(acc' < 10^12) #0 [acc', f, i1]; jump_to A (n, i1, acc', f)
    let mut tb = TB::new(&[Kind::Int, Kind::Int, Kind::Int, Kind::Float, Kind::Int]);
    let (bn, bi, bacc, bf, bk) = (
        Val::Input(0),
        Val::Input(1),
        Val::Input(2),
        Val::Input(3),
        Val::Input(4),
    );
    let m = tb.int_bin(IntBinOp::Mul, I64, bacc, Val::Int(3));
    let m2 = tb.int_bin(IntBinOp::Sub, I64, m, bi);
    let m3 = tb.int_bin(IntBinOp::Add, I64, m2, bk);
    let big = tb.int_cmp(CmpOp::Lt, I64, m3, Val::Int(1_000_000_000_000));
    tb.guard(Opcode::GuardTrue, vec![big], vec![m3, bf, bi]);
    let bridge1 = tb.finish_bridge(a, 1, a, vec![bn, bi, m3, bf]);
    let br1 = backend::compile_bridge(bridge1.clone(), tables()).unwrap();
    assert_eq!(backend::bridge_of(a, 1), Some(br1));

    // bridge on br1#0: [acc', f, i1] -> loop B (i1 & 7, f)
    let mut tb = TB::new(&[Kind::Int, Kind::Float, Kind::Int]);
    let x = tb.int_bin(IntBinOp::And, I64, Val::Input(2), Val::Int(7));
    let x = tb.int_bin(IntBinOp::Add, I64, x, Val::Int(2));
    let bridge2 = tb.finish_bridge(br1, 0, b, vec![x, Val::Input(1)]);
    let br2 = backend::compile_bridge(bridge2.clone(), tables()).unwrap();

    let loops: HashMap<_, _> = [(a, loop_a), (b, loop_b)].into_iter().collect();
    let mut bridges = HashMap::new();
    bridges.insert((a, 1), (br1, bridge1));
    bridges.insert((br1, 0), (br2, bridge2));
    let mut rng = Rng::new(9);
    let mut sets = vec![
        inputs.clone(),
        vec![10, 0, 0, 2.0f64.to_bits()],
        vec![1_000_000, 0, 1, 1.0f64.to_bits()],
    ];
    for _ in 0..20 {
        sets.push(vec![
            rng.below(200),
            rng.below(10),
            rng.below(1000),
            rng.float().to_bits(),
        ]);
    }
    for s in &sets {
        let want = model(&loops, &bridges, a, s);
        let got = backend::execute(a, s);
        assert_eq!(
            (got.trace, got.guard, got.values.clone()),
            want,
            "inputs {s:?}"
        );
    }
    // the first input set now ends in loop B's guard (through both bridges)
    let e = backend::execute(a, &[1_000_000, 0, 1, 1.0f64.to_bits()]);
    assert_eq!(e.trace, b);
    let s = backend::stats();
    assert!(s.loops >= 2 && s.bridges >= 2, "{s:?}");
}

/// A bridge can be attached to a guard whose exit stores spilled values
/// and constants; the bridge reads them as its inputs.
#[test]
fn bridge_inputs_from_spilled_fail_args() {
    let mut kinds = vec![Kind::Int; 16];
    kinds.extend(vec![Kind::Float; 17]);
    let mut tb = TB::new(&kinds);
    let c = tb.int_bin(IntBinOp::Sub, I64, Val::Input(0), Val::Int(1));
    let g = tb.int_cmp(CmpOp::Gt, I64, c, Val::Int(0));
    let mut fa: Vec<Val> = (0..33).rev().map(|k| Val::Input(k as u16)).collect();
    fa.push(c);
    fa.push(Val::Int(-5));
    tb.guard(Opcode::GuardTrue, vec![g], fa.clone());
    let trace = tb.finish_loop(
        (0..33)
            .map(|k| if k == 0 { c } else { Val::Input(k as u16) })
            .collect(),
    );
    let id = backend::compile_loop(trace.clone(), tables()).unwrap();
    // bridge: sum everything, restart the loop with counter 3 unless a flag says stop
    let mut bk: Vec<Kind> = (0..33).rev().map(|k| kinds[k]).collect();
    bk.push(Kind::Int);
    bk.push(Kind::Int);
    let mut tb = TB::new(&bk);
    let mut s = Val::Input(34);
    for k in 0..33 {
        if bk[k] == Kind::Int {
            s = tb.int_bin(IntBinOp::Add, I64, s, Val::Input(k as u16));
        }
    }
    // input 32 is the loop's input 0 (the counter when the loop started): stop when it was 1
    let stop = tb.int_cmp(CmpOp::Eq, I64, Val::Input(32), Val::Int(1));
    tb.guard(Opcode::GuardFalse, vec![stop], vec![s, Val::Input(33)]);
    let mut jargs: Vec<Val> = (0..33).map(|k| Val::Input(32 - k as u16)).collect();
    jargs[0] = Val::Int(1);
    jargs[1] = s;
    let bridge = tb.finish_bridge(id, 0, id, jargs);
    let bid = backend::compile_bridge(bridge.clone(), tables()).unwrap();
    let loops: HashMap<_, _> = [(id, trace)].into_iter().collect();
    let bridges: HashMap<_, _> = [((id, 0), (bid, bridge))].into_iter().collect();
    let mut rng = Rng::new(10);
    for _ in 0..10 {
        let mut v: Vec<u64> = vec![2 + rng.below(5)];
        v.extend((1..16).map(|_| rng.int() as u64));
        v.extend((0..17).map(|_| rng.float().to_bits()));
        let want = model(&loops, &bridges, id, &v);
        let got = backend::execute(id, &v);
        assert_eq!((got.trace, got.guard, got.values), want);
    }
}

// ---------------------------------------------------------------------------
// Registry, log, W^X.

#[test]
fn registry_and_disassembly() {
    let mut tb = TB::new(&[Kind::Int]);
    let x = tb.int_bin(IntBinOp::Add, I64, Val::Input(0), Val::Int(1));
    tb.guard(Opcode::GuardFalse, vec![x], vec![x]);
    let f = tb.float(Opcode::Cast(ScalarTy::Int(I64), ScalarTy::F64), vec![x]);
    let f2 = tb.float(
        Opcode::FloatBin(FloatBinOp::Add),
        vec![f, Val::Float(0.5f64.to_bits())],
    );
    tb.guard(Opcode::GuardTrue, vec![Val::Int(0)], vec![x, f2]);
    let trace = tb.finish_straight();
    let s0 = backend::stats();
    let id = backend::compile_loop(trace.clone(), tables()).unwrap();
    let s1 = backend::stats();
    assert_eq!(s1.loops, s0.loops + 1);
    assert!(s1.code_bytes > s0.code_bytes);
    assert!(backend::global_stats().loops >= 1);
    assert_eq!(*backend::trace_of(id), trace);
    let g1 = backend::guard_id(id, 1).unwrap();
    assert_eq!(backend::guard_of(g1), Some((id, 1)));
    // guard_false(x) fails when x != 0
    let e = backend::execute(id, &[1]);
    assert_eq!((e.trace, e.guard, e.values), (id, 0, vec![2]));
    let e = backend::execute(id, &[(-1i64) as u64]);
    assert_eq!(
        (e.trace, e.guard, e.values),
        (id, 1, vec![0, 0.5f64.to_bits()])
    );
    let text = backend::disassemble(id);
    for needle in [
        "entry",
        "op 0",
        "stub of guard #1",
        "ret",
        "add",
        "cvtsi2sd",
        "constants",
    ] {
        assert!(text.contains(needle), "{needle} missing in\n{text}");
    }
    let s2 = backend::stats();
    assert_eq!(s2.executions, s1.executions + 2);
    assert_eq!(s2.guard_failures, s1.guard_failures + 2);
    assert_eq!(backend::guard_failures(id, 0), 1);
    assert_eq!(backend::guard_failures(id, 1), 1);
}

/// Code pages are never writable and executable at once, before and after
/// a bridge is patched in.
#[test]
fn code_memory_is_w_xor_x() {
    fn perms_of(addr: usize) -> Option<String> {
        let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
        for line in maps.lines() {
            let mut parts = line.split_whitespace();
            let range = parts.next()?;
            let perms = parts.next()?;
            let (lo, hi) = range.split_once('-')?;
            let lo = usize::from_str_radix(lo, 16).ok()?;
            let hi = usize::from_str_radix(hi, 16).ok()?;
            if addr >= lo && addr < hi {
                return Some(perms.to_string());
            }
        }
        None
    }
    let mut tb = TB::new(&[Kind::Int]);
    let c = tb.int_cmp(CmpOp::Lt, I64, Val::Input(0), Val::Int(10));
    tb.guard(Opcode::GuardTrue, vec![c], vec![Val::Input(0)]);
    let x = tb.int_bin(IntBinOp::Add, I64, Val::Input(0), Val::Int(1));
    let id = backend::compile_loop(tb.finish_loop(vec![x]), tables()).unwrap();
    let entry = code_addr(id);
    let p = perms_of(entry).expect("mapped");
    assert!(p.starts_with("r-x"), "code pages are {p}");
    // (a bridge whose exit always fails: patched, then the page is r-x again)
    let mut tb = TB::new(&[Kind::Int]);
    let y = tb.int_bin(IntBinOp::Sub, I64, Val::Input(0), Val::Int(100));
    tb.guard(Opcode::GuardTrue, vec![Val::Int(0)], vec![y]);
    let bid = backend::compile_bridge(tb.finish_bridge(id, 0, id, vec![y]), tables()).unwrap();
    assert!(perms_of(entry).unwrap().starts_with("r-x"));
    assert!(perms_of(code_addr(bid)).unwrap().starts_with("r-x"));
    let e = backend::execute(id, &[0]);
    assert_eq!(
        (e.trace, e.guard, e.values),
        (bid, 0, vec![(10i64 - 100) as u64])
    );
    // no mapping anywhere in the process is writable and executable
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    assert!(!maps.lines().any(|l| l
        .split_whitespace()
        .nth(1)
        .map(|p| p.starts_with("rwx"))
        .unwrap_or(false)));
}

fn code_addr(id: backend::TraceId) -> usize {
    backend::code_address(id).expect("compiled")
}

#[test]
fn compile_errors_are_reported() {
    // a bridge whose inputs do not match the guard's fail args
    let mut tb = TB::new(&[Kind::Int]);
    tb.guard(Opcode::GuardTrue, vec![Val::Input(0)], vec![Val::Input(0)]);
    let id = backend::compile_loop(tb.finish_loop(vec![Val::Input(0)]), tables()).unwrap();
    let tb = TB::new(&[Kind::Float]);
    let bad = tb.finish_bridge(id, 0, id, vec![Val::Int(0)]);
    assert!(backend::compile_bridge(bad, tables()).is_err());
    // jump_to a loop with other inputs
    let tb = TB::new(&[Kind::Int]);
    let bad = tb.finish_bridge(id, 0, id, vec![Val::Float(0)]);
    assert!(backend::compile_bridge(bad, tables()).is_err());
    // jump_to nowhere
    let tb = TB::new(&[Kind::Int]);
    let bad = tb.finish_bridge(id, 0, 999_999, vec![Val::Int(0)]);
    assert!(backend::compile_bridge(bad, tables()).is_err());
    // call-result index too large
    let mut tb = TB::new(&[Kind::Int]);
    let r = tb.int(
        Opcode::CallResult(frame::CALL_RESULTS as u8, Kind::Int),
        vec![],
    );
    tb.exit(vec![r]);
    assert!(backend::compile_loop(tb.finish_straight(), tables()).is_err());
}
