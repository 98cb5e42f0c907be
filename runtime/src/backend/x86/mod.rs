//! x86-64 (System V) code generation with dynasm: one pass over the
//! trace, allocating registers (see [`regalloc`]) while emitting code.
//! Memory operands are encoded by hand in their shortest form (`enc`).
//!
//! Layout of the code of one trace (each trace has its own mapping):
//!
//! ```text
//! entry:      (loops only) push rbx rbp r12 r13 r14 r15; sub rsp, 8; mov r15, rdi
//! from_frame: (loops) load the inputs from the frame's I/O area into their
//!             locations (the `header`)
//!   or        (bridges) move the constant and duplicated fail arguments
//!             into registers: every other input already is where the
//!             guard had it
//! loop:       (loops only) the body; guards jump forward to their stubs
//!             jump: parallel move into the header's locations; jmp loop
//!             (or the guard right before it branches back itself)
//!             jump_to: parallel move into the target loop's header
//!             locations (registers, spill slots); jmp target.loop
//! stubs:      per guard: [patchable, 13 bytes of nops: a bridge's
//!             `jmp bridge`]; store fail args to the I/O area;
//!             mov eax, guard_id; jmp epilogue
//! panic_exit: mov rax, -1
//! epilogue:   add rsp, 8; pop r15 r14 r13 r12 rbp rbx; ret
//! pool:       float constants
//! ```
//!
//! Bridges have no entry of their own: they run inside the native frame
//! of the loop they were entered from (every trace has the same prologue,
//! and spill slots live in the frame buffer). A bridge is compiled with
//! its inputs in the registers and slots where its guard's fail
//! arguments are (`Output::guard_locs` of the parent), so the guard's
//! stub jumps straight into it, and it jumps straight into its target
//! loop's header with the values where that loop keeps its inputs
//! (`Output::header`): going from trace to trace stores and loads
//! nothing through the frame. Only `execute` enters a loop through the
//! frame (`from_frame`).

pub(crate) mod calls;
pub(crate) mod enc;
pub(crate) mod guards;
pub(crate) mod moves;
pub(crate) mod ops;
pub(crate) mod regalloc;
pub(crate) mod regs;

use std::collections::HashMap;

use dynasmrt::{x64::X64Relocation, DynamicLabel, DynasmApi, DynasmLabelApi, VecAssembler};

use super::disasm::Mark;
use super::frame::{io_disp, slot_disp};
use crate::jitcode::{Kind, Tables};
use crate::trace::{Opcode, Trace, Val};
use enc::Mem;
use regalloc::{vid, Choice, Class, Liveness, RegState, NEVER};
use regs::{Loc, GPR_CALLEE_SAVED, GPR_CALLER_SAVED, RAX, XMM_ALLOCATABLE, XTMP};

pub type Asm = VecAssembler<X64Relocation>;

pub fn fits_i32(v: u64) -> bool {
    (v as i64) >= i32::MIN as i64 && (v as i64) <= i32::MAX as i64
}

/// x86 condition codes (the low nibble of `jcc`/`setcc`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Cc {
    O = 0,
    No = 1,
    B = 2,
    Ae = 3,
    E = 4,
    Ne = 5,
    Be = 6,
    A = 7,
    S = 8,
    Ns = 9,
    P = 10,
    Np = 11,
    L = 12,
    Ge = 13,
    Le = 14,
    G = 15,
}

impl Cc {
    /// The condition on swapped operands: `a cc b` iff `b cc.mirror() a`.
    pub fn mirror(self) -> Cc {
        use Cc::*;
        match self {
            B => A,
            A => B,
            Ae => Be,
            Be => Ae,
            L => G,
            G => L,
            Le => Ge,
            Ge => Le,
            // symmetric (E, NE), or not a comparison of two operands
            c => c,
        }
    }

    pub fn negate(self) -> Cc {
        use Cc::*;
        match self {
            O => No,
            No => O,
            B => Ae,
            Ae => B,
            E => Ne,
            Ne => E,
            Be => A,
            A => Be,
            S => Ns,
            Ns => S,
            P => Np,
            Np => P,
            L => Ge,
            Ge => L,
            Le => G,
            G => Le,
        }
    }
}

/// A comparison whose flags are still live, for the guard right after it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Fused {
    /// True when `cc` holds.
    Cc(Cc),
    /// Float `==`: `E && NP`.
    FloatEq,
    /// Float `!=`: `NE || P`.
    FloatNe,
}

/// A guard's exit stub, emitted after the body.
pub struct Stub {
    pub label: DynamicLabel,
    pub guard: u32,
    pub gid: u32,
    pub args: Vec<Loc>,
    /// Offsets of the rel32 fields of the branches to the stub.
    pub sites: Vec<usize>,
}

