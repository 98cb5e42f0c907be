//! The trace verifier: SSA (values used after their definition), the
//! number and kinds of each operation's operands and its result as the
//! operation table (`ops.rs`) states them, guards with resume data (whose
//! delayed writes are writes of the right shape, on values defined before
//! the guard and no virtual), and a final jump.

use super::*;

/// Arity and kinds of `op` (operation `i`) against the table.
fn check_shape(t: &Trace, op: &TraceOp, name: &dyn Fn() -> String, errors: &mut Vec<String>) {
    match op.opcode.arg_kinds() {
        ArgKinds::Variadic => {}
        ArgKinds::Fixed(kinds) => {
            if op.args.len() != kinds.len() {
                errors.push(format!(
                    "{}: {} arguments, expected {}",
                    name(),
                    op.args.len(),
                    kinds.len()
                ));
            }
            for (n, (a, k)) in op.args.iter().zip(&kinds).enumerate() {
                if let (OpKind::Fixed(k), Some(got)) = (k, t.kind_of(*a)) {
                    if got != *k {
                        errors.push(format!("{}: argument {n} is {got}, expected {k}", name()));
                    }
                }
            }
        }
    }
    if op.opcode == Opcode::GuardValue {
        if let [a, b] = op.args[..] {
            if t.kind_of(a) != t.kind_of(b) {
                errors.push(format!("{}: compares values of different kinds", name()));
            }
        }
    }
    match (op.opcode.result_kind(), op.result) {
        (None, Some(k)) => errors.push(format!("{}: has a {k} result, expected none", name())),
        (Some(_), None) => errors.push(format!("{}: has no result", name())),
        (Some(OpKind::Fixed(want)), Some(k)) if want != k => {
            errors.push(format!("{}: result is {k}, expected {want}", name()))
        }
        _ => {}
    }
}

pub fn verify_trace(t: &Trace) -> Result<(), Vec<String>> {
    let mut errors = Vec::new();
    let defined = |v: Val, at: usize| match v {
        Val::Input(i) => (i as usize) < t.inputs.len(),
        Val::Op(i) => (i as usize) < at && t.ops[i as usize].result.is_some(),
        // (only in resume data, checked there)
        Val::Virtual(_) => false,
        _ => true,
    };
    for (i, op) in t.ops.iter().enumerate() {
        check_shape(t, op, &|| format!("op {i} ({:?})", op.opcode), &mut errors);
        for a in &op.args {
            if !defined(*a, i) {
                errors.push(format!(
                    "op {i} ({:?}): argument {a:?} is not defined before it",
                    op.opcode
                ));
            }
        }
        if op.opcode.is_guard() {
            match op.guard {
                Some(g) if (g as usize) < t.guards.len() => {
                    let info = &t.guards[g as usize];
                    for (k, w) in info.pending.iter().enumerate() {
                        let name = || format!("op {i}: delayed write {k} ({:?})", w.opcode);
                        if !PendingWrite::may_delay(&w.opcode) {
                            errors.push(format!("{}: not a write that may be delayed", name()));
                            continue;
                        }
                        let op = TraceOp {
                            opcode: w.opcode.clone(),
                            args: w.args.clone(),
                            result: None,
                            guard: None,
                        };
                        check_shape(t, &op, &name, &mut errors);
                        if w.args.iter().any(|a| matches!(a, Val::Virtual(_))) {
                            errors.push(format!("{}: writes a virtual object", name()));
                        }
                    }
                    for v in info.values() {
                        let ok = match v {
                            Val::Virtual(k) => (k as usize) < info.virtuals.len(),
                            v => defined(v, i),
                        };
                        if !ok {
                            errors.push(format!(
                                "op {i}: resume data uses {v:?}, not defined before the guard"
                            ));
                        }
                    }
                }
                _ => errors.push(format!(
                    "op {i} ({:?}): guard without resume data",
                    op.opcode
                )),
            }
        }
        if op.opcode.is_final() && i + 1 != t.ops.len() {
            errors.push(format!("op {i}: {:?} is not the last operation", op.opcode));
        }
    }
    let labels: Vec<usize> = (0..t.ops.len())
        .filter(|&i| t.ops[i].opcode == Opcode::Label)
        .collect();
    if labels.len() > 1 {
        errors.push(format!("{} labels (at most one)", labels.len()));
    }
    match t.ops.last() {
        Some(op) if op.opcode.is_final() => {
            if op.opcode == Opcode::Jump {
                // With a label, the jump passes one value per label slot.
                let slots: Vec<Kind> = match labels.first() {
                    Some(&l) => t.ops[l].args.iter().filter_map(|a| t.kind_of(*a)).collect(),
                    None => t.inputs.clone(),
                };
                let what = if labels.is_empty() {
                    "the loop has"
                } else {
                    "the label has"
                };
                if op.args.len() != slots.len() {
                    errors.push(format!(
                        "jump passes {} values, {what} {} slots",
                        op.args.len(),
                        slots.len()
                    ));
                }
                for (n, (a, k)) in op.args.iter().zip(&slots).enumerate() {
                    if t.kind_of(*a) != Some(*k) {
                        errors.push(format!(
                            "jump argument {n} has kind {:?}, slot is {k:?}",
                            t.kind_of(*a)
                        ));
                    }
                }
            }
        }
        _ => errors.push("the trace does not end with jump, jump_to or finish".into()),
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}
