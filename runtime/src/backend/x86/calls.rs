//! Calls out of compiled code (System V): trampolines for shims, residual
//! and pure calls, float helpers.
//!
//! Before a call, every value that lives past it in a caller-saved register
//! (`rsi rdi r8 r9 r10`, all xmm) is stored to its spill slot (once: the
//! slot stays valid, values being SSA), and reloaded after the call. The
//! arguments are placed by a parallel move into `rdi rsi rdx rcx r8 r9`.
//! The stack is 16-byte aligned in compiled code at all times (the
//! prologue makes it so), so calls need no adjustment. Trampolines that
//! may panic return a flag in `rdx`; a set flag sends the code to the
//! trace's panic exit.
//!
//! Residual and pure calls pass their (exploded) arguments in the frame's
//! I/O area and get their results in the frame's call-result buffer, which
//! `CallResult(n)` reads.

use dynasmrt::{DynasmApi, DynasmLabelApi};

use super::enc::Mem;
use super::regs::{is_caller_saved_gpr, Loc, ARG_REGS, RAX, XMM_ALLOCATABLE};
use super::{asm, Codegen};
use crate::backend::frame::{io_disp, result_disp, CALL_RESULTS, MAX_IO};
use crate::backend::layout;
use crate::backend::trampolines as t;
use crate::jitcode::{ArrayId, CallId, FieldId, JitCodeId, Kind};
use crate::trace::Opcode;

/// An argument of a call.
#[derive(Clone, Copy, Debug)]
pub enum CallArg {
    /// A value (or constant).
    Val(Loc),
    /// The address `r15 + disp` (in the frame).
    Frame(i32),
}

impl<'a> Codegen<'a> {
    /// Values that live past operation `i` in caller-saved registers.
    fn clobbered_live(&self, i: usize) -> Vec<(u32, Loc)> {
        let mut out = Vec::new();
        for r in 0..16u8 {
            if let Some(v) = self.ra.gpr_owner[r as usize] {
                if is_caller_saved_gpr(r) && self.live.last_use[v as usize] > i as u32 {
                    out.push((v, Loc::Gpr(r)));
                }
            }
        }
        for &x in XMM_ALLOCATABLE.iter() {
            if let Some(v) = self.ra.xmm_owner[x as usize] {
                if self.live.last_use[v as usize] > i as u32 {
                    out.push((v, Loc::Xmm(x)));
                }
            }
        }
        out
    }

    /// Call `func` (an `extern "C"` function) with `args`, keeping live
    /// values. The return value is in `rax` afterwards.
    pub fn emit_call(&mut self, i: usize, func: usize, args: &[CallArg], may_panic: bool) {
        let saved = self.save_clobbered(i);
        self.call_only(func, args, may_panic);
        self.restore_clobbered(saved);
    }

    /// Store every value that lives past operation `i` in a caller-saved
    /// register to its slot (which stays valid): the first part of a call.
    fn save_clobbered(&mut self, i: usize) -> Vec<(u32, Loc)> {
        let saved = self.clobbered_live(i);
        for &(v, _) in &saved {
            self.spill_store(v);
        }
        saved
    }

    /// Reload what [`Self::save_clobbered`] stored: the last part of a call.
    fn restore_clobbered(&mut self, saved: Vec<(u32, Loc)>) {
        for (v, loc) in saved {
            let s = self.ra.slot[v as usize].expect("saved to its slot");
            self.emit_move(Loc::Slot(s), loc);
        }
    }

    /// The call itself: arguments into their registers, `call`, the panic
    /// check.
    fn call_only(&mut self, func: usize, args: &[CallArg], may_panic: bool) {
        assert!(args.len() <= ARG_REGS.len());
        let moves: Vec<(Loc, Loc)> = args
            .iter()
            .enumerate()
            .filter_map(|(k, a)| match a {
                CallArg::Val(l) => Some((*l, Loc::Gpr(ARG_REGS[k]))),
                CallArg::Frame(_) => None,
            })
            .collect();
        self.parallel_move(&moves);
        for (k, a) in args.iter().enumerate() {
            if let CallArg::Frame(disp) = a {
                let r = ARG_REGS[k];
                self.lea(r, Mem::fp(*disp));
            }
        }
        asm!(self
            ; mov rax, QWORD func as i64
            ; call rax
        );
        if may_panic {
            let pe = self.panic_exit;
            asm!(self
                ; test rdx, rdx
                ; jnz =>pe
            );
        }
    }

