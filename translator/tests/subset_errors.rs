//! The rejection corpus: every construct outside the subset gives its error
//! at the right `line:col`, rendered rustc-style with the source line and a
//! help line. (Broken input, several errors at once and mutated sources:
//! `bad_input.rs`.)
//!
//! Most cases are a helper function `step` (written from line 1, so the
//! line numbers in the expectations are the lines of the raw string) called
//! from a fixed portal appended after it; the rest are complete sources.

use metatrace_testkit::subset::*;

// ---- closures, async, unsafe -------------------------------------------

#[test]
fn closure() {
    step_rejects(
        r#"fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    let add = |x: i64| x + code[pc] as i64;
    add(acc)
}
"#,
        &["2:15: closures are not supported in traced code"],
    );
}

#[test]
fn move_closure_as_argument() {
    step_rejects(
        r#"fn apply(f: i64, acc: i64) -> i64 { f + acc }

fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    let k = code[pc] as i64;
    apply(k, acc) + code.iter().map(move |b| *b as i64 + k).sum::<i64>()
}
"#,
        &["5:37: closures are not supported in traced code"],
    );
}

#[test]
fn async_fn_and_await() {
    step_rejects(
        r#"fn fetch(x: i64) -> i64 { x }

async fn helper(x: i64) -> i64 {
    fetch(x).await
}

fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    helper(acc + code[pc] as i64)
}
"#,
        &[
            "3:1: async functions are not supported in traced code",
            "4:13: `.await` is not supported in traced code",
        ],
    );
}

#[test]
fn async_block() {
    step_rejects(
        r#"fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    let fut = async move { acc };
    acc + code[pc] as i64
}
"#,
        &["2:15: async blocks are not supported in traced code"],
    );
}

#[test]
fn unsafe_block() {
    step_rejects(
        r#"fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    let b = unsafe { *code.get_unchecked(pc) };
    acc + b as i64
}
"#,
        &["2:13: unsafe blocks are not supported in traced code"],
    );
}

#[test]
fn unsafe_fn() {
    step_rejects(
        r#"unsafe fn byte(code: &[u8], pc: usize) -> u8 { code[pc] }

fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    acc + byte(code, pc) as i64
}
"#,
        &["1:1: unsafe functions are not supported in traced code"],
    );
}

#[test]
fn extern_c_fn() {
    step_rejects(
        r#"extern "C" fn twice(x: i64) -> i64 { x * 2 }

fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    twice(acc) + code[pc] as i64
}
"#,
        &["1:1: functions with an explicit ABI are not supported in traced code"],
    );
}

// ---- generics, traits and types ----------------------------------------

#[test]
fn generic_fn() {
    step_rejects(
        r#"fn first<T: Copy>(xs: &[T]) -> T { xs[0] }

fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    acc + first(code) as i64 + pc as i64
}
"#,
        &["1:9: generic functions are not supported in traced code"],
    );
}

#[test]
fn const_generic_fn() {
    step_rejects(
        r#"fn add_n<const N: i64>(x: i64) -> i64 { x + N }

fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    add_n::<3>(acc) + code[pc] as i64
}
"#,
        &["1:9: const generic parameters are not supported in traced code"],
    );
}

#[test]
fn where_clause() {
    step_rejects(
        r#"fn twice(x: i64) -> i64
where
    i64: Copy,
{
    x * 2
}

fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    twice(acc) + code[pc] as i64
}
"#,
        &["2:1: `where` clauses are not supported in traced code"],
    );
}

#[test]
fn impl_trait_argument() {
    step_rejects(
        r#"fn widen(x: impl Into<i64>) -> i64 { x.into() }

fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    acc + widen(code[pc])
}
"#,
        &["1:13: `impl Trait` types are not supported in traced code"],
    );
}

#[test]
fn impl_trait_return() {
    step_rejects(
        r#"fn byte(code: &[u8], pc: usize) -> impl Copy { code[pc] }

fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    byte(code, pc);
    acc
}
"#,
        &["1:36: `impl Trait` types are not supported in traced code"],
    );
}

#[test]
fn trait_object_param() {
    rejects(
        r#"use metatrace::prelude::*;

pub trait Op {
    fn apply(&self, acc: i64) -> i64;
}

#[jit_driver(greens = [pc], reds = [acc, op])]
pub fn run(op: &dyn Op, mut acc: i64) -> i64 {
    let mut pc: usize = 0;
    while pc < 100 {
        jit_merge_point!();
        acc = op.apply(acc);
        pc += 1;
    }
    acc
}
"#,
        &["8:17: trait objects are not supported in traced code"],
    );
}

