//! `match` and patterns: switches on tags and integers where the arms
//! allow it, else a chain of pattern tests; the same tests serve `let`,
//! `if let` and `while let`.

use super::{Leaves, Lowerer};
use crate::typeck::{enum_variants, key, member_name, LocalId, PatRes};
use metatrace_jitcodegen::flowgraph::{
    BlockId, Const, Exit, FieldRef, LinkCase, Op, Operand, PanicKind,
};
use metatrace_jitcodegen::types::{FieldDef, IntTy, Ty};
use proc_macro2::Span;
use syn::spanned::Spanned;

/// A value being matched by a pattern: leaves of a local, or memory
/// whose address a local holds.
#[derive(Clone, Debug)]
pub(super) enum Sub {
    Leaves {
        local: LocalId,
        start: usize,
        ty: Ty,
    },
    Mem {
        local: LocalId,
        ty: Ty,
    },
}

impl Sub {
    /// All the leaves of a local.
    pub(super) fn local(local: LocalId, ty: Ty) -> Sub {
        Sub::Leaves {
            local,
            start: 0,
            ty,
        }
    }

    pub(super) fn ty(&self) -> &Ty {
        match self {
            Sub::Leaves { ty, .. } | Sub::Mem { ty, .. } => ty,
        }
    }
}

/// The value a switch tests a constant pattern by, if it can.
fn switch_case(c: &Const) -> Option<i64> {
    match c {
        Const::Int(v, _) => Some(*v),
        Const::Char(c) => Some(*c as i64),
        Const::Bool(b) => Some(*b as i64),
        _ => None,
    }
}

impl Lowerer<'_, '_> {
    pub(super) fn match_expr(&mut self, m: &syn::ExprMatch, ty: &Ty) -> Option<Leaves> {
        let keys = self.keys();
        let leaves = self.leaf_types(ty);
        let join = self.new_join(&keys, &leaves);
        let scrut_ty = self.tc.ty(&m.expr).clone();
        let sub = self.scrutinee(&m.expr, &scrut_ty)?;
        let match_keys = self.keys();
        if let Some(arm_blocks) = self.try_switch(m, &sub, &match_keys) {
            for (arm, block) in m.arms.iter().zip(arm_blocks) {
                let Some(block) = block else { continue };
                self.enter(block, &match_keys);
                // The switch did the top-level test; bind what the arm binds.
                let fail = self.new_join(&match_keys, &[]);
                self.test_pat(&arm.pat, &sub, fail, &match_keys, true);
                self.arm_body(&arm.body, join, &keys);
                self.enter(fail, &match_keys);
                self.panic_unreachable();
            }
            return self.finish_join(join, &keys);
        }
        for (i, arm) in m.arms.iter().enumerate() {
            let next = self.new_join(&match_keys, &[]);
            // rustc checked exhaustiveness: what reaches the last arm matches it.
            let assume = i + 1 == m.arms.len() && arm.guard.is_none();
            self.test_pat(&arm.pat, &sub, next, &match_keys, assume);
            if let Some((_, guard)) = &arm.guard {
                if let Some(g) = self.scalar(guard) {
                    let arm_keys = self.keys();
                    let (t, f, _) = self.branch(g);
                    self.enter(f, &arm_keys);
                    self.goto(next, &match_keys, vec![]);
                    self.enter(t, &arm_keys);
                }
            }
            self.arm_body(&arm.body, join, &keys);
            self.enter(next, &match_keys);
        }
        self.panic_unreachable();
        self.finish_join(join, &keys)
    }

    /// An arm's body, its value passed to the match's join.
    fn arm_body(&mut self, body: &syn::Expr, join: BlockId, keys: &[LocalId]) {
        if let Some(v) = self.rvalue(body) {
            self.goto(join, keys, v);
        }
    }

    /// Where no arm matched: rustc checked exhaustiveness.
    fn panic_unreachable(&mut self) {
        self.panic_here(
            PanicKind::Explicit,
            "internal error: entered unreachable code",
        );
    }

