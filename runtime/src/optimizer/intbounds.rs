//! Integer ranges (RPython's `intbounds.py`).
//!
//! Every int value gets a range, known from constants, from the type of
//! the operation or memory that produced it (`u8` is 0..=255, a `bool`
//! 0..=1, `vec_len` and `string_len` 0..=isize::MAX, comparisons 0..=1),
//! from the ranges of its operands (exact arithmetic when the result
//! cannot wrap), and from guards: after `guard_true(int_lt/usize(i, n))`,
//! `i < n` is known, so `i`'s upper bound and `n`'s lower bound tighten;
//! after `guard_true(x)`, `x != 0`; after `guard_false(x)` or
//! `guard_value(x, c)`, `x` is a constant.
//!
//! A comparison the ranges decide folds to 0 or 1 (and a guard on it then
//! goes, or always fails); a pure operation whose range is one value folds
//! to it; a value a guard narrows to one value is replaced by that
//! constant in everything after the guard.
//!
//! Beside ranges, relations between two values: after
//! `guard_false(int_ge/usize(i, n))`, `i < n`; `j = int_sub/usize(i, 10)`
//! where `i >= 10` is `j < i`. A comparison of two values the relations
//! decide (through at most one value in between: `j < i < n`, see
//! `crate::order`, which the tracer's heap cache shares) folds too — the
//! bounds check of a Brainfuck tape after a move left, when the cell
//! before the move was checked.
//!
//! Values that are a constant offset from one base (`ptr + 9`, through
//! chains of additions that cannot wrap) share what is known of the base:
//! one guarded `ptr + 9 < len` decides `ptr + 3 < len`. A guard `x + k <
//! n` is strengthened to a later guard's `x + k' < n` (`k' > k`) of the
//! same trace, which is then known: one tape check for a Brainfuck `>`
//! and the `>>>` after it (see `later_checks`).
//!
//! In loop peeling's combined trace, the copy's fresh inputs are assumed
//! to lie in the range of the preamble's values that enter them; the
//! assumption is checked on the back edge (and widened, or dropped, where
//! it does not hold): see `docs/optimizer.md`, "Loop peeling".
//!
//! A range is kept in two views of the 64-bit pattern, signed (`i64`) and
//! unsigned (`u64`), tightened against each other: an operation of a
//! signed type reads the signed view, one of an unsigned type the
//! unsigned view (int operands are canonical for their operation's type).

use super::emit::{recycle, Emitter, GuardFate, ValMap};
use super::pure::negate;
use super::Ctx;
use crate::executor as ops;
use crate::jitcode::{CmpOp, IntBinOp, IntTy, Kind, ScalarTy};
use crate::order::{self, Order};
use crate::trace::{Opcode, Trace, Val};
use rustc_hash::FxHashMap as HashMap;

/// A range of 64-bit patterns, in both views.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Bounds {
    pub slo: i64,
    pub shi: i64,
    pub ulo: u64,
    pub uhi: u64,
}

impl Bounds {
    pub const FULL: Bounds = Bounds {
        slo: i64::MIN,
        shi: i64::MAX,
        ulo: 0,
        uhi: u64::MAX,
    };

    pub fn constant(c: i64) -> Bounds {
        Bounds {
            slo: c,
            shi: c,
            ulo: c as u64,
            uhi: c as u64,
        }
    }

    /// `lo..=hi` in the signed view (`None` when empty).
    pub fn signed(lo: i64, hi: i64) -> Option<Bounds> {
        Bounds {
            slo: lo,
            shi: hi,
            ..Bounds::FULL
        }
        .normalize()
    }

    /// `lo..=hi` in the unsigned view (`None` when empty).
    pub fn unsigned(lo: u64, hi: u64) -> Option<Bounds> {
        Bounds {
            ulo: lo,
            uhi: hi,
            ..Bounds::FULL
        }
        .normalize()
    }

    /// Every canonical value of `ty`.
    pub fn of_type(ty: IntTy) -> Bounds {
        let (lo, hi) = ty.range();
        Bounds::of_view(ty, lo, hi).expect("a type's range is not empty")
    }

    /// Every canonical register value of a scalar read from memory.
    pub fn of_scalar(ty: ScalarTy) -> Bounds {
        match ty {
            ScalarTy::Int(t) => Bounds::of_type(t),
            ScalarTy::Bool => Bounds::constant(0).join(Bounds::constant(1)),
            ScalarTy::Char => Bounds::signed(0, 0x10_FFFF).unwrap(),
            _ => Bounds::FULL,
        }
    }

    /// `lo..=hi` in `ty`'s view (which must lie in `ty`'s range).
    pub fn of_view(ty: IntTy, lo: i128, hi: i128) -> Option<Bounds> {
        if lo > hi {
            return None;
        }
        if ty.signed() {
            Bounds::signed(lo as i64, hi as i64)
        } else {
            Bounds::unsigned(lo as u64, hi as u64)
        }
    }

    /// The result range of an operation of type `ty` whose exact result
    /// lies in `lo..=hi`: that, if it fits in the type (no wrap-around),
    /// else the whole type.
    pub fn of_result(ty: IntTy, r: Option<(i128, i128)>) -> Bounds {
        let (tlo, thi) = ty.range();
        match r {
            Some((lo, hi)) if tlo <= lo && lo <= hi && hi <= thi => {
                Bounds::of_view(ty, lo, hi).unwrap_or_else(|| Bounds::of_type(ty))
            }
            _ => Bounds::of_type(ty),
        }
    }

