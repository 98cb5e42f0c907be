//! Flattening (RPython's `codewriter/flatten.py`): the blocks of a graph, in
//! reverse postorder, become one linear instruction list with symbolic
//! labels.
//!
//! - `goto` falls through when its target is the next block, else jumps;
//! - `branch` is `-live-`, `goto_if_not cond L_false`, then the true link
//!   (falling through or jumping to the true block);
//! - `switch` is `-live-` and a `switch` instruction;
//! - a link's arguments that were not coalesced with the target's inputargs
//!   become copies, sequenced as a parallel move (a cycle goes through a
//!   scratch register). The copies of a link that does not fall through
//!   from its block (the false side of a branch, the cases of a switch) go
//!   into a stub after the last block, which jumps to the target;
//! - constants are interned in per-kind pools and named by placeholder
//!   registers (`CONST_BASE + index`), renumbered once the register counts
//!   are final;
//! - `-live-` markers are emitted empty before every call, merge point,
//!   `can_enter_jit`, promote, `goto_if_not` and `switch`, and filled later
//!   by `liveness`.

use super::descrs::Descrs;
use super::regalloc::RegAlloc;
use super::{var_scalar, Container, RefConstText};
use crate::flowgraph::{
    BlockId, CallKind, Const, Exit, FlowGraph, Helper, LinkCase, Op, Operand, Operation, PanicKind,
    Program, Var,
};
use crate::types::{IntTy, Ty};
use metatrace_runtime::jitcode::{
    CallFlavor, CmpOp, FloatBinOp, Insn, IntBinOp, KReg, Kind, Label, PanicKind as RtPanic, Reg,
};
use std::collections::{HashMap, HashSet};
use std::hash::Hash;

/// Constant `i` of a kind is named `CONST_BASE + i` until the register
/// count is known.
pub(crate) const CONST_BASE: Reg = 0x8000;

pub(crate) enum Item {
    Label(Label),
    Insn(Insn),
}

/// A flattened graph: instructions with symbolic labels and constant
/// placeholders.
pub(crate) struct Flat {
    pub items: Vec<Item>,
    pub num_regs: [u16; 3],
    pub consts_i: Vec<i64>,
    pub consts_r: Vec<RefConstText>,
    pub consts_f: Vec<u64>,
}

/// Sequence the simultaneous copies `moves` (`(src, dst)`, destinations
/// distinct) of one register kind into copies that can run one after the
/// other. A copy whose destination is still to be read waits; when only
/// such copies remain they form cycles, and one destination is first saved
/// in the register given by `scratch` (which must be neither a source nor a
/// destination; it is asked for at most once).
pub fn parallel_move(moves: &[(Reg, Reg)], scratch: &mut dyn FnMut() -> Reg) -> Vec<(Reg, Reg)> {
    let mut pending: Vec<(Reg, Reg)> = moves.iter().copied().filter(|(s, d)| s != d).collect();
    let mut out = Vec::new();
    let mut tmp: Option<Reg> = None;
    while !pending.is_empty() {
        let ready = (0..pending.len()).find(|&i| {
            let dst = pending[i].1;
            !pending.iter().any(|&(s, _)| s == dst)
        });
        match ready {
            Some(i) => out.push(pending.remove(i)),
            None => {
                // Every remaining destination is still to be read: break
                // one cycle by saving a destination first.
                let t = *tmp.get_or_insert_with(&mut *scratch);
                let d = pending[0].1;
                out.push((d, t));
                for m in pending.iter_mut() {
                    if m.0 == d {
                        m.0 = t;
                    }
                }
            }
        }
    }
    out
}

struct Flattener<'a> {
    program: &'a Program,
    g: &'a FlowGraph,
    alloc: &'a RegAlloc,
    descrs: &'a mut Descrs,
    items: Vec<Item>,
    num_regs: [u16; 3],
    consts_i: Vec<i64>,
    consts_r: Vec<RefConstText>,
    consts_f: Vec<u64>,
    const_i_ix: HashMap<i64, u16>,
    const_f_ix: HashMap<u64, u16>,
    block_label: HashMap<BlockId, Label>,
    next_label: Label,
    /// Out-of-line code emitted after the last block.
    stubs: Vec<(Label, Vec<Insn>)>,
    /// Variables read in each block (by operations, the exit or links):
    /// an inputarg not in here is dead and needs no copy.
    used: HashMap<BlockId, HashSet<Var>>,
    /// The data pointers of virtualizable array fields
    /// ([`virtualizable_arrays`]): their items get virtualizable descrs.
    vable_arrays: HashSet<Var>,
}

fn int_ty(ty: &Ty) -> Option<IntTy> {
    match ty {
        Ty::Int(t) => Some(*t),
        Ty::Bool => Some(IntTy::U8),
        Ty::Char => Some(IntTy::U32),
        _ => None,
    }
}

