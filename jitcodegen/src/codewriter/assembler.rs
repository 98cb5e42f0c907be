//! Assembly of one graph: register allocation, flattening, then labels
//! turned into instruction indices, constant placeholders into the
//! registers after the last real one of their kind, and `-live-` filled.

use super::descrs::Descrs;
use super::flatten::{flatten, Item, CONST_BASE};
use super::liveness::fill_live;
use super::regalloc::allocate;
use super::{var_kind, JitCodeData};
use crate::flowgraph::{FlowGraph, Program};
use metatrace_runtime::jitcode::{Insn, Label};
use std::collections::HashMap;

pub(crate) fn assemble_graph(
    program: &Program,
    g: &FlowGraph,
    descrs: &mut Descrs,
) -> Result<JitCodeData, String> {
    let alloc = allocate(g)?;
    let flat = flatten(program, g, &alloc, descrs)?;

    // Labels become the index of the instruction that follows them.
    let mut position: HashMap<Label, Label> = HashMap::new();
    let mut insns: Vec<Insn> = Vec::new();
    for item in flat.items {
        match item {
            Item::Label(l) => {
                position.insert(l, insns.len() as Label);
            }
            Item::Insn(i) => insns.push(i),
        }
    }
    for insn in &mut insns {
        insn.visit_labels(&mut |l| *l = position[l]);
    }

    // Constants follow the registers of their kind.
    let num_regs = flat.num_regs;
    let pools = [
        flat.consts_i.len(),
        flat.consts_r.len(),
        flat.consts_f.len(),
    ];
    for k in 0..3 {
        if num_regs[k] as usize + pools[k] > u16::MAX as usize {
            return Err(format!("{}: too many registers and constants", g.name));
        }
    }
    for insn in &mut insns {
        insn.visit_regs(&descrs.asm, &mut |kind, r, _| {
            if *r >= CONST_BASE {
                *r = *r - CONST_BASE + num_regs[kind.index()];
            }
        });
    }

    fill_live(&mut insns, num_regs, &descrs.asm);

    let start = g.block(g.start);
    let args = start.inputargs.iter().map(|&v| alloc.reg(v)).collect();
    let results = g
        .ret_leaves
        .iter()
        .map(|t| {
            var_kind(t).ok_or_else(|| format!("{}: a return leaf does not fit a register", g.name))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(JitCodeData {
        name: g.name.clone(),
        insns,
        num_regs,
        consts_i: flat.consts_i,
        consts_r: flat.consts_r,
        consts_f: flat.consts_f,
        args,
        results,
    })
}
