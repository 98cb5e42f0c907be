//! Register allocation over a trace: liveness, then a one-pass linear scan
//! driven by the code generator (RPython's `backend/llsupport/regalloc.py` and
//! `backend/x86/regalloc.py`, LuaJIT's `lj_asm.c` register allocation).
//!
//! A trace is straight-line code (plus the back edge of a loop), so every
//! value's live range is one interval: from its definition to its last use
//! (an operand, a guard's fail argument, a `Jump`/`JumpTo` argument).
//! The code generator walks the trace once; at each operation it asks this
//! module for a register for the result. When none is free, the value read
//! again furthest away (Belady's rule, on next uses: `Liveness::next_use`)
//! is evicted to its spill slot, or the new value itself lives in a slot
//! when it is the one needed furthest away. A value read only by guards'
//! exits is the first to go (the exit stub reads a slot as well). An
//! evicted value read again by an operation computed in line is loaded
//! back into a register then (`Codegen::reload_operands`), so a value the
//! whole trace reads (the interpreter's state, say) costs one store and
//! a load per eviction, not a load at every use.
//! Values are SSA: a spill slot, once written, stays valid until the value
//! dies, so a value is stored at most once.
//!
//! Register classes (System V x86-64):
//! - general purpose, allocatable: `rbx rbp r12 r13 r14` (callee-saved:
//!   survive calls) and `rsi rdi r8 r9 r10` (caller-saved). Values whose
//!   interval contains a call prefer the callee-saved ones, others the
//!   caller-saved ones.
//! - never allocated: `rsp`, `r15` (the frame pointer of compiled code),
//!   `rax rcx rdx r11` (scratch: division, shifts, call sequences, big
//!   immediates, memory-to-memory moves).
//! - `xmm0..xmm14` for floats (all caller-saved); `xmm15` is scratch.
//!
//! Around a call, live values in caller-saved registers are stored to
//! their slots (if not already there) and reloaded afterwards.
//!
//! Liveness also finds operations that copy their operand (`copy_of`:
//! `fieldaddr` at offset 0, casts that leave canonical bits unchanged):
//! they get no location, their uses read the operand (whose live range
//! covers them); and narrow results whose only uses store their low
//! bytes (`stored_only`), which need no re-canonicalisation.

use crate::jitcode::Kind;
use crate::trace::{Opcode, Trace, Val};

use super::regs::{Loc, GPR_CALLEE_SAVED, GPR_CALLER_SAVED, XMM_ALLOCATABLE};

/// "Never used".
pub const NEVER: u32 = u32::MAX;

/// Value ids: inputs `0..n_inputs`, then operation `i` as `n_inputs + i`.
pub fn vid(n_inputs: usize, v: Val) -> Option<usize> {
    match v {
        Val::Input(i) => Some(i as usize),
        Val::Op(i) => Some(n_inputs + i as usize),
        _ => None,
    }
}

/// Which operations call out of compiled code (clobbering caller-saved
/// registers).
pub fn is_call(tables: &crate::jitcode::Tables, trace_op: &crate::trace::TraceOp) -> bool {
    use crate::jitcode::{FieldPlace, FloatBinOp, IntTy, ScalarTy};
    let op = &trace_op.opcode;
    match op {
        Opcode::VecInit(_) => !crate::backend::layout::inline_vec_init(tables, trace_op),
        Opcode::New(_)
        | Opcode::Free(_)
        | Opcode::VecDrop(_)
        | Opcode::VecTake(_)
        | Opcode::CallAssembler(_) => true,
        Opcode::EnumTag(_)
        | Opcode::VecLen(_)
        | Opcode::VecPtr(_)
        | Opcode::VecPush(_)
        | Opcode::VecPopNonEmpty(_)
        | Opcode::VecCap(_)
        | Opcode::VecSetLen(_)
        | Opcode::VecReserve(_)
        | Opcode::StringPtr
        | Opcode::StringLen
        | Opcode::CallResidual(_)
        | Opcode::CallPure(_) => !crate::backend::layout::inline_op(tables, op),
        Opcode::FloatBin(FloatBinOp::Rem) => true,
        Opcode::Cast(ScalarTy::F64, ScalarTy::Int(IntTy::U64 | IntTy::Usize)) => true,
        Opcode::GetField(d) | Opcode::SetField(d) | Opcode::FieldAddr(d) => {
            matches!(
                tables.fields.get((*d).index()).map(|f| f.place),
                Some(FieldPlace::Shim(_))
            )
        }
        _ => false,
    }
}

