//! Constant folding and algebraic rewrites (RPython's `rewrite.py`, with
//! the constant folding its optimizer does on every operation).
//!
//! - Pure operations whose arguments are all constants fold, computed by
//!   `crate::executor` — exactly what the backend and the blackhole would
//!   compute. So do elidable calls (`call_pure`) on constants, run now in
//!   the blackhole; their `call_result`s become constants.
//! - Identities: `x+0`, `x-0`, `x-x`, `x*1`, `x*0`, `x/1`, `x%1`, `x&0`,
//!   `x&x`, `x&-1`, `x|0`, `x|x`, `x^0`, `x^x`, shifts by 0 and of 0,
//!   comparisons of a value with itself, `-(-x)`, `!(!x)`, casts to the
//!   same type and round trips through a wider int type.
//! - 64-bit sums with a constant in one form (`offset_form`): `x - k`,
//!   `k + x`, `(x + j) + k` become `x + k'` (`x - k'` for a negative
//!   offset), so that CSE and the heap cache see one stack slot where the
//!   interpreter computed `len - 1` once and `len + -1` elsewhere.
//! - Reads through immutable descrs (`getfield`, `vec_len`, `vec_ptr`,
//!   `getitem`, `enum_tag`) from constant bases read memory now: the trace
//!   is specialized to those constants, and the memory cannot change.
//!   `load`s from constant addresses fold when the address came from an
//!   immutable descr (a folded `fieldaddr`, `itemaddr` or `vec_ptr`).
//! - Guards: one on constants that holds goes; one that always fails stays
//!   and ends the reachable trace. After `guard_value(x, c)`, `x` is `c`;
//!   after `guard_true(x)` on a comparison `x` is 1, after `guard_false(x)`
//!   it is 0, and after `guard_true(int_eq(x, c))` (or `guard_false` of
//!   `int_ne`) `x` is `c` — in every later operation, jump argument and
//!   resume data. In a guard's own resume data, a comparison it tests is
//!   known too (it is 0 when `guard_true` fails).

use super::emit::{recycle, Emitter, GuardFate};
use super::Ctx;
use crate::blackhole;
use crate::executor;
use crate::jitcode::{CmpOp, FieldPlace, IntBinOp, IntTy, ScalarTy};
use crate::trace::interp::arith;
use crate::trace::{GuardInfo, Opcode, Trace, Val};
use rustc_hash::FxHashSet as HashSet;

pub fn run(mut trace: Trace, cx: &Ctx) -> Trace {
    // (Its resume data moves to the output: see `Emitter::consuming`.)
    let guards = std::mem::take(&mut trace.guards);
    let out = rewrite(&trace, guards, cx);
    recycle(trace);
    out
}

fn rewrite(trace: &Trace, guards: Vec<GuardInfo>, cx: &Ctx) -> Trace {
    let mut e = Emitter::consuming(trace, guards);
    let src = e.src();
    // Addresses of memory reached through immutable descrs.
    let mut imm_addrs: HashSet<u64> = HashSet::default();
    // Results of a call that was folded away: the `call_result`s after it
    // read these.
    let mut folded_results: Option<Vec<u64>> = None;
    // The first operation after the last label (peeling's combined trace):
    // sums are not regrouped across it, which would make the loop carry
    // the value before the label as well as the one after.
    let mut since_label = 0;
    let mut args = Vec::new();
    while let Some(i) = e.next_op(&mut args) {
        let op = &src.ops[i];
        match &op.opcode {
            Opcode::GuardTrue | Opcode::GuardFalse | Opcode::GuardValue => {
                let args = e.vals(&args);
                guard(&mut e, i, args);
            }
            Opcode::CallPure(j) => {
                folded_results = None;
                if args.iter().all(|a| a.is_const()) {
                    let bits: Vec<u64> = args.iter().map(|a| a.const_bits().unwrap()).collect();
                    let tables = cx.tables;
                    let j = *j;
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        blackhole::call(tables, j.0, &bits)
                    }));
                    if let Ok(results) = r {
                        folded_results = Some(results);
                        continue;
                    }
                }
                e.keep(i, e.vals(&args));
            }
            Opcode::CallResidual(_) | Opcode::CallAssembler(_) => {
                folded_results = None;
                e.keep(i, e.vals(&args));
            }
            Opcode::CallResult(n, k) => match &folded_results {
                Some(r) => {
                    let bits = r.get(*n as usize).copied().unwrap_or(0);
                    e.replace(i, Val::constant(*k, bits));
                }
                None => {
                    e.keep(i, e.vals(&args));
                }
            },
            opcode => {
                if matches!(opcode, Opcode::Label) {
                    since_label = e.emitted();
                }
                if let Some((y, k, ty)) = offset_form(&e, opcode, &args, since_label) {
                    let v = if k == 0 {
                        y
                    } else {
                        let (o, c) = sum_form(k);
                        let args = e.vals(&[y, Val::Int(c)]);
                        e.emit(Opcode::IntBin(o, ty), args, op.result)
                    };
                    e.replace(i, v);
                } else if let Some(v) = fold(cx, &e, &imm_addrs, opcode, &args) {
                    if let Some(addr) = v.const_bits() {
                        if yields_immutable_address(cx, opcode) {
                            imm_addrs.insert(addr);
                        }
                    }
                    e.replace(i, v);
                } else {
                    e.keep(i, e.vals(&args));
                }
            }
        }
    }
    e.finish()
}

