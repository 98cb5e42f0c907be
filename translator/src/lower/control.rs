//! Control flow: blocks and statements, `if`, loops,
//! `break`/`continue`/`return`, `?`, panics and the JIT hint macros
//! (`match` and patterns are in `pattern`).

use super::pattern::Sub;
use super::{Leaves, LoopFrame, Lowerer};
use crate::consteval::str_literal;
use crate::typeck::{key, LocalId, PatRes};
use metatrace_jitcodegen::flowgraph::{BlockId, Const, Exit, Op, Operand, PanicKind};
use metatrace_jitcodegen::types::{IntTy, Ty};
use proc_macro2::Span;
use syn::spanned::Spanned;

impl Lowerer<'_, '_> {
    /// Lower a block; its value's leaves, or `None` if it does not complete.
    pub(super) fn block(&mut self, b: &syn::Block, ty: &Ty) -> Option<Leaves> {
        let outer: Vec<LocalId> = self.keys();
        let mut result = Some(vec![]);
        self.box_scopes.push(Vec::new());
        for (i, stmt) in b.stmts.iter().enumerate() {
            if self.cur.is_none() {
                break;
            }
            let last = i + 1 == b.stmts.len();
            match stmt {
                syn::Stmt::Local(l) => self.let_stmt(l),
                syn::Stmt::Item(it) => {
                    if !matches!(it, syn::Item::Const(_) | syn::Item::Use(_)) {
                        self.error(
                            it.span(),
                            "items inside function bodies are not supported in traced code",
                            "move the item to module level",
                        );
                    }
                }
                syn::Stmt::Expr(e, semi) => {
                    let v = self.rvalue(e);
                    if last && semi.is_none() {
                        result = v;
                    } else if let Some(v) = &v {
                        // A box or Vec made and thrown away: dropped at
                        // once (a place used as a statement, `b;`, moves
                        // it out first, as in Rust).
                        let ty = self.tc.ty(e).clone();
                        if self.owns_leaves(&ty) {
                            self.drop_value(&v.clone(), &ty);
                        }
                    }
                }
                syn::Stmt::Macro(m) => {
                    self.macro_stmt(&m.mac);
                }
            }
        }
        // Locals declared in the block go out of scope: their boxes are
        // freed (after the block's value is computed).
        if self.cur.is_some() {
            let depth = self.box_scopes.len() - 1;
            self.free_scopes_from(depth);
            self.env.retain(|k, _| outer.contains(k));
        }
        self.box_scopes.pop();
        let _ = ty;
        if self.cur.is_none() {
            return None;
        }
        result
    }

    fn let_stmt(&mut self, l: &syn::Local) {
        self.set_loc(l.span());
        let pat = match &l.pat {
            syn::Pat::Type(pt) => &*pt.pat,
            p => p,
        };
        let Some(init) = &l.init else {
            // `let x;`: assigned later; give it zero leaves for now.
            if let Some(PatRes::Binding(id)) = self.tc.pat_res.get(&key(pat)).cloned() {
                let ty = self.local_tys[id.0 as usize].clone();
                let zeros = self
                    .leaf_types(&ty)
                    .iter()
                    .map(|t| Operand::Const(Const::zero(t)))
                    .collect();
                self.env.insert(id, zeros);
                if self.owns_leaves(&ty) {
                    // Null until assigned: freeing it then does nothing.
                    self.declare_box(id);
                }
            }
            return;
        };
        let ty = self.tc.ty(&init.expr).clone();
        let ty = self
            .tc
            .coercions
            .get(&key(&*init.expr))
            .cloned()
            .unwrap_or(ty);
        if let (syn::Pat::Wild(_), true) = (pat, self.owns_leaves(&ty)) {
            // `let _ = b;` does not move `b`; `let _ = make_box();` drops
            // the new box (or Vec) at once.
            if !super::place::is_place_expr(&init.expr) {
                if let Some(v) = self.rvalue(&init.expr) {
                    self.drop_value(&v, &ty);
                }
            }
            return;
        }
        if self.owns_leaves(&ty) && !matches!(pat, syn::Pat::Ident(_)) {
            self.owned_pattern_error(&ty, pat.span());
            return;
        }
        let Some(v) = self.rvalue(&init.expr) else {
            // Refused (and reported) in the initializer: the binding's
            // uses would only repeat it.
            if let Some(PatRes::Binding(id)) = self.tc.pat_res.get(&key(pat)).cloned() {
                self.poisoned.insert(id);
            }
            return;
        };
        if let (syn::Pat::Ident(_), Some(PatRes::Binding(id))) =
            (pat, self.tc.pat_res.get(&key(pat)).cloned())
        {
            if self.items.types.flatten(&ty).is_none() {
                self.poisoned.insert(id);
                self.error(
                    l.span(),
                    format!(
                        "a local variable of type `{}` is not supported in traced code",
                        self.items.types.display(&ty)
                    ),
                    "keep heap-owning values behind references; create them outside the portal",
                );
                return;
            }
            self.env.insert(id, v);
            if self.owns_leaves(&ty) {
                self.declare_box(id);
            }
            return;
        }
        let (scrut, keys, fail) = self.bind_and_test("let", pat, ty, v, init.diverge.is_none());
        let cont_env = self.env.clone();
        let cont = self.cur;
        // The failure path: `let ... else` runs its block, which diverges.
        self.enter(fail, &keys);
        match init.diverge.as_ref() {
            Some((_, els)) => {
                let _ = self.rvalue(els);
                if self.cur.is_some() {
                    self.panic_here(PanicKind::Explicit, "let-else block fell through");
                }
            }
            None => self.panic_here(PanicKind::Explicit, "refutable pattern in let"),
        }
        self.cur = cont;
        self.env = cont_env;
        self.env.remove(&scrut);
    }

