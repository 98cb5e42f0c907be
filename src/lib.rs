//! metatrace: a meta-tracing JIT toolchain for interpreters written in a
//! subset of Rust, in the tradition of RPython/PyPy.
//!
//! An interpreter depends on this crate and writes
//!
//! ```ignore
//! use metatrace::prelude::*;
//!
//! #[jit_driver(greens = [pc, program], reds = [tape])]
//! fn mainloop(program: &Program, tape: &mut Tape) {
//!     let mut pc: usize = 0;
//!     loop {
//!         jit_merge_point!();
//!         // ... one instruction; on a backward jump, set pc, then:
//!         can_enter_jit!();
//!     }
//! }
//! ```
//!
//! Built with plain `cargo build`, the hints are checked and otherwise do
//! nothing: the VM runs the interpreter natively (`--jit mode=native`).
//!
//! To give the VM its jitcodes, the interpreter crate gets a build script
//! (`metatrace_translator::Build::new().run();`) and one line at its root,
//! [`include_jit!`]; its `main` is [`vm_main`], given [`jit_tables!`] and
//! the function that runs the program. `docs/build.md` has the details.

// Lets the proc-macros' `::metatrace::...` paths resolve inside this crate too.
extern crate self as metatrace;

/// The runtime: hint functions, JIT parameters, the VM command line, the
/// JIT (`runtime::jit::stats()` gives its counters).
pub use metatrace_runtime as runtime;

pub mod asm_text;

/// The garbage-collected heap: `Gc<T>`, `GcCell<T>`, roots, the GC
/// options (docs/gc.md).
///
/// ```
/// use metatrace::prelude::*;
/// use metatrace::gc::Trace;
/// use std::cell::Cell;
///
/// struct Pair {
///     count: Cell<i64>,                  // a scalar field: Cell
///     next: GcCell<Option<Gc<Pair>>>,    // a field holding a Gc: GcCell
/// }
/// // The scanning function (the translator will generate it).
/// unsafe impl Trace for Pair {
///     fn trace(&self, visit: &mut dyn FnMut(*mut usize)) {
///         self.next.trace(visit)
///     }
/// }
/// metatrace::gc_type!(Pair);
///
/// let a = Gc::new(Pair { count: Cell::new(1), next: GcCell::new(None) });
/// let b = Gc::new(Pair { count: Cell::new(2), next: GcCell::new(Some(a)) });
/// a.next.set(Some(b)); // a cycle
/// metatrace::gc::collect();
/// assert_eq!(a.next.get().unwrap().count.get(), 2);
/// assert!(Gc::ptr_eq(b.next.get().unwrap(), a));
/// ```
pub use metatrace_runtime::gc;
pub use metatrace_runtime::gc::{Gc, GcCell, Root};
pub use metatrace_runtime::gc_type;
pub use metatrace_runtime::quasiimmut::QuasiImmut;

/// Everything an interpreter needs: `use metatrace::prelude::*;`.
pub mod prelude {
    pub use crate::{can_enter_jit, jit_function_entry, jit_merge_point};
    pub use metatrace_macros::{
        dont_look_inside, elidable, jit_driver, loop_invariant, unroll_safe, virtualizable,
    };
    pub use metatrace_runtime::gc::{Gc, GcCell, Root};
    pub use metatrace_runtime::hints::{promote, we_are_jitted};
    pub use metatrace_runtime::quasiimmut::QuasiImmut;
}

/// Used by the macros' expansions and by generated VMs; not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use metatrace_runtime::__private::*;
}

/// The `main` of a VM: parses its command line (`NAME [--jit OPTIONS]
/// [--gc OPTIONS] PROGRAM [ARGS...]`, see [`runtime::cli`]), refuses a JIT
/// mode it cannot run (`tables`: what [`jit_tables!`] gives at the crate
/// root; see `__private::check_mode_supported`), sets the JIT parameters
/// and the GC options (the heap itself is created at the first
/// `Gc::new`, so a VM that allocates none never starts the collector) and
/// calls `run`, which runs PROGRAM and prints its output. An error, from the
/// command line or from `run`, goes to stderr as `error: ...`, with exit
/// status 1. Last, the JIT summary, if `METATRACE_LOG` asks for one
/// (`__private::vm_exit`).
///
/// ```ignore
/// fn main() -> std::process::ExitCode {
///     metatrace::vm_main("myvm", metatrace::jit_tables!(), run)
/// }
///
/// fn run(vm: metatrace::runtime::cli::VmArgs) -> Result<(), String> {
///     // ... load vm.program, call the #[jit_driver] function, print ...
/// }
/// ```
pub fn vm_main(
    name: &str,
    tables: Option<&'static runtime::jitcode::Tables>,
    run: impl FnOnce(runtime::cli::VmArgs) -> Result<(), String>,
) -> std::process::ExitCode {
    let result = runtime::cli::parse_vm_args(name, std::env::args().skip(1)).and_then(|vm| {
        __private::check_mode_supported(&vm.jit, tables)?;
        __private::set_params(vm.jit.clone());
        gc::configure(&vm.gc)?;
        run(vm)
    });
    let code = match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("error: {msg}");
            std::process::ExitCode::from(1)
        }
    };
    // Writes the JIT summary if METATRACE_LOG asks for one.
    __private::vm_exit();
    code
}

