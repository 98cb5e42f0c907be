//! Instance layouts: maps (PyPy's mapdict, `pypy/objspace/std/mapdict.py`;
//! V8's hidden classes). An instance keeps its field values in a plain
//! `Vec<Value>`, in the order the fields were first assigned, and a
//! pointer to its [`Shape`], which names the field of each slot. Instances
//! that got the same fields in the same order share one shape: every class
//! has an empty shape, and each shape knows the shapes one field longer
//! (its transitions), made the first time an instance takes that path.
//!
//! The values: the first `INLINE_FIELDS` in the instance itself, the rest
//! in a `MoreFields` object made when the instance gets its fifth field.
//! An instance of up to four fields is then one GC object without drop
//! glue: no malloc, no free, nothing for the collector to finalize (with
//! a `Vec` per instance, malloc and free took a fifth of binary_trees.lox).
//!
//! Why: clox gives every instance a hash table of its fields. In a trace
//! a table lookup is a probe loop of a dozen operations and guards per
//! field read, and a table costs ~200 bytes of malloc memory per instance.
//! With shapes, the trace promotes the instance's shape (one guard, which
//! the optimizer drops once the shape is known), the slot of a field is
//! a constant (`field_index` is elidable), and a field read is one load
//! from the values. Shapes never change once made (transitions are only
//! added), so both lookups are elidable.

use crate::object::{
    Class, InlineFields, Instance, LoxString, MoreFields, Shape, Transition, Value, INLINE_FIELDS,
};
use metatrace::prelude::*;
use metatrace::{Gc, GcCell};

impl Shape {
    /// The shape of an instance without fields (one per class).
    pub fn empty() -> Shape {
        Shape {
            names: GcCell::new(Vec::new()),
            transitions: GcCell::new(Vec::new()),
        }
    }
}

/// A new instance of `class`, without fields.
pub fn new_instance(class: Gc<Class>) -> Gc<Instance> {
    Gc::new(Instance {
        class,
        shape: GcCell::new(class.empty_shape),
        inline_fields: GcCell::new(InlineFields {
            slot0: Value::Nil,
            slot1: Value::Nil,
            slot2: Value::Nil,
            slot3: Value::Nil,
        }),
        more_fields: GcCell::new(None),
    })
}

/// The value of field `name` of `instance`, if it has one.
pub fn get_field(instance: Gc<Instance>, name: Gc<LoxString>) -> Option<Value> {
    let shape = promote(instance.shape.get());
    match field_index(shape, name) {
        Some(slot) => Some(read_slot(instance, slot)),
        None => None,
    }
}

/// Sets field `name` of `instance` to `value`, adding the field if it is
/// new (which moves the instance to the next shape).
pub fn set_field(instance: Gc<Instance>, name: Gc<LoxString>, value: Value) {
    let shape = promote(instance.shape.get());
    match field_index(shape, name) {
        Some(slot) => write_slot(instance, slot, value),
        None => {
            let slot = shape.names.borrow().len();
            let next = shape_with(shape, name);
            if slot == INLINE_FIELDS {
                // The first field past the inline ones.
                let more = Gc::new(MoreFields {
                    values: GcCell::new(Vec::new()),
                });
                instance.more_fields.set(Some(more));
            }
            if slot < INLINE_FIELDS {
                write_slot(instance, slot, value);
            } else {
                more_fields(instance).values.borrow_mut().push(value);
            }
            instance.shape.set(next);
        }
    }
}

/// The value in `slot` of `instance` (which has that slot).
fn read_slot(instance: Gc<Instance>, slot: usize) -> Value {
    let inline = instance.inline_fields.borrow();
    match slot {
        0 => inline.slot0,
        1 => inline.slot1,
        2 => inline.slot2,
        3 => inline.slot3,
        _ => more_fields(instance).values.borrow()[slot - INLINE_FIELDS],
    }
}

/// Replaces the value in `slot` of `instance` (which has that slot).
fn write_slot(instance: Gc<Instance>, slot: usize, value: Value) {
    match slot {
        0 => instance.inline_fields.borrow_mut().slot0 = value,
        1 => instance.inline_fields.borrow_mut().slot1 = value,
        2 => instance.inline_fields.borrow_mut().slot2 = value,
        3 => instance.inline_fields.borrow_mut().slot3 = value,
        _ => more_fields(instance).values.borrow_mut()[slot - INLINE_FIELDS] = value,
    }
}

/// The overflow fields of an instance with more than `INLINE_FIELDS`.
fn more_fields(instance: Gc<Instance>) -> Gc<MoreFields> {
    match instance.more_fields.get() {
        Some(more) => more,
        None => unreachable!("an instance past its inline fields has more_fields"),
    }
}

/// The slot of field `name` in instances of `shape`. A linear search:
/// instances have few fields, and in traces the call is folded.
#[elidable]
pub fn field_index(shape: Gc<Shape>, name: Gc<LoxString>) -> Option<usize> {
    let names = shape.names.borrow();
    for slot in 0..names.len() {
        if Gc::ptr_eq(names[slot], name) {
            return Some(slot);
        }
    }
    None
}

/// The shape of an instance of `shape` that gets the new field `name`:
/// the transition made before, or a new shape. Elidable although it may
/// allocate: for the same arguments it always returns the same shape
/// (PyPy's `_get_new_attr` is elidable for the same reason).
#[elidable]
pub fn shape_with(shape: Gc<Shape>, name: Gc<LoxString>) -> Gc<Shape> {
    let known = transition(shape, name);
    if let Some(next) = known {
        return next;
    }
    // Allocate first, then copy the names in: a `Gc` held only in a
    // Rust-heap `Vec` across an allocation would not be seen (nor
    // updated, if it moved) by the collector.
    let next = Gc::new(Shape::empty());
    let names = shape.names.borrow();
    let mut longer = next.names.borrow_mut();
    for slot in 0..names.len() {
        longer.push(names[slot]);
    }
    longer.push(name);
    shape
        .transitions
        .borrow_mut()
        .push(Transition { name, shape: next });
    next
}

/// The shape `shape` already leads to with field `name`, if any.
fn transition(shape: Gc<Shape>, name: Gc<LoxString>) -> Option<Gc<Shape>> {
    let transitions = shape.transitions.borrow();
    for i in 0..transitions.len() {
        let t = transitions[i];
        if Gc::ptr_eq(t.name, name) {
            return Some(t.shape);
        }
    }
    None
}
