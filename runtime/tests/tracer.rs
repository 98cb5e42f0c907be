//! The meta-tracer on a small hand-built interpreter: a portal with a
//! merge point (greens: a bytecode position and the program; reds: a
//! counter and the interpreter state), an elidable opcode fetch, an
//! inlined regular call, a residual call, Vec reads, pops and promotes.
//!
//! Checked: the printed traces; that every trace verifies; that running
//! the traces (with `trace::interp`) plus the blackhole on guard failures
//! gives exactly the state of a plain blackhole run; that the frames of an
//! aborted trace finish in the blackhole like a plain run; bridges; traces
//! too long, cut and run in pieces.

use metatrace_runtime::blackhole::ResumeFrame;
use metatrace_runtime::blackhole::{self, RunOutcome};
use metatrace_runtime::jitcode::*;
use metatrace_runtime::metainterp::{self, AbortReason, LoopTarget};
use metatrace_runtime::trace::{self, interp, FrameSnapshot, Trace, Val};
use metatrace_runtime::JitParams;
use metatrace_testkit::insn;
use std::mem::offset_of;
use std::sync::OnceLock;

use metatrace_testkit::jit::*;
use metatrace_testkit::jitcode::*;

// ---------------------------------------------------------------------------
// The interpreter's native data.

#[repr(C)]
struct Prog {
    ops: Vec<u8>,
    /// Where `JMP` goes back to (an immutable field, or not).
    start: i64,
}

#[repr(C)]
#[derive(Clone, Debug, PartialEq)]
struct St {
    acc: i64,
    log: i64,
    data: Vec<i64>,
    stack: Vec<i64>,
}

const F_PROG_OPS: u16 = 0;
const F_PROG_START: u16 = 1;
const F_ST_ACC: u16 = 2;
const F_ST_DATA: u16 = 4;
const F_ST_STACK: u16 = 5;

const A_VU8: u16 = 0;
const A_VI64: u16 = 1;

const C_RECORD: u16 = 0;

const S_BOUNDS: u16 = 0;

const PORTAL: u16 = 0;
const OPCODE: u16 = 1;
const ADD3: u16 = 2;

/// The interpreted program's opcodes.
const ADD: u8 = 0; // acc += add3(data[n & 3])
const RES: u8 = 1; // record(st, acc)  (residual)
const JMP: u8 = 2; // if n > 0 { n -= 1; pc = prog.start } else { pc += 1 }
const RET: u8 = 3; // return acc
const SUB: u8 = 4; // portal(pc + 1, prog, 0, st); pc += 2   (recursion)
const POP: u8 = 5; // if let Some(x) = stack.pop() { acc += x }
const PROM: u8 = 6; // acc += promote(data.len()) * 10
const PAR: u8 = 7; // match n & 1 { 0 => acc += 100, _ => acc -= 1 }
const PURE: u8 = 8; // acc += opcode(prog, n & 3)   (elidable, non-constant)
const SLOT: u8 = 9; // stack.push(acc) then acc += stack.pop(), both in place
const PUSH: u8 = 10; // stack.push(acc)   (a scalar push)

/// `fn record(st: &mut St, x: i64) { st.log = st.log * 31 + x }`
unsafe fn record_shim(args: &[u64], results: &mut [u64]) {
    assert!(results.is_empty());
    let st = unsafe { &mut *(args[0] as usize as *mut St) };
    st.log = st.log.wrapping_mul(31).wrapping_add(args[1] as i64);
}

// ---------------------------------------------------------------------------
// The jitcodes.

fn int_bin(op: IntBinOp, a: Reg, b: Reg, dst: Reg) -> Insn {
    insn::int_bin(op, IntTy::I64, a, b, dst)
}