/// A 64-bit `x + k`, `x - k`, `k + x`, `(y + j) + k` or `(y - j) + k`
/// with constants `j`, `k` and a non-constant `x` or `y`, as `y` and
/// its offset `k'`, to be written in one canonical form ([`sum_form`];
/// `y` itself when `k'` is 0). Then the stack slot at `len - 1` and the
/// one at `len + -1` (or at `(len + 1) - 2`) are one value, which CSE and
/// the heap cache see. `None` when the operation is in that form already.
/// (Not regrouped with a sum from before operation `since_label`.)
fn offset_form(
    e: &Emitter,
    opcode: &Opcode,
    args: &[Val],
    since_label: usize,
) -> Option<(Val, i64, IntTy)> {
    let (x, k, ty) = crate::order::offset_of(opcode, args)?;
    if x.is_const() {
        return None;
    }
    let canonical = matches!(
        (opcode, args),
        (Opcode::IntBin(o, _), &[a, Val::Int(c)]) if a == x && (*o, c) == sum_form(k)
    );
    let inner = matches!(x, Val::Op(j) if j as usize >= since_label)
        .then(|| e.def(x))
        .flatten()
        .and_then(|d| crate::order::offset_of(&d.opcode, &d.args))
        .filter(|(y, _, t)| !y.is_const() && *t == ty);
    match inner {
        Some((y, j, _)) => Some((y, j.wrapping_add(k), ty)),
        None if canonical || k == 0 => None,
        None => Some((x, k, ty)),
    }
}

/// How `y + k` is written: `y - |k|` for a negative `k` (the form
/// intbounds reads as "below `y`", where `y + 2^64 - 1` would wrap in the
/// unsigned view), else `y + k`.
fn sum_form(k: i64) -> (IntBinOp, i64) {
    if k < 0 && k != i64::MIN {
        (IntBinOp::Sub, -k)
    } else {
        (IntBinOp::Add, k)
    }
}

/// Does this operation, folded, give an address inside immutable memory?
fn yields_immutable_address(cx: &Ctx, opcode: &Opcode) -> bool {
    match opcode {
        Opcode::FieldAddr(d) => cx.tables.fields[*d].immutable,
        Opcode::ItemAddr(d) | Opcode::VecPtr(d) => cx.tables.arrays[*d].immutable,
        _ => false,
    }
}

/// Is `v` 0 or 1 by construction (a comparison)?
pub(crate) fn is_bool(e: &Emitter, v: Val) -> bool {
    matches!(
        e.def(v).map(|o| &o.opcode),
        Some(Opcode::IntCmp(..))
            | Some(Opcode::FloatCmp(_))
            | Some(Opcode::Cast(_, ScalarTy::Bool))
    )
}

