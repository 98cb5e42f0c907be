//! The blackhole interpreter on hand-built `Tables`: real structs, Vecs,
//! enums and shims; every operation checked against the native Rust it
//! stands for.

// The native reference macros cast every type to i64, i64 included.
#![allow(clippy::unnecessary_cast, clippy::char_lit_as_u8)]

use metatrace_runtime::blackhole::{self, ops};
use metatrace_runtime::jitcode::*;
use std::mem::{offset_of, size_of};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

// ---------------------------------------------------------------------------
// Building jitcodes and tables by hand.

fn leak<T>(v: Vec<T>) -> &'static [T] {
    Box::leak(v.into_boxed_slice())
}

fn ki(reg: Reg) -> KReg {
    KReg {
        kind: Kind::Int,
        reg,
    }
}
fn kr(reg: Reg) -> KReg {
    KReg {
        kind: Kind::Ref,
        reg,
    }
}
fn kf(reg: Reg) -> KReg {
    KReg {
        kind: Kind::Float,
        reg,
    }
}

/// A jitcode under construction. Constants are numbered after the
/// registers, so `num_regs` is fixed up front.
struct Code {
    name: &'static str,
    regs: [u16; 3],
    ci: Vec<i64>,
    cr: Vec<RefConst>,
    cf: Vec<u64>,
    args: Vec<KReg>,
    results: Vec<Kind>,
    insns: Vec<Insn>,
}

impl Code {
    fn new(name: &'static str, regs: [u16; 3], args: Vec<KReg>, results: Vec<Kind>) -> Code {
        Code {
            name,
            regs,
            ci: vec![],
            cr: vec![],
            cf: vec![],
            args,
            results,
            insns: vec![],
        }
    }
    /// Register number of a new int constant.
    fn ci(&mut self, v: i64) -> Reg {
        self.ci.push(v);
        self.regs[0] + self.ci.len() as u16 - 1
    }
    fn cr(&mut self, v: RefConst) -> Reg {
        self.cr.push(v);
        self.regs[1] + self.cr.len() as u16 - 1
    }
    fn cf(&mut self, v: f64) -> Reg {
        self.cf.push(v.to_bits());
        self.regs[2] + self.cf.len() as u16 - 1
    }
    fn push(&mut self, i: Insn) -> &mut Code {
        self.insns.push(i);
        self
    }
    fn pc(&self) -> Label {
        self.insns.len() as Label
    }
    fn build(self) -> JitCode {
        JitCode {
            name: self.name,
            code: leak(encode(&self.insns)),
            num_regs: self.regs,
            consts_i: leak(self.ci),
            consts_r: leak(self.cr),
            consts_f: leak(self.cf),
            args: leak(self.args),
            results: leak(self.results),
        }
    }
}

// The native data the tables describe.

#[repr(C)]
struct Inner {
    a: u64,
}

#[repr(C)]
struct Point {
    x: i32,
    small: i16,
    y: u8,
    flag: bool,
    c: char,
    z: f64,
    next: *const Point,
    inner: Inner,
}

enum Shape {
    Empty,
    Circle(f64),
    Rect { w: i32, h: i32 },
}

unsafe fn shape_tag(a: usize) -> u32 {
    match unsafe { &*(a as *const Shape) } {
        Shape::Empty => 0,
        Shape::Circle(_) => 1,
        Shape::Rect { .. } => 2,
    }
}
unsafe fn rect_h(a: usize) -> usize {
    match unsafe { &mut *(a as *mut Shape) } {
        Shape::Rect { h, .. } => h as *mut i32 as usize,
        _ => unreachable!("not a Rect"),
    }
}
unsafe fn circle_r(a: usize) -> usize {
    match unsafe { &mut *(a as *mut Shape) } {
        Shape::Circle(r) => r as *mut f64 as usize,
        _ => unreachable!("not a Circle"),
    }
}

macro_rules! vec_shims {
    ($t:ty, $to:expr, $from:expr) => {{
        unsafe fn len(v: usize) -> usize {
            unsafe { (*(v as *const Vec<$t>)).len() }
        }
        unsafe fn ptr(v: usize) -> usize {
            unsafe { (*(v as *mut Vec<$t>)).as_mut_ptr() as usize }
        }
        unsafe fn push(v: usize, x: u64) {
            let f: fn(u64) -> $t = $from;
            unsafe { (*(v as *mut Vec<$t>)).push(f(x)) }
        }
        unsafe fn pop(v: usize) -> Option<u64> {
            let f: fn($t) -> u64 = $to;
            unsafe { (*(v as *mut Vec<$t>)).pop().map(f) }
        }
        VecShims {
            len,
            ptr,
            push: Some(push),
            pop: Some(pop),
        }
    }};
}

