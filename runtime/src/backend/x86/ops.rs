//! Integer, float, cast and memory operations.
//!
//! Int values are kept canonical (see `jitcode`): every operation computes
//! on the 64-bit register and re-canonicalises narrow types with
//! `movsx`/`movzx`/`mov r32, r32`, so that the result is bit-identical to
//! `crate::executor`.

use crate::jitcode::{
    ArrayId, CmpOp, FieldId, FieldPlace, FloatBinOp, IntBinOp, IntTy, Kind, ScalarTy,
};
use dynasmrt::{DynasmApi, DynasmLabelApi};

use super::enc::{fits_i8, Mem, MemAlu};
use super::regs::{Loc, R11, RAX, RCX, RDX, XTMP};
use super::{asm, fits_i32, Cc, Codegen, Fused};
use crate::backend::frame::{result_disp, slot_disp};
use crate::backend::trampolines as t;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Alu {
    Add,
    Sub,
    And,
    Or,
    Xor,
    Mul,
    Cmp,
}

impl Alu {
    fn commutative(self) -> bool {
        matches!(self, Alu::Add | Alu::And | Alu::Or | Alu::Xor | Alu::Mul)
    }
}

/// Condition of an int comparison.
pub fn int_cc(op: CmpOp, signed: bool) -> Cc {
    match (op, signed) {
        (CmpOp::Eq, _) => Cc::E,
        (CmpOp::Ne, _) => Cc::Ne,
        (CmpOp::Lt, true) => Cc::L,
        (CmpOp::Le, true) => Cc::Le,
        (CmpOp::Gt, true) => Cc::G,
        (CmpOp::Ge, true) => Cc::Ge,
        (CmpOp::Lt, false) => Cc::B,
        (CmpOp::Le, false) => Cc::Be,
        (CmpOp::Gt, false) => Cc::A,
        (CmpOp::Ge, false) => Cc::Ae,
    }
}

impl<'a> Codegen<'a> {
    /// `d op= src` (64-bit).
    fn alu(&mut self, op: Alu, d: u8, src: Loc) {
        match src {
            Loc::Gpr(s) => match op {
                Alu::Add => asm!(self ; add Rq(d), Rq(s)),
                Alu::Sub => asm!(self ; sub Rq(d), Rq(s)),
                Alu::And => asm!(self ; and Rq(d), Rq(s)),
                Alu::Or => asm!(self ; or Rq(d), Rq(s)),
                Alu::Xor => asm!(self ; xor Rq(d), Rq(s)),
                Alu::Mul => asm!(self ; imul Rq(d), Rq(s)),
                Alu::Cmp => asm!(self ; cmp Rq(d), Rq(s)),
            },
            Loc::Slot(s) => {
                let m = Mem::fp(slot_disp(s));
                let op = match op {
                    Alu::Add => MemAlu::Add,
                    Alu::Sub => MemAlu::Sub,
                    Alu::And => MemAlu::And,
                    Alu::Or => MemAlu::Or,
                    Alu::Xor => MemAlu::Xor,
                    Alu::Mul => MemAlu::Imul,
                    Alu::Cmp => MemAlu::Cmp,
                };
                self.alu_mem(op, d, m);
            }
            // x - 0 sets the flags as x & x (no carry, no overflow)
            Loc::Imm(0) if op == Alu::Cmp => asm!(self ; test Rq(d), Rq(d)),
            Loc::Imm(v) if fits_i8(v as i64) => {
                let b = v as i8;
                match op {
                    Alu::Add => asm!(self ; add Rq(d), BYTE b),
                    Alu::Sub => asm!(self ; sub Rq(d), BYTE b),
                    Alu::And => asm!(self ; and Rq(d), BYTE b),
                    Alu::Or => asm!(self ; or Rq(d), BYTE b),
                    Alu::Xor => asm!(self ; xor Rq(d), BYTE b),
                    Alu::Mul => asm!(self ; imul Rq(d), Rq(d), BYTE b),
                    Alu::Cmp => self.cmp_reg_imm8(d, b),
                }
            }
            Loc::Imm(v) if fits_i32(v) => {
                let v = v as i32;
                match op {
                    Alu::Add => asm!(self ; add Rq(d), v),
                    Alu::Sub => asm!(self ; sub Rq(d), v),
                    Alu::And => asm!(self ; and Rq(d), v),
                    Alu::Or => asm!(self ; or Rq(d), v),
                    Alu::Xor => asm!(self ; xor Rq(d), v),
                    Alu::Mul => asm!(self ; imul Rq(d), Rq(d), v),
                    Alu::Cmp => asm!(self ; cmp Rq(d), v),
                }
            }
            Loc::Imm(_) | Loc::Xmm(_) => {
                self.mov_to_gpr(R11, src);
                self.alu(op, d, Loc::Gpr(R11));
            }
        }
    }