fn guard(e: &mut Emitter, i: usize, args: Vec<Val>) {
    let opcode = &e.src().ops[i].opcode;
    let x = args[0];
    let second = args.get(1).copied();
    let boolean = is_bool(e, x);
    let own: &[(Val, Val)] = match opcode {
        Opcode::GuardTrue if boolean => &[(x, Val::Int(0))],
        Opcode::GuardFalse if boolean => &[(x, Val::Int(1))],
        _ => &[],
    };
    // `x` compared for (in)equality with a constant.
    let eq_const = |e: &Emitter, want: CmpOp| -> Option<(Val, Val)> {
        match e.def(x) {
            Some(d) => match d.opcode {
                Opcode::IntCmp(op, _) if op == want => {
                    let (a, b) = (d.args[0], d.args[1]);
                    match (a.is_const(), b.is_const()) {
                        (false, true) => Some((a, b)),
                        (true, false) => Some((b, a)),
                        _ => None,
                    }
                }
                _ => None,
            },
            None => None,
        }
    };
    let fate = e.keep_guard(i, args, own);
    if fate != GuardFate::Kept {
        return;
    }
    match opcode {
        Opcode::GuardTrue => {
            let known = eq_const(e, CmpOp::Eq);
            if boolean {
                e.learn(x, Val::Int(1));
            }
            if let Some((v, c)) = known {
                e.learn(v, c);
            }
        }
        Opcode::GuardFalse => {
            let known = eq_const(e, CmpOp::Ne);
            e.learn(x, Val::Int(0));
            if let Some((v, c)) = known {
                e.learn(v, c);
            }
        }
        Opcode::GuardValue => {
            let c = second.expect("guard_value(x, c)");
            if c.is_const() {
                e.learn(x, c);
            }
        }
        _ => unreachable!(),
    }
}

/// The constant result of a pure operation on constant arguments, with
/// the executors' semantics. `None` when not all arguments are constants
/// or the operation is not one of these.
pub fn fold_constant(cx: &Ctx, opcode: &Opcode, args: &[Val]) -> Option<Val> {
    let mut buf = [0u64; 2];
    let c = const_bits(args, &mut buf)?;
    if let Some((kind, bits)) = arith(opcode, |n| c[n]) {
        return Some(Val::constant(kind, bits));
    }
    let v = match opcode {
        Opcode::FieldAddr(d) => {
            let d = &cx.tables.fields[*d];
            match d.place {
                FieldPlace::Offset(o) => Val::Ref((c[0] as usize).wrapping_add(o)),
                // The shim reads the enum: only when it cannot change.
                FieldPlace::Shim(_) if d.immutable && c[0] != 0 => {
                    Val::Ref(unsafe { executor::field_addr(d, c[0] as usize) })
                }
                FieldPlace::Shim(_) => return None,
            }
        }
        Opcode::ItemAddr(d) => {
            let d = &cx.tables.arrays[*d];
            Val::Ref(executor::item_addr(d, c[0] as usize, c[1] as i64))
        }
        _ => return None,
    };
    Some(v)
}

/// A read of immutable memory from constant addresses, done now.
fn fold_read(cx: &Ctx, imm_addrs: &HashSet<u64>, opcode: &Opcode, args: &[Val]) -> Option<Val> {
    let mut buf = [0u64; 2];
    let c = const_bits(args, &mut buf)?;
    if c.first().is_none_or(|a| *a == 0) {
        return None;
    }
    let t = cx.tables;
    let v = match opcode {
        Opcode::GetField(d) => {
            let d = &t.fields[*d];
            let ty = d.ty?;
            if !d.immutable {
                return None;
            }
            Val::constant(ty.kind(), unsafe {
                executor::load(ty, executor::field_addr(d, c[0] as usize))
            })
        }
        Opcode::VecLen(d) | Opcode::VecPtr(d) => {
            let d = &t.arrays[*d];
            let shims = d.vec?;
            if !d.immutable {
                return None;
            }
            match opcode {
                Opcode::VecLen(_) => Val::Int(unsafe { (shims.len)(c[0] as usize) } as i64),
                _ => Val::Ref(unsafe { (shims.ptr)(c[0] as usize) }),
            }
        }
        Opcode::GetItem(d) => {
            let d = &t.arrays[*d];
            let ty = d.item?;
            if !d.immutable {
                return None;
            }
            Val::constant(ty.kind(), unsafe {
                executor::load(ty, executor::item_addr(d, c[0] as usize, c[1] as i64))
            })
        }
        Opcode::EnumTag(d) => {
            let d = &t.enums[*d];
            if !d.immutable {
                return None;
            }
            Val::Int(unsafe { (d.tag)(c[0] as usize) } as i64)
        }
        Opcode::Load(ty) if imm_addrs.contains(&c[0]) => {
            Val::constant(ty.kind(), unsafe { executor::load(*ty, c[0] as usize) })
        }
        _ => return None,
    };
    Some(v)
}

