//! Resume data: what a guard's failure rebuilds (RPython's `resume.py`,
//! LuaJIT's `lj_snap.c`). The data itself (`GuardInfo`, `FrameSnapshot`,
//! `VirtualObj`, `FieldWrite`) is declared with the trace IR it belongs
//! to; here is everything that makes and reads it:
//!
//! - which registers a frame's resume data holds at an instruction
//!   ([`liveness`]: the `-live-` marker, or the liveness analysis);
//! - the fail arguments, collected from the frames and virtuals
//!   ([`GuardInfo::new`], [`GuardInfo::collect_fail_args`]; the optimizer's
//!   emitter collects the same list incrementally);
//! - the one walk that rebuilds values from resume data, allocating the
//!   objects the optimizer kept virtual ([`GuardInfo::rebuild`] with a
//!   [`ResumeBuilder`]): as bits for the blackhole
//!   ([`ResumeFrame::from_guard`]), or
//!   as a bridge's recorded start (the tracer's `BridgeStart`);
//! - the writes the optimizer delayed past the guard
//!   ([`GuardInfo::pending`], RPython's `pending_setfields` in
//!   `resume.py`), done by the same builders first
//!   ([`GuardInfo::do_pending_writes`]).

pub(crate) mod liveness;
mod pack;

pub use pack::PackedResume;

use crate::blackhole::ResumeFrame;
use crate::jitcode::{AllocId, ScalarTy, Tables};
use crate::trace::{FieldWrite, FrameSnapshot, GuardInfo, PendingWrite, Val};

/// Fail arguments collected by linear search, at most (then by a set).
const FEW_FAIL_ARGS: usize = 16;

impl GuardInfo {
    /// Build from frames, collecting the fail arguments.
    pub fn new(frames: Vec<FrameSnapshot>) -> GuardInfo {
        let mut info = GuardInfo {
            frames,
            virtuals: Vec::new(),
            pending: Vec::new(),
            fail_args: Vec::new(),
        };
        info.fail_args = info.collect_fail_args();
        info
    }

