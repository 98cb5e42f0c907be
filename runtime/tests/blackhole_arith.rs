//! The blackhole's arithmetic on hand-built jitcodes: integer operations
//! at every width and signedness, floats and casts, each checked against
//! the native Rust it stands for.

// The native reference macros cast every type to i64, i64 included.
#![allow(clippy::unnecessary_cast, clippy::char_lit_as_u8)]

use metatrace_runtime::blackhole;
use metatrace_runtime::executor as ops;
use metatrace_runtime::jitcode::*;
use metatrace_testkit::insn;
use metatrace_testkit::ops::CMP_OPS;

use metatrace_testkit::fixture::*;
use metatrace_testkit::jitcode::*;

// ---------------------------------------------------------------------------
// Integer operations, checked against native Rust.

fn bh_bin(op: IntBinOp, ty: IntTy, a: i64, b: i64) -> i64 {
    let mut c = Code::new("bin", [3, 0, 0], vec![ki(0), ki(1)], vec![Kind::Int]);
    c.push(insn::int_bin(op, ty, 0, 1, 2));
    c.push(insn::ret(vec![ki(2)]));
    run1(c, &[a as u64, b as u64])[0] as i64
}

fn bh_cmp(op: CmpOp, ty: IntTy, a: i64, b: i64) -> i64 {
    let mut c = Code::new("cmp", [3, 0, 0], vec![ki(0), ki(1)], vec![Kind::Int]);
    c.push(insn::int_cmp(op, ty, 0, 1, 2));
    c.push(insn::ret(vec![ki(2)]));
    run1(c, &[a as u64, b as u64])[0] as i64
}

fn bh_unary(neg: bool, ty: IntTy, a: i64) -> i64 {
    let mut c = Code::new("un", [2, 0, 0], vec![ki(0)], vec![Kind::Int]);
    c.push(if neg {
        Insn::IntNeg { ty, a: 0, dst: 1 }
    } else {
        Insn::IntNot { ty, a: 0, dst: 1 }
    });
    c.push(insn::ret(vec![ki(1)]));
    run1(c, &[a as u64])[0] as i64
}

#[test]
fn int_wraps_at_each_width_and_signedness() {
    use IntBinOp::*;
    use IntTy::*;
    assert_eq!(bh_bin(Add, U8, 200, 100), 44);
    assert_eq!(bh_bin(Sub, U8, 3, 5), 254);
    assert_eq!(bh_bin(Add, I8, 127, 1), -128);
    assert_eq!(
        bh_bin(Mul, I16, 300, 300),
        (300i16).wrapping_mul(300) as i64
    );
    assert_eq!(bh_bin(Add, U16, 65535, 1), 0);
    assert_eq!(bh_bin(Add, I32, i32::MAX as i64, 1), i32::MIN as i64);
    assert_eq!(bh_bin(Mul, U32, 0xffff_ffff, 2), 0xffff_fffe);
    assert_eq!(bh_bin(Add, I64, i64::MAX, 1), i64::MIN);
    assert_eq!(bh_bin(Add, U64, -1, 1), 0);
    assert_eq!(bh_bin(Sub, Usize, 0, 1), -1); // usize::MAX as the i64 pattern
    assert_eq!(bh_unary(true, I8, -128), -128);
    assert_eq!(bh_unary(true, U8, 1), 255);
    assert_eq!(bh_unary(true, I64, i64::MIN), i64::MIN);
    assert_eq!(bh_unary(false, U8, 0), 255);
    assert_eq!(bh_unary(false, I8, 0), -1);
    assert_eq!(bh_unary(false, U32, 0xf0), 0xffff_ff0f);
    assert_eq!(bh_unary(false, U64, 0), -1);
    assert_eq!(bh_bin(Xor, U8, 0xff, 0x0f), 0xf0);
    assert_eq!(bh_bin(And, I8, -1, 0x7f), 0x7f);
    assert_eq!(bh_bin(Or, I16, -32768, 1), -32767);
}

#[test]
fn unsigned_compares_above_i64_max() {
    use CmpOp::*;
    let big = (i64::MAX as u64 + 1) as i64; // 2^63 as u64
    assert_eq!(bh_cmp(Gt, IntTy::U64, big, i64::MAX), 1);
    assert_eq!(bh_cmp(Gt, IntTy::I64, big, i64::MAX), 0);
    assert_eq!(bh_cmp(Lt, IntTy::Usize, 1, -1), 1);
    assert_eq!(bh_cmp(Lt, IntTy::Isize, 1, -1), 0);
    assert_eq!(bh_cmp(Ge, IntTy::U64, -1, -1), 1);
    assert_eq!(bh_cmp(Ne, IntTy::U8, 255, 255), 0);
    assert_eq!(bh_cmp(Le, IntTy::I8, -128, 127), 1);
    assert_eq!(bh_cmp(Eq, IntTy::I32, 5, 5), 1);
}