/// `portal(pc: i64, prog: &Prog, n: i64, st: &mut St) -> i64`.
/// Registers: i0 pc, i1 n, i2 op, i3/i4 temporaries, i5 x, i6 cond, i7 acc;
/// r0 prog, r1 st, r2 a Vec.
const PORTAL_MERGE_PC: u32 = 1;
fn portal() -> Code {
    let c = Code::new(
        "portal",
        [8, 3, 0],
        vec![ki(0), kr(0), ki(1), kr(1)],
        vec![Kind::Int],
    );
    let mut a = Asm::new(c);
    let zero = a.c.ci(0);
    let one = a.c.ci(1);
    let two = a.c.ci(2);
    let three = a.c.ci(3);
    let ten = a.c.ci(10);
    let hundred = a.c.ci(100);
    let reds = [ki(0), ki(1), kr(0), kr(1)];
    // acc += reg
    let acc_add = |a: &mut Asm, reg: Reg| {
        a.i(insn::get_field(F_ST_ACC, 1, 7));
        a.i(int_bin(IntBinOp::Add, 7, reg, 7));
        a.i(insn::set_field(F_ST_ACC, 1, 7));
    };

    a.label("head");
    a.live(&reds);
    a.i(insn::merge_point(0, vec![ki(0), kr(0), ki(1), kr(1)]));
    a.live(&reds);
    a.i(insn::call(
        CallFlavor::Elidable,
        OPCODE,
        vec![kr(0), ki(0)],
        vec![ki(2)],
    ));
    a.live(&[ki(0), ki(1), ki(2), kr(0), kr(1)]);
    a.switch(
        2,
        &[
            (ADD as i64, "add"),
            (RES as i64, "res"),
            (JMP as i64, "jmp"),
            (SUB as i64, "sub"),
            (POP as i64, "pop"),
            (PROM as i64, "prom"),
            (PAR as i64, "par"),
            (PURE as i64, "pure"),
            (SLOT as i64, "slot"),
            (PUSH as i64, "push"),
        ],
        "ret",
    );

    a.label("next");
    a.i(int_bin(IntBinOp::Add, 0, one, 0));
    a.goto("head");

    a.label("add");
    a.i(insn::field_addr(F_ST_DATA, 1, 2));
    a.i(insn::vec_len(A_VI64, 2, 3));
    a.i(int_bin(IntBinOp::And, 1, three, 4));
    a.i(insn::int_cmp(CmpOp::Lt, IntTy::Usize, 4, 3, 6));
    a.live(&[ki(0), ki(1), ki(4), ki(6), kr(0), kr(1), kr(2)]);
    a.goto_if_not(6, "panic");
    a.i(insn::vec_get_item(A_VI64, 2, 4, 5));
    a.live(&[ki(0), ki(1), ki(5), kr(0), kr(1)]);
    a.i(insn::call(
        CallFlavor::Regular,
        ADD3,
        vec![ki(5)],
        vec![ki(5)],
    ));
    acc_add(&mut a, 5);
    a.goto("next");

    a.label("res");
    a.i(insn::get_field(F_ST_ACC, 1, 7));
    a.live(&[ki(0), ki(1), ki(7), kr(0), kr(1)]);
    a.i(insn::residual_call(C_RECORD, vec![kr(1), ki(7)], vec![]));
    a.goto("next");

    a.label("jmp");
    a.i(insn::int_cmp(CmpOp::Gt, IntTy::I64, 1, zero, 6));
    a.live(&[ki(0), ki(1), ki(6), kr(0), kr(1)]);
    a.goto_if_not(6, "next");
    a.i(int_bin(IntBinOp::Sub, 1, one, 1));
    a.i(insn::get_field(F_PROG_START, 0, 0));
    a.goto("head");

    a.label("sub");
    a.i(int_bin(IntBinOp::Add, 0, one, 3));
    a.live(&[ki(0), ki(1), ki(3), kr(0), kr(1)]);
    a.i(insn::call(
        CallFlavor::Regular,
        PORTAL,
        vec![ki(3), kr(0), ki(zero), kr(1)],
        vec![ki(7)],
    ));
    a.i(int_bin(IntBinOp::Add, 0, two, 0));
    a.goto("head");

    a.label("pop");
    a.i(insn::field_addr(F_ST_STACK, 1, 2));
    a.i(insn::vec_pop(A_VI64, 2, 6, 5));
    a.live(&[ki(0), ki(1), ki(5), ki(6), kr(0), kr(1)]);
    a.goto_if_not(6, "next");
    acc_add(&mut a, 5);
    a.goto("next");

    a.label("prom");
    a.i(insn::field_addr(F_ST_DATA, 1, 2));
    a.i(insn::vec_len(A_VI64, 2, 3));
    a.live(&[ki(0), ki(1), ki(3), kr(0), kr(1)]);
    a.i(insn::promote(Kind::Int, 3, 3));
    a.i(int_bin(IntBinOp::Mul, 3, ten, 3));
    acc_add(&mut a, 3);
    a.goto("next");

    a.label("par");
    a.i(int_bin(IntBinOp::And, 1, one, 3));
    a.live(&[ki(0), ki(1), ki(3), kr(0), kr(1)]);
    a.switch(3, &[(0, "par0")], "par1");
    a.label("par0");
    acc_add(&mut a, hundred);
    a.goto("next");
    a.label("par1");
    a.i(insn::get_field(F_ST_ACC, 1, 7));
    a.i(int_bin(IntBinOp::Sub, 7, one, 7));
    a.i(insn::set_field(F_ST_ACC, 1, 7));
    a.goto("next");

    a.label("pure");
    a.i(int_bin(IntBinOp::And, 1, three, 3));
    a.live(&[ki(0), ki(1), ki(3), kr(0), kr(1)]);
    a.i(insn::call(
        CallFlavor::Elidable,
        OPCODE,
        vec![kr(0), ki(3)],
        vec![ki(5)],
    ));
    acc_add(&mut a, 5);
    a.goto("next");

    a.label("slot");
    a.i(insn::field_addr(F_ST_STACK, 1, 2));
    a.i(insn::get_field(F_ST_ACC, 1, 7));
    a.live(&[ki(0), ki(1), ki(7), kr(0), kr(1), kr(2)]);
    a.i(insn::vec_push_slot(A_VI64, 2, 2));
    a.i(insn::store(ScalarTy::Int(IntTy::I64), 2, 7));
    a.i(insn::field_addr(F_ST_STACK, 1, 2));
    a.live(&[ki(0), ki(1), kr(0), kr(1), kr(2)]);
    a.i(insn::vec_pop_slot(A_VI64, 2, 6, 2));
    a.live(&[ki(0), ki(1), ki(6), kr(0), kr(1), kr(2)]);
    a.goto_if_not(6, "next");
    a.i(insn::load(ScalarTy::Int(IntTy::I64), 2, 5));
    acc_add(&mut a, 5);
    a.goto("next");

    a.label("push");
    a.i(insn::field_addr(F_ST_STACK, 1, 2));
    a.i(insn::get_field(F_ST_ACC, 1, 7));
    a.live(&[ki(0), ki(1), ki(7), kr(0), kr(1), kr(2)]);
    a.i(insn::vec_push(A_VI64, 2, 7));
    a.goto("next");

    a.label("ret");
    a.i(insn::get_field(F_ST_ACC, 1, 7));
    a.i(insn::ret(vec![ki(7)]));

    a.label("panic");
    a.i(insn::panic(PanicKind::BoundsCheck, S_BOUNDS));
    a.finish()
}

/// `#[elidable] fn opcode(prog: &Prog, pc: i64) -> u8 { prog.ops[pc] }`
fn opcode() -> Code {
    let mut c = Code::new("opcode", [2, 2, 0], vec![kr(0), ki(0)], vec![Kind::Int]);
    c.push(insn::field_addr(F_PROG_OPS, 0, 1)); // 0
    c.push(insn::vec_len(A_VU8, 1, 1)); // 1
    c.push(insn::int_cmp(CmpOp::Lt, IntTy::Usize, 0, 1, 1)); // 2
    c.push(insn::live(vec![ki(0), ki(1), kr(1)])); // 3
    c.push(Insn::GotoIfNot { cond: 1, target: 7 }); // 4
    c.push(insn::vec_get_item(A_VU8, 1, 0, 1)); // 5
    c.push(insn::ret(vec![ki(1)])); // 6
    c.push(insn::panic(PanicKind::BoundsCheck, S_BOUNDS)); // 7
    c
}

