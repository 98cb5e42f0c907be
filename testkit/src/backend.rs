//! The backend tests' fixture: a trace builder (`TB`), hand-built
//! `Tables` over real `#[repr(C)]` data (`Rec` with every scalar type, a
//! `Ring`), residual calls and a pure jitcode, and the
//! compiled-vs-interpreted comparison. (Why these tables are not
//! `fixture`'s: see that module.)

use crate::insn;
use crate::jitcode::{array, call_descr, field_at};
pub use crate::leak;
pub use crate::rng::Rng;
pub use crate::shape::*;
use crate::vec_array;
use metatrace_runtime::backend::{self, GuardExit, TraceId};
use metatrace_runtime::jitcode::*;
use metatrace_runtime::trace::interp::{self, TraceExit};
use metatrace_runtime::trace::*;
use std::collections::HashMap;
use std::mem::{offset_of, size_of};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

// ---------------------------------------------------------------------------
// Trace builder.

pub struct TB {
    pub inputs: Vec<Kind>,
    pub ops: Vec<TraceOp>,
    pub guards: Vec<GuardInfo>,
}

impl TB {
    pub fn new(inputs: &[Kind]) -> TB {
        TB {
            inputs: inputs.to_vec(),
            ops: Vec::new(),
            guards: Vec::new(),
        }
    }

    pub fn kind_of(&self, v: Val) -> Kind {
        match v {
            Val::Input(i) => self.inputs[i as usize],
            Val::Op(i) => self.ops[i as usize].result.expect("a result"),
            Val::Int(_) => Kind::Int,
            Val::Ref(_) => Kind::Ref,
            Val::Float(_) => Kind::Float,
            Val::Virtual(_) => Kind::Ref,
        }
    }

    pub fn op(&mut self, opcode: Opcode, args: Vec<Val>, result: Option<Kind>) -> Val {
        self.ops.push(TraceOp {
            opcode,
            args,
            result,
            guard: None,
        });
        Val::Op(self.ops.len() as u32 - 1)
    }

    pub fn int(&mut self, opcode: Opcode, args: Vec<Val>) -> Val {
        self.op(opcode, args, Some(Kind::Int))
    }

    /// `a op b` on `ty` integers.
    pub fn int_bin(&mut self, op: IntBinOp, ty: IntTy, a: Val, b: Val) -> Val {
        self.int(Opcode::IntBin(op, ty), vec![a, b])
    }

    /// `a op b` on `ty` integers, 0 or 1.
    pub fn int_cmp(&mut self, op: CmpOp, ty: IntTy, a: Val, b: Val) -> Val {
        self.int(Opcode::IntCmp(op, ty), vec![a, b])
    }

    pub fn float(&mut self, opcode: Opcode, args: Vec<Val>) -> Val {
        self.op(opcode, args, Some(Kind::Float))
    }