    /// Re-canonicalise the result of operation `i`, computed in `d`, for
    /// `ty`; not when its only uses store at most `ty`'s bytes of it.
    fn wrap_result(&mut self, i: usize, ty: IntTy, d: u8) {
        let v = self.result_id(i) as usize;
        match self.live.stored_only[v] {
            Some(n) if n as u32 * 8 <= ty.bits() => {}
            _ => self.wrap(ty, d),
        }
    }

    /// Re-canonicalise `d` for `ty`.
    pub fn wrap(&mut self, ty: IntTy, d: u8) {
        match ty {
            IntTy::I8 => asm!(self ; movsx Rq(d), Rb(d)),
            IntTy::I16 => asm!(self ; movsx Rq(d), Rw(d)),
            IntTy::I32 => asm!(self ; movsxd Rq(d), Rd(d)),
            IntTy::U8 => asm!(self ; movzx Rd(d), Rb(d)),
            IntTy::U16 => asm!(self ; movzx Rd(d), Rw(d)),
            IntTy::U32 => asm!(self ; mov Rd(d), Rd(d)),
            IntTy::I64 | IntTy::Isize | IntTy::U64 | IntTy::Usize => {}
        }
    }

    /// `d = wrap(ty, src)` in one instruction when `src` is a register.
    pub fn wrap_into(&mut self, ty: IntTy, d: u8, src: Loc) {
        let Loc::Gpr(s) = src else {
            self.mov_to_gpr(d, src);
            self.wrap(ty, d);
            return;
        };
        match ty {
            IntTy::I8 => asm!(self ; movsx Rq(d), Rb(s)),
            IntTy::I16 => asm!(self ; movsx Rq(d), Rw(s)),
            IntTy::I32 => asm!(self ; movsxd Rq(d), Rd(s)),
            IntTy::U8 => asm!(self ; movzx Rd(d), Rb(s)),
            IntTy::U16 => asm!(self ; movzx Rd(d), Rw(s)),
            IntTy::U32 => asm!(self ; mov Rd(d), Rd(s)),
            IntTy::I64 | IntTy::Isize | IntTy::U64 | IntTy::Usize => self.mov_to_gpr(d, src),
        }
    }

    /// `d = la op lb` for the two-address ALU ops (`d` may be the register
    /// of either operand).
    fn alu3(&mut self, op: Alu, d: u8, la: Loc, lb: Loc) {
        // A sum into a third register: `lea` (the flags of int operations
        // are never used, only those of comparisons).
        if la.gpr() != Some(d) && lb.gpr() != Some(d) {
            let imm = |l: Loc, neg: bool| match l {
                Loc::Imm(c) => {
                    let c = if neg {
                        (c as i64).wrapping_neg() as u64
                    } else {
                        c
                    };
                    fits_i32(c).then_some(c as i32)
                }
                _ => None,
            };
            let m = match (op, la, lb) {
                (Alu::Add, Loc::Gpr(a), Loc::Gpr(b)) => Some(Mem::indexed(a, b, 1, 0)),
                (Alu::Add, Loc::Gpr(a), c) => imm(c, false).map(|c| Mem::base(a, c)),
                (Alu::Add, c, Loc::Gpr(b)) => imm(c, false).map(|c| Mem::base(b, c)),
                (Alu::Sub, Loc::Gpr(a), c) => imm(c, true).map(|c| Mem::base(a, c)),
                _ => None,
            };
            if let Some(m) = m {
                self.lea(d, m);
                return;
            }
        }
        if lb.gpr() == Some(d) && la.gpr() != Some(d) {
            if op.commutative() {
                self.alu(op, d, la);
            } else {
                // d = b: d = -b + a
                debug_assert!(op == Alu::Sub);
                asm!(self ; neg Rq(d));
                self.alu(Alu::Add, d, la);
            }
        } else {
            self.mov_to_gpr(d, la);
            self.alu(op, d, lb);
        }
    }

