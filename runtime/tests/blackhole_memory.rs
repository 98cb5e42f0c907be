//! The blackhole's memory operations on real native data: fields,
//! loads and stores, enums, Vecs, slices and strings.

#![allow(clippy::unnecessary_cast, clippy::char_lit_as_u8)]

use metatrace_runtime::blackhole;
use metatrace_runtime::executor as ops;
use metatrace_runtime::jitcode::*;

mod common;
use common::fixture::*;
use common::*;

// ---------------------------------------------------------------------------
// Memory: fields, loads and stores, enums, Vecs, slices, strings.

fn point() -> Box<Point> {
    Box::new(Point {
        x: -5,
        small: -2,
        y: 200,
        flag: true,
        c: 'λ',
        z: 1.25,
        next: std::ptr::null(),
        inner: Inner { a: u64::MAX - 1 },
    })
}

#[test]
fn getfield_reads_every_scalar_type() {
    // read(p) -> (x, small, y, flag, c, z, next, inner.a)
    let mut c = Code::new(
        "read",
        [6, 2, 1],
        vec![kr(0)],
        vec![
            Kind::Int,
            Kind::Int,
            Kind::Int,
            Kind::Int,
            Kind::Int,
            Kind::Float,
            Kind::Ref,
            Kind::Int,
        ],
    );
    c.push(Insn::GetField {
        descr: F_X,
        base: 0,
        dst: 0,
    });
    c.push(Insn::GetField {
        descr: F_SMALL,
        base: 0,
        dst: 1,
    });
    c.push(Insn::GetField {
        descr: F_Y,
        base: 0,
        dst: 2,
    });
    c.push(Insn::GetField {
        descr: F_FLAG,
        base: 0,
        dst: 3,
    });
    c.push(Insn::GetField {
        descr: F_C,
        base: 0,
        dst: 4,
    });
    c.push(Insn::GetField {
        descr: F_Z,
        base: 0,
        dst: 0,
    });
    c.push(Insn::FieldAddr {
        descr: F_INNER,
        base: 0,
        dst: 1,
    });
    c.push(Insn::GetField {
        descr: F_INNER_A,
        base: 1,
        dst: 5,
    });
    c.push(Insn::GetField {
        descr: F_NEXT,
        base: 0,
        dst: 1,
    });
    c.push(Insn::Return {
        values: vec![ki(0), ki(1), ki(2), ki(3), ki(4), kf(0), kr(1), ki(5)],
    });
    let t = tables(vec![c]);
    let mut p = point();
    let other = point();
    p.next = &*other;
    let r = blackhole::call(t, 0, &[addr(&*p)]);
    assert_eq!(
        r,
        vec![
            (-5i64) as u64,
            (-2i64) as u64,
            200,
            1,
            'λ' as u64,
            1.25f64.to_bits(),
            addr(&*other),
            u64::MAX - 1
        ]
    );
}

#[test]
fn setfield_writes_memory() {
    // write(p, x, y, flag, c, z, q, a)
    let mut c = Code::new(
        "write",
        [6, 3, 1],
        vec![kr(0), ki(0), ki(1), ki(2), ki(3), kf(0), kr(1), ki(4)],
        vec![],
    );
    c.push(Insn::SetField {
        descr: F_X,
        base: 0,
        value: 0,
    });
    c.push(Insn::SetField {
        descr: F_Y,
        base: 0,
        value: 1,
    });
    c.push(Insn::SetField {
        descr: F_FLAG,
        base: 0,
        value: 2,
    });
    c.push(Insn::SetField {
        descr: F_C,
        base: 0,
        value: 3,
    });
    c.push(Insn::SetField {
        descr: F_Z,
        base: 0,
        value: 0,
    });
    c.push(Insn::SetField {
        descr: F_NEXT,
        base: 0,
        value: 1,
    });
    c.push(Insn::FieldAddr {
        descr: F_INNER,
        base: 0,
        dst: 2,
    });
    c.push(Insn::SetField {
        descr: F_INNER_A,
        base: 2,
        value: 4,
    });
    c.push(Insn::Return { values: vec![] });
    let t = tables(vec![c]);
    let mut p = point();
    let q = point();
    let r = blackhole::call(
        t,
        0,
        &[
            addr_mut(&mut *p),
            (-77i64) as u64,
            7,
            0,
            'z' as u64,
            (-0.5f64).to_bits(),
            addr(&*q),
            42,
        ],
    );
    assert!(r.is_empty());
    assert_eq!(p.x, -77);
    assert_eq!(p.small, -2, "neighbour untouched");
    assert_eq!(p.y, 7);
    assert!(!p.flag);
    assert_eq!(p.c, 'z');
    assert_eq!(p.z, -0.5);
    assert_eq!(p.next, &*q as *const Point);
    assert_eq!(p.inner.a, 42);
}