#[test]
fn shifts_take_the_amount_modulo_the_width() {
    use IntBinOp::*;
    use IntTy::*;
    assert_eq!(bh_bin(Shl, U8, 1, 9), 2);
    assert_eq!(bh_bin(Shl, U8, 0x81, 1), 2);
    assert_eq!(bh_bin(Shl, I8, 1, 7), -128);
    assert_eq!(bh_bin(Shr, I32, -64, 33), -32);
    assert_eq!(bh_bin(Shr, U32, 0xffff_ffff, 36), 0x0fff_ffff);
    assert_eq!(bh_bin(Shr, I8, -16, 2), -4);
    assert_eq!(bh_bin(Shr, U8, 0xf0, 4), 0x0f);
    assert_eq!(bh_bin(Shl, I64, 1, 64), 1);
    assert_eq!(bh_bin(Shl, U32, 1, -1), 1 << 31); // amount from a negative i64
    assert_eq!(bh_bin(Shr, U64, -1, 63), 1);
    assert_eq!(bh_bin(Shr, I64, -1, 63), -1);
    assert_eq!(bh_bin(Shr, U16, 0x8000, 15 + 16), 1);
    // A constant amount.
    let mut c = Code::new("shl", [2, 0, 0], vec![ki(0)], vec![Kind::Int]);
    let nine = c.ci(9);
    c.push(insn::int_bin(Shl, U16, 0, nine, 1));
    c.push(insn::ret(vec![ki(1)]));
    assert_eq!(run1(c, &[0x00ff])[0], 0xfe00);
}

#[test]
fn division_semantics() {
    use IntBinOp::*;
    use IntTy::*;
    assert_eq!(bh_bin(Div, I32, -7, 2), -3);
    assert_eq!(bh_bin(Rem, I32, -7, 2), -1);
    assert_eq!(bh_bin(Rem, I32, 7, -2), 1);
    assert_eq!(bh_bin(Div, U8, 255, 2), 127);
    assert_eq!(bh_bin(Div, U64, -1, 2), (u64::MAX / 2) as i64);
    assert_eq!(bh_bin(Rem, U64, -1, 10), (u64::MAX % 10) as i64);
    assert_eq!(bh_bin(Div, I64, -1, 2), 0);
    // MIN / -1 and division by zero never panic in the executor (the
    // jitcode checks them before): wrapped results, and 0.
    assert_eq!(bh_bin(Div, I8, -128, -1), -128);
    assert_eq!(bh_bin(Rem, I8, -128, -1), 0);
    assert_eq!(bh_bin(Div, I64, i64::MIN, -1), i64::MIN);
    assert_eq!(bh_bin(Rem, I64, i64::MIN, -1), 0);
    assert_eq!(bh_bin(Div, U32, 5, 0), 0);
    assert_eq!(bh_bin(Rem, I16, 5, 0), 0);
}

#[rustfmt::skip]
const RAW_SAMPLES: [i64; 22] = [
    0, 1, 2, 3, 7, 8, 9, -1, -2, -7, 63, 64, 127, 128, 255, 256, -128, -129, 65535, 0x7fff_ffff,
    i64::MAX, i64::MIN,
];

fn samples(ty: IntTy) -> Vec<i64> {
    let mut v: Vec<i64> = RAW_SAMPLES.iter().map(|&x| ty.wrap(x as i128)).collect();
    v.push(ty.wrap(0x1234_5678_9abc_def0));
    v.push(ty.wrap(u32::MAX as i128));
    v.push(ty.wrap(1i128 << 31));
    v.sort();
    v.dedup();
    v
}

