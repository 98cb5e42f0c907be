//! Support code that the proc-macros' expansions and generated VMs call.
//! Not a stable API: reach it through `metatrace::__private`.

use crate::params::{JitMode, JitParams};

/// Called where the portal's `jit_merge_point!()` was. Natively a no-op; the
/// JIT will receive the driver's greens and reds here.
#[inline(always)]
pub fn jit_merge_point() {}

/// Called where the portal's `can_enter_jit!()` was. Natively a no-op; the
/// JIT will count loop iterations per green key here.
#[inline(always)]
pub fn can_enter_jit() {}

/// Whether this VM can run in the mode `params` asks for. VMs built without
/// jitcodes (plain `cargo build`) support only `native`; asking for another
/// mode is an error, never a silent fallback.
pub fn check_mode_supported(params: &JitParams) -> Result<(), String> {
    match params.mode {
        JitMode::Native => Ok(()),
        mode => Err(format!(
            "--jit mode={mode}: this VM was built without jitcodes; build it with `cargo translate`"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_native_is_supported_without_jitcodes() {
        assert!(check_mode_supported(&JitParams::default()).is_ok());
        let p = JitParams::parse("mode=jitcode-only").unwrap();
        assert_eq!(
            check_mode_supported(&p).unwrap_err(),
            "--jit mode=jitcode-only: this VM was built without jitcodes; build it with `cargo translate`"
        );
        let p = JitParams::parse("mode=jit").unwrap();
        assert!(check_mode_supported(&p)
            .unwrap_err()
            .starts_with("--jit mode=jit: "));
    }
}