/// Includes the glue the build script generated (`$OUT_DIR/metatrace_glue.rs`:
/// the jitcodes as static data, their descr tables and shims, one
/// jitcode-only entry per portal) as the module `crate::__metatrace_glue`.
/// Use it once, at the interpreter crate's root (`main.rs` or `lib.rs`):
///
/// ```ignore
/// metatrace::include_jit!();
/// ```
///
/// The module exists only when the build script generated the glue (it
/// sets the `metatrace_jitcodes` cfg); without a build script, or with
/// `METATRACE_NO_JIT=1` (`cargo translate --no-jit`), the VM is native only.
#[macro_export]
macro_rules! include_jit {
    () => {
        #[cfg(metatrace_jitcodes)]
        #[doc(hidden)]
        #[allow(
            unused_unsafe,
            unused_variables,
            unused_mut,
            unused_parens,
            unused_braces,
            unused_qualifications,
            unused_results,
            unreachable_code,
            unreachable_patterns,
            non_snake_case,
            non_upper_case_globals,
            dead_code,
            missing_docs,
            unreachable_pub,
            trivial_casts,
            trivial_numeric_casts,
            clippy::all
        )]
        pub mod __metatrace_glue {
            include!(concat!(env!("OUT_DIR"), "/metatrace_glue.rs"));
        }
        // Without jitcodes, the GC impls the glue would have held.
        #[cfg(all(metatrace_gc_impls, not(metatrace_jitcodes)))]
        #[doc(hidden)]
        #[allow(unreachable_patterns, unused_variables, clippy::all)]
        mod __metatrace_gc {
            include!(concat!(env!("OUT_DIR"), "/metatrace_gc.rs"));
        }
    };
}

/// The jitcodes of this VM, as `Option<&'static
/// metatrace::runtime::jitcode::Tables>`: `Some` when the crate was built
/// with its glue (see [`include_jit!`]), `None` for a native-only build.
/// Valid anywhere in the interpreter crate.
// `crate::` is meant: the glue is a module of the crate that invokes it.
#[allow(clippy::crate_in_macro_def)]
#[macro_export]
macro_rules! jit_tables {
    () => {{
        #[cfg(metatrace_jitcodes)]
        let tables: ::core::option::Option<&'static $crate::runtime::jitcode::Tables> =
            ::core::option::Option::Some(&crate::__metatrace_glue::TABLES);
        #[cfg(not(metatrace_jitcodes))]
        let tables: ::core::option::Option<&'static $crate::runtime::jitcode::Tables> =
            ::core::option::Option::None;
        tables
    }};
}

/// Marks the top of the portal's dispatch loop (RPython's `jit_merge_point`).
/// Only valid inside a `#[jit_driver]` function, which rewrites it; anywhere
/// else it is a compile error.
#[macro_export]
macro_rules! jit_merge_point {
    ($($t:tt)*) => {
        ::core::compile_error!("jit_merge_point!() used outside a #[jit_driver] function")
    };
}

/// Marks a backward jump of the user's program (RPython's `can_enter_jit`),
/// after the greens have been set to the jump's target. Only valid inside a
/// `#[jit_driver]` function, which rewrites it; anywhere else it is a compile
/// error.
#[macro_export]
macro_rules! can_enter_jit {
    ($($t:tt)*) => {
        ::core::compile_error!("can_enter_jit!() used outside a #[jit_driver] function")
    };
}

/// Marks the start of a user function in a portal whose calls stay in its
/// one dispatch loop (a `CALL` that pushes a frame and goes on at the
/// callee's first instruction, as clox's does), after the greens have been
/// set to the callee's entry. It is `can_enter_jit!()` counted with
/// `function_threshold`: a function entered often is traced from its
/// entry even without a loop (recursive `fib`), and a trace that reaches
/// the entry it started from closes there. Only valid inside a
/// `#[jit_driver]` function.
#[macro_export]
macro_rules! jit_function_entry {
    ($($t:tt)*) => {
        ::core::compile_error!("jit_function_entry!() used outside a #[jit_driver] function")
    };
}