/// Is operation `op` a copy of its first operand (the same bits, the same
/// register class)? Its result is then not a value of its own: the code
/// generator reads the operand wherever the result is used.
/// `fieldaddr` of a field at offset 0, casts that leave canonical values
/// unchanged (the same type, an int into a wider one, `bool` into an int,
/// refs and 64-bit ints into each other).
pub fn copy_of(tables: &crate::jitcode::Tables, op: &crate::trace::TraceOp) -> Option<Val> {
    use crate::jitcode::{FieldPlace, ScalarTy};
    let identity = match &op.opcode {
        Opcode::FieldAddr(d) => matches!(
            tables.fields.get((*d).index()).map(|f| f.place),
            Some(FieldPlace::Offset(0))
        ),
        Opcode::Cast(from, to) => match (*from, *to) {
            (a, b) if a == b => true,
            (ScalarTy::Int(a), ScalarTy::Int(b)) => {
                let ((alo, ahi), (blo, bhi)) = (a.range(), b.range());
                blo <= alo && ahi <= bhi
            }
            (ScalarTy::Bool, ScalarTy::Int(_)) => true,
            (ScalarTy::Ref, ScalarTy::Int(t)) | (ScalarTy::Int(t), ScalarTy::Ref) => t.bits() == 64,
            _ => false,
        },
        _ => false,
    };
    if identity && op.result.is_some() {
        op.args.first().copied()
    } else {
        None
    }
}

/// Live ranges of a trace's values.
pub struct Liveness {
    /// Position (operation index) of the last use of each value, `NEVER`
    /// when it is not used.
    pub last_use: Vec<u32>,
    /// Whether a call happens strictly inside the value's interval.
    pub crosses_call: Vec<bool>,
    /// Per operation: the values whose last use it is.
    pub dies_at: Vec<Vec<u32>>,
    /// Per value: the value (or constant) it is a copy of (`copy_of`,
    /// followed to the end); its uses are that value's uses.
    pub alias: Vec<Option<Val>>,
    /// Per value: `Some(n)` when its only uses store its low `n` bytes
    /// (`setitem`, `setfield`, `store` of a narrow type): only those bits
    /// have to be right, not the canonical extension above them.
    pub stored_only: Vec<Option<u8>>,
    /// Per value `v`: `use_pos[use_start[v]..use_start[v + 1]]` are the
    /// positions of the operations that read it as an operand, in order
    /// (one array for all values: a vector per value cost more than the
    /// rest of liveness). A guard's fail arguments are not among them:
    /// the exit stub reads a value from a slot as well as from a register.
    use_start: Vec<u32>,
    use_pos: Vec<u32>,
    n_inputs: usize,
}

/// The bytes operation `op` stores of its argument `k`, when that is all
/// it does with it.
fn store_size(tables: &crate::jitcode::Tables, op: &Opcode, k: usize) -> Option<u8> {
    let ty = match (op, k) {
        (Opcode::SetItem(d), 2) => tables.arrays.get((*d).index())?.item?,
        (Opcode::SetField(d), 1) => tables.fields.get((*d).index())?.ty?,
        (Opcode::Store(t), 1) => *t,
        _ => return None,
    };
    Some(ty.size() as u8)
}

impl Liveness {
    /// Position of the first operation after `i` that reads value `v` as
    /// an operand (`NEVER`: none). What eviction compares (Belady: the
    /// register whose value is needed again furthest away is the one to
    /// give up), and what makes a reload worth it.
    pub fn next_use(&self, v: u32, i: u32) -> u32 {
        let uses = self.uses(v);
        let k = uses.partition_point(|&p| p <= i);
        uses.get(k).copied().unwrap_or(NEVER)
    }