    // ---- if and match ----------------------------------------------------

    pub(super) fn if_expr(&mut self, i: &syn::ExprIf, ty: &Ty) -> Option<Leaves> {
        let keys = self.keys();
        let leaves = self.leaf_types(ty);
        let join = self.new_join(&keys, &leaves);
        if let syn::Expr::Let(l) = &*i.cond {
            let (inner_keys, else_block) = self.let_cond(l, "if_let")?;
            if let Some(v) = self.block(&i.then_branch, ty) {
                self.goto(join, &keys, v);
            }
            self.enter(else_block, &inner_keys);
        } else {
            let c = self.scalar(&i.cond)?;
            let (t, f, bkeys) = self.branch(c);
            self.enter(t, &bkeys);
            if let Some(v) = self.block(&i.then_branch, ty) {
                self.goto(join, &keys, v);
            }
            self.enter(f, &bkeys);
        }
        match &i.else_branch {
            Some((_, els)) => {
                if let Some(v) = self.rvalue(els) {
                    self.goto(join, &keys, v);
                }
            }
            None => self.goto(join, &keys, vec![]),
        }
        self.finish_join(join, &keys)
    }

    // ---- loops -----------------------------------------------------------

    pub(super) fn while_expr(&mut self, w: &syn::ExprWhile) -> Option<Leaves> {
        let keys = self.keys();
        let header = self.new_join(&keys, &[]);
        let exit = self.new_join(&keys, &[]);
        self.goto(header, &keys, vec![]);
        self.enter(header, &keys);
        if let syn::Expr::Let(l) = &*w.cond {
            let (inner, fail) = self.let_cond(l, "while_let")?;
            let body_env = self.env.clone();
            let body_cur = self.cur;
            self.enter(fail, &inner);
            self.goto(exit, &keys, vec![]);
            self.cur = body_cur;
            self.env = body_env;
        } else {
            let c = self.scalar(&w.cond)?;
            let (t, f, bkeys) = self.branch(c);
            self.enter(f, &bkeys);
            self.goto(exit, &keys, vec![]);
            self.enter(t, &bkeys);
        }
        self.loop_body(&w.label, &w.body, &keys, (exit, vec![]), header);
        self.finish_join(exit, &keys).map(|_| vec![])
    }

    /// Keep `v`, a value of type `ty`, in a hidden local and test it against
    /// `pat`: the local, the keys after it, and the block a failed test
    /// jumps to.
    fn bind_and_test(
        &mut self,
        name: &str,
        pat: &syn::Pat,
        ty: Ty,
        v: Leaves,
        top_tested: bool,
    ) -> (LocalId, Vec<LocalId>, BlockId) {
        let local = self.new_hidden_local(name, ty.clone(), v);
        let keys = self.keys();
        let fail = self.new_join(&keys, &[]);
        self.test_pat(pat, &Sub::local(local, ty), fail, &keys, top_tested);
        (local, keys, fail)
    }

