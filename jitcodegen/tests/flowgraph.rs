//! Tests of the flow-graph printer, verifier, simplifier and dot writer on
//! small hand-built graphs.

use metatrace_jitcodegen::flowgraph::*;
use metatrace_jitcodegen::types::*;

macro_rules! args {
    ($($e:expr),* $(,)?) => { vec![$(Operand::from($e)),*] };
}

fn i64t() -> Ty {
    Ty::Int(IntTy::I64)
}

fn u32t() -> Ty {
    Ty::Int(IntTy::U32)
}

fn mref() -> Ty {
    Ty::reference(true, Ty::Adt(AdtId(0)))
}

fn ci(v: i64, t: IntTy) -> Operand {
    Operand::Const(Const::Int(v, t))
}

fn c64(v: i64) -> Operand {
    ci(v, IntTy::I64)
}

fn field(owner: u32, index: u32) -> FieldRef {
    let owner = Ty::Adt(AdtId(owner));
    FieldRef {
        owner,
        variant: None,
        index,
    }
}

/// `struct Machine { acc: i64, pc: usize }` and `enum Insn { Push(i64), Halt }`.
fn types() -> TypeTable {
    let f = |name: &str, ty: Ty| FieldDef {
        name: name.into(),
        ty,
    };
    let variant = |name: &str, fields| VariantDef {
        name: name.into(),
        fields,
        named: false,
    };
    let adt = |name: &str, kind, is_copy| AdtDef {
        name: name.into(),
        path: format!("interp::{name}"),
        kind,
        owns_heap: false,
        is_copy,
    };
    let fields = vec![f("acc", i64t()), f("pc", Ty::usize())];
    let variants = vec![
        variant("Push", vec![f("0", i64t())]),
        variant("Halt", vec![]),
    ];
    TypeTable {
        adts: vec![
            adt(
                "Machine",
                AdtKind::Struct {
                    fields,
                    named: true,
                },
                false,
            ),
            adt("Insn", AdtKind::Enum { variants }, true),
        ],
    }
}

fn graph(name: &str, params: &[(&str, Ty)], ret: Ty, leaves: Vec<Ty>) -> FlowGraph {
    let params = params.iter().map(|(n, t)| Param {
        name: n.to_string(),
        ty: t.clone(),
    });
    FlowGraph::new(name, params.collect(), ret, leaves)
}

/// Fresh variables, one per letter of `spec`: `m` = `&mut Machine`,
/// `i` = `i64`, `u` = `u32`, `z` = `usize`, `b` = `bool`, `c` = `char`.
fn nv<const N: usize>(g: &mut FlowGraph, spec: &str) -> [Var; N] {
    assert_eq!(spec.len(), N);
    let tys: Vec<Ty> = spec
        .chars()
        .map(|c| match c {
            'm' => mref(),
            'i' => i64t(),
            'u' => u32t(),
            'z' => Ty::usize(),
            'b' => Ty::Bool,
            'c' => Ty::Char,
            _ => panic!("bad type letter {c}"),
        })
        .collect();
    std::array::from_fn(|k| g.new_var(tys[k].clone(), None))
}

fn op(g: &mut FlowGraph, b: BlockId, op: Op, args: Vec<Operand>, results: &[Var]) {
    let results = results.to_vec();
    let loc = SrcLoc::default();
    g.block_mut(b).operations.push(Operation {
        op,
        args,
        results,
        loc,
    });
}

fn goto(g: &mut FlowGraph, from: BlockId, to: BlockId, args: Vec<Operand>) {
    g.block_mut(from).exit = Exit::Goto;
    g.add_link(from, to, LinkCase::Always, args);
}

fn branch(
    g: &mut FlowGraph,
    b: BlockId,
    cond: Var,
    yes: (BlockId, Vec<Operand>),
    no: (BlockId, Vec<Operand>),
) {
    g.block_mut(b).exit = Exit::Branch { cond: cond.into() };
    g.add_link(b, yes.0, LinkCase::True, yes.1);
    g.add_link(b, no.0, LinkCase::False, no.1);
}

fn ret(g: &mut FlowGraph, b: BlockId, values: Vec<Operand>) {
    g.block_mut(b).exit = Exit::Return { values };
}

fn panic_exit(g: &mut FlowGraph, b: BlockId, kind: PanicKind, message: &str) {
    g.block_mut(b).exit = Exit::Panic {
        kind,
        message: message.into(),
    };
}

fn assert_verifies(g: &FlowGraph) {
    let t = types();
    if let Err(errors) = verify(g, &t) {
        let msgs: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        panic!(
            "unexpected errors:\n{}\n{}",
            msgs.join("\n"),
            print_graph(g, &t)
        );
    }
}

