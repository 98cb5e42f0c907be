//! The translator's checks of the JIT hints on a function: the syntactic
//! ones shared with the proc-macros (`hints`), run on the function's item,
//! and the ones that need its flow graph: what is live across
//! `jit_merge_point!()`, and where `can_enter_jit!()` stands.

use crate::diag::{at, Diagnostic, Diagnostics, FileId, SourceMap};
use crate::hints::{check_driver_fn, check_elidable_fn, hint_error};
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