    pub fn int_bin(&mut self, i: usize, op: IntBinOp, ty: IntTy) {
        let la = self.arg(i, 0);
        let lb = self.arg(i, 1);
        match op {
            IntBinOp::Add
            | IntBinOp::Sub
            | IntBinOp::And
            | IntBinOp::Or
            | IntBinOp::Xor
            | IntBinOp::Mul => {
                let alu = match op {
                    IntBinOp::Add => Alu::Add,
                    IntBinOp::Sub => Alu::Sub,
                    IntBinOp::And => Alu::And,
                    IntBinOp::Or => Alu::Or,
                    IntBinOp::Xor => Alu::Xor,
                    _ => Alu::Mul,
                };
                let wraps = !matches!(op, IntBinOp::And | IntBinOp::Or | IntBinOp::Xor);
                // The low bits of a sum, difference or product depend on
                // the low bits of the operands only: a wrapped result can
                // take a constant sign-extended from the type's width
                // (`u8 + 255` as `+ -1`: an 8-bit immediate).
                let bits = ty.bits();
                let narrow = |l: Loc| match l {
                    Loc::Imm(c) if wraps && bits < 64 => {
                        let sh = 64 - bits;
                        Loc::Imm((((c << sh) as i64) >> sh) as u64)
                    }
                    l => l,
                };
                let (la, lb) = (narrow(la), narrow(lb));
                let d = self.def_gpr(i);
                self.alu3(alu, d, la, lb);
                if wraps {
                    // and/or/xor of canonical values are canonical
                    self.wrap_result(i, ty, d);
                }
                self.end_def(i, d);
            }
            IntBinOp::Shl | IntBinOp::Shr => self.shift(i, op, ty, la, lb),
            IntBinOp::Div | IntBinOp::Rem => self.divrem(i, op, ty, la, lb),
        }
    }

    fn shift(&mut self, i: usize, op: IntBinOp, ty: IntTy, la: Loc, lb: Loc) {
        let bits = ty.bits();
        let left = op == IntBinOp::Shl;
        let signed = ty.signed();
        if let Loc::Imm(b) = lb {
            let s = (b as u32 & (bits - 1)) as i8;
            let d = self.def_gpr(i);
            self.mov_to_gpr(d, la);
            if s != 0 {
                if left {
                    asm!(self ; shl Rq(d), s);
                } else if signed {
                    asm!(self ; sar Rq(d), s);
                } else {
                    asm!(self ; shr Rq(d), s);
                }
            }
            if left {
                self.wrap(ty, d);
            }
            self.end_def(i, d);
            return;
        }
        // amount into ecx first: d may be b's register
        self.mov_to_gpr(RCX, lb);
        if bits < 64 {
            asm!(self ; and ecx, (bits - 1) as i32);
        }
        let d = self.def_gpr(i);
        self.mov_to_gpr(d, la);
        if left {
            asm!(self ; shl Rq(d), cl);
            self.wrap(ty, d);
        } else if signed {
            asm!(self ; sar Rq(d), cl);
        } else {
            asm!(self ; shr Rq(d), cl);
        }
        self.end_def(i, d);
    }

