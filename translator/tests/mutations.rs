//! The mutation test of issue 15: one construct outside the subset,
//! injected as a statement at a random place of a traced function of a
//! bundled target (`targets/*`), gives exactly one error, at the injected
//! span, with a help line — never an internal error, never a panic, and no
//! knock-on error anywhere else in the crate.
//!
//! Every injected statement is valid Rust wherever a statement may stand,
//! so each mutant is a program rustc accepts. The places are drawn with
//! `metatrace_testkit::rng::Rng` from a fixed seed (a failure names the
//! file, line and statement); the count per target keeps the test at a
//! few seconds.

use metatrace_testkit::rng::Rng;
use metatrace_translator::translate_crate_dir;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use syn::spanned::Spanned;
use syn::visit::Visit;

/// Mutants per target; `METATRACE_MUTANTS=N` runs N. The default makes
/// thousands per run (150 per target, 7 targets, in each of the two
/// tests: about 30 s on the 2-core machine), as issue 15 asks.
fn per_target() -> usize {
    std::env::var("METATRACE_MUTANTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(150)
}

/// An injected statement: its text, where its error starts in the text
/// (in chars), and the error's message.
struct Injection {
    text: &'static str,
    at: usize,
    message: &'static str,
}

const INJECTIONS: &[Injection] = &[
    Injection {
        text: "let _mutant = |x: i64| x;",
        at: 14,
        message: "closures are not supported in traced code",
    },
    Injection {
        text: "println!(\"mutant\");",
        at: 0,
        message: "`println!` is not supported in traced code",
    },
    Injection {
        text: "let _mutant: f32 = 1.0;",
        at: 13,
        message: "`f32` is not supported in traced code",
    },
    Injection {
        text: "let _mutant = String::new();",
        at: 14,
        message: "`String::new` allocates, which is not supported in traced code",
    },
    Injection {
        text: "let _mutant = std::io::stdin();",
        at: 14,
        message: "`std::io::stdin` does I/O, which is not supported in traced code",
    },
    Injection {
        text: "let _mutant = 7u8.checked_add(1);",
        at: 18,
        message: "method `checked_add` of `u8` is not supported in traced code",
    },
    Injection {
        text: "let _mutant = 3i64.pow(2);",
        at: 19,
        message: "`pow` is not supported in traced code yet",
    },
    Injection {
        text: "let _mutant = [1i64, 2].iter().sum::<i64>();",
        at: 24,
        message: "method `iter` of `[i64; 2]` is not supported in traced code",
    },
    Injection {
        text: "let _mutant = \"ab\".to_string();",
        at: 19,
        message: "method `to_string` of `str` is not supported in traced code",
    },
    // Knock-on candidates: what uses the refused value is not reported.
    Injection {
        text: "let _mutant = std::io::stdin(); let _lines = _mutant.lines();",
        at: 14,
        message: "`std::io::stdin` does I/O, which is not supported in traced code",
    },
    Injection {
        text: "let _mutant = 2i64.checked_mul(3).unwrap_or(0) + 1;",
        at: 19,
        message: "method `checked_mul` of `i64` is not supported in traced code",
    },
    Injection {
        text: "for (_i, _x) in [1i64].iter().enumerate() { let _y = *_x + _i as i64; }",
        at: 16,
        message: "`for` loops are only supported over integer ranges `a..b` and `a..=b`",
    },
    Injection {
        text: "unsafe {}",
        at: 0,
        message: "unsafe blocks are not supported in traced code",
    },
    Injection {
        text: "let _mutant = format!(\"mutant\");",
        at: 14,
        message: "`format!` is not supported in traced code",
    },
];

/// A statement of a traced function: its file (relative to `src/`) and
/// where it starts (1-based line, 0-based column in chars).
#[derive(Clone, Debug)]
struct Place {
    file: PathBuf,
    line: usize,
    column: usize,
}

/// The statements of every function whose path is in `traced`.
struct Places<'a> {
    traced: &'a HashSet<String>,
    file: PathBuf,
    module: Vec<String>,
    self_ty: Option<String>,
    in_traced: bool,
    found: Vec<Place>,
}

