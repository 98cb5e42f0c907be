//! The front end on small functions: printed flow graphs compared against
//! expected text, so that a change in lowering shows up as a diff here.

use metatrace_jitcodegen::flowgraph::{print_graph, verify};
use metatrace_testkit::bless::check_expected;
use metatrace_testkit::subset::PORTAL;
use metatrace_translator::translate_source;

/// Translate `src` (which must contain a portal) and print graph `name`.
fn graph_text(src: &str, name: &str) -> String {
    let t = translate_source("interp.rs", src)
        .unwrap_or_else(|e| panic!("translation failed:\n{}", e.render()));
    for g in &t.program.graphs {
        verify(g, &t.program.types).unwrap_or_else(|e| panic!("{name} does not verify: {e:?}"));
    }
    let g = t.program.graph(name).unwrap_or_else(|| {
        panic!(
            "no graph {name}; have {:?}",
            t.program.graphs.iter().map(|g| &g.name).collect::<Vec<_>>()
        )
    });
    print_graph(g, &t.program.types)
}

/// Compare against `tests/expect/<file>.txt` (`METATRACE_BLESS=1`
/// rewrites it).
fn check(src: &str, name: &str, file: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/expect")
        .join(format!("{file}.txt"));
    check_expected(&path, &graph_text(src, name));
}

#[test]
fn counting_loop_with_wrapping_arithmetic() {
    let src = format!(
        "{PORTAL}
fn f(n: i64) -> i64 {{
    let mut total: i64 = 0;
    for i in 0..n {{
        total = total.wrapping_add(i * 2);
    }}
    total
}}"
    );
    check(&src, "f", "counting_loop_f");
}

#[test]
fn match_on_enum_in_memory_and_vec_access() {
    let src = r#"
#[derive(Clone, Copy)]
enum Op { Push(i64), Add, Halt }
struct Machine { code: Vec<Op>, stack: Vec<i64> }

#[jit_driver(greens = [pc], reds = [m])]
fn run(m: &mut Machine) -> i64 {
    let mut pc = 0;
    loop {
        jit_merge_point!();
        match m.code[pc] {
            Op::Push(v) => m.stack.push(v),
            Op::Add => {
                let a = pop(m);
                let b = pop(m);
                m.stack.push(a + b);
            }
            Op::Halt => return pop(m),
        }
        pc += 1;
    }
}

fn pop(m: &mut Machine) -> i64 {
    match m.stack.pop() {
        Some(v) => v,
        None => 0,
    }
}
"#;
    check(src, "pop", "vm_pop");
    check(src, "run", "vm_run");
}

#[test]
fn struct_fields_division_and_residual_call() {
    let src = r#"
struct Acc { value: i64, count: u32 }

#[jit_driver(greens = [pc], reds = [acc])]
fn run(acc: &mut Acc) {
    let mut pc: u8 = 0;
    while pc != 3 {
        jit_merge_point!();
        step(acc, pc);
        pc = pc.wrapping_add(1);
    }
}

fn step(acc: &mut Acc, by: u8) {
    acc.value = acc.value / (by as i64);
    acc.count += 1;
    log(acc.count);
}

#[dont_look_inside]
fn log(n: u32) { println!("{n}"); }
"#;
    check(src, "step", "acc_step");
}

#[test]
fn option_result_try_and_if_let() {
    let src = r#"
#[derive(Clone, Copy)]
enum Error { Bad(u8), Empty }

#[jit_driver(greens = [pc, code], reds = [sum])]
fn run(code: &[u8]) -> Result<u32, Error> {
    let mut pc = 0;
    let mut sum: u32 = 0;
    while pc < code.len() {
        jit_merge_point!();
        sum += digit(code[pc])?;
        pc += 1;
    }
    if let Some(d) = first(code) { sum += d as u32; }
    Ok(sum)
}

fn digit(b: u8) -> Result<u32, Error> {
    match b {
        b'0'..=b'9' => Ok((b - b'0') as u32),
        0 => Err(Error::Empty),
        other => Err(Error::Bad(other)),
    }
}

fn first(code: &[u8]) -> Option<u8> {
    if code.is_empty() { None } else { Some(code[0]) }
}
"#;
    check(src, "digit", "digit");
    // The portal itself must translate and verify too.
    graph_text(src, "run");
}