    pub fn r#ref(&mut self, opcode: Opcode, args: Vec<Val>) -> Val {
        self.op(opcode, args, Some(Kind::Ref))
    }

    pub fn effect(&mut self, opcode: Opcode, args: Vec<Val>) {
        self.op(opcode, args, None);
    }

    /// A guard whose fail arguments are exactly `fail_args` (constants
    /// allowed). Returns the guard's index.
    pub fn guard(&mut self, opcode: Opcode, args: Vec<Val>, fail_args: Vec<Val>) -> u32 {
        let g = self.guards.len() as u32;
        let regs = fail_args
            .iter()
            .enumerate()
            .filter(|(_, v)| !v.is_const())
            .map(|(k, v)| {
                (
                    KReg {
                        kind: self.kind_of(*v),
                        reg: k as u16,
                    },
                    *v,
                )
            })
            .collect();
        self.guards.push(GuardInfo {
            virtuals: Vec::new(),
            pending: Vec::new(),
            frames: vec![FrameSnapshot {
                jitcode: 0,
                pc: 0,
                regs,
            }],
            fail_args,
        });
        self.ops.push(TraceOp {
            opcode,
            args,
            result: None,
            guard: Some(g),
        });
        g
    }

    /// A guard that always fails (`guard_true(0)`), to leave a trace with
    /// `values` as the fail arguments.
    pub fn exit(&mut self, values: Vec<Val>) -> u32 {
        self.guard(Opcode::GuardTrue, vec![Val::Int(0)], values)
    }

    pub fn finish_loop(self, args: Vec<Val>) -> Trace {
        self.end_at_loop_start(Opcode::Jump, args)
    }

    /// The trace, started at a loop header, ended by `last`.
    fn end_at_loop_start(mut self, last: Opcode, args: Vec<Val>) -> Trace {
        self.ops.push(TraceOp {
            opcode: last,
            args,
            result: None,
            guard: None,
        });
        Trace {
            start: TraceStart::Loop {
                driver: 0,
                greens: vec![],
            },
            inputs: self.inputs,
            ops: self.ops,
            guards: self.guards,
        }
    }

    /// A function trace: it ends where the portal returns, handing `args`
    /// back (`finish`).
    pub fn finish_function(self, args: Vec<Val>) -> Trace {
        self.end_at_loop_start(Opcode::Finish, args)
    }

    /// A loop that leaves at its last guard (for straight-line tests):
    /// the jump back is never reached when the trace ends with `exit`.
    /// The jump passes constants, so that inputs die at their last real use.
    pub fn finish_straight(self) -> Trace {
        let args = self.inputs.iter().map(|k| Val::constant(*k, 0)).collect();
        self.finish_loop(args)
    }

    pub fn finish_bridge(
        mut self,
        code: TraceId,
        guard: u32,
        target: TraceId,
        args: Vec<Val>,
    ) -> Trace {
        self.ops.push(TraceOp {
            opcode: Opcode::JumpTo(target),
            args,
            result: None,
            guard: None,
        });
        Trace {
            start: TraceStart::Bridge { code, guard },
            inputs: self.inputs,
            ops: self.ops,
            guards: self.guards,
        }
    }
}

// ---------------------------------------------------------------------------
// Native data the tables describe.

#[repr(C)]
#[derive(Clone, Debug, PartialEq)]
pub struct Rec {
    pub a_i8: i8,
    pub a_u8: u8,
    pub a_i16: i16,
    pub a_u16: u16,
    pub a_i32: i32,
    pub a_u32: u32,
    pub a_i64: i64,
    pub a_u64: u64,
    pub a_isize: isize,
    pub a_usize: usize,
    pub a_bool: bool,
    pub a_char: char,
    pub a_f64: f64,
    pub a_ref: usize,
    pub inner: Inner,
}

#[repr(C)]
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Inner {
    pub x: i64,
    pub y: f64,
}

impl Rec {
    pub fn sample(r: &mut Rng) -> Rec {
        Rec {
            a_i8: r.int() as i8,
            a_u8: r.int() as u8,
            a_i16: r.int() as i16,
            a_u16: r.int() as u16,
            a_i32: r.int() as i32,
            a_u32: r.int() as u32,
            a_i64: r.int(),
            a_u64: r.int() as u64,
            a_isize: r.int() as isize,
            a_usize: r.int() as usize,
            a_bool: r.chance(50),
            a_char: char::from_u32(r.below(0x10ffff) as u32).unwrap_or('x'),
            a_f64: r.float(),
            a_ref: r.next() as usize,
            inner: Inner {
                x: r.int(),
                y: r.float(),
            },
        }
    }
}

/// Compares floats by bits (NaN payloads included).
pub fn same_rec(a: &Rec, b: &Rec) -> bool {
    a.a_i8 == b.a_i8
        && a.a_u8 == b.a_u8
        && a.a_i16 == b.a_i16
        && a.a_u16 == b.a_u16
        && a.a_i32 == b.a_i32
        && a.a_u32 == b.a_u32
        && a.a_i64 == b.a_i64
        && a.a_u64 == b.a_u64
        && a.a_isize == b.a_isize
        && a.a_usize == b.a_usize
        && a.a_bool == b.a_bool
        && a.a_char == b.a_char
        && a.a_f64.to_bits() == b.a_f64.to_bits()
        && a.a_ref == b.a_ref
        && a.inner.x == b.inner.x
        && a.inner.y.to_bits() == b.inner.y.to_bits()
}

