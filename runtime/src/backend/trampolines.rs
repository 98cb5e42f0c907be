//! `extern "C"` entry points that compiled code calls to reach Rust:
//! the Rust-ABI shims of the descr tables (field places of enum variants,
//! enum tags, Vec operations), residual calls, pure calls run by the
//! blackhole, and the float operations whose semantics are awkward inline.
//!
//! Compiled code passes the descr by address (`Tables` are `'static`).
//! Trampolines that run arbitrary Rust catch panics: a panic cannot unwind
//! through machine code that has no unwind tables, so the payload is kept
//! in a thread-local, the trampoline reports it (`Ret::panicked`), the
//! compiled code leaves through its panic exit, and `backend::execute`
//! resumes the panic in Rust, where the native interpreter would have
//! panicked.

use std::any::Any;
use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::jitcode::{AllocDescr, ArrayDescr, CallDescr, EnumDescr, FieldDescr, Tables};

use super::frame::CALL_RESULTS;

/// Returned in `rax:rdx`.
#[repr(C)]
pub struct Ret {
    pub value: u64,
    pub panicked: u64,
}

thread_local! {
    static PANIC: RefCell<Option<Box<dyn Any + Send>>> = const { RefCell::new(None) };
}

#[inline(always)]
fn guarded<F: FnOnce() -> u64>(f: F) -> Ret {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(value) => Ret { value, panicked: 0 },
        Err(p) => {
            PANIC.with(|c| *c.borrow_mut() = Some(p));
            Ret {
                value: 0,
                panicked: 1,
            }
        }
    }
}

/// The panic caught by the last trampoline that reported one.
pub fn take_panic() -> Option<Box<dyn Any + Send>> {
    PANIC.with(|c| c.borrow_mut().take())
}

pub extern "C" fn mt_field_addr(d: &FieldDescr, base: usize) -> Ret {
    guarded(|| unsafe { crate::executor::field_addr(d, base) as u64 })
}

pub extern "C" fn mt_new(d: &AllocDescr) -> Ret {
    guarded(|| crate::executor::alloc(d) as u64)
}

pub extern "C" fn mt_free(d: &AllocDescr, ptr: usize) -> Ret {
    guarded(|| {
        unsafe { crate::executor::free(d, ptr) };
        0
    })
}

pub extern "C" fn mt_enum_tag(d: &EnumDescr, addr: usize) -> Ret {
    guarded(|| unsafe { (d.tag)(addr) as u64 })
}

pub extern "C" fn mt_vec_len(d: &ArrayDescr, v: usize) -> Ret {
    guarded(|| unsafe { (d.vec_shims().len)(v) as u64 })
}

pub extern "C" fn mt_vec_ptr(d: &ArrayDescr, v: usize) -> Ret {
    guarded(|| unsafe { (d.vec_shims().ptr)(v) as u64 })
}

pub extern "C" fn mt_vec_push(d: &ArrayDescr, v: usize, x: u64) -> Ret {
    guarded(|| {
        unsafe { d.push_shim()(v, x) };
        0
    })
}

pub extern "C" fn mt_vec_pop(d: &ArrayDescr, v: usize) -> Ret {
    guarded(|| unsafe { d.pop_shim()(v) }.unwrap_or(0))
}

pub extern "C" fn mt_vec_cap(d: &ArrayDescr, v: usize) -> Ret {
    guarded(|| unsafe { (crate::executor::slot_shims(d).cap)(v) as u64 })
}

pub extern "C" fn mt_vec_set_len(d: &ArrayDescr, v: usize, len: u64) -> Ret {
    guarded(|| {
        unsafe { (crate::executor::slot_shims(d).set_len)(v, len as usize) };
        0
    })
}

pub extern "C" fn mt_vec_reserve(d: &ArrayDescr, v: usize) -> Ret {
    guarded(|| {
        unsafe { (crate::executor::slot_shims(d).reserve)(v) };
        0
    })
}

pub extern "C" fn mt_vec_init(d: &ArrayDescr, v: usize, len: u64) -> Ret {
    guarded(|| {
        unsafe { crate::executor::vec_init(d, v, len as usize) };
        0
    })
}

pub extern "C" fn mt_vec_drop(d: &ArrayDescr, v: usize) -> Ret {
    guarded(|| {
        unsafe { crate::executor::vec_drop(d, v) };
        0
    })
}

pub extern "C" fn mt_vec_take(d: &ArrayDescr, dst: usize, src: usize) -> Ret {
    guarded(|| {
        unsafe { crate::executor::vec_take(d, dst, src) };
        0
    })
}

pub extern "C" fn mt_string_ptr(s: usize) -> Ret {
    guarded(|| unsafe { (&*(s as *const String)).as_ptr() as u64 })
}

pub extern "C" fn mt_string_len(s: usize) -> Ret {
    guarded(|| unsafe { (&*(s as *const String)).len() as u64 })
}

/// `results` is the frame's call-result buffer (`CALL_RESULTS` words).
/// # Safety
/// `args` points to `nargs` words, `results` to `CALL_RESULTS` words.
pub unsafe extern "C" fn mt_call_residual(
    d: &CallDescr,
    args: *const u64,
    nargs: usize,
    results: *mut u64,
) -> Ret {
    guarded(|| {
        let args = unsafe { std::slice::from_raw_parts(args, nargs) };
        let n = d.result_kinds.len().min(CALL_RESULTS);
        let results = unsafe { std::slice::from_raw_parts_mut(results, n) };
        unsafe { (d.shim)(args, results) };
        0
    })
}

/// # Safety
/// `args` points to `nargs` words, `results` to `CALL_RESULTS` words.
pub unsafe extern "C" fn mt_call_pure(
    tables: &'static Tables,
    jitcode: u64,
    args: *const u64,
    nargs: usize,
    results: *mut u64,
) -> Ret {
    unsafe {
        staged_call(args, nargs, results, |args| {
            crate::blackhole::call(tables, jitcode as u16, args)
        })
    }
}

/// `f` on the staged arguments (`nargs` words at `args`), its results
/// copied into the call-result buffer at `results`.
///
/// # Safety
/// `args` points to `nargs` words, `results` to `CALL_RESULTS` words.
unsafe fn staged_call(
    args: *const u64,
    nargs: usize,
    results: *mut u64,
    f: impl FnOnce(&[u64]) -> Vec<u64>,
) -> Ret {
    guarded(|| {
        let out = f(unsafe { std::slice::from_raw_parts(args, nargs) });
        let n = out.len().min(CALL_RESULTS);
        let results = unsafe { std::slice::from_raw_parts_mut(results, n) };
        results.copy_from_slice(&out[..n]);
        0
    })
}

/// `call_assembler`: a recursive call of the portal of `driver` from its
/// merge point (`jit::portal_call_at`).
///
/// # Safety
/// `args` points to `nargs` words, `results` to `CALL_RESULTS` words.
pub unsafe extern "C" fn mt_call_assembler(
    tables: &'static Tables,
    driver: u64,
    args: *const u64,
    nargs: usize,
    results: *mut u64,
) -> Ret {
    unsafe {
        staged_call(args, nargs, results, |args| {
            crate::portal_calls::at_merge_point(tables, driver as u16, args)
        })
    }
}

/// Rust's `a % b` on f64 (C's `fmod`).
pub extern "C" fn mt_fmod(a: u64, b: u64) -> u64 {
    (f64::from_bits(a) % f64::from_bits(b)).to_bits()
}

/// `f as u64` (saturating, NaN to 0).
pub extern "C" fn mt_f64_to_u64(a: u64) -> u64 {
    f64::from_bits(a) as u64
}
