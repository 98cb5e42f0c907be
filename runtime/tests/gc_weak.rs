//! Weak tables (`gc::weak`, docs/gc.md "Weak tables"): a table in a
//! `WeakRoot` does not keep its objects alive; after a collection it holds
//! exactly the objects that survived, at their new addresses when they
//! moved, and never one whose drop glue has run or is about to (objects
//! with drop glue are resurrected by finalization before the sweep). Each
//! scenario runs in a child process per plan, also under `--gc stress`
//! (testkit::gc).

use metatrace_runtime::gc::{self, Alive, Gc, Root, Sweep, Trace, WeakRoot};
use metatrace_runtime::gc_type;
use metatrace_testkit::gc::{child_figure, clobber_stack, configure_child, run_child, PLANS};
use std::collections::HashSet;
use std::hint::black_box;
use std::sync::Mutex;

/// An object with drop glue (a `String`), as an interned string is.
struct Named {
    id: usize,
    name: String,
}

unsafe impl Trace for Named {
    fn trace(&self, _: &mut dyn FnMut(*mut usize)) {}
}

/// The ids of the `Named`s whose drop glue ran.
static DROPPED: Mutex<Vec<usize>> = Mutex::new(Vec::new());

impl Drop for Named {
    fn drop(&mut self) {
        DROPPED.lock().unwrap().push(self.id);
    }
}

/// An object without drop glue (never registered for finalization).
struct Plain {
    id: usize,
}

unsafe impl Trace for Plain {
    fn trace(&self, _: &mut dyn FnMut(*mut usize)) {}
}

gc_type!(Named, Plain);

/// The weak table under test: slot `i` holds object `i` until it dies.
#[derive(Default)]
struct Table {
    named: Vec<Option<Gc<Named>>>,
    plain: Vec<Option<Gc<Plain>>>,
    sweeps: usize,
}

impl Sweep for Table {
    fn sweep(&mut self, alive: &Alive) {
        self.sweeps += 1;
        for slot in &mut self.named {
            *slot = slot.and_then(|g| alive.of(g));
        }
        for slot in &mut self.plain {
            *slot = slot.and_then(|g| alive.of(g));
        }
    }
}

fn named(id: usize) -> Gc<Named> {
    Gc::new(Named {
        id,
        name: format!("name {id}"),
    })
}

/// Fills the table with `n` objects of each kind; the even ones also go
/// into `keep` (a strong root), the odd ones are only in the table.
#[inline(never)]
fn fill(table: &mut WeakRoot<Table>, keep: &mut Root<Vec<(Gc<Named>, Gc<Plain>)>>, n: usize) {
    for id in 0..n {
        let a = named(id);
        let b = Gc::new(Plain { id });
        table.named.push(Some(a));
        table.plain.push(Some(b));
        if id % 2 == 0 {
            keep.push((a, b));
        }
    }
}

/// Checks the table against the roots: every even id is there, the same
/// object as the root holds, intact; at most `stale` odd ones remain (the
/// conservative stack scan may keep what a stale word names), none of
/// them dropped.
fn check(table: &Table, keep: &[(Gc<Named>, Gc<Plain>)], stale: usize) -> usize {
    let dropped: HashSet<usize> = DROPPED.lock().unwrap().iter().copied().collect();
    for (i, (a, b)) in keep.iter().enumerate() {
        let id = 2 * i;
        let ta = table.named[id].expect("a live object left the weak table");
        let tb = table.plain[id].expect("a live object left the weak table");
        assert!(
            Gc::ptr_eq(ta, *a) && Gc::ptr_eq(tb, *b),
            "entry {id} not updated after a move"
        );
        assert_eq!(
            (ta.id, ta.name.as_str(), tb.id),
            (id, format!("name {id}").as_str(), id)
        );
        assert!(!dropped.contains(&id), "a reachable object was dropped");
    }
    let mut odd_left = 0;
    for id in (1..table.named.len()).step_by(2) {
        if let Some(g) = table.named[id] {
            assert!(
                !dropped.contains(&id),
                "the weak table kept object {id} after its drop glue ran"
            );
            assert_eq!(g.id, id);
            odd_left += 1;
        }
        if let Some(g) = table.plain[id] {
            assert_eq!(g.id, id);
            odd_left += 1;
        }
    }
    assert!(
        odd_left <= stale,
        "{odd_left} dead objects still in the weak table"
    );
    odd_left
}

/// Allocates garbage, so that collections happen and young objects move.
#[inline(never)]
fn churn(n: usize) {
    for id in 0..n {
        black_box(Gc::new(Plain { id }));
    }
}

#[test]
#[ignore = "run in a child process by weak_tables_drop_dead_objects"]
fn child_weak_tables_drop_dead_objects() {
    let Some(options) = configure_child() else {
        return;
    };
    // Under stress every allocation collects: fewer of them.
    let (n, garbage) = if options.stress {
        (200, 500)
    } else {
        (4000, 50_000)
    };
    let mut table = WeakRoot::new(Table::default());
    let mut keep = Root::new(Vec::new());
    fill(&mut table, &mut keep, n);
    churn(garbage);
    clobber_stack();
    gc::collect();
    // Right after the collection that found them dead: the odd `Named`s
    // are out of the table although finalization kept them for their drop
    // glue, which runs now.
    check(&table, &keep, 9);
    gc::collect();
    let left = check(&table, &keep, 9);
    let dropped = DROPPED.lock().unwrap().len();
    assert!(
        dropped + 9 >= n / 2,
        "only {dropped} of {} dead objects dropped",
        n / 2
    );
    // More rounds: new objects, young collections, moves.
    for _ in 0..3 {
        churn(2 * garbage);
        gc::collect_young();
        check(&table, &keep, 9);
    }
    assert!(table.sweeps >= 5, "only {} sweeps", table.sweeps);
    println!(
        "sweeps {}, dead left {left}, dropped {dropped}",
        table.sweeps
    );
}

#[test]
fn weak_tables_drop_dead_objects() {
    for plan in PLANS {
        for extra in ["", ",stress"] {
            let out = run_child(
                "child_weak_tables_drop_dead_objects",
                &format!("plan={plan},heap=32M{extra}"),
            );
            println!("{plan}{extra}: {}", child_figure(&out, "sweeps "));
        }
    }
}
