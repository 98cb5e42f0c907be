//! The text forms of the IRs round-trip: every jitcode of the bundled
//! interpreters, printed and parsed back (`jitcode::parse_jitcode`), gives
//! the same instructions, and prints the same again.

use metatrace_jitcodegen::codewriter::jitcode::{parse_jitcode, Insn, Kind};
use metatrace_jitcodegen::codewriter::{assemble, Assembly, RefConstData};
use metatrace_translator::translate_crate_dir;
use std::path::Path;

fn target(name: &str) -> Assembly {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../targets")
        .join(name);
    let t = translate_crate_dir(&dir)
        .unwrap_or_else(|e| panic!("{name} does not translate:\n{}", e.render()));
    assemble(&t.program).unwrap_or_else(|e| panic!("{name}: assemble failed: {e}"))
}

/// Every jitcode of `asm`: printed, parsed, compared.
fn round_trip(asm: &Assembly) {
    for (i, j) in asm.jitcodes.iter().enumerate() {
        let text = asm.print_jitcode(i);
        let parsed = parse_jitcode(&text, asm).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(parsed.print(asm), text, "printed again differently");
        assert_eq!(parsed.name, j.name);
        assert_eq!(parsed.args, j.args);
        assert_eq!(parsed.num_regs, j.num_regs);
        // The parser pools constants in the order they first appear; map
        // each constant register back to its value to compare.
        let value = |k: Kind, r: u16, pools: (&[i64], Vec<String>, &[u64])| -> Option<String> {
            let c = r.checked_sub(j.num_regs[k.index()])? as usize;
            Some(match k {
                Kind::Int => pools.0.get(c)?.to_string(),
                Kind::Ref => pools.1.get(c)?.clone(),
                Kind::Float => pools.2.get(c)?.to_string(),
            })
        };
        let orig_refs: Vec<String> = j
            .consts_r
            .iter()
            .map(|c| match c {
                RefConstData::Null => "null".into(),
                RefConstData::Str(s) => format!("{s:?}"),
            })
            .collect();
        let parsed_refs = parsed.const_texts()[1].clone();
        let canon = |insns: &[Insn], pools: (&[i64], &Vec<String>, &[u64])| -> Vec<String> {
            insns
                .iter()
                .map(|insn| {
                    let mut insn = insn.clone();
                    let mut consts = Vec::new();
                    insn.visit_regs(asm, &mut |k, r, _| {
                        if let Some(v) = value(k, *r, (pools.0, pools.1.clone(), pools.2)) {
                            consts.push(v);
                            *r = u16::MAX;
                        }
                    });
                    format!("{insn:?} {consts:?}")
                })
                .collect()
        };
        assert_eq!(
            canon(
                &parsed.insns,
                (&parsed.consts_i, &parsed_refs, &parsed.consts_f)
            ),
            canon(&j.insns, (&j.consts_i, &orig_refs, &j.consts_f)),
            "{} parsed back differently\n{text}",
            j.name
        );
    }
}

#[test]
fn jitcodes_of_the_bundled_interpreters_round_trip() {
    for name in ["bf", "tlr", "calls"] {
        round_trip(&target(name));
    }
}
