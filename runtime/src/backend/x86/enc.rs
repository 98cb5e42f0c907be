//! Memory operands encoded by hand, in their shortest form.
//!
//! dynasm-rs encodes a memory operand whose base is a dynamic register
//! (`[Rq(base) + disp]`) in its most general form: it always adds a SIB
//! byte (the register might be `rsp`/`r12`) and a displacement (it might
//! be `rbp`/`r13`), and a displacement that is not a literal is always 32
//! bits. `mov rsi, [r15]` came out as `49 8b b4 27 00 00 00 00` (8 bytes)
//! instead of `49 8b 37` (3). The code generator's memory operands are
//! all built here instead: no displacement when it is 0 (but for
//! `rbp`/`r13` bases), 8 bits when it fits, a SIB byte only for an index
//! or an `rsp`/`r12` base, and a REX prefix only when needed.
//!
//! [`Mem`] is `[base + index * scale + disp]`; [`encode`] lays out
//! `prefix REX opcode ModRM [SIB] [disp]` (the caller appends any
//! immediate). The `Codegen` methods below are the instructions the code
//! generator uses with a memory operand.

use super::regs::FP;
use super::Codegen;
use crate::jitcode::{IntTy, ScalarTy};

/// `[base + index * scale + disp]` (`scale` 1, 2, 4 or 8; the index is
/// never `rsp`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Mem {
    pub base: u8,
    pub index: Option<(u8, u8)>,
    pub disp: i32,
}

impl Mem {
    pub fn base(base: u8, disp: i32) -> Mem {
        Mem {
            base,
            index: None,
            disp,
        }
    }

    /// A word of the frame (`[r15 + disp]`).
    pub fn fp(disp: i32) -> Mem {
        Mem::base(FP, disp)
    }

    pub fn indexed(base: u8, index: u8, scale: u8, disp: i32) -> Mem {
        debug_assert!(index != 4, "rsp cannot be an index");
        debug_assert!(matches!(scale, 1 | 2 | 4 | 8));
        Mem {
            base,
            index: Some((index, scale)),
            disp,
        }
    }

    /// The registers the address reads.
    pub fn uses(&self, r: u8) -> bool {
        self.base == r || self.index.map(|(i, _)| i == r).unwrap_or(false)
    }
}

/// One instruction's bytes (at most 15).
#[derive(Clone, Copy)]
pub struct Enc {
    buf: [u8; 16],
    len: usize,
}

impl Enc {
    fn new() -> Enc {
        Enc {
            buf: [0; 16],
            len: 0,
        }
    }
    fn push(&mut self, b: u8) {
        self.buf[self.len] = b;
        self.len += 1;
    }
    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
    /// `rex op ModRM(11, ext, r)`: a register operand.
    fn reg_form(mut self, rex: u8, op: &[u8], ext: u8, r: u8) -> Enc {
        self.push(rex);
        for &b in op {
            self.push(b);
        }
        self.push(0xC0 | (ext & 7) << 3 | (r & 7));
        self
    }
    pub fn imm8(mut self, v: i8) -> Enc {
        self.push(v as u8);
        self
    }
    pub fn imm16(mut self, v: i16) -> Enc {
        for b in v.to_le_bytes() {
            self.push(b);
        }
        self
    }
    pub fn imm32(mut self, v: i32) -> Enc {
        for b in v.to_le_bytes() {
            self.push(b);
        }
        self
    }
}

pub fn fits_i8(v: i64) -> bool {
    v >= i8::MIN as i64 && v <= i8::MAX as i64
}

/// `[pfx] [REX] op ModRM [SIB] [disp]` with `reg` in ModRM.reg and `m` in
/// ModRM.rm. `w`: REX.W (64-bit operand). `byte_reg`: `reg` is a byte
/// register (`spl bpl sil dil` need a REX prefix to be named).
pub fn encode(pfx: Option<u8>, w: bool, byte_reg: bool, op: &[u8], reg: u8, m: Mem) -> Enc {
    let mut e = Enc::new();
    if let Some(p) = pfx {
        e.push(p);
    }
    let index = m.index.map(|(i, _)| i).unwrap_or(0);
    let rex = 0x40
        | (w as u8) << 3
        | ((reg >> 3) & 1) << 2
        | ((index >> 3) & 1) << 1
        | ((m.base >> 3) & 1);
    if rex != 0x40 || (byte_reg && (4..8).contains(&reg)) {
        e.push(rex);
    }
    for &b in op {
        e.push(b);
    }
    let base_lo = m.base & 7;
    let need_sib = m.index.is_some() || base_lo == 4;
    let mode = if m.disp == 0 && base_lo != 5 {
        0
    } else if fits_i8(m.disp as i64) {
        1
    } else {
        2
    };
    let rm = if need_sib { 4 } else { base_lo };
    e.push(mode << 6 | (reg & 7) << 3 | rm);
    if need_sib {
        let (idx, scale) = match m.index {
            Some((i, s)) => (i & 7, s.trailing_zeros() as u8),
            None => (4, 0), // no index
        };
        e.push(scale << 6 | idx << 3 | base_lo);
    }
    match mode {
        1 => e.push(m.disp as i8 as u8),
        2 => {
            for b in m.disp.to_le_bytes() {
                e.push(b);
            }
        }
        _ => {}
    }
    e
}

