//! Executable memory, never writable and executable at once (W^X).
//!
//! Code is assembled into a `Vec<u8>` (position independent: internal
//! jumps are relative, everything outside is reached through absolute
//! 64-bit immediates, which become relative jumps when the target is close
//! enough: see `x86::guards::far_jump`), then copied into a *code arena*:
//! large mappings in which traces lie one after the other, each at a
//! cache line. The pages a trace is written to are read-write while it is
//! written, read-execute afterwards; patching (a bridge attached to a
//! guard) flips the pages it touches back to read-write for the time of the
//! write. Packing traces densely, rather than one mapping per trace, keeps
//! the hot code of a program in few pages (instruction TLB) and makes
//! jumps between traces short and relative.
//!
//! One arena per thread: a page made writable for a write holds only code
//! of the writing thread, which runs none of it meanwhile (the JIT writes
//! between runs of compiled code), so the VMs of several threads (tests)
//! never execute a page another thread made writable.
//!
//! When a [`CodeMem`] is dropped (the JIT retired its trace), its bytes go
//! to the arena's free list, coalesced with their neighbours, and every
//! page left wholly free is given back to the kernel
//! (`madvise(MADV_DONTNEED)`: it no longer counts in the RSS); later
//! traces are placed there first fit (LuaJIT's `lj_mcode.c` keeps one
//! area and flushes it whole; here the mappings stay and are reused).

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

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
    fn madvise(addr: *mut u8, len: usize, advice: i32) -> i32;
}

const MADV_DONTNEED: i32 = 4;

/// A thread's arena: the untouched tail of its last mapping,
/// `[next, end)`, and the bytes given back, as `(start, len)` runs of
/// whole lines sorted by address, coalesced.
#[derive(Default)]
struct Arena {
    next: usize,
    end: usize,
    free: Vec<(usize, usize)>,
}

thread_local! {
    static ARENA: RefCell<Arena> = RefCell::new(Arena::default());
}

/// Bytes (whole lines) held by live traces, in the whole process.
static IN_USE: AtomicUsize = AtomicUsize::new(0);

/// Bytes of code memory held by live traces, in the whole process.
pub fn bytes_in_use() -> usize {
    IN_USE.load(Relaxed)
}

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

/// Room for `len` bytes of code at a cache line: its address and the
/// bytes it takes (whole lines).
fn allocate(len: usize) -> Result<(usize, usize), String> {
    let need = len.max(1).next_multiple_of(LINE);
    let at = ARENA.with(|a| {
        let mut a = a.borrow_mut();
        if let Some(i) = a.free.iter().position(|&(_, n)| n >= need) {
            let (start, n) = a.free[i];
            if n == need {
                a.free.remove(i);
            } else {
                a.free[i] = (start + need, n - need);
            }
            return Ok(start);
        }
        if a.end == 0 || a.next + need > a.end {
            let size = need.next_multiple_of(PAGE).max(CHUNK);
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
            // The old tail is not lost: it is free.
            let (next, end) = (a.next, a.end);
            if end > next {
                release_into(&mut a, next, end - next);
            }
            a.next = p as usize;
            a.end = p as usize + size;
        }
        let start = a.next;
        a.next += need;
        Ok(start)
    })?;
    IN_USE.fetch_add(need, Relaxed);
    Ok((at, need))
}

/// Puts `[start, start + len)` on the free list, and gives the pages
/// that are then wholly free back to the kernel.
fn release_into(a: &mut Arena, start: usize, len: usize) {
    let mut i = a.free.partition_point(|&(s, _)| s < start);
    a.free.insert(i, (start, len));
    // Coalesce with the next run, then with the previous one.
    if i + 1 < a.free.len() && start + len == a.free[i + 1].0 {
        a.free[i].1 += a.free.remove(i + 1).1;
    }
    if i > 0 && a.free[i - 1].0 + a.free[i - 1].1 == start {
        a.free[i - 1].1 += a.free.remove(i).1;
        i -= 1;
    }
    let (s, n) = a.free[i];
    let (lo, hi) = (s.next_multiple_of(PAGE), (s + n) / PAGE * PAGE);
    if hi > lo {
        // SAFETY: the pages are free, nothing runs or reads them; a
        // private anonymous page dropped this way reads back as zeros.
        unsafe { madvise(lo as *mut u8, hi - lo, MADV_DONTNEED) };
    }
}

/// Gives the bytes of a retired trace back to this thread's arena.
fn release(start: usize, len: usize) {
    IN_USE.fetch_sub(len, Relaxed);
    ARENA.with(|a| release_into(&mut a.borrow_mut(), start, len));
}

/// The machine code of one trace; its memory is given back when it is
/// dropped (nothing may jump into it any more by then) on the thread
/// that made it (on another thread it is left unused: that thread's
/// arena does not own it).
pub struct CodeMem {
    addr: usize,
    len: usize,
    /// The lines it takes: `(start, bytes)`.
    span: (usize, usize),
    owner: std::thread::ThreadId,
}

impl CodeMem {
    /// Place `code`; `fix(addr, bytes)` may rewrite it once its address is
    /// known (before it becomes executable).
    pub fn new(code: &[u8], fix: impl FnOnce(usize, &mut [u8])) -> Result<CodeMem, String> {
        let len = code.len().max(1);
        let (addr, reserved) = allocate(len)?;
        let mut bytes = code.to_vec();
        fix(addr, &mut bytes);
        protect(addr, len, PROT_READ | PROT_WRITE)?;
        // SAFETY: `[addr, addr + len)` is ours in the arena, now writable.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), addr as *mut u8, bytes.len()) };
        protect(addr, len, PROT_READ | PROT_EXEC)?;
        Ok(CodeMem {
            addr,
            len: code.len(),
            span: (addr, reserved),
            owner: std::thread::current().id(),
        })
    }

    /// The bytes it takes in the arena (its length in whole lines).
    pub fn reserved(&self) -> usize {
        self.span.1
    }

    pub fn addr(&self) -> usize {
        self.addr
    }

    pub fn bytes(&self) -> &[u8] {
        // SAFETY: the arena is never unmapped, and always readable; these
        // bytes are this trace's until it is dropped.
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

impl Drop for CodeMem {
    fn drop(&mut self) {
        if std::thread::current().id() == self.owner {
            release(self.span.0, self.span.1);
        } else {
            IN_USE.fetch_sub(self.span.1, Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(n: usize) -> CodeMem {
        CodeMem::new(&vec![0xc3; n], |_, _| {}).unwrap()
    }

    #[test]
    fn freed_code_is_reused_first_fit_and_coalesced() {
        // Each test thread has an arena of its own.
        let a = code(100);
        let b = code(200);
        let after = code(10);
        assert_eq!((a.reserved(), b.reserved()), (128, 256));
        assert_eq!(b.addr(), a.addr() + 128);
        let a_at = a.addr();
        drop(a);
        let c = code(64);
        assert_eq!(c.addr(), a_at, "placed in the freed lines");
        drop(b);
        drop(c);
        // a's 128 bytes and b's 256 are one run again.
        let d = code(300);
        assert_eq!(d.addr(), a_at);
        assert_eq!(d.bytes(), &[0xc3; 300][..]);
        drop(after);
        drop(d);
        ARENA.with(|a| {
            let a = a.borrow();
            assert!(a.free.windows(2).all(|w| w[0].0 + w[0].1 < w[1].0));
        });
    }
}
