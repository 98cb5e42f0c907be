//! Tests of the flow-graph verifier and simplifier on small hand-built
//! graphs: the errors reported for broken graphs, and what simplification
//! removes and keeps.

use metatrace_testkit::args;
use metatrace_testkit::flowgraph::*;

// ---------------------------------------------------------------- verifier

#[test]
fn verifier_reports_cross_block_use() {
    let mut l = count_loop();
    // `i + 1` in the body reads the header's `i` instead of its own inputarg.
    l.g.block_mut(l.body).operations[1].args[0] = l.hv[1].into();
    let e = "count: block2: int_add uses v2, defined in block1: values cross blocks only through link args";
    check(&l.g, &[e]);
    // A use before the definition in the same block.
    let mut l = count_loop();
    l.g.block_mut(l.body).operations.swap(0, 1);
    l.g.block_mut(l.body).operations[0].args[1] = l.bv[3].into();
    let e = "count: block2: int_add uses v9 before its definition";
    check(&l.g, &[e]);
    // A variable no block defines, in a link.
    let mut l = count_loop();
    let ghost = l.g.new_var(i64t(), None);
    let e = l.g.exits(l.head)[1].0;
    l.g.graph[e].args[0] = ghost.into();
    let e = "count: block1: the link to block3 uses v5, which is never defined";
    check(&l.g, &[e]);
}

#[test]
fn verifier_reports_double_definition() {
    let mut l = count_loop();
    l.g.block_mut(l.exit).inputargs = vec![l.hv[2]];
    l.g.ret(l.exit, args![l.hv[2]]);
    let e = "count: block3: v3 is defined twice (first in block1)";
    check(&l.g, &[e]);
    // A result redefining an inputarg of its own block.
    let mut l = count_loop();
    l.g.block_mut(l.body).operations[0].results = vec![l.bv[0]];
    let e = "count: block2: v5 is defined twice (first in block2)";
    let uses = "count: block2: the link to block1 uses v9, which is never defined";
    check(&l.g, &[e, uses]);
    // Out-of-range variable index.
    let mut l = count_loop();
    l.g.block_mut(l.exit).inputargs = vec![Var(99)];
    l.g.ret(l.exit, args![Var(99)]);
    let e = "count: block3: v10 is not a variable of this graph (index 99, the graph has 11)";
    check(&l.g, &[e]);
}