/// What the code generator produced for one trace.
pub struct Output {
    pub code: Vec<u8>,
    /// Offset of the function entry (loops only).
    pub entry: Option<usize>,
    /// Loops: offset where the inputs are loaded from the frame.
    pub from_frame: usize,
    /// Bridges: offset where the inputs are in `entry_locs` (the guard's
    /// fail arguments where the parent trace has them).
    pub regs_entry: usize,
    /// Offset of the loop header (loops only): the inputs are in `header`.
    pub loop_entry: Option<usize>,
    /// Where each input is at the loop header / after the entry (`None`:
    /// never used).
    pub header: Vec<Option<Loc>>,
    /// Per guard (by index in `Trace::guards`): offset of its stub's
    /// patchable head (`usize::MAX` for guards no operation uses).
    pub stub_patch: Vec<usize>,
    /// Per guard: where its fail arguments are when it fails (empty for
    /// guards no operation uses).
    pub guard_locs: Vec<Vec<Loc>>,
    /// Per guard: offsets of the rel32 fields of its branches to its stub
    /// (a bridge can take them over, the stub's head still jumping to it).
    pub guard_sites: Vec<Vec<usize>>,
    pub n_slots: u32,
    /// Words of the I/O area the trace uses.
    pub io_words: usize,
    /// Offsets of interesting points, for the disassembly.
    pub marks: Vec<(usize, Mark)>,
    /// Jumps out of the trace (`JumpTo`): the offset of a `JUMP_LEN`-byte
    /// `mov r11, target; jmp r11` and its target, for `guards::far_jump`
    /// once the code's address is known.
    pub far_jumps: Vec<(usize, usize)>,
}

/// Size of a jump anywhere (`mov r11, imm64; jmp r11`, or `jmp rel32` and
/// an 8-byte no-op): a stub's patchable head, a `JumpTo`.
pub const JUMP_LEN: usize = 13;

/// What a `JumpTo` needs to know of its target loop.
pub struct Target {
    /// Address of the target's `from_frame` (inputs in the I/O area).
    pub from_frame: usize,
    /// The kinds of its inputs.
    pub kinds: Vec<Kind>,
    /// Address of its loop header, and where it wants each input there.
    pub header: Option<(usize, Vec<Option<Loc>>)>,
}

/// How a `JumpTo` finds its target.
pub type TargetLookup<'a> = &'a dyn Fn(u32) -> Option<Target>;

pub struct Codegen<'a> {
    pub a: Asm,
    pub trace: &'a Trace,
    pub tables: &'static Tables,
    pub live: Liveness,
    pub ra: RegState,
    pub n_inputs: usize,
    pub first_gid: u32,
    pub stubs: Vec<Stub>,
    pub fconsts: HashMap<u64, DynamicLabel>,
    pub panic_exit: DynamicLabel,
    pub epilogue: DynamicLabel,
    pub loop_label: DynamicLabel,
    /// Locations of the inputs at the loop header.
    pub header: Vec<Option<Loc>>,
    pub fused: Option<Fused>,
    pub marks: Vec<(usize, Mark)>,
    pub io_words: usize,
    pub targets: TargetLookup<'a>,
    pub error: Option<String>,
    /// Register hints: a value passed to `Jump` prefers the register its
    /// input has at the loop header (no move at the back edge), one
    /// passed to `JumpTo` the register the target wants it in.
    pub hints: Vec<Option<Loc>>,
    /// The guard right before the `Jump` branched back to the loop
    /// header itself (`jcc loop; jmp stub`): the jump emits nothing.
    pub tail_done: bool,
    pub far_jumps: Vec<(usize, usize)>,
}

macro_rules! asm {
    ($cg:expr; $($t:tt)*) => {
        ::dynasmrt::dynasm!($cg.a ; .arch x64 ; $($t)*)
    };
}
pub(crate) use asm;

impl<'a> Codegen<'a> {
    /// The current location of an operand.
    pub fn loc_of(&self, v: Val) -> Loc {
        let v = self.live.resolve(v);
        match v.const_bits() {
            Some(b) => Loc::Imm(b),
            None => {
                let id = vid(self.n_inputs, v).expect("a value");
                self.ra.loc[id]
                    .unwrap_or_else(|| panic!("backend: {v:?} has no location (dead or undefined)"))
            }
        }
    }

    pub fn arg(&self, i: usize, n: usize) -> Loc {
        self.loc_of(self.trace.ops[i].args[n])
    }

    pub fn result_id(&self, i: usize) -> u32 {
        (self.n_inputs + i) as u32
    }

    /// Free the registers of the values that die at operation `i` (their
    /// contents stay physically there until overwritten; locations
    /// captured before remain readable by the operation's code). Slots are
    /// released only at the end of the operation (`kill_dying`).
    pub fn release_regs(&mut self, i: usize) {
        for k in 0..self.live.dies_at[i].len() {
            self.ra.release_reg(self.live.dies_at[i][k]);
        }
    }

