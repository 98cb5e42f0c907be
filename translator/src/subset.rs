//! The syntactic subset checker.
//!
//! Every function reachable from a portal (except `#[dont_look_inside]`
//! ones, whose bodies stay native) is walked once, signature and body, and
//! every construct outside the subset is reported with its span and what to
//! write instead. The checker never stops at the first error: one run gives
//! the user the whole list, in source order, as rustc does.
//!
//! What is *not* checked here:
//! - method calls (`.iter()`, `.map(..)`, `.clone()`, ...): the type checker
//!   looks them up in the builtins registry (`builtins.rs`);
//! - names (statics, traits, generic structs): `items.rs` resolves them;
//! - the arguments of `jit_merge_point!` / `can_enter_jit!`: `hints.rs`.
//!
//! Types written in a signature are also resolved by `items.rs`, which uses
//! the same messages and spans for raw pointers, trait objects, `impl
//! Trait`, fn pointers, `f32`, `i128` and `u128`, so the two reports are
//! identical and deduplicate exactly.
//!
//! The rules are in one table, [`RULES`], so that the list is easy to read
//! and `docs/subset.md` can be checked against it.

use crate::consteval::str_literal;
use crate::diag::{at, Diagnostics, FileId, SourceMap};
use proc_macro2::{Span, TokenTree};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::visit::{self, Visit};

/// One construct outside the subset: its message and what to write instead.
/// `{name}` in either is replaced by the offending name (a macro, a type).
#[derive(Debug)]
pub struct Rule {
    pub message: &'static str,
    pub help: &'static str,
}

macro_rules! rules {
    ($($id:ident: $msg:literal, $help:literal;)*) => {
        $(pub const $id: Rule = Rule { message: $msg, help: $help };)*
        /// Every rule, in the order of `docs/subset.md`.
        pub const RULES: &[&Rule] = &[$(&$id),*];
    };
}