#[test]
fn verifier_reports_link_arity_and_types() {
    let mut l = count_loop();
    let e = l.g.exits(l.head)[1].0;
    l.g.graph[e].args.push(l.hv[1].into());
    let e = "count: block1: the link to block3 carries 2 args, block3 has 1 inputargs";
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
    let lost = "count: block3: unreachable from the start block";
    check(&l.g, &[e, lost]);
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
    let e = "count: block2: goto needs exactly one `always` link, has [true]";
    check(&l.g, &[e]);
    // Return with the wrong arity, then with the wrong type.
    let mut l = count_loop();
    l.g.ret(l.exit, args![l.ret, l.ret]);
    let e = "count: block3: return carries 2 values, the return type has 1 leaves (i64)";
    check(&l.g, &[e]);
    l.g.ret(l.exit, args![Const::Bool(false)]);
    let e = "count: block3: return value 0 (false) has type bool, expected i64";
    check(&l.g, &[e]);
    // A panic with a link.
    let mut l = count_loop();
    l.g.panic_exit(l.exit, PanicKind::Explicit, "x");
    let r = l.ret;
    l.g.add_link(l.exit, l.head, LinkCase::Always, args![r, r, r]);
    check(&l.g, &["count: block3: panic has outgoing links [always]"]);
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
    l.g.ret(lost, args![c64(0)]);
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
    let result = "count: block2: int_add: result 0 (v8) has type i32, expected i64";
    let link =
        "count: block2: the link to block1: arg 2 (v8) has type i32, inputarg v3 has type i64";
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
            "count: block2: int_add takes 2 arguments, has 1",
            "count: block2: int_add: argument 1 (0.0f64) has type f64, expected i64",
        ],
    );
    // Shifts may take another int type for the amount; bool ops need bools.
    let mut l = count_loop();
    let body = l.g.block_mut(l.body);
    body.operations[0].op = Op::IntShl;
    body.operations[0].args[1] = ci(3, IntTy::U8);
    body.operations[1].op = Op::BoolAnd;
    let e = "count: block2: bool_and: argument 0 (v6) has type i64, expected bool";
    let e1 = "count: block2: bool_and: argument 1 (1i64) has type i64, expected bool";
    let e2 = "count: block2: bool_and: result 0 (v9) has type i64, expected bool";
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
    let [len] = g.nv("z");
    g.block_mut(b0).inputargs.extend([p, len]);
    assert_verifies(&g);
    // vec_pop's results are an exploded Option<T>.
    let mut g = step_graph();
    let vec_ref = Ty::reference(true, Ty::Vec(Box::new(i64t())));
    let v = g.new_var(vec_ref.clone(), None);
    let [tag, val] = g.nv("ui");
    g.block_mut(b0).inputargs.push(v);
    g.params.push(Param {
        name: "v".into(),
        ty: vec_ref,
    });
    g.op(b0, Op::VecPop(i64t()), args![v], &[val, tag]);
    let e0 = "interp::step: block0: vec_pop: result 0 (v5) has type i64, expected u32";
    let e1 = "interp::step: block0: vec_pop: result 1 (v6) has type u32, expected i64";
    check(&g, &[e0, e1]);
    // In the right order it verifies.
    g.block_mut(b0).operations.last_mut().unwrap().results = vec![tag, val];
    assert_verifies(&g);
    // vec_getitem: (ref, usize) -> the element type.
    let [item] = g.nv("u");
    g.op(b0, Op::VecGetItem(i64t()), args![v, c64(0)], &[item]);
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
    let [m0, n0, m1, n1, c] = g.nv("mimib");
    let [m2, n2, c2, x, dead, m3, n3, c3] = g.nv("mibiimib");
    let [m4, n4, r4, m5, n5, r5, r6, n6, lost_v] = g.nv("miimiiiii");
    let b0 = g.start;
    g.block_mut(b0).inputargs = vec![m0, n0];
    let b1 = g.new_block(vec![m1, n1]);
    let then_ = g.new_block(vec![m2, n2, c2]);
    let else_ = g.new_block(vec![m3, n3, c3]);
    let join = g.new_block(vec![m4, n4, r4]);
    let store = g.new_block(vec![m5, n5, r5]);
    let end = g.new_block(vec![r6, n6]);
    let lost = g.new_block(vec![lost_v]);
    g.goto(b0, b1, args![m0, n0]);
    g.op(b1, Op::IntGt, args![n1, c64(0)], &[c]);
    g.branch(b1, c, (then_, args![m1, n1, c]), (else_, args![m1, n1, c]));
    g.op(then_, Op::IntAdd, args![n2, c64(1)], &[x]);
    g.op(then_, Op::IntMul, args![x, c64(2)], &[dead]);
    g.goto(then_, join, args![m2, n2, x]);
    g.goto(else_, join, args![m3, n3, n3]);
    g.goto(join, store, args![m4, n4, r4]);
    g.op(store, Op::SetField(field(0, 0)), args![m5, r5], &[]);
    g.goto(store, end, args![r5, n5]);
    g.ret(end, args![r6]);
    g.goto(lost, end, args![lost_v, lost_v]);
    g
}

