//! The codewriter on small functions: printed jitcodes compared against
//! expected text (`tests/expect/jitcode_*.txt`), so that a change in
//! register allocation, flattening or `-live-` shows up as a diff here;
//! and the bundled interpreters assemble and verify.

use metatrace_jitcodegen::codewriter::jitcode::{Insn, KReg, Kind};
use metatrace_jitcodegen::codewriter::{assemble, Assembly};
use metatrace_testkit::bless::check_expected;
use metatrace_testkit::subset::PORTAL;
use metatrace_translator::{translate_crate_dir, translate_source};
use std::path::Path;

fn assembly(src: &str) -> Assembly {
    let t = translate_source("interp.rs", src)
        .unwrap_or_else(|e| panic!("translation failed:\n{}", e.render()));
    assemble(&t.program).unwrap_or_else(|e| panic!("assemble failed: {e}"))
}

fn index(asm: &Assembly, name: &str) -> usize {
    asm.jitcode_index(name).unwrap_or_else(|| {
        panic!(
            "no jitcode {name}; have {:?}",
            asm.jitcodes.iter().map(|j| &j.name).collect::<Vec<_>>()
        )
    })
}

/// Compare the printed jitcodes `names` of `src` against
/// `tests/expect/jitcode_<file>.txt` (`METATRACE_BLESS=1` rewrites it).
fn check(src: &str, names: &[&str], file: &str) -> Assembly {
    let asm = assembly(src);
    let got: Vec<String> = names
        .iter()
        .map(|n| asm.print_jitcode(index(&asm, n)))
        .collect();
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/expect")
        .join(format!("jitcode_{file}.txt"));
    check_expected(&path, &got.join("\n"));
    asm
}