    pub fn kill_dying(&mut self, i: usize) {
        for k in 0..self.live.dies_at[i].len() {
            let v = self.live.dies_at[i][k];
            self.ra.kill(v);
        }
    }

    fn spill_store(&mut self, v: u32) {
        let s = self.ra.slot_of(v);
        if !self.ra.slot_valid[v as usize] {
            let src = self.ra.loc[v as usize].expect("live");
            self.emit_move(src, Loc::Slot(s));
            self.ra.slot_valid[v as usize] = true;
        }
    }

    /// A register for value `v` of `class`, the result of operation `i`:
    /// free, or by evicting the value read again furthest away (stored to
    /// its slot; never one of `i`'s operands). `None`: `v` itself goes to
    /// a slot.
    pub fn alloc_reg(&mut self, i: usize, v: u32, class: Class) -> Option<u8> {
        let live = &self.live;
        let next_use = |x: u32| live.next_use(x, i as u32);
        let across = live.crosses_call[v as usize];
        // (the operands matter only when a register has to be given up)
        let choice = match self.ra.choose(class, &next_use, &[], v, across) {
            Choice::Free(r) => Choice::Free(r),
            _ => {
                let keep = self.operand_ids(i);
                self.ra.choose(class, &next_use, &keep, v, across)
            }
        };
        self.take_choice(choice)
    }

    /// The register of `choice`, once its value (if it evicts one) is in
    /// its slot; `None` for `Choice::Spill`.
    fn take_choice(&mut self, choice: Choice) -> Option<u8> {
        match choice {
            Choice::Free(r) => Some(r),
            Choice::Evict(r, victim) => {
                self.spill_store(victim);
                self.ra.move_to_slot(victim);
                Some(r)
            }
            Choice::Spill => None,
        }
    }

    /// The values operation `i` reads (resolved through copies).
    fn operand_ids(&self, i: usize) -> Vec<u32> {
        self.trace.ops[i]
            .args
            .iter()
            .filter_map(|a| vid(self.n_inputs, self.live.resolve(*a)))
            .map(|id| id as u32)
            .collect()
    }

    fn def(&mut self, i: usize, class: Class) -> u8 {
        self.release_regs(i);
        let v = self.result_id(i);
        let scratch = match class {
            Class::Gpr => RAX,
            Class::Xmm => XTMP,
        };
        if self.live.last_use[v as usize] == NEVER {
            // Nobody reads it: compute into scratch.
            return scratch;
        }
        if let Some(h) = self.hints[v as usize] {
            if let Some(r) = self.ra.free_reg(h, class) {
                self.ra.assign(v, h);
                return r;
            }
        }
        if let Some(r) = self.dying_operand_reg(i, class) {
            self.ra.assign(v, class.loc(r));
            return r;
        }
        match self.alloc_reg(i, v, class) {
            Some(r) => {
                self.ra.assign(v, class.loc(r));
                r
            }
            None => {
                let s = self.ra.slot_of(v);
                self.ra.assign(v, Loc::Slot(s));
                scratch
            }
        }
    }

    /// The register of the first operand of operation `i` that dies there
    /// (released by `release_regs`), if it suits the result: two-address
    /// operations then compute in place, without a copy. Not a
    /// caller-saved register for a result that lives across a call.
    fn dying_operand_reg(&self, i: usize, class: Class) -> Option<u8> {
        let v = self.result_id(i) as usize;
        let across_call = self.live.crosses_call[v];
        for a in &self.trace.ops[i].args {
            let Some(id) = vid(self.n_inputs, self.live.resolve(*a)) else {
                continue;
            };
            if self.live.last_use[id] != i as u32 {
                continue;
            }
            let Some(r) = self.ra.loc[id].and_then(|l| self.ra.free_reg(l, class)) else {
                continue;
            };
            if !across_call || (class == Class::Gpr && GPR_CALLEE_SAVED.contains(&r)) {
                return Some(r);
            }
        }
        None
    }

    /// Allocate the result of operation `i` (an int or ref): the register
    /// to compute it into (`rax` when the result lives in a slot: call
    /// `end_def` after computing it).
    pub fn def_gpr(&mut self, i: usize) -> u8 {
        self.def(i, Class::Gpr)
    }

    /// Same for a float result (`xmm15` when it lives in a slot).
    pub fn def_xmm(&mut self, i: usize) -> u8 {
        self.def(i, Class::Xmm)
    }

    /// Allocate by the kind of the result.
    pub fn def_kind(&mut self, i: usize, kind: Kind) -> u8 {
        match kind {
            Kind::Float => self.def_xmm(i),
            _ => self.def_gpr(i),
        }
    }

