//! The types whose fields the jitcodes touch, for type-based alias
//! analysis (the runtime's `MemType` and `FieldDescr::owner`, read by
//! `alias::fields_may_alias`): one static `MEMTYPE_<id>` per type,
//! naming the enums that hold it by value and its offset in them.
//!
//! Fields of two different types share bytes only when one type holds
//! the other by value in an enum's variant (then the enum's fields of
//! another variant lie over it), or when a struct's (or tuple's) field
//! is a null-pointer option (`Option<Gc<T>>`, `Option<Box<T>>`,
//! `Option<&T>`): that field is read and written as one pointer, and the
//! option's `Some` payload is the same pointer. Otherwise a struct's own
//! fields never overlap what it holds in its other fields (a field that
//! holds an aggregate is never read as a scalar). So enums (and
//! `Option`, `Result`) are walked, through everything they hold by value:
//! fields and payloads, tuple and array elements, cell contents — not
//! through pointers (`Gc`, `Box`, `Vec`, references); structs and tuples
//! only for their null-pointer option fields.

use super::repr;
use super::rust_ty::{adt_path, field_member, rust_type};
use crate::types::{Ty, TypeTable};
use proc_macro2::{Literal, TokenStream};
use quote::quote;

/// The owners of the field descrs, numbered in order of first use.
pub(super) struct MemTypes {
    owners: Vec<Ty>,
}

/// A type held by value, with its offset in the holder when known.
type Held = (Ty, Option<TokenStream>);

