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
//!   if the guard fails (`GuardInfo::resume_value`). An object a write
//!   delayed past the guard names (`GuardInfo::pending`, from `heap`) is
//!   forced before the guard instead, as the write would have forced it.
//! - Any other use escapes: the object is stored into memory, passed to a
//!   call, compared, or live at the final jump. It is *forced* right before
//!   that use — `new` and one write per known field are emitted there — and
//!   is an ordinary object from then on.
//!
//! Empty Vecs (`Vec::new()` in the interpreter) stay virtual too: the box
//! of a Vec value, `new` then `vec_init(_, 0)`, is an object that holds
//! an empty Vec; `vec_take` of it into a field of a virtual object (reached
//! by `fieldaddr`, itself virtual until used otherwise) records that the
//! field holds an empty Vec, and into any other place is `vec_init(_, 0)`
//! there. An empty Vec of capacity 0 owns no buffer, so `free` of such an
//! object goes as for any other; forcing one emits the `vec_init`s. These
//! objects are forced before any guard (resume data cannot describe a
//! Vec). So `Box::new(S { items: Vec::new(), .. })` that does not escape
//! allocates nothing; a Vec with items, or made with a capacity, stays
//! allocated (its buffer is native memory the optimizer does not model).
//!
//! Nothing else can point to a virtual object (it has not escaped), so no
//! other write or call can change its fields: the recorded values stay
//! right. Objects live across the loop's back edge are forced at the jump
//! (RPython's virtual state across loop peeling is the next step).

use super::emit::{note_unchanged, recycle, Emitter, GuardFate};
use super::Ctx;
use crate::jitcode::{AllocId, ArrayId, FieldId, Kind};
use crate::trace::{FieldWrite, GuardInfo, Opcode, Trace, Val, VirtualObj};
use rustc_hash::FxHashMap as HashMap;

/// `Val::Virtual(GLOBAL + id)` names object `id` of this pass while it
/// runs; guard-local indices (`GuardInfo::virtuals`) stay below.
const GLOBAL: u32 = 1 << 31;

/// What a virtual value of this pass stands for.
#[derive(Clone, Copy, PartialEq)]
enum ObjKind {
    /// An object from `new`.
    New(AllocId),
    /// The address of field `FieldId` of (virtual) object `usize`.
    FieldAddr(usize, FieldId),
}

struct Obj {
    kind: ObjKind,
    /// The object holds an empty Vec of these items (it is a Vec value's
    /// box, `vec_init(_, 0)`).
    empty_vec: Option<ArrayId>,
    /// Fields holding an empty Vec moved in (`vec_take`).
    empty_vec_fields: Vec<(FieldId, ArrayId)>,
    /// Freed (`free` of it while virtual): never forced after.
    dead: bool,
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

    /// Whether object `id` is still virtual.
    fn virtual_obj_id(&self, id: usize) -> bool {
        self.objs[id].forced.is_none() && !self.objs[id].dead
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
        let descr = match self.objs[id].kind {
            ObjKind::New(d) => d,
            ObjKind::FieldAddr(owner, fd) => {
                let base = self.force(e, owner);
                let p = e.emit(Opcode::FieldAddr(fd), vec![base], Some(Kind::Ref));
                self.objs[id].forced = Some(p);
                e.replace(self.objs[id].origin, p);
                return p;
            }
        };
        let p = e.emit(Opcode::New(descr), Vec::new(), Some(Kind::Ref));
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
        if let Some(a) = self.objs[id].empty_vec {
            e.emit(Opcode::VecInit(a), vec![p, Val::Int(0)], None);
        }
        for k in 0..self.objs[id].empty_vec_fields.len() {
            let (fd, a) = self.objs[id].empty_vec_fields[k];
            let at = e.emit(Opcode::FieldAddr(fd), vec![p], Some(Kind::Ref));
            e.emit(Opcode::VecInit(a), vec![at, Val::Int(0)], None);
        }
        p
    }