// Descr indices.
const F_X: u16 = 0;
const F_SMALL: u16 = 1;
const F_Y: u16 = 2;
const F_FLAG: u16 = 3;
const F_C: u16 = 4;
const F_Z: u16 = 5;
const F_NEXT: u16 = 6;
const F_INNER: u16 = 7;
const F_INNER_A: u16 = 8;
const F_RECT_H: u16 = 9;
const F_CIRCLE_R: u16 = 10;

const A_VU8: u16 = 0;
const A_VI64: u16 = 1;
const A_SLICE_U16: u16 = 2;
const A_VPOINT: u16 = 3;
const A_VF64: u16 = 4;
const A_VI8: u16 = 5;

const E_SHAPE: u16 = 0;

const C_DIVMOD: u16 = 0;
const C_SUM_SCALED: u16 = 1;
const C_BUMP: u16 = 2;
const C_REENTER: u16 = 3;

const S_BOOM: u16 = 0;

fn fields() -> Vec<FieldDescr> {
    let f = |name, ty, place| FieldDescr {
        name,
        ty,
        place,
        immutable: false,
    };
    vec![
        f(
            "Point.x",
            Some(ScalarTy::Int(IntTy::I32)),
            FieldPlace::Offset(offset_of!(Point, x)),
        ),
        f(
            "Point.small",
            Some(ScalarTy::Int(IntTy::I16)),
            FieldPlace::Offset(offset_of!(Point, small)),
        ),
        f(
            "Point.y",
            Some(ScalarTy::Int(IntTy::U8)),
            FieldPlace::Offset(offset_of!(Point, y)),
        ),
        f(
            "Point.flag",
            Some(ScalarTy::Bool),
            FieldPlace::Offset(offset_of!(Point, flag)),
        ),
        f(
            "Point.c",
            Some(ScalarTy::Char),
            FieldPlace::Offset(offset_of!(Point, c)),
        ),
        f(
            "Point.z",
            Some(ScalarTy::F64),
            FieldPlace::Offset(offset_of!(Point, z)),
        ),
        f(
            "Point.next",
            Some(ScalarTy::Ref),
            FieldPlace::Offset(offset_of!(Point, next)),
        ),
        f(
            "Point.inner",
            None,
            FieldPlace::Offset(offset_of!(Point, inner)),
        ),
        f(
            "Inner.a",
            Some(ScalarTy::Int(IntTy::U64)),
            FieldPlace::Offset(offset_of!(Inner, a)),
        ),
        f(
            "Shape::Rect.h",
            Some(ScalarTy::Int(IntTy::I32)),
            FieldPlace::Shim(rect_h),
        ),
        f(
            "Shape::Circle.0",
            Some(ScalarTy::F64),
            FieldPlace::Shim(circle_r),
        ),
    ]
}

fn arrays() -> Vec<ArrayDescr> {
    unsafe fn point_len(v: usize) -> usize {
        unsafe { (*(v as *const Vec<Point>)).len() }
    }
    unsafe fn point_ptr(v: usize) -> usize {
        unsafe { (*(v as *mut Vec<Point>)).as_mut_ptr() as usize }
    }
    vec![
        ArrayDescr {
            name: "Vec<u8>",
            item: Some(ScalarTy::Int(IntTy::U8)),
            item_size: 1,
            vec: Some(vec_shims!(u8, |x| x as u64, |x| x as u8)),
        },
        ArrayDescr {
            name: "Vec<i64>",
            item: Some(ScalarTy::Int(IntTy::I64)),
            item_size: 8,
            vec: Some(vec_shims!(i64, |x| x as u64, |x| x as i64)),
        },
        ArrayDescr {
            name: "[u16]",
            item: Some(ScalarTy::Int(IntTy::U16)),
            item_size: 2,
            vec: None,
        },
        ArrayDescr {
            name: "Vec<Point>",
            item: None,
            item_size: size_of::<Point>(),
            vec: Some(VecShims {
                len: point_len,
                ptr: point_ptr,
                push: None,
                pop: None,
            }),
        },
        ArrayDescr {
            name: "Vec<f64>",
            item: Some(ScalarTy::F64),
            item_size: 8,
            vec: Some(vec_shims!(f64, |x| x.to_bits(), f64::from_bits)),
        },
        ArrayDescr {
            name: "Vec<i8>",
            item: Some(ScalarTy::Int(IntTy::I8)),
            item_size: 1,
            vec: Some(vec_shims!(i8, |x| x as i64 as u64, |x| x as i8)),
        },
    ]
}