    fn divrem(&mut self, i: usize, op: IntBinOp, ty: IntTy, la: Loc, lb: Loc) {
        let signed = ty.signed();
        let is_div = op == IntBinOp::Div;
        if let Loc::Imm(c) = lb {
            if c == 0 {
                // zero divisor: 0 (the jitcode has panicked before)
                let d = self.def_gpr(i);
                self.mov_imm(d, 0);
                self.end_def(i, d);
                return;
            }
            if signed && c as i64 == -1 {
                let d = self.def_gpr(i);
                if is_div {
                    self.mov_to_gpr(d, la);
                    asm!(self ; neg Rq(d));
                    self.wrap(ty, d);
                } else {
                    self.mov_imm(d, 0);
                }
                self.end_def(i, d);
                return;
            }
            if !signed && c.is_power_of_two() {
                let d = self.def_gpr(i);
                self.mov_to_gpr(d, la);
                let k = c.trailing_zeros() as i8;
                if is_div {
                    if k != 0 {
                        asm!(self ; shr Rq(d), k);
                    }
                } else {
                    let mask = c - 1;
                    if fits_i32(mask) {
                        asm!(self ; and Rq(d), mask as i32);
                    } else {
                        self.mov_imm(R11, mask);
                        asm!(self ; and Rq(d), r11);
                    }
                }
                self.end_def(i, d);
                return;
            }
        }
        let checks = !matches!(lb, Loc::Imm(_));
        let rb = match lb {
            Loc::Gpr(r) => r,
            _ => {
                self.mov_to_gpr(R11, lb);
                R11
            }
        };
        self.mov_to_gpr(RAX, la);
        let zero = self.a.new_dynamic_label();
        let minus1 = self.a.new_dynamic_label();
        let done = self.a.new_dynamic_label();
        if checks {
            asm!(self
                ; test Rq(rb), Rq(rb)
                ; jz =>zero
            );
            if signed {
                asm!(self
                    ; cmp Rq(rb), -1
                    ; je =>minus1
                );
            }
        }
        if signed {
            asm!(self ; cqo ; idiv Rq(rb));
        } else {
            asm!(self ; xor edx, edx ; div Rq(rb));
        }
        let res = if is_div { RAX } else { RDX };
        if checks {
            asm!(self
                ; jmp =>done
                ; =>zero
                ; xor Rd(res), Rd(res)
            );
            if signed {
                asm!(self ; jmp =>done ; =>minus1);
                if is_div {
                    asm!(self ; neg rax);
                } else {
                    asm!(self ; xor edx, edx);
                }
            }
            asm!(self ; =>done);
        }
        let d = self.def_gpr(i);
        self.mov_to_gpr(d, Loc::Gpr(res));
        self.wrap(ty, d);
        self.end_def(i, d);
    }

    pub fn int_unary(&mut self, i: usize, ty: IntTy, neg: bool) {
        let la = self.arg(i, 0);
        let d = self.def_gpr(i);
        self.mov_to_gpr(d, la);
        if neg {
            asm!(self ; neg Rq(d));
        } else {
            asm!(self ; not Rq(d));
        }
        self.wrap_result(i, ty, d);
        self.end_def(i, d);
    }

    /// Set the flags from `la - lb` (64-bit compare; a constant `la` goes
    /// through `rax`: callers put constants on the right when they can).
    pub fn cmp_flags(&mut self, la: Loc, lb: Loc) {
        match la {
            Loc::Gpr(r) => self.alu(Alu::Cmp, r, lb),
            Loc::Slot(s) => {
                let m = Mem::fp(slot_disp(s));
                match lb {
                    Loc::Gpr(rb) => self.cmp_mem_reg(m, rb),
                    Loc::Imm(v) if fits_i32(v) => self.cmp_mem_imm(m, v as i32),
                    _ => {
                        self.mov_to_gpr(RAX, la);
                        self.alu(Alu::Cmp, RAX, lb);
                    }
                }
            }
            Loc::Imm(_) | Loc::Xmm(_) => {
                self.mov_to_gpr(RAX, la);
                self.alu(Alu::Cmp, RAX, lb);
            }
        }
    }

    pub fn int_cmp(&mut self, i: usize, op: CmpOp, ty: IntTy) {
        let la = self.arg(i, 0);
        let lb = self.arg(i, 1);
        // Canonical values compare correctly as 64-bit values by the
        // type's signedness.
        let mut cc = int_cc(op, ty.signed());
        let (la, lb) = match (la, lb) {
            // `9 > x` as `x < 9`: the constant as the immediate
            (Loc::Imm(_), Loc::Gpr(_) | Loc::Slot(_)) => {
                cc = cc.mirror();
                (lb, la)
            }
            _ => (la, lb),
        };
        self.cmp_flags(la, lb);
        if self.fusable(i) {
            self.release_regs(i);
            self.fused = Some(Fused::Cc(cc));
            return;
        }
        let d = self.def_gpr(i);
        self.set_bool(cc, d);
        self.end_def(i, d);
    }

    // -- floats ------------------------------------------------------------