    /// Whether object `id` is still virtual and something resume data
    /// cannot describe: it holds empty Vecs, or it is a field's address.
    fn holds_vecs(&self, id: usize) -> bool {
        let o = &self.objs[id];
        let live = |id: usize| self.objs[id].forced.is_none() && !self.objs[id].dead;
        live(id)
            && match o.kind {
                // (The address of a field of a freed object is dead too;
                // of a forced one, it is forced here, being no object
                // resume data can describe.)
                ObjKind::FieldAddr(owner, _) => !self.objs[owner].dead,
                ObjKind::New(_) => o.empty_vec.is_some() || !o.empty_vec_fields.is_empty(),
            }
    }

    /// A new virtual value of kind `kind`, defined by operation `origin`.
    fn add(&mut self, kind: ObjKind, origin: usize) -> Val {
        let id = self.objs.len();
        self.objs.push(Obj {
            kind,
            empty_vec: None,
            empty_vec_fields: Vec::new(),
            dead: false,
            origin,
            fields: Vec::new(),
            forced: None,
        });
        Val::Virtual(GLOBAL + id as u32)
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
        for w in &mut info.pending {
            // (forced before the guard)
            w.args.iter_mut().for_each(|v| *v = self.actual(*v));
        }
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
            let ObjKind::New(descr) = obj.kind else {
                unreachable!("field addresses are forced before guards");
            };
            info.virtuals.push(VirtualObj { descr, fields });
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
        // (A field's address is not an object: any use of it but as the
        // destination of a `vec_take` forces it.)
        let first = args
            .first()
            .and_then(|a| vs.virtual_obj(*a))
            .filter(|&id| matches!(vs.objs[id].kind, ObjKind::New(_)));
        match (&op.opcode, first) {
            (Opcode::New(d), _) => {
                let v = vs.add(ObjKind::New(*d), i);
                e.replace(i, v);
                continue;
            }
            (Opcode::FieldAddr(d), Some(id)) => {
                let v = vs.add(ObjKind::FieldAddr(id, *d), i);
                e.replace(i, v);
                continue;
            }
            (Opcode::VecInit(a), Some(id))
                if args[1] == Val::Int(0)
                    && matches!(vs.objs[id].kind, ObjKind::New(_))
                    && vs.objs[id].fields.is_empty()
                    && vs.objs[id].empty_vec.is_none() =>
            {
                vs.objs[id].empty_vec = Some(*a);
                e.drop_op(i);
                continue;
            }
            (Opcode::VecTake(a), _)
                if vs
                    .virtual_obj(args[1])
                    .is_some_and(|src| vs.objs[src].empty_vec == Some(*a)) =>
            {
                // Moving an empty Vec out leaves one behind: the source
                // stays as it is; the destination gets an empty Vec.
                match vs.virtual_obj(args[0]).map(|dst| vs.objs[dst].kind) {
                    Some(ObjKind::FieldAddr(owner, fd))
                        if vs.virtual_obj_id(owner)
                            && matches!(vs.objs[owner].kind, ObjKind::New(_)) =>
                    {
                        vs.objs[owner].empty_vec_fields.push((fd, *a));
                    }
                    _ => {
                        let dst = vs.escape(&mut e, args[0]);
                        e.emit(Opcode::VecInit(*a), e.vals(&[dst, Val::Int(0)]), None);
                    }
                }
                e.drop_op(i);
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
            (Opcode::Free(_), Some(id)) => {
                vs.objs[id].dead = true;
                e.drop_op(i);
                continue;
            }
            _ => {}
        }
        if op.opcode.is_guard() {
            // Resume data cannot make Vecs: objects holding them are
            // allocated before the guard.
            for id in 0..vs.objs.len() {
                if vs.holds_vecs(id) {
                    vs.force(&mut e, id);
                }
            }
            // The condition escapes; the resume data describes. Objects
            // that writes delayed past the guard name escape too: a
            // delayed write is done before anything is allocated
            // (`GuardInfo::do_pending_writes`), with no write barrier.
            for a in args.iter_mut() {
                *a = vs.escape(&mut e, *a);
            }
            let g = op.guard.expect("a guard has resume data") as usize;
            for w in &src.guards[g].pending {
                for a in &w.args {
                    let v = e.map(*a);
                    vs.escape(&mut e, v);
                }
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
