//! The flow-graph verifier: structural invariants (single definition, block
//! locality of values, exits agreeing with links, reachability) and the
//! typing rules of the operations.
//!
//! Errors name blocks and variables with the printer's numbering, so that a
//! message can be read next to `print_graph`'s output.

use super::printer::{case_text, field_text, Names};
use super::{BlockId, Exit, FieldRef, FlowGraph, LinkCase, Op, Operand, Operation, Var};
use crate::types::{Ty, TypeTable};
use std::collections::{HashMap, HashSet};
use std::fmt;

/// One problem found by `verify`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyError {
    /// The graph's name (the function path).
    pub graph: String,
    /// The printed number of the block concerned, if any.
    pub block: Option<usize>,
    pub message: String,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.block {
            Some(b) => write!(f, "{}: block{}: {}", self.graph, b, self.message),
            None => write!(f, "{}: {}", self.graph, self.message),
        }
    }
}

impl std::error::Error for VerifyError {}

/// Check a graph; every error found is returned, not just the first.
pub fn verify(g: &FlowGraph, types: &TypeTable) -> Result<(), Vec<VerifyError>> {
    let mut v = Verifier {
        g,
        types,
        names: Names::new(g),
        errors: Vec::new(),
        cur: None,
        defs: HashMap::new(),
    };
    v.run();
    if v.errors.is_empty() {
        Ok(())
    } else {
        Err(v.errors)
    }
}

/// What an operand or result must be.
#[derive(Clone, Copy)]
enum Want<'t> {
    Exact(&'t Ty),
    Int,
    IntLike,
    Ref,
    Scalar,
}

fn is_ref(ty: &Ty) -> bool {
    matches!(ty, Ty::Ref { .. } | Ty::Box(_) | Ty::Gc(_) | Ty::Vec(_))
}

/// Variables are scalars; a reference to `[T]`/`str` is the data pointer of
/// an exploded fat reference and counts as a ref scalar too.
fn is_var_scalar(ty: &Ty) -> bool {
    ty.is_scalar() || is_ref(ty)
}

impl Want<'_> {
    fn accepts(self, ty: &Ty) -> bool {
        match self {
            Want::Exact(t) => t.same_value_type(ty),
            Want::Int => matches!(ty, Ty::Int(_)),
            Want::IntLike => matches!(ty, Ty::Int(_) | Ty::Bool | Ty::Char),
            Want::Ref => is_ref(ty),
            Want::Scalar => is_var_scalar(ty),
        }
    }

    fn describe(self, types: &TypeTable) -> String {
        match self {
            Want::Exact(t) => types.display(t).to_string(),
            Want::Int => "an integer type".to_string(),
            Want::IntLike => "an integer, bool or char type".to_string(),
            Want::Ref => "a reference".to_string(),
            Want::Scalar => "a scalar type".to_string(),
        }
    }
}

struct Verifier<'a> {
    g: &'a FlowGraph,
    types: &'a TypeTable,
    names: Names,
    errors: Vec<VerifyError>,
    /// Printed number of the block being checked.
    cur: Option<usize>,
    /// Printed number of the block defining each variable.
    defs: HashMap<Var, usize>,
}