    /// `new` of a GC type whose objects compiled code may allocate inline
    /// (`gc::inline`): the bump-pointer fast path in line, the runtime
    /// call when the buffer is full. Live caller-saved values are saved
    /// before the branch and reloaded after it on both paths (the fast path
    /// touches only the scratch registers rax, rcx, rdx and r11), so the
    /// register state after it is the same either way.
    fn gc_new_inline(&mut self, i: usize, descr: u64, fast: crate::gc::inline::InlineAlloc) {
        let saved = self.save_clobbered(i);
        let slow = self.a.new_dynamic_label();
        let done = self.a.new_dynamic_label();
        let bytes = fast.bytes as i32;
        asm!(self
            ; mov r11, QWORD fast.cursor as i64
            ; mov rax, QWORD [r11]
            ; lea rdx, [rax + bytes]
            ; mov rcx, QWORD fast.limit as i64
            ; cmp rdx, QWORD [rcx]
            ; ja =>slow
            ; mov QWORD [r11], rdx
            ; mov ecx, fast.type_id as i32
            ; mov QWORD [rax], rcx
            ; xor ecx, ecx
        );
        for word in 1..fast.bytes / 8 {
            let disp = (word * 8) as i32;
            asm!(self ; mov QWORD [rax + disp], rcx);
        }
        // The valid-object bit of the value's address (rax + 8).
        asm!(self
            ; lea rdx, [rax + 8]
            ; mov rcx, rdx
            ; shr rcx, 3
            ; and ecx, 7
            ; shr rdx, 6
            ; mov r11, QWORD fast.vo_base as i64
            ; add rdx, r11
            ; mov r11d, 1
            ; shl r11d, cl
            ; or BYTE [rdx], r11b
            ; lea rax, [rax + 8]
            ; jmp =>done
            ; =>slow
        );
        self.call_only(
            t::mt_new as *const () as usize,
            &[CallArg::Val(Loc::Imm(descr))],
            true,
        );
        asm!(self ; =>done);
        self.restore_clobbered(saved);
        self.def_from_rax(i, Kind::Ref);
    }

    /// Move the call's return value (`rax`) into the result of `i`.
    fn def_from_rax(&mut self, i: usize, kind: Kind) {
        let d = self.def_kind(i, kind);
        match kind {
            Kind::Float => self.emit_move(Loc::Gpr(RAX), Loc::Xmm(d)),
            _ => self.emit_move(Loc::Gpr(RAX), Loc::Gpr(d)),
        }
        self.end_def(i, d);
    }

    pub fn call_field_shim(&mut self, i: usize, fd: FieldId) {
        let d = &self.tables.fields[fd] as *const _ as u64;
        let base = self.arg(i, 0);
        self.emit_call(
            i,
            t::mt_field_addr as *const () as usize,
            &[CallArg::Val(Loc::Imm(d)), CallArg::Val(base)],
            true,
        );
    }

    /// Call `func` on `args` and then the arguments of operation `i`.
    fn call_on_args(&mut self, i: usize, func: usize, mut args: Vec<CallArg>, may_panic: bool) {
        for n in 0..self.trace.ops[i].args.len() {
            args.push(CallArg::Val(self.arg(i, n)));
        }
        self.emit_call(i, func, &args, may_panic);
    }

    /// Operation `i` as a call of `func`, which cannot panic, on its
    /// arguments: `f64 % f64`, `f64 as u64`.
    pub fn call_helper(&mut self, i: usize, func: usize, result: Kind) {
        self.call_on_args(i, func, Vec::new(), false);
        self.def_from_rax(i, result);
    }

