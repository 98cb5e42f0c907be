//! The Brainfuck interpreter proper.
//!
//! This file is written in metatrace's restricted Rust subset: the translator
//! turns everything reachable from the `#[jit_driver]` function into
//! jitcodes. I/O and growing the tape are in `#[dont_look_inside]`
//! functions, which are always called natively.
//!
//! The program arrives pre-compiled by `main.rs` (`parse.rs`): runs of `+`/`-`
//! and of `<`, `>` are folded, `[-]` becomes `Clear`, and every bracket knows
//! its partner. Semantics: 8-bit wrapping cells; a tape of `TAPE_SIZE` cells
//! that grows on the right (up to `MAX_TAPE_SIZE`); moving left of cell 0 is
//! an error; `,` at end of input leaves the cell unchanged.

use metatrace::prelude::*;

/// The initial number of cells.
pub const TAPE_SIZE: usize = 30000;
/// The tape never grows beyond this many cells (256 MiB).
pub const MAX_TAPE_SIZE: usize = 1 << 28;
/// Output is written out when this many bytes are buffered.
pub const OUTPUT_BUFFER: usize = 1 << 16;

/// One instruction of the compiled program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `+`/`-` run: add to the current cell (wrapping).
    Add(u8),
    /// `>` run: move right by n cells.
    Right(usize),
    /// `<` run: move left by n cells.
    Left(usize),
    /// `[-]` (or any `[` + odd `+`/`-` run + `]`): set the cell to 0.
    Clear,
    /// `.`
    Output,
    /// `,`
    Input,
    /// `[`: if the cell is 0, continue at the op after the matching `]`.
    Open(usize),
    /// `]`: if the cell is not 0, continue at the op after the matching `[`.
    Close(usize),
}

/// A compiled program.
pub struct Program {
    pub ops: Vec<Op>,
    /// For each op, the byte offset in the source of its first character.
    pub offsets: Vec<usize>,
}

/// The tape.
pub struct Tape {
    pub cells: Vec<u8>,
}

/// Input and output state: stdin is read byte by byte (it is buffered by
/// std), stdout is written through `out`.
pub struct Io {
    /// Output not yet written to stdout.
    pub out: Vec<u8>,
    /// End of input was reached.
    pub eof: bool,
    /// The first error writing to stdout, if any (output is dropped after it).
    pub write_error: Option<String>,
}

/// A run-time error. `pc` is the op that failed; `moved` the number of
/// single-cell moves of that op that succeeded before it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BfError {
    /// A `<` moved left of cell 0.
    LeftOfTape { pc: usize, moved: usize },
    /// A `>` moved beyond `MAX_TAPE_SIZE` cells.
    TapeLimit { pc: usize },
}

/// Runs `program` on `tape`, starting at cell 0.
#[jit_driver(greens = [pc, program], reds = [ptr, tape, io])]
pub fn run(program: &Program, tape: &mut Tape, io: &mut Io) -> Result<(), BfError> {
    let mut pc: usize = 0;
    let mut ptr: usize = 0;
    loop {
        jit_merge_point!();
        if pc >= program.ops.len() {
            return Ok(());
        }
        let op = program.ops[pc];
        match op {
            Op::Add(n) => {
                tape.cells[ptr] = tape.cells[ptr].wrapping_add(n);
            }
            Op::Right(n) => {
                ptr += n;
                if ptr >= tape.cells.len() && !grow_tape(tape, ptr) {
                    return Err(BfError::TapeLimit { pc });
                }
            }
            Op::Left(n) => {
                if n > ptr {
                    return Err(BfError::LeftOfTape { pc, moved: ptr });
                }
                ptr -= n;
            }
            Op::Clear => {
                tape.cells[ptr] = 0;
            }
            Op::Output => {
                write_byte(io, tape.cells[ptr]);
            }
            Op::Input => {
                tape.cells[ptr] = read_byte(io, tape.cells[ptr]);
            }
            Op::Open(target) => {
                if tape.cells[ptr] == 0 {
                    pc = target;
                    continue;
                }
            }
            Op::Close(target) => {
                if tape.cells[ptr] != 0 {
                    pc = target;
                    can_enter_jit!();
                    continue;
                }
            }
        }
        pc += 1;
    }
}

/// Grows the tape so that cell `ptr` exists (new cells are 0). False if that
/// would exceed `MAX_TAPE_SIZE`.
#[dont_look_inside]
pub fn grow_tape(tape: &mut Tape, ptr: usize) -> bool {
    if ptr >= MAX_TAPE_SIZE {
        return false;
    }
    let new_len = (tape.cells.len() * 2).max(ptr + 1).min(MAX_TAPE_SIZE);
    tape.cells.resize(new_len, 0);
    true
}

/// `.`: buffers one byte of output.
#[dont_look_inside]
pub fn write_byte(io: &mut Io, byte: u8) {
    io.out.push(byte);
    if io.out.len() >= OUTPUT_BUFFER {
        flush(io);
    }
}

/// `,`: the next byte of input, or `current` (the cell unchanged) at end of
/// input. Pending output is flushed first, so that prompts appear.
#[dont_look_inside]
pub fn read_byte(io: &mut Io, current: u8) -> u8 {
    use std::io::Read;
    flush(io);
    if io.eof {
        return current;
    }
    let mut buf = [0u8; 1];
    let stdin = std::io::stdin();
    let mut lock = stdin.lock();
    loop {
        match lock.read(&mut buf) {
            Ok(1) => return buf[0],
            Ok(_) => break,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    io.eof = true;
    current
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
