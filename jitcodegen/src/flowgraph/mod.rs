//! The flow-graph IR: one graph per translated function.
//!
//! As in RPython's flow graphs, a graph is made of blocks; each block has
//! typed input variables, a list of operations in SSA form, and an exit
//! (goto, two-way branch, switch, return or panic) whose links carry
//! arguments to the input variables of the target blocks. A block uses only
//! its own input variables and the results of its own earlier operations:
//! every value crossing a block boundary goes through a link. That makes
//! liveness local and gives the codewriter its `-live-` sets directly.
//!
//! Every variable is a scalar (int-like, `f64`, or a thin reference); the
//! front end explodes aggregates into their leaves (`TypeTable::flatten`).
//! Panics and failed bounds checks are explicit exits, so the codewriter and
//! the tracer see every way a function can leave.

mod dot;
mod helpers;
mod printer;
mod repair;
mod simplify;
mod verify;

pub use dot::to_dot;
pub use helpers::Helper;
pub use printer::print_graph;
pub use printer::print_program;
pub use repair::repair_cross_block_uses;
pub use simplify::simplify;
pub use verify::{verify, VerifyError};

use crate::types::{AdtId, AdtKind, IntTy, Ty, TypeTable};
use petgraph::stable_graph::{EdgeIndex, NodeIndex, StableDiGraph};
use petgraph::visit::EdgeRef;
use petgraph::Direction;
use std::collections::HashMap;

/// A flow-graph variable: defined once, as a block input or an operation result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Var(pub u32);

pub type BlockId = NodeIndex;

#[derive(Clone, Debug, PartialEq)]
pub enum Const {
    /// Integer constant, sign- or zero-extended to 64 bits by its type.
    Int(i64, IntTy),
    Bool(bool),
    Char(char),
    /// `f64` constant, by its bits so that constants compare exactly.
    F64(u64),
    /// The data pointer of a string literal (its length is a separate `usize`).
    Str(String),
    /// A reference that is never read: the unused payload slots of an
    /// exploded enum, for instance.
    NullRef(Ty),
}

impl Const {
    pub fn ty(&self) -> Ty {
        match self {
            Const::Int(_, t) => Ty::Int(*t),
            Const::Bool(_) => Ty::Bool,
            Const::Char(_) => Ty::Char,
            Const::F64(_) => Ty::F64,
            Const::Str(_) => Ty::reference(false, Ty::Str),
            Const::NullRef(t) => t.clone(),
        }
    }

    /// The zero value of a scalar type, for slots that are never read.
    pub fn zero(ty: &Ty) -> Const {
        match ty {
            Ty::Int(t) => Const::Int(0, *t),
            Ty::Bool => Const::Bool(false),
            Ty::Char => Const::Char('\0'),
            Ty::F64 => Const::F64(0),
            other => Const::NullRef(other.clone()),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    Var(Var),
    Const(Const),
}

impl From<Var> for Operand {
    fn from(v: Var) -> Operand {
        Operand::Var(v)
    }
}

impl From<Const> for Operand {
    fn from(c: Const) -> Operand {
        Operand::Const(c)
    }
}

impl Operand {
    pub fn as_var(&self) -> Option<Var> {
        match self {
            Operand::Var(v) => Some(*v),
            Operand::Const(_) => None,
        }
    }

    /// Replace the operand by the one `map` gives its variable, if any.
    pub(crate) fn substitute(&mut self, map: &HashMap<Var, Operand>) {
        if let Operand::Var(v) = self {
            if let Some(new) = map.get(v) {
                *self = new.clone();
            }
        }
    }
}

/// The fields of a `GcCell<T>` (`FieldRef`s with the owner `Ty::GcCell`),
/// in the order of its `repr(C)` layout.
pub const GCCELL_BORROW: u32 = 0;
pub const GCCELL_LOGGED: u32 = 1;
pub const GCCELL_VALUE: u32 = 2;
/// The fields of a `QuasiImmut<T>` (owner `Ty::QuasiImmut`).
pub const QUASIIMMUT_WATCHED: u32 = 0;
pub const QUASIIMMUT_VALUE: u32 = 1;

/// A field reached through a reference: of a struct (`variant == None`), of
/// one variant of an enum, or of a tuple type stored in memory.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FieldRef {
    /// The type that holds the field (an `Adt` or a `Tuple`).
    pub owner: Ty,
    pub variant: Option<u32>,
    pub index: u32,
}

impl FieldRef {
    /// The tag of an enum with a primitive representation
    /// (`AdtDef::tag`): `variant` `None` on an enum.
    pub fn tag(owner: &Ty) -> FieldRef {
        FieldRef {
            owner: owner.clone(),
            variant: None,
            index: 0,
        }
    }