rules! {
    // -- signatures ---------------------------------------------------------
    ASYNC_FN: "async functions are not supported in traced code",
        "write a plain function; traced code runs to completion";
    UNSAFE_FN: "unsafe functions are not supported in traced code",
        "make it a safe function, or mark it #[dont_look_inside] so that its body stays native";
    EXTERN_FN: "functions with an explicit ABI are not supported in traced code",
        "remove the `extern` ABI; call foreign code from a #[dont_look_inside] function";
    VARIADIC_FN: "variadic functions are not supported in traced code",
        "pass a slice instead";
    GENERIC_FN: "generic functions are not supported in traced code",
        "write a concrete type for each use, or use an enum and a `match`";
    CONST_GENERIC_FN: "const generic parameters are not supported in traced code",
        "pass the value as an ordinary argument";
    WHERE_CLAUSE: "`where` clauses are not supported in traced code",
        "remove the bounds: traced functions take concrete types";
    // -- types --------------------------------------------------------------
    IMPL_TRAIT: "`impl Trait` types are not supported in traced code",
        "use a concrete type";
    TRAIT_OBJECT: "trait objects are not supported in traced code",
        "use an enum with one variant per implementation and `match` on it";
    RAW_POINTER: "raw pointers are not supported in traced code",
        "use a reference (`&T` or `&mut T`)";
    FN_POINTER: "function pointers are not supported in traced code",
        "call the function directly, or dispatch with a `match`";
    F32: "`f32` is not supported in traced code",
        "use `f64`";
    INT128: "`{name}` is not supported in traced code",
        "use a 64-bit integer type";
    TYPE_MACRO: "macros in type position are not supported in traced code",
        "write the type out";
    OTHER_TYPE: "this kind of type is not supported in traced code",
        "use integers, bool, char, f64, references, tuples, arrays, Vec, Option, Result, or your own structs and enums";
    // -- expressions --------------------------------------------------------
    CLOSURE: "closures are not supported in traced code",
        "write a separate function and call it";
    ASYNC_BLOCK: "async blocks are not supported in traced code",
        "write plain sequential code";
    AWAIT: "`.await` is not supported in traced code",
        "write plain sequential code";
    UNSAFE_BLOCK: "unsafe blocks are not supported in traced code",
        "move the unsafe code into a #[dont_look_inside] function and call it";
    TRY_BLOCK: "`try` blocks are not supported in traced code",
        "move the code into a function that returns `Result` or `Option` and use `?` there";
    YIELD: "`yield` is not supported in traced code",
        "write an ordinary loop";
    LABELED_BLOCK: "labeled blocks are not supported in traced code",
        "use a labeled loop that ends in a break: `'a: loop { ...; break 'a; }`";
    CONST_BLOCK: "inline `const` blocks are not supported in traced code",
        "declare a `const` item and use its name";
    RAW_ADDR: "raw pointers are not supported in traced code",
        "use a reference (`&x` or `&mut x`)";
    FOR_NON_RANGE: "`for` loops are only supported over integer ranges `a..b` and `a..=b`",
        "loop over an index range: `for i in 0..v.len() { let x = v[i]; ... }`, or use `while`";
    RANGE_EXPR: "range expressions are only supported as the bounds of a `for` loop or as a slice index",
        "keep the two bounds in separate variables";
    STRUCT_UPDATE: "struct update syntax is not supported in traced code",
        "write every field: `S { a: base.a, b: 1 }`";
    OTHER_EXPR: "this expression is not supported in traced code",
        "rewrite it with the constructs of the subset (see docs/subset.md)";
    // -- statements and items in bodies -------------------------------------
    NESTED_FN: "nested functions are not supported in traced code",
        "move the function to module level and call it";
    NESTED_ITEM: "items inside function bodies are not supported in traced code",
        "move the `{name}` to module level";
    LOCAL_USE: "`use` declarations inside function bodies are not supported in traced code",
        "move the `use` to the top of the module";
    LOCAL_MACRO_RULES: "macro definitions are not supported in traced code",
        "write the code out, or move it into a function";
    // -- patterns -----------------------------------------------------------
    SLICE_PATTERN: "slice patterns are not supported in traced code",
        "check `s.len()` and index the slice: `let a = s[0];`";
    BOX_PATTERN: "`box` patterns are not supported in traced code",
        "match on the dereferenced box: `match *b { ... }`";
    REF_BINDING: "`ref` bindings are not supported in traced code",
        "match on a reference instead: `match &x { Some(v) => ... }`";
    AT_BINDING: "`@` bindings with a subpattern are not supported in traced code",
        "match the subpattern, then use the matched value itself: `match x { 1..=5 => f(x), ... }`";
    PATTERN_MACRO: "macros in pattern position are not supported in traced code",
        "write the pattern out";
    CONST_PATTERN: "inline `const` patterns are not supported in traced code",
        "declare a `const` item and match on its name";
    OTHER_PATTERN: "this pattern is not supported in traced code",
        "use literals, ranges, tuples, struct and enum patterns, `_` and plain bindings";
    // -- macros -------------------------------------------------------------
    VEC_MACRO: "this form of `vec!` is not supported in traced code",
        "write `vec![]`, `vec![a, b, c]` or `vec![x; n]`";
    IO_MACRO: "`{name}!` is not supported in traced code",
        "do I/O in a #[dont_look_inside] function and call it";
    FORMAT_MACRO: "`format!` is not supported in traced code",
        "build strings in a #[dont_look_inside] function and call it";
    ASM_MACRO: "inline assembly is not supported in traced code",
        "move it into a #[dont_look_inside] function";
    MATCHES_MACRO: "`matches!` is not supported in traced code",
        "write a `match`: `match x { Pat => true, _ => false }`";
    UNKNOWN_MACRO: "macro `{name}!` is not supported in traced code",
        "the known macros are jit_merge_point!, can_enter_jit!, jit_function_entry!, panic!, unreachable!, todo!, unimplemented!, assert!, assert_eq!, assert_ne! and their debug_ forms; write the code out or call a function";
    FORMAT_ARGS: "`{name}!` with format arguments is not supported in traced code",
        "only a literal message is supported, such as `{name}!(\"stack underflow\")`";
    ASSERT_FORMAT_ARGS: "`{name}!` with format arguments is not supported in traced code",
        "only a literal message is supported, such as `{name}!(..., \"stack underflow\")`";
    MACRO_ARGS: "cannot parse the arguments of `{name}!`",
        "write the arguments as comma-separated expressions";
}

/// Check a function's signature and body against the subset; push one
/// diagnostic per construct outside it, in source order.
pub fn check_fn(
    sources: &SourceMap,
    file: FileId,
    sig: &syn::Signature,
    body: &syn::Block,
    diags: &mut Diagnostics,
) {
    let mut checker = Checker {
        sources,
        file,
        found: Vec::new(),
        in_rejected_for: false,
    };
    checker.check_signature(sig);
    checker.visit_block(body);
    // The visitor goes in source order almost everywhere; make it exact.
    let mut found = checker.found;
    found.sort_by_key(|d| (d.line, d.col));
    for d in found {
        diags.push(d);
    }
}

