//! The jitcode verifier: every register, label, descr and call arity in
//! range and of the right kind. Run by the codewriter on what it produces
//! and by tests on hand-written and deliberately broken jitcodes.

use super::*;

/// What the verifier needs to know about the descr tables, so that it can
/// check both static `Tables` and the codewriter's assembly.
pub trait DescrInfo {
    /// `None` if out of range; else the field's scalar type, if scalar.
    fn field_ty(&self, i: u16) -> Option<Option<ScalarTy>>;
    /// `None` if out of range; else (is a Vec, item scalar type if scalar).
    fn array(&self, i: u16) -> Option<(bool, Option<ScalarTy>)>;
    fn enum_count(&self) -> usize;
    /// Argument and result kinds of residual call `i`.
    fn call_kinds(&self, i: u16) -> Option<(Vec<Kind>, Vec<Kind>)>;
    /// Argument and result kinds of jitcode `i`.
    fn jitcode_kinds(&self, i: u16) -> Option<(Vec<Kind>, Vec<Kind>)>;
    fn string_count(&self) -> usize;
    fn driver_count(&self) -> usize;
}

/// A jitcode's shape, for the verifier.
pub struct JitCodeShape<'a> {
    pub name: &'a str,
    pub insns: &'a [Insn],
    pub num_regs: [u16; 3],
    /// Constants per kind.
    pub num_consts: [u16; 3],
    pub args: &'a [KReg],
    pub results: &'a [Kind],
}

/// Check one jitcode; all problems found, each naming the instruction.
pub fn verify_jitcode(code: &JitCodeShape, descrs: &dyn DescrInfo) -> Result<(), Vec<String>> {
    let _ = (code, descrs);
    todo!("jitcode verifier")
}
