use metatrace_runtime::backend;
use metatrace_runtime::jitcode::*;
use metatrace_runtime::trace::*;

fn empty_tables() -> &'static Tables {
    Box::leak(Box::new(Tables { jitcodes: &[], fields: &[], arrays: &[], enums: &[], calls: &[], drivers: &[], strings: &[] }))
}

#[test]
fn counting_loop() {
    // [i0, i1] i2 = i0 + 1; i3 = i2 < i1; guard_true(i3) [i2, i1]; jump(i2, i1)
    let t = Trace {
        start: TraceStart::Loop { driver: 0, greens: vec![] },
        inputs: vec![Kind::Int, Kind::Int],
        ops: vec![
            TraceOp { opcode: Opcode::IntBin(IntBinOp::Add, IntTy::I64), args: vec![Val::Input(0), Val::Int(1)], result: Some(Kind::Int), guard: None },
            TraceOp { opcode: Opcode::IntCmp(CmpOp::Lt, IntTy::I64), args: vec![Val::Op(0), Val::Input(1)], result: Some(Kind::Int), guard: None },
            TraceOp { opcode: Opcode::GuardTrue, args: vec![Val::Op(1)], result: None, guard: Some(0) },
            TraceOp { opcode: Opcode::Jump, args: vec![Val::Op(0), Val::Input(1)], result: None, guard: None },
        ],
        guards: vec![GuardInfo { frames: vec![], fail_args: vec![Val::Op(0), Val::Input(1), Val::Int(77)] }],
    };
    let tables = empty_tables();
    let e = interp::run(&t, tables, &[0, 1000]);
    println!("{e:?}");
    let id = backend::compile_loop(t, tables).unwrap();
    println!("{}", backend::disassemble(id));
    let x = backend::execute(id, &[0, 1000]);
    println!("{x:?}");
    assert_eq!(x.values, e.values);
}

#[test]
fn alias_sub() {
    let t = Trace {
        start: TraceStart::Loop { driver: 0, greens: vec![] },
        inputs: vec![Kind::Int, Kind::Int],
        ops: vec![
            TraceOp { opcode: Opcode::IntBin(IntBinOp::Sub, IntTy::I64), args: vec![Val::Input(0), Val::Input(1)], result: Some(Kind::Int), guard: None },
            TraceOp { opcode: Opcode::GuardTrue, args: vec![Val::Int(0)], result: None, guard: Some(0) },
            TraceOp { opcode: Opcode::Jump, args: vec![Val::Input(0), Val::Input(1)], result: None, guard: None },
        ],
        guards: vec![GuardInfo { frames: vec![], fail_args: vec![Val::Op(0), Val::Input(0)] }],
    };
    let id = backend::compile_loop(t, empty_tables()).unwrap();
    println!("{}", backend::disassemble(id));
}