    fn normalize(mut self) -> Option<Bounds> {
        for _ in 0..2 {
            if self.slo > self.shi || self.ulo > self.uhi {
                return None;
            }
            // Signed range on one side of zero: the same patterns unsigned.
            if self.slo >= 0 || self.shi < 0 {
                self.ulo = self.ulo.max(self.slo as u64);
                self.uhi = self.uhi.min(self.shi as u64);
            }
            if self.uhi <= i64::MAX as u64 || self.ulo > i64::MAX as u64 {
                self.slo = self.slo.max(self.ulo as i64);
                self.shi = self.shi.min(self.uhi as i64);
            }
        }
        if self.slo > self.shi || self.ulo > self.uhi {
            None
        } else {
            Some(self)
        }
    }

    /// Both ranges hold (`None`: contradiction).
    pub fn meet(self, o: Bounds) -> Option<Bounds> {
        Bounds {
            slo: self.slo.max(o.slo),
            shi: self.shi.min(o.shi),
            ulo: self.ulo.max(o.ulo),
            uhi: self.uhi.min(o.uhi),
        }
        .normalize()
    }

    /// One range or the other.
    pub fn join(self, o: Bounds) -> Bounds {
        Bounds {
            slo: self.slo.min(o.slo),
            shi: self.shi.max(o.shi),
            ulo: self.ulo.min(o.ulo),
            uhi: self.uhi.max(o.uhi),
        }
    }

    /// The range as operations of type `ty` see it (within `ty`'s range).
    pub fn view(self, ty: IntTy) -> (i128, i128) {
        let (tlo, thi) = ty.range();
        let (lo, hi) = if ty.signed() {
            (self.slo as i128, self.shi as i128)
        } else {
            (self.ulo as i128, self.uhi as i128)
        };
        let (lo, hi) = (lo.max(tlo), hi.min(thi));
        if lo > hi {
            // Not canonical for `ty` (or unreachable): know nothing.
            (tlo, thi)
        } else {
            (lo, hi)
        }
    }

    /// The value, when the range holds one.
    pub fn point(self) -> Option<i64> {
        (self.slo == self.shi).then_some(self.slo)
    }
}

/// `(lo, hi)` of the four products.
fn mul_range(a: (i128, i128), b: (i128, i128)) -> Option<(i128, i128)> {
    let ps = [
        a.0.checked_mul(b.0)?,
        a.0.checked_mul(b.1)?,
        a.1.checked_mul(b.0)?,
        a.1.checked_mul(b.1)?,
    ];
    Some((*ps.iter().min().unwrap(), *ps.iter().max().unwrap()))
}

/// Smallest `2^k - 1` at least `m` (for `m >= 0`).
fn fill_bits(m: i128) -> i128 {
    let mut r: i128 = 0;
    while r < m {
        r = (r << 1) | 1;
    }
    r
}

/// The range of `a op b` at type `ty`.
pub fn int_bin_bounds(o: IntBinOp, ty: IntTy, a: Bounds, b: Bounds) -> Bounds {
    use IntBinOp::*;
    let (alo, ahi) = a.view(ty);
    let (blo, bhi) = b.view(ty);
    let shift = b.point().map(|s| ops::shift_amount(ty, s) as i128);
    let r = match o {
        Add => Some((alo + blo, ahi + bhi)),
        Sub => Some((alo - bhi, ahi - blo)),
        Mul => mul_range((alo, ahi), (blo, bhi)),
        And => {
            if alo >= 0 && blo >= 0 {
                Some((0, ahi.min(bhi)))
            } else if alo >= 0 {
                Some((0, ahi))
            } else if blo >= 0 {
                Some((0, bhi))
            } else {
                None
            }
        }
        Or | Xor => {
            if alo >= 0 && blo >= 0 {
                let lo = if o == Or { alo.max(blo) } else { 0 };
                Some((lo, fill_bits(ahi.max(bhi))))
            } else {
                None
            }
        }
        Div => {
            if !ty.signed() || alo >= 0 {
                if blo >= 1 {
                    Some((alo / bhi, ahi / blo))
                } else if !ty.signed() {
                    // (a zero divisor gives 0)
                    Some((0, ahi))
                } else {
                    None
                }
            } else {
                None
            }
        }
        Rem => {
            let mb = blo.abs().max(bhi.abs());
            if mb == 0 {
                Some((0, 0))
            } else if !ty.signed() {
                Some((0, if blo >= 1 { ahi.min(bhi - 1) } else { ahi }))
            } else {
                let m = mb - 1;
                if alo >= 0 {
                    Some((0, ahi.min(m)))
                } else if ahi <= 0 {
                    Some((alo.max(-m), 0))
                } else {
                    Some((alo.max(-m), ahi.min(m)))
                }
            }
        }
        Shl => match shift {
            Some(s) => {
                let f = 1i128 << s;
                mul_range((alo, ahi), (f, f))
            }
            None => None,
        },
        Shr => match shift {
            Some(s) => Some((alo >> s, ahi >> s)),
            None if !ty.signed() => Some((0, ahi)),
            None => Some((alo.min(0), ahi.max(0))),
        },
    };
    let r = Bounds::of_result(ty, r);
    match o {
        Add | Sub if ty.bits() == 64 => r.meet(add_sub_64(o == Sub, a, b)).unwrap_or(r),
        _ => r,
    }
}

