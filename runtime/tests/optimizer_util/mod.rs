//! Shared by the optimizer tests: hand-built `Tables` over real
//! `#[repr(C)]` data (`Obj` with a `Vec<i64>`, an immutable `Prog`,
//! `Regs`), residual calls, an elidable jitcode, a parser of the printed
//! trace format (so that tests read as trace in / trace out), and the
//! "world" the random traces run against.
#![allow(dead_code)]

use metatrace_runtime::jitcode::*;
use metatrace_runtime::trace::*;
use std::cell::Cell;
use std::collections::HashMap;
use std::mem::offset_of;
use std::sync::OnceLock;

pub fn leak<T>(v: Vec<T>) -> &'static [T] {
    Box::leak(v.into_boxed_slice())
}

// ---------------------------------------------------------------------------
// Native data.

#[repr(C)]
#[derive(Debug)]
pub struct Obj {
    pub a: i64,
    pub b: u8,
    pub flag: bool,
    pub h: i16,
    pub c: i32,
    pub d: u64,
    pub f: f64,
    /// Address of an `Obj`.
    pub next: usize,
    pub vals: Vec<i64>,
}

/// The interpreter's program: reached through a shared reference.
#[repr(C)]
pub struct Prog {
    pub n: i64,
    pub code: Vec<i64>,
}

/// What traces allocate (`new<Pair>`, a `Box<Pair>`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pair {
    pub x: i64,
    pub y: i64,
}

#[repr(C)]
pub struct Regs {
    pub values: Vec<i64>,
}

pub enum Shape {
    Empty,
    Circle(f64),
}

unsafe fn shape_tag(a: usize) -> u32 {
    match unsafe { &*(a as *const Shape) } {
        Shape::Empty => 0,
        Shape::Circle(_) => 1,
    }
}

pub const F_A: u16 = 0;
pub const F_B: u16 = 1;
pub const F_FLAG: u16 = 2;
pub const F_H: u16 = 3;
pub const F_C: u16 = 4;
pub const F_D: u16 = 5;
pub const F_F: u16 = 6;
pub const F_NEXT: u16 = 7;
pub const F_VALS: u16 = 8;
/// A second descr of `Obj.a` (same offset and type).
pub const F_A2: u16 = 9;
pub const F_PROG_N: u16 = 10;
pub const F_PROG_CODE: u16 = 11;
pub const F_REGS_VALUES: u16 = 12;

pub const A_VI64: u16 = 0;
pub const A_VI64_IMM: u16 = 1;
pub const A_SLICE_I64: u16 = 2;

pub const C_BUMP: u16 = 0;
pub const C_PEEK: u16 = 1;
pub const C_RESET: u16 = 2;

pub const J_PAIR: u16 = 0;

/// The scalar fields of `Obj`: descr and type.
pub fn obj_fields() -> Vec<(u16, ScalarTy)> {
    use IntTy::*;
    vec![
        (F_A, ScalarTy::Int(I64)),
        (F_B, ScalarTy::Int(U8)),
        (F_FLAG, ScalarTy::Bool),
        (F_H, ScalarTy::Int(I16)),
        (F_C, ScalarTy::Int(I32)),
        (F_D, ScalarTy::Int(U64)),
        (F_F, ScalarTy::F64),
        (F_NEXT, ScalarTy::Ref),
        (F_A2, ScalarTy::Int(I64)),
    ]
}

macro_rules! i64_vec_shims {
    () => {{
        unsafe fn len(v: usize) -> usize {
            unsafe { (*(v as *const Vec<i64>)).len() }
        }
        unsafe fn ptr(v: usize) -> usize {
            unsafe { (*(v as *mut Vec<i64>)).as_mut_ptr() as usize }
        }
        unsafe fn push(v: usize, x: u64) {
            unsafe { (*(v as *mut Vec<i64>)).push(x as i64) }
        }
        unsafe fn pop(v: usize) -> Option<u64> {
            unsafe { (*(v as *mut Vec<i64>)).pop().map(|x| x as u64) }
        }
        VecShims {
            len,
            ptr,
            push: Some(push),
            pop: Some(pop),
        }
    }};
}

