//! metatrace's hint attributes, expanded for the native build.
//!
//! The translator reads the same attributes from the interpreter's source and
//! gives them their JIT meaning; here they are checked (with the same checks,
//! from `metatrace_translator::hints`, so both builds report the same errors)
//! and otherwise leave the code as it is. Use them through
//! `metatrace::prelude`, not from this crate directly.

use metatrace_translator::hints;
use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;

/// Marks the interpreter's portal: the function whose dispatch loop the JIT
/// traces. `greens` identify a position in the user's program (program
/// counter, code object); `reds` are the rest of the state the loop needs.
///
/// ```ignore
/// #[jit_driver(greens = [pc, code], reds = [a, regs])]
/// fn interpret(code: &[u8], mut a: i64, regs: &mut Regs) -> i64 {
///     let mut pc: usize = 0;
///     loop {
///         jit_merge_point!();
///         // ... dispatch one instruction ...
///         // on a backward jump, after setting pc to the target:
///         can_enter_jit!();
///     }
/// }
/// ```
///
/// The function must contain exactly one `jit_merge_point!()` (at the top of
/// the dispatch loop), and may contain `can_enter_jit!()` on backward jumps.
/// Both take no arguments: they see the greens and reds as they are at that
/// point. Every green and red must be a parameter or a `let`-bound local.
#[proc_macro_attribute]
pub fn jit_driver(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand_jit_driver(attr.into(), item.into()).into()
}

fn expand_jit_driver(attr: TokenStream2, item: TokenStream2) -> TokenStream2 {
    let mut f: syn::ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(_) => return not_a_fn("jit_driver", item),
    };
    let mut errors: Vec<syn::Error> = Vec::new();
    match hints::parse_driver_args(attr) {
        Ok(spec) => errors.extend(hints::check_driver_fn(&spec, &f)),
        Err(e) => errors.push(e),
    }
    rewrite_hint_macros(&mut f.block);
    insert_jitcode_only_entry(&mut f);
    let errors = errors.iter().map(syn::Error::to_compile_error);
    quote!(#(#errors)* #f)
}

/// Marks a pure function: same arguments, same result, no side effects the
/// interpreter can observe. The JIT folds calls with constant arguments and
/// removes repeated calls. Must return a value.
#[proc_macro_attribute]
pub fn elidable(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand_marker("elidable", attr.into(), item.into(), |f| {
        hints::check_elidable_fn(f)
    })
    .into()
}

/// Keeps the JIT out of a function: traces call it (natively, as a residual
/// call) instead of tracing through it. Its body may be any Rust; its
/// signature must use only types of the subset.
#[proc_macro_attribute]
pub fn dont_look_inside(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand_marker("dont_look_inside", attr.into(), item.into(), |_| None).into()
}

/// Lets the JIT trace through (and so unroll) the loops of this function;
/// without it, a function containing a loop is called, not inlined.
#[proc_macro_attribute]
pub fn unroll_safe(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand_marker("unroll_safe", attr.into(), item.into(), |_| None).into()
}

/// Marks a function whose result does not change during one run of a
/// compiled loop: the JIT computes it once per loop entry.
#[proc_macro_attribute]
pub fn loop_invariant(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand_marker("loop_invariant", attr.into(), item.into(), |_| None).into()
}

/// The common shape of the marker attributes: no arguments, only on a fn,
/// an optional extra check; natively the identity.
fn expand_marker(
    name: &str,
    attr: TokenStream2,
    item: TokenStream2,
    check: impl Fn(&syn::ItemFn) -> Option<syn::Error>,
) -> TokenStream2 {
    let f: syn::ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(_) => return not_a_fn(name, item),
    };
    let mut errors = Vec::new();
    if !attr.is_empty() {
        errors.push(syn::Error::new(
            attr.span(),
            format!("#[{name}] takes no arguments"),
        ));
    }
    errors.extend(check(&f));
    let errors = errors.iter().map(syn::Error::to_compile_error);
    quote!(#(#errors)* #f)
}

