//! `can_enter_jit_<name>`: the native side of `can_enter_jit!()`, one per
//! driver. `#[jit_driver]` calls it with every green and red of the driver
//! by `&mut` (in the order of the driver's declaration):
//!
//! ```ignore
//! #[inline(always)]
//! pub fn can_enter_jit_run(g0: &mut usize, g1: &mut &Program, r0: &mut usize,
//!                          r1: &mut &mut Tape) -> Option<Result<(), BfError>> {
//!     if !::metatrace::__private::jit_enabled() { return None; }   // one atomic load
//!     enter_jit_run(g0, g1, r0, r1)
//! }
//! #[inline(never)]   // keeps the portal's own code as it was
//! fn enter_jit_run(...) -> Option<...> {
//!     // explode the greens; count the iteration (`runtime::jit::count`,
//!     // inlined: a hash, a load, a store); not hot: return None.
//!     // Hot: explode the values into `args` (greens then reds), call
//!     // `metatrace::runtime::jit::enter(&TABLES, driver, &mut args, hot)`;
//!     // `Continue`: write every value back (references rebuilt from their
//!     // addresses); `Return(results)`: the portal's return value, rebuilt.
//! }
//! ```
//!
//! The values are read with `ptr::read` (a bitwise copy: greens and reds
//! are made of scalars and references only, as `TypeTable::flatten`
//! requires) and written back with an assignment.

use super::rust_type;
use super::{has_ref, id, portal_short_name, Gen};
use crate::flowgraph::Program;
use proc_macro2::{Literal, TokenStream};
use quote::quote;

/// The name of the `can_enter_jit!()` entry of the portal at `path`:
/// `interp::run` → `can_enter_jit_run`. `#[jit_driver]` calls it by this
/// name.
pub fn enter_fn_name(path: &str) -> String {
    format!("can_enter_jit_{}", portal_short_name(path))
}

/// The name of the `jit_function_entry!()` entry of the portal at `path`:
/// `interp::run` → `function_entry_run`. It differs from
/// [`enter_fn_name`]'s only in counting with `function_threshold`.
pub fn function_entry_fn_name(path: &str) -> String {
    format!("function_entry_{}", portal_short_name(path))
}

impl Gen<'_> {
    /// `can_enter_jit_<name>` and its out-of-line part, per driver.
    pub(super) fn enter_fns(&self, program: &Program) -> Result<Vec<TokenStream>, String> {
        let mut out = Vec::new();
        for (di, d) in self.asm.drivers.iter().enumerate() {
            let g = program
                .graph(&d.portal)
                .ok_or_else(|| format!("the portal {} has no graph", d.portal))?;
            let name = id(&enter_fn_name(&d.portal));
            let function_name = id(&function_entry_fn_name(&d.portal));
            let slow = id(&format!("enter_jit_{}", portal_short_name(&d.portal)));
            let args = id("args");
            let results = id("results");
            let mut params = Vec::new();
            let mut names = Vec::new();
            let mut explode = TokenStream::new();
            let mut write_back = TokenStream::new();
            let mut at = 0;
            let mut n_greens = 0;
            let greens_id = id("greens");
            let mut explode_greens = TokenStream::new();
            for (k, ty) in d.greens.iter().enumerate() {
                let v = id(&format!("v{k}"));
                explode_greens.extend(self.leaves.explode(
                    ty,
                    quote!(::core::ptr::read(#v)),
                    &greens_id,
                    n_greens,
                )?);
                n_greens += self.leaves.count(ty)?;
            }
            for (k, ty) in d.greens.iter().chain(&d.reds).enumerate() {
                let v = id(&format!("v{k}"));
                let t = rust_type(self.types, ty, None)?;
                params.push(quote!(#v: &mut #t));
                explode.extend(self.leaves.explode(
                    ty,
                    quote!(::core::ptr::read(#v)),
                    &args,
                    at,
                )?);
                let value = self.leaves.rebuild(ty, &args, at)?;
                write_back.extend(quote!(*#v = #value;));
                names.push(v);
                at += self.leaves.count(ty)?;
            }
            let lt = if has_ref(self.types, &g.ret) {
                Some(quote!('__r))
            } else {
                None
            };
            let generics = lt.as_ref().map(|l| quote!(<#l>));
            let ret_ty = rust_type(self.types, &g.ret, lt.as_ref())?;
            let rebuild_ret = self.leaves.rebuild(&g.ret, &results, 0)?;
            let n = Literal::usize_unsuffixed(at);
            let driver = Literal::u16_suffixed(di as u16);
            let doc = format!(
                " `can_enter_jit!()` of `{}`: counts the iteration, traces, compiles and runs compiled code (`--jit mode=jit`); `Some` when the portal returned inside the JIT.",
                d.portal
            );
            let ng = Literal::usize_unsuffixed(n_greens);
            out.push(quote! {
                #[doc = #doc]
                #[inline(always)]
                pub fn #name #generics (#(#params),*) -> ::core::option::Option<#ret_ty> {
                    if !::metatrace::__private::jit_enabled() {
                        return ::core::option::Option::None;
                    }
                    #slow(false, #(#names),*)
                }
            });
            out.push(quote! {
                #[doc = " `jit_function_entry!()`: as `can_enter_jit!()`, counting entries with `function_threshold`."]
                #[inline(always)]
                pub fn #function_name #generics (#(#params),*) -> ::core::option::Option<#ret_ty> {
                    if !::metatrace::__private::jit_enabled() {
                        return ::core::option::Option::None;
                    }
                    #slow(true, #(#names),*)
                }
            });
            out.push(quote! {
                #[inline(never)]
                fn #slow #generics (__function_entry: bool, #(#params),*) -> ::core::option::Option<#ret_ty> {
                    let mut #greens_id = [0u64; #ng];
                    unsafe { #explode_greens }
                    let __hot = match ::metatrace::runtime::jit::count(&TABLES, #driver, &#greens_id, __function_entry) {
                        ::core::option::Option::None => return ::core::option::Option::None,
                        ::core::option::Option::Some(__hot) => __hot,
                    };
                    let mut #args = [0u64; #n];
                    unsafe { #explode }
                    match ::metatrace::runtime::jit::enter(&TABLES, #driver, &mut #args, __hot) {
                        ::metatrace::runtime::jit::EnterOutcome::Interpret => ::core::option::Option::None,
                        ::metatrace::runtime::jit::EnterOutcome::Continue => {
                            unsafe { #write_back }
                            ::core::option::Option::None
                        }
                        ::metatrace::runtime::jit::EnterOutcome::Return(#results) => {
                            ::core::option::Option::Some(unsafe { #rebuild_ret })
                        }
                    }
                }
            });
        }
        Ok(out)
    }
}
