//! Graph-building helpers and sample graphs shared by the flow-graph tests
//! (`args!` builds operand lists).

pub use metatrace_jitcodegen::flowgraph::*;
pub use metatrace_jitcodegen::types::*;

/// `vec![Operand::from(a), ...]`.
#[macro_export]
macro_rules! args {
    ($($e:expr),* $(,)?) => { vec![$($crate::flowgraph::Operand::from($e)),*] };
}
pub use crate::args;

pub fn i64t() -> Ty {
    Ty::Int(IntTy::I64)
}

pub fn u32t() -> Ty {
    Ty::Int(IntTy::U32)
}

pub fn mref() -> Ty {
    Ty::reference(true, Ty::Adt(AdtId(0)))
}

pub fn ci(v: i64, t: IntTy) -> Operand {
    Operand::Const(Const::Int(v, t))
}

pub fn c64(v: i64) -> Operand {
    ci(v, IntTy::I64)
}

pub fn field(owner: u32, index: u32) -> FieldRef {
    let owner = Ty::Adt(AdtId(owner));
    FieldRef {
        owner,
        variant: None,
        index,
    }
}

/// `struct Machine { acc: i64, pc: usize }` and `enum Insn { Push(i64), Halt }`.
pub fn types() -> TypeTable {
    let f = |name: &str, ty: Ty| FieldDef {
        name: name.into(),
        ty,
        virtualizable: false,
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
        tag: None,
    };
    let fields = vec![f("acc", i64t()), f("pc", Ty::usize())];
    let push = variant("Push", vec![f("0", i64t())]);
    let variants = vec![push, variant("Halt", vec![])];
    let named = true;
    let machine = adt("Machine", AdtKind::Struct { fields, named }, false);
    let insn = adt("Insn", AdtKind::Enum { variants }, true);
    TypeTable {
        adts: vec![machine, insn],
    }
}

pub fn graph(name: &str, params: &[(&str, Ty)], ret: Ty, leaves: Vec<Ty>) -> FlowGraph {
    let param = |(n, t): &(&str, Ty)| Param {
        name: n.to_string(),
        ty: t.clone(),
    };
    FlowGraph::new(name, params.iter().map(param).collect(), ret, leaves)
}

/// Terse graph building for the tests.
pub trait Build {
    /// Fresh variables, one per letter of `spec`: `m` = `&mut Machine`,
    /// `i` = `i64`, `u` = `u32`, `z` = `usize`, `b` = `bool`, `c` = `char`.
    fn nv<const N: usize>(&mut self, spec: &str) -> [Var; N];
    fn op(&mut self, b: BlockId, op: Op, args: Vec<Operand>, results: &[Var]);
    fn goto(&mut self, from: BlockId, to: BlockId, args: Vec<Operand>);
    fn branch(&mut self, b: BlockId, cond: Var, yes: Target, no: Target);
    fn ret(&mut self, b: BlockId, values: Vec<Operand>);
    fn panic_exit(&mut self, b: BlockId, kind: PanicKind, message: &str);
}

pub type Target = (BlockId, Vec<Operand>);

impl Build for FlowGraph {
    fn nv<const N: usize>(&mut self, spec: &str) -> [Var; N] {
        assert_eq!(spec.len(), N);
        let ty = |c| match c {
            'm' => mref(),
            'i' => i64t(),
            'u' => u32t(),
            'z' => Ty::usize(),
            'b' => Ty::Bool,
            'c' => Ty::Char,
            _ => panic!("bad type letter {c}"),
        };
        let tys: Vec<Ty> = spec.chars().map(ty).collect();
        std::array::from_fn(|k| self.new_var(tys[k].clone(), None))
    }

    fn op(&mut self, b: BlockId, op: Op, args: Vec<Operand>, results: &[Var]) {
        let results = results.to_vec();
        let loc = SrcLoc::default();
        let operation = Operation {
            op,
            args,
            results,
            loc,
        };
        self.block_mut(b).operations.push(operation);
    }

    fn goto(&mut self, from: BlockId, to: BlockId, args: Vec<Operand>) {
        self.block_mut(from).exit = Exit::Goto;
        self.add_link(from, to, LinkCase::Always, args);
    }

    fn branch(&mut self, b: BlockId, cond: Var, yes: Target, no: Target) {
        self.block_mut(b).exit = Exit::Branch { cond: cond.into() };
        self.add_link(b, yes.0, LinkCase::True, yes.1);
        self.add_link(b, no.0, LinkCase::False, no.1);
    }

    fn ret(&mut self, b: BlockId, values: Vec<Operand>) {
        self.block_mut(b).exit = Exit::Return { values };
    }

    fn panic_exit(&mut self, b: BlockId, kind: PanicKind, message: &str) {
        let message = message.into();
        self.block_mut(b).exit = Exit::Panic { kind, message };
    }
}