struct Checker<'s> {
    sources: &'s SourceMap,
    file: FileId,
    found: Vec<crate::diag::Diagnostic>,
    /// Inside the iterator of a `for` loop that is already reported: a
    /// range there (`(0..n).rev()`) is part of that error, not a second one.
    in_rejected_for: bool,
}

/// `a` to `b` as one span (`a` alone if they cannot be joined).
fn join(a: Span, b: Span) -> Span {
    a.join(b).unwrap_or(a)
}

fn strip_parens(e: &syn::Expr) -> &syn::Expr {
    match e {
        syn::Expr::Paren(p) => strip_parens(&p.expr),
        syn::Expr::Group(g) => strip_parens(&g.expr),
        other => other,
    }
}

impl Checker<'_> {
    fn report(&mut self, span: Span, rule: &Rule, name: &str) {
        let d = at(
            self.sources,
            self.file,
            span,
            rule.message.replace("{name}", name),
        )
        .with_help(rule.help.replace("{name}", name));
        self.found.push(d);
    }

    fn check_signature(&mut self, sig: &syn::Signature) {
        if let Some(t) = &sig.asyncness {
            self.report(t.span, &ASYNC_FN, "");
        }
        if let Some(t) = &sig.unsafety {
            self.report(t.span, &UNSAFE_FN, "");
        }
        if let Some(abi) = &sig.abi {
            self.report(abi.span(), &EXTERN_FN, "");
        }
        let generics = &sig.generics;
        let has_type_param = generics
            .params
            .iter()
            .any(|p| matches!(p, syn::GenericParam::Type(_)));
        let has_const_param = generics
            .params
            .iter()
            .any(|p| matches!(p, syn::GenericParam::Const(_)));
        let generics_span = match (&generics.lt_token, &generics.gt_token) {
            (Some(lt), Some(gt)) => join(lt.span, gt.span),
            _ => generics.span(),
        };
        if has_type_param {
            self.report(generics_span, &GENERIC_FN, "");
        } else if has_const_param {
            self.report(generics_span, &CONST_GENERIC_FN, "");
        }
        for input in &sig.inputs {
            match input {
                syn::FnArg::Receiver(r) => {
                    if r.colon_token.is_some() {
                        self.visit_type(&r.ty);
                    }
                }
                syn::FnArg::Typed(pt) => {
                    self.visit_pat(&pt.pat);
                    self.visit_type(&pt.ty);
                }
            }
        }
        if let Some(v) = &sig.variadic {
            self.report(v.span(), &VARIADIC_FN, "");
        }
        if let syn::ReturnType::Type(_, ty) = &sig.output {
            self.visit_type(ty);
        }
        if let Some(wc) = &generics.where_clause {
            let bounds_types = wc
                .predicates
                .iter()
                .any(|p| !matches!(p, syn::WherePredicate::Lifetime(_)));
            // With generic parameters, the `where` clause is part of the same
            // error; report it alone only on a non-generic function.
            if bounds_types && !has_type_param && !has_const_param {
                self.report(wc.span(), &WHERE_CLAUSE, "");
            }
        }
    }

    /// A range directly used as a `for` iterator or a slice index: visit its
    /// bounds, not the range itself.
    fn visit_range_bounds(&mut self, r: &syn::ExprRange) {
        if let Some(s) = &r.start {
            self.visit_expr(s);
        }
        if let Some(e) = &r.end {
            self.visit_expr(e);
        }
    }

    fn check_macro(&mut self, mac: &syn::Macro) {
        let Some(last) = mac.path.segments.last() else {
            return;
        };
        let name = last.ident.to_string();
        let span = join(mac.path.span(), mac.bang_token.span);
        match name.as_str() {
            "jit_merge_point" | "can_enter_jit" | "jit_function_entry" => {}
            "panic" | "unreachable" | "todo" | "unimplemented" => {
                self.check_message_macro(mac, &name, 0)
            }
            "assert" | "debug_assert" => self.check_message_macro(mac, &name, 1),
            "assert_eq" | "assert_ne" | "debug_assert_eq" | "debug_assert_ne" => {
                self.check_message_macro(mac, &name, 2)
            }
            "vec" => self.check_vec_macro(mac, span),
            "print" | "println" | "eprint" | "eprintln" | "write" | "writeln" | "dbg" => {
                self.report(span, &IO_MACRO, &name)
            }
            "format" | "format_args" => self.report(span, &FORMAT_MACRO, &name),
            "asm" | "global_asm" | "naked_asm" => self.report(span, &ASM_MACRO, &name),
            "matches" => self.report(span, &MATCHES_MACRO, &name),
            _ => self.report(span, &UNKNOWN_MACRO, &name),
        }
    }

    /// `vec![]`, `vec![a, b, c]` and `vec![x; n]`: the operands are traced
    /// code; any other form is an error.
    fn check_vec_macro(&mut self, mac: &syn::Macro, span: Span) {
        if let Some((x, n)) = crate::typeck::vec_repeat_args(mac) {
            self.visit_expr(&x);
            self.visit_expr(&n);
            return;
        }
        match mac.parse_body_with(Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated) {
            Ok(items) => items.iter().for_each(|e| self.visit_expr(e)),
            Err(_) => self.report(span, &VEC_MACRO, "vec"),
        }
    }

    /// `panic!`-like (`fixed` = 0) and `assert!`-like (`fixed` = number of
    /// operands before the message) macros: the message, if any, must be a
    /// single string literal without `{}` placeholders. The operands are
    /// ordinary traced code and are checked like any other expression.
    fn check_message_macro(&mut self, mac: &syn::Macro, name: &str, fixed: usize) {
        if mac.tokens.is_empty() && fixed == 0 {
            return;
        }
        let parsed = mac.parse_body_with(Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated);
        let Some(args) = parsed.ok().filter(|args| args.len() >= fixed) else {
            let span = join(mac.path.span(), mac.bang_token.span);
            self.report(span, &MACRO_ARGS, name);
            return;
        };
        let args: Vec<&syn::Expr> = args.iter().collect();
        for operand in &args[..fixed] {
            self.visit_expr(operand);
        }
        let message = &args[fixed..];
        let literal_ok = match message {
            [] => true,
            [m] => str_literal(m).is_some_and(|s| !has_placeholder(&s)),
            _ => false,
        };
        if !literal_ok {
            let first = message[0].span();
            let last = message[message.len() - 1].span();
            let rule = if fixed == 0 {
                &FORMAT_ARGS
            } else {
                &ASSERT_FORMAT_ARGS
            };
            self.report(join(first, last), rule, name);
        }
    }

    fn check_nested_item(&mut self, item: &syn::Item) {
        let (kind, span) = match item {
            syn::Item::Fn(f) => {
                self.report(
                    join(f.sig.fn_token.span, f.sig.ident.span()),
                    &NESTED_FN,
                    "",
                );
                return;
            }
            // Constants are fine: they are evaluated at translation time.
            syn::Item::Const(_) => return,
            syn::Item::Use(u) => {
                self.report(u.span(), &LOCAL_USE, "");
                return;
            }
            syn::Item::Macro(m) => {
                if m.ident.is_some() {
                    let span = join(
                        m.mac.path.span(),
                        m.ident
                            .as_ref()
                            .map(|i| i.span())
                            .unwrap_or(m.mac.bang_token.span),
                    );
                    self.report(span, &LOCAL_MACRO_RULES, "");
                } else {
                    self.check_macro(&m.mac);
                }
                return;
            }
            syn::Item::Struct(s) => ("struct", join(s.struct_token.span, s.ident.span())),
            syn::Item::Enum(e) => ("enum", join(e.enum_token.span, e.ident.span())),
            syn::Item::Union(u) => ("union", join(u.union_token.span, u.ident.span())),
            syn::Item::Impl(i) => ("impl", join(i.impl_token.span, i.self_ty.span())),
            syn::Item::Trait(t) => ("trait", join(t.trait_token.span, t.ident.span())),
            syn::Item::TraitAlias(t) => ("trait", join(t.trait_token.span, t.ident.span())),
            syn::Item::Mod(m) => ("mod", join(m.mod_token.span, m.ident.span())),
            syn::Item::Static(s) => ("static", join(s.static_token.span, s.ident.span())),
            syn::Item::Type(t) => ("type", join(t.type_token.span, t.ident.span())),
            syn::Item::ExternCrate(e) => ("extern crate", e.span()),
            syn::Item::ForeignMod(f) => ("extern block", f.abi.span()),
            other => ("item", other.span()),
        };
        self.report(span, &NESTED_ITEM, kind);
    }
}

