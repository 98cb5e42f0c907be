//! The pure semantics of operations, shared by every executor (RPython's
//! `metainterp/executor.py`): the blackhole interpreter, the meta-tracer
//! when it executes an operation on concrete values, the trace interpreter,
//! the optimizer when it folds an operation on constants, the backend's
//! trampolines and the rebuilding of virtuals from resume data.
//!
//! Values are the canonical register values of the jitcode format: int
//! registers hold an `i64` canonical for the operation's static type (`u8`
//! zero-extended, `i8` sign-extended, `u64`/`usize` as the same 64-bit
//! pattern, `bool` 0/1, `char` its scalar value), ref registers an address,
//! float registers an `f64`. Where a function takes or returns a `u64`, it is
//! the canonical register value of the operand's kind: the i64 bit pattern
//! for ints, the address for refs, `f64::to_bits` for floats.
//!
//! Every function here follows the release-build semantics of the Rust code
//! the jitcodes were translated from, and none of them panics: operations
//! the jitcode has guarded against (division by zero) get a defined result
//! instead (see [`int_bin`]).

use crate::jitcode::{
    AllocDescr, ArrayDescr, CmpOp, FieldDescr, FieldPlace, FloatBinOp, IntBinOp, IntTy, ScalarTy,
};

/// Reduce `v` to `ty`'s range with wrap-around, canonically: the same as
/// `IntTy::wrap(v as i128)`, without going through i128.
#[inline(always)]
pub fn wrap(ty: IntTy, v: i64) -> i64 {
    match ty {
        IntTy::I8 => v as i8 as i64,
        IntTy::I16 => v as i16 as i64,
        IntTy::I32 => v as i32 as i64,
        IntTy::I64 | IntTy::Isize | IntTy::U64 | IntTy::Usize => v,
        IntTy::U8 => v as u8 as i64,
        IntTy::U16 => v as u16 as i64,
        IntTy::U32 => v as u32 as i64,
    }
}

/// `a op b` for values canonical for `ty`, wrapped to `ty`.
///
/// - `Add`/`Sub`/`Mul`/`And`/`Or`/`Xor`: wrapping, as in release builds.
/// - `Div`/`Rem`: by `ty`'s signedness (unsigned types on the u64 pattern).
///   `MIN / -1` wraps to `MIN` (remainder 0); a zero divisor, which the
///   jitcode has already turned into a panic, gives 0 here rather than a
///   panic in the executor.
/// - `Shl`/`Shr`: `b` may be canonical for any int type; the amount is
///   `b` modulo the bit width of `ty` (release semantics of `<<`/`>>`).
///   `Shr` is arithmetic for signed types and logical for unsigned ones.
#[inline]
pub fn int_bin(op: IntBinOp, ty: IntTy, a: i64, b: i64) -> i64 {
    let r = match op {
        IntBinOp::Add => a.wrapping_add(b),
        IntBinOp::Sub => a.wrapping_sub(b),
        IntBinOp::Mul => a.wrapping_mul(b),
        IntBinOp::And => a & b,
        IntBinOp::Or => a | b,
        IntBinOp::Xor => a ^ b,
        IntBinOp::Div => {
            if b == 0 {
                0
            } else if ty.signed() {
                a.wrapping_div(b)
            } else {
                ((a as u64) / (b as u64)) as i64
            }
        }
        IntBinOp::Rem => {
            if b == 0 {
                0
            } else if ty.signed() {
                a.wrapping_rem(b)
            } else {
                ((a as u64) % (b as u64)) as i64
            }
        }
        IntBinOp::Shl => a.wrapping_shl(shift_amount(ty, b)),
        IntBinOp::Shr => {
            let s = shift_amount(ty, b);
            if ty.signed() {
                // Sign-extended input: an arithmetic shift of the i64 is the
                // arithmetic shift of the narrow value.
                a >> s
            } else {
                // Zero-extended input (or the full u64 pattern).
                ((a as u64) >> s) as i64
            }
        }
    };
    wrap(ty, r)
}

/// The shift amount of `x << b` / `x >> b` with `x: ty`, in release builds:
/// `b` modulo the bit width (`b` may be negative or of any int type).
#[inline(always)]
pub fn shift_amount(ty: IntTy, b: i64) -> u32 {
    (b as u64 as u32) & (ty.bits() - 1)
}

