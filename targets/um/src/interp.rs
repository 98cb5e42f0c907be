//! The Universal Machine's spin cycle (ICFP 2006, `um-spec.txt`): the
//! portal the JIT traces. RPython's counterpart is any RPython UM (the
//! PyPy blog's "RPython UM"); LuaJIT has none.
//!
//! Written in the translator's subset (docs/subset.md) as a Rust
//! programmer would: eight `u32` registers in a local array, the arrays
//! in a `Vec<Vec<u32>>` indexed by their identifier, abandoned
//! identifiers kept on a free list and reused, I/O behind
//! `#[dont_look_inside]` helpers.
//!
//! Hints, placed as an RPython expert would:
//! - the green key is the execution finger `pc` and the machine (one per
//!   run, so a constant of the trace: what folds the program's address);
//! - array 0, the program, is a `Vec<QuasiImmut<u32>>`, one
//!   quasi-immutable word per platter. The fetch reads it through `&Machine`
//!   at a constant finger, so the tracer reads the word once, records that
//!   the trace depends on that one word, and the decode folds away. A
//!   write into array 0 (`Array Amendment` with A = 0) is that word's
//!   `set`: it invalidates the traces that fetched that very platter and
//!   no other (sandmark keeps data in array 0 and writes it all the time;
//!   a version for the whole array would invalidate every trace at every
//!   such write);
//! - `Load Program` from array 0 is a jump: `pc` changes, and the tracer
//!   promotes it at the merge point; `can_enter_jit!()` is there, the
//!   UM's only backward jump. Loading another array replaces the program
//!   natively (rare: twice in sandmark) and invalidates every trace that
//!   read the old one.

use metatrace::prelude::*;
use metatrace::QuasiImmut;

/// Output is written out when this many bytes are buffered.
pub const OUTPUT_BUFFER: usize = 1 << 16;

/// The machine's memory: array 0 (the program) and the other arrays.
/// The registers are kept in registers by the JIT inside compiled loops
/// (`#[virtualizable]`), written back when a guard fails or the loop is
/// left.
#[virtualizable(regs)]
pub struct Machine {
    /// The eight general-purpose registers.
    pub regs: [u32; 8],
    /// Array 0, the program (and, for many programs, their data too).
    pub program: Vec<QuasiImmut<u32>>,
    /// The arrays by identifier; item 0 stands in for array 0 and stays
    /// empty. An abandoned array is empty and inactive.
    pub arrays: Vec<Vec<u32>>,
    /// Whether an identifier names an allocated array (item 0: true).
    pub active: Vec<bool>,
    /// Abandoned identifiers, reused by later allocations (last first).
    pub free: Vec<u32>,
    pub io: Io,
}

/// Console state: stdin is read byte by byte when the program asks (it is
/// buffered by std), stdout written through `out`.
pub struct Io {
    /// Output not yet written to stdout.
    pub out: Vec<u8>,
    /// End of input was reached.
    pub eof: bool,
    /// The first error writing to stdout, if any (output is dropped after it).
    pub write_error: Option<String>,
}

/// A failure the spec allows the machine ("Cost-Cutting Measures"), with
/// the finger of the instruction that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UmError {
    /// The finger points outside array 0.
    FingerOutside {
        pc: u32,
        len: u32,
    },
    /// Operator 14 or 15.
    InvalidInstruction {
        pc: u32,
        word: u32,
    },
    /// Index, amendment, abandonment or load of an array that is not active.
    InactiveArray {
        pc: u32,
        id: u32,
    },
    /// Index or amendment outside an array.
    OutOfBounds {
        pc: u32,
        id: u32,
        offset: u32,
        len: u32,
    },
    /// Abandonment of array 0.
    AbandonProgram {
        pc: u32,
    },
    DivisionByZero {
        pc: u32,
    },
    /// Output of a value above 255.
    OutputTooLarge {
        pc: u32,
        value: u32,
    },
}

