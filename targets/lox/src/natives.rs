//! The native functions Lox programs can call: `clock()`, as clox defines
//! it (processor time, C's `clock() / CLOCKS_PER_SEC`).

use crate::object::{NativeFn, Value};
use metatrace::prelude::*;

/// The name each native is bound to in the globals.
pub const NATIVES: [(&str, NativeFn); 1] = [("clock", NativeFn::Clock)];

/// Calls `function` (clox passes the arguments and ignores them; so do
/// we: `clock` takes none and checks nothing).
pub fn call_native(function: NativeFn) -> Value {
    match function {
        NativeFn::Clock => Value::Number(clock_seconds()),
    }
}

/// Processor time used by the process, in seconds.
#[dont_look_inside]
pub fn clock_seconds() -> f64 {
    extern "C" {
        // C's clock(3), from the C library std already links.
        fn clock() -> std::os::raw::c_long;
    }
    // POSIX fixes CLOCKS_PER_SEC at one million.
    const CLOCKS_PER_SEC: f64 = 1_000_000.0;
    // SAFETY: clock() has no preconditions.
    let ticks = unsafe { clock() };
    ticks as f64 / CLOCKS_PER_SEC
}