    /// The result of operation `i` has been computed into `d`: store it to
    /// its slot if it lives there.
    pub fn end_def(&mut self, i: usize, d: u8) {
        let v = self.result_id(i);
        if let Some(Loc::Slot(s)) = self.ra.loc[v as usize] {
            let src = match self.trace.ops[i].result {
                Some(Kind::Float) => Loc::Xmm(d),
                _ => Loc::Gpr(d),
            };
            self.emit_move(src, Loc::Slot(s));
        }
    }

    pub fn fconst(&mut self, bits: u64) -> DynamicLabel {
        if let Some(l) = self.fconsts.get(&bits) {
            return *l;
        }
        let l = self.a.new_dynamic_label();
        self.fconsts.insert(bits, l);
        l
    }

    pub fn mark(&mut self, mark: Mark) {
        let off = self.a.offset().0;
        self.marks.push((off, mark));
    }

    pub fn fail(&mut self, msg: String) {
        if self.error.is_none() {
            self.error = Some(msg);
        }
    }
}

/// Compile `trace`. `is_loop`: emit the function entry and the loop label
/// (`Jump` allowed); otherwise a bridge (entered at `from_frame`, or at
/// `regs_entry` with its inputs in `entry_locs`: where the guard it starts
/// from has its fail arguments).
pub fn compile(
    trace: &Trace,
    tables: &'static Tables,
    first_gid: u32,
    is_loop: bool,
    entry_locs: Option<&[Loc]>,
    targets: TargetLookup<'_>,
) -> Result<Output, String> {
    let live = Liveness::compute(trace, tables);
    let n_inputs = trace.inputs.len();
    let n_values = n_inputs + trace.ops.len();
    let mut a = Asm::new(0);
    let panic_exit = a.new_dynamic_label();
    let epilogue = a.new_dynamic_label();
    let loop_label = a.new_dynamic_label();
    let mut cg = Codegen {
        a,
        trace,
        tables,
        live,
        ra: RegState::new(n_values),
        n_inputs,
        first_gid,
        stubs: Vec::new(),
        fconsts: HashMap::new(),
        panic_exit,
        epilogue,
        loop_label,
        header: vec![None; n_inputs],
        fused: None,
        marks: Vec::new(),
        io_words: n_inputs,
        targets,
        error: None,
        hints: vec![None; n_values],
        tail_done: false,
        far_jumps: Vec::new(),
    };
    if n_inputs > super::frame::MAX_IO {
        return Err(format!(
            "{n_inputs} inputs: more than the frame's I/O area ({})",
            super::frame::MAX_IO
        ));
    }

    let entry = if is_loop {
        cg.mark(Mark::Text("entry"));
        asm!(cg
            ; push rbx
            ; push rbp
            ; push r12
            ; push r13
            ; push r14
            ; push r15
            ; sub rsp, 8
            ; mov r15, rdi
        );
        Some(0)
    } else {
        None
    };
    if let Some(e) = entry_locs {
        if e.len() != n_inputs {
            return Err(format!("{} entry locations for {n_inputs} inputs", e.len()));
        }
    }
    // Loops are entered with their inputs in the frame's I/O area
    // (`from_frame`), bridges with them where the guard has them
    // (`regs_entry`: only the constants and values passed twice move).
    let from_frame = cg.a.offset().0;
    cg.compute_hints(is_loop, true);
    let entry_moves = cg.place_inputs(entry_locs);
    if entry_locs.is_none() {
        cg.mark(Mark::Text("from_frame: load inputs"));
        cg.load_inputs();
    } else {
        cg.mark(Mark::Text("from guard: inputs in place"));
        cg.parallel_move(&entry_moves);
    }
    let regs_entry = from_frame;
    cg.compute_hints(is_loop, false);
    let loop_entry = if is_loop {
        cg.mark(Mark::Text("loop"));
        let l = cg.loop_label;
        asm!(cg ; =>l);
        Some(cg.a.offset().0)
    } else {
        None
    };
    for i in 0..trace.ops.len() {
        cg.mark(Mark::Op(i as u32));
        cg.op(i);
        if let Some(e) = cg.error.take() {
            return Err(format!("op {i} ({:?}): {e}", trace.ops[i].opcode));
        }
    }
    match trace.ops.last().map(|o| &o.opcode) {
        Some(Opcode::Jump) if is_loop => {}
        Some(Opcode::JumpTo(_) | Opcode::Finish) => {}
        Some(Opcode::Jump) => return Err("a bridge cannot end with jump (use jump_to)".into()),
        _ => return Err("the trace does not end with jump, jump_to or finish".into()),
    }

    // Exit stubs.
    let mut stub_patch = vec![usize::MAX; trace.guards.len()];
    let mut guard_locs = vec![Vec::new(); trace.guards.len()];
    let mut guard_sites = vec![Vec::new(); trace.guards.len()];
    let stubs = std::mem::take(&mut cg.stubs);
    for s in &stubs {
        cg.mark(Mark::Stub {
            guard: s.guard,
            gid: s.gid,
        });
        stub_patch[s.guard as usize] = cg.emit_stub(s);
        guard_locs[s.guard as usize] = s.args.clone();
        guard_sites[s.guard as usize] = s.sites.clone();
    }
    let (pe, ep) = (cg.panic_exit, cg.epilogue);
    cg.mark(Mark::Text("panic_exit"));
    asm!(cg
        ; =>pe
        ; mov rax, -1
        ; =>ep
        ; add rsp, 8
        ; pop r15
        ; pop r14
        ; pop r13
        ; pop r12
        ; pop rbp
        ; pop rbx
        ; ret
    );
    if !cg.fconsts.is_empty() {
        asm!(cg ; .align 8);
        cg.mark(Mark::Text("constants"));
        let mut pool: Vec<(u64, DynamicLabel)> = cg.fconsts.iter().map(|(b, l)| (*b, *l)).collect();
        pool.sort_by_key(|p| p.0);
        for (bits, l) in pool {
            asm!(cg ; =>l ; .u64 bits);
        }
    }
    let n_slots = cg.ra.n_slots;
    if n_slots as usize > super::frame::MAX_SLOTS {
        return Err(format!(
            "{n_slots} spill slots: more than the frame has ({})",
            super::frame::MAX_SLOTS
        ));
    }
    let io_words = cg.io_words;
    if io_words > super::frame::MAX_IO {
        return Err(format!(
            "{io_words} words of I/O: more than the frame has ({})",
            super::frame::MAX_IO
        ));
    }
    let marks = std::mem::take(&mut cg.marks);
    let header = std::mem::take(&mut cg.header);
    let far_jumps = std::mem::take(&mut cg.far_jumps);
    let code = cg.a.finalize().map_err(|e| format!("dynasm: {e:?}"))?;
    // the branches to stubs are `jcc rel32` / `jmp rel32`
    debug_assert!(guard_sites
        .iter()
        .flatten()
        .all(|&s| { code[s - 1] == 0xE9 || (code[s - 2] == 0x0F && code[s - 1] & 0xF0 == 0x80) }));
    Ok(Output {
        code,
        entry,
        from_frame,
        regs_entry,
        loop_entry,
        header,
        stub_patch,
        guard_locs,
        guard_sites,
        n_slots,
        io_words,
        marks,
        far_jumps,
    })
}

