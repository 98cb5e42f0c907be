//! Subset types written back as Rust types, for the generated glue: user
//! structs and enums as `crate::<path>`, std types fully qualified.

use crate::types::{Ty, TypeTable};
use metatrace_runtime::jitcode::{IntTy, Kind, ScalarTy};
use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::quote;

/// The Rust type of `ty` as seen from anywhere in the interpreter crate.
/// With `lifetime`, every reference gets it (`&'a T`), for signatures whose
/// return type holds a reference.
pub fn rust_type(
    types: &TypeTable,
    ty: &Ty,
    lifetime: Option<&TokenStream>,
) -> Result<TokenStream, String> {
    let rt = |t: &Ty| rust_type(types, t, lifetime);
    Ok(match ty {
        Ty::Unit => quote!(()),
        Ty::Never => quote!(!),
        Ty::Bool => quote!(bool),
        Ty::Char => quote!(char),
        Ty::Int(t) => {
            let t = int_ident(*t);
            quote!(#t)
        }
        Ty::F64 => quote!(f64),
        Ty::Ref { mutable, to } => {
            let to = rt(to)?;
            match (mutable, lifetime) {
                (true, Some(l)) => quote!(&#l mut #to),
                (true, None) => quote!(&mut #to),
                (false, Some(l)) => quote!(&#l #to),
                (false, None) => quote!(&#to),
            }
        }
        Ty::Adt(id) => {
            let adt = types
                .adts
                .get(id.0 as usize)
                .ok_or_else(|| format!("no type adt#{}", id.0))?;
            adt_path(&adt.path)?
        }
        Ty::Tuple(items) => {
            let items = items.iter().map(rt).collect::<Result<Vec<_>, _>>()?;
            quote!((#(#items,)*))
        }
        Ty::Array(t, n) => {
            let t = rt(t)?;
            let n = Literal::usize_unsuffixed(*n as usize);
            quote!([#t; #n])
        }
        Ty::Slice(t) => {
            let t = rt(t)?;
            quote!([#t])
        }
        Ty::Str => quote!(str),
        Ty::Vec(t) => {
            let t = rt(t)?;
            quote!(::std::vec::Vec<#t>)
        }
        Ty::Box(t) => {
            let t = rt(t)?;
            quote!(::std::boxed::Box<#t>)
        }
        Ty::Gc(t) => {
            let t = rt(t)?;
            quote!(::metatrace::Gc<#t>)
        }
        Ty::Cell(t) => {
            let t = rt(t)?;
            quote!(::core::cell::Cell<#t>)
        }
        Ty::GcCell(t) => {
            let t = rt(t)?;
            quote!(::metatrace::GcCell<#t>)
        }
        Ty::QuasiImmut(t) => {
            let t = rt(t)?;
            quote!(::metatrace::QuasiImmut<#t>)
        }
        Ty::String => quote!(::std::string::String),
        Ty::Option(t) => {
            let t = rt(t)?;
            quote!(::core::option::Option<#t>)
        }
        Ty::Result(a, b) => {
            let (a, b) = (rt(a)?, rt(b)?);
            quote!(::core::result::Result<#a, #b>)
        }
        Ty::Opaque(name) => {
            return Err(format!(
                "the glue would need to name the type `{name}`, which is outside the subset"
            ))
        }
    })
}

/// `interp::Tape` → `crate::interp::Tape`.
pub fn adt_path(path: &str) -> Result<TokenStream, String> {
    let mut out = quote!(crate);
    for seg in path.split("::") {
        if seg.is_empty() || !seg.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return Err(format!("bad path `{path}`"));
        }
        let seg = ident(seg);
        out = quote!(#out :: #seg);
    }
    Ok(out)
}

/// An identifier, raw if it is a keyword that allows it (`r#type`).
pub fn ident(name: &str) -> Ident {
    let name = name.strip_prefix("r#").unwrap_or(name);
    const KEYWORDS: &[&str] = &[
        "as", "break", "const", "continue", "else", "enum", "extern", "false", "fn", "for", "if",
        "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
        "static", "struct", "trait", "true", "type", "unsafe", "use", "where", "while", "async",
        "await", "dyn", "abstract", "become", "box", "do", "final", "macro", "override", "priv",
        "typeof", "unsized", "virtual", "yield", "try", "gen",
    ];
    if KEYWORDS.contains(&name) {
        Ident::new_raw(name, Span::call_site())
    } else {
        Ident::new(name, Span::call_site())
    }
}

/// A field name in a struct expression or pattern: `cells` or `0`.
pub fn field_member(name: &str) -> TokenStream {
    match name.parse::<usize>() {
        Ok(i) => {
            let l = Literal::usize_unsuffixed(i);
            quote!(#l)
        }
        Err(_) => {
            let i = ident(name);
            quote!(#i)
        }
    }
}

pub fn int_ident(t: IntTy) -> Ident {
    Ident::new(t.name(), Span::call_site())
}

/// `__mt::ScalarTy::Int(__mt::IntTy::U8)` (`__mt` is the glue's alias of
/// `::metatrace::runtime::jitcode`).
pub fn scalar_ty(t: ScalarTy) -> TokenStream {
    match t {
        ScalarTy::Int(i) => {
            let v = Ident::new(&format!("{i:?}"), Span::call_site());
            quote!(__mt::ScalarTy::Int(__mt::IntTy::#v))
        }
        ScalarTy::Bool => quote!(__mt::ScalarTy::Bool),
        ScalarTy::Char => quote!(__mt::ScalarTy::Char),
        ScalarTy::F64 => quote!(__mt::ScalarTy::F64),
        ScalarTy::Ref => quote!(__mt::ScalarTy::Ref),
    }
}

pub fn kind(k: Kind) -> TokenStream {
    match k {
        Kind::Int => quote!(__mt::Kind::Int),
        Kind::Ref => quote!(__mt::Kind::Ref),
        Kind::Float => quote!(__mt::Kind::Float),
    }
}
