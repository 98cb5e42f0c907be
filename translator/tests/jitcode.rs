//! The codewriter on small functions: what is more than the printed
//! jitcodes (those are compared with the expected text by the file tests,
//! `filetests/jitcode/*.rs.test`, run by `filetests.rs`; the tests here
//! read their sources from there); and the bundled interpreters assemble
//! and verify.

mod bundled;

use metatrace_jitcodegen::codewriter::jitcode::{Insn, KReg, Kind};
use metatrace_jitcodegen::codewriter::{assemble, Assembly, JitCodeData};
use metatrace_testkit::asm_text::assert_jitcode_text_round_trip;
use metatrace_testkit::filetest;
use metatrace_translator::translate_source;

/// The assembly of `src`; every jitcode of it prints and parses back.
fn assembly(src: &str) -> Assembly {
    let t = translate_source("interp.rs", src)
        .unwrap_or_else(|e| panic!("translation failed:\n{}", e.render()));
    let asm = assemble(&t.program).unwrap_or_else(|e| panic!("assemble failed: {e}"));
    assert_jitcode_text_round_trip(&asm);
    asm
}

fn index(asm: &Assembly, name: &str) -> usize {
    asm.jitcode_index(name).unwrap_or_else(|| {
        panic!(
            "no jitcode {name}; have {:?}",
            asm.jitcodes.iter().map(|j| &j.name).collect::<Vec<_>>()
        )
    })
}

/// The [`assembly`] of the source of the file test
/// `filetests/jitcode/<name>.rs.test`.
fn assembly_of(name: &str) -> Assembly {
    assembly(&filetest::input(format!(
        "{}/tests/filetests/jitcode/{name}.rs.test",
        env!("CARGO_MANIFEST_DIR")
    )))
}

/// How many instructions of `j` are `what`.
fn count(j: &JitCodeData, what: impl Fn(&Insn) -> bool) -> usize {
    j.insns.iter().filter(|i| what(i)).count()
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
    let asm = assembly_of("loop_with_swapping_variables");
    let f = &asm.jitcodes[index(&asm, "f")];
    // The portal's merge point: greens then reds, each in a register.
    let portal = lives(&asm, "portal");
    assert!(portal
        .iter()
        .any(|(_, i)| matches!(i, Insn::MergePoint { .. })));
    assert_eq!(f.num_regs, [5, 0, 0]);
    let reg_copies = count(
        f,
        |i| matches!(i, Insn::Copy { src, .. } if *src < f.num_regs[0]),
    );
    assert_eq!(reg_copies, 2, "{}", asm.print());
}

#[test]
fn match_on_integer_becomes_switch() {
    let asm = assembly_of("match_on_integer_becomes_switch");
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
    let asm = assembly_of("regular_residual_and_elidable_calls");
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
    let asm = assembly_of("struct_fields_and_vec_access");
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
    let asm = assembly_of("panic_paths");
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
    let asm = assembly_of("option_return");
    let digit = &asm.jitcodes[index(&asm, "digit")];
    assert_eq!(digit.results, [Kind::Int, Kind::Int]);
}

/// The bundled interpreter `name`, assembled: it verifies, every jitcode
/// prints and parses back, one jitcode per flow graph.
fn target(name: &str) -> Assembly {
    let (t, asm) = bundled::assembled(name);
    asm.verify().unwrap_or_else(|e| panic!("{name}: {e:?}"));
    assert_jitcode_text_round_trip(&asm);
    assert_eq!(asm.jitcodes.len(), t.program.graphs.len());
    for (j, g) in asm.jitcodes.iter().zip(&t.program.graphs) {
        assert_eq!(j.name, g.name);
    }
    asm
}

/// The assembly of `targets/<name>` (see [`target`]) and the index of its
/// portal `portal`, after the checks shared by the targets' portals: one
/// merge point, preceded by a `-live-` holding exactly its (register)
/// arguments, which are the jitcode's only live values there.
fn target_with_portal(name: &str, portal: &str) -> (Assembly, usize) {
    let asm = target(name);
    let p = index(&asm, portal);
    assert_eq!(asm.drivers[0].jitcode as usize, p);
    let merge: Vec<_> = lives(&asm, portal)
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
    for (live, _) in lives(&asm, portal) {
        assert!(
            live.iter().all(|r| r.reg < j.num_regs[r.kind.index()]),
            "{live:?}"
        );
    }
    eprintln!(
        "{name} {portal}: regs {:?}, {} insns",
        j.num_regs,
        j.insns.len()
    );
    (asm, p)
}

#[test]
fn bf_assembles_and_verifies() {
    let (asm, p) = target_with_portal("bf", "interp::run");
    let j = &asm.jitcodes[p];
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
    let (asm, p) = target_with_portal("tlr", "interp::interpret");
    let j = &asm.jitcodes[p];
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

#[test]
fn boxes_become_new_and_free_with_one_alloc_descr_per_type() {
    let asm = assembly_of("boxes_become_new_and_free_with_one_alloc_descr_per_type");
    // `Num` twice and `i64` once: two alloc descrs.
    let names: Vec<String> = asm
        .allocs
        .iter()
        .map(|a| asm.types.display(&a.ty).to_string())
        .collect();
    assert_eq!(names, ["Num", "i64"]);
    let f = &asm.jitcodes[index(&asm, "f")];
    let news = count(f, |i| matches!(i, Insn::New { .. }));
    let frees = count(f, |i| matches!(i, Insn::Free { .. }));
    assert_eq!((news, frees), (3, 3), "{}", asm.print());
    // The residual call owns the box it is given and may write what is
    // in it: Num's fields.
    assert_eq!(
        asm.print_effects(),
        "keep(Box<Num>):\n  fields Num.v, Num.w\n"
    );
}

#[test]
fn calls_assembles_and_verifies() {
    let portal = target("calls").drivers[0].portal.clone();
    target_with_portal("calls", &portal);
}

/// `Gc::new` gets an alloc descr of its own (`gc`), and the reads
/// through a `Gc` use an immutable descr except for the `Cell` field.
#[test]
fn gc_descrs() {
    let asm = assembly_of("gc_new_and_reads_through_gc");
    assert!(
        asm.allocs.iter().any(|a| a.gc),
        "no GC alloc descr in {:?}",
        asm.allocs
    );
    let read = |field: &str| -> Vec<bool> {
        asm.fields
            .iter()
            .filter(|f| {
                metatrace_jitcodegen::flowgraph::adt_field_name(&asm.types, &f.field) == field
            })
            .map(|f| f.immutable)
            .collect()
    };
    // Read through the `Gc`: immutable; written by `make` (through the
    // fresh object) and read, as a cell, always mutable.
    assert!(
        read("Node.value").contains(&true),
        "{:?}",
        read("Node.value")
    );
    assert_eq!(read("Node.count"), vec![false]);
}
