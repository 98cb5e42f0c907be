//! Building jitcodes and `Tables` by hand: registers (`ki`/`kr`/`kf`),
//! a jitcode under construction (`Code`, and `Asm` with symbolic labels),
//! `vec_shims!`, and `make_tables`.

pub use crate::leak;
use metatrace_runtime::jitcode::*;
use std::collections::HashMap;

pub fn ki(reg: Reg) -> KReg {
    KReg {
        kind: Kind::Int,
        reg,
    }
}
pub fn kr(reg: Reg) -> KReg {
    KReg {
        kind: Kind::Ref,
        reg,
    }
}
pub fn kf(reg: Reg) -> KReg {
    KReg {
        kind: Kind::Float,
        reg,
    }
}

/// Int registers `regs`, in order.
pub fn kis(regs: std::ops::Range<Reg>) -> Vec<KReg> {
    regs.map(ki).collect()
}

/// A jitcode under construction. Constants are numbered after the
/// registers, so `num_regs` is fixed up front.
pub struct Code {
    name: &'static str,
    regs: [u16; 3],
    ci: Vec<i64>,
    cr: Vec<RefConst>,
    cf: Vec<u64>,
    args: Vec<KReg>,
    results: Vec<Kind>,
    insns: Vec<Insn>,
}

impl Code {
    pub fn new(name: &'static str, regs: [u16; 3], args: Vec<KReg>, results: Vec<Kind>) -> Code {
        Code {
            name,
            regs,
            ci: vec![],
            cr: vec![],
            cf: vec![],
            args,
            results,
            insns: vec![],
        }
    }
    /// Register number of a new int constant.
    pub fn ci(&mut self, v: i64) -> Reg {
        self.ci.push(v);
        self.regs[0] + self.ci.len() as u16 - 1
    }
    pub fn cr(&mut self, v: RefConst) -> Reg {
        self.cr.push(v);
        self.regs[1] + self.cr.len() as u16 - 1
    }
    pub fn cf(&mut self, v: f64) -> Reg {
        self.cf.push(v.to_bits());
        self.regs[2] + self.cf.len() as u16 - 1
    }
    pub fn push(&mut self, i: Insn) -> &mut Code {
        self.insns.push(i);
        self
    }
    /// Change instruction `at` (to fill in a forward label).
    pub fn patch(&mut self, at: Label, f: impl FnOnce(&mut Insn)) {
        f(&mut self.insns[at as usize])
    }
    pub fn pc(&self) -> Label {
        self.insns.len() as Label
    }
    pub fn build(self) -> JitCode {
        JitCode {
            name: self.name,
            code: leak(encode(&self.insns)),
            num_regs: self.regs,
            consts_i: leak(self.ci),
            consts_r: leak(self.cr),
            consts_f: leak(self.cf),
            args: leak(self.args),
            results: leak(self.results),
        }
    }
}