/// Runs the machine from platter 0 until it halts or fails.
#[jit_driver(greens = [pc, machine], reds = [])]
pub fn run(machine: &mut Machine) -> Result<(), UmError> {
    let mut pc: u32 = 0;
    loop {
        jit_merge_point!();
        let Some(word) = fetch(machine, pc) else {
            return Err(UmError::FingerOutside {
                pc,
                len: machine.program.len() as u32,
            });
        };
        let finger = pc;
        pc = pc.wrapping_add(1);
        let a = ((word >> 6) & 7) as usize;
        let b = ((word >> 3) & 7) as usize;
        let c = (word & 7) as usize;
        match word >> 28 {
            0 => {
                if machine.regs[c] != 0 {
                    machine.regs[a] = machine.regs[b];
                }
            }
            1 => match read_array(machine, machine.regs[b], machine.regs[c]) {
                Ok(value) => machine.regs[a] = value,
                Err(error) => return Err(at(error, finger)),
            },
            2 => {
                if let Err(error) =
                    write_array(machine, machine.regs[a], machine.regs[b], machine.regs[c])
                {
                    return Err(at(error, finger));
                }
            }
            3 => machine.regs[a] = machine.regs[b].wrapping_add(machine.regs[c]),
            4 => machine.regs[a] = machine.regs[b].wrapping_mul(machine.regs[c]),
            5 => {
                if machine.regs[c] == 0 {
                    return Err(UmError::DivisionByZero { pc: finger });
                }
                machine.regs[a] = machine.regs[b] / machine.regs[c];
            }
            6 => machine.regs[a] = !(machine.regs[b] & machine.regs[c]),
            7 => return Ok(()),
            8 => machine.regs[b] = allocate(machine, machine.regs[c]),
            9 => {
                if let Err(error) = abandon(machine, machine.regs[c]) {
                    return Err(at(error, finger));
                }
            }
            10 => {
                if machine.regs[c] > 255 {
                    return Err(UmError::OutputTooLarge {
                        pc: finger,
                        value: machine.regs[c],
                    });
                }
                write_byte(&mut machine.io, machine.regs[c] as u8);
            }
            11 => machine.regs[c] = read_byte(&mut machine.io),
            12 => {
                let id = machine.regs[b];
                if id != 0 {
                    if !is_active(machine, id) {
                        return Err(UmError::InactiveArray { pc: finger, id });
                    }
                    load_program(machine, id);
                }
                pc = machine.regs[c];
                can_enter_jit!();
            }
            13 => {
                let a = ((word >> 25) & 7) as usize;
                machine.regs[a] = word & 0x01ff_ffff;
            }
            _ => {
                return Err(UmError::InvalidInstruction { pc: finger, word });
            }
        }
    }
}

/// The platter at `pc`, if the finger is inside array 0. Read through
/// `&Machine`: with the machine a constant of the trace, the tracer folds
/// the program's address, and the word is a quasi-immutable read.
fn fetch(machine: &Machine, pc: u32) -> Option<u32> {
    let index = pc as usize;
    if index >= machine.program.len() {
        return None;
    }
    Some(machine.program[index].get())
}

/// `error` (made with finger 0 by a helper) at finger `pc`.
fn at(error: UmError, pc: u32) -> UmError {
    match error {
        UmError::FingerOutside { len, .. } => UmError::FingerOutside { pc, len },
        UmError::InvalidInstruction { word, .. } => UmError::InvalidInstruction { pc, word },
        UmError::InactiveArray { id, .. } => UmError::InactiveArray { pc, id },
        UmError::OutOfBounds {
            id, offset, len, ..
        } => UmError::OutOfBounds {
            pc,
            id,
            offset,
            len,
        },
        UmError::AbandonProgram { .. } => UmError::AbandonProgram { pc },
        UmError::DivisionByZero { .. } => UmError::DivisionByZero { pc },
        UmError::OutputTooLarge { value, .. } => UmError::OutputTooLarge { pc, value },
    }
}

fn is_active(machine: &mut Machine, id: u32) -> bool {
    (id as usize) < machine.active.len() && machine.active[id as usize]
}

/// Operator 1: the platter at `offset` of array `id`.
fn read_array(machine: &mut Machine, id: u32, offset: u32) -> Result<u32, UmError> {
    let index = offset as usize;
    if id == 0 {
        if index >= machine.program.len() {
            return Err(out_of_bounds(id, offset, machine.program.len()));
        }
        return Ok(machine.program[index].get());
    }
    if !is_active(machine, id) {
        return Err(UmError::InactiveArray { pc: 0, id });
    }
    let array = &machine.arrays[id as usize];
    if index >= array.len() {
        return Err(out_of_bounds(id, offset, array.len()));
    }
    Ok(array[index])
}

