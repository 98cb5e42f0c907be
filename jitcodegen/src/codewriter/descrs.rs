//! The crate-wide descr tables, interned while the graphs are flattened:
//! every field, array, enum, residual call and panic message gets one index,
//! shared by all jitcodes.

use super::{
    AllocRequest, ArrayRequest, Assembly, CallEffectsData, CallRequest, Container, DriverRequest,
    EnumRequest, FieldRequest,
};
use crate::flowgraph::{adt_field_name, FieldRef, Helper, Program};
use crate::types::Ty;
use metatrace_runtime::jitcode::{
    AllocId, ArrayId, CallId, DriverId, EnumId, FieldId, JitCodeId, StringId,
};
use std::collections::HashMap;

#[derive(Default)]
pub(crate) struct Descrs {
    /// What is built; `jitcodes` is filled by `assemble`.
    pub asm: Assembly,
    field_ix: HashMap<(FieldRef, bool), u16>,
    array_ix: HashMap<(Container, Ty, bool, bool), u16>,
    enum_ix: HashMap<(Ty, bool), u16>,
    call_ix: HashMap<String, u16>,
    helper_ix: HashMap<Helper, u16>,
    alloc_ix: HashMap<(Ty, bool), u16>,
    string_ix: HashMap<String, u16>,
    graph_ix: HashMap<String, u16>,
    driver_ix: HashMap<String, u16>,
    /// The types whose values may live in a cell
    /// (`TypeTable::cell_contents`): no access of theirs is immutable.
    cell_contents: std::collections::HashSet<Ty>,
}

fn index(len: usize, what: &str) -> Result<u16, String> {
    u16::try_from(len).map_err(|_| format!("too many {what} for a u16 index"))
}

impl Descrs {
    /// Graph indices and drivers are known up front: a jitcode may call one
    /// that is assembled later.
    pub fn new(program: &Program) -> Result<Descrs, String> {
        let mut graph_ix = HashMap::new();
        for (i, g) in program.graphs.iter().enumerate() {
            let i = index(i, "graphs")?;
            if graph_ix.insert(g.name.clone(), i).is_some() {
                return Err(format!("two graphs are named {}", g.name));
            }
        }
        let mut asm = Assembly {
            types: program.types.clone(),
            ..Assembly::default()
        };
        let mut driver_ix = HashMap::new();
        for (i, d) in program.drivers.iter().enumerate() {
            let jitcode = *graph_ix
                .get(&d.portal)
                .ok_or_else(|| format!("the portal {} of a driver has no graph", d.portal))?;
            driver_ix.insert(d.portal.clone(), index(i, "drivers")?);
            asm.drivers.push(DriverRequest {
                portal: d.portal.clone(),
                jitcode,
                greens: d.greens.iter().map(|p| p.ty.clone()).collect(),
                reds: d.reds.iter().map(|p| p.ty.clone()).collect(),
            });
        }
        let cell_contents = asm.types.cell_contents();
        Ok(Descrs {
            asm,
            graph_ix,
            driver_ix,
            cell_contents,
            ..Descrs::default()
        })
    }

    pub fn finish(self) -> Assembly {
        self.asm
    }

    /// Descrs are interned per access path: the same field read through
    /// `&T` and through `&mut T` gets two descrs, one of them immutable.
    ///
    /// An access is immutable only where the memory cannot change while
    /// traces run: not inside a cell, whose contents `borrow_mut()`
    /// rewrites between two runs of a trace that read them through
    /// `borrow()` (the optimizer folds immutable reads on constant bases;
    /// a global instance's field read through `borrow()` was folded to
    /// its value when traced).
    pub fn field(&mut self, f: &FieldRef, immutable: bool) -> Result<FieldId, String> {
        let immutable = immutable && !self.cell_contents.contains(&f.owner);
        let key = (f.clone(), immutable);
        if let Some(&i) = self.field_ix.get(&key) {
            return Ok(FieldId(i));
        }
        let types = &self.asm.types;
        let ty = f
            .ty(types)
            .ok_or_else(|| format!("no field {}", adt_field_name(types, f)))?;
        let virtualizable = super::mem_scalar(&ty).is_some() && f.is_virtualizable(types);
        let i = index(self.asm.fields.len(), "fields")?;
        self.asm.fields.push(FieldRequest {
            field: f.clone(),
            ty,
            immutable,
            virtualizable,
        });
        self.field_ix.insert(key, i);
        Ok(FieldId(i))
    }