    /// Every value the resume data names: the frames' registers, the
    /// virtuals' fields, the delayed writes' arguments.
    pub fn values(&self) -> impl Iterator<Item = Val> + '_ {
        let regs = self
            .frames
            .iter()
            .flat_map(|f| f.regs.iter().map(|(_, v)| *v));
        let fields = self
            .virtuals
            .iter()
            .flat_map(|o| o.fields.iter().map(|(_, v)| *v));
        let writes = self.pending.iter().flat_map(|w| w.args.iter().copied());
        regs.chain(fields).chain(writes)
    }

    /// Apply `f` to every value the resume data names (those of
    /// [`GuardInfo::values`]); `fail_args` is left to the caller.
    pub fn values_mut(&mut self, mut f: impl FnMut(&mut Val)) {
        for fr in &mut self.frames {
            fr.regs.iter_mut().for_each(|(_, v)| f(v));
        }
        for o in &mut self.virtuals {
            o.fields.iter_mut().for_each(|(_, v)| f(v));
        }
        for w in &mut self.pending {
            w.args.iter_mut().for_each(&mut f);
        }
    }

    /// Do the writes the optimizer delayed past this guard, through `b`
    /// (their arguments are constants and fail arguments). Done before
    /// anything is allocated: no collection comes between a delayed write
    /// of a reference and the place in the trace where it was due (the
    /// optimizer delays none past an allocation), so the write barrier
    /// the trace passed before it still holds.
    pub fn do_pending_writes<B: ResumeBuilder>(&self, b: &mut B) {
        let mut args = Vec::new();
        for w in &self.pending {
            args.clear();
            args.extend(w.args.iter().map(|&v| b.leaf(v)));
            b.pending_write(w, &args);
        }
    }

    /// The values compiled code must save: the non-constant values of the
    /// frames, of the virtuals' fields and of the delayed writes, without
    /// duplicates, in order.
    pub fn collect_fail_args(&self) -> Vec<Val> {
        let values = self
            .values()
            .filter(|v| !v.is_const() && !matches!(v, Val::Virtual(_)));
        // A linear search while there are few (most guards), a set past
        // that: the search made every guard of a Lox trace, whose frames
        // hold dozens of values, quadratic (8% of its tracing).
        let mut out = Vec::new();
        let mut seen: Option<rustc_hash::FxHashSet<Val>> = None;
        for v in values {
            match &mut seen {
                Some(set) => {
                    if set.insert(v) {
                        out.push(v);
                    }
                }
                None if out.contains(&v) => {}
                None => {
                    out.push(v);
                    if out.len() == FEW_FAIL_ARGS {
                        seen = Some(out.iter().copied().collect());
                    }
                }
            }
        }
        out
    }

    /// The value of `v` when the guard fails with `fail_values`:
    /// constants as they are, fail arguments from `fail_values`, virtuals
    /// allocated (each once, into `made`) and filled in.
    ///
    /// Panics if `v` is neither a constant, a fail argument nor a virtual
    /// of this guard.
    pub fn resume_value(
        &self,
        tables: &Tables,
        fail_values: &[u64],
        made: &mut Vec<Option<u64>>,
        v: Val,
    ) -> u64 {
        let mut b = Materialize {
            tables,
            guard: self,
            fail_values,
        };
        if self.virtuals.is_empty() {
            return self.rebuild(&mut b, made, v);
        }
        // Materializing allocates, and may collect: the fail values and
        // the objects made so far are on the Rust heap, so they are
        // published as conservative roots meanwhile (DESIGN §8).
        if made.len() < self.virtuals.len() {
            made.resize(self.virtuals.len(), None);
        }
        let fail_root = crate::gc::ConservativeRoot::new();
        fail_root.set(fail_values.as_ptr() as *const usize, fail_values.len());
        let made_root = crate::gc::ConservativeRoot::new();
        let words = std::mem::size_of_val(made.as_slice()) / std::mem::size_of::<usize>();
        made_root.set(made.as_ptr() as *const usize, words);
        self.rebuild(&mut b, made, v)
    }

    /// The value of `v` in the resume data, built by `b`: virtual objects
    /// are allocated (each once, into `made`) and their fields written,
    /// depth first; constants and fail arguments are `b`'s leaves. The one
    /// walk behind the blackhole's resume values and a bridge's start.
    pub fn rebuild<B: ResumeBuilder>(
        &self,
        b: &mut B,
        made: &mut Vec<Option<B::Value>>,
        v: Val,
    ) -> B::Value {
        let Val::Virtual(k) = v else {
            return b.leaf(v);
        };
        let k = k as usize;
        if made.len() < self.virtuals.len() {
            made.resize(self.virtuals.len(), None);
        }
        if let Some(done) = made[k] {
            return done;
        }
        let obj = &self.virtuals[k];
        let p = b.alloc(obj.descr);
        made[k] = Some(p);
        for &(w, fv) in &obj.fields {
            let field = self.rebuild(b, made, fv);
            b.write(p, w, field);
        }
        p
    }
}

/// What [`GuardInfo::rebuild`] builds values with.
pub trait ResumeBuilder {
    type Value: Copy;
    /// A constant, or a fail argument of the guard.
    fn leaf(&mut self, v: Val) -> Self::Value;
    /// A fresh object for `Tables::allocs[descr]`.
    fn alloc(&mut self, descr: AllocId) -> Self::Value;
    /// Write `field` into `obj` through `w`.
    fn write(&mut self, obj: Self::Value, w: FieldWrite, field: Self::Value);
    /// Do the delayed write `w` on its arguments' values `args`.
    fn pending_write(&mut self, w: &PendingWrite, args: &[Self::Value]);
}

/// Resume values as bits, objects allocated for real
/// ([`GuardInfo::resume_value`]).
struct Materialize<'a> {
    tables: &'a Tables,
    guard: &'a GuardInfo,
    fail_values: &'a [u64],
}