/// `fn add3(x: i64) -> i64 { if x > 10 { x + 3 } else { x - 1 } }`
const ADD3_GUARD_PC: u32 = 2;
fn add3() -> Code {
    let mut c = Code::new("add3", [2, 0, 0], vec![ki(0)], vec![Kind::Int]);
    let ten = c.ci(10);
    let three = c.ci(3);
    let one = c.ci(1);
    c.push(insn::int_cmp(CmpOp::Gt, IntTy::I64, 0, ten, 1)); // 0
    c.push(insn::live(vec![ki(0), ki(1)])); // 1
    c.push(Insn::GotoIfNot { cond: 1, target: 5 }); // 2
    c.push(int_bin(IntBinOp::Add, 0, three, 0)); // 3
    c.push(insn::ret(vec![ki(0)])); // 4
    c.push(int_bin(IntBinOp::Sub, 0, one, 0)); // 5
    c.push(insn::ret(vec![ki(0)])); // 6
    c
}

fn vec_u8() -> VecShims {
    vec_shims!(u8, |x| x as u64, |x| x as u8)
}
fn vec_i64() -> VecShims {
    vec_shims!(i64, |x| x as u64, |x| x as i64)
}

fn make(immutable_start: bool) -> &'static Tables {
    let field = |name, ty, off, immutable| FieldDescr {
        name,
        ty,
        place: FieldPlace::Offset(off),
        immutable,
        virtualizable: false,
        owner: None,
    };
    let i64t = Some(ScalarTy::Int(IntTy::I64));
    make_tables(
        vec![portal(), opcode(), add3()],
        Descrs {
            fields: vec![
                field("Prog.ops", None, offset_of!(Prog, ops), true),
                field("Prog.start", i64t, offset_of!(Prog, start), immutable_start),
                field("St.acc", i64t, offset_of!(St, acc), false),
                field("St.log", i64t, offset_of!(St, log), false),
                field("St.data", None, offset_of!(St, data), false),
                field("St.stack", None, offset_of!(St, stack), false),
            ],
            arrays: vec![
                array("Vec<u8>", Some(ScalarTy::Int(IntTy::U8)), 1, Some(vec_u8())),
                array("Vec<i64>", i64t, 8, Some(vec_i64())),
            ],
            calls: vec![CallDescr {
                name: "record",
                shim: record_shim,
                arg_kinds: &[Kind::Ref, Kind::Int],
                result_kinds: &[],
                effects: CallEffectsDescr::EVERYTHING,
            }],
            drivers: vec![DriverDescr {
                portal: "portal",
                jitcode: PORTAL,
                greens: &[Kind::Int, Kind::Ref],
                reds: &[Kind::Int, Kind::Ref],
                native: None,
            }],
            strings: vec!["index out of bounds"],
            ..Descrs::default()
        },
    )
}

/// The tables, with `Prog.start` immutable.
fn tables() -> &'static Tables {
    static T: OnceLock<&'static Tables> = OnceLock::new();
    T.get_or_init(|| make(true))
}

/// The same interpreter with `Prog.start` a mutable field.
fn tables_mutable_start() -> &'static Tables {
    static T: OnceLock<&'static Tables> = OnceLock::new();
    T.get_or_init(|| make(false))
}

// ---------------------------------------------------------------------------
// Running the interpreter.

/// A program and a state to run it on.
struct World {
    prog: Box<Prog>,
    st: Box<St>,
}

impl World {
    fn new(ops: &[u8], data: &[i64], stack: &[i64]) -> World {
        World {
            prog: Box::new(Prog {
                ops: ops.to_vec(),
                start: 0,
            }),
            st: Box::new(St {
                acc: 0,
                log: 0,
                data: data.to_vec(),
                stack: stack.to_vec(),
            }),
        }
    }
    fn prog(&self) -> u64 {
        addr(&*self.prog)
    }
    fn st(&mut self) -> u64 {
        addr_mut(&mut *self.st)
    }
    /// The portal's arguments (pc, prog, n, st).
    fn args(&mut self, pc: i64, n: i64) -> Vec<u64> {
        vec![pc as u64, self.prog(), n as u64, self.st()]
    }
    /// The trace text with the addresses of this world named.
    fn show(&self, t: &'static Tables, trace: &Trace) -> String {
        let text = trace::format_trace(trace, t);
        text.replace(&format!("0x{:x}", self.prog()), "PROG")
            .replace(&format!("0x{:x}", addr(&*self.st)), "ST")
    }
}

/// What a run ends with: the portal's result or a panic message, and the
/// interpreter state.
#[derive(Debug, PartialEq)]
struct End {
    result: Result<u64, String>,
    st: St,
}

/// The reference: the whole run in the blackhole.
fn plain(t: &'static Tables, ops: &[u8], data: &[i64], stack: &[i64], n: i64) -> End {
    let mut w = World::new(ops, data, stack);
    let args = w.args(0, n);
    let result = caught(|| blackhole::call(t, PORTAL, &args)[0]);
    End {
        result,
        st: (*w.st).clone(),
    }
}

fn portal_of(t: &'static Tables) -> Portal {
    Portal::new(t, 0)
}

/// The same run with the JIT (see `common::jit`).
fn jitted(
    t: &'static Tables,
    ops: &[u8],
    data: &[i64],
    stack: &[i64],
    n: i64,
    params: &JitParams,
    bridges: bool,
) -> (End, Stats) {
    let mut w = World::new(ops, data, stack);
    let args = w.args(0, n);
    let mut stats = Stats::default();
    let p = portal_of(t);
    let result = caught(|| jit_run(&p, &args, params, bridges, &mut stats)[0]);
    (
        End {
            result,
            st: (*w.st).clone(),
        },
        stats,
    )
}

