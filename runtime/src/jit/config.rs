//! The process-wide JIT mode and parameters, as the VM set them
//! (`--jit ...`; RPython's `rlib/jit.py` `set_param`, whose values the
//! warm state reads; LuaJIT's `jit.on`/`jit.off`/`jit.opt` in
//! `lib_jit.c`). Generated code reads the mode through `__private`, which
//! re-exports these functions; the warm state rereads the parameters when
//! their generation changes.

use crate::options::OptionList;
use crate::params::{JitMode, JitParams};
use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use std::sync::Mutex;

/// The process-wide mode: 0 never set (native), 1 native, 2 jitcode-only,
/// 3 jit, 4 auto.
static MODE: AtomicU8 = AtomicU8::new(0);
/// The process-wide parameters, as the VM set them.
static PARAMS: Mutex<Option<JitParams>> = Mutex::new(None);
/// Bumped by every [`set_params`]: the warm state rereads the parameters
/// when it changes.
static PARAMS_GENERATION: AtomicU32 = AtomicU32::new(0);
/// `threshold`, for the JIT's fast path (the default until set).
static THRESHOLD: AtomicU32 = AtomicU32::new(1039);
/// `function_threshold`, likewise.
static FUNCTION_THRESHOLD: AtomicU32 = AtomicU32::new(1619);

/// Sets the process-wide JIT parameters; a VM calls it once, after
/// [`crate::__private::check_mode_supported`], before running its portal. The portal's
/// `#[jit_driver]` expansion reads the mode through [`jitcode_only`] and
/// [`jit_enabled`]. Also starts the JIT log if `METATRACE_LOG` asks for
/// one (see [`crate::jit::log`]).
pub fn set_params(params: JitParams) {
    let mode = match params.mode {
        JitMode::Native => 1,
        JitMode::JitcodeOnly => 2,
        JitMode::Jit => 3,
        JitMode::Auto => 4,
    };
    THRESHOLD.store(params.threshold.max(1), Ordering::Relaxed);
    FUNCTION_THRESHOLD.store(params.function_threshold.max(1), Ordering::Relaxed);
    *PARAMS.lock().unwrap_or_else(|e| e.into_inner()) = Some(params);
    PARAMS_GENERATION.fetch_add(1, Ordering::Release);
    MODE.store(mode, Ordering::Release);
    if mode >= 3 {
        super::log::init_from_env();
    }
}

/// Changes one parameter process-wide at run time (`name=value` as on the
/// command line, e.g. `threshold=2`); the JIT picks it up at its next
/// decision.
pub fn set_param(options: &str) -> Result<(), String> {
    let mut p = params();
    p.apply(options)?;
    crate::optimizer::EnabledOpts::parse(&p.enable_opts)?;
    set_params(p);
    Ok(())
}

/// The `threshold` parameter (one relaxed load: the JIT's fast path).
#[inline(always)]
pub fn threshold() -> u32 {
    THRESHOLD.load(Ordering::Relaxed)
}

/// The `function_threshold` parameter, counted at `jit_function_entry!()`.
#[inline(always)]
pub fn function_threshold() -> u32 {
    FUNCTION_THRESHOLD.load(Ordering::Relaxed)
}

/// The generation of the parameters (changes with every [`set_params`]).
#[inline]
pub fn params_generation() -> u32 {
    PARAMS_GENERATION.load(Ordering::Acquire)
}

/// Is the JIT on (`mode=jit`, or `mode=auto`: only VMs with jitcodes call
/// this, from their glue)? One relaxed atomic load: it is checked at every
/// `can_enter_jit!()` before anything else.
#[inline(always)]
pub fn jit_enabled() -> bool {
    MODE.load(Ordering::Relaxed) >= 3
}

/// The parameters set by [`set_params`] (the defaults if none were set).
pub fn params() -> JitParams {
    PARAMS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or_default()
}

/// Does the portal run on its jitcodes (`--jit mode=jitcode-only`)? One
/// relaxed atomic load: it is checked on every entry to the portal.
#[inline(always)]
pub fn jitcode_only() -> bool {
    MODE.load(Ordering::Relaxed) == 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_is_process_wide() {
        // The only test that sets it (tests run in threads of one process).
        assert!(!jitcode_only() && !jit_enabled());
        set_params(JitParams::parse("mode=jitcode-only,threshold=7").unwrap());
        assert!(jitcode_only() && !jit_enabled());
        assert_eq!(params().threshold, 7);
        let g = params_generation();
        set_param("threshold=9").unwrap();
        assert_eq!(params().threshold, 9);
        assert_ne!(params_generation(), g);
        set_params(JitParams::parse("mode=jit").unwrap());
        assert!(!jitcode_only() && jit_enabled());
        set_params(JitParams::default());
        assert!(jit_enabled());
        set_params(JitParams::parse("off").unwrap());
        assert!(!jitcode_only() && !jit_enabled());
        assert_eq!(params().mode, JitMode::Native);
    }
}