    pub fn array(
        &mut self,
        container: Container,
        item: &Ty,
        immutable: bool,
        virtualizable: bool,
    ) -> Result<ArrayId, String> {
        let immutable = immutable && !self.cell_contents.contains(item);
        let key = (container, item.clone(), immutable, virtualizable);
        if let Some(&i) = self.array_ix.get(&key) {
            return Ok(ArrayId(i));
        }
        let i = index(self.asm.arrays.len(), "arrays")?;
        self.asm.arrays.push(ArrayRequest {
            container,
            item: item.clone(),
            immutable,
            virtualizable,
        });
        self.array_ix.insert(key, i);
        Ok(ArrayId(i))
    }

    pub fn enum_(&mut self, ty: &Ty, immutable: bool) -> Result<EnumId, String> {
        let immutable = immutable && !self.cell_contents.contains(ty);
        let key = (ty.clone(), immutable);
        if let Some(&i) = self.enum_ix.get(&key) {
            return Ok(EnumId(i));
        }
        let i = index(self.asm.enums.len(), "enums")?;
        self.asm.enums.push(EnumRequest {
            ty: ty.clone(),
            immutable,
        });
        self.enum_ix.insert(key, i);
        Ok(EnumId(i))
    }

    /// A residual call to `path`, whose signature is in `program.residuals`.
    pub fn call(&mut self, program: &Program, path: &str) -> Result<CallId, String> {
        if let Some(&i) = self.call_ix.get(path) {
            return Ok(CallId(i));
        }
        let r = program
            .residuals
            .iter()
            .find(|r| r.path == path)
            .ok_or_else(|| {
                format!("residual call to {path}, which has no signature in program.residuals")
            })?;
        let i = index(self.asm.calls.len(), "residual calls")?;
        self.asm.calls.push(CallRequest {
            path: r.path.clone(),
            helper: None,
            params: r.params.iter().map(|p| p.ty.clone()).collect(),
            ret: r.ret.clone(),
            // Until `assemble` computes the summary.
            effects: CallEffectsData::everything(),
        });
        self.call_ix.insert(path.to_string(), i);
        Ok(CallId(i))
    }

    /// The residual call of a generated helper, one per helper.
    pub fn helper(&mut self, h: &Helper) -> Result<CallId, String> {
        if let Some(&i) = self.helper_ix.get(h) {
            return Ok(CallId(i));
        }
        let i = index(self.asm.calls.len(), "residual calls")?;
        self.asm.calls.push(CallRequest {
            path: h.name(&self.asm.types),
            helper: Some(h.clone()),
            params: h.params(),
            ret: h.ret(),
            effects: CallEffectsData::everything(),
        });
        self.helper_ix.insert(h.clone(), i);
        Ok(CallId(i))
    }

    /// The alloc descr of `Box<ty>` (or of `Gc<ty>` with `gc`), one per
    /// type and heap.
    pub fn alloc(&mut self, ty: &Ty, gc: bool) -> Result<AllocId, String> {
        let key = (ty.clone(), gc);
        if let Some(&i) = self.alloc_ix.get(&key) {
            return Ok(AllocId(i));
        }
        let i = index(self.asm.allocs.len(), "allocated types")?;
        self.asm.allocs.push(AllocRequest { ty: ty.clone(), gc });
        self.alloc_ix.insert(key, i);
        Ok(AllocId(i))
    }

    pub fn string(&mut self, s: &str) -> Result<StringId, String> {
        if let Some(&i) = self.string_ix.get(s) {
            return Ok(StringId(i));
        }
        let i = index(self.asm.strings.len(), "panic messages")?;
        self.asm.strings.push(s.to_string());
        self.string_ix.insert(s.to_string(), i);
        Ok(StringId(i))
    }

    pub fn jitcode(&self, callee: &str) -> Result<JitCodeId, String> {
        self.graph_ix
            .get(callee)
            .copied()
            .map(JitCodeId)
            .ok_or_else(|| format!("call to {callee}, which has no graph"))
    }

    pub fn driver(&self, portal: &str) -> Result<DriverId, String> {
        self.driver_ix
            .get(portal)
            .copied()
            .map(DriverId)
            .ok_or_else(|| {
                format!("merge point of driver {portal}, which is not in program.drivers")
            })
    }
}
