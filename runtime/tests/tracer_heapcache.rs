//! What the meta-tracer does not record (`metainterp::heapcache`): pure
//! operations on constants or recorded before, reads of memory the trace
//! knows, writes of what memory holds already, guards whose outcome an
//! earlier guard proved; and what makes it forget (writes that may alias,
//! `vec_push`, residual calls).
//!
//! Each test is one loop of a small portal, `portal(k [green], n, s, s2)`:
//! a body of jitcode instructions on two `S` (which may be the same
//! object), then `n -= 1` and round again while `n > 0`. Checked: the
//! trace as recorded (before the optimizer), and that the JIT (traces run
//! with `trace::interp`, the blackhole on guard failures, with and without
//! bridges) computes what the blackhole alone computes, for several `n`
//! and with `s2` the same object as `s` or another one.

use metatrace_runtime::blackhole;
use metatrace_runtime::jitcode::*;
use metatrace_runtime::metainterp;
use metatrace_runtime::trace;
use metatrace_testkit::insn;
use std::mem::offset_of;
use std::sync::atomic::{AtomicI64, Ordering};

use metatrace_testkit::jit::*;
use metatrace_testkit::jitcode::*;

#[repr(C)]
#[derive(Clone, Debug, PartialEq)]
struct S {
    a: i64,
    b: i64,
    small: u8,
    v: Vec<i64>,
}

const F_A: u16 = 0;
const F_B: u16 = 1;
const F_SMALL: u16 = 2;
const F_V: u16 = 3;

const A_VI64: u16 = 0;

/// `fn bump(s: &mut S) { s.a += 1 }`: may write anything.
const C_BUMP: u16 = 0;
/// `fn observe(x: i64)`: writes nothing the trace can see.
const C_OBSERVE: u16 = 1;

unsafe fn bump_shim(args: &[u64], results: &mut [u64]) {
    assert!(results.is_empty());
    let s = unsafe { &mut *(args[0] as usize as *mut S) };
    s.a = s.a.wrapping_add(1);
}

static OBSERVED: AtomicI64 = AtomicI64::new(0);

unsafe fn observe_shim(args: &[u64], results: &mut [u64]) {
    assert!(results.is_empty());
    OBSERVED.fetch_add(args[0] as i64, Ordering::Relaxed);
}

// ---------------------------------------------------------------------------
// The portal.

const I64: IntTy = IntTy::I64;

/// Registers of the body: i0 k (green), i1 n; r0 s, r1 s2; i2.. and r2..
/// are the body's own; `c` are its constants.
struct Body<'a> {
    a: &'a mut Asm,
}

impl Body<'_> {
    fn ci(&mut self, v: i64) -> Reg {
        self.a.c.ci(v)
    }
    fn getfield(&mut self, descr: u16, base: Reg, dst: Reg) {
        self.a.i(Insn::GetField {
            descr: FieldId(descr),
            base,
            dst,
        });
    }
    fn setfield(&mut self, descr: u16, base: Reg, value: Reg) {
        self.a.i(Insn::SetField {
            descr: FieldId(descr),
            base,
            value,
        });
    }
    fn bin(&mut self, op: IntBinOp, ty: IntTy, a: Reg, b: Reg, dst: Reg) {
        self.a.i(Insn::IntBin { op, ty, a, b, dst });
    }
    fn cmp(&mut self, op: CmpOp, a: Reg, b: Reg, dst: Reg) {
        self.a.i(insn::int_cmp(op, I64, a, b, dst));
    }
    fn field_addr(&mut self, descr: u16, base: Reg, dst: Reg) {
        self.a.i(Insn::FieldAddr {
            descr: FieldId(descr),
            base,
            dst,
        });
    }
    fn vec_len(&mut self, vec: Reg, dst: Reg) {
        self.a.i(insn::vec_len(A_VI64, vec, dst));
    }
    fn vec_get(&mut self, vec: Reg, idx: Reg, dst: Reg) {
        self.a.i(insn::vec_get_item(A_VI64, vec, idx, dst));
    }
    fn vec_set(&mut self, vec: Reg, idx: Reg, value: Reg) {
        self.a.i(insn::vec_set_item(A_VI64, vec, idx, value));
    }
    fn call(&mut self, descr: u16, args: Vec<KReg>) {
        self.a.i(insn::residual_call(descr, args, vec![]));
    }
    /// `if !cond { goto label }`, with everything live.
    fn branch(&mut self, cond: Reg, label: &'static str) {
        self.a.live(&all_live());
        self.a.goto_if_not(cond, label);
    }
    /// `if cond { goto label }`, with everything live.
    fn branch_if(&mut self, cond: Reg, label: &'static str) {
        let skip: &'static str = Box::leak(format!("skip{}", self.a.c.pc()).into_boxed_str());
        self.branch(cond, skip);
        self.a.goto(label);
        self.a.label(skip);
    }
    fn label(&mut self, label: &'static str) {
        self.a.label(label);
    }
}

