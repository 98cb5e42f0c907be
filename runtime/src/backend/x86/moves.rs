//! Moves between locations, the parallel move (loop back edge, call
//! arguments), and the condition-code instructions.

use dynasmrt::{DynamicLabel, DynasmApi, DynasmLabelApi};

use super::enc::Mem;
use super::regs::{Loc, R11, RAX};
use super::{asm, fits_i32, Cc, Codegen};
use crate::backend::frame::slot_disp;

impl<'a> Codegen<'a> {
    /// `mov d, v` without touching the flags.
    pub fn mov_imm(&mut self, d: u8, v: u64) {
        if v <= u32::MAX as u64 {
            asm!(self ; mov Rd(d), v as u32 as i32);
        } else if fits_i32(v) {
            asm!(self ; mov Rq(d), v as i32);
        } else {
            asm!(self ; mov Rq(d), QWORD v as i64);
        }
    }

    /// Copy 64 bits from `src` to `dst` (any combination; slot to slot
    /// and constants to memory go through `rax`).
    pub fn emit_move(&mut self, src: Loc, dst: Loc) {
        if src == dst {
            return;
        }
        match (dst, src) {
            (Loc::Gpr(d), Loc::Gpr(s)) => asm!(self ; mov Rq(d), Rq(s)),
            (Loc::Gpr(d), Loc::Xmm(s)) => asm!(self ; movq Rq(d), Rx(s)),
            (Loc::Gpr(d), Loc::Slot(s)) => self.load64(d, Mem::fp(slot_disp(s))),
            (Loc::Gpr(d), Loc::Imm(v)) => self.mov_imm(d, v),
            (Loc::Xmm(d), Loc::Xmm(s)) => asm!(self ; movaps Rx(d), Rx(s)),
            (Loc::Xmm(d), Loc::Gpr(s)) => asm!(self ; movq Rx(d), Rq(s)),
            (Loc::Xmm(d), Loc::Slot(s)) => self.load_f64(d, Mem::fp(slot_disp(s))),
            (Loc::Xmm(d), Loc::Imm(v)) => {
                if v == 0 {
                    asm!(self ; xorps Rx(d), Rx(d));
                } else {
                    let l = self.fconst(v);
                    asm!(self ; movsd Rx(d), QWORD [=>l]);
                }
            }
            (Loc::Slot(d), _) => self.store_loc(Mem::fp(slot_disp(d)), src),
            (Loc::Imm(_), _) => unreachable!("move into a constant"),
        }
    }

    /// Store the 64 bits of `src` to `m` (a slot or a wide constant goes
    /// through `rax`).
    pub fn store_loc(&mut self, m: Mem, src: Loc) {
        match src {
            Loc::Gpr(s) => self.store64(m, s),
            Loc::Xmm(s) => self.store_f64(m, s),
            Loc::Slot(s) => {
                self.load64(RAX, Mem::fp(slot_disp(s)));
                self.store64(m, RAX);
            }
            Loc::Imm(v) if fits_i32(v) => self.store_imm(8, m, v),
            Loc::Imm(v) => {
                self.mov_imm(RAX, v);
                self.store64(m, RAX);
            }
        }
    }

    /// Perform all `(src, dst)` moves as if simultaneously. Destinations
    /// must be distinct; cycles are broken through `r11` (slot-to-slot
    /// moves use `rax`).
    pub fn parallel_move(&mut self, moves: &[(Loc, Loc)]) {
        let mut pending: Vec<(Loc, Loc)> = moves.iter().copied().filter(|(s, d)| s != d).collect();
        while !pending.is_empty() {
            let ready = pending
                .iter()
                .position(|&(_, d)| !pending.iter().any(|&(s, _)| s == d));
            match ready {
                Some(k) => {
                    let (s, d) = pending.remove(k);
                    self.emit_move(s, d);
                }
                None => {
                    // Every destination is still to be read: a cycle. Save
                    // the first destination's value in r11 and read it
                    // from there.
                    let d = pending[0].1;
                    debug_assert!(d != Loc::Gpr(R11) && d != Loc::Gpr(RAX));
                    self.emit_move(d, Loc::Gpr(R11));
                    for m in pending.iter_mut() {
                        if m.0 == d {
                            m.0 = Loc::Gpr(R11);
                        }
                    }
                }
            }
        }
    }

    /// Load any location into GPR `d` (floats by their bits).
    pub fn mov_to_gpr(&mut self, d: u8, src: Loc) {
        self.emit_move(src, Loc::Gpr(d));
    }

    pub fn mov_to_xmm(&mut self, d: u8, src: Loc) {
        self.emit_move(src, Loc::Xmm(d));
    }

    /// The GPR holding `l`, loading it into `scratch` when it is not in one.
    pub fn gpr_in(&mut self, l: Loc, scratch: u8) -> u8 {
        match l {
            Loc::Gpr(r) => r,
            _ => {
                self.mov_to_gpr(scratch, l);
                scratch
            }
        }
    }

    pub fn xmm_in(&mut self, l: Loc, scratch: u8) -> u8 {
        match l {
            Loc::Xmm(r) => r,
            _ => {
                self.mov_to_xmm(scratch, l);
                scratch
            }
        }
    }

    pub fn jcc(&mut self, cc: Cc, l: DynamicLabel) {
        match cc {
            Cc::O => asm!(self ; jo =>l),
            Cc::No => asm!(self ; jno =>l),
            Cc::B => asm!(self ; jb =>l),
            Cc::Ae => asm!(self ; jae =>l),
            Cc::E => asm!(self ; je =>l),
            Cc::Ne => asm!(self ; jne =>l),
            Cc::Be => asm!(self ; jbe =>l),
            Cc::A => asm!(self ; ja =>l),
            Cc::S => asm!(self ; js =>l),
            Cc::Ns => asm!(self ; jns =>l),
            Cc::P => asm!(self ; jp =>l),
            Cc::Np => asm!(self ; jnp =>l),
            Cc::L => asm!(self ; jl =>l),
            Cc::Ge => asm!(self ; jge =>l),
            Cc::Le => asm!(self ; jle =>l),
            Cc::G => asm!(self ; jg =>l),
        }
    }

    /// `setcc` into the low byte of `d` (upper bits unchanged).
    pub fn setcc(&mut self, cc: Cc, d: u8) {
        match cc {
            Cc::O => asm!(self ; seto Rb(d)),
            Cc::No => asm!(self ; setno Rb(d)),
            Cc::B => asm!(self ; setb Rb(d)),
            Cc::Ae => asm!(self ; setae Rb(d)),
            Cc::E => asm!(self ; sete Rb(d)),
            Cc::Ne => asm!(self ; setne Rb(d)),
            Cc::Be => asm!(self ; setbe Rb(d)),
            Cc::A => asm!(self ; seta Rb(d)),
            Cc::S => asm!(self ; sets Rb(d)),
            Cc::Ns => asm!(self ; setns Rb(d)),
            Cc::P => asm!(self ; setp Rb(d)),
            Cc::Np => asm!(self ; setnp Rb(d)),
            Cc::L => asm!(self ; setl Rb(d)),
            Cc::Ge => asm!(self ; setge Rb(d)),
            Cc::Le => asm!(self ; setle Rb(d)),
            Cc::G => asm!(self ; setg Rb(d)),
        }
    }

    /// `d = cc ? 1 : 0` (64-bit), flags from the previous comparison.
    pub fn set_bool(&mut self, cc: Cc, d: u8) {
        self.setcc(cc, d);
        asm!(self ; movzx Rd(d), Rb(d));
    }
}
