//! Order facts between the values of a trace — `a <= b`, `a < b` — and
//! what chains of them prove (`a < m <= b` is `a < b`): the comparisons
//! they decide ([`decide`]; bf's bounds check after a move left of a
//! checked cell). One implementation for the tracer's heap cache
//! (`metainterp/heapcache.rs`: orders from guards on unsigned comparisons,
//! and `x - y <= x` once `y <= x`) and the optimizer's intbounds pass
//! (`optimizer/intbounds.rs`: from guards and from `x ± c` that cannot
//! wrap, one [`Order`] per view); with [`offset_of`], a value as another
//! plus a constant. RPython keeps no relations between two values, only a
//! range per value (`intutils.IntBound`); the nearest counterpart is
//! LuaJIT's bounds-check elimination (the `ABC` rules of `lj_opt_fold.c`),
//! which drops a check an earlier one implies.

use crate::jitcode::{CmpOp, IntBinOp, IntTy};
use crate::trace::{Opcode, Val};
use rustc_hash::FxHashMap as HashMap;
use std::cell::RefCell;

/// The orders known between values, in one view of the 64-bit registers:
/// unsigned (the default) or signed.
#[derive(Default)]
pub struct Order {
    /// Constants compare as `i64` (else as `u64`).
    signed: bool,
    /// `a` → `(b, strict)`: `a <= b` (`a < b` when strict), one edge per
    /// pair.
    below: HashMap<Val, Vec<(Val, bool)>>,
    /// The keys of `below` that are constants: a search at a constant
    /// follows the edges of every constant not below it, and looking
    /// for them among all keys made `proves` a tenth of the optimizer's
    /// time on sandmark's long traces.
    const_keys: Vec<Val>,
    /// [`Order::proves`]'s work lists, kept between calls: it runs for
    /// comparisons traced and optimized.
    search: RefCell<Search>,
}

#[derive(Default)]
struct Search {
    todo: Vec<(Val, bool, u8)>,
    seen: Vec<(Val, bool)>,
    /// `seen` as a set, once it holds more than [`FEW_SEEN`]: searched
    /// linearly, long searches (from a constant, which is below what
    /// every greater constant is below) were quadratic.
    seen_set: rustc_hash::FxHashSet<(Val, bool)>,
    next: Vec<(Val, bool)>,
}

/// Values a search looks for linearly among those it saw, at most.
const FEW_SEEN: usize = 16;

impl Search {
    /// Notes `x` as seen; false if it was already.
    fn first_visit(&mut self, x: (Val, bool)) -> bool {
        if self.seen.len() < FEW_SEEN {
            if self.seen.contains(&x) {
                return false;
            }
            self.seen.push(x);
            if self.seen.len() == FEW_SEEN {
                self.seen_set.extend(self.seen.iter().copied());
            }
            return true;
        }
        if !self.seen_set.insert(x) {
            return false;
        }
        self.seen.push(x);
        true
    }
}

impl Order {
    /// An empty order of the signed view.
    pub fn signed() -> Order {
        Order {
            signed: true,
            ..Order::default()
        }
    }

    pub fn clear(&mut self) {
        self.below.clear();
        self.const_keys.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.below.is_empty()
    }

    /// A constant as a number ordered like the view (the signed view with
    /// the sign bit flipped is ordered as `u64`).
    fn num(&self, v: Val) -> Option<u64> {
        v.const_bits().map(|c| c ^ ((self.signed as u64) << 63))
    }

    /// Learn `a <= b` (`a < b` if `strict`).
    pub fn add(&mut self, a: Val, b: Val, strict: bool) {
        if a.is_const() && !self.below.contains_key(&a) {
            self.const_keys.push(a);
        }
        let edges = self.below.entry(a).or_default();
        match edges.iter_mut().find(|e| e.0 == b) {
            Some(e) => e.1 |= strict,
            None => edges.push((b, strict)),
        }
    }

    /// Learn what the comparison `a op b` of type `ty`, known to hold,
    /// says in this view: an order between `a` and `b` when the comparison
    /// is of the view's signedness (the guards of the tracer's heap cache
    /// and of the optimizer's heap pass).
    pub fn learn_cmp(&mut self, op: CmpOp, ty: IntTy, a: Val, b: Val) {
        match of_cmp(op, a, b) {
            Some((lo, hi, strict)) if ty.signed() == self.signed && lo != hi => {
                self.add(lo, hi, strict)
            }
            _ => {}
        }
    }

    /// Do the orders prove `a <= b` (`a < b` if `strict`)? A depth-first
    /// search through at most `between` values in between, that gives up
    /// after `nodes` values: a short search, not a closure (constants
    /// compare as numbers, and a constant is below whatever a greater
    /// constant is below).
    pub fn proves(&self, a: Val, b: Val, strict: bool, between: u8, nodes: usize) -> bool {
        if let (Some(x), Some(y)) = (self.num(a), self.num(b)) {
            return if strict { x < y } else { x <= y };
        }
        // Without an order from `a`, nothing is below `b` through it.
        if a.const_bits().is_none() && !self.below.contains_key(&a) {
            return false;
        }
        let mut search = self.search.borrow_mut();
        let search = &mut *search;
        search.todo.clear();
        if search.seen.len() >= FEW_SEEN {
            search.seen_set.clear();
        }
        search.seen.clear();
        // (value, strict so far, values in between).
        search.todo.push((a, false, 0u8));
        while let Some((n, st, depth)) = search.todo.pop() {
            if depth > between || search.seen.len() > nodes || !search.first_visit((n, st)) {
                continue;
            }
            let Search { todo, next, .. } = &mut *search;
            next.clear();
            if let Some(edges) = self.below.get(&n) {
                next.extend_from_slice(edges);
            }
            if let Some(c) = self.num(n) {
                for k in &self.const_keys {
                    let kc = self.num(*k).expect("a constant");
                    if c <= kc {
                        let edges = &self.below[k];
                        next.extend(edges.iter().map(|&(v, s)| (v, s || c < kc)));
                    }
                }
            }
            for &(m, s) in next.iter() {
                let st = st || s;
                if m == b && (st || !strict) {
                    return true;
                }
                if let (Some(mc), Some(bc)) = (self.num(m), self.num(b)) {
                    if mc < bc || (mc == bc && (st || !strict)) {
                        return true;
                    }
                }
                todo.push((m, st, depth + 1));
            }
        }
        false
    }
}

