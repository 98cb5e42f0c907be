//! The meta-tracer on the instructions `tracer.rs` leaves out: floats and
//! casts (folded from greens, recorded from reds), strings and slices,
//! `vec_push`/`vec_itemaddr`/`vec_as_slice`, raw loads and stores, enum
//! tags and variant fields behind shims, `we_are_jitted`, `can_enter_jit`.
//! The traced loop must compute what the blackhole computes.

use metatrace_runtime::blackhole;
use metatrace_runtime::jitcode::*;
use metatrace_runtime::metainterp;
use metatrace_runtime::trace;
use metatrace_testkit::insn;
use std::mem::offset_of;
use std::sync::OnceLock;

use metatrace_testkit::jit::*;
use metatrace_testkit::jitcode::*;

#[derive(Clone, Debug, PartialEq)]
enum Shape {
    A,
    B(i64),
}

#[repr(C)]
#[derive(Clone, Debug, PartialEq)]
struct M {
    v: Vec<i64>,
    s: String,
    shape: Shape,
    hits: i64,
    buf: [u16; 4],
}

unsafe fn shape_tag(a: usize) -> u32 {
    match unsafe { &*(a as *const Shape) } {
        Shape::A => 0,
        Shape::B(_) => 1,
    }
}
unsafe fn shape_b0(a: usize) -> usize {
    match unsafe { &mut *(a as *mut Shape) } {
        Shape::B(x) => x as *mut i64 as usize,
        Shape::A => unreachable!("not a B"),
    }
}

const F_V: u16 = 0;
const F_S: u16 = 1;
const F_SHAPE: u16 = 2;
const F_HITS: u16 = 3;
const F_BUF: u16 = 4;
const F_B0: u16 = 5;
const A_VI64: u16 = 0;
const A_STR: u16 = 1;
const A_U16: u16 = 2;
const E_SHAPE: u16 = 0;