impl Places<'_> {
    fn function(&mut self, name: &str, constness: bool, body: &syn::Block) {
        let mut path = self.module.clone();
        path.extend(self.self_ty.clone());
        path.push(name.to_string());
        let was = self.in_traced;
        self.in_traced = !constness && self.traced.contains(&path.join("::"));
        self.visit_block(body);
        self.in_traced = was;
    }
}

impl<'ast> Visit<'ast> for Places<'_> {
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        self.module.push(m.ident.to_string());
        syn::visit::visit_item_mod(self, m);
        self.module.pop();
    }

    fn visit_item_impl(&mut self, i: &'ast syn::ItemImpl) {
        if i.trait_.is_some() {
            return;
        }
        let was = self.self_ty.take();
        if let syn::Type::Path(p) = &*i.self_ty {
            self.self_ty = p.path.segments.last().map(|s| s.ident.to_string());
        }
        syn::visit::visit_item_impl(self, i);
        self.self_ty = was;
    }

    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        self.function(
            &f.sig.ident.to_string(),
            f.sig.constness.is_some(),
            &f.block,
        );
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        self.function(
            &f.sig.ident.to_string(),
            f.sig.constness.is_some(),
            &f.block,
        );
    }

    fn visit_stmt(&mut self, s: &'ast syn::Stmt) {
        // Items in bodies are not statements to put code before.
        if self.in_traced && !matches!(s, syn::Stmt::Item(_)) {
            let start = s.span().start();
            self.found.push(Place {
                file: self.file.clone(),
                line: start.line,
                column: start.column,
            });
        }
        syn::visit::visit_stmt(self, s);
    }

    // Closures and consts in bodies are not places a statement may go.
    fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
    fn visit_item_const(&mut self, _: &'ast syn::ItemConst) {}
}

/// The module path of a file under `src/`: `main.rs` and `lib.rs` are the
/// root, `a/mod.rs` and `a.rs` are `a`.
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("main" | "lib" | "mod")
    ) {
        parts.pop();
    }
    parts
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read a target's sources")
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the copy");
    for e in std::fs::read_dir(from).expect("read a target") {
        let p = e.expect("a directory entry").path();
        let dest = to.join(p.file_name().expect("a file name"));
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "target") {
                continue;
            }
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).expect("copy a file");
        }
    }
}

/// `text` with `insert` put at 1-based `line`, 0-based char `column`.
fn inserted(text: &str, line: usize, column: usize, insert: &str) -> String {
    let mut out = String::with_capacity(text.len() + insert.len());
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            let at = l.char_indices().nth(column).map_or(l.len(), |(b, _)| b);
            out.push_str(&l[..at]);
            out.push_str(insert);
            out.push_str(&l[at..]);
        } else {
            out.push_str(l);
        }
    }
    out
}

