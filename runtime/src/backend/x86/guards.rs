//! Guards and their exit stubs.
//!
//! A guard is a compare (or the flags of the comparison right before it)
//! and a conditional jump forward to the guard's stub. The stub, emitted
//! after the body, stores the fail arguments from wherever they are at the
//! guard (registers, spill slots, constants) into the frame's I/O area in
//! `GuardInfo::fail_args` order, then returns the guard's global id
//! through the trace's epilogue. The first `JUMP_LEN` bytes of a stub
//! (no-ops) are what `compile_bridge` overwrites with a jump to the
//! bridge, which starts with the fail arguments where the guard has them
//! (no store, no load).

use dynasmrt::{DynamicLabel, DynasmApi, DynasmLabelApi};

use super::regs::{Loc, R11, RAX};
use super::{asm, Cc, Codegen, Fused, Stub, JUMP_LEN};
use crate::trace::Opcode;

impl<'a> Codegen<'a> {
    pub fn guard(&mut self, i: usize) {
        let op = &self.trace.ops[i];
        let opcode = op.opcode.clone();
        let Some(g) = op.guard else {
            self.fail("guard without resume data".into());
            return;
        };
        let Some(info) = self.trace.guards.get(g as usize) else {
            self.fail(format!("guard #{g} does not exist"));
            return;
        };
        if self.stubs.iter().any(|s| s.guard == g) {
            self.fail(format!("guard #{g} is used by two operations"));
            return;
        }
        let fail_args = info.fail_args.clone();
        let args: Vec<Loc> = fail_args.iter().map(|a| self.loc_of(*a)).collect();
        if args.len() > crate::backend::frame::MAX_IO {
            self.fail(format!(
                "{} fail arguments: more than the frame's I/O area",
                args.len()
            ));
            return;
        }
        self.io_words = self.io_words.max(args.len());
        let label = self.a.new_dynamic_label();
        let gid = self.first_gid + g;
        let invert = self.tail_invertible(i);
        // the rel32 fields of the branches to the stub
        let mut sites = Vec::new();

        match opcode {
            Opcode::GuardTrue | Opcode::GuardFalse => {
                let want_true = opcode == Opcode::GuardTrue;
                if let Some(f) = self.fused.take() {
                    match (f, want_true) {
                        (Fused::Cc(cc), true) => {
                            sites.push(self.guard_jcc(cc.negate(), label, invert))
                        }
                        (Fused::Cc(cc), false) => sites.push(self.guard_jcc(cc, label, invert)),
                        // fails when NE || P
                        (Fused::FloatEq, true) | (Fused::FloatNe, false) => {
                            sites.push(self.branch_to_stub(Some(Cc::Ne), label));
                            sites.push(self.branch_to_stub(Some(Cc::P), label));
                        }
                        // fails when E && NP
                        (Fused::FloatEq, false) | (Fused::FloatNe, true) => {
                            let skip = self.a.new_dynamic_label();
                            asm!(self ; jp =>skip);
                            sites.push(self.branch_to_stub(Some(Cc::E), label));
                            asm!(self ; =>skip);
                        }
                    }
                } else {
                    let la = self.arg(i, 0);
                    match la {
                        Loc::Imm(c) => {
                            if (c != 0) != want_true {
                                sites.push(self.branch_to_stub(None, label));
                            }
                        }
                        _ => {
                            let r = self.gpr_in(la, RAX);
                            asm!(self ; test Rq(r), Rq(r));
                            let fails = if want_true { Cc::E } else { Cc::Ne };
                            sites.push(self.guard_jcc(fails, label, invert));
                        }
                    }
                }
            }
            Opcode::GuardValue => {
                let mut la = self.arg(i, 0);
                let mut lb = self.arg(i, 1);
                if let (Loc::Imm(a), Loc::Imm(b)) = (la, lb) {
                    if a != b {
                        sites.push(self.branch_to_stub(None, label));
                    }
                } else {
                    // compare the canonical bits (floats too)
                    if let Loc::Xmm(x) = la {
                        asm!(self ; movq rax, Rx(x));
                        la = Loc::Gpr(RAX);
                    }
                    if let Loc::Xmm(x) = lb {
                        asm!(self ; movq r11, Rx(x));
                        lb = Loc::Gpr(R11);
                    }
                    if let Loc::Imm(_) = la {
                        std::mem::swap(&mut la, &mut lb);
                    }
                    self.cmp_flags(la, lb);
                    sites.push(self.guard_jcc(Cc::Ne, label, invert));
                }
            }
            // A test of the trace's invalid flag (a byte, at the
            // constant address that is the operand).
            Opcode::GuardNotInvalidated => {
                let la = self.arg(i, 0);
                let r = self.gpr_in(la, RAX);
                asm!(self ; cmp BYTE [Rq(r)], 0);
                sites.push(self.guard_jcc(Cc::Ne, label, invert));
            }
            _ => unreachable!(),
        }
        self.stubs.push(Stub {
            label,
            guard: g,
            gid,
            args,
            sites,
        });
    }