    /// Evaluate a scrutinee into a hidden local: scalars and values by
    /// value, aggregates in memory by address.
    fn scrutinee(&mut self, e: &syn::Expr, ty: &Ty) -> Option<Sub> {
        if self.owns_leaves(ty) {
            self.owned_pattern_error(ty, e.span());
            return None;
        }
        if super::place::is_place_expr(e)
            && !ty.is_scalar()
            && self
                .items
                .types
                .flatten(ty)
                .map(|l| l.len() > 1)
                .unwrap_or(true)
        {
            let lv = self.place(e)?;
            if !matches!(lv, super::Lval::Local { .. } | super::Lval::Temp { .. }) {
                let addr = self.addr_of(&lv, e.span())?;
                let local =
                    self.new_hidden_local("scrutinee", Ty::reference(false, ty.clone()), addr);
                return Some(Sub::Mem {
                    local,
                    ty: ty.clone(),
                });
            }
        }
        let v = self.rvalue(e)?;
        let local = self.new_hidden_local("scrutinee", ty.clone(), v);
        Some(Sub::local(local, ty.clone()))
    }

    /// A `match` whose arms test one integer or tag against constants
    /// becomes a single switch: the interpreter's dispatch.
    fn try_switch(
        &mut self,
        m: &syn::ExprMatch,
        sub: &Sub,
        match_keys: &[LocalId],
    ) -> Option<Vec<Option<BlockId>>> {
        if m.arms.len() < 3 || m.arms.iter().any(|a| a.guard.is_some()) {
            return None;
        }
        let is_enum = enum_variants(self.items, sub.ty()).is_some();
        if !is_enum && !matches!(sub.ty(), Ty::Int(_) | Ty::Char | Ty::Bool) {
            return None;
        }
        if self.tc.pat_deref.contains_key(&key(&m.arms[0].pat)) {
            return None;
        }
        let mut arm_values: Vec<Option<Vec<i64>>> = Vec::new(); // None = catch-all
        for (i, arm) in m.arms.iter().enumerate() {
            match self.switch_values(&arm.pat, sub.ty()) {
                Some(vals) => arm_values.push(Some(vals)),
                None if i + 1 == m.arms.len() && self.is_catch_all(&arm.pat) => {
                    arm_values.push(None)
                }
                None => return None,
            }
        }
        let value = self.switch_value(sub)?;
        let mut blocks = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut has_default = false;
        let mut links = Vec::new();
        for vals in &arm_values {
            let b = self.new_join(match_keys, &[]);
            match vals {
                Some(vals) => {
                    let fresh: Vec<i64> =
                        vals.iter().copied().filter(|v| seen.insert(*v)).collect();
                    if fresh.is_empty() {
                        self.g.graph.remove_node(b);
                        blocks.push(None);
                        continue;
                    }
                    for v in fresh {
                        links.push((b, LinkCase::Value(v)));
                    }
                }
                None => {
                    links.push((b, LinkCase::Default));
                    has_default = true;
                }
            }
            blocks.push(Some(b));
        }
        if !has_default {
            // Exhaustive by rustc's check: route other values to a panic.
            let b = self.g.new_block(vec![]);
            self.g.block_mut(b).exit = Exit::Panic {
                kind: PanicKind::Explicit,
                message: "internal error: entered unreachable code".into(),
            };
            links.push((b, LinkCase::Default));
            let from = self.cur?;
            self.g.add_link(from, b, LinkCase::Default, vec![]);
            links.pop();
        }
        for (b, case) in links {
            self.link(b, case, match_keys, vec![]);
        }
        self.finish_block(Exit::Switch { value });
        Some(blocks)
    }

    fn switch_value(&mut self, sub: &Sub) -> Option<Operand> {
        match sub {
            Sub::Leaves { local, start, .. } => {
                Some(self.sub_leaves(*local, *start, 1)?[0].clone())
            }
            Sub::Mem { local, ty } => {
                let addr = self.sub_leaves(*local, 0, 1)?[0].clone();
                let ty = ty.clone();
                let tag = self.switch_tag(addr, &ty);
                Some(self.tag_as_u32(tag))
            }
        }
    }