    /// The positions of the operations that read `v` as an operand.
    pub fn uses(&self, v: u32) -> &[u32] {
        let (a, b) = (self.use_start[v as usize], self.use_start[v as usize + 1]);
        &self.use_pos[a as usize..b as usize]
    }

    /// `v`, or what it is a copy of.
    pub fn resolve(&self, v: Val) -> Val {
        match v {
            Val::Op(i) => self
                .alias
                .get(self.n_inputs + i as usize)
                .copied()
                .flatten()
                .unwrap_or(v),
            _ => v,
        }
    }
}

impl Liveness {
    pub fn compute(trace: &Trace, tables: &crate::jitcode::Tables) -> Liveness {
        let n_inputs = trace.inputs.len();
        let n = n_inputs + trace.ops.len();
        let mut last_use = vec![NEVER; n];
        let mut alias: Vec<Option<Val>> = vec![None; n];
        let resolve = |v: Val, alias: &Vec<Option<Val>>| match vid(n_inputs, v) {
            Some(id) => alias[id].unwrap_or(v),
            None => v,
        };
        let use_at = |v: Val, i: usize, last_use: &mut Vec<u32>, alias: &Vec<Option<Val>>| {
            if let Some(id) = vid(n_inputs, resolve(v, alias)) {
                if last_use[id] == NEVER || last_use[id] < i as u32 {
                    last_use[id] = i as u32;
                }
            }
        };
        let mut stored_only: Vec<Option<u8>> = vec![Some(0); n];
        // (value, position) of every operand use, in order of position
        let mut reads: Vec<(u32, u32)> = Vec::with_capacity(2 * trace.ops.len());
        for (i, op) in trace.ops.iter().enumerate() {
            for (k, a) in op.args.iter().enumerate() {
                use_at(*a, i, &mut last_use, &alias);
                if let Some(id) = vid(n_inputs, resolve(*a, &alias)) {
                    if reads.last() != Some(&(id as u32, i as u32)) {
                        reads.push((id as u32, i as u32));
                    }
                    stored_only[id] = match (stored_only[id], store_size(tables, &op.opcode, k)) {
                        (Some(m), Some(s)) => Some(m.max(s)),
                        _ => None,
                    };
                }
            }
            if let Some(g) = op.guard {
                if let Some(info) = trace.guards.get(g as usize) {
                    for a in &info.fail_args {
                        use_at(*a, i, &mut last_use, &alias);
                        if let Some(id) = vid(n_inputs, resolve(*a, &alias)) {
                            stored_only[id] = None;
                        }
                    }
                }
            }
            if let Some(src) = copy_of(tables, op) {
                alias[n_inputs + i] = Some(resolve(src, &alias));
            }
        }
        let is_call: Vec<bool> = trace.ops.iter().map(|o| is_call(tables, o)).collect();
        // calls_before[i] = number of calls among ops 0..i
        let mut calls_before = Vec::with_capacity(trace.ops.len() + 1);
        let mut c = 0u32;
        for &b in &is_call {
            calls_before.push(c);
            c += b as u32;
        }
        calls_before.push(c);
        let def_pos = |id: usize| -> i64 { id as i64 - n_inputs as i64 };
        let mut crosses_call = vec![false; n];
        let mut dies_at = vec![Vec::new(); trace.ops.len()];
        for id in 0..n {
            let lu = last_use[id];
            if alias[id].is_some() {
                // not a value of its own
                continue;
            }
            if lu == NEVER {
                // Results never used die where they are defined.
                if id >= n_inputs {
                    dies_at[id - n_inputs].push(id as u32);
                }
                continue;
            }
            let d = def_pos(id);
            // calls strictly between d and lu
            let from = (d + 1).max(0) as usize;
            let to = lu as usize; // exclusive
            if to > from {
                crosses_call[id] = calls_before[to] - calls_before[from] > 0;
            }
            dies_at[lu as usize].push(id as u32);
        }
        // counting sort by value, stable: each value's positions in order
        let mut use_start = vec![0u32; n + 1];
        for &(id, _) in &reads {
            use_start[id as usize + 1] += 1;
        }
        for k in 0..n {
            use_start[k + 1] += use_start[k];
        }
        let mut fill = use_start.clone();
        let mut use_pos = vec![0u32; reads.len()];
        for &(id, pos) in &reads {
            use_pos[fill[id as usize] as usize] = pos;
            fill[id as usize] += 1;
        }
        Liveness {
            last_use,
            crosses_call,
            dies_at,
            alias,
            stored_only,
            use_start,
            use_pos,
            n_inputs,
        }
    }
}