/// A Vec-like whose length is computed (its shims cannot be inlined).
pub struct Ring {
    pub start: usize,
    pub end: usize,
    pub data: Vec<i64>,
}

impl Clone for Ring {
    fn clone(&self) -> Ring {
        Ring {
            start: self.start,
            end: self.end,
            data: self.data.clone(),
        }
    }
}
impl std::fmt::Debug for Ring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ring({}, {}, {:?})", self.start, self.end, self.data)
    }
}

unsafe fn ring_len(v: usize) -> usize {
    let r = unsafe { &*(v as *const Ring) };
    r.end.wrapping_sub(r.start)
}
unsafe fn ring_ptr(v: usize) -> usize {
    let r = unsafe { &mut *(v as *mut Ring) };
    r.data.as_mut_ptr().wrapping_add(r.start) as usize
}
unsafe fn ring_push(v: usize, x: u64) {
    let r = unsafe { &mut *(v as *mut Ring) };
    r.data.push(x as i64);
    r.end += 1;
}
unsafe fn ring_pop(v: usize) -> Option<u64> {
    let r = unsafe { &mut *(v as *mut Ring) };
    if r.end == r.start {
        return None;
    }
    r.end -= 1;
    r.data.pop().map(|x| x as u64)
}

// Field descrs: one per Rec field, in declaration order, then these.
pub const F_I8: u16 = 0;
pub const F_U8: u16 = 1;
pub const F_I16: u16 = 2;
pub const F_U16: u16 = 3;
pub const F_I32: u16 = 4;
pub const F_U32: u16 = 5;
pub const F_I64: u16 = 6;
pub const F_U64: u16 = 7;
pub const F_ISIZE: u16 = 8;
pub const F_USIZE: u16 = 9;
pub const F_BOOL: u16 = 10;
pub const F_CHAR: u16 = 11;
pub const F_F64: u16 = 12;
pub const F_REF: u16 = 13;
pub const F_INNER: u16 = 14;
pub const F_INNER_X: u16 = 15;
pub const F_INNER_Y: u16 = 16;
pub const F_RECT_H: u16 = 17;
pub const F_CIRCLE_R: u16 = 18;

/// Scalar fields of Rec with their descr.
pub fn rec_fields() -> Vec<(u16, ScalarTy)> {
    use IntTy::*;
    vec![
        (F_I8, ScalarTy::Int(I8)),
        (F_U8, ScalarTy::Int(U8)),
        (F_I16, ScalarTy::Int(I16)),
        (F_U16, ScalarTy::Int(U16)),
        (F_I32, ScalarTy::Int(I32)),
        (F_U32, ScalarTy::Int(U32)),
        (F_I64, ScalarTy::Int(I64)),
        (F_U64, ScalarTy::Int(U64)),
        (F_ISIZE, ScalarTy::Int(Isize)),
        (F_USIZE, ScalarTy::Int(Usize)),
        (F_BOOL, ScalarTy::Bool),
        (F_CHAR, ScalarTy::Char),
        (F_F64, ScalarTy::F64),
        (F_REF, ScalarTy::Ref),
    ]
}

pub const A_VU8: u16 = 0;
pub const A_VI64: u16 = 1;
pub const A_VF64: u16 = 2;
pub const A_SLICE_U16: u16 = 3;
pub const A_SLICE_I8: u16 = 4;
pub const A_SLICE_U32: u16 = 5;
pub const A_SLICE_I32: u16 = 6;
pub const A_SLICE_BOOL: u16 = 7;
pub const A_SLICE_REC: u16 = 8;
pub const A_RING: u16 = 9;
pub const A_VREF: u16 = 10;
pub const A_SLICE_3: u16 = 11;

pub const E_SHAPE: u16 = 0;

pub const C_MIX: u16 = 0;
pub const C_BUMP: u16 = 1;
pub const C_BOOM: u16 = 2;
pub const C_SUM8: u16 = 3;
pub const C_FLOATS: u16 = 4;
pub const C_REENTER: u16 = 5;

