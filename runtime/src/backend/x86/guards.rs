//! Guards and their exit stubs.
//!
//! A guard is a compare (or the flags of the comparison right before it)
//! and a conditional jump forward to the guard's stub. The stub, emitted
//! after the body, stores the fail arguments from wherever they are at the
//! guard (registers, spill slots, constants) into the frame's I/O area in
//! `GuardInfo::fail_args` order, then returns the guard's global id
//! through the trace's epilogue. The last `STUB_TAIL` bytes of a stub are
//! what `compile_bridge` overwrites with a jump to the bridge.

use dynasmrt::{DynasmApi, DynasmLabelApi};

use super::{asm, Codegen, Fused, Loc, Stub, R11, RAX, STUB_TAIL};
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

        match opcode {
            Opcode::GuardTrue | Opcode::GuardFalse => {
                let want_true = opcode == Opcode::GuardTrue;
                if let Some(f) = self.fused.take() {
                    match (f, want_true) {
                        (Fused::Cc(cc), true) => self.jcc(cc.negate(), label),
                        (Fused::Cc(cc), false) => self.jcc(cc, label),
                        // fails when NE || P
                        (Fused::FloatEq, true) | (Fused::FloatNe, false) => {
                            asm!(self ; jne =>label ; jp =>label);
                        }
                        // fails when E && NP
                        (Fused::FloatEq, false) | (Fused::FloatNe, true) => {
                            let skip = self.a.new_dynamic_label();
                            asm!(self ; jp =>skip ; je =>label ; =>skip);
                        }
                    }
                } else {
                    let la = self.arg(i, 0);
                    match la {
                        Loc::Imm(c) => {
                            if (c != 0) != want_true {
                                asm!(self ; jmp =>label);
                            }
                        }
                        _ => {
                            let r = self.gpr_in(la, RAX);
                            asm!(self ; test Rq(r), Rq(r));
                            if want_true {
                                asm!(self ; jz =>label);
                            } else {
                                asm!(self ; jnz =>label);
                            }
                        }
                    }
                }
            }
            Opcode::GuardValue => {
                let mut la = self.arg(i, 0);
                let mut lb = self.arg(i, 1);
                if let (Loc::Imm(a), Loc::Imm(b)) = (la, lb) {
                    if a != b {
                        asm!(self ; jmp =>label);
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
                    asm!(self ; jne =>label);
                }
            }
            _ => unreachable!(),
        }
        self.stubs.push(Stub {
            label,
            guard: g,
            gid,
            args,
        });
    }

    /// Emit a guard's exit stub; returns the offset of its patchable tail.
    pub fn emit_stub(&mut self, s: &Stub) -> usize {
        let l = s.label;
        asm!(self ; =>l);
        for (k, loc) in s.args.iter().enumerate() {
            self.store_io(k, *loc);
        }
        let tail = self.a.offset().0;
        let ep = self.epilogue;
        let gid = s.gid as i32;
        asm!(self
            ; mov eax, gid
            ; jmp =>ep
        );
        let used = self.a.offset().0 - tail;
        assert!(used <= STUB_TAIL, "stub tail is {used} bytes");
        for _ in used..STUB_TAIL {
            asm!(self ; nop);
        }
        tail
    }
}

/// The bytes that replace a stub's tail to send it to `target`:
/// `mov r11, target; jmp r11`.
pub fn tail_jump(target: usize) -> [u8; STUB_TAIL] {
    let mut b = [0u8; STUB_TAIL];
    b[0] = 0x49;
    b[1] = 0xBB;
    b[2..10].copy_from_slice(&(target as u64).to_le_bytes());
    b[10] = 0x41;
    b[11] = 0xFF;
    b[12] = 0xE3;
    b
}
