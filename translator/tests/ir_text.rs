//! The text forms of the IRs round-trip: every jitcode of the bundled
//! interpreters, printed and parsed back (`jitcode::parse_jitcode`), gives
//! the same instructions, and prints the same again.

use metatrace_jitcodegen::codewriter::{assemble, Assembly};
use metatrace_testkit::asm_text::assert_jitcode_text_round_trip;
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

#[test]
fn jitcodes_of_the_bundled_interpreters_round_trip() {
    for name in ["bf", "tlr", "calls"] {
        assert_jitcode_text_round_trip(&target(name));
    }
}
