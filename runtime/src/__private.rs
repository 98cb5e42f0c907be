//! Support code that the proc-macros' expansions and generated VMs call.
//! Not a stable API: reach it through `metatrace::__private`.

use crate::jitcode::Tables;
use crate::params::{JitMode, JitParams};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

/// Called where the portal's `jit_merge_point!()` was. Natively a no-op; the
/// JIT will receive the driver's greens and reds here.
#[inline(always)]
pub fn jit_merge_point() {}

/// Called where the portal's `can_enter_jit!()` was. Natively a no-op; the
/// JIT will count loop iterations per green key here.
#[inline(always)]
pub fn can_enter_jit() {}

/// The process-wide mode, as `JitMode as u8 + 1` (0: never set = native).
static MODE: AtomicU8 = AtomicU8::new(0);
/// The process-wide parameters, as the VM set them.
static PARAMS: Mutex<Option<JitParams>> = Mutex::new(None);

/// Sets the process-wide JIT parameters; a VM calls it once, after
/// [`check_mode_supported`], before running its portal. The portal's
/// `#[jit_driver]` expansion reads the mode through [`jitcode_only`].
pub fn set_params(params: JitParams) {
    let mode = match params.mode {
        JitMode::Native => 1,
        JitMode::JitcodeOnly => 2,
        JitMode::Jit => 3,
    };
    *PARAMS.lock().unwrap_or_else(|e| e.into_inner()) = Some(params);
    MODE.store(mode, Ordering::Release);
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
    match (params.mode, tables) {
        (JitMode::Native, _) => Ok(()),
        (mode, None) => Err(format!(
            "--jit mode={mode}: this VM was built without jitcodes; build it with `cargo translate` (without `--no-jit`)"
        )),
        (JitMode::JitcodeOnly, Some(tables)) => tables.verify().map_err(|errors| {
            format!(
                "--jit mode=jitcode-only: the jitcodes of this VM do not verify (a bug in metatrace):\n  {}",
                errors.join("\n  ")
            )
        }),
        (JitMode::Jit, Some(_)) => Err(
            "--jit mode=jit: the JIT (tracing and compiling hot loops) is not implemented yet; \
             use mode=native (the default, same as `off`) or mode=jitcode-only"
                .to_string(),
        ),
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
    fn jitcode_only_needs_tables_and_jit_is_refused() {
        let p = JitParams::parse("mode=jitcode-only").unwrap();
        assert_eq!(check_mode_supported(&p, Some(&EMPTY)), Ok(()));
        assert_eq!(
            check_mode_supported(&JitParams::default(), Some(&EMPTY)),
            Ok(())
        );
        let p = JitParams::parse("mode=jit").unwrap();
        let e = check_mode_supported(&p, Some(&EMPTY)).unwrap_err();
        assert!(
            e.starts_with(
                "--jit mode=jit: the JIT (tracing and compiling hot loops) is not implemented yet"
            ),
            "{e}"
        );
    }

    #[test]
    fn mode_is_process_wide() {
        // The only test that sets it (tests run in threads of one process).
        assert!(!jitcode_only());
        set_params(JitParams::parse("mode=jitcode-only,threshold=7").unwrap());
        assert!(jitcode_only());
        assert_eq!(params().threshold, 7);
        set_params(JitParams::parse("off").unwrap());
        assert!(!jitcode_only());
        assert_eq!(params().mode, JitMode::Native);
    }
}