/// Run `body` with the canonical value(s) as the native type `ty`.
macro_rules! native_int {
    ($ty:expr, $v:expr, |$x:ident| $body:expr) => {
        native_int!(@each $ty, |T| {
            let $x = $v as T;
            $body
        })
    };
    ($ty:expr, $a:expr, $b:expr, |$x:ident, $y:ident| $body:expr) => {
        native_int!(@each $ty, |T| {
            let $x = $a as T;
            let $y = $b as T;
            $body
        })
    };
    // `$e` with `T` the native type of `ty`.
    (@each $ty:expr, |$t:ident| $e:block) => {{
        macro_rules! with {
            ($t2:ty) => {{
                type $t = $t2;
                $e
            }};
        }
        match $ty {
            IntTy::I8 => with!(i8),
            IntTy::I16 => with!(i16),
            IntTy::I32 => with!(i32),
            IntTy::I64 => with!(i64),
            IntTy::Isize => with!(isize),
            IntTy::U8 => with!(u8),
            IntTy::U16 => with!(u16),
            IntTy::U32 => with!(u32),
            IntTy::U64 => with!(u64),
            IntTy::Usize => with!(usize),
        }
    }};
}

/// `x as to` natively, canonical.
macro_rules! as_int {
    ($x:expr, $to:expr) => {
        match $to {
            IntTy::I8 => $x as i8 as i64,
            IntTy::I16 => $x as i16 as i64,
            IntTy::I32 => $x as i32 as i64,
            IntTy::I64 => $x as i64,
            IntTy::Isize => $x as isize as i64,
            IntTy::U8 => $x as u8 as i64,
            IntTy::U16 => $x as u16 as i64,
            IntTy::U32 => $x as u32 as i64,
            IntTy::U64 => $x as u64 as i64,
            IntTy::Usize => $x as usize as i64,
        }
    };
}

fn native_bin(op: IntBinOp, ty: IntTy, a: i64, b: i64) -> i64 {
    native_int!(ty, a, b, |x, y| {
        let r = match op {
            IntBinOp::Add => x.wrapping_add(y),
            IntBinOp::Sub => x.wrapping_sub(y),
            IntBinOp::Mul => x.wrapping_mul(y),
            IntBinOp::Div => {
                if y == 0 {
                    0
                } else {
                    x.wrapping_div(y)
                }
            }
            IntBinOp::Rem => {
                if y == 0 {
                    0
                } else {
                    x.wrapping_rem(y)
                }
            }
            IntBinOp::And => x & y,
            IntBinOp::Or => x | y,
            IntBinOp::Xor => x ^ y,
            IntBinOp::Shl => x.wrapping_shl(b as u32),
            IntBinOp::Shr => x.wrapping_shr(b as u32),
        };
        r as i64
    })
}

fn native_cmp(op: CmpOp, ty: IntTy, a: i64, b: i64) -> bool {
    native_int!(ty, a, b, |x, y| {
        match op {
            CmpOp::Eq => x == y,
            CmpOp::Ne => x != y,
            CmpOp::Lt => x < y,
            CmpOp::Le => x <= y,
            CmpOp::Gt => x > y,
            CmpOp::Ge => x >= y,
        }
    })
}

#[test]
fn int_ops_match_native_rust_on_all_types() {
    use IntBinOp::*;
    for ty in IntTy::ALL {
        let vals = samples(ty);
        for &a in &vals {
            assert_eq!(
                ops::int_neg(ty, a),
                native_int!(ty, a, |x| x.wrapping_neg() as i64),
                "neg {ty:?} {a}"
            );
            assert_eq!(
                ops::int_not(ty, a),
                native_int!(ty, a, |x| (!x) as i64),
                "not {ty:?} {a}"
            );
            for &b in &vals {
                for op in [Add, Sub, Mul, Div, Rem, And, Or, Xor, Shl, Shr] {
                    let r = ops::int_bin(op, ty, a, b);
                    assert_eq!(r, native_bin(op, ty, a, b), "{op:?} {ty:?} {a} {b}");
                    assert_eq!(r, ty.wrap(r as i128), "canonical {op:?} {ty:?} {a} {b}");
                }
                for op in CMP_OPS {
                    assert_eq!(
                        ops::int_cmp(op, ty, a, b),
                        native_cmp(op, ty, a, b),
                        "{op:?} {ty:?} {a} {b}"
                    );
                }
            }
        }
    }
}

