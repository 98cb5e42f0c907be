//! `Shape`, the enum every hand-made table describes, and its shims: the
//! tag, and the addresses of the `Rect.h` and `Circle.0` payloads.

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