/// Does a format string contain a `{...}` placeholder (not `{{`)?
fn has_placeholder(s: &str) -> bool {
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
            }
            '{' => return true,
            _ => {}
        }
    }
    false
}

fn is_int128(name: &str) -> bool {
    name == "i128" || name == "u128"
}

impl<'ast> Visit<'ast> for Checker<'_> {
    // ---- expressions ---------------------------------------------------

    fn visit_expr(&mut self, e: &'ast syn::Expr) {
        match e {
            syn::Expr::Closure(c) => {
                let start = c
                    .lifetimes
                    .as_ref()
                    .map(|l| l.span())
                    .or(c.constness.map(|t| t.span))
                    .or(c.movability.map(|t| t.span))
                    .or(c.asyncness.map(|t| t.span))
                    .or(c.capture.map(|t| t.span))
                    .unwrap_or(c.or1_token.span);
                self.report(join(start, c.or2_token.span), &CLOSURE, "");
                visit::visit_expr_closure(self, c);
            }
            syn::Expr::Async(a) => {
                let end = a.capture.map(|t| t.span).unwrap_or(a.async_token.span);
                self.report(join(a.async_token.span, end), &ASYNC_BLOCK, "");
                self.visit_block(&a.block);
            }
            syn::Expr::Await(a) => {
                self.visit_expr(&a.base);
                self.report(join(a.dot_token.span, a.await_token.span), &AWAIT, "");
            }
            syn::Expr::Unsafe(u) => {
                self.report(
                    join(u.unsafe_token.span, u.block.brace_token.span.open()),
                    &UNSAFE_BLOCK,
                    "",
                );
                self.visit_block(&u.block);
            }
            syn::Expr::TryBlock(t) => {
                self.report(t.try_token.span, &TRY_BLOCK, "");
                self.visit_block(&t.block);
            }
            syn::Expr::Yield(y) => {
                self.report(y.yield_token.span, &YIELD, "");
                if let Some(e) = &y.expr {
                    self.visit_expr(e);
                }
            }
            syn::Expr::Block(b) => {
                if let Some(label) = &b.label {
                    self.report(
                        join(label.name.span(), label.colon_token.span),
                        &LABELED_BLOCK,
                        "",
                    );
                }
                self.visit_block(&b.block);
            }
            syn::Expr::Const(c) => {
                self.report(c.const_token.span, &CONST_BLOCK, "");
                self.visit_block(&c.block);
            }
            syn::Expr::RawAddr(r) => {
                self.report(join(r.and_token.span, r.raw.span), &RAW_ADDR, "");
                self.visit_expr(&r.expr);
            }
            syn::Expr::ForLoop(f) => {
                self.visit_pat(&f.pat);
                match strip_parens(&f.expr) {
                    syn::Expr::Range(r) if r.start.is_some() && r.end.is_some() => {
                        self.visit_range_bounds(r)
                    }
                    other => {
                        self.report(f.expr.span(), &FOR_NON_RANGE, "");
                        // A half-open range here is the `for` error, not a
                        // second "range expression" error.
                        let outer = std::mem::replace(&mut self.in_rejected_for, true);
                        match other {
                            syn::Expr::Range(r) => self.visit_range_bounds(r),
                            _ => self.visit_expr(&f.expr),
                        }
                        self.in_rejected_for = outer;
                    }
                }
                self.visit_block(&f.body);
            }
            syn::Expr::Index(i) => {
                self.visit_expr(&i.expr);
                match strip_parens(&i.index) {
                    syn::Expr::Range(r) => self.visit_range_bounds(r),
                    _ => self.visit_expr(&i.index),
                }
            }
            syn::Expr::Range(r) => {
                if !self.in_rejected_for {
                    self.report(r.span(), &RANGE_EXPR, "");
                }
                self.visit_range_bounds(r);
            }
            syn::Expr::Struct(s) => {
                if let Some(dot2) = &s.dot2_token {
                    let end = s.rest.as_ref().map(|r| r.span()).unwrap_or(dot2.spans[1]);
                    self.report(join(dot2.spans[0], end), &STRUCT_UPDATE, "");
                }
                visit::visit_expr_struct(self, s);
            }
            syn::Expr::Lit(l) => self.check_lit(&l.lit),
            syn::Expr::Path(p) => {
                self.check_primitive_path(&p.path);
                visit::visit_expr_path(self, p);
            }
            syn::Expr::Verbatim(tokens) => self.report(tokens.span(), &OTHER_EXPR, ""),
            other => visit::visit_expr(self, other),
        }
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.check_macro(mac);
    }

    fn visit_item(&mut self, item: &'ast syn::Item) {
        // Only nested items reach here: report them, do not look inside.
        self.check_nested_item(item);
    }

    // ---- patterns ------------------------------------------------------

    fn visit_pat(&mut self, p: &'ast syn::Pat) {
        match p {
            syn::Pat::Slice(s) => {
                self.report(s.span(), &SLICE_PATTERN, "");
                visit::visit_pat_slice(self, s);
            }
            syn::Pat::Ident(i) => {
                if let Some(r) = &i.by_ref {
                    self.report(join(r.span, i.ident.span()), &REF_BINDING, "");
                }
                if let Some((_, sub)) = &i.subpat {
                    self.report(join(i.ident.span(), sub.span()), &AT_BINDING, "");
                    self.visit_pat(sub);
                }
            }
            syn::Pat::Macro(m) => {
                self.report(
                    join(m.mac.path.span(), m.mac.bang_token.span),
                    &PATTERN_MACRO,
                    "",
                );
            }
            syn::Pat::Const(c) => {
                self.report(c.const_token.span, &CONST_PATTERN, "");
            }
            syn::Pat::Lit(l) => self.check_lit(&l.lit),
            syn::Pat::Verbatim(tokens) => {
                let first = tokens.clone().into_iter().next();
                match first {
                    Some(TokenTree::Ident(id)) if id == "box" => {
                        self.report(id.span(), &BOX_PATTERN, "");
                    }
                    _ => self.report(tokens.span(), &OTHER_PATTERN, ""),
                }
            }
            other => visit::visit_pat(self, other),
        }
    }

    // ---- types ---------------------------------------------------------

    fn visit_type(&mut self, t: &'ast syn::Type) {
        match t {
            syn::Type::ImplTrait(i) => self.report(i.span(), &IMPL_TRAIT, ""),
            syn::Type::TraitObject(o) => self.report(o.span(), &TRAIT_OBJECT, ""),
            syn::Type::Ptr(p) => self.report(p.span(), &RAW_POINTER, ""),
            syn::Type::BareFn(f) => self.report(f.span(), &FN_POINTER, ""),
            syn::Type::Macro(m) => self.report(
                join(m.mac.path.span(), m.mac.bang_token.span),
                &TYPE_MACRO,
                "",
            ),
            syn::Type::Verbatim(tokens) => self.report(tokens.span(), &OTHER_TYPE, ""),
            syn::Type::Path(p) => {
                if p.qself.is_none() && p.path.segments.len() == 1 {
                    let name = p.path.segments[0].ident.to_string();
                    if name == "f32" {
                        self.report(p.path.span(), &F32, "");
                    } else if is_int128(&name) {
                        self.report(p.path.span(), &INT128, &name);
                    }
                }
                visit::visit_type_path(self, p);
            }
            other => visit::visit_type(self, other),
        }
    }

    // Generic arguments in expression paths (`foo::<f32>`) and method
    // turbofish are types too; the default visitor reaches them through
    // `visit_type`. Nested items' contents are never visited.
    fn visit_stmt_macro(&mut self, m: &'ast syn::StmtMacro) {
        self.check_macro(&m.mac);
    }
}

