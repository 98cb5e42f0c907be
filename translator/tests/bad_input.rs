//! Broken and empty input gives an error, never a panic; several errors
//! are all reported at once; mutated and truncated sources never panic.
//! (The rejection corpus of constructs outside the subset:
//! `subset_errors.rs`.)

use metatrace_testkit::rng::Rng;
use metatrace_testkit::subset::*;
use metatrace_translator::translate_source;

// ---- broken input ------------------------------------------------------

#[test]
fn syntax_error() {
    let src =
        "use metatrace::prelude::*;\n\nfn step(code: &[u8]) -> i64 {\n    let x = ;\n    x\n}\n";
    let err = translate_err(src);
    let short = err.short();
    assert_eq!(short.len(), 1, "{short:?}");
    assert!(short[0].starts_with("4:13: syntax error: "), "{short:?}");
    let rendered = err.render();
    assert!(rendered.contains("interp.rs:4:13"), "{rendered}");
    assert!(rendered.contains("let x = ;"), "{rendered}");
}

#[test]
fn unbalanced_braces() {
    let src = "fn run() {\n    loop {\n";
    let err = translate_err(src);
    assert!(err.short()[0].contains("syntax error"), "{:?}", err.short());
}

#[test]
fn empty_file() {
    for src in [
        "",
        "\n\n",
        "   \t\n",
        "// only a comment\n",
        "//! docs\n/* block */\n",
    ] {
        let err = translate_err(src);
        let short = err.short();
        assert!(
            short
                .iter()
                .any(|s| s.contains("no #[jit_driver] function found")),
            "for {src:?}: {short:?}"
        );
        assert!(err.render().contains("no #[jit_driver] function found"));
    }
}

#[test]
fn no_driver_in_a_valid_file() {
    let err = translate_err("fn main() {\n    let x = 1 + 2;\n}\n");
    assert!(
        err.short()
            .iter()
            .any(|s| s.contains("no #[jit_driver] function found")),
        "{:?}",
        err.short()
    );
}

#[test]
fn odd_inputs_give_errors_not_panics() {
    let inputs: &[&str] = &[
        "\u{feff}",
        "\0",
        "}",
        "{",
        "fn",
        "fn f(",
        "#[jit_driver]",
        "#[jit_driver(greens = [pc])]",
        "#[jit_driver(greens = [pc])] fn",
        "#[jit_driver(greens = [pc])] fn run() {}",
        "#[jit_driver(greens = [pc], reds = [)] fn run(pc: usize) { loop { jit_merge_point!(); } }",
        "#[jit_driver(greens = [], reds = [])] fn run() { loop { jit_merge_point!(); } }",
        "#[jit_driver(greens = [pc])] fn run(pc: usize) { loop { jit_merge_point!(pc); } }",
        "#[jit_driver(greens = [pc])] fn run(pc: usize) -> Nope { loop { jit_merge_point!(); } }",
        "#[jit_driver(greens = [pc])] fn run(pc: usize) { loop { jit_merge_point!(); missing(pc); } }",
        "#[jit_driver(greens = [pc])] fn run(pc: usize) { loop { jit_merge_point!(); let x: [u8; 1 << 70] = 0; } }",
        "#[jit_driver(greens = [pc])] fn run(pc: usize) { loop { jit_merge_point!(); let x = 1 / 0; } }",
        "#[jit_driver(greens = [pc])] fn run(pc: usize) { loop { jit_merge_point!(); run(pc); } }",
        "mod missing;",
        "\"unterminated",
        "r#\"",
        "'a",
        "fn f() { ((((((((((((((((((((1)))))))))))))))))))) }",
    ];
    for src in inputs {
        match std::panic::catch_unwind(|| translate_source("interp.rs", src).map(|_| ())) {
            Ok(_) => {}
            Err(_) => panic!("the translator panicked on {src:?}"),
        }
    }
    // The clearly broken ones are errors, with something to say.
    for src in [
        "",
        "}",
        "fn f(",
        "\"unterminated",
        "#[jit_driver(greens = [pc])] fn run() {}",
        "mod missing;",
    ] {
        let err = translate_err(src);
        assert!(!err.short().is_empty(), "no diagnostic for {src:?}");
        assert!(!err.render().is_empty());
    }
}

// ---- several errors at once ----------------------------------------------

