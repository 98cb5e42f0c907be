//! Text form of traces, in the style of PYPYLOG's `jit-log-opt`:
//!
//! ```text
//! [i0, r1]
//! i2 = int_add/i64(i0, 1)
//! guard_true(i3) [r1, i2] #0
//! jump(i2, r1)
//! ```

use super::*;
use crate::jitcode::JitCodeNames;

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

fn cmp(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "eq",
        CmpOp::Ne => "ne",
        CmpOp::Lt => "lt",
        CmpOp::Le => "le",
        CmpOp::Gt => "gt",
        CmpOp::Ge => "ge",
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
                    FieldWrite::Field(d) => names.field(*d),
                    FieldWrite::Store(ty) => format!("store/{}", ty.name()),
                };
                format!("{at}: {}", val_name(t, *v))
            })
            .collect();
        out.push_str(&format!(
            " virtual{k} = new<{}>({})",
            names.alloc(obj.descr),
            fields.join(", ")
        ));
    }
    out
}

/// Name of an operation, with its static data.
pub fn opcode_name(op: &Opcode, names: &dyn JitCodeNames) -> String {
    match op {
        Opcode::IntBin(o, t) => format!("int_{}/{}", format!("{o:?}").to_lowercase(), t.name()),
        Opcode::IntNeg(t) => format!("int_neg/{}", t.name()),
        Opcode::IntNot(t) => format!("int_not/{}", t.name()),
        Opcode::IntCmp(o, t) => format!("int_{}/{}", cmp(*o), t.name()),
        Opcode::FloatBin(o) => format!("float_{}", format!("{o:?}").to_lowercase()),
        Opcode::FloatNeg => "float_neg".into(),
        Opcode::FloatCmp(o) => format!("float_{}", cmp(*o)),
        Opcode::Cast(a, b) => format!("cast/{}->{}", a.name(), b.name()),
        Opcode::GetField(d) => format!("getfield<{}>", names.field(*d)),
        Opcode::SetField(d) => format!("setfield<{}>", names.field(*d)),
        Opcode::FieldAddr(d) => format!("fieldaddr<{}>", names.field(*d)),
        Opcode::Load(t) => format!("load/{}", t.name()),
        Opcode::New(d) => format!("new<{}>", names.alloc(*d)),
        Opcode::Free(d) => format!("free<{}>", names.alloc(*d)),
        Opcode::Store(t) => format!("store/{}", t.name()),
        Opcode::EnumTag(d) => format!("enum_tag<{}>", names.enum_(*d)),
        Opcode::VecLen(d) => format!("vec_len<{}>", names.array(*d)),
        Opcode::VecPtr(d) => format!("vec_ptr<{}>", names.array(*d)),
        Opcode::VecPush(d) => format!("vec_push<{}>", names.array(*d)),
        Opcode::VecPopNonEmpty(d) => format!("vec_pop<{}>", names.array(*d)),
        Opcode::ItemAddr(d) => format!("itemaddr<{}>", names.array(*d)),
        Opcode::GetItem(d) => format!("getitem<{}>", names.array(*d)),
        Opcode::SetItem(d) => format!("setitem<{}>", names.array(*d)),
        Opcode::StringPtr => "string_ptr".into(),
        Opcode::StringLen => "string_len".into(),
        Opcode::CallResidual(d) => format!("call_residual<{}>", names.call(*d)),
        Opcode::CallPure(d) => format!("call_pure<{}>", names.jitcode(*d)),
        Opcode::CallResult(n, _) => format!("call_result#{n}"),
        Opcode::GuardTrue => "guard_true".into(),
        Opcode::GuardFalse => "guard_false".into(),
        Opcode::GuardValue => "guard_value".into(),
        Opcode::DebugMergePoint { jitcode, pc } => {
            format!("debug_merge_point<{} @{pc}>", names.jitcode(*jitcode))
        }
        Opcode::Label => "label".into(),
        Opcode::Jump => "jump".into(),
        Opcode::JumpTo { target } => format!("jump_to<loop {target}>"),
    }
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
            }
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}