/// `fn divmod(a: i64, b: i64) -> (i64, i64)`.
unsafe fn divmod_shim(args: &[u64], results: &mut [u64]) {
    let (a, b) = (args[0] as i64, args[1] as i64);
    results[0] = a.div_euclid(b) as u64;
    results[1] = a.rem_euclid(b) as u64;
}

/// `fn sum_scaled(v: &Vec<i64>, k: f64) -> (i64, f64)`.
unsafe fn sum_scaled_shim(args: &[u64], results: &mut [u64]) {
    let v = unsafe { &*(args[0] as usize as *const Vec<i64>) };
    let k = f64::from_bits(args[1]);
    let s: i64 = v.iter().sum();
    results[0] = s as u64;
    results[1] = (s as f64 * k).to_bits();
}

static BUMPS: AtomicU64 = AtomicU64::new(0);

/// `fn bump()`.
unsafe fn bump_shim(args: &[u64], results: &mut [u64]) {
    assert!(args.is_empty() && results.is_empty());
    BUMPS.fetch_add(1, Ordering::SeqCst);
}

static REENTER: OnceLock<&'static Tables> = OnceLock::new();

/// `fn reenter(n: i64) -> i64`: runs jitcode 1 of the registered tables
/// in the blackhole, from inside a residual call.
unsafe fn reenter_shim(args: &[u64], results: &mut [u64]) {
    let t = REENTER.get().expect("tables registered");
    results[0] = blackhole::call(t, 1, &[args[0]])[0];
}

fn calls() -> Vec<CallDescr> {
    use Kind::*;
    vec![
        CallDescr {
            name: "divmod",
            shim: divmod_shim,
            arg_kinds: &[Int, Int],
            result_kinds: &[Int, Int],
        },
        CallDescr {
            name: "sum_scaled",
            shim: sum_scaled_shim,
            arg_kinds: &[Ref, Float],
            result_kinds: &[Int, Float],
        },
        CallDescr {
            name: "bump",
            shim: bump_shim,
            arg_kinds: &[],
            result_kinds: &[],
        },
        CallDescr {
            name: "reenter",
            shim: reenter_shim,
            arg_kinds: &[Int],
            result_kinds: &[Int],
        },
    ]
}

fn tables(codes: Vec<Code>) -> &'static Tables {
    let jitcodes: Vec<JitCode> = codes.into_iter().map(Code::build).collect();
    Box::leak(Box::new(Tables {
        jitcodes: leak(jitcodes),
        fields: leak(fields()),
        arrays: leak(arrays()),
        enums: leak(vec![EnumDescr {
            name: "Shape",
            tag: shape_tag,
        }]),
        calls: leak(calls()),
        drivers: leak(vec![DriverDescr {
            portal: "test::portal",
            jitcode: 0,
            greens: &[Kind::Int],
            reds: &[Kind::Ref],
        }]),
        strings: leak(vec![
            "boom: index out of bounds: the len is 3 but the index is 7",
            "unused",
        ]),
    }))
}

fn run1(code: Code, args: &[u64]) -> Vec<u64> {
    blackhole::call(tables(vec![code]), 0, args)
}

fn addr<T>(x: &T) -> u64 {
    x as *const T as usize as u64
}

/// The address of something the jitcode writes to.
fn addr_mut<T>(x: &mut T) -> u64 {
    x as *mut T as usize as u64
}

// ---------------------------------------------------------------------------
// Control flow.

/// `fn count(n: i64) -> i64 { let mut i = 0; let mut s = 0; while i < n { s += i; i += 1 } s }`
fn counting_loop() -> Code {
    // i0 = n, i1 = i, i2 = s, i3 = cond
    let mut c = Code::new("count", [4, 0, 0], vec![ki(0)], vec![Kind::Int]);
    let zero = c.ci(0);
    let one = c.ci(1);
    c.push(Insn::Copy {
        kind: Kind::Int,
        src: zero,
        dst: 1,
    });
    c.push(Insn::Copy {
        kind: Kind::Int,
        src: zero,
        dst: 2,
    });
    let head = c.pc();
    c.push(Insn::IntCmp {
        op: CmpOp::Lt,
        ty: IntTy::I64,
        a: 1,
        b: 0,
        dst: 3,
    });
    c.push(Insn::GotoIfNot {
        cond: 3,
        target: head + 5,
    });
    c.push(Insn::IntBin {
        op: IntBinOp::Add,
        ty: IntTy::I64,
        a: 2,
        b: 1,
        dst: 2,
    });
    c.push(Insn::IntBin {
        op: IntBinOp::Add,
        ty: IntTy::I64,
        a: 1,
        b: one,
        dst: 1,
    });
    c.push(Insn::Goto { target: head });
    c.push(Insn::Return {
        values: vec![ki(2)],
    });
    c
}