/// Register classes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Class {
    Gpr,
    Xmm,
}

impl Class {
    /// The class of the registers that hold values of `kind`.
    pub fn of(kind: Kind) -> Class {
        match kind {
            Kind::Float => Class::Xmm,
            _ => Class::Gpr,
        }
    }

    /// Register `r` of this class.
    pub fn loc(self, r: u8) -> Loc {
        match self {
            Class::Gpr => Loc::Gpr(r),
            Class::Xmm => Loc::Xmm(r),
        }
    }
}

/// What to do to get a register for a new value.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Choice {
    /// A free register.
    Free(u8),
    /// Evict the value in this register to its slot first.
    Evict(u8, u32),
    /// No register: the new value lives in a slot.
    Spill,
}

/// The allocator's state at the current point of the walk.
pub struct RegState {
    /// Current location of every value (`None`: not defined yet or dead).
    pub loc: Vec<Option<Loc>>,
    /// Spill slot of a value, once it has one.
    pub slot: Vec<Option<u32>>,
    /// Whether the slot holds the value (SSA: true until the value dies).
    pub slot_valid: Vec<bool>,
    pub gpr_owner: [Option<u32>; 16],
    pub xmm_owner: [Option<u32>; 16],
    free_slots: Vec<u32>,
    /// Slots used so far (the trace's spill area size).
    pub n_slots: u32,
}

impl RegState {
    pub fn new(n_values: usize) -> RegState {
        RegState {
            loc: vec![None; n_values],
            slot: vec![None; n_values],
            slot_valid: vec![false; n_values],
            gpr_owner: [None; 16],
            xmm_owner: [None; 16],
            free_slots: Vec::new(),
            n_slots: 0,
        }
    }

    /// The slot of value `v`, assigning one if needed.
    pub fn slot_of(&mut self, v: u32) -> u32 {
        if let Some(s) = self.slot[v as usize] {
            return s;
        }
        let s = match self.free_slots.pop() {
            Some(s) => s,
            None => {
                self.n_slots += 1;
                self.n_slots - 1
            }
        };
        self.slot[v as usize] = Some(s);
        s
    }

    /// Make slots `used` (held by a bridge's inputs, where the parent trace
    /// left them) unavailable to the allocator until their values die.
    /// Called before any other slot is handed out.
    pub fn reserve_slots(&mut self, used: &[u32]) {
        let Some(&max) = used.iter().max() else {
            return;
        };
        debug_assert!(self.n_slots == 0 && self.free_slots.is_empty());
        self.n_slots = max + 1;
        // lowest first out
        self.free_slots = (0..=max).rev().filter(|s| !used.contains(s)).collect();
    }

