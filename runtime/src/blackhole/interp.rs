//! The blackhole's interpreter loop: a register machine over decoded,
//! verified jitcodes, with an explicit frame stack (regular calls do not
//! recurse on the Rust stack, so deep recursion in the interpreted
//! interpreter costs heap, not native stack).
//!
//! The three register files are shared by all frames: a frame is a window
//! `[base, base + num_regs + consts)` of each, constants preloaded at frame
//! entry. Float registers hold `f64` bits.

use super::program::{Code, Program};
use super::{ResumeFrame, RunOutcome};
use crate::executor;
use crate::jitcode::{Insn, KReg, Kind};

/// The driver whose portal is jitcode `jitcode`, if it has a native entry
/// (recursive calls of it then go through `jit::portal_call`).
fn native_portal(tables: &crate::jitcode::Tables, jitcode: u16) -> Option<u16> {
    let found = tables.drivers.iter().position(|d| d.jitcode == jitcode)?;
    tables.drivers[found].native.map(|_| found as u16)
}

/// How `Machine::run` stopped.
enum Exit {
    Return(Vec<u64>),
    MergePoint(Vec<u64>),
}

#[derive(Clone, Copy, Debug)]
struct Frame {
    /// Jitcode index.
    code: u32,
    /// In a caller frame: the index of its `Call` instruction.
    pc: u32,
    bi: usize,
    br: usize,
    bf: usize,
}

/// The blackhole's machine state; kept between runs so that its buffers
/// are reused.
#[derive(Default)]
pub(crate) struct Machine {
    ints: Vec<i64>,
    refs: Vec<usize>,
    floats: Vec<u64>,
    frames: Vec<Frame>,
    call_args: Vec<u64>,
    call_results: Vec<u64>,
    /// `refs` as a conservative GC root (DESIGN §8): a collection inside
    /// an allocation or a residual call of the blackhole keeps and pins
    /// what its ref registers hold.
    refs_root: crate::gc::ConservativeRoot,
    /// The outermost frame of a resumed run executed `can_enter_jit` (so
    /// the merge point it stops at is one the native interpreter counts).
    pub(crate) can_enter_jit_seen: bool,
}

// Register access in the current frame `$fr`. Verified code guarantees
// that every register operand is within its frame's window, which
// `push_frame` has allocated; the indexing is still checked (the cost is
// small next to the dispatch).
macro_rules! ri {
    ($m:ident, $fr:ident, $r:expr) => {
        $m.ints[$fr.bi + $r as usize]
    };
}
macro_rules! rr {
    ($m:ident, $fr:ident, $r:expr) => {
        $m.refs[$fr.br + $r as usize]
    };
}
macro_rules! rf {
    ($m:ident, $fr:ident, $r:expr) => {
        $m.floats[$fr.bf + $r as usize]
    };
}

impl Machine {
    /// Forget everything but the buffers' capacity.
    pub(crate) fn reset(&mut self) {
        self.ints.clear();
        self.refs.clear();
        self.publish_refs();
        self.floats.clear();
        self.frames.clear();
    }

    /// Allocate a frame for `code` on top of the register files: registers
    /// zeroed, constants loaded.
    fn push_frame(&mut self, index: u32, code: &Code) -> Frame {
        let f = Frame {
            code: index,
            pc: 0,
            bi: self.ints.len(),
            br: self.refs.len(),
            bf: self.floats.len(),
        };
        let n = code.jitcode.num_regs;
        grow(&mut self.ints, n[0] as usize, &code.consts_i);
        grow(&mut self.refs, n[1] as usize, &code.consts_r);
        grow(&mut self.floats, n[2] as usize, &code.consts_f);
        self.frames.push(f);
        self.publish_refs();
        f
    }

    fn publish_refs(&self) {
        self.refs_root.set(self.refs.as_ptr(), self.refs.len());
    }

    fn drop_frame(&mut self, f: &Frame) {
        self.ints.truncate(f.bi);
        self.refs.truncate(f.br);
        self.publish_refs();
        self.floats.truncate(f.bf);
        self.frames.pop();
    }

    /// The canonical register value of `r` in frame `f`.
    #[inline(always)]
    fn get(&self, f: &Frame, kind: Kind, r: u16) -> u64 {
        match kind {
            Kind::Int => ri!(self, f, r) as u64,
            Kind::Ref => rr!(self, f, r) as u64,
            Kind::Float => rf!(self, f, r),
        }
    }

