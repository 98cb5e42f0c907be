//! The translator's checks of the JIT hints on a function: the syntactic
//! ones shared with the proc-macros (`hints`), run on the function's item,
//! and the ones that need its flow graph: what is live across
//! `jit_merge_point!()`, and where `can_enter_jit!()` stands.

use crate::diag::{at, Diagnostic, Diagnostics, FileId, SourceMap};
use crate::hints::{check_driver_fn, check_elidable_fn};
use crate::items::{FnId, ItemTable};
use crate::liveness::{live_before, live_in};
use metatrace_jitcodegen::flowgraph::{BlockId, Exit, FlowGraph, Op, Operand, Var};
use std::collections::HashSet;

/// The checks of `#[jit_driver]` and `#[elidable]` on the function's
/// syntax, with the same wording and spans as the proc-macros.
pub fn check_fn_hints(items: &ItemTable, id: FnId, diags: &mut Diagnostics) {
    let f = items.fn_def(id);
    let sources = items.sources();
    let item_fn = syn::ItemFn {
        attrs: f.attrs.to_vec(),
        vis: syn::Visibility::Inherited,
        sig: f.sig.clone(),
        block: Box::new(f.body.clone()),
    };
    if let Some(spec) = &f.hints.driver {
        for e in check_driver_fn(spec, &item_fn) {
            diags.push(hint_error(sources, f.file, &e));
        }
    }
    if f.hints.elidable {
        if let Some(e) = check_elidable_fn(&item_fn) {
            diags.push(hint_error(sources, f.file, &e));
        }
    }
}

/// A hint error of `hints` (worded as the proc-macros word it), with the
/// help the translator adds.
pub fn hint_error(sources: &SourceMap, file: FileId, e: &syn::Error) -> Diagnostic {
    let message = e.to_string();
    let help = if message.starts_with("expected `greens") {
        "write `#[jit_driver(greens = [pc, code], reds = [vm])]`: the greens identify a position in the user's program, the reds are the rest of the loop's state"
    } else if message.contains("at least one green") {
        "list in `greens` the variables that identify a position in the user's program (its pc, its code)"
    } else if message.contains("is listed twice") {
        "list each variable once, as a green or as a red"
    } else if message.contains("is not a parameter or local variable") {
        "declare it in the portal (a parameter, or a `let` before the loop), or take it out of the list"
    } else if message.contains("has no `jit_merge_point!()`") {
        "put `jit_merge_point!();` first in the body of the interpreter's dispatch loop"
    } else if message.contains("more than one `jit_merge_point!()`") {
        "keep one `jit_merge_point!()`, first in the body of the dispatch loop"
    } else if message.contains("takes no arguments") {
        "write `jit_merge_point!();`"
    } else if message.contains("returns nothing") {
        "remove #[elidable] (an elidable function is pure: only its result matters), or return what it computes"
    } else {
        "see \"JIT hints\" in docs/subset.md"
    };
    at(sources, file, e.span(), message).with_help(help)
}

/// The checks on a portal's verified flow graph.
pub fn check_portal_graph(items: &ItemTable, id: FnId, g: &FlowGraph, diags: &mut Diagnostics) {
    check_merge_point_liveness(items, id, g, diags);
    check_can_enter_jit_placement(items, id, g, diags);
}

/// Every value live across the merge point must be a green or a red:
/// it is all the JIT passes from one iteration to the next.
fn check_merge_point_liveness(items: &ItemTable, id: FnId, g: &FlowGraph, diags: &mut Diagnostics) {
    let f = items.fn_def(id);
    let live = live_in(g);
    for (b, k) in first_ops(g, |op| matches!(op, Op::JitMergePoint { .. })) {
        let block = g.block(b);
        let live_after: HashSet<Var> = live_before(g, b, k + 1, &live);
        let passed: HashSet<Var> = block.operations[k]
            .args
            .iter()
            .filter_map(Operand::as_var)
            .collect();
        let mut bad: Vec<String> = live_after
            .iter()
            .filter(|v| !passed.contains(v))
            .map(|v| {
                g.vars[v.0 as usize]
                    .name
                    .clone()
                    .unwrap_or_else(|| "a temporary".into())
            })
            .filter(|n| !n.is_empty())
            .collect();
        bad.sort();
        bad.dedup();
        for name in bad {
            let d = at(items.sources(), f.file, f.sig.ident.span(), format!("`{name}` is live across jit_merge_point!() but is neither a green nor a red"))
                .with_help(format!("add `{name}` to the driver's reds (or greens, if it is constant for a position in the user's program), or compute it after the merge point"));
            diags.push(d);
        }
    }
}

/// After `can_enter_jit!()` the native code must go straight back to
/// the merge point: the JIT hands the interpreter its state there, so
/// anything executed in between would be skipped or done twice.
fn check_can_enter_jit_placement(
    items: &ItemTable,
    id: FnId,
    g: &FlowGraph,
    diags: &mut Diagnostics,
) {
    let f = items.fn_def(id);
    for (b, k) in first_ops(g, |op| matches!(op, Op::CanEnterJit { .. })) {
        let block = g.block(b);
        let loc = block.operations[k].loc;
        let mut ok = k + 1 == block.operations.len();
        let mut cur = b;
        let mut steps = 0;
        while ok {
            let exits = g.exits(cur);
            if !matches!(g.block(cur).exit, Exit::Goto)
                || exits.len() != 1
                || steps > g.block_count()
            {
                ok = false;
                break;
            }
            let next = exits[0].1;
            let first = g.block(next).operations.first().map(|o| &o.op);
            if matches!(first, Some(Op::JitMergePoint { .. })) {
                break;
            }
            if !g.block(next).operations.is_empty() {
                ok = false;
            }
            cur = next;
            steps += 1;
        }
        if !ok {
            let mut d = Diagnostic::global("`can_enter_jit!()` must be followed directly by the jump back to `jit_merge_point!()`");
            d.file = Some(f.file);
            d.line = loc.line as usize;
            d.col = loc.col as usize;
            d.range = line_range(items.sources(), f.file, loc.line as usize, loc.col as usize);
            diags.push(d.with_help("put it right before the `continue` (or the end of the loop body), after the greens hold the jump's target"));
        }
    }
}

/// Each block that holds an operation `is` accepts, with the index of
/// the first such operation.
fn first_ops(g: &FlowGraph, is: impl Fn(&Op) -> bool) -> Vec<(BlockId, usize)> {
    g.graph
        .node_indices()
        .filter_map(|b| {
            let k = g.block(b).operations.iter().position(|o| is(&o.op))?;
            Some((b, k))
        })
        .collect()
}

/// Byte range of the rest of a line from a 1-based column, for diagnostics
/// found on flow graphs (which keep line and column only).
fn line_range(
    sources: &SourceMap,
    file: FileId,
    line: usize,
    col: usize,
) -> std::ops::Range<usize> {
    let text = sources.text(file);
    let start_of_line: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    let line_text = text[start_of_line..].split('\n').next().unwrap_or("");
    let start = start_of_line
        + line_text
            .char_indices()
            .nth(col.saturating_sub(1))
            .map(|(i, _)| i)
            .unwrap_or(0);
    let end = start_of_line + line_text.trim_end().len();
    start..end.max(start)
}