fn panic_kind(k: &PanicKind) -> RtPanic {
    match k {
        PanicKind::BoundsCheck => RtPanic::BoundsCheck,
        PanicKind::DivideByZero => RtPanic::DivideByZero,
        PanicKind::DivideOverflow => RtPanic::DivideOverflow,
        PanicKind::Unwrap => RtPanic::Unwrap,
        PanicKind::Explicit => RtPanic::Explicit,
    }
}

fn too_many_consts() -> String {
    "more than 0x7fff constants of one kind".to_string()
}

/// The placeholder register of constant `v` in an int or float pool (its
/// values, their indices, its kind), interned.
fn pooled<V: Copy + Eq + Hash>(
    (values, indices, kind): (&mut Vec<V>, &mut HashMap<V, u16>, Kind),
    v: V,
) -> Result<KReg, String> {
    let n = values.len();
    let i = *indices.entry(v).or_insert(n as u16);
    if i as usize == n {
        values.push(v);
    }
    (n < CONST_BASE as usize)
        .then_some(())
        .ok_or_else(too_many_consts)?;
    Ok(KReg {
        kind,
        reg: CONST_BASE + i,
    })
}

/// The comparison of an `int_*` or `float_*` comparison operation.
fn cmp_op(op: &Op) -> CmpOp {
    match op {
        Op::IntEq | Op::FloatEq => CmpOp::Eq,
        Op::IntNe | Op::FloatNe => CmpOp::Ne,
        Op::IntLt | Op::FloatLt => CmpOp::Lt,
        Op::IntLe | Op::FloatLe => CmpOp::Le,
        Op::IntGt | Op::FloatGt => CmpOp::Gt,
        _ => CmpOp::Ge,
    }
}

/// The operation of a binary `int_*` or `bool_*` operation (bools are
/// `u8`s 0 and 1 in registers).
fn int_bin_op(op: &Op) -> IntBinOp {
    match op {
        Op::IntAdd => IntBinOp::Add,
        Op::IntSub => IntBinOp::Sub,
        Op::IntMul => IntBinOp::Mul,
        Op::IntDiv => IntBinOp::Div,
        Op::IntRem => IntBinOp::Rem,
        Op::IntAnd | Op::BoolAnd => IntBinOp::And,
        Op::IntOr | Op::BoolOr => IntBinOp::Or,
        Op::IntXor | Op::BoolXor => IntBinOp::Xor,
        Op::IntShl => IntBinOp::Shl,
        _ => IntBinOp::Shr,
    }
}

/// Flatten graph `g` whose variables have registers `alloc`.
/// The variables holding the data pointer of a virtualizable array field
/// (`fieldaddr` of it, or a block input every link fills with one). The
/// optimizer takes such items to alias no other descr's, so they must be
/// reached only by indexing: any other use of the pointer is an error.
fn virtualizable_arrays(
    g: &FlowGraph,
    order: &[BlockId],
    types: &crate::types::TypeTable,
) -> Result<HashSet<Var>, String> {
    let mut set: HashSet<Var> = HashSet::new();
    for &b in order {
        for op in &g.block(b).operations {
            if let Op::FieldAddr(fr) = &op.op {
                if fr.is_virtualizable(types) && matches!(fr.ty(types), Some(Ty::Array(..))) {
                    set.extend(op.results.first().copied());
                }
            }
        }
    }
    if set.is_empty() {
        return Ok(set);
    }
    let is_vable = |set: &HashSet<Var>, o: &Operand| o.as_var().is_some_and(|v| set.contains(&v));
    loop {
        // Per block input: do all links fill it with such a pointer?
        let mut all: HashMap<Var, bool> = HashMap::new();
        for &b in order {
            for (_, target, link) in g.exits(b) {
                let inputs = &g.block(target).inputargs;
                for (input, arg) in inputs.iter().zip(&link.args) {
                    let e = all.entry(*input).or_insert(true);
                    *e &= is_vable(&set, arg);
                }
            }
        }
        let before = set.len();
        set.extend(all.into_iter().filter(|(_, a)| *a).map(|(v, _)| v));
        if set.len() == before {
            break;
        }
    }
    for &b in order {
        let block = g.block(b);
        for op in &block.operations {
            let indexed = matches!(
                op.op,
                Op::SliceItemAddr(_) | Op::SliceGetItem(_) | Op::SliceSetItem(_)
            );
            for (k, a) in op.args.iter().enumerate() {
                if is_vable(&set, a) && !(indexed && k == 0) {
                    return Err(format!(
                        "{}: {}: a virtualizable array field is used other than by indexing it",
                        g.name,
                        op.op.name()
                    ));
                }
            }
        }
        if block.exit.operands().iter().any(|o| is_vable(&set, o)) {
            return Err(format!(
                "{}: a virtualizable array field's address is returned or tested",
                g.name
            ));
        }
        for (_, target, link) in g.exits(b) {
            let inputs = &g.block(target).inputargs;
            if inputs
                .iter()
                .zip(&link.args)
                .any(|(i, a)| is_vable(&set, a) && !set.contains(i))
            {
                return Err(format!(
                    "{}: a virtualizable array field's address flows where other addresses do",
                    g.name
                ));
            }
        }
    }
    Ok(set)
}