/// `a + b` or `a - b` on 64 bits, read in both views whatever the type:
/// it is the same bit operation, and an exact result in either view is a
/// range in that view. (`usize` `i - 1` with `i` signed in
/// `0..=isize::MAX` is signed `-1..=isize::MAX - 1`: unsigned it may wrap,
/// signed it does not — and `(i - 1) + 10` is then unsigned `9..`.)
fn add_sub_64(sub: bool, a: Bounds, b: Bounds) -> Bounds {
    let (slo, shi, ulo, uhi) = if sub {
        (
            a.slo as i128 - b.shi as i128,
            a.shi as i128 - b.slo as i128,
            a.ulo as i128 - b.uhi as i128,
            a.uhi as i128 - b.ulo as i128,
        )
    } else {
        (
            a.slo as i128 + b.slo as i128,
            a.shi as i128 + b.shi as i128,
            a.ulo as i128 + b.ulo as i128,
            a.uhi as i128 + b.uhi as i128,
        )
    };
    exact_range(slo, shi)
        .meet(exact_range(ulo, uhi))
        .unwrap_or(Bounds::FULL)
}

/// The patterns of the exact values `lo..=hi`: a signed range if they fit
/// in `i64`, an unsigned one if they fit in `u64`, else anything.
fn exact_range(lo: i128, hi: i128) -> Bounds {
    let mut r = Bounds::FULL;
    if i64::MIN as i128 <= lo && hi <= i64::MAX as i128 {
        r = r
            .meet(Bounds::signed(lo as i64, hi as i64).unwrap_or(r))
            .unwrap_or(r);
    }
    if 0 <= lo && hi <= u64::MAX as i128 {
        r = r
            .meet(Bounds::unsigned(lo as u64, hi as u64).unwrap_or(r))
            .unwrap_or(r);
    }
    r
}

/// Is `a op b` at type `ty` decided by the ranges?
pub fn decide_cmp(op: CmpOp, ty: IntTy, a: Bounds, b: Bounds) -> Option<bool> {
    let (alo, ahi) = a.view(ty);
    let (blo, bhi) = b.view(ty);
    match op {
        CmpOp::Lt => {
            if ahi < blo {
                Some(true)
            } else if alo >= bhi {
                Some(false)
            } else {
                None
            }
        }
        CmpOp::Le => {
            if ahi <= blo {
                Some(true)
            } else if alo > bhi {
                Some(false)
            } else {
                None
            }
        }
        CmpOp::Gt => decide_cmp(CmpOp::Lt, ty, b, a),
        CmpOp::Ge => decide_cmp(CmpOp::Le, ty, b, a),
        CmpOp::Eq => {
            if alo == ahi && blo == bhi && alo == blo {
                Some(true)
            } else if ahi < blo || bhi < alo {
                Some(false)
            } else {
                None
            }
        }
        CmpOp::Ne => decide_cmp(CmpOp::Eq, ty, a, b).map(|x| !x),
    }
}

/// New ranges for `a` and `b` (in `ty`'s view) knowing `a op b`.
fn refine_cmp(op: CmpOp, a: (i128, i128), b: (i128, i128)) -> ((i128, i128), (i128, i128)) {
    match op {
        CmpOp::Lt => ((a.0, a.1.min(b.1 - 1)), (b.0.max(a.0 + 1), b.1)),
        CmpOp::Le => ((a.0, a.1.min(b.1)), (b.0.max(a.0), b.1)),
        CmpOp::Gt => {
            let (nb, na) = refine_cmp(CmpOp::Lt, b, a);
            (na, nb)
        }
        CmpOp::Ge => {
            let (nb, na) = refine_cmp(CmpOp::Le, b, a);
            (na, nb)
        }
        CmpOp::Eq => {
            let m = (a.0.max(b.0), a.1.min(b.1));
            (m, m)
        }
        CmpOp::Ne => {
            let cut = |x: (i128, i128), p: (i128, i128)| {
                if p.0 != p.1 {
                    x
                } else if x.0 == p.0 {
                    (x.0 + 1, x.1)
                } else if x.1 == p.0 {
                    (x.0, x.1 - 1)
                } else {
                    x
                }
            };
            (cut(a, b), cut(b, a))
        }
    }
}

struct State {
    /// The ranges known, of non-constant values (`get` gives constants').
    bounds: ValMap<Bounds>,
    /// The orders known between values, in the unsigned and the signed
    /// view (`[signed as usize]`).
    order: [Order; 2],
    /// `v` → `(x, k, signed)`: `v` is exactly `x + k` in that view (an
    /// addition of a constant that cannot wrap, or a chain of them).
    offset: HashMap<Val, (Val, i64, bool)>,
    /// `(x, n, signed)` → the largest `k` with `x + k < n` known: one
    /// guarded comparison speaks for every smaller offset from the same
    /// base (`ptr + 9 < len` makes `ptr + 3 < len` true).
    upper: HashMap<(Val, Val, bool), i64>,
}

