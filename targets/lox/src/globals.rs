//! The global variables (clox's `vm.globals`), arranged so that traces
//! read a global that is defined once (a function, a class) as a
//! constant, while a global assigned in a loop is read from memory
//! without invalidating anything.
//!
//! This is PyPy's module dict (pypy/objspace/std/celldict.py) told in
//! clox's terms: the lookup of a name is `#[elidable]` on the dict and on
//! a quasi-immutable `version`, so with both constant the tracer folds
//! it; the version changes only when what a lookup answers changes (a
//! definition, or the first assignment of a name after its definition).
//! A name once assigned gets a cell (PyPy's `ModuleCell`): its lookups
//! fold to that cell, traces read and write the value in the cell, and
//! later assignments leave the version alone. `values` keeps every
//! global's value as well: the native interpreter and the blackhole
//! (`we_are_jitted()` false) read it alone, as clox does.
//!
//! Why not read a reassigned global from `values` in traces: `Table::get`
//! reads through `&self`, with immutable descrs, and the tracer folds
//! those reads on a constant table.

use crate::object::{LoxString, Table, Value};
use metatrace::prelude::*;
use metatrace::{Gc, GcCell, QuasiImmut};

/// What a name is bound to, as the traces see it.
const UNDEFINED: u8 = 0;
/// Defined and never assigned since: its value is a constant in traces.
const CONSTANT: u8 = 1;
/// Assigned after its definition: its value is read from its cell.
const REASSIGNED: u8 = 2;

/// The globals of a VM (`Vm::globals`).
#[derive(Debug)]
pub struct Globals {
    /// Every global's value, by name.
    pub values: GcCell<Table>,
    /// The names assigned after their definition, to the number of their
    /// cell (its index in `cells` + 1).
    pub reassigned: GcCell<Table>,
    pub cells: GcCell<Vec<Gc<GlobalCell>>>,
    /// Changed whenever what a lookup answers changes; traces that read
    /// it are invalidated then.
    pub version: QuasiImmut<u64>,
}

/// Where the value of a reassigned global is, for traces.
#[derive(Debug)]
pub struct GlobalCell {
    pub value: GcCell<Value>,
}

impl Globals {
    pub fn new() -> Globals {
        Globals {
            values: GcCell::new(Table::new()),
            reassigned: GcCell::new(Table::new()),
            cells: GcCell::new(Vec::new()),
            version: QuasiImmut::new(0),
        }
    }
}

/// The value of global `name`, if it is defined (OP_GET_GLOBAL). In a
/// trace with `globals` constant: a constant for a name never assigned,
/// a read of its cell for the others.
pub fn get_global(globals: Gc<Globals>, name: Gc<LoxString>) -> Option<Value> {
    if we_are_jitted() {
        let version = globals.version.get();
        let state = binding_state(globals, name, version);
        if state == CONSTANT {
            return Some(constant_value(globals, name, version));
        }
        if state == UNDEFINED {
            return None;
        }
        let cell = globals.cells.borrow()[cell_number(globals, name, version) - 1];
        return Some(cell.value.get());
    }
    globals.values.borrow().get(name)
}

/// `var name = value;` at the top level (OP_DEFINE_GLOBAL), and the
/// natives' definitions.
pub fn define_global(globals: Gc<Globals>, name: Gc<LoxString>, value: Value) {
    globals.values.borrow_mut().set(name, value);
    let number = cell_number(globals, name, globals.version.get());
    if number == 0 {
        changed(globals);
    } else {
        globals.cells.borrow()[number - 1].value.set(value);
    }
}

/// `name = value;` (OP_SET_GLOBAL): false, and nothing changed, when
/// `name` is not defined.
pub fn assign_global(globals: Gc<Globals>, name: Gc<LoxString>, value: Value) -> bool {
    if globals.values.borrow_mut().set(name, value) {
        // Assignment does not define: undo the insertion.
        globals.values.borrow_mut().delete(name);
        return false;
    }
    let number = cell_number(globals, name, globals.version.get());
    if number == 0 {
        let cell = Gc::new(GlobalCell {
            value: GcCell::new(value),
        });
        globals.cells.borrow_mut().push(cell);
        let count = globals.cells.borrow().len();
        globals
            .reassigned
            .borrow_mut()
            .set(name, Value::Number(count as f64));
        changed(globals);
    } else {
        globals.cells.borrow()[number - 1].value.set(value);
    }
    true
}

/// What lookups answer changed.
fn changed(globals: Gc<Globals>) {
    globals.version.set(globals.version.get() + 1);
}

/// `UNDEFINED`, `CONSTANT` or `REASSIGNED`; the same as long as
/// `version` is (which is there to be part of the key the tracer folds
/// the call on).
#[elidable]
fn binding_state(globals: Gc<Globals>, name: Gc<LoxString>, version: u64) -> u8 {
    if globals.values.borrow().get(name).is_none() {
        return UNDEFINED;
    }
    if cell_number(globals, name, version) != 0 {
        return REASSIGNED;
    }
    CONSTANT
}

/// The number of the cell of `name` (its index in `cells` + 1), or 0
/// when `name` was not assigned after its definition.
#[elidable]
fn cell_number(globals: Gc<Globals>, name: Gc<LoxString>, _version: u64) -> usize {
    match globals.reassigned.borrow().get(name) {
        Some(Value::Number(n)) => n as usize,
        _ => 0,
    }
}

/// The value of a `CONSTANT` global (`Nil` for a name without one).
#[elidable]
fn constant_value(globals: Gc<Globals>, name: Gc<LoxString>, _version: u64) -> Value {
    match globals.values.borrow().get(name) {
        Some(value) => value,
        None => Value::Nil,
    }
}