    fn sse(&mut self, op: FloatBinOp, d: u8, src: Loc) {
        match src {
            Loc::Xmm(s) => match op {
                FloatBinOp::Add => asm!(self ; addsd Rx(d), Rx(s)),
                FloatBinOp::Sub => asm!(self ; subsd Rx(d), Rx(s)),
                FloatBinOp::Mul => asm!(self ; mulsd Rx(d), Rx(s)),
                FloatBinOp::Div => asm!(self ; divsd Rx(d), Rx(s)),
                FloatBinOp::Rem => unreachable!(),
            },
            Loc::Slot(s) => {
                let code = match op {
                    FloatBinOp::Add => 0x58,
                    FloatBinOp::Sub => 0x5C,
                    FloatBinOp::Mul => 0x59,
                    FloatBinOp::Div => 0x5E,
                    FloatBinOp::Rem => unreachable!(),
                };
                self.sse_mem(code, d, Mem::fp(slot_disp(s)));
            }
            Loc::Imm(bits) => {
                let l = self.fconst(bits);
                match op {
                    FloatBinOp::Add => asm!(self ; addsd Rx(d), QWORD [=>l]),
                    FloatBinOp::Sub => asm!(self ; subsd Rx(d), QWORD [=>l]),
                    FloatBinOp::Mul => asm!(self ; mulsd Rx(d), QWORD [=>l]),
                    FloatBinOp::Div => asm!(self ; divsd Rx(d), QWORD [=>l]),
                    FloatBinOp::Rem => unreachable!(),
                }
            }
            Loc::Gpr(r) => {
                asm!(self ; movq Rx(XTMP), Rq(r));
                self.sse(op, d, Loc::Xmm(XTMP));
            }
        }
    }

    pub fn float_bin(&mut self, i: usize, op: FloatBinOp) {
        if op == FloatBinOp::Rem {
            return self.call_helper(i, t::mt_fmod as *const () as usize, Kind::Float);
        }
        let la = self.arg(i, 0);
        let lb = self.arg(i, 1);
        let d = self.def_xmm(i);
        if lb.xmm() == Some(d) && la.xmm() != Some(d) {
            // d holds b: compute in the scratch register. (Not `d op= a`
            // even for add/mul: with two NaN operands x86 returns the
            // first one's payload, and `a + b` must give a's.)
            self.mov_to_xmm(XTMP, la);
            self.sse(op, XTMP, lb);
            asm!(self ; movaps Rx(d), Rx(XTMP));
        } else {
            self.mov_to_xmm(d, la);
            self.sse(op, d, lb);
        }
        self.end_def(i, d);
    }

    pub fn float_neg(&mut self, i: usize) {
        let la = self.arg(i, 0);
        let d = self.def_xmm(i);
        self.mov_to_gpr(RAX, la);
        asm!(self
            ; btc rax, 63
            ; movq Rx(d), rax
        );
        self.end_def(i, d);
    }

    /// `ucomisd a, b` with `a` in a register.
    fn ucomisd(&mut self, la: Loc, lb: Loc) {
        let xa = self.xmm_in(la, XTMP);
        match lb {
            Loc::Xmm(xb) => asm!(self ; ucomisd Rx(xa), Rx(xb)),
            Loc::Slot(s) => self.ucomisd_mem(xa, Mem::fp(slot_disp(s))),
            Loc::Imm(bits) => {
                let l = self.fconst(bits);
                asm!(self ; ucomisd Rx(xa), QWORD [=>l]);
            }
            Loc::Gpr(_) => self.fail("float comparison of a value that is not a float".into()),
        }
    }

    pub fn float_cmp(&mut self, i: usize, op: CmpOp) {
        let la = self.arg(i, 0);
        let lb = self.arg(i, 1);
        // Rust's PartialOrd: any comparison with NaN is false but `!=`.
        // `a < b` is `b > a`: "above" is false on NaN, "below" is not.
        let (swap, fused) = match op {
            CmpOp::Gt => (false, Fused::Cc(Cc::A)),
            CmpOp::Ge => (false, Fused::Cc(Cc::Ae)),
            CmpOp::Lt => (true, Fused::Cc(Cc::A)),
            CmpOp::Le => (true, Fused::Cc(Cc::Ae)),
            CmpOp::Eq => (false, Fused::FloatEq),
            CmpOp::Ne => (false, Fused::FloatNe),
        };
        if swap {
            self.ucomisd(lb, la);
        } else {
            self.ucomisd(la, lb);
        }
        if self.fusable(i) {
            self.release_regs(i);
            self.fused = Some(fused);
            return;
        }
        let d = self.def_gpr(i);
        match fused {
            Fused::Cc(cc) => self.set_bool(cc, d),
            Fused::FloatEq => {
                self.setcc(Cc::E, d);
                asm!(self ; setnp r11b ; and Rb(d), r11b ; movzx Rd(d), Rb(d));
            }
            Fused::FloatNe => {
                self.setcc(Cc::Ne, d);
                asm!(self ; setp r11b ; or Rb(d), r11b ; movzx Rd(d), Rb(d));
            }
        }
        self.end_def(i, d);
    }

