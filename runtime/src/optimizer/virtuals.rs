//! Allocation removal (RPython's `virtualize.py`): an object the trace
//! allocates (`new`, from `Box::new` in the interpreter) is *virtual* — kept
//! as the values of its fields in the optimizer, not allocated — for as
//! long as it does not escape.
//!
//! - `setfield`/`store` into a virtual object record the value;
//!   `getfield`/`load` from it are that value; `free` of it goes, with the
//!   allocation.
//! - A guard that may fail while an object is virtual describes it in its
//!   resume data (`GuardInfo::virtuals`: its type and field values, which
//!   become fail arguments); the object is allocated and filled in only
//!   if the guard fails (`GuardInfo::resume_value`).
//! - Any other use escapes: the object is stored into memory, passed to a
//!   call, compared, or live at the final jump. It is *forced* right before
//!   that use — `new` and one write per known field are emitted there — and
//!   is an ordinary object from then on.
//!
//! Nothing else can point to a virtual object (it has not escaped), so no
//! other write or call can change its fields: the recorded values stay
//! right. Objects live across the loop's back edge are forced at the jump
//! (RPython's virtual state across loop peeling is the next step).

use super::emit::{note_unchanged, recycle, Emitter, GuardFate};
use super::Ctx;
use crate::jitcode::AllocId;
use crate::trace::{FieldWrite, GuardInfo, Opcode, Trace, Val, VirtualObj};
use rustc_hash::FxHashMap as HashMap;

/// `Val::Virtual(GLOBAL + id)` names object `id` of this pass while it
/// runs; guard-local indices (`GuardInfo::virtuals`) stay below.
const GLOBAL: u32 = 1 << 31;

struct Obj {
    descr: AllocId,
    /// The input `new` (its value maps to the object, then to the forced
    /// allocation).
    origin: usize,
    /// Known fields, in the order they were first written.
    fields: Vec<(FieldWrite, Val)>,
    /// The allocation, once forced.
    forced: Option<Val>,
}

struct Virtuals {
    objs: Vec<Obj>,
}

fn object_id(v: Val) -> Option<usize> {
    match v {
        Val::Virtual(g) if g >= GLOBAL => Some((g - GLOBAL) as usize),
        _ => None,
    }
}

impl Virtuals {
    /// The still virtual object `v` stands for.
    fn virtual_obj(&self, v: Val) -> Option<usize> {
        object_id(v).filter(|&id| self.objs[id].forced.is_none())
    }

    /// `v` as an output value: a forced object is its allocation.
    fn actual(&self, v: Val) -> Val {
        match object_id(v) {
            Some(id) => self.objs[id].forced.map_or(v, |p| p),
            None => v,
        }
    }

    fn set(&mut self, id: usize, w: FieldWrite, v: Val) {
        let fields = &mut self.objs[id].fields;
        match fields.iter_mut().find(|(x, _)| *x == w) {
            Some(slot) => slot.1 = v,
            None => fields.push((w, v)),
        }
    }

    fn get(&self, id: usize, w: FieldWrite) -> Option<Val> {
        let v = self.objs[id].fields.iter().find(|(x, _)| *x == w)?.1;
        Some(self.actual(v))
    }

    /// Allocate object `id` here and write its fields: it escapes.
    fn force(&mut self, e: &mut Emitter, id: usize) -> Val {
        if let Some(p) = self.objs[id].forced {
            return p;
        }
        let p = e.emit(
            Opcode::New(self.objs[id].descr),
            Vec::new(),
            Some(crate::jitcode::Kind::Ref),
        );
        // Forced before its fields: an object reachable from itself
        // stops here.
        self.objs[id].forced = Some(p);
        e.replace(self.objs[id].origin, p);
        for k in 0..self.objs[id].fields.len() {
            let (w, v) = self.objs[id].fields[k];
            let v = self.escape(e, v);
            match w {
                FieldWrite::Field(d) => e.emit(Opcode::SetField(d), e.vals(&[p, v]), None),
                FieldWrite::Store(ty) => e.emit(Opcode::Store(ty), e.vals(&[p, v]), None),
            };
        }
        p
    }

    /// `v` used where it escapes: forced if it is a virtual object.
    fn escape(&mut self, e: &mut Emitter, v: Val) -> Val {
        match object_id(v) {
            Some(id) => self.force(e, id),
            None => v,
        }
    }

