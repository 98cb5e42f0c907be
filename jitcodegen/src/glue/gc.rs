//! The GC impls of the interpreter's types: `metatrace::gc::Trace` (a
//! precise scanning function that visits every field holding a `Gc`, in
//! structs, in the payloads of the variant the value holds, and inside the
//! `Vec`s, `Option`s, boxes and cells those fields are) and, for types
//! allocated with `Gc::new`, `GcType` (`metatrace::gc_type!`). The
//! translator decides which types (`Program::gc_types`,
//! translator/src/gc_types.rs).
//!
//! RPython's counterpart: the custom tracers and `offsets_to_gc_pointers`
//! of rpython/memory/gctypelayout.py, generated per GC type at
//! translation.

use super::rust_ty::{adt_path, field_member, ident};
use crate::flowgraph::GcTypeRequest;
use crate::types::{AdtKind, TypeTable};
use proc_macro2::TokenStream;
use quote::quote;

/// One item per impl.
pub fn gc_impls(types: &TypeTable, requests: &[GcTypeRequest]) -> Result<Vec<TokenStream>, String> {
    let mut out = Vec::new();
    for r in requests {
        let adt = types
            .adts
            .get(r.adt.0 as usize)
            .ok_or_else(|| format!("no type adt#{}", r.adt.0))?;
        let path = adt_path(&adt.path)?;
        if r.trace {
            let visit = quote!(::metatrace::gc::Trace::trace);
            let body = match &adt.kind {
                AdtKind::Struct { fields, .. } => {
                    let visits = fields.iter().filter(|f| types.holds_gc(&f.ty)).map(|f| {
                        let m = field_member(&f.name);
                        quote!(#visit(&self.#m, __visit);)
                    });
                    quote!(#(#visits)*)
                }
                AdtKind::Enum { variants } => {
                    let arms = variants.iter().filter_map(|v| {
                        let traced: Vec<_> = v
                            .fields
                            .iter()
                            .enumerate()
                            .filter(|(_, f)| types.holds_gc(&f.ty))
                            .collect();
                        if traced.is_empty() {
                            return None;
                        }
                        let vname = ident(&v.name);
                        let members = traced.iter().map(|(_, f)| field_member(&f.name));
                        let binds: Vec<_> = traced.iter().map(|(i, _)| ident(&format!("__f{i}"))).collect();
                        Some(quote!(#path::#vname { #(#members: #binds,)* .. } => { #(#visit(#binds, __visit);)* }))
                    });
                    quote!(match self { #(#arms)* _ => {} })
                }
            };
            out.push(quote! {
                unsafe impl ::metatrace::gc::Trace for #path {
                    fn trace(&self, __visit: &mut dyn FnMut(*mut usize)) {
                        #body
                    }
                }
            });
        }
        if r.gc_type {
            out.push(quote!(::metatrace::gc_type!(#path);));
        }
    }
    Ok(out)
}
