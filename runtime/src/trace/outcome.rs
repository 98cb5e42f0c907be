//! What a guard's failure tells about its fail arguments.
//!
//! A bridge starts where its guard failed, and the tracer then runs the
//! branch the guard stood for once more: with nothing known, it records
//! that branch's guard again, the other way round (`guard_true(i27)` at
//! the top of every bridge from a failed `guard_false(i27)`), one guard
//! per entry that can never fail. The failure itself says the value: a
//! failed `guard_true(x)` saw `x == 0`, a failed `guard_false(b)` of a
//! boolean `b` saw `b == 1`. When `x` is a fail argument, the bridge
//! starts with it as that constant (`metainterp::trace_bridge_stopping`),
//! and the branch folds away. RPython gets the same from the failed
//! guard's `ResumeGuardDescr` kind (`resume_guard_true`/`_false` make the
//! bridge's first `goto_if_not` a constant).

use super::{Opcode, Trace, Val};
use crate::jitcode::{IntBinOp, Kind};

/// Per guard of `trace` (by index in `trace.guards`): the fail argument
/// (its position) whose value the guard's failure fixes, and that value.
/// `None` when the failure tells nothing that simple, or when several
/// operations share the guard's resume data.
pub fn failure_facts(trace: &Trace) -> Vec<Option<(u16, u64)>> {
    let mut users = vec![0u32; trace.guards.len()];
    for op in &trace.ops {
        if let Some(g) = op.guard {
            if let Some(n) = users.get_mut(g as usize) {
                *n += 1;
            }
        }
    }
    let mut facts = vec![None; trace.guards.len()];
    for op in &trace.ops {
        let Some(g) = op.guard else { continue };
        if users.get(g as usize) != Some(&1) {
            continue;
        }
        let Some(&cond) = op.args.first() else {
            continue;
        };
        if trace.kind_of(cond) != Some(Kind::Int) {
            continue;
        }
        let value = match op.opcode {
            Opcode::GuardTrue => 0,
            Opcode::GuardFalse if is_bool(trace, cond, 4) => 1,
            _ => continue,
        };
        let Some(at) = trace.guards[g as usize]
            .fail_args
            .iter()
            .rposition(|a| *a == cond)
        else {
            continue;
        };
        facts[g as usize] = Some((at as u16, value));
    }
    facts
}

/// Is `v` always 0 or 1? Comparisons are; so are `and`, `or` and `xor` of
/// such values (looked through `depth` levels).
fn is_bool(trace: &Trace, v: Val, depth: u32) -> bool {
    match v {
        Val::Int(c) => c == 0 || c == 1,
        Val::Op(i) if depth > 0 => {
            let Some(op) = trace.ops.get(i as usize) else {
                return false;
            };
            match op.opcode {
                Opcode::IntCmp(..) | Opcode::FloatCmp(_) => true,
                Opcode::IntBin(IntBinOp::And | IntBinOp::Or | IntBinOp::Xor, _) => {
                    op.args.iter().all(|a| is_bool(trace, *a, depth - 1))
                }
                _ => false,
            }
        }
        _ => false,
    }
}