/// Misuses of the hints that must not compile (checked by `cargo test --doc`).
///
/// A merge point outside a driver:
/// ```compile_fail
/// use metatrace::prelude::*;
/// fn f() { jit_merge_point!(); }
/// ```
/// ```compile_fail
/// use metatrace::prelude::*;
/// fn f() { can_enter_jit!(); }
/// ```
/// A driver without a merge point, or with an unknown green:
/// ```compile_fail
/// use metatrace::prelude::*;
/// #[jit_driver(greens = [pc], reds = [])]
/// fn f(pc: usize) {}
/// ```
/// ```compile_fail
/// use metatrace::prelude::*;
/// #[jit_driver(greens = [pc, code], reds = [])]
/// fn f(pc: usize) { loop { jit_merge_point!(); } }
/// ```
/// Merge points take no arguments:
/// ```compile_fail
/// use metatrace::prelude::*;
/// #[jit_driver(greens = [pc])]
/// fn f(pc: usize) { loop { jit_merge_point!(pc); } }
/// ```
/// An elidable function without a result, a hint on a non-function:
/// ```compile_fail
/// use metatrace::prelude::*;
/// #[elidable]
/// fn f(x: &mut u32) { *x = 1; }
/// ```
/// ```compile_fail
/// use metatrace::prelude::*;
/// #[dont_look_inside]
/// struct S;
/// ```
/// The same driver, well-formed, compiles:
/// ```
/// use metatrace::prelude::*;
/// #[jit_driver(greens = [pc])]
/// fn f(mut pc: usize) { loop { jit_merge_point!(); if pc == 0 { return; } pc -= 1; can_enter_jit!(); } }
/// f(3);
/// ```
#[cfg(doctest)]
pub struct CompileFailTests;

// This crate has no build script to declare the `metatrace_jitcodes` cfg
// that `#[jit_driver]` and `jit_tables!()` test (interpreter crates get it
// from `metatrace_translator::Build`).
#[cfg(test)]
#[allow(unexpected_cfgs)]
mod tests {
    use crate::prelude::*;

    struct Regs {
        values: Vec<i64>,
    }

    #[jit_driver(greens = [pc, code], reds = [a, regs])]
    fn interp(code: &[u8], mut a: i64, regs: &mut Regs) -> i64 {
        let mut pc: usize = 0;
        loop {
            jit_merge_point!();
            if pc >= code.len() {
                return a;
            }
            a += code[pc] as i64 + regs.values[0];
            pc += 1;
            if pc == code.len() && a < 100 {
                pc = 0;
                can_enter_jit!();
            }
        }
    }

    #[elidable]
    fn get(regs: &Regs, i: usize) -> i64 {
        regs.values[i]
    }

    #[dont_look_inside]
    fn grow(regs: &mut Regs) {
        regs.values.push(0);
    }

    #[unroll_safe]
    fn sum(regs: &Regs) -> i64 {
        let mut s = 0;
        for i in 0..regs.values.len() {
            s += get(regs, i);
        }
        s
    }

    #[loop_invariant]
    fn first(regs: &Regs) -> i64 {
        regs.values[0]
    }

    struct Counter {
        n: u32,
    }

    impl Counter {
        #[jit_driver(greens = [self], reds = [k])]
        fn count(&mut self) -> u32 {
            let mut k = 0;
            while k < 10 {
                jit_merge_point!();
                k += 1;
                self.n += promote(k);
            }
            self.n
        }

        #[elidable]
        fn get(&self) -> u32 {
            self.n
        }
    }

    /// `include_jit!` allows the lints the glue generator says its code may
    /// trip (`metatrace_jitcodegen::glue::ALLOW_LINTS`).
    #[test]
    fn include_jit_allows_the_glue_lints() {
        let src = include_str!("lib.rs");
        let squash = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
        let start = src.find("macro_rules! include_jit").unwrap();
        let body = squash(&src[start..]);
        let expected = format!(
            "#[allow({})]",
            squash(metatrace_jitcodegen::glue::ALLOW_LINTS)
        );
        assert!(
            body.contains(&expected),
            "include_jit! should have {expected}"
        );
    }

    #[test]
    fn no_tables_without_the_glue() {
        assert!(crate::jit_tables!().is_none());
    }

    #[test]
    fn hints_are_native_identity() {
        let mut regs = Regs { values: vec![1] };
        assert_eq!(interp(&[10, 20], 0, &mut regs), 128);
        grow(&mut regs);
        assert_eq!(sum(&regs), 1);
        assert_eq!(first(&regs), 1);
        assert!(!we_are_jitted());
        let mut c = Counter { n: 0 };
        assert_eq!(c.count(), 55);
        assert_eq!(c.get(), 55);
    }
}
