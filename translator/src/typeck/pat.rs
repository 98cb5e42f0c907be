//! Patterns: `let`, `match` arms, `if let`/`while let`, `for` variables.

use super::infer::{VarKind, IT};
use super::{key, member_name, Checker, PatRes};
use crate::items::{path_idents, Def};
use metatrace_jitcodegen::flowgraph::Const;
use metatrace_jitcodegen::types::{AdtKind, Ty};
use syn::spanned::Spanned;

impl Checker<'_, '_> {
    /// A pattern matched against a value already reported as an error:
    /// its bindings are errors too, and nothing in it is reported.
    fn pat_of_error(&mut self, p: &syn::Pat) {
        let t = self.error_ty();
        self.pat_its.insert(key(p), t.clone());
        match p {
            syn::Pat::Ident(pi) => {
                let id = self.new_local(
                    &pi.ident.to_string(),
                    t,
                    pi.mutability.is_some(),
                    None,
                    pi.ident.span(),
                );
                self.out.pat_res.insert(key(p), PatRes::Binding(id));
            }
            syn::Pat::Tuple(t) => t.elems.iter().for_each(|e| self.pat_of_error(e)),
            syn::Pat::TupleStruct(t) => t.elems.iter().for_each(|e| self.pat_of_error(e)),
            syn::Pat::Struct(s) => s.fields.iter().for_each(|f| self.pat_of_error(&f.pat)),
            syn::Pat::Or(o) => o.cases.iter().for_each(|c| self.pat_of_error(c)),
            syn::Pat::Paren(pp) => self.pat_of_error(&pp.pat),
            syn::Pat::Reference(r) => self.pat_of_error(&r.pat),
            syn::Pat::Type(pt) => self.pat_of_error(&pt.pat),
            _ => {}
        }
    }