    fn is_catch_all(&self, p: &syn::Pat) -> bool {
        match p {
            syn::Pat::Wild(_) => true,
            syn::Pat::Ident(pi) => {
                pi.subpat.is_none()
                    && matches!(self.tc.pat_res.get(&key(p)), Some(PatRes::Binding(_)))
            }
            _ => false,
        }
    }

    /// The switch values a pattern stands for, if it is a plain constant
    /// test (literal, constant, variant with irrefutable fields, `|` of those).
    fn switch_values(&self, p: &syn::Pat, ty: &Ty) -> Option<Vec<i64>> {
        match p {
            syn::Pat::Lit(l) => {
                let c = super::expr::retype_const(crate::consteval::lit_const(&l.lit)?, ty);
                Some(vec![switch_case(&c)?])
            }
            syn::Pat::Or(o) => {
                let mut out = Vec::new();
                for c in &o.cases {
                    out.extend(self.switch_values(c, ty)?);
                }
                Some(out)
            }
            syn::Pat::Paren(pp) => self.switch_values(&pp.pat, ty),
            _ => match self.tc.pat_res.get(&key(p))? {
                PatRes::Const(c) => Some(vec![switch_case(c)?]),
                PatRes::Variant(v) => {
                    let fields_ok = match p {
                        syn::Pat::TupleStruct(ts) => ts.elems.iter().all(|e| self.irrefutable(e)),
                        syn::Pat::Struct(s) => s.fields.iter().all(|f| self.irrefutable(&f.pat)),
                        _ => true,
                    };
                    fields_ok.then(|| vec![*v as i64])
                }
                _ => None,
            },
        }
    }

    fn irrefutable(&self, p: &syn::Pat) -> bool {
        match p {
            syn::Pat::Wild(_) | syn::Pat::Rest(_) => true,
            syn::Pat::Ident(_) => matches!(self.tc.pat_res.get(&key(p)), Some(PatRes::Binding(_))),
            syn::Pat::Tuple(t) => t.elems.iter().all(|e| self.irrefutable(e)),
            _ => false,
        }
    }

    // ---- patterns --------------------------------------------------------

