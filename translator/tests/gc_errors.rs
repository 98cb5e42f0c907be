//! Diagnostics of the GC types in traced code: `Rc`, `RefCell` and
//! `HashMap` point to `Gc`/`GcCell` and to writing the table in the
//! subset; a `Cell` holding a `Gc` (no write barrier) and a `Gc::new` of
//! an object that owns heap memory are refused at the user's line. Every
//! message is listed in docs/subset.md (`messages_are_in_the_subset_doc`).

use metatrace_testkit::subset::*;
use std::path::Path;

/// The help every `Rc`/`RefCell`/`HashMap` diagnostic carries.
const GC_HELP: &str = "share objects with `metatrace::Gc<T>`";

fn rejects_with_gc_help(src: &str, expected: &[&str]) {
    rejects(src, expected);
    let rendered = translate_err(src).render();
    assert_eq!(
        rendered.matches(GC_HELP).count(),
        expected.len(),
        "every error should point to Gc:\n{rendered}"
    );
}

#[test]
fn rc_refcell_and_hashmap_point_to_gc() {
    rejects_with_gc_help(
        r#"use metatrace::prelude::*;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

pub struct Vm {
    pub cells: Rc<RefCell<Vec<i64>>>,
    pub names: HashMap<u32, i64>,
}

#[jit_driver(greens = [pc], reds = [vm, acc])]
pub fn run(vm: &mut Vm, acc: i64) -> i64 {
    let mut pc: usize = 0;
    while pc < 100 {
        jit_merge_point!();
        let cells = &vm.cells;
        let names = &vm.names;
        Rc::new(acc);
        pc += 1;
    }
    acc
}
"#,
        &[
            "16:25: field `cells` has type `Rc<RefCell<Vec<i64>>>`, which traced code cannot use",
            "17:25: field `names` has type `HashMap<u32, i64>`, which traced code cannot use",
            "18:9: `std::rc::Rc::new` allocates, which is not supported in traced code",
        ],
    );
    rejects_with_gc_help(
        r#"use metatrace::prelude::*;
use std::cell::RefCell;

fn peek(cell: &RefCell<i64>, acc: i64) -> i64 {
    acc
}

#[jit_driver(greens = [pc], reds = [acc])]
pub fn run(acc: i64) -> i64 {
    let mut pc: usize = 0;
    let mut acc = acc;
    while pc < 100 {
        jit_merge_point!();
        acc = peek(&RefCell::new(0), acc);
        pc += 1;
    }
    acc
}
"#,
        &[
            "4:16: type `RefCell` is not supported in traced code",
            "14:21: `std::cell::RefCell::new` allocates, which is not supported in traced code",
        ],
    );
}

#[test]
fn cell_of_gc_has_no_barrier() {
    rejects(
        r#"use metatrace::prelude::*;
use std::cell::Cell;

pub struct Node {
    pub next: Cell<Option<Gc<Node>>>,
}

#[jit_driver(greens = [pc], reds = [n])]
pub fn run(n: Gc<Node>) -> i64 {
    let mut pc: usize = 0;
    while pc < 100 {
        jit_merge_point!();
        n.next.set(Some(n));
        pc += 1;
    }
    0
}
"#,
        &["13:9: a `Cell<Option<Gc<Node>>>` holds a `Gc` but has no write barrier"],
    );
}

#[test]
fn gc_new_of_a_heap_owner() {
    rejects(
        r#"use metatrace::prelude::*;

pub struct Holder {
    pub v: Option<Vec<i64>>,
}

#[jit_driver(greens = [pc], reds = [n])]
pub fn run(n: i64) -> i64 {
    let mut pc: usize = 0;
    while pc < 100 {
        jit_merge_point!();
        let h = Gc::new(Holder { v: None });
        pc += 1;
    }
    0
}
"#,
        &["12:17: `Gc::new` of a value of type `Holder` is not supported in traced code yet"],
    );
}

/// A `QuasiImmut` holds a plain scalar: anything else is refused where
/// it is read or written, with what to do instead (a version number).
#[test]
fn quasi_immutable_of_a_compound_value() {
    rejects(
        r#"use metatrace::prelude::*;
use metatrace::QuasiImmut;

#[derive(Clone, Copy)]
pub struct Pair {
    pub a: i64,
    pub b: i64,
}

pub struct Config {
    pub pair: QuasiImmut<Pair>,
}

#[jit_driver(greens = [pc], reds = [c])]
pub fn run(c: &Config) -> i64 {
    let mut pc: usize = 0;
    while pc < 100 {
        jit_merge_point!();
        let p = c.pair.get();
        pc += p.a as usize;
    }
    0
}
"#,
        &["19:17: a `QuasiImmut<Pair>` is not supported: a quasi-immutable field holds a plain scalar"],
    );
}

/// docs/subset.md lists every message of this file (with the types and
/// names as placeholders).
#[test]
fn messages_are_in_the_subset_doc() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/subset.md"))
            .expect("read docs/subset.md");
    for listed in [
        "type `Rc` is not supported in traced code",
        "`Rc::new` allocates, which is not supported in traced code",
        "a `Cell<T>` holds a `Gc` but has no write barrier",
        "`Gc::new` of a value of type `T` is not supported in traced code yet",
        "GcCell already borrowed",
        "GcCell already mutably borrowed",
        "a `QuasiImmut<T>` is not supported: a quasi-immutable field holds a plain scalar",
        GC_HELP,
    ] {
        assert!(
            doc.contains(listed),
            "docs/subset.md does not list {listed:?}"
        );
    }
}
