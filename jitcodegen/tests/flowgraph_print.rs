//! Tests of the flow-graph printer (text and dot) on small hand-built graphs:
//! block numbering, variable naming and the rendering of each construct.

use metatrace_testkit::args;
use metatrace_testkit::flowgraph::*;

#[test]
fn print_branch_panic_and_call() {
    let g = step_graph();
    assert_eq!(text(&g), STEP_TEXT);
    assert_verifies(&g);
}

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
    let [c, len, flag, n, quote] = g.nv("czbic");
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
    let default_args = args![float, ci(-1, IntTy::U64)];
    g.add_link(b0, other, LinkCase::Default, default_args);
    let text_arg = Const::Str("say \"hi\"\n".into());
    let usize9 = ci(9, IntTy::Usize);
    g.add_link(b0, a, LinkCase::Value('a' as i64), args![text_arg, usize9]);
    g.add_link(b0, nul, LinkCase::Value(0), args![Const::Bool(true)]);
    g.op(a, Op::SameAs, args![Const::NullRef(machine_ref)], &[r]);
    g.op(a, Op::SameAs, args![c64(-7)], &[n]);
    g.op(a, Op::SameAs, args![Const::Char('\'')], &[quote]);
    g.ret(a, vec![]);
    g.panic_exit(other, PanicKind::Explicit, "unexpected");
    let msg = "called `Option::unwrap()` on a `None` value";
    g.panic_exit(nul, PanicKind::Unwrap, msg);
    let expected = "\
fn interp::classify(c: char)
block0(v0: char):
    switch v0
      0 -> block1(true)
      97 -> block2(\"say \\\"hi\\\"\\n\", 9usize)
      default -> block3(1.5f64, 18446744073709551615u64)
block1(v1: bool):
    panic unwrap \"called `Option::unwrap()` on a `None` value\"
block2(v2: &str, v3: usize):
    v4: &Machine = same_as(null)
    v5: i64 = same_as(-7i64)
    v6: char = same_as('\\'')
    return
block3(v7: f64, v8: u64):
    panic explicit \"unexpected\"
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
    let [len, tag] = g.nv("zu");
    let val = g.new_var(u8t.clone(), None);
    let [jitted] = g.nv("b");
    let b0 = g.start;
    g.block_mut(b0).inputargs = vec![v];
    let driver = "interp::DRIVER".to_string();
    g.op(b0, Op::JitMergePoint { driver }, args![v], &[]);
    g.op(b0, Op::VecLen(u8t.clone()), args![v], &[len]);
    let push = Op::VecPush(u8t.clone());
    g.op(b0, push, args![v, ci(3, IntTy::U8)], &[]);
    g.op(b0, Op::VecPop(u8t), args![v], &[tag, val]);
    g.op(b0, Op::WeAreJitted, vec![], &[jitted]);
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
    fontname="monospace";
    node [shape=box, fontname="monospace"];
    edge [fontname="monospace"];
    block0 [label="block0(v0: &mut Machine, v1: usize):\l    v2: i64 = getfield(v0) Machine.acc\l    v3: bool = int_lt(v1, \"\{\|\}\")\l    branch v3\l      true -\> block1(v0, v2)\l      false -\> block2()\l", penwidth=2];
    block1 [label="block1(v4: &mut Machine, v5: i64):\l    setfield(v4, v5) Machine.acc\l    v6: u32, v7: i64 = call(v4) interp::helper\l    return 1u32, v5\l"];
    block2 [label="block2():\l    panic bounds_check \"index out of bounds\"\l"];
    block0 -> block1 [label="true (v0, v2)"];
    block0 -> block2 [label="false ()"];
}
"#;
    assert_eq!(to_dot(&g, &types()), expected);
    let dot = to_dot(&count_loop().g, &types());
    assert!(
        dot.contains("    block2 -> block1 [label=\"(v5, v9, v8)\"];\n"),
        "{dot}"
    );
    assert!(
        dot.contains("    block1 -> block2 [label=\"true (v1, v2, v3)\"];\n"),
        "{dot}"
    );
}
