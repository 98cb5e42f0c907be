//! `Shape`, the enum every hand-made table describes, and its shims: the
//! tag, and the addresses of the `Rect.h` and `Circle.0` payloads.

use crate::jitcode::field;
use metatrace_runtime::jitcode::{EnumDescr, FieldDescr, FieldPlace, IntTy, ScalarTy};

pub enum Shape {
    Empty,
    Circle(f64),
    Rect { w: i32, h: i32 },
}

/// The `EnumDescr` tag shim: 0, 1, 2 in declaration order.
pub unsafe fn shape_tag(a: usize) -> u32 {
    match unsafe { &*(a as *const Shape) } {
        Shape::Empty => 0,
        Shape::Circle(_) => 1,
        Shape::Rect { .. } => 2,
    }
}

/// The address of `Shape::Rect.h`.
pub unsafe fn rect_h(a: usize) -> usize {
    match unsafe { &mut *(a as *mut Shape) } {
        Shape::Rect { h, .. } => h as *mut i32 as usize,
        _ => unreachable!("not a Rect"),
    }
}

/// The address of `Shape::Circle.0`.
pub unsafe fn circle_r(a: usize) -> usize {
    match unsafe { &mut *(a as *mut Shape) } {
        Shape::Circle(r) => r as *mut f64 as usize,
        _ => unreachable!("not a Circle"),
    }
}

/// The mutable enum descr `Shape`.
pub fn shape_enum() -> EnumDescr {
    EnumDescr {
        immutable: false,
        name: "Shape",
        tag: shape_tag,
        null_pointer: false,
    }
}

/// The field descrs `Shape::Rect.h` and `Shape::Circle.0`, in that order.
pub fn shape_fields() -> [FieldDescr; 2] {
    [
        field(
            "Shape::Rect.h",
            Some(ScalarTy::Int(IntTy::I32)),
            FieldPlace::Shim(rect_h),
        ),
        field(
            "Shape::Circle.0",
            Some(ScalarTy::F64),
            FieldPlace::Shim(circle_r),
        ),
    ]
}