/// Finish a run from aborted frames in the blackhole; the portal's result.
fn finish(t: &'static Tables, frames: Vec<ResumeFrame>) -> u64 {
    portal_of(t).finish(frames)[0]
}

// ---------------------------------------------------------------------------
// The loop trace.

const MAIN: [u8; 4] = [ADD, RES, JMP, RET];
const BIG: [i64; 4] = [20, 21, 30, 40];
const MIXED: [i64; 4] = [20, 1, 30, 2];

const MAIN_TRACE: &str = "\
[i0, r1]
r2 = fieldaddr<St.data>(r1)
i3 = vec_len<Vec<i64>>(r2)
i4 = int_and/i64(i0, 3)
i5 = int_lt/usize(i4, i3)
guard_true(i5) [i0, i4, i5, r1, r2] #0
r7 = vec_ptr<Vec<i64>>(r2)
i8 = getitem<Vec<i64>>(r7, i4)
i9 = int_gt/i64(i8, 10)
guard_true(i9) [i0, i8, r1, i9] #1
i11 = int_add/i64(i8, 3)
i12 = getfield<St.acc>(r1)
i13 = int_add/i64(i12, i11)
setfield<St.acc>(r1, i13)
debug_merge_point<portal @1>(1, PROG)
call_residual<record>(r1, i13)
debug_merge_point<portal @1>(2, PROG)
i18 = int_gt/i64(i0, 0)
guard_true(i18) [i0, i18, r1] #2
i20 = int_sub/i64(i0, 1)
jump(i20, r1)
";

#[test]
fn loop_trace_of_the_small_interpreter() {
    let t = tables();
    let mut w = World::new(&MAIN, &BIG, &[]);
    let args = w.args(0, 10);
    let (trace, end) = closed(metainterp::trace_loop(t, 0, &args, &params(1000)));
    assert_eq!(w.show(t, &trace), MAIN_TRACE);
    assert_eq!(trace.inputs, vec![Kind::Int, Kind::Ref]);
    assert_eq!(
        trace.start,
        trace::TraceStart::Loop {
            driver: 0,
            greens: vec![0, w.prog()]
        }
    );
    // The program ran one iteration while it was traced, up to the merge
    // point that closed the loop.
    assert_eq!(end, w.args(0, 9));
    assert_eq!(w.st.acc, 33);
    assert_eq!(w.st.log, 33);
}

#[test]
fn guards_carry_every_frame_with_its_live_registers() {
    let t = tables();
    let mut w = World::new(&MAIN, &BIG, &[]);
    let args = w.args(0, 10);
    let (trace, _) = closed(metainterp::trace_loop(t, 0, &args, &params(1000)));
    let prog = Val::Ref(w.prog() as usize);
    let op = |i: u32| Val::Op(i);
    // #0: the bounds check in the portal, at its goto_if_not.
    assert_eq!(
        trace.guards[0].frames,
        vec![FrameSnapshot {
            jitcode: PORTAL,
            pc: 13,
            regs: vec![
                (ki(0), Val::Int(0)),
                (ki(1), Val::Input(0)),
                (ki(4), op(2)),
                (ki(6), op(3)),
                (kr(0), prog),
                (kr(1), Val::Input(1)),
                (kr(2), op(0)),
            ],
        }]
    );
    // #1: in add3, inlined: the portal suspended in its call. (op 6 is
    // the item read, op 7 the comparison.)
    assert_eq!(
        trace.guards[1].frames,
        vec![
            FrameSnapshot {
                jitcode: PORTAL,
                pc: 16,
                regs: vec![
                    (ki(0), Val::Int(0)),
                    (ki(1), Val::Input(0)),
                    (ki(5), op(6)),
                    (kr(0), prog),
                    (kr(1), Val::Input(1)),
                ],
            },
            FrameSnapshot {
                jitcode: ADD3,
                pc: ADD3_GUARD_PC,
                regs: vec![(ki(0), op(6)), (ki(1), op(7))],
            },
        ]
    );
    assert_eq!(
        trace.guards[1].fail_args,
        vec![Val::Input(0), op(6), Val::Input(1), op(7)]
    );
    // #2: the portal at JMP's branch, with pc = 2 (a constant).
    assert_eq!(trace.guards[2].frames.len(), 1);
    assert_eq!(trace.guards[2].frames[0].regs[0], (ki(0), Val::Int(2)));
}

#[test]
fn mutable_fields_are_read_and_non_constant_greens_guarded() {
    // With `Prog.start` mutable, JMP's new pc is read in the trace; the
    // loop is specialised to pc 0, so the closing merge point guards it.
    let t = tables_mutable_start();
    let mut w = World::new(&MAIN, &BIG, &[]);
    let args = w.args(0, 10);
    let (trace, _) = closed(metainterp::trace_loop(t, 0, &args, &params(1000)));
    let text = w.show(t, &trace);
    let tail = "\
i18 = int_gt/i64(i0, 0)
guard_true(i18) [i0, i18, r1] #2
i20 = int_sub/i64(i0, 1)
i21 = getfield<Prog.start>(PROG)
guard_value(i21, 0) [i21, i20, r1] #3
jump(i20, r1)
";
    assert!(text.ends_with(tail), "{text}");
    // The guard resumes at the merge point itself.
    let g = &trace.guards[3];
    assert_eq!(g.frames.len(), 1);
    assert_eq!(g.frames[0].pc, PORTAL_MERGE_PC);
}

#[test]
fn elidable_calls_fold_on_constants_and_are_recorded_otherwise() {
    let t = tables();
    let mut w = World::new(&[PURE, JMP, RET, ADD], &BIG, &[]);
    let args = w.args(0, 6);
    let (trace, _) = closed(metainterp::trace_loop(t, 0, &args, &params(1000)));
    assert_eq!(
        w.show(t, &trace),
        "\
[i0, r1]
i2 = int_and/i64(i0, 3)
call_pure<opcode>(PROG, i2)
i4 = call_result#0()
i5 = getfield<St.acc>(r1)
i6 = int_add/i64(i5, i4)
setfield<St.acc>(r1, i6)
debug_merge_point<portal @1>(1, PROG)
i9 = int_gt/i64(i0, 0)
guard_true(i9) [i0, i9, r1] #0
i11 = int_sub/i64(i0, 1)
jump(i11, r1)
"
    );
}