/// The loop `reenter` runs (set by the test that uses it).
pub static REENTER_ID: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(u32::MAX);

/// Jitcodes for CallPure.
pub const J_AFFINE: u16 = 0;
pub const J_PANIC: u16 = 1;

fn fields() -> Vec<FieldDescr> {
    let f = field_at;
    use IntTy::*;
    let mut v = vec![
        f("Rec.a_i8", Some(ScalarTy::Int(I8)), offset_of!(Rec, a_i8)),
        f("Rec.a_u8", Some(ScalarTy::Int(U8)), offset_of!(Rec, a_u8)),
        f(
            "Rec.a_i16",
            Some(ScalarTy::Int(I16)),
            offset_of!(Rec, a_i16),
        ),
        f(
            "Rec.a_u16",
            Some(ScalarTy::Int(U16)),
            offset_of!(Rec, a_u16),
        ),
        f(
            "Rec.a_i32",
            Some(ScalarTy::Int(I32)),
            offset_of!(Rec, a_i32),
        ),
        f(
            "Rec.a_u32",
            Some(ScalarTy::Int(U32)),
            offset_of!(Rec, a_u32),
        ),
        f(
            "Rec.a_i64",
            Some(ScalarTy::Int(I64)),
            offset_of!(Rec, a_i64),
        ),
        f(
            "Rec.a_u64",
            Some(ScalarTy::Int(U64)),
            offset_of!(Rec, a_u64),
        ),
        f(
            "Rec.a_isize",
            Some(ScalarTy::Int(Isize)),
            offset_of!(Rec, a_isize),
        ),
        f(
            "Rec.a_usize",
            Some(ScalarTy::Int(Usize)),
            offset_of!(Rec, a_usize),
        ),
        f("Rec.a_bool", Some(ScalarTy::Bool), offset_of!(Rec, a_bool)),
        f("Rec.a_char", Some(ScalarTy::Char), offset_of!(Rec, a_char)),
        f("Rec.a_f64", Some(ScalarTy::F64), offset_of!(Rec, a_f64)),
        f("Rec.a_ref", Some(ScalarTy::Ref), offset_of!(Rec, a_ref)),
        f("Rec.inner", None, offset_of!(Rec, inner)),
        f("Inner.x", Some(ScalarTy::Int(I64)), offset_of!(Inner, x)),
        f("Inner.y", Some(ScalarTy::F64), offset_of!(Inner, y)),
    ];
    v.extend(shape_fields());
    v
}

fn arrays() -> Vec<ArrayDescr> {
    let slice = |name, item: ScalarTy| array(name, Some(item), item.size(), None);
    vec![
        vec_array!(u8, ScalarTy::Int(IntTy::U8), |x| x as u64, |x| x as u8),
        vec_array!(i64, ScalarTy::Int(IntTy::I64), |x| x as u64, |x| x as i64),
        vec_array!(f64, ScalarTy::F64, |x| x.to_bits(), f64::from_bits),
        slice("[u16]", ScalarTy::Int(IntTy::U16)),
        slice("[i8]", ScalarTy::Int(IntTy::I8)),
        slice("[u32]", ScalarTy::Int(IntTy::U32)),
        slice("[i32]", ScalarTy::Int(IntTy::I32)),
        slice("[bool]", ScalarTy::Bool),
        array("[Rec]", None, size_of::<Rec>(), None),
        array(
            "Ring",
            Some(ScalarTy::Int(IntTy::I64)),
            8,
            Some(VecShims {
                len: ring_len,
                ptr: ring_ptr,
                push: Some(ring_push),
                pop: Some(ring_pop),
                slots: None,
            }),
        ),
        vec_array!(usize, ScalarTy::Ref, |x| x as u64, |x| x as usize),
        // items of 3 bytes, read as their first byte
        array("[[u8; 3]]", Some(ScalarTy::Int(IntTy::U8)), 3, None),
    ]
}

