//! Checks on the JIT hints that are shared by the proc-macros (native build)
//! and the translator (jitcode build), so that both report the same errors
//! with the same wording and spans.
//!
//! This module depends only on `syn`, `proc-macro2` and `quote`: the
//! `metatrace-macros` crate uses it with the translator's default features off.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{Ident, Token};

/// The macro names that mark points of a jit driver's portal.
pub const HINT_MACROS: &[&str] = &["jit_merge_point", "can_enter_jit", "jit_function_entry"];

/// The arguments of `#[jit_driver(greens = [...], reds = [...])]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverSpec {
    /// Variables that identify a position in the user's program (the green key).
    pub greens: Vec<Ident>,
    /// Everything else the portal needs to continue (the interpreter state).
    pub reds: Vec<Ident>,
}

const DRIVER_ARGS_MSG: &str = "expected `greens = [...], reds = [...]`";

/// Parses the arguments of `#[jit_driver(...)]`: `greens = [a, b], reds = [c, d]`.
///
/// The two lists may come in either order; `reds` may be omitted (no reds), a
/// trailing comma is accepted. Anything else is the error
/// "expected `greens = [...], reds = [...]`" pointing at the offending tokens.
/// An empty `greens` list parses; [`check_driver_fn`] rejects it.
pub fn parse_driver_args(args: TokenStream) -> syn::Result<DriverSpec> {
    let parser = |input: ParseStream| -> syn::Result<DriverSpec> {
        let mut greens: Option<Vec<Ident>> = None;
        let mut reds: Option<Vec<Ident>> = None;
        if input.is_empty() {
            return Err(input.error(DRIVER_ARGS_MSG));
        }
        while !input.is_empty() {
            let key: Ident = input.parse()?;
            let slot = if key == "greens" {
                &mut greens
            } else if key == "reds" {
                &mut reds
            } else {
                return Err(syn::Error::new(key.span(), DRIVER_ARGS_MSG));
            };
            if slot.is_some() {
                return Err(syn::Error::new(key.span(), DRIVER_ARGS_MSG));
            }
            input.parse::<Token![=]>()?;
            let content;
            syn::bracketed!(content in input);
            // `parse_any`: `self` may be a green or red of a method portal.
            let list =
                Punctuated::<Ident, Token![,]>::parse_terminated_with(&content, Ident::parse_any)?;
            *slot = Some(list.into_iter().collect());
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(DriverSpec {
            greens: greens.unwrap_or_default(),
            reds: reds.unwrap_or_default(),
        })
    };
    parser
        .parse2(args)
        .map_err(|e| syn::Error::new(e.span(), DRIVER_ARGS_MSG))
}

/// Checks a `#[jit_driver]` function against its driver spec. Returns every
/// error found (empty if the driver is fine):
/// - at least one green;
/// - every green and red is a parameter or a `let`-bound local of the function;
/// - no variable listed twice;
/// - exactly one `jit_merge_point!()`; `jit_merge_point!` and `can_enter_jit!`
///   take no arguments.
pub fn check_driver_fn(spec: &DriverSpec, f: &syn::ItemFn) -> Vec<syn::Error> {
    let mut errors = Vec::new();
    let fn_name = &f.sig.ident;

    if spec.greens.is_empty() {
        errors.push(syn::Error::new(
            fn_name.span(),
            "a jit driver needs at least one green variable",
        ));
    }

    let locals = local_variables(f);
    let mut seen: Vec<&Ident> = Vec::new();
    for (kind, list) in [("green", &spec.greens), ("red", &spec.reds)] {
        for var in list {
            if seen.contains(&var) {
                errors.push(syn::Error::new(
                    var.span(),
                    format!("`{var}` is listed twice in the jit driver"),
                ));
                continue;
            }
            seen.push(var);
            if !locals.iter().any(|l| l == var) {
                errors.push(syn::Error::new(
                    var.span(),
                    format!("{kind} `{var}` is not a parameter or local variable of `{fn_name}`"),
                ));
            }
        }
    }

    let macros = collect_hint_macros(&f.block);
    let mut merge_points = 0usize;
    for m in &macros {
        if m.name == "jit_merge_point" {
            merge_points += 1;
            if merge_points == 2 {
                errors.push(syn::Error::new(
                    m.span,
                    format!("jit driver `{fn_name}` has more than one `jit_merge_point!()`"),
                ));
            }
        }
        if !m.tokens.is_empty() {
            errors.push(syn::Error::new(
                m.tokens.span(),
                format!(
                    "`{}!` takes no arguments: the driver's greens and reds are declared in #[jit_driver]",
                    m.name
                ),
            ));
        }
    }
    if merge_points == 0 {
        errors.push(syn::Error::new(
            fn_name.span(),
            format!("jit driver `{fn_name}` has no `jit_merge_point!()`"),
        ));
    }
    errors
}

/// Checks an `#[elidable]` function: it must return a value (an elidable call
/// whose result is unused is removed by the optimizer).
pub fn check_elidable_fn(f: &syn::ItemFn) -> Option<syn::Error> {
    let returns_nothing = match &f.sig.output {
        syn::ReturnType::Default => true,
        syn::ReturnType::Type(_, ty) => is_unit(ty),
    };
    if returns_nothing {
        let name = &f.sig.ident;
        Some(syn::Error::new(
            name.span(),
            format!(
                "#[elidable] function `{name}` returns nothing; an elidable call without a result would be removed"
            ),
        ))
    } else {
        None
    }
}

fn is_unit(ty: &syn::Type) -> bool {
    match ty {
        syn::Type::Tuple(t) => t.elems.is_empty(),
        syn::Type::Paren(p) => is_unit(&p.elem),
        syn::Type::Group(g) => is_unit(&g.elem),
        _ => false,
    }
}

/// Finds the `jit_merge_point!(...)` / `can_enter_jit!(...)` invocations
/// (statement or expression position, with or without a path such as
/// `metatrace::jit_merge_point!`) anywhere in `block`, in source order.
/// Nested items (a `fn` inside the body) are not searched.
pub fn find_hint_macros(block: &syn::Block) -> Vec<(String, Span)> {
    collect_hint_macros(block)
        .into_iter()
        .map(|m| (m.name, m.span))
        .collect()
}

/// If `mac` invokes one of [`HINT_MACROS`], its name.
pub fn hint_macro_name(mac: &syn::Macro) -> Option<&'static str> {
    let last = mac.path.segments.last()?;
    HINT_MACROS.iter().copied().find(|name| last.ident == name)
}

