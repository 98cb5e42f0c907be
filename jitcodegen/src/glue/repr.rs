//! Field offsets of the variants of enums with a primitive representation
//! (`#[repr(u8)]`, `#[repr(C)]`, `#[repr(C, u8)]`), whose layout Rust
//! guarantees (RFC 2195), computed by rustc from `#[repr(C)]` mirror
//! structs:
//!
//! - `repr(Int)`: a union of `repr(C)` structs, one per variant, each
//!   starting with the tag: the field's offset is its offset in
//!   `struct M { tag: Int, f0: T0, f1: T1, ... }`;
//! - `repr(C, Int)` and `repr(C)`: a `repr(C)` struct of the tag and a
//!   `repr(C)` union of the variants' `repr(C)` structs: the union's offset
//!   in `struct M { tag: Int, u: U }` plus the field's in the variant's
//!   struct.
//!
//! Each mirror is declared in the block that computes the offset, so the
//! names never clash.

use super::rust_ty::{int_ident, rust_type};
use crate::types::{TagRepr, TypeTable, VariantDef};
use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

fn field_ident(i: usize) -> Ident {
    Ident::new(&format!("f{i}"), Span::call_site())
}

/// `FieldPlace::Offset(..)` of field `index` of variant `v`.
pub(super) fn variant_field_offset(
    types: &TypeTable,
    variants: &[VariantDef],
    tag: TagRepr,
    v: u32,
    index: u32,
) -> Result<TokenStream, String> {
    let int = int_ident(tag.int);
    let fields_of = |var: &VariantDef| -> Result<Vec<TokenStream>, String> {
        var.fields
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let name = field_ident(i);
                let t = rust_type(types, &f.ty, None)?;
                Ok(quote!(#name: #t))
            })
            .collect()
    };
    let var = variants
        .get(v as usize)
        .ok_or_else(|| format!("no variant {v}"))?;
    let m = field_ident(index as usize);
    if !tag.c_outer {
        let fields = fields_of(var)?;
        return Ok(quote!(__mt::FieldPlace::Offset({
            #[repr(C)]
            struct __Mirror { tag: #int, #(#fields),* }
            ::core::mem::offset_of!(__Mirror, #m)
        })));
    }
    let mut structs = Vec::new();
    let mut members = Vec::new();
    for (k, var) in variants.iter().enumerate() {
        let fields = fields_of(var)?;
        let sname = Ident::new(&format!("__Variant{k}"), Span::call_site());
        let member = Ident::new(&format!("v{k}"), Span::call_site());
        structs.push(quote!(#[repr(C)] struct #sname { #(#fields),* }));
        members.push(quote!(#member: ::core::mem::ManuallyDrop<#sname>));
    }
    let this = Ident::new(&format!("__Variant{v}"), Span::call_site());
    Ok(quote!(__mt::FieldPlace::Offset({
        #(#structs)*
        #[repr(C)]
        union __Payload { #(#members),* }
        #[repr(C)]
        struct __Mirror { tag: #int, payload: __Payload }
        ::core::mem::offset_of!(__Mirror, payload) + ::core::mem::offset_of!(#this, #m)
    })))
}
