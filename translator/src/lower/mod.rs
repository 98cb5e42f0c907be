//! Lowering: a type-checked function body becomes a flow graph.
//!
//! Locals live in an environment mapping each local to the operands of its
//! scalar leaves in the current block. Every join point (after an `if`, a
//! loop header, the next arm of a `match`) is a new block whose input
//! variables are the leaves of every local in scope; `simplify` then drops
//! the ones nobody reads. Memory is reached through places (`Lval`) that
//! load and store with rustc's own layout.

mod builtins;
mod control;
mod expr;
mod gc;
mod owned;
mod pattern;
mod place;

use crate::diag::{at, Diagnostic};
use crate::items::{FnDef, FnId, ItemTable};
use crate::typeck::{LocalId, TypeckResults};
use metatrace_jitcodegen::flowgraph::{
    BlockId, CallKind, Const, Exit, FlowGraph, LinkCase, Op, Operand, Operation, PanicKind, SrcLoc,
    Var,
};
use metatrace_jitcodegen::types::Ty;
use proc_macro2::Span;
use std::collections::BTreeMap;

pub use place::Lval;

/// Scalar leaves of a value.
pub type Leaves = Vec<Operand>;

pub struct Lowered {
    pub graph: FlowGraph,
    /// Functions called with `CallKind::Regular` (to translate next), and
    /// the residual ones (whose signatures the codewriter needs).
    pub callees: Vec<FnId>,
    pub residuals: Vec<FnId>,
}

struct LoopFrame {
    label: Option<String>,
    /// Locals in scope at the loop, passed to its exit and header.
    keys: Vec<LocalId>,
    break_to: BlockId,
    /// `Some` for `loop`: the leaf types of the break value.
    break_leaves: Vec<Ty>,
    continue_to: BlockId,
    /// `box_scopes.len()` at the loop: `break` and `continue` free the
    /// boxes of the scopes above.
    scope_depth: usize,
}

pub(crate) struct Lowerer<'t, 'a> {
    items: &'t ItemTable<'a>,
    f: &'t FnDef<'a>,
    tc: &'t TypeckResults,
    g: FlowGraph,
    cur: Option<BlockId>,
    env: BTreeMap<LocalId, Leaves>,
    /// Types of the type checker's locals followed by hidden ones
    /// (loop counters, match scrutinees).
    local_tys: Vec<Ty>,
    local_names: Vec<String>,
    /// Locals whose `let` was refused (its initializer, or its type): an
    /// error was reported there, so their uses are not reported again
    /// (one error per problem, docs/subset.md).
    poisoned: std::collections::BTreeSet<LocalId>,
    loops: Vec<LoopFrame>,
    /// The locals owning heap memory (boxes, Vec values, structs holding
    /// Vecs: by-value parameters, `let`s) of every scope open at the
    /// current point, outermost first: what a scope exit drops.
    box_scopes: Vec<Vec<LocalId>>,
    /// Stores go to fresh memory (`Box::new`'s): a Vec field there holds
    /// no old Vec to drop.
    fresh_memory: bool,
    callees: Vec<FnId>,
    residuals: Vec<FnId>,
    diags: Vec<Diagnostic>,
    loc: SrcLoc,
}

/// Lower a type-checked function.
pub fn lower_fn(
    items: &ItemTable,
    id: FnId,
    tc: &TypeckResults,
) -> Result<Lowered, Vec<Diagnostic>> {
    let f = items.fn_def(id);
    let ret = f.ret();
    let ret_leaves = items.types.flatten(&ret).unwrap_or_default();
    let params = f.flow_params();
    let mut l = Lowerer {
        items,
        f,
        tc,
        g: FlowGraph::new(f.path.clone(), params, ret.clone(), ret_leaves),
        cur: None,
        env: BTreeMap::new(),
        local_tys: tc.locals.iter().map(|l| l.ty.clone()).collect(),
        local_names: tc.locals.iter().map(|l| l.name.clone()).collect(),
        poisoned: Default::default(),
        loops: Vec::new(),
        box_scopes: Vec::new(),
        fresh_memory: false,
        callees: Vec::new(),
        residuals: Vec::new(),
        diags: Vec::new(),
        loc: SrcLoc::default(),
    };
    if items.types.flatten(&ret).is_none() {
        l.error(
            f.sig.output_span(),
            format!(
                "functions in traced code cannot return `{}`",
                items.types.display(&ret)
            ),
            "return a reference, or a value of a Copy type",
        );
    }
    l.lower_body();
    if l.diags.is_empty() {
        Ok(Lowered {
            graph: l.g,
            callees: l.callees,
            residuals: l.residuals,
        })
    } else {
        l.diags.sort_by_key(|d| (d.line, d.col));
        l.diags.dedup();
        Err(l.diags)
    }
}

/// Whether `ty` holds a `Box` inside a tuple, `Option` or `Result` (or a
/// box in a box): not supported by value yet.
pub(crate) fn nested_box(ty: &Ty) -> bool {
    fn any_box(ty: &Ty) -> bool {
        match ty {
            Ty::Box(_) => true,
            Ty::Tuple(items) => items.iter().any(any_box),
            Ty::Option(t) | Ty::Array(t, _) => any_box(t),
            Ty::Result(a, b) => any_box(a) || any_box(b),
            _ => false,
        }
    }
    match ty {
        Ty::Box(t) => any_box(t),
        other => any_box(other),
    }
}