    /// Test `p` against `sub`, binding its variables; on failure jump to
    /// `fail` passing `keys`. `top_tested`: the value is known to match
    /// (a switch already tested it, or it reached the last arm of an
    /// exhaustive `match`, or the pattern is irrefutable): only bind.
    pub(super) fn test_pat(
        &mut self,
        p: &syn::Pat,
        sub: &Sub,
        fail: BlockId,
        keys: &[LocalId],
        top_tested: bool,
    ) {
        if self.cur.is_none() {
            return;
        }
        let derefs = self.tc.pat_deref.get(&key(p)).copied().unwrap_or(0);
        let mut sub = sub.clone();
        for _ in 0..derefs {
            match self.deref_sub(&sub, p.span()) {
                Some(s) => sub = s,
                None => return,
            }
        }
        match p {
            syn::Pat::Wild(_) | syn::Pat::Rest(_) => {}
            syn::Pat::Paren(pp) => self.test_pat(&pp.pat, &sub, fail, keys, top_tested),
            syn::Pat::Type(pt) => self.test_pat(&pt.pat, &sub, fail, keys, top_tested),
            syn::Pat::Reference(r) => {
                if let Some(s) = self.deref_sub(&sub, r.span()) {
                    self.test_pat(&r.pat, &s, fail, keys, top_tested);
                }
            }
            syn::Pat::Lit(l) => {
                if top_tested {
                    return;
                }
                let Some(c) = crate::consteval::lit_const(&l.lit) else {
                    self.error(
                        l.span(),
                        "this literal pattern is not supported in traced code",
                        "match integers, `bool`, `char` or string slices with literals; compare other values with `==` in a guard",
                    );
                    return;
                };
                let c = super::expr::retype_const(c, sub.ty());
                self.test_eq(&sub, c, fail, keys, l.span());
            }
            syn::Pat::Range(r) => {
                if top_tested {
                    return;
                }
                let Some(v) = self.sub_scalar(&sub, r.span()) else {
                    return;
                };
                let ty = sub.ty().clone();
                if let Some(lo) = &r.start {
                    if let Some(lo) = self.rvalue(lo) {
                        let ok = self.emit1(
                            if ty == Ty::F64 {
                                Op::FloatGe
                            } else {
                                Op::IntGe
                            },
                            vec![v.clone(), lo[0].clone()],
                            Ty::Bool,
                        );
                        self.fail_unless(ok, fail, keys);
                    }
                }
                if let Some(hi) = &r.end {
                    if let Some(hi) = self.rvalue(hi) {
                        let inclusive = matches!(r.limits, syn::RangeLimits::Closed(_));
                        let op = match (inclusive, ty == Ty::F64) {
                            (true, false) => Op::IntLe,
                            (false, false) => Op::IntLt,
                            (true, true) => Op::FloatLe,
                            (false, true) => Op::FloatLt,
                        };
                        let ok = self.emit1(op, vec![v, hi[0].clone()], Ty::Bool);
                        self.fail_unless(ok, fail, keys);
                    }
                }
            }
            syn::Pat::Or(o) => {
                if top_tested {
                    return;
                }
                let here = self.keys();
                let success = self.new_join(&here, &[]);
                for (i, case) in o.cases.iter().enumerate() {
                    let last = i + 1 == o.cases.len();
                    let next = if last {
                        fail
                    } else {
                        self.new_join(&here, &[])
                    };
                    let next_keys: Vec<LocalId> = if last { keys.to_vec() } else { here.clone() };
                    self.test_pat(case, &sub, next, &next_keys, false);
                    self.goto(success, &here, vec![]);
                    if !last {
                        self.enter(next, &here);
                    }
                }
                self.enter(success, &here);
            }
            // A name is a binding, or a constant or unit variant to test.
            syn::Pat::Ident(_) | syn::Pat::Path(_) => match self.tc.pat_res.get(&key(p)).cloned() {
                Some(PatRes::Binding(id)) => {
                    let by_ref = self.tc.local(id).by_ref.is_some();
                    let value = if by_ref {
                        self.sub_addr(&sub, p.span())
                    } else {
                        self.sub_value(&sub, p.span())
                    };
                    if let Some(v) = value {
                        self.env.insert(id, v);
                    }
                }
                Some(PatRes::Const(c)) if !top_tested => {
                    self.test_eq(&sub, c, fail, keys, p.span())
                }
                Some(PatRes::Variant(v)) if !top_tested => self.test_tag(&sub, v, fail, keys),
                _ => {}
            },
            syn::Pat::TupleStruct(ts) => {
                let variant = self.test_pat_variant(p, &sub, fail, keys, top_tested);
                let elems: Vec<&syn::Pat> = ts.elems.iter().collect();
                let nfields = self.field_types(sub.ty(), variant).len();
                self.test_positional(&elems, nfields, &sub, variant, fail, keys, top_tested);
            }
            syn::Pat::Tuple(t) => {
                let elems: Vec<&syn::Pat> = t.elems.iter().collect();
                let nfields = self.field_types(sub.ty(), None).len();
                self.test_positional(&elems, nfields, &sub, None, fail, keys, top_tested);
            }
            syn::Pat::Struct(s) => {
                let variant = self.test_pat_variant(p, &sub, fail, keys, top_tested);
                let fields = self.field_types(sub.ty(), variant);
                for fp in &s.fields {
                    let name = member_name(&fp.member);
                    let Some(idx) = fields.iter().position(|(n, _)| *n == name) else {
                        continue;
                    };
                    if let Some(fsub) = self.field_sub(&sub, variant, idx, &fp.pat, fp.span()) {
                        self.test_pat(&fp.pat, &fsub, fail, keys, top_tested);
                    }
                }
            }
            other => self.error(
                other.span(),
                "this pattern is not supported in traced code",
                "see docs/subset.md",
            ),
        }
    }

    /// The variant a tuple-struct or struct pattern names, if any, with
    /// its tag tested (unless the caller has tested it already).
    fn test_pat_variant(
        &mut self,
        p: &syn::Pat,
        sub: &Sub,
        fail: BlockId,
        keys: &[LocalId],
        top_tested: bool,
    ) -> Option<u32> {
        let variant = match self.tc.pat_res.get(&key(p)) {
            Some(PatRes::Variant(v)) => Some(*v),
            _ => None,
        };
        if let Some(v) = variant {
            if !top_tested {
                self.test_tag(sub, v, fail, keys);
            }
        }
        variant
    }

