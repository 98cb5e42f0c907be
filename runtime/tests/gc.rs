//! The garbage collector at the runtime level (docs/gc.md): objects
//! reachable from registered roots, from the native stack (also through
//! interior pointers) and from other objects survive collections intact;
//! unreachable ones, cycles included, are freed and their drop glue runs;
//! the write barrier keeps young objects that only old ones point to; the
//! same under `--gc stress`. Each scenario runs in a child process, once
//! per plan (testkit::gc).

use metatrace_runtime::gc::{self, Gc, GcCell, Root, Trace};
use metatrace_runtime::gc_type;
use metatrace_testkit::gc::{child_options, clobber_stack, run_child, PLANS};
use std::cell::Cell;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A binary tree node / list cell.
struct Node {
    value: Cell<i64>,
    left: GcCell<Option<Gc<Node>>>,
    right: GcCell<Option<Gc<Node>>>,
}

unsafe impl Trace for Node {
    fn trace(&self, visit: &mut dyn FnMut(*mut usize)) {
        self.left.trace(visit);
        self.right.trace(visit);
    }
}

/// A tagged value, as a dynamic language's VM has them: the `Gc` is inside
/// an enum payload.
#[derive(Clone, Copy)]
enum Value {
    Nil,
    Int(i64),
    Obj(Gc<Node>),
}

unsafe impl Trace for Value {
    fn trace(&self, visit: &mut dyn FnMut(*mut usize)) {
        if let Value::Obj(g) = self {
            g.trace(visit)
        }
    }
}

/// An object that owns a `Vec` of values (its drop glue frees the `Vec`).
struct Bag {
    items: GcCell<Vec<Value>>,
}

unsafe impl Trace for Bag {
    fn trace(&self, visit: &mut dyn FnMut(*mut usize)) {
        self.items.trace(visit)
    }
}

static DROPS: AtomicUsize = AtomicUsize::new(0);

/// Counts its drops; points to another one (rings of them are cycles).
struct Counted {
    other: GcCell<Option<Gc<Counted>>>,
    data: Vec<u64>,
}

unsafe impl Trace for Counted {
    fn trace(&self, visit: &mut dyn FnMut(*mut usize)) {
        self.other.trace(visit)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        DROPS.fetch_add(1, Ordering::Relaxed);
    }
}

gc_type!(Node, Bag, Counted);

fn node(value: i64, left: Option<Gc<Node>>, right: Option<Gc<Node>>) -> Gc<Node> {
    Gc::new(Node {
        value: Cell::new(value),
        left: GcCell::new(left),
        right: GcCell::new(right),
    })
}

/// A complete tree of `depth` levels whose nodes hold their preorder index.
fn tree(depth: u32, next: &mut i64) -> Option<Gc<Node>> {
    if depth == 0 {
        return None;
    }
    let value = *next;
    *next += 1;
    let left = tree(depth - 1, next);
    let right = tree(depth - 1, next);
    Some(node(value, left, right))
}

/// Checks a tree made by `tree`; returns its node count.
fn check_tree(t: Option<Gc<Node>>, depth: u32, next: &mut i64) -> usize {
    match t {
        None => {
            assert_eq!(depth, 0);
            0
        }
        Some(n) => {
            assert_eq!(n.value.get(), *next, "a node's contents changed");
            *next += 1;
            1 + check_tree(n.left.get(), depth - 1, next)
                + check_tree(n.right.get(), depth - 1, next)
        }
    }
}

/// Allocates `n` unreachable nodes (in small trees): work for the
/// collector.
#[inline(never)]
fn churn(n: usize) {
    let mut k = 0;
    while k < n {
        let mut next = 0;
        black_box(tree(6, &mut next));
        k += 63;
    }
}

fn setup() -> bool {
    match child_options() {
        Some(options) => {
            gc::configure(&options).unwrap();
            true
        }
        None => false,
    }
}