    /// EnumTag, Vec and String operations: inline when the header layout
    /// is known (`layout`), else through the shims' trampolines.
    pub fn runtime_op(&mut self, i: usize) {
        let opcode = self.trace.ops[i].opcode.clone();
        if let Some(l) = layout::op_layout(self.tables, &opcode) {
            let la = self.arg(i, 0);
            let base = self.gpr_in(la, super::regs::R11);
            if let Opcode::VecSetLen(_) = opcode {
                let lv = self.arg(i, 1);
                let usize_t = crate::jitcode::ScalarTy::Int(crate::jitcode::IntTy::Usize);
                self.emit_store(usize_t, Mem::base(base, l.len), lv);
                return;
            }
            let disp = match opcode {
                Opcode::VecLen(_) | Opcode::StringLen => l.len,
                Opcode::VecCap(_) => l.cap.expect("op_layout: a known capacity"),
                _ => l.ptr,
            };
            let d = self.def_gpr(i);
            self.load64(d, Mem::base(base, disp));
            self.end_def(i, d);
            return;
        }
        let tables = self.tables;
        if let Some(words) = layout::vec_init_header(tables, &self.trace.ops[i]) {
            let la = self.arg(i, 0);
            let base = self.gpr_in(la, super::regs::R11);
            let usize_t = crate::jitcode::ScalarTy::Int(crate::jitcode::IntTy::Usize);
            for (k, w) in words.into_iter().enumerate() {
                self.emit_store(usize_t, Mem::base(base, 8 * k as i32), Loc::Imm(w));
            }
            return;
        }
        if let Opcode::EnumTag(d) = opcode {
            if tables.enums.get(d.index()).is_some_and(|e| e.null_pointer) {
                let la = self.arg(i, 0);
                let base = self.gpr_in(la, super::regs::R11);
                let d = self.def_gpr(i);
                self.load64(d, Mem::base(base, 0));
                asm!(self ; test Rq(d), Rq(d));
                self.set_bool(super::Cc::Ne, d);
                self.end_def(i, d);
                return;
            }
        }
        if let Opcode::New(d) = opcode {
            if let Some(a) = tables.allocs.get(d.index()) {
                if let Some(fast) =
                    a.gc.and_then(|gc_type| crate::gc::inline::inline_alloc(gc_type()))
                {
                    self.gc_new_inline(i, a as *const _ as u64, fast);
                    return;
                }
            }
        }
        let array = |d: ArrayId| -> Option<u64> {
            tables.arrays.get(d.index()).map(|a| a as *const _ as u64)
        };
        let (func, descr, result): (usize, Option<u64>, Option<Kind>) = match opcode {
            Opcode::EnumTag(d) => (
                t::mt_enum_tag as *const () as usize,
                tables.enums.get(d.index()).map(|e| e as *const _ as u64),
                Some(Kind::Int),
            ),
            Opcode::VecLen(d) => (
                t::mt_vec_len as *const () as usize,
                array(d),
                Some(Kind::Int),
            ),
            Opcode::VecPtr(d) => (
                t::mt_vec_ptr as *const () as usize,
                array(d),
                Some(Kind::Ref),
            ),
            Opcode::New(d) => (
                t::mt_new as *const () as usize,
                tables.allocs.get(d.index()).map(|a| a as *const _ as u64),
                Some(Kind::Ref),
            ),
            Opcode::Free(d) => (
                t::mt_free as *const () as usize,
                tables.allocs.get(d.index()).map(|a| a as *const _ as u64),
                None,
            ),
            Opcode::VecPush(d) => (t::mt_vec_push as *const () as usize, array(d), None),
            Opcode::VecCap(d) => (
                t::mt_vec_cap as *const () as usize,
                array(d),
                Some(Kind::Int),
            ),
            Opcode::VecSetLen(d) => (t::mt_vec_set_len as *const () as usize, array(d), None),
            Opcode::VecReserve(d) => (t::mt_vec_reserve as *const () as usize, array(d), None),
            Opcode::VecInit(d) => (t::mt_vec_init as *const () as usize, array(d), None),
            Opcode::VecDrop(d) => (t::mt_vec_drop as *const () as usize, array(d), None),
            Opcode::VecTake(d) => (t::mt_vec_take as *const () as usize, array(d), None),
            Opcode::VecPopNonEmpty(d) => (
                t::mt_vec_pop as *const () as usize,
                array(d),
                Some(self.trace.ops[i].result.unwrap_or(Kind::Int)),
            ),
            Opcode::StringPtr => (
                t::mt_string_ptr as *const () as usize,
                Some(0),
                Some(Kind::Ref),
            ),
            Opcode::StringLen => (
                t::mt_string_len as *const () as usize,
                Some(0),
                Some(Kind::Int),
            ),
            _ => unreachable!(),
        };
        let Some(descr) = descr else {
            self.fail("descr index out of range".into());
            return;
        };
        let mut lead = Vec::new();
        if !matches!(opcode, Opcode::StringPtr | Opcode::StringLen) {
            lead.push(CallArg::Val(Loc::Imm(descr)));
        }
        self.call_on_args(i, func, lead, true);
        if let Some(k) = result {
            if self.trace.ops[i].result.is_some() {
                self.def_from_rax(i, k);
            }
        }
    }

