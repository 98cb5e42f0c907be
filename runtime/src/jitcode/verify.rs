//! The jitcode verifier: every register, label, descr and call arity in
//! range and of the right kind. Run by the codewriter on what it produces
//! and by tests on hand-written and deliberately broken jitcodes.

use super::insns::{Access, DescrTable, KindOf, Operand};
use super::*;

/// What the verifier needs to know about the descr tables, so that it can
/// check both static `Tables` and the codewriter's assembly. How many
/// entries each table has comes from [`JitCodeNames::count`].
pub trait DescrInfo: JitCodeNames {
    /// `None` if out of range; else the field's scalar type, if scalar.
    fn field_ty(&self, i: FieldId) -> Option<Option<ScalarTy>>;
    /// `None` if out of range; else (is a Vec, item scalar type if scalar).
    fn array_ty(&self, i: ArrayId) -> Option<(bool, Option<ScalarTy>)>;
    /// Argument and result kinds of residual call `i`.
    fn call_kinds(&self, i: CallId) -> Option<(Vec<Kind>, Vec<Kind>)>;
    /// Argument and result kinds of jitcode `i`.
    fn jitcode_kinds(&self, i: JitCodeId) -> Option<(Vec<Kind>, Vec<Kind>)>;
}

/// A jitcode's shape, for the verifier.
pub struct JitCodeShape<'a> {
    pub name: &'a str,
    pub insns: &'a [Insn],
    pub num_regs: [u16; 3],
    /// Constants per kind.
    pub num_consts: [u16; 3],
    pub args: &'a [KReg],
    pub results: &'a [Kind],
}

impl DescrInfo for Tables {
    fn field_ty(&self, i: FieldId) -> Option<Option<ScalarTy>> {
        self.fields.get(i.index()).map(|f| f.ty)
    }
    fn array_ty(&self, i: ArrayId) -> Option<(bool, Option<ScalarTy>)> {
        self.arrays
            .get(i.index())
            .map(|a| (a.vec.is_some(), a.item))
    }
    fn call_kinds(&self, i: CallId) -> Option<(Vec<Kind>, Vec<Kind>)> {
        self.calls
            .get(i.index())
            .map(|c| (c.arg_kinds.to_vec(), c.result_kinds.to_vec()))
    }
    fn jitcode_kinds(&self, i: JitCodeId) -> Option<(Vec<Kind>, Vec<Kind>)> {
        self.jitcodes
            .get(i.index())
            .map(|j| (j.args.iter().map(|a| a.kind).collect(), j.results.to_vec()))
    }
}

impl JitCode {
    /// Constants per kind (int, ref, float).
    pub fn num_consts(&self) -> [u16; 3] {
        [
            self.consts_i.len() as u16,
            self.consts_r.len() as u16,
            self.consts_f.len() as u16,
        ]
    }

    /// The shape of this jitcode with its decoded instructions, for
    /// [`verify_jitcode`].
    pub fn shape<'a>(&'a self, insns: &'a [Insn]) -> JitCodeShape<'a> {
        JitCodeShape {
            name: self.name,
            insns,
            num_regs: self.num_regs,
            num_consts: self.num_consts(),
            args: self.args,
            results: self.results,
        }
    }
}

impl Tables {
    /// Decode and verify every jitcode, and check that the drivers'
    /// portals are in range; all problems found.
    pub fn verify(&self) -> Result<(), Vec<String>> {
        let (_, errors) = self.decode_and_verify();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// The instructions of every jitcode that decodes, in order, and all
    /// the problems [`Tables::verify`] reports.
    pub fn decode_and_verify(&self) -> (Vec<Vec<Insn>>, Vec<String>) {
        let mut errors = Vec::new();
        let mut decoded = Vec::with_capacity(self.jitcodes.len());
        for jc in self.jitcodes {
            match decode(jc.code) {
                Ok(insns) => {
                    if let Err(e) = verify_jitcode(&jc.shape(&insns), self) {
                        errors.extend(e);
                    }
                    decoded.push(insns);
                }
                Err(e) => errors.push(format!("{}: {}", jc.name, e)),
            }
        }
        for d in self.drivers {
            if d.jitcode as usize >= self.jitcodes.len() {
                errors.push(format!(
                    "driver {}: portal jitcode {} out of range ({} jitcodes)",
                    d.portal,
                    d.jitcode,
                    self.jitcodes.len()
                ));
            }
        }
        (decoded, errors)
    }
}

impl ScalarTy {
    /// Is `self as to` a cast Rust accepts? Ints, `bool` and `char` to
    /// ints; ints and `f64` to `f64` and back; `u8` to `char`; identity
    /// casts; refs to refs and ints (pointer/address casts) and ints to refs.
    pub fn can_cast_to(self, to: ScalarTy) -> bool {
        use ScalarTy::*;
        matches!(
            (self, to),
            (Int(_), Int(_))
                | (Bool, Int(_))
                | (Char, Int(_))
                | (Int(_), F64)
                | (F64, Int(_))
                | (F64, F64)
                | (Int(IntTy::U8), Char)
                | (Char, Char)
                | (Bool, Bool)
                | (Ref, Ref)
                | (Ref, Int(_))
                | (Int(_), Ref)
        )
    }
}

/// Names for descrs when only their indices are known.
struct Indices;

impl JitCodeNames for Indices {
    fn descr(&self, _table: DescrTable, _i: u16) -> Option<String> {
        None
    }
}

fn kinds_text(ks: &[Kind]) -> String {
    let v: Vec<String> = ks.iter().map(|k| k.to_string()).collect();
    format!("({})", v.join(", "))
}

struct Checker<'a> {
    code: &'a JitCodeShape<'a>,
    descrs: &'a dyn DescrInfo,
    regs: RegNames<'a>,
    errors: Vec<String>,
    /// The instruction being checked and its text, computed lazily.
    pc: usize,
    text: Option<String>,
}