    /// Type a pattern matched against a value of type `ty`. `by_ref` is the
    /// default binding mode: `Some(mutable)` once a reference was stripped
    /// to match a non-reference pattern.
    pub(super) fn pat(&mut self, p: &syn::Pat, ty: &IT, by_ref: Option<bool>) {
        if self.subst.is_error(ty) {
            self.pat_of_error(p);
            return;
        }
        // Default binding modes: a constructor pattern sees through references.
        let (ty, by_ref, derefs) = if is_constructor_pattern(p) {
            let mut t = self.subst.shallow(ty);
            let mut mode = by_ref;
            let mut n = 0;
            while let IT::Ref(m, inner) = t {
                mode = Some(mode.unwrap_or(true) && m);
                t = self.subst.shallow(&inner);
                n += 1;
            }
            (t, mode, n)
        } else {
            (ty.clone(), by_ref, 0)
        };
        self.pat_its.insert(key(p), ty.clone());
        if derefs > 0 {
            self.out.pat_deref.insert(key(p), derefs);
        }
        match p {
            syn::Pat::Ident(pi) => {
                if pi.by_ref.is_some() {
                    self.error(
                        pi.span(),
                        "`ref` bindings are not supported in traced code",
                        "match on a reference (`match &x`) instead",
                    );
                }
                if let Some((_, sub)) = &pi.subpat {
                    self.error(
                        sub.span(),
                        "`@` patterns are not supported in traced code",
                        "bind the value and test it in a match guard",
                    );
                }
                if pi.subpat.is_none() && pi.mutability.is_none() && pi.by_ref.is_none() {
                    if let Some(res) = self.ident_as_path(&pi.ident, &ty) {
                        self.out.pat_res.insert(key(p), res);
                        return;
                    }
                }
                let bty = match by_ref {
                    Some(m) => IT::Ref(m, Box::new(ty.clone())),
                    None => ty.clone(),
                };
                let id = self.new_local(
                    &pi.ident.to_string(),
                    bty,
                    pi.mutability.is_some(),
                    by_ref,
                    pi.ident.span(),
                );
                self.out.pat_res.insert(key(p), PatRes::Binding(id));
            }
            syn::Pat::Wild(_) | syn::Pat::Rest(_) => {}
            syn::Pat::Paren(pp) => self.pat(&pp.pat, &ty, by_ref),
            syn::Pat::Lit(l) => {
                let lt = self.expr_lit_pattern(&l.lit, &ty);
                if !self.subst.unify(&lt, &ty) {
                    self.error(
                        l.span(),
                        "this literal does not match the type of the value",
                        "rustc rejects this too: fix what `cargo check` reports first",
                    );
                }
            }
            syn::Pat::Range(r) => {
                for end in [&r.start, &r.end].into_iter().flatten() {
                    let t = self.expr(end, Some(&ty));
                    self.subst.unify(&t, &ty);
                }
            }
            syn::Pat::Or(o) => {
                for case in &o.cases {
                    let before = self.local_its.len();
                    self.pat(case, &ty, by_ref);
                    if self.local_its.len() != before {
                        self.error(
                            case.span(),
                            "bindings inside `|` patterns are not supported in traced code",
                            "write one arm per alternative",
                        );
                    }
                }
            }
            syn::Pat::Path(pp) => match self.path_pattern(&pp.path, &ty) {
                Some(res) => {
                    self.out.pat_res.insert(key(p), res);
                }
                None => self.error(
                    pp.span(),
                    "this path does not name a constant or a variant without fields",
                    "rustc rejects this too: fix what `cargo check` reports first",
                ),
            },
            syn::Pat::TupleStruct(ts) => {
                let Some((variant, fields)) = self.constructor_fields(&ts.path, &ty) else {
                    self.error(
                        ts.path.span(),
                        "cannot find this tuple struct or variant",
                        "rustc rejects this too: fix what `cargo check` reports first",
                    );
                    return;
                };
                if let Some(v) = variant {
                    self.out.pat_res.insert(key(p), PatRes::Variant(v));
                }
                self.positional(
                    &ts.elems.iter().collect::<Vec<_>>(),
                    &fields,
                    by_ref,
                    ts.span(),
                );
            }
            syn::Pat::Tuple(t) => {
                let elems: Vec<&syn::Pat> = t.elems.iter().collect();
                let fields = match self.subst.shallow(&ty) {
                    IT::Tuple(items) => items,
                    IT::Var(_) => {
                        // `let (a, b) = ...` before the value's type is known.
                        let items: Vec<IT> = elems
                            .iter()
                            .map(|_| self.subst.fresh(VarKind::Any))
                            .collect();
                        self.subst.unify(&ty, &IT::Tuple(items.clone()));
                        items
                    }
                    _ => {
                        self.error(
                            t.span(),
                            "tuple pattern on a value that is not a tuple",
                            "rustc rejects this too: fix what `cargo check` reports first",
                        );
                        return;
                    }
                };
                self.positional(&elems, &fields, by_ref, t.span());
            }
            syn::Pat::Struct(s) => {
                let Some((variant, fields)) = self.named_fields(&s.path, &ty, true) else {
                    self.error(
                        s.path.span(),
                        "cannot find this struct or variant",
                        "rustc rejects this too: fix what `cargo check` reports first",
                    );
                    return;
                };
                if let Some(v) = variant {
                    self.out.pat_res.insert(key(p), PatRes::Variant(v));
                }
                for fp in &s.fields {
                    let name = member_name(&fp.member);
                    match fields.iter().find(|(n, _)| *n == name) {
                        Some((_, ft)) => {
                            let ft = ft.clone();
                            self.pat(&fp.pat, &ft, by_ref)
                        }
                        None => self.error(
                            fp.member.span(),
                            format!("no field `{name}`"),
                            "rustc rejects this too: fix what `cargo check` reports first",
                        ),
                    }
                }
            }
            syn::Pat::Reference(r) => match self.subst.shallow(&ty) {
                IT::Ref(_, inner) => self.pat(&r.pat, &inner, None),
                _ => self.error(
                    r.span(),
                    "reference pattern on a value that is not a reference",
                    "rustc rejects this too: fix what `cargo check` reports first",
                ),
            },
            syn::Pat::Type(pt) => {
                let ann = self.resolve_written_type(&pt.ty);
                self.subst.unify(&ann, &ty);
                self.pat(&pt.pat, &ann, by_ref);
            }
            syn::Pat::Slice(s) => self.error(
                s.span(),
                "slice patterns are not supported in traced code",
                "check the length and index the elements",
            ),
            other => self.error(
                other.span(),
                "this pattern is not supported in traced code",
                "see docs/subset.md",
            ),
        }
    }

    fn positional(
        &mut self,
        elems: &[&syn::Pat],
        fields: &[IT],
        by_ref: Option<bool>,
        span: proc_macro2::Span,
    ) {
        let rest = elems.iter().position(|p| matches!(p, syn::Pat::Rest(_)));
        let n = elems.len() - rest.map(|_| 1).unwrap_or(0);
        if n > fields.len() || (rest.is_none() && n != fields.len()) {
            self.error(
                span,
                "wrong number of fields in this pattern",
                "rustc rejects this too: fix what `cargo check` reports first",
            );
            return;
        }
        for (i, el) in elems.iter().enumerate() {
            let field = match rest {
                Some(r) if i > r => fields.len() - (elems.len() - i),
                Some(r) if i == r => continue,
                _ => i,
            };
            self.pat(el, &fields[field], by_ref);
        }
    }