impl State {
    /// `v` as a base and an exact offset in a view (itself plus 0).
    fn base_of(&self, v: Val, signed: bool) -> (Val, i64) {
        match self.offset.get(&v) {
            Some(&(x, k, s)) if s == signed => (x, k),
            _ => (v, 0),
        }
    }

    /// `v` is exactly `y + c` (`c` `None`: not representable): record it
    /// as an offset from `y`'s base.
    fn set_offset(&mut self, v: Val, y: Val, c: Option<i64>, signed: bool) {
        let (x, k) = self.base_of(y, signed);
        if let Some(k) = c.and_then(|c| k.checked_add(c)) {
            self.offset.insert(v, (x, k, signed));
        }
    }

    /// `x < n` (`x <= n` if not `strict`) known from an offset fact about
    /// `x`'s base.
    fn by_offset(&self, x: Val, n: Val, strict: bool, signed: bool) -> bool {
        let (b, k) = self.base_of(x, signed);
        self.upper
            .get(&(b, n, signed))
            .is_some_and(|&kk| k as i128 - !strict as i128 <= kk as i128)
    }

    /// Record `a < b` (`strict`) or `a <= b` in one view.
    fn relate(&mut self, a: Val, b: Val, strict: bool, signed: bool) {
        if a.is_const() || b.is_const() || a == b {
            return;
        }
        let (base, k) = self.base_of(a, signed);
        let k = if strict { Some(k) } else { k.checked_sub(1) };
        if let Some(k) = k {
            let best = self.upper.entry((base, b, signed)).or_insert(k);
            *best = (*best).max(k);
        }
        self.order[signed as usize].add(a, b, strict);
    }

    /// A comparison of two values decided by the relations (direct, or
    /// through one value in between) and the offset facts.
    fn decide_rel(&self, op: CmpOp, ty: IntTy, a: Val, b: Val) -> Option<bool> {
        if a.is_const() || b.is_const() {
            return None;
        }
        let s = ty.signed();
        order::decide(op, a, b, |x, y, strict| {
            self.order[s as usize].proves(x, y, strict, 1, usize::MAX)
                || self.by_offset(x, y, strict, s)
        })
    }

    fn get(&self, v: Val) -> Bounds {
        match v {
            Val::Int(c) => Bounds::constant(c),
            v => self.bounds.get(v).unwrap_or(Bounds::FULL),
        }
    }

    /// Narrow the range of `v` by `b`; false on a contradiction. A value
    /// narrowed to one constant is replaced by it from here on.
    fn narrow(&mut self, e: &mut Emitter, v: Val, b: Bounds) -> bool {
        self.narrow_through(e, v, b, 3)
    }

    /// [`State::narrow`], and back through up to `depth` additions of a
    /// constant on 64 bits that made `v`: `v = x + c` in `lo..=hi` puts
    /// `x` in `lo - c..=hi - c` (as exact values in one view or the
    /// other), so a guard on `ptr + 1` says something of `ptr`, and thus
    /// of `ptr + 10`.
    fn narrow_through(&mut self, e: &mut Emitter, v: Val, b: Bounds, depth: u32) -> bool {
        if v.is_const() {
            return self.get(v).meet(b).is_some();
        }
        let old = self.get(v);
        let n = match old.meet(b) {
            None => return false,
            Some(n) => n,
        };
        if n == old {
            return true;
        }
        self.bounds.insert(v, n);
        if let Some(p) = n.point() {
            e.learn(v, Val::Int(p));
        }
        if depth == 0 {
            return true;
        }
        let back = e.def(v).filter(|d| d.args.len() == 2).and_then(|d| {
            match (&d.opcode, d.args[0], d.args[1]) {
                (Opcode::IntBin(IntBinOp::Add, t), x, Val::Int(c))
                | (Opcode::IntBin(IntBinOp::Add, t), Val::Int(c), x)
                    if t.bits() == 64 && !x.is_const() =>
                {
                    Some((x, add_sub_64(true, n, Bounds::constant(c))))
                }
                (Opcode::IntBin(IntBinOp::Sub, t), x, Val::Int(c))
                    if t.bits() == 64 && !x.is_const() =>
                {
                    Some((x, add_sub_64(false, n, Bounds::constant(c))))
                }
                (Opcode::IntBin(IntBinOp::Sub, t), Val::Int(c), x)
                    if t.bits() == 64 && !x.is_const() =>
                {
                    Some((x, add_sub_64(true, Bounds::constant(c), n)))
                }
                _ => None,
            }
        });
        match back {
            Some((x, bx)) => self.narrow_through(e, x, bx, depth - 1),
            None => true,
        }
    }
}