impl Checker<'_> {
    fn err(&mut self, msg: String) {
        let text = match &self.text {
            Some(t) => t.clone(),
            None => {
                let t = format_insn(&self.code.insns[self.pc], &self.regs, &Indices);
                self.text = Some(t.clone());
                t
            }
        };
        self.errors.push(format!(
            "{}: insn {} ({}): {}",
            self.code.name, self.pc, text, msg
        ));
    }

    fn limit(&self, kind: Kind) -> u32 {
        self.code.num_regs[kind.index()] as u32 + self.code.num_consts[kind.index()] as u32
    }

    /// A register read.
    fn src(&mut self, kind: Kind, r: Reg) {
        let limit = self.limit(kind);
        if r as u32 >= limit {
            self.err(format!(
                "{kind} register {r} out of range ({} registers + {} constants)",
                self.code.num_regs[kind.index()],
                self.code.num_consts[kind.index()]
            ));
        }
    }

    /// A register written.
    fn dst(&mut self, kind: Kind, r: Reg) {
        let n = self.code.num_regs[kind.index()];
        if r as u32 >= self.limit(kind) {
            self.src(kind, r);
        } else if r >= n {
            self.err(format!(
                "writes {kind} constant {} (register {r}; {n} registers)",
                r - n
            ));
        }
    }

    fn label(&mut self, l: Label) {
        let n = self.code.insns.len();
        if l as usize >= n {
            self.err(format!("label {l} out of range ({n} instructions)"));
        }
    }

    /// A scalar field descr; its type.
    fn scalar_field(&mut self, descr: FieldId) -> Option<ScalarTy> {
        match self.descrs.field_ty(descr) {
            None => {
                self.err(format!("field descr {descr} out of range"));
                None
            }
            Some(None) => {
                self.err(format!("field descr {descr} is not a scalar field"));
                None
            }
            Some(Some(t)) => Some(t),
        }
    }

    /// An array descr: (is a Vec, item type).
    fn array(&mut self, descr: ArrayId, need_vec: bool, need_scalar: bool) -> Option<ScalarTy> {
        match self.descrs.array_ty(descr) {
            None => {
                self.err(format!("array descr {descr} out of range"));
                None
            }
            Some((is_vec, item)) => {
                if need_vec && !is_vec {
                    self.err(format!("array descr {descr} is not a Vec"));
                }
                if need_scalar && item.is_none() {
                    self.err(format!("array descr {descr} has no scalar items"));
                }
                item
            }
        }
    }

    fn list_src(&mut self, rs: &[KReg]) {
        for r in rs {
            self.src(r.kind, r.reg);
        }
    }

    fn list_dst(&mut self, rs: &[KReg]) {
        for r in rs {
            self.dst(r.kind, r.reg);
        }
    }

    /// `what`'s registers against the expected kinds.
    fn kinds(&mut self, what: &str, rs: &[KReg], expected: &[Kind]) {
        let got: Vec<Kind> = rs.iter().map(|r| r.kind).collect();
        if got != expected {
            self.err(format!(
                "{what} {} do not match the expected {}",
                kinds_text(&got),
                kinds_text(expected)
            ));
        }
    }

    /// A descr operand: in range, and what the instruction needs of it.
    fn descr(&mut self, d: u16, table: DescrTable) {
        let (what, count) = match table {
            DescrTable::Field { scalar } => {
                if scalar {
                    self.scalar_field(FieldId(d));
                } else if self.descrs.field_ty(FieldId(d)).is_none() {
                    self.err(format!("field descr {d} out of range"));
                }
                return;
            }
            DescrTable::Array { vec, scalar } => {
                self.array(ArrayId(d), vec, scalar);
                return;
            }
            DescrTable::Call => {
                if self.descrs.call_kinds(CallId(d)).is_none() {
                    self.err(format!("call descr {d} out of range"));
                }
                return;
            }
            DescrTable::Jitcode => {
                if self.descrs.jitcode_kinds(JitCodeId(d)).is_none() {
                    self.err(format!("jitcode {d} out of range"));
                }
                return;
            }
            DescrTable::Enum => ("enum descr", self.descrs.count(table)),
            DescrTable::Alloc => ("alloc", self.descrs.count(table)),
            DescrTable::Driver => ("driver", self.descrs.count(table)),
            DescrTable::String => ("string", self.descrs.count(table)),
        };
        if d as usize >= count {
            self.err(format!("{what} {d} out of range"));
        }
    }

    /// The operand checks, from the instruction table, then what the table
    /// cannot say: casts Rust accepts, and arguments and results that match
    /// the callee's (or this jitcode's) signature.
    fn insn(&mut self, insn: &Insn) {
        let mut ops = Vec::new();
        insn.operands(&mut |op| {
            ops.push(match op {
                Operand::Reg(r, acc, k) => Check::Reg(*r, acc, k),
                Operand::Regs(rs, acc, _) => Check::Regs(rs.clone(), acc),
                Operand::Descr(d, t) => Check::Descr(d.raw(), t),
                Operand::Label(l, _) => Check::Label(*l),
                Operand::Cases(cs) => Check::Labels(cs.iter().map(|c| c.1).collect()),
                Operand::Static(_) => return,
            })
        });
        for op in ops {
            match op {
                Check::Reg(r, acc, k) => {
                    // A descr's kind is only known once the descr checked out.
                    let Some(kind) = k.resolve(self.descrs) else {
                        continue;
                    };
                    match acc {
                        Access::Read => self.src(kind, r),
                        Access::Write => self.dst(kind, r),
                    }
                }
                Check::Regs(rs, Access::Read) => self.list_src(&rs),
                Check::Regs(rs, Access::Write) => self.list_dst(&rs),
                Check::Descr(d, t) => self.descr(d, t),
                Check::Label(l) => self.label(l),
                Check::Labels(ls) => ls.into_iter().for_each(|l| self.label(l)),
            }
        }
        match insn {
            Insn::Cast { from, to, .. } if !from.can_cast_to(*to) => {
                self.err(format!(
                    "invalid cast from {} to {}",
                    from.name(),
                    to.name()
                ));
            }
            Insn::Call { args, results, .. } | Insn::ResidualCall { args, results, .. } => {
                let callee_kinds = match *insn {
                    Insn::Call { jitcode, .. } => self.descrs.jitcode_kinds(jitcode),
                    Insn::ResidualCall { descr, .. } => self.descrs.call_kinds(descr),
                    _ => None,
                };
                if let Some((a, r)) = callee_kinds {
                    self.kinds("arguments", args, &a);
                    self.kinds("results", results, &r);
                }
            }
            Insn::Return { values } => {
                let results = self.code.results;
                self.kinds("returned values", values, results);
            }
            _ => {}
        }
    }
}