fn all_live() -> Vec<KReg> {
    let mut v: Vec<KReg> = (0..10).map(ki).collect();
    v.extend((0..4).map(kr));
    v
}

/// `portal(k, n, s, s2) -> n`: the loop around `body`; a body that
/// branches away from the straight path goes to `"exit"` (returns -1).
fn portal(body: impl FnOnce(&mut Body)) -> Code {
    let c = Code::new(
        "portal",
        [10, 4, 0],
        vec![ki(0), ki(1), kr(0), kr(1)],
        vec![Kind::Int],
    );
    let mut a = Asm::new(c);
    let zero = a.c.ci(0);
    let one = a.c.ci(1);
    let minus_one = a.c.ci(-1);
    let reds = [ki(0), ki(1), kr(0), kr(1)];
    a.label("head");
    a.live(&reds);
    a.i(insn::merge_point(0, reds.to_vec()));
    body(&mut Body { a: &mut a });
    a.i(insn::int_bin(IntBinOp::Sub, I64, 1, one, 1));
    a.i(insn::int_cmp(CmpOp::Gt, I64, 1, zero, 2));
    a.live(&[ki(0), ki(1), ki(2), kr(0), kr(1)]);
    a.goto_if_not(2, "ret");
    a.live(&reds);
    a.i(insn::can_enter_jit(0, reds.to_vec()));
    a.goto("head");
    a.label("ret");
    a.i(insn::ret(vec![ki(1)]));
    a.label("exit");
    a.i(insn::ret(vec![ki(minus_one)]));
    a.finish()
}

fn tables(body: impl FnOnce(&mut Body)) -> &'static Tables {
    let field = field_at;
    let i64t = Some(ScalarTy::Int(I64));
    make_tables(
        vec![portal(body)],
        Descrs {
            fields: vec![
                field("S.a", i64t, offset_of!(S, a)),
                field("S.b", i64t, offset_of!(S, b)),
                field(
                    "S.small",
                    Some(ScalarTy::Int(IntTy::U8)),
                    offset_of!(S, small),
                ),
                field("S.v", None, offset_of!(S, v)),
            ],
            arrays: vec![array(
                "Vec<i64>",
                i64t,
                8,
                Some(vec_shims!(i64, |x| x as u64, |x| x as i64)),
            )],
            calls: vec![
                CallDescr {
                    name: "bump",
                    shim: bump_shim,
                    arg_kinds: &[Kind::Ref],
                    result_kinds: &[],
                    effects: CallEffectsDescr::EVERYTHING,
                },
                CallDescr {
                    name: "observe",
                    shim: observe_shim,
                    arg_kinds: &[Kind::Int],
                    result_kinds: &[],
                    effects: CallEffectsDescr::NOTHING,
                },
            ],
            drivers: vec![DriverDescr {
                portal: "portal",
                jitcode: 0,
                greens: &[Kind::Int],
                reds: &[Kind::Int, Kind::Ref, Kind::Ref],
                native: None,
            }],
            ..Descrs::default()
        },
    )
}