pub fn call(callee: &str, kind: CallKind) -> Op {
    let callee = callee.into();
    Op::Call { callee, kind }
}

pub fn assert_verifies(g: &FlowGraph) {
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
pub fn check(g: &FlowGraph, expected: &[&str]) {
    let t = types();
    let errs: Vec<String> = match verify(g, &t) {
        Ok(()) => vec![],
        Err(errors) => errors.iter().map(|e| e.to_string()).collect(),
    };
    assert_eq!(errs, expected, "\n{}", print_graph(g, &t));
}

pub fn text(g: &FlowGraph) -> String {
    print_graph(g, &types())
}

/// The brief's example: a branch, a panic exit, a call with two results.
pub fn step_graph() -> FlowGraph {
    let params = [("m", mref()), ("n", Ty::usize())];
    let ret_ty = Ty::Option(Box::new(i64t()));
    let mut g = graph("interp::step", &params, ret_ty, vec![u32t(), i64t()]);
    // Allocated out of printing order on purpose.
    let [r_val, r_tag, acc2, m2, cond, acc, n, m] = g.nv("iuimbizm");
    let b0 = g.start;
    g.block_mut(b0).inputargs = vec![m, n];
    let ok = g.new_block(vec![m2, acc2]);
    let fail = g.new_block(vec![]);
    g.op(b0, Op::GetField(field(0, 0)), args![m], &[acc]);
    g.op(b0, Op::IntLt, args![n, ci(10, IntTy::Usize)], &[cond]);
    g.branch(b0, cond, (ok, args![m, acc]), (fail, vec![]));
    g.op(ok, Op::SetField(field(0, 0)), args![m2, acc2], &[]);
    let helper = call("interp::helper", CallKind::Regular);
    g.op(ok, helper, args![m2], &[r_tag, r_val]);
    g.ret(ok, args![ci(1, IntTy::U32), acc2]);
    g.panic_exit(fail, PanicKind::BoundsCheck, "index out of bounds");
    g
}

pub const STEP_TEXT: &str = "\
fn interp::step(m: &mut Machine, n: usize) -> Option<i64>
block0(v0: &mut Machine, v1: usize):
    v2: i64 = getfield(v0) Machine.acc
    v3: bool = int_lt(v1, 10usize)
    branch v3
      true -> block1(v0, v2)
      false -> block2()
block1(v4: &mut Machine, v5: i64):
    setfield(v4, v5) Machine.acc
    v6: u32, v7: i64 = call(v4) interp::helper
    return 1u32, v5
block2():
    panic bounds_check \"index out of bounds\"
";

/// `fn count(n: i64) -> i64 { let (mut i, mut s) = (0, 0); while i < n { s += i; i += 1 } s }`
pub struct Loop {
    pub g: FlowGraph,
    pub head: BlockId,
    pub exit: BlockId,
    pub body: BlockId,
    /// n, i, sum in the loop header
    pub hv: [Var; 3],
    /// result of the comparison
    pub cond: Var,
    /// n, i, sum in the body, then the new sum and i
    pub bv: [Var; 5],
    pub ret: Var,
}

pub fn count_loop() -> Loop {
    let mut g = graph("count", &[("n", i64t())], i64t(), vec![i64t()]);
    let [n] = g.nv("i");
    let hv = g.nv("iii");
    let [cond] = g.nv("b");
    let bv = g.nv("iiiii");
    let [result] = g.nv("i");
    let b0 = g.start;
    g.block_mut(b0).inputargs = vec![n];
    let head = g.new_block(hv.to_vec());
    let exit = g.new_block(vec![result]);
    let body = g.new_block(bv[..3].to_vec());
    g.goto(b0, head, args![n, c64(0), c64(0)]);
    g.op(head, Op::IntLt, args![hv[1], hv[0]], &[cond]);
    let to_body = (body, args![hv[0], hv[1], hv[2]]);
    g.branch(head, cond, to_body, (exit, args![hv[2]]));
    g.ret(exit, args![result]);
    g.op(body, Op::IntAdd, args![bv[2], bv[1]], &[bv[3]]);
    g.op(body, Op::IntAdd, args![bv[1], c64(1)], &[bv[4]]);
    g.goto(body, head, args![bv[0], bv[4], bv[3]]);
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

pub const COUNT_TEXT: &str = "\
fn count(n: i64) -> i64
block0(v0: i64):
    goto -> block1(v0, 0i64, 0i64)
block1(v1: i64, v2: i64, v3: i64):
    v4: bool = int_lt(v2, v1)
    branch v4
      true -> block2(v1, v2, v3)
      false -> block3(v3)
block2(v5: i64, v6: i64, v7: i64):
    v8: i64 = int_add(v7, v6)
    v9: i64 = int_add(v6, 1i64)
    goto -> block1(v5, v9, v8)
block3(v10: i64):
    return v10
";