    // -- casts -------------------------------------------------------------

    pub fn cast(&mut self, i: usize, from: ScalarTy, to: ScalarTy) {
        use ScalarTy::*;
        let la = self.arg(i, 0);
        match (from, to) {
            (F64, Int(IntTy::U64 | IntTy::Usize)) => {
                self.call_helper(i, t::mt_f64_to_u64 as *const () as usize, Kind::Int)
            }
            (F64, Int(t)) => self.cast_f64_to_int(i, la, t),
            (F64, Char) => self.cast_f64_to_int(i, la, IntTy::U32),
            (F64, Bool) => {
                // `f as u8 != 0`  <=>  f >= 1.0 (NaN: false)
                let one = self.fconst(1.0f64.to_bits());
                let xa = self.xmm_in(la, XTMP);
                asm!(self ; ucomisd Rx(xa), QWORD [=>one]);
                let d = self.def_gpr(i);
                self.set_bool(Cc::Ae, d);
                self.end_def(i, d);
            }
            (Int(t), F64) if !t.signed() && t.bits() == 64 => {
                // u64 -> f64, rounding to nearest
                let d = self.def_xmm(i);
                self.mov_to_gpr(RAX, la);
                let big = self.a.new_dynamic_label();
                let done = self.a.new_dynamic_label();
                asm!(self
                    ; test rax, rax
                    ; js =>big
                    ; cvtsi2sd Rx(d), rax
                    ; jmp =>done
                    ; =>big
                    ; mov r11, rax
                    ; shr r11, 1
                    ; and eax, 1
                    ; or r11, rax
                    ; cvtsi2sd Rx(d), r11
                    ; addsd Rx(d), Rx(d)
                    ; =>done
                );
                self.end_def(i, d);
            }
            (Int(_) | Bool | Char, F64) => {
                // canonical values: signed ones sign-extended, unsigned
                // ones below 2^32: a signed 64-bit conversion is exact
                // rounding of the value
                let d = self.def_xmm(i);
                let r = self.gpr_in(la, RAX);
                // break the dependency on d's old contents
                asm!(self ; xorps Rx(d), Rx(d) ; cvtsi2sd Rx(d), Rq(r));
                self.end_def(i, d);
            }
            (F64 | Ref, F64) => {
                let d = self.def_xmm(i);
                self.mov_to_xmm(d, la);
                self.end_def(i, d);
            }
            (_, Int(t)) => {
                let d = self.def_gpr(i);
                self.wrap_into(t, d, la);
                self.end_def(i, d);
            }
            (_, Bool | Char | Ref) => {
                let d = self.def_gpr(i);
                self.mov_to_gpr(d, la);
                match to {
                    Bool => asm!(self ; and Rd(d), 1),
                    Char => asm!(self ; mov Rd(d), Rd(d)),
                    _ => {}
                }
                self.end_def(i, d);
            }
        }
    }

    /// `f as t` for t of at most 32 bits, or i64/isize: saturating, NaN 0.
    fn cast_f64_to_int(&mut self, i: usize, la: Loc, t: IntTy) {
        let xa = self.xmm_in(la, XTMP);
        if t.bits() == 64 {
            // i64: cvttsd2si gives i64::MIN for NaN and out of range
            let d = self.def_gpr(i);
            let done = self.a.new_dynamic_label();
            let nan = self.a.new_dynamic_label();
            asm!(self
                ; cvttsd2si Rq(d), Rx(xa)
                ; cmp Rq(d), 1
                ; jno =>done
            );
            // d == i64::MIN: NaN (0), too large (MAX) or really <= MIN
            let zero = self.fconst(0);
            asm!(self
                ; ucomisd Rx(xa), QWORD [=>zero]
                ; jp =>nan
                ; jbe =>done
                ; mov Rq(d), QWORD i64::MAX
                ; jmp =>done
                ; =>nan
                ; xor Rd(d), Rd(d)
                ; =>done
            );
            self.end_def(i, d);
            return;
        }
        // Narrow: clamp into [lo, hi] (exact f64s), NaN to 0, truncate.
        let (lo, hi) = t.range();
        let lo_l = self.fconst((lo as f64).to_bits());
        let hi_l = self.fconst((hi as f64).to_bits());
        let d = self.def_gpr(i);
        let nan = self.a.new_dynamic_label();
        let done = self.a.new_dynamic_label();
        if xa != XTMP {
            asm!(self ; movaps Rx(XTMP), Rx(xa));
        }
        asm!(self
            ; ucomisd Rx(XTMP), Rx(XTMP)
            ; jp =>nan
            ; maxsd Rx(XTMP), QWORD [=>lo_l]
            ; minsd Rx(XTMP), QWORD [=>hi_l]
            ; cvttsd2si Rq(d), Rx(XTMP)
            ; jmp =>done
            ; =>nan
            ; xor Rd(d), Rd(d)
            ; =>done
        );
        self.end_def(i, d);
    }

