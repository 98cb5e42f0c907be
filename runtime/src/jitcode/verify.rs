//! The jitcode verifier: every register, label, descr and call arity in
//! range and of the right kind. Run by the codewriter on what it produces
//! and by tests on hand-written and deliberately broken jitcodes.

use super::*;

/// What the verifier needs to know about the descr tables, so that it can
/// check both static `Tables` and the codewriter's assembly.
pub trait DescrInfo {
    /// `None` if out of range; else the field's scalar type, if scalar.
    fn field_ty(&self, i: u16) -> Option<Option<ScalarTy>>;
    /// `None` if out of range; else (is a Vec, item scalar type if scalar).
    fn array(&self, i: u16) -> Option<(bool, Option<ScalarTy>)>;
    fn enum_count(&self) -> usize;
    /// Argument and result kinds of residual call `i`.
    fn call_kinds(&self, i: u16) -> Option<(Vec<Kind>, Vec<Kind>)>;
    /// Argument and result kinds of jitcode `i`.
    fn jitcode_kinds(&self, i: u16) -> Option<(Vec<Kind>, Vec<Kind>)>;
    fn string_count(&self) -> usize;
    fn driver_count(&self) -> usize;
    /// Entries of `Tables::allocs`.
    fn alloc_count(&self) -> usize {
        0
    }
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
    fn field_ty(&self, i: u16) -> Option<Option<ScalarTy>> {
        self.fields.get(i as usize).map(|f| f.ty)
    }
    fn array(&self, i: u16) -> Option<(bool, Option<ScalarTy>)> {
        self.arrays
            .get(i as usize)
            .map(|a| (a.vec.is_some(), a.item))
    }
    fn enum_count(&self) -> usize {
        self.enums.len()
    }
    fn call_kinds(&self, i: u16) -> Option<(Vec<Kind>, Vec<Kind>)> {
        self.calls
            .get(i as usize)
            .map(|c| (c.arg_kinds.to_vec(), c.result_kinds.to_vec()))
    }
    fn jitcode_kinds(&self, i: u16) -> Option<(Vec<Kind>, Vec<Kind>)> {
        self.jitcodes
            .get(i as usize)
            .map(|j| (j.args.iter().map(|a| a.kind).collect(), j.results.to_vec()))
    }
    fn string_count(&self) -> usize {
        self.strings.len()
    }
    fn driver_count(&self) -> usize {
        self.drivers.len()
    }
    fn alloc_count(&self) -> usize {
        self.allocs.len()
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
        verify_tables(self)
    }
}