/// Operator 2: stores `value` at `offset` of array `id`. A store into
/// array 0 invalidates the traces that fetched that platter.
fn write_array(machine: &mut Machine, id: u32, offset: u32, value: u32) -> Result<(), UmError> {
    let index = offset as usize;
    if id == 0 {
        if index >= machine.program.len() {
            return Err(out_of_bounds(id, offset, machine.program.len()));
        }
        machine.program[index].set(value);
        return Ok(());
    }
    if !is_active(machine, id) {
        return Err(UmError::InactiveArray { pc: 0, id });
    }
    let array = &mut machine.arrays[id as usize];
    if index >= array.len() {
        return Err(out_of_bounds(id, offset, array.len()));
    }
    array[index] = value;
    Ok(())
}

fn out_of_bounds(id: u32, offset: u32, len: usize) -> UmError {
    UmError::OutOfBounds {
        pc: 0,
        id,
        offset,
        len: len as u32,
    }
}

/// Operator 8: a new array of `size` zeros; its identifier (a reused one
/// if any was abandoned). Not traced: `vec![0; n]` in a trace is a Vec
/// value (a box, `vec_init`, a `resize` helper, `vec_take` into the
/// table, the box freed), and sandmark ran 23.5 s instead of 12.4 s (user
/// time) with it traced; native, it is one `calloc`. (`pub(crate)`: the
/// generated glue calls it.)
#[dont_look_inside]
pub(crate) fn allocate(machine: &mut Machine, size: u32) -> u32 {
    let words = vec![0u32; size as usize];
    match machine.free.pop() {
        Some(id) => {
            machine.arrays[id as usize] = words;
            machine.active[id as usize] = true;
            id
        }
        None => {
            machine.arrays.push(words);
            machine.active.push(true);
            (machine.arrays.len() - 1) as u32
        }
    }
}

/// Operator 9: array `id` is abandoned, its identifier free again.
fn abandon(machine: &mut Machine, id: u32) -> Result<(), UmError> {
    if id == 0 {
        return Err(UmError::AbandonProgram { pc: 0 });
    }
    if !is_active(machine, id) {
        return Err(UmError::InactiveArray { pc: 0, id });
    }
    machine.arrays[id as usize] = Vec::new();
    machine.active[id as usize] = false;
    machine.free.push(id);
    Ok(())
}

/// Operator 12 from an active array other than 0: a copy of it becomes
/// the program. Every trace that read a platter of the old program is
/// invalidated first (a `set` of a word some trace depends on does that).
#[dont_look_inside]
pub fn load_program(machine: &mut Machine, id: u32) {
    for word in &machine.program {
        word.set(word.get());
    }
    machine.program = machine.arrays[id as usize]
        .iter()
        .map(|&w| QuasiImmut::new(w))
        .collect();
}

// The console helpers are bf's (targets/bf/src/interp.rs), copied: the
// translator reads only this crate, and a residual call's effect summary
// comes from the helper's body here. Calling a shared function of another
// crate would make every output a call that may write everything (the
// heap caches would forget all they know at each one).

/// Operator 10: buffers one byte of output.
#[dont_look_inside]
pub fn write_byte(io: &mut Io, byte: u8) {
    io.out.push(byte);
    if io.out.len() >= OUTPUT_BUFFER {
        flush(io);
    }
}

/// Operator 11: the next byte of input, or all ones at end of input.
/// Pending output is flushed first, so that prompts appear.
#[dont_look_inside]
pub fn read_byte(io: &mut Io) -> u32 {
    use std::io::Read;
    flush(io);
    if io.eof {
        return u32::MAX;
    }
    let mut buf = [0u8; 1];
    let stdin = std::io::stdin();
    let mut lock = stdin.lock();
    loop {
        match lock.read(&mut buf) {
            Ok(1) => return u32::from(buf[0]),
            Ok(_) => break,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    io.eof = true;
    u32::MAX
}

/// Writes the buffered output to stdout.
pub fn flush(io: &mut Io) {
    use std::io::Write;
    if io.out.is_empty() {
        return;
    }
    if io.write_error.is_none() {
        let mut stdout = std::io::stdout().lock();
        if let Err(e) = stdout.write_all(&io.out).and_then(|()| stdout.flush()) {
            io.write_error = Some(e.to_string());
        }
    }
    io.out.clear();
}
