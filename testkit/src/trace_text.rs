//! The printed trace format, parsed back (so that the optimizer tests
//! read as trace in / trace out), printed with the optimizer tables
//! (`show`, `show_resume`) and compared (`assert_trace`). Names of
//! descrs are those of `crate::optimizer::tables()`.

use crate::optimizer::tables;
use metatrace_runtime::jitcode::*;
use metatrace_runtime::trace::*;
use std::collections::HashMap;

fn scalar(name: &str) -> ScalarTy {
    match name {
        "bool" => ScalarTy::Bool,
        "char" => ScalarTy::Char,
        "f64" => ScalarTy::F64,
        "ref" => ScalarTy::Ref,
        n => ScalarTy::Int(IntTy::from_name(n).unwrap_or_else(|| panic!("type {n}"))),
    }
}

fn cmp_op(s: &str) -> Option<CmpOp> {
    Some(match s {
        "eq" => CmpOp::Eq,
        "ne" => CmpOp::Ne,
        "lt" => CmpOp::Lt,
        "le" => CmpOp::Le,
        "gt" => CmpOp::Gt,
        "ge" => CmpOp::Ge,
        _ => return None,
    })
}

fn int_op(s: &str) -> Option<IntBinOp> {
    Some(match s {
        "add" => IntBinOp::Add,
        "sub" => IntBinOp::Sub,
        "mul" => IntBinOp::Mul,
        "div" => IntBinOp::Div,
        "rem" => IntBinOp::Rem,
        "and" => IntBinOp::And,
        "or" => IntBinOp::Or,
        "xor" => IntBinOp::Xor,
        "shl" => IntBinOp::Shl,
        "shr" => IntBinOp::Shr,
        _ => return None,
    })
}

fn float_op(s: &str) -> Option<FloatBinOp> {
    Some(match s {
        "add" => FloatBinOp::Add,
        "sub" => FloatBinOp::Sub,
        "mul" => FloatBinOp::Mul,
        "div" => FloatBinOp::Div,
        "rem" => FloatBinOp::Rem,
        _ => return None,
    })
}

fn find<T>(xs: &[T], name: &str, f: impl Fn(&T) -> String) -> u16 {
    xs.iter()
        .position(|x| f(x) == name)
        .unwrap_or_else(|| panic!("no descr named {name}")) as u16
}

fn opcode(t: &Tables, s: &str) -> Opcode {
    let descr = |prefix: &str| -> Option<&str> { s.strip_prefix(prefix)?.strip_suffix('>') };
    let field = |n: &str| find(t.fields, n, |d| d.name.to_string());
    let array = |n: &str| find(t.arrays, n, |d| d.name.to_string());
    if let Some(rest) = s.strip_prefix("int_") {
        let (op, ty) = rest.split_once('/').expect("int_op/type");
        let ty = IntTy::from_name(ty).expect("int type");
        return match op {
            "neg" => Opcode::IntNeg(ty),
            "not" => Opcode::IntNot(ty),
            o => match (int_op(o), cmp_op(o)) {
                (Some(b), _) => Opcode::IntBin(b, ty),
                (_, Some(c)) => Opcode::IntCmp(c, ty),
                _ => panic!("int op {o}"),
            },
        };
    }
    if let Some(o) = s.strip_prefix("float_") {
        return match o {
            "neg" => Opcode::FloatNeg,
            o => match (float_op(o), cmp_op(o)) {
                (Some(b), _) => Opcode::FloatBin(b),
                (_, Some(c)) => Opcode::FloatCmp(c),
                _ => panic!("float op {o}"),
            },
        };
    }
    if let Some(rest) = s.strip_prefix("cast/") {
        let (a, b) = rest.split_once("->").unwrap();
        return Opcode::Cast(scalar(a), scalar(b));
    }
    if let Some(ty) = s.strip_prefix("load/") {
        return Opcode::Load(scalar(ty));
    }
    if let Some(ty) = s.strip_prefix("store/") {
        return Opcode::Store(scalar(ty));
    }
    if let Some(n) = s.strip_prefix("call_result#") {
        return Opcode::CallResult(n.parse().unwrap(), Kind::Int); // kind fixed by caller
    }
    if let Some(n) = descr("new<") {
        return Opcode::New(find(t.allocs, n, |d| d.name.to_string()));
    }
    if let Some(n) = descr("free<") {
        return Opcode::Free(find(t.allocs, n, |d| d.name.to_string()));
    }
    if let Some(n) = descr("getfield<") {
        return Opcode::GetField(field(n));
    }
    if let Some(n) = descr("setfield<") {
        return Opcode::SetField(field(n));
    }
    if let Some(n) = descr("fieldaddr<") {
        return Opcode::FieldAddr(field(n));
    }
    if let Some(n) = descr("enum_tag<") {
        return Opcode::EnumTag(find(t.enums, n, |d| d.name.to_string()));
    }
    if let Some(n) = descr("vec_len<") {
        return Opcode::VecLen(array(n));
    }
    if let Some(n) = descr("vec_ptr<") {
        return Opcode::VecPtr(array(n));
    }
    if let Some(n) = descr("vec_push<") {
        return Opcode::VecPush(array(n));
    }
    if let Some(n) = descr("vec_pop<") {
        return Opcode::VecPopNonEmpty(array(n));
    }
    if let Some(n) = descr("itemaddr<") {
        return Opcode::ItemAddr(array(n));
    }
    if let Some(n) = descr("getitem<") {
        return Opcode::GetItem(array(n));
    }
    if let Some(n) = descr("setitem<") {
        return Opcode::SetItem(array(n));
    }
    if let Some(n) = descr("call_residual<") {
        return Opcode::CallResidual(find(t.calls, n, |d| d.name.to_string()));
    }
    if let Some(n) = descr("call_pure<") {
        return Opcode::CallPure(find(t.jitcodes, n, |d| d.name.to_string()));
    }
    if let Some(n) = descr("jump_to<loop ") {
        return Opcode::JumpTo {
            target: n.parse().unwrap(),
        };
    }
    if let Some(rest) = descr("debug_merge_point<") {
        let (n, pc) = rest.rsplit_once(" @").unwrap();
        return Opcode::DebugMergePoint {
            jitcode: find(t.jitcodes, n, |d| d.name.to_string()),
            pc: pc.parse().unwrap(),
        };
    }
    match s {
        "string_ptr" => Opcode::StringPtr,
        "string_len" => Opcode::StringLen,
        "guard_true" => Opcode::GuardTrue,
        "guard_false" => Opcode::GuardFalse,
        "guard_value" => Opcode::GuardValue,
        "jump" => Opcode::Jump,
        _ => panic!("unknown operation {s}"),
    }
}