#[test]
#[ignore = "run in a child process by reachable_objects_survive"]
fn child_reachable_objects_survive() {
    if !setup() {
        return;
    }
    // Reachable from a registered root only: the Vec's buffer is on the
    // malloc heap, out of the stack scan's sight.
    let mut roots = Root::new(Vec::<Gc<Node>>::new());
    for i in 0..2000 {
        roots.push(node(i, None, None));
    }
    // Reachable from the stack: the head of a list.
    let mut head = None;
    for i in 0..2000 {
        head = Some(node(i, None, head));
    }
    // A tree reachable from one stack slot.
    let mut next = 0;
    let t = tree(12, &mut next);
    // Reachable through an interior pointer only: a reference to a field.
    let field: &Cell<i64> = &node(77, None, None).value;
    // Inside enum payloads in a Vec an object owns.
    let bag = Gc::new(Bag {
        items: GcCell::new(Vec::new()),
    });
    for i in 0..500 {
        let v = if i % 3 == 0 {
            Value::Obj(node(1000 + i, None, None))
        } else if i % 3 == 1 {
            Value::Int(i)
        } else {
            Value::Nil
        };
        bag.items.borrow_mut().push(v);
    }
    // A cycle reachable from the stack.
    let a = node(1, None, None);
    let b = node(2, Some(a), None);
    a.left.set(Some(b));
    let before = gc::stats().collections;

    for round in 0..4 {
        churn(100_000);
        match round {
            1 => gc::collect(),
            2 => gc::collect_young(),
            _ => {}
        }
        for (i, n) in roots.iter().enumerate() {
            assert_eq!(n.value.get(), i as i64);
            assert!(gc::heap::is_object(n.as_ptr() as *const u8));
        }
        let (mut cur, mut i) = (head, 1999);
        while let Some(n) = cur {
            assert_eq!(n.value.get(), i);
            cur = n.right.get();
            i -= 1;
        }
        assert_eq!(i, -1);
        let mut next = 0;
        assert_eq!(check_tree(t, 12, &mut next), 4095);
        assert_eq!(field.get(), 77);
        for (i, v) in bag.items.borrow().iter().enumerate() {
            match (i % 3, v) {
                (0, Value::Obj(n)) => assert_eq!(n.value.get(), 1000 + i as i64),
                (1, Value::Int(k)) => assert_eq!(*k, i as i64),
                (2, Value::Nil) => {}
                _ => panic!("bag item {i} changed"),
            }
        }
        assert!(Gc::ptr_eq(a.left.get().unwrap(), b));
        assert!(Gc::ptr_eq(b.left.get().unwrap(), a));
    }
    let after = gc::stats().collections;
    assert!(after >= before + 2, "only {} collections", after - before);
    println!("collections: {}", after - before);
}

#[test]
fn reachable_objects_survive() {
    for plan in PLANS {
        let out = run_child(
            "child_reachable_objects_survive",
            &format!("plan={plan},heap=32M"),
        );
        println!(
            "{plan}: {}",
            out.lines()
                .find_map(|l| l.split_once("collections: "))
                .map_or("", |(_, n)| n)
        );
    }
}

/// Makes `n` rings of three `Counted`s (cycles) and as many plain nodes,
/// none reachable once this returns.
#[inline(never)]
fn make_garbage(n: usize) {
    for _ in 0..n {
        let a = Gc::new(Counted {
            other: GcCell::new(None),
            data: vec![1, 2, 3],
        });
        let b = Gc::new(Counted {
            other: GcCell::new(Some(a)),
            data: Vec::new(),
        });
        let c = Gc::new(Counted {
            other: GcCell::new(Some(b)),
            data: vec![7; 10],
        });
        a.other.set(Some(c));
        black_box(node(0, None, None));
    }
}