    /// The condition of an `if let` or `while let`, tested: the keys and the
    /// block a failed test jumps to.
    fn let_cond(&mut self, l: &syn::ExprLet, name: &str) -> Option<(Vec<LocalId>, BlockId)> {
        let ty = self.tc.ty(&l.expr).clone();
        if self.owns_leaves(&ty) {
            self.owned_pattern_error(&ty, l.expr.span());
            return None;
        }
        let v = self.rvalue(&l.expr)?;
        let (_, keys, fail) = self.bind_and_test(name, &l.pat, ty, v, false);
        Some((keys, fail))
    }

    /// A loop's body: `break` goes to `brk` (its block and the leaf types
    /// of the break value), `continue` and the end of the body to
    /// `continue_to`.
    fn loop_body(
        &mut self,
        label: &Option<syn::Label>,
        body: &syn::Block,
        keys: &[LocalId],
        (break_to, break_leaves): (BlockId, Vec<Ty>),
        continue_to: BlockId,
    ) {
        self.loops.push(LoopFrame {
            label: label.as_ref().map(|l| l.name.ident.to_string()),
            keys: keys.to_vec(),
            break_to,
            break_leaves,
            continue_to,
            scope_depth: self.box_scopes.len(),
        });
        let body = self.block(body, &Ty::Unit);
        self.loops.pop();
        if body.is_some() {
            self.goto(continue_to, keys, vec![]);
        }
    }

    pub(super) fn loop_expr(&mut self, l: &syn::ExprLoop, ty: &Ty) -> Option<Leaves> {
        let keys = self.keys();
        let header = self.new_join(&keys, &[]);
        let leaves = if *ty == Ty::Never {
            vec![]
        } else {
            self.leaf_types(ty)
        };
        let exit = self.new_join(&keys, &leaves);
        self.goto(header, &keys, vec![]);
        self.enter(header, &keys);
        self.loop_body(&l.label, &l.body, &keys, (exit, leaves), header);
        self.finish_join(exit, &keys)
    }

    pub(super) fn for_expr(&mut self, f: &syn::ExprForLoop) -> Option<Leaves> {
        let mut iter = &*f.expr;
        while let syn::Expr::Paren(p) = iter {
            iter = &p.expr;
        }
        let syn::Expr::Range(r) = iter else {
            self.error(
                iter.span(),
                "`for` loops are supported over integer ranges only",
                "loop over an index range: `for i in 0..v.len()`",
            );
            return None;
        };
        let ty = self.tc.ty(iter).clone();
        let (Some(start), Some(end)) = (&r.start, &r.end) else {
            return None;
        };
        let start = self.scalar(start)?;
        let end = self.scalar(end)?;
        let inclusive = matches!(r.limits, syn::RangeLimits::Closed(_));
        let outer = self.keys();
        let counter = self.new_hidden_local("for_counter", ty.clone(), vec![start]);
        let end_local = self.new_hidden_local("for_end", ty.clone(), vec![end]);
        let keys = self.keys();
        let header = self.new_join(&keys, &[]);
        let latch = self.new_join(&keys, &[]);
        let exit = self.new_join(&outer, &[]);
        self.goto(header, &keys, vec![]);
        self.enter(header, &keys);
        let i = self.env[&counter][0].clone();
        let e = self.env[&end_local][0].clone();
        let go_on = self.emit1(
            if inclusive { Op::IntLe } else { Op::IntLt },
            vec![i.clone(), e],
            Ty::Bool,
        );
        let (t, fb, bkeys) = self.branch(go_on);
        self.enter(fb, &bkeys);
        self.goto(exit, &outer, vec![]);
        self.enter(t, &bkeys);
        if let Some(PatRes::Binding(id)) = self.tc.pat_res.get(&key(&*f.pat)).cloned() {
            self.env.insert(id, vec![i]);
        }
        self.loop_body(&f.label, &f.body, &keys, (exit, vec![]), latch);
        // The latch: step the counter (an inclusive range stops at its end
        // without stepping past it, so `0..=u8::MAX` terminates).
        if !self.g.predecessors(latch).is_empty() {
            self.enter(latch, &keys);
            let i = self.env[&counter][0].clone();
            let it = match ty {
                Ty::Int(t) => t,
                _ => IntTy::I64,
            };
            if inclusive {
                let e = self.env[&end_local][0].clone();
                let at_end = self.emit1(Op::IntEq, vec![i.clone(), e], Ty::Bool);
                let (t, fb, bkeys) = self.branch(at_end);
                self.enter(t, &bkeys);
                self.goto(exit, &outer, vec![]);
                self.enter(fb, &bkeys);
            }
            let i = self.env[&counter][0].clone();
            let next = self.emit1(
                Op::IntAdd,
                vec![i, Operand::Const(Const::Int(1, it))],
                ty.clone(),
            );
            self.env.insert(counter, vec![next]);
            self.goto(header, &keys, vec![]);
        } else {
            self.g.graph.remove_node(latch);
        }
        self.finish_join(exit, &outer).map(|_| vec![])
    }

