//! The bundled interpreters translate: every function reachable from the
//! portal has a verified flow graph, and the driver's greens and reds are
//! known with their types.

use metatrace_jitcodegen::flowgraph::{verify, Op};
use metatrace_translator::translate_crate_dir;
use std::path::Path;

fn target(name: &str) -> metatrace_translator::Translation {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../targets")
        .join(name);
    translate_crate_dir(&dir)
        .unwrap_or_else(|e| panic!("{name} does not translate:\n{}", e.render()))
}

fn names(t: &metatrace_translator::Translation) -> Vec<String> {
    let mut v: Vec<String> = t.program.graphs.iter().map(|g| g.name.clone()).collect();
    v.sort();
    v
}

#[test]
fn bf_translates_and_verifies() {
    let t = target("bf");
    for g in &t.program.graphs {
        verify(g, &t.program.types).unwrap();
    }
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
    let t = target("tlr");
    for g in &t.program.graphs {
        verify(g, &t.program.types).unwrap();
    }
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
    let t = target("calls");
    for g in &t.program.graphs {
        verify(g, &t.program.types).unwrap();
    }
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
