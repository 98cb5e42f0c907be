//! The codewriter: flow graphs become jitcodes (RPython's
//! `rpython/jit/codewriter`).
//!
//! Per graph: register allocation per kind with link arguments coalesced
//! (`regalloc`), flattening into linear code with labels (`flatten`),
//! `-live-` markers filled by backward liveness (`liveness`), and assembly
//! into `Insn`s with constant pools, interning every descr the code needs
//! into the crate-wide tables below (`assembler`). The result, `Assembly`,
//! is rendered as Rust static data by `glue`.

use crate::flowgraph::{FieldRef, Program};
use crate::types::Ty;
use metatrace_runtime::jitcode::{Insn, KReg, Kind};

/// One jitcode, owned (the static `JitCode` is generated from it).
#[derive(Clone, Debug, PartialEq)]
pub struct JitCodeData {
    pub name: String,
    pub insns: Vec<Insn>,
    pub num_regs: [u16; 3],
    pub consts_i: Vec<i64>,
    pub consts_r: Vec<RefConstData>,
    /// Float constants by their bits.
    pub consts_f: Vec<u64>,
    pub args: Vec<KReg>,
    pub results: Vec<Kind>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum RefConstData {
    Null,
    Str(String),
}

/// A field descr the jitcodes use (`Tables::fields[i]`).
#[derive(Clone, Debug, PartialEq)]
pub struct FieldRequest {
    pub field: FieldRef,
    /// The field's type.
    pub ty: Ty,
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
}

/// A residual call (`Tables::calls[i]`): a `#[dont_look_inside]` function.
#[derive(Clone, Debug, PartialEq)]
pub struct CallRequest {
    /// Path from the crate root.
    pub path: String,
    pub params: Vec<Ty>,
    pub ret: Ty,
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
    pub enums: Vec<Ty>,
    pub calls: Vec<CallRequest>,
    pub drivers: Vec<DriverRequest>,
    /// Panic messages.
    pub strings: Vec<String>,
}

/// Lower every graph of `program` to jitcode.
pub fn assemble(program: &Program) -> Result<Assembly, String> {
    let _ = program;
    todo!("codewriter")
}
