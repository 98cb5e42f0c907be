//! What a short preamble runs (`build`): the operations of the loop
//! trace that give the peeled loop its inputs at the header, the reads
//! that stand for values the iteration stored, and the guards they need
//! (see the parent module's doc, "What `S` holds").

use super::super::unroll::SlotSource;
use crate::alias::{
    call_effects, is_scalar, items_may_alias, may_equal, raw_loc, read_loc, reads_back,
    scalars_may_alias, vecs_may_alias, Loc,
};
use crate::jitcode::{CmpOp, IntBinOp, IntTy, Kind, Tables};
use crate::trace::{OpClass, Opcode, Trace, TraceOp, Val};
use rustc_hash::FxHashMap as HashMap;

/// The short preamble's operations: operations of the loop trace `P`,
/// run again at the loop header, and reads that stand for values the
/// iteration stored (see [`build`]).
#[derive(Clone, Debug)]
pub(in crate::optimizer) struct ShortOps {
    /// Over the loop's inputs (`Input(k)`); results are `Op(i)` by
    /// position. Guards carry `Some(0)` in place of resume data: the
    /// combined trace and [`ShortPreamble::enter`] give them theirs.
    pub ops: Vec<TraceOp>,
    /// For each of `ops`: the operation of `P` whose value (as of the
    /// label) it gives the peeled loop, when it is one of its inputs.
    pub slots: Vec<Option<u32>>,
    /// For each of `ops`: computed from what the iteration stored (the
    /// iteration changes it).
    pub changing: Vec<bool>,
    /// Variant inputs whose value the short preamble read from where the
    /// iteration stored it (and checked): the input, the read's position.
    /// The label takes the read for the input's value, as the loop took
    /// the stored value from the preamble.
    pub held_inputs: Vec<(u16, u32)>,
}

/// Whether an operation of `P` can be computed again at the header, and
/// from what.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Dep {
    /// From loop-invariant inputs and constants only: the value at the
    /// header is the value in any iteration.
    Invariant,
    /// Also from a variant input: fine for a guard checked at the header
    /// (the iteration checks it there too), never a value of the loop.
    Variant,
    /// Not at all (a call, an allocation, a write, a call's result).
    No,
}