#[test]
fn promote_and_switch_record_guard_value() {
    let t = tables();
    let mut w = World::new(&[PROM, PAR, JMP, RET], &BIG, &[]);
    let args = w.args(0, 6);
    let (trace, _) = closed(metainterp::trace_loop(t, 0, &args, &params(1000)));
    assert_eq!(
        w.show(t, &trace),
        "\
[i0, r1]
r2 = fieldaddr<St.data>(r1)
i3 = vec_len<Vec<i64>>(r2)
guard_value(i3, 4) [i0, i3, r1] #0
i5 = getfield<St.acc>(r1)
i6 = int_add/i64(i5, 40)
setfield<St.acc>(r1, i6)
debug_merge_point<portal @1>(1, PROG)
i9 = int_and/i64(i0, 1)
guard_value(i9, 0) [i0, i9, r1] #1
i11 = int_add/i64(i5, 140)
setfield<St.acc>(r1, i11)
debug_merge_point<portal @1>(2, PROG)
i14 = int_gt/i64(i0, 0)
guard_true(i14) [i0, i14, r1] #2
i16 = int_sub/i64(i0, 1)
jump(i16, r1)
"
    );
}

#[test]
fn vec_pop_guards_emptiness_with_computed_liveness() {
    let t = tables();
    let mut w = World::new(&[POP, JMP, RET], &BIG, &[5, 6, 7]);
    let args = w.args(0, 6);
    let (trace, _) = closed(metainterp::trace_loop(t, 0, &args, &params(1000)));
    assert_eq!(
        w.show(t, &trace),
        "\
[i0, r1]
r2 = fieldaddr<St.stack>(r1)
i3 = vec_len<Vec<i64>>(r2)
i4 = int_ne/usize(i3, 0)
guard_true(i4) [i0, r1, r2] #0
i6 = vec_pop<Vec<i64>>(r2)
i7 = getfield<St.acc>(r1)
i8 = int_add/i64(i7, i6)
setfield<St.acc>(r1, i8)
debug_merge_point<portal @1>(1, PROG)
i11 = int_gt/i64(i0, 0)
guard_true(i11) [i0, i11, r1] #1
i13 = int_sub/i64(i0, 1)
jump(i13, r1)
"
    );
    // No `-live-` before the pop: the live registers are computed (pc,
    // n, prog, st and the Vec; not the pop's results).
    let f = &trace.guards[0].frames[0];
    let regs: Vec<KReg> = f.regs.iter().map(|r| r.0).collect();
    assert_eq!(regs, vec![ki(0), ki(1), kr(0), kr(1), kr(2)]);
    assert!(matches!(program_insn(t, PORTAL, f.pc), Insn::VecPop { .. }));
    assert_eq!(w.st.stack, vec![5, 6]);
    assert_eq!(w.st.acc, 7);
}

/// A push then a pop in place: the item's address is the same
/// `itemaddr` of the same length, so the load reads back what was
/// stored (`i3`); the length goes up and down. The Vec is full when the
/// trace is recorded: the push reserves room (instead of the guard that
/// there is some).
#[test]
fn push_and_pop_in_place_forward_the_item() {
    let t = tables();
    let mut w = World::new(&[SLOT, JMP, RET], &BIG, &[5]);
    w.st.acc = 1;
    let args = w.args(0, 6);
    let (trace, _) = closed(metainterp::trace_loop(t, 0, &args, &params(1000)));
    assert_eq!(
        w.show(t, &trace),
        "\
[i0, r1]
r2 = fieldaddr<St.stack>(r1)
i3 = getfield<St.acc>(r1)
i4 = vec_len<Vec<i64>>(r2)
vec_reserve<Vec<i64>>(r2)
i6 = int_add/usize(i4, 1)
vec_set_len<Vec<i64>>(r2, i6)
r8 = vec_ptr<Vec<i64>>(r2)
r9 = itemaddr<Vec<i64>>(r8, i4)
store/i64(r9, i3)
i11 = int_ne/usize(i6, 0)
guard_true(i11) [i0, r1, r2] #0
vec_set_len<Vec<i64>>(r2, i4)
i14 = getfield<St.acc>(r1)
i15 = int_add/i64(i14, i3)
setfield<St.acc>(r1, i15)
debug_merge_point<portal @1>(1, PROG)
i18 = int_gt/i64(i0, 0)
guard_true(i18) [i0, i18, r1] #1
i20 = int_sub/i64(i0, 1)
jump(i20, r1)
"
    );
    assert_eq!(w.st.stack, vec![5]);
    assert_eq!(w.st.acc, 2);
}