#[test]
fn counting_loop_sums() {
    let t = tables(vec![counting_loop()]);
    for n in [0i64, 1, 2, 10, 1000, -5] {
        let expect: i64 = (0..n.max(0)).sum();
        assert_eq!(
            blackhole::call(t, 0, &[n as u64]),
            vec![expect as u64],
            "n = {n}"
        );
    }
}

#[test]
#[ignore = "speed measurement; run with --release -- --ignored --nocapture"]
fn counting_loop_speed() {
    let t = tables(vec![counting_loop()]);
    let n: i64 = 50_000_000;
    let start = std::time::Instant::now();
    let r = blackhole::call(t, 0, &[n as u64]);
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(r[0] as i64, (0..n).sum::<i64>());
    let insns = 5.0 * n as f64 + 4.0;
    println!(
        "counting loop: {insns:.0} instructions in {secs:.3} s = {:.1} M insns/s",
        insns / secs / 1e6
    );
}

#[test]
#[ignore = "speed measurement; run with --release -- --ignored --nocapture"]
fn fib_speed() {
    let t = tables(vec![fib_code(0)]);
    let start = std::time::Instant::now();
    let r = blackhole::call(t, 0, &[30]);
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(r, vec![832040]);
    // fib(30) makes 2_692_537 calls; 3 instructions in the leaves, 9 in the others.
    let calls = 2_692_537.0;
    let leaves = (calls + 1.0) / 2.0;
    let insns = leaves * 3.0 + (calls - leaves) * 9.0;
    println!("fib(30): {calls} calls, {insns:.0} instructions in {secs:.3} s = {:.1} M insns/s, {:.1} M calls/s", insns / secs / 1e6, calls / secs / 1e6);
}

#[test]
fn switch_small_dense_and_sparse() {
    // Returns the number of the case taken; 99 for the default.
    fn switch_code(cases: &[i64]) -> Code {
        let mut c = Code::new("sw", [1, 0, 0], vec![ki(0)], vec![Kind::Int]);
        let n = cases.len() as u32;
        let results: Vec<Reg> = (0..n).map(|k| c.ci(k as i64)).collect();
        let dflt = c.ci(99);
        // 0: switch; 1..=n: return k; n+1: return 99
        let cs = cases
            .iter()
            .enumerate()
            .map(|(k, &v)| (v, 1 + k as u32))
            .collect();
        c.push(Insn::Switch {
            value: 0,
            cases: cs,
            default: n + 1,
        });
        for r in results {
            c.push(Insn::Return {
                values: vec![ki(r)],
            });
        }
        c.push(Insn::Return {
            values: vec![ki(dflt)],
        });
        c
    }
    fn expect(cases: &[i64], v: i64) -> u64 {
        cases
            .iter()
            .position(|&c| c == v)
            .map(|k| k as u64)
            .unwrap_or(99)
    }
    let small = [3i64, -1, 7];
    let dense: Vec<i64> = (10..40).rev().collect();
    // Dense, with duplicates: the first one wins.
    let dense_dup = [0i64, 1, 2, 3, 4, 5, 3, 6, 7, 0];
    // Sparse, with a duplicate: the first one wins.
    let sparse = [i64::MIN, -1_000_000, 5, 1 << 40, 5, i64::MAX, 77, 0];
    for cases in [&small[..], &dense[..], &dense_dup[..], &sparse[..]] {
        let t = tables(vec![switch_code(cases)]);
        let mut probes: Vec<i64> = cases.to_vec();
        probes.extend([0, 1, 2, 4, 9, 40, 41, -2, i64::MIN + 1, i64::MAX - 1, 6]);
        for v in probes {
            assert_eq!(
                blackhole::call(t, 0, &[v as u64]),
                vec![expect(cases, v)],
                "cases {cases:?} value {v}"
            );
        }
    }
}