/// `-a` (wrapping), canonical for `ty`. For unsigned types this is the
/// two's complement negation (`0u8.wrapping_sub(a)`).
#[inline]
pub fn int_neg(ty: IntTy, a: i64) -> i64 {
    wrap(ty, a.wrapping_neg())
}

/// `!a` (bitwise), canonical for `ty`.
#[inline]
pub fn int_not(ty: IntTy, a: i64) -> i64 {
    wrap(ty, !a)
}

/// `a op b` by `ty`'s signedness (unsigned types compare the u64 pattern).
#[inline]
pub fn int_cmp(op: CmpOp, ty: IntTy, a: i64, b: i64) -> bool {
    if ty.signed() {
        cmp(op, a, b)
    } else {
        cmp(op, a as u64, b as u64)
    }
}

#[inline(always)]
fn cmp<T: PartialOrd>(op: CmpOp, a: T, b: T) -> bool {
    match op {
        CmpOp::Eq => a == b,
        CmpOp::Ne => a != b,
        CmpOp::Lt => a < b,
        CmpOp::Le => a <= b,
        CmpOp::Gt => a > b,
        CmpOp::Ge => a >= b,
    }
}

/// `a op b` on f64 (`Rem` is Rust's `%`, i.e. C's `fmod`).
#[inline]
pub fn float_bin(op: FloatBinOp, a: f64, b: f64) -> f64 {
    match op {
        FloatBinOp::Add => a + b,
        FloatBinOp::Sub => a - b,
        FloatBinOp::Mul => a * b,
        FloatBinOp::Div => a / b,
        FloatBinOp::Rem => a % b,
    }
}

/// IEEE comparison, as Rust's `PartialOrd` for f64: every comparison with
/// a NaN is false except `!=`.
#[inline]
pub fn float_cmp(op: CmpOp, a: f64, b: f64) -> bool {
    cmp(op, a, b)
}

/// Is `from as to` a cast Rust accepts between these scalar types? (The
/// verifier rejects the others; [`cast`] still gives them a result.)
#[inline]
pub fn cast_is_valid(from: ScalarTy, to: ScalarTy) -> bool {
    from.can_cast_to(to)
}

/// `v as to` for `v` of type `from`, on canonical register values (see the
/// module docs): int to int wraps (the source being canonical for its own
/// type, sign- or zero-extension is already in it), `bool`/`char` to int,
/// `u8` to `char`, int to `f64` (rounding to nearest, by the source's
/// signedness), `f64` to int saturating with NaN giving 0, refs unchanged,
/// refs to ints as addresses.
///
/// Casts Rust does not allow (see [`cast_is_valid`]) get a defined result:
/// ints into `bool`/`char` are masked to 1/32 bits, `bool`/`char` to f64
/// convert their value, float/ref mixes copy the bits.
#[inline]
pub fn cast(from: ScalarTy, to: ScalarTy, v: u64) -> u64 {
    use ScalarTy::*;
    match (from, to) {
        (F64, F64) | (Ref, Ref) => v,
        (F64, Int(t)) => f64_to_int(t, f64::from_bits(v)) as u64,
        (F64, Bool) => (f64::from_bits(v) as u8 != 0) as u64,
        (F64, Char) => f64::from_bits(v) as u32 as u64,
        (Int(t), F64) => {
            if t.signed() {
                (v as i64 as f64).to_bits()
            } else {
                (v as f64).to_bits()
            }
        }
        (Bool | Char, F64) => (v as f64).to_bits(),
        (F64, Ref) | (Ref, F64) => v,
        (_, Int(t)) => wrap(t, v as i64) as u64,
        (_, Bool) => v & 1,
        (_, Char) => v as u32 as u64,
        (_, Ref) => v as usize as u64,
    }
}

/// `f as t` with Rust's saturating semantics (NaN to 0), canonical for `t`.
#[inline]
pub fn f64_to_int(t: IntTy, f: f64) -> i64 {
    match t {
        IntTy::I8 => f as i8 as i64,
        IntTy::I16 => f as i16 as i64,
        IntTy::I32 => f as i32 as i64,
        IntTy::I64 => f as i64,
        IntTy::Isize => f as isize as i64,
        IntTy::U8 => f as u8 as i64,
        IntTy::U16 => f as u16 as i64,
        IntTy::U32 => f as u32 as i64,
        IntTy::U64 => f as u64 as i64,
        IntTy::Usize => f as usize as i64,
    }
}