impl ResumeBuilder for Materialize<'_> {
    type Value = u64;

    fn leaf(&mut self, v: Val) -> u64 {
        if let Some(bits) = v.const_bits() {
            return bits;
        }
        let Some(i) = self.guard.fail_args.iter().position(|a| *a == v) else {
            panic!("metatrace: resume data uses {v:?}, which is no fail argument");
        };
        self.fail_values[i]
    }

    fn alloc(&mut self, descr: AllocId) -> u64 {
        crate::executor::alloc(&self.tables.allocs[descr]) as u64
    }

    fn write(&mut self, obj: u64, w: FieldWrite, field: u64) {
        // SAFETY: `obj` was allocated for the virtual's type, which `w`
        // is a field of (checked by the verifier).
        unsafe { w.write(self.tables, obj as usize, field) }
    }

    fn pending_write(&mut self, w: &PendingWrite, args: &[u64]) {
        // SAFETY: the trace did this write with these values (the
        // verifier checks its shape).
        let done = unsafe { crate::trace::interp::write(self.tables, &w.opcode, args) };
        assert!(done, "metatrace: {:?} is no write to delay", w.opcode);
    }
}

impl PendingWrite {
    /// The kinds of the write's arguments.
    pub fn arg_kinds(&self, tables: &Tables) -> Vec<crate::jitcode::Kind> {
        use crate::jitcode::Kind;
        use crate::trace::Opcode;
        let scalar = |ty: Option<ScalarTy>| ty.map_or(Kind::Int, |t| t.kind());
        match self.opcode {
            Opcode::SetField(d) => vec![Kind::Ref, scalar(tables.fields[d].ty)],
            Opcode::Store(ty) => vec![Kind::Ref, ty.kind()],
            Opcode::SetItem(d) => vec![Kind::Ref, Kind::Int, scalar(tables.arrays[d].item)],
            _ => vec![Kind::Ref, Kind::Int],
        }
    }
}

impl FieldWrite {
    /// The type of the value written.
    pub fn ty(self, tables: &Tables) -> ScalarTy {
        match self {
            FieldWrite::Field(d) => tables.fields[d].ty.expect("a scalar field"),
            FieldWrite::Store(ty) => ty,
        }
    }

    /// Write `bits` into the object at `obj`.
    ///
    /// # Safety
    /// `obj` is an object of the type the field belongs to.
    pub unsafe fn write(self, tables: &Tables, obj: usize, bits: u64) {
        use crate::executor as ops;
        match self {
            FieldWrite::Field(d) => {
                let d = &tables.fields[d];
                let ty = d.ty.expect("a scalar field");
                ops::store(ty, ops::field_addr(d, obj), bits)
            }
            FieldWrite::Store(ty) => ops::store(ty, obj, bits),
        }
    }
}

impl ResumeFrame {
    /// The frames to resume when `guard` fails with `fail_values` (its
    /// fail arguments' values, in `GuardInfo::fail_args` order): every
    /// register of the resume data set to its constant or fail value.
    ///
    /// Panics if the number of values is wrong or the resume data uses a
    /// value that is no fail argument.
    /// The writes the optimizer delayed past the guard are done first,
    /// then the objects it kept virtual are allocated
    /// (`GuardInfo::resume_value`).
    pub fn from_guard(tables: &Tables, guard: &GuardInfo, fail_values: &[u64]) -> Vec<ResumeFrame> {
        assert!(
            fail_values.len() == guard.fail_args.len(),
            "metatrace: the guard has {} fail arguments, got {} values",
            guard.fail_args.len(),
            fail_values.len()
        );
        guard.do_pending_writes(&mut Materialize {
            tables,
            guard,
            fail_values,
        });
        let mut made = Vec::new();
        guard
            .frames
            .iter()
            .map(|f| ResumeFrame {
                jitcode: f.jitcode,
                pc: f.pc,
                regs: f
                    .regs
                    .iter()
                    .map(|&(r, v)| (r, guard.resume_value(tables, fail_values, &mut made, v)))
                    .collect(),
            })
            .collect()
    }
}
