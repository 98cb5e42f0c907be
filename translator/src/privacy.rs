//! What the generated glue can name. The glue is a module at the crate
//! root (`crate::__metatrace_glue`, jitcodegen's `glue`): it reads the
//! offsets of the fields traced code uses (`offset_of!(crate::m::S, f)`)
//! and calls the `#[dont_look_inside]` functions by path. rustc's privacy
//! rules decide whether it may; checking them here reports a private item
//! at the user's line instead of as an error inside generated code. (In
//! RPython every name is reachable from the translator: there is no
//! counterpart; LuaJIT's FFI has none either.)

use crate::items::ItemTable;
use crate::load::ModId;
use metatrace_jitcodegen::types::{AdtId, Ty};

/// Whether an item declared with `vis` in `module` can be named from a
/// child module of the crate root.
pub fn visible_from_root(items: &ItemTable, module: ModId, vis: &syn::Visibility) -> bool {
    let m = items.krate.module(module);
    let parent_is_root = m
        .parent
        .is_some_and(|p| items.krate.module(p).parent.is_none());
    let own = match vis {
        _ if m.parent.is_none() => true,
        syn::Visibility::Public(_) => true,
        syn::Visibility::Restricted(r) => {
            let path: Vec<String> = r
                .path
                .segments
                .iter()
                .map(|s| s.ident.to_string())
                .collect();
            match path
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .as_slice()
            {
                ["crate"] => true,
                ["super"] => parent_is_root,
                _ => false,
            }
        }
        syn::Visibility::Inherited => false,
    };
    own && module_visible_from_root(items, module)
}

/// Whether the path to `module` can be named from the crate root: every
/// module below the root's children is declared visible to the root.
fn module_visible_from_root(items: &ItemTable, module: ModId) -> bool {
    let m = items.krate.module(module);
    let (Some(parent), Some(name)) = (m.parent, m.path.last()) else {
        return true; // the root
    };
    if items.krate.module(parent).parent.is_none() {
        return true; // a child of the root: visible to the root
    }
    let decl = items
        .krate
        .module(parent)
        .items
        .iter()
        .find_map(|it| match it {
            syn::Item::Mod(md) if md.ident == name.as_str() => Some(&md.vis),
            _ => None,
        });
    decl.is_some_and(|vis| visible_from_root(items, parent, vis))
}

/// The item that declares the struct or enum `adt`, and its module.
fn adt_item<'a>(items: &'a ItemTable, adt: AdtId) -> Option<(ModId, &'a syn::Item)> {
    let (module, _, _) = items.adt_home[adt.0 as usize];
    let name = &items.types.adt(adt).name;
    let item = items
        .krate
        .module(module)
        .items
        .iter()
        .find(|it| match it {
            syn::Item::Struct(s) => s.ident == name.as_str(),
            syn::Item::Enum(e) => e.ident == name.as_str(),
            _ => false,
        })?;
    Some((module, item))
}

/// Whether the glue can name the struct `adt` and its field `field`; for
/// an enum (whose variant fields are as visible as the enum), the enum.
/// `None` when the ADT's declaration is not found.
pub fn field_visible(items: &ItemTable, adt: AdtId, field: &str) -> Option<bool> {
    match adt_item(items, adt)? {
        (module, syn::Item::Struct(s)) => {
            let own = visible_from_root(items, module, &s.vis);
            let field_vis = s.fields.iter().enumerate().find_map(|(i, f)| {
                let named = f.ident.as_ref().map(|n| n.to_string());
                (named.as_deref() == Some(field) || named.is_none() && i.to_string() == field)
                    .then_some(&f.vis)
            })?;
            Some(own && visible_from_root(items, module, field_vis))
        }
        (module, syn::Item::Enum(e)) => Some(visible_from_root(items, module, &e.vis)),
        _ => None,
    }
}

/// Whether the glue can name the struct or enum `adt`.
pub fn adt_visible(items: &ItemTable, adt: AdtId) -> bool {
    match adt_item(items, adt) {
        Some((module, syn::Item::Struct(s))) => visible_from_root(items, module, &s.vis),
        Some((module, syn::Item::Enum(e))) => visible_from_root(items, module, &e.vis),
        _ => true,
    }
}

/// The structs and enums `ty` mentions, in order, each once.
pub fn adts_in(ty: &Ty, out: &mut Vec<AdtId>) {
    match ty {
        Ty::Adt(id) => {
            if !out.contains(id) {
                out.push(*id);
            }
        }
        Ty::Ref { to: t, .. }
        | Ty::Array(t, _)
        | Ty::Slice(t)
        | Ty::Vec(t)
        | Ty::Box(t)
        | Ty::Option(t)
        | Ty::Gc(t)
        | Ty::Cell(t)
        | Ty::GcCell(t)
        | Ty::QuasiImmut(t) => adts_in(t, out),
        Ty::Tuple(ts) => ts.iter().for_each(|t| adts_in(t, out)),
        Ty::Result(a, b) => {
            adts_in(a, out);
            adts_in(b, out);
        }
        _ => {}
    }
}
