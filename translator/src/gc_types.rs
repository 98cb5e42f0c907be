//! Which of the crate's types the generated glue makes GC types: every
//! `T` written as `Gc<T>` in a field or a function signature gets `Trace`
//! and `GcType` impls, and every type nested in one that holds a `Gc` gets
//! `Trace` — unless the crate implements them itself (`impl Trace for T`,
//! `gc_type!(T)`, `impl GcType for T`), in which case its own are used.
//!
//! RPython's counterpart is the GC type layout computed at translation
//! (rpython/memory/gctypelayout.py, `TypeLayoutBuilder`): the offsets of
//! GC pointers in every GC struct, from the rtyped types.

use crate::items::ItemTable;
use metatrace_jitcodegen::flowgraph::{FlowGraph, GcTypeRequest, Op};
use metatrace_jitcodegen::types::{AdtId, Ty};
use std::collections::{BTreeMap, HashSet};

/// The GC types the glue must implement, by type, in a fixed order:
/// those named `Gc<T>` in fields and signatures, and those traced code
/// allocates (`gc_new` in `graphs`).
pub fn gc_type_requests(items: &ItemTable, graphs: &[FlowGraph]) -> Vec<GcTypeRequest> {
    let mut allocated = Vec::new();
    for g in graphs {
        for b in g.blocks_in_order() {
            for op in &g.block(b).operations {
                if let Op::GcNew(t) = &op.op {
                    gc_targets(&Ty::Gc(Box::new(t.clone())), &mut allocated);
                }
            }
        }
    }
    let mut collect = |ty: &Ty| gc_targets(ty, &mut allocated);
    for adt in &items.types.adts {
        for (_, _, f) in adt.all_fields() {
            collect(&f.ty);
        }
    }
    for f in &items.fns {
        if let Ok((params, ret)) = &f.signature {
            params.iter().for_each(|p| collect(&p.ty));
            collect(ret);
        }
    }
    let (user_trace, user_gc_type) = user_impls(items);
    // Every type reached from an allocated one through fields that hold
    // a Gc needs `Trace`.
    let mut wanted: BTreeMap<AdtId, bool> = BTreeMap::new();
    let mut stack: Vec<AdtId> = allocated.clone();
    for id in &allocated {
        wanted.insert(*id, true);
    }
    let mut seen = HashSet::new();
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        for (_, _, f) in items.types.adt(id).all_fields() {
            let mut nested = Vec::new();
            adts_holding_gc(items, &f.ty, &mut nested);
            for n in nested {
                wanted.entry(n).or_insert(false);
                stack.push(n);
            }
        }
    }
    wanted
        .into_iter()
        .filter_map(|(id, allocatable)| {
            let name = &items.types.adt(id).name;
            let trace = !user_trace.contains(name);
            let gc_type = allocatable && !user_gc_type.contains(name);
            (trace || gc_type).then_some(GcTypeRequest {
                adt: id,
                trace,
                gc_type,
            })
        })
        .collect()
}

/// The crate's types `T` in `Gc<T>` inside `ty`.
fn gc_targets(ty: &Ty, out: &mut Vec<AdtId>) {
    match ty {
        Ty::Gc(t) => {
            if let Ty::Adt(id) = **t {
                if !out.contains(&id) {
                    out.push(id);
                }
            }
            gc_targets(t, out)
        }
        Ty::Ref { to: t, .. }
        | Ty::Array(t, _)
        | Ty::Slice(t)
        | Ty::Vec(t)
        | Ty::Box(t)
        | Ty::Option(t)
        | Ty::Cell(t)
        | Ty::GcCell(t) => gc_targets(t, out),
        Ty::Tuple(items) => items.iter().for_each(|t| gc_targets(t, out)),
        Ty::Result(a, b) => {
            gc_targets(a, out);
            gc_targets(b, out);
        }
        _ => {}
    }
}

/// The crate's types inside `ty` (not behind a `Gc`: those are other
/// objects) that hold a `Gc`, so need a scanning function.
fn adts_holding_gc(items: &ItemTable, ty: &Ty, out: &mut Vec<AdtId>) {
    match ty {
        Ty::Adt(id) if items.types.holds_gc(ty) => out.push(*id),
        Ty::Array(t, _) | Ty::Vec(t) | Ty::Box(t) | Ty::Option(t) | Ty::Cell(t) | Ty::GcCell(t) => {
            adts_holding_gc(items, t, out)
        }
        Ty::Tuple(ts) => ts.iter().for_each(|t| adts_holding_gc(items, t, out)),
        Ty::Result(a, b) => {
            adts_holding_gc(items, a, out);
            adts_holding_gc(items, b, out);
        }
        _ => {}
    }
}

/// The names of the types the crate implements `Trace` and `GcType` for
/// itself (by the last segment of the type's path).
fn user_impls(items: &ItemTable) -> (HashSet<String>, HashSet<String>) {
    let mut trace = HashSet::new();
    let mut gc_type = HashSet::new();
    for module in &items.krate.modules {
        for item in &module.items {
            match item {
                syn::Item::Impl(i) => {
                    let Some((_, path, _)) = &i.trait_ else {
                        continue;
                    };
                    let Some(name) = type_name(&i.self_ty) else {
                        continue;
                    };
                    match path.segments.last().map(|s| s.ident.to_string()).as_deref() {
                        Some("Trace") => {
                            trace.insert(name);
                        }
                        Some("GcType") => {
                            gc_type.insert(name);
                        }
                        _ => {}
                    }
                }
                // `gc_type!(A, B)` implements `GcType` (the crate writes
                // `Trace` itself).
                syn::Item::Macro(m)
                    if m.mac
                        .path
                        .segments
                        .last()
                        .is_some_and(|s| s.ident == "gc_type") =>
                {
                    let names = m
                        .mac
                        .parse_body_with(
                            syn::punctuated::Punctuated::<syn::Type, syn::Token![,]>::parse_terminated,
                        )
                        .map(|ts| ts.iter().filter_map(type_name).collect::<Vec<_>>())
                        .unwrap_or_default();
                    gc_type.extend(names);
                }
                _ => {}
            }
        }
    }
    (trace, gc_type)
}

fn type_name(ty: &syn::Type) -> Option<String> {
    match ty {
        syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}