/// `fn fib(n: i64) -> i64 { if n < 2 { n } else { fib(n - 1) + fib(n - 2) } }`
/// as jitcode number `me`.
fn fib_code(me: u16) -> Code {
    let mut fib = Code::new("fib", [5, 0, 0], vec![ki(0)], vec![Kind::Int]);
    let one = fib.ci(1);
    let two = fib.ci(2);
    fib.push(Insn::IntCmp {
        op: CmpOp::Lt,
        ty: IntTy::I64,
        a: 0,
        b: two,
        dst: 1,
    }); // 0
    fib.push(Insn::GotoIfNot { cond: 1, target: 3 }); // 1
    fib.push(Insn::Return {
        values: vec![ki(0)],
    }); // 2
    fib.push(Insn::IntBin {
        op: IntBinOp::Sub,
        ty: IntTy::I64,
        a: 0,
        b: one,
        dst: 2,
    }); // 3
    fib.push(Insn::Live { regs: vec![ki(0)] });
    fib.push(Insn::Call {
        flavor: CallFlavor::Regular,
        jitcode: me,
        args: vec![ki(2)],
        results: vec![ki(3)],
    });
    fib.push(Insn::IntBin {
        op: IntBinOp::Sub,
        ty: IntTy::I64,
        a: 0,
        b: two,
        dst: 2,
    });
    fib.push(Insn::Call {
        flavor: CallFlavor::Regular,
        jitcode: me,
        args: vec![ki(2)],
        results: vec![ki(4)],
    });
    fib.push(Insn::IntBin {
        op: IntBinOp::Add,
        ty: IntTy::I64,
        a: 3,
        b: 4,
        dst: 3,
    });
    fib.push(Insn::Return {
        values: vec![ki(3)],
    });

    fib
}

#[test]
fn call_with_multiple_results_and_recursion() {
    // jitcode 0: main(a: i64, x: f64, p: ref) -> (i64, f64, ref, i64)
    //   (q, r, p2) = split(a, x, p); return (q, r, p2, fib(10))
    // jitcode 1: split(a: i64, x: f64, p: ref) -> (i64, f64, ref) = (a*2, x/2, p)
    // jitcode 2: fib(n) = if n < 2 { n } else { fib(n-1) + fib(n-2) }
    let mut main = Code::new(
        "main",
        [3, 2, 1],
        vec![ki(0), kf(0), kr(0)],
        vec![Kind::Int, Kind::Float, Kind::Ref, Kind::Int],
    );
    let ten = main.ci(10);
    main.push(Insn::Call {
        flavor: CallFlavor::Regular,
        jitcode: 1,
        args: vec![ki(0), kf(0), kr(0)],
        results: vec![ki(1), kf(0), kr(1)],
    });
    main.push(Insn::Call {
        flavor: CallFlavor::Elidable,
        jitcode: 2,
        args: vec![ki(ten)],
        results: vec![ki(2)],
    });
    main.push(Insn::Return {
        values: vec![ki(1), kf(0), kr(1), ki(2)],
    });

    let mut split = Code::new(
        "split",
        [2, 1, 2],
        vec![ki(1), kf(1), kr(0)],
        vec![Kind::Int, Kind::Float, Kind::Ref],
    );
    let two = split.ci(2);
    let ftwo = split.cf(2.0);
    split.push(Insn::IntBin {
        op: IntBinOp::Mul,
        ty: IntTy::I64,
        a: 1,
        b: two,
        dst: 0,
    });
    split.push(Insn::FloatBin {
        op: FloatBinOp::Div,
        a: 1,
        b: ftwo,
        dst: 0,
    });
    split.push(Insn::Return {
        values: vec![ki(0), kf(0), kr(0)],
    });

    let fib = fib_code(2);

    let t = tables(vec![main, split, fib]);
    let marker = 0u8;
    let r = blackhole::call(t, 0, &[21, 5.0f64.to_bits(), addr(&marker)]);
    assert_eq!(r, vec![42, 2.5f64.to_bits(), addr(&marker), 55]);
    assert_eq!(blackhole::call(t, 2, &[20]), vec![6765]);
    assert_eq!(
        blackhole::call(t, 1, &[(-4i64) as u64, 1.0f64.to_bits(), 0]),
        vec![(-8i64) as u64, 0.5f64.to_bits(), 0]
    );
}