impl<'a> Codegen<'a> {
    /// Register hints: a value passed to `Jump` prefers the register its
    /// input has at this loop's header, one passed to `JumpTo` the
    /// register the target loop wants it in (no move at the jump).
    /// `inputs`: before the inputs are placed (`JumpTo` only: an input
    /// passed on can be loaded where the target wants it); else after
    /// (`Jump` needs this loop's header).
    fn compute_hints(&mut self, is_loop: bool, inputs: bool) {
        let Some(last) = self.trace.ops.last() else {
            return;
        };
        let header: Vec<Option<Loc>> = match last.opcode {
            Opcode::Jump if is_loop && !inputs => self.header.clone(),
            Opcode::JumpTo(target) if inputs => match (self.targets)(target) {
                Some(Target {
                    header: Some((_, h)),
                    ..
                }) => h,
                _ => return,
            },
            _ => return,
        };
        for (k, a) in last.args.iter().enumerate() {
            if let (Some(id), Some(Some(h @ (Loc::Gpr(_) | Loc::Xmm(_))))) =
                (vid(self.n_inputs, self.live.resolve(*a)), header.get(k))
            {
                if (inputs || id >= self.n_inputs) && self.hints[id].is_none() {
                    self.hints[id] = Some(*h);
                }
            }
        }
    }