    #[inline(always)]
    fn set(&mut self, f: &Frame, kind: Kind, r: u16, v: u64) {
        match kind {
            Kind::Int => ri!(self, f, r) = v as i64,
            Kind::Ref => rr!(self, f, r) = v as usize,
            Kind::Float => rf!(self, f, r) = v,
        }
    }

    #[inline(always)]
    fn getk(&self, f: &Frame, r: &KReg) -> u64 {
        self.get(f, r.kind, r.reg)
    }

    /// The address of item `idx` (a register) through array descr
    /// `descr`: of the Vec in register `base` when `vec`, else of the
    /// slice data that `base` points to.
    #[inline(always)]
    fn item_addr(
        &self,
        tables: &crate::jitcode::Tables,
        f: &Frame,
        descr: crate::jitcode::ArrayId,
        vec: bool,
        base: u16,
        idx: u16,
    ) -> usize {
        let mut ptr = rr!(self, f, base);
        if vec {
            ptr = unsafe { (tables.arrays[descr].vec_shims().ptr)(ptr) };
        }
        executor::item_addr(&tables.arrays[descr], ptr, ri!(self, f, idx))
    }

    /// Run jitcode `index` of `prog` on `args` (canonical register values)
    /// to completion; its results.
    pub(crate) fn call(&mut self, prog: &'static Program, index: u16, args: &[u64]) -> Vec<u64> {
        let Some(code) = prog.codes.get(index as usize) else {
            panic!(
                "metatrace: no jitcode {index} ({} jitcodes)",
                prog.codes.len()
            );
        };
        let params = code.jitcode.args;
        assert!(
            args.len() == params.len(),
            "metatrace: {} takes {} arguments, got {}",
            code.jitcode.name,
            params.len(),
            args.len()
        );
        let f = self.push_frame(index as u32, code);
        for (p, &v) in params.iter().zip(args) {
            self.set(&f, p.kind, p.reg, v);
        }
        let depth = self.frames.len();
        match self.run(prog, depth, false) {
            Exit::Return(out) => out,
            Exit::MergePoint(_) => unreachable!("merge points are ignored by call"),
        }
    }

    /// Rebuild `frames` (outermost first) and run until the outermost one
    /// executes a `MergePoint` or returns (see [`super::resume`]).
    pub(crate) fn resume(&mut self, prog: &'static Program, frames: &[ResumeFrame]) -> RunOutcome {
        assert!(
            !frames.is_empty(),
            "metatrace: resume needs at least one frame"
        );
        let depth = self.frames.len() + 1;
        self.can_enter_jit_seen = false;
        for (n, rf) in frames.iter().enumerate() {
            let Some(code) = prog.codes.get(rf.jitcode as usize) else {
                panic!(
                    "metatrace: resume frame {n}: no jitcode {} ({} jitcodes)",
                    rf.jitcode,
                    prog.codes.len()
                );
            };
            let name = code.jitcode.name;
            assert!(
                (rf.pc as usize) < code.insns.len(),
                "metatrace: resume frame {n} ({name}): pc {} out of range",
                rf.pc
            );
            if let Some(inner) = frames.get(n + 1) {
                match &code.insns[rf.pc as usize] {
                    Insn::Call { jitcode, .. } if jitcode.0 == inner.jitcode => {}
                    other => panic!(
                        "metatrace: resume frame {n} ({name}): pc {} is {other:?}, not a call of jitcode {}",
                        rf.pc, inner.jitcode
                    ),
                }
            }
            let mut f = self.push_frame(rf.jitcode as u32, code);
            f.pc = rf.pc;
            *self.frames.last_mut().expect("just pushed") = f;
            for &(r, v) in &rf.regs {
                assert!(
                    r.reg < code.jitcode.num_regs[r.kind.index()],
                    "metatrace: resume frame {n} ({name}): {r:?} is not a register"
                );
                self.set(&f, r.kind, r.reg, v);
            }
        }
        match self.run(prog, depth, true) {
            Exit::Return(out) => RunOutcome::Return(out),
            Exit::MergePoint(args) => RunOutcome::MergePoint { args },
        }
    }