#[test]
fn trait_object_in_box() {
    step_rejects(
        r#"fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    let shown: Option<Box<dyn std::fmt::Debug>> = None;
    acc + code[pc] as i64
}
"#,
        &["2:27: trait objects are not supported in traced code"],
    );
}

#[test]
fn raw_pointer_in_let() {
    step_rejects(
        r#"fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    let p: *const u8 = &code[pc];
    acc
}
"#,
        &["2:12: raw pointers are not supported in traced code"],
    );
}

#[test]
fn raw_pointer_param() {
    rejects(
        r#"use metatrace::prelude::*;

#[jit_driver(greens = [pc], reds = [acc, mem])]
pub fn run(mem: *mut u8, mut acc: i64) -> i64 {
    let mut pc: usize = 0;
    while pc < 100 {
        jit_merge_point!();
        acc += 1;
        pc += 1;
    }
    acc
}
"#,
        &["4:17: raw pointers are not supported in traced code"],
    );
}

#[test]
fn raw_address_of() {
    step_rejects(
        r#"fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    let p = &raw const code[pc];
    acc
}
"#,
        &["2:13: raw pointers are not supported in traced code"],
    );
}

#[test]
fn fn_pointer() {
    step_rejects(
        r#"fn double(x: i64) -> i64 { x * 2 }

fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    let f: fn(i64) -> i64 = double;
    f(acc) + code[pc] as i64
}
"#,
        &["4:12: function pointers are not supported in traced code"],
    );
}

#[test]
fn f32_cast() {
    step_rejects(
        r#"fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    let x = acc as f32 * 0.5;
    x as i64 + code[pc] as i64
}
"#,
        &["2:20: `f32` is not supported in traced code"],
    );
}

#[test]
fn f32_param() {
    rejects(
        r#"use metatrace::prelude::*;

#[jit_driver(greens = [pc], reds = [acc])]
pub fn run(mut acc: f32) -> f32 {
    let mut pc: usize = 0;
    while pc < 100 {
        jit_merge_point!();
        acc += 1.0;
        pc += 1;
    }
    acc
}
"#,
        &[
            "4:21: `f32` is not supported in traced code",
            "4:29: `f32` is not supported in traced code",
        ],
    );
}

#[test]
fn i128_type() {
    step_rejects(
        r#"fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    let wide: i128 = acc as i128 * 3;
    wide as i64 + code[pc] as i64
}
"#,
        &[
            "2:15: `i128` is not supported in traced code",
            "2:29: `i128` is not supported in traced code",
        ],
    );
}

#[test]
fn u128_literal_suffix() {
    step_rejects(
        r#"fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    let big = 1u128 << 100;
    acc + code[pc] as i64
}
"#,
        &["2:15: `u128` is not supported in traced code"],
    );
}

#[test]
fn generic_struct_in_signature() {
    rejects(
        r#"use metatrace::prelude::*;

pub struct Stack<T> {
    items: Vec<T>,
}

#[jit_driver(greens = [pc], reds = [stack])]
pub fn run(stack: &mut Stack<i64>) {
    let mut pc: usize = 0;
    while pc < 100 {
        jit_merge_point!();
        pc += 1;
    }
}
"#,
        &["8:24: generic types are not supported in traced code"],
    );
}

/// A match on values whose type was refused (here an enum holding a
/// generic struct of the crate) reports the type once and goes on: it used
/// to crash the translator with an index out of bounds (found on targets/lox).
#[test]
fn match_on_a_tuple_of_refused_values() {
    step_rejects(
        r#"pub struct Handle<T> { pub v: T }

#[derive(Clone, Copy)]
pub enum Val { Num(i64), Obj(&'static Handle<u8>) }

fn peek(code: &[u8], i: usize) -> Val { Val::Num(code[i] as i64) }

fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    match (peek(code, pc), peek(code, 0)) {
        (Val::Num(a), Val::Num(b)) => acc + a + b,
        _ => acc,
    }
}
"#,
        &["6:35: functions in traced code cannot return `Val`"],
    );
}

#[test]
fn hashmap_type() {
    rejects(
        r#"use metatrace::prelude::*;
use std::collections::HashMap;

#[jit_driver(greens = [pc], reds = [vars])]
pub fn run(vars: &mut HashMap<u32, i64>) {
    let mut pc: usize = 0;
    while pc < 100 {
        jit_merge_point!();
        pc += 1;
    }
}
"#,
        &["5:23: type `HashMap` is not supported in traced code"],
    );
}

#[test]
fn static_used_in_traced_code() {
    step_rejects(
        r#"static LIMIT: i64 = 10;

fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    acc + LIMIT + code[pc] as i64
}
"#,
        &["4:11: statics are not supported in traced code"],
    );
}

