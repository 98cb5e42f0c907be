//! How the code is laid out (docs/contributing.md): no module cycles
//! between the top-level modules of each crate, and no Rust file over
//! 1200 lines.

use metatrace_testkit::layout::{cycles, module_deps, rust_files};
use std::path::Path;

/// The crates with modules (macros is one file; of the targets, only lox
/// has more than two).
const CRATES: [&str; 5] = [
    "runtime",
    "jitcodegen",
    "translator",
    "testkit",
    "targets/lox",
];

#[test]
fn no_module_cycles() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    for c in CRATES {
        let deps = module_deps(&root.join(c).join("src"));
        assert!(!deps.is_empty(), "{c}: no modules found");
        for cycle in cycles(&deps) {
            found.push(format!("{c}: {cycle:?}"));
        }
    }
    assert!(found.is_empty(), "module cycles:\n{}", found.join("\n"));
}

#[test]
fn the_cycle_check_finds_cycles() {
    let deps = [
        ("a", &["b"][..]),
        ("b", &["c"]),
        ("c", &["a"]),
        ("d", &["a"]),
    ]
    .into_iter()
    .map(|(m, ds)| (m.to_string(), ds.iter().map(|d| d.to_string()).collect()))
    .collect();
    let found = cycles(&deps);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].len(), 3);
}

#[test]
fn no_rust_file_over_1200_lines() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut long = Vec::new();
    for dir in [
        "runtime",
        "jitcodegen",
        "translator",
        "macros",
        "testkit",
        "src",
        "tests",
        "targets",
        "benches",
    ] {
        for p in rust_files(&root.join(dir)) {
            let n = std::fs::read_to_string(&p).unwrap().lines().count();
            if n > 1200 {
                long.push(format!("{} ({n} lines)", p.display()));
            }
        }
    }
    assert!(
        long.is_empty(),
        "split these along a real seam:\n{}",
        long.join("\n")
    );
}
