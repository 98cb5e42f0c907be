//! The translator's file tests (`filetests/<dir>/*.rs.test`, format in
//! `metatrace_testkit::filetest` and docs/testing.md): Rust source in
//! (translated as `interp.rs` by `translate_source`), printed flow graphs
//! or jitcodes out, so that a change in lowering, register allocation,
//! flattening or `-live-` shows up as a diff. One `#[test]` per
//! directory. Commands:
//!
//! - `flowgraph NAME...`: the flow graphs `NAME...` (`print_graph`),
//!   separated by a blank line; every graph of the program must verify;
//! - `jitcode NAME...`: the jitcodes `NAME...` (`Assembly::print_jitcode`),
//!   separated by a blank line;
//! - `effects`: the effect summaries of the residual calls
//!   (`Assembly::print_effects`).

use metatrace_jitcodegen::codewriter::{assemble, Assembly};
use metatrace_jitcodegen::flowgraph::{print_graph, verify};
use metatrace_testkit::asm_text::assert_jitcode_text_round_trip;
use metatrace_testkit::filetest::{run_dir, Command};
use metatrace_translator::translate_source;

fn translate(src: &str) -> metatrace_translator::Translation {
    translate_source("interp.rs", src)
        .unwrap_or_else(|e| panic!("translation failed:\n{}", e.render()))
}

/// The assembly of `src`; every jitcode of it prints and parses back.
fn assembly(src: &str) -> Assembly {
    let asm = assemble(&translate(src).program).unwrap_or_else(|e| panic!("assemble failed: {e}"));
    assert_jitcode_text_round_trip(&asm);
    asm
}

fn print_flowgraphs(names: &[String], src: &str) -> String {
    let t = translate(src);
    for g in &t.program.graphs {
        verify(g, &t.program.types).unwrap_or_else(|e| panic!("{} does not verify: {e:?}", g.name));
    }
    let texts: Vec<String> = names
        .iter()
        .map(|name| {
            let g = t.program.graph(name).unwrap_or_else(|| {
                panic!(
                    "no graph {name}; have {:?}",
                    t.program.graphs.iter().map(|g| &g.name).collect::<Vec<_>>()
                )
            });
            print_graph(g, &t.program.types).trim_end().to_string()
        })
        .collect();
    texts.join("\n\n")
}

fn print_jitcodes(names: &[String], src: &str) -> String {
    let asm = assembly(src);
    let texts: Vec<String> = names
        .iter()
        .map(|name| {
            let k = asm.jitcode_index(name).unwrap_or_else(|| {
                panic!(
                    "no jitcode {name}; have {:?}",
                    asm.jitcodes.iter().map(|j| &j.name).collect::<Vec<_>>()
                )
            });
            asm.print_jitcode(k)
        })
        .collect();
    texts.join("\n")
}

fn command(cmd: &Command, src: &str) -> String {
    match cmd.name.as_str() {
        "flowgraph" => print_flowgraphs(&cmd.args, src),
        "jitcode" => print_jitcodes(&cmd.args, src),
        "effects" => assembly(src).print_effects(),
        other => panic!("unknown command `{other}` (flowgraph, jitcode, effects)"),
    }
}

fn run(dir: &str) {
    run_dir(
        format!("{}/tests/filetests/{dir}", env!("CARGO_MANIFEST_DIR")),
        "rs.test",
        command,
    );
}

#[test]
fn flowgraphs() {
    run("flowgraphs");
}

#[test]
fn jitcode() {
    run("jitcode");
}