/// Read the scalar of type `ty` at `addr` as a canonical register value
/// (sign- or zero-extended by the type; `bool` one byte, `char` four).
///
/// # Safety
/// `addr` must point to a readable value of type `ty` (alignment is not
/// required).
#[inline]
pub unsafe fn load(ty: ScalarTy, addr: usize) -> u64 {
    use std::ptr::read_unaligned as rd;
    match ty {
        ScalarTy::Int(t) => match t {
            IntTy::I8 => rd(addr as *const i8) as i64 as u64,
            IntTy::I16 => rd(addr as *const i16) as i64 as u64,
            IntTy::I32 => rd(addr as *const i32) as i64 as u64,
            IntTy::U8 => rd(addr as *const u8) as u64,
            IntTy::U16 => rd(addr as *const u16) as u64,
            IntTy::U32 => rd(addr as *const u32) as u64,
            IntTy::I64 | IntTy::Isize | IntTy::U64 | IntTy::Usize => rd(addr as *const u64),
        },
        ScalarTy::Bool => rd(addr as *const u8) as u64,
        ScalarTy::Char => rd(addr as *const u32) as u64,
        ScalarTy::F64 | ScalarTy::Ref => rd(addr as *const u64),
    }
}

/// Write the canonical register value `v` as a scalar of type `ty` at
/// `addr` (truncated to the type's size).
///
/// # Safety
/// `addr` must point to a writable value of type `ty` (alignment is not
/// required), and `v` must be a valid value of `ty` (for `bool`/`char`).
#[inline]
pub unsafe fn store(ty: ScalarTy, addr: usize, v: u64) {
    use std::ptr::write_unaligned as wr;
    match ty.size() {
        1 => wr(addr as *mut u8, v as u8),
        2 => wr(addr as *mut u16, v as u16),
        4 => wr(addr as *mut u32, v as u32),
        _ => wr(addr as *mut u64, v),
    }
}

/// `Box::new`'s allocation for one value of `d`'s type: Rust's global
/// allocator with the type's layout, so that native code may drop the box.
/// Zero-sized types get a dangling aligned address, as in `Box`.
pub fn alloc(d: &AllocDescr) -> usize {
    if let Some(gc_type) = d.gc {
        return crate::gc::heap::allocate_zeroed(gc_type());
    }
    let layout = std::alloc::Layout::from_size_align(d.size, d.align)
        .expect("the glue's size and align come from a real type");
    if layout.size() == 0 {
        return d.align;
    }
    let p = unsafe { std::alloc::alloc(layout) };
    if p.is_null() {
        std::alloc::handle_alloc_error(layout);
    }
    p as usize
}

/// Dropping a `Box<T>`: drops what it holds (`AllocDescr::drop`, for a
/// type that owns heap memory), then frees what `alloc` returned. Null
/// (a box moved out of its variable) is nothing.
///
/// # Safety
/// `ptr` is null or a box of `d`'s type not freed yet, holding a value.
pub unsafe fn free(d: &AllocDescr, ptr: usize) {
    if ptr == 0 || d.gc.is_some() {
        return;
    }
    if let Some(drop) = d.drop {
        drop(ptr);
    }
    if d.size == 0 {
        return;
    }
    let layout = std::alloc::Layout::from_size_align_unchecked(d.size, d.align);
    std::alloc::dealloc(ptr as *mut u8, layout);
}

/// The address of field `d` of the object at `base`.
///
/// # Safety
/// `base` must be the address of a value of the field's container type
/// (a `Shim` place reads it).
#[inline]
pub unsafe fn field_addr(d: &FieldDescr, base: usize) -> usize {
    match d.place {
        FieldPlace::Offset(o) => base.wrapping_add(o),
        FieldPlace::Shim(f) => f(base),
    }
}

