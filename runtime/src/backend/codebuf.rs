//! Executable memory, never writable and executable at once (W^X).
//!
//! Each mapping of the arena is a memory file mapped twice: read-execute
//! where the code runs, read-write at another address where the JIT
//! writes it (the "dual mapping" of Firefox's and V8's JITs, also
//! LuaJIT's `LUAJIT_SECURITY_MCODE` alternative). No page is ever both
//! writable and executable, and no `mprotect` is needed to write a trace
//! or patch a guard: before, two per trace and two per patch were over
//! half the backend's time on mandel.b (each splits and merges the
//! mapping in the kernel). Where memory files are not available, the
//! arena falls back to one private mapping per chunk whose pages are made
//! writable for the time of each write.
//!
//! Code is assembled into a `Vec<u8>` (position independent: internal
//! jumps are relative, everything outside is reached through absolute
//! 64-bit immediates, which become relative jumps when the target is close
//! enough: see `x86::guards::far_jump`), then copied into a *code arena*:
//! large mappings in which traces lie one after the other, each at a
//! cache line. The pages a trace is written to are read-write while it is
//! written, read-execute afterwards (through the writable view, or by
//! `mprotect` in the fallback); patching (a bridge attached to a guard)
//! writes the same way. Packing traces densely, rather than one mapping per trace, keeps
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
const MAP_SHARED: i32 = 1;
const MAP_ANONYMOUS: i32 = 0x20;

extern "C" {
    fn mmap(addr: *mut u8, len: usize, prot: i32, flags: i32, fd: i32, off: i64) -> *mut u8;
    fn munmap(addr: *mut u8, len: usize) -> i32;
    fn mprotect(addr: *mut u8, len: usize, prot: i32) -> i32;
    fn madvise(addr: *mut u8, len: usize, advice: i32) -> i32;
}

const MADV_DONTNEED: i32 = 4;
/// Frees a shared mapping's pages and the file's memory behind them
/// (on the writable view: the kernel asks for write access).
const MADV_REMOVE: i32 = 9;

/// One mapping of the arena: the executable range `[start, end)` and,
/// when it is dual-mapped, the address of its writable view.
#[derive(Clone, Copy)]
struct Chunk {
    start: usize,
    end: usize,
    writable: Option<usize>,
}

/// A thread's arena: the untouched tail of its last mapping,
/// `[next, end)`, and the bytes given back, as `(start, len)` runs of
/// whole lines sorted by address, coalesced.
#[derive(Default)]
struct Arena {
    next: usize,
    end: usize,
    free: Vec<(usize, usize)>,
    chunks: Vec<Chunk>,
}

impl Arena {
    fn chunk_of(&self, addr: usize) -> Chunk {
        *self
            .chunks
            .iter()
            .find(|c| c.start <= addr && addr < c.end)
            .expect("an address in the code arena")
    }
}

thread_local! {
    static ARENA: RefCell<Arena> = RefCell::new(Arena::default());
    /// Whether new chunks are dual-mapped (off only to test the fallback).
    static DUAL_MAPPING: std::cell::Cell<bool> = const { std::cell::Cell::new(true) };
}

/// Bytes (whole lines) held by live traces, in the whole process.
static IN_USE: AtomicUsize = AtomicUsize::new(0);

/// Bytes of code memory held by live traces, in the whole process.
pub fn bytes_in_use() -> usize {
    IN_USE.load(Relaxed)
}

/// Writes `bytes` at `addr` in this thread's arena, through the writable
/// view of its chunk, or (fallback) by making its pages writable for the
/// time of the write.
fn write(addr: usize, bytes: &[u8]) -> Result<(), String> {
    let chunk = ARENA.with(|a| a.borrow().chunk_of(addr));
    match chunk.writable {
        Some(w) => {
            // SAFETY: the writable view of `[addr, addr + len)`, inside the
            // chunk (traces never straddle two).
            unsafe {
                std::ptr::copy_nonoverlapping(
                    bytes.as_ptr(),
                    (w + (addr - chunk.start)) as *mut u8,
                    bytes.len(),
                )
            };
        }
        None => {
            protect(addr, bytes.len(), PROT_READ | PROT_WRITE)?;
            // SAFETY: inside the arena, now writable.
            unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), addr as *mut u8, bytes.len()) };
            protect(addr, bytes.len(), PROT_READ | PROT_EXEC)?;
        }
    }
    Ok(())
}