/// A scalar push into spare room: the guard that there is room, the new
/// length, the store; no call. The pop after it reads the length the
/// push wrote.
#[test]
fn scalar_push_into_room_is_a_store() {
    let t = tables();
    let mut w = World::new(&[PUSH, POP, JMP, RET], &BIG, &[5]);
    w.st.stack.reserve(8);
    w.st.acc = 1;
    let args = w.args(0, 6);
    let (trace, _) = closed(metainterp::trace_loop(t, 0, &args, &params(1000)));
    assert_eq!(
        w.show(t, &trace),
        "\
[i0, r1]
r2 = fieldaddr<St.stack>(r1)
i3 = getfield<St.acc>(r1)
i4 = vec_len<Vec<i64>>(r2)
i5 = vec_cap<Vec<i64>>(r2)
i6 = int_lt/usize(i4, i5)
guard_true(i6) [i0, i3, r1, r2] #0
i8 = int_add/usize(i4, 1)
vec_set_len<Vec<i64>>(r2, i8)
r10 = vec_ptr<Vec<i64>>(r2)
setitem<Vec<i64>>(r10, i4, i3)
debug_merge_point<portal @1>(1, PROG)
i13 = int_ne/usize(i8, 0)
guard_true(i13) [i0, r1, r2] #1
i15 = vec_pop<Vec<i64>>(r2)
i16 = int_add/i64(i3, i15)
setfield<St.acc>(r1, i16)
debug_merge_point<portal @1>(2, PROG)
i19 = int_gt/i64(i0, 0)
guard_true(i19) [i0, i19, r1] #2
i21 = int_sub/i64(i0, 1)
jump(i21, r1)
"
    );
    // The guard resumes at the push itself.
    let g = &trace.guards[0].frames[0];
    assert!(matches!(
        program_insn(t, PORTAL, g.pc),
        Insn::VecPush { .. }
    ));
    assert_eq!(w.st.stack, vec![5]);
    assert_eq!(w.st.acc, 2);
}

fn program_insn(t: &'static Tables, jitcode: u16, pc: u32) -> Insn {
    blackhole::program(t).codes[jitcode as usize].insns[pc as usize].clone()
}

// ---------------------------------------------------------------------------
// Traces run like the blackhole.

/// Programs and inputs that exercise every path of the portal, including
/// guards that fail inside the inlined call, an emptied stack, a parity
/// switch that flips every iteration.
/// (program, data, stack, n)
type Case = (Vec<u8>, Vec<i64>, Vec<i64>, i64);

fn cases() -> Vec<Case> {
    let mut v = vec![];
    for n in [0, 1, 2, 5, 17] {
        v.push((MAIN.to_vec(), BIG.to_vec(), vec![], n));
        v.push((MAIN.to_vec(), MIXED.to_vec(), vec![], n));
        v.push((
            vec![POP, RES, JMP, RET],
            BIG.to_vec(),
            vec![1, 2, 3, 4, 5, 6],
            n,
        ));
        v.push((vec![PROM, PAR, JMP, RET], MIXED.to_vec(), vec![], n));
        v.push((vec![PURE, RES, JMP, RET], BIG.to_vec(), vec![], n));
        v.push((vec![ADD, SLOT, POP, JMP, RET], BIG.to_vec(), vec![3], n));
        v.push((
            vec![ADD, PUSH, POP, PUSH, JMP, RET],
            BIG.to_vec(),
            vec![3],
            n,
        ));
        v.push((
            vec![ADD, PAR, POP, PURE, PROM, RES, JMP, RET],
            MIXED.to_vec(),
            vec![9, 8, 7],
            n,
        ));
    }
    v
}

#[test]
fn traces_and_resume_compute_what_the_blackhole_computes() {
    let t = tables();
    let mut used_loop = 0;
    let mut failed_inside_call = false;
    for (ops, data, stack, n) in cases() {
        let want = plain(t, &ops, &data, &stack, n);
        let (got, stats) = jitted(t, &ops, &data, &stack, n, &params(1000), false);
        assert_eq!(got, want, "{ops:?} {data:?} {stack:?} n={n}: {stats:?}");
        assert_eq!(stats.bridges, 0);
        if stats.loop_entries > 0 {
            used_loop += 1;
        }
        if ops == MAIN && data == MIXED && n > 2 {
            assert!(stats.guard_failures > 1, "{stats:?}");
            failed_inside_call = true;
        }
    }
    assert!(used_loop >= 20, "{used_loop}");
    assert!(failed_inside_call);
}

#[test]
fn with_bridges_too() {
    let t = tables();
    let mut bridges = 0;
    for (ops, data, stack, n) in cases() {
        let want = plain(t, &ops, &data, &stack, n);
        let (got, stats) = jitted(t, &ops, &data, &stack, n, &params(1000), true);
        assert_eq!(got, want, "{ops:?} {data:?} {stack:?} n={n}: {stats:?}");
        bridges += stats.bridges;
    }
    assert!(bridges >= 5, "{bridges}");
}

#[test]
fn mutable_start_runs_the_same() {
    let t = tables_mutable_start();
    for (ops, data, stack, n) in cases() {
        let want = plain(t, &ops, &data, &stack, n);
        let (got, stats) = jitted(t, &ops, &data, &stack, n, &params(1000), true);
        assert_eq!(got, want, "{ops:?} {data:?} {stack:?} n={n}: {stats:?}");
    }
}

// ---------------------------------------------------------------------------
// Aborts.

/// A cut trace ends in a guard that always fails and an unreachable
/// `finish`; at a merge point, the guard resumes the portal there.
fn check_cut_end(trace: &Trace, at_merge_point: bool) {
    let n = trace.ops.len();
    assert!(n >= 2, "{trace:?}");
    let (exit, end) = (&trace.ops[n - 2], &trace.ops[n - 1]);
    assert_eq!(exit.opcode, trace::Opcode::GuardTrue);
    assert_eq!(exit.args, vec![Val::Int(0)]);
    assert_eq!(end.opcode, trace::Opcode::Finish);
    let frames = &trace.guards[exit.guard.unwrap() as usize].frames;
    if at_merge_point {
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].pc, PORTAL_MERGE_PC);
    }
}

