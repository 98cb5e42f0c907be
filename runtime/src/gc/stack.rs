//! The conservative scan of the mutator's native stack (DESIGN §8): every
//! word between the parked mutator's stack pointer and the top of its
//! stack that points into a GC object — at its start or inside it — keeps
//! that object alive and pins it for this collection (mmtk's pinning
//! roots), so that the native code, the JIT's spill slots and the
//! blackhole's registers need no stack maps.
//!
//! RPython's shadow stack (rpython/memory/gctransform/shadowstack.py) and
//! its asmgcc root finder are the precise alternatives this replaces;
//! conservative scanning with pinning is what mmtk's Ruby and Julia
//! bindings do for native frames, finding objects with the valid-object
//! bit (`find_object_from_internal_pointer`). Because found objects are
//! pinned, only plans that can pin are offered (see `options.rs`).

use mmtk::util::ObjectReference;
use std::sync::atomic::{AtomicUsize, Ordering};

/// One past the highest address of the mutator's stack.
static STACK_TOP: AtomicUsize = AtomicUsize::new(0);

/// Records the top of the current thread's stack (the heap's thread): the
/// whole stack above the parked frame is scanned, from `main`'s frame (or
/// the thread's entry) down, wherever the VM started.
pub(super) fn record_stack_top() {
    STACK_TOP.store(current_stack_top(), Ordering::Release);
}

fn current_stack_top() -> usize {
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) == 0 {
            let mut addr: *mut libc::c_void = std::ptr::null_mut();
            let mut size: libc::size_t = 0;
            let ok = libc::pthread_attr_getstack(&attr, &mut addr, &mut size) == 0;
            libc::pthread_attr_destroy(&mut attr);
            if ok && !addr.is_null() {
                return addr as usize + size;
            }
        }
    }
    panic!("cannot find the bounds of the mutator's stack (pthread_getattr_np failed)")
}

/// Calls `f` with a stack address below which nothing of the callers'
/// is live, after storing the callee-saved registers on the stack above
/// it: a GC pointer that a caller keeps only in `rbx` or `r12` is then in
/// the scanned range. (Caller-saved registers are dead across the call
/// into the allocator, or already spilled by the callers.)
#[inline(never)]
pub(super) fn with_registers_spilled(f: &mut dyn FnMut(usize)) {
    let mut saved = [0usize; 8];
    let sp: usize;
    #[cfg(target_arch = "x86_64")]
    unsafe {
        std::arch::asm!(
            "mov [{r}], rbx",
            "mov [{r} + 8], rbp",
            "mov [{r} + 16], r12",
            "mov [{r} + 24], r13",
            "mov [{r} + 32], r14",
            "mov [{r} + 40], r15",
            "mov {sp}, rsp",
            r = in(reg) saved.as_mut_ptr(),
            sp = out(reg) sp,
            options(nostack, preserves_flags),
        );
    }
    #[cfg(target_arch = "aarch64")]
    unsafe {
        std::arch::asm!(
            "stp x19, x20, [{r}]",
            "stp x21, x22, [{r}, #16]",
            "stp x23, x24, [{r}, #32]",
            "stp x25, x26, [{r}, #48]",
            "mov {sp}, sp",
            r = in(reg) saved.as_mut_ptr(),
            sp = out(reg) sp,
            options(nostack, preserves_flags),
        );
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    compile_error!("the conservative stack scan spills registers for x86-64 and aarch64 only");
    // `saved` is in this frame, above `sp`: the scan covers it.
    std::hint::black_box(&saved);
    f(sp.min(saved.as_ptr() as usize));
    std::hint::black_box(&saved);
}

/// The objects the words in `[low, top of stack)` point into, each once.
pub(super) fn scan(low: usize) -> Vec<ObjectReference> {
    let top = STACK_TOP.load(Ordering::Acquire);
    let mut found = Vec::new();
    if low == 0 || top == 0 || low >= top {
        return found;
    }
    let mut p = low & !7;
    while p < top {
        let word = unsafe { (p as *const usize).read_volatile() };
        if let Some(obj) = super::lookup::object_containing(word) {
            found.push(obj);
        }
        p += 8;
    }
    found.sort_unstable();
    found.dedup();
    found
}
