//! Graphviz output of flow graphs (`cargo translate --emit flowgraph`).
//!
//! One box per block, labelled with the block's printed text (same block
//! and variable numbering as `print_graph`), one edge per link labelled with
//! its case and arguments. The function header is the graph's label.

use super::printer::{block_text, case_text, header_text, Names};
use super::{FlowGraph, LinkCase};
use crate::types::TypeTable;
use std::fmt::Write;

/// Escape text for a double-quoted dot label. Newlines become `\l`
/// (left-justified lines); `{}<>|` are escaped too so the text is also safe
/// inside record labels.
pub(crate) fn escape_label(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\l"),
            '"' | '\\' | '{' | '}' | '<' | '>' | '|' => {
                out.push('\\');
                out.push(c);
            }
            '\r' => {}
            _ => out.push(c),
        }
    }
    out
}

/// Escape text for a double-quoted dot identifier (the graph name).
fn escape_id(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Graphviz `digraph` of one flow graph.
pub fn to_dot(g: &FlowGraph, types: &TypeTable) -> String {
    let names = Names::new(g);
    let mut s = String::new();
    let _ = writeln!(s, "digraph \"{}\" {{", escape_id(&g.name));
    let _ = writeln!(
        s,
        "    label=\"{}\\l\";\n    labelloc=t;\n    labeljust=l;\n    fontname=\"monospace\";",
        escape_label(&header_text(g, types))
    );
    let _ = writeln!(s, "    node [shape=box, fontname=\"monospace\"];");
    let _ = writeln!(s, "    edge [fontname=\"monospace\"];");
    for &b in &names.order {
        let text = block_text(g, types, &names, b);
        let extra = if b == g.start { ", penwidth=2" } else { "" };
        let _ = writeln!(
            s,
            "    {} [label=\"{}\"{extra}];",
            names.block(b),
            escape_label(&text)
        );
    }
    for &b in &names.order {
        for (_, target, link) in g.exits(b) {
            let args = format!("({})", names.operands(&link.args, types));
            let label = match link.case {
                LinkCase::Always => args,
                ref case => format!("{} {args}", case_text(case)),
            };
            let _ = writeln!(
                s,
                "    {} -> {} [label=\"{}\"];",
                names.block(b),
                names.block(target),
                escape_label(&label)
            );
        }
    }
    s.push_str("}\n");
    s
}