    /// The field's type: a struct's, a variant's or a tuple's field, or
    /// an enum's tag (`FieldRef::tag`); `None` when there is no such field.
    /// A `Cell<T>` field is its `T` (`repr(transparent)`): reads and writes
    /// of the cell are reads and writes of this field (`is_cell`).
    pub fn ty(&self, types: &TypeTable) -> Option<Ty> {
        match self.declared_ty(types)? {
            Ty::Cell(t) => Some(*t),
            t => Some(t),
        }
    }

    /// Whether the field is a `Cell` (or a `GcCell`'s part): it changes
    /// behind shared references, so it never gets an immutable descr.
    pub fn is_cell(&self, types: &TypeTable) -> bool {
        matches!(self.owner, Ty::GcCell(_) | Ty::QuasiImmut(_))
            || matches!(
                self.declared_ty(types),
                Some(Ty::Cell(_) | Ty::GcCell(_) | Ty::QuasiImmut(_))
            )
    }

    /// A field of a struct's `#[virtualizable]` list (`FieldDef::virtualizable`).
    pub fn is_virtualizable(&self, types: &TypeTable) -> bool {
        match (&self.owner, self.variant) {
            (Ty::Adt(id), None) => types.adts.get(id.0 as usize).is_some_and(|adt| {
                adt.fields()
                    .get(self.index as usize)
                    .is_some_and(|f| f.virtualizable)
            }),
            _ => false,
        }
    }

    /// The field's type as declared.
    fn declared_ty(&self, types: &TypeTable) -> Option<Ty> {
        match &self.owner {
            Ty::Adt(id) => {
                let adt = types.adts.get(id.0 as usize)?;
                let fields = match (&adt.kind, self.variant) {
                    (AdtKind::Struct { fields, .. }, None) => fields,
                    (AdtKind::Enum { .. }, None) => return adt.tag.map(|t| Ty::Int(t.int)),
                    (AdtKind::Enum { variants }, Some(v)) => &variants.get(v as usize)?.fields,
                    _ => return None,
                };
                Some(fields.get(self.index as usize)?.ty.clone())
            }
            Ty::Tuple(items) if self.variant.is_none() => items.get(self.index as usize).cloned(),
            Ty::GcCell(t) if self.variant.is_none() => match self.index {
                GCCELL_BORROW => Some(Ty::Int(IntTy::Isize)),
                GCCELL_LOGGED => Some(Ty::Bool),
                GCCELL_VALUE => Some((**t).clone()),
                _ => None,
            },
            Ty::QuasiImmut(t) if self.variant.is_none() => match self.index {
                QUASIIMMUT_WATCHED => Some(Ty::usize()),
                QUASIIMMUT_VALUE => Some((**t).clone()),
                _ => None,
            },
            // The payloads of `Some`, `Ok` and `Err`.
            Ty::Option(t) if self.variant == Some(1) && self.index == 0 => Some((**t).clone()),
            Ty::Result(a, b) if self.index == 0 => match self.variant {
                Some(0) => Some((**a).clone()),
                Some(1) => Some((**b).clone()),
                _ => None,
            },
            _ => None,
        }
    }
}

/// How a call is made; decided from the callee's hints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallKind {
    /// A translated function: inlined by the tracer.
    Regular,
    /// `#[dont_look_inside]`: always a residual call through a shim.
    Residual,
    /// `#[elidable]`: pure, folded when the arguments are constants.
    Elidable,
    /// `#[loop_invariant]`: computed once per loop.
    LoopInvariant,
}

