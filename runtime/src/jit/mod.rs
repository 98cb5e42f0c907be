//! The JIT proper: what connects the native interpreter to the meta-tracer,
//! the backend and the blackhole (RPython's `warmspot`/`warmstate`).
//!
//! - [`driver`]: [`can_enter_jit`], the runtime side of `can_enter_jit!()`:
//!   count, trace, compile, run compiled code, bridge hot guards, resume
//!   in the blackhole, hand the state back.
//! - [`compile`]: a recorded trace to machine code: optimize, compile,
//!   count and log (RPython's `compile.py`).
//! - [`warmstate`]: hotness counters per green key and per guard, the
//!   compiled loop of each key, backoff and blacklisting after aborts.
//! - [`stats`]: the counters ([`stats()`], [`thread_stats`]).
//! - [`log`]: the `METATRACE_LOG` log and its summary.
//! - [`config`]: the process-wide mode and parameters, as the VM set them.
//! - [`perfmap`]: `/tmp/perf-<pid>.map` for `perf` (`METATRACE_PERF_MAP=1`).
//!
//! `docs/jit.md` describes the parameters, their defaults and the log.

pub mod compile;
pub mod config;
pub mod driver;
pub mod log;
pub mod perfmap;
pub mod stats;
pub mod warmstate;

pub use driver::{can_enter_jit, count, enter, portal_call, portal_call_at, EnterOutcome, Hot};
pub use stats::{stats, thread_stats, Abort, JitStats, TraceKind};

/// The JIT's parameters as the VM set them (`--jit ...`).
pub fn params() -> crate::JitParams {
    config::params()
}

/// Sets JIT parameters at run time, as `--jit` does (`"threshold=2"`,
/// `"off"`, ...); they apply from the next decision of the JIT.
pub fn set_params(options: &str) -> Result<(), String> {
    config::set_param(options)
}
