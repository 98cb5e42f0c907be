//! The TLR interpreter proper: the tiny register language of "Tracing the
//! Meta-Level: PyPy's Tracing JIT Compiler" (Bolz, Cuni, Fijałkowski, Rigo,
//! 2009), with the semantics and opcode numbers of PyPy's
//! `rpython/jit/tl/tlr.py`.
//!
//! This file is written in metatrace's restricted Rust subset: the translator
//! turns everything reachable from the `#[jit_driver]` function into
//! jitcodes. Whatever the subset cannot express (allocation) is in
//! `#[dont_look_inside]` functions, which are always called natively.
//!
//! The machine: an accumulator `a` (i64, wrapping arithmetic), a register
//! file created by `ALLOCATE n` (n registers, all zero), and the bytecode,
//! where each operand is the byte after its opcode.

use metatrace::prelude::*;

/// `MOV_A_R r`: register r = a.
pub const MOV_A_R: u8 = 1;
/// `MOV_R_A r`: a = register r.
pub const MOV_R_A: u8 = 2;
/// `JUMP_IF_A t`: if a != 0, continue at bytecode position t.
pub const JUMP_IF_A: u8 = 3;
/// `SET_A n`: a = n (0..=255).
pub const SET_A: u8 = 4;
/// `ADD_R_TO_A r`: a = a + register r (wrapping).
pub const ADD_R_TO_A: u8 = 5;
/// `RETURN_A`: stop; the result is a.
pub const RETURN_A: u8 = 6;
/// `ALLOCATE n`: a fresh register file of n registers, all zero.
pub const ALLOCATE: u8 = 7;
/// `NEG_A`: a = -a (wrapping).
pub const NEG_A: u8 = 8;

/// The register file.
pub struct Regs {
    pub values: Vec<i64>,
}

/// What can go wrong running a TLR program. Every variant names the position
/// (`pc`) of the offending instruction's opcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlrError {
    /// The byte at `pc` is not an opcode.
    UnknownOpcode { pc: usize, opcode: u8 },
    /// The instruction at `pc` names register `reg`, but only `count`
    /// registers are allocated.
    RegisterOutOfRange { pc: usize, reg: usize, count: usize },
    /// The instruction at `pc` needs an operand, but the bytecode ends there.
    MissingOperand { pc: usize, opcode: u8 },
    /// Execution reached position `pc`, past the end of the bytecode,
    /// without a `RETURN_A`.
    RanOffEnd { pc: usize },
}

/// Runs `bytecode` with the accumulator starting at `a`, until `RETURN_A`.
/// `regs` is the register file (normally empty at the start; `ALLOCATE`
/// replaces its contents).
#[jit_driver(greens = [pc, bytecode], reds = [a, regs])]
pub fn interpret(bytecode: &[u8], mut a: i64, regs: &mut Regs) -> Result<i64, TlrError> {
    let mut pc: usize = 0;
    loop {
        jit_merge_point!();
        if pc >= bytecode.len() {
            return Err(TlrError::RanOffEnd { pc });
        }
        let opcode_pc = pc;
        let opcode = bytecode[pc];
        pc += 1;
        if opcode == MOV_A_R {
            let n = operand(bytecode, opcode_pc)?;
            pc += 1;
            check_register(regs, n, opcode_pc)?;
            regs.values[n] = a;
        } else if opcode == MOV_R_A {
            let n = operand(bytecode, opcode_pc)?;
            pc += 1;
            check_register(regs, n, opcode_pc)?;
            a = regs.values[n];
        } else if opcode == JUMP_IF_A {
            let target = operand(bytecode, opcode_pc)?;
            pc += 1;
            if a != 0 {
                let backward = target < pc;
                pc = target;
                if backward {
                    // can_enter_jit!() sees the greens as they are now, so pc
                    // already holds the jump's target.
                    can_enter_jit!();
                }
            }
        } else if opcode == SET_A {
            a = operand(bytecode, opcode_pc)? as i64;
            pc += 1;
        } else if opcode == ADD_R_TO_A {
            let n = operand(bytecode, opcode_pc)?;
            pc += 1;
            check_register(regs, n, opcode_pc)?;
            a = a.wrapping_add(regs.values[n]);
        } else if opcode == RETURN_A {
            return Ok(a);
        } else if opcode == ALLOCATE {
            let n = operand(bytecode, opcode_pc)?;
            pc += 1;
            allocate(regs, n);
        } else if opcode == NEG_A {
            let zero: i64 = 0;
            a = zero.wrapping_sub(a);
        } else {
            return Err(TlrError::UnknownOpcode {
                pc: opcode_pc,
                opcode,
            });
        }
    }
}

/// The operand of the instruction whose opcode is at `opcode_pc`.
fn operand(bytecode: &[u8], opcode_pc: usize) -> Result<usize, TlrError> {
    if opcode_pc + 1 >= bytecode.len() {
        return Err(TlrError::MissingOperand {
            pc: opcode_pc,
            opcode: bytecode[opcode_pc],
        });
    }
    Ok(bytecode[opcode_pc + 1] as usize)
}

fn check_register(regs: &Regs, n: usize, opcode_pc: usize) -> Result<(), TlrError> {
    if n >= regs.values.len() {
        return Err(TlrError::RegisterOutOfRange {
            pc: opcode_pc,
            reg: n,
            count: regs.values.len(),
        });
    }
    Ok(())
}

/// `ALLOCATE n`: replaces the register file by `n` zeros (in place).
#[dont_look_inside]
pub fn allocate(regs: &mut Regs, n: usize) {
    regs.values.clear();
    regs.values.resize(n, 0);
}
