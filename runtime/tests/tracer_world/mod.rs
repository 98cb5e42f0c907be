//! The small hand-built interpreter the tracer tests run (tracer.rs,
//! tracer_bridges.rs): a portal with a merge point (greens: a bytecode
//! position and the program; reds: a counter and the interpreter state),
//! an elidable opcode fetch, an inlined regular call, a residual call,
//! Vec reads, pops and promotes; its tables, and runs of it (plain in the
//! blackhole, with the JIT).

#![allow(dead_code, unused_imports)]

pub use metatrace_runtime::blackhole::ResumeFrame;
pub use metatrace_runtime::blackhole::{self, RunOutcome};
pub use metatrace_runtime::jitcode::*;
pub use metatrace_runtime::metainterp::{self, AbortReason, LoopTarget};
pub use metatrace_runtime::trace::{self, interp, FrameSnapshot, Trace, Val};
pub use metatrace_runtime::JitParams;
pub use metatrace_testkit::insn;
pub use std::mem::offset_of;
pub use std::sync::OnceLock;

pub use metatrace_testkit::jit::*;
pub use metatrace_testkit::jitcode::*;

// ---------------------------------------------------------------------------
// The interpreter's native data.

#[repr(C)]
pub struct Prog {
    pub ops: Vec<u8>,
    /// Where `JMP` goes back to (an immutable field, or not).
    pub start: i64,
}

#[repr(C)]
#[derive(Clone, Debug, PartialEq)]
pub struct St {
    pub acc: i64,
    pub log: i64,
    pub data: Vec<i64>,
    pub stack: Vec<i64>,
}

pub const F_PROG_OPS: u16 = 0;
pub const F_PROG_START: u16 = 1;
pub const F_ST_ACC: u16 = 2;
pub const F_ST_DATA: u16 = 4;
pub const F_ST_STACK: u16 = 5;

pub const A_VU8: u16 = 0;
pub const A_VI64: u16 = 1;

pub const C_RECORD: u16 = 0;

pub const S_BOUNDS: u16 = 0;

pub const PORTAL: u16 = 0;
pub const OPCODE: u16 = 1;
pub const ADD3: u16 = 2;

/// The interpreted program's opcodes.
pub const ADD: u8 = 0; // acc += add3(data[n & 3])
pub const RES: u8 = 1; // record(st, acc)  (residual)
pub const JMP: u8 = 2; // if n > 0 { n -= 1; pc = prog.start } else { pc += 1 }
pub const RET: u8 = 3; // return acc
pub const SUB: u8 = 4; // portal(pc + 1, prog, 0, st); pc += 2   (recursion)
pub const POP: u8 = 5; // if let Some(x) = stack.pop() { acc += x }
pub const PROM: u8 = 6; // acc += promote(data.len()) * 10
pub const PAR: u8 = 7; // match n & 1 { 0 => acc += 100, _ => acc -= 1 }
pub const PURE: u8 = 8; // acc += opcode(prog, n & 3)   (elidable, non-constant)
pub const SLOT: u8 = 9; // stack.push(acc) then acc += stack.pop(), both in place
pub const PUSH: u8 = 10; // stack.push(acc)   (a scalar push)

/// `fn record(st: &mut St, x: i64) { st.log = st.log * 31 + x }`
unsafe fn record_shim(args: &[u64], results: &mut [u64]) {
    assert!(results.is_empty());
    let st = unsafe { &mut *(args[0] as usize as *mut St) };
    st.log = st.log.wrapping_mul(31).wrapping_add(args[1] as i64);
}

// ---------------------------------------------------------------------------
// The jitcodes.

pub fn int_bin(op: IntBinOp, a: Reg, b: Reg, dst: Reg) -> Insn {
    insn::int_bin(op, IntTy::I64, a, b, dst)
}