pub(crate) fn flatten(
    program: &Program,
    g: &FlowGraph,
    alloc: &RegAlloc,
    descrs: &mut Descrs,
) -> Result<Flat, String> {
    let order = g.blocks_in_order();
    let vable_arrays = virtualizable_arrays(g, &order, &descrs.asm.types)?;
    let mut f = Flattener {
        program,
        g,
        alloc,
        descrs,
        items: Vec::new(),
        num_regs: alloc.num_regs,
        consts_i: Vec::new(),
        consts_r: Vec::new(),
        consts_f: Vec::new(),
        const_i_ix: HashMap::new(),
        const_f_ix: HashMap::new(),
        block_label: HashMap::new(),
        next_label: 0,
        stubs: Vec::new(),
        used: HashMap::new(),
        vable_arrays,
    };
    for &b in &order {
        let l = f.new_label();
        f.block_label.insert(b, l);
        let block = g.block(b);
        let exit = block.exit.operands().iter();
        let mut used: HashSet<Var> = exit.filter_map(Operand::as_var).collect();
        for op in &block.operations {
            used.extend(op.args.iter().filter_map(Operand::as_var));
        }
        for (_, _, link) in g.exits(b) {
            used.extend(link.args.iter().filter_map(Operand::as_var));
        }
        f.used.insert(b, used);
    }
    for (i, &b) in order.iter().enumerate() {
        f.items.push(Item::Label(f.block_label[&b]));
        for op in &g.block(b).operations {
            f.emit_op(op)
                .map_err(|e| format!("{}: {}: {e}", g.name, op.op.name()))?;
        }
        f.emit_exit(b, order.get(i + 1).copied())
            .map_err(|e| format!("{}: {e}", g.name))?;
    }
    for (label, code) in std::mem::take(&mut f.stubs) {
        f.items.push(Item::Label(label));
        f.items.extend(code.into_iter().map(Item::Insn));
    }
    Ok(Flat {
        items: f.items,
        num_regs: f.num_regs,
        consts_i: f.consts_i,
        consts_r: f.consts_r,
        consts_f: f.consts_f,
    })
}