/// What the short preamble runs to give the peeled loop the values its
/// `sources` name, over the loop's header inputs.
///
/// - A value the loop needs is computed again when it depends on
///   loop-invariant inputs only (pure operations and reads).
/// - A value computed from a variant input is the value of a location the
///   iteration stored it to, when it stored it last to a location whose
///   address is loop-invariant (`vec_set_len(stack, n + 3)`: the stack's
///   length). The short preamble reads that location at the header: the
///   same value, one iteration on.
/// - Every guard of `P` on values the iteration does not change, in `P`'s
///   order: a read that is not safe on any values of its operands' types
///   (an item of a `Vec`, a field through a pointer read from memory)
///   comes after the guards that made it safe in the iteration.
///
/// A guard of the short preamble that fails resumes the interpreter at the
/// loop header (the short preamble writes nothing), where the loop's
/// preamble is entered.
pub(super) fn build(
    t: &Trace,
    sources: &[SlotSource],
    tables: &Tables,
) -> Result<ShortOps, String> {
    let m = t.ops.len() - 1;
    let next = &t.ops[m].args;
    let invariant = |k: u16| next[k as usize] == Val::Input(k);
    // What each operation depends on, in one pass (operands come first).
    let def = |v: Val| match v {
        Val::Op(x) => t.ops.get(x as usize),
        _ => None,
    };
    let writes: Vec<usize> = (0..m)
        .filter(|&w| {
            matches!(
                t.ops[w].opcode.class(),
                OpClass::Write | OpClass::Alloc | OpClass::Call
            )
        })
        .collect();
    let mut dep = vec![Dep::No; m];
    for (i, op) in t.ops[..m].iter().enumerate() {
        if !may_run_again(op) {
            continue;
        }
        let mut d = Dep::Invariant;
        for a in &op.args {
            let da = match *a {
                Val::Input(k) if !invariant(k) => Dep::Variant,
                Val::Op(x) => dep[x as usize],
                _ => Dep::Invariant,
            };
            d = match (d, da) {
                (Dep::No, _) | (_, Dep::No) => Dep::No,
                (Dep::Variant, _) | (_, Dep::Variant) => Dep::Variant,
                _ => Dep::Invariant,
            };
        }
        // A read gives the same value at the header, where it runs, and at
        // the label, where the loop takes it, when the iteration writes
        // its location neither before it nor after it (or only to put the
        // value it read back).
        if d == Dep::Invariant {
            if let Some(loc) = read_loc(tables, &op.opcode, &op.args, &def) {
                let bearing = |w: &usize| bears(tables, &t.ops[*w], &loc, &def) != Bears::No;
                let before = writes.iter().take_while(|&&w| w < i).any(|w| bearing(w));
                let last_after = writes
                    .iter()
                    .rev()
                    .take_while(|&&w| w > i)
                    .find(|w| bearing(w));
                let restores = |w: &usize| {
                    bears(tables, &t.ops[*w], &loc, &def) == Bears::Stores(Val::Op(i as u32))
                };
                if before || last_after.is_some_and(|w| !restores(w)) {
                    d = Dep::Variant;
                }
            }
        }
        dep[i] = d;
    }
    let why_not = |i: u32| -> String {
        match dep[i as usize] {
            Dep::Variant => format!("operation {i} uses a variant input"),
            _ => format!(
                "operation {i} ({:?}) cannot run again at the loop header",
                t.ops[i as usize].opcode
            ),
        }
    };

    // The values the loop needs.
    let mut r = Resolver {
        t,
        tables,
        dep: &dep,
        extras: Vec::new(),
        memo: HashMap::default(),
        recomputed: Vec::new(),
    };
    let mut gives: HashMap<u32, u32> = HashMap::default();
    let mut held_inputs: Vec<(u16, usize)> = Vec::new();
    for s in sources {
        match *s {
            SlotSource::Header(k) => {
                // A variant input's next value, which the iteration also
                // stored: the loop may read it back from memory, and take
                // it for the input. The short preamble reads it and checks
                // that it is the header's value.
                if let Val::Op(j) = next[k as usize] {
                    if let Some((w, read)) = stored_at(t, j, &dep, tables) {
                        if read.result == Some(Kind::Int) {
                            let held = r.read_and_check(Val::Input(k), w, read);
                            gives.insert(held as u32, j);
                            held_inputs.push((k, held));
                        }
                    }
                }
            }
            SlotSource::Previous(_) => {
                return Err("the loop needs a variant input's previous value".into());
            }
            SlotSource::Carried(k, _) => {
                return Err(format!(
                    "the loop carries the fields of an object in input {k} around its back edge"
                ));
            }
            SlotSource::Op(i) => match r.value_at_label(i, 0)? {
                Arg::Val(_) => {}
                Arg::Extra(e) => {
                    gives.insert(e as u32, i);
                }
            },
        }
    }
    let Resolver {
        extras, recomputed, ..
    } = r;

    // Everything they need, then the guards on what does not change.
    let mut in_short = vec![false; m];
    let mut work: Vec<u32> = recomputed;
    let close = |work: &mut Vec<u32>, in_short: &mut Vec<bool>| -> Result<(), String> {
        while let Some(i) = work.pop() {
            if in_short[i as usize] {
                continue;
            }
            if dep[i as usize] == Dep::No {
                return Err(why_not(i));
            }
            let op = &t.ops[i as usize];
            in_short[i as usize] = true;
            work.extend(op.args.iter().filter_map(|a| match a {
                Val::Op(x) => Some(*x),
                _ => None,
            }));
        }
        Ok(())
    };
    close(&mut work, &mut in_short)?;
    // Every guard on values the iteration does not change: the loop may
    // rely on any of them, and each read comes after those before it in
    // the iteration. (A guard on values the iteration changes protects no
    // read of the short preamble: those are of values it does not change.)
    work.extend(
        (0..m as u32)
            .filter(|&g| t.ops[g as usize].opcode.is_guard() && dep[g as usize] == Dep::Invariant),
    );
    close(&mut work, &mut in_short)?;
    check_items_bounded(t, &in_short)?;

    // In P's order; a read standing for a stored value goes where the
    // store was, and what is computed from it after that.
    enum Item {
        P(u32),
        Extra(usize),
    }
    let mut order: Vec<(u32, usize, Item)> = (0..m as u32)
        .filter(|&i| in_short[i as usize])
        .map(|i| (i, 0, Item::P(i)))
        .collect();
    order.extend(
        extras
            .iter()
            .enumerate()
            .map(|(e, x)| (x.at, 1 + e, Item::Extra(e))),
    );
    order.sort_by_key(|&(at, seq, _)| (at, seq));
    let mut pos_p: HashMap<u32, u32> = HashMap::default();
    let mut pos_extra: Vec<u32> = vec![0; extras.len()];
    let mut ops = Vec::with_capacity(order.len());
    let mut slots = Vec::with_capacity(order.len());
    let mut changing = Vec::with_capacity(order.len());
    let renumber = |v: Val, pos_p: &HashMap<u32, u32>| match v {
        Val::Op(x) => Val::Op(pos_p[&x]),
        v => v,
    };
    for (_, _, item) in order {
        let at = ops.len() as u32;
        match item {
            Item::P(i) => {
                let mut c = t.ops[i as usize].clone();
                c.args = c.args.iter().map(|a| renumber(*a, &pos_p)).collect();
                if c.guard.is_some() {
                    c.guard = Some(0);
                }
                pos_p.insert(i, at);
                ops.push(c);
                changing.push(false);
                slots.push(
                    (dep[i as usize] == Dep::Invariant && t.ops[i as usize].result.is_some())
                        .then_some(i),
                );
            }
            Item::Extra(e) => {
                let x = &extras[e];
                let args = x
                    .args
                    .iter()
                    .map(|a| match *a {
                        Arg::Val(v) => renumber(v, &pos_p),
                        Arg::Extra(y) => Val::Op(pos_extra[y]),
                    })
                    .collect();
                pos_extra[e] = at;
                changing.push(true);
                ops.push(TraceOp {
                    opcode: x.opcode.clone(),
                    args,
                    result: x.result,
                    guard: x.opcode.is_guard().then_some(0),
                });
                slots.push(gives.get(&(e as u32)).copied());
            }
        }
    }
    let held_inputs = held_inputs
        .into_iter()
        .map(|(k, e)| (k, pos_extra[e]))
        .collect();
    Ok(ShortOps {
        ops,
        slots,
        changing,
        held_inputs,
    })
}