    /// Choose a register of `class` for value `v` (`prefer_callee_saved`
    /// when it lives across a call). `next_use` tells when a value is read
    /// again (`NEVER`: not as an operand); `keep`, values that must stay
    /// where they are (the operands of the operation being emitted).
    pub fn choose(
        &self,
        class: Class,
        next_use: &dyn Fn(u32) -> u32,
        keep: &[u32],
        v: u32,
        prefer_callee_saved: bool,
    ) -> Choice {
        let (owners, first, second): (_, &[u8], &[u8]) = match class {
            Class::Gpr if prefer_callee_saved => {
                (&self.gpr_owner, &GPR_CALLEE_SAVED, &GPR_CALLER_SAVED)
            }
            Class::Gpr => (&self.gpr_owner, &GPR_CALLER_SAVED, &GPR_CALLEE_SAVED),
            Class::Xmm => (&self.xmm_owner, &XMM_ALLOCATABLE, &[]),
        };
        let regs = first.iter().chain(second).copied();
        match regs.clone().find(|&r| owners[r as usize].is_none()) {
            Some(r) => Choice::Free(r),
            None => self.victim(owners, regs, next_use, keep, v),
        }
    }

    /// Register `loc` when it is one of `class` that holds no value.
    pub fn free_reg(&self, loc: Loc, class: Class) -> Option<u8> {
        match (loc, class) {
            (Loc::Gpr(r), Class::Gpr) if self.gpr_owner[r as usize].is_none() => Some(r),
            (Loc::Xmm(r), Class::Xmm) if self.xmm_owner[r as usize].is_none() => Some(r),
            _ => None,
        }
    }

    /// Free the register of `v`, if it still holds `v`.
    pub fn release_reg(&mut self, v: u32) {
        match self.loc[v as usize] {
            Some(Loc::Gpr(r)) if self.gpr_owner[r as usize] == Some(v) => {
                self.gpr_owner[r as usize] = None
            }
            Some(Loc::Xmm(r)) if self.xmm_owner[r as usize] == Some(v) => {
                self.xmm_owner[r as usize] = None
            }
            _ => {}
        }
    }

    /// The register to give up for `v`: the one whose value is read again
    /// furthest away, when that is later than `v`'s own next read (else
    /// `v` goes to a slot). A value read only by guards' exits is the best
    /// victim: its slot serves them as well as a register.
    fn victim(
        &self,
        owners: &[Option<u32>; 16],
        regs: impl Iterator<Item = u8>,
        next_use: &dyn Fn(u32) -> u32,
        keep: &[u32],
        v: u32,
    ) -> Choice {
        let mut best: Option<(u8, u32, u32)> = None;
        for r in regs {
            if let Some(o) = owners[r as usize] {
                if keep.contains(&o) {
                    continue;
                }
                let nu = next_use(o);
                if best.map(|b| nu > b.2).unwrap_or(true) {
                    best = Some((r, o, nu));
                }
            }
        }
        match best {
            Some((r, o, nu)) if nu > next_use(v) => Choice::Evict(r, o),
            _ => Choice::Spill,
        }
    }

    /// Record that `v` now lives in `loc`.
    pub fn assign(&mut self, v: u32, loc: Loc) {
        match loc {
            Loc::Gpr(r) => self.gpr_owner[r as usize] = Some(v),
            Loc::Xmm(r) => self.xmm_owner[r as usize] = Some(v),
            Loc::Slot(s) => {
                self.slot[v as usize] = Some(s);
                self.slot_valid[v as usize] = true;
            }
            Loc::Imm(_) => {}
        }
        self.loc[v as usize] = Some(loc);
    }

    /// Forget the register of `v` (it has been stored to its slot).
    pub fn move_to_slot(&mut self, v: u32) {
        match self.loc[v as usize] {
            Some(Loc::Gpr(r)) => self.gpr_owner[r as usize] = None,
            Some(Loc::Xmm(r)) => self.xmm_owner[r as usize] = None,
            _ => {}
        }
        let s = self.slot[v as usize].expect("slot assigned before eviction");
        self.slot_valid[v as usize] = true;
        self.loc[v as usize] = Some(Loc::Slot(s));
    }

    /// `v` died: free its register and slot.
    pub fn kill(&mut self, v: u32) {
        self.release_reg(v);
        if let Some(s) = self.slot[v as usize].take() {
            self.free_slots.push(s);
        }
        self.slot_valid[v as usize] = false;
        self.loc[v as usize] = None;
    }
}
