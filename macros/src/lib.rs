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
    let mut vars: Vec<syn::Ident> = Vec::new();
    match hints::parse_driver_args(attr) {
        Ok(spec) => {
            errors.extend(hints::check_driver_fn(&spec, &f));
            vars = spec.greens.iter().chain(&spec.reds).cloned().collect();
        }
        Err(e) => errors.push(e),
    }
    let enter = syn::Ident::new(
        &metatrace_translator::build::enter_fn_name(&f.sig.ident.to_string()),
        f.sig.ident.span(),
    );
    let self_ref = f.sig.inputs.iter().find_map(|i| match i {
        syn::FnArg::Receiver(r) if r.reference.is_some() => Some(r.mutability.is_some()),
        _ => None,
    });
    let function_entry = syn::Ident::new(
        &metatrace_translator::build::function_entry_fn_name(&f.sig.ident.to_string()),
        f.sig.ident.span(),
    );
    let ctx = HintCtx {
        enter,
        function_entry,
        vars: vars.clone(),
        self_ref,
    };
    rewrite_hint_macros(&mut f.block, &ctx);
    make_mutable(&mut f, &vars);
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

/// Keeps the fields of an interpreter's frame struct in registers inside
/// compiled loops (all of them, or those named: `#[virtualizable(regs)]`;
/// scalars and fixed-size arrays of scalars), written back when a guard
/// fails and when the loop is left. Natively the identity.
#[proc_macro_attribute]
pub fn virtualizable(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item2: TokenStream2 = item.into();
    let errors = match syn::parse2::<syn::ItemStruct>(item2.clone()) {
        Ok(s) => hints::virtualizable_fields(attr.into(), &s)
            .err()
            .unwrap_or_default(),
        Err(_) => {
            let span = item2.clone().into_iter().next().map(|t| t.span());
            vec![hints::virtualizable_not_on_struct(
                span.unwrap_or_else(Span::call_site),
            )]
        }
    };
    let errors = errors.iter().map(syn::Error::to_compile_error);
    quote!(#(#errors)* #item2).into()
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

/// What the lowering of `can_enter_jit!()` needs to know about the driver.
struct HintCtx {
    /// The glue's `can_enter_jit_<name>`.
    enter: syn::Ident,
    /// The glue's `function_entry_<name>` (for `jit_function_entry!()`).
    function_entry: syn::Ident,
    /// The greens then the reds.
    vars: Vec<syn::Ident>,
    /// The function takes `&self` (`Some(false)`) or `&mut self`
    /// (`Some(true)`): `self` is passed through a reborrowed temporary
    /// (`self` itself cannot be declared `mut`).
    self_ref: Option<bool>,
}

/// Replaces every `jit_merge_point!()` / `can_enter_jit!()` in a portal's body
/// (statement or expression position; not inside nested items) by what
/// [`lower_hint_macro`] emits.
fn rewrite_hint_macros(block: &mut syn::Block, ctx: &HintCtx) {
    struct Rewriter<'a>(&'a HintCtx);
    impl VisitMut for Rewriter<'_> {
        fn visit_expr_mut(&mut self, e: &mut syn::Expr) {
            if let syn::Expr::Macro(m) = e {
                if let Some(name) = hints::hint_macro_name(&m.mac) {
                    *e = lower_hint_macro(name, &m.mac, self.0);
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
                        *s = syn::Stmt::Expr(lower_hint_macro(name, &m.mac, self.0), semi);
                        continue;
                    }
                }
                self.visit_stmt_mut(s);
            }
        }
        fn visit_item_mut(&mut self, _: &mut syn::Item) {}
    }
    Rewriter(ctx).visit_block_mut(block);
}