#[test]
fn deep_recursion_does_not_use_the_native_stack() {
    // depth(n) = if n == 0 { 0 } else { depth(n - 1) + 1 }
    let mut c = Code::new("depth", [3, 0, 0], vec![ki(0)], vec![Kind::Int]);
    let zero = c.ci(0);
    let one = c.ci(1);
    c.push(Insn::IntCmp {
        op: CmpOp::Eq,
        ty: IntTy::U32,
        a: 0,
        b: zero,
        dst: 1,
    });
    c.push(Insn::GotoIfNot { cond: 1, target: 3 });
    c.push(Insn::Return {
        values: vec![ki(zero)],
    });
    c.push(Insn::IntBin {
        op: IntBinOp::Sub,
        ty: IntTy::U32,
        a: 0,
        b: one,
        dst: 2,
    });
    c.push(Insn::Call {
        flavor: CallFlavor::Regular,
        jitcode: 0,
        args: vec![ki(2)],
        results: vec![ki(2)],
    });
    c.push(Insn::IntBin {
        op: IntBinOp::Add,
        ty: IntTy::U32,
        a: 2,
        b: one,
        dst: 2,
    });
    c.push(Insn::Return {
        values: vec![ki(2)],
    });
    let t = tables(vec![c]);
    // Run on a small native stack: a recursive interpreter would overflow.
    let r = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || blackhole::call(t, 0, &[300_000]))
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(r, vec![300_000]);
}

#[test]
fn panic_carries_the_message() {
    let mut c = Code::new("p", [1, 0, 0], vec![ki(0)], vec![Kind::Int]);
    c.push(Insn::GotoIfNot { cond: 0, target: 2 });
    c.push(Insn::Panic {
        kind: PanicKind::BoundsCheck,
        message: S_BOOM,
    });
    c.push(Insn::Return {
        values: vec![ki(0)],
    });
    let t = tables(vec![c]);
    assert_eq!(blackhole::call(t, 0, &[0]), vec![0]);
    let err = std::panic::catch_unwind(|| blackhole::call(t, 0, &[1])).expect_err("must panic");
    let msg = err
        .downcast_ref::<String>()
        .map(|s| s.as_str())
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap();
    assert_eq!(
        msg,
        "boom: index out of bounds: the len is 3 but the index is 7"
    );
    // The blackhole still works on this thread after a panic.
    assert_eq!(blackhole::call(t, 0, &[0]), vec![0]);
}

#[test]
fn hints_are_plain_in_the_blackhole() {
    // promote copies, we_are_jitted is 0, merge points/can_enter_jit/live do nothing.
    let mut c = Code::new(
        "portal",
        [3, 1, 1],
        vec![ki(0), kr(0), kf(0)],
        vec![Kind::Int, Kind::Int, Kind::Ref, Kind::Float],
    );
    c.push(Insn::MergePoint {
        driver: 0,
        args: vec![ki(0), kr(0)],
    });
    c.push(Insn::Promote {
        kind: Kind::Int,
        src: 0,
        dst: 1,
    });
    c.push(Insn::Promote {
        kind: Kind::Ref,
        src: 0,
        dst: 0,
    });
    c.push(Insn::Promote {
        kind: Kind::Float,
        src: 0,
        dst: 0,
    });
    c.push(Insn::WeAreJitted { dst: 2 });
    c.push(Insn::Live {
        regs: vec![ki(1), ki(2)],
    });
    c.push(Insn::CanEnterJit {
        driver: 0,
        args: vec![ki(1), kr(0)],
    });
    c.push(Insn::Return {
        values: vec![ki(1), ki(2), kr(0), kf(0)],
    });
    let r = run1(c, &[17, 0xdead0, 1.5f64.to_bits()]);
    assert_eq!(r, vec![17, 0, 0xdead0, 1.5f64.to_bits()]);
}

#[test]
fn constants_are_preloaded() {
    let mut c = Code::new(
        "k",
        [0, 0, 0],
        vec![],
        vec![Kind::Int, Kind::Ref, Kind::Ref, Kind::Float],
    );
    let i = c.ci(-7);
    let s = c.cr(RefConst::Str("hello"));
    let n = c.cr(RefConst::Null);
    let f = c.cf(-0.25);
    c.push(Insn::Return {
        values: vec![ki(i), kr(s), kr(n), kf(f)],
    });
    let t = tables(vec![c]);
    let r = blackhole::call(t, 0, &[]);
    assert_eq!(r[0] as i64, -7);
    let RefConst::Str(lit) = t.jitcodes[0].consts_r[0] else {
        unreachable!()
    };
    assert_eq!(r[1], lit.as_ptr() as u64);
    let bytes = unsafe { std::slice::from_raw_parts(r[1] as usize as *const u8, 5) };
    assert_eq!(bytes, b"hello");
    assert_eq!(r[2], 0);
    assert_eq!(f64::from_bits(r[3]), -0.25);
}