impl Flattener<'_> {
    fn new_label(&mut self) -> Label {
        self.next_label += 1;
        self.next_label - 1
    }

    fn emit(&mut self, insn: Insn) {
        self.items.push(Item::Insn(insn));
    }

    /// An empty `-live-`, filled by liveness.
    fn live(&mut self) {
        self.emit(Insn::Live { regs: Vec::new() });
    }

    fn const_reg(&mut self, c: &Const) -> Result<KReg, String> {
        let ints = (&mut self.consts_i, &mut self.const_i_ix, Kind::Int);
        match c {
            Const::Int(v, t) => pooled(ints, t.wrap(*v as i128)),
            Const::Bool(b) => pooled(ints, *b as i64),
            Const::Char(ch) => pooled(ints, *ch as u32 as i64),
            Const::F64(bits) => pooled(
                (&mut self.consts_f, &mut self.const_f_ix, Kind::Float),
                *bits,
            ),
            Const::Str(_) | Const::NullRef(_) => {
                let data = match c {
                    Const::Str(s) => RefConstText::Str(s.clone()),
                    _ => RefConstText::Null,
                };
                let i = match self.consts_r.iter().position(|x| *x == data) {
                    Some(i) => i,
                    None => {
                        self.consts_r.push(data);
                        self.consts_r.len() - 1
                    }
                };
                (i < CONST_BASE as usize)
                    .then_some(())
                    .ok_or_else(too_many_consts)?;
                Ok(KReg {
                    kind: Kind::Ref,
                    reg: CONST_BASE + i as u16,
                })
            }
        }
    }

    fn opnd(&mut self, o: &Operand) -> Result<KReg, String> {
        match o {
            Operand::Var(v) => self
                .alloc
                .get(*v)
                .ok_or_else(|| format!("v{} is used but never defined", v.0)),
            Operand::Const(c) => self.const_reg(c),
        }
    }

    /// An operand that must be of kind `kind`.
    fn opnd_k(&mut self, o: &Operand, kind: Kind) -> Result<Reg, String> {
        let r = self.opnd(o)?;
        if r.kind != kind {
            return Err(format!(
                "operand of kind {} where {kind} is expected",
                r.kind
            ));
        }
        Ok(r.reg)
    }

    fn res(&self, v: Var) -> KReg {
        self.alloc.reg(v)
    }

    /// Whether a memory operation's base is a shared reference (`&T`):
    /// then what it reads cannot change under it.
    fn shared(&self, base: &Operand) -> bool {
        matches!(self.ty(base), Ty::Ref { mutable: false, .. } | Ty::Gc(_))
    }

    /// Whether field `fr` is read through a shared reference and cannot
    /// change under it (a cell can).
    fn shared_field(&self, base: &Operand, fr: &crate::flowgraph::FieldRef) -> bool {
        self.shared(base) && !fr.is_cell(&self.descrs.asm.types)
    }

    fn is_vable_array(&self, base: &Operand) -> bool {
        base.as_var()
            .is_some_and(|v| self.vable_arrays.contains(&v))
    }

    fn ty(&self, o: &Operand) -> Ty {
        self.g.operand_ty(o)
    }

    fn emit_op(&mut self, op: &Operation) -> Result<(), String> {
        let arity = |n: usize, r: usize| -> Result<(), String> {
            if op.args.len() != n || op.results.len() != r {
                return Err(format!(
                    "expected {n} arguments and {r} results, found {} and {}",
                    op.args.len(),
                    op.results.len()
                ));
            }
            Ok(())
        };
        use Kind::{Float as F, Int as I, Ref as R};
        match &op.op {
            Op::SameAs => {
                arity(1, 1)?;
                let src = self.opnd(&op.args[0])?;
                let dst = self.res(op.results[0]);
                if src != dst {
                    self.emit(Insn::Copy {
                        kind: dst.kind,
                        src: src.reg,
                        dst: dst.reg,
                    });
                }
            }
            Op::IntAdd
            | Op::IntSub
            | Op::IntMul
            | Op::IntDiv
            | Op::IntRem
            | Op::IntAnd
            | Op::IntOr
            | Op::IntXor
            | Op::IntShl
            | Op::IntShr
            | Op::BoolAnd
            | Op::BoolOr
            | Op::BoolXor => {
                arity(2, 1)?;
                let ty = match op.op {
                    Op::BoolAnd | Op::BoolOr | Op::BoolXor => IntTy::U8,
                    _ => int_ty(self.g.var_ty(op.results[0])).ok_or("result is not an integer")?,
                };
                let a = self.opnd_k(&op.args[0], I)?;
                let b = self.opnd_k(&op.args[1], I)?;
                let dst = self.res(op.results[0]).reg;
                self.emit(Insn::IntBin {
                    op: int_bin_op(&op.op),
                    ty,
                    a,
                    b,
                    dst,
                });
            }
            Op::IntNeg | Op::IntNot => {
                arity(1, 1)?;
                let ty = int_ty(self.g.var_ty(op.results[0])).ok_or("result is not an integer")?;
                let a = self.opnd_k(&op.args[0], I)?;
                let dst = self.res(op.results[0]).reg;
                self.emit(if op.op == Op::IntNeg {
                    Insn::IntNeg { ty, a, dst }
                } else {
                    Insn::IntNot { ty, a, dst }
                });
            }
            Op::IntEq | Op::IntNe | Op::IntLt | Op::IntLe | Op::IntGt | Op::IntGe => {
                arity(2, 1)?;
                let ty = int_ty(&self.ty(&op.args[0])).ok_or("operand is not an integer")?;
                let a = self.opnd_k(&op.args[0], I)?;
                let b = self.opnd_k(&op.args[1], I)?;
                let dst = self.res(op.results[0]).reg;
                self.emit(Insn::IntCmp {
                    op: cmp_op(&op.op),
                    ty,
                    a,
                    b,
                    dst,
                });
            }
            Op::BoolNot => {
                arity(1, 1)?;
                let a = self.opnd_k(&op.args[0], I)?;
                let one = self.const_reg(&Const::Bool(true))?.reg;
                let dst = self.res(op.results[0]).reg;
                self.emit(Insn::IntBin {
                    op: IntBinOp::Xor,
                    ty: IntTy::U8,
                    a,
                    b: one,
                    dst,
                });
            }
            Op::FloatAdd | Op::FloatSub | Op::FloatMul | Op::FloatDiv | Op::FloatRem => {
                arity(2, 1)?;
                let fop = match op.op {
                    Op::FloatAdd => FloatBinOp::Add,
                    Op::FloatSub => FloatBinOp::Sub,
                    Op::FloatMul => FloatBinOp::Mul,
                    Op::FloatDiv => FloatBinOp::Div,
                    _ => FloatBinOp::Rem,
                };
                let a = self.opnd_k(&op.args[0], F)?;
                let b = self.opnd_k(&op.args[1], F)?;
                let dst = self.res(op.results[0]).reg;
                self.emit(Insn::FloatBin { op: fop, a, b, dst });
            }
            Op::FloatNeg => {
                arity(1, 1)?;
                let a = self.opnd_k(&op.args[0], F)?;
                let dst = self.res(op.results[0]).reg;
                self.emit(Insn::FloatNeg { a, dst });
            }
            Op::FloatEq | Op::FloatNe | Op::FloatLt | Op::FloatLe | Op::FloatGt | Op::FloatGe => {
                arity(2, 1)?;
                let a = self.opnd_k(&op.args[0], F)?;
                let b = self.opnd_k(&op.args[1], F)?;
                let dst = self.res(op.results[0]).reg;
                let cop = cmp_op(&op.op);
                self.emit(Insn::FloatCmp { op: cop, a, b, dst });
            }
            Op::Cast => {
                arity(1, 1)?;
                let from = var_scalar(&self.ty(&op.args[0])).ok_or("operand is not a scalar")?;
                let to =
                    var_scalar(self.g.var_ty(op.results[0])).ok_or("result is not a scalar")?;
                let src = self.opnd_k(&op.args[0], from.kind())?;
                let dst = self.res(op.results[0]).reg;
                self.emit(Insn::Cast { from, to, src, dst });
            }
            Op::GetField(fr) => {
                arity(1, 1)?;
                let descr = self.descrs.field(fr, self.shared_field(&op.args[0], fr))?;
                let base = self.opnd_k(&op.args[0], R)?;
                let dst = self.res(op.results[0]).reg;
                self.emit(Insn::GetField { descr, base, dst });
            }
            Op::QuasiImmutGet(fr) => {
                arity(1, 1)?;
                let descr = self.descrs.field(fr, false)?;
                let base = self.opnd_k(&op.args[0], R)?;
                let dst = self.res(op.results[0]).reg;
                self.emit(Insn::QuasiImmutGet { descr, base, dst });
            }
            Op::SetField(fr) => {
                arity(2, 0)?;
                let descr = self.descrs.field(fr, self.shared_field(&op.args[0], fr))?;
                let base = self.opnd_k(&op.args[0], R)?;
                let value = self.opnd(&op.args[1])?.reg;
                self.emit(Insn::SetField { descr, base, value });
            }
            Op::FieldAddr(fr) => {
                arity(1, 1)?;
                let descr = self.descrs.field(fr, self.shared_field(&op.args[0], fr))?;
                let base = self.opnd_k(&op.args[0], R)?;
                let dst = self.res(op.results[0]).reg;
                self.emit(Insn::FieldAddr { descr, base, dst });
            }
            Op::Load => {
                arity(1, 1)?;
                let ty =
                    var_scalar(self.g.var_ty(op.results[0])).ok_or("result is not a scalar")?;
                let addr = self.opnd_k(&op.args[0], R)?;
                let dst = self.res(op.results[0]).reg;
                self.emit(Insn::Load { ty, addr, dst });
            }
            Op::Store => {
                arity(2, 0)?;
                let ty = var_scalar(&self.ty(&op.args[1])).ok_or("stored value is not a scalar")?;
                let addr = self.opnd_k(&op.args[0], R)?;
                let value = self.opnd_k(&op.args[1], ty.kind())?;
                self.emit(Insn::Store { ty, addr, value });
            }
            Op::EnumTag(t) => {
                arity(1, 1)?;
                let descr = self.descrs.enum_(t, self.shared(&op.args[0]))?;
                let addr = self.opnd_k(&op.args[0], R)?;
                let dst = self.res(op.results[0]).reg;
                self.emit(Insn::EnumTag { descr, addr, dst });
            }
            Op::VecLen(t) => {
                arity(1, 1)?;
                let descr =
                    self.descrs
                        .array(Container::Vec, t, self.shared(&op.args[0]), false)?;
                let vec = self.opnd_k(&op.args[0], R)?;
                let dst = self.res(op.results[0]).reg;
                self.emit(Insn::VecLen { descr, vec, dst });
            }
            Op::VecItemAddr(t) | Op::VecGetItem(t) | Op::SliceItemAddr(t) | Op::SliceGetItem(t) => {
                arity(2, 1)?;
                let container = match op.op {
                    Op::VecItemAddr(_) | Op::VecGetItem(_) => Container::Vec,
                    _ => Container::Slice,
                };
                let vable = self.is_vable_array(&op.args[0]);
                let descr = self
                    .descrs
                    .array(container, t, self.shared(&op.args[0]), vable)?;
                let base = self.opnd_k(&op.args[0], R)?;
                let idx = self.opnd_k(&op.args[1], I)?;
                let dst = self.res(op.results[0]).reg;
                self.emit(match op.op {
                    Op::VecItemAddr(_) => Insn::VecItemAddr {
                        descr,
                        vec: base,
                        idx,
                        dst,
                    },
                    Op::VecGetItem(_) => Insn::VecGetItem {
                        descr,
                        vec: base,
                        idx,
                        dst,
                    },
                    Op::SliceItemAddr(_) => Insn::SliceItemAddr {
                        descr,
                        ptr: base,
                        idx,
                        dst,
                    },
                    _ => Insn::SliceGetItem {
                        descr,
                        ptr: base,
                        idx,
                        dst,
                    },
                });
            }
            Op::VecSetItem(t) | Op::SliceSetItem(t) => {
                arity(3, 0)?;
                let container = if matches!(op.op, Op::VecSetItem(_)) {
                    Container::Vec
                } else {
                    Container::Slice
                };
                let vable = self.is_vable_array(&op.args[0]);
                let descr = self
                    .descrs
                    .array(container, t, self.shared(&op.args[0]), vable)?;
                let base = self.opnd_k(&op.args[0], R)?;
                let idx = self.opnd_k(&op.args[1], I)?;
                let value = self.opnd(&op.args[2])?.reg;
                self.emit(if container == Container::Vec {
                    Insn::VecSetItem {
                        descr,
                        vec: base,
                        idx,
                        value,
                    }
                } else {
                    Insn::SliceSetItem {
                        descr,
                        ptr: base,
                        idx,
                        value,
                    }
                });
            }
            Op::VecPush(t) => {
                arity(2, 0)?;
                let descr =
                    self.descrs
                        .array(Container::Vec, t, self.shared(&op.args[0]), false)?;
                let vec = self.opnd_k(&op.args[0], R)?;
                let value = self.opnd(&op.args[1])?.reg;
                // (It may guard on the room, `VecPop*` on emptiness: the
                // guard resumes here.)
                self.live();
                self.emit(Insn::VecPush { descr, vec, value });
            }
            Op::VecPop(t) => {
                if op.results.len() != 2 {
                    return Err(format!(
                        "pop of a Vec<{}> gives {} values; only Vecs of scalars are supported",
                        self.descrs.asm.types.display(t),
                        op.results.len().saturating_sub(1)
                    ));
                }
                arity(1, 2)?;
                let descr =
                    self.descrs
                        .array(Container::Vec, t, self.shared(&op.args[0]), false)?;
                let vec = self.opnd_k(&op.args[0], R)?;
                let tag = self.res(op.results[0]).reg;
                let value = self.res(op.results[1]).reg;
                self.live();
                self.emit(Insn::VecPop {
                    descr,
                    vec,
                    tag,
                    value,
                });
            }
            Op::VecPushSlot(t) => {
                arity(1, 1)?;
                let descr = self.descrs.array(Container::Vec, t, false, false)?;
                let vec = self.opnd_k(&op.args[0], R)?;
                let dst = self.res(op.results[0]).reg;
                self.live();
                self.emit(Insn::VecPushSlot { descr, vec, dst });
            }
            Op::VecPopSlot(t) => {
                arity(1, 2)?;
                let descr = self.descrs.array(Container::Vec, t, false, false)?;
                let vec = self.opnd_k(&op.args[0], R)?;
                let tag = self.res(op.results[0]).reg;
                let dst = self.res(op.results[1]).reg;
                self.live();
                self.emit(Insn::VecPopSlot {
                    descr,
                    vec,
                    tag,
                    dst,
                });
            }
            Op::VecAsSlice(t) => {
                arity(1, 2)?;
                let descr =
                    self.descrs
                        .array(Container::Vec, t, self.shared(&op.args[0]), false)?;
                let vec = self.opnd_k(&op.args[0], R)?;
                let ptr = self.res(op.results[0]).reg;
                let len = self.res(op.results[1]).reg;
                self.emit(Insn::VecAsSlice {
                    descr,
                    vec,
                    ptr,
                    len,
                });
            }
            Op::StringAsStr => {
                arity(1, 2)?;
                let string = self.opnd_k(&op.args[0], R)?;
                let ptr = self.res(op.results[0]).reg;
                let len = self.res(op.results[1]).reg;
                self.emit(Insn::StringAsStr { string, ptr, len });
            }
            Op::Call { callee, kind } => {
                let args = op
                    .args
                    .iter()
                    .map(|a| self.opnd(a))
                    .collect::<Result<Vec<_>, _>>()?;
                let results: Vec<KReg> = op.results.iter().map(|&r| self.res(r)).collect();
                let insn = match kind {
                    CallKind::Residual => Insn::ResidualCall {
                        descr: self.descrs.call(self.program, callee)?,
                        args,
                        results,
                    },
                    _ => {
                        let flavor = match kind {
                            CallKind::Elidable => CallFlavor::Elidable,
                            CallKind::LoopInvariant => CallFlavor::LoopInvariant,
                            _ => CallFlavor::Regular,
                        };
                        Insn::Call {
                            flavor,
                            jitcode: self.descrs.jitcode(callee)?,
                            args,
                            results,
                        }
                    }
                };
                self.live();
                self.emit(insn);
            }
            Op::Helper(Helper::VecTruncate(t)) if self.descrs.asm.types.is_plain_data(t) => {
                arity(2, 0)?;
                let descr = self.descrs.array(Container::Vec, t, false, false)?;
                let vec = self.opnd_k(&op.args[0], R)?;
                let len = self.opnd_k(&op.args[1], I)?;
                self.live();
                self.emit(Insn::VecTruncate { vec, len, descr });
            }
            Op::Helper(h) => {
                let args = op
                    .args
                    .iter()
                    .map(|a| self.opnd(a))
                    .collect::<Result<Vec<_>, _>>()?;
                let results: Vec<KReg> = op.results.iter().map(|&r| self.res(r)).collect();
                let descr = self.descrs.helper(h)?;
                self.live();
                self.emit(Insn::ResidualCall {
                    descr,
                    args,
                    results,
                });
            }
            Op::Promote => {
                arity(1, 1)?;
                let dst = self.res(op.results[0]);
                let src = self.opnd_k(&op.args[0], dst.kind)?;
                self.live();
                self.emit(Insn::Promote {
                    kind: dst.kind,
                    src,
                    dst: dst.reg,
                });
            }
            Op::JitMergePoint { driver } | Op::CanEnterJit { driver, .. } => {
                arity(op.args.len(), 0)?;
                let d = self.descrs.driver(driver)?;
                let args = op
                    .args
                    .iter()
                    .map(|a| self.opnd(a))
                    .collect::<Result<Vec<_>, _>>()?;
                self.live();
                self.emit(match op.op {
                    Op::JitMergePoint { .. } => Insn::MergePoint { driver: d, args },
                    Op::CanEnterJit {
                        function_entry: true,
                        ..
                    } => Insn::FunctionEntry { driver: d, args },
                    _ => Insn::CanEnterJit { driver: d, args },
                });
            }
            Op::WeAreJitted => {
                arity(0, 1)?;
                let dst = self.res(op.results[0]).reg;
                self.emit(Insn::WeAreJitted { dst });
            }
            Op::New(t) | Op::GcNew(t) => {
                arity(0, 1)?;
                let descr = self.descrs.alloc(t, matches!(op.op, Op::GcNew(_)))?;
                let dst = self.res(op.results[0]);
                if dst.kind != R {
                    return Err("the result of new is not a ref".into());
                }
                self.emit(Insn::New {
                    descr,
                    dst: dst.reg,
                });
            }
            Op::Free(t) => {
                arity(1, 0)?;
                let descr = self.descrs.alloc(t, false)?;
                let ptr = self.opnd_k(&op.args[0], R)?;
                self.emit(Insn::Free { descr, ptr });
            }
            Op::VecInit(t) | Op::VecDrop(t) | Op::VecTake(t) => {
                let two = !matches!(op.op, Op::VecDrop(_));
                arity(if two { 2 } else { 1 }, 0)?;
                let descr = self.descrs.array(Container::Vec, t, false, false)?;
                let vec = self.opnd_k(&op.args[0], R)?;
                let insn = match op.op {
                    Op::VecInit(_) => {
                        let len = self.opnd_k(&op.args[1], I)?;
                        Insn::VecInit { vec, len, descr }
                    }
                    Op::VecTake(_) => {
                        let src = self.opnd_k(&op.args[1], R)?;
                        Insn::VecTake {
                            dst: vec,
                            src,
                            descr,
                        }
                    }
                    _ => Insn::VecDrop { vec, descr },
                };
                self.emit(insn);
            }
        }
        Ok(())
    }

    /// The copies that pass `args` to the inputargs of `target`.
    fn link_moves(&mut self, target: BlockId, args: &[Operand]) -> Result<Vec<Insn>, String> {
        let inputs = &self.g.block(target).inputargs;
        if inputs.len() != args.len() {
            return Err(format!(
                "a link carries {} args to a block with {} inputargs",
                args.len(),
                inputs.len()
            ));
        }
        let live: Vec<bool> = inputs
            .iter()
            .map(|p| self.used[&target].contains(p))
            .collect();
        let mut per_kind: [Vec<(Reg, Reg)>; 3] = Default::default();
        for ((arg, &p), live) in args.iter().zip(inputs).zip(live) {
            if !live {
                continue;
            }
            let dst = self.alloc.reg(p);
            let src = self.opnd(arg)?;
            if src.kind != dst.kind {
                return Err(format!(
                    "a link passes a {} value to the {} inputarg v{}",
                    src.kind, dst.kind, p.0
                ));
            }
            per_kind[dst.kind.index()].push((src.reg, dst.reg));
        }
        let mut out = Vec::new();
        for kind in Kind::ALL {
            let moves = &per_kind[kind.index()];
            let busy: HashSet<Reg> = moves.iter().flat_map(|&(s, d)| [s, d]).collect();
            let num_regs = &mut self.num_regs[kind.index()];
            // Only the sources and the destinations are live on a link: any
            // other register may serve as the scratch.
            let mut scratch = || match (0..*num_regs).find(|r| !busy.contains(r)) {
                Some(r) => r,
                None => {
                    *num_regs += 1;
                    *num_regs - 1
                }
            };
            for (src, dst) in parallel_move(moves, &mut scratch) {
                out.push(Insn::Copy { kind, src, dst });
            }
        }
        Ok(out)
    }

    /// Where a jump along a link lands: the target block itself, or a stub
    /// that makes the link's copies first.
    fn link_label(&mut self, target: BlockId, args: &[Operand]) -> Result<Label, String> {
        let moves = self.link_moves(target, args)?;
        let block_label = self.block_label[&target];
        if moves.is_empty() {
            return Ok(block_label);
        }
        let l = self.new_label();
        let mut code = moves;
        code.push(Insn::Goto {
            target: block_label,
        });
        self.stubs.push((l, code));
        Ok(l)
    }

    fn emit_exit(&mut self, b: BlockId, next: Option<BlockId>) -> Result<(), String> {
        let g = self.g;
        let exits = g.exits(b);
        let find = |case: &LinkCase| {
            exits
                .iter()
                .find(|e| e.2.case == *case)
                .map(|e| (e.1, e.2))
                .ok_or_else(|| format!("block without a `{case:?}` link"))
        };
        match &g.block(b).exit {
            Exit::Goto => {
                let (target, link) = find(&LinkCase::Always)?;
                let moves = self.link_moves(target, &link.args)?;
                self.items.extend(moves.into_iter().map(Item::Insn));
                if next != Some(target) {
                    let target = self.block_label[&target];
                    self.emit(Insn::Goto { target });
                }
            }
            Exit::Branch { cond } => {
                let (t_block, t_link) = find(&LinkCase::True)?;
                let (f_block, f_link) = find(&LinkCase::False)?;
                let cond = self.opnd_k(cond, Kind::Int)?;
                let f_label = self.link_label(f_block, &f_link.args)?;
                self.live();
                self.emit(Insn::GotoIfNot {
                    cond,
                    target: f_label,
                });
                let moves = self.link_moves(t_block, &t_link.args)?;
                self.items.extend(moves.into_iter().map(Item::Insn));
                if next != Some(t_block) {
                    let target = self.block_label[&t_block];
                    self.emit(Insn::Goto { target });
                }
            }
            Exit::Switch { value } => {
                let value = self.opnd_k(value, Kind::Int)?;
                let mut cases = Vec::new();
                let mut default = None;
                for (_, target, link) in &exits {
                    let l = self.link_label(*target, &link.args)?;
                    match link.case {
                        LinkCase::Value(v) => cases.push((v, l)),
                        LinkCase::Default => default = Some(l),
                        ref other => return Err(format!("switch with a `{other:?}` link")),
                    }
                }
                let default = match default {
                    Some(l) => l,
                    None => {
                        // An exhaustive switch: the default is unreachable.
                        let l = self.new_label();
                        let message = self
                            .descrs
                            .string("internal error: entered unreachable code")?;
                        self.stubs.push((
                            l,
                            vec![Insn::Panic {
                                kind: RtPanic::Explicit,
                                message,
                            }],
                        ));
                        l
                    }
                };
                self.live();
                self.emit(Insn::Switch {
                    value,
                    cases,
                    default,
                });
            }
            Exit::Return { values } => {
                let values = values
                    .iter()
                    .map(|v| self.opnd(v))
                    .collect::<Result<Vec<_>, _>>()?;
                self.emit(Insn::Return { values });
            }
            Exit::Panic { kind, message } => {
                let message = self.descrs.string(message)?;
                self.emit(Insn::Panic {
                    kind: panic_kind(kind),
                    message,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::parallel_move;

    /// Run the sequenced copies on a register file and return it.
    fn run(moves: &[(u16, u16)], scratch: u16) -> (Vec<(u16, u16)>, Vec<u32>) {
        let mut asked = 0;
        let seq = parallel_move(moves, &mut || {
            asked += 1;
            scratch
        });
        assert!(asked <= 1, "scratch asked for {asked} times");
        let mut regs: Vec<u32> = (0..16).map(|r| 100 + r).collect();
        for &(s, d) in &seq {
            regs[d as usize] = regs[s as usize];
        }
        (seq, regs)
    }

    #[test]
    fn chain_is_ordered() {
        // r1 -> r2 and r0 -> r1 at once: r2 must be written first.
        let (seq, regs) = run(&[(0, 1), (1, 2)], 9);
        assert_eq!(seq, [(1, 2), (0, 1)]);
        assert_eq!(&regs[..3], &[100, 100, 101]);
    }

    #[test]
    fn swap_goes_through_scratch() {
        let (seq, regs) = run(&[(0, 1), (1, 0)], 5);
        assert_eq!(seq.len(), 3);
        assert!(seq.iter().any(|&(_, d)| d == 5), "{seq:?}");
        assert_eq!(&regs[..2], &[101, 100]);
    }

    #[test]
    fn rotation_and_identity() {
        let (seq, regs) = run(&[(0, 1), (1, 2), (2, 0), (3, 3), (3, 4)], 7);
        assert_eq!(seq.len(), 5, "{seq:?}");
        assert_eq!(&regs[..5], &[102, 100, 101, 103, 103]);
    }
}
