//! Executable memory, never writable and executable at once (W^X).
//!
//! Code is assembled into a `Vec<u8>` (position independent: internal
//! jumps are relative, everything outside is reached through absolute
//! 64-bit immediates), then copied into a fresh anonymous mapping that is
//! read-write while it is filled and read-execute afterwards. Patching (a
//! bridge attached to a guard) flips the mapping back to read-write for
//! the time of the write. Each trace has its own mapping, so patching one
//! never makes another trace's code non-executable.

use dynasmrt::mmap::{ExecutableBuffer, MutableBuffer};

pub struct CodeMem {
    buf: Option<ExecutableBuffer>,
}

impl CodeMem {
    pub fn new(code: &[u8]) -> Result<CodeMem, String> {
        let mut m = MutableBuffer::new(code.len().max(1)).map_err(|e| format!("mmap: {e}"))?;
        m.set_len(code.len());
        m[..].copy_from_slice(code);
        let exec = m.make_exec().map_err(|e| format!("mprotect: {e}"))?;
        Ok(CodeMem { buf: Some(exec) })
    }

    pub fn addr(&self) -> usize {
        self.bytes().as_ptr() as usize
    }

    pub fn bytes(&self) -> &[u8] {
        self.buf.as_ref().map(|b| &b[..]).unwrap_or(&[])
    }

    pub fn len(&self) -> usize {
        self.bytes().len()
    }

    /// Overwrite `bytes.len()` bytes at `offset`. The code must not be
    /// running on another thread meanwhile (it is not executable while the
    /// write happens).
    pub fn patch(&mut self, offset: usize, bytes: &[u8]) -> Result<(), String> {
        let exec = self.buf.take().expect("code buffer");
        let mut m = exec.make_mut().map_err(|e| format!("mprotect (rw): {e}"))?;
        m[offset..offset + bytes.len()].copy_from_slice(bytes);
        let exec = m.make_exec().map_err(|e| format!("mprotect (rx): {e}"))?;
        self.buf = Some(exec);
        Ok(())
    }
}
