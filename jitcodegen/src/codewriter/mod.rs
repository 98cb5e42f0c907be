//! The codewriter: flow graphs become jitcodes (RPython's
//! `rpython/jit/codewriter`).
//!
//! Per graph: register allocation per kind with link arguments coalesced
//! (`regalloc`), flattening into linear code with labels, parallel moves
//! for the link arguments that were not coalesced and constant pools
//! (`flatten`), `-live-` markers filled by backward liveness over the
//! flattened code (`liveness`), and assembly into `Insn`s with labels
//! resolved, interning every descr the code needs into the crate-wide
//! tables below (`assembler`, `descrs`). Once every descr is known, each
//! residual call gets its effect summary (`effects`). The result,
//! `Assembly`, is checked with the runtime's jitcode verifier, printed by
//! `Assembly::print` (`display`), and rendered as Rust static data by
//! `glue`.

mod assembler;
mod descrs;
mod display;
mod effects;
mod flatten;
mod liveness;
pub mod regalloc;

pub use flatten::parallel_move;
/// The jitcode format the codewriter produces (the runtime's), re-exported
/// for users of the codewriter that do not depend on the runtime.
pub use metatrace_runtime::jitcode;

use crate::flowgraph::{FieldRef, Helper, Program};
use crate::types::{Ty, TypeTable};
pub use metatrace_runtime::jitcode::RefConstText;
use metatrace_runtime::jitcode::{Insn, KReg, Kind, ScalarTy};

/// One jitcode, owned (the static `JitCode` is generated from it).
#[derive(Clone, Debug, PartialEq)]
pub struct JitCodeData {
    pub name: String,
    pub insns: Vec<Insn>,
    pub num_regs: [u16; 3],
    pub consts_i: Vec<i64>,
    pub consts_r: Vec<RefConstText>,
    /// Float constants by their bits.
    pub consts_f: Vec<u64>,
    pub args: Vec<KReg>,
    pub results: Vec<Kind>,
}

/// A field descr the jitcodes use (`Tables::fields[i]`).
#[derive(Clone, Debug, PartialEq)]
pub struct FieldRequest {
    pub field: FieldRef,
    /// The field's type.
    pub ty: Ty,
    /// Accessed through a shared reference: reads from a constant base
    /// may be folded by the tracer (`FieldDescr::immutable`).
    pub immutable: bool,
    /// A scalar field kept in registers (`FieldDef::virtualizable`).
    pub virtualizable: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Container {
    Vec,
    /// Slice or array data reached by a data pointer.
    Slice,
}

/// An array descr (`Tables::arrays[i]`).
#[derive(Clone, Debug, PartialEq)]
pub struct ArrayRequest {
    pub container: Container,
    pub item: Ty,
    /// See `FieldRequest::immutable`.
    pub immutable: bool,
    /// The items of a virtualizable array field, reached through it
    /// (`ArrayDescr::virtualizable`).
    pub virtualizable: bool,
}

/// An enum-like type read with EnumTag (`Tables::enums[i]`).
#[derive(Clone, Debug, PartialEq)]
pub struct EnumRequest {
    pub ty: Ty,
    /// See `FieldRequest::immutable`.
    pub immutable: bool,
}

/// A residual call (`Tables::calls[i]`): a `#[dont_look_inside]` function.
#[derive(Clone, Debug, PartialEq)]
pub struct CallRequest {
    /// Path from the crate root (for a helper, its name).
    pub path: String,
    /// A generated helper rather than a function of the crate.
    pub helper: Option<Helper>,
    pub params: Vec<Ty>,
    pub ret: Ty,
    /// What the function may write (computed by `assemble` once every
    /// descr is known; see `effects`).
    pub effects: CallEffectsData,
}

/// The effect summary of a residual call, in indices of this
/// `Assembly`'s descrs: the runtime's `CallEffectsDescr`, owned. The
/// default is "writes nothing"; `everything()` is always correct.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallEffectsData {
    pub everything: bool,
    /// Scalar fields that may be written (field descrs).
    pub fields: Vec<u16>,
    /// Arrays whose items may be written (array descrs), except in the
    /// containers of `kept_fields`.
    pub items: Vec<u16>,
    /// Vecs that may be resized or reallocated (Vec descrs), except those
    /// of `kept_fields`.
    pub vecs: Vec<u16>,
    /// Fields holding a Vec or an array the call does not write although
    /// `items`/`vecs` list its item type (field descrs).
    pub kept_fields: Vec<u16>,
    /// Raw memory, enum tags, strings.
    pub other: bool,
}

