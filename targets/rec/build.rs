//! Translates the interpreter (everything reachable from its
//! `#[jit_driver]`) into jitcodes and writes their glue to `$OUT_DIR`,
//! included by `metatrace::include_jit!()` in main.rs. With
//! `METATRACE_NO_JIT=1` (`cargo translate --no-jit`) it does nothing and the
//! VM is native only.

fn main() {
    metatrace_translator::Build::new().run();
}