// ---- macros ------------------------------------------------------------

#[test]
fn vec_macro_of_an_unknown_form() {
    step_rejects(
        r#"fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    let stack = vec![0i64; 16; 2];
    acc + stack[code[pc] as usize]
}
"#,
        &["2:17: this form of `vec!` is not supported in traced code"],
    );
}

#[test]
fn println_macro() {
    step_rejects(
        r#"fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    println!("pc = {}", pc);
    acc + code[pc] as i64
}
"#,
        &["2:5: `println!` is not supported in traced code"],
    );
}

#[test]
fn eprint_and_write_macros() {
    step_rejects(
        r#"fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    eprint!("x");
    let mut out = String::new();
    writeln!(out, "{}", acc);
    acc + code[pc] as i64
}
"#,
        &[
            "2:5: `eprint!` is not supported in traced code",
            // Reported in the same run: the type checker goes on past the
            // subset's errors.
            "3:19: `String::new` allocates, which is not supported in traced code",
            "4:5: `writeln!` is not supported in traced code",
        ],
    );
}

#[test]
fn format_macro() {
    step_rejects(
        r#"fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    let msg = format!("{}", acc);
    acc + code[pc] as i64
}
"#,
        &["2:15: `format!` is not supported in traced code"],
    );
}

#[test]
fn asm_macro() {
    step_rejects(
        r#"fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    unsafe {
        std::arch::asm!("nop");
    }
    acc + code[pc] as i64
}
"#,
        &[
            "2:5: unsafe blocks are not supported in traced code",
            "3:9: inline assembly is not supported in traced code",
        ],
    );
}

#[test]
fn panic_with_format_arguments() {
    step_rejects(
        r#"fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    if code[pc] == 0 {
        panic!("bad opcode {} at {}", code[pc], pc);
    }
    if code[pc] == 1 {
        unreachable!("pc {pc}");
    }
    if code[pc] == 2 {
        panic!("a literal message is fine");
    }
    acc
}
"#,
        &[
            "3:16: `panic!` with format arguments is not supported in traced code",
            "6:22: `unreachable!` with format arguments is not supported in traced code",
        ],
    );
}

#[test]
fn assert_with_format_arguments() {
    step_rejects(
        r#"fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    assert!(pc < code.len(), "pc = {}", pc);
    assert_eq!(acc, acc, "acc = {acc}");
    assert_ne!(pc, 1000, "a literal is fine");
    acc
}
"#,
        &[
            "2:30: `assert!` with format arguments is not supported in traced code",
            "3:26: `assert_eq!` with format arguments is not supported in traced code",
        ],
    );
}

#[test]
fn closure_inside_assert() {
    step_rejects(
        r#"fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    assert!(code.iter().all(|b| *b < 8));
    acc + pc as i64
}
"#,
        &["2:29: closures are not supported in traced code"],
    );
}

#[test]
fn unknown_macro() {
    step_rejects(
        r#"macro_rules! double {
    ($x:expr) => {
        $x * 2
    };
}

fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    double!(acc) + code[pc] as i64
}
"#,
        &["8:5: macro `double!` is not supported in traced code"],
    );
}

#[test]
fn matches_macro() {
    step_rejects(
        r#"fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    if matches!(code[pc], b'+' | b'-') {
        return acc + 1;
    }
    acc
}
"#,
        &["2:8: `matches!` is not supported in traced code"],
    );
}

#[test]
fn macro_in_pattern_and_type_position() {
    step_rejects(
        r#"fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    let n: my_int!() = code[pc] as i64;
    match n {
        zero!() => acc,
        _ => acc + n,
    }
}
"#,
        &[
            "2:12: macros in type position are not supported in traced code",
            "4:9: macros in pattern position are not supported in traced code",
        ],
    );
}

// ---- statements and expressions ----------------------------------------