/// The verifier reports exactly these errors, in this order.
fn check(g: &FlowGraph, expected: &[&str]) {
    let t = types();
    let errs: Vec<String> = match verify(g, &t) {
        Ok(()) => vec![],
        Err(errors) => errors.iter().map(|e| e.to_string()).collect(),
    };
    assert_eq!(errs, expected, "\n{}", print_graph(g, &t));
}

fn text(g: &FlowGraph) -> String {
    print_graph(g, &types())
}

/// The brief's example: a branch, a panic exit, a call with two results.
fn step_graph() -> FlowGraph {
    let params = [("m", mref()), ("n", Ty::usize())];
    let ret_ty = Ty::Option(Box::new(i64t()));
    let mut g = graph("interp::step", &params, ret_ty, vec![u32t(), i64t()]);
    // Allocated out of printing order on purpose.
    let [r_val, r_tag, acc2, m2, cond, acc, n, m] = nv(&mut g, "iuimbizm");
    let b0 = g.start;
    g.block_mut(b0).inputargs = vec![m, n];
    let ok = g.new_block(vec![m2, acc2]);
    let fail = g.new_block(vec![]);
    op(&mut g, b0, Op::GetField(field(0, 0)), args![m], &[acc]);
    op(
        &mut g,
        b0,
        Op::IntLt,
        args![n, ci(10, IntTy::Usize)],
        &[cond],
    );
    branch(&mut g, b0, cond, (ok, args![m, acc]), (fail, vec![]));
    op(&mut g, ok, Op::SetField(field(0, 0)), args![m2, acc2], &[]);
    let helper = Op::Call {
        callee: "interp::helper".into(),
        kind: CallKind::Regular,
    };
    op(&mut g, ok, helper, args![m2], &[r_tag, r_val]);
    ret(&mut g, ok, args![ci(1, IntTy::U32), acc2]);
    panic_exit(&mut g, fail, PanicKind::BoundsCheck, "index out of bounds");
    g
}

const STEP_TEXT: &str = "\
fn interp::step(m: &mut Machine, n: usize) -> Option<i64>
block0(v0: &mut Machine, v1: usize):
    v2: i64 = getfield(v0) Machine.acc
    v3: bool = int_lt(v1, 10usize)
    branch v3
      true -> block2(v0, v2)
      false -> block1()
block1():
    panic bounds_check \"index out of bounds\"
block2(v4: &mut Machine, v5: i64):
    setfield(v4, v5) Machine.acc
    v6: u32, v7: i64 = call(v4) interp::helper
    return 1u32, v5
";

#[test]
fn print_branch_panic_and_call() {
    let g = step_graph();
    assert_eq!(text(&g), STEP_TEXT);
    assert_verifies(&g);
}

/// `fn count(n: i64) -> i64 { let (mut i, mut s) = (0, 0); while i < n { s += i; i += 1 } s }`
struct Loop {
    g: FlowGraph,
    head: BlockId,
    exit: BlockId,
    body: BlockId,
    /// n, i, sum in the loop header
    hv: [Var; 3],
    /// result of the comparison
    cond: Var,
    /// n, i, sum in the body, then the new sum and i
    bv: [Var; 5],
    ret: Var,
}

fn count_loop() -> Loop {
    let mut g = graph("count", &[("n", i64t())], i64t(), vec![i64t()]);
    let [n] = nv(&mut g, "i");
    let hv = nv(&mut g, "iii");
    let [cond] = nv(&mut g, "b");
    let bv = nv(&mut g, "iiiii");
    let [result] = nv(&mut g, "i");
    let b0 = g.start;
    g.block_mut(b0).inputargs = vec![n];
    let head = g.new_block(hv.to_vec());
    let exit = g.new_block(vec![result]);
    let body = g.new_block(bv[..3].to_vec());
    goto(&mut g, b0, head, args![n, c64(0), c64(0)]);
    op(&mut g, head, Op::IntLt, args![hv[1], hv[0]], &[cond]);
    branch(
        &mut g,
        head,
        cond,
        (body, args![hv[0], hv[1], hv[2]]),
        (exit, args![hv[2]]),
    );
    ret(&mut g, exit, args![result]);
    op(&mut g, body, Op::IntAdd, args![bv[2], bv[1]], &[bv[3]]);
    op(&mut g, body, Op::IntAdd, args![bv[1], c64(1)], &[bv[4]]);
    goto(&mut g, body, head, args![bv[0], bv[4], bv[3]]);
    Loop {
        g,
        head,
        exit,
        body,
        hv,
        cond,
        bv,
        ret: result,
    }
}