struct FoundMacro {
    name: String,
    span: Span,
    tokens: TokenStream,
}

fn collect_hint_macros(block: &syn::Block) -> Vec<FoundMacro> {
    struct Finder {
        found: Vec<FoundMacro>,
    }
    impl<'ast> Visit<'ast> for Finder {
        fn visit_macro(&mut self, mac: &'ast syn::Macro) {
            if let Some(name) = hint_macro_name(mac) {
                self.found.push(FoundMacro {
                    name: name.to_string(),
                    span: mac.path.span(),
                    tokens: mac.tokens.clone(),
                });
            }
        }
        fn visit_item(&mut self, _: &'ast syn::Item) {}
    }
    let mut finder = Finder { found: Vec::new() };
    finder.visit_block(block);
    finder.found
}

/// Names bound by the fn's parameters (`x`, `mut x`, `self`) and by `let`
/// statements with an identifier pattern anywhere in its body.
fn local_variables(f: &syn::ItemFn) -> Vec<Ident> {
    let mut names = Vec::new();
    for input in &f.sig.inputs {
        match input {
            syn::FnArg::Receiver(r) => names.push(Ident::new("self", r.self_token.span)),
            syn::FnArg::Typed(pt) => {
                if let Some(id) = ident_of_pat(&pt.pat) {
                    names.push(id.clone());
                }
            }
        }
    }
    struct Lets<'a> {
        names: &'a mut Vec<Ident>,
    }
    impl<'ast> Visit<'ast> for Lets<'_> {
        fn visit_local(&mut self, local: &'ast syn::Local) {
            if let Some(id) = ident_of_pat(&local.pat) {
                self.names.push(id.clone());
            }
            syn::visit::visit_local(self, local);
        }
        fn visit_item(&mut self, _: &'ast syn::Item) {}
    }
    Lets { names: &mut names }.visit_block(&f.block);
    names
}

fn ident_of_pat(pat: &syn::Pat) -> Option<&Ident> {
    match pat {
        syn::Pat::Ident(pi) if pi.subpat.is_none() => Some(&pi.ident),
        syn::Pat::Type(pt) => ident_of_pat(&pt.pat),
        _ => None,
    }
}

