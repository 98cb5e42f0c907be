//! Recursive portal calls, as the modules below the JIT make them: the
//! blackhole (through the portal's native entry) and `call_assembler` in
//! compiled code, the trace interpreter and the tracer (from the callee's
//! merge point). The JIT's driver implements both (`jit::portal_call`,
//! `jit::portal_call_at`) and installs them here when it starts, so that
//! those modules need not depend on it (RPython's counterpart is the
//! `assembler_helper` that `warmspot.py` hands the backend).

use crate::jitcode::Tables;
use std::sync::OnceLock;

/// A recursive portal call: the tables, the driver, the arguments; the
/// portal's exploded results.
pub type PortalCall = fn(&'static Tables, u16, &[u64]) -> Vec<u64>;

/// The JIT's two ways of making a recursive portal call.
#[derive(Clone, Copy)]
pub struct PortalCalls {
    /// From the portal's entry, on its exploded arguments, natively.
    pub native: PortalCall,
    /// From its merge point, on the merge point's arguments (greens then
    /// reds): `call_assembler`.
    pub at_merge_point: PortalCall,
}

static INSTALLED: OnceLock<PortalCalls> = OnceLock::new();

/// Installs the JIT's implementations (the first call wins: there is one
/// JIT per process).
pub fn install(calls: PortalCalls) {
    let _ = INSTALLED.set(calls);
}

fn installed() -> &'static PortalCalls {
    INSTALLED
        .get()
        .expect("metatrace: a recursive portal call before the JIT started")
}

/// A recursive portal call from the portal's entry (`args` its exploded
/// arguments).
pub fn native(tables: &'static Tables, driver: u16, args: &[u64]) -> Vec<u64> {
    (installed().native)(tables, driver, args)
}

/// `call_assembler`: a recursive portal call from its merge point.
pub fn at_merge_point(tables: &'static Tables, driver: u16, args: &[u64]) -> Vec<u64> {
    (installed().at_merge_point)(tables, driver, args)
}
