//! Support code that the proc-macros' expansions and generated VMs call.
//! Not a stable API: reach it through `metatrace::__private`.

use crate::jitcode::Tables;
use crate::params::{JitMode, JitParams};
use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use std::sync::Mutex;

/// Where the portal's `jit_merge_point!()` was, in a VM built without
/// jitcodes (and in every VM besides the glue's call, see
/// `docs/jit.md`): a no-op.
#[inline(always)]
pub fn jit_merge_point() {}

/// Where the portal's `can_enter_jit!()` was, in a VM built without
/// jitcodes: a no-op. With jitcodes, `#[jit_driver]` also calls the glue's
/// `can_enter_jit_<portal>`, which calls [`crate::jit::can_enter_jit`].
#[inline(always)]
pub fn can_enter_jit() {}

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

/// Sets the process-wide JIT parameters; a VM calls it once, after
/// [`check_mode_supported`], before running its portal. The portal's
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
    *PARAMS.lock().unwrap_or_else(|e| e.into_inner()) = Some(params);
    PARAMS_GENERATION.fetch_add(1, Ordering::Release);
    MODE.store(mode, Ordering::Release);
    if mode >= 3 {
        crate::jit::log::init_from_env();
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

/// The VM is about to exit normally: write the JIT summary
/// (`METATRACE_LOG=jit-summary`) and flush the JIT log. Called by the VMs'
/// `main`; idempotent (it also runs from an `atexit` handler, for VMs that
/// do not call it).
pub fn vm_exit() {
    crate::jit::log::finish();
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

/// Whether this VM can run in the mode `params` asks for; `tables` is what
/// `metatrace::jit_tables!()` gives at the interpreter's crate root (`None`
/// for a VM built without jitcodes: plain `cargo build` of a crate without
/// the build script, or `cargo translate --no-jit`). Asking for a mode the
/// VM cannot run is an error, never a silent fallback.
pub fn check_mode_supported(
    params: &JitParams,
    tables: Option<&'static Tables>,
) -> Result<(), String> {
    crate::optimizer::EnabledOpts::parse(&params.enable_opts)
        .map_err(|e| format!("--jit enable_opts={}: {e}", params.enable_opts.join(":")))?;
    match (params.mode, tables) {
        (JitMode::Native, _) | (JitMode::Auto, None) => Ok(()),
        (mode, None) => Err(format!(
            "--jit mode={mode}: this VM was built without jitcodes; build it with `cargo translate` (without `--no-jit`)"
        )),
        (mode, Some(tables)) => tables.verify().map_err(|errors| {
            format!(
                "--jit mode={mode}: the jitcodes of this VM do not verify (a bug in metatrace):\n  {}",
                errors.join("\n  ")
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static EMPTY: Tables = Tables {
        jitcodes: &[],
        fields: &[],
        arrays: &[],
        enums: &[],
        calls: &[],
        allocs: &[],
        drivers: &[],
        strings: &[],
    };

    #[test]
    fn only_native_is_supported_without_jitcodes() {
        assert!(check_mode_supported(&JitParams::default(), None).is_ok());
        let p = JitParams::parse("mode=jitcode-only").unwrap();
        assert_eq!(
            check_mode_supported(&p, None).unwrap_err(),
            "--jit mode=jitcode-only: this VM was built without jitcodes; build it with `cargo translate` (without `--no-jit`)"
        );
        let p = JitParams::parse("mode=jit").unwrap();
        assert!(check_mode_supported(&p, None)
            .unwrap_err()
            .starts_with("--jit mode=jit: this VM was built without jitcodes"));
    }

    #[test]
    fn every_mode_runs_with_tables_and_auto_without() {
        for mode in ["jitcode-only", "jit", "auto", "native"] {
            let p = JitParams::parse(&format!("mode={mode}")).unwrap();
            assert_eq!(check_mode_supported(&p, Some(&EMPTY)), Ok(()), "{mode}");
        }
        assert_eq!(check_mode_supported(&JitParams::default(), None), Ok(()));
        let p = JitParams::parse("enable_opts=rewrite:nope").unwrap();
        let e = check_mode_supported(&p, Some(&EMPTY)).unwrap_err();
        assert!(
            e.starts_with("--jit enable_opts=rewrite:nope: unknown optimization 'nope'"),
            "{e}"
        );
    }

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