const VIRTUALIZABLE_ARGS_MSG: &str =
    "expected `#[virtualizable]` or `#[virtualizable(field, ...)]`";

/// The scalar types a virtualizable field may have, by name (alone, or as
/// the items of a fixed-size array).
const SCALAR_NAMES: &[&str] = &[
    "bool", "char", "f64", "u8", "u16", "u32", "u64", "usize", "i8", "i16", "i32", "i64", "isize",
];

fn is_scalar_type(t: &syn::Type) -> bool {
    match t {
        syn::Type::Path(p) if p.qself.is_none() => p
            .path
            .get_ident()
            .is_some_and(|i| SCALAR_NAMES.contains(&i.to_string().as_str())),
        syn::Type::Paren(p) => is_scalar_type(&p.elem),
        _ => false,
    }
}

/// The fields `#[virtualizable]` keeps in registers, by index: all of them
/// (no arguments) or those named (`#[virtualizable(regs, pc)]`, RPython's
/// `_virtualizable_ = [...]`). Each must be a scalar or a fixed-size array
/// of scalars (by the type's name: `u32`, `[u32; 8]`, not an alias).
pub fn virtualizable_fields(
    args: TokenStream,
    s: &syn::ItemStruct,
) -> Result<Vec<usize>, Vec<syn::Error>> {
    let names = Punctuated::<Ident, Token![,]>::parse_terminated
        .parse2(args.clone())
        .map_err(|e| vec![syn::Error::new(e.span(), VIRTUALIZABLE_ARGS_MSG)])?;
    let fields: Vec<(String, &syn::Field)> = s
        .fields
        .iter()
        .enumerate()
        .map(|(i, f)| (f.ident.as_ref().map_or(i.to_string(), |n| n.to_string()), f))
        .collect();
    let mut errors = Vec::new();
    let mut kept: Vec<usize> = Vec::new();
    if names.is_empty() {
        kept.extend(0..fields.len());
    }
    for n in &names {
        match fields.iter().position(|(name, _)| n == name) {
            Some(i) if kept.contains(&i) => errors.push(syn::Error::new(
                n.span(),
                format!("field `{n}` is named twice in `#[virtualizable(...)]`"),
            )),
            Some(i) => kept.push(i),
            None => errors.push(syn::Error::new(
                n.span(),
                format!("struct `{}` has no field `{n}`", s.ident),
            )),
        }
    }
    for &i in &kept {
        let (name, f) = &fields[i];
        let ok = match &f.ty {
            syn::Type::Array(a) => is_scalar_type(&a.elem),
            t => is_scalar_type(t),
        };
        if !ok {
            let ty = f.ty.to_token_stream().to_string().replace(" ", "");
            errors.push(syn::Error::new(
                f.ty.span(),
                format!(
                    "field `{name}` of virtualizable struct `{}` has type `{ty}`, which the JIT cannot keep in registers",
                    s.ident
                ),
            ));
        }
    }
    if errors.is_empty() {
        kept.sort_unstable();
        Ok(kept)
    } else {
        Err(errors)
    }
}

/// `#[virtualizable]` on anything but a struct.
pub fn virtualizable_not_on_struct(span: Span) -> syn::Error {
    syn::Error::new(span, "`#[virtualizable]` applies to a struct only")
}