fn not_a_fn(name: &str, item: TokenStream2) -> TokenStream2 {
    let span = item
        .clone()
        .into_iter()
        .next()
        .map(|t| t.span())
        .unwrap_or_else(Span::call_site);
    let err = syn::Error::new(span, format!("#[{name}] can only be applied to a function"))
        .to_compile_error();
    quote!(#err #item)
}

/// Replaces every `jit_merge_point!()` / `can_enter_jit!()` in a portal's body
/// (statement or expression position; not inside nested items) by what
/// [`lower_hint_macro`] emits.
fn rewrite_hint_macros(block: &mut syn::Block) {
    struct Rewriter;
    impl VisitMut for Rewriter {
        fn visit_expr_mut(&mut self, e: &mut syn::Expr) {
            if let syn::Expr::Macro(m) = e {
                if let Some(name) = hints::hint_macro_name(&m.mac) {
                    *e = lower_hint_macro(name, &m.mac);
                    return;
                }
            }
            syn::visit_mut::visit_expr_mut(self, e);
        }
        fn visit_block_mut(&mut self, b: &mut syn::Block) {
            let last = b.stmts.len().saturating_sub(1);
            for (i, s) in b.stmts.iter_mut().enumerate() {
                if let syn::Stmt::Macro(m) = s {
                    if let Some(name) = hints::hint_macro_name(&m.mac) {
                        // A tail `can_enter_jit! {}` stays a tail expression;
                        // anywhere else the call needs its `;`.
                        let semi = match m.semi_token {
                            None if i == last => None,
                            semi => Some(semi.unwrap_or_default()),
                        };
                        *s = syn::Stmt::Expr(lower_hint_macro(name, &m.mac), semi);
                        continue;
                    }
                }
                self.visit_stmt_mut(s);
            }
        }
        fn visit_item_mut(&mut self, _: &mut syn::Item) {}
    }
    Rewriter.visit_block_mut(block);
}

/// Puts the `--jit mode=jitcode-only` entry at the top of a portal's body:
///
/// ```ignore
/// #[cfg(metatrace_jitcodes)]
/// {
///     if ::metatrace::__private::jitcode_only() {
///         return crate::__metatrace_glue::portal_<name>(<params>);
///     }
/// }
/// ```
///
/// `portal_<name>` is generated by the glue (`metatrace_jitcodegen::glue`)
/// with the portal's own signature: it runs the portal's jitcode on the
/// blackhole interpreter. The `metatrace_jitcodes` cfg is set by the
/// interpreter crate's build script (`metatrace_translator::Build`) when it
/// generated the glue, which `metatrace::include_jit!()` includes as
/// `crate::__metatrace_glue`; without it (plain build, `--no-jit`) the entry
/// is compiled out. Parameters must be plain names (`x: T`, `mut x: T`,
/// `self`): a pattern parameter is a compile error in the jitcode build.
fn insert_jitcode_only_entry(f: &mut syn::ItemFn) {
    let span = f.sig.ident.span();
    let mut args: Vec<TokenStream2> = Vec::new();
    let mut bad: Option<Span> = None;
    for input in &f.sig.inputs {
        match input {
            syn::FnArg::Receiver(r) => args.push(quote_spanned!(r.span()=> self)),
            syn::FnArg::Typed(pt) => match &*pt.pat {
                syn::Pat::Ident(pi) if pi.subpat.is_none() => {
                    let name = &pi.ident;
                    args.push(quote!(#name));
                }
                other => {
                    bad.get_or_insert(other.span());
                }
            },
        }
    }
    let body = match bad {
        Some(s) => {
            quote_spanned!(s=> ::core::compile_error!(
                "a #[jit_driver] function's parameters must be plain names (`x: T`) to be run on its jitcodes"
            );)
        }
        None => {
            let entry = syn::Ident::new(
                &metatrace_translator::build::portal_fn_name(&f.sig.ident.to_string()),
                span,
            );
            quote_spanned! {span=>
                if ::metatrace::__private::jitcode_only() {
                    return crate::__metatrace_glue::#entry(#(#args),*);
                }
            }
        }
    };
    let stmt: syn::Stmt = syn::parse_quote_spanned! {span=>
        #[cfg(metatrace_jitcodes)]
        {
            #body
        }
    };
    f.block.stmts.insert(0, stmt);
}

/// What one `jit_merge_point!()` / `can_enter_jit!()` becomes in the native
/// build: a call to the runtime's hook of the same name (a no-op for now).
/// The JIT will pass the driver's greens and reds here.
fn lower_hint_macro(name: &str, mac: &syn::Macro) -> syn::Expr {
    let span = mac.path.span();
    let hook = syn::Ident::new(name, span);
    let tokens = quote_spanned!(span=> ::metatrace::__private::#hook());
    syn::parse2(tokens.into_token_stream()).expect("a path call parses as an expression")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors_of(out: &TokenStream2) -> Vec<String> {
        // Each error expands to `::core::compile_error! { "message" }`.
        let file: syn::File = syn::parse2(out.clone()).expect("expansion parses as items");
        file.items
            .iter()
            .filter_map(|item| match item {
                syn::Item::Macro(m)
                    if m.mac.path.segments.last().unwrap().ident == "compile_error" =>
                {
                    let lit: syn::LitStr = m.mac.parse_body().unwrap();
                    Some(lit.value())
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn driver_rewrites_hint_macros() {
        let out = expand_jit_driver(
            quote!(greens = [pc], reds = [a]),
            quote! {
                fn f(mut a: i64) -> i64 {
                    let mut pc = 0;
                    loop {
                        jit_merge_point!();
                        let x = if a > 0 { can_enter_jit!() } else { metatrace::can_enter_jit! {} };
                        fn nested() { jit_merge_point!(); }
                        a -= 1;
                        pc += 1;
                    }
                }
            },
        );
        assert!(errors_of(&out).is_empty());
        let text = out.to_string().replace(' ', "");
        assert!(
            text.contains("{::metatrace::__private::jit_merge_point();"),
            "{text}"
        );
        assert!(text.contains("{::metatrace::__private::can_enter_jit()}else{::metatrace::__private::can_enter_jit()}"), "{text}");
        // nested items are left alone
        assert!(text.contains("fnnested(){jit_merge_point!();}"), "{text}");
        // a brace-delimited statement macro without `;` gets one, unless it is the tail
        let out = expand_jit_driver(
            quote!(greens = [a]),
            quote! { fn f(a: i64) { jit_merge_point! {} let b = 1; can_enter_jit! {} } },
        );
        let text = out.to_string().replace(' ', "");
        assert!(text.contains("}::metatrace::__private::jit_merge_point();letb=1;::metatrace::__private::can_enter_jit()}"), "{text}");
    }

    #[test]
    fn driver_starts_with_the_jitcode_only_entry() {
        let out = expand_jit_driver(
            quote!(greens = [pc, code], reds = [a, regs]),
            quote! {
                pub fn interpret(code: &[u8], mut a: i64, regs: &mut Regs) -> Result<i64, E> {
                    let mut pc: usize = 0;
                    loop { jit_merge_point!(); pc += 1; }
                }
            },
        );
        assert!(errors_of(&out).is_empty());
        let text = out.to_string().replace(' ', "");
        assert!(
            text.contains("->Result<i64,E>{#[cfg(metatrace_jitcodes)]{if::metatrace::__private::jitcode_only(){returncrate::__metatrace_glue::portal_interpret(code,a,regs);}}letmutpc:usize=0;"),
            "{text}"
        );
        // Methods pass `self`.
        let out = expand_jit_driver(
            quote!(greens = [self], reds = [k]),
            quote! { fn count(&mut self, k: u32) -> u32 { loop { jit_merge_point!(); } } },
        );
        let text = out.to_string().replace(' ', "");
        assert!(
            text.contains("returncrate::__metatrace_glue::portal_count(self,k);"),
            "{text}"
        );
        // A pattern parameter cannot be forwarded: an error in the jitcode build only.
        let out = expand_jit_driver(
            quote!(greens = [a]),
            quote! { fn f((a, b): (i64, i64)) { loop { jit_merge_point!(); } } },
        );
        let text = out.to_string().replace(' ', "");
        assert!(
            text.contains("#[cfg(metatrace_jitcodes)]{::core::compile_error!(\"a#[jit_driver]function'sparametersmustbeplainnames"),
            "{text}"
        );
    }

    #[test]
    fn driver_reports_all_errors() {
        let out = expand_jit_driver(
            quote!(greens = [pc, pc], reds = [nope]),
            quote! { fn f(pc: usize) { can_enter_jit!(pc); } },
        );
        assert_eq!(
            errors_of(&out),
            [
                "`pc` is listed twice in the jit driver",
                "red `nope` is not a parameter or local variable of `f`",
                "`can_enter_jit!` takes no arguments: the driver's greens and reds are declared in #[jit_driver]",
                "jit driver `f` has no `jit_merge_point!()`",
            ]
        );
        // the function is still emitted, rewritten
        assert!(out.to_string().contains("fn f"));
        let out = expand_jit_driver(
            quote!(greens: pc),
            quote! { fn f(pc: usize) { jit_merge_point!(); } },
        );
        assert_eq!(errors_of(&out), ["expected `greens = [...], reds = [...]`"]);
    }

    #[test]
    fn markers() {
        let f = quote! { fn get(x: &u32) -> u32 { *x } };
        for name in [
            "elidable",
            "dont_look_inside",
            "unroll_safe",
            "loop_invariant",
        ] {
            let out = expand_marker(name, quote!(), f.clone(), |_| None);
            assert_eq!(out.to_string(), f.to_string());
            let out = expand_marker(name, quote!(x), f.clone(), |_| None);
            assert_eq!(errors_of(&out), [format!("#[{name}] takes no arguments")]);
            let out = expand_marker(
                name,
                quote!(),
                quote!(
                    struct S;
                ),
                |_| None,
            );
            assert_eq!(
                errors_of(&out),
                [format!("#[{name}] can only be applied to a function")]
            );
        }
        let out = expand_marker(
            "elidable",
            quote!(),
            quote!(
                fn set(x: &mut u32) {
                    *x = 1;
                }
            ),
            hints::check_elidable_fn,
        );
        assert_eq!(
            errors_of(&out),
            ["#[elidable] function `set` returns nothing; an elidable call without a result would be removed"]
        );
        let out = expand_jit_driver(
            quote!(greens = [a]),
            quote!(
                const X: u32 = 1;
            ),
        );
        assert_eq!(
            errors_of(&out),
            ["#[jit_driver] can only be applied to a function"]
        );
    }
}
