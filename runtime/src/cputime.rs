//! The calling thread's CPU time, for the JIT's cost counters
//! (`tracing_ms`, `optimize_ms`, `compile_ms`; docs/jit.md).
//!
//! Wall time measured what the machine's load did as much as what the JIT
//! did: on the shared 2-core machine the same trace took 2x to 5x longer
//! from run to run, because the thread was waiting for a core. Thread CPU
//! time counts only the instructions this thread ran (its system calls
//! included), and not the time it was parked while the collector's
//! threads collected. RPython's `jitprof` reads wall time
//! (`time.time()`); on an idle machine the two agree.

use std::time::Duration;

/// A point in this thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`); used
/// like `std::time::Instant`.
#[derive(Clone, Copy, Debug)]
pub struct CpuInstant(Duration);

impl CpuInstant {
    pub fn now() -> CpuInstant {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid out-pointer; the clock exists on every
        // Linux since 2.6.12 (and the call cannot fail otherwise).
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        CpuInstant(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
    }

    /// CPU time this thread spent since `self`.
    pub fn elapsed(self) -> Duration {
        CpuInstant::now().0.saturating_sub(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::CpuInstant;

    #[test]
    fn counts_work_and_not_sleep() {
        let t = CpuInstant::now();
        std::thread::sleep(std::time::Duration::from_millis(30));
        let slept = t.elapsed();
        let t = CpuInstant::now();
        let mut x = 0u64;
        while t.elapsed().as_millis() < 5 {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        assert!(slept.as_millis() < 25, "{slept:?} counted while asleep");
        assert!(t.elapsed().as_millis() >= 5);
    }
}