    // -- memory ------------------------------------------------------------

    /// Store the low `ty.size()` bytes of `src` to `m`. Uses `rax` as
    /// scratch: the address must not use `rax`.
    pub fn emit_store(&mut self, ty: ScalarTy, m: Mem, src: Loc) {
        debug_assert!(!m.uses(RAX));
        let size = ty.size();
        match src {
            Loc::Xmm(x) if size == 8 => {
                self.store_f64(m, x);
                return;
            }
            Loc::Imm(v) => {
                if size < 8 || fits_i32(v) {
                    self.store_imm(size, m, v);
                } else {
                    self.mov_imm(RAX, v);
                    self.store64(m, RAX);
                }
                return;
            }
            _ => {}
        }
        let r = self.gpr_in(src, RAX);
        self.store_sized(size, m, r);
    }

    pub fn load(&mut self, i: usize, ty: ScalarTy) {
        let la = self.arg(i, 0);
        let base = self.gpr_in(la, R11);
        let d = self.def_kind(i, ty.kind());
        self.load_scalar(ty, d, Mem::base(base, 0));
        self.end_def(i, d);
    }

    pub fn store(&mut self, i: usize, ty: ScalarTy) {
        let la = self.arg(i, 0);
        let lv = self.arg(i, 1);
        let base = self.gpr_in(la, R11);
        self.emit_store(ty, Mem::base(base, 0), lv);
    }

    fn field_offset(&mut self, d: FieldId) -> Option<i32> {
        let Some(f) = self.tables.fields.get(d.index()) else {
            self.fail(format!("no field descr {d}"));
            return None;
        };
        match f.place {
            FieldPlace::Offset(o) if o <= i32::MAX as usize => Some(o as i32),
            FieldPlace::Offset(o) => {
                self.fail(format!("field offset {o} too large"));
                None
            }
            FieldPlace::Shim(_) => None,
        }
    }

    fn field_ty(&mut self, d: FieldId) -> Option<ScalarTy> {
        let ty = self.tables.fields.get(d.index()).and_then(|f| f.ty);
        if ty.is_none() {
            self.fail(format!("field descr {d} is not a scalar field"));
        }
        ty
    }

    pub fn get_field(&mut self, i: usize, fd: FieldId) {
        let Some(ty) = self.field_ty(fd) else { return };
        match self.field_offset(fd) {
            Some(off) => {
                let la = self.arg(i, 0);
                let base = self.gpr_in(la, R11);
                let d = self.def_kind(i, ty.kind());
                self.load_scalar(ty, d, Mem::base(base, off));
                self.end_def(i, d);
            }
            None if self.error.is_none() => {
                self.call_field_shim(i, fd);
                let d = self.def_kind(i, ty.kind());
                self.load_scalar(ty, d, Mem::base(RAX, 0));
                self.end_def(i, d);
            }
            None => {}
        }
    }

    pub fn set_field(&mut self, i: usize, fd: FieldId) {
        let Some(ty) = self.field_ty(fd) else { return };
        match self.field_offset(fd) {
            Some(off) => {
                let la = self.arg(i, 0);
                let lv = self.arg(i, 1);
                let base = self.gpr_in(la, R11);
                self.emit_store(ty, Mem::base(base, off), lv);
            }
            None if self.error.is_none() => {
                self.call_field_shim(i, fd);
                asm!(self ; mov r11, rax);
                let lv = self.arg(i, 1);
                self.emit_store(ty, Mem::base(R11, 0), lv);
            }
            None => {}
        }
    }

    pub fn field_addr(&mut self, i: usize, fd: FieldId) {
        match self.field_offset(fd) {
            Some(off) => {
                let la = self.arg(i, 0);
                let base = self.gpr_in(la, R11);
                let d = self.def_gpr(i);
                self.lea(d, Mem::base(base, off));
                self.end_def(i, d);
            }
            None if self.error.is_none() => {
                self.call_field_shim(i, fd);
                let d = self.def_gpr(i);
                self.mov_to_gpr(d, Loc::Gpr(RAX));
                self.end_def(i, d);
            }
            None => {}
        }
    }

