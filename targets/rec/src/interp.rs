//! The `rec` interpreter proper: the smallest machine whose `call`
//! recurses natively into the portal, as PyPy's interpreter does (each
//! call of a user function is a Rust call of [`run`]), so that the JIT's
//! recursive portal calls are tested (`call_assembler`, `finish`:
//! docs/jit.md, "Recursive portal calls").
//!
//! Each activation has an accumulator `acc`, its argument `n` and one
//! temporary `t`. A function starts with `func`, whose
//! `jit_function_entry!()` makes a hot function traced from its entry;
//! such a trace ends where the function returns (the portal returns).
//!
//! Written in metatrace's restricted Rust subset; `print` is a
//! `#[dont_look_inside]` residual call.

use metatrace::prelude::*;

/// One instruction. Jump and call targets are inside the program
/// (checked by the parser in main.rs); every program ends with `ret`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `func`: a function's first instruction (its entry, for the JIT).
    Func,
    /// `const k`: acc = k.
    Const(i64),
    /// `arg`: acc = n.
    Arg,
    /// `setn`: n = acc.
    SetN,
    /// `save`: t = acc.
    Save,
    /// `temp`: acc = t.
    Temp,
    /// `add k`: acc = acc + k (wrapping).
    Add(i64),
    /// `addt`: acc = acc + t (wrapping).
    AddT,
    /// `muln`: acc = acc * n (wrapping).
    MulN,
    /// `lt k`: acc = 1 if acc < k, else 0.
    Lt(i64),
    /// `jnz L`: if acc != 0, continue at L.
    Jnz(usize),
    /// `call L`: acc = the result of the function at L called with acc
    /// as its `n` (a native call of `run`).
    Call(usize),
    /// `print`: write acc as a decimal line.
    Print,
    /// `ret`: return acc.
    Ret,
}

pub struct Program {
    pub ops: Vec<Op>,
}

/// Output, buffered.
pub struct Output {
    pub text: Vec<u8>,
}

/// Runs the function at `entry` with argument `n`; its result.
#[jit_driver(greens = [pc, program], reds = [acc, n, t, out])]
pub fn run(program: &Program, entry: usize, n: i64, out: &mut Output) -> i64 {
    let mut pc: usize = entry;
    let mut n: i64 = n;
    let mut acc: i64 = 0;
    let mut t: i64 = 0;
    loop {
        jit_merge_point!();
        let op = program.ops[pc];
        pc += 1;
        match op {
            Op::Func => {
                jit_function_entry!();
            }
            Op::Const(k) => acc = k,
            Op::Arg => acc = n,
            Op::SetN => n = acc,
            Op::Save => t = acc,
            Op::Temp => acc = t,
            Op::Add(k) => acc = acc.wrapping_add(k),
            Op::AddT => acc = acc.wrapping_add(t),
            Op::MulN => acc = acc.wrapping_mul(n),
            Op::Lt(k) => acc = (acc < k) as i64,
            Op::Jnz(target) => {
                if acc != 0 {
                    let backward = target < pc;
                    pc = target;
                    if backward {
                        can_enter_jit!();
                    }
                }
            }
            Op::Call(target) => acc = run(program, target, acc, out),
            Op::Print => print(out, acc),
            Op::Ret => return acc,
        }
    }
}

/// `print`: appends acc as a decimal line.
#[dont_look_inside]
pub fn print(out: &mut Output, value: i64) {
    use std::io::Write;
    let _ = writeln!(out.text, "{value}");
}