/// A jitcode with symbolic labels: `label` names the next instruction;
/// `goto`, `goto_if_not` and `switch` take names; `finish` resolves them.
pub struct Asm {
    pub c: Code,
    labels: HashMap<&'static str, Label>,
    fixups: Vec<(Label, Vec<&'static str>)>,
}

impl Asm {
    pub fn new(c: Code) -> Asm {
        Asm {
            c,
            labels: HashMap::new(),
            fixups: vec![],
        }
    }
    pub fn label(&mut self, name: &'static str) {
        assert!(self.labels.insert(name, self.c.pc()).is_none(), "{name}");
    }
    pub fn i(&mut self, insn: Insn) -> &mut Asm {
        self.c.push(insn);
        self
    }
    pub fn goto(&mut self, l: &'static str) {
        self.fixups.push((self.c.pc(), vec![l]));
        self.c.push(Insn::Goto { target: 0 });
    }
    pub fn goto_if_not(&mut self, cond: Reg, l: &'static str) {
        self.fixups.push((self.c.pc(), vec![l]));
        self.c.push(Insn::GotoIfNot { cond, target: 0 });
    }
    pub fn switch(&mut self, value: Reg, cases: &[(i64, &'static str)], default: &'static str) {
        let mut names: Vec<&'static str> = cases.iter().map(|c| c.1).collect();
        names.push(default);
        self.fixups.push((self.c.pc(), names));
        self.c.push(Insn::Switch {
            value,
            cases: cases.iter().map(|c| (c.0, 0)).collect(),
            default: 0,
        });
    }
    pub fn live(&mut self, regs: &[KReg]) {
        self.c.push(Insn::Live {
            regs: regs.to_vec(),
        });
    }
    pub fn finish(mut self) -> Code {
        for (at, names) in std::mem::take(&mut self.fixups) {
            let ls: Vec<Label> = names.iter().map(|n| self.labels[n]).collect();
            self.c.patch(at, |insn| match insn {
                Insn::Goto { target } | Insn::GotoIfNot { target, .. } => *target = ls[0],
                Insn::Switch { cases, default, .. } => {
                    for (c, l) in cases.iter_mut().zip(&ls) {
                        c.1 = *l;
                    }
                    *default = *ls.last().unwrap();
                }
                _ => unreachable!(),
            });
        }
        self.c
    }
}

pub fn addr<T>(x: &T) -> u64 {
    x as *const T as usize as u64
}

/// The address of something the jitcode writes to.
pub fn addr_mut<T>(x: &mut T) -> u64 {
    x as *mut T as usize as u64
}

/// `VecShims` for a `Vec<$t>`, converting items to and from canonical
/// register values with `$to` and `$from`.
#[macro_export]
macro_rules! vec_shims {
    ($t:ty, $to:expr, $from:expr) => {{
        unsafe fn len(v: usize) -> usize {
            unsafe { (*(v as *const Vec<$t>)).len() }
        }
        unsafe fn ptr(v: usize) -> usize {
            unsafe { (*(v as *mut Vec<$t>)).as_mut_ptr() as usize }
        }
        unsafe fn push(v: usize, x: u64) {
            let f: fn(u64) -> $t = $from;
            unsafe { (*(v as *mut Vec<$t>)).push(f(x)) }
        }
        unsafe fn pop(v: usize) -> Option<u64> {
            let f: fn($t) -> u64 = $to;
            unsafe { (*(v as *mut Vec<$t>)).pop().map(f) }
        }
        $crate::__runtime::jitcode::VecShims {
            len,
            ptr,
            push: Some(push),
            pop: Some(pop),
            slots: Some($crate::slot_shims!($t)),
        }
    }};
}
pub use crate::vec_shims;

/// `SlotShims` for a `Vec<$t>` (in-place push and pop).
#[macro_export]
macro_rules! slot_shims {
    ($t:ty) => {{
        unsafe fn set_len(v: usize, n: usize) {
            unsafe { (*(v as *mut Vec<$t>)).set_len(n) }
        }
        unsafe fn cap(v: usize) -> usize {
            unsafe { (*(v as *const Vec<$t>)).capacity() }
        }
        unsafe fn reserve(v: usize) {
            unsafe { (*(v as *mut Vec<$t>)).reserve(1) }
        }
        unsafe fn with_capacity(v: usize, n: usize) {
            unsafe { ::core::ptr::write(v as *mut Vec<$t>, Vec::with_capacity(n)) }
        }
        unsafe fn drop(v: usize) {
            unsafe { ::core::ptr::drop_in_place(v as *mut Vec<$t>) }
        }
        $crate::__runtime::jitcode::SlotShims {
            set_len,
            cap,
            reserve,
            with_capacity,
            drop,
        }
    }};
}
pub use crate::slot_shims;

/// A mutable field descr.
pub fn field(name: &'static str, ty: Option<ScalarTy>, place: FieldPlace) -> FieldDescr {
    FieldDescr {
        name,
        ty,
        place,
        immutable: false,
        virtualizable: false,
        owner: None,
    }
}

/// A mutable field descr at offset `off`.
pub fn field_at(name: &'static str, ty: Option<ScalarTy>, off: usize) -> FieldDescr {
    field(name, ty, FieldPlace::Offset(off))
}

/// A mutable array descr: items of `item_size` bytes (`item`: their type,
/// if scalar); a Vec when `vec` gives its shims, else a slice.
pub fn array(
    name: &'static str,
    item: Option<ScalarTy>,
    item_size: usize,
    vec: Option<VecShims>,
) -> ArrayDescr {
    ArrayDescr {
        immutable: false,
        name,
        item,
        item_size,
        vec,
        virtualizable: false,
    }
}

/// An array descr for a `Vec<$t>` of scalar `$item`s, with
/// `vec_shims!($t, $to, $from)`.
#[macro_export]
macro_rules! vec_array {
    ($t:ty, $item:expr, $to:expr, $from:expr) => {
        $crate::jitcode::array(
            concat!("Vec<", stringify!($t), ">"),
            Some($item),
            std::mem::size_of::<$t>(),
            Some($crate::vec_shims!($t, $to, $from)),
        )
    };
}
pub use crate::vec_array;

/// A residual call descr whose callee may write everything.
pub fn call_descr(
    name: &'static str,
    shim: unsafe fn(&[u64], &mut [u64]),
    arg_kinds: &'static [Kind],
    result_kinds: &'static [Kind],
) -> CallDescr {
    CallDescr {
        name,
        shim,
        arg_kinds,
        result_kinds,
        effects: CallEffectsDescr::EVERYTHING,
    }
}

/// The descrs of hand-built `Tables` (all empty by default).
#[derive(Default)]
pub struct Descrs {
    pub fields: Vec<FieldDescr>,
    pub arrays: Vec<ArrayDescr>,
    pub enums: Vec<EnumDescr>,
    pub calls: Vec<CallDescr>,
    pub drivers: Vec<DriverDescr>,
    pub strings: Vec<&'static str>,
}

/// Leak `Tables` made of `codes` (jitcode `i` is `codes[i]`) and `d`.
pub fn make_tables(codes: Vec<Code>, d: Descrs) -> &'static Tables {
    let jitcodes: Vec<JitCode> = codes.into_iter().map(Code::build).collect();
    Box::leak(Box::new(Tables {
        jitcodes: leak(jitcodes),
        fields: leak(d.fields),
        arrays: leak(d.arrays),
        enums: leak(d.enums),
        calls: leak(d.calls),
        allocs: &[],
        drivers: leak(d.drivers),
        strings: leak(d.strings),
    }))
}

/// The message of a caught panic.
pub fn panic_message(err: &(dyn std::any::Any + Send)) -> String {
    err.downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "<non-string panic>".into())
}
