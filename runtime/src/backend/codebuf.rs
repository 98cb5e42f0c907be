//! Executable memory, never writable and executable at once (W^X).
//!
//! Code is assembled into a `Vec<u8>` (position independent: internal
//! jumps are relative, everything outside is reached through absolute
//! 64-bit immediates, which become relative jumps when the mapping is
//! close enough: see `x86::guards::far_jump`), then copied into a fresh
//! anonymous mapping that is
//! read-write while it is filled and read-execute afterwards. Patching (a
//! bridge attached to a guard) flips the mapping back to read-write for
//! the time of the write. Each trace has its own mapping, so patching one
//! never makes another trace's code non-executable.

use std::sync::atomic::{AtomicUsize, Ordering};

use dynasmrt::mmap::{ExecutableBuffer, MutableBuffer};

pub struct CodeMem {
    buf: Option<ExecutableBuffer>,
    /// Where the code starts in the mapping.
    start: usize,
}

/// Where the next trace's code starts in its first page: each one where
/// the previous one ended (rounded to a cache line), as if they were laid
/// out one after the other. Traces all starting at the beginning of a page
/// would put their hot first bytes in the same few sets of the
/// instruction cache.
static NEXT_START: AtomicUsize = AtomicUsize::new(0);

const PAGE: usize = 4096;
const LINE: usize = 64;

impl CodeMem {
    /// Map `code`; `fix(addr, bytes)` may rewrite it once its address is
    /// known (before it becomes executable).
    pub fn new(code: &[u8], fix: impl FnOnce(usize, &mut [u8])) -> Result<CodeMem, String> {
        let len = code.len().max(1);
        let start = NEXT_START
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |s| {
                Some((s + len).next_multiple_of(LINE) % PAGE)
            })
            .unwrap_or(0);
        let mut m = MutableBuffer::new(start + len).map_err(|e| format!("mmap: {e}"))?;
        m.set_len(start + code.len());
        m[start..].copy_from_slice(code);
        let addr = m.as_ptr() as usize + start;
        fix(addr, &mut m[start..]);
        let exec = m.make_exec().map_err(|e| format!("mprotect: {e}"))?;
        Ok(CodeMem {
            buf: Some(exec),
            start,
        })
    }

    pub fn addr(&self) -> usize {
        self.bytes().as_ptr() as usize
    }

    pub fn bytes(&self) -> &[u8] {
        self.buf.as_ref().map(|b| &b[self.start..]).unwrap_or(&[])
    }

    pub fn len(&self) -> usize {
        self.bytes().len()
    }

    /// Overwrite the code at each `(offset, bytes)`. The code must not be
    /// running on another thread meanwhile (it is not executable while the
    /// writes happen).
    pub fn patch(&mut self, patches: &[(usize, Vec<u8>)]) -> Result<(), String> {
        let exec = self.buf.take().expect("code buffer");
        let mut m = exec.make_mut().map_err(|e| format!("mprotect (rw): {e}"))?;
        for (offset, bytes) in patches {
            let at = self.start + offset;
            m[at..at + bytes.len()].copy_from_slice(bytes);
        }
        let exec = m.make_exec().map_err(|e| format!("mprotect (rx): {e}"))?;
        self.buf = Some(exec);
        Ok(())
    }
}
