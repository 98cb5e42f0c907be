//! Text form of jitcodes, for `cargo translate --emit jitcode`, the JIT log
//! and tests:
//!
//! ```text
//! L3: int_add/u8 %i1, $1 -> %i2
//!     getfield %r0 <Tape.cells> -> %r1
//!     goto_if_not %i2 L7
//! ```
//! Registers print as `%i3`/`%r0`/`%f1`; constants as `$` and their value.

use super::insns::{Access, DescrTable, KindOf, LabelStyle, ListStyle, Operand};
use super::tokens::fill_template;
use super::*;
use std::collections::BTreeSet;

/// A descr's name, or `what#i` when the index is out of range (printing
/// must not fail on malformed code: the verifier reports it).
pub fn indexed_name(what: &str, i: u16, name: Option<String>) -> String {
    name.unwrap_or_else(|| format!("{what}#{i}"))
}

/// The printed name of descr `i` among `all` (each a name and whether
/// the descr is immutable): printed IR must tell every descr apart, so an
/// immutable descr whose name another descr shares is marked ` (imm)`,
/// and a name still shared gets the index, `#i`.
pub fn distinct_name(all: &[(&str, bool)], i: usize) -> String {
    let (name, imm) = all[i];
    let shared = |same_imm: bool| {
        all.iter()
            .enumerate()
            .any(|(j, &(n, m))| j != i && n == name && (!same_imm || m == imm))
    };
    let mut out = name.to_string();
    if imm && shared(false) {
        out.push_str(" (imm)");
    }
    if shared(true) {
        out.push_str(&format!("#{i}"));
    }
    out
}

/// How to name what instructions refer to by index: an implementation
/// gives each table's raw names ([`JitCodeNames::descr`]); the printed
/// names and their inverse for the parser follow.
pub trait JitCodeNames {
    /// The name of entry `i` of `table`; `None` when out of range (or not
    /// known).
    fn descr(&self, table: DescrTable, i: u16) -> Option<String>;
    /// Whether entry `i` of `table` is an immutable descr (fields, arrays
    /// and enums reached through a shared reference).
    fn immutable(&self, _table: DescrTable, _i: u16) -> bool {
        false
    }
    /// How many entries `table` has: those [`JitCodeNames::descr`] names.
    fn count(&self, table: DescrTable) -> usize {
        (0..=u16::MAX)
            .take_while(|&i| self.descr(table, i).is_some())
            .count()
    }
    /// What the descrs are, for the kinds of the registers they type.
    fn descr_info(&self) -> Option<&dyn DescrInfo> {
        None
    }

    /// The printed name of entry `i` of `table`: its name, told apart
    /// from the other entries' ([`distinct_name`]), or `what#i`.
    fn name(&self, table: DescrTable, i: u16) -> String {
        let Some(name) = self.descr(table, i) else {
            return indexed_name(table.what(), i, None);
        };
        let n = self.count(table);
        if (i as usize) < n
            && matches!(
                table,
                DescrTable::Field { .. } | DescrTable::Array { .. } | DescrTable::Enum
            )
        {
            let names: Vec<String> = (0..n as u16)
                .map(|j| self.descr(table, j).unwrap_or_default())
                .collect();
            let all: Vec<(&str, bool)> = (0..n)
                .map(|j| (names[j].as_str(), self.immutable(table, j as u16)))
                .collect();
            return distinct_name(&all, i as usize);
        }
        name
    }
    /// The index of the descr printed as `name` (the parser's inverse of
    /// [`JitCodeNames::name`]): the first entry of that name, or `what#i`.
    fn lookup(&self, table: DescrTable, name: &str) -> Option<u16> {
        (0..self.count(table) as u16)
            .find(|&i| self.name(table, i) == name)
            .or_else(|| {
                let i = name.strip_prefix(table.what())?.strip_prefix('#')?;
                i.parse().ok()
            })
    }
}

impl JitCodeNames for Tables {
    fn descr(&self, table: DescrTable, i: u16) -> Option<String> {
        let i = i as usize;
        Some(match table {
            DescrTable::Field { .. } => self.fields.get(i)?.name.to_string(),
            DescrTable::Array { .. } => self.arrays.get(i)?.name.to_string(),
            DescrTable::Enum => self.enums.get(i)?.name.to_string(),
            DescrTable::Call => self.calls.get(i)?.name.to_string(),
            DescrTable::Jitcode => self.jitcodes.get(i)?.name.to_string(),
            DescrTable::Alloc => self.allocs.get(i)?.name.to_string(),
            DescrTable::Driver => self.drivers.get(i)?.portal.to_string(),
            DescrTable::String => format!("{:?}", self.strings.get(i)?),
        })
    }
    fn immutable(&self, table: DescrTable, i: u16) -> bool {
        match table {
            DescrTable::Field { .. } => self.fields.get(i as usize).is_some_and(|f| f.immutable),
            DescrTable::Array { .. } => self.arrays.get(i as usize).is_some_and(|a| a.immutable),
            DescrTable::Enum => self.enums.get(i as usize).is_some_and(|e| e.immutable),
            _ => false,
        }
    }
    // Not by probing `descr` (which formats every name): the verifier asks
    // for table sizes once per descr operand when a VM starts.
    fn count(&self, table: DescrTable) -> usize {
        match table {
            DescrTable::Field { .. } => self.fields.len(),
            DescrTable::Array { .. } => self.arrays.len(),
            DescrTable::Enum => self.enums.len(),
            DescrTable::Call => self.calls.len(),
            DescrTable::Jitcode => self.jitcodes.len(),
            DescrTable::Alloc => self.allocs.len(),
            DescrTable::Driver => self.drivers.len(),
            DescrTable::String => self.strings.len(),
        }
    }
    fn descr_info(&self) -> Option<&dyn DescrInfo> {
        Some(self)
    }
}

