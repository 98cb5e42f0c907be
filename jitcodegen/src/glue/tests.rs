//! The glue on small hand-made assemblies: the snippets that matter are
//! there. (That the glue compiles and runs is tested by building the
//! targets: `tests/jitcode_only.rs` in the root package.)

use super::*;
use crate::codewriter::{
    AllocRequest, ArrayRequest, CallEffectsData, CallRequest, DriverRequest, EnumRequest,
    FieldRequest, JitCodeData,
};
use crate::flowgraph::{FlowGraph, Param};
use crate::types::{AdtDef, AdtId, FieldDef, VariantDef};
use metatrace_runtime::jitcode::{Insn, IntTy, KReg, Kind};

fn u8t() -> Ty {
    Ty::Int(IntTy::U8)
}

/// `struct Tape { cells: Vec<u8> }`, `enum Op { Add(u8), Jump { to: usize }, Halt }`,
/// `struct Pair(i8, char)`.
fn types() -> TypeTable {
    let f = |name: &str, ty: Ty| FieldDef {
        name: name.into(),
        ty,
        virtualizable: false,
    };
    let adt = |name: &str, kind, owns_heap, is_copy| AdtDef {
        name: name.into(),
        path: format!("interp::{name}"),
        kind,
        owns_heap,
        is_copy,
        tag: None,
    };
    let tape = AdtKind::Struct {
        fields: vec![f("cells", Ty::Vec(Box::new(u8t())))],
        named: true,
    };
    let op = AdtKind::Enum {
        variants: vec![
            VariantDef {
                name: "Add".into(),
                fields: vec![f("0", u8t())],
                named: false,
            },
            VariantDef {
                name: "Jump".into(),
                fields: vec![f("to", Ty::usize())],
                named: true,
            },
            VariantDef {
                name: "Halt".into(),
                fields: vec![],
                named: false,
            },
        ],
    };
    let pair = AdtKind::Struct {
        fields: vec![f("0", Ty::Int(IntTy::I8)), f("1", Ty::Char)],
        named: false,
    };
    TypeTable {
        adts: vec![
            adt("Tape", tape, true, false),
            adt("Op", op, false, true),
            adt("Pair", pair, false, true),
        ],
    }
}

const TAPE: Ty = Ty::Adt(AdtId(0));
const OP: Ty = Ty::Adt(AdtId(1));
const PAIR: Ty = Ty::Adt(AdtId(2));

fn jitcode(name: &str, args: Vec<KReg>, results: Vec<Kind>) -> JitCodeData {
    JitCodeData {
        name: name.into(),
        insns: vec![Insn::Return { values: vec![] }],
        num_regs: [2, 1, 0],
        consts_i: vec![-1, i64::MIN],
        consts_r: vec![RefConstText::Str("hi \"x\"".into()), RefConstText::Null],
        consts_f: vec![1.5f64.to_bits()],
        args,
        results,
    }
}

