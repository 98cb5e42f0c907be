//! Support code that the proc-macros' expansions and generated VMs call.
//! Not a stable API: reach it through `metatrace::__private`. The
//! process-wide mode and parameters are [`crate::jit::config`]'s,
//! re-exported here.

use crate::jitcode::Tables;
use crate::params::{JitMode, JitParams};

pub use crate::jit::config::{
    jit_enabled, jitcode_only, params, params_generation, set_param, set_params, threshold,
};

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

/// Where the portal's `jit_function_entry!()` was, in a VM built without
/// jitcodes: a no-op (with jitcodes, the glue's `function_entry_<name>`
/// runs first).
#[inline(always)]
pub fn jit_function_entry() {}

/// The VM is about to exit normally: write the JIT summary
/// (`METATRACE_LOG=jit-summary`) and flush the JIT log. Called by the VMs'
/// `main`; idempotent (it also runs from an `atexit` handler, for VMs that
/// do not call it).
pub fn vm_exit() {
    crate::jit::log::finish();
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
        // (Decoded once: the blackhole's program keeps what this decodes.)
        (mode, Some(tables)) => crate::blackhole::try_program(tables).map(|_| ()).map_err(|errors| {
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
    use crate::options::OptionList;

    static EMPTY: Tables = Tables::EMPTY;

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
}