/// Makes the greens and reds mutable bindings (parameters and `let`s, not
/// inside nested items), with `#[allow(unused_mut)]`: `can_enter_jit!()`
/// passes them by `&mut` to the glue, which writes back the state the JIT
/// hands over (in a VM without jitcodes they stay unchanged).
fn make_mutable(f: &mut syn::ItemFn, vars: &[syn::Ident]) {
    fn mutable(pat: &mut syn::Pat, vars: &[syn::Ident]) -> bool {
        match pat {
            syn::Pat::Ident(pi) if pi.subpat.is_none() && vars.contains(&pi.ident) => {
                if pi.by_ref.is_none() && pi.mutability.is_none() {
                    pi.mutability = Some(Default::default());
                    return true;
                }
                false
            }
            syn::Pat::Type(pt) => mutable(&mut pt.pat, vars),
            _ => false,
        }
    }
    let allow: syn::Attribute = syn::parse_quote!(#[allow(unused_mut)]);
    for input in f.sig.inputs.iter_mut() {
        match input {
            syn::FnArg::Typed(pt) => {
                if mutable(&mut pt.pat, vars) {
                    pt.attrs.push(allow.clone());
                }
            }
            // `self` by value; `&self`/`&mut self` go through a temporary.
            syn::FnArg::Receiver(r) => {
                if r.reference.is_none()
                    && r.mutability.is_none()
                    && vars.iter().any(|v| v == "self")
                {
                    r.mutability = Some(Default::default());
                    r.attrs.push(allow.clone());
                }
            }
        }
    }
    struct Lets<'a> {
        vars: &'a [syn::Ident],
        allow: syn::Attribute,
    }
    impl VisitMut for Lets<'_> {
        fn visit_local_mut(&mut self, local: &mut syn::Local) {
            if mutable(&mut local.pat, self.vars) {
                local.attrs.push(self.allow.clone());
            }
            syn::visit_mut::visit_local_mut(self, local);
        }
        fn visit_item_mut(&mut self, _: &mut syn::Item) {}
    }
    Lets { vars, allow }.visit_block_mut(&mut f.block);
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
/// build: a call to the runtime's hook of the same name (a no-op); for
/// `can_enter_jit!()`, in a VM with jitcodes, first the glue's entry to the
/// JIT with every green and red by `&mut`:
///
/// ```ignore
/// {
///     #[cfg(metatrace_jitcodes)]
///     {
///         if let Some(r) = crate::__metatrace_glue::can_enter_jit_<name>(&mut pc, &mut program, ...) {
///             return r;   // the portal returned inside the JIT
///         }
///     }
///     ::metatrace::__private::can_enter_jit();
/// }
/// ```
fn lower_hint_macro(name: &str, mac: &syn::Macro, ctx: &HintCtx) -> syn::Expr {
    let span = mac.path.span();
    let hook = syn::Ident::new(name, span);
    let call = quote_spanned!(span=> ::metatrace::__private::#hook());
    let tokens = if name == "can_enter_jit" || name == "jit_function_entry" {
        let mut temps = Vec::new();
        let args: Vec<TokenStream2> = ctx
            .vars
            .iter()
            .map(|v| match ctx.self_ref {
                Some(mutable) if v == "self" => {
                    temps.push(if mutable {
                        quote_spanned!(span=> let mut __mt_self = &mut *self;)
                    } else {
                        quote_spanned!(span=> let mut __mt_self = &*self;)
                    });
                    quote_spanned!(span=> &mut __mt_self)
                }
                _ => quote_spanned!(span=> &mut #v),
            })
            .collect();
        let enter = if name == "can_enter_jit" {
            &ctx.enter
        } else {
            &ctx.function_entry
        };
        quote_spanned! {span=>
            {
                #[cfg(metatrace_jitcodes)]
                {
                    #(#temps)*
                    if let ::core::option::Option::Some(__mt_ret) =
                        crate::__metatrace_glue::#enter(#(#args),*)
                    {
                        return __mt_ret;
                    }
                }
                #call;
            }
        }
    } else {
        call
    };
    syn::parse2(tokens.into_token_stream()).expect("a hint lowers to an expression")
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
    fn function_entries_call_the_glue_entry_that_counts_functions() {
        let out = expand_jit_driver(
            quote!(greens = [pc], reds = [a]),
            quote! {
                fn f(mut a: i64) -> i64 {
                    let mut pc = 0;
                    loop {
                        jit_merge_point!();
                        if pc == 0 { jit_function_entry!(); }
                        pc += 1;
                        can_enter_jit!();
                    }
                }
            },
        );
        assert!(errors_of(&out).is_empty());
        let text = out.to_string().replace(' ', "");
        assert!(
            text.contains("crate::__metatrace_glue::function_entry_f(&mutpc,&muta)"),
            "{text}"
        );
        assert!(
            text.contains("::metatrace::__private::jit_function_entry();"),
            "{text}"
        );
        assert!(
            text.contains("crate::__metatrace_glue::can_enter_jit_f(&mutpc,&muta)"),
            "{text}"
        );
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
        let enter = "{#[cfg(metatrace_jitcodes)]{iflet::core::option::Option::Some(__mt_ret)=crate::__metatrace_glue::can_enter_jit_f(&mutpc,&muta){return__mt_ret;}}::metatrace::__private::can_enter_jit();}";
        assert!(
            text.contains(&format!("ifa>0{{{enter}}}else{{{enter}}};")),
            "{text}"
        );
        // nested items are left alone
        assert!(text.contains("fnnested(){jit_merge_point!();}"), "{text}");
        // a brace-delimited statement macro without `;` gets one, unless it is the tail
        let out = expand_jit_driver(
            quote!(greens = [a]),
            quote! { fn f(a: i64) { jit_merge_point! {} let b = 1; can_enter_jit! {} } },
        );
        let text = out.to_string().replace(' ', "");
        assert!(
            text.contains(
                "}::metatrace::__private::jit_merge_point();letb=1;{#[cfg(metatrace_jitcodes)]"
            ),
            "{text}"
        );
        assert!(
            text.ends_with("::metatrace::__private::can_enter_jit();}}"),
            "{text}"
        );
    }

    #[test]
    fn driver_makes_greens_and_reds_mutable() {
        let out = expand_jit_driver(
            quote!(greens = [pc, code], reds = [a, regs]),
            quote! {
                fn f(code: &[u8], a: i64, regs: &mut Regs, other: u8) -> i64 {
                    let pc: usize = 0;
                    let (x, y) = (1, 2);
                    let mut a = a;
                    loop { jit_merge_point!(); can_enter_jit!(); }
                }
            },
        );
        assert!(errors_of(&out).is_empty());
        let text = out.to_string().replace(' ', "");
        assert!(
            text.contains("fnf(#[allow(unused_mut)]mutcode:&[u8],#[allow(unused_mut)]muta:i64,#[allow(unused_mut)]mutregs:&mutRegs,other:u8)"),
            "{text}"
        );
        assert!(
            text.contains("#[allow(unused_mut)]letmutpc:usize=0;"),
            "{text}"
        );
        assert!(text.contains("let(x,y)=(1,2);letmuta=a;"), "{text}");
        assert!(
            text.contains("can_enter_jit_f(&mutpc,&mutcode,&muta,&mutregs)"),
            "{text}"
        );
        // `&mut self` goes through a reborrowed temporary, `self` by value
        // becomes `mut self`.
        let out = expand_jit_driver(
            quote!(greens = [self], reds = [k]),
            quote! { fn count(&mut self, k: u32) -> u32 { loop { jit_merge_point!(); can_enter_jit!(); } } },
        );
        let text = out.to_string().replace(' ', "");
        assert!(
            text.contains("{letmut__mt_self=&mut*self;iflet::core::option::Option::Some(__mt_ret)=crate::__metatrace_glue::can_enter_jit_count(&mut__mt_self,&mutk)"),
            "{text}"
        );
        let out = expand_jit_driver(
            quote!(greens = [self], reds = [k]),
            quote! { fn count(self, k: u32) -> u32 { loop { jit_merge_point!(); can_enter_jit!(); } } },
        );
        let text = out.to_string().replace(' ', "");
        assert!(
            text.contains("fncount(#[allow(unused_mut)]mutself,"),
            "{text}"
        );
        assert!(
            text.contains("can_enter_jit_count(&mutself,&mutk)"),
            "{text}"
        );
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