/// `per_target()` mutants of the target `name`, each with `count`
/// constructs injected at distinct lines.
fn mutate_target(name: &str, count: usize, rng: &mut Rng) {
    let original = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../targets")
        .join(name);
    let work = tempfile::tempdir().expect("a temporary directory");
    let dir = work.path().join(name);
    copy_dir(&original, &dir);
    let translation = translate_crate_dir(&dir)
        .unwrap_or_else(|e| panic!("{name} does not translate:\n{}", e.render()));
    let traced: HashSet<String> = translation
        .program
        .graphs
        .iter()
        .map(|g| g.name.clone())
        .collect();
    let src = dir.join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut places = Places {
        traced: &traced,
        file: PathBuf::new(),
        module: Vec::new(),
        self_ty: None,
        in_traced: false,
        found: Vec::new(),
    };
    for f in &files {
        let rel = f.strip_prefix(&src).expect("under src").to_path_buf();
        let text = std::fs::read_to_string(f).expect("read a source file");
        let ast = syn::parse_file(&text).expect("a target parses");
        places.file = rel.clone();
        places.module = module_of(&rel);
        places.visit_file(&ast);
    }
    assert!(
        places.found.len() > 10,
        "{name}: only {} statements found in traced functions",
        places.found.len()
    );
    for _ in 0..per_target() {
        // Distinct lines: an error of the type checker on the line of a
        // refused construct is taken for a repetition of it (pipeline.rs).
        let mut chosen: Vec<(Place, &Injection)> = Vec::new();
        while chosen.len() < count {
            let place = places.found[rng.index(places.found.len())].clone();
            let inj = &INJECTIONS[rng.index(INJECTIONS.len())];
            if !chosen
                .iter()
                .any(|(p, _)| p.file == place.file && p.line == place.line)
            {
                chosen.push((place, inj));
            }
        }
        let mut originals: Vec<(PathBuf, String)> = Vec::new();
        for (place, inj) in &chosen {
            let path = src.join(&place.file);
            let text = std::fs::read_to_string(&path).expect("read a source file");
            if !originals.iter().any(|(p, _)| p == &path) {
                originals.push((path.clone(), text.clone()));
            }
            let mutant = inserted(&text, place.line, place.column, &format!("{} ", inj.text));
            std::fs::write(&path, &mutant).expect("write the mutant");
        }
        let result = std::panic::catch_unwind(|| translate_crate_dir(&dir));
        for (path, text) in &originals {
            std::fs::write(path, text).expect("restore the source");
        }
        let what: Vec<String> = chosen
            .iter()
            .map(|(place, inj)| {
                format!(
                    "`{}` injected at src/{}:{}:{}",
                    inj.text,
                    place.file.display(),
                    place.line,
                    place.column + 1
                )
            })
            .collect();
        let what = format!("{name}: {}", what.join(", "));
        let err = match result {
            Err(_) => panic!("{what}: the translator panicked"),
            Ok(Ok(_)) => panic!("{what}: the mutant translated"),
            Ok(Err(e)) => e,
        };
        let rendered = err.render();
        chosen.sort_by(|(a, _), (b, _)| (&a.file, a.line).cmp(&(&b.file, b.line)));
        let expected: Vec<(PathBuf, String)> = chosen
            .iter()
            .map(|(place, inj)| {
                let at = format!(
                    "{}:{}: {}",
                    place.line,
                    place.column + 1 + inj.at,
                    inj.message
                );
                (place.file.clone(), at)
            })
            .collect();
        let mut got: Vec<(PathBuf, String)> = err
            .diags
            .iter()
            .map(|d| {
                let file = d.file.map(|f| {
                    err.sources
                        .path(f)
                        .strip_prefix(&src)
                        .unwrap_or(Path::new("?"))
                        .to_path_buf()
                });
                (file.unwrap_or_default(), d.to_string())
            })
            .collect();
        got.sort();
        let mut expected = expected;
        expected.sort();
        assert_eq!(
            got, expected,
            "{what}: one error at each injected span expected:\n{rendered}"
        );
        assert!(
            err.diags
                .iter()
                .all(|d| d.help.as_ref().is_some_and(|h| !h.is_empty())),
            "{what}: an error without help:\n{rendered}"
        );
        assert!(
            !rendered.contains("internal error"),
            "{what}: an internal error:\n{rendered}"
        );
    }
}

#[test]
fn one_injected_construct_gives_one_error_at_its_place() {
    let mut rng = Rng(0x15_D1A6_0001);
    for name in TARGETS {
        mutate_target(name, 1, &mut rng);
    }
}

/// Two constructs in one mutant, in the same function or in two: two
/// errors, each at its place (one does not hide or cause another).
#[test]
fn two_injected_constructs_give_two_errors() {
    let mut rng = Rng(0x15_D1A6_0002);
    for name in TARGETS {
        mutate_target(name, 2, &mut rng);
    }
}

const TARGETS: [&str; 7] = ["bf", "tlr", "calls", "stackvm", "objvm", "lox", "um"];