/// A new chunk of `size` bytes (a multiple of the page size): a memory
/// file mapped read-execute and read-write, or, without memory files, a
/// private read-execute mapping.
fn map_chunk(size: usize) -> Result<Chunk, String> {
    if DUAL_MAPPING.with(|d| d.get()) {
        if let Some(chunk) = map_dual(size) {
            return Ok(chunk);
        }
    }
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
    Ok(Chunk {
        start: p as usize,
        end: p as usize + size,
        writable: None,
    })
}

/// The dual-mapped chunk, or `None` if the kernel refuses any step (the
/// caller falls back).
fn map_dual(size: usize) -> Option<Chunk> {
    // SAFETY: plain system calls on a file descriptor this function owns
    // and closes; the mappings are fresh.
    unsafe {
        let fd = libc::memfd_create(c"metatrace-code".as_ptr(), libc::MFD_CLOEXEC);
        if fd < 0 {
            return None;
        }
        let map = |prot| mmap(std::ptr::null_mut(), size, prot, MAP_SHARED, fd, 0);
        let mut chunk = None;
        if libc::ftruncate(fd, size as libc::off_t) == 0 {
            let exec = map(PROT_READ | PROT_EXEC);
            let writable = map(PROT_READ | PROT_WRITE);
            match (exec as isize == -1, writable as isize == -1) {
                (false, false) => {
                    chunk = Some(Chunk {
                        start: exec as usize,
                        end: exec as usize + size,
                        writable: Some(writable as usize),
                    })
                }
                (false, true) => drop(munmap(exec, size)),
                (true, false) => drop(munmap(writable, size)),
                (true, true) => {}
            }
        }
        libc::close(fd);
        chunk
    }
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
    let at = ARENA.with(|a| -> Result<usize, String> {
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
            let chunk = map_chunk(need.next_multiple_of(PAGE).max(CHUNK))?;
            a.chunks.push(chunk);
            // The old tail is not lost: it is free.
            let (next, end) = (a.next, a.end);
            if end > next {
                release_into(&mut a, next, end - next);
            }
            a.next = chunk.start;
            a.end = chunk.end;
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
    // Coalesce with the next run, then with the previous one; never across
    // the start of a chunk (the kernel may place two side by side, and a
    // trace must lie in one: its writable view is the chunk's).
    let starts_chunk = |a: &Arena, x: usize| a.chunks.iter().any(|c| c.start == x);
    if i + 1 < a.free.len() && start + len == a.free[i + 1].0 && !starts_chunk(a, start + len) {
        a.free[i].1 += a.free.remove(i + 1).1;
    }
    if i > 0 && a.free[i - 1].0 + a.free[i - 1].1 == start && !starts_chunk(a, start) {
        a.free[i - 1].1 += a.free.remove(i).1;
        i -= 1;
    }
    let (s, n) = a.free[i];
    let (lo, hi) = (s.next_multiple_of(PAGE), (s + n) / PAGE * PAGE);
    if hi > lo {
        let c = a.chunk_of(lo);
        // SAFETY: the pages are free, nothing runs or reads them; a page
        // dropped this way reads back as zeros.
        unsafe {
            match c.writable {
                Some(w) => madvise((w + (lo - c.start)) as *mut u8, hi - lo, MADV_REMOVE),
                None => madvise(lo as *mut u8, hi - lo, MADV_DONTNEED),
            }
        };
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
        write(addr, &bytes)?;
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
            write(self.addr + offset, bytes)?;
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
        reused_first_fit_and_coalesced();
        assert!(ARENA.with(|a| a.borrow().chunks.iter().all(|c| c.writable.is_some())));
    }

    #[test]
    fn without_dual_mapping_pages_are_made_writable_for_each_write() {
        DUAL_MAPPING.with(|d| d.set(false));
        reused_first_fit_and_coalesced();
        assert!(ARENA.with(|a| a.borrow().chunks.iter().all(|c| c.writable.is_none())));
    }

    #[test]
    fn patches_land_in_the_executable_view() {
        let mut c = code(200);
        c.patch(&[(10, vec![0x90; 5]), (199, vec![0xcc])]).unwrap();
        let mut want = vec![0xc3; 200];
        want[10..15].fill(0x90);
        want[199] = 0xcc;
        assert_eq!(c.bytes(), &want[..]);
    }

    fn reused_first_fit_and_coalesced() {
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
