//! docs/subset.md's list of std methods is generated from the builtins
//! registry (`metatrace_translator::builtins`): this test fails when the
//! two disagree, and with `METATRACE_BLESS=1` rewrites the section.

use metatrace_translator::builtins::{doc_with_section, DOC_BEGIN, DOC_END};
use std::path::Path;

#[test]
fn subset_doc_lists_the_registry() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/subset.md");
    let doc = std::fs::read_to_string(&path).expect("read docs/subset.md");
    let want = doc_with_section(&doc)
        .unwrap_or_else(|| panic!("docs/subset.md lacks the markers {DOC_BEGIN} and {DOC_END}"));
    if want == doc {
        return;
    }
    if std::env::var_os("METATRACE_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, want).expect("write docs/subset.md");
        return;
    }
    panic!(
        "docs/subset.md's std methods differ from the builtins registry \
         (translator/src/builtins.rs); rerun with METATRACE_BLESS=1 to regenerate the section"
    );
}
