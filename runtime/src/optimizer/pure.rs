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

use super::emit::{call_results_after, Emitter, GuardFate};
use super::Ctx;
use crate::jitcode::{CmpOp, IntBinOp};
use crate::trace::{Opcode, Trace, Val};
use rustc_hash::FxHashMap as HashMap;

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
fn canon(opcode: &Opcode, args: &[Val]) -> (Opcode, Vec<Val>) {
    let mut args = args.to_vec();
    let sort = |args: &mut Vec<Val>| {
        if val_key(args[1]) < val_key(args[0]) {
            args.swap(0, 1);
        }
    };
    let opcode = match opcode {
        Opcode::IntBin(
            IntBinOp::Add | IntBinOp::Mul | IntBinOp::And | IntBinOp::Or | IntBinOp::Xor,
            _,
        )
        | Opcode::IntCmp(CmpOp::Eq | CmpOp::Ne, _) => {
            sort(&mut args);
            opcode.clone()
        }
        Opcode::IntCmp(CmpOp::Gt, t) => {
            args.swap(0, 1);
            Opcode::IntCmp(CmpOp::Lt, *t)
        }
        Opcode::IntCmp(CmpOp::Ge, t) => {
            args.swap(0, 1);
            Opcode::IntCmp(CmpOp::Le, *t)
        }
        o => o.clone(),
    };
    (opcode, args)
}

#[derive(Default)]
struct Table {
    by_args: HashMap<Vec<Val>, Vec<(Opcode, Val)>>,
}

impl Table {
    fn get(&self, opcode: &Opcode, args: &[Val]) -> Option<Val> {
        let (o, a) = canon(opcode, args);
        self.by_args
            .get(&a)?
            .iter()
            .find(|(k, _)| *k == o)
            .map(|(_, v)| *v)
    }
    fn insert(&mut self, opcode: &Opcode, args: &[Val], v: Val) {
        let (o, a) = canon(opcode, args);
        let list = self.by_args.entry(a).or_default();
        match list.iter_mut().find(|(k, _)| *k == o) {
            Some(slot) => slot.1 = v,
            None => list.push((o, v)),
        }
    }
}

pub fn run(trace: Trace, _cx: &Ctx) -> Trace {
    let mut e = Emitter::new(&trace);
    let mut table = Table::default();
    let mut facts: HashMap<Val, Fact> = HashMap::default();
    // Elidable calls seen: (jitcode, args) → their results by number.
    let mut calls: HashMap<(u16, Vec<Val>), Vec<Option<Val>>> = HashMap::default();
    // The kept call whose results are being read, if elidable.
    let mut current: Option<(u16, Vec<Val>)> = None;
    // The results of a call that was dropped as a duplicate.
    let mut reuse: Option<Vec<Option<Val>>> = None;
    for i in 0..e.body_len() {
        if e.is_dead() {
            break;
        }
        let op = &trace.ops[i];
        let args = e.args(i);
        match &op.opcode {
            o if o.is_pure() => match table.get(o, &args) {
                Some(v) => e.replace(i, v),
                None => {
                    let v = e.keep(i, args.clone());
                    table.insert(o, &args, v);
                }
            },
            Opcode::CallPure(j) => {
                reuse = None;
                let key = (*j, args.clone());
                if let Some(prev) = calls.get(&key) {
                    let wanted = call_results_after(&trace, i);
                    if wanted
                        .iter()
                        .all(|(_, n, _)| prev.get(*n as usize).is_some_and(|v| v.is_some()))
                    {
                        reuse = Some(prev.clone());
                        current = None;
                        continue;
                    }
                }
                e.keep(i, args);
                calls.entry(key.clone()).or_default();
                current = Some(key);
            }
            Opcode::CallResidual(_) => {
                reuse = None;
                current = None;
                e.keep(i, args);
            }
            Opcode::CallResult(n, _) => {
                let n = *n as usize;
                if let Some(r) = &reuse {
                    e.replace(i, r[n].expect("checked at the call"));
                } else {
                    let v = e.keep(i, args);
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
                guard(&mut e, i, args, &mut facts, &mut table);
            }
            _ => {
                e.keep(i, args);
            }
        }
    }
    e.finish()
}

fn guard(
    e: &mut Emitter,
    i: usize,
    args: Vec<Val>,
    facts: &mut HashMap<Val, Fact>,
    table: &mut Table,
) {
    let opcode = e.src().ops[i].opcode.clone();
    let x = args[0];
    let known = facts.get(&x).copied();
    // Some(true): always holds; Some(false): always fails.
    let decided = match (&opcode, known) {
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
        (Opcode::GuardValue, Some(f)) => match args[1].const_bits() {
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
    match decided {
        Some(true) => {
            e.drop_op(i);
            return;
        }
        Some(false) => {
            e.keep_failing_guard(i, args);
            return;
        }
        None => {}
    }
    if e.keep_guard(i, args.clone(), &[]) != GuardFate::Kept {
        return;
    }
    let fact = match opcode {
        Opcode::GuardTrue => Fact::NonZero,
        Opcode::GuardFalse => Fact::Zero,
        _ => match args[1].const_bits() {
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
                let a = d.args.clone();
                table.insert(&Opcode::IntCmp(op, t), &a, Val::Int(truth));
                table.insert(&Opcode::IntCmp(negate(op), t), &a, Val::Int(1 - truth));
            }
        }
    }
}
