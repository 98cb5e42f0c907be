//! The codewriter on hand-built flow graphs: register allocation
//! (interference, coalescing), parallel moves, `-live-` sets and the
//! verifier hook, plus a tiny evaluator for the int instructions so that the
//! produced code is checked for what it computes, not only for its shape.

use metatrace_jitcodegen::codewriter::jitcode::{CmpOp, Insn, IntBinOp, KReg, Kind};
use metatrace_jitcodegen::codewriter::regalloc::allocate;
use metatrace_jitcodegen::codewriter::{assemble, parallel_move, Assembly, JitCodeData};
use metatrace_jitcodegen::flowgraph::{
    BlockId, CallKind, Const, Exit, FlowGraph, LinkCase, Op, Operand, Operation, Param, Program,
    SrcLoc, Var,
};
use metatrace_jitcodegen::types::{IntTy, Ty};
use metatrace_runtime::jitcode::JitCodeId;

fn i64_ty() -> Ty {
    Ty::Int(IntTy::I64)
}

fn c(v: i64) -> Operand {
    Operand::Const(Const::Int(v, IntTy::I64))
}

fn v(x: Var) -> Operand {
    Operand::Var(x)
}

fn push(g: &mut FlowGraph, b: BlockId, op: Op, args: Vec<Operand>, results: Vec<Var>) {
    g.block_mut(b).operations.push(Operation {
        op,
        args,
        results,
        loc: SrcLoc::default(),
    });
}

fn graph(name: &str, nparams: usize, nret: usize) -> FlowGraph {
    let params = (0..nparams)
        .map(|i| Param {
            name: format!("p{i}"),
            ty: i64_ty(),
        })
        .collect();
    let ret = if nret == 0 { Ty::Unit } else { i64_ty() };
    FlowGraph::new(name, params, ret, vec![i64_ty(); nret])
}

/// A graph of `N` int parameters and one int result whose start block takes
/// them as the variables `names`: the graph and those variables.
fn graph_of<const N: usize>(name: &str, names: [&str; N]) -> (FlowGraph, [Var; N]) {
    let mut g = graph(name, N, 1);
    let params = names.map(|n| g.new_var(i64_ty(), Some(n)));
    let start = g.start;
    g.block_mut(start).inputargs = params.to_vec();
    (g, params)
}

fn program(graphs: Vec<FlowGraph>) -> Program {
    Program {
        graphs,
        ..Program::default()
    }
}

/// Run an int-only jitcode on `args`; enough of the instruction set for
/// these tests (calls run the callee recursively).
fn eval(asm: &Assembly, j: usize, args: &[i64]) -> Vec<i64> {
    let code: &JitCodeData = &asm.jitcodes[j];
    let mut regs: Vec<i64> = vec![0xdead; code.num_regs[0] as usize];
    regs.extend(&code.consts_i);
    for (a, val) in code.args.iter().zip(args) {
        assert_eq!(a.kind, Kind::Int);
        regs[a.reg as usize] = *val;
    }
    let mut pc = 0;
    for _ in 0..100_000 {
        match &code.insns[pc] {
            Insn::Copy {
                kind: Kind::Int,
                src,
                dst,
            } => regs[*dst as usize] = regs[*src as usize],
            Insn::IntBin {
                op,
                ty: IntTy::I64,
                a,
                b,
                dst,
            } => {
                let (x, y) = (regs[*a as usize], regs[*b as usize]);
                regs[*dst as usize] = match op {
                    IntBinOp::Add => x.wrapping_add(y),
                    IntBinOp::Sub => x.wrapping_sub(y),
                    IntBinOp::Mul => x.wrapping_mul(y),
                    other => panic!("eval: {other:?}"),
                };
            }
            Insn::IntCmp {
                op,
                ty: IntTy::I64,
                a,
                b,
                dst,
            } => {
                let (x, y) = (regs[*a as usize], regs[*b as usize]);
                regs[*dst as usize] = match op {
                    CmpOp::Lt => x < y,
                    CmpOp::Eq => x == y,
                    other => panic!("eval: {other:?}"),
                } as i64;
            }
            Insn::Live { .. } => {}
            Insn::Goto { target } => {
                pc = *target as usize;
                continue;
            }
            Insn::GotoIfNot { cond, target } => {
                if regs[*cond as usize] == 0 {
                    pc = *target as usize;
                    continue;
                }
            }
            Insn::Call {
                jitcode,
                args,
                results,
                ..
            } => {
                let vals: Vec<i64> = args.iter().map(|a| regs[a.reg as usize]).collect();
                let out = eval(asm, jitcode.index(), &vals);
                for (r, val) in results.iter().zip(out) {
                    regs[r.reg as usize] = val;
                }
            }
            Insn::Return { values } => {
                return values.iter().map(|r| regs[r.reg as usize]).collect()
            }
            other => panic!("eval: {other:?}"),
        }
        pc += 1;
    }
    panic!("eval: does not terminate");
}

