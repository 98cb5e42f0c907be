//! docs/subset.md lists every message of the type checker and the
//! lowering: this test reads every `self.error(span, message, help)` in
//! `translator/src/typeck` and `translator/src/lower` and checks that the
//! message (its longest literal part, around `{..}` placeholders) and a
//! help are on the page. A new diagnostic without its doc row fails here.

use std::path::Path;

/// The top-level arguments of each call `name(...)` in `src`, as text.
fn calls<'a>(src: &'a str, name: &str) -> Vec<Vec<&'a str>> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = src[from..].find(name) {
        let start = from + at + name.len();
        let bytes = src.as_bytes();
        let (mut depth, mut in_str, mut escaped) = (1usize, false, false);
        let mut args = Vec::new();
        let mut arg_start = start;
        let mut i = start;
        while i < bytes.len() && depth > 0 {
            let c = bytes[i];
            if in_str {
                match (escaped, c) {
                    (true, _) => escaped = false,
                    (false, b'\\') => escaped = true,
                    (false, b'"') => in_str = false,
                    _ => {}
                }
            } else {
                match c {
                    b'"' => in_str = true,
                    b'(' | b'[' | b'{' => depth += 1,
                    b')' | b']' | b'}' => depth -= 1,
                    b',' if depth == 1 => {
                        args.push(src[arg_start..i].trim());
                        arg_start = i + 1;
                    }
                    _ => {}
                }
            }
            i += 1;
        }
        let last = src[arg_start..i.saturating_sub(1)].trim();
        if !last.is_empty() {
            args.push(last);
        }
        out.push(args);
        from = i;
    }
    out
}

/// The first string literal in `arg`, unescaped enough for comparing.
fn literal(arg: &str) -> Option<String> {
    let start = arg.find('"')? + 1;
    let mut out = String::new();
    let mut chars = arg[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return Some(out),
            c => out.push(c),
        }
    }
    None
}

/// The longest part of `message` outside `{..}` placeholders.
fn longest_part(message: &str) -> String {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut depth = 0;
    for c in message.chars() {
        match c {
            '{' => {
                depth += 1;
                parts.push(std::mem::take(&mut cur));
            }
            '}' if depth > 0 => depth -= 1,
            c if depth == 0 => cur.push(c),
            _ => {}
        }
    }
    parts.push(cur);
    parts
        .into_iter()
        .map(|p| p.trim().to_string())
        .max_by_key(|p| p.len())
        .unwrap_or_default()
}

#[test]
fn every_message_and_help_is_in_the_subset_doc() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("../docs/subset.md")).expect("read docs/subset.md");
    let mut missing = Vec::new();
    let mut seen = 0;
    for dir in ["src/typeck", "src/lower"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(dir))
            .expect("read the translator's sources")
            .map(|e| e.expect("an entry").path())
            .collect();
        files.sort();
        for file in files {
            let src = std::fs::read_to_string(&file).expect("read a source file");
            for args in calls(&src, "self.error(") {
                let (Some(message), Some(help)) = (
                    args.get(1).and_then(|a| literal(a)),
                    args.get(2).and_then(|a| literal(a)),
                ) else {
                    continue; // a message or help computed elsewhere
                };
                seen += 1;
                let name = file.file_name().unwrap().to_string_lossy().to_string();
                let part = longest_part(&message);
                if !doc.contains(&part) {
                    missing.push(format!("{name}: message {message:?}"));
                }
                let help_part = longest_part(&help);
                if help_part.is_empty() {
                    missing.push(format!("{name}: empty help for {message:?}"));
                } else if !doc.contains(&help_part) {
                    missing.push(format!("{name}: help {help:?} (of {message:?})"));
                }
            }
        }
    }
    assert!(
        seen > 50,
        "only {seen} diagnostics found: is the scan broken?"
    );
    assert!(
        missing.is_empty(),
        "docs/subset.md lacks {} of {seen}:\n{}",
        missing.len(),
        missing.join("\n")
    );
}
