//! Printing and verifying an `Assembly` with the runtime's own printer and
//! verifier: `Assembly` names its descrs (`JitCodeNames`) and describes
//! them (`DescrInfo`) as the static `Tables` do.

use super::{mem_scalar, var_kind, Assembly, Container, JitCodeData};
use crate::flowgraph::adt_field_name;
use metatrace_runtime::jitcode::{
    const_texts, format_jitcode, indexed_name, verify_jitcode, ArrayId, CallId, DescrInfo,
    DescrTable, FieldId, JitCodeId, JitCodeNames, JitCodeShape, Kind, RegNames, ScalarTy,
};

impl Assembly {
    /// A field descr's name, which an immutable twin may share (what the
    /// glue stores in `FieldDescr::name`).
    pub(crate) fn field_name(&self, i: u16) -> String {
        indexed_name(
            "field",
            i,
            self.descr(DescrTable::Field { scalar: false }, i),
        )
    }

    /// An array descr's name, which an immutable twin may share.
    pub(crate) fn array_name(&self, i: u16) -> String {
        let table = DescrTable::Array {
            vec: false,
            scalar: false,
        };
        indexed_name("array", i, self.descr(table, i))
    }
}

impl JitCodeNames for Assembly {
    fn descr(&self, table: DescrTable, i: u16) -> Option<String> {
        let i = i as usize;
        Some(match table {
            DescrTable::Field { .. } => adt_field_name(&self.types, &self.fields.get(i)?.field),
            DescrTable::Array { .. } => {
                let a = self.arrays.get(i)?;
                let item = self.types.display(&a.item);
                match a.container {
                    Container::Vec => format!("Vec<{item}>"),
                    Container::Slice if a.virtualizable => format!("[{item}] virtualizable"),
                    Container::Slice => format!("[{item}]"),
                }
            }
            DescrTable::Enum => self.types.display(&self.enums.get(i)?.ty).to_string(),
            DescrTable::Call => self.calls.get(i)?.path.clone(),
            DescrTable::Jitcode => self.jitcodes.get(i)?.name.clone(),
            DescrTable::Alloc => {
                let a = self.allocs.get(i)?;
                let ty = self.types.display(&a.ty);
                // A GC object and a box of one type are two descrs.
                if a.gc {
                    format!("Gc<{ty}>")
                } else {
                    ty.to_string()
                }
            }
            DescrTable::Driver => self.drivers.get(i)?.portal.clone(),
            DescrTable::String => format!("{:?}", self.strings.get(i)?),
        })
    }
    fn immutable(&self, table: DescrTable, i: u16) -> bool {
        match table {
            DescrTable::Field { .. } => self.fields.get(i as usize).is_some_and(|f| f.immutable),
            DescrTable::Array { .. } => self.arrays.get(i as usize).is_some_and(|a| a.immutable),
            _ => false,
        }
    }
    fn descr_info(&self) -> Option<&dyn DescrInfo> {
        Some(self)
    }
}

/// Kinds of the exploded leaves of `tys`.
fn leaf_kinds(asm: &Assembly, tys: &[crate::types::Ty]) -> Option<Vec<Kind>> {
    let mut out = Vec::new();
    for t in tys {
        for leaf in asm.types.flatten(t)? {
            out.push(var_kind(&leaf)?);
        }
    }
    Some(out)
}

impl DescrInfo for Assembly {
    fn field_ty(&self, i: FieldId) -> Option<Option<ScalarTy>> {
        self.fields.get(i.index()).map(|f| mem_scalar(&f.ty))
    }
    fn array_ty(&self, i: ArrayId) -> Option<(bool, Option<ScalarTy>)> {
        self.arrays
            .get(i.index())
            .map(|a| (a.container == Container::Vec, mem_scalar(&a.item)))
    }
    fn call_kinds(&self, i: CallId) -> Option<(Vec<Kind>, Vec<Kind>)> {
        let c = self.calls.get(i.index())?;
        Some((
            leaf_kinds(self, &c.params)?,
            leaf_kinds(self, std::slice::from_ref(&c.ret))?,
        ))
    }
    fn jitcode_kinds(&self, i: JitCodeId) -> Option<(Vec<Kind>, Vec<Kind>)> {
        let j = self.jitcodes.get(i.index())?;
        Some((j.args.iter().map(|a| a.kind).collect(), j.results.clone()))
    }
}

