//! The blackhole tests' fixture: native data (structs, an enum, Vecs),
//! the descrs that describe it, residual-call shims, and `tables()` to
//! wrap jitcodes into `Tables` with all of them.
//!
//! Not merged with `backend`'s tables, although both describe a
//! `#[repr(C)]` struct, `Shape` and a few Vecs: the data differ (`Point`
//! with a `*const` and an inner struct here, `Rec` with every scalar type
//! there), so do the residual calls of the same name (`reenter` runs a
//! jitcode in the blackhole here, a compiled loop there), and the descr
//! indices are spelled by constants whose names collide with different
//! values (`F_RECT_H`, `A_VI64`, `C_BUMP`, ...) in `blackhole_memory.rs`
//! and `backend.rs`. One table would mean renumbering those tests'
//! descrs and checking their printed expectations; `vec_shims!` and the
//! `Shape` shims (`crate::shape`) are shared.

use crate::jitcode::{array, call_descr, field_at, make_tables, Code, Descrs};
pub use crate::shape::*;
use crate::vec_array;
use metatrace_runtime::blackhole;
use metatrace_runtime::jitcode::*;
use std::mem::{offset_of, size_of};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

#[repr(C)]
pub struct Inner {
    pub a: u64,
}

#[repr(C)]
pub struct Point {
    pub x: i32,
    pub small: i16,
    pub y: u8,
    pub flag: bool,
    pub c: char,
    pub z: f64,
    pub next: *const Point,
    pub inner: Inner,
}

// Descr indices.
pub const F_X: u16 = 0;
pub const F_SMALL: u16 = 1;
pub const F_Y: u16 = 2;
pub const F_FLAG: u16 = 3;
pub const F_C: u16 = 4;
pub const F_Z: u16 = 5;
pub const F_NEXT: u16 = 6;
pub const F_INNER: u16 = 7;
pub const F_INNER_A: u16 = 8;
pub const F_RECT_H: u16 = 9;
pub const F_CIRCLE_R: u16 = 10;

pub const A_VU8: u16 = 0;
pub const A_VI64: u16 = 1;
pub const A_SLICE_U16: u16 = 2;
pub const A_VPOINT: u16 = 3;
pub const A_VF64: u16 = 4;
pub const A_VI8: u16 = 5;

pub const E_SHAPE: u16 = 0;

pub const C_DIVMOD: u16 = 0;
pub const C_SUM_SCALED: u16 = 1;
pub const C_BUMP: u16 = 2;
pub const C_REENTER: u16 = 3;

pub const S_BOOM: u16 = 0;

pub fn fields() -> Vec<FieldDescr> {
    let f = field_at;
    use IntTy::*;
    let mut v = vec![
        f("Point.x", Some(ScalarTy::Int(I32)), offset_of!(Point, x)),
        f(
            "Point.small",
            Some(ScalarTy::Int(I16)),
            offset_of!(Point, small),
        ),
        f("Point.y", Some(ScalarTy::Int(U8)), offset_of!(Point, y)),
        f("Point.flag", Some(ScalarTy::Bool), offset_of!(Point, flag)),
        f("Point.c", Some(ScalarTy::Char), offset_of!(Point, c)),
        f("Point.z", Some(ScalarTy::F64), offset_of!(Point, z)),
        f("Point.next", Some(ScalarTy::Ref), offset_of!(Point, next)),
        f("Point.inner", None, offset_of!(Point, inner)),
        f("Inner.a", Some(ScalarTy::Int(U64)), offset_of!(Inner, a)),
    ];
    v.extend(shape_fields());
    v
}

pub fn arrays() -> Vec<ArrayDescr> {
    unsafe fn point_len(v: usize) -> usize {
        unsafe { (*(v as *const Vec<Point>)).len() }
    }
    unsafe fn point_ptr(v: usize) -> usize {
        unsafe { (*(v as *mut Vec<Point>)).as_mut_ptr() as usize }
    }
    vec![
        vec_array!(u8, ScalarTy::Int(IntTy::U8), |x| x as u64, |x| x as u8),
        vec_array!(i64, ScalarTy::Int(IntTy::I64), |x| x as u64, |x| x as i64),
        array("[u16]", Some(ScalarTy::Int(IntTy::U16)), 2, None),
        array(
            "Vec<Point>",
            None,
            size_of::<Point>(),
            Some(VecShims {
                len: point_len,
                ptr: point_ptr,
                push: None,
                pop: None,
                slots: Some(crate::slot_shims!(Point)),
            }),
        ),
        vec_array!(f64, ScalarTy::F64, |x| x.to_bits(), f64::from_bits),
        vec_array!(i8, ScalarTy::Int(IntTy::I8), |x| x as i64 as u64, |x| x
            as i8),
    ]
}

/// `fn divmod(a: i64, b: i64) -> (i64, i64)`.
pub unsafe fn divmod_shim(args: &[u64], results: &mut [u64]) {
    let (a, b) = (args[0] as i64, args[1] as i64);
    results[0] = a.div_euclid(b) as u64;
    results[1] = a.rem_euclid(b) as u64;
}

/// `fn sum_scaled(v: &Vec<i64>, k: f64) -> (i64, f64)`.
pub unsafe fn sum_scaled_shim(args: &[u64], results: &mut [u64]) {
    let v = unsafe { &*(args[0] as usize as *const Vec<i64>) };
    let k = f64::from_bits(args[1]);
    let s: i64 = v.iter().sum();
    results[0] = s as u64;
    results[1] = (s as f64 * k).to_bits();
}

pub static BUMPS: AtomicU64 = AtomicU64::new(0);

/// `fn bump()`.
pub unsafe fn bump_shim(args: &[u64], results: &mut [u64]) {
    assert!(args.is_empty() && results.is_empty());
    BUMPS.fetch_add(1, Ordering::SeqCst);
}

pub static REENTER: OnceLock<&'static Tables> = OnceLock::new();

/// `fn reenter(n: i64) -> i64`: runs jitcode 1 of the registered tables
/// in the blackhole, from inside a residual call.
pub unsafe fn reenter_shim(args: &[u64], results: &mut [u64]) {
    let t = REENTER.get().expect("tables registered");
    results[0] = blackhole::call(t, 1, &[args[0]])[0];
}

pub fn calls() -> Vec<CallDescr> {
    use Kind::*;
    let c = call_descr;
    vec![
        c("divmod", divmod_shim, &[Int, Int], &[Int, Int]),
        c("sum_scaled", sum_scaled_shim, &[Ref, Float], &[Int, Float]),
        c("bump", bump_shim, &[], &[]),
        c("reenter", reenter_shim, &[Int], &[Int]),
    ]
}

pub fn tables(codes: Vec<Code>) -> &'static Tables {
    make_tables(
        codes,
        Descrs {
            fields: fields(),
            arrays: arrays(),
            enums: vec![shape_enum()],
            calls: calls(),
            drivers: vec![DriverDescr {
                portal: "test::portal",
                jitcode: 0,
                greens: &[Kind::Int],
                reds: &[Kind::Ref],
                native: None,
            }],
            strings: vec![
                "boom: index out of bounds: the len is 3 but the index is 7",
                "unused",
            ],
        },
    )
}

pub fn run1(code: Code, args: &[u64]) -> Vec<u64> {
    blackhole::call(tables(vec![code]), 0, args)
}