#[test]
fn too_long_is_cut_at_every_length_and_runs_like_the_blackhole() {
    let t = tables();
    let full = MAIN_TRACE.lines().count() - 2; // ops before the jump
    let mut cut_where = [0; 2];
    for (ops, data, stack) in [
        (MAIN.to_vec(), BIG.to_vec(), vec![]),
        (
            vec![ADD, PAR, POP, PURE, PROM, RES, JMP, RET],
            MIXED.to_vec(),
            vec![9, 8, 7],
        ),
    ] {
        let want = plain(t, &ops, &data, &stack, 4);
        for limit in 1..full as u32 {
            let mut w = World::new(&ops, &data, &stack);
            let args = w.args(0, 4);
            let (trace, at_merge_point, frames) =
                cut(metainterp::trace_loop(t, 0, &args, &params(limit)));
            check_cut_end(&trace, at_merge_point);
            cut_where[at_merge_point as usize] += 1;
            // The work traced past the cut was done: the program goes on
            // from where tracing stopped.
            let result = caught(|| finish(t, frames));
            let got = End {
                result,
                st: (*w.st).clone(),
            };
            assert_eq!(got, want, "{ops:?} limit {limit}");
            // And through the driver: the cut trace is the loop, its exit
            // is bridged (each bridge cut again at this limit), and nothing
            // aborts.
            let (got, stats) = jitted(t, &ops, &data, &stack, 4, &params(limit), true);
            assert_eq!(got, want, "{ops:?} limit {limit}");
            assert_eq!(stats.aborts, vec![], "{ops:?} limit {limit}");
            assert!(stats.cuts >= 1 && stats.bridges >= 1, "{stats:?}");
            // Without bridges, the exit resumes the blackhole.
            let (got, stats) = jitted(t, &ops, &data, &stack, 4, &params(limit), false);
            assert_eq!(got, want, "{ops:?} limit {limit}");
            assert_eq!(stats.cuts, 1, "{stats:?}");
        }
    }
    // Short limits cut before the first merge point, longer ones at one.
    assert!(cut_where[0] > 0 && cut_where[1] > 0, "{cut_where:?}");
}

#[test]
fn panic_aborts_at_the_panic() {
    let t = tables();
    let want = plain(t, &MAIN, &[], &[], 3);
    assert_eq!(want.result, Err("index out of bounds".to_string()));
    let mut w = World::new(&MAIN, &[], &[]);
    let args = w.args(0, 3);
    let (reason, frames) = aborted(metainterp::trace_loop(t, 0, &args, &params(1000)));
    assert_eq!(reason, AbortReason::Panic);
    let last = frames.last().unwrap();
    assert!(matches!(
        program_insn(t, last.jitcode, last.pc),
        Insn::Panic { .. }
    ));
    let got = End {
        result: caught(|| finish(t, frames)),
        st: (*w.st).clone(),
    };
    assert_eq!(got, want);
}

/// Traced from a function's entry, the same run ends the trace with
/// `finish` of the portal's result; the trace, run again on a fresh
/// state, finishes with the same result and leaves the same state.
#[test]
fn portal_return_from_a_function_entry_is_finish() {
    let t = tables();
    let want = plain(t, &MAIN, &BIG, &[], 0);
    let mut w = World::new(&MAIN, &BIG, &[]);
    let args = w.args(0, 0);
    let r = metainterp::trace_from_merge_point(
        t,
        0,
        &args,
        &params(1000),
        None,
        metainterp::TraceFrom::FunctionEntry,
    );
    let (trace, results) = closed(r);
    assert_eq!(trace.ops.last().unwrap().opcode, trace::Opcode::Finish);
    assert_eq!(results, vec![want.result.clone().unwrap()]);
    assert_eq!(*w.st, want.st);
    let mut again = World::new(&MAIN, &BIG, &[]);
    let args = again.args(0, 0);
    let exit = interp::run(&trace, t, &args[2..]);
    assert_eq!(
        exit.guard,
        interp::TraceExit::FINISH,
        "{}",
        w.show(t, &trace)
    );
    assert_eq!(exit.values, results);
    assert_eq!(*again.st, want.st);
}

#[test]
fn portal_return_aborts_and_the_blackhole_returns() {
    let t = tables();
    // n = 0: JMP falls through to RET before the loop closes.
    let want = plain(t, &MAIN, &BIG, &[], 0);
    let mut w = World::new(&MAIN, &BIG, &[]);
    let args = w.args(0, 0);
    let (reason, frames) = aborted(metainterp::trace_loop(t, 0, &args, &params(1000)));
    assert_eq!(reason, AbortReason::PortalReturned);
    assert_eq!(frames.len(), 1);
    assert!(matches!(
        program_insn(t, PORTAL, frames[0].pc),
        Insn::Return { .. }
    ));
    assert_eq!(
        blackhole::resume(t, frames),
        RunOutcome::Return(vec![want.result.clone().unwrap()])
    );
    assert_eq!(*w.st, want.st);
}

#[test]
fn recursive_portal_call_aborts() {
    let t = tables();
    // SUB runs the portal from pc 1 with n = 0 (RES, JMP falling through,
    // RET), then continues at pc 2.
    let ops = [SUB, RES, JMP, RET];
    let want = plain(t, &ops, &BIG, &[], 2);
    let mut w = World::new(&ops, &BIG, &[]);
    let args = w.args(0, 2);
    let (reason, frames) = aborted(metainterp::trace_loop(t, 0, &args, &params(1000)));
    assert_eq!(reason, AbortReason::Recursion);
    assert!(matches!(
        program_insn(t, PORTAL, frames[0].pc),
        Insn::Call { jitcode, .. } if jitcode.0 == PORTAL
    ));
    let got = End {
        result: caught(|| finish(t, frames)),
        st: (*w.st).clone(),
    };
    assert_eq!(got, want);
}

// ---------------------------------------------------------------------------
// Bridges.

/// Trace the loop on MIXED data from n = 8 (data[0] = 20: add3's branch
/// taken), run it until a guard fails, and return the world, the loop and
/// the failure.
fn loop_until_failure(t: &'static Tables) -> (World, Trace, interp::TraceExit) {
    let mut w = World::new(&MAIN, &MIXED, &[]);
    let args = w.args(0, 8);
    let (trace, args) = closed(metainterp::trace_loop(t, 0, &args, &params(1000)));
    let exit = interp::run(&trace, t, &args[2..]);
    (w, trace, exit)
}

