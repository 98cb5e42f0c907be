//! Deterministic text form of flow graphs.
//!
//! Blocks are printed in `FlowGraph::blocks_in_order` order and renumbered
//! `block0`, `block1`, ... in that order; blocks unreachable from the start
//! block (only present in graphs that have not been simplified) follow, by
//! node index. Variables are renumbered `v0`, `v1`, ... by first appearance
//! in the printed text, so the output does not depend on how the front end
//! allocated them. The verifier and the dot writer use the same numbering.

use super::{
    adt_field_name, BlockId, Const, Exit, FieldRef, FlowGraph, LinkCase, Op, Operand, Operation,
    PanicKind, Program, Var,
};
use crate::types::{Ty, TypeTable};
use std::collections::HashMap;
use std::fmt::Write;

/// Printed names of the blocks and variables of one graph.
pub(crate) struct Names {
    /// Every block of the graph in printing order.
    pub order: Vec<BlockId>,
    blocks: HashMap<BlockId, usize>,
    vars: HashMap<Var, usize>,
}

impl Names {
    pub fn new(g: &FlowGraph) -> Names {
        let order = block_order(g);
        let blocks = order.iter().enumerate().map(|(i, b)| (*b, i)).collect();
        let mut names = Names {
            order,
            blocks,
            vars: HashMap::new(),
        };
        // Number the variables in the order the printer writes them.
        let mut next = 0;
        let mut see = |v: Var, vars: &mut HashMap<Var, usize>| {
            vars.entry(v).or_insert_with(|| {
                next += 1;
                next - 1
            });
        };
        for &b in &names.order {
            let block = g.block(b);
            for &v in &block.inputargs {
                see(v, &mut names.vars);
            }
            for op in &block.operations {
                for &v in &op.results {
                    see(v, &mut names.vars);
                }
                for v in op.args.iter().filter_map(Operand::as_var) {
                    see(v, &mut names.vars);
                }
            }
            for v in block.exit.operands().iter().filter_map(Operand::as_var) {
                see(v, &mut names.vars);
            }
            for (_, _, link) in g.exits(b) {
                for v in link.args.iter().filter_map(Operand::as_var) {
                    see(v, &mut names.vars);
                }
            }
        }
        names
    }

    pub fn block_no(&self, b: BlockId) -> Option<usize> {
        self.blocks.get(&b).copied()
    }

    pub fn block(&self, b: BlockId) -> String {
        match self.block_no(b) {
            Some(n) => format!("block{n}"),
            None => format!("block?{}", b.index()),
        }
    }

    pub fn var(&self, v: Var) -> String {
        match self.vars.get(&v) {
            Some(n) => format!("v{n}"),
            None => format!("v?{}", v.0),
        }
    }

    pub fn operand(&self, o: &Operand, types: &TypeTable) -> String {
        match o {
            Operand::Var(v) => self.var(*v),
            Operand::Const(c) => const_text(c, types),
        }
    }

    pub fn operands(&self, os: &[Operand], types: &TypeTable) -> String {
        let texts: Vec<String> = os.iter().map(|o| self.operand(o, types)).collect();
        texts.join(", ")
    }
}

/// Every live block of the graph: reachable ones in `blocks_in_order`
/// order, then the unreachable ones by node index.
pub(crate) fn block_order(g: &FlowGraph) -> Vec<BlockId> {
    let mut order: Vec<BlockId> = if g.graph.contains_node(g.start) {
        g.blocks_in_order()
    } else {
        Vec::new()
    };
    let reached: std::collections::HashSet<BlockId> = order.iter().copied().collect();
    let mut rest: Vec<BlockId> = g
        .graph
        .node_indices()
        .filter(|b| !reached.contains(b))
        .collect();
    rest.sort();
    order.extend(rest);
    order
}

/// Text of a constant: `10usize`, `-1i64`, `true`, `'a'`, `1.5f64`, `"s"`, `null`.
pub fn const_text(c: &Const, _types: &TypeTable) -> String {
    match c {
        Const::Int(v, t) => {
            if t.signed() {
                format!("{}{}", v, t.name())
            } else {
                format!("{}{}", *v as u64, t.name())
            }
        }
        Const::Bool(b) => b.to_string(),
        Const::Char(ch) => format!("{ch:?}"),
        Const::F64(bits) => format!("{:?}f64", f64::from_bits(*bits)),
        Const::Str(s) => format!("{s:?}"),
        Const::NullRef(_) => "null".to_string(),
    }
}

/// Snake-case name of a panic kind, as printed after `panic`.
pub fn panic_kind_name(kind: &PanicKind) -> &'static str {
    match kind {
        PanicKind::BoundsCheck => "bounds_check",
        PanicKind::DivideByZero => "divide_by_zero",
        PanicKind::DivideOverflow => "divide_overflow",
        PanicKind::Unwrap => "unwrap",
        PanicKind::Explicit => "explicit",
    }
}

/// Text of a link case as printed before `->` (`true`, `false`, `3`, `default`).
pub(crate) fn case_text(case: &LinkCase) -> String {
    match case {
        LinkCase::Always => "always".to_string(),
        LinkCase::True => "true".to_string(),
        LinkCase::False => "false".to_string(),
        LinkCase::Value(v) => v.to_string(),
        LinkCase::Default => "default".to_string(),
    }
}

/// A field name that does not panic on a malformed `FieldRef`.
pub(crate) fn field_text(types: &TypeTable, field: &FieldRef) -> String {
    if let Ty::Adt(id) = &field.owner {
        if id.0 as usize >= types.adts.len() {
            return format!("adt#{}.{}", id.0, field.index);
        }
    }
    adt_field_name(types, field)
}