/// An operand of an operation the short preamble adds.
#[derive(Clone, Copy, Debug)]
enum Arg {
    /// A value of `P`: an input, a constant, or an operation of `P`
    /// computed again at the header.
    Val(Val),
    /// Another added operation.
    Extra(usize),
}

/// An operation the short preamble adds to give a value of `P` as of the
/// label: a read of the location the iteration stored it to, or a pure
/// operation on such reads.
struct Extra {
    /// Where in `P` it belongs (after the store it stands for).
    at: u32,
    opcode: Opcode,
    args: Vec<Arg>,
    result: Option<Kind>,
}

/// Finds how the short preamble gives each value the loop needs.
struct Resolver<'a> {
    t: &'a Trace,
    tables: &'a Tables,
    dep: &'a [Dep],
    extras: Vec<Extra>,
    memo: HashMap<u32, Arg>,
    /// Operations of `P` computed again at the header.
    recomputed: Vec<u32>,
}

impl Resolver<'_> {
    /// Read the location `read` reads (the iteration stored there last,
    /// at `at`, the value `value` has at the next header) and check that
    /// it holds `value`: the added read, by index in `extras`.
    fn read_and_check(&mut self, value: Val, at: u32, read: TraceOp) -> usize {
        self.recompute_operands(&read);
        self.extras.push(Extra {
            at,
            opcode: read.opcode,
            args: read.args.iter().map(|a| Arg::Val(*a)).collect(),
            result: read.result,
        });
        let held = self.extras.len() - 1;
        self.extras.push(Extra {
            at,
            opcode: Opcode::IntCmp(CmpOp::Eq, IntTy::I64),
            args: vec![Arg::Extra(held), Arg::Val(value)],
            result: Some(Kind::Int),
        });
        let same = self.extras.len() - 1;
        self.extras.push(Extra {
            at,
            opcode: Opcode::GuardTrue,
            args: vec![Arg::Extra(same)],
            result: None,
        });
        held
    }

    /// The iteration left `value` (computed again at the header) in the
    /// location `read` reads, last stored at `at`, and the loop reads it
    /// back from memory: check at the header that the location holds it,
    /// and store it there again (it changes nothing; the loop is then
    /// checked and entered knowing what the location holds, as after the
    /// preamble).
    fn restate(&mut self, value: Val, at: u32, read: TraceOp) {
        if read.result != Some(Kind::Int) {
            return;
        }
        let write = match read.opcode {
            Opcode::GetField(d) => Opcode::SetField(d),
            Opcode::Load(ty) => Opcode::Store(ty),
            Opcode::VecLen(d) => Opcode::VecSetLen(d),
            Opcode::GetItem(d) => Opcode::SetItem(d),
            _ => unreachable!("stored_at reads what a store wrote"),
        };
        let mut args: Vec<Arg> = read.args.iter().map(|a| Arg::Val(*a)).collect();
        args.push(Arg::Val(value));
        self.read_and_check(value, at, read);
        self.extras.push(Extra {
            at,
            opcode: write,
            args,
            result: None,
        });
    }

    /// The operands of `read` (an added read) are computed again.
    fn recompute_operands(&mut self, read: &TraceOp) {
        for a in &read.args {
            if let Val::Op(x) = a {
                self.recomputed.push(*x);
            }
        }
    }

    /// How the short preamble gives operation `i`'s value as of the label.
    fn value_at_label(&mut self, i: u32, depth: usize) -> Result<Arg, String> {
        if let Some(a) = self.memo.get(&i) {
            return Ok(*a);
        }
        let t = self.t;
        let op = &t.ops[i as usize];
        let a = if self.dep[i as usize] == Dep::Invariant {
            self.recomputed.push(i);
            if let Some((w, read)) = stored_at(t, i, self.dep, self.tables) {
                self.restate(Val::Op(i), w.max(i), read);
            }
            Arg::Val(Val::Op(i))
        } else if let Some((w, read)) = stored_at(t, i, self.dep, self.tables) {
            self.recompute_operands(&read);
            self.extras.push(Extra {
                at: w,
                opcode: read.opcode,
                args: read.args.iter().map(|a| Arg::Val(*a)).collect(),
                result: read.result,
            });
            Arg::Extra(self.extras.len() - 1)
        } else if op.opcode.is_pure()
            && !matches!(op.opcode, Opcode::IntBin(IntBinOp::Div | IntBinOp::Rem, _))
            && self.dep[i as usize] == Dep::Variant
            && depth < 64
        {
            let next = &t.ops.last().expect("a loop ends with jump").args;
            let mut args = Vec::with_capacity(op.args.len());
            let mut at = i;
            for v in op.args.clone() {
                let arg = match v {
                    Val::Input(k) if next[k as usize] != v => {
                        return Err(format!("operation {i} uses a variant input"));
                    }
                    Val::Op(x) => self.value_at_label(x, depth + 1)?,
                    v => Arg::Val(v),
                };
                if let Arg::Extra(e) = arg {
                    at = at.max(self.extras[e].at);
                }
                args.push(arg);
            }
            self.extras.push(Extra {
                at,
                opcode: op.opcode.clone(),
                args,
                result: op.result,
            });
            Arg::Extra(self.extras.len() - 1)
        } else {
            return Err(match self.dep[i as usize] {
                Dep::Variant => format!("operation {i} uses a variant input"),
                _ => format!(
                    "operation {i} ({:?}) cannot run again at the loop header",
                    op.opcode
                ),
            });
        };
        self.memo.insert(i, a);
        Ok(a)
    }
}

