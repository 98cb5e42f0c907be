//! Hints that are plain functions: natively they are (almost) free, the JIT
//! gives them meaning when it traces through them.

/// Promotes `x` to a constant in the trace being recorded (RPython's
/// `promote`): the tracer inserts a `guard_value` on it, and code after the
/// guard is specialized for that value. Natively, and in jitcodes run by the
/// blackhole interpreter, it is the identity.
#[inline(always)]
pub fn promote<T: Copy>(x: T) -> T {
    x
}

/// True while running compiled or traced code, false when the interpreter
/// runs natively (RPython's `we_are_jitted`). Natively always `false`.
#[inline(always)]
pub fn we_are_jitted() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_behaviour() {
        assert_eq!(promote(42u8), 42);
        assert_eq!(promote(-1i64), -1);
        assert_eq!(promote('x'), 'x');
        assert!(!we_are_jitted());
    }
}