fn var_ty_text(g: &FlowGraph, types: &TypeTable, v: Var) -> String {
    match g.vars.get(v.0 as usize) {
        Some(data) => types.display(&data.ty).to_string(),
        None => "?".to_string(),
    }
}

fn typed_vars(g: &FlowGraph, types: &TypeTable, names: &Names, vars: &[Var]) -> String {
    let texts: Vec<String> = vars
        .iter()
        .map(|&v| format!("{}: {}", names.var(v), var_ty_text(g, types, v)))
        .collect();
    texts.join(", ")
}

/// The static data printed after an operation's arguments, if any.
fn static_data(op: &Op, types: &TypeTable) -> Option<String> {
    match op {
        Op::GetField(f) | Op::SetField(f) | Op::FieldAddr(f) | Op::QuasiImmutGet(f) => {
            Some(field_text(types, f))
        }
        Op::EnumTag(t)
        | Op::VecLen(t)
        | Op::VecItemAddr(t)
        | Op::VecGetItem(t)
        | Op::VecSetItem(t)
        | Op::VecPush(t)
        | Op::VecPop(t)
        | Op::VecPushSlot(t)
        | Op::VecPopSlot(t)
        | Op::SliceItemAddr(t)
        | Op::SliceGetItem(t)
        | Op::SliceSetItem(t)
        | Op::VecAsSlice(t)
        | Op::New(t)
        | Op::GcNew(t)
        | Op::Free(t)
        | Op::VecInit(t)
        | Op::VecDrop(t)
        | Op::VecTake(t) => Some(types.display(t).to_string()),
        Op::Call { callee, .. } => Some(callee.clone()),
        Op::Helper(h) => Some(h.name(types)),
        Op::JitMergePoint { driver } | Op::CanEnterJit { driver, .. } => Some(driver.clone()),
        _ => None,
    }
}

/// One operation, without indentation or newline.
pub(crate) fn op_text(g: &FlowGraph, types: &TypeTable, names: &Names, op: &Operation) -> String {
    let mut s = String::new();
    if !op.results.is_empty() {
        s.push_str(&typed_vars(g, types, names, &op.results));
        s.push_str(" = ");
    }
    let _ = write!(s, "{}({})", op.op.name(), names.operands(&op.args, types));
    if let Some(data) = static_data(&op.op, types) {
        s.push(' ');
        s.push_str(&data);
    }
    s
}

/// The function header line: `fn name(p: T, ...) -> R`.
pub(crate) fn header_text(g: &FlowGraph, types: &TypeTable) -> String {
    let params: Vec<String> = g
        .params
        .iter()
        .map(|p| format!("{}: {}", p.name, types.display(&p.ty)))
        .collect();
    let mut s = format!("fn {}({})", g.name, params.join(", "));
    if g.ret != Ty::Unit {
        let _ = write!(s, " -> {}", types.display(&g.ret));
    }
    s
}

/// The printed lines of one block (header, operations, exit, links), each
/// ending with a newline.
pub(crate) fn block_text(g: &FlowGraph, types: &TypeTable, names: &Names, b: BlockId) -> String {
    let block = g.block(b);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{}({}):",
        names.block(b),
        typed_vars(g, types, names, &block.inputargs)
    );
    for op in &block.operations {
        let _ = writeln!(s, "    {}", op_text(g, types, names, op));
    }
    let link_line = |target: BlockId, args: &[Operand]| {
        format!("{}({})", names.block(target), names.operands(args, types))
    };
    let exits = g.exits(b);
    match &block.exit {
        Exit::Goto => {
            if exits.len() == 1 && exits[0].2.case == LinkCase::Always {
                let (_, target, link) = &exits[0];
                let _ = writeln!(s, "    goto -> {}", link_line(*target, &link.args));
            } else {
                // Malformed: show every link with its case.
                let _ = writeln!(s, "    goto");
                for (_, target, link) in &exits {
                    let line = link_line(*target, &link.args);
                    let _ = writeln!(s, "      {} -> {line}", case_text(&link.case));
                }
            }
        }
        Exit::Branch { cond } | Exit::Switch { value: cond } => {
            let word = if matches!(block.exit, Exit::Branch { .. }) {
                "branch"
            } else {
                "switch"
            };
            let _ = writeln!(s, "    {word} {}", names.operand(cond, types));
            for (_, target, link) in &exits {
                let line = link_line(*target, &link.args);
                let _ = writeln!(s, "      {} -> {line}", case_text(&link.case));
            }
        }
        Exit::Return { values } => {
            if values.is_empty() {
                let _ = writeln!(s, "    return");
            } else {
                let _ = writeln!(s, "    return {}", names.operands(values, types));
            }
        }
        Exit::Panic { kind, message } => {
            let _ = writeln!(s, "    panic {} {:?}", panic_kind_name(kind), message);
        }
    }
    if matches!(block.exit, Exit::Return { .. } | Exit::Panic { .. }) {
        // Malformed: links out of a block that cannot have any.
        for (_, target, link) in &exits {
            let line = link_line(*target, &link.args);
            let _ = writeln!(s, "      {} -> {line}", case_text(&link.case));
        }
    }
    s
}

/// Print one graph; see the module documentation for the numbering.
pub fn print_graph(g: &FlowGraph, types: &TypeTable) -> String {
    let names = Names::new(g);
    let mut s = header_text(g, types);
    s.push('\n');
    for &b in &names.order {
        s.push_str(&block_text(g, types, &names, b));
    }
    s
}

/// Print every graph of a program, separated by blank lines.
pub fn print_program(p: &Program) -> String {
    let texts: Vec<String> = p.graphs.iter().map(|g| print_graph(g, &p.types)).collect();
    texts.join("\n")
}