thread_local! {
    /// Calls of `bump` (a side effect the tests compare).
    pub static BUMPS: Cell<u64> = const { Cell::new(0) };
}

/// `fn bump(o: &mut Obj) -> i64`: `o.a += 1; o.c += 1; o.vals.push(o.a)`.
unsafe fn bump_shim(args: &[u64], results: &mut [u64]) {
    let o = unsafe { &mut *(args[0] as usize as *mut Obj) };
    o.a = o.a.wrapping_add(1);
    o.c = o.c.wrapping_add(1);
    o.vals.push(o.a);
    BUMPS.with(|b| b.set(b.get() + 1));
    results[0] = o.a as u64;
}

/// `fn reset(r: &mut Regs)`: `r.values.clear(); r.values.push(7)`.
unsafe fn reset_shim(args: &[u64], _results: &mut [u64]) {
    let r = unsafe { &mut *(args[0] as usize as *mut Regs) };
    r.values.clear();
    r.values.push(7);
}

/// `fn peek(o: &Obj) -> (i64, usize)`.
unsafe fn peek_shim(args: &[u64], results: &mut [u64]) {
    let o = unsafe { &*(args[0] as usize as *const Obj) };
    results[0] = o.a as u64;
    results[1] = o.vals.len() as u64;
}

fn pair_jitcode() -> JitCode {
    use Insn::*;
    let ki = |reg| KReg {
        kind: Kind::Int,
        reg,
    };
    // fn pair(a: i64, b: i64) -> (i64, i64) { (a + b, a * b) }
    let code = [
        IntBin {
            op: IntBinOp::Add,
            ty: IntTy::I64,
            a: 0,
            b: 1,
            dst: 2,
        },
        IntBin {
            op: IntBinOp::Mul,
            ty: IntTy::I64,
            a: 0,
            b: 1,
            dst: 3,
        },
        Return {
            values: vec![ki(2), ki(3)],
        },
    ];
    JitCode {
        name: "pair",
        code: leak(encode(&code)),
        num_regs: [4, 0, 0],
        consts_i: &[],
        consts_r: &[],
        consts_f: &[],
        args: leak(vec![ki(0), ki(1)]),
        results: leak(vec![Kind::Int, Kind::Int]),
    }
}

fn field(name: &'static str, ty: Option<ScalarTy>, off: usize, immutable: bool) -> FieldDescr {
    FieldDescr {
        name,
        ty,
        place: FieldPlace::Offset(off),
        immutable,
    }
}