#[test]
fn try_block() {
    step_rejects(
        r#"fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    let r: Option<i64> = try { acc.checked_add(code[pc] as i64)? };
    acc
}
"#,
        &["2:26: `try` blocks are not supported in traced code"],
    );
}

#[test]
fn yield_expression() {
    step_rejects(
        r#"fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    yield acc;
    acc + code[pc] as i64
}
"#,
        &["2:5: `yield` is not supported in traced code"],
    );
}

#[test]
fn labeled_block() {
    step_rejects(
        r#"fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    let r = 'done: {
        if code[pc] == 0 {
            break 'done acc;
        }
        acc + 1
    };
    r
}
"#,
        &["2:13: labeled blocks are not supported in traced code"],
    );
}

#[test]
fn const_block() {
    step_rejects(
        r#"fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    let k = const { 1 << 4 };
    acc + k + code[pc] as i64
}
"#,
        &["2:13: inline `const` blocks are not supported in traced code"],
    );
}

#[test]
fn const_item_in_body_is_fine_but_nested_fn_is_not() {
    step_rejects(
        r#"fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    const K: i64 = 4;
    fn helper(x: i64) -> i64 {
        x + 1
    }
    helper(acc) + K + code[pc] as i64
}
"#,
        &["3:5: nested functions are not supported in traced code"],
    );
}

#[test]
fn nested_struct_and_impl() {
    step_rejects(
        r#"fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    struct Local {
        x: i64,
    }
    impl Local {
        fn get(&self) -> i64 { self.x }
    }
    Local { x: acc }.get() + code[pc] as i64
}
"#,
        &[
            "2:5: items inside function bodies are not supported in traced code",
            "5:5: items inside function bodies are not supported in traced code",
        ],
    );
}

#[test]
fn use_inside_body() {
    step_rejects(
        r#"fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    use std::cmp::max;
    max(acc, code[pc] as i64)
}
"#,
        &["2:5: `use` declarations inside function bodies are not supported in traced code"],
    );
}

#[test]
fn for_over_iterator() {
    step_rejects(
        r#"fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    let mut sum = acc;
    for b in code.iter() {
        sum += *b as i64;
    }
    sum + pc as i64
}
"#,
        &["3:14: `for` loops are only supported over integer ranges `a..b` and `a..=b`"],
    );
}

#[test]
fn for_over_slice_and_open_range() {
    step_rejects(
        r#"fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    let mut sum = acc;
    for b in code {
        sum += *b as i64;
    }
    for i in pc.. {
        break;
    }
    for i in (0..code.len()).rev() {
        sum += i as i64;
    }
    for i in 0..code.len() {
        sum += code[i] as i64;
    }
    sum
}
"#,
        &[
            "3:14: `for` loops are only supported over integer ranges `a..b` and `a..=b`",
            "6:14: `for` loops are only supported over integer ranges `a..b` and `a..=b`",
            "9:14: `for` loops are only supported over integer ranges `a..b` and `a..=b`",
        ],
    );
}

#[test]
fn range_outside_for() {
    step_rejects(
        r#"fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    let window = pc..pc + 4;
    let part = &code[pc..];
    acc + part.len() as i64
}
"#,
        &["2:18: range expressions are only supported as the bounds of a `for` loop or as a slice index"],
    );
}

#[test]
fn struct_update_syntax() {
    step_rejects(
        r#"#[derive(Clone, Copy)]
pub struct Regs {
    a: i64,
    b: i64,
}

fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    let base = Regs { a: 0, b: 1 };
    let r = Regs { a: acc, ..base };
    r.a + r.b + code[pc] as i64
}
"#,
        &["9:28: struct update syntax is not supported in traced code"],
    );
}

// ---- patterns ----------------------------------------------------------

#[test]
fn slice_pattern() {
    step_rejects(
        r#"fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    if let [first, second, ..] = code {
        return acc + *first as i64 + *second as i64;
    }
    acc + pc as i64
}
"#,
        &["2:12: slice patterns are not supported in traced code"],
    );
}

#[test]
fn box_pattern() {
    step_rejects(
        r#"fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    match code[pc] {
        box 0 => acc,
        _ => acc + 1,
    }
}
"#,
        &["3:9: `box` patterns are not supported in traced code"],
    );
}

#[test]
fn ref_binding() {
    step_rejects(
        r#"fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    let op = Some(code[pc]);
    match op {
        Some(ref b) => acc + *b as i64,
        None => acc,
    }
}
"#,
        &["4:14: `ref` bindings are not supported in traced code"],
    );
}

