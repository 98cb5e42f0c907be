//! Printed jitcodes of a codewriter `Assembly` parse back to the same
//! instructions (`jitcode::parse_jitcode`), and print the same again.

use metatrace_jitcodegen::codewriter::jitcode::{const_texts, parse_jitcode, Insn};
use metatrace_jitcodegen::codewriter::Assembly;

/// `insns` with every constant operand replaced by its printed value, so
/// that jitcodes whose pools are in different orders compare equal.
fn with_constants(
    asm: &Assembly,
    insns: &[Insn],
    num_regs: [u16; 3],
    pools: &[Vec<String>; 3],
) -> Vec<String> {
    insns
        .iter()
        .map(|insn| {
            let mut insn = insn.clone();
            let mut consts = Vec::new();
            insn.visit_regs(asm, &mut |k, r, _| {
                if let Some(c) = r.checked_sub(num_regs[k.index()]) {
                    consts.push(pools[k.index()][c as usize].clone());
                    *r = u16::MAX;
                }
            });
            format!("{insn:?} {consts:?}")
        })
        .collect()
}

/// Every jitcode of `asm`: printed, parsed, compared.
pub fn assert_jitcode_text_round_trip(asm: &Assembly) {
    for (i, j) in asm.jitcodes.iter().enumerate() {
        let text = asm.print_jitcode(i);
        let parsed = parse_jitcode(&text, asm).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(parsed.print(asm), text, "printed again differently");
        assert_eq!(parsed.name, j.name);
        assert_eq!(parsed.args, j.args);
        assert_eq!(parsed.num_regs, j.num_regs);
        // The parser pools constants in the order they first appear.
        let pools = const_texts(&j.consts_i, &j.consts_r, &j.consts_f);
        assert_eq!(
            with_constants(asm, &parsed.insns, parsed.num_regs, &parsed.const_texts()),
            with_constants(asm, &j.insns, j.num_regs, &pools),
            "{} parsed back differently\n{text}",
            j.name
        );
    }
}
