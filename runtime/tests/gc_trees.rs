//! A binary-trees allocation loop (the Benchmarks Game's, as in
//! `../shared/programs/lox/test/benchmark/binary_trees.lox`) runs in
//! bounded memory on every plan: a small fixed heap (an allocation that
//! found no room after a full collection would end the child with "out of
//! memory"), a long-lived tree that must survive, and many times the heap
//! allocated in short-lived trees. Prints the allocation rate and the
//! peak RSS per plan (measurements for docs/gc.md; nothing asserts on
//! time).

use metatrace_runtime::gc::{self, Gc, Trace};
use metatrace_runtime::gc_type;
use metatrace_testkit::gc::{
    child_options, max_rss_kib, max_virtual_kib, run_child, run_child_output, PLANS,
};

struct Tree {
    left: Option<Gc<Tree>>,
    right: Option<Gc<Tree>>,
}

unsafe impl Trace for Tree {
    fn trace(&self, visit: &mut dyn FnMut(*mut usize)) {
        self.left.trace(visit);
        self.right.trace(visit);
    }
}

gc_type!(Tree);

fn bottom_up(depth: u32) -> Gc<Tree> {
    if depth == 0 {
        Gc::new(Tree {
            left: None,
            right: None,
        })
    } else {
        let left = bottom_up(depth - 1);
        let right = bottom_up(depth - 1);
        Gc::new(Tree {
            left: Some(left),
            right: Some(right),
        })
    }
}

fn check(t: Gc<Tree>) -> usize {
    1 + t.left.map_or(0, check) + t.right.map_or(0, check)
}

const MAX_DEPTH: u32 = 16;
const HEAP: usize = 16 << 20;

#[test]
#[ignore = "run in a child process by binary_trees_run_in_bounded_memory"]
fn child_binary_trees() {
    let Some(options) = child_options() else {
        return;
    };
    gc::configure(&options).unwrap();
    let start = std::time::Instant::now();
    let long_lived = bottom_up(MAX_DEPTH - 2);
    let mut allocated = (1usize << (MAX_DEPTH - 1)) - 1;
    let mut max_used = 0;
    for depth in (4..=MAX_DEPTH).step_by(2) {
        let iterations = 1usize << (MAX_DEPTH - depth + 4);
        let mut nodes = 0;
        for _ in 0..iterations {
            nodes += check(bottom_up(depth));
            max_used = max_used.max(gc::stats().used_bytes);
        }
        assert_eq!(nodes, iterations * ((1 << (depth + 1)) - 1));
        allocated += nodes;
    }
    assert_eq!(check(long_lived), (1 << (MAX_DEPTH - 1)) - 1);
    let elapsed = start.elapsed();
    let stats = gc::stats();
    let bytes = allocated * 32;
    println!(
        "binary-trees: {allocated} objects ({} MiB), {:.1} ns/object, {} collections, max used {} KiB, max RSS {} KiB, peak virtual size {} MiB",
        bytes >> 20,
        elapsed.as_nanos() as f64 / allocated as f64,
        stats.collections,
        max_used >> 10,
        max_rss_kib().unwrap_or(0),
        max_virtual_kib().unwrap_or(0) >> 10
    );
    assert!(
        bytes > 20 * HEAP,
        "the loop should allocate many heaps' worth"
    );
    assert!(stats.collections >= 10, "{} collections", stats.collections);
    assert!(
        max_used <= HEAP,
        "used {max_used} bytes of a {HEAP}-byte heap"
    );
}

#[test]
fn binary_trees_run_in_bounded_memory() {
    for plan in PLANS {
        let out = run_child("child_binary_trees", &format!("plan={plan},heap={HEAP}"));
        let line = out.lines().find_map(|l| l.split_once("binary-trees: "));
        println!("{plan}: {}", line.map_or("", |(_, s)| s));
    }
}

#[test]
#[ignore = "run in a child process by a_full_heap_is_an_error"]
fn child_fill_the_heap() {
    let Some(options) = child_options() else {
        return;
    };
    gc::configure(&options).unwrap();
    // 2^21 live nodes of 32 bytes: four times the 16 MiB heap.
    let t = bottom_up(20);
    println!("{}", check(t));
}

/// Live data beyond the heap ends the process with the VMs' error
/// convention (status 1, `error: ...` naming the heap size), never a hang
/// and never a success: mmtk reports out of memory, or, on StickyImmix,
/// panics in a GC thread (docs/gc.md), which the binding turns into an
/// error.
#[test]
fn a_full_heap_is_an_error() {
    for plan in PLANS {
        let out = run_child_output("child_fill_the_heap", &format!("plan={plan},heap=16M"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{plan}: {stderr}");
        assert!(
            (stderr.contains("error: out of memory: the GC heap is full")
                || stderr.contains("error: the garbage collector failed"))
                && stderr.contains("heap=16M"),
            "{plan}: {stderr}"
        );
        let outcome = stderr.lines().find(|l| l.starts_with("error: "));
        println!("{plan}: {}", outcome.unwrap_or(""));
    }
}