fn copies(code: &JitCodeData) -> Vec<&Insn> {
    code.insns
        .iter()
        .filter(|i| matches!(i, Insn::Copy { .. }))
        .collect()
}

/// `f(a, b) = (a + b) * a - b`, straight-line.
fn straight_line() -> (FlowGraph, [Var; 5]) {
    let (mut g, [a, b]) = graph_of("f", ["a", "b"]);
    let s = g.new_var(i64_ty(), None);
    let m = g.new_var(i64_ty(), None);
    let r = g.new_var(i64_ty(), None);
    let start = g.start;
    push(&mut g, start, Op::IntAdd, vec![v(a), v(b)], vec![s]);
    push(&mut g, start, Op::IntMul, vec![v(s), v(a)], vec![m]);
    push(&mut g, start, Op::IntSub, vec![v(m), v(b)], vec![r]);
    g.block_mut(start).exit = Exit::Return { values: vec![v(r)] };
    (g, [a, b, s, m, r])
}

#[test]
fn interfering_vars_get_different_registers() {
    let (g, [a, b, s, m, r]) = straight_line();
    let alloc = allocate(&g).unwrap();
    let reg = |x| alloc.reg(x);
    // Live at the same time: a, b, s (s = a + b while a and b are still needed).
    assert_ne!(reg(a), reg(b));
    assert_ne!(reg(s), reg(a));
    assert_ne!(reg(s), reg(b));
    // m = s * a while b is still needed.
    assert_ne!(reg(m), reg(b));
    // The arguments arrive in registers 0 and 1.
    assert_eq!((reg(a).reg, reg(b).reg), (0, 1));
    // Three values are live at most at once: three registers suffice.
    assert_eq!(alloc.num_regs, [3, 0, 0]);
    let _ = r;
    let asm = assemble(&program(vec![g])).unwrap();
    assert_eq!(eval(&asm, 0, &[5, 3]), [37]);
    assert!(copies(&asm.jitcodes[0]).is_empty());
}

/// `count(n)`: `i = 0; while i < n { i += 1 }; i` as a loop block.
fn counting_loop() -> (FlowGraph, [Var; 6]) {
    let (mut g, [n]) = graph_of("count", ["n"]);
    let i = g.new_var(i64_ty(), Some("i"));
    let n1 = g.new_var(i64_ty(), Some("n"));
    let cond = g.new_var(Ty::Bool, None);
    let i2 = g.new_var(i64_ty(), Some("i"));
    let ret = g.new_var(i64_ty(), None);
    let start = g.start;
    let head = g.new_block(vec![i, n1]);
    let body_i = g.new_var(i64_ty(), None);
    let body_n = g.new_var(i64_ty(), None);
    let body = g.new_block(vec![body_i, body_n]);
    let exit = g.new_block(vec![ret]);
    g.add_link(start, head, LinkCase::Always, vec![c(0), v(n)]);
    g.block_mut(start).exit = Exit::Goto;
    push(&mut g, head, Op::IntLt, vec![v(i), v(n1)], vec![cond]);
    g.block_mut(head).exit = Exit::Branch { cond: v(cond) };
    g.add_link(head, body, LinkCase::True, vec![v(i), v(n1)]);
    g.add_link(head, exit, LinkCase::False, vec![v(i)]);
    push(&mut g, body, Op::IntAdd, vec![v(body_i), c(1)], vec![i2]);
    g.add_link(body, head, LinkCase::Always, vec![v(i2), v(body_n)]);
    g.block_mut(body).exit = Exit::Goto;
    g.block_mut(exit).exit = Exit::Return {
        values: vec![v(ret)],
    };
    (g, [n, i, n1, i2, body_i, ret])
}

#[test]
fn coalesced_link_args_produce_no_copy() {
    let (g, [n, i, n1, i2, body_i, ret]) = counting_loop();
    metatrace_jitcodegen::flowgraph::verify(&g, &Default::default()).unwrap();
    let alloc = allocate(&g).unwrap();
    // Every link arg shares its register with the inputarg it flows into.
    assert_eq!(alloc.reg(n), alloc.reg(n1));
    assert_eq!(alloc.reg(i), alloc.reg(body_i));
    assert_eq!(alloc.reg(i2), alloc.reg(i));
    assert_eq!(alloc.reg(ret), alloc.reg(i));
    let asm = assemble(&program(vec![g])).unwrap();
    let code = &asm.jitcodes[0];
    // The only copy left loads the constant 0 into `i`.
    let cs = copies(code);
    assert_eq!(cs.len(), 1, "{}", asm.print());
    let Insn::Copy { src, .. } = cs[0] else {
        unreachable!()
    };
    assert!(
        *src >= code.num_regs[0],
        "the copy should read a constant: {}",
        asm.print()
    );
    assert_eq!(eval(&asm, 0, &[7]), [7]);
    assert_eq!(eval(&asm, 0, &[-3]), [0]);
}