/// `cmp r64, imm8`
pub fn cmp_r64_imm8(r: u8, v: i8) -> Enc {
    Enc::new().reg_form(0x48 | (r >> 3), &[0x83], 7, r).imm8(v)
}

/// Two-address ALU operations with a memory source (`op r64, [m]`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MemAlu {
    Add,
    Or,
    And,
    Sub,
    Xor,
    Cmp,
    Imul,
}

impl<'a> Codegen<'a> {
    fn emit_enc(&mut self, e: Enc) {
        self.a.extend(e.bytes().iter().copied());
    }

    /// `mov r64, [m]`
    pub fn load64(&mut self, d: u8, m: Mem) {
        self.emit_enc(encode(None, true, false, &[0x8B], d, m));
    }

    /// `mov [m], r64`
    pub fn store64(&mut self, m: Mem, s: u8) {
        self.emit_enc(encode(None, true, false, &[0x89], s, m));
    }

    /// `movsd xmm, [m]`
    pub fn load_f64(&mut self, x: u8, m: Mem) {
        self.emit_enc(encode(Some(0xF2), false, false, &[0x0F, 0x10], x, m));
    }

    /// `movsd [m], xmm`
    pub fn store_f64(&mut self, m: Mem, x: u8) {
        self.emit_enc(encode(Some(0xF2), false, false, &[0x0F, 0x11], x, m));
    }

    /// `lea r64, [m]` (a plain copy, or nothing, when `m` is `[base]`).
    pub fn lea(&mut self, d: u8, m: Mem) {
        if m.index.is_none() && m.disp == 0 {
            self.emit_move(super::regs::Loc::Gpr(m.base), super::regs::Loc::Gpr(d));
            return;
        }
        self.emit_enc(encode(None, true, false, &[0x8D], d, m));
    }

    /// Store the low `size` bytes of GPR `s`.
    pub fn store_sized(&mut self, size: usize, m: Mem, s: u8) {
        let e = match size {
            1 => encode(None, false, true, &[0x88], s, m),
            2 => encode(Some(0x66), false, false, &[0x89], s, m),
            4 => encode(None, false, false, &[0x89], s, m),
            _ => encode(None, true, false, &[0x89], s, m),
        };
        self.emit_enc(e);
    }

    /// Store a constant of `size` bytes (for 8: `v` sign-extended from 32
    /// bits, see `fits_i32`).
    pub fn store_imm(&mut self, size: usize, m: Mem, v: u64) {
        let e = match size {
            1 => encode(None, false, false, &[0xC6], 0, m).imm8(v as u8 as i8),
            2 => encode(Some(0x66), false, false, &[0xC7], 0, m).imm16(v as u16 as i16),
            4 => encode(None, false, false, &[0xC7], 0, m).imm32(v as u32 as i32),
            _ => {
                debug_assert!(super::fits_i32(v));
                encode(None, true, false, &[0xC7], 0, m).imm32(v as i32)
            }
        };
        self.emit_enc(e);
    }

    /// Load a scalar of type `ty` into `d` (a GPR, or an xmm register for
    /// f64), canonically extended.
    pub fn load_scalar(&mut self, ty: ScalarTy, d: u8, m: Mem) {
        let e = match ty {
            ScalarTy::Int(t) => match t {
                IntTy::I8 => encode(None, true, false, &[0x0F, 0xBE], d, m),
                IntTy::I16 => encode(None, true, false, &[0x0F, 0xBF], d, m),
                IntTy::I32 => encode(None, true, false, &[0x63], d, m),
                IntTy::U8 => encode(None, false, false, &[0x0F, 0xB6], d, m),
                IntTy::U16 => encode(None, false, false, &[0x0F, 0xB7], d, m),
                IntTy::U32 => encode(None, false, false, &[0x8B], d, m),
                IntTy::I64 | IntTy::Isize | IntTy::U64 | IntTy::Usize => {
                    encode(None, true, false, &[0x8B], d, m)
                }
            },
            ScalarTy::Bool => encode(None, false, false, &[0x0F, 0xB6], d, m),
            ScalarTy::Char => encode(None, false, false, &[0x8B], d, m),
            ScalarTy::Ref => encode(None, true, false, &[0x8B], d, m),
            ScalarTy::F64 => encode(Some(0xF2), false, false, &[0x0F, 0x10], d, m),
        };
        self.emit_enc(e);
    }