/// Why a function panics; the message is what the native code would print.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PanicKind {
    BoundsCheck,
    DivideByZero,
    /// `i64::MIN / -1` and `%` likewise: a panic even in release builds.
    DivideOverflow,
    /// `unwrap()` on `None` or `Err`, `expect`.
    Unwrap,
    /// `panic!`, `unreachable!`, `assert!` and the like.
    Explicit,
}

/// The operations. Operand and result types are those of the variables; an
/// operation's static data (a field, a callee) is carried here.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Copy a value (the front end uses it to give a constant a variable).
    SameAs,
    // Integer arithmetic, wrapping as in release builds. Operands and result
    // share one int type; comparisons give `bool` and compare by signedness.
    IntAdd,
    IntSub,
    IntMul,
    /// Divisor already checked against zero and overflow by the front end.
    IntDiv,
    IntRem,
    IntAnd,
    IntOr,
    IntXor,
    /// Shift amounts are taken modulo the bit width, as `wrapping_shl` does.
    IntShl,
    IntShr,
    IntNeg,
    IntNot,
    IntEq,
    IntNe,
    IntLt,
    IntLe,
    IntGt,
    IntGe,
    /// `bool` logic (short-circuit `&&`/`||` are control flow instead).
    BoolNot,
    BoolAnd,
    BoolOr,
    BoolXor,
    FloatAdd,
    FloatSub,
    FloatMul,
    FloatDiv,
    FloatRem,
    FloatNeg,
    FloatEq,
    FloatNe,
    FloatLt,
    FloatLe,
    FloatGt,
    FloatGe,
    /// `as` between scalar types, with Rust's semantics (float to int saturates).
    Cast,
    /// Read a scalar field through a reference.
    GetField(FieldRef),
    /// `QuasiImmut::get`: args (the `QuasiImmut`'s address); the field is
    /// its value (`QUASIIMMUT_VALUE`). A constant in traces that know the
    /// address.
    QuasiImmutGet(FieldRef),
    /// Write a scalar field through a reference: args (base, value).
    SetField(FieldRef),
    /// The address of a field (for nested aggregates and `&x.f`).
    FieldAddr(FieldRef),
    /// Read the scalar behind a reference: `*r`.
    Load,
    /// Write the scalar behind a reference: args (address, value).
    Store,
    /// The discriminant (variant index) of an enum, `Option` or `Result` in memory.
    EnumTag(Ty),
    /// `v.len()` of the `Vec<T>` behind a reference.
    VecLen(Ty),
    /// Address of item `i` of a `Vec<T>`, bounds already checked: args (vec, i).
    VecItemAddr(Ty),
    /// Read item `i` of a `Vec<T>` of scalars, bounds already checked.
    VecGetItem(Ty),
    /// Write item `i` of a `Vec<T>` of scalars: args (vec, i, value).
    VecSetItem(Ty),
    /// `v.push(x)` on a `Vec<T>` of scalars: args (vec, value).
    VecPush(Ty),
    /// `v.pop()`: args (vec); results (tag, value) as an exploded `Option<T>`.
    VecPop(Ty),
    /// `v.push(x)` of an item of any type, in place: args (vec); result
    /// the address of the new item, uninitialized (the stores that follow
    /// fill it).
    VecPushSlot(Ty),
    /// `v.pop()` of an item of any type, in place: args (vec); results
    /// (tag `u32`: 1, or 0 when the Vec was empty; the address of the
    /// popped item, still in place, or null).
    VecPopSlot(Ty),
    /// Address of item `i` of a slice or array given by its data pointer.
    SliceItemAddr(Ty),
    /// Read item `i` of a slice or array of scalars given by its data pointer.
    SliceGetItem(Ty),
    /// Write item `i` of a slice or array of scalars: args (ptr, i, value).
    SliceSetItem(Ty),
    /// Data pointer and length of the `Vec<T>` behind a reference, as a slice.
    VecAsSlice(Ty),
    /// Data pointer and length of the `String` behind a reference, as a `&str`.
    StringAsStr,
    /// Call a function of the crate by its path. Results are the exploded
    /// return value.
    Call {
        callee: String,
        kind: CallKind,
    },
    /// `promote(x)`: the tracer turns it into a guard_value.
    Promote,
    /// `jit_merge_point!()`: args are the greens then the reds, exploded.
    JitMergePoint {
        driver: String,
    },
    /// `can_enter_jit!()`: same arguments as the merge point; with
    /// `function_entry`, `jit_function_entry!()` (counted with
    /// `function_threshold`; a separate jitcode instruction).
    CanEnterJit {
        driver: String,
        function_entry: bool,
    },
    /// `we_are_jitted()`: false natively and when blackholing, true in traces.
    WeAreJitted,
    /// `Box::new`: fresh, uninitialized memory for one value of type `T`;
    /// the result is the `Box<T>` (for `T` = `Vec<E>`: a Vec value, which
    /// traced code keeps in a box of its own). The stores that follow
    /// fill it.
    New(Ty),
    /// `Gc::new`: a fresh object of type `T` on the GC heap, its value
    /// zeroed (so that a collection before the stores that follow sees no
    /// stale pointer); the result is the `Gc<T>`. Never freed by traced
    /// code.
    GcNew(Ty),
    /// Drop a `Box<T>`: drop what it holds (for a type that owns heap
    /// memory), then free its memory; nothing when the argument is null (a
    /// box moved out of its local leaves null behind). `Free(Vec<T>)` is
    /// the drop of a Vec value (its box).
    Free(Ty),
    /// `Vec::with_capacity(n)` of `T` items (`Vec::new()`: `n` 0) written
    /// into the memory at the first argument, which holds no Vec: the box
    /// of a fresh Vec value (`new` of `Vec<T>` before it; docs/values.md).
    /// Args (vec, n).
    VecInit(Ty),
    /// Drop the `Vec<T>` at the argument in place (an overwritten field's
    /// old value).
    VecDrop(Ty),
    /// Move the `Vec<T>` at the second argument to the first (memory that
    /// holds no Vec), leaving an empty Vec behind: a Vec value moved into a
    /// field or a box; its own box is freed after.
    VecTake(Ty),
    /// A std operation done by a generated native helper (`Helper`), a
    /// residual call: args and results are the exploded parameters and
    /// result of `Helper::params` and `Helper::ret`.
    Helper(Helper),
}

