//! Register allocation per kind (RPython's `codewriter/regalloc.py`).
//!
//! Values cross blocks only through links, so liveness is local to a block:
//! a backward walk over each block gives the interference graph (a value
//! interferes with everything live where it is defined; a block's inputargs
//! and the results of one operation, defined at the same time, interfere
//! with each other). Link arguments are then coalesced with the inputargs
//! they flow into whenever their classes do not interfere, so that most
//! link copies disappear; `same_as` results likewise with their argument.
//! Finally the classes are colored greedily, per kind, in the order the
//! values are defined along the blocks in reverse postorder: the start
//! block's inputargs get registers 0, 1, ... of their kind.

use super::var_kind;
use crate::flowgraph::{FlowGraph, Op, Operand, Var};
use metatrace_runtime::jitcode::{KReg, Kind};
use std::collections::HashSet;

/// The register of every variable of one graph.
#[derive(Clone, Debug)]
pub struct RegAlloc {
    regs: Vec<Option<KReg>>,
    /// Registers used per kind (int, ref, float).
    pub num_regs: [u16; 3],
}

impl RegAlloc {
    /// The register of `v`, if `v` is defined in a reachable block.
    pub fn get(&self, v: Var) -> Option<KReg> {
        self.regs.get(v.0 as usize).copied().flatten()
    }

    pub fn reg(&self, v: Var) -> KReg {
        self.get(v)
            .unwrap_or_else(|| panic!("v{} has no register", v.0))
    }
}

struct UnionFind {
    parent: Vec<u32>,
}

impl UnionFind {
    fn find(&mut self, v: u32) -> u32 {
        let mut root = v;
        while self.parent[root as usize] != root {
            root = self.parent[root as usize];
        }
        let mut cur = v;
        while self.parent[cur as usize] != root {
            let next = self.parent[cur as usize];
            self.parent[cur as usize] = root;
            cur = next;
        }
        root
    }
}

struct Allocator {
    kinds: Vec<Option<Kind>>,
    /// Interference: for a class representative, the variables (any
    /// member of any class) its members interfere with.
    adj: Vec<HashSet<u32>>,
    uf: UnionFind,
}

impl Allocator {
    fn add_edge(&mut self, a: Var, b: Var) {
        if a != b && self.kinds[a.0 as usize] == self.kinds[b.0 as usize] {
            self.adj[a.0 as usize].insert(b.0);
            self.adj[b.0 as usize].insert(a.0);
        }
    }

    fn interferes(&mut self, ra: u32, rb: u32) -> bool {
        let (small, other) = if self.adj[ra as usize].len() <= self.adj[rb as usize].len() {
            (ra, rb)
        } else {
            (rb, ra)
        };
        let members: Vec<u32> = self.adj[small as usize].iter().copied().collect();
        members.into_iter().any(|x| self.uf.find(x) == other)
    }

    /// Put `a` and `b` in one class if they have the same kind and do not
    /// interfere.
    fn try_coalesce(&mut self, a: Var, b: Var) -> bool {
        if self.kinds[a.0 as usize] != self.kinds[b.0 as usize] {
            return false;
        }
        let (ra, rb) = (self.uf.find(a.0), self.uf.find(b.0));
        if ra == rb {
            return true;
        }
        if self.interferes(ra, rb) {
            return false;
        }
        self.uf.parent[rb as usize] = ra;
        let moved = std::mem::take(&mut self.adj[rb as usize]);
        self.adj[ra as usize].extend(moved);
        true
    }
}

