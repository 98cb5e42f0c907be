//! Cleanup passes run on freshly built graphs.
//!
//! The front end creates one block per join point with every variable in
//! scope as inputargs, so its graphs carry many dead inputargs, empty
//! forwarding blocks and goto chains. `simplify` iterates, to a fixpoint:
//! 1. removal of blocks unreachable from the start block;
//! 2. removal of dead inputargs (with the matching link args) and of pure
//!    operations whose results are all dead;
//! 3. joining a block that ends in a goto with its target when the target has
//!    no other predecessor;
//! 4. bypassing empty blocks that only forward their inputargs unchanged;
//! 5. merging inputargs that receive the same operand on every incoming link
//!    (and replacing an inputarg that always receives one constant by it),
//!    as RPython's `remove_identical_vars` does;
//! 6. jump threading: a link that passes a constant into a block that does
//!    nothing but branch or switch on that inputarg goes straight to the
//!    successor the constant selects.
//!
//! The start block is never removed, joined into another block, or stripped
//! of inputargs (they are the function's parameters). A graph that verifies
//! before `simplify` still verifies after it.

use super::{BlockId, Exit, FlowGraph, LinkCase, Operand, Var};
use petgraph::stable_graph::EdgeIndex;
use petgraph::visit::EdgeRef;
use petgraph::Direction;
use std::collections::{HashMap, HashSet};

/// Simplify a graph in place; see the module documentation.
pub fn simplify(g: &mut FlowGraph) {
    if !g.graph.contains_node(g.start) {
        return;
    }
    loop {
        let mut changed = remove_unreachable(g);
        changed |= remove_dead(g);
        changed |= join_blocks(g);
        changed |= skip_forwarders(g);
        changed |= merge_identical_inputargs(g);
        changed |= thread_constant_switches(g);
        if !changed {
            break;
        }
    }
}

fn incoming(g: &FlowGraph, b: BlockId) -> Vec<EdgeIndex> {
    let mut edges: Vec<EdgeIndex> = g
        .graph
        .edges_directed(b, Direction::Incoming)
        .map(|e| e.id())
        .collect();
    edges.sort();
    edges
}

/// Remove the inputargs of block `b` at the positions `drop`, and what
/// its incoming links pass to them.
fn drop_inputargs(g: &mut FlowGraph, b: BlockId, drop: &[usize]) {
    fn remove_at<T>(items: &mut Vec<T>, drop: &[usize]) {
        let mut i = 0;
        items.retain(|_| {
            i += 1;
            !drop.contains(&(i - 1))
        });
    }
    for e in incoming(g, b) {
        remove_at(&mut g.graph[e].args, drop);
    }
    remove_at(&mut g.block_mut(b).inputargs, drop);
}

/// The outgoing links of block `b` with their targets, owned.
fn out_links(g: &FlowGraph, b: BlockId) -> Vec<(BlockId, super::Link)> {
    let exits = g.exits(b).into_iter();
    exits.map(|(_, t, l)| (t, l.clone())).collect()
}

/// Pass 1: drop blocks that cannot be reached from the start block.
fn remove_unreachable(g: &mut FlowGraph) -> bool {
    let reachable: HashSet<BlockId> = g.blocks_in_order().into_iter().collect();
    let dead: Vec<BlockId> = g
        .graph
        .node_indices()
        .filter(|b| !reachable.contains(b))
        .collect();
    for &b in &dead {
        g.graph.remove_node(b);
    }
    !dead.is_empty()
}

#[derive(Clone, Copy)]
enum Def {
    Input(BlockId, usize),
    Op(BlockId, usize),
}