/// Registers and constants of one jitcode, for naming operands.
pub struct RegNames<'a> {
    pub num_regs: [u16; 3],
    /// Printed constants per kind, in pool order.
    pub consts: [&'a [String]; 3],
}

impl RegNames<'_> {
    fn reg(&self, kind: Kind, r: Reg) -> String {
        let n = self.num_regs[kind.index()];
        if r < n {
            format!("%{}{}", kind.letter(), r)
        } else {
            match self.consts[kind.index()].get((r - n) as usize) {
                Some(c) => format!("${c}"),
                None => format!("%{}{}?", kind.letter(), r),
            }
        }
    }

    fn list(&self, rs: &[KReg]) -> String {
        rs.iter()
            .map(|r| self.reg(r.kind, r.reg))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One instruction, without its label. Generic over the instruction
/// table: the mnemonic with the static operands filled in, then the other
/// operands in table order; a descr is set off by a space, further reads
/// by commas, writes follow `->`.
pub fn format_insn(insn: &Insn, regs: &RegNames, names: &dyn JitCodeNames) -> String {
    let mut statics = Vec::new();
    let mut rest = String::new();
    let mut first_write = true;
    let kind_of = |k: KindOf| match k {
        KindOf::Fixed(k) => Some(k),
        _ => k.resolve(names.descr_info()?),
    };
    insn.operands(&mut |op| {
        let sep = |rest: &String, first_write: &mut bool, access: Access, comma: bool| match access
        {
            Access::Write if *first_write => {
                *first_write = false;
                " -> "
            }
            Access::Write => ", ",
            Access::Read if rest.is_empty() || !comma => " ",
            Access::Read => ", ",
        };
        match op {
            Operand::Static(s) => statics.push(s.name()),
            Operand::Reg(r, access, k) => {
                let text = match kind_of(k) {
                    Some(k) => regs.reg(k, *r),
                    None => format!("%{r}"),
                };
                let s = sep(&rest, &mut first_write, access, true);
                rest.push_str(s);
                rest.push_str(&text);
            }
            Operand::Regs(rs, access, style) => {
                let s = sep(&rest, &mut first_write, access, false);
                rest.push_str(s);
                match style {
                    ListStyle::Paren => rest.push_str(&format!("({})", regs.list(rs))),
                    ListStyle::Bare => rest.push_str(&regs.list(rs)),
                }
            }
            Operand::Descr(d, table) => {
                rest.push(' ');
                rest.push_str(&descr_text(names, table, d.raw()));
            }
            Operand::Label(l, style) => match style {
                LabelStyle::Plain => rest.push_str(&format!(" L{l}")),
                LabelStyle::Default => rest.push_str(&format!(" default L{l}")),
            },
            Operand::Cases(cs) => {
                let cs: Vec<String> = cs.iter().map(|(v, l)| format!("{v}: L{l}")).collect();
                rest.push_str(&format!(" [{}]", cs.join(", ")));
            }
        }
    });
    let statics: Vec<String> = statics.into_iter().map(String::from).collect();
    fill_template(insn.mnemonic_template(), &statics) + &rest
}

/// A descr as printed: `<name>`, or the string itself.
fn descr_text(names: &dyn JitCodeNames, table: DescrTable, d: u16) -> String {
    match table {
        DescrTable::String => names.name(table, d),
        _ => format!("<{}>", names.name(table, d)),
    }
}

/// A whole jitcode: header, then one instruction per line, labels where
/// something jumps.
pub fn format_jitcode(
    name: &str,
    insns: &[Insn],
    args: &[KReg],
    regs: &RegNames,
    names: &dyn JitCodeNames,
) -> String {
    let mut targets = BTreeSet::new();
    for insn in insns {
        insn.operands(&mut |op| match op {
            Operand::Label(l, _) => {
                targets.insert(*l);
            }
            Operand::Cases(cs) => targets.extend(cs.iter().map(|c| c.1)),
            _ => {}
        });
    }
    let mut out = format!(
        "jitcode {}({}) regs i{} r{} f{}\n",
        name,
        regs.list(args),
        regs.num_regs[0],
        regs.num_regs[1],
        regs.num_regs[2]
    );
    for (pc, insn) in insns.iter().enumerate() {
        let label = if targets.contains(&(pc as u32)) {
            format!("L{pc}:")
        } else {
            String::new()
        };
        out.push_str(&format!("{label:<5} {}\n", format_insn(insn, regs, names)));
    }
    out
}
