//! Does not translate the interpreter yet: the translator cannot take this
//! VM today (enums in memory, `Vec<Value>` push and pop, `metatrace::Gc`
//! are being built; targets/lox/README.md lists its diagnostics). So the
//! VM is native only, and this script only declares the cfg that
//! `#[jit_driver]` and `metatrace::jit_tables!()` test, as
//! `metatrace_translator::Build` would.
//!
//! When the translator accepts the crate: add the build-dependency
//! `metatrace-translator` (as targets/bf does), replace `main` below by
//! `metatrace_translator::Build::new().run();` and add
//! `metatrace::include_jit!();` to main.rs.

fn main() {
    println!("cargo:rustc-check-cfg=cfg(metatrace_jitcodes)");
    println!("cargo:rerun-if-changed=build.rs");
}