    /// `op r64, [m]`
    pub fn alu_mem(&mut self, op: MemAlu, d: u8, m: Mem) {
        let opc: &[u8] = match op {
            MemAlu::Add => &[0x03],
            MemAlu::Or => &[0x0B],
            MemAlu::And => &[0x23],
            MemAlu::Sub => &[0x2B],
            MemAlu::Xor => &[0x33],
            MemAlu::Cmp => &[0x3B],
            MemAlu::Imul => &[0x0F, 0xAF],
        };
        self.emit_enc(encode(None, true, false, opc, d, m));
    }

    /// `cmp r64, imm8` (sign-extended; dynasm picks the imm32 form).
    pub fn cmp_reg_imm8(&mut self, r: u8, v: i8) {
        self.emit_enc(cmp_r64_imm8(r, v));
    }

    /// `cmp QWORD [m], r64`
    pub fn cmp_mem_reg(&mut self, m: Mem, r: u8) {
        self.emit_enc(encode(None, true, false, &[0x39], r, m));
    }

    /// `cmp QWORD [m], imm` (imm8 or imm32, sign-extended).
    pub fn cmp_mem_imm(&mut self, m: Mem, v: i32) {
        let e = if fits_i8(v as i64) {
            encode(None, true, false, &[0x83], 7, m).imm8(v as i8)
        } else {
            encode(None, true, false, &[0x81], 7, m).imm32(v)
        };
        self.emit_enc(e);
    }

    /// Scalar double operation `xmm op= [m]` (`op`: the byte after
    /// `F2 0F`: 58 add, 59 mul, 5C sub, 5E div).
    pub fn sse_mem(&mut self, op: u8, x: u8, m: Mem) {
        self.emit_enc(encode(Some(0xF2), false, false, &[0x0F, op], x, m));
    }

