//! metatrace-testkit: what the integration tests of the workspace share,
//! in one place (see docs/testing.md).
//!
//! - [`insn`]: one constructor per jitcode instruction;
//! - [`jitcode`]: building jitcodes and `Tables` by hand (`Code`, `Asm`,
//!   `ki`/`kr`/`kf`, `vec_shims!`, `make_tables`);
//! - [`shape`]: the `Shape` enum every hand-made table describes;
//! - [`fixture`]: the blackhole and tracer tests' data (`Point`, Vecs) and
//!   tables; [`jit`]: a small JIT driver over tracer, `trace::interp` and
//!   blackhole;
//! - [`backend`]: the backend tests' data (`Rec`, `Ring`), tables, trace
//!   builder (`TB`) and compiled-vs-interpreted comparison;
//! - [`optimizer`]: the optimizer tests' data (`Obj`, `Prog`), tables and
//!   random-trace world; [`trace_text`]: the printed trace format, parsed
//!   back, and `assert_trace`;
//! - [`ops`]: every operator of a kind; [`rng`]: the random generators;
//! - `flowgraph` (feature `flowgraph`): building flow graphs by hand
//!   (jitcodegen tests);
//! - [`filetest`]: the file-test runner (a command, its input and the
//!   expected output in one file, a directory at a time;
//!   `METATRACE_BLESS=1` rewrites the expected outputs);
//! - [`vms`]: building and running the example VMs (end-to-end tests);
//! - [`gc`]: running GC scenarios in child processes, one heap each;
//! - [`lox_gen`]: random Lox programs (objects, closures, cycles,
//!   garbage) for the Lox VM's differential tests;
//! - [`um_asm`]: an assembler of Universal Machine images (`targets/um`).
//!
//! Integration tests only: unit tests inside a crate's `src` would see a
//! second copy of that crate through this one.

#[cfg(feature = "flowgraph")]
pub mod asm_text;
pub mod backend;
pub mod filetest;
pub mod fixture;
#[cfg(feature = "flowgraph")]
pub mod flowgraph;
pub mod gc;
pub mod insn;
pub mod jit;
pub mod jitcode;
pub mod layout;
pub mod lox_gen;
pub mod ops;
pub mod optimizer;
pub mod rng;
pub mod shape;
#[cfg(feature = "translator")]
pub mod subset;
pub mod trace_text;
pub mod um_asm;
pub mod vms;

#[doc(hidden)]
pub use metatrace_runtime as __runtime;

/// Leak `v` (hand-made tables live as long as the test process).
pub fn leak<T>(v: Vec<T>) -> &'static [T] {
    Box::leak(v.into_boxed_slice())
}

/// Every file under `dir` (recursively) whose name ends in `.ext`, sorted.
pub fn files_with_extension(dir: &std::path::Path, ext: &str) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == ext) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The number in environment variable `name` (a test's size, such as a
/// count of seeds), or `default` when it is unset or not a number.
pub fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}