#[test]
fn at_binding_with_subpattern() {
    step_rejects(
        r#"fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    match code[pc] {
        d @ b'0'..=b'9' => acc * 10 + (d - b'0') as i64,
        _ => acc,
    }
}
"#,
        &["3:9: `@` bindings with a subpattern are not supported in traced code"],
    );
}

// ---- JIT driver misuse (messages from hints.rs, helps from hint_check) --

#[test]
fn green_not_a_local() {
    check(
        r#"use metatrace::prelude::*;

#[jit_driver(greens = [pc, program], reds = [acc])]
pub fn run(code: &[u8], mut acc: i64) -> i64 {
    let mut pc: usize = 0;
    while pc < code.len() {
        jit_merge_point!();
        acc += code[pc] as i64;
        pc += 1;
    }
    acc
}
"#,
        &["3:28: green `program` is not a parameter or local variable of `run`"],
        true,
    );
}

#[test]
fn driver_without_merge_point() {
    check(
        r#"use metatrace::prelude::*;

#[jit_driver(greens = [pc, code], reds = [acc])]
pub fn run(code: &[u8], mut acc: i64) -> i64 {
    let mut pc: usize = 0;
    while pc < code.len() {
        acc += code[pc] as i64;
        pc += 1;
    }
    acc
}
"#,
        &["4:8: jit driver `run` has no `jit_merge_point!()`"],
        true,
    );
}

#[test]
fn elidable_returning_nothing() {
    check(
        &with_portal(
            r#"#[elidable]
fn touch(code: &[u8], pc: usize) {
    let _ = code[pc];
}

fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    touch(code, pc);
    acc
}
"#,
        ),
        &["2:4: #[elidable] function `touch` returns nothing; an elidable call without a result would be removed"],
        true,
    );
}

// ---- driver placement ---------------------------------------------------

#[test]
fn can_enter_jit_not_followed_by_the_merge_point() {
    rejects(
        r#"use metatrace::prelude::*;
pub struct S { pub n: i64 }
#[jit_driver(greens = [pc], reds = [s])]
pub fn run(s: &mut S) -> i64 {
    let mut pc: usize = 0;
    while pc < 100 {
        jit_merge_point!();
        pc += 1;
        if pc % 10 == 0 {
            can_enter_jit!();
            s.n += 1;
        }
    }
    s.n
}
"#,
        &["10:13: `can_enter_jit!()` must be followed directly by the jump back to `jit_merge_point!()`"],
    );
}

#[test]
fn local_live_across_the_merge_point_is_not_green_or_red() {
    rejects(
        r#"use metatrace::prelude::*;
#[jit_driver(greens = [pc], reds = [acc])]
pub fn run(code: &[u8], mut acc: i64) -> i64 {
    let mut pc: usize = 0;
    let scale = code.len() as i64;
    while pc < code.len() {
        jit_merge_point!();
        acc += scale;
        pc += 1;
    }
    acc
}
"#,
        &[
            "3:8: `code` is live across jit_merge_point!() but is neither a green nor a red",
            "3:8: `scale` is live across jit_merge_point!() but is neither a green nor a red",
        ],
    );
}

// ---- owned boxes: what traced code may not do with them yet -------------

#[test]
fn box_new_of_values_that_are_not_plain_data() {
    step_rejects(
        r#"#[derive(Clone)]
pub enum Op { Inc, Name(String) }

fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    let a = Box::new(Op::Inc);
    let b = Box::new(());
    let c = Box::new(code);
    let d = Box::new(Some(code));
    acc + code[pc] as i64
}
"#,
        &[
            "5:13: `Box::new` of a value of type `Op` is not supported in traced code",
            "6:13: `Box::new` of a value of type `()` is not supported in traced code",
            "7:13: `Box::new` of a value of type `&[u8]` is not supported in traced code",
            "8:13: `Box::new` of a value of type `Option<&[u8]>` is not supported in traced code",
        ],
    );
}