    /// Store the operation's arguments into the I/O area.
    fn stage_args(&mut self, i: usize) -> Option<usize> {
        let n = self.trace.ops[i].args.len();
        if n > MAX_IO {
            self.fail(format!(
                "{n} call arguments: more than the frame's I/O area"
            ));
            return None;
        }
        self.io_words = self.io_words.max(n);
        for k in 0..n {
            let l = self.arg(i, k);
            self.store_io(k, l);
        }
        Some(n)
    }

    /// Call trampoline `target` on `lead`, then the staged arguments (the
    /// I/O area and their count) and the call-result buffer, for a callee
    /// with `results` results.
    fn call_staged(&mut self, i: usize, results: usize, target: usize, lead: &[CallArg]) {
        if results > CALL_RESULTS {
            self.fail(format!(
                "{results} results: more than the call-result buffer ({CALL_RESULTS})"
            ));
            return;
        }
        let Some(n) = self.stage_args(i) else { return };
        let staged = [
            CallArg::Frame(io_disp(0)),
            CallArg::Val(Loc::Imm(n as u64)),
            CallArg::Frame(result_disp(0)),
        ];
        self.emit_call(i, target, &[lead, &staged].concat(), true);
    }

    pub fn call_residual(&mut self, i: usize, d: CallId) {
        let Some(desc) = self.tables.calls.get(d.index()) else {
            self.fail(format!("no call descr {d}"));
            return;
        };
        let lead = [CallArg::Val(Loc::Imm(desc as *const _ as u64))];
        let target = t::mt_call_residual as *const () as usize;
        self.call_staged(i, desc.result_kinds.len(), target, &lead);
    }

    pub fn call_assembler(&mut self, i: usize, driver: u32) {
        let Some(code) = self
            .tables
            .drivers
            .get(driver as usize)
            .and_then(|d| self.tables.jitcodes.get(d.jitcode as usize))
        else {
            self.fail(format!("no driver {driver}"));
            return;
        };
        let lead = [
            CallArg::Val(Loc::Imm(self.tables as *const _ as u64)),
            CallArg::Val(Loc::Imm(driver as u64)),
        ];
        let target = t::mt_call_assembler as *const () as usize;
        self.call_staged(i, code.results.len(), target, &lead);
    }

    pub fn call_pure(&mut self, i: usize, j: JitCodeId) {
        let Some(code) = self.tables.jitcodes.get(j.index()) else {
            self.fail(format!("no jitcode {j}"));
            return;
        };
        let lead = [
            CallArg::Val(Loc::Imm(self.tables as *const _ as u64)),
            CallArg::Val(Loc::Imm(j.0 as u64)),
        ];
        let target = t::mt_call_pure as *const () as usize;
        self.call_staged(i, code.results.len(), target, &lead);
    }
}
