//! The `calls` interpreter proper: a small accumulator machine whose
//! opcode handlers call helper functions with data-dependent branches.
//!
//! It exists to test the JIT where it is hardest: the helpers are inlined
//! into the traces (they have no loops), so the guards of their branches
//! fail *inside an inlined call*, and resuming them (in the blackhole, or
//! in a bridge) must rebuild the helper's frame (two deep for `step`:
//! `step` → `half`) with the portal's frame suspended in the call.
//!
//! Written in metatrace's restricted Rust subset; `print` is a
//! `#[dont_look_inside]` residual call.
//!
//! `scale` and `setscale` read and write the program's quasi-immutable
//! `scale` (`metatrace::QuasiImmut`): the program is green, so traces
//! read it as a constant, and a write (natively, in the blackhole or in
//! machine code) invalidates them (docs/jit.md, "Quasi-immutable
//! fields").

use metatrace::prelude::*;
use metatrace::QuasiImmut;

/// The number of registers.
pub const NREGS: usize = 8;

/// One instruction. Register operands are below `NREGS` and jump targets
/// inside the program (checked by the parser in main.rs); every program
/// ends with `Halt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `load r`: acc = r.
    Load(usize),
    /// `store r`: r = acc.
    Store(usize),
    /// `const n`: acc = n.
    Const(i64),
    /// `add r`: acc = acc + r (wrapping).
    Add(usize),
    /// `step r`: acc = step(acc, r) — even: half(acc) + r; odd:
    /// (3 * acc + 1) ^ r (wrapping).
    Step(usize),
    /// `mix r`: acc = mix(acc, r): a chain of helpers, each with a branch.
    Mix(usize),
    /// `boxed r`: acc = boxed(acc, r): the helpers pass a heap-allocated
    /// pair around, as an interpreter of boxed values does.
    Boxed(usize),
    /// `div r`: acc = acc / r (panics on division by zero, like Rust).
    Div(usize),
    /// `dec r`: r = r - 1; acc = r.
    Dec(usize),
    /// `jnz t`: if acc != 0, continue at instruction t.
    Jnz(usize),
    /// `goto r`: continue at the instruction whose number register r
    /// holds (a computed jump: a jump table, a return address). A number
    /// past the end panics, as indexing does.
    Goto(usize),
    /// `scale`: acc = acc + the program's `scale` (wrapping).
    Scale,
    /// `setscale`: the program's `scale` = acc.
    SetScale,
    /// `print`: write acc as a decimal line.
    Print,
    /// `halt`: stop; the result is acc.
    Halt,
}

pub struct Program {
    pub ops: Vec<Op>,
    /// Starts at 1; changed by `setscale`, seldom.
    pub scale: QuasiImmut<i64>,
}

pub struct Regs {
    pub values: Vec<i64>,
}

/// Output, buffered.
pub struct Output {
    pub text: Vec<u8>,
}

/// Runs `program` from instruction 0 with `acc` = 0.
#[jit_driver(greens = [pc, program], reds = [acc, regs, out])]
pub fn run(program: &Program, regs: &mut Regs, out: &mut Output) -> i64 {
    let mut pc: usize = 0;
    let mut acc: i64 = 0;
    loop {
        jit_merge_point!();
        let op = program.ops[pc];
        pc += 1;
        match op {
            Op::Load(r) => acc = regs.values[r],
            Op::Store(r) => regs.values[r] = acc,
            Op::Const(n) => acc = n,
            Op::Add(r) => acc = acc.wrapping_add(regs.values[r]),
            Op::Step(r) => acc = step(acc, regs.values[r]),
            Op::Mix(r) => acc = mix(acc, regs.values[r]),
            Op::Boxed(r) => acc = boxed(acc, regs.values[r]),
            Op::Div(r) => acc /= regs.values[r],
            Op::Dec(r) => {
                regs.values[r] = regs.values[r].wrapping_sub(1);
                acc = regs.values[r];
            }
            Op::Jnz(target) => {
                if acc != 0 {
                    let backward = target < pc;
                    pc = target;
                    if backward {
                        can_enter_jit!();
                    }
                }
            }
            Op::Goto(r) => {
                let target = regs.values[r] as usize;
                let backward = target < pc;
                pc = target;
                if backward {
                    can_enter_jit!();
                }
            }
            Op::Scale => acc = acc.wrapping_add(program.scale.get()),
            Op::SetScale => program.scale.set(acc),
            Op::Print => print(out, acc),
            Op::Halt => return acc,
        }
    }
}

/// A Collatz-like step: the branch depends on the data.
fn step(x: i64, k: i64) -> i64 {
    if x % 2 == 0 {
        let h = half(x);
        h.wrapping_add(k)
    } else {
        let t = x.wrapping_mul(3).wrapping_add(1);
        t ^ k
    }
}

/// x / 2 rounded toward zero, by shifts: another branch, one call deeper.
fn half(x: i64) -> i64 {
    if x < 0 {
        let n = x.wrapping_neg() >> 1;
        n.wrapping_neg()
    } else {
        x >> 1
    }
}

/// Three levels of helpers, each with a branch on the data.
fn mix(x: i64, k: i64) -> i64 {
    let y = if x & 4 != 0 {
        mix2(x, k)
    } else {
        x.wrapping_add(k)
    };
    y.wrapping_add(1)
}

fn mix2(x: i64, k: i64) -> i64 {
    if x & 8 != 0 {
        mix3(x).wrapping_sub(k)
    } else {
        x ^ k
    }
}

fn mix3(x: i64) -> i64 {
    if x > 1000 {
        x % 1000
    } else {
        x.wrapping_mul(7)
    }
}

/// An intermediate result on the heap. The JIT's `virtuals` pass keeps it
/// in registers; a guard that fails while it is alive describes it, and it
/// is allocated only then.
pub struct Pair {
    pub lo: i64,
    pub hi: i64,
}

/// Boxes (x, 3k), then branches on the box's contents: the guard of that
/// branch fails while the box is alive (and again inside `spread`, which
/// owns it).
fn boxed(x: i64, k: i64) -> i64 {
    let p = make_pair(x, k);
    if p.lo > p.hi {
        spread(p)
    } else {
        let lo = p.lo;
        lo ^ p.hi
    }
}

fn make_pair(x: i64, k: i64) -> Box<Pair> {
    Box::new(Pair {
        lo: x,
        hi: k.wrapping_mul(3),
    })
}

/// Takes the box over (it is freed when this returns).
fn spread(p: Box<Pair>) -> i64 {
    if p.lo & 1 == 0 {
        p.lo.wrapping_sub(p.hi) >> 1
    } else {
        p.lo.wrapping_add(p.hi) & 0xffff
    }
}

/// `print`: appends acc as a decimal line.
#[dont_look_inside]
pub fn print(out: &mut Output, value: i64) {
    use std::io::Write;
    let _ = writeln!(out.text, "{value}");
}