/// An operand to check, copied out of the instruction.
enum Check {
    Reg(Reg, Access, KindOf),
    Regs(Vec<KReg>, Access),
    Descr(u16, DescrTable),
    Label(Label),
    Labels(Vec<Label>),
}

/// Check one jitcode; all problems found, each naming the instruction.
pub fn verify_jitcode(code: &JitCodeShape, descrs: &dyn DescrInfo) -> Result<(), Vec<String>> {
    let placeholders: [Vec<String>; 3] =
        std::array::from_fn(|k| (0..code.num_consts[k]).map(|c| format!("c{c}")).collect());
    let mut ck = Checker {
        code,
        descrs,
        regs: RegNames {
            num_regs: code.num_regs,
            consts: [&placeholders[0], &placeholders[1], &placeholders[2]],
        },
        errors: Vec::new(),
        pc: 0,
        text: None,
    };
    let mut seen = std::collections::HashSet::new();
    for a in code.args {
        let n = code.num_regs[a.kind.index()];
        if a.reg >= n {
            ck.errors.push(format!(
                "{}: argument register {}{} is not a register ({} {} registers)",
                code.name,
                a.kind.letter(),
                a.reg,
                n,
                a.kind
            ));
        } else if !seen.insert(*a) {
            ck.errors.push(format!(
                "{}: argument register {}{} appears twice",
                code.name,
                a.kind.letter(),
                a.reg
            ));
        }
    }
    for (pc, insn) in code.insns.iter().enumerate() {
        ck.pc = pc;
        ck.text = None;
        ck.insn(insn);
    }
    match code.insns.last() {
        None => ck.errors.push(format!("{}: no instructions", code.name)),
        Some(last) if !last.is_terminator() => {
            ck.pc = code.insns.len() - 1;
            ck.text = None;
            ck.err("last instruction is not a terminator (goto, switch, return, panic): execution can fall off the end".to_string());
        }
        _ => {}
    }
    if ck.errors.is_empty() {
        Ok(())
    } else {
        Err(ck.errors)
    }
}