pub fn run(mut trace: Trace, cx: &Ctx) -> Trace {
    // Loop peeling's combined trace: the copy's fresh inputs are assumed
    // to lie in the range of the values that enter them from the preamble,
    // and the assumption is checked on the back edge; where it does not
    // hold, the ranges are widened, and at last nothing is assumed.
    let mut assume: Assumptions = HashMap::default();
    let further = later_checks(&trace);
    if !trace.ops.iter().any(|o| o.opcode == Opcode::Label) {
        // Nothing is assumed, so one walk does: its resume data moves to
        // the output (`Emitter::consuming`).
        let guards = std::mem::take(&mut trace.guards);
        let e = Emitter::consuming(&trace, guards);
        let out = run_assuming(&trace, e, cx, &assume, &further).0;
        recycle(trace);
        return out;
    }
    for round in 0..3 {
        let e = Emitter::new(&trace);
        let (out, broken, _) = run_assuming(&trace, e, cx, &assume, &further);
        if broken.is_empty() {
            recycle(trace);
            return out;
        }
        recycle(out);
        for (j, back) in broken {
            let widened = if round == 0 { back } else { Bounds::FULL };
            assume.insert(j, widened);
        }
    }
    let all_full = (0..trace.inputs.len()).map(|j| (j, Bounds::FULL)).collect();
    let out = run_assuming(&trace, Emitter::new(&trace), cx, &all_full, &further).0;
    recycle(trace);
    out
}

/// The ranges of the final `jump`/`jump_to`'s arguments, as far as this
/// pass can tell (the trace is not changed). A bridge entering a peeled
/// loop directly must show its values lie in the ranges the loop assumes
/// (`short/`).
pub fn exit_bounds(trace: &Trace, cx: &Ctx) -> Vec<Bounds> {
    let further = later_checks(trace);
    let e = Emitter::without_resume_data(trace);
    let (out, _, exit) = run_assuming(trace, e, cx, &HashMap::default(), &further);
    recycle(out);
    exit
}

/// For each guard of the form `v < n` (on 64 bits, `v` a constant offset
/// from some base), how much further from the same base a later guard of
/// the same trace checks against the same `n`: the guard checks that
/// instead (guard strengthening). A Brainfuck `>` then `>>>` is one tape
/// check, not two: if `ptr + 4 < len` fails at the first, the program
/// leaves the trace there, and the interpreter, which does check the
/// first move alone, goes on from there exactly as it would have.
/// The later guard is then known to hold. Not across a loop-peeling
/// label (the copy's checks belong to the next iteration).
fn later_checks(trace: &Trace) -> HashMap<usize, i64> {
    let mut base: HashMap<Val, (Val, i64)> = HashMap::default();
    let base_of = |base: &HashMap<Val, (Val, i64)>, v: Val| base.get(&v).copied().unwrap_or((v, 0));
    // Guards as (op index, base, k, n, signed): `base + k < n`.
    let mut checks: Vec<(usize, Val, i64, Val, bool)> = Vec::new();
    let mut label: Option<usize> = None;
    for (i, op) in trace.ops.iter().enumerate() {
        match (&op.opcode, op.args.as_slice()) {
            (Opcode::IntBin(o @ (IntBinOp::Add | IntBinOp::Sub), t), &[x, Val::Int(c)])
                if t.bits() == 64 && !x.is_const() =>
            {
                let (b, k) = base_of(&base, x);
                let k = if *o == IntBinOp::Add {
                    k.checked_add(c)
                } else {
                    k.checked_sub(c)
                };
                if let Some(k) = k {
                    base.insert(Val::Op(i as u32), (b, k));
                }
            }
            (Opcode::Label, _) => label = label.or(Some(i)),
            (g @ (Opcode::GuardTrue | Opcode::GuardFalse), &[Val::Op(c)]) => {
                let cmp = &trace.ops[c as usize];
                let Opcode::IntCmp(op, t) = cmp.opcode else {
                    continue;
                };
                if t.bits() != 64 || cmp.args.len() != 2 {
                    continue;
                }
                let op = if *g == Opcode::GuardTrue {
                    op
                } else {
                    negate(op)
                };
                let Some((v, n, true)) = order::of_cmp(op, cmp.args[0], cmp.args[1]) else {
                    continue;
                };
                if v.is_const() || n.is_const() {
                    continue;
                }
                let (b, k) = base_of(&base, v);
                checks.push((i, b, k, n, t.signed()));
            }
            _ => {}
        }
    }
    let mut further: HashMap<usize, i64> = HashMap::default();
    let mut best: HashMap<(Val, Val, bool), i64> = HashMap::default();
    let mut crossed = false;
    for &(i, b, k, n, s) in checks.iter().rev() {
        if label.is_some_and(|l| i < l) && !crossed {
            // Back over the label: the copy's checks are the next
            // iteration's.
            best.clear();
            crossed = true;
        }
        let e = best.entry((b, n, s)).or_insert(k);
        if *e > k {
            further.insert(i, *e - k);
        } else {
            *e = k;
        }
    }
    further
}

/// For input slot `j` of a loop-peeling label, a range to join to what
/// enters it from the preamble (`FULL`: assume nothing).
type Assumptions = HashMap<usize, Bounds>;