fn sample() -> (Program, Assembly) {
    let types = types();
    let slice = Ty::reference(false, Ty::Slice(Box::new(u8t())));
    let ret = Ty::Result(Box::new(Ty::Int(IntTy::I64)), Box::new(OP));
    let params = vec![
        Param {
            name: "code".into(),
            ty: slice.clone(),
        },
        Param {
            name: "tape".into(),
            ty: Ty::reference(true, TAPE),
        },
        Param {
            name: "p".into(),
            ty: PAIR,
        },
    ];
    let leaves = types.flatten(&ret).unwrap();
    let mut program = Program {
        types: types.clone(),
        ..Program::default()
    };
    program
        .graphs
        .push(FlowGraph::new("interp::run", params, ret, leaves));
    let ri = |reg| KReg {
        kind: Kind::Int,
        reg,
    };
    let rr = |reg| KReg {
        kind: Kind::Ref,
        reg,
    };
    let asm = Assembly {
        jitcodes: vec![jitcode(
            "interp::run",
            vec![rr(0), ri(0), rr(1), ri(1), ri(2)],
            vec![Kind::Int; 5],
        )],
        fields: vec![
            FieldRequest {
                immutable: false,
                virtualizable: false,
                field: FieldRef {
                    owner: TAPE,
                    variant: None,
                    index: 0,
                },
                ty: Ty::Vec(Box::new(u8t())),
            },
            FieldRequest {
                immutable: false,
                virtualizable: false,
                field: FieldRef {
                    owner: OP,
                    variant: Some(1),
                    index: 0,
                },
                ty: Ty::usize(),
            },
            FieldRequest {
                immutable: false,
                virtualizable: false,
                field: FieldRef {
                    owner: Ty::Tuple(vec![u8t(), Ty::Int(IntTy::U32)]),
                    variant: None,
                    index: 1,
                },
                ty: Ty::Int(IntTy::U32),
            },
            FieldRequest {
                immutable: false,
                virtualizable: false,
                field: FieldRef {
                    owner: PAIR,
                    variant: None,
                    index: 1,
                },
                ty: Ty::Char,
            },
            // `Some.0` of a null-pointer option, and of another option.
            FieldRequest {
                immutable: false,
                virtualizable: false,
                field: FieldRef {
                    owner: Ty::Option(Box::new(Ty::Box(Box::new(u8t())))),
                    variant: Some(1),
                    index: 0,
                },
                ty: Ty::Box(Box::new(u8t())),
            },
            FieldRequest {
                immutable: false,
                virtualizable: false,
                field: FieldRef {
                    owner: Ty::Option(Box::new(Ty::Int(IntTy::U32))),
                    variant: Some(1),
                    index: 0,
                },
                ty: Ty::Int(IntTy::U32),
            },
        ],
        arrays: vec![
            ArrayRequest {
                immutable: true,
                virtualizable: false,
                container: Container::Vec,
                item: u8t(),
            },
            ArrayRequest {
                immutable: true,
                virtualizable: false,
                container: Container::Slice,
                item: OP,
            },
            ArrayRequest {
                immutable: true,
                virtualizable: false,
                container: Container::Vec,
                item: OP,
            },
        ],
        enums: vec![
            EnumRequest {
                ty: OP,
                immutable: true,
            },
            EnumRequest {
                ty: Ty::Option(Box::new(u8t())),
                immutable: false,
            },
            EnumRequest {
                ty: Ty::Result(Box::new(Ty::Unit), Box::new(OP)),
                immutable: false,
            },
        ],
        calls: vec![
            CallRequest {
                path: "interp::grow".into(),
                helper: None,
                params: vec![Ty::reference(true, TAPE), Ty::usize()],
                ret: Ty::Bool,
                effects: CallEffectsData {
                    items: vec![0],
                    vecs: vec![0],
                    kept_fields: vec![3],
                    ..CallEffectsData::default()
                },
            },
            CallRequest {
                path: "interp::pick".into(),
                helper: None,
                params: vec![slice, Ty::Option(Box::new(PAIR))],
                ret: Ty::Tuple(vec![Ty::F64, OP]),
                effects: CallEffectsData::everything(),
            },
            CallRequest {
                path: "interp::rebox".into(),
                helper: None,
                params: vec![Ty::Box(Box::new(PAIR))],
                ret: Ty::Box(Box::new(Ty::Int(IntTy::I64))),
                effects: CallEffectsData::everything(),
            },
        ],
        allocs: vec![
            AllocRequest {
                ty: PAIR,
                gc: false,
            },
            AllocRequest {
                ty: Ty::Int(IntTy::I64),
                gc: false,
            },
        ],
        drivers: vec![DriverRequest {
            portal: "interp::run".into(),
            jitcode: 0,
            greens: vec![
                Ty::usize(),
                Ty::reference(false, Ty::Slice(Box::new(u8t()))),
            ],
            reds: vec![Ty::reference(true, TAPE)],
        }],
        strings: vec!["index out of bounds".into()],
        types,
    };
    (program, asm)
}

fn glue() -> String {
    let (p, a) = sample();
    generate(&p, &a).unwrap()
}

