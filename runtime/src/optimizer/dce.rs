//! Dead code elimination: pure operations and reads whose results nothing
//! uses — no operation, no jump and no guard's resume data — go.
//!
//! Removable: the pure operations and the reads (classes `Pure` and
//! `Read` in `trace/ops.rs`: memory reads such as `getfield`, `load`,
//! `getitem`, `vec_len`, and `call_result`). Not removable: writes,
//! calls (an elidable call may panic, which is behaviour), guards, merge
//! points and the final jump. Inputs stay, used or not (the loop's
//! signature does not change).

use super::emit::{keeps_as_is, recycle, Emitter};
use super::Ctx;
use crate::trace::{OpClass, Opcode, Trace, Val};

/// May this operation go when its result is unused? The pure ones and
/// the reads (the operation table's classes).
pub fn removable(op: &Opcode) -> bool {
    matches!(op.class(), OpClass::Pure | OpClass::Read)
}

pub fn run(mut trace: Trace, _cx: &Ctx) -> Trace {
    let n = trace.ops.len();
    let mut live = vec![false; n];
    let mark = |live: &mut Vec<bool>, v: &Val| {
        if let Val::Op(j) = v {
            live[*j as usize] = true;
        }
    };
    for i in (0..n).rev() {
        let op = &trace.ops[i];
        if !live[i] && removable(&op.opcode) {
            continue;
        }
        live[i] = true;
        for a in &op.args {
            mark(&mut live, a);
        }
        if let Some(g) = op.guard {
            for v in trace.guards[g as usize].values() {
                mark(&mut live, &v);
            }
        }
    }
    // Nothing to remove (often so, after the other passes): the trace is
    // its own output.
    if live.iter().all(|&l| l) && keeps_as_is(&trace) {
        return trace;
    }
    // (Its resume data moves to the output: see `Emitter::consuming`.)
    let guards = std::mem::take(&mut trace.guards);
    let mut e = Emitter::consuming(&trace, guards);
    let src = e.src();
    let body = e.body_len();
    for (i, &is_live) in live.iter().enumerate().take(body) {
        if is_live {
            let args = e.args(i);
            e.keep(i, args);
        } else if let Some(k) = src.ops[i].result {
            // (unused: any value of the kind will do)
            e.replace(i, Val::constant(k, 0));
        }
    }
    let out = e.finish();
    recycle(trace);
    out
}