    fn loop_frame(&mut self, label: Option<&syn::Lifetime>, span: Span) -> Option<usize> {
        let found = match label {
            Some(l) => {
                let name = l.ident.to_string();
                self.loops
                    .iter()
                    .rposition(|f| f.label.as_deref() == Some(&name))
            }
            None => self.loops.len().checked_sub(1),
        };
        if found.is_none() {
            self.error(span, "`break` or `continue` outside of a loop", "rewrite it with the constructs listed in docs/subset.md, or move it into a #[dont_look_inside] function");
        }
        found
    }

    pub(super) fn break_expr(&mut self, b: &syn::ExprBreak) -> Option<Leaves> {
        let i = self.loop_frame(b.label.as_ref(), b.span())?;
        let value = match &b.expr {
            Some(v) => self.rvalue(v)?,
            None => vec![],
        };
        let (target, keys, n, depth) = {
            let f = &self.loops[i];
            (
                f.break_to,
                f.keys.clone(),
                f.break_leaves.len(),
                f.scope_depth,
            )
        };
        let value = if value.len() == n { value } else { vec![] };
        self.free_scopes_from(depth);
        self.goto(target, &keys, value);
        None
    }

    pub(super) fn continue_expr(&mut self, c: &syn::ExprContinue) -> Option<Leaves> {
        let i = self.loop_frame(c.label.as_ref(), c.span())?;
        let (target, keys) = (self.loops[i].continue_to, self.loops[i].keys.clone());
        self.free_scopes_from(self.loops[i].scope_depth);
        self.goto(target, &keys, vec![]);
        None
    }

    pub(super) fn return_expr(&mut self, r: &syn::ExprReturn) -> Option<Leaves> {
        let values = match &r.expr {
            Some(v) => self.rvalue(v)?,
            None => vec![],
        };
        self.free_scopes_from(0);
        self.finish_block(Exit::Return { values });
        None
    }

    /// `e?`: on `Err(x)`/`None` return it from the function, else unwrap.
    pub(super) fn try_expr(&mut self, t: &syn::ExprTry, ty: &Ty) -> Option<Leaves> {
        let inner_ty = self.tc.ty(&t.expr).clone();
        let v = self.rvalue(&t.expr)?;
        let ret_ty = self.g.ret.clone();
        let (bail_tag, ok_variant) = match inner_ty {
            Ty::Result(..) => (1, 0),
            _ => (0, 1),
        };
        let is_bail = self.emit1(
            Op::IntEq,
            vec![
                v[0].clone(),
                Operand::Const(Const::Int(bail_tag, IntTy::U32)),
            ],
            Ty::Bool,
        );
        let (bail, go_on, keys) = self.branch(is_bail);
        self.enter(bail, &keys);
        let ret = match inner_ty {
            Ty::Result(_, ref err) => {
                let off = self.variant_leaf_offset(&inner_ty, 1, 0);
                let n = self.leaf_types(err).len();
                let err_leaves = v[off..off + n].to_vec();
                self.enum_value(&ret_ty, 1, vec![err_leaves])
            }
            _ => self.enum_value(&ret_ty, 0, vec![]),
        };
        self.free_scopes_from(0);
        self.finish_block(Exit::Return { values: ret });
        self.enter(go_on, &keys);
        let off = self.variant_leaf_offset(&inner_ty, ok_variant, 0);
        let n = self.leaf_types(ty).len();
        Some(v[off..off + n].to_vec())
    }

    // ---- macros ----------------------------------------------------------