impl Checker<'_> {
    /// `1.0f32`, `1u128`: the suffix names an unsupported type.
    fn check_lit(&mut self, lit: &syn::Lit) {
        let suffix = match lit {
            syn::Lit::Int(i) => i.suffix(),
            syn::Lit::Float(f) => f.suffix(),
            _ => return,
        };
        if suffix == "f32" {
            self.report(lit.span(), &F32, "");
        } else if is_int128(suffix) {
            self.report(lit.span(), &INT128, suffix);
        }
    }

    /// `f32::MAX`, `i128::from(x)`: the leading segment names the type.
    fn check_primitive_path(&mut self, path: &syn::Path) {
        if path.segments.len() < 2 {
            return;
        }
        let first = &path.segments[0].ident;
        let name = first.to_string();
        if name == "f32" {
            self.report(first.span(), &F32, "");
        } else if is_int128(&name) {
            self.report(first.span(), &INT128, &name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Check every fn of `src`; `line:col: message` per diagnostic.
    fn check(src: &str) -> Vec<String> {
        let mut sources = SourceMap::default();
        let file = sources.add(Path::new("t.rs"), "t.rs".into(), src.to_owned());
        let parsed = syn::parse_file(src).expect("test source parses");
        let mut diags = Diagnostics::default();
        for item in &parsed.items {
            if let syn::Item::Fn(f) = item {
                check_fn(&sources, file, &f.sig, &f.block, &mut diags);
            }
        }
        diags.list.iter().map(|d| d.to_string()).collect()
    }

    fn helps(src: &str) -> Vec<String> {
        let mut sources = SourceMap::default();
        let file = sources.add(Path::new("t.rs"), "t.rs".into(), src.to_owned());
        let parsed = syn::parse_file(src).unwrap();
        let mut diags = Diagnostics::default();
        for item in &parsed.items {
            if let syn::Item::Fn(f) = item {
                check_fn(&sources, file, &f.sig, &f.block, &mut diags);
            }
        }
        diags
            .list
            .iter()
            .map(|d| d.help.clone().unwrap_or_default())
            .collect()
    }

    #[test]
    fn subset_code_passes() {
        let src = r#"
fn run(code: &[u8], v: &mut Vec<i64>, mut acc: i64) -> Option<i64> {
    let mut pc: usize = 0;
    'outer: loop {
        jit_merge_point!();
        for i in 0..code.len() {
            let x = code[i] as i64;
            acc = acc.wrapping_add(x);
        }
        for j in (1..=3) { acc += j; }
        let s = &code[1..3];
        let t = &code[..];
        let Some(top) = v.pop() else { panic!("stack underflow") };
        match top {
            0 => break 'outer,
            1..=5 => { assert!(acc > 0, "negative"); assert_eq!(acc, acc); }
            _ => unreachable!(),
        }
        const K: i64 = 3;
        let p = Point { x: 1, y: K };
        if let Point { x, .. } = p { acc += x; }
        debug_assert_ne!(acc, 0, "{{literal braces}}");
        can_enter_jit!();
        pc += s.len() + t.len();
    }
    Some(acc)
}
fn ok<'a>(x: &'a [u8]) -> &'a u8 where 'a: 'a { &x[0] }
"#;
        assert_eq!(check(src), Vec::<String>::new());
    }

    #[test]
    fn closures_and_async() {
        let src = "fn f(v: &Vec<i64>) -> i64 {\n    let g = move |x: i64| x + 1;\n    let h = async { 1 }.await;\n    g(1)\n}\n";
        assert_eq!(
            check(src),
            [
                "2:13: closures are not supported in traced code",
                "3:13: async blocks are not supported in traced code",
                "3:24: `.await` is not supported in traced code",
            ]
        );
        assert_eq!(helps(src)[0], "write a separate function and call it");
    }

    #[test]
    fn signature_checks() {
        let src = "async unsafe extern \"C\" fn f<T: Copy>(x: impl Fn(), y: *const u8) -> Box<dyn Tr> { }\nfn g(x: u8) where u8: Copy {}\nfn h<const N: usize>(x: [u8; N]) -> f32 {}\n";
        assert_eq!(
            check(src),
            [
                "1:1: async functions are not supported in traced code",
                "1:7: unsafe functions are not supported in traced code",
                "1:14: functions with an explicit ABI are not supported in traced code",
                "1:29: generic functions are not supported in traced code",
                "1:42: `impl Trait` types are not supported in traced code",
                "1:56: raw pointers are not supported in traced code",
                "1:74: trait objects are not supported in traced code",
                "2:13: `where` clauses are not supported in traced code",
                "3:5: const generic parameters are not supported in traced code",
                "3:37: `f32` is not supported in traced code",
            ]
        );
    }

    #[test]
    fn macros() {
        let src = r#"fn f(x: i64) {
    let v = vec![1, 2; 3];
    println!("{}", x);
    panic!("bad {}", x);
    assert!(x > 0, "x = {x}");
    assert_eq!(x, 1, msg);
    frobnicate!(x);
    std::unreachable!("fine");
    assert!(v.iter().any(|y| *y == 1));
    let s = format!("a");
    matches!(x, 1);
}
"#;
        assert_eq!(
            check(src),
            [
                "2:13: this form of `vec!` is not supported in traced code",
                "3:5: `println!` is not supported in traced code",
                "4:12: `panic!` with format arguments is not supported in traced code",
                "5:20: `assert!` with format arguments is not supported in traced code",
                "6:22: `assert_eq!` with format arguments is not supported in traced code",
                "7:5: macro `frobnicate!` is not supported in traced code",
                "9:26: closures are not supported in traced code",
                "10:13: `format!` is not supported in traced code",
                "11:5: `matches!` is not supported in traced code",
            ]
        );
    }

    #[test]
    fn statements_and_patterns() {
        let src = r#"fn f(v: &[i64], s: S) {
    for x in v.iter() {}
    let r = 0..3;
    'a: { }
    fn inner() {}
    struct T;
    use std::mem;
    let t = S { a: 1, ..s };
    match v { [a, b, ..] => {}, _ => {} }
    match s { S { ref a, .. } => {} }
    match 3 { n @ 1..=5 => {}, _ => {} }
    unsafe { g() }
    let y = 1.5f32 + 2u128 as f64;
    for i in 0.. {}
}
"#;
        assert_eq!(
            check(src),
            [
                "2:14: `for` loops are only supported over integer ranges `a..b` and `a..=b`",
                "3:13: range expressions are only supported as the bounds of a `for` loop or as a slice index",
                "4:5: labeled blocks are not supported in traced code",
                "5:5: nested functions are not supported in traced code",
                "6:5: items inside function bodies are not supported in traced code",
                "7:5: `use` declarations inside function bodies are not supported in traced code",
                "8:23: struct update syntax is not supported in traced code",
                "9:15: slice patterns are not supported in traced code",
                "10:19: `ref` bindings are not supported in traced code",
                "11:15: `@` bindings with a subpattern are not supported in traced code",
                "12:5: unsafe blocks are not supported in traced code",
                "13:13: `f32` is not supported in traced code",
                "13:22: `u128` is not supported in traced code",
                "14:14: `for` loops are only supported over integer ranges `a..b` and `a..=b`",
            ]
        );
        assert_eq!(helps(src)[4], "move the `struct` to module level");
    }

    #[test]
    fn rare_constructs() {
        let src = r#"fn f(b: Box<i64>, x: i64) {
    let t = try { 1 };
    yield 3;
    let c = const { 1 };
    match b { box 1 => {}, _ => {} }
    let p = &raw const x;
    let q: m!() = 1;
    match x { m!() => {} }
    macro_rules! m { () => {} }
    impl S {}
    let y = f32::MAX;
    let g: fn(i64) -> i64 = h;
    const K: usize = 1;
}
"#;
        assert_eq!(
            check(src),
            [
                "2:13: `try` blocks are not supported in traced code",
                "3:5: `yield` is not supported in traced code",
                "4:13: inline `const` blocks are not supported in traced code",
                "5:15: `box` patterns are not supported in traced code",
                "6:13: raw pointers are not supported in traced code",
                "7:12: macros in type position are not supported in traced code",
                "8:15: macros in pattern position are not supported in traced code",
                "9:5: macro definitions are not supported in traced code",
                "10:5: items inside function bodies are not supported in traced code",
                "11:13: `f32` is not supported in traced code",
                "12:12: function pointers are not supported in traced code",
            ]
        );
    }

    #[test]
    fn rendered_with_source_line_and_help() {
        let src = "fn f() {\n    let g = |x: i64| x;\n}\n";
        let mut sources = SourceMap::default();
        let file = sources.add(Path::new("interp.rs"), "interp.rs".into(), src.to_owned());
        let parsed = syn::parse_file(src).unwrap();
        let mut diags = Diagnostics::default();
        if let syn::Item::Fn(f) = &parsed.items[0] {
            check_fn(&sources, file, &f.sig, &f.block, &mut diags);
        }
        let text = crate::diag::render(&sources, &diags.list);
        assert!(text.contains("interp.rs:2:13"), "{text}");
        assert!(text.contains("let g = |x: i64| x;"), "{text}");
        assert!(text.contains("^^^^^^^^"), "{text}");
        assert!(
            text.contains("help: write a separate function and call it"),
            "{text}"
        );
    }

    #[test]
    fn one_error_per_rejected_for() {
        let src = "fn f(n: usize) {\n    for i in (0..n).rev() { let r = 0..i; }\n}\n";
        assert_eq!(
            check(src),
            [
                "2:14: `for` loops are only supported over integer ranges `a..b` and `a..=b`",
                "2:37: range expressions are only supported as the bounds of a `for` loop or as a slice index",
            ]
        );
    }

    #[test]
    fn placeholders() {
        assert!(has_placeholder("x = {}"));
        assert!(has_placeholder("x = {x}"));
        assert!(!has_placeholder("braces {{}}"));
        assert!(!has_placeholder("plain"));
    }

    #[test]
    fn docs_list_every_rule() {
        let docs = include_str!("../../docs/subset.md");
        for rule in RULES {
            for part in rule.message.split("{name}") {
                assert!(
                    docs.contains(part),
                    "docs/subset.md lacks the message `{}`",
                    rule.message
                );
            }
            for part in rule.help.split("{name}") {
                assert!(
                    docs.contains(part),
                    "docs/subset.md lacks the help `{}`",
                    rule.help
                );
            }
        }
    }
}
