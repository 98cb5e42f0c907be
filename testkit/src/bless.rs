//! Expected-output files: compare what a test printed with a file kept
//! next to the tests; `METATRACE_BLESS=1` rewrites the file instead
//! (review the diff before committing it).

use std::path::Path;

/// Compare `got` with the file `path` (leading and trailing white space
/// ignored), or write `got` to it when `METATRACE_BLESS` is set.
pub fn check_expected(path: &Path, got: &str) {
    if std::env::var_os("METATRACE_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, got).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(path)
        .unwrap_or_else(|_| panic!("missing {}; run with METATRACE_BLESS=1", path.display()));
    assert_eq!(got.trim(), expected.trim(), "\n--- got ---\n{got}");
}
