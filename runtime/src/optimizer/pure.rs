//! Common subexpressions (RPython's `pure.py`).
//!
//! - A pure operation with the same opcode and arguments as an earlier one
//!   reuses its result. Commutative operations and mirrored comparisons
//!   (`a < b` / `b > a`) are recognized.
//! - An elidable call (`call_pure`) with the same jitcode and arguments as
//!   an earlier one is dropped, and the `call_result`s after it reuse the
//!   earlier call's results (when every result it reads was read after
//!   the earlier call too; else it stays, and fills in what was missing).
//! - Guards: a guard on a value already guarded the same way goes
//!   (`guard_true(x)` twice, `guard_value(x, c)` twice); a guard that
//!   contradicts an earlier one (`guard_false(x)` after `guard_true(x)`)
//!   always fails: it stays and ends the reachable trace. After
//!   `guard_true(int_lt(a, b))`, `int_lt(a, b)` is 1 and `int_ge(a, b)` is
//!   0 (and the other way round after `guard_false`).

use super::emit::{call_results_after, recycle, Emitter, GuardFate};
use super::Ctx;
use crate::jitcode::JitCodeId;
use crate::jitcode::{CmpOp, IntBinOp};
use crate::trace::{GuardInfo, Opcode, Trace, Val};
use rustc_hash::FxHashMap as HashMap;
use std::cell::Cell;

/// What a guard established about a value.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Fact {
    NonZero,
    Zero,
    Value(u64),
}

/// A total order on values, to put commutative arguments in one order.
fn val_key(v: Val) -> (u8, u64) {
    match v {
        Val::Input(i) => (0, i as u64),
        Val::Op(i) => (1, i as u64),
        Val::Int(c) => (2, c as u64),
        Val::Ref(r) => (3, r as u64),
        Val::Float(b) => (4, b),
        Val::Virtual(i) => (5, i as u64),
    }
}

/// The `op'` with `a op b == b op' a`.
pub(crate) fn mirror(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Eq => CmpOp::Eq,
        CmpOp::Ne => CmpOp::Ne,
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::Le => CmpOp::Ge,
        CmpOp::Ge => CmpOp::Le,
    }
}

/// `!(a op b)` as a comparison.
pub(crate) fn negate(op: CmpOp) -> CmpOp {
    match op {
        CmpOp::Eq => CmpOp::Ne,
        CmpOp::Ne => CmpOp::Eq,
        CmpOp::Lt => CmpOp::Ge,
        CmpOp::Ge => CmpOp::Lt,
        CmpOp::Le => CmpOp::Gt,
        CmpOp::Gt => CmpOp::Le,
    }
}

/// The canonical form of a pure operation, for lookups.
fn canon(opcode: &Opcode, args: &[Val]) -> Key {
    let mut a = [PAD; 2];
    let n = args.len().min(2);
    a[..n].copy_from_slice(&args[..n]);
    let sort = |a: &mut [Val; 2]| {
        if val_key(args[1]) < val_key(args[0]) {
            a.swap(0, 1);
        }
    };
    let op = match opcode {
        Opcode::IntBin(
            IntBinOp::Add | IntBinOp::Mul | IntBinOp::And | IntBinOp::Or | IntBinOp::Xor,
            _,
        )
        | Opcode::IntCmp(CmpOp::Eq | CmpOp::Ne, _) => {
            sort(&mut a);
            opcode.clone()
        }
        Opcode::IntCmp(CmpOp::Gt, t) => {
            a.swap(0, 1);
            Opcode::IntCmp(CmpOp::Lt, *t)
        }
        Opcode::IntCmp(CmpOp::Ge, t) => {
            a.swap(0, 1);
            Opcode::IntCmp(CmpOp::Le, *t)
        }
        o => o.clone(),
    };
    Key {
        op,
        n: args.len() as u8,
        args: a,
    }
}

/// Fills the unused argument slots of a [`Key`] (`Key::n` tells them
/// apart).
const PAD: Val = Val::Int(0);

/// A pure operation in canonical form: held inline, as pure operations
/// take one or two arguments.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    op: Opcode,
    n: u8,
    args: [Val; 2],
}

struct Table {
    by_key: HashMap<Key, Val>,
}

impl Table {
    /// The earlier result of `opcode(args)`, else its key (if it may
    /// have one) to insert it under. (No pure operation takes more than
    /// two arguments; one that did would just not be shared.)
    fn get(&self, opcode: &Opcode, args: &[Val]) -> Result<Val, Option<Key>> {
        if args.len() > 2 {
            return Err(None);
        }
        let key = canon(opcode, args);
        match self.by_key.get(&key) {
            Some(v) => Ok(*v),
            None => Err(Some(key)),
        }
    }
    fn insert(&mut self, opcode: &Opcode, args: &[Val], v: Val) {
        if args.len() <= 2 {
            self.by_key.insert(canon(opcode, args), v);
        }
    }
}

pub fn run(mut trace: Trace, _cx: &Ctx) -> Trace {
    // (Its resume data moves to the output: see `Emitter::consuming`.)
    let guards = std::mem::take(&mut trace.guards);
    let out = cse(&trace, guards);
    recycle(trace);
    out
}