impl Op {
    pub fn name(&self) -> &'static str {
        match self {
            Op::SameAs => "same_as",
            Op::IntAdd => "int_add",
            Op::IntSub => "int_sub",
            Op::IntMul => "int_mul",
            Op::IntDiv => "int_div",
            Op::IntRem => "int_rem",
            Op::IntAnd => "int_and",
            Op::IntOr => "int_or",
            Op::IntXor => "int_xor",
            Op::IntShl => "int_shl",
            Op::IntShr => "int_shr",
            Op::IntNeg => "int_neg",
            Op::IntNot => "int_not",
            Op::IntEq => "int_eq",
            Op::IntNe => "int_ne",
            Op::IntLt => "int_lt",
            Op::IntLe => "int_le",
            Op::IntGt => "int_gt",
            Op::IntGe => "int_ge",
            Op::BoolNot => "bool_not",
            Op::BoolAnd => "bool_and",
            Op::BoolOr => "bool_or",
            Op::BoolXor => "bool_xor",
            Op::FloatAdd => "float_add",
            Op::FloatSub => "float_sub",
            Op::FloatMul => "float_mul",
            Op::FloatDiv => "float_div",
            Op::FloatRem => "float_rem",
            Op::FloatNeg => "float_neg",
            Op::FloatEq => "float_eq",
            Op::FloatNe => "float_ne",
            Op::FloatLt => "float_lt",
            Op::FloatLe => "float_le",
            Op::FloatGt => "float_gt",
            Op::FloatGe => "float_ge",
            Op::Cast => "cast",
            Op::GetField(_) => "getfield",
            Op::QuasiImmutGet(_) => "quasiimmut_get",
            Op::SetField(_) => "setfield",
            Op::FieldAddr(_) => "fieldaddr",
            Op::Load => "load",
            Op::Store => "store",
            Op::EnumTag(_) => "enum_tag",
            Op::VecLen(_) => "vec_len",
            Op::VecItemAddr(_) => "vec_itemaddr",
            Op::VecGetItem(_) => "vec_getitem",
            Op::VecSetItem(_) => "vec_setitem",
            Op::VecPush(_) => "vec_push",
            Op::VecPop(_) => "vec_pop",
            Op::VecPushSlot(_) => "vec_push_slot",
            Op::VecPopSlot(_) => "vec_pop_slot",
            Op::SliceItemAddr(_) => "slice_itemaddr",
            Op::SliceGetItem(_) => "slice_getitem",
            Op::SliceSetItem(_) => "slice_setitem",
            Op::VecAsSlice(_) => "vec_as_slice",
            Op::StringAsStr => "string_as_str",
            Op::Call { kind, .. } => match kind {
                CallKind::Regular => "call",
                CallKind::Residual => "residual_call",
                CallKind::Elidable => "elidable_call",
                CallKind::LoopInvariant => "loopinvariant_call",
            },
            Op::Promote => "promote",
            Op::JitMergePoint { .. } => "jit_merge_point",
            Op::CanEnterJit {
                function_entry: false,
                ..
            } => "can_enter_jit",
            Op::CanEnterJit {
                function_entry: true,
                ..
            } => "jit_function_entry",
            Op::WeAreJitted => "we_are_jitted",
            Op::New(_) => "new",
            Op::GcNew(_) => "gc_new",
            Op::Free(_) => "free",
            Op::VecInit(_) => "vec_init",
            Op::VecDrop(_) => "vec_drop",
            Op::VecTake(_) => "vec_take",
            Op::Helper(_) => "helper_call",
        }
    }

    /// Operations without side effects whose result may be dropped if unused.
    /// (`New` is one: an unused allocation may go; it is never a value to
    /// share between two uses, were a CSE pass ever added.)
    pub fn is_pure(&self) -> bool {
        !matches!(
            self,
            Op::SetField(_)
                | Op::Store
                | Op::VecSetItem(_)
                | Op::VecPush(_)
                | Op::VecPop(_)
                | Op::VecPushSlot(_)
                | Op::VecPopSlot(_)
                | Op::SliceSetItem(_)
                | Op::Call { .. }
                | Op::Helper(_)
                | Op::Promote
                | Op::JitMergePoint { .. }
                | Op::CanEnterJit { .. }
                | Op::Free(_)
                | Op::VecInit(_)
                | Op::VecDrop(_)
                | Op::VecTake(_)
        )
    }
}

