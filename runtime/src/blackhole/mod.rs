//! The blackhole interpreter: runs jitcodes on concrete values, with the
//! native code's semantics, without recording anything. Used for
//! `--jit mode=jitcode-only` and, later, to finish an iteration after a
//! guard fails in compiled code.

use crate::jitcode::Tables;

/// Run jitcode `jitcode` of `tables` to completion on `args` (canonical
/// register values of the exploded arguments, in order) and return its
/// exploded results. Panics exactly where the native code would.
pub fn call(tables: &'static Tables, jitcode: u16, args: &[u64]) -> Vec<u64> {
    let _ = (tables, jitcode, args);
    todo!("blackhole")
}