/// The bits of `args` when all are constants: the first two, the only
/// ones the folds read (no foldable operation takes more), in `buf`.
fn const_bits<'b>(args: &[Val], buf: &'b mut [u64; 2]) -> Option<&'b [u64]> {
    for (k, a) in args.iter().enumerate() {
        let bits = a.const_bits()?;
        if let Some(slot) = buf.get_mut(k) {
            *slot = bits;
        }
    }
    Some(&buf[..args.len().min(2)])
}

/// All ones in `ty`'s canonical form (`-1` signed, `2^bits-1` unsigned).
fn all_ones(ty: IntTy) -> i64 {
    executor::wrap(ty, -1)
}

/// An algebraic identity: the simpler value `opcode(args)` equals.
fn identity(e: &Emitter, opcode: &Opcode, args: &[Val]) -> Option<Val> {
    use IntBinOp::*;
    let int = |v: Val| match v {
        Val::Int(c) => Some(c),
        _ => None,
    };
    match opcode {
        Opcode::IntBin(o, ty) => {
            let (a, b) = (args[0], args[1]);
            let (ca, cb) = (int(a), int(b));
            let same = a == b;
            let r = match o {
                Add if cb == Some(0) => a,
                Add if ca == Some(0) => b,
                Sub if cb == Some(0) => a,
                Sub if same => Val::Int(0),
                Mul if cb == Some(1) => a,
                Mul if ca == Some(1) => b,
                Mul if cb == Some(0) || ca == Some(0) => Val::Int(0),
                Div if cb == Some(1) => a,
                Rem if cb == Some(1) => Val::Int(0),
                And if same => a,
                And if cb == Some(0) || ca == Some(0) => Val::Int(0),
                And if cb == Some(all_ones(*ty)) => a,
                And if ca == Some(all_ones(*ty)) => b,
                Or if same => a,
                Or if cb == Some(0) => a,
                Or if ca == Some(0) => b,
                Xor if same => Val::Int(0),
                Xor if cb == Some(0) => a,
                Xor if ca == Some(0) => b,
                Shl | Shr if cb.is_some_and(|s| executor::shift_amount(*ty, s) == 0) => a,
                Shl | Shr if ca == Some(0) => Val::Int(0),
                _ => return None,
            };
            Some(r)
        }
        Opcode::IntCmp(o, _) if args[0] == args[1] => Some(Val::Int(matches!(
            o,
            CmpOp::Eq | CmpOp::Le | CmpOp::Ge
        ) as i64)),
        Opcode::IntNeg(_) | Opcode::IntNot(_) => {
            let inner = e.def(args[0])?;
            if &inner.opcode == opcode {
                Some(inner.args[0])
            } else {
                None
            }
        }
        Opcode::FloatNeg => {
            let inner = e.def(args[0])?;
            (inner.opcode == Opcode::FloatNeg).then(|| inner.args[0])
        }
        Opcode::Cast(from, to) if from == to => Some(args[0]),
        Opcode::Cast(ScalarTy::Int(wide), ScalarTy::Int(narrow)) => {
            // cast(cast(y: narrow -> wide) -> narrow) == y when wide holds
            // every narrow value.
            let inner = e.def(args[0])?;
            match inner.opcode {
                Opcode::Cast(ScalarTy::Int(n0), ScalarTy::Int(w0))
                    if n0 == *narrow && w0 == *wide =>
                {
                    let (nlo, nhi) = narrow.range();
                    let (wlo, whi) = wide.range();
                    (wlo <= nlo && nhi <= whi).then(|| inner.args[0])
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// What `opcode(args)` simplifies to, if anything.
fn fold(
    cx: &Ctx,
    e: &Emitter,
    imm_addrs: &HashSet<u64>,
    opcode: &Opcode,
    args: &[Val],
) -> Option<Val> {
    if opcode.is_pure() {
        if let Some(v) = fold_constant(cx, opcode, args) {
            return Some(v);
        }
        return identity(e, opcode, args);
    }
    fold_read(cx, imm_addrs, opcode, args)
}