pub fn tables() -> &'static Tables {
    static T: OnceLock<&'static Tables> = OnceLock::new();
    T.get_or_init(|| {
        use IntTy::*;
        let fields = vec![
            field("Obj.a", Some(ScalarTy::Int(I64)), offset_of!(Obj, a), false),
            field("Obj.b", Some(ScalarTy::Int(U8)), offset_of!(Obj, b), false),
            field(
                "Obj.flag",
                Some(ScalarTy::Bool),
                offset_of!(Obj, flag),
                false,
            ),
            field("Obj.h", Some(ScalarTy::Int(I16)), offset_of!(Obj, h), false),
            field("Obj.c", Some(ScalarTy::Int(I32)), offset_of!(Obj, c), false),
            field("Obj.d", Some(ScalarTy::Int(U64)), offset_of!(Obj, d), false),
            field("Obj.f", Some(ScalarTy::F64), offset_of!(Obj, f), false),
            field(
                "Obj.next",
                Some(ScalarTy::Ref),
                offset_of!(Obj, next),
                false,
            ),
            field("Obj.vals", None, offset_of!(Obj, vals), false),
            field(
                "Obj.a#2",
                Some(ScalarTy::Int(I64)),
                offset_of!(Obj, a),
                false,
            ),
            field(
                "Prog.n",
                Some(ScalarTy::Int(I64)),
                offset_of!(Prog, n),
                true,
            ),
            field("Prog.code", None, offset_of!(Prog, code), true),
            field("Regs.values", None, offset_of!(Regs, values), false),
            field(
                "Pair.x",
                Some(ScalarTy::Int(I64)),
                offset_of!(Pair, x),
                false,
            ),
            field(
                "Pair.y",
                Some(ScalarTy::Int(I64)),
                offset_of!(Pair, y),
                false,
            ),
        ];
        let arrays = vec![
            ArrayDescr {
                immutable: false,
                name: "Vec<i64>",
                item: Some(ScalarTy::Int(I64)),
                item_size: 8,
                vec: Some(i64_vec_shims!()),
            },
            ArrayDescr {
                immutable: true,
                name: "&Vec<i64>",
                item: Some(ScalarTy::Int(I64)),
                item_size: 8,
                vec: Some(i64_vec_shims!()),
            },
            ArrayDescr {
                immutable: false,
                name: "[i64]",
                item: Some(ScalarTy::Int(I64)),
                item_size: 8,
                vec: None,
            },
        ];
        // The effect summaries the codewriter computes for these
        // signatures (`codewriter::effects`): `&mut Obj` reaches every
        // field of Obj (both descrs of `Obj.a`) and the Vec<i64> in
        // `Obj.vals` — not those in the other Vec<i64> fields; `&mut Regs`
        // the Vec in `Regs.values`; `&Obj` nothing.
        let i64_arrays: &'static [u16] = &[A_VI64, A_VI64_IMM, A_SLICE_I64];
        let i64_vecs: &'static [u16] = &[A_VI64, A_VI64_IMM];
        let calls = vec![
            CallDescr {
                name: "bump",
                shim: bump_shim,
                arg_kinds: &[Kind::Ref],
                result_kinds: &[Kind::Int],
                effects: CallEffectsDescr {
                    everything: false,
                    fields: &[F_A, F_B, F_FLAG, F_H, F_C, F_D, F_F, F_NEXT, F_A2],
                    items: i64_arrays,
                    vecs: i64_vecs,
                    kept_fields: &[F_PROG_CODE, F_REGS_VALUES],
                    other: false,
                },
            },
            CallDescr {
                name: "peek",
                shim: peek_shim,
                arg_kinds: &[Kind::Ref],
                result_kinds: &[Kind::Int, Kind::Int],
                effects: CallEffectsDescr::NOTHING,
            },
            CallDescr {
                name: "reset",
                shim: reset_shim,
                arg_kinds: &[Kind::Ref],
                result_kinds: &[],
                effects: CallEffectsDescr {
                    everything: false,
                    fields: &[],
                    items: i64_arrays,
                    vecs: i64_vecs,
                    kept_fields: &[F_VALS, F_PROG_CODE],
                    other: false,
                },
            },
        ];
        let enums = vec![
            EnumDescr {
                immutable: false,
                name: "Shape",
                tag: shape_tag,
            },
            EnumDescr {
                immutable: true,
                name: "&Shape",
                tag: shape_tag,
            },
        ];
        Box::leak(Box::new(Tables {
            jitcodes: leak(vec![pair_jitcode()]),
            fields: leak(fields),
            arrays: leak(arrays),
            enums: leak(enums),
            calls: leak(calls),
            allocs: leak(vec![
                AllocDescr {
                    name: "Pair",
                    size: std::mem::size_of::<Pair>(),
                    align: std::mem::align_of::<Pair>(),
                },
                AllocDescr {
                    name: "i64",
                    size: 8,
                    align: 8,
                },
            ]),
            drivers: &[],
            strings: &[],
        }))
    })
}

/// A `Prog` that lives forever (its address can be a trace constant).
pub fn prog() -> &'static Prog {
    static P: OnceLock<usize> = OnceLock::new();
    let a = *P.get_or_init(|| {
        Box::leak(Box::new(Prog {
            n: 42,
            code: vec![10, 20, 30, 40, 50],
        })) as *const Prog as usize
    });
    unsafe { &*(a as *const Prog) }
}