/// One walk over the trace, emitting through `e` (an emitter of `trace`);
/// with the label's slots whose assumption the back edge breaks, and the
/// range found there; and the ranges of the final operation's arguments.
fn run_assuming<'t>(
    trace: &'t Trace,
    mut e: Emitter<'t>,
    cx: &Ctx,
    assume: &Assumptions,
    further: &HashMap<usize, i64>,
) -> (Trace, Vec<(usize, Bounds)>, Vec<Bounds>) {
    let tables = cx.tables;
    let mut st = State {
        bounds: ValMap::with_buffer(SPARE_BOUNDS.take(), trace.inputs.len(), trace.ops.len()),
        order: [Order::default(), Order::signed()],
        offset: HashMap::default(),
        upper: HashMap::default(),
    };
    // Slots of the label given a range, and that range.
    let mut assumed: Vec<(usize, Bounds)> = Vec::new();
    for i in 0..e.body_len() {
        if e.is_dead() {
            break;
        }
        let op = &trace.ops[i];
        let args = e.args(i);
        if op.opcode == Opcode::Label {
            for (j, &entry) in args.iter().enumerate().take(trace.inputs.len()) {
                let input = Val::Input(j as u16);
                if entry == input || trace.inputs[j] != Kind::Int {
                    continue;
                }
                let b = match assume.get(&j) {
                    Some(w) => st.get(entry).join(*w),
                    None => st.get(entry),
                };
                if b != Bounds::FULL {
                    st.bounds.insert(input, b);
                    assumed.push((j, b));
                }
            }
        }
        let b = |k: usize| st.get(args[k]);
        // The result's range, for int results.
        let range: Option<Bounds> = match &op.opcode {
            Opcode::IntBin(o, t) => Some(int_bin_bounds(*o, *t, b(0), b(1))),
            Opcode::IntNeg(t) => {
                let (lo, hi) = b(0).view(*t);
                let r = if t.signed() {
                    Some((-hi, -lo))
                } else if lo >= 1 {
                    let m = t.range().1 + 1;
                    Some((m - hi, m - lo))
                } else if hi == 0 {
                    Some((0, 0))
                } else {
                    None
                };
                Some(Bounds::of_result(*t, r))
            }
            Opcode::IntNot(t) => {
                let (lo, hi) = b(0).view(*t);
                let r = if t.signed() {
                    (-hi - 1, -lo - 1)
                } else {
                    let m = t.range().1;
                    (m - hi, m - lo)
                };
                Some(Bounds::of_result(*t, Some(r)))
            }
            Opcode::IntCmp(o, t) => Some(
                match decide_cmp(*o, *t, b(0), b(1))
                    .or_else(|| st.decide_rel(*o, *t, args[0], args[1]))
                    .or_else(|| decide_below_by_sub(&e, &st, *o, *t, args[0], args[1]))
                    .or_else(|| decide_offsets(&st, *o, *t, args[0], args[1]))
                {
                    Some(x) => Bounds::constant(x as i64),
                    None => Bounds::of_scalar(ScalarTy::Bool),
                },
            ),
            Opcode::FloatCmp(_) => Some(Bounds::of_scalar(ScalarTy::Bool)),
            Opcode::Cast(from, to) if to.kind() == Kind::Int => {
                let src = if from.kind() == Kind::Int {
                    b(0)
                } else {
                    Bounds::FULL
                };
                let whole = Bounds::of_scalar(*to);
                Some(match to {
                    ScalarTy::Int(t) if t.bits() == 64 && from.kind() == Kind::Int => src,
                    _ if from.kind() == Kind::Int => {
                        // Unchanged when the value is already in range
                        // (`wrap` / `& 1` / `as u32` are then identities).
                        let fits = match to {
                            ScalarTy::Bool => src.slo >= 0 && src.shi <= 1,
                            ScalarTy::Char => src.slo >= 0 && src.shi <= u32::MAX as i64,
                            ScalarTy::Int(t) => {
                                let (lo, hi) = t.range();
                                lo <= src.slo as i128 && src.shi as i128 <= hi
                            }
                            _ => false,
                        };
                        if fits {
                            src
                        } else if matches!(to, ScalarTy::Char) {
                            Bounds::unsigned(0, u32::MAX as u64).unwrap()
                        } else {
                            whole
                        }
                    }
                    ScalarTy::Char => Bounds::unsigned(0, u32::MAX as u64).unwrap(),
                    _ => whole,
                })
            }
            Opcode::GetField(d) => tables.fields[*d].ty.map(Bounds::of_scalar),
            Opcode::Load(t) => Some(Bounds::of_scalar(*t)),
            Opcode::GetItem(d) | Opcode::VecPopNonEmpty(d) => {
                tables.arrays[*d].item.map(Bounds::of_scalar)
            }
            Opcode::VecLen(_) | Opcode::StringLen => {
                Some(Bounds::signed(0, isize::MAX as i64).unwrap())
            }
            Opcode::EnumTag(_) => Some(Bounds::unsigned(0, u32::MAX as u64).unwrap()),
            _ => None,
        };
        match &op.opcode {
            Opcode::GuardTrue | Opcode::GuardFalse | Opcode::GuardValue => {
                guard(&mut e, &mut st, i, args, further.get(&i).copied());
                continue;
            }
            o if o.is_pure() => {
                if let Some(p) = range.and_then(|r| r.point()) {
                    if op.result == Some(Kind::Int) {
                        e.replace(i, Val::Int(p));
                        continue;
                    }
                }
            }
            _ => {}
        }
        // `y - c` and `y + c` that do not wrap are below / above `y`.
        let step = match &op.opcode {
            Opcode::IntBin(o @ (IntBinOp::Add | IntBinOp::Sub), t) => match args[1] {
                Val::Int(c) if c > 0 && !args[0].is_const() => {
                    let (lo, hi) = b(0).view(*t);
                    let (tlo, thi) = t.range();
                    let c = c as i128;
                    let exact = if *o == IntBinOp::Sub {
                        lo - c >= tlo
                    } else {
                        hi + c <= thi
                    };
                    exact.then_some((*o, t.signed(), args[0], c as i64, t.bits() == 64))
                }
                _ => None,
            },
            _ => None,
        };
        let v = e.keep(i, args);
        if let (Some(r), Some(Kind::Int)) = (range, op.result) {
            st.bounds.insert(v, r);
        }
        if let Some((o, signed, y, c, wide)) = step {
            if wide && !v.is_const() {
                st.set_offset(
                    v,
                    y,
                    if o == IntBinOp::Sub {
                        c.checked_neg()
                    } else {
                        Some(c)
                    },
                    signed,
                );
            }
            if o == IntBinOp::Sub {
                st.relate(v, y, true, signed);
            } else {
                st.relate(y, v, true, signed);
            }
        }
    }
    let exit = match trace.ops.last() {
        Some(op) if op.opcode.is_final() && !e.is_dead() => {
            op.args.iter().map(|a| st.get(e.map(*a))).collect()
        }
        Some(op) => vec![Bounds::FULL; op.args.len()],
        None => Vec::new(),
    };
    let mut broken = Vec::new();
    if !e.is_dead() {
        if let Some(jump) = trace.ops.last().filter(|o| o.opcode == Opcode::Jump) {
            for &(j, b) in &assumed {
                let back = st.get(e.map(jump.args[j]));
                if back.meet(b) != Some(back) {
                    broken.push((j, back.join(b)));
                }
            }
        }
    }
    SPARE_BOUNDS.set(st.bounds.into_buffer());
    (e.finish(), broken, exit)
}