fn kind_of_letter(c: char) -> Kind {
    match c {
        'i' => Kind::Int,
        'r' => Kind::Ref,
        'f' => Kind::Float,
        _ => panic!("kind letter {c}"),
    }
}

/// Split at top-level commas (not inside `<>`, `()` or `[]`).
fn split_args(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '<' | '(' | '[' => depth += 1,
            '>' | ')' | ']' => depth -= 1,
            ',' if depth == 0 => {
                out.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    if !s[start..].trim().is_empty() {
        out.push(s[start..].trim());
    }
    out
}

/// Parse a trace in the printed format. Names are free (`i7` need not be
/// op 7); the `[...]` after a guard is its resume data, one frame per
/// `|`-separated group (frame k: jitcode 0, pc k; register n of each
/// frame in order, constants allowed); `#n` is ignored. A trace ending
/// with `jump_to` is a bridge.
pub fn parse(text: &str) -> Trace {
    let t = tables();
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let header = lines.next().expect("[inputs]");
    let header = header.strip_prefix('[').unwrap().strip_suffix(']').unwrap();
    let mut names: HashMap<String, Val> = HashMap::new();
    let mut inputs = Vec::new();
    for (k, n) in split_args(header).into_iter().enumerate() {
        inputs.push(kind_of_letter(n.chars().next().unwrap()));
        names.insert(n.to_string(), Val::Input(k as u16));
    }
    let mut ops: Vec<TraceOp> = Vec::new();
    let mut guards = Vec::new();
    let kinds = |ops: &Vec<TraceOp>, inputs: &Vec<Kind>, v: Val| match v {
        Val::Input(i) => inputs[i as usize],
        Val::Op(i) => ops[i as usize].result.unwrap(),
        Val::Int(_) => Kind::Int,
        Val::Ref(_) => Kind::Ref,
        Val::Float(_) => Kind::Float,
        Val::Virtual(_) => Kind::Ref,
    };
    for line in lines {
        let (lhs, rhs) = match line.split_once(" = ") {
            Some((l, r)) if !l.contains('(') => (Some(l.trim()), r.trim()),
            _ => (None, line),
        };
        // opcode name: up to the first '(' outside <>.
        let mut depth = 0;
        let mut open = None;
        for (i, c) in rhs.char_indices() {
            match c {
                '<' => depth += 1,
                '>' if !rhs[..i].ends_with('-') => depth -= 1,
                '(' if depth == 0 => {
                    open = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let open = open.unwrap_or_else(|| panic!("no '(' in {line}"));
        let name = &rhs[..open];
        let mut depth = 0;
        let mut close = None;
        for (i, c) in rhs[open..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        close = Some(open + i);
                        break;
                    }
                }
                _ => {}
            }
        }
        let close = close.unwrap();
        let val = |names: &HashMap<String, Val>, s: &str| -> Val {
            if let Some(v) = names.get(s) {
                return *v;
            }
            if let Some(h) = s.strip_prefix("0x") {
                return Val::Ref(usize::from_str_radix(h, 16).unwrap());
            }
            if s.contains('.') || s.contains("inf") || s.contains("NaN") {
                return Val::Float(s.parse::<f64>().unwrap().to_bits());
            }
            if let Ok(c) = s.parse::<i64>() {
                return Val::Int(c);
            }
            panic!("unknown value {s} in {line}")
        };
        let args: Vec<Val> = split_args(&rhs[open + 1..close])
            .into_iter()
            .map(|a| val(&names, a))
            .collect();
        let mut opcode = opcode(t, name);
        let result = lhs.map(|l| kind_of_letter(l.chars().next().unwrap()));
        if let (Opcode::CallResult(n, _), Some(k)) = (&opcode, result) {
            opcode = Opcode::CallResult(*n, k);
        }
        let mut guard = None;
        if opcode.is_guard() {
            let rest = &rhs[close + 1..];
            let inner = rest
                .split_once('[')
                .and_then(|(_, r)| r.rsplit_once(']'))
                .map(|(r, _)| r)
                .unwrap_or("");
            let frames = inner
                .split('|')
                .enumerate()
                .map(|(k, group)| FrameSnapshot {
                    jitcode: 0,
                    pc: k as u32,
                    regs: split_args(group)
                        .into_iter()
                        .enumerate()
                        .map(|(r, s)| {
                            let v = val(&names, s);
                            (
                                KReg {
                                    kind: kinds(&ops, &inputs, v),
                                    reg: r as u16,
                                },
                                v,
                            )
                        })
                        .collect(),
                })
                .collect();
            guards.push(GuardInfo::new(frames));
            guard = Some(guards.len() as u32 - 1);
        }
        ops.push(TraceOp {
            opcode,
            args,
            result,
            guard,
        });
        if let Some(l) = lhs {
            names.insert(l.to_string(), Val::Op(ops.len() as u32 - 1));
        }
    }
    let start = match ops.last().map(|o| &o.opcode) {
        Some(Opcode::JumpTo { .. }) => TraceStart::Bridge { code: 0, guard: 0 },
        _ => TraceStart::Loop {
            driver: 0,
            greens: vec![],
        },
    };
    let trace = Trace {
        start,
        inputs,
        ops,
        guards,
    };
    if let Err(e) = verify_trace(&trace) {
        panic!("parsed trace does not verify: {e:?}\n{text}");
    }
    trace
}

/// `format_trace` with the tests' tables.
pub fn show(t: &Trace) -> String {
    format_trace(t, tables())
}

/// Every guard's full resume data, constants included: `#g: [a, b | c]`.
pub fn show_resume(t: &Trace) -> String {
    let name = |v: Val| -> String {
        match v {
            Val::Input(i) => format!("{}{}", t.inputs[i as usize].letter(), i),
            Val::Op(i) => format!(
                "{}{}",
                t.ops[i as usize].result.unwrap().letter(),
                i as usize + t.inputs.len()
            ),
            Val::Int(c) => c.to_string(),
            Val::Ref(r) => format!("0x{r:x}"),
            Val::Float(b) => format!("{:?}", f64::from_bits(b)),
            Val::Virtual(k) => format!("virtual{k}"),
        }
    };
    let mut out = String::new();
    for (g, info) in t.guards.iter().enumerate() {
        let frames: Vec<String> = info
            .frames
            .iter()
            .map(|f| {
                f.regs
                    .iter()
                    .map(|(_, v)| name(*v))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .collect();
        out.push_str(&format!("#{g}: [{}]", frames.join(" | ")));
        out.push_str(&format_virtuals(t, info, tables()));
        out.push('\n');
    }
    out
}

/// Compare printed traces line by line, ignoring leading/trailing space.
pub fn assert_trace(got: &Trace, want: &str) {
    let got_s = show(got);
    let norm = |s: &str| -> Vec<String> {
        s.lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect()
    };
    if norm(&got_s) != norm(want) {
        panic!(
            "optimized trace differs\n--- want:\n{}\n--- got:\n{}",
            norm(want).join("\n"),
            got_s
        );
    }
    if let Err(e) = verify_trace(got) {
        panic!("optimized trace does not verify: {e:?}\n{got_s}");
    }
}