#[test]
fn load_and_store_by_width() {
    let types = [
        ScalarTy::Int(IntTy::I8),
        ScalarTy::Int(IntTy::U8),
        ScalarTy::Int(IntTy::I16),
        ScalarTy::Int(IntTy::U16),
        ScalarTy::Int(IntTy::I32),
        ScalarTy::Int(IntTy::U32),
        ScalarTy::Int(IntTy::I64),
        ScalarTy::Int(IntTy::U64),
        ScalarTy::Int(IntTy::Isize),
        ScalarTy::Int(IntTy::Usize),
        ScalarTy::Bool,
        ScalarTy::Char,
        ScalarTy::F64,
        ScalarTy::Ref,
    ];
    for ty in types {
        // copy(src, dst) { *dst = *src } and return *src
        let k = ty.kind();
        let mut regs = [0u16; 3];
        regs[Kind::Ref.index()] = 2;
        regs[k.index()] += 1;
        let v = if k == Kind::Ref { 2 } else { 0 };
        let mut c = Code::new("copy", regs, vec![kr(0), kr(1)], vec![k]);
        c.push(Insn::Load {
            ty,
            addr: 0,
            dst: v,
        });
        c.push(Insn::Store {
            ty,
            addr: 1,
            value: v,
        });
        c.push(Insn::Return {
            values: vec![KReg { kind: k, reg: v }],
        });
        let t = tables(vec![c]);
        let src: [u8; 16] = [
            0xfe, 0xff, 0xff, 0x8f, 0x10, 0, 0, 0x80, 1, 2, 3, 4, 5, 6, 7, 8,
        ];
        let src = match ty {
            ScalarTy::Bool => [1; 16],
            ScalarTy::Char => {
                let mut s = [0xaa; 16];
                s[..4].copy_from_slice(&('😀' as u32).to_le_bytes());
                s
            }
            _ => src,
        };
        let mut dst = [0xaau8; 16];
        let r = blackhole::call(t, 0, &[addr(&src), addr_mut(&mut dst)])[0];
        let n = ty.size();
        assert_eq!(&dst[..n], &src[..n], "{ty:?}");
        assert!(
            dst[n..].iter().all(|&b| b == 0xaa),
            "{ty:?} wrote past its size"
        );
        let mut raw = [0u8; 8];
        raw[..n].copy_from_slice(&src[..n]);
        let expect = match ty {
            ScalarTy::Int(IntTy::I8) => src[0] as i8 as i64 as u64,
            ScalarTy::Int(IntTy::I16) => i16::from_le_bytes([src[0], src[1]]) as i64 as u64,
            ScalarTy::Int(IntTy::I32) => {
                i32::from_le_bytes(src[..4].try_into().unwrap()) as i64 as u64
            }
            _ => u64::from_le_bytes(raw),
        };
        assert_eq!(r, expect, "{ty:?}");
        assert_eq!(unsafe { ops::load(ty, addr(&src) as usize) }, expect);
    }
}

#[test]
fn enum_tag_and_variant_fields() {
    // tag(s) -> tag; rect_h(s) -> h (after setting it to h + 1); circle_r(s) -> r
    let mut tag = Code::new("tag", [1, 1, 0], vec![kr(0)], vec![Kind::Int]);
    tag.push(Insn::EnumTag {
        descr: E_SHAPE,
        addr: 0,
        dst: 0,
    });
    tag.push(Insn::Return {
        values: vec![ki(0)],
    });
    let mut h = Code::new("rect_h", [1, 1, 0], vec![kr(0)], vec![Kind::Int]);
    let one = h.ci(1);
    h.push(Insn::GetField {
        descr: F_RECT_H,
        base: 0,
        dst: 0,
    });
    h.push(Insn::IntBin {
        op: IntBinOp::Add,
        ty: IntTy::I32,
        a: 0,
        b: one,
        dst: 0,
    });
    h.push(Insn::SetField {
        descr: F_RECT_H,
        base: 0,
        value: 0,
    });
    h.push(Insn::Return {
        values: vec![ki(0)],
    });
    let mut r = Code::new("circle_r", [0, 1, 1], vec![kr(0)], vec![Kind::Float]);
    r.push(Insn::GetField {
        descr: F_CIRCLE_R,
        base: 0,
        dst: 0,
    });
    r.push(Insn::Return {
        values: vec![kf(0)],
    });
    let t = tables(vec![tag, h, r]);

    let mut shapes = [
        Shape::Empty,
        Shape::Circle(2.5),
        Shape::Rect { w: 3, h: i32::MAX },
    ];
    for (k, s) in shapes.iter().enumerate() {
        assert_eq!(blackhole::call(t, 0, &[addr(s)]), vec![k as u64]);
    }
    assert_eq!(
        blackhole::call(t, 2, &[addr(&shapes[1])]),
        vec![2.5f64.to_bits()]
    );
    let got = blackhole::call(t, 1, &[addr_mut(&mut shapes[2])]);
    assert_eq!(got, vec![i32::MIN as i64 as u64], "i32 add wraps");
    match shapes[2] {
        Shape::Rect { w, h } => assert_eq!((w, h), (3, i32::MIN)),
        _ => unreachable!(),
    }
}