#[test]
#[ignore = "run in a child process by unreachable_objects_are_freed"]
fn child_unreachable_objects_are_freed() {
    if !setup() {
        return;
    }
    let keep = Gc::new(Counted {
        other: GcCell::new(None),
        data: vec![5; 4],
    });
    // The first collection finds the dead objects and runs their drop
    // glue; the second frees the husks.
    let collect_twice = || {
        clobber_stack();
        gc::collect();
        clobber_stack();
        gc::collect();
    };
    make_garbage(20_000);
    let with_garbage = gc::stats().used_bytes;
    collect_twice();
    let drops = DROPS.load(Ordering::Relaxed);
    // Every ring is garbage; the conservative scan may keep a ring that a
    // stale register still names, never more than a handful.
    assert!(drops >= 3 * 20_000 - 9, "only {drops} of 60000 dropped");
    assert!(drops <= 3 * 20_000, "a reachable object was dropped");
    // mmtk's used bytes count the pages its spaces hold, which they keep
    // for reuse after a collection: freeing shows as the heap not growing
    // while round after round of garbage is made and collected (ten
    // rounds would take ten times the space otherwise).
    let first = gc::stats().used_bytes;
    for _ in 0..9 {
        make_garbage(20_000);
        collect_twice();
    }
    let last = gc::stats().used_bytes;
    let drops = DROPS.load(Ordering::Relaxed);
    println!("drops {drops}; used bytes: {with_garbage} with the first garbage, {first} after collecting it, {last} after ten rounds");
    assert!(
        drops >= 10 * 3 * 20_000 - 9,
        "only {drops} of 600000 dropped"
    );
    assert!(
        last <= first + first / 2 && last < 4 * with_garbage,
        "the heap grew with garbage: {first} -> {last} bytes"
    );
    assert_eq!(keep.data, [5; 4]);
}

#[test]
fn unreachable_objects_are_freed() {
    for plan in PLANS {
        let out = run_child(
            "child_unreachable_objects_are_freed",
            &format!("plan={plan},heap=64M"),
        );
        println!(
            "{plan}: {}",
            out.lines()
                .find_map(|l| l.split_once("drops "))
                .map_or("", |(_, n)| n)
        );
    }
}

/// Stores a new (young) node into `old`'s field and into its bag's `Vec`,
/// and leaves no other reference to them on the stack.
#[inline(never)]
fn store_young(old: Gc<Node>, bag: Gc<Bag>, value: i64) {
    old.left.set(Some(node(value, None, None)));
    bag.items
        .borrow_mut()
        .push(Value::Obj(node(value + 1, None, None)));
}

#[test]
#[ignore = "run in a child process by the_write_barrier_keeps_young_objects"]
fn child_the_write_barrier_keeps_young_objects() {
    if !setup() {
        return;
    }
    let old = node(1, None, None);
    let bag = Gc::new(Bag {
        items: GcCell::new(Vec::new()),
    });
    // Now `old` and `bag` are old objects.
    gc::collect();
    for round in 0..20 {
        store_young(old, bag, 100 * round);
        clobber_stack();
        gc::collect_young();
        if gc::heap::options().plan.is_generational() {
            assert!(!gc::stats().last_exhaustive, "not a young collection");
        }
        // Reuse whatever the collection freed.
        churn(20_000);
        let young = old.left.get().unwrap();
        assert!(gc::heap::is_object(young.as_ptr() as *const u8));
        assert_eq!(young.value.get(), 100 * round, "round {round}");
        match bag.items.borrow().last() {
            Some(Value::Obj(n)) => assert_eq!(n.value.get(), 100 * round + 1),
            _ => panic!("the bag lost its last item"),
        }
    }
    assert_eq!(bag.items.borrow().len(), 20);
    println!("remembered cells now: {}", gc::cell::remembered_count());
}

#[test]
fn the_write_barrier_keeps_young_objects() {
    for plan in PLANS {
        run_child(
            "child_the_write_barrier_keeps_young_objects",
            &format!("plan={plan},heap=32M"),
        );
    }
}