/// Every `-live-` and what follows it.
fn lives(asm: &Assembly, name: &str) -> Vec<(Vec<KReg>, Insn)> {
    let j = &asm.jitcodes[index(asm, name)];
    j.insns
        .windows(2)
        .filter_map(|w| match &w[0] {
            Insn::Live { regs } => Some((regs.clone(), w[1].clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn loop_with_swapping_variables() {
    // `a` and `b` trade places every iteration: the back edge copies `b`
    // into `a` and `t` into `b`, in that order; `t` is given a register
    // that makes this a chain of two copies, not a cycle.
    let src = format!(
        "{PORTAL}
fn f(n: i64) -> i64 {{
    let mut a: i64 = 0;
    let mut b: i64 = 1;
    let mut i: i64 = 0;
    while i < n {{
        let t = a.wrapping_add(b);
        a = b;
        b = t;
        i += 1;
    }}
    a
}}"
    );
    let asm = check(&src, &["f", "portal"], "loop");
    let f = &asm.jitcodes[index(&asm, "f")];
    // The portal's merge point: greens then reds, each in a register.
    let portal = lives(&asm, "portal");
    assert!(portal
        .iter()
        .any(|(_, i)| matches!(i, Insn::MergePoint { .. })));
    assert_eq!(f.num_regs, [5, 0, 0]);
    let reg_copies = f
        .insns
        .iter()
        .filter(|i| matches!(i, Insn::Copy { src, .. } if *src < f.num_regs[0]))
        .count();
    assert_eq!(reg_copies, 2, "{}", asm.print());
}

#[test]
fn match_on_integer_becomes_switch() {
    let src = format!(
        "{PORTAL}
fn f(n: i64) -> i64 {{
    match n {{
        0 => 10,
        1 => 20,
        5 => n * 3,
        _ => n - 1,
    }}
}}"
    );
    let asm = check(&src, &["f"], "switch");
    let switch = lives(&asm, "f")
        .into_iter()
        .find(|(_, i)| matches!(i, Insn::Switch { .. }));
    let (live, insn) = switch.expect("a -live- before the switch");
    // The value switched on is live across the switch; constants never are.
    let Insn::Switch { value, cases, .. } = insn else {
        unreachable!()
    };
    assert!(live.contains(&KReg {
        kind: Kind::Int,
        reg: value
    }));
    let nregs = asm.jitcodes[index(&asm, "f")].num_regs;
    assert!(live.iter().all(|r| r.reg < nregs[r.kind.index()]));
    let values: Vec<i64> = cases.iter().map(|c| c.0).collect();
    assert_eq!(values, [0, 1, 5]);
}

#[test]
fn regular_residual_and_elidable_calls() {
    let src = r#"
struct Machine { code: Vec<u8>, out: u64 }

#[jit_driver(greens = [pc], reds = [m])]
fn run(m: &mut Machine) -> u64 {
    let mut pc: usize = 0;
    while pc < 100 {
        jit_merge_point!();
        let op = opcode(m, pc);
        let v = double(op as u64);
        emit(m, v);
        pc = pc + 1;
    }
    m.out
}

#[elidable]
fn opcode(m: &Machine, pc: usize) -> u8 {
    m.code[pc % 4]
}

fn double(x: u64) -> u64 {
    x.wrapping_mul(2)
}

#[dont_look_inside]
fn emit(m: &mut Machine, v: u64) {
    m.out = m.out.wrapping_add(v);
}
"#;
    let asm = check(src, &["run", "opcode"], "calls");
    let calls: Vec<Insn> = lives(&asm, "run")
        .into_iter()
        .map(|(_, i)| i)
        .filter(|i| matches!(i, Insn::Call { .. } | Insn::ResidualCall { .. }))
        .collect();
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert_eq!(asm.calls.len(), 1);
    assert_eq!(asm.calls[0].path, "emit");
}

#[test]
fn struct_fields_and_vec_access() {
    let src = r#"
struct Tape { cells: Vec<u8>, pos: usize, steps: u32 }

#[jit_driver(greens = [pc], reds = [tape])]
fn run(tape: &mut Tape) {
    let mut pc: u8 = 0;
    while pc != 3 {
        jit_merge_point!();
        bump(tape);
        pc = pc.wrapping_add(1);
    }
}

fn bump(tape: &mut Tape) {
    let p = tape.pos;
    tape.cells[p] = tape.cells[p].wrapping_add(1);
    tape.steps += 1;
    if tape.cells.len() < 10 {
        tape.cells.push(0);
    }
}
"#;
    let asm = check(src, &["bump"], "fields");
    let fields: Vec<String> = asm
        .fields
        .iter()
        .map(|f| metatrace_jitcodegen::flowgraph::adt_field_name(&asm.types, &f.field))
        .collect();
    assert!(fields.contains(&"Tape.cells".to_string()), "{fields:?}");
    assert!(fields.contains(&"Tape.steps".to_string()), "{fields:?}");
}

#[test]
fn panic_paths() {
    let src = format!(
        "{PORTAL}
fn f(n: i64) -> i64 {{
    if n > 1000 {{
        panic!(\"too big\");
    }}
    100 / n
}}"
    );
    let asm = check(&src, &["f"], "panic");
    assert!(
        asm.strings.contains(&"too big".to_string()),
        "{:?}",
        asm.strings
    );
    let f = &asm.jitcodes[index(&asm, "f")];
    assert!(
        f.insns
            .iter()
            .filter(|i| matches!(i, Insn::Panic { .. }))
            .count()
            >= 2
    );
}

#[test]
fn option_return() {
    let src = r#"
#[jit_driver(greens = [pc, code], reds = [sum])]
fn run(code: &[u8]) -> u32 {
    let mut pc = 0;
    let mut sum: u32 = 0;
    while pc < code.len() {
        jit_merge_point!();
        if let Some(d) = digit(code[pc]) {
            sum = sum.wrapping_add(d);
        }
        pc += 1;
    }
    sum
}

fn digit(b: u8) -> Option<u32> {
    if b >= b'0' && b <= b'9' { Some((b - b'0') as u32) } else { None }
}
"#;
    let asm = check(src, &["digit", "run"], "option");
    let digit = &asm.jitcodes[index(&asm, "digit")];
    assert_eq!(digit.results, [Kind::Int, Kind::Int]);
}

fn target(name: &str) -> Assembly {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../targets")
        .join(name);
    let t = translate_crate_dir(&dir)
        .unwrap_or_else(|e| panic!("{name} does not translate:\n{}", e.render()));
    let asm = assemble(&t.program).unwrap_or_else(|e| panic!("{name} does not assemble: {e}"));
    asm.verify().unwrap_or_else(|e| panic!("{name}: {e:?}"));
    assert_eq!(asm.jitcodes.len(), t.program.graphs.len());
    for (j, g) in asm.jitcodes.iter().zip(&t.program.graphs) {
        assert_eq!(j.name, g.name);
    }
    asm
}

/// Checks shared by the targets' portals: one merge point, preceded by a
/// `-live-` holding exactly its (register) arguments, which are the
/// jitcode's only live values there.
fn check_portal(asm: &Assembly, portal: &str) {
    let p = index(asm, portal);
    assert_eq!(asm.drivers[0].jitcode as usize, p);
    let merge: Vec<_> = lives(asm, portal)
        .into_iter()
        .filter(|(_, i)| matches!(i, Insn::MergePoint { .. }))
        .collect();
    assert_eq!(merge.len(), 1);
    let (live, Insn::MergePoint { args, .. }) = &merge[0] else {
        unreachable!()
    };
    let mut args: Vec<KReg> = args.clone();
    args.sort_by_key(|r| (r.kind, r.reg));
    args.dedup();
    assert_eq!(live, &args);
    // Every -live- lists only real registers.
    let j = &asm.jitcodes[p];
    for (live, _) in lives(asm, portal) {
        assert!(
            live.iter().all(|r| r.reg < j.num_regs[r.kind.index()]),
            "{live:?}"
        );
    }
}

#[test]
fn bf_assembles_and_verifies() {
    let asm = target("bf");
    check_portal(&asm, "interp::run");
    let j = &asm.jitcodes[index(&asm, "interp::run")];
    eprintln!(
        "bf interp::run: regs {:?}, {} insns",
        j.num_regs,
        j.insns.len()
    );
    // program, tape, io + two temporaries at most.
    assert!(j.num_regs[1] <= 5, "{:?}", j.num_regs);
    assert!(j.num_regs[0] <= 10, "{:?}", j.num_regs);
    let text = asm.print();
    assert!(
        text.contains("residual_call <interp::write_byte>"),
        "{text}"
    );
    assert!(text.contains("<Tape.cells>"), "{text}");
    // Writing output pushes to `Io.out`, a Vec<u8> like the tape's cells:
    // the tape's Vec is kept.
    let effects = asm.print_effects();
    assert!(
        effects.contains(
            "interp::write_byte(&mut Io, u8):\n  items Vec<u8>\n  vecs Vec<u8>\n  kept Tape.cells\n  other\n"
        ),
        "{effects}"
    );
    assert!(
        effects.contains(
            "interp::grow_tape(&mut Tape, usize):\n  items Vec<u8>\n  vecs Vec<u8>\ninterp::"
        ),
        "{effects}"
    );
}

#[test]
fn tlr_assembles_and_verifies() {
    let asm = target("tlr");
    check_portal(&asm, "interp::interpret");
    let j = &asm.jitcodes[index(&asm, "interp::interpret")];
    eprintln!(
        "tlr interp::interpret: regs {:?}, {} insns",
        j.num_regs,
        j.insns.len()
    );
    assert!(j.num_regs[0] <= 16, "{:?}", j.num_regs);
    let text = asm.print();
    assert!(text.contains("call <interp::operand>"), "{text}");
}

#[test]
fn assorted_operations_assemble_and_verify() {
    let src = r#"
struct Vm { stack: Vec<i64>, floats: Vec<f64>, name: String, flag: bool, ch: char }

#[jit_driver(greens = [pc], reds = [acc, vm])]
fn run(vm: &mut Vm) -> f64 {
    let mut pc: usize = 0;
    let mut acc: f64 = 0.5;
    while pc < 10 {
        jit_merge_point!();
        let p = promote(pc);
        acc = acc * 2.0 - (p as f64);
        if acc > 100.0 || vm.flag { acc = -acc; }
        let top = match vm.stack.pop() { Some(v) => v, None => 0 };
        vm.stack.push(top.wrapping_add(1));
        vm.floats.push(acc);
        let s: &str = &vm.name;
        if s.len() > 3 && !we_are_jitted() { vm.ch = 'x'; }
        let c = vm.ch as u32;
        vm.flag = c == 120 && (top & 1) != 0;
        pc += 1;
    }
    acc
}
"#;
    let asm = assembly(src);
    asm.verify().unwrap();
    let run = &asm.jitcodes[index(&asm, "run")];
    assert!(run.num_regs[2] >= 1, "a float register: {:?}", run.num_regs);
    assert!(!run.consts_f.is_empty());
    assert_eq!(run.results, [Kind::Float]);
    // promote is a guard for the tracer: resume data before it.
    let promote = lives(&asm, "run")
        .into_iter()
        .find(|(_, i)| matches!(i, Insn::Promote { .. }));
    assert!(promote.is_some(), "{}", asm.print());
}

/// Effect summaries of residual calls (`codewriter::effects`), printed:
/// a `&mut Io` reaches Io's fields and Vec but not Tape's (and leaves
/// `Tape.cells`, another field's Vec of the same type, alone: `kept`); a
/// shared reference to a struct holding a `Cell` may write everything; a
/// shared reference without one, and values, write nothing; a bare
/// `&mut u8` may be any `u8` item. A field read through `&` and `&mut`
/// has two descrs: both are listed.
#[test]
fn residual_call_effect_summaries() {
    let src = r#"
use std::cell::Cell;

pub struct Tape { pub cells: Vec<u8>, pub pos: usize }
pub struct Io { pub out: Vec<u8>, pub eof: bool, pub error: Option<String> }
pub struct Stats { pub hits: Cell<u64>, pub n: u64 }

#[jit_driver(greens = [pc], reds = [tape, io, stats])]
fn run(tape: &mut Tape, io: &mut Io, stats: &Stats) -> usize {
    let mut pc: usize = 0;
    while pc < 100 {
        jit_merge_point!();
        let c = tape.cells[tape.pos];
        if c == 0 {
            grow(tape);
        }
        write_byte(io, c);
        if io.eof {
            pc = 100;
        }
        count(stats);
        poke(&mut tape.cells[0]);
        let d = peek(tape);
        pc = pc + 1 + add(d as usize, io.out.len()) + stats.n as usize + pos(tape);
    }
    pc
}

fn pos(tape: &Tape) -> usize {
    tape.pos
}

#[dont_look_inside]
fn grow(tape: &mut Tape) {
    tape.cells.push(0);
    tape.pos += 1;
}

#[dont_look_inside]
fn write_byte(io: &mut Io, b: u8) {
    io.out.push(b);
}

#[dont_look_inside]
fn count(stats: &Stats) {
    stats.hits.set(stats.hits.get() + 1);
}

#[dont_look_inside]
fn poke(cell: &mut u8) {
    *cell = 1;
}

#[dont_look_inside]
fn peek(tape: &Tape) -> u8 {
    tape.cells[0]
}

#[dont_look_inside]
fn add(a: usize, b: usize) -> usize {
    a + b
}
"#;
    let asm = assembly(src);
    let got = asm.print_effects();
    let expected = "\
grow(&mut Tape):
  fields Tape.pos, Tape.pos (imm)
  items Vec<u8>
  vecs Vec<u8>
  kept Io.out
write_byte(&mut Io, u8):
  fields Io.eof
  items Vec<u8>
  vecs Vec<u8>
  kept Tape.cells
  other
count(&Stats): everything
poke(&mut u8):
  items Vec<u8>
  other
peek(&Tape): nothing
add(usize, usize): nothing
";
    assert_eq!(got, expected, "\n--- got ---\n{got}");
}

#[test]
fn boxes_become_new_and_free_with_one_alloc_descr_per_type() {
    let src = format!(
        "{PORTAL}
#[derive(Clone, Copy)]
pub struct Num {{ pub v: i64, pub w: i64 }}

#[dont_look_inside]
pub fn keep(b: Box<Num>) -> i64 {{ b.v }}

fn f(n: i64) -> i64 {{
    let a = Box::new(Num {{ v: n, w: 2 }});
    let b = Box::new(Num {{ v: a.w, w: n }});
    let c = Box::new(n);
    let mut r = *c + a.v;
    if n > 3 {{ r += keep(b); }}
    r
}}"
    );
    let asm = check(&src, &["f"], "box");
    // `Num` twice and `i64` once: two alloc descrs.
    let names: Vec<String> = asm
        .allocs
        .iter()
        .map(|a| asm.types.display(&a.ty).to_string())
        .collect();
    assert_eq!(names, ["Num", "i64"]);
    let f = &asm.jitcodes[index(&asm, "f")];
    let news = f
        .insns
        .iter()
        .filter(|i| matches!(i, Insn::New { .. }))
        .count();
    let frees = f
        .insns
        .iter()
        .filter(|i| matches!(i, Insn::Free { .. }))
        .count();
    assert_eq!((news, frees), (3, 3), "{}", asm.print());
    // The residual call owns the box it is given and may write what is
    // in it: Num's fields.
    assert_eq!(
        asm.print_effects(),
        "keep(Box<Num>):\n  fields Num.v, Num.w\n"
    );
}