#[test]
fn vec_operations_on_a_real_vec() {
    // f(v: &mut Vec<u8>, w: &mut Vec<i64>) -> (len v, v[1], pop tag, pop value, pop tag of empty w, its value, len w)
    //   v[2] = v[0] + v[1] (u8, wraps); v.push(7); x = v.pop(); v.push(x + 1);
    //   w.push(-3); w[0] = w[0] * 2; (t, y) = w.pop(); (t2, y2) = w.pop()
    let mut c = Code::new("vecs", [9, 3, 0], vec![kr(0), kr(1)], vec![Kind::Int; 9]);
    let zero = c.ci(0);
    let one = c.ci(1);
    let two = c.ci(2);
    let seven = c.ci(7);
    let minus3 = c.ci(-3);
    c.push(Insn::VecGetItem {
        descr: A_VU8,
        vec: 0,
        idx: zero,
        dst: 0,
    });
    c.push(Insn::VecGetItem {
        descr: A_VU8,
        vec: 0,
        idx: one,
        dst: 1,
    });
    c.push(Insn::IntBin {
        op: IntBinOp::Add,
        ty: IntTy::U8,
        a: 0,
        b: 1,
        dst: 0,
    });
    c.push(Insn::VecSetItem {
        descr: A_VU8,
        vec: 0,
        idx: two,
        value: 0,
    });
    c.push(Insn::VecPush {
        descr: A_VU8,
        vec: 0,
        value: seven,
    });
    c.push(Insn::VecPop {
        descr: A_VU8,
        vec: 0,
        tag: 2,
        value: 3,
    });
    c.push(Insn::IntBin {
        op: IntBinOp::Add,
        ty: IntTy::U8,
        a: 3,
        b: one,
        dst: 0,
    });
    c.push(Insn::VecPush {
        descr: A_VU8,
        vec: 0,
        value: 0,
    });
    c.push(Insn::VecLen {
        descr: A_VU8,
        vec: 0,
        dst: 0,
    });
    c.push(Insn::VecPush {
        descr: A_VI64,
        vec: 1,
        value: minus3,
    });
    c.push(Insn::VecGetItem {
        descr: A_VI64,
        vec: 1,
        idx: zero,
        dst: 4,
    });
    c.push(Insn::IntBin {
        op: IntBinOp::Mul,
        ty: IntTy::I64,
        a: 4,
        b: two,
        dst: 4,
    });
    c.push(Insn::VecSetItem {
        descr: A_VI64,
        vec: 1,
        idx: zero,
        value: 4,
    });
    c.push(Insn::VecPop {
        descr: A_VI64,
        vec: 1,
        tag: 4,
        value: 5,
    });
    c.push(Insn::VecPop {
        descr: A_VI64,
        vec: 1,
        tag: 6,
        value: 7,
    });
    c.push(Insn::VecLen {
        descr: A_VI64,
        vec: 1,
        dst: 8,
    });
    c.push(Insn::Return {
        values: vec![
            ki(0),
            ki(1),
            ki(2),
            ki(3),
            ki(4),
            ki(5),
            ki(6),
            ki(7),
            ki(8),
        ],
    });
    let t = tables(vec![c]);
    let mut v: Vec<u8> = vec![200, 100, 0];
    let mut w: Vec<i64> = vec![];
    let r = blackhole::call(t, 0, &[addr_mut(&mut v), addr_mut(&mut w)]);
    // len v = 4, v[1] = 100, pop -> (1, 7), w: push -3, *2 = -6, pop (1, -6), pop (0, 0), len 0
    assert_eq!(r, vec![4, 100, 1, 7, 1, (-6i64) as u64, 0, 0, 0]);
    assert_eq!(v, vec![200, 100, 44, 8]);
    assert!(w.is_empty());
    v.clear();
    w.push(1);
}