/// `fn mix(a: i64, b: f64, c: usize) -> (i64, f64, usize)`.
unsafe fn mix_shim(args: &[u64], results: &mut [u64]) {
    let (a, b, c) = (args[0] as i64, f64::from_bits(args[1]), args[2]);
    results[0] = a.wrapping_mul(31).wrapping_add(c as i64) as u64;
    results[1] = (b * 0.5 + a as f64).to_bits();
    results[2] = c.rotate_left(7);
}

pub static BUMPS: AtomicU64 = AtomicU64::new(0);

unsafe fn bump_shim(args: &[u64], results: &mut [u64]) {
    assert!(args.is_empty() && results.is_empty());
    BUMPS.fetch_add(1, Ordering::SeqCst);
}

unsafe fn boom_shim(args: &[u64], _results: &mut [u64]) {
    panic!("boom {}", args[0] as i64);
}

unsafe fn sum8_shim(args: &[u64], results: &mut [u64]) {
    let mut s = 0u64;
    for (k, a) in args.iter().enumerate() {
        s = s.wrapping_add(a.wrapping_mul(k as u64 + 1));
    }
    results[0] = s;
    results[1] = args.len() as u64;
}

unsafe fn floats_shim(args: &[u64], results: &mut [u64]) {
    let a = f64::from_bits(args[0]);
    let b = f64::from_bits(args[1]);
    results[0] = (a * b).to_bits();
    results[1] = (a - b).to_bits();
}

/// `fn reenter(x: i64) -> i64`: runs compiled loop `REENTER_ID` on `x`
/// from inside a residual call, returns its first exit value.
unsafe fn reenter_shim(args: &[u64], results: &mut [u64]) {
    let id = REENTER_ID.load(Ordering::SeqCst);
    let e = backend::execute(id, &[args[0]]);
    results[0] = e.values[0];
}

fn calls() -> Vec<CallDescr> {
    use Kind::*;
    let c = call_descr;
    vec![
        c("mix", mix_shim, &[Int, Float, Ref], &[Int, Float, Ref]),
        c("bump", bump_shim, &[], &[]),
        c("boom", boom_shim, &[Int], &[]),
        c(
            "sum8",
            sum8_shim,
            &[Int, Int, Int, Int, Int, Int, Int, Int],
            &[Int, Int],
        ),
        c("floats", floats_shim, &[Float, Float], &[Float, Float]),
        c("reenter", reenter_shim, &[Int], &[Int]),
    ]
}

fn jitcodes() -> Vec<JitCode> {
    let ki = |reg| KReg {
        kind: Kind::Int,
        reg,
    };
    let kf = |reg| KReg {
        kind: Kind::Float,
        reg,
    };
    // fn affine(a: i64, x: f64) -> (i64, f64) { (a * 3 + 7, x * 2.0) }
    // int regs: 0 a, 1 t, 2 r; consts 3 = 3, 4 = 7. float: 0 x, 1 r; const 2 = 2.0
    let affine = [
        insn::int_bin(IntBinOp::Mul, IntTy::I64, 0, 3, 1),
        insn::int_bin(IntBinOp::Add, IntTy::I64, 1, 4, 2),
        insn::float_bin(FloatBinOp::Mul, 0, 2, 1),
        insn::ret(vec![ki(2), kf(1)]),
    ];
    let panics = [insn::panic(PanicKind::Explicit, 0)];
    vec![
        JitCode {
            name: "affine",
            code: leak(encode(&affine)),
            num_regs: [3, 0, 2],
            consts_i: leak(vec![3, 7]),
            consts_r: &[],
            consts_f: leak(vec![2.0f64.to_bits()]),
            args: leak(vec![ki(0), kf(0)]),
            results: leak(vec![Kind::Int, Kind::Float]),
        },
        JitCode {
            name: "panics",
            code: leak(encode(&panics)),
            num_regs: [1, 0, 0],
            consts_i: &[],
            consts_r: &[],
            consts_f: &[],
            args: leak(vec![ki(0)]),
            results: leak(vec![Kind::Int]),
        },
    ]
}