/// Pass 2: liveness over the whole graph (variables are defined once, so a
/// single set of needed variables suffices), then removal of what is dead.
fn remove_dead(g: &mut FlowGraph) -> bool {
    let blocks: Vec<BlockId> = g.graph.node_indices().collect();
    let mut defs: HashMap<Var, Def> = HashMap::new();
    let mut live: HashSet<Var> = HashSet::new();
    let mut work: Vec<Var> = Vec::new();
    fn mark(v: Var, live: &mut HashSet<Var>, work: &mut Vec<Var>) {
        if live.insert(v) {
            work.push(v);
        }
    }
    for &b in &blocks {
        let block = g.block(b);
        for (i, &v) in block.inputargs.iter().enumerate() {
            defs.insert(v, Def::Input(b, i));
            if b == g.start {
                // Parameters are kept, and so are the values links pass to them.
                mark(v, &mut live, &mut work);
            }
        }
        for (j, op) in block.operations.iter().enumerate() {
            for &v in &op.results {
                defs.insert(v, Def::Op(b, j));
            }
            if !op.op.is_pure() {
                for v in op.args.iter().filter_map(Operand::as_var) {
                    mark(v, &mut live, &mut work);
                }
            }
        }
        for v in block.exit.operands().iter().filter_map(Operand::as_var) {
            mark(v, &mut live, &mut work);
        }
    }
    while let Some(v) = work.pop() {
        match defs.get(&v) {
            Some(&Def::Op(b, j)) => {
                let args = &g.block(b).operations[j].args;
                for a in args.iter().filter_map(Operand::as_var) {
                    mark(a, &mut live, &mut work);
                }
            }
            Some(&Def::Input(b, i)) => {
                for e in incoming(g, b) {
                    if let Some(Operand::Var(a)) = g.graph[e].args.get(i) {
                        mark(*a, &mut live, &mut work);
                    }
                }
            }
            None => {}
        }
    }

    let mut changed = false;
    for &b in &blocks {
        if b != g.start {
            let dead: Vec<usize> = (g.block(b).inputargs.iter().enumerate())
                .filter(|(_, v)| !live.contains(v))
                .map(|(i, _)| i)
                .collect();
            if !dead.is_empty() {
                changed = true;
                drop_inputargs(g, b, &dead);
            }
        }
        let ops = &mut g.block_mut(b).operations;
        let before = ops.len();
        ops.retain(|op| !op.op.is_pure() || op.results.iter().any(|v| live.contains(v)));
        changed |= ops.len() != before;
    }
    changed
}

/// The single `always` link of a goto block, if it is well formed.
fn goto_link(g: &FlowGraph, b: BlockId) -> Option<(EdgeIndex, BlockId)> {
    if !matches!(g.block(b).exit, Exit::Goto) {
        return None;
    }
    let exits = g.exits(b);
    match exits.as_slice() {
        [(e, target, link)] if link.case == LinkCase::Always => Some((*e, *target)),
        _ => None,
    }
}

/// Pass 3: a goto block absorbs a target that has no other predecessor.
fn join_blocks(g: &mut FlowGraph) -> bool {
    let mut changed = false;
    let blocks: Vec<BlockId> = g.graph.node_indices().collect();
    for a in blocks {
        while g.graph.contains_node(a) {
            let Some((e, b)) = goto_link(g, a) else { break };
            if b == a
                || b == g.start
                || incoming(g, b).len() != 1
                || g.graph[e].args.len() != g.block(b).inputargs.len()
            {
                break;
            }
            absorb(g, a, e, b);
            changed = true;
        }
    }
    changed
}

fn absorb(g: &mut FlowGraph, a: BlockId, e: EdgeIndex, b: BlockId) {
    let link = g.graph.remove_edge(e).expect("edge exists");
    let outs = out_links(g, b);
    let mut block = g.graph.remove_node(b).expect("block exists");
    let subst: HashMap<Var, Operand> = block.inputargs.iter().copied().zip(link.args).collect();
    let apply = |o: &mut Operand| o.substitute(&subst);
    block.uses_mut().for_each(apply);
    let target = g.block_mut(a);
    target.operations.append(&mut block.operations);
    target.exit = block.exit;
    for (t, mut l) in outs {
        l.args.iter_mut().for_each(apply);
        g.add_link(a, t, l.case, l.args);
    }
}

/// Pass 4: retarget the links into an empty block that passes its
/// inputargs, unchanged and in order, to its single goto target.
fn skip_forwarders(g: &mut FlowGraph) -> bool {
    let mut changed = false;
    let blocks: Vec<BlockId> = g.graph.node_indices().collect();
    for f in blocks {
        if f == g.start || !g.graph.contains_node(f) || !g.block(f).operations.is_empty() {
            continue;
        }
        let Some((e, target)) = goto_link(g, f) else {
            continue;
        };
        let forwards: Vec<Operand> = g.block(f).inputargs.iter().map(|&v| v.into()).collect();
        if target == f || g.graph[e].args != forwards {
            continue;
        }
        for inc in incoming(g, f) {
            let (src, _) = g.graph.edge_endpoints(inc).expect("edge exists");
            let link = g.graph.remove_edge(inc).expect("edge exists");
            g.add_link(src, target, link.case, link.args);
        }
        g.graph.remove_node(f);
        changed = true;
    }
    changed
}

