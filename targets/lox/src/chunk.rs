//! The bytecode (clox's chunk.h): one byte per opcode, then its operands
//! (one byte each, jump offsets two bytes big-endian), and the methods the
//! compiler builds a [`Chunk`] with.
//!
//! The opcodes are `u8` constants rather than an enum so that the VM
//! matches on the byte it reads, as clox's `switch` does.

use crate::object::{Chunk, Value};

/// Operand: constant index. Pushes the constant.
pub const OP_CONSTANT: u8 = 0;
pub const OP_NIL: u8 = 1;
pub const OP_TRUE: u8 = 2;
pub const OP_FALSE: u8 = 3;
pub const OP_POP: u8 = 4;
/// Operand: slot, relative to the frame's base.
pub const OP_GET_LOCAL: u8 = 5;
pub const OP_SET_LOCAL: u8 = 6;
/// Operand: constant index of the name.
pub const OP_GET_GLOBAL: u8 = 7;
pub const OP_DEFINE_GLOBAL: u8 = 8;
pub const OP_SET_GLOBAL: u8 = 9;
/// Operand: index in the closure's upvalues.
pub const OP_GET_UPVALUE: u8 = 10;
pub const OP_SET_UPVALUE: u8 = 11;
/// Operand: constant index of the name.
pub const OP_GET_PROPERTY: u8 = 12;
pub const OP_SET_PROPERTY: u8 = 13;
pub const OP_GET_SUPER: u8 = 14;
pub const OP_EQUAL: u8 = 15;
pub const OP_GREATER: u8 = 16;
pub const OP_LESS: u8 = 17;
pub const OP_ADD: u8 = 18;
pub const OP_SUBTRACT: u8 = 19;
pub const OP_MULTIPLY: u8 = 20;
pub const OP_DIVIDE: u8 = 21;
pub const OP_NOT: u8 = 22;
pub const OP_NEGATE: u8 = 23;
pub const OP_PRINT: u8 = 24;
/// Operand: forward offset (two bytes).
pub const OP_JUMP: u8 = 25;
pub const OP_JUMP_IF_FALSE: u8 = 26;
/// Operand: backward offset (two bytes).
pub const OP_LOOP: u8 = 27;
/// Operand: argument count.
pub const OP_CALL: u8 = 28;
/// Operands: constant index of the method name, argument count.
pub const OP_INVOKE: u8 = 29;
pub const OP_SUPER_INVOKE: u8 = 30;
/// Operands: constant index of the function, then per upvalue
/// `is_local` (0 or 1) and its index.
pub const OP_CLOSURE: u8 = 31;
pub const OP_CLOSE_UPVALUE: u8 = 32;
pub const OP_RETURN: u8 = 33;
/// Operand: constant index of the name.
pub const OP_CLASS: u8 = 34;
pub const OP_INHERIT: u8 = 35;
/// Operand: constant index of the name.
pub const OP_METHOD: u8 = 36;

impl Chunk {
    /// Appends a byte from source line `line`.
    pub fn write(&mut self, byte: u8, line: u32) {
        self.code.push(byte);
        self.lines.push(line);
    }

    /// Adds a constant (duplicates too, as clox does: the 256-constant
    /// limit counts every use) and returns its index.
    pub fn add_constant(&mut self, value: Value) -> usize {
        self.constants.push(value);
        self.constants.len() - 1
    }
}