pub fn prog_addr() -> usize {
    prog() as *const Prog as usize
}

/// A `Shape::Circle` that lives forever.
pub fn circle_addr() -> usize {
    static S: OnceLock<usize> = OnceLock::new();
    *S.get_or_init(|| Box::leak(Box::new(Shape::Circle(1.5))) as *const Shape as usize)
}

// ---------------------------------------------------------------------------
// The printed trace format, parsed back.

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

// ---------------------------------------------------------------------------
// A small deterministic PRNG (xorshift64*).

pub struct Rng(pub u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
    /// An "interesting" i64: edge values, small numbers, random bits.
    pub fn int(&mut self) -> i64 {
        match self.below(5) {
            0 => self.pick(&[
                0,
                1,
                -1,
                2,
                7,
                8,
                i64::MIN,
                i64::MAX,
                127,
                128,
                255,
                256,
                -128,
                65535,
                0x7fff_ffff,
                0x8000_0000,
            ]),
            1 | 2 => self.below(12) as i64 - 3,
            3 => (self.next() as i64) >> self.below(64),
            _ => self.next() as i64,
        }
    }
}

// ---------------------------------------------------------------------------
// The world random traces run against: two `Obj`s, reset in place between
// runs so that addresses (which may appear in exits) stay the same.

/// The fields of an `Obj` (`f` by its bits in snapshots).
type ObjState<F> = (i64, u8, bool, i16, i32, u64, F, usize, Vec<i64>);

pub struct World {
    /// (boxed: the addresses must not move)
    #[allow(clippy::vec_box)]
    pub objs: Vec<Box<Obj>>,
    init: Vec<ObjState<f64>>,
}

/// What a run left in memory.
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    pub objs: Vec<ObjState<u64>>,
    pub bumps: u64,
}

impl World {
    pub fn new(r: &mut Rng) -> World {
        let objs: Vec<Box<Obj>> = (0..2)
            .map(|_| {
                Box::new(Obj {
                    a: 0,
                    b: 0,
                    flag: false,
                    h: 0,
                    c: 0,
                    d: 0,
                    f: 0.0,
                    next: 0,
                    vals: Vec::with_capacity(512),
                })
            })
            .collect();
        let addrs: Vec<usize> = objs.iter().map(|o| &**o as *const Obj as usize).collect();
        let mut init = Vec::new();
        for _ in 0..2 {
            let n = 6 + r.below(4) as usize;
            let vals: Vec<i64> = (0..n).map(|_| r.int() % 100).collect();
            init.push((
                r.int(),
                r.int() as u8,
                r.chance(50),
                r.int() as i16,
                r.int() as i32,
                r.int() as u64,
                (r.int() % 1000) as f64 / 8.0,
                addrs[r.below(2) as usize],
                vals,
            ));
        }
        let mut w = World { objs, init };
        w.reset();
        w
    }

    pub fn addr(&self, k: usize) -> u64 {
        &*self.objs[k] as *const Obj as usize as u64
    }

    pub fn reset(&mut self) {
        for (o, i) in self.objs.iter_mut().zip(&self.init) {
            o.a = i.0;
            o.b = i.1;
            o.flag = i.2;
            o.h = i.3;
            o.c = i.4;
            o.d = i.5;
            o.f = i.6;
            o.next = i.7;
            o.vals.clear();
            o.vals.extend_from_slice(&i.8);
        }
        BUMPS.with(|b| b.set(0));
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            objs: self
                .objs
                .iter()
                .map(|o| {
                    (
                        o.a,
                        o.b,
                        o.flag,
                        o.h,
                        o.c,
                        o.d,
                        o.f.to_bits(),
                        o.next,
                        o.vals.clone(),
                    )
                })
                .collect(),
            bumps: BUMPS.with(|b| b.get()),
        }
    }
}