#[test]
fn several_errors_in_source_order() {
    step_rejects(
        r#"fn helper(x: f32) -> i64 {
    x as i64
}

fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    let stack = vec![acc; 2; 3];
    let f = |y: i64| y * 2;
    for b in code.iter() {
        println!("{}", b);
    }
    unsafe {
        helper(1.0);
    }
    acc
}
"#,
        &[
            "1:14: `f32` is not supported in traced code",
            "6:17: this form of `vec!` is not supported in traced code",
            "7:13: closures are not supported in traced code",
            "8:14: `for` loops are only supported over integer ranges `a..b` and `a..=b`",
            "9:9: `println!` is not supported in traced code",
            "11:5: unsafe blocks are not supported in traced code",
        ],
    );
}

#[test]
fn errors_in_several_functions_and_the_portal() {
    rejects(
        r#"use metatrace::prelude::*;

fn a(x: i64) -> i64 {
    let g = |v: i64| v;
    x
}

fn b(x: i64) -> i64 {
    let v = vec![x; 1; 2];
    x
}

#[jit_driver(greens = [pc], reds = [acc])]
pub fn run(mut acc: i64) -> i64 {
    let mut pc: usize = 0;
    while pc < 10 {
        jit_merge_point!();
        acc = a(acc) + b(acc);
        println!("{}", acc);
        pc += 1;
    }
    acc
}
"#,
        &[
            "4:13: closures are not supported in traced code",
            "9:13: this form of `vec!` is not supported in traced code",
            "19:9: `println!` is not supported in traced code",
        ],
    );
}

#[test]
fn dont_look_inside_bodies_are_not_checked() {
    let src = with_portal(
        r#"#[dont_look_inside]
fn show(acc: i64) -> i64 {
    let v = vec![acc];
    println!("{:?}", v.iter().map(|x| x * 2).collect::<Vec<_>>());
    acc
}

fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    let f = |x: i64| x;
    show(acc) + code[pc] as i64
}
"#,
    );
    let err = translate_err(&src);
    assert_eq!(
        err.short(),
        ["9:13: closures are not supported in traced code"]
    );
}

#[test]
fn unreachable_functions_are_not_checked() {
    let src = with_portal(
        r#"fn main() {
    let args: Vec<String> = std::env::args().collect();
    println!("{:?}", args.iter().map(|a| a.len()).collect::<Vec<_>>());
}

fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    acc + code[pc] as i64
}
"#,
    );
    if let Err(e) = translate_source("interp.rs", &src) {
        panic!(
            "a valid interpreter with a native main was rejected:\n{}",
            e.render()
        );
    }
}

// ---- fuzz: mutated and truncated sources never panic ----------------------

const VALID: &str = r#"use metatrace::prelude::*;

pub struct Tape {
    pub cells: Vec<u8>,
    pub pos: usize,
}

impl Tape {
    fn get(&self) -> u8 {
        self.cells[self.pos]
    }

    fn add(&mut self, n: u8) {
        self.cells[self.pos] = self.cells[self.pos].wrapping_add(n);
    }
}

#[elidable]
fn matching(code: &[u8], pc: usize) -> usize {
    let mut depth: i64 = 0;
    let mut i = pc;
    loop {
        if code[i] == b'[' {
            depth += 1;
        } else if code[i] == b']' {
            depth -= 1;
            if depth == 0 {
                return i;
            }
        }
        i += 1;
    }
}

#[dont_look_inside]
fn put(c: u8) {
    print!("{}", c as char);
}

#[jit_driver(greens = [pc, code], reds = [tape])]
pub fn run(code: &[u8], tape: &mut Tape) {
    let mut pc: usize = 0;
    while pc < code.len() {
        jit_merge_point!();
        match code[pc] {
            b'+' => tape.add(1),
            b'-' => tape.add(255),
            b'>' => tape.pos += 1,
            b'<' => tape.pos -= 1,
            b'.' => put(tape.get()),
            b'[' => {
                if tape.get() == 0 {
                    pc = matching(code, pc);
                }
            }
            _ => {}
        }
        for k in 0..2 {
            assert!(k < 2, "range");
        }
        pc += 1;
    }
}
"#;

