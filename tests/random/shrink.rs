//! Delta debugging: removes chunks of a program (halving the chunk size down
//! to single items) and then simplifies numbers, keeping every change after
//! which the divergence persists, until nothing helps or time is up.

use super::harness::Target;
use std::time::{Duration, Instant};

pub struct Shrunk<P> {
    pub program: P,
    /// Candidates tried (each one costs a run per mode involved).
    pub tries: usize,
    pub elapsed: Duration,
    pub out_of_time: bool,
}

/// Minimizes `start` while `still_fails` holds (it holds for `start`).
/// The caller's predicate is responsible for rejecting candidates that might
/// not terminate.
pub fn minimize<T: Target>(
    t: &T,
    start: T::Program,
    mut still_fails: impl FnMut(&T::Program) -> bool,
    budget: Duration,
) -> Shrunk<T::Program> {
    let began = Instant::now();
    let mut cur = start;
    let mut tries = 0;
    let mut out_of_time = false;
    'passes: loop {
        let mut progress = false;
        for list in 0..t.lists(&cur).len() {
            let mut size = t.lists(&cur)[list];
            while size >= 1 {
                let mut a = 0;
                while a < t.lists(&cur)[list] {
                    if began.elapsed() > budget {
                        out_of_time = true;
                        break 'passes;
                    }
                    let b = (a + size).min(t.lists(&cur)[list]);
                    if let Some(c) = t.remove(&cur, list, a, b) {
                        tries += 1;
                        if still_fails(&c) {
                            cur = c;
                            progress = true;
                            continue; // the same `a` now names the next chunk
                        }
                    }
                    a += size;
                }
                if size == 1 {
                    break;
                }
                size = size.div_ceil(2);
            }
        }
        for c in t.simplifications(&cur) {
            if began.elapsed() > budget {
                out_of_time = true;
                break 'passes;
            }
            tries += 1;
            if still_fails(&c) {
                cur = c;
                progress = true;
                break;
            }
        }
        if !progress {
            break;
        }
    }
    Shrunk {
        program: cur,
        tries,
        elapsed: began.elapsed(),
        out_of_time,
    }
}