    /// Choose the inputs' locations. Without `entry`: registers (or
    /// slots) as the allocator hands them out. With `entry` (a bridge: where
    /// the parent trace has the values when the guard fails): the same
    /// registers and slots when possible, so that the guard can jump
    /// straight in; a constant or a value passed twice gets a location of
    /// its own, and the moves into those (from `entry`) are returned.
    fn place_inputs(&mut self, entry: Option<&[Loc]>) -> Vec<(Loc, Loc)> {
        let mut pending = Vec::new();
        match entry {
            None => {
                // the hinted ones first (passed to `JumpTo`)
                for k in 0..self.n_inputs {
                    let class = Class::of(self.trace.inputs[k]);
                    let free = self.hints[k].is_some_and(|h| self.ra.free_reg(h, class).is_some());
                    if free && self.live.last_use[k] != NEVER {
                        self.ra.assign(k as u32, self.hints[k].expect("hinted"));
                    } else {
                        pending.push(k);
                    }
                }
            }
            Some(entry) => {
                let live = |k: usize| self.live.last_use[k] != NEVER;
                let parent_slots: Vec<u32> = (0..self.n_inputs)
                    .filter(|&k| live(k))
                    .filter_map(|k| match entry[k] {
                        Loc::Slot(s) => Some(s),
                        _ => None,
                    })
                    .collect();
                self.ra.reserve_slots(&parent_slots);
                let mut taken_slots = Vec::new();
                for (k, &at) in entry.iter().enumerate() {
                    if !live(k) {
                        continue;
                    }
                    let class = Class::of(self.trace.inputs[k]);
                    let ok = match at {
                        Loc::Slot(s) => !taken_slots.contains(&s),
                        _ => self.ra.free_reg(at, class).is_some_and(|r| match class {
                            Class::Gpr => {
                                GPR_CALLEE_SAVED.contains(&r) || GPR_CALLER_SAVED.contains(&r)
                            }
                            Class::Xmm => XMM_ALLOCATABLE.contains(&r),
                        }),
                    };
                    if ok {
                        if let Loc::Slot(s) = at {
                            taken_slots.push(s);
                        }
                        self.ra.assign(k as u32, at);
                    } else {
                        pending.push(k);
                    }
                }
            }
        }
        let mut moves = Vec::new();
        for k in pending {
            let v = k as u32;
            if self.live.last_use[k] == NEVER {
                continue;
            }
            let class = Class::of(self.trace.inputs[k]);
            // (nothing is emitted here: an evicted input is loaded into
            // its slot by `load_inputs`; a bridge evicts nothing, its
            // inputs are where the parent trace left them)
            let live = &self.live;
            let first_use = |x: u32| live.uses(x).first().copied().unwrap_or(NEVER);
            let choice = self
                .ra
                .choose(class, &first_use, &[], v, live.crosses_call[k]);
            let reg = match choice {
                Choice::Free(r) => Some(r),
                Choice::Evict(r, victim) if entry.is_none() => {
                    self.ra.slot_of(victim);
                    self.ra.move_to_slot(victim);
                    Some(r)
                }
                _ => None,
            };
            let loc = match reg {
                Some(r) => class.loc(r),
                None => Loc::Slot(self.ra.slot_of(v)),
            };
            self.ra.assign(v, loc);
            if let Some(entry) = entry {
                moves.push((entry[k], loc));
            }
        }
        // At the loop header, a slot is not known to hold a value that
        // lives in a register.
        for k in 0..self.n_inputs {
            if let Some(Loc::Gpr(_) | Loc::Xmm(_)) = self.ra.loc[k] {
                self.ra.slot_valid[k] = false;
            }
        }
        self.header = (0..self.n_inputs).map(|k| self.ra.loc[k]).collect();
        moves
    }

    /// `from_frame`: load the inputs from the frame's I/O area into their
    /// places (`place_inputs`).
    fn load_inputs(&mut self) {
        for k in 0..self.n_inputs {
            let Some(loc) = self.header[k] else { continue };
            let m = Mem::fp(io_disp(k));
            match loc {
                Loc::Gpr(r) => self.load64(r, m),
                Loc::Xmm(r) => self.load_f64(r, m),
                Loc::Slot(s) => {
                    self.load64(RAX, m);
                    self.store64(Mem::fp(slot_disp(s)), RAX);
                }
                Loc::Imm(_) => unreachable!(),
            }
        }
    }

