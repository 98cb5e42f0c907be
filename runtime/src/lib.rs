//! metatrace-runtime: what a VM built with metatrace links at run time.
//!
//! - [`hints`], [`params`] (the JIT parameters), [`cli`] (the VM command
//!   line);
//! - [`jitcode`]: the jitcode format shared with the code generator;
//! - [`jit`]: the JIT proper — the warm state, the entry from the native
//!   interpreter (`can_enter_jit`), the counters and the JIT log;
//! - [`metainterp`] (the meta-tracer), [`trace`] (the trace IR),
//!   [`backend`] (x86-64), [`blackhole`] (the blackhole interpreter);
//! - [`executor`]: the semantics of the operations, shared by all of them;
//! - [`portal_calls`]: recursive portal calls, for the modules the JIT
//!   depends on.

pub mod cli;
pub mod hints;
pub mod params;

#[doc(hidden)]
pub mod __private;

pub use params::{JitMode, JitParams};
pub mod alias;
pub mod backend;
pub mod blackhole;
pub mod cputime;
pub mod executor;
pub mod gc;
pub mod jit;
pub mod jitcode;
pub mod locmap;
pub mod metainterp;
pub mod optimizer;
pub mod options;
pub mod order;
pub mod portal_calls;
pub mod quasiimmut;
pub mod resume;
pub mod trace;
