//! The frame buffer of compiled code: one block of memory per `execute`,
//! addressed from `r15` (the frame pointer of compiled code), the same
//! layout for every trace so that bridges and loops can jump into each
//! other without adjusting anything.
//!
//! ```text
//!   low addresses                                             high addresses
//!   | spill slots (MAX_SLOTS) | call results (CALL_RESULTS) | I/O area (MAX_IO) |
//!                                                           ^ r15
//! slot s          at r15 - 8*CALL_RESULTS - 8*(s+1)
//! call result n   at r15 - 8*CALL_RESULTS + 8*n
//! I/O word k      at r15 + 8*k
//! ```
//!
//! The I/O area holds a loop's inputs on entry (`execute`), a failing
//! guard's fail arguments on exit, and the arguments of a residual or
//! pure call while it is being made (between entry and exit nothing else
//! lives there). Going from trace to trace (a guard into its bridge, a
//! `JumpTo` into a loop) passes the values in registers and spill slots
//! instead. Spill slots live in the frame buffer, not on the machine
//! stack, so a bridge can use more slots than the loop it is attached to
//! (and keep the ones the loop left its inputs in): the native stack frame
//! is the same fixed size for every trace.
//!
//! Call results are the per-execute "call-result buffer" the trace IR's
//! `CallResult(n)` reads.

/// Words of the call-result buffer (results of one residual/pure call).
pub const CALL_RESULTS: usize = 64;
/// Spill slots available to one trace.
pub const MAX_SLOTS: usize = 4096;
/// Words of the I/O area: a trace's inputs, a guard's fail arguments,
/// the arguments of one call.
pub const MAX_IO: usize = 1024;
/// Total size of a frame buffer, in words.
pub const FRAME_WORDS: usize = MAX_SLOTS + CALL_RESULTS + MAX_IO;
/// Index of the word `r15` points to.
pub const FP_INDEX: usize = MAX_SLOTS + CALL_RESULTS;

pub fn io_disp(k: usize) -> i32 {
    (8 * k) as i32
}

pub fn result_disp(n: usize) -> i32 {
    -8 * CALL_RESULTS as i32 + 8 * n as i32
}

pub fn slot_disp(s: u32) -> i32 {
    -8 * CALL_RESULTS as i32 - 8 * (s as i32 + 1)
}

use std::cell::RefCell;

/// Frame buffers kept for reuse per thread: one per level of compiled
/// code active at once (a recursive portal call, `call_assembler`, runs
/// compiled code inside compiled code), up to this many.
const POOLED_FRAMES: usize = 64;

thread_local! {
    /// Frame buffers for reuse (a residual call may re-enter compiled
    /// code: each active `execute` has its own).
    static POOL: RefCell<Vec<(Box<[u64]>, ConservativeRoot)>> = const { RefCell::new(Vec::new()) };
}

/// A frame buffer, returned to the thread's pool when dropped. While it
/// is taken, the whole buffer is a conservative GC root (DESIGN §8):
/// compiled code keeps live values in its spill slots across the calls
/// that may collect (an allocation, a residual call), and passes values
/// through the I/O area.
pub struct FrameBuf {
    buf: Option<(Box<[u64]>, ConservativeRoot)>,
}

use crate::gc::ConservativeRoot;

impl FrameBuf {
    pub fn take() -> FrameBuf {
        let (b, root) = POOL
            .try_with(|p| p.borrow_mut().pop())
            .ok()
            .flatten()
            .unwrap_or_else(|| {
                (
                    vec![0u64; FRAME_WORDS].into_boxed_slice(),
                    ConservativeRoot::new(),
                )
            });
        root.set(b.as_ptr() as *const usize, b.len());
        FrameBuf {
            buf: Some((b, root)),
        }
    }

    pub fn io(&mut self) -> &mut [u64] {
        &mut self.buf.as_mut().expect("frame").0[FP_INDEX..]
    }

    /// The value compiled code gets in `r15`.
    pub fn fp(&mut self) -> *mut u64 {
        self.io().as_mut_ptr()
    }
}

impl Drop for FrameBuf {
    fn drop(&mut self) {
        if let Some((b, root)) = self.buf.take() {
            root.set(std::ptr::null(), 0);
            let _ = POOL.try_with(|p| {
                let mut p = p.borrow_mut();
                if p.len() < POOLED_FRAMES {
                    p.push((b, root));
                }
            });
        }
    }
}