#[test]
fn vec_items_by_address_slices_and_floats() {
    // f(v: &Vec<i8>, s: &mut [u16] data ptr, pts: &Vec<Point>, fv: &mut Vec<f64>) ->
    //   (v[1] via itemaddr+load, (ptr,len) of v, s[2], pts[1].x, pop of fv)
    //   s[0] = s[2] + 1 (u16 wraps); fv.push(0.5)
    let mut c = Code::new(
        "items",
        [6, 6, 1],
        vec![kr(0), kr(1), kr(2), kr(3)],
        vec![
            Kind::Int,
            Kind::Ref,
            Kind::Int,
            Kind::Int,
            Kind::Int,
            Kind::Int,
            Kind::Float,
            Kind::Ref,
        ],
    );
    let zero = c.ci(0);
    let one = c.ci(1);
    let two = c.ci(2);
    let half = c.cf(0.5);
    c.push(Insn::VecItemAddr {
        descr: A_VI8,
        vec: 0,
        idx: one,
        dst: 4,
    });
    c.push(Insn::Load {
        ty: ScalarTy::Int(IntTy::I8),
        addr: 4,
        dst: 0,
    });
    c.push(Insn::VecAsSlice {
        descr: A_VI8,
        vec: 0,
        ptr: 5,
        len: 1,
    });
    c.push(Insn::SliceGetItem {
        descr: A_SLICE_U16,
        ptr: 1,
        idx: two,
        dst: 2,
    });
    c.push(Insn::IntBin {
        op: IntBinOp::Add,
        ty: IntTy::U16,
        a: 2,
        b: one,
        dst: 3,
    });
    c.push(Insn::SliceSetItem {
        descr: A_SLICE_U16,
        ptr: 1,
        idx: zero,
        value: 3,
    });
    c.push(Insn::VecItemAddr {
        descr: A_VPOINT,
        vec: 2,
        idx: one,
        dst: 4,
    });
    c.push(Insn::GetField {
        descr: F_X,
        base: 4,
        dst: 3,
    });
    c.push(Insn::SliceItemAddr {
        descr: A_SLICE_U16,
        ptr: 1,
        idx: one,
        dst: 4,
    });
    c.push(Insn::Load {
        ty: ScalarTy::Int(IntTy::U16),
        addr: 4,
        dst: 4,
    });
    c.push(Insn::VecPop {
        descr: A_VF64,
        vec: 3,
        tag: 5,
        value: 0,
    });
    c.push(Insn::VecPush {
        descr: A_VF64,
        vec: 3,
        value: half,
    });
    c.push(Insn::Return {
        values: vec![ki(0), kr(5), ki(1), ki(2), ki(3), ki(4), kf(0), kr(4)],
    });
    let t = tables(vec![c]);
    let v: Vec<i8> = vec![1, -100, 3];
    let mut s: [u16; 3] = [5, 9, 65535];
    let pts = vec![
        *point(),
        Point {
            x: 31337,
            ..*point()
        },
    ];
    let mut fv = vec![1.5f64];
    let r = blackhole::call(
        t,
        0,
        &[
            addr(&v),
            s.as_mut_ptr() as usize as u64,
            addr(&pts),
            addr_mut(&mut fv),
        ],
    );
    assert_eq!(r[0], (-100i64) as u64);
    assert_eq!(r[1], v.as_ptr() as usize as u64);
    assert_eq!(r[2], 3);
    assert_eq!(r[3], 65535);
    assert_eq!(r[4], 31337);
    assert_eq!(r[5], 9);
    assert_eq!(r[6], 1.5f64.to_bits());
    assert_eq!(r[7], &s[1] as *const u16 as usize as u64);
    assert_eq!(s, [0, 9, 65535], "u16 65535 + 1 wraps to 0");
    assert_eq!(fv, vec![0.5]);
}

#[test]
fn string_as_str() {
    let mut c = Code::new(
        "s",
        [2, 2, 0],
        vec![kr(0)],
        vec![Kind::Ref, Kind::Int, Kind::Int],
    );
    let idx = c.ci(4);
    c.push(Insn::StringAsStr {
        string: 0,
        ptr: 1,
        len: 0,
    });
    c.push(Insn::SliceGetItem {
        descr: A_VU8,
        ptr: 1,
        idx,
        dst: 1,
    });
    c.push(Insn::Return {
        values: vec![kr(1), ki(0), ki(1)],
    });
    let t = tables(vec![c]);
    let s = String::from("héllo, world");
    let r = blackhole::call(t, 0, &[addr(&s)]);
    assert_eq!(
        r,
        vec![
            s.as_ptr() as usize as u64,
            s.len() as u64,
            s.as_bytes()[4] as u64
        ]
    );
}