/// `sink(k: i64 [green], n: i64, x: f64, m: &mut M) -> f64`, one
/// iteration per `n`:
/// ```text
/// x += (n as f64) * ((k as f64) * 0.5); if x < 1e9 { x -= 0.25 }
/// let b = m.s.as_bytes()[n & 3]; m.v.push(b as i64);
/// let last = m.v.len() - 1; m.v[last] *= 2 (through its address);
/// m.v.as_slice()[0] += 1 (through its address);
/// match m.shape { A => m.hits += 1, B(y) => m.hits += y }
/// m.buf[n & 3] = n as u16; if we_are_jitted() { } else { }
/// ```
fn sink() -> Code {
    let c = Code::new(
        "sink",
        [10, 7, 3],
        vec![ki(0), ki(1), kf(0), kr(0)],
        vec![Kind::Float],
    );
    let mut a = Asm::new(c);
    let one = a.c.ci(1);
    let two = a.c.ci(2);
    let three = a.c.ci(3);
    let zero = a.c.ci(0);
    let half = a.c.cf(0.5);
    let big = a.c.cf(1e9);
    let quarter = a.c.cf(0.25);
    let i64t = ScalarTy::Int(IntTy::I64);
    let live = [ki(0), ki(1), kf(0), kr(0)];

    a.label("head");
    a.live(&live);
    a.i(insn::merge_point(0, vec![ki(0), ki(1), kf(0), kr(0)]));
    a.i(insn::cast(i64t, ScalarTy::F64, 0, 1));
    a.i(insn::float_bin(FloatBinOp::Mul, 1, half, 1));
    a.i(insn::cast(i64t, ScalarTy::F64, 1, 2));
    a.i(insn::float_bin(FloatBinOp::Mul, 2, 1, 2));
    a.i(insn::float_bin(FloatBinOp::Add, 0, 2, 0));
    a.i(insn::float_cmp(CmpOp::Lt, 0, big, 3));
    a.live(&[ki(0), ki(1), ki(3), kf(0), kr(0)]);
    a.goto_if_not(3, "skip");
    a.i(insn::float_bin(FloatBinOp::Sub, 0, quarter, 0));
    a.label("skip");
    // b = m.s.as_bytes()[n & 3]; m.v.push(b)
    a.i(insn::field_addr(F_S, 0, 1));
    a.i(insn::string_as_str(1, 2, 4));
    a.i(insn::int_bin(IntBinOp::And, IntTy::I64, 1, three, 5));
    a.i(insn::slice_get_item(A_STR, 2, 5, 6));
    a.i(insn::cast(ScalarTy::Int(IntTy::U8), i64t, 6, 6));
    a.i(insn::field_addr(F_V, 0, 3));
    a.i(insn::vec_push(A_VI64, 3, 6));
    // m.v[last] *= 2
    a.i(insn::vec_len(A_VI64, 3, 7));
    a.i(insn::int_bin(IntBinOp::Sub, IntTy::Usize, 7, one, 7));
    a.i(insn::vec_item_addr(A_VI64, 3, 7, 4));
    a.i(insn::load(i64t, 4, 8));
    a.i(insn::int_bin(IntBinOp::Mul, IntTy::I64, 8, two, 8));
    a.i(insn::store(i64t, 4, 8));
    // m.v.as_slice()[0] += 1
    a.i(insn::vec_as_slice(A_VI64, 3, 5, 9));
    a.i(insn::slice_item_addr(A_VI64, 5, zero, 6));
    a.i(insn::load(i64t, 6, 8));
    a.i(insn::int_bin(IntBinOp::Add, IntTy::I64, 8, one, 8));
    a.i(insn::store(i64t, 6, 8));
    // match m.shape
    a.i(insn::field_addr(F_SHAPE, 0, 1));
    a.i(insn::enum_tag(E_SHAPE, 1, 3));
    a.live(&[ki(0), ki(1), ki(3), kf(0), kr(0), kr(1)]);
    a.switch(3, &[(0, "shape_a")], "shape_b");
    a.label("shape_a");
    a.i(insn::get_field(F_HITS, 0, 8));
    a.i(insn::int_bin(IntBinOp::Add, IntTy::I64, 8, one, 8));
    a.i(insn::set_field(F_HITS, 0, 8));
    a.goto("tail");
    a.label("shape_b");
    a.i(insn::get_field(F_B0, 1, 9));
    a.i(insn::get_field(F_HITS, 0, 8));
    a.i(insn::int_bin(IntBinOp::Add, IntTy::I64, 8, 9, 8));
    a.i(insn::set_field(F_HITS, 0, 8));
    a.label("tail");
    // m.buf[n & 3] = n as u16
    a.i(insn::field_addr(F_BUF, 0, 1));
    a.i(insn::int_bin(IntBinOp::And, IntTy::I64, 1, three, 5));
    a.i(insn::cast(i64t, ScalarTy::Int(IntTy::U16), 1, 8));
    a.i(insn::slice_set_item(A_U16, 1, 5, 8));
    // if we_are_jitted() {} else {}: both ways the same, a constant in traces
    a.i(Insn::WeAreJitted { dst: 3 });
    a.live(&[ki(0), ki(1), ki(3), kf(0), kr(0)]);
    a.goto_if_not(3, "same");
    a.label("same");
    a.live(&live);
    a.i(insn::can_enter_jit(0, vec![ki(0), ki(1), kf(0), kr(0)]));
    a.i(insn::int_bin(IntBinOp::Sub, IntTy::I64, 1, one, 1));
    a.i(insn::int_cmp(CmpOp::Gt, IntTy::I64, 1, zero, 3));
    a.live(&[ki(0), ki(1), ki(3), kf(0), kr(0)]);
    a.goto_if_not(3, "ret");
    a.goto("head");
    a.label("ret");
    a.i(insn::ret(vec![kf(0)]));
    a.finish()
}

fn tables() -> &'static Tables {
    static T: OnceLock<&'static Tables> = OnceLock::new();
    T.get_or_init(|| {
        let f = field;
        let i64t = Some(ScalarTy::Int(IntTy::I64));
        make_tables(
            vec![sink()],
            Descrs {
                fields: vec![
                    f("M.v", None, FieldPlace::Offset(offset_of!(M, v))),
                    f("M.s", None, FieldPlace::Offset(offset_of!(M, s))),
                    f("M.shape", None, FieldPlace::Offset(offset_of!(M, shape))),
                    f("M.hits", i64t, FieldPlace::Offset(offset_of!(M, hits))),
                    f("M.buf", None, FieldPlace::Offset(offset_of!(M, buf))),
                    f("Shape::B.0", i64t, FieldPlace::Shim(shape_b0)),
                ],
                arrays: vec![
                    array(
                        "Vec<i64>",
                        i64t,
                        8,
                        Some(vec_shims!(i64, |x| x as u64, |x| x as i64)),
                    ),
                    array("[u8]", Some(ScalarTy::Int(IntTy::U8)), 1, None),
                    array("[u16]", Some(ScalarTy::Int(IntTy::U16)), 2, None),
                ],
                enums: vec![EnumDescr {
                    immutable: false,
                    name: "Shape",
                    tag: shape_tag,
                    null_pointer: false,
                }],
                drivers: vec![DriverDescr {
                    portal: "sink",
                    jitcode: 0,
                    greens: &[Kind::Int],
                    reds: &[Kind::Int, Kind::Float, Kind::Ref],
                    native: None,
                }],
                ..Descrs::default()
            },
        )
    })
}