const COUNT_TEXT: &str = "\
fn count(n: i64) -> i64
block0(v0: i64):
    goto -> block1(v0, 0i64, 0i64)
block1(v1: i64, v2: i64, v3: i64):
    v4: bool = int_lt(v2, v1)
    branch v4
      true -> block3(v1, v2, v3)
      false -> block2(v3)
block2(v5: i64):
    return v5
block3(v6: i64, v7: i64, v8: i64):
    v9: i64 = int_add(v8, v7)
    v10: i64 = int_add(v7, 1i64)
    goto -> block1(v6, v10, v9)
";

#[test]
fn print_counting_loop() {
    let mut l = count_loop();
    assert_eq!(text(&l.g), COUNT_TEXT);
    assert_verifies(&l.g);
    // Simplification has nothing to remove from this graph.
    simplify(&mut l.g);
    assert_eq!(text(&l.g), COUNT_TEXT);
}

#[test]
fn print_switch_with_default_and_constants() {
    let mut g = graph("interp::classify", &[("c", Ty::Char)], Ty::Unit, vec![]);
    let [c, len, flag, n, quote] = nv(&mut g, "czbic");
    let p = g.new_var(Ty::reference(false, Ty::Str), None);
    let (x, big) = (
        g.new_var(Ty::F64, None),
        g.new_var(Ty::Int(IntTy::U64), None),
    );
    let machine_ref = Ty::reference(false, Ty::Adt(AdtId(0)));
    let r = g.new_var(machine_ref.clone(), None);
    let b0 = g.start;
    g.block_mut(b0).inputargs = vec![c];
    g.block_mut(b0).exit = Exit::Switch { value: c.into() };
    let a = g.new_block(vec![p, len]);
    let other = g.new_block(vec![x, big]);
    let nul = g.new_block(vec![flag]);
    let float = Const::F64(1.5f64.to_bits());
    g.add_link(
        b0,
        other,
        LinkCase::Default,
        args![float, ci(-1, IntTy::U64)],
    );
    let text_arg = Const::Str("say \"hi\"\n".into());
    let usize9 = ci(9, IntTy::Usize);
    g.add_link(b0, a, LinkCase::Value('a' as i64), args![text_arg, usize9]);
    g.add_link(b0, nul, LinkCase::Value(0), args![Const::Bool(true)]);
    op(
        &mut g,
        a,
        Op::SameAs,
        args![Const::NullRef(machine_ref)],
        &[r],
    );
    op(&mut g, a, Op::SameAs, args![c64(-7)], &[n]);
    op(&mut g, a, Op::SameAs, args![Const::Char('\'')], &[quote]);
    ret(&mut g, a, vec![]);
    panic_exit(&mut g, other, PanicKind::Explicit, "unexpected");
    let msg = "called `Option::unwrap()` on a `None` value";
    panic_exit(&mut g, nul, PanicKind::Unwrap, msg);
    let expected = "\
fn interp::classify(c: char)
block0(v0: char):
    switch v0
      0 -> block3(true)
      97 -> block2(\"say \\\"hi\\\"\\n\", 9usize)
      default -> block1(1.5f64, 18446744073709551615u64)
block1(v1: f64, v2: u64):
    panic explicit \"unexpected\"
block2(v3: &str, v4: usize):
    v5: &Machine = same_as(null)
    v6: i64 = same_as(-7i64)
    v7: char = same_as('\\'')
    return
block3(v8: bool):
    panic unwrap \"called `Option::unwrap()` on a `None` value\"
";
    assert_eq!(text(&g), expected);
    assert_verifies(&g);
}

#[test]
fn print_vec_ops_merge_point_and_program() {
    let u8t = Ty::Int(IntTy::U8);
    let vec_ref = Ty::reference(true, Ty::Vec(Box::new(u8t.clone())));
    let mut g = graph("interp::run", &[("v", vec_ref.clone())], Ty::Unit, vec![]);
    let v = g.new_var(vec_ref, None);
    let [len, tag] = nv(&mut g, "zu");
    let val = g.new_var(u8t.clone(), None);
    let [jitted] = nv(&mut g, "b");
    let b0 = g.start;
    g.block_mut(b0).inputargs = vec![v];
    let driver = "interp::DRIVER".to_string();
    op(&mut g, b0, Op::JitMergePoint { driver }, args![v], &[]);
    op(&mut g, b0, Op::VecLen(u8t.clone()), args![v], &[len]);
    op(
        &mut g,
        b0,
        Op::VecPush(u8t.clone()),
        args![v, ci(3, IntTy::U8)],
        &[],
    );
    op(&mut g, b0, Op::VecPop(u8t), args![v], &[tag, val]);
    op(&mut g, b0, Op::WeAreJitted, vec![], &[jitted]);
    let expected = "\
fn interp::run(v: &mut Vec<u8>)
block0(v0: &mut Vec<u8>):
    jit_merge_point(v0) interp::DRIVER
    v1: usize = vec_len(v0) u8
    vec_push(v0, 3u8) u8
    v2: u32, v3: u8 = vec_pop(v0) u8
    v4: bool = we_are_jitted()
    return
";
    assert_eq!(text(&g), expected);
    assert_verifies(&g);
    let program = Program {
        types: types(),
        graphs: vec![g, step_graph()],
        ..Program::default()
    };
    assert_eq!(print_program(&program), format!("{expected}\n{STEP_TEXT}"));
}

// ---------------------------------------------------------------- verifier

#[test]
fn verifier_reports_cross_block_use() {
    let mut l = count_loop();
    // `i + 1` in the body reads the header's `i` instead of its own inputarg.
    l.g.block_mut(l.body).operations[1].args[0] = l.hv[1].into();
    let e = "count: block3: int_add uses v2, defined in block1: values cross blocks only through link args";
    check(&l.g, &[e]);
    // A use before the definition in the same block.
    let mut l = count_loop();
    l.g.block_mut(l.body).operations.swap(0, 1);
    l.g.block_mut(l.body).operations[0].args[1] = l.bv[3].into();
    let e = "count: block3: int_add uses v10 before its definition";
    check(&l.g, &[e]);
    // A variable no block defines, in a link.
    let mut l = count_loop();
    let ghost = l.g.new_var(i64t(), None);
    let e = l.g.exits(l.head)[1].0;
    l.g.graph[e].args[0] = ghost.into();
    let e = "count: block1: the link to block2 uses v5, which is never defined";
    check(&l.g, &[e]);
}

#[test]
fn verifier_reports_double_definition() {
    let mut l = count_loop();
    l.g.block_mut(l.exit).inputargs = vec![l.hv[2]];
    ret(&mut l.g, l.exit, args![l.hv[2]]);
    let e = "count: block2: v3 is defined twice (first in block1)";
    check(&l.g, &[e]);
    // A result redefining an inputarg of its own block.
    let mut l = count_loop();
    l.g.block_mut(l.body).operations[0].results = vec![l.bv[0]];
    let e = "count: block3: v6 is defined twice (first in block3)";
    let uses = "count: block3: the link to block1 uses v10, which is never defined";
    check(&l.g, &[e, uses]);
    // Out-of-range variable index.
    let mut l = count_loop();
    l.g.block_mut(l.exit).inputargs = vec![Var(99)];
    ret(&mut l.g, l.exit, args![Var(99)]);
    let e = "count: block2: v5 is not a variable of this graph (index 99, the graph has 11)";
    check(&l.g, &[e]);
}

#[test]
fn verifier_reports_link_arity_and_types() {
    let mut l = count_loop();
    let e = l.g.exits(l.head)[1].0;
    l.g.graph[e].args.push(l.hv[1].into());
    let e = "count: block1: the link to block2 carries 2 args, block2 has 1 inputargs";
    check(&l.g, &[e]);
    let mut l = count_loop();
    let e = l.g.exits(l.g.start)[0].0;
    l.g.graph[e].args[1] = ci(0, IntTy::I32);
    let e =
        "count: block0: the link to block1: arg 1 (0i32) has type i32, inputarg v2 has type i64";
    check(&l.g, &[e]);
}

#[test]
fn verifier_reports_bad_exits() {
    // Branch without its false link: the exit block becomes unreachable too.
    let mut l = count_loop();
    let e = l.g.exits(l.head)[1].0;
    l.g.graph.remove_edge(e);
    let e = "count: block1: branch has no false link";
    check(
        &l.g,
        &[e, "count: block3: unreachable from the start block"],
    );
    // Branch with two true links, on an integer.
    let mut l = count_loop();
    let cond = l.hv[0].into();
    l.g.block_mut(l.head).exit = Exit::Branch { cond };
    let e = l.g.exits(l.head)[1].0;
    l.g.graph[e].case = LinkCase::True;
    let two = "count: block1: branch has 2 true links, expected 1";
    let no_false = "count: block1: branch has no false link";
    let cond = "count: block1: branch condition (v1) has type i64, expected bool";
    check(&l.g, &[two, no_false, cond]);
    // Goto with a `true` link.
    let mut l = count_loop();
    let e = l.g.exits(l.body)[0].0;
    l.g.graph[e].case = LinkCase::True;
    let e = "count: block3: goto needs exactly one `always` link, has [true]";
    check(&l.g, &[e]);
    // Return with the wrong arity, then with the wrong type.
    let mut l = count_loop();
    ret(&mut l.g, l.exit, args![l.ret, l.ret]);
    let e = "count: block2: return carries 2 values, the return type has 1 leaves (i64)";
    check(&l.g, &[e]);
    ret(&mut l.g, l.exit, args![Const::Bool(false)]);
    let e = "count: block2: return value 0 (false) has type bool, expected i64";
    check(&l.g, &[e]);
    // A panic with a link.
    let mut l = count_loop();
    panic_exit(&mut l.g, l.exit, PanicKind::Explicit, "x");
    let r = l.ret;
    l.g.add_link(l.exit, l.head, LinkCase::Always, args![r, r, r]);
    check(&l.g, &["count: block2: panic has outgoing links [always]"]);
}

#[test]
fn verifier_reports_bad_switch() {
    let mut l = count_loop();
    let (head, exit, body) = (l.head, l.exit, l.body);
    l.g.block_mut(head).exit = Exit::Switch {
        value: ci(1, IntTy::U8),
    };
    let old: Vec<_> = l.g.exits(head).into_iter().map(|e| e.0).collect();
    old.into_iter().for_each(|e| drop(l.g.graph.remove_edge(e)));
    let [n, i, s] = l.hv;
    for case in [LinkCase::Value(3), LinkCase::Value(3), LinkCase::Value(4)] {
        l.g.add_link(head, body, case, args![n, i, s]);
    }
    for case in [LinkCase::Default, LinkCase::True, LinkCase::Default] {
        l.g.add_link(head, exit, case, args![s]);
    }
    let true_link = "count: block1: switch has a `true` link";
    let dup = "count: block1: switch has duplicate case 3";
    let defaults = "count: block1: switch has 2 default links, expected at most 1";
    check(&l.g, &[true_link, dup, defaults]);
    // A switch on a float and without links.
    l.g.block_mut(exit).exit = Exit::Switch {
        value: Const::F64(0).into(),
    };
    let no_links = "count: block3: switch has no links";
    let float =
        "count: block3: switch value (0.0f64) has type f64, expected an integer, bool or char type";
    check(&l.g, &[true_link, dup, defaults, no_links, float]);
}

#[test]
fn verifier_reports_unreachable_block() {
    let mut l = count_loop();
    let lost = l.g.new_block(vec![]);
    ret(&mut l.g, lost, args![c64(0)]);
    check(&l.g, &["count: block4: unreachable from the start block"]);
    // The printer shows it after the reachable blocks, with that number.
    assert!(text(&l.g).ends_with("block4():\n    return 0i64\n"));
}

#[test]
fn verifier_reports_op_type_mismatches() {
    let mut l = count_loop();
    l.g.block_mut(l.head).operations[0].args[1] = ci(10, IntTy::I32);
    let e = "count: block1: int_lt: argument 1 (10i32) has type i32, expected i64";
    check(&l.g, &[e]);
    // Result of the wrong type, which also breaks the back edge.
    let mut l = count_loop();
    l.g.vars[l.bv[3].0 as usize].ty = Ty::Int(IntTy::I32);
    let result = "count: block3: int_add: result 0 (v9) has type i32, expected i64";
    let link =
        "count: block3: the link to block1: arg 2 (v9) has type i32, inputarg v3 has type i64";
    check(&l.g, &[result, link]);
    // Comparison with a non-bool result; arithmetic on floats; bad arity.
    let mut l = count_loop();
    l.g.vars[l.cond.0 as usize].ty = i64t();
    l.g.block_mut(l.body).operations[1].args[1] = Const::F64(0).into();
    l.g.block_mut(l.body).operations[0].args.pop();
    check(
        &l.g,
        &[
            "count: block1: int_lt: result 0 (v4) has type i64, expected bool",
            "count: block1: branch condition (v4) has type i64, expected bool",
            "count: block3: int_add takes 2 arguments, has 1",
            "count: block3: int_add: argument 1 (0.0f64) has type f64, expected i64",
        ],
    );
    // Shifts may take another int type for the amount; bool ops need bools.
    let mut l = count_loop();
    let body = l.g.block_mut(l.body);
    body.operations[0].op = Op::IntShl;
    body.operations[0].args[1] = ci(3, IntTy::U8);
    body.operations[1].op = Op::BoolAnd;
    let e = "count: block3: bool_and: argument 0 (v7) has type i64, expected bool";
    let e1 = "count: block3: bool_and: argument 1 (1i64) has type i64, expected bool";
    let e2 = "count: block3: bool_and: result 0 (v10) has type i64, expected bool";
    check(&l.g, &[e, e1, e2]);
}

#[test]
fn verifier_checks_memory_ops_and_params() {
    let mut g = step_graph();
    let b0 = g.start;
    // getfield of `pc` (usize) into an i64 variable.
    g.block_mut(b0).operations[0].op = Op::GetField(field(0, 1));
    let e = "interp::step: block0: getfield: result 0 (v2) has type i64, expected usize";
    check(&g, &[e]);
    g.block_mut(b0).operations[0].op = Op::GetField(field(0, 7));
    check(&g, &["interp::step: block0: getfield: no field Machine.?"]);
    // Field of an enum variant, read from a non-reference.
    let payload = FieldRef {
        owner: Ty::Adt(AdtId(1)),
        variant: Some(0),
        index: 0,
    };
    g.block_mut(b0).operations[0].op = Op::GetField(payload);
    g.block_mut(b0).operations[0].args[0] = c64(0);
    let e = "interp::step: block0: getfield: argument 0 (0i64) has type i64, expected a reference";
    check(&g, &[e]);
    // The start block must take the flattened parameters.
    let mut g = step_graph();
    g.params.push(Param {
        name: "s".into(),
        ty: Ty::reference(false, Ty::Str),
    });
    let e = "interp::step: block0: the start block has 2 inputargs, the flattened parameters are 4";
    check(&g, &[e]);
    // A `&str` parameter is a data pointer and a length.
    let p = g.new_var(Ty::reference(false, Ty::Str), None);
    let [len] = nv(&mut g, "z");
    g.block_mut(b0).inputargs.extend([p, len]);
    assert_verifies(&g);
    // vec_pop's results are an exploded Option<T>.
    let mut g = step_graph();
    let vec_ref = Ty::reference(true, Ty::Vec(Box::new(i64t())));
    let v = g.new_var(vec_ref.clone(), None);
    let [tag, val] = nv(&mut g, "ui");
    g.block_mut(b0).inputargs.push(v);
    g.params.push(Param {
        name: "v".into(),
        ty: vec_ref,
    });
    op(&mut g, b0, Op::VecPop(i64t()), args![v], &[val, tag]);
    let e0 = "interp::step: block0: vec_pop: result 0 (v5) has type i64, expected u32";
    let e1 = "interp::step: block0: vec_pop: result 1 (v6) has type u32, expected i64";
    check(&g, &[e0, e1]);
    // In the right order it verifies.
    g.block_mut(b0).operations.last_mut().unwrap().results = vec![tag, val];
    assert_verifies(&g);
    // vec_getitem: (ref, usize) -> the element type.
    let [item] = nv(&mut g, "u");
    op(
        &mut g,
        b0,
        Op::VecGetItem(i64t()),
        args![v, c64(0)],
        &[item],
    );
    let e0 = "interp::step: block0: vec_getitem: argument 1 (0i64) has type i64, expected usize";
    let e1 = "interp::step: block0: vec_getitem: result 0 (v7) has type u32, expected i64";
    check(&g, &[e0, e1]);
}

#[test]
fn verify_error_display() {
    let e = VerifyError {
        graph: "f".into(),
        block: Some(2),
        message: "boom".into(),
    };
    assert_eq!(e.to_string(), "f: block2: boom");
    let e = VerifyError { block: None, ..e };
    assert_eq!(e.to_string(), "f: boom");
}

// -------------------------------------------------------------- simplify

/// What the front end produces for `fn bump(m: &mut Machine, n: i64) -> i64
/// { let r = if n > 0 { n + 1 } else { n }; m.acc = r; r }`: a block per
/// join point with everything in scope passed along, and a lost block.
fn bloated() -> FlowGraph {
    let mut g = graph(
        "bump",
        &[("m", mref()), ("n", i64t())],
        i64t(),
        vec![i64t()],
    );
    let [m0, n0, m1, n1, c] = nv(&mut g, "mimib");
    let [m2, n2, c2, x, dead, m3, n3, c3] = nv(&mut g, "mibiimib");
    let [m4, n4, r4, m5, n5, r5, r6, n6, lost_v] = nv(&mut g, "miimiiiii");
    let b0 = g.start;
    g.block_mut(b0).inputargs = vec![m0, n0];
    let b1 = g.new_block(vec![m1, n1]);
    let then_ = g.new_block(vec![m2, n2, c2]);
    let else_ = g.new_block(vec![m3, n3, c3]);
    let join = g.new_block(vec![m4, n4, r4]);
    let store = g.new_block(vec![m5, n5, r5]);
    let end = g.new_block(vec![r6, n6]);
    let lost = g.new_block(vec![lost_v]);
    goto(&mut g, b0, b1, args![m0, n0]);
    op(&mut g, b1, Op::IntGt, args![n1, c64(0)], &[c]);
    branch(
        &mut g,
        b1,
        c,
        (then_, args![m1, n1, c]),
        (else_, args![m1, n1, c]),
    );
    op(&mut g, then_, Op::IntAdd, args![n2, c64(1)], &[x]);
    op(&mut g, then_, Op::IntMul, args![x, c64(2)], &[dead]);
    goto(&mut g, then_, join, args![m2, n2, x]);
    goto(&mut g, else_, join, args![m3, n3, n3]);
    goto(&mut g, join, store, args![m4, n4, r4]);
    op(&mut g, store, Op::SetField(field(0, 0)), args![m5, r5], &[]);
    goto(&mut g, store, end, args![r5, n5]);
    ret(&mut g, end, args![r6]);
    goto(&mut g, lost, end, args![lost_v, lost_v]);
    g
}

#[test]
fn simplify_bloated_graph() {
    let mut g = bloated();
    // Valid apart from the unreachable block.
    check(&g, &["bump: block7: unreachable from the start block"]);
    simplify(&mut g);
    let expected = "\
fn bump(m: &mut Machine, n: i64) -> i64
block0(v0: &mut Machine, v1: i64):
    v2: bool = int_gt(v1, 0i64)
    branch v2
      true -> block1(v0, v1)
      false -> block2(v0, v1)
block1(v3: &mut Machine, v4: i64):
    v5: i64 = int_add(v4, 1i64)
    goto -> block2(v3, v5)
block2(v6: &mut Machine, v7: i64):
    setfield(v6, v7) Machine.acc
    return v7
";
    assert_eq!(text(&g), expected);
    assert_verifies(&g);
    assert_eq!(g.block_count(), 3);
    // A second run finds nothing more to do.
    simplify(&mut g);
    assert_eq!(text(&g), expected);
}

#[test]
fn simplify_goto_chain_substitutes_constants() {
    let mut g = graph("chain", &[("a", i64t())], i64t(), vec![i64t()]);
    let [a, a1, k, s, r, unused] = nv(&mut g, "iiiiii");
    let b0 = g.start;
    g.block_mut(b0).inputargs = vec![a];
    let b1 = g.new_block(vec![a1, k]);
    let b2 = g.new_block(vec![r, unused]);
    goto(&mut g, b0, b1, args![a, c64(5)]);
    op(&mut g, b1, Op::IntAdd, args![a1, k], &[s]);
    goto(&mut g, b1, b2, args![s, k]);
    ret(&mut g, b2, args![r]);
    assert_verifies(&g);
    simplify(&mut g);
    let expected = "\
fn chain(a: i64) -> i64
block0(v0: i64):
    v1: i64 = int_add(v0, 5i64)
    return v1
";
    assert_eq!(text(&g), expected);
    assert_verifies(&g);
}

#[test]
fn simplify_keeps_side_effects_params_and_inexact_forwarders() {
    // A loop back to the start block through a block that swaps its
    // arguments; an unused parameter; a call whose result is unused.
    let params = [
        ("m", mref()),
        ("unused", i64t()),
        ("a", i64t()),
        ("b", i64t()),
    ];
    let mut g = graph("f", &params, Ty::Unit, vec![]);
    let [m, unused, a, b, ignored, pure_dead, c, m1, x1, y1] = nv(&mut g, "miiiiibmii");
    let b0 = g.start;
    g.block_mut(b0).inputargs = vec![m, unused, a, b];
    let log = Op::Call {
        callee: "interp::log".into(),
        kind: CallKind::Residual,
    };
    op(&mut g, b0, log, args![a], &[ignored]);
    op(&mut g, b0, Op::IntSub, args![a, b], &[pure_dead]);
    op(&mut g, b0, Op::IntLt, args![a, b], &[c]);
    let swap = g.new_block(vec![m1, x1, y1]);
    let done = g.new_block(vec![]);
    branch(&mut g, b0, c, (swap, args![m, a, b]), (done, vec![]));
    goto(&mut g, swap, b0, args![m1, c64(0), y1, x1]);
    assert_verifies(&g);
    simplify(&mut g);
    let expected = "\
fn f(m: &mut Machine, unused: i64, a: i64, b: i64)
block0(v0: &mut Machine, v1: i64, v2: i64, v3: i64):
    v4: i64 = residual_call(v2) interp::log
    v5: bool = int_lt(v2, v3)
    branch v5
      true -> block2(v0, v2, v3)
      false -> block1()
block1():
    return
block2(v6: &mut Machine, v7: i64, v8: i64):
    goto -> block0(v6, 0i64, v8, v7)
";
    assert_eq!(text(&g), expected);
    assert_verifies(&g);
}

#[test]
fn simplify_bypasses_forwarders_behind_branches_and_switches() {
    let mut g = graph("fwd", &[("k", u32t())], u32t(), vec![u32t()]);
    let [k, f1, f2, r] = nv(&mut g, "uuuu");
    let b0 = g.start;
    g.block_mut(b0).inputargs = vec![k];
    g.block_mut(b0).exit = Exit::Switch { value: k.into() };
    let fw1 = g.new_block(vec![f1]);
    let fw2 = g.new_block(vec![f2]);
    let end = g.new_block(vec![r]);
    g.add_link(b0, fw1, LinkCase::Value(1), args![k]);
    g.add_link(b0, end, LinkCase::Value(2), args![ci(7, IntTy::U32)]);
    g.add_link(b0, fw1, LinkCase::Default, args![ci(9, IntTy::U32)]);
    goto(&mut g, fw1, fw2, args![f1]);
    goto(&mut g, fw2, end, args![f2]);
    ret(&mut g, end, args![r]);
    assert_verifies(&g);
    simplify(&mut g);
    let expected = "\
fn fwd(k: u32) -> u32
block0(v0: u32):
    switch v0
      1 -> block1(v0)
      2 -> block1(7u32)
      default -> block1(9u32)
block1(v1: u32):
    return v1
";
    assert_eq!(text(&g), expected);
    assert_verifies(&g);
}

#[test]
fn simplify_leaves_infinite_forwarding_loops_alone() {
    // `loop {}` as two empty blocks forwarding to each other.
    let mut g = graph("spin", &[("x", i64t())], Ty::Never, vec![]);
    let [x, a, b] = nv(&mut g, "iii");
    let b0 = g.start;
    g.block_mut(b0).inputargs = vec![x];
    let (l1, l2) = (g.new_block(vec![a]), g.new_block(vec![b]));
    goto(&mut g, b0, l1, args![x]);
    goto(&mut g, l1, l2, args![a]);
    goto(&mut g, l2, l1, args![b]);
    simplify(&mut g);
    let expected = "\
fn spin(x: i64) -> !
block0(v0: i64):
    goto -> block1()
block1():
    goto -> block1()
";
    assert_eq!(text(&g), expected);
    assert_verifies(&g);
}

// ------------------------------------------------------------------- dot

#[test]
fn dot_output() {
    let mut g = step_graph();
    g.name = "interp::\"odd\"".into();
    let start = g.start;
    g.block_mut(start).operations[1].args[1] = Const::Str("{|}".into()).into();
    let expected = r#"digraph "interp::\"odd\"" {
    label="fn interp::\"odd\"(m: &mut Machine, n: usize) -\> Option\<i64\>\l";
    labelloc=t;
    labeljust=l;
    node [shape=box, fontname="monospace"];
    edge [fontname="monospace"];
    block0 [label="block0(v0: &mut Machine, v1: usize):\l    v2: i64 = getfield(v0) Machine.acc\l    v3: bool = int_lt(v1, \"\{\|\}\")\l    branch v3\l      true -\> block2(v0, v2)\l      false -\> block1()\l", penwidth=2];
    block1 [label="block1():\l    panic bounds_check \"index out of bounds\"\l"];
    block2 [label="block2(v4: &mut Machine, v5: i64):\l    setfield(v4, v5) Machine.acc\l    v6: u32, v7: i64 = call(v4) interp::helper\l    return 1u32, v5\l"];
    block0 -> block2 [label="true (v0, v2)"];
    block0 -> block1 [label="false ()"];
}
"#;
    assert_eq!(to_dot(&g, &types()), expected);
    let dot = to_dot(&count_loop().g, &types());
    assert!(
        dot.contains("    block3 -> block1 [label=\"(v6, v10, v9)\"];\n"),
        "{dot}"
    );
    assert!(
        dot.contains("    block1 -> block3 [label=\"true (v1, v2, v3)\"];\n"),
        "{dot}"
    );
}
