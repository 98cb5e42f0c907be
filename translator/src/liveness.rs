//! Liveness of variables over a flow graph: which variables a block (or
//! the rest of a block from one operation on) still needs. Values cross
//! blocks only through links, so a block's live-out set is what its exit
//! reads and what its links pass to live inputargs.
//!
//! Used by the portal checks (`hint_check`); it reads only the flow-graph
//! IR, and moves to `metatrace_jitcodegen::flowgraph` if another phase
//! needs it.

use metatrace_jitcodegen::flowgraph::{BlockId, FlowGraph, Operand, Var};
use std::collections::{HashMap, HashSet};

/// The live-in set of every block, to a fixpoint.
pub fn live_in(g: &FlowGraph) -> HashMap<BlockId, HashSet<Var>> {
    let blocks: Vec<BlockId> = g.graph.node_indices().collect();
    let mut live: HashMap<BlockId, HashSet<Var>> =
        blocks.iter().map(|b| (*b, HashSet::new())).collect();
    loop {
        let mut changed = false;
        for &b in blocks.iter().rev() {
            let set = live_before(g, b, 0, &live);
            if set != live[&b] {
                live.insert(b, set);
                changed = true;
            }
        }
        if !changed {
            return live;
        }
    }
}

/// The variables live right before operation `k` of block `b` (`k` may be
/// the number of operations: the block's live-out set), given the live-in
/// sets of its successors.
pub fn live_before(
    g: &FlowGraph,
    b: BlockId,
    k: usize,
    live: &HashMap<BlockId, HashSet<Var>>,
) -> HashSet<Var> {
    let mut set = live_out(g, b, live);
    for op in g.block(b).operations[k..].iter().rev() {
        for r in &op.results {
            set.remove(r);
        }
        set.extend(op.args.iter().filter_map(Operand::as_var));
    }
    set
}

/// What block `b` needs at its end: the operands of its exit and the link
/// arguments that feed live inputargs of its successors.
pub fn live_out(g: &FlowGraph, b: BlockId, live: &HashMap<BlockId, HashSet<Var>>) -> HashSet<Var> {
    let mut out = HashSet::new();
    let block = g.block(b);
    out.extend(block.exit.operands().iter().filter_map(Operand::as_var));
    for (_, target, link) in g.exits(b) {
        let inputs = &g.block(target).inputargs;
        for (i, a) in link.args.iter().enumerate() {
            if let (Some(v), Some(input)) = (a.as_var(), inputs.get(i)) {
                if live[&target].contains(input) {
                    out.insert(v);
                }
            }
        }
    }
    out
}