    fn op(&mut self, i: usize) {
        if self.live.alias[self.n_inputs + i].is_some() {
            // a copy: its uses read the operand (`regalloc::copy_of`)
            self.kill_dying(i);
            return;
        }
        self.reload_operands(i);
        let op = &self.trace.ops[i];
        match op.opcode.clone() {
            Opcode::IntBin(o, t) => self.int_bin(i, o, t),
            Opcode::IntNeg(t) => self.int_unary(i, t, true),
            Opcode::IntNot(t) => self.int_unary(i, t, false),
            Opcode::IntCmp(o, t) => self.int_cmp(i, o, t),
            Opcode::FloatBin(o) => self.float_bin(i, o),
            Opcode::FloatNeg => self.float_neg(i),
            Opcode::FloatCmp(o) => self.float_cmp(i, o),
            Opcode::Cast(from, to) => self.cast(i, from, to),
            Opcode::GetField(d) => self.get_field(i, d),
            Opcode::SetField(d) => self.set_field(i, d),
            Opcode::FieldAddr(d) => self.field_addr(i, d),
            Opcode::Load(t) => self.load(i, t),
            Opcode::Store(t) => self.store(i, t),
            Opcode::ItemAddr(d) => self.item_addr(i, d),
            Opcode::GetItem(d) => self.get_item(i, d),
            Opcode::SetItem(d) => self.set_item(i, d),
            Opcode::New(_)
            | Opcode::Free(_)
            | Opcode::EnumTag(_)
            | Opcode::VecLen(_)
            | Opcode::VecPtr(_)
            | Opcode::VecPush(_)
            | Opcode::VecPopNonEmpty(_)
            | Opcode::VecCap(_)
            | Opcode::VecSetLen(_)
            | Opcode::VecReserve(_)
            | Opcode::VecInit(_)
            | Opcode::VecDrop(_)
            | Opcode::VecTake(_)
            | Opcode::StringPtr
            | Opcode::StringLen => self.runtime_op(i),
            Opcode::CallResidual(d) => self.call_residual(i, d),
            Opcode::CallPure(j) => self.call_pure(i, j),
            Opcode::CallAssembler(d) => self.call_assembler(i, d),
            Opcode::CallResult(n, kind) => self.call_result(i, n, kind),
            Opcode::GuardTrue
            | Opcode::GuardFalse
            | Opcode::GuardValue
            | Opcode::GuardNotInvalidated => self.guard(i),
            Opcode::DebugMergePoint(..) => {}
            // `backend::compile` refuses traces with a label
            Opcode::Label => unreachable!("label reached the backend"),
            Opcode::Jump => self.jump(i),
            Opcode::JumpTo(target) => self.jump_to(i, target),
            Opcode::Finish => self.finish(i),
        }
        self.kill_dying(i);
    }

    /// Bring the operands of operation `i` that were evicted to their slots
    /// back into registers, when some later operation reads them again and
    /// a register is free or holds a value needed later still (which is
    /// evicted: the slot of a value is written once, so a value read by a
    /// whole trace but pushed out for a while costs one store and one load,
    /// not a load at every use). Only for operations computed in line;
    /// guards, calls and jumps read slots as well as registers.
    fn reload_operands(&mut self, i: usize) {
        let op = &self.trace.ops[i];
        let in_line = match op.opcode {
            ref o if o.is_arith() => !regalloc::is_call(self.tables, op),
            Opcode::GetField(_)
            | Opcode::SetField(_)
            | Opcode::FieldAddr(_)
            | Opcode::Load(_)
            | Opcode::Store(_)
            | Opcode::ItemAddr(_)
            | Opcode::GetItem(_)
            | Opcode::SetItem(_)
            | Opcode::VecLen(_)
            | Opcode::VecPtr(_)
            | Opcode::VecCap(_)
            | Opcode::VecSetLen(_) => !regalloc::is_call(self.tables, op),
            _ => false,
        };
        let in_slot = |a: &Val| {
            vid(self.n_inputs, self.live.resolve(*a))
                .is_some_and(|id| matches!(self.ra.loc[id], Some(Loc::Slot(_))))
        };
        if !in_line || !op.args.iter().any(in_slot) {
            return;
        }
        let operands = self.operand_ids(i);
        for &x in &operands {
            let Some(Loc::Slot(s)) = self.ra.loc[x as usize] else {
                continue;
            };
            if self.live.next_use(x, i as u32) == NEVER {
                continue;
            }
            let kind = if (x as usize) < self.n_inputs {
                self.trace.inputs[x as usize]
            } else {
                match self.trace.ops[x as usize - self.n_inputs].result {
                    Some(k) => k,
                    None => continue,
                }
            };
            let class = Class::of(kind);
            let across_calls = self.live.crosses_call[x as usize];
            let hinted = self.hints[x as usize]
                .and_then(|h| self.ra.free_reg(h, class))
                .filter(|r| !across_calls || !regs::is_caller_saved_gpr(*r) && class == Class::Gpr);
            let reg = match hinted {
                Some(r) => Some(r),
                None => {
                    let live = &self.live;
                    let next_use = |y: u32| live.next_use(y, i as u32);
                    let choice = self.ra.choose(
                        class,
                        &next_use,
                        &operands,
                        x,
                        live.crosses_call[x as usize],
                    );
                    self.take_choice(choice)
                }
            };
            if let Some(r) = reg {
                let to = class.loc(r);
                self.emit_move(Loc::Slot(s), to);
                self.ra.assign(x, to);
            }
        }
    }

    /// Is operation `i` an int/float comparison whose only use is the guard
    /// right after it (so the guard can branch on the flags)?
    pub fn fusable(&self, i: usize) -> bool {
        let v = self.result_id(i) as usize;
        let Some(next) = self.trace.ops.get(i + 1) else {
            return false;
        };
        if !matches!(next.opcode, Opcode::GuardTrue | Opcode::GuardFalse) {
            return false;
        }
        if next.args.first() != Some(&Val::Op(i as u32)) || self.live.last_use[v] != (i + 1) as u32
        {
            return false;
        }
        let in_fail_args = next
            .guard
            .and_then(|g| self.trace.guards.get(g as usize))
            .map(|g| g.fail_args.contains(&Val::Op(i as u32)))
            .unwrap_or(false);
        !in_fail_args
    }