    fn expr_lit_pattern(&mut self, lit: &syn::Lit, ty: &IT) -> IT {
        match lit {
            syn::Lit::Int(i) if i.suffix().is_empty() => {
                let v = self.subst.fresh(VarKind::Int);
                self.subst.unify(&v, ty);
                v
            }
            syn::Lit::Int(i) => match metatrace_jitcodegen::types::IntTy::from_name(i.suffix()) {
                Some(t) => IT::int(t),
                None => ty.clone(),
            },
            syn::Lit::Byte(_) => IT::int(metatrace_jitcodegen::types::IntTy::U8),
            syn::Lit::Char(_) => IT::Leaf(Ty::Char),
            syn::Lit::Bool(_) => IT::bool(),
            syn::Lit::Float(_) => IT::Leaf(Ty::F64),
            syn::Lit::Str(_) => IT::Ref(false, Box::new(IT::Leaf(Ty::Str))),
            _ => ty.clone(),
        }
    }

    /// An identifier pattern that names a constant or a unit variant is not
    /// a binding (`match op { HALT => .., None => .. }`).
    fn ident_as_path(&mut self, ident: &syn::Ident, ty: &IT) -> Option<PatRes> {
        let path: syn::Path = ident.clone().into();
        match self.resolve_def(&path)? {
            Def::Const(_) | Def::Variant(..) => self.path_pattern(&path, ty),
            Def::External(p) if p.len() == 1 && p[0] == "None" => self.path_pattern(&path, ty),
            _ => None,
        }
    }

    fn path_pattern(&mut self, path: &syn::Path, ty: &IT) -> Option<PatRes> {
        match self.resolve_def(path)? {
            Def::Const(id) => {
                let v = match self.items.const_value(id) {
                    Ok(v) => v,
                    Err(d) => {
                        self.diags.push(d);
                        return Some(PatRes::Const(Const::Bool(false)));
                    }
                };
                self.subst.unify(&IT::from_ty(&v.ty()), ty);
                Some(PatRes::Const(v))
            }
            Def::Variant(adt, idx) => {
                self.subst.unify(&IT::Leaf(Ty::Adt(adt)), ty);
                Some(PatRes::Variant(idx))
            }
            Def::External(p) if p.len() == 1 && p[0] == "None" => {
                let t = self.subst.fresh(VarKind::Any);
                self.subst.unify(&IT::Option(Box::new(t)), ty);
                Some(PatRes::Variant(0))
            }
            _ => None,
        }
    }

    /// Fields of a tuple struct or tuple variant pattern: (variant, types).
    fn constructor_fields(&mut self, path: &syn::Path, ty: &IT) -> Option<(Option<u32>, Vec<IT>)> {
        let idents = path_idents(path);
        if idents.len() == 1
            && matches!(idents[0].as_str(), "Some" | "Ok" | "Err")
            && !matches!(
                self.resolve_def(path),
                Some(Def::Variant(..)) | Some(Def::Adt(_))
            )
        {
            let t = self.subst.shallow(ty);
            return match (idents[0].as_str(), t) {
                ("Some", IT::Option(x)) => Some((Some(1), vec![*x])),
                ("Ok", IT::Result(a, _)) => Some((Some(0), vec![*a])),
                ("Err", IT::Result(_, b)) => Some((Some(1), vec![*b])),
                ("Some", t @ IT::Var(_)) => {
                    let x = self.subst.fresh(VarKind::Any);
                    self.subst.unify(&t, &IT::Option(Box::new(x.clone())));
                    Some((Some(1), vec![x]))
                }
                _ => None,
            };
        }
        let (variant, fields) = self.named_fields(path, ty, false)?;
        Some((variant, fields.into_iter().map(|(_, t)| t).collect()))
    }

    /// The fields of the struct or enum variant `path` names, whose type is
    /// unified with `ty`: (variant, names and types). An enum's name has no
    /// fields, and none at all if `structs_only`.
    fn named_fields(
        &mut self,
        path: &syn::Path,
        ty: &IT,
        structs_only: bool,
    ) -> Option<(Option<u32>, Vec<(String, IT)>)> {
        let (adt, variant) = match self.resolve_def(path)? {
            Def::Variant(adt, idx) => (adt, Some(idx)),
            Def::Adt(adt)
                if !structs_only
                    || matches!(self.items.types.adt(adt).kind, AdtKind::Struct { .. }) =>
            {
                (adt, None)
            }
            _ => return None,
        };
        self.subst.unify(&IT::Leaf(Ty::Adt(adt)), ty);
        let def = self.items.types.adt(adt);
        let fields = match variant {
            Some(v) => &def.variants()[v as usize].fields,
            None => def.fields(),
        };
        let fields = fields.iter().map(|f| (f.name.clone(), IT::from_ty(&f.ty)));
        Some((variant, fields.collect()))
    }
}

fn is_constructor_pattern(p: &syn::Pat) -> bool {
    matches!(
        p,
        syn::Pat::Struct(_)
            | syn::Pat::TupleStruct(_)
            | syn::Pat::Tuple(_)
            | syn::Pat::Path(_)
            | syn::Pat::Lit(_)
            | syn::Pat::Range(_)
            | syn::Pat::Slice(_)
    )
}
