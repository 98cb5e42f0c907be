//! Lox values and the heap objects they point to (clox's value.h and
//! object.h, and the `Table` and `Chunk` types objects hold).
//!
//! These types are one module because they are mutually recursive (a
//! `Value` points to a `Closure`, whose `Function` holds a `Chunk` of
//! constant `Value`s; a `Class` holds a `Table` of `Value`s): the code that
//! works on them lives beside, in `table.rs`, `chunk.rs`, `strings.rs` and
//! the VM.
//!
//! Memory: every object is behind a [`Gc`] (a `Copy` pointer). Objects are
//! immutable once built except where a Lox program mutates them, and those
//! places are [`GcCell`]s: an instance's fields (with its shape), a class's
//! methods (a `Table`, borrowed mutably to insert), a shape's names and
//! transitions (filled and added to, never changed), an upvalue's state (a `Copy`
//! enum, read with `get` and written with `set`), and a closure's upvalues
//! (filled right after the closure is made, as clox does: capturing
//! allocates, and the closure on the VM stack keeps the upvalues captured
//! so far where the collector sees them).
//!
//! The collector's view of these types (`Trace`, `GcType`) is in
//! `gc_types.rs`, written by hand until the translator generates it.
//!
//! Everything here is written in the translator's subset: values are
//! plain `Copy` enums with payloads, objects plain structs, no traits.

use metatrace::{Gc, GcCell};

/// A Lox value. Numbers are unboxed; objects are typed pointers.
#[derive(Debug, Clone, Copy)]
#[repr(u8)]
pub enum Value {
    Nil,
    Bool(bool),
    Number(f64),
    Obj(Obj),
}

/// A pointer to a heap object, tagged with the object's type (clox's
/// `Obj*` with its `ObjType`). Typed, so that a closure's function or an
/// instance's class need no second check.
#[derive(Debug, Clone, Copy)]
#[repr(u8)]
pub enum Obj {
    String(Gc<LoxString>),
    Function(Gc<Function>),
    Native(Gc<Native>),
    Closure(Gc<Closure>),
    Class(Gc<Class>),
    Instance(Gc<Instance>),
    BoundMethod(Gc<BoundMethod>),
}

/// An interned string (`strings::Interner` makes every one): two Lox
/// strings are equal exactly when they are the same object.
#[derive(Debug)]
pub struct LoxString {
    pub chars: String,
    /// FNV-1a of `chars`, as clox computes it: the key of `Table`s.
    pub hash: u32,
}

/// Bytecode and what it refers to (clox's chunk.h).
#[derive(Debug, Default)]
pub struct Chunk {
    pub code: Vec<u8>,
    /// The source line of each byte of `code`.
    pub lines: Vec<u32>,
    pub constants: Vec<Value>,
}

/// A compiled function: made by the compiler, never changed.
#[derive(Debug)]
pub struct Function {
    pub arity: usize,
    pub upvalue_count: usize,
    pub chunk: Chunk,
    /// `None` for the top-level script.
    pub name: Option<Gc<LoxString>>,
}

/// The native functions (clox's `NativeFn`, as an enum: the subset has no
/// function pointers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NativeFn {
    /// `clock()`: processor time in seconds.
    Clock,
}

#[derive(Debug)]
pub struct Native {
    pub function: NativeFn,
}

/// A function with its captured variables.
#[derive(Debug)]
pub struct Closure {
    pub function: Gc<Function>,
    /// Filled by OP_CLOSURE right after the closure is made, then fixed.
    pub upvalues: GcCell<Vec<Gc<Upvalue>>>,
}

/// A captured variable: open while the variable is on the VM's stack
/// (`Open(slot)`: its index in `Vm::stack`), closed once it left (the
/// value moves into the upvalue).
#[derive(Debug, Clone, Copy)]
#[repr(u8)]
pub enum UpvalueState {
    Open(usize),
    Closed(Value),
}

#[derive(Debug)]
pub struct Upvalue {
    pub state: GcCell<UpvalueState>,
}

#[derive(Debug)]
pub struct Class {
    pub name: Gc<LoxString>,
    /// Filled by OP_METHOD and OP_INHERIT right after the class is made.
    pub methods: GcCell<Table>,
    /// The shape of its instances before they get fields.
    pub empty_shape: Gc<Shape>,
}

