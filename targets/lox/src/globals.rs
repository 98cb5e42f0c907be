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
//! later assignments leave the version alone. From then on the cell is
//! where that global's value is, in every mode: a trace's assignment is a
//! store into the cell and nothing else (it used to update `values` too,
//! a hash-table probe of six guards in every iteration of a loop that
//! assigns a global), and the native interpreter and the blackhole
//! (`we_are_jitted()` false) read a reassigned name's value from its cell.
//! `values` holds every defined name (its value is current for names
//! never reassigned): a program that reassigns no global reads it alone,
//! as clox does.
//!
//! Why not read a reassigned global from `values` in traces: `Table::get`
//! reads through `&self`, with immutable descrs, and the tracer folds
//! those reads on a constant table.

use crate::object::{LoxString, Table, Value};
use metatrace::prelude::*;
use metatrace::{Gc, GcCell, QuasiImmut};

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
        if !is_defined(globals, name, version) {
            return None;
        }
        return match cell_of(globals, name, version) {
            Some(cell) => Some(cell.value.get()),
            None => Some(constant_value(globals, name, version)),
        };
    }
    let value = globals.values.borrow().get(name)?;
    match reassigned_cell(globals, name) {
        Some(cell) => Some(cell.value.get()),
        None => Some(value),
    }
}

/// `var name = value;` at the top level (OP_DEFINE_GLOBAL), and the
/// natives' definitions.
pub fn define_global(globals: Gc<Globals>, name: Gc<LoxString>, value: Value) {
    globals.values.borrow_mut().set(name, value);
    match cell_of(globals, name, globals.version.get()) {
        Some(cell) => cell.value.set(value),
        None => changed(globals),
    }
}

/// `name = value;` (OP_SET_GLOBAL): false, and nothing changed, when
/// `name` is not defined.
pub fn assign_global(globals: Gc<Globals>, name: Gc<LoxString>, value: Value) -> bool {
    if we_are_jitted() {
        // With `globals` constant both lookups fold: a name assigned
        // before is one store into its cell.
        let version = globals.version.get();
        if !is_defined(globals, name, version) {
            return false;
        }
        if let Some(cell) = cell_of(globals, name, version) {
            cell.value.set(value);
            return true;
        }
    }
    if globals.values.borrow_mut().set(name, value) {
        // Assignment does not define: undo the insertion.
        globals.values.borrow_mut().delete(name);
        return false;
    }
    match cell_of(globals, name, globals.version.get()) {
        Some(cell) => cell.value.set(value),
        None => {
            let cell = new_cell(value);
            let number = add_cell(globals, cell);
            globals
                .reassigned
                .borrow_mut()
                .set(name, Value::Number(number as f64));
            changed(globals);
        }
    }
    true
}

/// A cell holding `value`, pinned: a trace holds its address as a
/// constant from the moment it looks the global up, before the trace is
/// compiled and its constants pinned, and StickyImmix moves young objects.
/// (`pub(crate)`: the generated glue calls it.)
#[dont_look_inside]
pub(crate) fn new_cell(value: Value) -> Gc<GlobalCell> {
    let cell = Gc::new(GlobalCell {
        value: GcCell::new(value),
    });
    // (A code pin never released: the cell lives as long as the VM.)
    metatrace::gc::roots::pin_for_code(Gc::as_ptr(cell) as usize);
    cell
}

/// Appends `cell`; its number (index + 1). Through `borrow_mut`: the
/// length is read as it is now, not as an immutable read of it earlier in
/// the trace left it.
fn add_cell(globals: Gc<Globals>, cell: Gc<GlobalCell>) -> usize {
    globals.cells.borrow_mut().push(cell);
    globals.cells.borrow_mut().len()
}

/// What lookups answer changed.
fn changed(globals: Gc<Globals>) {
    globals.version.set(globals.version.get() + 1);
}

// The lookups: the same as long as `version` is (which is there to be
// part of the key the tracer folds the calls on), run afresh for every
// trace.

#[elidable]
fn is_defined(globals: Gc<Globals>, name: Gc<LoxString>, _version: u64) -> bool {
    globals.values.borrow().get(name).is_some()
}

/// The cell of `name`, if it was assigned after its definition.
#[elidable]
fn cell_of(globals: Gc<Globals>, name: Gc<LoxString>, _version: u64) -> Option<Gc<GlobalCell>> {
    reassigned_cell(globals, name)
}

/// The cell of `name`, if it was assigned after its definition, looked up
/// afresh (the native interpreter's and the blackhole's `cell_of`). No
/// probe while no global was reassigned: `Table::get` of an empty table.
fn reassigned_cell(globals: Gc<Globals>, name: Gc<LoxString>) -> Option<Gc<GlobalCell>> {
    match globals.reassigned.borrow().get(name) {
        Some(Value::Number(n)) => Some(globals.cells.borrow()[n as usize - 1]),
        _ => None,
    }
}

/// The value of a global never assigned (`Nil` for a name without one).
#[elidable]
fn constant_value(globals: Gc<Globals>, name: Gc<LoxString>, _version: u64) -> Value {
    match globals.values.borrow().get(name) {
        Some(value) => value,
        None => Value::Nil,
    }
}