impl JitCodeData {
    /// The constant pools as the printer shows them.
    fn const_texts(&self) -> [Vec<String>; 3] {
        const_texts(&self.consts_i, &self.consts_r, &self.consts_f)
    }

    fn shape(&self) -> JitCodeShape<'_> {
        JitCodeShape {
            name: &self.name,
            insns: &self.insns,
            num_regs: self.num_regs,
            num_consts: [
                self.consts_i.len() as u16,
                self.consts_r.len() as u16,
                self.consts_f.len() as u16,
            ],
            args: &self.args,
            results: &self.results,
        }
    }
}

impl Assembly {
    /// The index of the jitcode named `name`.
    pub fn jitcode_index(&self, name: &str) -> Option<usize> {
        self.jitcodes.iter().position(|j| j.name == name)
    }

    /// One jitcode in text form.
    pub fn print_jitcode(&self, i: usize) -> String {
        let j = &self.jitcodes[i];
        let texts = j.const_texts();
        let regs = RegNames {
            num_regs: j.num_regs,
            consts: [&texts[0], &texts[1], &texts[2]],
        };
        format_jitcode(&j.name, &j.insns, &j.args, &regs, self)
    }

    /// Every jitcode in text form, separated by blank lines.
    pub fn print(&self) -> String {
        (0..self.jitcodes.len())
            .map(|i| self.print_jitcode(i))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The effect summary of residual call `i`, in text form: the call
    /// and its parameter types, then what it may write, one kind a line
    /// (`fields`, `items`, `vecs`, `kept` fields, `other`), or
    /// `everything` / `nothing` on the first line. Immutable descrs are
    /// marked `(imm)`.
    pub fn print_call_effects(&self, i: usize) -> String {
        let c = &self.calls[i];
        let params: Vec<String> = c
            .params
            .iter()
            .map(|t| self.types.display(t).to_string())
            .collect();
        let head = format!("{}({})", c.path, params.join(", "));
        let e = &c.effects;
        if e.everything {
            return format!("{head}: everything\n");
        }
        let field = |d: &u16| {
            let imm = self.fields.get(*d as usize).is_some_and(|f| f.immutable);
            format!("{}{}", self.field_name(*d), if imm { " (imm)" } else { "" })
        };
        let array = |d: &u16| {
            let imm = self.arrays.get(*d as usize).is_some_and(|a| a.immutable);
            format!("{}{}", self.array_name(*d), if imm { " (imm)" } else { "" })
        };
        let mut lines = Vec::new();
        for (what, names) in [
            ("fields", e.fields.iter().map(field).collect::<Vec<_>>()),
            ("items", e.items.iter().map(array).collect()),
            ("vecs", e.vecs.iter().map(array).collect()),
            ("kept", e.kept_fields.iter().map(field).collect()),
        ] {
            if !names.is_empty() {
                lines.push(format!("  {what} {}\n", names.join(", ")));
            }
        }
        if e.other {
            lines.push("  other\n".to_string());
        }
        if lines.is_empty() {
            return format!("{head}: nothing\n");
        }
        format!("{head}:\n{}", lines.concat())
    }

    /// The effect summaries of every residual call, in descr order.
    pub fn print_effects(&self) -> String {
        (0..self.calls.len())
            .map(|i| self.print_call_effects(i))
            .collect()
    }

    /// Run the runtime's jitcode verifier on every jitcode.
    pub fn verify(&self) -> Result<(), Vec<String>> {
        let mut errors = Vec::new();
        for j in &self.jitcodes {
            if let Err(e) = verify_jitcode(&j.shape(), self) {
                errors.extend(e.into_iter().map(|m| format!("{}: {m}", j.name)));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}