#[test]
fn shift_amount_of_any_int_type() {
    // `x << n` with n of another type: n's canonical value, modulo the width.
    for amount_ty in IntTy::ALL {
        for n in samples(amount_ty) {
            let expect = 0x81u8.wrapping_shl(n as u32) as i64;
            assert_eq!(
                ops::int_bin(IntBinOp::Shl, IntTy::U8, 0x81, n),
                expect,
                "{amount_ty:?} {n}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Floats and casts.

fn bh_fbin(op: FloatBinOp, a: f64, b: f64) -> f64 {
    let mut c = Code::new("fbin", [0, 0, 3], vec![kf(0), kf(1)], vec![Kind::Float]);
    c.push(insn::float_bin(op, 0, 1, 2));
    c.push(insn::ret(vec![kf(2)]));
    f64::from_bits(run1(c, &[a.to_bits(), b.to_bits()])[0])
}

#[test]
fn float_ops() {
    use FloatBinOp::*;
    assert_eq!(bh_fbin(Add, 0.1, 0.2), 0.1 + 0.2);
    assert_eq!(bh_fbin(Sub, 1.0, 3.5), -2.5);
    assert_eq!(bh_fbin(Mul, 1e300, 1e300), f64::INFINITY);
    assert_eq!(bh_fbin(Div, 1.0, 0.0), f64::INFINITY);
    assert!(bh_fbin(Div, 0.0, 0.0).is_nan());
    assert_eq!(bh_fbin(Rem, 7.5, 2.0), 1.5);
    assert_eq!(bh_fbin(Rem, -7.5, 2.0), -1.5);

    let mut c = Code::new(
        "fneg",
        [6, 0, 2],
        vec![kf(0), kf(1)],
        vec![
            Kind::Float,
            Kind::Int,
            Kind::Int,
            Kind::Int,
            Kind::Int,
            Kind::Int,
            Kind::Int,
        ],
    );
    c.push(Insn::FloatNeg { a: 0, dst: 0 });
    for (k, op) in CMP_OPS.into_iter().enumerate() {
        c.push(insn::float_cmp(op, 0, 1, k as u16));
    }
    c.push(insn::ret([vec![kf(0)], kis(0..6)].concat()));
    let t = tables(vec![c]);
    let run = |a: f64, b: f64| blackhole::call(t, 0, &[a.to_bits(), b.to_bits()]);
    // -(1.0) vs 2.0
    assert_eq!(run(1.0, 2.0), vec![(-1.0f64).to_bits(), 0, 1, 1, 1, 0, 0]);
    // -(-2.0) vs 2.0
    assert_eq!(run(-2.0, 2.0), vec![2.0f64.to_bits(), 1, 0, 0, 1, 0, 1]);
    // NaN: everything false but ne.
    let r = run(f64::NAN, 2.0);
    assert!(f64::from_bits(r[0]).is_nan());
    assert_eq!(&r[1..], &[0, 1, 0, 0, 0, 0]);
    // -(0.0) is -0.0, which equals 0.0.
    let r = run(0.0, 0.0);
    assert_eq!(r[0], (-0.0f64).to_bits());
    assert_eq!(r[1], 1);
}

fn bh_cast(from: ScalarTy, to: ScalarTy, v: u64) -> u64 {
    let mut regs = [0u16; 3];
    regs[from.kind().index()] += 1;
    let dst = regs[to.kind().index()];
    regs[to.kind().index()] += 1;
    let mut c = Code::new(
        "cast",
        regs,
        vec![KReg {
            kind: from.kind(),
            reg: 0,
        }],
        vec![to.kind()],
    );
    c.push(insn::cast(from, to, 0, dst));
    c.push(Insn::Return {
        values: vec![KReg {
            kind: to.kind(),
            reg: dst,
        }],
    });
    run1(c, &[v])[0]
}

#[test]
fn casts_in_every_direction() {
    use ScalarTy::*;
    let i = |t| Int(t);
    // int -> int
    assert_eq!(bh_cast(i(IntTy::I64), i(IntTy::U8), 0x1ff), 0xff);
    assert_eq!(
        bh_cast(i(IntTy::I8), i(IntTy::U64), (-1i64) as u64),
        u64::MAX
    );
    assert_eq!(bh_cast(i(IntTy::I8), i(IntTy::U16), (-1i64) as u64), 0xffff);
    assert_eq!(
        bh_cast(i(IntTy::U8), i(IntTy::I8), 200),
        (200u8 as i8) as i64 as u64
    );
    assert_eq!(
        bh_cast(i(IntTy::U64), i(IntTy::I32), u64::MAX),
        (-1i64) as u64
    );
    assert_eq!(
        bh_cast(i(IntTy::U32), i(IntTy::I64), 0xffff_ffff),
        0xffff_ffff
    );
    // bool/char -> int, u8 -> char
    assert_eq!(bh_cast(Bool, i(IntTy::I32), 1), 1);
    assert_eq!(bh_cast(Char, i(IntTy::U32), 'é' as u64), 0xe9);
    assert_eq!(bh_cast(Char, i(IntTy::U8), '€' as u64), ('€' as u8) as u64);
    assert_eq!(
        bh_cast(Char, i(IntTy::I8), 'ÿ' as u64),
        ('ÿ' as i8) as i64 as u64
    );
    assert_eq!(bh_cast(i(IntTy::U8), Char, 0x41), 'A' as u64);
    // int -> f64, by the source's signedness
    assert_eq!(
        bh_cast(i(IntTy::I64), F64, (-3i64) as u64),
        (-3.0f64).to_bits()
    );
    assert_eq!(
        bh_cast(i(IntTy::U64), F64, u64::MAX),
        (u64::MAX as f64).to_bits()
    );
    assert_eq!(
        bh_cast(i(IntTy::I8), F64, (-128i64) as u64),
        (-128.0f64).to_bits()
    );
    assert_eq!(
        bh_cast(i(IntTy::U64), F64, (1u64 << 53) + 1),
        (((1u64 << 53) + 1) as f64).to_bits()
    );
    // f64 -> int saturates, NaN -> 0
    let f = |x: f64| x.to_bits();
    assert_eq!(bh_cast(F64, i(IntTy::U8), f(300.7)), 255);
    assert_eq!(bh_cast(F64, i(IntTy::U8), f(-5.0)), 0);
    assert_eq!(bh_cast(F64, i(IntTy::I8), f(-1000.0)), (-128i64) as u64);
    assert_eq!(bh_cast(F64, i(IntTy::I64), f(1e20)), i64::MAX as u64);
    assert_eq!(
        bh_cast(F64, i(IntTy::I64), f(f64::NEG_INFINITY)),
        i64::MIN as u64
    );
    assert_eq!(bh_cast(F64, i(IntTy::U64), f(1e20)), u64::MAX);
    assert_eq!(bh_cast(F64, i(IntTy::U32), f(-1.5)), 0);
    assert_eq!(bh_cast(F64, i(IntTy::I32), f(f64::NAN)), 0);
    assert_eq!(bh_cast(F64, i(IntTy::I32), f(-2.9)), (-2i64) as u64);
    assert_eq!(bh_cast(F64, F64, f(2.5)), f(2.5));
    // refs
    assert_eq!(bh_cast(Ref, Ref, 0x1000), 0x1000);
    assert_eq!(bh_cast(Ref, i(IntTy::Usize), 0x1000), 0x1000);
}

#[test]
fn casts_match_native_rust() {
    for from in IntTy::ALL {
        for v in samples(from) {
            for to in IntTy::ALL {
                let expect = native_int!(from, v, |x| as_int!(x, to));
                let got = ops::cast(ScalarTy::Int(from), ScalarTy::Int(to), v as u64) as i64;
                assert_eq!(got, expect, "{v} as {from:?} as {to:?}");
            }
            let expect = native_int!(from, v, |x| x as f64);
            assert_eq!(
                ops::cast(ScalarTy::Int(from), ScalarTy::F64, v as u64),
                expect.to_bits(),
                "{v}: {from:?} as f64"
            );
        }
    }
    let floats = [
        0.0,
        -0.0,
        0.5,
        -0.5,
        1.9,
        -1.9,
        127.5,
        128.0,
        -129.0,
        255.9,
        256.0,
        65535.5,
        -32768.9,
        4294967295.7,
        4294967296.0,
        9.3e18,
        -9.3e18,
        1.9e19,
        f64::MAX,
        f64::MIN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        f64::MIN_POSITIVE,
    ];
    for x in floats {
        for to in IntTy::ALL {
            let got = ops::cast(ScalarTy::F64, ScalarTy::Int(to), x.to_bits()) as i64;
            assert_eq!(got, as_int!(x, to), "{x} as {to:?}");
        }
    }
    for c in ['\0', 'a', 'é', '€', '\u{10ffff}'] {
        for to in IntTy::ALL {
            assert_eq!(
                ops::cast(ScalarTy::Char, ScalarTy::Int(to), c as u64) as i64,
                as_int!(c, to),
                "{c:?} as {to:?}"
            );
        }
    }
    for b in [false, true] {
        for to in IntTy::ALL {
            assert_eq!(
                ops::cast(ScalarTy::Bool, ScalarTy::Int(to), b as u64) as i64,
                as_int!(b, to)
            );
        }
    }
    for u in 0u8..=255 {
        assert_eq!(
            ops::cast(ScalarTy::Int(IntTy::U8), ScalarTy::Char, u as u64),
            (u as char) as u64
        );
    }
}