#[test]
fn bridge_from_an_inlined_guard_ends_in_jump_to() {
    let t = tables();
    let (w, lp, exit) = loop_until_failure(t);
    // n = 7: data[3] = 2, add3's guard fails.
    assert_eq!(exit.guard, 1);
    let info = &lp.guards[1];
    assert_eq!(info.frames.len(), 2);
    let key = [0, w.prog()];
    let target = |g: &[u64]| (g == &key[..]).then_some(LoopTarget { id: LOOP_ID });
    let (bridge, args) = closed(metainterp::trace_bridge(
        t,
        info,
        &exit.values,
        &params(1000),
        &target,
    ));
    assert_eq!(
        w.show(t, &bridge),
        "\
[i0, i1, r2, i3]
guard_false(i3) [i0, i1, r2, i3] #0
i5 = int_sub/i64(i1, 1)
i6 = getfield<St.acc>(r2)
i7 = int_add/i64(i6, i5)
setfield<St.acc>(r2, i7)
debug_merge_point<portal @1>(1, PROG)
call_residual<record>(r2, i7)
debug_merge_point<portal @1>(2, PROG)
i12 = int_gt/i64(i0, 0)
guard_true(i12) [i0, i12, r2] #1
i14 = int_sub/i64(i0, 1)
jump_to<loop 7>(i14, r2)
"
    );
    assert_eq!(
        bridge.inputs,
        vec![Kind::Int, Kind::Int, Kind::Ref, Kind::Int]
    );
    assert!(matches!(bridge.start, trace::TraceStart::Bridge { .. }));
    // The bridge's iteration ran while it was traced: the loop's guard
    // failed at n = 7; the bridge ended at pc 0 with n = 6.
    assert_eq!(args[..2], key[..]);
    assert_eq!(args[2], 6);
    // Running the bridge from the same failure in another world does what
    // tracing it did.
    let mut w2 = World::new(&MAIN, &MIXED, &[]);
    let a = w2.args(0, 8);
    let (_, a) = closed(metainterp::trace_loop(t, 0, &a, &params(1000)));
    let e = interp::run(&lp, t, &a[2..]);
    assert_eq!(e.guard, 1);
    let e2 = interp::run(&bridge, t, &e.values);
    assert!(e2.is_jump_to());
    assert_eq!(e2.values, vec![6, w2.st()]);
    assert_eq!(*w.st, *w2.st);
    // acc: 20 + 3 (the traced iteration), 2 - 1 (the bridge).
    assert_eq!(w.st.acc, 24);
}

#[test]
fn bridge_without_a_target_aborts_at_a_repeated_key() {
    let t = tables();
    let (mut w, lp, exit) = loop_until_failure(t);
    let info = &lp.guards[exit.guard as usize];
    let (reason, frames) = aborted(metainterp::trace_bridge(
        t,
        info,
        &exit.values,
        &params(1000),
        &|_| None,
    ));
    assert_eq!(reason, AbortReason::NoTargetLoop);
    // Stopped at the portal's merge point, the second time at pc 1: the
    // bridge ran from n = 7 through JMP (n = 6) and ADD again.
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].pc, PORTAL_MERGE_PC);
    let st = w.st();
    let RunOutcome::MergePoint { args } = blackhole::resume(t, frames) else {
        panic!("not at the merge point");
    };
    assert_eq!(args, vec![1, w.prog(), 6, st]);
}

#[test]
fn loop_trace_stops_at_an_inner_loop_without_compiled_code() {
    // pc 0 runs once; JMP goes back to pc 1: tracing from pc 0 passes the
    // merge point of pc 1 twice. Without a target function the tracer
    // unrolls that inner loop; with one (the driver's), it stops there, so
    // that the inner loop is traced first.
    let t = tables();
    let mut w = World::new(&MAIN, &MIXED, &[]);
    w.prog.start = 1;
    let args = w.args(0, 5);
    let (reason, frames) = aborted(metainterp::trace_loop_or_entry(
        t,
        0,
        &args,
        &params(1000),
        Some(&|_| None),
    ));
    assert_eq!(reason, AbortReason::NoTargetLoop);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].pc, PORTAL_MERGE_PC);
    let st = w.st();
    let RunOutcome::MergePoint { args } = blackhole::resume(t, frames) else {
        panic!("not at the merge point");
    };
    // At pc 1 the second time: n went from 5 to 4 at JMP.
    assert_eq!(args, vec![1, w.prog(), 4, st]);
    // Without a target function, the same trace runs until its start key
    // comes back (never here: the portal returns).
    let mut w2 = World::new(&MAIN, &MIXED, &[]);
    w2.prog.start = 1;
    let args = w2.args(0, 5);
    let (reason, _) = aborted(metainterp::trace_loop(t, 0, &args, &params(1000)));
    assert_eq!(reason, AbortReason::PortalReturned);
    // A key the target function knows still ends the trace there.
    let mut w3 = World::new(&MAIN, &MIXED, &[]);
    w3.prog.start = 1;
    let key = [1, w3.prog()];
    let args = w3.args(0, 5);
    let (entry, _) = closed(metainterp::trace_loop_or_entry(
        t,
        0,
        &args,
        &params(1000),
        Some(&|g: &[u64]| (g == &key[..]).then_some(LoopTarget { id: 9 })),
    ));
    assert!(matches!(
        entry.ops.last().map(|o| &o.opcode),
        Some(trace::Opcode::JumpTo(9))
    ));
}

#[test]
fn bridge_too_long_is_cut_and_finishes_like_the_blackhole() {
    let t = tables();
    let want = plain(t, &MAIN, &MIXED, &[], 8);
    for limit in 1..12 {
        let (mut w, lp, exit) = loop_until_failure(t);
        let info = &lp.guards[exit.guard as usize];
        let (bridge, at_merge_point, frames) = cut(metainterp::trace_bridge(
            t,
            info,
            &exit.values,
            &params(limit),
            &|_| None,
        ));
        check_cut_end(&bridge, at_merge_point);
        let got = End {
            result: caught(|| finish(t, frames)),
            st: (*w.st).clone(),
        };
        let _ = w.st();
        assert_eq!(got, want, "limit {limit}");
    }
}