trait OutputSpan {
    fn output_span(&self) -> Span;
}

impl OutputSpan for syn::Signature {
    fn output_span(&self) -> Span {
        match &self.output {
            syn::ReturnType::Type(_, t) => syn::spanned::Spanned::span(&**t),
            syn::ReturnType::Default => self.ident.span(),
        }
    }
}

impl<'t, 'a> Lowerer<'t, 'a> {
    fn lower_body(&mut self) {
        let start = self.g.start;
        let mut inputs = Vec::new();
        for (i, &local) in self.tc.params.iter().enumerate() {
            let ty = self.local_tys[local.0 as usize].clone();
            let Some(leaves) = self.items.types.flatten(&ty) else {
                let p = &self.f.params()[i];
                self.error(
                    p.span,
                    format!(
                        "parameter `{}` of type `{}` cannot be passed in traced code",
                        p.name,
                        self.items.types.display(&ty)
                    ),
                    "pass it by reference (`&T` or `&mut T`)",
                );
                continue;
            };
            let mut ops = Vec::new();
            for lt in leaves {
                let v = self
                    .g
                    .new_var(lt, Some(&self.local_names[local.0 as usize]));
                inputs.push(v);
                ops.push(Operand::Var(v));
            }
            self.env.insert(local, ops);
        }
        self.g.block_mut(start).inputargs = inputs;
        self.cur = Some(start);
        // By-value parameters owning boxes or Vecs are owned: dropped when
        // the function returns.
        let box_params: Vec<LocalId> = self
            .tc
            .params
            .iter()
            .copied()
            .filter(|l| self.env.contains_key(l) && self.owns_leaves(&self.local_tys[l.0 as usize]))
            .collect();
        self.box_scopes.push(box_params);
        let body = self.f.body;
        let ret_ty = self.g.ret.clone();
        if let Some(value) = self.block(body, &ret_ty) {
            if self.cur.is_some() {
                self.free_scopes_from(0);
                self.finish_block(Exit::Return { values: value });
            }
        }
        self.box_scopes.pop();
    }

    // ---- owned boxes -----------------------------------------------------

    /// A local owning heap memory declared in the innermost scope: dropped
    /// when it ends.
    fn declare_box(&mut self, id: LocalId) {
        if let Some(scope) = self.box_scopes.last_mut() {
            scope.push(id);
        }
    }

    /// Drop the owning locals of the scopes `depth..` (innermost first, in
    /// reverse declaration order), as the exit of those scopes does. A box
    /// or Vec that was moved out is null by then (`Free` of null does
    /// nothing); one known to be null here is skipped.
    fn free_scopes_from(&mut self, depth: usize) {
        if self.cur.is_none() {
            return;
        }
        let locals: Vec<LocalId> = self.box_scopes[depth.min(self.box_scopes.len())..]
            .iter()
            .rev()
            .flat_map(|s| s.iter().rev().copied())
            .collect();
        for id in locals {
            let Some(v) = self.env.get(&id).cloned() else {
                continue;
            };
            let ty = self.local_tys[id.0 as usize].clone();
            self.drop_value(&v, &ty);
        }
    }

    // ---- diagnostics -----------------------------------------------------

    fn error(&mut self, span: Span, msg: impl Into<String>, help: impl Into<String>) {
        let help: String = help.into();
        let mut d = at(self.items.sources(), self.f.file, span, msg);
        if !help.is_empty() {
            d = d.with_help(help);
        }
        self.diags.push(d);
    }

    fn set_loc(&mut self, span: Span) {
        self.loc = SrcLoc {
            line: span.start().line as u32,
            col: span.start().column as u32 + 1,
        };
    }

    // ---- emitting --------------------------------------------------------

    fn emit(&mut self, op: Op, args: Vec<Operand>, result_tys: &[Ty]) -> Vec<Var> {
        let results: Vec<Var> = result_tys
            .iter()
            .map(|t| self.g.new_var(t.clone(), None))
            .collect();
        if let Some(b) = self.cur {
            let loc = self.loc;
            self.g.block_mut(b).operations.push(Operation {
                op,
                args,
                results: results.clone(),
                loc,
            });
        }
        results
    }

    fn emit1(&mut self, op: Op, args: Vec<Operand>, ty: Ty) -> Operand {
        Operand::Var(self.emit(op, args, &[ty])[0])
    }

    fn emit0(&mut self, op: Op, args: Vec<Operand>) {
        self.emit(op, args, &[]);
    }

    fn finish_block(&mut self, exit: Exit) {
        if let Some(b) = self.cur.take() {
            self.g.block_mut(b).exit = exit;
        }
    }

    // ---- locals and joins ------------------------------------------------

    fn leaf_types(&self, ty: &Ty) -> Vec<Ty> {
        self.items.types.flatten(ty).unwrap_or_default()
    }

