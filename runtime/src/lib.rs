//! metatrace-runtime: what a VM built with metatrace links at run time.
//!
//! For now: the hint functions ([`hints`]), the JIT parameters ([`params`])
//! and the VM command line ([`cli`]). The meta-tracer, optimizer, backend and
//! blackhole interpreter come later and live here too.

pub mod cli;
pub mod hints;
pub mod params;

#[doc(hidden)]
pub mod __private;

pub use params::{JitMode, JitParams};
pub mod backend;
pub mod blackhole;
pub mod jit;
pub mod jitcode;
pub mod metainterp;
pub mod trace;