    /// Can the guard at `i` branch back to the loop header itself? When
    /// the `Jump` follows it and moves nothing (every value already where
    /// the header wants it).
    pub fn tail_invertible(&self, i: usize) -> bool {
        let Some(next) = self.trace.ops.get(i + 1) else {
            return false;
        };
        next.opcode == Opcode::Jump
            && next.args.len() == self.n_inputs
            && self.header.len() == self.n_inputs
            && next
                .args
                .iter()
                .zip(&self.header)
                .all(|(a, h)| h.is_none_or(|dst| self.already_at(*a, dst)))
    }

    /// Is `a` at `dst` already: there, or `dst` its spill slot, still
    /// valid (a value reloaded into a register keeps its slot; values are
    /// SSA)? Then a jump moves nothing for it.
    pub fn already_at(&self, a: Val, dst: Loc) -> bool {
        if self.loc_of(a) == dst {
            return true;
        }
        let Loc::Slot(s) = dst else { return false };
        vid(self.n_inputs, self.live.resolve(a))
            .is_some_and(|id| self.ra.slot[id] == Some(s) && self.ra.slot_valid[id])
    }

    fn jump(&mut self, i: usize) {
        if self.tail_done {
            return;
        }
        let args = self.trace.ops[i].args.clone();
        if args.len() != self.n_inputs {
            self.fail(format!(
                "jump with {} arguments, the loop has {} inputs",
                args.len(),
                self.n_inputs
            ));
            return;
        }
        let mut moves = Vec::new();
        for (k, a) in args.iter().enumerate() {
            if let Some(dst) = self.header[k] {
                if !self.already_at(*a, dst) {
                    moves.push((self.loc_of(*a), dst));
                }
            }
        }
        self.parallel_move(&moves);
        let l = self.loop_label;
        asm!(self ; jmp =>l);
    }

    fn jump_to(&mut self, i: usize, target: u32) {
        let args = self.trace.ops[i].args.clone();
        let Some(t) = (self.targets)(target) else {
            self.fail(format!("jump_to: no compiled loop {target}"));
            return;
        };
        let kinds = &t.kinds;
        if kinds.len() != args.len() {
            self.fail(format!(
                "jump_to: loop {target} has {} inputs, the jump passes {}",
                kinds.len(),
                args.len()
            ));
            return;
        }
        for (n, (a, k)) in args.iter().zip(kinds).enumerate() {
            if self.trace.kind_of(*a) != Some(*k) {
                self.fail(format!(
                    "jump_to: argument {n} is {:?}, loop {target} expects {k:?}",
                    self.trace.kind_of(*a)
                ));
                return;
            }
        }
        match t.header {
            Some((addr, header)) if header.len() == args.len() => {
                // straight into the target's loop header: the values go
                // where it keeps its inputs (registers and slots)
                let mut moves = Vec::new();
                for (k, a) in args.iter().enumerate() {
                    if let Some(dst) = header[k] {
                        if !self.already_at(*a, dst) {
                            moves.push((self.loc_of(*a), dst));
                        }
                    }
                }
                self.parallel_move(&moves);
                self.far_jump(addr);
            }
            _ => {
                self.io_words = self.io_words.max(args.len());
                for (k, a) in args.iter().enumerate() {
                    let src = self.loc_of(*a);
                    self.store_io(k, src);
                }
                self.far_jump(t.from_frame);
            }
        }
    }

    /// Jump to `addr` outside the trace (`guards::far_jump` makes it a
    /// relative jump when it can).
    fn far_jump(&mut self, addr: usize) {
        self.far_jumps.push((self.a.offset().0, addr));
        asm!(self
            ; mov r11, QWORD addr as i64
            ; jmp r11
        );
    }

    /// Store a value into word `k` of the I/O area.
    /// `finish`: the portal's results into the I/O area, and leave with
    /// [`crate::backend::FINISHED`] plus their number (no guard failed).
    fn finish(&mut self, i: usize) {
        let args = self.trace.ops[i].args.clone();
        self.io_words = self.io_words.max(args.len());
        for (k, a) in args.iter().enumerate() {
            let src = self.loc_of(*a);
            self.store_io(k, src);
        }
        let ep = self.epilogue;
        asm!(self
            ; mov rax, QWORD (crate::backend::FINISHED | args.len() as u64) as i64
            ; jmp =>ep
        );
    }

    pub fn store_io(&mut self, k: usize, src: Loc) {
        self.store_loc(Mem::fp(io_disp(k)), src);
    }
}