#[test]
fn copies_of_every_kind() {
    let mut c = Code::new(
        "cp",
        [2, 2, 2],
        vec![ki(0), kr(0), kf(0)],
        vec![Kind::Int, Kind::Ref, Kind::Float],
    );
    c.push(Insn::Copy {
        kind: Kind::Int,
        src: 0,
        dst: 1,
    });
    c.push(Insn::Copy {
        kind: Kind::Ref,
        src: 0,
        dst: 1,
    });
    c.push(Insn::Copy {
        kind: Kind::Float,
        src: 0,
        dst: 1,
    });
    c.push(Insn::Return {
        values: vec![ki(1), kr(1), kf(1)],
    });
    let nan = f64::from_bits(0x7ff8_0000_dead_beef);
    assert_eq!(
        run1(c, &[u64::MAX, 1234, nan.to_bits()]),
        vec![u64::MAX, 1234, nan.to_bits()]
    );
}

#[test]
fn argument_count_is_checked() {
    let t = tables(vec![counting_loop()]);
    assert!(std::panic::catch_unwind(|| blackhole::call(t, 0, &[])).is_err());
    assert!(std::panic::catch_unwind(|| blackhole::call(t, 5, &[1])).is_err());
}

#[test]
fn invalid_tables_are_refused_with_the_verifier_message() {
    let mut c = Code::new("bad", [1, 0, 0], vec![], vec![]);
    c.push(Insn::Goto { target: 9 });
    let t = tables(vec![c]);
    let err = std::panic::catch_unwind(|| blackhole::call(t, 0, &[])).expect_err("must refuse");
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(
        msg.contains("bad: insn 0 (goto L9): label 9 out of range (1 instructions)"),
        "{msg}"
    );
}

// ---------------------------------------------------------------------------
// Integer operations, checked against native Rust.

fn bh_bin(op: IntBinOp, ty: IntTy, a: i64, b: i64) -> i64 {
    let mut c = Code::new("bin", [3, 0, 0], vec![ki(0), ki(1)], vec![Kind::Int]);
    c.push(Insn::IntBin {
        op,
        ty,
        a: 0,
        b: 1,
        dst: 2,
    });
    c.push(Insn::Return {
        values: vec![ki(2)],
    });
    run1(c, &[a as u64, b as u64])[0] as i64
}

fn bh_cmp(op: CmpOp, ty: IntTy, a: i64, b: i64) -> i64 {
    let mut c = Code::new("cmp", [3, 0, 0], vec![ki(0), ki(1)], vec![Kind::Int]);
    c.push(Insn::IntCmp {
        op,
        ty,
        a: 0,
        b: 1,
        dst: 2,
    });
    c.push(Insn::Return {
        values: vec![ki(2)],
    });
    run1(c, &[a as u64, b as u64])[0] as i64
}