/// `fib(n)`: `a, b = 0, 1; repeat n times: a, b = b, a + b` with the swap
/// as a link (x, y) -> (y, x + y), and the sum computed in the block.
fn swapping_loop(rotate_only: bool) -> FlowGraph {
    let (mut g, [n]) = graph_of("fib", ["n"]);
    let start = g.start;
    let (x, y, i, n1) = (
        g.new_var(i64_ty(), Some("x")),
        g.new_var(i64_ty(), Some("y")),
        g.new_var(i64_ty(), Some("i")),
        g.new_var(i64_ty(), Some("n")),
    );
    let head = g.new_block(vec![x, y, i, n1]);
    let cond = g.new_var(Ty::Bool, None);
    let s = g.new_var(i64_ty(), None);
    let i2 = g.new_var(i64_ty(), None);
    let ret = g.new_var(i64_ty(), None);
    let exit = g.new_block(vec![ret]);
    g.add_link(start, head, LinkCase::Always, vec![c(0), c(1), c(0), v(n)]);
    g.block_mut(start).exit = Exit::Goto;
    push(&mut g, head, Op::IntLt, vec![v(i), v(n1)], vec![cond]);
    g.block_mut(head).exit = Exit::Branch { cond: v(cond) };
    let (bx, by, bi, bn) = (
        g.new_var(i64_ty(), None),
        g.new_var(i64_ty(), None),
        g.new_var(i64_ty(), None),
        g.new_var(i64_ty(), None),
    );
    let body = g.new_block(vec![bx, by, bi, bn]);
    g.add_link(head, body, LinkCase::True, vec![v(x), v(y), v(i), v(n1)]);
    g.add_link(head, exit, LinkCase::False, vec![v(x)]);
    push(&mut g, body, Op::IntAdd, vec![v(bi), c(1)], vec![i2]);
    if rotate_only {
        // (x, y) -> (y, x): a pure swap.
        g.add_link(
            body,
            head,
            LinkCase::Always,
            vec![v(by), v(bx), v(i2), v(bn)],
        );
    } else {
        push(&mut g, body, Op::IntAdd, vec![v(bx), v(by)], vec![s]);
        g.add_link(
            body,
            head,
            LinkCase::Always,
            vec![v(by), v(s), v(i2), v(bn)],
        );
    }
    g.block_mut(body).exit = Exit::Goto;
    g.block_mut(exit).exit = Exit::Return {
        values: vec![v(ret)],
    };
    g
}

#[test]
fn swap_on_a_back_edge_goes_through_a_scratch_register() {
    let g = swapping_loop(true);
    metatrace_jitcodegen::flowgraph::verify(&g, &Default::default()).unwrap();
    let asm = assemble(&program(vec![g])).unwrap();
    let code = &asm.jitcodes[0];
    let text = asm.print();
    // x and y swap: three register-to-register copies, one of them into a
    // register that is neither x nor y.
    let reg_copies: Vec<(u16, u16)> = copies(code)
        .into_iter()
        .filter_map(|i| match i {
            Insn::Copy { src, dst, .. } if *src < code.num_regs[0] => Some((*src, *dst)),
            _ => None,
        })
        .collect();
    assert_eq!(reg_copies.len(), 3, "{text}");
    let (a, b) = (reg_copies[0].0, reg_copies[1].0);
    assert_eq!(
        reg_copies,
        [(a, reg_copies[0].1), (b, a), (reg_copies[0].1, b)],
        "{text}"
    );
    // 0 iterations: x = 0; 1: x = 1; 2: back to 0; 3: 1.
    for (n, want) in [(0, 0), (1, 1), (2, 0), (3, 1)] {
        assert_eq!(eval(&asm, 0, &[n]), [want], "n = {n}\n{text}");
    }
}

#[test]
fn fibonacci_loop_computes_fibonacci() {
    let asm = assemble(&program(vec![swapping_loop(false)])).unwrap();
    let fib = |n: i64| {
        (0..n)
            .fold((0i64, 1i64), |(a, b), _| (b, a.wrapping_add(b)))
            .0
    };
    for n in [0, 1, 2, 3, 10, 50, 100] {
        assert_eq!(eval(&asm, 0, &[n]), [fib(n)], "n = {n}\n{}", asm.print());
    }
    // x, y, i, n and the loop condition; the sum gets the condition's
    // register rather than x's, so that the back edge is two plain copies
    // (y -> x, sum -> y) instead of a rotation through a scratch register.
    let code = &asm.jitcodes[0];
    assert_eq!(code.num_regs, [5, 0, 0], "{}", asm.print());
    let reg_copies = copies(code)
        .into_iter()
        .filter(|i| matches!(i, Insn::Copy { src, .. } if *src < code.num_regs[0]))
        .count();
    assert_eq!(reg_copies, 2, "{}", asm.print());
}

