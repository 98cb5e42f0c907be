//! The text forms of the IRs round-trip: every jitcode of the bundled
//! interpreters, printed and parsed back (`jitcode::parse_jitcode`), gives
//! the same instructions, and prints the same again.

mod bundled;

use metatrace_testkit::asm_text::assert_jitcode_text_round_trip;

#[test]
fn jitcodes_of_the_bundled_interpreters_round_trip() {
    for name in ["bf", "tlr", "calls"] {
        assert_jitcode_text_round_trip(&bundled::assembled(name).1);
    }
}