/// May `op` of the loop trace run again at the header (given operands
/// that may)? Pure operations, reads of memory and guards.
fn may_run_again(op: &TraceOp) -> bool {
    match op.opcode {
        Opcode::CallResult(..) => false,
        ref o => matches!(o.class(), OpClass::Pure | OpClass::Read | OpClass::Guard),
    }
}

/// When operation `i` of `t` (a value of the iteration that the header
/// does not give) is what the iteration stored last to a location whose
/// address is loop-invariant: where that store is, and the read of the
/// location that gives the value at the next header.
fn stored_at(t: &Trace, i: u32, dep: &[Dep], tables: &Tables) -> Option<(u32, TraceOp)> {
    let m = t.ops.len() - 1;
    let v = Val::Op(i);
    let next = &t.ops[m].args;
    let invariant = |a: &Val| match *a {
        Val::Op(x) => dep[x as usize] == Dep::Invariant,
        Val::Input(k) => next[k as usize] == *a,
        _ => true,
    };
    let def = |x: Val| match x {
        Val::Op(k) => t.ops.get(k as usize),
        _ => None,
    };
    let (w, read, kind) = (0..m).rev().find_map(|w| {
        let op = &t.ops[w];
        let (opcode, value, ty) = match op.opcode {
            Opcode::SetField(d) => (Opcode::GetField(d), op.args[1], tables.fields[d].ty?),
            Opcode::Store(ty) => (Opcode::Load(ty), op.args[1], ty),
            Opcode::VecSetLen(d) => (
                Opcode::VecLen(d),
                op.args[1],
                crate::jitcode::ScalarTy::Int(IntTy::Usize),
            ),
            // (An item of an array held in an object: a `Vec`'s items
            // may be elsewhere at the header.)
            Opcode::SetItem(d)
                if !matches!(def(op.args[0]).map(|o| &o.opcode), Some(Opcode::VecPtr(_))) =>
            {
                (Opcode::GetItem(d), op.args[2], tables.arrays[d].item?)
            }
            _ => return None,
        };
        (value == v).then(|| {
            let args = op.args[..op.args.len() - 1].to_vec();
            (
                w,
                TraceOp {
                    opcode,
                    args,
                    result: Some(ty.kind()),
                    guard: None,
                },
                ty,
            )
        })
    })?;
    if !read.args.iter().all(invariant) || !reads_back(tables, v, kind, &def) {
        return None;
    }
    // Nothing after the store may change the location again.
    let loc = read_loc(tables, &read.opcode, &read.args, &def)?;
    let later_writes = t.ops[w + 1..m]
        .iter()
        .any(|o| bears(tables, o, &loc, &def) != Bears::No);
    (!later_writes).then_some((w as u32, read))
}