impl Insn {
    /// Is this an instruction after which execution never falls through
    /// (goto, switch, return, panic)?
    pub fn is_terminator(&self) -> bool {
        matches!(
            self,
            Insn::Goto { .. } | Insn::Switch { .. } | Insn::Return { .. } | Insn::Panic { .. }
        )
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

fn verify_tables(tables: &Tables) -> Result<(), Vec<String>> {
    let mut errors = Vec::new();
    for jc in tables.jitcodes {
        match decode(jc.code) {
            Ok(insns) => {
                if let Err(e) = verify_jitcode(&jc.shape(&insns), tables) {
                    errors.extend(e);
                }
            }
            Err(e) => errors.push(format!("{}: {}", jc.name, e)),
        }
    }
    for d in tables.drivers {
        if d.jitcode as usize >= tables.jitcodes.len() {
            errors.push(format!(
                "driver {}: portal jitcode {} out of range ({} jitcodes)",
                d.portal,
                d.jitcode,
                tables.jitcodes.len()
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Names for descrs when only their indices are known.
struct Indices;

impl JitCodeNames for Indices {
    fn field(&self, i: u16) -> String {
        format!("field#{i}")
    }
    fn array(&self, i: u16) -> String {
        format!("array#{i}")
    }
    fn enum_(&self, i: u16) -> String {
        format!("enum#{i}")
    }
    fn call(&self, i: u16) -> String {
        format!("call#{i}")
    }
    fn jitcode(&self, i: u16) -> String {
        format!("jitcode#{i}")
    }
    fn string(&self, i: u16) -> String {
        format!("string#{i}")
    }
    fn driver(&self, i: u16) -> String {
        format!("driver#{i}")
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
    fn alloc(&mut self, descr: u16) {
        if descr as usize >= self.descrs.alloc_count() {
            self.err(format!("alloc {descr} out of range"));
        }
    }

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
    fn scalar_field(&mut self, descr: u16) -> Option<ScalarTy> {
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
    fn array(&mut self, descr: u16, need_vec: bool, need_scalar: bool) -> Option<ScalarTy> {
        match self.descrs.array(descr) {
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

    fn insn(&mut self, insn: &Insn) {
        use Kind::*;
        match insn {
            Insn::Copy { kind, src, dst } | Insn::Promote { kind, src, dst } => {
                self.src(*kind, *src);
                self.dst(*kind, *dst);
            }
            Insn::IntBin { a, b, dst, .. } | Insn::IntCmp { a, b, dst, .. } => {
                self.src(Int, *a);
                self.src(Int, *b);
                self.dst(Int, *dst);
            }
            Insn::IntNeg { a, dst, .. } | Insn::IntNot { a, dst, .. } => {
                self.src(Int, *a);
                self.dst(Int, *dst);
            }
            Insn::FloatBin { a, b, dst, .. } => {
                self.src(Float, *a);
                self.src(Float, *b);
                self.dst(Float, *dst);
            }
            Insn::FloatNeg { a, dst } => {
                self.src(Float, *a);
                self.dst(Float, *dst);
            }
            Insn::FloatCmp { a, b, dst, .. } => {
                self.src(Float, *a);
                self.src(Float, *b);
                self.dst(Int, *dst);
            }
            Insn::Cast { from, to, src, dst } => {
                if !from.can_cast_to(*to) {
                    self.err(format!(
                        "invalid cast from {} to {}",
                        from.name(),
                        to.name()
                    ));
                }
                self.src(from.kind(), *src);
                self.dst(to.kind(), *dst);
            }
            Insn::New { descr, dst } => {
                self.alloc(*descr);
                self.dst(Ref, *dst);
            }
            Insn::Free { descr, ptr } => {
                self.alloc(*descr);
                self.src(Ref, *ptr);
            }
            Insn::GetField { descr, base, dst } => {
                self.src(Ref, *base);
                if let Some(t) = self.scalar_field(*descr) {
                    self.dst(t.kind(), *dst);
                }
            }
            Insn::SetField { descr, base, value } => {
                self.src(Ref, *base);
                if let Some(t) = self.scalar_field(*descr) {
                    self.src(t.kind(), *value);
                }
            }
            Insn::FieldAddr { descr, base, dst } => {
                if self.descrs.field_ty(*descr).is_none() {
                    self.err(format!("field descr {descr} out of range"));
                }
                self.src(Ref, *base);
                self.dst(Ref, *dst);
            }
            Insn::Load { ty, addr, dst } => {
                self.src(Ref, *addr);
                self.dst(ty.kind(), *dst);
            }
            Insn::Store { ty, addr, value } => {
                self.src(Ref, *addr);
                self.src(ty.kind(), *value);
            }
            Insn::EnumTag { descr, addr, dst } => {
                if *descr as usize >= self.descrs.enum_count() {
                    self.err(format!("enum descr {descr} out of range"));
                }
                self.src(Ref, *addr);
                self.dst(Int, *dst);
            }
            Insn::VecLen { descr, vec, dst } => {
                self.array(*descr, true, false);
                self.src(Ref, *vec);
                self.dst(Int, *dst);
            }
            Insn::VecItemAddr {
                descr,
                vec,
                idx,
                dst,
            } => {
                self.array(*descr, true, false);
                self.src(Ref, *vec);
                self.src(Int, *idx);
                self.dst(Ref, *dst);
            }
            Insn::VecGetItem {
                descr,
                vec,
                idx,
                dst,
            } => {
                let item = self.array(*descr, true, true);
                self.src(Ref, *vec);
                self.src(Int, *idx);
                if let Some(t) = item {
                    self.dst(t.kind(), *dst);
                }
            }
            Insn::VecSetItem {
                descr,
                vec,
                idx,
                value,
            } => {
                let item = self.array(*descr, true, true);
                self.src(Ref, *vec);
                self.src(Int, *idx);
                if let Some(t) = item {
                    self.src(t.kind(), *value);
                }
            }
            Insn::VecPush { descr, vec, value } => {
                let item = self.array(*descr, true, true);
                self.src(Ref, *vec);
                if let Some(t) = item {
                    self.src(t.kind(), *value);
                }
            }
            Insn::VecPop {
                descr,
                vec,
                tag,
                value,
            } => {
                let item = self.array(*descr, true, true);
                self.src(Ref, *vec);
                self.dst(Int, *tag);
                if let Some(t) = item {
                    self.dst(t.kind(), *value);
                }
            }
            Insn::VecAsSlice {
                descr,
                vec,
                ptr,
                len,
            } => {
                self.array(*descr, true, false);
                self.src(Ref, *vec);
                self.dst(Ref, *ptr);
                self.dst(Int, *len);
            }
            Insn::SliceItemAddr {
                descr,
                ptr,
                idx,
                dst,
            } => {
                self.array(*descr, false, false);
                self.src(Ref, *ptr);
                self.src(Int, *idx);
                self.dst(Ref, *dst);
            }
            Insn::SliceGetItem {
                descr,
                ptr,
                idx,
                dst,
            } => {
                let item = self.array(*descr, false, true);
                self.src(Ref, *ptr);
                self.src(Int, *idx);
                if let Some(t) = item {
                    self.dst(t.kind(), *dst);
                }
            }
            Insn::SliceSetItem {
                descr,
                ptr,
                idx,
                value,
            } => {
                let item = self.array(*descr, false, true);
                self.src(Ref, *ptr);
                self.src(Int, *idx);
                if let Some(t) = item {
                    self.src(t.kind(), *value);
                }
            }
            Insn::StringAsStr { string, ptr, len } => {
                self.src(Ref, *string);
                self.dst(Ref, *ptr);
                self.dst(Int, *len);
            }
            Insn::Call {
                jitcode,
                args,
                results,
                ..
            } => {
                self.list_src(args);
                self.list_dst(results);
                match self.descrs.jitcode_kinds(*jitcode) {
                    None => self.err(format!("jitcode {jitcode} out of range")),
                    Some((a, r)) => {
                        self.kinds("arguments", args, &a);
                        self.kinds("results", results, &r);
                    }
                }
            }
            Insn::ResidualCall {
                descr,
                args,
                results,
            } => {
                self.list_src(args);
                self.list_dst(results);
                match self.descrs.call_kinds(*descr) {
                    None => self.err(format!("call descr {descr} out of range")),
                    Some((a, r)) => {
                        self.kinds("arguments", args, &a);
                        self.kinds("results", results, &r);
                    }
                }
            }
            Insn::WeAreJitted { dst } => self.dst(Int, *dst),
            Insn::MergePoint { driver, args } | Insn::CanEnterJit { driver, args } => {
                if *driver as usize >= self.descrs.driver_count() {
                    self.err(format!("driver {driver} out of range"));
                }
                self.list_src(args);
            }
            Insn::Live { regs } => self.list_src(regs),
            Insn::Goto { target } => self.label(*target),
            Insn::GotoIfNot { cond, target } => {
                self.src(Int, *cond);
                self.label(*target);
            }
            Insn::Switch {
                value,
                cases,
                default,
            } => {
                self.src(Int, *value);
                for (_, l) in cases {
                    self.label(*l);
                }
                self.label(*default);
            }
            Insn::Return { values } => {
                self.list_src(values);
                let results = self.code.results;
                self.kinds("returned values", values, results);
            }
            Insn::Panic { message, .. } => {
                if *message as usize >= self.descrs.string_count() {
                    self.err(format!("string {message} out of range"));
                }
            }
        }
    }
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