    /// Rewrite the last emitted guard's references to this pass's objects
    /// into guard-local virtuals (appended after those it had), and
    /// recompute its fail arguments.
    fn describe(&self, info: &mut GuardInfo) {
        let mut local: HashMap<usize, u32> = HashMap::default();
        let mut todo: Vec<usize> = Vec::new();
        let mut name = |v: Val, info_len: usize, todo: &mut Vec<usize>| -> Val {
            let v = self.actual(v);
            match object_id(v) {
                Some(id) => {
                    let n = local.len() as u32 + info_len as u32;
                    let k = *local.entry(id).or_insert_with(|| {
                        todo.push(id);
                        n
                    });
                    Val::Virtual(k)
                }
                None => v,
            }
        };
        let base = info.virtuals.len();
        for f in &mut info.frames {
            for (_, v) in &mut f.regs {
                *v = name(*v, base, &mut todo);
            }
        }
        for k in 0..info.virtuals.len() {
            for f in 0..info.virtuals[k].fields.len() {
                let v = info.virtuals[k].fields[f].1;
                info.virtuals[k].fields[f].1 = name(v, base, &mut todo);
            }
        }
        // Objects are numbered in the order they are first met, so the
        // k-th one found is `base + k`.
        let mut next = 0;
        while next < todo.len() {
            let obj = &self.objs[todo[next]];
            let fields = obj
                .fields
                .iter()
                .map(|&(w, v)| (w, name(v, base, &mut todo)))
                .collect();
            info.virtuals.push(VirtualObj {
                descr: obj.descr,
                fields,
            });
            next += 1;
        }
        info.fail_args = info.collect_fail_args();
    }
}

pub fn run(trace: Trace, _cx: &Ctx) -> Trace {
    if !trace
        .ops
        .iter()
        .any(|op| matches!(op.opcode, Opcode::New(_)))
    {
        note_unchanged(&trace);
        return trace;
    }
    let mut e = Emitter::new(&trace);
    let src = e.src();
    let mut vs = Virtuals { objs: Vec::new() };
    for i in 0..e.body_len() {
        let op = &src.ops[i];
        let mut args = e.args(i);
        let first = args.first().and_then(|a| vs.virtual_obj(*a));
        match (&op.opcode, first) {
            (Opcode::New(d), _) => {
                let id = vs.objs.len();
                vs.objs.push(Obj {
                    descr: *d,
                    origin: i,
                    fields: Vec::new(),
                    forced: None,
                });
                e.replace(i, Val::Virtual(GLOBAL + id as u32));
                continue;
            }
            (Opcode::SetField(d), Some(id)) => {
                vs.set(id, FieldWrite::Field(*d), args[1]);
                e.drop_op(i);
                continue;
            }
            (Opcode::Store(ty), Some(id)) => {
                vs.set(id, FieldWrite::Store(*ty), args[1]);
                e.drop_op(i);
                continue;
            }
            (Opcode::GetField(d), Some(id)) => {
                if let Some(v) = vs.get(id, FieldWrite::Field(*d)) {
                    e.replace(i, v);
                    continue;
                }
            }
            (Opcode::Load(ty), Some(id)) => {
                if let Some(v) = vs.get(id, FieldWrite::Store(*ty)) {
                    e.replace(i, v);
                    continue;
                }
            }
            (Opcode::Free(_), Some(_)) => {
                e.drop_op(i);
                continue;
            }
            _ => {}
        }
        if op.opcode.is_guard() {
            // The condition escapes; the resume data describes.
            for a in args.iter_mut() {
                *a = vs.escape(&mut e, *a);
            }
            if e.keep_guard(i, args, &[]) != GuardFate::Dropped {
                if let Some(info) = e.last_guard_mut() {
                    vs.describe(info);
                }
            }
            continue;
        }
        for a in args.iter_mut() {
            *a = vs.escape(&mut e, *a);
        }
        e.keep(i, args);
    }
    // Objects live at the final jump escape.
    if let Some(last) = src.ops.last() {
        for a in &last.args {
            let v = e.map(*a);
            vs.escape(&mut e, v);
        }
    }
    let out = e.finish();
    if out.ops == trace.ops && out.guards == trace.guards {
        recycle(out);
        note_unchanged(&trace);
        return trace;
    }
    recycle(trace);
    out
}