/// Enums (and `Option`s) of plain data are written to memory and moved in
/// and out of Vecs; enums holding heap values are not, yet.
#[test]
fn enums_holding_heap_values_are_not_written_to_memory() {
    rejects(
        r#"use metatrace::prelude::*;

pub enum Name { Anon, Named(String) }
pub struct Names { pub first: Name, pub all: Vec<Name> }

fn rename(n: &mut Names) {
    n.first = Name::Anon;
    let _ = n.all.pop();
    n.all.truncate(1);
}

#[jit_driver(greens = [pc], reds = [n])]
pub fn run(n: &mut Names) -> i64 {
    let mut pc: usize = 0;
    while pc < 10 {
        jit_merge_point!();
        rename(n);
        pc += 1;
    }
    0
}
"#,
        &[
            "7:5: storing a value of type `Name` into memory is not supported in traced code yet",
            "8:13: `pop` on a Vec of `Name` is not supported in traced code yet",
        ],
    );
}

#[test]
fn boxes_in_memory_in_aggregates_and_in_vecs() {
    rejects(
        r#"use metatrace::prelude::*;

pub struct Holder { pub b: Box<i64>, pub v: Vec<Box<i64>> }

fn put(h: &mut Holder, x: i64) -> i64 {
    h.b = Box::new(x);
    *h.b = x;
    let n = Box::new(x + 1);
    h.v.push(n);
    let p = h.v.pop();
    let t = (Box::new(x), 2);
    let o: Option<Box<i64>> = None;
    *h.b + h.v[0].abs()
}

#[jit_driver(greens = [pc], reds = [h, acc])]
pub fn run(h: &mut Holder) -> i64 {
    let mut pc: usize = 0;
    let mut acc = 0;
    while pc < 10 {
        jit_merge_point!();
        acc += put(h, pc as i64);
        pc += 1;
    }
    acc
}
"#,
        &[
            "6:5: storing a Box into memory is not supported in traced code yet",
            "9:5: `push` on a Vec of `Box<i64>` is not supported in traced code yet",
            "10:13: `pop` on a Vec of `Box<i64>` is not supported in traced code yet",
            "11:13: a value of type `(Box<i64>, i32)` holds a Box inside another value, which is not supported in traced code yet",
            "12:31: a value of type `Option<Box<i64>>` holds a Box inside another value, which is not supported in traced code yet",
        ],
    );
}

#[test]
fn temporary_boxes_and_reads_that_would_move() {
    step_rejects(
        r#"#[derive(Clone, Copy)]
pub struct Num { pub v: i64 }

fn make(v: i64) -> Box<Num> { Box::new(Num { v }) }

fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    let x = *Box::new(acc);
    let y = make(acc).v;
    let b = make(1);
    let c = make(2);
    let r = &b;
    let same = b == c;
    match c { e => {} }
    acc + x + y + code[pc] as i64
}
"#,
        &[
            "7:14: using a temporary Box is not supported in traced code",
            "8:13: using a temporary Box is not supported in traced code",
            "11:13: taking a reference to the box in local variable `b` is not supported in traced code",
            "12:16: comparing boxes is not supported in traced code",
            "13:11: matching on a Box or destructuring it is not supported in traced code",
        ],
    );
}

#[test]
fn box_live_across_the_merge_point() {
    rejects(
        r#"use metatrace::prelude::*;

#[jit_driver(greens = [pc], reds = [acc])]
pub fn run(mut acc: i64) -> i64 {
    let total = Box::new(0i64);
    let mut pc: usize = 0;
    while pc < 10 {
        jit_merge_point!();
        acc += *total + pc as i64;
        pc += 1;
    }
    acc
}
"#,
        &[
            "8:9: the box in `total` (`Box<i64>`) is live across this `jit_merge_point!()`, which is not supported in traced code yet",
        ],
    );
}

#[test]
fn cloning_a_box() {
    step_rejects(
        r#"fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    let b = Box::new(acc);
    let c: i64 = b.clone();
    acc + code[pc] as i64
}
"#,
        &["3:18: cloning a Box is not supported in traced code"],
    );
}

#[test]
fn comparing_strings_and_vecs() {
    // `==` compares what references point to: plain data is loaded and
    // compared, strings and Vecs are refused (they used to fail the
    // flow-graph verifier: an internal error).
    step_rejects(
        r#"fn same_name(a: &str, b: &str) -> bool {
    a == b
}

fn same_items(a: &Vec<i64>, b: &Vec<i64>) -> bool {
    *a == *b
}

fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    let v = vec![acc];
    if same_name("a", "b") || same_items(&v, &v) {
        return acc;
    }
    acc + code[pc] as i64
}
"#,
        &[
            "2:5: comparing values of type `&str` is not supported in traced code",
            "6:5: comparing values of type `Vec<i64>` is not supported in traced code",
        ],
    );
}