    /// `jcc stub` (`jmp stub` without a condition); returns the offset of
    /// its rel32 field (which `compile_bridge` may point at the bridge).
    fn branch_to_stub(&mut self, cc: Option<Cc>, stub: DynamicLabel) -> usize {
        match cc {
            Some(cc) => self.jcc(cc, stub),
            None => asm!(self ; jmp =>stub),
        }
        self.a.offset().0 - 4
    }

    /// The guard's branch to its stub when `fails` holds; `invert` (see
    /// `tail_invertible`): branch back to the loop header when it does not
    /// instead, and jump to the stub otherwise (one taken branch per
    /// iteration instead of two).
    /// Returns the branch's rel32 offset (`branch_to_stub`).
    fn guard_jcc(&mut self, fails: Cc, stub: DynamicLabel, invert: bool) -> usize {
        if invert {
            let l = self.loop_label;
            self.jcc(fails.negate(), l);
            self.tail_done = true;
            self.branch_to_stub(None, stub)
        } else {
            self.branch_to_stub(Some(fails), stub)
        }
    }

    /// Emit a guard's exit stub; returns the offset of its patchable
    /// head: `JUMP_LEN` bytes of no-ops, which `compile_bridge` replaces
    /// with a jump to the bridge (entered with the fail arguments where
    /// they are, in `Stub::args`).
    pub fn emit_stub(&mut self, s: &Stub) -> usize {
        let l = s.label;
        asm!(self ; =>l);
        let head = self.a.offset().0;
        // nopl 0(rax,rax,1) (5 bytes); nopl 0(rax,rax,1) with disp32 (8 bytes)
        self.a.extend([0x0F, 0x1F, 0x44, 0x00, 0x00]);
        self.a
            .extend([0x0F, 0x1F, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00]);
        debug_assert_eq!(self.a.offset().0 - head, JUMP_LEN);
        for (k, loc) in s.args.iter().enumerate() {
            self.store_io(k, *loc);
        }
        let ep = self.epilogue;
        let gid = s.gid as i32;
        asm!(self
            ; mov eax, gid
            ; jmp =>ep
        );
        head
    }
}

/// The bytes of a jump from `at` to `target` in `JUMP_LEN` bytes: `jmp
/// rel32` (and an 8-byte no-op, never reached) when `target` is within
/// 2 GiB, else `mov r11, target; jmp r11`. What replaces a stub's head to
/// send it to a bridge, and what a `JumpTo` becomes once the trace's
/// address is known.
pub fn far_jump(at: usize, target: usize) -> [u8; JUMP_LEN] {
    let mut b = [0u8; JUMP_LEN];
    let rel = (target as i64).wrapping_sub(at as i64 + 5);
    if rel >= i32::MIN as i64 && rel <= i32::MAX as i64 {
        b[0] = 0xE9;
        b[1..5].copy_from_slice(&(rel as i32).to_le_bytes());
        b[5..].copy_from_slice(&[0x0F, 0x1F, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00]);
    } else {
        b[0] = 0x49;
        b[1] = 0xBB;
        b[2..10].copy_from_slice(&(target as u64).to_le_bytes());
        b[10] = 0x41;
        b[11] = 0xFF;
        b[12] = 0xE3;
    }
    b
}