/// `portal(pc: i64, prog: &Prog, n: i64, st: &mut St) -> i64`.
/// Registers: i0 pc, i1 n, i2 op, i3/i4 temporaries, i5 x, i6 cond, i7 acc;
/// r0 prog, r1 st, r2 a Vec.
pub const PORTAL_MERGE_PC: u32 = 1;
pub fn portal() -> Code {
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
pub fn opcode() -> Code {
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
pub const ADD3_GUARD_PC: u32 = 2;
pub fn add3() -> Code {
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

pub fn vec_u8() -> VecShims {
    vec_shims!(u8, |x| x as u64, |x| x as u8)
}
pub fn vec_i64() -> VecShims {
    vec_shims!(i64, |x| x as u64, |x| x as i64)
}

pub fn make(immutable_start: bool) -> &'static Tables {
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
pub fn tables() -> &'static Tables {
    pub static T: OnceLock<&'static Tables> = OnceLock::new();
    T.get_or_init(|| make(true))
}

/// The same interpreter with `Prog.start` a mutable field.
pub fn tables_mutable_start() -> &'static Tables {
    pub static T: OnceLock<&'static Tables> = OnceLock::new();
    T.get_or_init(|| make(false))
}

// ---------------------------------------------------------------------------
// Running the interpreter.

/// A program and a state to run it on.
pub struct World {
    pub prog: Box<Prog>,
    pub st: Box<St>,
}

impl World {
    pub fn new(ops: &[u8], data: &[i64], stack: &[i64]) -> World {
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
    pub fn prog(&self) -> u64 {
        addr(&*self.prog)
    }
    pub fn st(&mut self) -> u64 {
        addr_mut(&mut *self.st)
    }
    /// The portal's arguments (pc, prog, n, st).
    pub fn args(&mut self, pc: i64, n: i64) -> Vec<u64> {
        vec![pc as u64, self.prog(), n as u64, self.st()]
    }
    /// The trace text with the addresses of this world named.
    pub fn show(&self, t: &'static Tables, trace: &Trace) -> String {
        let text = trace::format_trace(trace, t);
        text.replace(&format!("0x{:x}", self.prog()), "PROG")
            .replace(&format!("0x{:x}", addr(&*self.st)), "ST")
    }
}

/// What a run ends with: the portal's result or a panic message, and the
/// interpreter state.
#[derive(Debug, PartialEq)]
pub struct End {
    pub result: Result<u64, String>,
    pub st: St,
}

/// The reference: the whole run in the blackhole.
pub fn plain(t: &'static Tables, ops: &[u8], data: &[i64], stack: &[i64], n: i64) -> End {
    let mut w = World::new(ops, data, stack);
    let args = w.args(0, n);
    let result = caught(|| blackhole::call(t, PORTAL, &args)[0]);
    End {
        result,
        st: (*w.st).clone(),
    }
}

pub fn portal_of(t: &'static Tables) -> Portal {
    Portal::new(t, 0)
}

/// The same run with the JIT (see `common::jit`).
pub fn jitted(
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
pub fn finish(t: &'static Tables, frames: Vec<ResumeFrame>) -> u64 {
    portal_of(t).finish(frames)[0]
}

pub const MAIN: [u8; 4] = [ADD, RES, JMP, RET];
pub const BIG: [i64; 4] = [20, 21, 30, 40];
pub const MIXED: [i64; 4] = [20, 1, 30, 2];

pub fn program_insn(t: &'static Tables, jitcode: u16, pc: u32) -> Insn {
    blackhole::program(t).codes[jitcode as usize].insns[pc as usize].clone()
}

/// Trace the loop on MIXED data from n = 8 (data[0] = 20: add3's branch
/// taken), run it until a guard fails, and return the world, the loop and
/// the failure.
pub fn loop_until_failure(t: &'static Tables) -> (World, Trace, interp::TraceExit) {
    let mut w = World::new(&MAIN, &MIXED, &[]);
    let args = w.args(0, 8);
    let (trace, args) = closed(metainterp::trace_loop(t, 0, &args, &params(1000)));
    let exit = interp::run(&trace, t, &args[2..]);
    (w, trace, exit)
}

/// A cut trace ends in a guard that always fails and an unreachable
/// `finish`; at a merge point, the guard resumes the portal there.
pub fn check_cut_end(trace: &Trace, at_merge_point: bool) {
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