/// The glue with all whitespace removed, for snippet checks that do not
/// depend on how tokens are spaced.
fn squashed() -> String {
    glue().chars().filter(|c| !c.is_whitespace()).collect()
}

fn has(snippet: &str) {
    let s: String = snippet.chars().filter(|c| !c.is_whitespace()).collect();
    let text = squashed();
    assert!(text.contains(&s), "missing `{snippet}` in:\n{}", glue());
}

#[test]
fn tables_and_jitcodes() {
    has("use ::metatrace::runtime::jitcode as __mt;");
    has("pub static TABLES: __mt::Tables = __mt::Tables { jitcodes: &JITCODES, fields: &FIELDS,");
    has("static JITCODES: [__mt::JitCode; 1] = [");
    has("name: \"interp::run\"");
    let code = Literal::byte_string(&encode(&[Insn::Return { values: vec![] }])).to_string();
    has(&format!("code: {code}"));
    has("num_regs: [2u16, 1u16, 0u16]");
    has("consts_i: &[-1i64, i64::MIN]");
    has(r#"consts_r: &[__mt::RefConst::Str("hi \"x\""), __mt::RefConst::Null]"#);
    has(&format!("consts_f: &[{}u64]", 1.5f64.to_bits()));
    has("args: &[__mt::KReg { kind: __mt::Kind::Ref, reg: 0u16 }, __mt::KReg { kind: __mt::Kind::Int, reg: 0u16 }");
    has("static STRINGS: [&'static str; 1] = [\"index out of bounds\",];");
}

#[test]
fn fields_by_offset_of_and_variant_shims() {
    has("name: \"Tape.cells\", ty: ::core::option::Option::None, place: __mt::FieldPlace::Offset(::core::mem::offset_of!(crate::interp::Tape, cells))");
    has("place: __mt::FieldPlace::Offset(::core::mem::offset_of!((u8, u32,), 1))");
    has("ty: ::core::option::Option::Some(__mt::ScalarTy::Char), place: __mt::FieldPlace::Offset(::core::mem::offset_of!(crate::interp::Pair, 1))");
    has("name: \"Op::Jump.to\", ty: ::core::option::Option::Some(__mt::ScalarTy::Int(__mt::IntTy::Usize)), place: __mt::FieldPlace::Shim(field_1)");
    has("unsafe fn field_1(base: usize) -> usize { unsafe { match &*(base as *const crate::interp::Op) { crate::interp::Op::Jump { to: __f, .. } => __f as *const _ as usize, _ =>");
    // The pointer of `Some(p)` of a null-pointer option is the option
    // itself; another option's payload is found by a shim.
    has("name: \"Option<Box<u8>>.0\", ty: ::core::option::Option::Some(__mt::ScalarTy::Ref), place: __mt::FieldPlace::Offset(0)");
    has("place: __mt::FieldPlace::Shim(field_5)");
    has("unsafe fn field_5(base: usize) -> usize { unsafe { match &*(base as *const ::core::option::Option<u32>) { ::core::option::Option::Some(__f) => __f as *const _ as usize,");
}

#[test]
fn arrays_and_vec_shims() {
    has("name: \"Vec<u8>\", item: ::core::option::Option::Some(__mt::ScalarTy::Int(__mt::IntTy::U8)), item_size: ::core::mem::size_of::<u8>(), vec: ::core::option::Option::Some(__mt::VecShims { len: vec_len_0, ptr: vec_ptr_0, push: ::core::option::Option::Some(vec_push_0), pop: ::core::option::Option::Some(vec_pop_0), slots: ::core::option::Option::Some(__mt::SlotShims { set_len: vec_set_len_0, cap: vec_cap_0, reserve: vec_reserve_0, with_capacity: vec_with_capacity_0, drop: vec_drop_0, }), })");
    has("unsafe fn vec_with_capacity_0(v: usize, n: usize) { unsafe { ::core::ptr::write(v as *mut ::std::vec::Vec<u8>, ::std::vec::Vec::with_capacity(n)) } }");
    has("unsafe fn vec_drop_0(v: usize) { unsafe { ::core::ptr::drop_in_place(v as *mut ::std::vec::Vec<u8>) } }");
    has("unsafe fn vec_set_len_0(v: usize, n: usize) { unsafe { (*(v as *mut ::std::vec::Vec<u8>)).set_len(n) } }");
    has("unsafe fn vec_len_0(v: usize) -> usize { unsafe { (*(v as *const ::std::vec::Vec<u8>)).len() } }");
    has("unsafe fn vec_ptr_0(v: usize) -> usize { unsafe { (*(v as *const ::std::vec::Vec<u8>)).as_ptr() as usize } }");
    has("unsafe fn vec_push_0(v: usize, value: u64) { unsafe { let __x = [value]; (*(v as *mut ::std::vec::Vec<u8>)).push((__x[0] as u8)) } }");
    has("(*(v as *mut ::std::vec::Vec<u8>)).pop().map(|__item| { let mut __o = [0u64; 1]; __o[0] = (__item) as u64; __o[0] })");
    // slices: no shims; Vecs of aggregates: no push/pop
    has("name: \"[Op]\", item: ::core::option::Option::None, item_size: ::core::mem::size_of::<crate::interp::Op>(), vec: ::core::option::Option::None");
    has("len: vec_len_2, ptr: vec_ptr_2, push: ::core::option::Option::None, pop: ::core::option::Option::None");
}

#[test]
fn enum_tags() {
    has("unsafe fn enum_tag_0(addr: usize) -> u32 { unsafe { match &*(addr as *const crate::interp::Op) { crate::interp::Op::Add { .. } => 0u32, crate::interp::Op::Jump { .. } => 1u32, crate::interp::Op::Halt { .. } => 2u32, } } }");
    has("match &*(addr as *const ::core::option::Option<u8>) { ::core::option::Option::None => 0u32, ::core::option::Option::Some(_) => 1u32, }");
    has("match &*(addr as *const ::core::result::Result<(), crate::interp::Op>) { ::core::result::Result::Ok(_) => 0u32, ::core::result::Result::Err(_) => 1u32, }");
    has("__mt::EnumDescr { immutable: true, name: \"Op\", tag: enum_tag_0, null_pointer: false, }");
    has("__mt::EnumDescr { immutable: false, name: \"Option<u8>\", tag: enum_tag_1, null_pointer: false, }");
}

#[test]
fn residual_call_shims() {
    has("unsafe fn call_0(args: &[u64], results: &mut [u64]) { unsafe { let __r = crate::interp::grow(&mut *(args[0] as usize as *mut crate::interp::Tape), (args[1] as usize)); results[0] = (__r) as u64; } }");
    has("arg_kinds: &[__mt::Kind::Ref, __mt::Kind::Int], result_kinds: &[__mt::Kind::Int]");
    // &[u8] from (ptr, len); Option<Pair> from tag + leaves, built with
    // braces and numeric field names; the (f64, Op) result exploded.
    has("crate::interp::pick(::core::slice::from_raw_parts(args[0] as usize as *const u8, args[1] as usize), match args[2] { 0u64 => ::core::option::Option::None, _ => ::core::option::Option::Some(crate::interp::Pair { 0: (args[3] as i8), 1: ::core::char::from_u32_unchecked(args[4] as u32), }), })");
    has("let (__v");
    has("results[1..4].fill(0); match __v");
    has("crate::interp::Op::Jump { to: __v");
    has("arg_kinds: &[__mt::Kind::Ref, __mt::Kind::Int, __mt::Kind::Int, __mt::Kind::Int, __mt::Kind::Int], result_kinds: &[__mt::Kind::Float, __mt::Kind::Int, __mt::Kind::Int, __mt::Kind::Int]");
}

#[test]
fn call_effect_summaries() {
    has("arg_kinds: &[__mt::Kind::Ref, __mt::Kind::Int], result_kinds: &[__mt::Kind::Int], effects: __mt::CallEffectsDescr { everything: false, fields: &[], items: &[0u16], vecs: &[0u16], kept_fields: &[3u16], other: false, }, }");
    has("result_kinds: &[__mt::Kind::Float, __mt::Kind::Int, __mt::Kind::Int, __mt::Kind::Int], effects: __mt::CallEffectsDescr::EVERYTHING, }");
}

#[test]
fn drivers_and_portal_entry() {
    has("__mt::DriverDescr { portal: \"interp::run\", jitcode: 0u16, greens: &[__mt::Kind::Int, __mt::Kind::Ref, __mt::Kind::Int], reds: &[__mt::Kind::Ref], native: ::core::option::Option::Some(portal_native_0), }");
    // The native entry of a recursive portal call (`call_assembler`).
    has("unsafe fn portal_native_0(args: &[u64], results: &mut [u64]) { unsafe { let __r = crate::interp::run(");
    has("pub fn portal_run(p0: &[u8], p1: &mut crate::interp::Tape, p2: crate::interp::Pair) -> ::core::result::Result<i64, crate::interp::Op> { let mut args = [0u64; 5];");
    has(".as_ptr() as usize as u64; args[1] = __v");
    has("args[2] = (p1) as *mut _ as usize as u64;");
    has("let crate::interp::Pair { 0: __v");
    has("let results = ::metatrace::runtime::blackhole::call(&TABLES, 0u16, &args);");
    has("unsafe { match results[0] { 0u64 => ::core::result::Result::Ok((results[1] as i64)), _ => ::core::result::Result::Err(match results[2] { 0u64 => crate::interp::Op::Add { 0: (results[3] as u8), }, 1u64 => crate::interp::Op::Jump { to: (results[4] as usize), }, 2u64 => crate::interp::Op::Halt {}, _ =>");
}

#[test]
fn mismatched_portal_arity_and_heap_values_are_errors() {
    let (p, mut a) = sample();
    a.jitcodes[0].args.pop();
    let e = generate(&p, &a).unwrap_err();
    assert!(e.contains("takes 5 leaves but its jitcode 4"), "{e}");
    // (A struct holding a Vec, `Tape`, is a value now: a String is not.)
    let (mut p, a) = sample();
    p.graphs[0].params[1].ty = Ty::String;
    let e = generate(&p, &a).unwrap_err();
    assert!(e.contains("`String` cannot be passed by value"), "{e}");
}

#[test]
fn portal_with_a_reference_result_gets_one_lifetime() {
    let (mut p, mut a) = sample();
    let r = Ty::reference(false, Ty::Int(IntTy::U8));
    p.graphs[0].ret = r.clone();
    a.jitcodes[0].results = vec![Kind::Ref];
    let text = generate(&p, &a).unwrap();
    let text: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    assert!(
        text.contains("pubfnportal_run<'__a>(p0:&'__a[u8],p1:&'__amutcrate::interp::Tape,p2:crate::interp::Pair)->&'__au8"),
        "{text}"
    );
}

#[test]
fn clashing_portal_names_are_an_error() {
    let (mut p, mut a) = sample();
    let mut g = p.graphs[0].clone();
    g.name = "other::run".into();
    p.graphs.push(g);
    let mut d = a.drivers[0].clone();
    d.portal = "other::run".into();
    a.drivers.push(d);
    let e = generate(&p, &a).unwrap_err();
    assert!(
        e.contains("two #[jit_driver] functions are named `run`"),
        "{e}"
    );
}

#[test]
fn paths_and_idents() {
    assert_eq!(
        adt_path("interp::Tape")
            .unwrap()
            .to_string()
            .replace(' ', ""),
        "crate::interp::Tape"
    );
    assert_eq!(rust_ty::ident("type").to_string(), "r#type");
    assert_eq!(portal_fn_name("interp::Machine::run"), "portal_run");
    assert!(adt_path("a::<b>").is_err());
}

#[test]
fn allocs_and_boxes_passed_to_native_code() {
    has("allocs: &ALLOCS,");
    has("static ALLOCS: [__mt::AllocDescr; 2] = [");
    has("__mt::AllocDescr { name: \"Pair\", size: ::core::mem::size_of::<crate::interp::Pair>(), align: ::core::mem::align_of::<crate::interp::Pair>(), gc: ::core::option::Option::None, drop: ::core::option::Option::None, }");
    has("__mt::AllocDescr { name: \"i64\", size: ::core::mem::size_of::<i64>(), align: ::core::mem::align_of::<i64>(), gc: ::core::option::Option::None, drop: ::core::option::Option::None, }");
    // A box passed by value is rebuilt from its pointer and handed over;
    // a box returned is given back as its pointer.
    has("let __r = crate::interp::rebox(::std::boxed::Box::from_raw(args[0] as usize as *mut crate::interp::Pair));");
    has("results[0] = ::std::boxed::Box::into_raw(__r) as usize as u64;");
    has("arg_kinds: &[__mt::Kind::Ref], result_kinds: &[__mt::Kind::Ref]");
}

/// The `MEMTYPE_<id>` statics, all whitespace removed.
fn squashed_statics(m: &memtypes::MemTypes, types: &TypeTable) -> String {
    m.statics(types)
        .unwrap()
        .iter()
        .map(|t| t.to_string())
        .collect::<String>()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

#[test]
fn field_owners_name_the_enums_holding_them() {
    has("name: \"Tape.cells\", ty: ::core::option::Option::None, place: __mt::FieldPlace::Offset(::core::mem::offset_of!(crate::interp::Tape, cells)), immutable: false, virtualizable: false, owner: ::core::option::Option::Some(&MEMTYPE_0)");
    has("static MEMTYPE_0: __mt::MemType = __mt::MemType { name: \"Tape\", id: 0u16, held_by: &[], within: &[], };");
    // An `Option<Pair>` holds a Pair at an offset rustc does not tell;
    // a Tape is held by no enum.
    let types = types();
    let opt = Ty::Option(Box::new(PAIR));
    let m = memtypes::MemTypes::new([&opt, &PAIR, &TAPE].into_iter());
    let text = squashed_statics(&m, &types);
    assert!(
        text.contains(
            "name:\"Pair\",id:1u16,held_by:&[(0u16,::core::option::Option::None)],within:&[0u16]"
        ),
        "{text}"
    );
    assert!(
        text.contains("name:\"Tape\",id:2u16,held_by:&[],within:&[]"),
        "{text}"
    );
    assert!(m.owner(&PAIR).to_string().contains("MEMTYPE_1"));
}

#[test]
fn null_pointer_option_fields_lie_over_the_options_payload() {
    // `struct Node { n: u8, next: Option<Box<u8>> }`: the field `next`
    // is the pointer that `Some.0` of the option reads too.
    let mut types = types();
    let npo = Ty::Option(Box::new(Ty::Box(Box::new(u8t()))));
    types.adts.push(AdtDef {
        name: "Node".into(),
        path: "interp::Node".into(),
        kind: AdtKind::Struct {
            fields: vec![
                FieldDef {
                    name: "n".into(),
                    ty: u8t(),
                    virtualizable: false,
                },
                FieldDef {
                    name: "next".into(),
                    ty: npo.clone(),
                    virtualizable: false,
                },
            ],
            named: true,
        },
        owns_heap: true,
        is_copy: false,
        tag: None,
    });
    let node = Ty::Adt(AdtId(3));
    let other = Ty::Option(Box::new(Ty::Int(IntTy::U32)));
    let m = memtypes::MemTypes::new([&npo, &node, &other].into_iter());
    let text = squashed_statics(&m, &types);
    assert!(
        text.contains("name:\"Option<Box<u8>>\",id:0u16,held_by:&[(1u16,::core::option::Option::Some(::core::mem::offset_of!(crate::interp::Node,next)))]"),
        "{text}"
    );
    // Another option is held by no struct, and the struct by nothing.
    assert!(
        text.contains("name:\"Node\",id:1u16,held_by:&[],within:&[]"),
        "{text}"
    );
    // The option is within the struct, at any depth too.
    assert!(text.contains("within:&[1u16]"), "{text}");
    assert!(
        text.contains("name:\"Option<u32>\",id:2u16,held_by:&[]"),
        "{text}"
    );
}