/// Pass 5: an inputarg that receives, on every incoming link, the same
/// operand as an earlier inputarg (or the same constant) is replaced by it.
fn merge_identical_inputargs(g: &mut FlowGraph) -> bool {
    let mut changed = false;
    let blocks: Vec<BlockId> = g.graph.node_indices().collect();
    for b in blocks {
        if b == g.start {
            continue;
        }
        let edges = incoming(g, b);
        if edges.is_empty() {
            continue;
        }
        let n = g.block(b).inputargs.len();
        let column = |g: &FlowGraph, i: usize| -> Vec<Operand> {
            edges.iter().map(|e| g.graph[*e].args[i].clone()).collect()
        };
        let mut replace: HashMap<Var, Operand> = HashMap::new();
        let mut drop: Vec<usize> = Vec::new();
        for j in 0..n {
            let col_j = column(g, j);
            // The same constant everywhere: the inputarg is that constant.
            if let Operand::Const(c) = &col_j[0] {
                if col_j.iter().all(|o| o == &col_j[0]) {
                    replace.insert(g.block(b).inputargs[j], Operand::Const(c.clone()));
                    drop.push(j);
                    continue;
                }
            }
            // A self-loop passes the inputarg itself back: compare modulo that.
            if let Some(i) = (0..j).filter(|i| !drop.contains(i)).find(|&i| {
                let col_i = column(g, i);
                let (vi, vj) = (g.block(b).inputargs[i], g.block(b).inputargs[j]);
                col_i
                    .iter()
                    .zip(&col_j)
                    .all(|(a, c)| a == c || (a == &Operand::Var(vi) && c == &Operand::Var(vj)))
            }) {
                replace.insert(
                    g.block(b).inputargs[j],
                    Operand::Var(g.block(b).inputargs[i]),
                );
                drop.push(j);
            }
        }
        if drop.is_empty() {
            continue;
        }
        changed = true;
        g.substitute(b, &replace);
        drop_inputargs(g, b, &drop);
    }
    changed
}

/// Pass 6: see the module documentation.
fn thread_constant_switches(g: &mut FlowGraph) -> bool {
    use super::Const;
    let mut changed = false;
    let blocks: Vec<BlockId> = g.graph.node_indices().collect();
    for b in blocks {
        if b == g.start || !g.graph.contains_node(b) || !g.block(b).operations.is_empty() {
            continue;
        }
        let on = match &g.block(b).exit {
            Exit::Branch {
                cond: Operand::Var(v),
            }
            | Exit::Switch {
                value: Operand::Var(v),
            } => *v,
            _ => continue,
        };
        let Some(pos) = g.block(b).inputargs.iter().position(|v| *v == on) else {
            continue;
        };
        let inputs = g.block(b).inputargs.clone();
        let outs = out_links(g, b);
        for e in incoming(g, b) {
            let args = g.graph[e].args.clone();
            let Operand::Const(c) = &args[pos] else {
                continue;
            };
            let value = match c {
                Const::Int(v, _) => *v,
                Const::Bool(x) => *x as i64,
                Const::Char(ch) => *ch as i64,
                _ => continue,
            };
            let chosen = outs
                .iter()
                .find(|(_, l)| match l.case {
                    LinkCase::True => value != 0,
                    LinkCase::False => value == 0,
                    LinkCase::Value(v) => v == value,
                    _ => false,
                })
                .or_else(|| outs.iter().find(|(_, l)| l.case == LinkCase::Default));
            let Some((target, link)) = chosen else {
                continue;
            };
            let subst: HashMap<Var, Operand> =
                inputs.iter().copied().zip(args.iter().cloned()).collect();
            let mut new_args = link.args.clone();
            new_args.iter_mut().for_each(|a| a.substitute(&subst));
            let source = g.graph.edge_endpoints(e).unwrap().0;
            let case = g.graph[e].case.clone();
            g.graph.remove_edge(e);
            g.add_link(source, *target, case, new_args);
            changed = true;
        }
    }
    changed
}
