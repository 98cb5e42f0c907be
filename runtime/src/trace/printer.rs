//! Text form of traces, in the style of PYPYLOG's `jit-log-opt`:
//!
//! ```text
//! [i0, r1]
//! i2 = int_add/i64(i0, 1)
//! guard_true(i3) [r1, i2] #0
//! jump(i2, r1)
//! ```
//!
//! After a guard's fail arguments come its virtual objects
//! (`virtual0 = new<T>(...)`) and the writes delayed past it
//! (`pending setfield<T.f>(r1, i2)`).

use super::*;
use crate::jitcode::{fill_template, DescrTable, JitCodeNames};

fn val_name(t: &Trace, v: Val) -> String {
    match v {
        Val::Input(i) => format!(
            "{}{}",
            t.inputs.get(i as usize).map(|k| k.letter()).unwrap_or('?'),
            i
        ),
        Val::Op(i) => {
            let k = t
                .ops
                .get(i as usize)
                .and_then(|o| o.result)
                .map(|k| k.letter())
                .unwrap_or('v');
            format!("{k}{}", i as usize + t.inputs.len())
        }
        Val::Int(c) => format!("{c}"),
        Val::Ref(r) => format!("0x{r:x}"),
        Val::Float(b) => format!("{:?}", f64::from_bits(b)),
        Val::Virtual(i) => format!("virtual{i}"),
    }
}

/// The virtual objects of a guard's resume data, as printed after the
/// guard: ` virtual0 = new<Pair>(Pair.lo: i3, Pair.hi: 15)` for each.
pub fn format_virtuals(t: &Trace, info: &GuardInfo, names: &dyn JitCodeNames) -> String {
    let mut out = String::new();
    for (k, obj) in info.virtuals.iter().enumerate() {
        let fields: Vec<String> = obj
            .fields
            .iter()
            .map(|(w, v)| {
                let at = match w {
                    FieldWrite::Field(d) => names.name(DescrTable::Field { scalar: true }, d.0),
                    FieldWrite::Store(ty) => format!("store/{}", ty.name()),
                };
                format!("{at}: {}", val_name(t, *v))
            })
            .collect();
        out.push_str(&format!(
            " virtual{k} = new<{}>({})",
            names.name(DescrTable::Alloc, obj.descr.0),
            fields.join(", ")
        ));
    }
    out
}

/// Name of an operation, with its static data: the table's template
/// with the printed parameters filled in.
pub fn opcode_name(op: &Opcode, names: &dyn JitCodeNames) -> String {
    let mut params = Vec::new();
    op.params(&mut |p| match p {
        Param::Token(t) => params.push(t.name().to_string()),
        Param::Descr(d, table) => params.push(names.name(table, d)),
        Param::Number(n) => params.push(n.to_string()),
        Param::Hidden => {}
    });
    fill_template(op.template(), &params)
}

/// The whole trace, one operation per line.
pub fn format_trace(t: &Trace, names: &dyn JitCodeNames) -> String {
    let inputs: Vec<String> = (0..t.inputs.len())
        .map(|i| val_name(t, Val::Input(i as u16)))
        .collect();
    let mut out = format!("[{}]\n", inputs.join(", "));
    for (i, op) in t.ops.iter().enumerate() {
        let args: Vec<String> = op.args.iter().map(|a| val_name(t, *a)).collect();
        let lhs = match op.result {
            Some(_) => format!("{} = ", val_name(t, Val::Op(i as u32))),
            None => String::new(),
        };
        let mut line = format!(
            "{lhs}{}({})",
            opcode_name(&op.opcode, names),
            args.join(", ")
        );
        if let Some(g) = op.guard {
            if let Some(info) = t.guards.get(g as usize) {
                let fa: Vec<String> = info.fail_args.iter().map(|a| val_name(t, *a)).collect();
                line.push_str(&format!(" [{}] #{g}", fa.join(", ")));
                line.push_str(&format_virtuals(t, info, names));
                for w in &info.pending {
                    let args: Vec<String> = w.args.iter().map(|a| val_name(t, *a)).collect();
                    let name = opcode_name(&w.opcode, names);
                    line.push_str(&format!(" pending {name}({})", args.join(", ")));
                }
            }
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}