fn bh_unary(neg: bool, ty: IntTy, a: i64) -> i64 {
    let mut c = Code::new("un", [2, 0, 0], vec![ki(0)], vec![Kind::Int]);
    c.push(if neg {
        Insn::IntNeg { ty, a: 0, dst: 1 }
    } else {
        Insn::IntNot { ty, a: 0, dst: 1 }
    });
    c.push(Insn::Return {
        values: vec![ki(1)],
    });
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
    c.push(Insn::IntBin {
        op: Shl,
        ty: U16,
        a: 0,
        b: nine,
        dst: 1,
    });
    c.push(Insn::Return {
        values: vec![ki(1)],
    });
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

const RAW_SAMPLES: [i64; 22] = [
    0,
    1,
    2,
    3,
    7,
    8,
    9,
    -1,
    -2,
    -7,
    63,
    64,
    127,
    128,
    255,
    256,
    -128,
    -129,
    65535,
    0x7fff_ffff,
    i64::MAX,
    i64::MIN,
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
        match $ty {
            IntTy::I8 => {
                let $x = $v as i8;
                $body
            }
            IntTy::I16 => {
                let $x = $v as i16;
                $body
            }
            IntTy::I32 => {
                let $x = $v as i32;
                $body
            }
            IntTy::I64 => {
                let $x = $v as i64;
                $body
            }
            IntTy::Isize => {
                let $x = $v as isize;
                $body
            }
            IntTy::U8 => {
                let $x = $v as u8;
                $body
            }
            IntTy::U16 => {
                let $x = $v as u16;
                $body
            }
            IntTy::U32 => {
                let $x = $v as u32;
                $body
            }
            IntTy::U64 => {
                let $x = $v as u64;
                $body
            }
            IntTy::Usize => {
                let $x = $v as usize;
                $body
            }
        }
    };
    ($ty:expr, $a:expr, $b:expr, |$x:ident, $y:ident| $body:expr) => {
        match $ty {
            IntTy::I8 => {
                let $x = $a as i8;
                let $y = $b as i8;
                $body
            }
            IntTy::I16 => {
                let $x = $a as i16;
                let $y = $b as i16;
                $body
            }
            IntTy::I32 => {
                let $x = $a as i32;
                let $y = $b as i32;
                $body
            }
            IntTy::I64 => {
                let $x = $a as i64;
                let $y = $b as i64;
                $body
            }
            IntTy::Isize => {
                let $x = $a as isize;
                let $y = $b as isize;
                $body
            }
            IntTy::U8 => {
                let $x = $a as u8;
                let $y = $b as u8;
                $body
            }
            IntTy::U16 => {
                let $x = $a as u16;
                let $y = $b as u16;
                $body
            }
            IntTy::U32 => {
                let $x = $a as u32;
                let $y = $b as u32;
                $body
            }
            IntTy::U64 => {
                let $x = $a as u64;
                let $y = $b as u64;
                $body
            }
            IntTy::Usize => {
                let $x = $a as usize;
                let $y = $b as usize;
                $body
            }
        }
    };
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
                for op in [
                    CmpOp::Eq,
                    CmpOp::Ne,
                    CmpOp::Lt,
                    CmpOp::Le,
                    CmpOp::Gt,
                    CmpOp::Ge,
                ] {
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
    c.push(Insn::FloatBin {
        op,
        a: 0,
        b: 1,
        dst: 2,
    });
    c.push(Insn::Return {
        values: vec![kf(2)],
    });
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
    for (k, op) in [
        CmpOp::Eq,
        CmpOp::Ne,
        CmpOp::Lt,
        CmpOp::Le,
        CmpOp::Gt,
        CmpOp::Ge,
    ]
    .into_iter()
    .enumerate()
    {
        c.push(Insn::FloatCmp {
            op,
            a: 0,
            b: 1,
            dst: k as u16,
        });
    }
    c.push(Insn::Return {
        values: vec![kf(0), ki(0), ki(1), ki(2), ki(3), ki(4), ki(5)],
    });
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
    c.push(Insn::Cast {
        from,
        to,
        src: 0,
        dst,
    });
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

// ---------------------------------------------------------------------------
// Residual calls.

#[test]
fn residual_calls_through_real_shims() {
    // f(a, b, v, k) -> (q, r, sum, scaled); bump()
    let mut c = Code::new(
        "res",
        [4, 1, 2],
        vec![ki(0), ki(1), kr(0), kf(0)],
        vec![Kind::Int, Kind::Int, Kind::Int, Kind::Float],
    );
    c.push(Insn::ResidualCall {
        descr: C_DIVMOD,
        args: vec![ki(0), ki(1)],
        results: vec![ki(2), ki(3)],
    });
    c.push(Insn::ResidualCall {
        descr: C_SUM_SCALED,
        args: vec![kr(0), kf(0)],
        results: vec![ki(0), kf(1)],
    });
    c.push(Insn::ResidualCall {
        descr: C_BUMP,
        args: vec![],
        results: vec![],
    });
    c.push(Insn::Return {
        values: vec![ki(2), ki(3), ki(0), kf(1)],
    });
    let t = tables(vec![c]);
    let v: Vec<i64> = vec![1, 2, 3, 4];
    let before = BUMPS.load(Ordering::SeqCst);
    let r = blackhole::call(t, 0, &[(-7i64) as u64, 2, addr(&v), 0.5f64.to_bits()]);
    assert_eq!(r, vec![(-4i64) as u64, 1, 10, 5.0f64.to_bits()]);
    assert!(BUMPS.load(Ordering::SeqCst) > before);
}

#[test]
fn residual_call_may_reenter_the_blackhole() {
    // jitcode 0: outer(n) = reenter(n) + count... ; jitcode 1: count(n) (the counting loop)
    let mut outer = Code::new("outer", [2, 0, 0], vec![ki(0)], vec![Kind::Int]);
    outer.push(Insn::ResidualCall {
        descr: C_REENTER,
        args: vec![ki(0)],
        results: vec![ki(1)],
    });
    outer.push(Insn::Call {
        flavor: CallFlavor::Regular,
        jitcode: 1,
        args: vec![ki(0)],
        results: vec![ki(0)],
    });
    outer.push(Insn::IntBin {
        op: IntBinOp::Add,
        ty: IntTy::I64,
        a: 0,
        b: 1,
        dst: 0,
    });
    outer.push(Insn::Return {
        values: vec![ki(0)],
    });
    let t = tables(vec![outer, counting_loop()]);
    assert!(REENTER.set(t).is_ok(), "set once");
    assert_eq!(blackhole::call(t, 0, &[100]), vec![2 * 4950]);
}