fn new_m(shape: Shape) -> Box<M> {
    Box::new(M {
        v: vec![],
        s: "hello, world".to_string(),
        shape,
        hits: 0,
        buf: [0; 4],
    })
}

#[test]
fn the_sink_traces_and_runs_like_the_blackhole() {
    let t = tables();
    let p = Portal::new(t, 0);
    for shape in [Shape::A, Shape::B(5)] {
        for (k, n, x) in [
            (3i64, 10i64, 0.0f64),
            (1, 1, 2.5),
            (7, 40, -1e10),
            (0, 3, f64::NAN),
        ] {
            let mut want_m = new_m(shape.clone());
            let want = blackhole::call(
                t,
                0,
                &[k as u64, n as u64, x.to_bits(), addr_mut(&mut *want_m)],
            );
            for bridges in [false, true] {
                let mut m = new_m(shape.clone());
                let mut stats = Stats::default();
                let args = [k as u64, n as u64, x.to_bits(), addr_mut(&mut *m)];
                let got = jit_run(&p, &args, &params(1000), bridges, &mut stats);
                assert_eq!(got, want, "{shape:?} k={k} n={n} x={x} {stats:?}");
                assert_eq!(m, want_m, "{shape:?} k={k} n={n} x={x} {stats:?}");
                if n > 1 {
                    assert_eq!(stats.loops, 1, "{stats:?}");
                }
            }
        }
    }
}

#[test]
fn floats_fold_on_greens_and_the_rest_is_recorded() {
    let t = tables();
    let mut m = new_m(Shape::B(5));
    let args = [3u64, 10, 0.0f64.to_bits(), addr_mut(&mut *m)];
    let (tr, _) = closed(metainterp::trace_loop(t, 0, &args, &params(1000)));
    let text = trace::format_trace(&tr, t).replace(&format!("0x{:x}", addr(&*m)), "M");
    // `(k as f64) * 0.5` is folded (1.5); `n as f64` and everything from
    // the reds is recorded, once: the second `n & 3` is the first one, and
    // the Vec's header is read again after the `vec_push` only (the raw
    // `store`s change no Vec header).
    let expected = "\
[i0, f1, r2]
f3 = cast/i64->f64(i0)
f4 = float_mul(f3, 1.5)
f5 = float_add(f1, f4)
i6 = float_lt(f5, 1000000000.0)
guard_true(i6) [i0, i6, f5, r2] #0
f8 = float_sub(f5, 0.25)
r9 = fieldaddr<M.s>(r2)
r10 = string_ptr(r9)
i11 = string_len(r9)
i12 = int_and/i64(i0, 3)
i13 = getitem<[u8]>(r10, i12)
i14 = cast/u8->i64(i13)
r15 = fieldaddr<M.v>(r2)
vec_push<Vec<i64>>(r15, i14)
i17 = vec_len<Vec<i64>>(r15)
i18 = int_sub/usize(i17, 1)
r19 = vec_ptr<Vec<i64>>(r15)
r20 = itemaddr<Vec<i64>>(r19, i18)
i21 = load/i64(r20)
i22 = int_mul/i64(i21, 2)
store/i64(r20, i22)
r24 = itemaddr<Vec<i64>>(r19, 0)
i25 = load/i64(r24)
i26 = int_add/i64(i25, 1)
store/i64(r24, i26)
r28 = fieldaddr<M.shape>(r2)
i29 = enum_tag<Shape>(r28)
guard_value(i29, 1) [i0, i29, f8, r2, r28] #1
i31 = getfield<Shape::B.0>(r28)
i32 = getfield<M.hits>(r2)
i33 = int_add/i64(i32, i31)
setfield<M.hits>(r2, i33)
r35 = fieldaddr<M.buf>(r2)
i36 = cast/i64->u16(i0)
setitem<[u16]>(r35, i12, i36)
i38 = int_sub/i64(i0, 1)
i39 = int_gt/i64(i38, 0)
guard_true(i39) [i38, i39, f8, r2] #2
jump(i38, f8, r2)
";
    assert_eq!(text, expected);
}