    fn new_hidden_local(&mut self, name: &str, ty: Ty, value: Leaves) -> LocalId {
        let id = LocalId(self.local_tys.len() as u32);
        self.local_tys.push(ty);
        self.local_names.push(name.to_owned());
        self.env.insert(id, value);
        id
    }

    fn keys(&self) -> Vec<LocalId> {
        self.env.keys().copied().collect()
    }

    /// A block taking the leaves of `keys` then `extra` leaves.
    fn new_join(&mut self, keys: &[LocalId], extra: &[Ty]) -> BlockId {
        let mut inputs = Vec::new();
        for k in keys {
            let ty = self.local_tys[k.0 as usize].clone();
            let name = self.local_names[k.0 as usize].clone();
            for lt in self.leaf_types(&ty) {
                inputs.push(self.g.new_var(lt, Some(&name)));
            }
        }
        for t in extra {
            inputs.push(self.g.new_var(t.clone(), None));
        }
        self.g.new_block(inputs)
    }

    /// Link the current block to `target`, passing `keys` and `extra`.
    fn link(&mut self, target: BlockId, case: LinkCase, keys: &[LocalId], extra: Leaves) {
        let Some(from) = self.cur else { return };
        let mut args = Vec::new();
        for k in keys {
            match self.env.get(k) {
                Some(v) => args.extend(v.iter().cloned()),
                None => {
                    // A local declared in only some paths: never read after the join.
                    let ty = self.local_tys[k.0 as usize].clone();
                    args.extend(
                        self.leaf_types(&ty)
                            .iter()
                            .map(|t| Operand::Const(Const::zero(t))),
                    );
                }
            }
        }
        args.extend(extra);
        self.g.add_link(from, target, case, args);
    }

    fn goto(&mut self, target: BlockId, keys: &[LocalId], extra: Leaves) {
        self.link(target, LinkCase::Always, keys, extra);
        self.finish_block(Exit::Goto);
    }

    /// Enter a join block if anything reaches it; otherwise stay unreachable.
    fn finish_join(&mut self, join: BlockId, keys: &[LocalId]) -> Option<Leaves> {
        if self.g.predecessors(join).is_empty() {
            self.g.graph.remove_node(join);
            self.cur = None;
            return None;
        }
        Some(self.enter(join, keys))
    }

    /// Continue in `block`, whose inputs are `keys` then extra leaves.
    fn enter(&mut self, block: BlockId, keys: &[LocalId]) -> Leaves {
        let inputs = self.g.block(block).inputargs.clone();
        let mut it = inputs.into_iter();
        self.env.clear();
        for k in keys {
            let ty = self.local_tys[k.0 as usize].clone();
            let n = self.leaf_types(&ty).len();
            let vals: Leaves = it.by_ref().take(n).map(Operand::Var).collect();
            self.env.insert(*k, vals);
        }
        self.cur = Some(block);
        it.map(Operand::Var).collect()
    }

    /// Two-way branch on a bool; returns the (true, false) blocks, both
    /// taking the current environment.
    fn branch(&mut self, cond: Operand) -> (BlockId, BlockId, Vec<LocalId>) {
        let keys = self.keys();
        let t = self.new_join(&keys, &[]);
        let f = self.new_join(&keys, &[]);
        self.link(t, LinkCase::True, &keys, vec![]);
        self.link(f, LinkCase::False, &keys, vec![]);
        self.finish_block(Exit::Branch { cond });
        (t, f, keys)
    }

    /// Go on only if `ok` holds; otherwise panic.
    fn check(&mut self, ok: Operand, kind: PanicKind, message: &str) {
        if self.cur.is_none() {
            return;
        }
        let keys = self.keys();
        let cont = self.new_join(&keys, &[]);
        let fail = self.g.new_block(vec![]);
        self.link(cont, LinkCase::True, &keys, vec![]);
        self.link(fail, LinkCase::False, &[], vec![]);
        self.finish_block(Exit::Branch { cond: ok });
        self.g.block_mut(fail).exit = Exit::Panic {
            kind,
            message: message.to_owned(),
        };
        self.enter(cont, &keys);
    }

    fn panic_here(&mut self, kind: PanicKind, message: &str) {
        self.finish_block(Exit::Panic {
            kind,
            message: message.to_owned(),
        });
    }

    fn call_kind(&self, id: FnId) -> CallKind {
        let h = &self.items.fn_def(id).hints;
        if h.dont_look_inside {
            CallKind::Residual
        } else if h.elidable {
            CallKind::Elidable
        } else if h.loop_invariant {
            CallKind::LoopInvariant
        } else {
            CallKind::Regular
        }
    }

    /// Find the local a driver names: the innermost binding in scope.
    /// Whether a local named `name` had its `let` refused.
    fn poisoned_name(&self, name: &str) -> bool {
        self.poisoned
            .iter()
            .any(|id| self.local_names[id.0 as usize] == name)
    }

    fn local_by_name(&self, name: &str) -> Option<LocalId> {
        self.env.keys().rev().copied().find(|k| {
            self.local_names[k.0 as usize] == name && (k.0 as usize) < self.tc.locals.len()
        })
    }
}
