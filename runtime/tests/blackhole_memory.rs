//! The blackhole's memory operations on real native data: fields,
//! loads and stores, enums, Vecs, slices and strings.

#![allow(clippy::unnecessary_cast, clippy::char_lit_as_u8)]

use metatrace_runtime::blackhole;
use metatrace_runtime::executor as ops;
use metatrace_runtime::jitcode::*;
use metatrace_testkit::insn;

use metatrace_testkit::fixture::*;
use metatrace_testkit::jitcode::*;

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
    c.push(insn::get_field(F_X, 0, 0));
    c.push(insn::get_field(F_SMALL, 0, 1));
    c.push(insn::get_field(F_Y, 0, 2));
    c.push(insn::get_field(F_FLAG, 0, 3));
    c.push(insn::get_field(F_C, 0, 4));
    c.push(insn::get_field(F_Z, 0, 0));
    c.push(insn::field_addr(F_INNER, 0, 1));
    c.push(insn::get_field(F_INNER_A, 1, 5));
    c.push(insn::get_field(F_NEXT, 0, 1));
    c.push(insn::ret([kis(0..5), vec![kf(0), kr(1), ki(5)]].concat()));
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
    c.push(insn::set_field(F_X, 0, 0));
    c.push(insn::set_field(F_Y, 0, 1));
    c.push(insn::set_field(F_FLAG, 0, 2));
    c.push(insn::set_field(F_C, 0, 3));
    c.push(insn::set_field(F_Z, 0, 0));
    c.push(insn::set_field(F_NEXT, 0, 1));
    c.push(insn::field_addr(F_INNER, 0, 2));
    c.push(insn::set_field(F_INNER_A, 2, 4));
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
        c.push(insn::load(ty, 0, v));
        c.push(insn::store(ty, 1, v));
        c.push(insn::ret(vec![KReg { kind: k, reg: v }]));
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
    tag.push(insn::enum_tag(E_SHAPE, 0, 0));
    tag.push(insn::ret(vec![ki(0)]));
    let mut h = Code::new("rect_h", [1, 1, 0], vec![kr(0)], vec![Kind::Int]);
    let one = h.ci(1);
    h.push(insn::get_field(F_RECT_H, 0, 0));
    h.push(insn::int_bin(IntBinOp::Add, IntTy::I32, 0, one, 0));
    h.push(insn::set_field(F_RECT_H, 0, 0));
    h.push(insn::ret(vec![ki(0)]));
    let mut r = Code::new("circle_r", [0, 1, 1], vec![kr(0)], vec![Kind::Float]);
    r.push(insn::get_field(F_CIRCLE_R, 0, 0));
    r.push(insn::ret(vec![kf(0)]));
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
    c.push(insn::vec_get_item(A_VU8, 0, zero, 0));
    c.push(insn::vec_get_item(A_VU8, 0, one, 1));
    c.push(insn::int_bin(IntBinOp::Add, IntTy::U8, 0, 1, 0));
    c.push(insn::vec_set_item(A_VU8, 0, two, 0));
    c.push(insn::vec_push(A_VU8, 0, seven));
    c.push(insn::vec_pop(A_VU8, 0, 2, 3));
    c.push(insn::int_bin(IntBinOp::Add, IntTy::U8, 3, one, 0));
    c.push(insn::vec_push(A_VU8, 0, 0));
    c.push(insn::vec_len(A_VU8, 0, 0));
    c.push(insn::vec_push(A_VI64, 1, minus3));
    c.push(insn::vec_get_item(A_VI64, 1, zero, 4));
    c.push(insn::int_bin(IntBinOp::Mul, IntTy::I64, 4, two, 4));
    c.push(insn::vec_set_item(A_VI64, 1, zero, 4));
    c.push(insn::vec_pop(A_VI64, 1, 4, 5));
    c.push(insn::vec_pop(A_VI64, 1, 6, 7));
    c.push(insn::vec_len(A_VI64, 1, 8));
    c.push(insn::ret(kis(0..9)));
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
fn vec_push_and_pop_in_place() {
    // f(pts: &mut Vec<Point>) -> (x of the popped item, pop tag, pop tag of
    // the empty Vec, its address, len)
    //   p = push_slot(pts); p.x = 7; p.z = 2.5; q = pop_slot(pts) -> (t, q);
    //   x = q.x; p2 = push_slot(pts); p2.x = x + 1; (t2, _) = pop_slot;
    //   (t3, q3) = pop_slot (empty)
    let ret = vec![Kind::Int, Kind::Int, Kind::Int, Kind::Ref, Kind::Int];
    let mut c = Code::new("slots", [5, 4, 1], vec![kr(0)], ret);
    let seven = c.ci(7);
    let one = c.ci(1);
    let f = c.cf(2.5);
    c.push(insn::vec_push_slot(A_VPOINT, 0, 1));
    c.push(insn::set_field(F_X, 1, seven));
    c.push(insn::set_field(F_Z, 1, f));
    c.push(insn::vec_pop_slot(A_VPOINT, 0, 1, 2));
    c.push(insn::get_field(F_X, 2, 0));
    c.push(insn::get_field(F_Z, 2, 0));
    c.push(insn::vec_push_slot(A_VPOINT, 0, 1));
    c.push(insn::int_bin(IntBinOp::Add, IntTy::I32, 0, one, 2));
    c.push(insn::set_field(F_X, 1, 2));
    c.push(insn::vec_pop_slot(A_VPOINT, 0, 2, 3));
    c.push(insn::vec_pop_slot(A_VPOINT, 0, 3, 3));
    c.push(insn::vec_len(A_VPOINT, 0, 4));
    c.push(insn::ret(vec![ki(0), ki(1), ki(3), kr(3), ki(4)]));
    let t = tables(vec![c]);
    let mut pts: Vec<Point> = Vec::new();
    let r = blackhole::call(t, 0, &[addr_mut(&mut pts)]);
    // The first push grew the Vec (it had no room).
    assert_eq!(r, vec![7, 1, 0, 0, 0]);
    assert!(pts.is_empty() && pts.capacity() >= 1);
    // With room: the item is written in place, the length follows.
    let r = blackhole::call(t, 0, &[addr_mut(&mut pts)]);
    assert_eq!(r, vec![7, 1, 0, 0, 0]);
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
    c.push(insn::vec_item_addr(A_VI8, 0, one, 4));
    c.push(insn::load(ScalarTy::Int(IntTy::I8), 4, 0));
    c.push(insn::vec_as_slice(A_VI8, 0, 5, 1));
    c.push(insn::slice_get_item(A_SLICE_U16, 1, two, 2));
    c.push(insn::int_bin(IntBinOp::Add, IntTy::U16, 2, one, 3));
    c.push(insn::slice_set_item(A_SLICE_U16, 1, zero, 3));
    c.push(insn::vec_item_addr(A_VPOINT, 2, one, 4));
    c.push(insn::get_field(F_X, 4, 3));
    c.push(insn::slice_item_addr(A_SLICE_U16, 1, one, 4));
    c.push(insn::load(ScalarTy::Int(IntTy::U16), 4, 4));
    c.push(insn::vec_pop(A_VF64, 3, 5, 0));
    c.push(insn::vec_push(A_VF64, 3, half));
    c.push(insn::ret(vec![
        ki(0),
        kr(5),
        ki(1),
        ki(2),
        ki(3),
        ki(4),
        kf(0),
        kr(4),
    ]));
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
    c.push(insn::string_as_str(0, 1, 0));
    c.push(insn::slice_get_item(A_VU8, 1, idx, 1));
    c.push(insn::ret(vec![kr(1), ki(0), ki(1)]));
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