thread_local! {
    /// The ranges' table between runs: allocated once per thread (a
    /// table per run of a long trace costs page faults).
    static SPARE_BOUNDS: std::cell::Cell<Vec<Option<Bounds>>> = const { std::cell::Cell::new(Vec::new()) };
}

fn guard(e: &mut Emitter, st: &mut State, i: usize, args: Vec<Val>, further: Option<i64>) {
    let opcode = e.src().ops[i].opcode.clone();
    let x = args[0];
    // Decide the guard from the ranges.
    let bx = st.get(x);
    let zero = Bounds::constant(0);
    let holds = match &opcode {
        Opcode::GuardTrue if e.kind_of(x) == Kind::Int => {
            if bx.meet(zero).is_none() {
                Some(true)
            } else if bx.point() == Some(0) {
                Some(false)
            } else {
                None
            }
        }
        Opcode::GuardFalse if e.kind_of(x) == Kind::Int => {
            if bx.meet(zero).is_none() {
                Some(false)
            } else if bx.point() == Some(0) {
                Some(true)
            } else {
                None
            }
        }
        Opcode::GuardValue if e.kind_of(x) == Kind::Int => match args[1] {
            Val::Int(c) => {
                if bx.meet(Bounds::constant(c)).is_none() {
                    Some(false)
                } else if bx.point() == Some(c) {
                    Some(true)
                } else {
                    None
                }
            }
            _ => None,
        },
        _ => None,
    };
    let Some(args) = e.settle_guard(i, args, holds) else {
        return;
    };
    let (x, args) = match further.and_then(|d| strengthen(e, st, &opcode, x, d)) {
        Some(c) => (c, vec![c]),
        None => (x, args),
    };
    let bx = st.get(x);
    if e.keep_guard(i, args.clone(), &[]) != GuardFate::Kept || e.kind_of(x) != Kind::Int {
        return;
    }
    // What holds after the guard.
    let mut ok = true;
    let truth = match opcode {
        Opcode::GuardTrue => {
            let mut n = bx;
            if n.slo == 0 {
                n.slo = 1;
            }
            if n.shi == 0 {
                n.shi = -1;
            }
            if n.ulo == 0 {
                n.ulo = 1;
            }
            ok &= st.narrow(e, x, n);
            true
        }
        Opcode::GuardFalse => {
            ok &= st.narrow(e, x, zero);
            false
        }
        _ => {
            if let Val::Int(c) = args[1] {
                ok &= st.narrow(e, x, Bounds::constant(c));
            }
            if !ok {
                e.set_unreachable();
            }
            return;
        }
    };
    let cmp = e.def(x).and_then(|d| match d.opcode {
        Opcode::IntCmp(op, t) => Some((op, t, d.args[0], d.args[1])),
        _ => None,
    });
    if let Some((op, t, a, b)) = cmp {
        let op = if truth { op } else { negate(op) };
        if let Some((lo, hi, strict)) = order::of_cmp(op, a, b) {
            st.relate(lo, hi, strict, t.signed());
            // `y - c <= y` (unsigned) holds only when `y - c` does not
            // wrap: then `y >= c` (`len - 2 < len` checked: `len - 1`
            // is below `len` too).
            if let Some(c) = unsigned_sub_of(e, lo, hi, t) {
                let max = t.range().1;
                if let Some(r) = Bounds::of_view(t, c as i128, max) {
                    ok &= st.narrow(e, hi, r);
                }
            }
        }
        let (na, nb) = refine_cmp(op, st.get(a).view(t), st.get(b).view(t));
        for (v, (lo, hi)) in [(a, na), (b, nb)] {
            ok &= match Bounds::of_view(t, lo, hi) {
                Some(r) => st.narrow(e, v, r),
                None => false,
            };
        }
    }
    if !ok {
        e.set_unreachable();
    }
}