/// `g` verifies, and simplifies to `expected`, which verifies too.
fn assert_simplifies_to(g: &mut FlowGraph, expected: &str) {
    assert_verifies(g);
    simplify(g);
    assert_eq!(text(g), expected);
    assert_verifies(g);
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
fn simplify_drops_dead_loop_carried_values() {
    // A counter `j` carried around the loop but never read outside it.
    let mut l = count_loop();
    let [j_head, j_body, j_next] = l.g.nv("iii");
    l.g.block_mut(l.head).inputargs.push(j_head);
    l.g.block_mut(l.body).inputargs.push(j_body);
    l.g.op(l.body, Op::IntAdd, args![j_body, c64(1)], &[j_next]);
    let into_head = l.g.exits(l.g.start)[0].0;
    let into_body = l.g.exits(l.head)[0].0;
    let back = l.g.exits(l.body)[0].0;
    l.g.graph[into_head].args.push(c64(0));
    l.g.graph[into_body].args.push(j_head.into());
    l.g.graph[back].args.push(j_next.into());
    assert_verifies(&l.g);
    assert_ne!(text(&l.g), COUNT_TEXT);
    simplify(&mut l.g);
    assert_eq!(text(&l.g), COUNT_TEXT);
}

#[test]
fn simplify_goto_chain_substitutes_constants() {
    let mut g = graph("chain", &[("a", i64t())], i64t(), vec![i64t()]);
    let [a, a1, k, s, r, unused] = g.nv("iiiiii");
    let b0 = g.start;
    g.block_mut(b0).inputargs = vec![a];
    let b1 = g.new_block(vec![a1, k]);
    let b2 = g.new_block(vec![r, unused]);
    g.goto(b0, b1, args![a, c64(5)]);
    g.op(b1, Op::IntAdd, args![a1, k], &[s]);
    g.goto(b1, b2, args![s, k]);
    g.ret(b2, args![r]);
    let expected = "\
fn chain(a: i64) -> i64
block0(v0: i64):
    v1: i64 = int_add(v0, 5i64)
    return v1
";
    assert_simplifies_to(&mut g, expected);
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
    let [m, unused, a, b, ignored, pure_dead, c, m1, x1, y1] = g.nv("miiiiibmii");
    let b0 = g.start;
    g.block_mut(b0).inputargs = vec![m, unused, a, b];
    let log = call("interp::log", CallKind::Residual);
    g.op(b0, log, args![a], &[ignored]);
    g.op(b0, Op::IntSub, args![a, b], &[pure_dead]);
    g.op(b0, Op::IntLt, args![a, b], &[c]);
    let swap = g.new_block(vec![m1, x1, y1]);
    let done = g.new_block(vec![]);
    g.branch(b0, c, (swap, args![m, a, b]), (done, vec![]));
    g.goto(swap, b0, args![m1, c64(0), y1, x1]);
    let expected = "\
fn f(m: &mut Machine, unused: i64, a: i64, b: i64)
block0(v0: &mut Machine, v1: i64, v2: i64, v3: i64):
    v4: i64 = residual_call(v2) interp::log
    v5: bool = int_lt(v2, v3)
    branch v5
      true -> block1(v0, v2, v3)
      false -> block2()
block1(v6: &mut Machine, v7: i64, v8: i64):
    goto -> block0(v6, 0i64, v8, v7)
block2():
    return
";
    assert_simplifies_to(&mut g, expected);
}

#[test]
fn simplify_bypasses_forwarders_behind_branches_and_switches() {
    let mut g = graph("fwd", &[("k", u32t())], u32t(), vec![u32t()]);
    let [k, f1, f2, r] = g.nv("uuuu");
    let b0 = g.start;
    g.block_mut(b0).inputargs = vec![k];
    g.block_mut(b0).exit = Exit::Switch { value: k.into() };
    let fw1 = g.new_block(vec![f1]);
    let fw2 = g.new_block(vec![f2]);
    let end = g.new_block(vec![r]);
    g.add_link(b0, fw1, LinkCase::Value(1), args![k]);
    g.add_link(b0, end, LinkCase::Value(2), args![ci(7, IntTy::U32)]);
    g.add_link(b0, fw1, LinkCase::Default, args![ci(9, IntTy::U32)]);
    g.goto(fw1, fw2, args![f1]);
    g.goto(fw2, end, args![f2]);
    g.ret(end, args![r]);
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
    assert_simplifies_to(&mut g, expected);
}

#[test]
fn simplify_leaves_infinite_forwarding_loops_alone() {
    // `loop {}` as two empty blocks forwarding to each other.
    let mut g = graph("spin", &[("x", i64t())], Ty::Never, vec![]);
    let [x, a, b] = g.nv("iii");
    let b0 = g.start;
    g.block_mut(b0).inputargs = vec![x];
    let (l1, l2) = (g.new_block(vec![a]), g.new_block(vec![b]));
    g.goto(b0, l1, args![x]);
    g.goto(l1, l2, args![a]);
    g.goto(l2, l1, args![b]);
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