/// The fields an instance holds in itself; more go to a `MoreFields`.
pub const INLINE_FIELDS: usize = 4;

/// An instance: its shape, which says which field each slot holds
/// (`shapes.rs`), and its fields' values in slot order, the first
/// `INLINE_FIELDS` in the object itself, the others in a chain of
/// `MoreFields` blocks. One cell for all of it: a `GcCell` costs two words.
#[derive(Debug)]
pub struct Instance {
    pub class: Gc<Class>,
    pub fields: GcCell<Fields>,
}

/// What an instance's cell holds.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    pub shape: Gc<Shape>,
    pub slots: Slots,
    pub more: Option<Gc<MoreFields>>,
}

/// `INLINE_FIELDS` slots. Named fields rather than an array, as PyPy's
/// mapdict has `_value0`..`_value4`: with the slot a constant in a trace,
/// the `match` that picks one folds.
#[derive(Debug, Clone, Copy)]
pub struct Slots {
    pub slot0: Value,
    pub slot1: Value,
    pub slot2: Value,
    pub slot3: Value,
}

/// Four more fields of an instance, and the link to the next block: a GC
/// object without drop glue (a `Vec` would cost a malloc, a free and a
/// finalization per instance).
#[derive(Debug)]
pub struct MoreFields {
    pub block: GcCell<Block>,
}

#[derive(Debug, Clone, Copy)]
pub struct Block {
    pub slots: Slots,
    pub more: Option<Gc<MoreFields>>,
}

/// The layout shared by instances that got the same fields in the same
/// order (PyPy's map). Never changes once made, except that transitions
/// are added.
#[derive(Debug)]
pub struct Shape {
    /// The field of each slot. Filled right after the shape is made.
    pub names: GcCell<Vec<Gc<LoxString>>>,
    /// The shapes one field longer made so far.
    pub transitions: GcCell<Vec<Transition>>,
}

/// `shape` is the shape reached by adding field `name`.
#[derive(Debug, Clone, Copy)]
pub struct Transition {
    pub name: Gc<LoxString>,
    pub shape: Gc<Shape>,
}

#[derive(Debug)]
pub struct BoundMethod {
    pub receiver: Value,
    pub method: Gc<Closure>,
}

/// A hash table keyed by interned strings: open addressing with linear
/// probing and tombstones, as clox's table.c (operations in `table.rs`).
/// Used for globals, fields and methods.
#[derive(Debug, Default)]
pub struct Table {
    /// Empty, or a power of two long.
    pub entries: Vec<Entry>,
    /// Live entries plus tombstones (what the load factor counts).
    pub count: usize,
}

/// A slot of a `Table`: `key: None` is empty when `value` is `Nil`, a
/// tombstone otherwise.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    pub key: Option<Gc<LoxString>>,
    pub value: Value,
}

impl Value {
    /// `nil` and `false` are false, everything else true.
    pub fn is_falsey(self) -> bool {
        match self {
            Value::Nil => true,
            Value::Bool(b) => !b,
            _ => false,
        }
    }
}

/// Lox's `==`: numbers by value (so `nan != nan`), objects by identity
/// (strings are interned).
pub fn values_equal(a: Value, b: Value) -> bool {
    match (a, b) {
        (Value::Nil, Value::Nil) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => x == y,
        (Value::Obj(x), Value::Obj(y)) => objs_equal(x, y),
        _ => false,
    }
}

fn objs_equal(a: Obj, b: Obj) -> bool {
    match (a, b) {
        (Obj::String(x), Obj::String(y)) => Gc::ptr_eq(x, y),
        (Obj::Function(x), Obj::Function(y)) => Gc::ptr_eq(x, y),
        (Obj::Native(x), Obj::Native(y)) => Gc::ptr_eq(x, y),
        (Obj::Closure(x), Obj::Closure(y)) => Gc::ptr_eq(x, y),
        (Obj::Class(x), Obj::Class(y)) => Gc::ptr_eq(x, y),
        (Obj::Instance(x), Obj::Instance(y)) => Gc::ptr_eq(x, y),
        (Obj::BoundMethod(x), Obj::BoundMethod(y)) => Gc::ptr_eq(x, y),
        _ => false,
    }
}