/// An item of a `Vec` read by the short preamble must have its index
/// checked by one of its guards against a length: the iteration may have
/// dropped that check because it had just stored the length itself, and
/// the header's `Vec` may be shorter.
fn check_items_bounded(t: &Trace, in_short: &[bool]) -> Result<(), String> {
    let def = |v: Val| match v {
        Val::Op(x) => Some(&t.ops[x as usize]),
        _ => None,
    };
    // Lengths: read, or set by the iteration (`vec_set_len` is at most the
    // capacity, which the iteration checked before).
    let set_lengths: Vec<Val> = t
        .ops
        .iter()
        .filter(|o| matches!(o.opcode, Opcode::VecSetLen(_)))
        .map(|o| o.args[1])
        .collect();
    let from_vec_len = |v: Val| -> bool {
        let mut work = vec![v];
        let mut seen = 0;
        while let Some(v) = work.pop() {
            seen += 1;
            if seen > 64 {
                return false;
            }
            if set_lengths.contains(&v) {
                return true;
            }
            if let Some(op) = def(v) {
                if matches!(op.opcode, Opcode::VecLen(_)) {
                    return true;
                }
                if op.opcode.is_pure() {
                    work.extend(op.args.iter().copied());
                }
            }
        }
        false
    };
    // Indices compared with a length by a comparison a guard checks.
    let mut checked: Vec<(usize, Val)> = Vec::new();
    for (i, op) in t.ops.iter().enumerate() {
        if !in_short.get(i).copied().unwrap_or(false) || !op.opcode.is_guard() {
            continue;
        }
        if let Some(Opcode::IntCmp(..)) = op.args.first().and_then(|a| def(*a)).map(|c| &c.opcode) {
            let c = def(op.args[0]).expect("matched");
            for (x, y) in [(c.args[0], c.args[1]), (c.args[1], c.args[0])] {
                if from_vec_len(y) {
                    checked.push((i, x));
                }
            }
        }
    }
    // (The reads the short preamble adds for stored values are of fields
    // and lengths, not items; the items they compute addresses of are read
    // by the loop, after its own guards.)
    // The items the short preamble reads: `getitem`s, and reads at an
    // `itemaddr` (an address alone reads nothing).
    let read_at = |x: u32| {
        t.ops[..in_short.len()].iter().enumerate().any(|(i, o)| {
            in_short[i] && o.opcode.class() == OpClass::Read && o.args.first() == Some(&Val::Op(x))
        })
    };
    let items = t.ops[..in_short.len()]
        .iter()
        .enumerate()
        .filter(|(i, _)| in_short[*i])
        .map(|(i, op)| (i as u32, op))
        .filter(|(i, op)| match op.opcode {
            Opcode::GetItem(_) => true,
            Opcode::ItemAddr(_) => read_at(*i),
            _ => false,
        });
    for (i, op) in items {
        let from_vec = matches!(def(op.args[0]).map(|o| &o.opcode), Some(Opcode::VecPtr(_)));
        let bounded = checked
            .iter()
            .any(|&(g, x)| g < i as usize && x == op.args[1]);
        if from_vec && !bounded {
            return Err(format!(
                "operation {i} ({:?}) reads an item whose index no guard before it checks",
                op.opcode
            ));
        }
    }
    Ok(())
}

