//! Executable memory, never writable and executable at once (W^X).
//!
//! Code is assembled into a `Vec<u8>` (position independent: internal
//! jumps are relative, everything outside is reached through absolute
//! 64-bit immediates, which become relative jumps when the target is close
//! enough: see `x86::guards::far_jump`), then copied into a *code arena*:
//! large mappings in which traces lie one after the other (each at a cache
//! line). The pages a trace is written to are read-write while it is
//! written, read-execute afterwards; patching (a bridge attached to a
//! guard) flips the pages it touches back to read-write for the time of the
//! write. Packing traces densely, rather than one mapping per trace, keeps
//! the hot code of a program in few pages (instruction TLB) and makes
//! jumps between traces short and relative. Code is never freed.
//!
//! The arena's pages are only writable while the JIT writes code, and the
//! JIT writes only while no compiled code runs on its thread; compiled
//! code of another thread must not run on the same pages meanwhile (the
//! same requirement as before: the backend's registry is locked).

use std::sync::Mutex;

const PAGE: usize = 4096;
const LINE: usize = 64;
/// The size of one mapping of the arena.
const CHUNK: usize = 16 << 20;

const PROT_READ: i32 = 1;
const PROT_WRITE: i32 = 2;
const PROT_EXEC: i32 = 4;
const MAP_PRIVATE: i32 = 2;
const MAP_ANONYMOUS: i32 = 0x20;

extern "C" {
    fn mmap(addr: *mut u8, len: usize, prot: i32, flags: i32, fd: i32, off: i64) -> *mut u8;
    fn mprotect(addr: *mut u8, len: usize, prot: i32) -> i32;
}

/// The part of the arena still free: `[next, end)`.
struct Arena {
    next: usize,
    end: usize,
}

static ARENA: Mutex<Arena> = Mutex::new(Arena { next: 0, end: 0 });

/// Make the pages spanning `[addr, addr + len)` have `prot`.
fn protect(addr: usize, len: usize, prot: i32) -> Result<(), String> {
    let lo = addr / PAGE * PAGE;
    let hi = (addr + len).next_multiple_of(PAGE);
    // SAFETY: the range lies in a mapping of the arena.
    let r = unsafe { mprotect(lo as *mut u8, hi - lo, prot) };
    if r != 0 {
        return Err(format!("mprotect: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

/// Room for `len` bytes of code, at a cache line.
fn allocate(len: usize) -> Result<usize, String> {
    let mut a = ARENA.lock().unwrap_or_else(|e| e.into_inner());
    let start = a.next.next_multiple_of(PAGE) + PAGE;
    if a.end == 0 || start + len > a.end {
        let size = (len + PAGE).next_multiple_of(PAGE).max(CHUNK);
        // SAFETY: a fresh private anonymous mapping, no other effect.
        let p = unsafe {
            mmap(
                std::ptr::null_mut(),
                size,
                PROT_READ | PROT_EXEC,
                MAP_PRIVATE | MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p as isize == -1 {
            return Err(format!("mmap: {}", std::io::Error::last_os_error()));
        }
        a.next = p as usize;
        a.end = p as usize + size;
        return allocate_in(&mut a, len);
    }
    allocate_in(&mut a, len)
}

fn allocate_in(a: &mut Arena, len: usize) -> Result<usize, String> {
    let start = a.next.next_multiple_of(PAGE) + a.next.next_multiple_of(LINE) % PAGE;
    a.next = start + len;
    Ok(start)
}

pub struct CodeMem {
    addr: usize,
    len: usize,
}

impl CodeMem {
    /// Place `code`; `fix(addr, bytes)` may rewrite it once its address is
    /// known (before it becomes executable).
    pub fn new(code: &[u8], fix: impl FnOnce(usize, &mut [u8])) -> Result<CodeMem, String> {
        let len = code.len().max(1);
        let addr = allocate(len)?;
        let mut bytes = code.to_vec();
        fix(addr, &mut bytes);
        protect(addr, len, PROT_READ | PROT_WRITE)?;
        // SAFETY: `[addr, addr + len)` is ours in the arena, now writable.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), addr as *mut u8, bytes.len()) };
        protect(addr, len, PROT_READ | PROT_EXEC)?;
        Ok(CodeMem {
            addr,
            len: code.len(),
        })
    }

    pub fn addr(&self) -> usize {
        self.addr
    }

    pub fn bytes(&self) -> &[u8] {
        // SAFETY: the arena is never unmapped, and always readable.
        unsafe { std::slice::from_raw_parts(self.addr as *const u8, self.len) }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Overwrite the code at each `(offset, bytes)`. The code must not be
    /// running on another thread meanwhile (it is not executable while the
    /// writes happen).
    pub fn patch(&mut self, patches: &[(usize, Vec<u8>)]) -> Result<(), String> {
        for (offset, bytes) in patches {
            assert!(
                offset + bytes.len() <= self.len,
                "patch outside the trace's code"
            );
            let at = self.addr + offset;
            protect(at, bytes.len(), PROT_READ | PROT_WRITE)?;
            // SAFETY: inside this trace's code, now writable.
            unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), at as *mut u8, bytes.len()) };
            protect(at, bytes.len(), PROT_READ | PROT_EXEC)?;
        }
        Ok(())
    }
}