/// The tables every backend test uses.
pub fn tables() -> &'static Tables {
    static T: OnceLock<&'static Tables> = OnceLock::new();
    T.get_or_init(|| {
        Box::leak(Box::new(Tables {
            jitcodes: leak(jitcodes()),
            fields: leak(fields()),
            arrays: leak(arrays()),
            enums: leak(vec![shape_enum()]),
            calls: leak(calls()),
            allocs: &[],
            drivers: leak(vec![DriverDescr {
                portal: "test::portal",
                jitcode: 0,
                greens: &[],
                reds: &[Kind::Int],
                native: None,
            }]),
            strings: leak(vec!["pure function panicked"]),
        }))
    })
}

// ---------------------------------------------------------------------------
// Compiled vs interpreted.

pub fn describe(t: &Trace) -> String {
    format_trace(t, tables())
}

/// Compile `trace` as a loop, run it on every input set, compiled and
/// interpreted, and demand identical exits.
pub fn check(trace: Trace, input_sets: &[Vec<u64>]) -> TraceId {
    let text = describe(&trace);
    let id = backend::compile_loop(trace.clone(), tables())
        .unwrap_or_else(|e| panic!("compile failed: {e}\n{text}"));
    for inputs in input_sets {
        let want = interp::run(&trace, tables(), inputs);
        let got = backend::execute(id, inputs);
        assert_same(&want, &got, id, inputs, &text);
    }
    id
}

/// Run `trace` interpreted on one copy of `data` and compiled (as `id`)
/// on another (`inputs` gives the inputs for a copy); exits and memory
/// (compared by `same`) must agree.
pub fn check_on_data<S: Clone + std::fmt::Debug>(
    trace: &Trace,
    id: backend::TraceId,
    data: &S,
    inputs: impl Fn(&mut S) -> Vec<u64>,
    same: impl Fn(&S, &S) -> bool,
) {
    let mut a = data.clone();
    let mut b = data.clone();
    let ia = inputs(&mut a);
    let ib = inputs(&mut b);
    let want = interp::run(trace, tables(), &ia);
    let got = backend::execute(id, &ib);
    assert_same(&want, &got, id, &ib, &describe(trace));
    assert!(
        same(&a, &b),
        "memory differs\ninterp:   {a:?}\ncompiled: {b:?}\n{}\n{}",
        describe(trace),
        backend::disassemble(id)
    );
}

pub fn assert_same(want: &TraceExit, got: &GuardExit, id: TraceId, inputs: &[u64], text: &str) {
    if want.guard != got.guard || want.values != got.values || got.trace != id {
        panic!(
            "compiled code differs from the interpreter\ninputs: {inputs:x?}\ninterp:   guard {} values {:x?}\ncompiled: trace {} guard {} values {:x?}\n{text}\n{}",
            want.guard,
            want.values,
            got.trace,
            got.guard,
            got.values,
            backend::disassemble(id)
        );
    }
}

/// The interpreter's model of a loop with bridges: run the loop; when the
/// failing guard has a bridge, run it, and continue in the loop it jumps
/// to. Returns (trace, guard, values) of the final exit.
pub fn model(
    loops: &HashMap<TraceId, Trace>,
    bridges: &HashMap<(TraceId, u32), (TraceId, Trace)>,
    start: TraceId,
    inputs: &[u64],
) -> (TraceId, u32, Vec<u64>) {
    let mut cur = start;
    let mut vals = inputs.to_vec();
    loop {
        let t = &loops[&cur];
        let mut e = interp::run(t, tables(), &vals);
        let mut at = cur;
        loop {
            match bridges.get(&(at, e.guard)) {
                Some((bid, b)) => {
                    let be = interp::run(b, tables(), &e.values);
                    if be.is_jump_to() {
                        let TraceStart::Bridge { .. } = b.start else {
                            unreachable!()
                        };
                        let Some(Opcode::JumpTo(target)) = b.ops.last().map(|o| o.opcode.clone())
                        else {
                            unreachable!()
                        };
                        cur = target;
                        vals = be.values;
                        break;
                    }
                    at = *bid;
                    e = be;
                }
                None => return (at, e.guard, e.values),
            }
        }
    }
}