impl Verifier<'_> {
    fn err(&mut self, message: String) {
        self.errors.push(VerifyError {
            graph: self.g.name.clone(),
            block: self.cur,
            message,
        });
    }

    fn show(&self, ty: &Ty) -> String {
        self.types.display(ty).to_string()
    }

    fn var_ty(&self, v: Var) -> Option<&Ty> {
        self.g.vars.get(v.0 as usize).map(|d| &d.ty)
    }

    fn operand_ty(&self, o: &Operand) -> Option<Ty> {
        match o {
            Operand::Var(v) => self.var_ty(*v).cloned(),
            Operand::Const(c) => Some(c.ty()),
        }
    }

    fn text(&self, o: &Operand) -> String {
        self.names.operand(o, self.types)
    }

    fn run(&mut self) {
        if !self.g.graph.contains_node(self.g.start) {
            self.err("the start block is not in the graph".to_string());
            return;
        }
        self.collect_defs();
        self.check_params();
        let reachable: HashSet<_> = self.g.blocks_in_order().into_iter().collect();
        let order = self.names.order.clone();
        for (no, &b) in order.iter().enumerate() {
            self.cur = Some(no);
            if !reachable.contains(&b) {
                self.err("unreachable from the start block".to_string());
            }
            self.check_locality(b, no);
            for op in &self.g.block(b).operations {
                self.check_op(op);
            }
            self.check_exit(b);
            self.check_links(b);
        }
    }

    /// Single definition, variable indices in range, scalar types.
    fn collect_defs(&mut self) {
        let order = self.names.order.clone();
        for (no, &b) in order.iter().enumerate() {
            self.cur = Some(no);
            let block = self.g.block(b);
            let results = block.operations.iter().flat_map(|op| &op.results);
            for v in block.inputargs.iter().chain(results).copied() {
                let name = self.names.var(v);
                match self.var_ty(v) {
                    None => self.err(format!(
                        "{name} is not a variable of this graph (index {}, the graph has {})",
                        v.0,
                        self.g.vars.len()
                    )),
                    Some(ty) if !is_var_scalar(ty) => {
                        let ty = self.show(ty);
                        self.err(format!("{name} has type {ty}, which is not a scalar type"))
                    }
                    Some(_) => {}
                }
                if let Some(&first) = self.defs.get(&v) {
                    self.err(format!("{name} is defined twice (first in block{first})"));
                } else {
                    self.defs.insert(v, no);
                }
            }
        }
    }

    /// The start block's inputargs are the flattened parameters.
    fn check_params(&mut self) {
        self.cur = self.names.block_no(self.g.start);
        let mut expected = Vec::new();
        for p in &self.g.params {
            match self.types.flatten(&p.ty) {
                Some(leaves) => expected.extend(leaves),
                None => {
                    let ty = self.show(&p.ty);
                    self.err(format!(
                        "parameter `{}` has type {ty}, which cannot be passed in registers",
                        p.name
                    ));
                    return;
                }
            }
        }
        let inputs = &self.g.block(self.g.start).inputargs;
        if inputs.len() != expected.len() {
            self.err(format!(
                "the start block has {} inputargs, the flattened parameters are {}",
                inputs.len(),
                expected.len()
            ));
            return;
        }
        for (i, (&v, want)) in inputs.iter().zip(&expected).enumerate() {
            if let Some(ty) = self.var_ty(v) {
                if !ty.same_value_type(want) {
                    let msg = format!(
                        "start inputarg {i} ({}) has type {}, the parameter leaf is {}",
                        self.names.var(v),
                        self.show(ty),
                        self.show(want)
                    );
                    self.err(msg);
                }
            }
        }
    }

    /// Every use is an inputarg or an earlier result of the same block.
    fn check_locality(&mut self, b: BlockId, no: usize) {
        let block = self.g.block(b);
        let mut defined: HashSet<Var> = block.inputargs.iter().copied().collect();
        let mut uses: Vec<(String, Var)> = Vec::new();
        let mut check = |what: &str, args: &[Operand], defined: &HashSet<Var>| {
            for v in args.iter().filter_map(Operand::as_var) {
                if !defined.contains(&v) {
                    uses.push((what.to_string(), v));
                }
            }
        };
        for op in &block.operations {
            check(op.op.name(), &op.args, &defined);
            defined.extend(op.results.iter().copied());
        }
        check("the exit", block.exit.operands(), &defined);
        for (_, target, link) in self.g.exits(b) {
            let what = format!("the link to {}", self.names.block(target));
            check(&what, &link.args, &defined);
        }
        for (what, v) in uses {
            let name = self.names.var(v);
            let msg = match self.defs.get(&v) {
                None => format!("{what} uses {name}, which is never defined"),
                Some(&def_block) if def_block == no => {
                    format!("{what} uses {name} before its definition")
                }
                Some(&def_block) => format!(
                    "{what} uses {name}, defined in block{def_block}: \
                     values cross blocks only through link args"
                ),
            };
            self.err(msg);
        }
    }

    fn check_exit(&mut self, b: BlockId) {
        let block = self.g.block(b);
        let exits = self.g.exits(b);
        let cases: Vec<&LinkCase> = exits.iter().map(|e| &e.2.case).collect();
        let count = |c: &LinkCase| cases.iter().filter(|x| **x == c).count();
        let list = || {
            let texts: Vec<String> = cases.iter().map(|c| case_text(c)).collect();
            format!("[{}]", texts.join(", "))
        };
        match &block.exit {
            Exit::Goto => {
                if cases != [&LinkCase::Always] {
                    self.err(format!(
                        "goto needs exactly one `always` link, has {}",
                        list()
                    ));
                }
            }
            Exit::Branch { cond } => {
                for (case, word) in [(LinkCase::True, "true"), (LinkCase::False, "false")] {
                    match count(&case) {
                        1 => {}
                        0 => self.err(format!("branch has no {word} link")),
                        n => self.err(format!("branch has {n} {word} links, expected 1")),
                    }
                }
                for c in &cases {
                    if !matches!(c, LinkCase::True | LinkCase::False) {
                        self.err(format!("branch has a `{}` link", case_text(c)));
                    }
                }
                self.check_operand("branch condition", cond, Want::Exact(&Ty::Bool));
            }
            Exit::Switch { value } => {
                if cases.is_empty() {
                    self.err("switch has no links".to_string());
                }
                let mut seen = HashSet::new();
                for c in &cases {
                    match c {
                        LinkCase::Value(v) => {
                            if !seen.insert(*v) {
                                self.err(format!("switch has duplicate case {v}"));
                            }
                        }
                        LinkCase::Default => {}
                        other => {
                            self.err(format!("switch has a `{}` link", case_text(other)));
                        }
                    }
                }
                let defaults = count(&LinkCase::Default);
                if defaults > 1 {
                    self.err(format!(
                        "switch has {defaults} default links, expected at most 1"
                    ));
                }
                self.check_operand("switch value", value, Want::IntLike);
            }
            Exit::Return { values } => {
                if !cases.is_empty() {
                    self.err(format!("return has outgoing links {}", list()));
                }
                let leaves = &self.g.ret_leaves;
                if values.len() != leaves.len() {
                    let tys: Vec<String> = leaves.iter().map(|t| self.show(t)).collect();
                    self.err(format!(
                        "return carries {} values, the return type has {} leaves ({})",
                        values.len(),
                        leaves.len(),
                        tys.join(", ")
                    ));
                } else {
                    for (i, (val, want)) in values.iter().zip(leaves).enumerate() {
                        self.check_operand(&format!("return value {i}"), val, Want::Exact(want));
                    }
                }
            }
            Exit::Panic { .. } => {
                if !cases.is_empty() {
                    self.err(format!("panic has outgoing links {}", list()));
                }
            }
        }
    }

    /// Link arity and types against the target's inputargs.
    fn check_links(&mut self, b: BlockId) {
        for (_, target, link) in self.g.exits(b) {
            let inputs = &self.g.block(target).inputargs;
            let tname = self.names.block(target);
            if inputs.len() != link.args.len() {
                self.err(format!(
                    "the link to {tname} carries {} args, {tname} has {} inputargs",
                    link.args.len(),
                    inputs.len()
                ));
                continue;
            }
            for (i, (arg, &input)) in link.args.iter().zip(inputs).enumerate() {
                if let (Some(have), Some(want)) = (self.operand_ty(arg), self.var_ty(input)) {
                    if !have.same_value_type(want) {
                        let msg = format!(
                            "the link to {tname}: arg {i} ({}) has type {}, inputarg {} has type {}",
                            self.text(arg),
                            self.show(&have),
                            self.names.var(input),
                            self.show(want)
                        );
                        self.err(msg);
                    }
                }
            }
        }
    }

    /// Check one operand against a requirement; `what` names it in the message.
    fn check_operand(&mut self, what: &str, o: &Operand, want: Want<'_>) {
        if let Some(ty) = self.operand_ty(o) {
            if !want.accepts(&ty) {
                let msg = format!(
                    "{what} ({}) has type {}, expected {}",
                    self.text(o),
                    self.show(&ty),
                    want.describe(self.types)
                );
                self.err(msg);
            }
        }
    }

    fn arg(&mut self, op: &Operation, i: usize, want: Want<'_>) {
        let what = format!("{}: argument {i}", op.op.name());
        self.check_operand(&what, &op.args[i], want);
    }

    fn result(&mut self, op: &Operation, i: usize, want: Want<'_>) {
        let what = format!("{}: result {i}", op.op.name());
        self.check_operand(&what, &Operand::Var(op.results[i]), want);
    }

    fn arg_ty(&self, op: &Operation, i: usize) -> Option<Ty> {
        self.operand_ty(&op.args[i])
    }

    /// Check the counts and types of an operation's arguments and results.
    fn sig(&mut self, op: &Operation, args: &[Want<'_>], results: &[Want<'_>]) {
        if self.arity(op, Some(args.len()), Some(results.len())) {
            for (i, &want) in args.iter().enumerate() {
                self.arg(op, i, want);
            }
            for (i, &want) in results.iter().enumerate() {
                self.result(op, i, want);
            }
        }
    }

    /// Check argument and result counts; `None` means any number.
    fn arity(&mut self, op: &Operation, nargs: Option<usize>, nres: Option<usize>) -> bool {
        let mut ok = true;
        if let Some(n) = nargs.filter(|&n| n != op.args.len()) {
            self.err(format!(
                "{} takes {n} arguments, has {}",
                op.op.name(),
                op.args.len()
            ));
            ok = false;
        }
        if let Some(n) = nres.filter(|&n| n != op.results.len()) {
            self.err(format!(
                "{} must have {n} results, has {}",
                op.op.name(),
                op.results.len()
            ));
            ok = false;
        }
        ok
    }

    /// The type of a field, or an error message.
    fn field_ty(&self, f: &FieldRef) -> Result<Ty, String> {
        if let Some(t) = f.ty(self.types) {
            return Ok(t);
        }
        match (&f.owner, f.variant) {
            (Ty::Adt(_) | Ty::Option(_) | Ty::Result(..), _) | (Ty::Tuple(_), None) => {
                Err(format!("no field {}", field_text(self.types, f)))
            }
            (other, _) => Err(format!(
                "field owner {} is not a struct, enum or tuple",
                self.show(other)
            )),
        }
    }

    fn check_field(&mut self, op: &Operation, f: &FieldRef) -> Option<Ty> {
        match self.field_ty(f) {
            Ok(t) => Some(t),
            Err(msg) => {
                self.err(format!("{}: {msg}", op.op.name()));
                None
            }
        }
    }

    fn check_op(&mut self, op: &Operation) {
        let usize_ty = Ty::usize();
        let bool_ty = Ty::Bool;
        let f64_ty = Ty::F64;
        let (b, f, us) = (
            Want::Exact(&bool_ty),
            Want::Exact(&f64_ty),
            Want::Exact(&usize_ty),
        );
        match &op.op {
            Op::SameAs | Op::Promote => {
                if self.arity(op, Some(1), Some(1)) {
                    if let Some(t) = self.arg_ty(op, 0) {
                        self.result(op, 0, Want::Exact(&t));
                    }
                }
            }
            Op::IntAdd
            | Op::IntSub
            | Op::IntMul
            | Op::IntDiv
            | Op::IntRem
            | Op::IntAnd
            | Op::IntOr
            | Op::IntXor
            | Op::IntShl
            | Op::IntShr
            | Op::IntNeg
            | Op::IntNot => {
                let unary = matches!(op.op, Op::IntNeg | Op::IntNot);
                let shift = matches!(op.op, Op::IntShl | Op::IntShr);
                if self.arity(op, Some(if unary { 1 } else { 2 }), Some(1)) {
                    self.arg(op, 0, Want::Int);
                    if let Some(t @ Ty::Int(_)) = self.arg_ty(op, 0) {
                        if !unary {
                            self.arg(op, 1, if shift { Want::Int } else { Want::Exact(&t) });
                        }
                        self.result(op, 0, Want::Exact(&t));
                    }
                }
            }
            Op::IntEq | Op::IntNe | Op::IntLt | Op::IntLe | Op::IntGt | Op::IntGe => {
                if self.arity(op, Some(2), Some(1)) {
                    self.arg(op, 0, Want::IntLike);
                    if let Some(t) = self.arg_ty(op, 0).filter(|t| Want::IntLike.accepts(t)) {
                        self.arg(op, 1, Want::Exact(&t));
                    }
                    self.result(op, 0, b);
                }
            }
            Op::BoolNot | Op::FloatNeg => {
                let t = if op.op == Op::BoolNot { b } else { f };
                self.sig(op, &[t], &[t]);
            }
            Op::BoolAnd
            | Op::BoolOr
            | Op::BoolXor
            | Op::FloatAdd
            | Op::FloatSub
            | Op::FloatMul
            | Op::FloatDiv
            | Op::FloatRem => {
                let is_bool = matches!(op.op, Op::BoolAnd | Op::BoolOr | Op::BoolXor);
                let t = if is_bool { b } else { f };
                self.sig(op, &[t, t], &[t]);
            }
            Op::FloatEq | Op::FloatNe | Op::FloatLt | Op::FloatLe | Op::FloatGt | Op::FloatGe => {
                self.sig(op, &[f, f], &[b]);
            }
            Op::Cast => self.sig(op, &[Want::Scalar], &[Want::Scalar]),
            Op::GetField(fr) | Op::QuasiImmutGet(fr) => {
                let field = self.check_field(op, fr);
                if self.arity(op, Some(1), Some(1)) {
                    self.arg(op, 0, Want::Ref);
                    if let Some(t) = &field {
                        self.result(op, 0, Want::Exact(t));
                    }
                }
            }
            Op::SetField(fr) => {
                let field = self.check_field(op, fr);
                if self.arity(op, Some(2), Some(0)) {
                    self.arg(op, 0, Want::Ref);
                    if let Some(t) = &field {
                        self.arg(op, 1, Want::Exact(t));
                    }
                }
            }
            Op::FieldAddr(fr) => {
                self.check_field(op, fr);
                self.sig(op, &[Want::Ref], &[Want::Ref]);
            }
            Op::Load => {
                if self.arity(op, Some(1), Some(1)) {
                    self.arg(op, 0, Want::Ref);
                }
            }
            Op::Store => {
                if self.arity(op, Some(2), Some(0)) {
                    self.arg(op, 0, Want::Ref);
                }
            }
            Op::EnumTag(t) => {
                let is_enum = match t {
                    Ty::Option(_) | Ty::Result(..) => true,
                    Ty::Adt(id) => self
                        .types
                        .adts
                        .get(id.0 as usize)
                        .is_some_and(|a| a.is_enum()),
                    _ => false,
                };
                if !is_enum {
                    let t = self.show(t);
                    self.err(format!("enum_tag of {t}, which is not an enum"));
                }
                self.sig(op, &[Want::Ref], &[Want::Int]);
            }
            Op::VecLen(_) => self.sig(op, &[Want::Ref], &[us]),
            Op::VecGetItem(t) | Op::SliceGetItem(t) => {
                self.sig(op, &[Want::Ref, us], &[Want::Exact(t)]);
            }
            Op::VecItemAddr(_) | Op::SliceItemAddr(_) => {
                self.sig(op, &[Want::Ref, us], &[Want::Ref]);
            }
            Op::VecSetItem(t) | Op::SliceSetItem(t) => {
                self.sig(op, &[Want::Ref, us, Want::Exact(t)], &[]);
            }
            Op::VecPush(t) => self.sig(op, &[Want::Ref, Want::Exact(t)], &[]),
            Op::VecPop(t) => {
                // Results: the exploded `Option<T>` (tag, then T's leaves).
                let Some(leaves) = self.types.flatten(&Ty::Option(Box::new(t.clone()))) else {
                    let t = self.show(t);
                    self.err(format!("vec_pop of {t}, which cannot live in registers"));
                    return;
                };
                let results: Vec<Want> = leaves.iter().map(Want::Exact).collect();
                self.sig(op, &[Want::Ref], &results);
            }
            Op::VecPushSlot(_) => self.sig(op, &[Want::Ref], &[Want::Ref]),
            Op::VecPopSlot(_) => {
                let u32_ty = Ty::Int(crate::types::IntTy::U32);
                self.sig(op, &[Want::Ref], &[Want::Exact(&u32_ty), Want::Ref]);
            }
            Op::VecAsSlice(_) | Op::StringAsStr => self.sig(op, &[Want::Ref], &[Want::Ref, us]),
            Op::Call { .. } => {}
            Op::Helper(h) => {
                let leaves = |tys: &[Ty]| -> Option<Vec<Ty>> {
                    let mut out = Vec::new();
                    for t in tys {
                        out.extend(self.types.flatten(t)?);
                    }
                    Some(out)
                };
                let (Some(params), Some(results)) = (leaves(&h.params()), leaves(&[h.ret()]))
                else {
                    self.err(format!(
                        "helper {}: a type that cannot live in registers",
                        h.name(self.types)
                    ));
                    return;
                };
                let params: Vec<Want> = params
                    .iter()
                    .map(|t| match t {
                        Ty::Ref { .. } => Want::Ref,
                        t => Want::Exact(t),
                    })
                    .collect();
                let results: Vec<Want> = results.iter().map(Want::Exact).collect();
                self.sig(op, &params, &results);
            }
            Op::JitMergePoint { .. } | Op::CanEnterJit { .. } => {
                self.arity(op, None, Some(0));
            }
            Op::WeAreJitted => self.sig(op, &[], &[b]),
            Op::GcNew(t) => {
                let gc = Ty::Gc(Box::new(t.clone()));
                self.sig(op, &[], &[Want::Exact(&gc)])
            }
            Op::VecInit(_) => self.sig(op, &[Want::Ref, us], &[]),
            Op::VecDrop(_) => self.sig(op, &[Want::Ref], &[]),
            Op::VecTake(_) => self.sig(op, &[Want::Ref, Want::Ref], &[]),
            Op::New(t) | Op::Free(t) => {
                // A Vec value is the box that holds it (`TypeTable::flatten`).
                let boxed = match t {
                    Ty::Vec(_) => t.clone(),
                    _ => Ty::Box(Box::new(t.clone())),
                };
                let boxed = [Want::Exact(&boxed)];
                match op.op {
                    Op::New(_) => self.sig(op, &[], &boxed),
                    _ => self.sig(op, &boxed, &[]),
                }
            }
        }
    }
}