/// `opcode(args)` as `y + k`, when it is a 64-bit `int_add`/`int_sub` of
/// a constant (`y - c` is `y + -c`, wrapping): `y`, `k` and the type.
/// The heap cache reassociates `(y + k) + c`; different offsets of one
/// index are different items (`alias::indices_differ`).
pub fn offset_of(opcode: &Opcode, args: &[Val]) -> Option<(Val, i64, IntTy)> {
    match (opcode, args) {
        (&Opcode::IntBin(IntBinOp::Add, ty), &[y, Val::Int(k)])
        | (&Opcode::IntBin(IntBinOp::Add, ty), &[Val::Int(k), y])
            if ty.bits() == 64 =>
        {
            Some((y, k, ty))
        }
        (&Opcode::IntBin(IntBinOp::Sub, ty), &[y, Val::Int(k)]) if ty.bits() == 64 => {
            Some((y, k.wrapping_neg(), ty))
        }
        _ => None,
    }
}

/// The order `a op b` states when it holds: `(lo, hi, strict)` for `lo <
/// hi` (`lo <= hi` when not strict); none for `==` and `!=`.
pub fn of_cmp(op: CmpOp, a: Val, b: Val) -> Option<(Val, Val, bool)> {
    match op {
        CmpOp::Lt => Some((a, b, true)),
        CmpOp::Le => Some((a, b, false)),
        CmpOp::Gt => Some((b, a, true)),
        CmpOp::Ge => Some((b, a, false)),
        CmpOp::Eq | CmpOp::Ne => None,
    }
}

/// The outcome of `a op b` that `proves(x, y, strict)` (`x <= y`, or `x
/// < y` when strict) decides, if it does. (The outcome true is tried
/// first: both are proved only in code that cannot run.)
pub fn decide(op: CmpOp, a: Val, b: Val, proves: impl Fn(Val, Val, bool) -> bool) -> Option<bool> {
    match of_cmp(op, a, b) {
        Some((lo, hi, strict)) if proves(lo, hi, strict) => Some(true),
        // The mirror order: `hi <= lo` (`hi < lo`).
        Some((lo, hi, strict)) => proves(hi, lo, !strict).then_some(false),
        None => (proves(a, b, true) || proves(b, a, true)).then_some(op == CmpOp::Ne),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `x0 < x1 < ... < x39`, with each `xi` also below a value of its
    /// own that leads nowhere: searches that see more values than a
    /// linear scan of them is kept for.
    fn long_chain() -> Order {
        let mut o = Order::default();
        for i in 0..40 {
            o.add(Val::Op(i), Val::Op(i + 1), true);
            o.add(Val::Op(i), Val::Op(1000 + i), false);
        }
        o
    }

    #[test]
    fn long_searches_prove_what_chains_prove() {
        let o = long_chain();
        assert!(o.proves(Val::Op(0), Val::Op(40), true, 64, usize::MAX));
        assert!(o.proves(Val::Op(3), Val::Op(1039), true, 64, usize::MAX));
        assert!(!o.proves(Val::Op(40), Val::Op(0), false, 64, usize::MAX));
        assert!(!o.proves(Val::Op(1000), Val::Op(1), false, 64, usize::MAX));
        // Searched again, from the state the last long search left.
        assert!(o.proves(Val::Op(1), Val::Op(2), true, 64, usize::MAX));
        assert!(!o.proves(Val::Op(2), Val::Op(1), false, 64, usize::MAX));
        // Bounded searches give up.
        assert!(!o.proves(Val::Op(0), Val::Op(40), true, 8, usize::MAX));
        assert!(!o.proves(Val::Op(0), Val::Op(40), true, 64, 10));
    }

    #[test]
    fn constants_are_below_what_greater_constants_are_below() {
        let mut o = Order::default();
        for c in 0..30 {
            o.add(Val::Int(c * 10), Val::Op(c as u32), false);
        }
        // 5 <= 10 <= Op(1), and 5 <= 290 <= Op(29); nothing puts 5 below Op(0).
        assert!(o.proves(Val::Int(5), Val::Op(1), true, 4, usize::MAX));
        assert!(o.proves(Val::Int(5), Val::Op(29), true, 4, usize::MAX));
        assert!(!o.proves(Val::Int(5), Val::Op(0), false, 4, usize::MAX));
        assert!(o.proves(Val::Int(0), Val::Op(0), false, 4, usize::MAX));
        assert!(!o.proves(Val::Int(0), Val::Op(0), true, 4, usize::MAX));
    }
}