/// The address of item `idx` of the array data starting at `ptr`.
#[inline]
pub fn item_addr(d: &ArrayDescr, ptr: usize, idx: i64) -> usize {
    ptr.wrapping_add((idx as usize).wrapping_mul(d.item_size))
}

/// The in-place push and pop shims of the Vec descr `d`.
pub fn slot_shims(d: &ArrayDescr) -> crate::jitcode::SlotShims {
    d.vec
        .and_then(|v| v.slots)
        .unwrap_or_else(|| panic!("metatrace: {} has no in-place push/pop shims", d.name))
}

/// `VecInit`: a new `Vec::with_capacity(n)` written at `vec` (memory that
/// holds no Vec).
/// # Safety
/// `vec` is the address of writable memory for a `Vec` of `d`'s items.
pub unsafe fn vec_init(d: &ArrayDescr, vec: usize, n: usize) {
    (slot_shims(d).with_capacity)(vec, n)
}

/// `VecDrop`: drop the Vec at `vec` in place (its items, its buffer).
/// # Safety
/// `vec` is the address of a `Vec` of `d`'s items, not used again until
/// a new Vec is written there.
pub unsafe fn vec_drop(d: &ArrayDescr, vec: usize) {
    (slot_shims(d).drop)(vec)
}

/// `VecTake`: move the Vec at `src` to `dst` (memory that holds no Vec),
/// leaving an empty Vec at `src` (`core::mem::take`), so that `src`'s box
/// may then be freed as usual. A `Vec<T>` is three words for every sized
/// `T`, so the move is a copy of them whatever the item type.
/// # Safety
/// `src` holds a Vec of `d`'s items; `dst` is writable, not overlapping.
pub unsafe fn vec_take(d: &ArrayDescr, dst: usize, src: usize) {
    const VEC_SIZE: usize = std::mem::size_of::<Vec<u8>>();
    std::ptr::copy_nonoverlapping(src as *const u8, dst as *mut u8, VEC_SIZE);
    vec_init(d, src, 0);
}

/// `VecPushSlot`: grow the Vec at `vec` by one uninitialized item; its
/// address.
/// # Safety
/// `vec` is the address of a `Vec` of `d`'s item type.
pub unsafe fn vec_push_slot(d: &ArrayDescr, vec: usize) -> usize {
    let v = d.vec.expect("a Vec descr");
    let s = slot_shims(d);
    let len = (v.len)(vec);
    if len == (s.cap)(vec) {
        (s.reserve)(vec);
    }
    (s.set_len)(vec, len + 1);
    item_addr(d, (v.ptr)(vec), len as i64)
}

/// `VecPopSlot`: shrink the Vec at `vec` by one item; the address of
/// that item (still in place), or `None` when the Vec is empty.
/// # Safety
/// `vec` is the address of a `Vec` of `d`'s item type.
pub unsafe fn vec_pop_slot(d: &ArrayDescr, vec: usize) -> Option<usize> {
    let v = d.vec.expect("a Vec descr");
    let len = (v.len)(vec);
    if len == 0 {
        return None;
    }
    (slot_shims(d).set_len)(vec, len - 1);
    Some(item_addr(d, (v.ptr)(vec), len as i64 - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_matches_inttype_wrap() {
        let samples = [
            0i64,
            1,
            -1,
            127,
            128,
            255,
            256,
            -128,
            -129,
            65535,
            65536,
            i32::MAX as i64,
            i32::MIN as i64,
            u32::MAX as i64,
            i64::MAX,
            i64::MIN,
            0x1234_5678_9abc_def0,
        ];
        for ty in IntTy::ALL {
            for &v in &samples {
                assert_eq!(wrap(ty, v), ty.wrap(v as i128), "{ty:?} {v}");
            }
        }
    }

    #[test]
    fn cast_validity() {
        assert!(cast_is_valid(ScalarTy::Int(IntTy::U8), ScalarTy::Char));
        assert!(!cast_is_valid(ScalarTy::Int(IntTy::U32), ScalarTy::Char));
        assert!(!cast_is_valid(ScalarTy::Int(IntTy::U8), ScalarTy::Bool));
        assert!(!cast_is_valid(ScalarTy::Bool, ScalarTy::F64));
        assert!(!cast_is_valid(ScalarTy::F64, ScalarTy::Ref));
    }
}