/// A hint error of `hints` (worded as the proc-macros word it), with the
/// help the translator adds.
pub fn hint_error(
    sources: &crate::diag::SourceMap,
    file: crate::diag::FileId,
    e: &syn::Error,
) -> crate::diag::Diagnostic {
    let message = e.to_string();
    let help = if message.starts_with("expected `greens") {
        "write `#[jit_driver(greens = [pc, code], reds = [vm])]`: the greens identify a position in the user's program, the reds are the rest of the loop's state"
    } else if message.contains("at least one green") {
        "list in `greens` the variables that identify a position in the user's program (its pc, its code)"
    } else if message.contains("is listed twice") {
        "list each variable once, as a green or as a red"
    } else if message.contains("is not a parameter or local variable") {
        "declare it in the portal (a parameter, or a `let` before the loop), or take it out of the list"
    } else if message.contains("has no `jit_merge_point!()`") {
        "put `jit_merge_point!();` first in the body of the interpreter's dispatch loop"
    } else if message.contains("more than one `jit_merge_point!()`") {
        "keep one `jit_merge_point!()`, first in the body of the dispatch loop"
    } else if message.contains("takes no arguments") {
        "write `jit_merge_point!();`"
    } else if message.contains("which the JIT cannot keep in registers") {
        "name the fields to keep in registers, scalars or fixed-size arrays of scalars: `#[virtualizable(regs, pc)]`; the others stay in memory"
    } else if message.starts_with("expected `#[virtualizable") {
        "write `#[virtualizable]` (every field) or `#[virtualizable(regs, pc)]` (those fields)"
    } else if message.contains("in `#[virtualizable(...)]`") {
        "name each field once"
    } else if message.contains("has no field") {
        "name fields of the struct"
    } else if message.contains("applies to a struct only") {
        "put `#[virtualizable]` on the struct that holds the interpreter's frame state (its registers, its pc)"
    } else if message.contains("returns nothing") {
        "remove #[elidable] (an elidable function is pure: only its result matters), or return what it computes"
    } else {
        "see \"JIT hints\" in docs/subset.md"
    };
    crate::diag::at(sources, file, e.span(), message).with_help(help)
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn spec(args: TokenStream) -> DriverSpec {
        parse_driver_args(args).expect("args parse")
    }

    fn msgs(errors: &[syn::Error]) -> Vec<String> {
        errors.iter().map(|e| e.to_string()).collect()
    }

    fn check(args: TokenStream, f: TokenStream) -> Vec<String> {
        let f: syn::ItemFn = syn::parse2(f).unwrap();
        msgs(&check_driver_fn(&spec(args), &f))
    }

    #[test]
    fn parses_driver_args() {
        let s = spec(quote!(greens = [pc, code], reds = [a, regs]));
        assert_eq!(s.greens, ["pc", "code"]);
        assert_eq!(s.reds, ["a", "regs"]);
        let s = spec(quote!(reds = [a,], greens = [pc],));
        assert_eq!(s.greens, ["pc"]);
        assert_eq!(s.reds, ["a"]);
        let s = spec(quote!(greens = [pc]));
        assert!(s.reds.is_empty());
        let s = spec(quote!(greens = [], reds = []));
        assert!(s.greens.is_empty());
    }

    #[test]
    fn malformed_driver_args() {
        for bad in [
            quote!(),
            quote!(greens),
            quote!(greens = pc),
            quote!(greens = [pc] reds = [a]),
            quote!(greens = [pc], blues = [a]),
            quote!(greens = [pc], greens = [a]),
            quote!(greens = [1], reds = [a]),
            quote!(greens: [pc]),
        ] {
            let err = parse_driver_args(bad.clone()).err().unwrap_or_else(|| {
                panic!("`{bad}` should not parse");
            });
            assert_eq!(err.to_string(), "expected `greens = [...], reds = [...]`");
        }
    }

    #[test]
    fn malformed_args_span_points_at_offending_tokens() {
        // Parsed from a string, tokens carry real line/column (span-locations).
        let args: TokenStream = "greens = [pc], blues = [a]".parse().unwrap();
        let err = parse_driver_args(args).unwrap_err();
        assert_eq!(err.span().start().column, 15); // `blues` (columns are 0-based)
        let args: TokenStream = "greens = pc".parse().unwrap();
        let err = parse_driver_args(args).unwrap_err();
        assert_eq!(err.span().start().column, 9);
    }

    #[test]
    fn check_spans() {
        let args: TokenStream = "greens = [pc], reds = [nope]".parse().unwrap();
        let f: syn::ItemFn = syn::parse_str(
            "fn interp(pc: usize) {\n  jit_merge_point!();\n  jit_merge_point!();\n}",
        )
        .unwrap();
        let errs = check_driver_fn(&spec(args), &f);
        assert_eq!(errs.len(), 2);
        assert_eq!(errs[0].span().start().column, 23); // `nope` in the attribute
        assert_eq!(errs[1].span().start().line, 3); // the second merge point
        let f: syn::ItemFn = syn::parse_str("fn interp(pc: usize) {}").unwrap();
        let errs = check_driver_fn(&spec(quote!(greens = [pc])), &f);
        assert_eq!(errs[0].span().start().column, 3); // the fn name
    }

    #[test]
    fn good_driver() {
        let errs = check(
            quote!(greens = [pc, code], reds = [a, regs]),
            quote! {
                fn interp(code: &[u8], mut a: i64, regs: &mut Regs) -> i64 {
                    let mut pc: usize = 0;
                    loop {
                        jit_merge_point!();
                        if a == 0 { return a; }
                        if pc > 3 { can_enter_jit!(); }
                        pc += 1;
                    }
                }
            },
        );
        assert!(errs.is_empty(), "{errs:?}");
    }

    #[test]
    fn locals_in_nested_blocks_and_typed_lets() {
        let errs = check(
            quote!(greens = [pc], reds = [acc, self]),
            quote! {
                fn run(&mut self) {
                    {
                        let mut pc = 0;
                        while true {
                            let acc: u32 = 1;
                            metatrace::jit_merge_point!();
                        }
                    }
                }
            },
        );
        assert!(errs.is_empty(), "{errs:?}");
    }

    #[test]
    fn missing_variables_and_duplicates() {
        let errs = check(
            quote!(greens = [pc, prog], reds = [a, pc, nope]),
            quote! {
                fn interp(a: i64) {
                    let (pc, x) = (1, 2);
                    jit_merge_point!();
                }
            },
        );
        assert_eq!(
            errs,
            [
                "green `pc` is not a parameter or local variable of `interp`",
                "green `prog` is not a parameter or local variable of `interp`",
                "`pc` is listed twice in the jit driver",
                "red `nope` is not a parameter or local variable of `interp`",
            ]
        );
    }

    #[test]
    fn no_greens() {
        let errs = check(
            quote!(greens = [], reds = [a]),
            quote! { fn f(a: i64) { jit_merge_point!(); } },
        );
        assert_eq!(errs, ["a jit driver needs at least one green variable"]);
    }

    #[test]
    fn merge_point_count() {
        let errs = check(
            quote!(greens = [a]),
            quote! { fn f(a: i64) { can_enter_jit!(); } },
        );
        assert_eq!(errs, ["jit driver `f` has no `jit_merge_point!()`"]);
        let errs = check(
            quote!(greens = [a]),
            quote! {
                fn f(a: i64) {
                    loop {
                        jit_merge_point!();
                        let x = if a > 0 { jit_merge_point!() } else { 0 };
                        jit_merge_point!();
                    }
                }
            },
        );
        assert_eq!(
            errs,
            ["jit driver `f` has more than one `jit_merge_point!()`"]
        );
    }

    #[test]
    fn hint_macros_take_no_arguments() {
        let errs = check(
            quote!(greens = [a]),
            quote! { fn f(a: i64) { jit_merge_point!(a); loop { can_enter_jit!(pc = 1) } } },
        );
        assert_eq!(
            errs,
            [
                "`jit_merge_point!` takes no arguments: the driver's greens and reds are declared in #[jit_driver]",
                "`can_enter_jit!` takes no arguments: the driver's greens and reds are declared in #[jit_driver]",
            ]
        );
    }

    #[test]
    fn finds_macros_in_statement_and_expression_position() {
        let block: syn::Block = syn::parse2(quote! {{
            jit_merge_point!();
            let x = match y { 0 => can_enter_jit!(), _ => { foo!(); } };
            if c { ::metatrace::prelude::can_enter_jit! {} }
            fn nested() { jit_merge_point!(); }
            println!("{}", x)
        }})
        .unwrap();
        let names: Vec<String> = find_hint_macros(&block)
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["jit_merge_point", "can_enter_jit", "can_enter_jit"]);
    }

    #[test]
    fn elidable_needs_a_result() {
        let f: syn::ItemFn = syn::parse2(quote! { fn get(p: &P) -> usize { p.x } }).unwrap();
        assert!(check_elidable_fn(&f).is_none());
        let expected = "#[elidable] function `set` returns nothing; an elidable call without a result would be removed";
        for f in [
            quote! { fn set(p: &mut P) { p.x = 1; } },
            quote! { fn set(p: &mut P) -> () { p.x = 1; } },
        ] {
            let f: syn::ItemFn = syn::parse2(f).unwrap();
            assert_eq!(check_elidable_fn(&f).unwrap().to_string(), expected);
        }
    }
}