const SNIPPETS: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ";",
    ",",
    "::",
    "'a",
    "\"",
    "|x| x",
    "vec![1]",
    "println!(\"{}\", 1)",
    "unsafe { }",
    "async ",
    ".await",
    "dyn T",
    "impl T",
    "*const u8",
    "f32",
    "1u128",
    "fn",
    "let",
    "match",
    "loop",
    "for x in y {}",
    "0..",
    "..",
    "return",
    "break",
    "&mut ",
    "&",
    "*",
    "as",
    "Box<",
    ">",
    "<T>",
    "#[elidable]",
    "#[dont_look_inside]",
    "jit_merge_point!();",
    "can_enter_jit!();",
    "r#\"",
    "'",
    "\\",
    "0xFFFF_FFFF_FFFF_FFFF_FFFF",
    "1e999",
    "ü",
    "self",
    "Self",
    "super::",
    "crate::",
    "mod m;",
    "static S: u8 = 0;",
    "struct S<T>(T);",
    "enum E { A(i64), B }",
    "trait T {}",
    "impl Tape { fn f() {} }",
    "const C: usize = 1 << 63;",
    "1 / 0",
    "i64::MIN / -1",
    "[0u8; 1000000000000]",
    "pc = pc;",
    "tape.cells.push(1);",
    "code[pc..]",
    "?",
];

fn mutate(rng: &mut Rng, src: &str) -> String {
    let bytes: Vec<char> = src.chars().collect();
    let n = bytes.len();
    let mut out: Vec<char> = bytes.clone();
    let rounds = 1 + rng.index(3);
    for _ in 0..rounds {
        let len = out.len();
        match rng.index(6) {
            // Truncate.
            0 => out.truncate(rng.index(len + 1)),
            // Delete a range.
            1 => {
                let a = rng.index(len + 1);
                let b = (a + 1 + rng.index(40)).min(len);
                out.drain(a..b.max(a));
            }
            // Insert a snippet.
            2 | 3 => {
                let at = rng.index(len + 1);
                let s = SNIPPETS[rng.index(SNIPPETS.len())];
                for (i, c) in s.chars().enumerate() {
                    out.insert(at + i, c);
                }
            }
            // Duplicate a piece of the original somewhere.
            4 => {
                let a = rng.index(n);
                let b = (a + rng.index(80)).min(n);
                let at = rng.index(len + 1);
                for (i, c) in bytes[a..b].iter().enumerate() {
                    out.insert(at + i, *c);
                }
            }
            // Swap two characters.
            _ => {
                if len > 1 {
                    let a = rng.index(len);
                    let b = rng.index(len);
                    out.swap(a, b);
                }
            }
        }
    }
    out.into_iter().collect()
}

#[test]
fn mutated_sources_never_panic() {
    // The valid source itself must translate (or the mutations test nothing).
    if let Err(e) = translate_source("interp.rs", VALID) {
        panic!("the fuzz seed is rejected:\n{}", e.render());
    }
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut panics: Vec<(String, String)> = Vec::new();
    let mut rejected = 0usize;
    const N: usize = 3000;
    for _ in 0..N {
        let src = mutate(&mut rng, VALID);
        match std::panic::catch_unwind(|| translate_source("interp.rs", &src).map(|_| ())) {
            Ok(Ok(())) => {}
            Ok(Err(_)) => rejected += 1,
            Err(payload) => {
                let msg = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                panics.push((msg, src));
            }
        }
    }
    std::panic::set_hook(default_hook);
    if let Some((msg, src)) = panics.iter().min_by_key(|(_, s)| s.len()) {
        panic!(
            "{} of {N} mutated sources made the translator panic; smallest ({}):\n{src}",
            panics.len(),
            msg
        );
    }
    // Most mutations break something: the errors were exercised too.
    assert!(
        rejected > N / 4,
        "only {rejected} of {N} mutated sources were rejected"
    );
}

#[test]
fn truncated_sources_never_panic() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let chars: Vec<char> = VALID.chars().collect();
    let mut panicked = None;
    for cut in (0..chars.len()).step_by(7) {
        let src: String = chars[..cut].iter().collect();
        if std::panic::catch_unwind(|| translate_source("interp.rs", &src).map(|_| ())).is_err() {
            panicked = Some(src);
            break;
        }
    }
    std::panic::set_hook(default_hook);
    if let Some(src) = panicked {
        panic!("the translator panicked on a truncated source:\n{src}");
    }
}