#[test]
fn parallel_move_swaps_via_scratch() {
    let mut asked = 0;
    let seq = parallel_move(&[(0, 1), (1, 0), (2, 2)], &mut || {
        asked += 1;
        7
    });
    assert_eq!(asked, 1);
    let mut regs = [10, 11, 12, 0, 0, 0, 0, 0];
    for (s, d) in &seq {
        regs[*d as usize] = regs[*s as usize];
    }
    assert_eq!(&regs[..3], &[11, 10, 12]);
    assert_eq!(seq.len(), 3, "{seq:?}");
    // Without a cycle, no scratch is asked for.
    let seq = parallel_move(&[(0, 1), (1, 2), (5, 0)], &mut || {
        panic!("no scratch needed")
    });
    assert_eq!(seq, [(1, 2), (0, 1), (5, 0)]);
}

/// `g(a, b) = f(a + b) + b` with `f` regular: `a` dies at the call, `b`
/// lives across it.
#[test]
fn live_before_a_call_lists_what_lives_across_it() {
    let (f, _) = straight_line();
    let (mut g, [a, b]) = graph_of("g", ["a", "b"]);
    let s = g.new_var(i64_ty(), None);
    let r = g.new_var(i64_ty(), None);
    let t = g.new_var(i64_ty(), None);
    let start = g.start;
    push(&mut g, start, Op::IntAdd, vec![v(a), v(b)], vec![s]);
    push(
        &mut g,
        start,
        Op::Call {
            callee: "f".into(),
            kind: CallKind::Regular,
        },
        vec![v(s), c(2)],
        vec![r],
    );
    push(&mut g, start, Op::IntAdd, vec![v(r), v(b)], vec![t]);
    g.block_mut(start).exit = Exit::Return { values: vec![v(t)] };
    let asm = assemble(&program(vec![g, f])).unwrap();
    let code = &asm.jitcodes[0];
    let text = asm.print();
    let pos = code
        .insns
        .iter()
        .position(|i| matches!(i, Insn::Call { .. }))
        .expect("a call");
    let Insn::Live { regs } = &code.insns[pos - 1] else {
        panic!("no -live- before the call:\n{text}")
    };
    let Insn::Call { args, jitcode, .. } = &code.insns[pos] else {
        unreachable!()
    };
    assert_eq!(*jitcode, JitCodeId(1));
    // s (read by the call) and b (which survives it); not a (dead), not
    // the constant 2, not the result.
    let mut want = vec![args[0], code.args[1]];
    want.sort_by_key(|r| (r.kind, r.reg));
    assert_ne!(args[0], code.args[1]);
    assert_eq!(regs, &want, "{text}");
    assert!(
        args[1].reg >= code.num_regs[0],
        "the constant is a pool register: {text}"
    );
    assert_eq!(eval(&asm, 0, &[1, 2]), [(3 + 2) * 3 - 2 + 2]);
}

#[test]
fn verify_rejects_broken_jitcode() {
    let (g, _) = straight_line();
    let mut asm = assemble(&program(vec![g])).unwrap();
    assert!(asm.verify().is_ok());
    // Write a register that does not exist.
    asm.jitcodes[0].insns.insert(
        0,
        Insn::Copy {
            kind: Kind::Int,
            src: 0,
            dst: 40,
        },
    );
    assert!(asm.verify().is_err());
    // A return of the wrong kind.
    let (g, _) = straight_line();
    let mut asm = assemble(&program(vec![g])).unwrap();
    let last = asm.jitcodes[0].insns.len() - 1;
    asm.jitcodes[0].insns[last] = Insn::Return {
        values: vec![KReg {
            kind: Kind::Ref,
            reg: 0,
        }],
    };
    assert!(asm.verify().is_err());
}

#[test]
fn unknown_callee_is_an_error() {
    let mut g = graph("g", 1, 1);
    let a = g.new_var(i64_ty(), None);
    let r = g.new_var(i64_ty(), None);
    let start = g.start;
    g.block_mut(start).inputargs = vec![a];
    push(
        &mut g,
        start,
        Op::Call {
            callee: "nowhere".into(),
            kind: CallKind::Regular,
        },
        vec![v(a)],
        vec![r],
    );
    g.block_mut(start).exit = Exit::Return { values: vec![v(r)] };
    let err = assemble(&program(vec![g])).unwrap_err();
    assert!(err.contains("nowhere"), "{err}");
}