    #[allow(clippy::too_many_arguments)]
    fn test_positional(
        &mut self,
        elems: &[&syn::Pat],
        nfields: usize,
        sub: &Sub,
        variant: Option<u32>,
        fail: BlockId,
        keys: &[LocalId],
        assume: bool,
    ) {
        let rest = elems.iter().position(|p| matches!(p, syn::Pat::Rest(_)));
        for (i, el) in elems.iter().enumerate() {
            let idx = match rest {
                Some(r) if i == r => continue,
                Some(r) if i > r => nfields - (elems.len() - i),
                _ => i,
            };
            if let Some(fsub) = self.field_sub(sub, variant, idx, el, el.span()) {
                self.test_pat(el, &fsub, fail, keys, assume);
            }
        }
    }

    fn field_types(&self, ty: &Ty, variant: Option<u32>) -> Vec<(String, Ty)> {
        let named = |fields: &[FieldDef]| -> Vec<(String, Ty)> {
            fields
                .iter()
                .map(|f| (f.name.clone(), f.ty.clone()))
                .collect()
        };
        let positional = |tys: &[Ty]| -> Vec<(String, Ty)> {
            let tys = tys.iter().cloned().enumerate();
            tys.map(|(i, t)| (i.to_string(), t)).collect()
        };
        match (ty, variant) {
            (Ty::Adt(id), Some(v)) => {
                named(&self.items.types.adt(*id).variants()[v as usize].fields)
            }
            (Ty::Adt(id), None) => named(self.items.types.adt(*id).fields()),
            // `Option` and `Result`: the payload is field `0`.
            (_, Some(v)) => {
                positional(&enum_variants(self.items, ty).unwrap_or_default()[v as usize].1)
            }
            (Ty::Tuple(items), None) => positional(items),
            _ => vec![],
        }
    }

    /// The sub-value for field `idx` (of `variant`, for enums).
    fn field_sub(
        &mut self,
        sub: &Sub,
        variant: Option<u32>,
        idx: usize,
        pat: &syn::Pat,
        span: Span,
    ) -> Option<Sub> {
        let (_, fty) = self.field_types(sub.ty(), variant).get(idx)?.clone();
        match sub {
            Sub::Leaves { local, start, ty } => {
                let off = match variant {
                    Some(v) => self.variant_leaf_offset(ty, v as usize, idx),
                    None => self.field_leaf_offset(ty, idx),
                };
                Some(Sub::Leaves {
                    local: *local,
                    start: start + off,
                    ty: fty,
                })
            }
            Sub::Mem { local, ty } => {
                let addr = self.sub_leaves(*local, 0, 1)?[0].clone();
                let field = FieldRef {
                    owner: ty.clone(),
                    variant,
                    index: idx as u32,
                };
                let by_ref_binding = matches!(self.tc.pat_res.get(&key(pat)), Some(PatRes::Binding(id)) if self.tc.local(*id).by_ref.is_some());
                if fty.is_scalar() && !by_ref_binding {
                    let v = self.emit1(Op::GetField(field), vec![addr], fty.clone());
                    let l = self.new_hidden_local("field", fty.clone(), vec![v]);
                    Some(Sub::local(l, fty))
                } else {
                    let a = self.emit1(
                        Op::FieldAddr(field),
                        vec![addr],
                        Ty::reference(false, fty.clone()),
                    );
                    let l = self.new_hidden_local(
                        "field_addr",
                        Ty::reference(false, fty.clone()),
                        vec![a],
                    );
                    let _ = span;
                    Some(Sub::Mem { local: l, ty: fty })
                }
            }
        }
    }