    /// `ucomisd xmm, [m]`
    pub fn ucomisd_mem(&mut self, x: u8, m: Mem) {
        self.emit_enc(encode(Some(0x66), false, false, &[0x0F, 0x2E], x, m));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iced_x86::{Code, Decoder, DecoderOptions, Instruction, OpKind, Register};

    fn gpr64(r: u8) -> Register {
        [
            Register::RAX,
            Register::RCX,
            Register::RDX,
            Register::RBX,
            Register::RSP,
            Register::RBP,
            Register::RSI,
            Register::RDI,
            Register::R8,
            Register::R9,
            Register::R10,
            Register::R11,
            Register::R12,
            Register::R13,
            Register::R14,
            Register::R15,
        ][r as usize]
    }

    fn decode(bytes: &[u8]) -> Instruction {
        let mut d = Decoder::with_ip(64, bytes, 0, DecoderOptions::NONE);
        let i = d.decode();
        assert_eq!(i.len(), bytes.len(), "{bytes:02x?} decodes as {i:?}");
        i
    }

    fn mems() -> Vec<Mem> {
        let disps = [
            0,
            1,
            -1,
            8,
            127,
            -128,
            128,
            -129,
            -520,
            0x1234_5678,
            i32::MIN,
            i32::MAX,
        ];
        let mut v = Vec::new();
        for base in 0..16u8 {
            for &disp in &disps {
                v.push(Mem::base(base, disp));
                for index in [0u8, 5, 6, 9, 12, 13, 15] {
                    for scale in [1u8, 2, 4, 8] {
                        v.push(Mem::indexed(base, index, scale, disp));
                    }
                }
            }
        }
        v
    }

    /// The shortest encoding's length of `m` (ModRM and after).
    fn want_len(m: Mem) -> usize {
        let sib = m.index.is_some() || m.base & 7 == 4;
        let disp = if m.disp == 0 && m.base & 7 != 5 {
            0
        } else if fits_i8(m.disp as i64) {
            1
        } else {
            4
        };
        1 + sib as usize + disp
    }

    fn check_mem(i: &Instruction, op: u32, m: Mem) {
        assert_eq!(i.op_kind(op), OpKind::Memory);
        assert_eq!(i.memory_base(), gpr64(m.base), "{m:?}");
        match m.index {
            Some((x, s)) => {
                assert_eq!(i.memory_index(), gpr64(x), "{m:?}");
                assert_eq!(i.memory_index_scale(), s as u32, "{m:?}");
            }
            None => assert_eq!(i.memory_index(), Register::None, "{m:?}"),
        }
        assert_eq!(i.memory_displacement64(), m.disp as i64 as u64, "{m:?}");
    }

    #[test]
    fn loads_and_stores_of_every_register_and_address() {
        for m in mems() {
            for r in 0..16u8 {
                let e = encode(None, true, false, &[0x8B], r, m);
                let i = decode(e.bytes());
                assert_eq!(i.code(), Code::Mov_r64_rm64);
                assert_eq!(i.op0_register(), gpr64(r));
                check_mem(&i, 1, m);
                // REX (always: W) + opcode + the address
                assert_eq!(e.bytes().len(), 2 + want_len(m), "{m:?}");

                let e = encode(None, false, true, &[0x88], r, m);
                let i = decode(e.bytes());
                assert_eq!(i.code(), Code::Mov_rm8_r8);
                let byte_regs = [
                    Register::AL,
                    Register::CL,
                    Register::DL,
                    Register::BL,
                    Register::SPL,
                    Register::BPL,
                    Register::SIL,
                    Register::DIL,
                    Register::R8L,
                    Register::R9L,
                    Register::R10L,
                    Register::R11L,
                    Register::R12L,
                    Register::R13L,
                    Register::R14L,
                    Register::R15L,
                ];
                assert_eq!(i.op1_register(), byte_regs[r as usize]);
                check_mem(&i, 0, m);

                let e = encode(Some(0xF2), false, false, &[0x0F, 0x10], r, m);
                let i = decode(e.bytes());
                assert_eq!(i.code(), Code::Movsd_xmm_xmmm64);
                assert_eq!(
                    i.op0_register(),
                    Register::try_from(Register::XMM0 as usize + r as usize).unwrap()
                );
                check_mem(&i, 1, m);
            }
            let e = encode(None, true, false, &[0x83], 7, m).imm8(-3);
            let i = decode(e.bytes());
            assert_eq!(i.code(), Code::Cmp_rm64_imm8);
            assert_eq!(i.immediate8to64(), -3);
            check_mem(&i, 0, m);
            let e = encode(Some(0x66), false, false, &[0xC7], 0, m).imm16(-2);
            let i = decode(e.bytes());
            assert_eq!(i.code(), Code::Mov_rm16_imm16);
            assert_eq!(i.immediate16(), 0xfffe);
            check_mem(&i, 0, m);
        }
    }

    #[test]
    fn compare_with_imm8() {
        for r in 0..16u8 {
            for v in [0i8, 1, -1, 127, -128] {
                let e = cmp_r64_imm8(r, v);
                let i = decode(e.bytes());
                assert_eq!(i.code(), Code::Cmp_rm64_imm8);
                assert_eq!(i.op0_register(), gpr64(r));
                assert_eq!(i.immediate8to64(), v as i64);
            }
        }
    }

    #[test]
    fn short_forms() {
        // mov rsi, [r15]
        assert_eq!(
            encode(None, true, false, &[0x8B], 6, Mem::fp(0)).bytes(),
            [0x49, 0x8B, 0x37]
        );
        // mov rdi, [r15+8]
        assert_eq!(
            encode(None, true, false, &[0x8B], 7, Mem::fp(8)).bytes(),
            [0x49, 0x8B, 0x7F, 0x08]
        );
        // movzx ebp, byte [rbx+rsi]
        assert_eq!(
            encode(
                None,
                false,
                false,
                &[0x0F, 0xB6],
                5,
                Mem::indexed(3, 6, 1, 0)
            )
            .bytes(),
            [0x0F, 0xB6, 0x2C, 0x33]
        );
        // mov [r12], sil: REX for sil
        assert_eq!(
            encode(None, false, true, &[0x88], 6, Mem::base(12, 0)).bytes(),
            [0x41, 0x88, 0x34, 0x24]
        );
        // mov [rbp], bl: disp8 0 for rbp, no REX
        assert_eq!(
            encode(None, false, true, &[0x88], 3, Mem::base(5, 0)).bytes(),
            [0x88, 0x5D, 0x00]
        );
    }
}
