//! The bundled interpreters translate: every function reachable from the
//! portal has a verified flow graph, and the driver's greens and reds are
//! known with their types.

use metatrace_jitcodegen::flowgraph::{verify, Op};
use metatrace_translator::Translation;

mod bundled;

/// The translation of `targets/<name>`, every graph of it verified.
fn verified(name: &str) -> Translation {
    let t = bundled::translate(name);
    for g in &t.program.graphs {
        verify(g, &t.program.types).unwrap_or_else(|e| panic!("{name}: {}: {e:?}", g.name));
    }
    t
}

fn names(t: &Translation) -> Vec<String> {
    let mut v: Vec<String> = t.program.graphs.iter().map(|g| g.name.clone()).collect();
    v.sort();
    v
}

#[test]
fn bf_translates_and_verifies() {
    let t = verified("bf");
    assert!(
        names(&t).contains(&"interp::run".to_string()),
        "{:?}",
        names(&t)
    );
    let d = &t.program.drivers[0];
    assert_eq!(d.portal, "interp::run");
    let greens: Vec<&str> = d.greens.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(greens, ["pc", "program"]);
    // The I/O helpers stay native: residual calls, not graphs.
    let residuals: Vec<&str> = t
        .program
        .residuals
        .iter()
        .map(|r| r.path.as_str())
        .collect();
    assert!(residuals.contains(&"interp::write_byte"), "{residuals:?}");
    assert!(!names(&t).contains(&"interp::write_byte".to_string()));
    // The portal has exactly one merge point and a can_enter_jit.
    let run = t.program.graph("interp::run").unwrap();
    let ops: Vec<&Op> = run
        .graph
        .node_indices()
        .flat_map(|b| run.block(b).operations.iter().map(|o| &o.op))
        .collect();
    assert_eq!(
        ops.iter()
            .filter(|o| matches!(o, Op::JitMergePoint { .. }))
            .count(),
        1
    );
    assert!(ops.iter().any(|o| matches!(o, Op::CanEnterJit { .. })));
}

#[test]
fn tlr_translates_and_verifies() {
    let t = verified("tlr");
    let d = &t.program.drivers[0];
    let greens: Vec<&str> = d.greens.iter().map(|p| p.name.as_str()).collect();
    let reds: Vec<&str> = d.reds.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(greens, ["pc", "bytecode"]);
    assert_eq!(reds, ["a", "regs"]);
    // Types: a fat reference (`&[u8]`) is one green, though its merge
    // point argument is two operands (data pointer and length).
    let tys: Vec<String> = d
        .greens
        .iter()
        .chain(&d.reds)
        .map(|p| t.program.types.display(&p.ty).to_string())
        .collect();
    assert_eq!(tys, ["usize", "&[u8]", "i64", "&mut Regs"]);
    assert!(t.program.graphs.len() >= 2, "{:?}", names(&t));
}

#[test]
fn calls_translates_and_verifies() {
    let t = verified("calls");
    let d = &t.program.drivers[0];
    let vars: Vec<&str> = d
        .greens
        .iter()
        .chain(&d.reds)
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(vars, ["pc", "program", "acc", "regs", "out"]);
    // The helpers are graphs of their own (inlined by the tracer); print
    // is a residual call.
    for f in [
        "interp::step",
        "interp::half",
        "interp::mix",
        "interp::mix3",
    ] {
        assert!(names(&t).contains(&f.to_string()), "{f}: {:?}", names(&t));
    }
    assert_eq!(t.program.residuals.len(), 1);
}
