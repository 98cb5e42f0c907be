//! The bundled interpreters (`targets/*`), translated and assembled: what
//! `targets.rs` and `jitcode.rs` share.

// Each test file uses what it needs.
#![allow(dead_code)]

use metatrace_jitcodegen::codewriter::{assemble, Assembly};
use metatrace_translator::{translate_crate_dir, Translation};
use std::path::Path;

/// The translation of `targets/<name>`; panics with the rendered errors if
/// it is rejected.
pub fn translate(name: &str) -> Translation {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../targets")
        .join(name);
    translate_crate_dir(&dir)
        .unwrap_or_else(|e| panic!("{name} does not translate:\n{}", e.render()))
}

/// The translation of `targets/<name>` and its assembly (not verified).
pub fn assembled(name: &str) -> (Translation, Assembly) {
    let t = translate(name);
    let asm = assemble(&t.program).unwrap_or_else(|e| panic!("{name} does not assemble: {e}"));
    (t, asm)
}
