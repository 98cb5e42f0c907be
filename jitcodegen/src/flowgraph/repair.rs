//! SSA repair: make a graph obey the block-locality rule.
//!
//! The front end may let a block use a variable defined in a block that
//! dominates it (a value computed before a bounds check and used after it).
//! This pass threads every such variable through the blocks in between as a
//! new input variable, so that afterwards values cross block boundaries
//! only through links.

use super::{BlockId, FlowGraph, Operand, Var};
use petgraph::visit::EdgeRef;
use petgraph::Direction;
use std::collections::{BTreeSet, HashMap, HashSet};

pub fn repair_cross_block_uses(g: &mut FlowGraph) {
    let blocks: Vec<BlockId> = g.graph.node_indices().collect();
    let mut defined: HashMap<BlockId, HashSet<Var>> = HashMap::new();
    let mut need: HashMap<BlockId, BTreeSet<Var>> = HashMap::new();
    for &b in &blocks {
        let block = g.block(b);
        let mut defs: HashSet<Var> = block.inputargs.iter().copied().collect();
        let mut foreign = BTreeSet::new();
        for op in &block.operations {
            let uses = op.args.iter().filter_map(Operand::as_var);
            foreign.extend(uses.filter(|v| !defs.contains(v)));
            defs.extend(op.results.iter().copied());
        }
        let links = g.graph.edges_directed(b, Direction::Outgoing);
        let exit = block.exit.operands().iter();
        let uses = exit.chain(links.flat_map(|e| e.weight().args.iter()));
        foreign.extend(
            uses.filter_map(Operand::as_var)
                .filter(|v| !defs.contains(v)),
        );
        defined.insert(b, defs);
        need.insert(b, foreign);
    }
    // Backward propagation: a block needing v makes each predecessor that
    // does not define v need it too.
    let mut work: Vec<(BlockId, Var)> = need
        .iter()
        .flat_map(|(b, vs)| vs.iter().map(move |v| (*b, *v)))
        .collect();
    while let Some((b, v)) = work.pop() {
        let preds: Vec<BlockId> = g
            .graph
            .edges_directed(b, Direction::Incoming)
            .map(|e| e.source())
            .collect();
        for p in preds {
            if !defined[&p].contains(&v) && need.get_mut(&p).unwrap().insert(v) {
                work.push((p, v));
            }
        }
    }
    if need.values().all(|s| s.is_empty()) {
        return;
    }
    // One fresh input variable per (block, needed var).
    let mut renamed: HashMap<(BlockId, Var), Var> = HashMap::new();
    for &b in &blocks {
        if b == g.start {
            continue; // a use before definition: left for the verifier to report
        }
        let vars: Vec<Var> = need[&b].iter().copied().collect();
        for v in vars {
            let data = g.vars[v.0 as usize].clone();
            let nv = g.new_var(data.ty, data.name.as_deref());
            renamed.insert((b, v), nv);
            g.block_mut(b).inputargs.push(nv);
        }
    }
    // Rewrite uses inside each block, then extend incoming link args.
    for &b in &blocks {
        let map: HashMap<Var, Operand> = renamed
            .iter()
            .filter(|((blk, _), _)| *blk == b)
            .map(|((_, v), nv)| (*v, Operand::Var(*nv)))
            .collect();
        if !map.is_empty() {
            g.substitute(b, &map);
        }
    }
    for &b in &blocks {
        if b == g.start {
            continue;
        }
        let vars: Vec<Var> = need[&b].iter().copied().collect();
        if vars.is_empty() {
            continue;
        }
        let incoming: Vec<_> = g
            .graph
            .edges_directed(b, Direction::Incoming)
            .map(|e| (e.id(), e.source()))
            .collect();
        for (e, p) in incoming {
            for v in &vars {
                let arg = renamed.get(&(p, *v)).copied().unwrap_or(*v);
                g.graph[e].args.push(Operand::Var(arg));
            }
        }
    }
}