    pub(super) fn macro_stmt(&mut self, mac: &syn::Macro) {
        self.set_loc(mac.span());
        let Some(m) = self.tc.macros.get(&key(mac)) else {
            self.error(mac.span(), "cannot lower this macro", "rewrite it with the constructs listed in docs/subset.md, or move it into a #[dont_look_inside] function");
            return;
        };
        let name = m.name.as_str();
        let args: &[syn::Expr] = &m.args;
        let literal_message = |i: usize| args.get(i).and_then(str_literal);
        match name {
            "jit_merge_point" | "can_enter_jit" | "jit_function_entry" => {
                self.hint_macro(name, mac.span())
            }
            "panic" => {
                let msg = literal_message(0).unwrap_or_else(|| "explicit panic".into());
                self.panic_here(PanicKind::Explicit, &msg);
            }
            "unreachable" => {
                let msg = match literal_message(0) {
                    Some(m) => format!("internal error: entered unreachable code: {m}"),
                    None => "internal error: entered unreachable code".into(),
                };
                self.panic_here(PanicKind::Explicit, &msg);
            }
            "todo" => self.panic_here(PanicKind::Explicit, "not yet implemented"),
            "unimplemented" => self.panic_here(PanicKind::Explicit, "not implemented"),
            // Release semantics: debug assertions are compiled out.
            "debug_assert" | "debug_assert_eq" | "debug_assert_ne" => {}
            "assert" => {
                let Some(cond) = args.first() else { return };
                let text = quote::ToTokens::to_token_stream(cond).to_string();
                let msg = literal_message(1).unwrap_or_else(|| format!("assertion failed: {text}"));
                if let Some(c) = self.scalar(cond) {
                    self.check(c, PanicKind::Explicit, &msg);
                }
            }
            "assert_eq" | "assert_ne" => {
                if args.len() < 2 {
                    return;
                }
                let ty = self.tc.ty(&args[0]).clone();
                if !self.box_compare_ok(&ty, mac.span()) {
                    return;
                }
                let (Some(a), Some(b)) = (self.rvalue(&args[0]), self.rvalue(&args[1])) else {
                    return;
                };
                let op: syn::BinOp = if name == "assert_eq" {
                    syn::parse_quote!(==)
                } else {
                    syn::parse_quote!(!=)
                };
                let msg = format!(
                    "assertion `left {} right` failed",
                    if name == "assert_eq" { "==" } else { "!=" }
                );
                if let Some(c) = self.compare(&op, a, b, &ty, mac.span()) {
                    self.check(c, PanicKind::Explicit, &msg);
                }
            }
            other => self.error(
                mac.path.span(),
                format!("macro `{other}!` is not supported in traced code"),
                "see docs/subset.md",
            ),
        }
    }

    /// `jit_merge_point!()` / `can_enter_jit!()`: the driver's greens then
    /// reds, exploded, as arguments.
    fn hint_macro(&mut self, name: &str, span: Span) {
        let Some(spec) = self.f.hints.driver.clone() else {
            self.error(
                span,
                format!("`{name}!()` is only allowed in the #[jit_driver] function"),
                "move it into the portal function, or declare this function as the driver",
            );
            return;
        };
        let live_boxes: Vec<LocalId> = self
            .env
            .keys()
            .copied()
            .filter(|k| self.owns_leaves(&self.local_tys[k.0 as usize]))
            .collect();
        for k in live_boxes {
            let n = self.local_names[k.0 as usize].clone();
            let ty = &self.local_tys[k.0 as usize];
            let what = if matches!(ty, Ty::Box(_)) {
                "box"
            } else {
                "Vec"
            };
            let t = self.items.types.display(ty).to_string();
            self.error(
                span,
                format!("the {what} in `{n}` (`{t}`) is live across this `{name}!()`, which is not supported in traced code yet"),
                "keep boxes and Vecs in blocks that end before the merge point, or keep the value in a struct reached through a reference",
            );
        }
        let mut args = Vec::new();
        for ident in spec.greens.iter().chain(spec.reds.iter()) {
            let n = ident.to_string();
            match self.local_by_name(&n) {
                Some(id) => args.extend(self.env[&id].iter().cloned()),
                // Its `let` was refused and reported.
                None if self.poisoned_name(&n) => return,
                None => {
                    self.error(
                        span,
                        format!("`{n}` is not in scope at this `{name}!()`"),
                        "declare the driver's variables before the loop that holds the merge point",
                    );
                    return;
                }
            }
        }
        let driver = self.f.path.clone();
        let op = if name == "jit_merge_point" {
            Op::JitMergePoint { driver }
        } else {
            Op::CanEnterJit {
                driver,
                function_entry: name == "jit_function_entry",
            }
        };
        self.emit0(op, args);
    }
}