/// How a write of the loop trace bears on a location.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bears {
    No,
    /// It writes exactly the location, this value (which reads back).
    Stores(Val),
    /// It may change it.
    Clobbers,
}

/// How operation `w` bears on location `loc` (the alias rules of the heap
/// pass, `alias.rs`).
fn bears<'e>(
    tables: &Tables,
    w: &TraceOp,
    loc: &Loc,
    def: &dyn Fn(Val) -> Option<&'e TraceOp>,
) -> Bears {
    let scalar = |wl: Loc, v: Val, ty: Option<crate::jitcode::ScalarTy>| {
        if wl == *loc {
            match ty {
                Some(ty) if reads_back(tables, v, ty, def) => Bears::Stores(v),
                _ => Bears::Clobbers,
            }
        } else if matches!(loc, Loc::Tag { .. })
            || (is_scalar(loc) && scalars_may_alias(tables, &wl, loc, def, None))
        {
            Bears::Clobbers
        } else {
            Bears::No
        }
    };
    let vec_header = |d: crate::jitcode::ArrayId, vec: Val, only_len: bool| match *loc {
        Loc::VecLen { vec: v2, descr } => vecs_may_alias(tables, d, descr) && may_equal(vec, v2),
        Loc::VecPtr { vec: v2, descr } | Loc::VecCap { vec: v2, descr } => {
            !only_len && vecs_may_alias(tables, d, descr) && may_equal(vec, v2)
        }
        Loc::Item { descr, .. } => !only_len && items_may_alias(tables, d, descr),
        Loc::Raw { .. } | Loc::Tag { .. } => true,
        _ => false,
    };
    match w.opcode {
        Opcode::SetField(d) => scalar(
            Loc::Field {
                base: w.args[0],
                descr: d,
            },
            w.args[1],
            tables.fields[d].ty,
        ),
        Opcode::Store(ty) => scalar(
            raw_loc(tables, def(w.args[0]), w.args[0], ty),
            w.args[1],
            Some(ty),
        ),
        Opcode::SetItem(d) => scalar(
            Loc::Item {
                ptr: w.args[0],
                idx: w.args[1],
                descr: d,
            },
            w.args[2],
            tables.arrays[d].item,
        ),
        Opcode::VecSetLen(d) => {
            let exact = Loc::VecLen {
                vec: w.args[0],
                descr: d,
            };
            if exact == *loc {
                Bears::Stores(w.args[1])
            } else if vec_header(d, w.args[0], true) {
                Bears::Clobbers
            } else {
                Bears::No
            }
        }
        Opcode::VecPush(d) | Opcode::VecPopNonEmpty(d) | Opcode::VecReserve(d) => {
            if vec_header(d, w.args[0], false) {
                Bears::Clobbers
            } else {
                Bears::No
            }
        }
        Opcode::CallResidual(c) => {
            if call_effects(tables, c).may_change(tables, loc, def) {
                Bears::Clobbers
            } else {
                Bears::No
            }
        }
        Opcode::New(_) | Opcode::CallPure(_) => Bears::No,
        ref o if matches!(o.class(), OpClass::Write | OpClass::Alloc | OpClass::Call) => {
            Bears::Clobbers
        }
        _ => Bears::No,
    }
}
