//! The roots the JIT's parts use (docs/gc.md, "Roots of JIT code"):
//! words in Rust heap memory registered as a `ConservativeRoot` (the
//! blackhole's and the tracer's register files, compiled code's frame
//! buffers) keep the objects they point into alive and unmoved, interior
//! pointers included; `pin_for_code` does so until unpinned (the `Gc`
//! constants of compiled traces); `allocate_zeroed` (every `new` of a `Gc::new` in
//! traced code) gives a zeroed, scannable object. Each scenario runs in a
//! child process, once per plan (testkit::gc).

use metatrace_runtime::gc::{self, ConservativeRoot, Gc, GcCell, GcType, Trace};
use metatrace_runtime::gc_type;
use metatrace_testkit::gc::{child_options, clobber_stack, run_child, PLANS};
use std::cell::Cell;
use std::hint::black_box;

struct Cons {
    value: Cell<i64>,
    next: GcCell<Option<Gc<Cons>>>,
}

unsafe impl Trace for Cons {
    fn trace(&self, visit: &mut dyn FnMut(*mut usize)) {
        self.next.trace(visit)
    }
}

gc_type!(Cons);

fn cons(value: i64, next: Option<Gc<Cons>>) -> Gc<Cons> {
    Gc::new(Cons {
        value: Cell::new(value),
        next: GcCell::new(next),
    })
}

/// Allocates garbage: enough for collections of every kind.
fn churn(n: i64) {
    let mut list = None;
    for i in 0..n {
        list = Some(cons(i, if i % 64 == 0 { None } else { list }));
    }
    black_box(list);
}

/// `n` lists of three cells, known only by their head's address (as
/// `u64` register values, plus an interior pointer for every fourth),
/// written into `words`; returns nothing the stack could keep.
#[inline(never)]
fn make_unrooted(words: &mut Vec<usize>, n: i64) {
    for i in 0..n {
        let l = cons(i, Some(cons(i + 1, Some(cons(i + 2, None)))));
        let addr = if i % 4 == 3 {
            // `&l.value`: an interior pointer, as a `fieldaddr` result.
            &l.value as *const Cell<i64> as usize
        } else {
            Gc::as_ptr(l) as usize
        };
        words.push(addr);
    }
}

fn check_list(head: usize, i: i64) {
    let head = unsafe { Gc::from_raw(head as *const Cons) };
    assert_eq!(head.value.get(), i);
    let second = head.next.get().expect("second cell");
    assert_eq!(second.value.get(), i + 1);
    let third = second.next.get().expect("third cell");
    assert_eq!(third.value.get(), i + 2);
    assert!(third.next.get().is_none());
}

#[test]
#[ignore = "run in a child process by conservative_roots_keep_and_pin"]
fn child_conservative_roots_keep_and_pin() {
    let Some(options) = child_options() else {
        return;
    };
    gc::configure(&options).unwrap();
    let root = ConservativeRoot::new();
    let mut words: Vec<usize> = Vec::with_capacity(1000);
    make_unrooted(&mut words, 1000);
    root.set(words.as_ptr(), words.len());
    // A zeroed object, as traced code allocates it, then filled in; and
    // one pinned for good, known to nothing else.
    let zeroed = gc::heap::allocate_zeroed(<Cons as GcType>::descr());
    unsafe {
        assert_eq!(*(zeroed as *const u64), 0);
        std::ptr::write(
            zeroed as *mut Cons,
            Cons {
                value: Cell::new(-1),
                next: GcCell::new(None),
            },
        );
    }
    words.push(zeroed);
    root.set(words.as_ptr(), words.len());
    let pinned = Gc::as_ptr(cons(-2, None)) as usize;
    gc::roots::pin_for_code(pinned);
    let before: Vec<usize> = words.clone();
    clobber_stack();
    for round in 0..4 {
        churn(200_000);
        match round {
            1 => gc::collect(),
            2 => gc::collect_young(),
            _ => {}
        }
        // Unmoved (the words still point at them) and intact.
        assert_eq!(words, before);
        for (i, &w) in words[..1000].iter().enumerate() {
            let i = i as i64;
            let head = if i % 4 == 3 {
                w - std::mem::offset_of!(Cons, value)
            } else {
                w
            };
            check_list(head, i);
        }
        assert_eq!(unsafe { &*(zeroed as *const Cons) }.value.get(), -1);
        assert_eq!(unsafe { &*(pinned as *const Cons) }.value.get(), -2);
    }
    println!("collections: {}", gc::stats().collections);
}

#[test]
fn conservative_roots_keep_and_pin() {
    for plan in PLANS {
        let out = run_child(
            "child_conservative_roots_keep_and_pin",
            &format!("plan={plan},heap=32M"),
        );
        assert!(out.contains("collections: "), "{plan}: {out}");
    }
}