impl MemTypes {
    pub fn new<'a>(owners: impl Iterator<Item = &'a Ty>) -> MemTypes {
        let mut out: Vec<Ty> = Vec::new();
        for t in owners {
            if !out.contains(t) {
                out.push(t.clone());
            }
        }
        MemTypes { owners: out }
    }

    /// The `owner` of a field of type `ty`: `Some(&MEMTYPE_<id>)`.
    pub fn owner(&self, ty: &Ty) -> TokenStream {
        match self.owners.iter().position(|t| t == ty) {
            Some(i) => {
                let name = super::id(&format!("MEMTYPE_{i}"));
                quote!(::core::option::Option::Some(&#name))
            }
            None => quote!(::core::option::Option::None),
        }
    }

    /// The `MEMTYPE_<id>` statics.
    pub fn statics(&self, types: &TypeTable) -> Result<Vec<TokenStream>, String> {
        // held_by[i]: (holder id, offset) for each type whose own fields
        // may lie over owner i's.
        let mut held_by: Vec<Vec<(u16, Option<TokenStream>)>> = vec![Vec::new(); self.owners.len()];
        for (e, ty) in self.owners.iter().enumerate() {
            if !is_enum_like(types, ty) {
                continue;
            }
            let mut reached = Vec::new();
            let mut opaque = false;
            walk(types, ty, Some(quote!(0usize)), &mut reached, &mut opaque)?;
            for (t, at) in reached {
                if let Some(i) = self.owners.iter().position(|o| *o == t) {
                    if i != e {
                        held_by[i].push((e as u16, at));
                    }
                }
            }
            if opaque {
                // A type the JIT cannot see into may hold any of them.
                for (i, h) in held_by.iter_mut().enumerate() {
                    if i != e {
                        h.push((e as u16, None));
                    }
                }
            }
        }
        for (s, ty) in self.owners.iter().enumerate() {
            if is_enum_like(types, ty) {
                continue;
            }
            for (t, at) in children(types, ty)? {
                if !t.is_null_pointer_option() {
                    continue;
                }
                if let Some(i) = self.owners.iter().position(|o| *o == t) {
                    held_by[i].push((s as u16, at));
                }
            }
        }
        // within[i]: every owner that holds owner i by value, at any depth.
        let mut within: Vec<Vec<u16>> = vec![Vec::new(); self.owners.len()];
        for (h, ty) in self.owners.iter().enumerate() {
            let mut reached = Vec::new();
            let mut opaque = false;
            walk(types, ty, None, &mut reached, &mut opaque)?;
            for (i, w) in within.iter_mut().enumerate() {
                let held = opaque || reached.iter().any(|(t, _)| *t == self.owners[i]);
                if i != h && held && !w.contains(&(h as u16)) {
                    w.push(h as u16);
                }
            }
        }
        let mut out = Vec::new();
        for (i, ty) in self.owners.iter().enumerate() {
            let name = super::id(&format!("MEMTYPE_{i}"));
            let text = super::str_lit(&types.display(ty).to_string());
            let id = Literal::u16_suffixed(i as u16);
            let holders = held_by[i].iter().map(|(e, at)| {
                let e = Literal::u16_suffixed(*e);
                match at {
                    Some(at) => quote!((#e, ::core::option::Option::Some(#at))),
                    None => quote!((#e, ::core::option::Option::None)),
                }
            });
            let holders_at_any_depth = within[i].iter().map(|h| Literal::u16_suffixed(*h));
            out.push(quote! {
                static #name: __mt::MemType = __mt::MemType {
                    name: #text,
                    id: #id,
                    held_by: &[#(#holders),*],
                    within: &[#(#holders_at_any_depth),*],
                };
            });
        }
        Ok(out)
    }
}

fn is_enum_like(types: &TypeTable, ty: &Ty) -> bool {
    match ty {
        Ty::Adt(id) => types.adt(*id).is_enum(),
        Ty::Option(_) | Ty::Result(..) => true,
        _ => false,
    }
}

/// Everything `ty` holds by value, at `at` plus its offset inside `ty`.
fn walk(
    types: &TypeTable,
    ty: &Ty,
    at: Option<TokenStream>,
    out: &mut Vec<Held>,
    opaque: &mut bool,
) -> Result<(), String> {
    for (child, offset) in children(types, ty)? {
        if let Ty::Opaque(_) = child {
            *opaque = true;
            continue;
        }
        let child_at = match (&at, offset) {
            (Some(a), Some(o)) => Some(quote!((#a + #o))),
            _ => None,
        };
        out.push((child.clone(), child_at.clone()));
        walk(types, &child, child_at, out, opaque)?;
    }
    Ok(())
}

/// The types `ty` holds directly by value, with their offsets in it when
/// rustc's layout tells them (not in arrays, whose elements are at many
/// offsets, nor in enums of rustc's own layout).
fn children(types: &TypeTable, ty: &Ty) -> Result<Vec<Held>, String> {
    let mut out = Vec::new();
    match ty {
        Ty::Adt(id) => {
            let adt = types.adt(*id);
            if !adt.is_enum() {
                let path = adt_path(&adt.path)?;
                for f in adt.fields() {
                    let m = field_member(&f.name);
                    out.push((
                        f.ty.clone(),
                        Some(quote!(::core::mem::offset_of!(#path, #m))),
                    ));
                }
            } else {
                let variants = adt.variants();
                for (v, var) in variants.iter().enumerate() {
                    for (k, f) in var.fields.iter().enumerate() {
                        let at = match adt.tag {
                            Some(tag) => {
                                let place = repr::variant_field_offset(
                                    types, variants, tag, v as u32, k as u32,
                                )?;
                                Some(quote!(__mt::FieldPlace::const_offset(#place)))
                            }
                            None => None,
                        };
                        out.push((f.ty.clone(), at));
                    }
                }
            }
        }
        Ty::Tuple(ts) => {
            let t = rust_type(types, ty, None)?;
            for (i, e) in ts.iter().enumerate() {
                let m = Literal::usize_unsuffixed(i);
                out.push((e.clone(), Some(quote!(::core::mem::offset_of!(#t, #m)))));
            }
        }
        Ty::Array(t, _) | Ty::Option(t) => out.push(((**t).clone(), None)),
        Ty::Result(a, b) => out.extend([((**a).clone(), None), ((**b).clone(), None)]),
        Ty::Cell(t) => out.push(((**t).clone(), Some(quote!(0usize)))),
        Ty::GcCell(t) => {
            let inner = rust_type(types, t, None)?;
            out.push((
                (**t).clone(),
                Some(quote!(::metatrace::GcCell::<#inner>::VALUE_OFFSET)),
            ));
        }
        Ty::QuasiImmut(t) => {
            let inner = rust_type(types, t, None)?;
            out.push((
                (**t).clone(),
                Some(quote!(::metatrace::QuasiImmut::<#inner>::VALUE_OFFSET)),
            ));
        }
        _ => {}
    }
    Ok(out)
}