fn new_s() -> Box<S> {
    Box::new(S {
        a: 5,
        b: 7,
        small: 200,
        v: vec![10, 20, 30, 40],
    })
}

/// The loop's trace, as recorded, from `n` with `s2` another object; the
/// addresses of the two objects named S and S2.
fn trace_of(t: &'static Tables, n: i64) -> String {
    let (mut s, mut s2) = (new_s(), new_s());
    let (sa, s2a) = (addr_mut(&mut *s), addr_mut(&mut *s2));
    let args = [0, n as u64, sa, s2a];
    let (tr, _) = closed(metainterp::trace_loop(t, 0, &args, &params(1000)));
    trace::format_trace(&tr, t)
        .replace(&format!("0x{sa:x}"), "S")
        .replace(&format!("0x{s2a:x}"), "S2")
}

/// The JIT computes what the blackhole computes: results and both
/// objects, for several `n`, `s2` the same object as `s` or not, with and
/// without bridges.
fn runs_like_the_blackhole(t: &'static Tables) {
    let p = Portal::new(t, 0);
    for n in [1i64, 2, 3, 7, 20] {
        for same in [false, true] {
            let run = |jit: Option<bool>| {
                let (mut s, mut s2) = (new_s(), new_s());
                let sa = addr_mut(&mut *s);
                let s2a = if same { sa } else { addr_mut(&mut *s2) };
                let args = [0, n as u64, sa, s2a];
                let out = match jit {
                    None => blackhole::call(t, 0, &args),
                    Some(bridges) => {
                        let mut stats = Stats::default();
                        let out = jit_run(&p, &args, &params(1000), bridges, &mut stats);
                        if n > 2 {
                            assert_eq!(stats.loops, 1, "{stats:?}");
                        }
                        out
                    }
                };
                (out, s, s2)
            };
            let want = run(None);
            for bridges in [false, true] {
                assert_eq!(
                    run(Some(bridges)),
                    want,
                    "n={n} same={same} bridges={bridges}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------
// What is recorded once.

#[test]
fn a_repeated_field_read_is_recorded_once() {
    // x = s.a; y = s.a; s.b = x + y; z = s.b; s.b = z + x
    let t = tables(|b| {
        b.getfield(F_A, 0, 3);
        b.getfield(F_A, 0, 4);
        b.bin(IntBinOp::Add, I64, 3, 4, 5);
        b.setfield(F_B, 0, 5);
        b.getfield(F_B, 0, 6);
        b.bin(IntBinOp::Add, I64, 6, 3, 6);
        b.setfield(F_B, 0, 6);
    });
    // The second read of s.a is the first one's value; the read of s.b
    // is the value just written.
    assert_eq!(
        trace_of(t, 10),
        "\
[i0, r1, r2]
i3 = getfield<S.a>(r1)
i4 = int_add/i64(i3, i3)
setfield<S.b>(r1, i4)
i6 = int_add/i64(i4, i3)
setfield<S.b>(r1, i6)
i8 = int_sub/i64(i0, 1)
i9 = int_gt/i64(i8, 0)
guard_true(i9) [i8, i9, r1, r2] #0
jump(i8, r1, r2)
"
    );
    runs_like_the_blackhole(t);
}

#[test]
fn a_repeated_vec_len_and_vec_ptr_are_recorded_once() {
    // Two accesses to s.v[1], each with its own bounds check as the
    // codewriter emits them (`fieldaddr`, `vec_len`, compare, branch).
    let t = tables(|b| {
        let one = b.ci(1);
        for dst in [4, 5] {
            b.field_addr(F_V, 0, 2);
            b.vec_len(2, 3);
            b.cmp(CmpOp::Lt, one, 3, 6);
            b.branch(6, "exit");
            b.vec_get(2, one, dst);
        }
        b.bin(IntBinOp::Add, I64, 4, 5, 4);
        b.setfield(F_A, 0, 4);
    });
    assert_eq!(
        trace_of(t, 10),
        "\
[i0, r1, r2]
r3 = fieldaddr<S.v>(r1)
i4 = vec_len<Vec<i64>>(r3)
i5 = int_lt/i64(1, i4)
guard_true(i5) [i0, i4, i5, r1, r2, r3] #0
r7 = vec_ptr<Vec<i64>>(r3)
i8 = getitem<Vec<i64>>(r7, 1)
i9 = int_add/i64(i8, i8)
setfield<S.a>(r1, i9)
i11 = int_sub/i64(i0, 1)
i12 = int_gt/i64(i11, 0)
guard_true(i12) [i11, i12, r1, r2] #1
jump(i11, r1, r2)
"
    );
    runs_like_the_blackhole(t);
}

#[test]
fn pure_operations_fold_on_constants_and_are_recorded_once() {
    // c = 6 * 7 (constants); x = n & 3; y = n & 3; s.a = x + y + c
    let t = tables(|b| {
        let (six, seven, three) = (b.ci(6), b.ci(7), b.ci(3));
        b.bin(IntBinOp::Mul, I64, six, seven, 3);
        b.bin(IntBinOp::And, I64, 1, three, 4);
        b.bin(IntBinOp::And, I64, 1, three, 5);
        b.bin(IntBinOp::Add, I64, 4, 5, 4);
        b.bin(IntBinOp::Add, I64, 4, 3, 4);
        b.setfield(F_A, 0, 4);
    });
    assert_eq!(
        trace_of(t, 10),
        "\
[i0, r1, r2]
i3 = int_and/i64(i0, 3)
i4 = int_add/i64(i3, i3)
i5 = int_add/i64(i4, 42)
setfield<S.a>(r1, i5)
i7 = int_sub/i64(i0, 1)
i8 = int_gt/i64(i7, 0)
guard_true(i8) [i7, i8, r1, r2] #0
jump(i7, r1, r2)
"
    );
    runs_like_the_blackhole(t);
}

#[test]
fn a_repeated_guard_is_recorded_once() {
    // if n < 1000 {..}; if n < 1000 {..}; if !(n >= 1000) {..}
    // x = s.a; if x == 5 { s.b = x + 1; promote(x) } (x is 5 from there)
    let t = tables(|b| {
        let (thousand, five, one) = (b.ci(1000), b.ci(5), b.ci(1));
        b.cmp(CmpOp::Lt, 1, thousand, 2);
        b.branch(2, "exit");
        b.cmp(CmpOp::Lt, 1, thousand, 3);
        b.branch(3, "exit");
        b.cmp(CmpOp::Ge, 1, thousand, 3);
        b.a.i(insn::int_not(IntTy::U8, 3, 3));
        b.bin(IntBinOp::And, IntTy::U8, 3, one, 3);
        b.branch(3, "exit");
        b.getfield(F_A, 0, 4);
        b.cmp(CmpOp::Eq, 4, five, 5);
        b.branch(5, "exit");
        b.bin(IntBinOp::Add, I64, 4, one, 6);
        b.setfield(F_B, 0, 6);
        b.a.i(insn::promote(Kind::Int, 4, 7));
        b.getfield(F_A, 0, 8);
        b.cmp(CmpOp::Ne, 8, five, 9);
        b.branch(9, "other");
        b.a.goto("exit");
        b.label("other");
    });
    // One guard for the three tests of n, one for x == 5 (after which the
    // stored x + 1 is the constant 6, the promote and the second test of
    // s.a are known).
    assert_eq!(
        trace_of(t, 10),
        "\
[i0, r1, r2]
i3 = int_lt/i64(i0, 1000)
guard_true(i3) [i0, i3, r1, r2] #0
i5 = getfield<S.a>(r1)
i6 = int_eq/i64(i5, 5)
guard_true(i6) [i0, i5, i6, r1, r2] #1
setfield<S.b>(r1, 6)
i9 = int_sub/i64(i0, 1)
i10 = int_gt/i64(i9, 0)
guard_true(i10) [i9, i10, r1, r2] #2
jump(i9, r1, r2)
"
    );
    runs_like_the_blackhole(t);
}

#[test]
fn a_write_of_the_known_value_is_not_recorded() {
    // x = s.a; s.a = x; s.b = 3; s.b = 3
    let t = tables(|b| {
        let three = b.ci(3);
        b.getfield(F_A, 0, 3);
        b.setfield(F_A, 0, 3);
        b.setfield(F_B, 0, three);
        b.setfield(F_B, 0, three);
    });
    assert_eq!(
        trace_of(t, 10),
        "\
[i0, r1, r2]
i3 = getfield<S.a>(r1)
setfield<S.b>(r1, 3)
i5 = int_sub/i64(i0, 1)
i6 = int_gt/i64(i5, 0)
guard_true(i6) [i5, i6, r1, r2] #0
jump(i5, r1, r2)
"
    );
    runs_like_the_blackhole(t);
}

// ---------------------------------------------------------------------------
// What makes the tracer read again.

#[test]
fn a_write_that_may_alias_forces_a_second_read() {
    // x = s.a; s2.b = n; y = s.a (s2.b is not s.a: cached);
    // s2.a = n; z = s.a (s2 may be s: read again);
    // s.small = n; w = s.small (a u8 written from an i64: read back)
    let t = tables(|b| {
        b.getfield(F_A, 0, 3);
        b.setfield(F_B, 1, 1);
        b.getfield(F_A, 0, 4);
        b.setfield(F_A, 1, 1);
        b.getfield(F_A, 0, 5);
        b.bin(IntBinOp::Add, I64, 3, 4, 3);
        b.bin(IntBinOp::Add, I64, 3, 5, 3);
        b.setfield(F_SMALL, 0, 1);
        b.getfield(F_SMALL, 0, 6);
        b.bin(IntBinOp::Add, I64, 3, 6, 3);
        b.setfield(F_B, 0, 3);
    });
    assert_eq!(
        trace_of(t, 10),
        "\
[i0, r1, r2]
i3 = getfield<S.a>(r1)
setfield<S.b>(r2, i0)
setfield<S.a>(r2, i0)
i6 = getfield<S.a>(r1)
i7 = int_add/i64(i3, i3)
i8 = int_add/i64(i7, i6)
setfield<S.small>(r1, i0)
i10 = getfield<S.small>(r1)
i11 = int_add/i64(i8, i10)
setfield<S.b>(r1, i11)
i13 = int_sub/i64(i0, 1)
i14 = int_gt/i64(i13, 0)
guard_true(i14) [i13, i14, r1, r2] #0
jump(i13, r1, r2)
"
    );
    runs_like_the_blackhole(t);
}

#[test]
fn a_residual_call_forces_a_second_read_unless_it_writes_nothing() {
    // x = s.a; len = s.v.len(); observe(x); y = s.a; len2 = s.v.len();
    // bump(s2); z = s.a; len3 = s.v.len(); s.b = x + y + z + len + len2 + len3
    let t = tables(|b| {
        b.getfield(F_A, 0, 3);
        b.field_addr(F_V, 0, 2);
        b.vec_len(2, 6);
        b.call(C_OBSERVE, vec![ki(3)]);
        b.getfield(F_A, 0, 4);
        b.field_addr(F_V, 0, 2);
        b.vec_len(2, 7);
        b.call(C_BUMP, vec![kr(1)]);
        b.getfield(F_A, 0, 5);
        b.field_addr(F_V, 0, 2);
        b.vec_len(2, 8);
        for r in [4, 5, 6, 7, 8] {
            b.bin(IntBinOp::Add, I64, 3, r, 3);
        }
        b.setfield(F_B, 0, 3);
    });
    assert_eq!(
        trace_of(t, 10),
        "\
[i0, r1, r2]
i3 = getfield<S.a>(r1)
r4 = fieldaddr<S.v>(r1)
i5 = vec_len<Vec<i64>>(r4)
call_residual<observe>(i3)
call_residual<bump>(r2)
i8 = getfield<S.a>(r1)
i9 = vec_len<Vec<i64>>(r4)
i10 = int_add/i64(i3, i3)
i11 = int_add/i64(i10, i8)
i12 = int_add/i64(i11, i5)
i13 = int_add/i64(i12, i5)
i14 = int_add/i64(i13, i9)
setfield<S.b>(r1, i14)
i16 = int_sub/i64(i0, 1)
i17 = int_gt/i64(i16, 0)
guard_true(i17) [i16, i17, r1, r2] #0
jump(i16, r1, r2)
"
    );
    runs_like_the_blackhole(t);
}

#[test]
fn items_are_cached_by_index_and_invalidated_by_possibly_equal_ones() {
    // l = s.v.len(); x = s.v[0]; s.v[1] = x; y = s.v[0] (another constant
    // index: cached); z = s.v[1] (the value written); s.v[n & 1] = 3 (may
    // be 0 or 1); w = s.v[0] (read again); s.v.push(x); l2 = s.v.len(),
    // u = s.v[0] (read again, and the data pointer too)
    let t = tables(|b| {
        let (zero, one, three) = (b.ci(0), b.ci(1), b.ci(3));
        b.field_addr(F_V, 0, 2);
        b.vec_len(2, 9);
        b.vec_get(2, zero, 3);
        b.vec_set(2, one, 3);
        b.vec_get(2, zero, 4);
        b.vec_get(2, one, 5);
        b.bin(IntBinOp::And, I64, 1, one, 6);
        b.vec_set(2, 6, three);
        b.vec_get(2, zero, 7);
        b.a.i(insn::vec_push(A_VI64, 2, 3));
        b.vec_len(2, 8);
        b.vec_get(2, zero, 6);
        for r in [4, 5, 7, 8, 9, 6] {
            b.bin(IntBinOp::Add, I64, 3, r, 3);
        }
        b.setfield(F_A, 0, 3);
    });
    assert_eq!(
        trace_of(t, 10),
        "\
[i0, r1, r2]
r3 = fieldaddr<S.v>(r1)
i4 = vec_len<Vec<i64>>(r3)
r5 = vec_ptr<Vec<i64>>(r3)
i6 = getitem<Vec<i64>>(r5, 0)
setitem<Vec<i64>>(r5, 1, i6)
i8 = int_and/i64(i0, 1)
setitem<Vec<i64>>(r5, i8, 3)
i10 = getitem<Vec<i64>>(r5, 0)
vec_push<Vec<i64>>(r3, i6)
i12 = vec_len<Vec<i64>>(r3)
r13 = vec_ptr<Vec<i64>>(r3)
i14 = getitem<Vec<i64>>(r13, 0)
i15 = int_add/i64(i6, i6)
i16 = int_add/i64(i15, i6)
i17 = int_add/i64(i16, i10)
i18 = int_add/i64(i17, i12)
i19 = int_add/i64(i18, i4)
i20 = int_add/i64(i19, i14)
setfield<S.a>(r1, i20)
i22 = int_sub/i64(i0, 1)
i23 = int_gt/i64(i22, 0)
guard_true(i23) [i22, i23, r1, r2] #0
jump(i22, r1, r2)
"
    );
    runs_like_the_blackhole(t);
}

#[test]
fn a_bridge_starts_knowing_nothing() {
    // x = s.a; if n & 1 == 0 { y = s.a } else { y = s.a + 1 }; s.b = x + y
    let t = tables(|b| {
        let (zero, one) = (b.ci(0), b.ci(1));
        b.getfield(F_A, 0, 3);
        b.bin(IntBinOp::And, I64, 1, one, 4);
        b.cmp(CmpOp::Eq, 4, zero, 5);
        b.branch(5, "odd");
        b.getfield(F_A, 0, 6);
        b.a.goto("join");
        b.label("odd");
        b.getfield(F_A, 0, 6);
        b.bin(IntBinOp::Add, I64, 6, one, 6);
        b.label("join");
        b.bin(IntBinOp::Add, I64, 3, 6, 3);
        b.setfield(F_B, 0, 3);
    });
    // Traced from an even n: the loop reads s.a once. The bridge from the
    // guard on parity starts in the middle of the body, with s.a unknown.
    let (mut s, mut s2) = (new_s(), new_s());
    let args = [0, 10, addr_mut(&mut *s), addr_mut(&mut *s2)];
    let (lp, args) = closed(metainterp::trace_loop(t, 0, &args, &params(1000)));
    assert_eq!(
        lp.ops
            .iter()
            .filter(|o| matches!(o.opcode, trace::Opcode::GetField(d) if d.0 == F_A))
            .count(),
        1
    );
    let exit = trace::interp::run(&lp, t, &args[1..]);
    let info = &lp.guards[exit.guard as usize];
    let target = |_: &[u64]| Some(metainterp::LoopTarget { id: LOOP_ID });
    let (bridge, _) = closed(metainterp::trace_bridge(
        t,
        info,
        &exit.values,
        &params(1000),
        &target,
    ));
    let text = trace::format_trace(&bridge, t);
    assert!(text.contains("getfield<S.a>"), "{text}");
    runs_like_the_blackhole(t);
}

// ---------------------------------------------------------------------------
// Arithmetic the tracer sees through.

#[test]
fn offsets_of_one_value_reassociate_and_name_different_items() {
    // i = n & 1; a = i + 1; s.v[i] = n; s.v[a] = 7; x = s.v[i] (another
    // item: the value written); b = a - 1 (i again); y = s.v[b] (the same
    // item); s.b = x + y
    let t = tables(|b| {
        let (one, seven) = (b.ci(1), b.ci(7));
        let usize = IntTy::Usize;
        b.bin(IntBinOp::And, I64, 1, one, 3);
        b.bin(IntBinOp::Add, usize, 3, one, 4);
        b.field_addr(F_V, 0, 2);
        b.vec_set(2, 3, 1);
        b.vec_set(2, 4, seven);
        b.vec_get(2, 3, 5);
        b.bin(IntBinOp::Sub, usize, 4, one, 6);
        b.vec_get(2, 6, 7);
        b.bin(IntBinOp::Add, I64, 5, 7, 5);
        b.setfield(F_B, 0, 5);
    });
    assert_eq!(
        trace_of(t, 10),
        "\
[i0, r1, r2]
i3 = int_and/i64(i0, 1)
i4 = int_add/usize(i3, 1)
r5 = fieldaddr<S.v>(r1)
r6 = vec_ptr<Vec<i64>>(r5)
setitem<Vec<i64>>(r6, i3, i0)
setitem<Vec<i64>>(r6, i4, 7)
i9 = int_add/i64(i0, i0)
setfield<S.b>(r1, i9)
i11 = int_sub/i64(i0, 1)
i12 = int_gt/i64(i11, 0)
guard_true(i12) [i11, i12, r1, r2] #0
jump(i11, r1, r2)
"
    );
    runs_like_the_blackhole(t);
}

#[test]
fn unsigned_orders_proved_by_guards_decide_comparisons() {
    // len = s.v.len(); i = n & 1; j = i + 2;
    // if !(j < len) exit; if 2 > j exit      (a move right, a move left)
    // k = j - 2; if !(k < len) exit          (j >= 2: k <= j < len)
    // if k >= len exit; s.a = s.v[k]
    let t = tables(|b| {
        let (one, two) = (b.ci(1), b.ci(2));
        let usize = IntTy::Usize;
        let cmp = |b: &mut Body, op, x, y, dst| {
            b.a.i(insn::int_cmp(op, usize, x, y, dst));
        };
        b.field_addr(F_V, 0, 2);
        b.vec_len(2, 3);
        b.bin(IntBinOp::And, I64, 1, one, 4);
        b.bin(IntBinOp::Add, usize, 4, two, 5);
        cmp(b, CmpOp::Lt, 5, 3, 6);
        b.branch(6, "exit");
        cmp(b, CmpOp::Gt, two, 5, 6);
        b.branch_if(6, "exit");
        b.bin(IntBinOp::Sub, usize, 5, two, 7);
        cmp(b, CmpOp::Lt, 7, 3, 6);
        b.branch(6, "exit");
        cmp(b, CmpOp::Ge, 7, 3, 6);
        b.branch_if(6, "exit");
        b.vec_get(2, 7, 8);
        b.setfield(F_A, 0, 8);
    });
    // A guard for each of the first two tests; `k` is `i`, and the last two
    // tests are decided (`k <= j < len`).
    assert_eq!(
        trace_of(t, 10),
        "\
[i0, r1, r2]
r3 = fieldaddr<S.v>(r1)
i4 = vec_len<Vec<i64>>(r3)
i5 = int_and/i64(i0, 1)
i6 = int_add/usize(i5, 2)
i7 = int_lt/usize(i6, i4)
guard_true(i7) [i0, i4, i5, i6, i7, r1, r2, r3] #0
i9 = int_gt/usize(2, i6)
guard_false(i9) [i0, i4, i5, i6, i9, r1, r2, r3] #1
r11 = vec_ptr<Vec<i64>>(r3)
i12 = getitem<Vec<i64>>(r11, i5)
setfield<S.a>(r1, i12)
i14 = int_sub/i64(i0, 1)
i15 = int_gt/i64(i14, 0)
guard_true(i15) [i14, i15, r1, r2] #2
jump(i14, r1, r2)
"
    );
    runs_like_the_blackhole(t);
}

#[test]
fn orders_not_proved_are_still_tested() {
    // len = s.v.len(); i = n & 1; j = i + 2;
    // if !(j <s len) exit (signed: proves nothing unsigned);
    // if !(j < len) exit; if 1 > j exit (j >= 1 only)
    // k = j - 2; if !(k < len) exit (k may have wrapped around: tested)
    let t = tables(|b| {
        let (one, two) = (b.ci(1), b.ci(2));
        let usize = IntTy::Usize;
        let cmp = |b: &mut Body, op, ty, x, y, dst| {
            b.a.i(insn::int_cmp(op, ty, x, y, dst));
        };
        b.field_addr(F_V, 0, 2);
        b.vec_len(2, 3);
        b.bin(IntBinOp::And, I64, 1, one, 4);
        b.bin(IntBinOp::Add, usize, 4, two, 5);
        cmp(b, CmpOp::Lt, IntTy::Isize, 5, 3, 6);
        b.branch(6, "exit");
        cmp(b, CmpOp::Lt, usize, 5, 3, 6);
        b.branch(6, "exit");
        cmp(b, CmpOp::Gt, usize, one, 5, 6);
        b.branch_if(6, "exit");
        b.bin(IntBinOp::Sub, usize, 5, two, 7);
        cmp(b, CmpOp::Lt, usize, 7, 3, 6);
        b.branch(6, "exit");
        b.vec_get(2, 7, 8);
        b.setfield(F_A, 0, 8);
    });
    assert_eq!(
        trace_of(t, 10),
        "\
[i0, r1, r2]
r3 = fieldaddr<S.v>(r1)
i4 = vec_len<Vec<i64>>(r3)
i5 = int_and/i64(i0, 1)
i6 = int_add/usize(i5, 2)
i7 = int_lt/isize(i6, i4)
guard_true(i7) [i0, i4, i5, i6, i7, r1, r2, r3] #0
i9 = int_lt/usize(i6, i4)
guard_true(i9) [i0, i4, i5, i6, i9, r1, r2, r3] #1
i11 = int_gt/usize(1, i6)
guard_false(i11) [i0, i4, i5, i6, i11, r1, r2, r3] #2
i13 = int_lt/usize(i5, i4)
guard_true(i13) [i0, i4, i5, i6, i13, r1, r2, r3] #3
r15 = vec_ptr<Vec<i64>>(r3)
i16 = getitem<Vec<i64>>(r15, i5)
setfield<S.a>(r1, i16)
i18 = int_sub/i64(i0, 1)
i19 = int_gt/i64(i18, 0)
guard_true(i19) [i18, i19, r1, r2] #4
jump(i18, r1, r2)
"
    );
    runs_like_the_blackhole(t);
}
