//! The trace operations of Vec values (`vec_init`, `vec_drop`,
//! `vec_take`; docs/values.md "Vec values"): they print and parse back,
//! the verifier checks their operands, and compiled code does to memory
//! what the trace interpreter does.

use metatrace_runtime::backend;
use metatrace_runtime::jitcode::{ArrayId, Kind};
use metatrace_runtime::trace::*;
use metatrace_testkit::backend::{check_on_data, Rng, A_VI64, TB};

fn optimizer_tables() -> &'static metatrace_runtime::jitcode::Tables {
    metatrace_testkit::optimizer::tables()
}

fn raw(text: &str) -> Trace {
    parse_trace(text, optimizer_tables()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn vec_value_ops_round_trip_as_text() {
    let t = raw("[r0, i1]
         r2 = fieldaddr<Obj.vals>(r0)
         vec_drop<Vec<i64>>(r2)
         vec_init<Vec<i64>>(r2, i1)
         vec_take<Vec<i64>>(r2, r0)
         jump(r0, i1)");
    verify_trace(&t).unwrap();
    check_text_round_trip(&t, optimizer_tables()).unwrap();
    let ops: Vec<&str> = t.ops.iter().map(|o| o.opcode.template()).collect();
    assert_eq!(
        ops,
        [
            "fieldaddr<{}>",
            "vec_drop<{}>",
            "vec_init<{}>",
            "vec_take<{}>",
            "jump"
        ]
    );
}

#[test]
fn the_verifier_checks_vec_value_ops() {
    for (text, expected) in [
        (
            "[r0]\nvec_init<Vec<i64>>(r0)\njump(r0)",
            "1 arguments, expected 2",
        ),
        (
            "[r0, i1]\nvec_init<Vec<i64>>(i1, i1)\njump(r0, i1)",
            "argument 0 is int, expected ref",
        ),
        (
            "[r0, i1]\nvec_init<Vec<i64>>(r0, r0)\njump(r0, i1)",
            "argument 1 is ref, expected int",
        ),
        (
            "[r0]\nvec_drop<Vec<i64>>(r0, r0)\njump(r0)",
            "2 arguments, expected 1",
        ),
        (
            "[r0, i1]\nvec_take<Vec<i64>>(r0, i1)\njump(r0, i1)",
            "argument 1 is int, expected ref",
        ),
        (
            "[r0]\ni1 = vec_take<Vec<i64>>(r0, r0)\njump(r0)",
            "expected none",
        ),
    ] {
        let e = verify_trace(&raw(text)).expect_err("the verifier accepts it");
        assert!(e[0].contains(expected), "{text}\n{e:?}");
    }
}

#[derive(Clone, Debug)]
struct Pair {
    a: Vec<i64>,
    b: Vec<i64>,
}

/// `a = mem::take(&mut b)` with the old `a` dropped, then `b` made anew
/// with capacity `n` and one item pushed in place: compiled and
/// interpreted, the Vecs end the same. (Leaks and double frees of the
/// whole path, translator to machine code: tests/vec_values.rs.)
#[test]
fn compiled_vec_value_ops_match_the_interpreter() {
    let d = ArrayId(A_VI64);
    let mut tb = TB::new(&[Kind::Ref, Kind::Ref, Kind::Int, Kind::Int]);
    let (a, b, n, x) = (Val::Input(0), Val::Input(1), Val::Input(2), Val::Input(3));
    tb.effect(Opcode::VecDrop(d), vec![a]);
    tb.effect(Opcode::VecTake(d), vec![a, b]);
    let emptied = tb.int(Opcode::VecLen(d), vec![b]);
    tb.effect(Opcode::VecDrop(d), vec![b]);
    tb.effect(Opcode::VecInit(d), vec![b, n]);
    let cap = tb.int(Opcode::VecCap(d), vec![b]);
    tb.effect(Opcode::VecSetLen(d), vec![b, Val::Int(1)]);
    let p = tb.r#ref(Opcode::VecPtr(d), vec![b]);
    tb.effect(Opcode::SetItem(d), vec![p, Val::Int(0), x]);
    let len = tb.int(Opcode::VecLen(d), vec![a]);
    tb.exit(vec![emptied, cap, len]);
    let trace = tb.finish_straight();
    let id = backend::compile_loop(trace.clone(), metatrace_testkit::backend::tables())
        .unwrap_or_else(|e| panic!("compile failed: {e}"));
    let mut rng = Rng::new(11);
    for _ in 0..50 {
        let data = Box::new(Pair {
            a: (0..rng.below(6)).map(|_| rng.int()).collect(),
            b: (0..rng.below(6)).map(|_| rng.int()).collect(),
        });
        let n = 1 + rng.below(20);
        let x = rng.int() as u64;
        check_on_data(
            &trace,
            id,
            &data,
            |p: &mut Box<Pair>| {
                vec![
                    &mut p.a as *mut Vec<i64> as u64,
                    &mut p.b as *mut Vec<i64> as u64,
                    n,
                    x,
                ]
            },
            |p, q| p.a == q.a && p.b == q.b && p.b.capacity() == q.b.capacity(),
        );
    }
}

/// `vec_init` of no items (`Vec::new()`, and the empty Vec a dropped one
/// leaves) is three stores of an empty header observed once
/// (`layout::empty_vec_header`), not a call; the Vec it leaves is one the
/// program can push into and drop.
#[test]
fn compiled_vec_init_of_nothing_is_the_empty_header() {
    let d = ArrayId(A_VI64);
    let shims = metatrace_testkit::backend::tables().arrays[A_VI64 as usize]
        .vec
        .unwrap();
    let header = backend::layout::empty_vec_header(&shims).expect("an observed empty header");
    let empty: Vec<i64> = Vec::new();
    let words: [u64; 3] = unsafe { std::mem::transmute_copy(&empty) };
    assert_eq!(header, words);
    let mut tb = TB::new(&[Kind::Ref, Kind::Ref]);
    let (a, b) = (Val::Input(0), Val::Input(1));
    tb.effect(Opcode::VecDrop(d), vec![a]);
    tb.effect(Opcode::VecInit(d), vec![a, Val::Int(0)]);
    let len = tb.int(Opcode::VecLen(d), vec![a]);
    let cap = tb.int(Opcode::VecCap(d), vec![a]);
    tb.effect(Opcode::VecDrop(d), vec![b]);
    tb.effect(Opcode::VecInit(d), vec![b, Val::Int(0)]);
    tb.exit(vec![len, cap]);
    let trace = tb.finish_straight();
    let tables = metatrace_testkit::backend::tables();
    let inits: Vec<&TraceOp> = trace
        .ops
        .iter()
        .filter(|o| matches!(o.opcode, Opcode::VecInit(_)))
        .collect();
    assert!(inits
        .iter()
        .all(|o| backend::layout::inline_vec_init(tables, o)));
    let id = backend::compile_loop(trace.clone(), tables)
        .unwrap_or_else(|e| panic!("compile failed: {e}"));
    let mut rng = Rng::new(12);
    for _ in 0..20 {
        let data = Box::new(Pair {
            a: (0..rng.below(6)).map(|_| rng.int()).collect(),
            b: (0..rng.below(40)).map(|_| rng.int()).collect(),
        });
        check_on_data(
            &trace,
            id,
            &data,
            |p: &mut Box<Pair>| {
                vec![
                    &mut p.a as *mut Vec<i64> as u64,
                    &mut p.b as *mut Vec<i64> as u64,
                ]
            },
            |p, q| {
                let same = p.a == q.a && p.b == q.b && p.a.capacity() == q.a.capacity();
                // What compiled code left is a Vec like any other.
                let mut a = p.a.clone();
                a.push(7);
                same && a == vec![7] && p.b.is_empty()
            },
        );
    }
}