/// Allocate registers for every variable of `g` defined in a block
/// reachable from the start block.
pub fn allocate(g: &FlowGraph) -> Result<RegAlloc, String> {
    let n = g.vars.len();
    let order = g.blocks_in_order();
    let mut kinds: Vec<Option<Kind>> = vec![None; n];
    // Definition order, for coloring.
    let mut defs: Vec<Var> = Vec::new();
    for &b in &order {
        let block = g.block(b);
        let results = block.operations.iter().flat_map(|op| op.results.iter());
        for &v in block.inputargs.iter().chain(results) {
            let data = g
                .vars
                .get(v.0 as usize)
                .ok_or_else(|| format!("{}: v{} is not a variable of the graph", g.name, v.0))?;
            let k = var_kind(&data.ty).ok_or_else(|| {
                format!(
                    "{}: v{} has a type that does not fit a register",
                    g.name, v.0
                )
            })?;
            kinds[v.0 as usize] = Some(k);
            defs.push(v);
        }
    }
    let mut al = Allocator {
        kinds,
        adj: vec![HashSet::new(); n],
        uf: UnionFind {
            parent: (0..n as u32).collect(),
        },
    };

    // Interference, block by block.
    for &b in &order {
        let block = g.block(b);
        let mut live: HashSet<Var> = HashSet::new();
        for (_, _, link) in g.exits(b) {
            live.extend(link.args.iter().filter_map(Operand::as_var));
        }
        live.extend(block.exit.operands().iter().filter_map(Operand::as_var));
        for op in block.operations.iter().rev() {
            for (i, &r) in op.results.iter().enumerate() {
                for &l in &live {
                    al.add_edge(r, l);
                }
                for &r2 in &op.results[i + 1..] {
                    al.add_edge(r, r2);
                }
            }
            for r in &op.results {
                live.remove(r);
            }
            live.extend(op.args.iter().filter_map(Operand::as_var));
        }
        for (i, &a) in block.inputargs.iter().enumerate() {
            for &b2 in &block.inputargs[i + 1..] {
                al.add_edge(a, b2);
            }
            for &l in &live {
                al.add_edge(a, l);
            }
        }
    }

    // Coalescing: link arguments with the inputargs they flow into, then
    // `same_as` with its argument.
    for &b in &order {
        for (_, target, link) in g.exits(b) {
            let inputs = &g.block(target).inputargs;
            if inputs.len() != link.args.len() {
                return Err(format!(
                    "{}: a link carries {} args to a block with {} inputargs",
                    g.name,
                    link.args.len(),
                    inputs.len()
                ));
            }
            for (arg, &p) in link.args.iter().zip(inputs) {
                if let Operand::Var(a) = arg {
                    if al.kinds[a.0 as usize] != al.kinds[p.0 as usize] {
                        return Err(format!(
                            "{}: link arg v{} and inputarg v{} have different register kinds",
                            g.name, a.0, p.0
                        ));
                    }
                    al.try_coalesce(*a, p);
                }
            }
        }
    }
    for &b in &order {
        for op in &g.block(b).operations {
            if op.op == Op::SameAs {
                if let (Some(Operand::Var(a)), Some(&r)) = (op.args.first(), op.results.first()) {
                    al.try_coalesce(*a, r);
                }
            }
        }
    }

    // The copies that remain after coalescing, per link: (arg, inputarg).
    let mut links: Vec<Vec<(u32, u32)>> = Vec::new();
    for &b in &order {
        for (_, target, link) in g.exits(b) {
            let moves: Vec<(u32, u32)> = link
                .args
                .iter()
                .zip(&g.block(target).inputargs)
                .filter_map(|(a, p)| a.as_var().map(|a| (al.uf.find(a.0), al.uf.find(p.0))))
                .filter(|(a, p)| a != p)
                .collect();
            if !moves.is_empty() {
                links.push(moves);
            }
        }
    }
    let mut links_of: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, moves) in links.iter().enumerate() {
        for &(a, p) in moves {
            links_of[a as usize].push(i);
            links_of[p as usize].push(i);
        }
    }

    // Coloring, in definition order. Among the registers already in use,
    // a class avoids those that would make a link's copies a cycle (its
    // register written by another copy of a link it is copied by, or read
    // by another copy of a link that copies into it); it never takes a new
    // register for that.
    let mut color: Vec<Option<u16>> = vec![None; n];
    let mut num_regs = [0u16; 3];
    let mut regs: Vec<Option<KReg>> = vec![None; n];
    for &v in &defs {
        let rep = al.uf.find(v.0);
        let kind = al.kinds[v.0 as usize].expect("kind of a defined var");
        if color[rep as usize].is_none() {
            let neighbours: Vec<u32> = al.adj[rep as usize].iter().copied().collect();
            let mut used: Vec<bool> = Vec::new();
            for x in neighbours {
                if let Some(c) = color[al.uf.find(x) as usize] {
                    if used.len() <= c as usize {
                        used.resize(c as usize + 1, false);
                    }
                    used[c as usize] = true;
                }
            }
            let mut avoid: HashSet<u16> = HashSet::new();
            for &li in &links_of[rep as usize] {
                let is_src = links[li].iter().any(|m| m.0 == rep);
                let is_dst = links[li].iter().any(|m| m.1 == rep);
                for &(a, p) in &links[li] {
                    if a == rep || p == rep {
                        continue;
                    }
                    if let (true, Some(c)) = (is_src, color[p as usize]) {
                        avoid.insert(c);
                    }
                    if let (true, Some(c)) = (is_dst, color[a as usize]) {
                        avoid.insert(c);
                    }
                }
            }
            let is_free = |c: usize| !used.get(c).copied().unwrap_or(false);
            let limit = num_regs[kind.index()] as usize;
            let c = (0..limit)
                .find(|&c| is_free(c) && !avoid.contains(&(c as u16)))
                .or_else(|| (0..).find(|&c| is_free(c)))
                .unwrap();
            let c = u16::try_from(c)
                .ok()
                .filter(|&c| c < 0x7000)
                .ok_or_else(|| format!("{}: too many registers", g.name))?;
            color[rep as usize] = Some(c);
            num_regs[kind.index()] = num_regs[kind.index()].max(c + 1);
        }
        regs[v.0 as usize] = Some(KReg {
            kind,
            reg: color[rep as usize].unwrap(),
        });
    }
    Ok(RegAlloc { regs, num_regs })
}