/// A position in the interpreter's source, kept on operations for the JIT
/// log and for diagnostics found after lowering.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SrcLoc {
    pub line: u32,
    pub col: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Operation {
    pub op: Op,
    pub args: Vec<Operand>,
    pub results: Vec<Var>,
    pub loc: SrcLoc,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Exit {
    /// One outgoing link, `LinkCase::Always`.
    Goto,
    /// Two outgoing links, `True` and `False`; `cond` is a `bool`.
    Branch {
        cond: Operand,
    },
    /// Links with `Value` cases and at most one `Default`.
    Switch {
        value: Operand,
    },
    Return {
        values: Vec<Operand>,
    },
    Panic {
        kind: PanicKind,
        message: String,
    },
}

impl Exit {
    /// The operands the exit reads itself (not those of its links).
    pub fn operands(&self) -> &[Operand] {
        match self {
            Exit::Branch { cond } => std::slice::from_ref(cond),
            Exit::Switch { value } => std::slice::from_ref(value),
            Exit::Return { values } => values,
            Exit::Goto | Exit::Panic { .. } => &[],
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub inputargs: Vec<Var>,
    pub operations: Vec<Operation>,
    pub exit: Exit,
}

impl Block {
    /// The operands the block's operations and exit read (not its links').
    pub(crate) fn uses_mut(&mut self) -> impl Iterator<Item = &mut Operand> {
        let exit: &mut [Operand] = match &mut self.exit {
            Exit::Branch { cond } => std::slice::from_mut(cond),
            Exit::Switch { value } => std::slice::from_mut(value),
            Exit::Return { values } => values,
            Exit::Goto | Exit::Panic { .. } => &mut [],
        };
        let ops = self.operations.iter_mut();
        ops.flat_map(|op| op.args.iter_mut()).chain(exit)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LinkCase {
    Always,
    True,
    False,
    Value(i64),
    Default,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    pub case: LinkCase,
    pub args: Vec<Operand>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct VarData {
    pub ty: Ty,
    /// The Rust name the variable came from, if any (for the printer and dot).
    pub name: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub name: String,
    pub ty: Ty,
}

/// One translated function.
#[derive(Clone, Debug)]
pub struct FlowGraph {
    /// Path of the function from the crate root, e.g. `interp::Machine::step`.
    pub name: String,
    pub params: Vec<Param>,
    pub ret: Ty,
    /// The exploded return type: what every `Return` exit carries.
    pub ret_leaves: Vec<Ty>,
    pub graph: StableDiGraph<Block, Link>,
    pub start: BlockId,
    pub vars: Vec<VarData>,
}

impl FlowGraph {
    pub fn new(name: impl Into<String>, params: Vec<Param>, ret: Ty, ret_leaves: Vec<Ty>) -> Self {
        let mut g = FlowGraph {
            name: name.into(),
            params,
            ret,
            ret_leaves,
            graph: StableDiGraph::new(),
            start: NodeIndex::end(),
            vars: Vec::new(),
        };
        g.start = g.new_block(Vec::new());
        g
    }

    pub fn new_var(&mut self, ty: Ty, name: Option<&str>) -> Var {
        self.vars.push(VarData {
            ty,
            name: name.map(str::to_owned),
        });
        Var(self.vars.len() as u32 - 1)
    }

    pub fn var_ty(&self, v: Var) -> &Ty {
        &self.vars[v.0 as usize].ty
    }

    pub fn operand_ty(&self, o: &Operand) -> Ty {
        match o {
            Operand::Var(v) => self.var_ty(*v).clone(),
            Operand::Const(c) => c.ty(),
        }
    }

    pub fn new_block(&mut self, inputargs: Vec<Var>) -> BlockId {
        self.graph.add_node(Block {
            inputargs,
            operations: Vec::new(),
            exit: Exit::Return { values: Vec::new() },
        })
    }

    pub fn block(&self, b: BlockId) -> &Block {
        &self.graph[b]
    }

    pub fn block_mut(&mut self, b: BlockId) -> &mut Block {
        &mut self.graph[b]
    }

    /// Replace the variables `map` names in block `b`'s operations, exit
    /// and outgoing links.
    pub(crate) fn substitute(&mut self, b: BlockId, map: &HashMap<Var, Operand>) {
        self.graph[b].uses_mut().for_each(|o| o.substitute(map));
        let out: Vec<EdgeIndex> = self
            .graph
            .edges_directed(b, Direction::Outgoing)
            .map(|e| e.id())
            .collect();
        for e in out {
            self.graph[e]
                .args
                .iter_mut()
                .for_each(|o| o.substitute(map));
        }
    }

    pub fn add_link(
        &mut self,
        from: BlockId,
        to: BlockId,
        case: LinkCase,
        args: Vec<Operand>,
    ) -> EdgeIndex {
        self.graph.add_edge(from, to, Link { case, args })
    }

    /// Outgoing links of a block, sorted by case (True before False, values
    /// ascending, default last) so that printing is deterministic.
    pub fn exits(&self, b: BlockId) -> Vec<(EdgeIndex, BlockId, &Link)> {
        let mut out: Vec<_> = self
            .graph
            .edges_directed(b, Direction::Outgoing)
            .map(|e| (e.id(), e.target(), e.weight()))
            .collect();
        out.sort_by(|a, b| a.2.case.cmp(&b.2.case).then(a.0.cmp(&b.0)));
        out
    }

    pub fn predecessors(&self, b: BlockId) -> Vec<BlockId> {
        let mut out: Vec<_> = self
            .graph
            .edges_directed(b, Direction::Incoming)
            .map(|e| e.source())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Blocks in reverse postorder from the start block (the printing order).
    pub fn blocks_in_order(&self) -> Vec<BlockId> {
        let mut post = Vec::new();
        let mut seen = std::collections::HashSet::new();
        // Iterative DFS keeping each block's successors in exit order.
        let mut stack: Vec<(BlockId, usize)> = vec![(self.start, 0)];
        seen.insert(self.start);
        while let Some((b, i)) = stack.pop() {
            // Successors explored last come first in reverse postorder: walk
            // them backwards so that `true` prints before `false`, values
            // before `default`.
            let succs: Vec<BlockId> = self.exits(b).iter().rev().map(|e| e.1).collect();
            if i < succs.len() {
                stack.push((b, i + 1));
                let s = succs[i];
                if seen.insert(s) {
                    stack.push((s, 0));
                }
            } else {
                post.push(b);
            }
        }
        post.reverse();
        post
    }

    /// Number of live blocks.
    pub fn block_count(&self) -> usize {
        self.graph.node_count()
    }
}

/// Everything the front end produced for one crate: the type table and one
/// graph per function reachable from the portals, plus the driver metadata.
#[derive(Clone, Debug, Default)]
pub struct Program {
    pub types: TypeTable,
    pub graphs: Vec<FlowGraph>,
    pub drivers: Vec<DriverInfo>,
    /// `#[dont_look_inside]` functions called from traced code: their
    /// signatures (the bodies stay native).
    pub residuals: Vec<ResidualInfo>,
    /// The crate's types the glue implements `Trace` (and `GcType`) for.
    pub gc_types: Vec<GcTypeRequest>,
}

/// A type of the crate that lives on the GC heap or inside a GC object:
/// the glue implements `metatrace::gc::Trace` (its precise scanning
/// function) and, for a type allocated with `Gc::new`, `GcType`, for
/// whichever of the two the crate does not implement itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GcTypeRequest {
    pub adt: AdtId,
    pub trace: bool,
    pub gc_type: bool,
}

impl Program {
    pub fn graph(&self, name: &str) -> Option<&FlowGraph> {
        self.graphs.iter().find(|g| g.name == name)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct DriverInfo {
    /// The portal function's path.
    pub portal: String,
    pub greens: Vec<Param>,
    pub reds: Vec<Param>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ResidualInfo {
    pub path: String,
    pub params: Vec<Param>,
    pub ret: Ty,
}

/// Convenience for the printer and tests.
pub fn adt_field_name(types: &TypeTable, field: &FieldRef) -> String {
    match &field.owner {
        Ty::Adt(id) => {
            let adt = types.adt(*id);
            match field.variant {
                None if adt.is_enum() => format!("{}.tag", adt.name),
                None => {
                    let f = adt.fields().get(field.index as usize);
                    format!("{}.{}", adt.name, f.map(|f| f.name.as_str()).unwrap_or("?"))
                }
                Some(v) => {
                    let var = adt.variants().get(v as usize);
                    let fname = var
                        .and_then(|var| var.fields.get(field.index as usize))
                        .map(|f| f.name.as_str())
                        .unwrap_or("?");
                    format!(
                        "{}::{}.{}",
                        adt.name,
                        var.map(|v| v.name.as_str()).unwrap_or("?"),
                        fname
                    )
                }
            }
        }
        Ty::GcCell(_) => {
            let part = match field.index {
                GCCELL_BORROW => "borrow",
                GCCELL_LOGGED => "logged",
                _ => "value",
            };
            format!("{}.{part}", types.display(&field.owner))
        }
        Ty::QuasiImmut(_) => {
            let part = match field.index {
                QUASIIMMUT_WATCHED => "watched",
                _ => "value",
            };
            format!("{}.{part}", types.display(&field.owner))
        }
        other => format!("{}.{}", types.display(other), field.index),
    }
}