/// `(z, c)` when `x` is `z - c` with a constant `c > 0`, of a 64-bit
/// unsigned type `t`.
fn unsigned_sub(e: &Emitter, x: Val, t: IntTy) -> Option<(Val, i64)> {
    if t.signed() || t.bits() != 64 {
        return None;
    }
    let d = e.def(x)?;
    match (&d.opcode, &d.args[..]) {
        (Opcode::IntBin(IntBinOp::Sub, dt), &[z, Val::Int(c)]) if *dt == t && c > 0 => Some((z, c)),
        _ => None,
    }
}

/// `c` when `x` is `y - c` ([`unsigned_sub`]).
fn unsigned_sub_of(e: &Emitter, x: Val, y: Val, t: IntTy) -> Option<i64> {
    unsigned_sub(e, x, t).and_then(|(z, c)| (z == y).then_some(c))
}

/// `a op b` decided by `z - c1 < z - c2` (unsigned, `c1 > c2 >= 0`),
/// which holds when `z >= c1` (neither subtraction wraps).
fn decide_below_by_sub(
    e: &Emitter,
    st: &State,
    op: CmpOp,
    t: IntTy,
    a: Val,
    b: Val,
) -> Option<bool> {
    if t.signed() || t.bits() != 64 {
        return None;
    }
    let form = |v: Val| unsigned_sub(e, v, t).unwrap_or((v, 0));
    order::decide(op, a, b, |x, y, _strict| {
        let ((zx, cx), (zy, cy)) = (form(x), form(y));
        zx == zy && cx > cy && st.get(zx).view(t).0 >= cx as i128
    })
}

/// `y + j` against `y + k`, both exact offsets of one base in the view of
/// `t` (recorded only where the sum cannot wrap): decided by `j` and `k`.
/// A stack's top slots after a push (`len + 1 < len + 2`, the bounds
/// check of `stack[len + 1]`) and a frame's locals (`base + 2 < base +
/// 3`) are such pairs.
fn decide_offsets(st: &State, op: CmpOp, t: IntTy, a: Val, b: Val) -> Option<bool> {
    if t.bits() != 64 {
        return None;
    }
    let (ya, j) = st.base_of(a, t.signed());
    let (yb, k) = st.base_of(b, t.signed());
    if ya != yb || (j == 0 && k == 0) {
        return None;
    }
    Some(match op {
        CmpOp::Lt => j < k,
        CmpOp::Le => j <= k,
        CmpOp::Gt => j > k,
        CmpOp::Ge => j >= k,
        CmpOp::Eq => j == k,
        CmpOp::Ne => j != k,
    })
}

/// The guard on `c` (`v < n` in some form) checks `v + d < n` instead
/// (see [`later_checks`]): the new comparison, when `v + d` cannot wrap.
fn strengthen(e: &mut Emitter, st: &mut State, guard: &Opcode, c: Val, d: i64) -> Option<Val> {
    let def = e.def(c)?;
    let Opcode::IntCmp(op, t) = def.opcode else {
        return None;
    };
    let (a, b) = (def.args[0], def.args[1]);
    let truth = *guard == Opcode::GuardTrue;
    let at = match (
        if truth { op } else { negate(op) },
        a.is_const() || b.is_const(),
    ) {
        (_, true) => return None,
        (CmpOp::Lt, _) => 0,
        (CmpOp::Gt, _) => 1,
        _ => return None,
    };
    let v = [a, b][at];
    let (lo, hi) = st.get(v).view(t);
    let (tlo, thi) = t.range();
    if d <= 0 || hi + d as i128 > thi || lo + (d as i128) < tlo {
        return None;
    }
    let range = int_bin_bounds(IntBinOp::Add, t, st.get(v), Bounds::constant(d));
    // From the base when there is one (`ptr + 9`, not `(ptr + 6) + 3`), so
    // that the later check's own operation is the same one (CSE).
    let (base, k) = st.base_of(v, t.signed());
    let v2 = match k.checked_add(d) {
        Some(kd) if base != v && kd > 0 => e.emit(
            Opcode::IntBin(IntBinOp::Add, t),
            vec![base, Val::Int(kd)],
            Some(Kind::Int),
        ),
        _ => e.emit(
            Opcode::IntBin(IntBinOp::Add, t),
            vec![v, Val::Int(d)],
            Some(Kind::Int),
        ),
    };
    st.bounds.insert(v2, range);
    st.set_offset(v2, v, Some(d), t.signed());
    st.relate(v, v2, true, t.signed());
    let mut args = vec![a, b];
    args[at] = v2;
    let c2 = e.emit(Opcode::IntCmp(op, t), args, Some(Kind::Int));
    st.bounds.insert(c2, Bounds::of_scalar(ScalarTy::Bool));
    Some(c2)
}