    /// Run the top frame until the frame at depth `depth` (1 = the
    /// bottom of the stack) returns or, when `stop_at_merge_point`,
    /// executes a `MergePoint`.
    fn run(&mut self, prog: &'static Program, depth: usize, stop_at_merge_point: bool) -> Exit {
        let tables = prog.tables;
        let mut fr = *self.frames.last().expect("a frame to run");
        let mut code: &'static Code = &prog.codes[fr.code as usize];
        let mut pc = fr.pc as usize;
        loop {
            let insn = &code.insns[pc];
            pc += 1;
            match insn {
                Insn::IntBin { op, ty, a, b, dst } => {
                    ri!(self, fr, *dst) =
                        executor::int_bin(*op, *ty, ri!(self, fr, *a), ri!(self, fr, *b));
                }
                Insn::IntCmp { op, ty, a, b, dst } => {
                    ri!(self, fr, *dst) =
                        executor::int_cmp(*op, *ty, ri!(self, fr, *a), ri!(self, fr, *b)) as i64;
                }
                Insn::GotoIfNot { cond, target } => {
                    if ri!(self, fr, *cond) == 0 {
                        pc = *target as usize;
                    }
                }
                Insn::Goto { target } => pc = *target as usize,
                Insn::Copy { kind, src, dst } | Insn::Promote { kind, src, dst } => match kind {
                    Kind::Int => ri!(self, fr, *dst) = ri!(self, fr, *src),
                    Kind::Ref => rr!(self, fr, *dst) = rr!(self, fr, *src),
                    Kind::Float => rf!(self, fr, *dst) = rf!(self, fr, *src),
                },
                Insn::IntNeg { ty, a, dst } => {
                    ri!(self, fr, *dst) = executor::int_neg(*ty, ri!(self, fr, *a))
                }
                Insn::IntNot { ty, a, dst } => {
                    ri!(self, fr, *dst) = executor::int_not(*ty, ri!(self, fr, *a))
                }
                Insn::FloatBin { op, a, b, dst } => {
                    let x = f64::from_bits(rf!(self, fr, *a));
                    let y = f64::from_bits(rf!(self, fr, *b));
                    rf!(self, fr, *dst) = executor::float_bin(*op, x, y).to_bits();
                }
                Insn::FloatNeg { a, dst } => {
                    rf!(self, fr, *dst) = (-f64::from_bits(rf!(self, fr, *a))).to_bits()
                }
                Insn::FloatCmp { op, a, b, dst } => {
                    let x = f64::from_bits(rf!(self, fr, *a));
                    let y = f64::from_bits(rf!(self, fr, *b));
                    ri!(self, fr, *dst) = executor::float_cmp(*op, x, y) as i64;
                }
                Insn::Cast { from, to, src, dst } => {
                    let v = executor::cast(*from, *to, self.get(&fr, from.kind(), *src));
                    self.set(&fr, to.kind(), *dst, v);
                }
                Insn::New { descr, dst } => {
                    rr!(self, fr, *dst) = executor::alloc(&tables.allocs[*descr]);
                }
                Insn::Free { descr, ptr } => unsafe {
                    executor::free(&tables.allocs[*descr], rr!(self, fr, *ptr));
                },
                Insn::GetField { descr, base, dst } | Insn::QuasiImmutGet { descr, base, dst } => {
                    let d = &tables.fields[*descr];
                    let ty = d.ty.expect("verified: scalar field");
                    let v = unsafe {
                        executor::load(ty, executor::field_addr(d, rr!(self, fr, *base)))
                    };
                    self.set(&fr, ty.kind(), *dst, v);
                }
                Insn::SetField { descr, base, value } => {
                    let d = &tables.fields[*descr];
                    let ty = d.ty.expect("verified: scalar field");
                    let v = self.get(&fr, ty.kind(), *value);
                    unsafe {
                        executor::store(ty, executor::field_addr(d, rr!(self, fr, *base)), v)
                    };
                }
                Insn::FieldAddr { descr, base, dst } => {
                    let d = &tables.fields[*descr];
                    rr!(self, fr, *dst) = unsafe { executor::field_addr(d, rr!(self, fr, *base)) };
                }
                Insn::Load { ty, addr, dst } => {
                    let v = unsafe { executor::load(*ty, rr!(self, fr, *addr)) };
                    self.set(&fr, ty.kind(), *dst, v);
                }
                Insn::Store { ty, addr, value } => {
                    let v = self.get(&fr, ty.kind(), *value);
                    unsafe { executor::store(*ty, rr!(self, fr, *addr), v) };
                }
                Insn::EnumTag { descr, addr, dst } => {
                    let d = &tables.enums[*descr];
                    ri!(self, fr, *dst) = unsafe { (d.tag)(rr!(self, fr, *addr)) } as i64;
                }
                Insn::VecTruncate { descr, vec, len } => {
                    let s = tables.arrays[*descr].vec_shims();
                    let v = rr!(self, fr, *vec);
                    let n = ri!(self, fr, *len) as usize;
                    if n < unsafe { (s.len)(v) } {
                        unsafe { (executor::slot_shims(&tables.arrays[*descr]).set_len)(v, n) };
                    }
                }
                Insn::VecLen { descr, vec, dst } => {
                    let s = tables.arrays[*descr].vec_shims();
                    ri!(self, fr, *dst) = unsafe { (s.len)(rr!(self, fr, *vec)) } as i64;
                }
                Insn::VecItemAddr { .. } | Insn::SliceItemAddr { .. } => {
                    let (descr, vec, base, idx, dst) = insn.item_operands().expect("item access");
                    rr!(self, fr, dst) = self.item_addr(tables, &fr, descr, vec, base, idx);
                }
                Insn::VecGetItem { .. } | Insn::SliceGetItem { .. } => {
                    let (descr, vec, base, idx, dst) = insn.item_operands().expect("item access");
                    let ty = tables.arrays[descr].item.expect("verified: scalar items");
                    let addr = self.item_addr(tables, &fr, descr, vec, base, idx);
                    let v = unsafe { executor::load(ty, addr) };
                    self.set(&fr, ty.kind(), dst, v);
                }
                Insn::VecSetItem { .. } | Insn::SliceSetItem { .. } => {
                    let (descr, vec, base, idx, value) = insn.item_operands().expect("item access");
                    let ty = tables.arrays[descr].item.expect("verified: scalar items");
                    let addr = self.item_addr(tables, &fr, descr, vec, base, idx);
                    let v = self.get(&fr, ty.kind(), value);
                    unsafe { executor::store(ty, addr, v) };
                }
                Insn::VecPush { descr, vec, value } => {
                    let d = &tables.arrays[*descr];
                    let ty = d.item.expect("verified: scalar items");
                    let push = d.push_shim();
                    let v = self.get(&fr, ty.kind(), *value);
                    unsafe { push(rr!(self, fr, *vec), v) };
                }
                Insn::VecPop {
                    descr,
                    vec,
                    tag,
                    value,
                } => {
                    let d = &tables.arrays[*descr];
                    let ty = d.item.expect("verified: scalar items");
                    let pop = d.pop_shim();
                    let (t, v) = match unsafe { pop(rr!(self, fr, *vec)) } {
                        Some(v) => (1, v),
                        None => (0, 0),
                    };
                    ri!(self, fr, *tag) = t;
                    self.set(&fr, ty.kind(), *value, v);
                }
                Insn::VecPushSlot { descr, vec, dst } => {
                    let d = &tables.arrays[*descr];
                    rr!(self, fr, *dst) =
                        unsafe { executor::vec_push_slot(d, rr!(self, fr, *vec)) };
                }
                Insn::VecInit { descr, vec, len } => unsafe {
                    let n = ri!(self, fr, *len) as usize;
                    executor::vec_init(&tables.arrays[*descr], rr!(self, fr, *vec), n)
                },
                Insn::VecDrop { descr, vec } => unsafe {
                    executor::vec_drop(&tables.arrays[*descr], rr!(self, fr, *vec))
                },
                Insn::VecTake { descr, dst, src } => unsafe {
                    let d = &tables.arrays[*descr];
                    executor::vec_take(d, rr!(self, fr, *dst), rr!(self, fr, *src))
                },
                Insn::VecPopSlot {
                    descr,
                    vec,
                    tag,
                    dst,
                } => {
                    let d = &tables.arrays[*descr];
                    let slot = unsafe { executor::vec_pop_slot(d, rr!(self, fr, *vec)) };
                    ri!(self, fr, *tag) = slot.is_some() as i64;
                    rr!(self, fr, *dst) = slot.unwrap_or(0);
                }
                Insn::VecAsSlice {
                    descr,
                    vec,
                    ptr,
                    len,
                } => {
                    let s = tables.arrays[*descr].vec_shims();
                    let v = rr!(self, fr, *vec);
                    let (p, n) = unsafe { ((s.ptr)(v), (s.len)(v)) };
                    rr!(self, fr, *ptr) = p;
                    ri!(self, fr, *len) = n as i64;
                }
                Insn::StringAsStr { string, ptr, len } => {
                    let s = unsafe { &*(rr!(self, fr, *string) as *const String) };
                    rr!(self, fr, *ptr) = s.as_ptr() as usize;
                    ri!(self, fr, *len) = s.len() as i64;
                }
                Insn::Call {
                    jitcode,
                    args,
                    results,
                    ..
                } if stop_at_merge_point && native_portal(tables, jitcode.0).is_some() => {
                    // A recursive portal call, after a guard failed or a
                    // trace stopped: through the portal's native entry, as
                    // compiled code makes it (`call_assembler`), so that
                    // the callee runs natively or in its compiled code.
                    let driver = native_portal(tables, jitcode.0).expect("matched");
                    let bits: Vec<u64> = args.iter().map(|a| self.getk(&fr, a)).collect();
                    let out = crate::portal_calls::native(tables, driver, &bits);
                    for (r, v) in results.iter().zip(out) {
                        self.set(&fr, r.kind, r.reg, v);
                    }
                }
                Insn::Call { jitcode, args, .. } => {
                    let callee: &'static Code = &prog.codes[jitcode.index()];
                    // Remember where the caller is: the results go where its
                    // Call instruction says.
                    self.frames.last_mut().expect("caller frame").pc = (pc - 1) as u32;
                    let nf = self.push_frame(jitcode.0 as u32, callee);
                    for (a, p) in args.iter().zip(callee.jitcode.args) {
                        let v = self.getk(&fr, a);
                        self.set(&nf, p.kind, p.reg, v);
                    }
                    fr = nf;
                    code = callee;
                    pc = 0;
                }
                Insn::Return { values } => {
                    if self.frames.len() == depth {
                        let out = values.iter().map(|v| self.getk(&fr, v)).collect();
                        self.drop_frame(&fr);
                        return Exit::Return(out);
                    }
                    let caller = self.frames[self.frames.len() - 2];
                    let caller_code: &'static Code = &prog.codes[caller.code as usize];
                    let Insn::Call { results, .. } = &caller_code.insns[caller.pc as usize] else {
                        unreachable!("a caller frame stops at its call");
                    };
                    for (v, r) in values.iter().zip(results) {
                        let x = self.getk(&fr, v);
                        self.set(&caller, r.kind, r.reg, x);
                    }
                    self.drop_frame(&fr);
                    fr = caller;
                    code = caller_code;
                    pc = caller.pc as usize + 1;
                }
                Insn::ResidualCall {
                    descr,
                    args,
                    results,
                } => {
                    let d = &tables.calls[*descr];
                    // Reused buffers, taken out of `self` for the call.
                    let mut cargs = std::mem::take(&mut self.call_args);
                    let mut cres = std::mem::take(&mut self.call_results);
                    cargs.clear();
                    cargs.extend(args.iter().map(|a| self.getk(&fr, a)));
                    cres.clear();
                    cres.resize(results.len(), 0);
                    unsafe { (d.shim)(&cargs, &mut cres) };
                    for (r, &v) in results.iter().zip(cres.iter()) {
                        self.set(&fr, r.kind, r.reg, v);
                    }
                    self.call_args = cargs;
                    self.call_results = cres;
                }
                Insn::Switch {
                    value,
                    cases,
                    default,
                } => {
                    pc =
                        code.switch_target(pc - 1, cases, *default, ri!(self, fr, *value)) as usize;
                }
                Insn::WeAreJitted { dst } => ri!(self, fr, *dst) = 0,
                Insn::MergePoint { args, .. } => {
                    if stop_at_merge_point && self.frames.len() == depth {
                        let out = args.iter().map(|a| self.getk(&fr, a)).collect();
                        self.drop_frame(&fr);
                        return Exit::MergePoint(out);
                    }
                }
                Insn::CanEnterJit { .. } | Insn::FunctionEntry { .. } => {
                    if self.frames.len() == depth {
                        self.can_enter_jit_seen = true;
                    }
                }
                Insn::Live { .. } => {}
                Insn::Panic { message, .. } => {
                    let msg = tables.strings[*message];
                    panic!("{}", msg);
                }
            }
        }
    }
}

/// Append `n` zeroed registers and then `consts` to a register file
/// (frames are small: plain loops beat calls to memset/memcpy).
#[inline(always)]
fn grow<T: Copy + Default>(v: &mut Vec<T>, n: usize, consts: &[T]) {
    v.reserve(n + consts.len());
    for _ in 0..n {
        v.push(T::default());
    }
    for &c in consts {
        v.push(c);
    }
}