    /// The address of the item that operation `i` accesses (arguments:
    /// the array data, the index), as a memory operand (`[base + index *
    /// size]` for sizes 1, 2, 4, 8; using `r11` and `rcx` as scratch).
    fn item_address(&mut self, i: usize, size: usize) -> Mem {
        let la = self.arg(i, 0);
        let lb = self.arg(i, 1);
        if let Loc::Imm(idx) = lb {
            let off = (idx as i64).wrapping_mul(size as i64);
            if fits_i32(off as u64) {
                let base = self.gpr_in(la, R11);
                return Mem::base(base, off as i32);
            }
            self.mov_to_gpr(R11, la);
            self.mov_imm(RCX, off as u64);
            return Mem::indexed(R11, RCX, 1, 0);
        }
        let ri = self.gpr_in(lb, RCX);
        let base = self.gpr_in(la, R11);
        // sizes 3, 5 or 9 times a scale (a 24-byte enum: 3 x 8) take one
        // `lea` (1 cycle) instead of an `imul` (3) before the address
        let lea_factor = [(3u8, 2u8), (5, 4), (9, 8)].into_iter().find_map(|(m, k)| {
            let scale = size / m as usize;
            (size % m as usize == 0 && matches!(scale, 1 | 2 | 4 | 8)).then_some((k, scale as u8))
        });
        match size {
            1 | 2 | 4 | 8 => Mem::indexed(base, ri, size as u8, 0),
            _ if lea_factor.is_some() => {
                let (k, scale) = lea_factor.expect("checked");
                self.lea(RCX, Mem::indexed(ri, ri, k, 0));
                Mem::indexed(base, RCX, scale, 0)
            }
            _ => {
                if size <= i32::MAX as usize {
                    asm!(self ; imul rcx, Rq(ri), size as i32);
                } else {
                    self.mov_imm(RCX, size as u64);
                    asm!(self ; imul rcx, Rq(ri));
                }
                Mem::indexed(base, RCX, 1, 0)
            }
        }
    }

    fn array(&mut self, d: ArrayId) -> Option<(usize, Option<ScalarTy>)> {
        match self.tables.arrays.get(d.index()) {
            Some(a) => Some((a.item_size, a.item)),
            None => {
                self.fail(format!("no array descr {d}"));
                None
            }
        }
    }

    /// The item size and scalar item type of array descr `d`, which
    /// operation `what` reads or writes.
    fn scalar_items(&mut self, d: ArrayId, what: &str) -> Option<(usize, ScalarTy)> {
        let (size, item) = self.array(d)?;
        if item.is_none() {
            self.fail(format!("{what} of non-scalar items (array descr {d})"));
        }
        Some((size, item?))
    }

    pub fn item_addr(&mut self, i: usize, ad: ArrayId) {
        let Some((size, _)) = self.array(ad) else {
            return;
        };
        let m = self.item_address(i, size);
        let d = self.def_gpr(i);
        self.lea(d, m);
        self.end_def(i, d);
    }

    pub fn get_item(&mut self, i: usize, ad: ArrayId) {
        let Some((size, ty)) = self.scalar_items(ad, "getitem") else {
            return;
        };
        let m = self.item_address(i, size);
        let d = self.def_kind(i, ty.kind());
        self.load_scalar(ty, d, m);
        self.end_def(i, d);
    }

    pub fn set_item(&mut self, i: usize, ad: ArrayId) {
        let Some((size, ty)) = self.scalar_items(ad, "setitem") else {
            return;
        };
        let lv = self.arg(i, 2);
        let m = self.item_address(i, size);
        self.emit_store(ty, m, lv);
    }

    pub fn call_result(&mut self, i: usize, n: u8, kind: Kind) {
        if n as usize >= crate::backend::frame::CALL_RESULTS {
            self.fail(format!(
                "call_result #{n}: the call-result buffer has {} words",
                crate::backend::frame::CALL_RESULTS
            ));
            return;
        }
        let m = Mem::fp(result_disp(n as usize));
        let d = self.def_kind(i, kind);
        match kind {
            Kind::Float => self.load_f64(d, m),
            _ => self.load64(d, m),
        }
        self.end_def(i, d);
    }
}