fn cse(trace: &Trace, guards: Vec<GuardInfo>) -> Trace {
    let mut e = Emitter::consuming(trace, guards);
    let src = e.src();
    // (The thread's table, emptied: it keeps the capacity the largest
    // trace so far needed, so that neither growing it nor allocating one
    // per run (page faults, for long traces) costs anything.)
    let mut table = Table {
        by_key: SPARE_TABLE.take(),
    };
    table.by_key.clear();
    // (Sized once: growing it guard by guard was most of what hashing
    // cost this pass on mandel.b's short traces.)
    let mut facts: HashMap<Val, Fact> =
        HashMap::with_capacity_and_hasher(trace.ops.len() / 4, Default::default());
    // Elidable calls seen: (jitcode, args) → their results by number.
    let mut calls: HashMap<(JitCodeId, Vec<Val>), Vec<Option<Val>>> = HashMap::default();
    // The kept call whose results are being read, if elidable.
    let mut current: Option<(JitCodeId, Vec<Val>)> = None;
    // The results of a call that was dropped as a duplicate.
    let mut reuse: Option<Vec<Option<Val>>> = None;
    // A `guard_not_invalidated` kept since the last residual call (or
    // label): a later one is redundant, as nothing in between can write a
    // quasi-immutable field (RPython's `_remove_guard_not_invalidated`).
    let mut not_invalidated_checked = false;
    let mut args = Vec::new();
    while let Some(i) = e.next_op(&mut args) {
        let op = &src.ops[i];
        match &op.opcode {
            Opcode::GuardNotInvalidated if not_invalidated_checked => e.drop_op(i),
            Opcode::GuardNotInvalidated => {
                not_invalidated_checked = true;
                e.keep(i, e.vals(&args));
            }
            Opcode::Label => {
                not_invalidated_checked = false;
                e.keep(i, e.vals(&args));
            }
            o if o.is_pure() => match table.get(o, &args) {
                Ok(v) => e.replace(i, v),
                Err(key) => {
                    let v = e.keep(i, e.vals(&args));
                    if let Some(key) = key {
                        table.by_key.insert(key, v);
                    }
                }
            },
            Opcode::CallPure(j) => {
                reuse = None;
                let key = (*j, args.clone());
                if let Some(prev) = calls.get(&key) {
                    let wanted = call_results_after(src, i);
                    if wanted
                        .iter()
                        .all(|(_, n, _)| prev.get(*n as usize).is_some_and(|v| v.is_some()))
                    {
                        reuse = Some(prev.clone());
                        current = None;
                        continue;
                    }
                }
                e.keep(i, e.vals(&args));
                calls.entry(key.clone()).or_default();
                current = Some(key);
            }
            Opcode::CallResidual(_) | Opcode::CallAssembler(_) => {
                reuse = None;
                current = None;
                not_invalidated_checked = false;
                e.keep(i, e.vals(&args));
            }
            Opcode::CallResult(n, _) => {
                let n = *n as usize;
                if let Some(r) = &reuse {
                    e.replace(i, r[n].expect("checked at the call"));
                } else {
                    let v = e.keep(i, e.vals(&args));
                    if let Some(key) = &current {
                        let slots = calls.get_mut(key).expect("entered at the call");
                        if slots.len() <= n {
                            slots.resize(n + 1, None);
                        }
                        slots[n].get_or_insert(v);
                    }
                }
            }
            Opcode::GuardTrue | Opcode::GuardFalse | Opcode::GuardValue => {
                let args = e.vals(&args);
                guard(&mut e, i, args, &mut facts, &mut table);
            }
            _ => {
                e.keep(i, e.vals(&args));
            }
        }
    }
    SPARE_TABLE.set(table.by_key);
    e.finish()
}

thread_local! {
    /// The CSE table between runs (see `cse`).
    static SPARE_TABLE: Cell<HashMap<Key, Val>> = Cell::new(HashMap::default());
}

fn guard(
    e: &mut Emitter,
    i: usize,
    args: Vec<Val>,
    facts: &mut HashMap<Val, Fact>,
    table: &mut Table,
) {
    let opcode = &e.src().ops[i].opcode;
    let x = args[0];
    let second = args.get(1).copied();
    let known = facts.get(&x).copied();
    // Some(true): always holds; Some(false): always fails.
    let decided = match (opcode, known) {
        (_, None) => None,
        (Opcode::GuardTrue, Some(f)) => Some(match f {
            Fact::NonZero => true,
            Fact::Zero => false,
            Fact::Value(c) => c != 0,
        }),
        (Opcode::GuardFalse, Some(f)) => Some(match f {
            Fact::NonZero => false,
            Fact::Zero => true,
            Fact::Value(c) => c == 0,
        }),
        (Opcode::GuardValue, Some(f)) => match second.and_then(|a| a.const_bits()) {
            None => None,
            Some(c) => match f {
                Fact::Value(k) => Some(k == c),
                Fact::Zero => Some(c == 0),
                Fact::NonZero if c == 0 => Some(false),
                Fact::NonZero => None,
            },
        },
        _ => None,
    };
    let Some(args) = e.settle_guard(i, args, decided) else {
        return;
    };
    if e.keep_guard(i, args, &[]) != GuardFate::Kept {
        return;
    }
    let fact = match opcode {
        Opcode::GuardTrue => Fact::NonZero,
        Opcode::GuardFalse => Fact::Zero,
        _ => match second.and_then(|a| a.const_bits()) {
            Some(c) => Fact::Value(c),
            None => return,
        },
    };
    facts.insert(x, fact);
    // A comparison guarded: it and its negation are known.
    let truth = match fact {
        Fact::NonZero => 1,
        Fact::Zero => 0,
        Fact::Value(c) => c as i64,
    };
    if let Some(d) = e.def(x) {
        if let Opcode::IntCmp(op, t) = d.opcode {
            if truth == 0 || truth == 1 {
                table.insert(&Opcode::IntCmp(op, t), &d.args, Val::Int(truth));
                table.insert(&Opcode::IntCmp(negate(op), t), &d.args, Val::Int(1 - truth));
            }
        }
    }
}