/// A cell written while its object was young is logged but not
/// remembered; once a young collection has kept the object, a store of a
/// young object into the cell must be remembered again (the collection
/// clears the flag as it traces the object).
#[test]
#[ignore = "run in a child process by the_barrier_holds_for_objects_that_grew_old"]
fn child_the_barrier_holds_for_objects_that_grew_old() {
    if !setup() {
        return;
    }
    let generational = gc::heap::options().plan.is_generational();
    // Kept by a root: the collections may move the holders.
    let mut holders = gc::Root::new(Vec::<Gc<Node>>::new());
    for round in 0..20 {
        // Young: the first write logs the cell, without remembering it.
        let holder = node(round, None, None);
        holder.left.set(None);
        holder.right.set(None);
        gc::collect_young();
        // Old now: this store passes the barrier again.
        let remembered = gc::cell::remembered_count();
        store_young(
            holder,
            Gc::new(Bag {
                items: GcCell::new(Vec::new()),
            }),
            1000 * round,
        );
        if generational {
            assert_eq!(
                gc::cell::remembered_count(),
                remembered + 1,
                "round {round}"
            );
        }
        clobber_stack();
        gc::collect_young();
        churn(20_000);
        holders.push(holder);
        for (r, h) in holders.iter().enumerate() {
            let young = h.left.get().expect("the young node is still there");
            assert!(gc::heap::is_object(young.as_ptr() as *const u8));
            assert_eq!(
                young.value.get(),
                1000 * r as i64,
                "round {round}, holder {r}"
            );
        }
    }
}

#[test]
fn the_barrier_holds_for_objects_that_grew_old() {
    for plan in PLANS {
        run_child(
            "child_the_barrier_holds_for_objects_that_grew_old",
            &format!("plan={plan},heap=32M"),
        );
    }
}

#[test]
#[ignore = "run in a child process by stress_collects_at_every_allocation"]
fn child_stress_collects_at_every_allocation() {
    if !setup() {
        return;
    }
    let before = gc::stats().collections;
    let mut roots = Root::new(Vec::<Value>::new());
    let mut next = 0;
    let t = tree(7, &mut next);
    for i in 0..200 {
        roots.push(Value::Obj(node(i, None, None)));
    }
    let bag = Gc::new(Bag {
        items: GcCell::new(vec![Value::Int(3)]),
    });
    store_young(t.unwrap(), bag, 5);
    // Values that only a Rust Vec holds, moved into a new object: the
    // collection inside `Gc::new` must see them (the value being
    // allocated is a root).
    let mut building = Root::new(Vec::new());
    for i in 0..50 {
        building.push(Value::Obj(node(i, None, None)));
    }
    let items = std::mem::take(&mut *building);
    clobber_stack();
    let bag2 = Gc::new(Bag {
        items: GcCell::new(items),
    });
    churn(200);
    for (i, v) in bag2.items.borrow().iter().enumerate() {
        let Value::Obj(n) = v else { panic!() };
        assert_eq!(
            n.value.get(),
            i as i64,
            "item {i} of a Vec moved into an object"
        );
    }
    let allocations = 127 + 200 + 1 + 2 + 50 + 1;
    let collections = gc::stats().collections - before;
    assert!(
        collections >= allocations,
        "{collections} collections for {allocations} allocations"
    );
    let mut next = 0;
    // store_young replaced the root's left subtree.
    assert_eq!(t.unwrap().left.get().unwrap().value.get(), 5);
    t.unwrap().left.set(tree(6, &mut next));
    let mut next = 0;
    check_tree(t.unwrap().left.get(), 6, &mut next);
    for (i, v) in roots.iter().enumerate() {
        let Value::Obj(n) = v else { panic!() };
        assert_eq!(n.value.get(), i as i64);
    }
    println!("{collections} collections");
}

#[test]
fn stress_collects_at_every_allocation() {
    for plan in PLANS {
        run_child(
            "child_stress_collects_at_every_allocation",
            &format!("plan={plan},stress,heap=16M"),
        );
    }
}