// ---- owned boxes: `Box::new`, moves (drop flags by nulling) and frees ----

#[test]
fn box_new_read_and_free_at_block_end() {
    let src = format!(
        "{PORTAL}
#[derive(Clone, Copy)]
pub struct Num {{ pub v: i64, pub w: i64 }}

fn f(n: i64) -> i64 {{
    let x = {{
        let b = Box::new(Num {{ v: n, w: 1 }});
        b.v + (*b).w
    }};
    let mut c = Box::new(x);
    *c += 1;
    *c
}}"
    );
    check(&src, "f", "box_new_free");
}

#[test]
fn box_moved_into_calls() {
    // The caller's locals are null after the moves (no free left); the
    // callee owns its parameter and frees it when it returns.
    let src = format!(
        "{PORTAL}
fn consume(b: Box<i64>) -> i64 {{ *b + 1 }}

#[dont_look_inside]
fn keep(b: Box<i64>) -> i64 {{ *b }}

fn f(n: i64) -> i64 {{
    let b = Box::new(n);
    let c = Box::new(n + 1);
    let d = c;
    consume(b) + keep(d)
}}"
    );
    check(&src, "f", "box_move_caller");
    check(&src, "consume", "box_move_callee");
}

#[test]
fn box_reassignment_frees_the_old_box() {
    let src = format!(
        "{PORTAL}
fn f(n: i64) -> i64 {{
    let mut b = Box::new(n);
    b = Box::new(*b * 2);
    let r = *b;
    r
}}"
    );
    check(&src, "f", "box_reassign");
}

#[test]
fn box_freed_on_early_return_and_break() {
    let src = format!(
        "{PORTAL}
fn f(n: i64) -> i64 {{
    let b = Box::new(n);
    let mut i = 0;
    loop {{
        let c = Box::new(i);
        if *c > 5 {{ break; }}
        if *c == n {{ return *b; }}
        i += 1;
    }}
    *b + i
}}"
    );
    check(&src, "f", "box_early_exits");
}

#[test]
fn box_conditionally_moved() {
    // On one path `b` is moved (null), on the other it is still owned:
    // the free at the end of the scope sees the join of the two.
    let src = format!(
        "{PORTAL}
fn consume(b: Box<i64>) -> i64 {{ *b }}

fn f(n: i64) -> i64 {{
    let b = Box::new(n);
    let mut r = 0;
    if n > 0 {{ r = consume(b); }}
    r
}}"
    );
    check(&src, "f", "box_conditional_move");
}

#[test]
fn boxes_returned_discarded_and_borrowed() {
    // A returned box is owned by the caller; one thrown away is freed at
    // once; `let _ = b;` does not move `b`; `&b` coerced to `&T` and
    // method calls read through the box.
    let src = format!(
        "{PORTAL}
#[derive(Clone, Copy)]
pub struct Num {{ pub v: i64 }}

impl Num {{
    fn get(&self) -> i64 {{ self.v }}
}}

fn make(v: i64) -> Box<Num> {{ Box::new(Num {{ v }}) }}

#[dont_look_inside]
pub fn fetch(v: i64) -> Box<i64> {{ Box::new(v) }}

fn peek(x: &i64) -> i64 {{ *x }}

fn f(n: i64) -> i64 {{
    let a = make(n);
    make(1);
    let _ = fetch(2);
    let b = fetch(n);
    let _ = b;
    a.get() + peek(&b) + b.wrapping_add(1)
}}"
    );
    check(&src, "f", "box_returned_discarded_borrowed");
    check(&src, "make", "box_returned");
}

#[test]
fn box_freed_on_try_and_continue() {
    let src = format!(
        "{PORTAL}
fn half(n: i64) -> Option<i64> {{
    if n % 2 == 0 {{ Some(n / 2) }} else {{ None }}
}}

fn g(n: i64) -> Option<i64> {{
    let b = Box::new(n);
    let mut i = 0;
    while i < n {{
        i += 1;
        let c = Box::new(i);
        if *c == 3 {{ continue; }}
        half(*c)?;
    }}
    Some(*b)
}}

fn f(n: i64) -> i64 {{
    match g(n) {{ Some(x) => x, None => 0 }}
}}"
    );
    check(&src, "g", "box_try_continue");
}