impl CallEffectsData {
    pub fn everything() -> CallEffectsData {
        CallEffectsData {
            everything: true,
            other: true,
            ..CallEffectsData::default()
        }
    }
}

/// A type allocated by `Box::new` in traced code (`Tables::allocs[i]`):
/// plain data, so freeing it is only freeing its memory.
#[derive(Clone, Debug, PartialEq)]
pub struct AllocRequest {
    pub ty: Ty,
    /// Allocated by `Gc::new` on the GC heap (else by `Box::new`).
    pub gc: bool,
}

/// A driver (`Tables::drivers[i]`).
#[derive(Clone, Debug, PartialEq)]
pub struct DriverRequest {
    pub portal: String,
    /// Index of the portal's jitcode.
    pub jitcode: u16,
    pub greens: Vec<Ty>,
    pub reds: Vec<Ty>,
}

/// Everything the codewriter produced for one crate; indices in the
/// instructions refer to these vectors.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Assembly {
    pub jitcodes: Vec<JitCodeData>,
    pub fields: Vec<FieldRequest>,
    pub arrays: Vec<ArrayRequest>,
    /// Enum-like types read with EnumTag.
    pub enums: Vec<EnumRequest>,
    pub calls: Vec<CallRequest>,
    /// Types allocated by `New` and freed by `Free`, one entry per type.
    pub allocs: Vec<AllocRequest>,
    pub drivers: Vec<DriverRequest>,
    /// Panic messages.
    pub strings: Vec<String>,
    /// The crate's structs and enums, to name fields, arrays and enums when
    /// printing (and for the glue, which needs their paths anyway).
    pub types: TypeTable,
}

/// Lower every graph of `program` to jitcode, one jitcode per graph in the
/// order of `program.graphs` (so that a jitcode's index is its graph's).
/// The result is checked with the runtime's jitcode verifier; a failure
/// there is an internal error of the codewriter, reported as `Err`.
pub fn assemble(program: &Program) -> Result<Assembly, String> {
    let mut descrs = descrs::Descrs::new(program)?;
    for g in &program.graphs {
        let code = assembler::assemble_graph(program, g, &mut descrs)?;
        descrs.asm.jitcodes.push(code);
    }
    let mut asm = descrs.finish();
    // Effect summaries name descrs: every one is interned by now.
    let effects: Vec<CallEffectsData> = asm
        .calls
        .iter()
        .map(|c| match &c.helper {
            Some(h) if h.is_pure() => CallEffectsData::default(),
            _ => effects::call_effects(&asm, &c.params),
        })
        .collect();
    for (c, e) in asm.calls.iter_mut().zip(effects) {
        c.effects = e;
    }
    if let Err(errors) = asm.verify() {
        return Err(format!(
            "internal error: the codewriter produced jitcode that does not verify:\n  {}",
            errors.join("\n  ")
        ));
    }
    Ok(asm)
}

/// The register kind of a flow-graph variable of type `ty`: int for
/// integers, `bool` and `char`, float for `f64`, ref for every reference
/// (including the data pointer of an exploded `&[T]` or `&str`) and for an
/// owned `Box<T>`.
pub fn var_kind(ty: &Ty) -> Option<Kind> {
    match ty {
        Ty::Bool | Ty::Char | Ty::Int(_) => Some(Kind::Int),
        Ty::F64 => Some(Kind::Float),
        // A Vec value is the pointer to its box (`TypeTable::flatten`).
        Ty::Ref { .. } | Ty::Box(_) | Ty::Gc(_) | Ty::Vec(_) => Some(Kind::Ref),
        _ => None,
    }
}

/// The scalar type of a flow-graph variable (any reference is `Ref`).
pub fn var_scalar(ty: &Ty) -> Option<ScalarTy> {
    match ty {
        Ty::Int(t) => Some(ScalarTy::Int(*t)),
        Ty::Bool => Some(ScalarTy::Bool),
        Ty::Char => Some(ScalarTy::Char),
        Ty::F64 => Some(ScalarTy::F64),
        Ty::Ref { .. } | Ty::Box(_) | Ty::Gc(_) | Ty::Vec(_) => Some(ScalarTy::Ref),
        _ => None,
    }
}

/// The scalar type of a value of type `ty` stored in memory (a field, a
/// Vec or slice item), if it is one: a reference to an unsized type is a
/// fat pointer in memory, not a scalar.
pub fn mem_scalar(ty: &Ty) -> Option<ScalarTy> {
    // A `Cell<T>` is its value in memory (`repr(transparent)`).
    if let Ty::Cell(t) = ty {
        return mem_scalar(t);
    }
    if ty.is_scalar() {
        var_scalar(ty)
    } else {
        None
    }
}