    /// Follow a reference: the referenced value as a memory sub-value.
    fn deref_sub(&mut self, sub: &Sub, span: Span) -> Option<Sub> {
        let v = self.sub_value(sub, span)?;
        match sub.ty().clone() {
            Ty::Ref { to, .. } | Ty::Box(to) | Ty::Gc(to) => {
                if to.is_unsized() {
                    self.error(
                        span,
                        "matching on slices is not supported in traced code",
                        "check `s.len()` and index the slice: `let a = s[0];`",
                    );
                    return None;
                }
                let ref_ty = Ty::reference(false, (*to).clone());
                let l = self.new_hidden_local("deref", ref_ty, vec![v[0].clone()]);
                if to.is_scalar() {
                    let val = self.emit1(Op::Load, vec![v[0].clone()], (*to).clone());
                    let l2 = self.new_hidden_local("deref_value", (*to).clone(), vec![val]);
                    let _ = l;
                    return Some(Sub::local(l2, (*to).clone()));
                }
                Some(Sub::Mem {
                    local: l,
                    ty: (*to).clone(),
                })
            }
            other => {
                self.error(
                    span,
                    format!(
                        "cannot match `{}` through a reference",
                        self.items.types.display(&other)
                    ),
                    "match on the value itself (`match *r`), or on a reference to a value in memory",
                );
                None
            }
        }
    }

    /// Leaves `start..start + n` of the scrutinee held in `local`; `None`
    /// when it has fewer: its type was refused, and said so, already.
    fn sub_leaves(&self, local: LocalId, start: usize, n: usize) -> Option<&[Operand]> {
        self.env.get(&local)?.get(start..start + n)
    }

    fn sub_value(&mut self, sub: &Sub, span: Span) -> Option<Leaves> {
        match sub {
            Sub::Leaves { local, start, ty } => {
                let n = self.leaf_types(ty).len();
                Some(self.sub_leaves(*local, *start, n)?.to_vec())
            }
            Sub::Mem { local, ty } => {
                let addr = self.sub_leaves(*local, 0, 1)?[0].clone();
                self.load(
                    &super::Lval::Mem {
                        addr,
                        ty: ty.clone(),
                    },
                    span,
                )
            }
        }
    }

    fn sub_addr(&mut self, sub: &Sub, span: Span) -> Option<Leaves> {
        match sub {
            Sub::Mem { local, .. } => Some(self.sub_leaves(*local, 0, 1)?.to_vec()),
            Sub::Leaves { .. } => {
                self.error(span, "binding by reference into a value held in variables is not supported in traced code", "match on the value itself rather than on a reference to it");
                None
            }
        }
    }

    fn sub_scalar(&mut self, sub: &Sub, span: Span) -> Option<Operand> {
        let v = self.sub_value(sub, span)?;
        if v.len() != 1 {
            self.error(span, "this pattern needs a single value", "rewrite it with the constructs listed in docs/subset.md, or move it into a #[dont_look_inside] function");
            return None;
        }
        v.into_iter().next()
    }

    fn test_eq(&mut self, sub: &Sub, c: Const, fail: BlockId, keys: &[LocalId], span: Span) {
        let Some(v) = self.sub_scalar(sub, span) else {
            return;
        };
        let op = if matches!(c, Const::F64(_)) {
            Op::FloatEq
        } else {
            Op::IntEq
        };
        let ok = self.emit1(op, vec![v, Operand::Const(c)], Ty::Bool);
        self.fail_unless(ok, fail, keys);
    }

    fn test_tag(&mut self, sub: &Sub, variant: u32, fail: BlockId, keys: &[LocalId]) {
        let Some(tag) = self.switch_value(sub) else {
            return;
        };
        let ok = self.emit1(
            Op::IntEq,
            vec![tag, Operand::Const(Const::Int(variant as i64, IntTy::U32))],
            Ty::Bool,
        );
        self.fail_unless(ok, fail, keys);
    }

    fn fail_unless(&mut self, ok: Operand, fail: BlockId, keys: &[LocalId]) {
        let here = self.keys();
        let cont = self.new_join(&here, &[]);
        self.link(cont, LinkCase::True, &here, vec![]);
        self.link(fail, LinkCase::False, keys, vec![]);
        self.finish_block(Exit::Branch { cond: ok });
        self.enter(cont, &here);
    }

    pub(super) fn box_pattern_error(&mut self, span: Span) {
        self.error(
            span,
            "matching on a Box or destructuring it is not supported in traced code",
            "bind the box to a plain `let` variable, and match on what it holds: `match *b { ... }`",
        );
    }
}
