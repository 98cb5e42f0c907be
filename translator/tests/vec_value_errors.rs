//! What traced code still cannot do with Vec values (docs/subset.md "Vec
//! values"): each case is rejected at its line with a help line, as in
//! `subset_errors.rs` (whose helpers these are).

use metatrace_testkit::subset::*;

#[test]
fn vec_values_inside_options_and_enums_holding_strings() {
    step_rejects(
        r#"pub enum Named { Empty, Items(Vec<i64>), Text(String) }

fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    let o: Option<Vec<i64>> = None;
    let n = Box::new(Named::Empty);
    acc + code[pc] as i64
}
"#,
        &[
            "4:5: a local variable of type `Option<Vec<i64>>` is not supported in traced code",
            "5:13: `Box::new` of a value of type `Named` is not supported in traced code",
        ],
    );
}

#[test]
fn destructuring_and_matching_values_owning_vecs() {
    step_rejects(
        r#"pub struct Bag { pub items: Vec<i64>, pub total: i64 }

fn bag(n: i64) -> Bag {
    let mut items = Vec::new();
    items.push(n);
    Bag { items, total: n }
}

fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    let Bag { items, total } = bag(acc);
    if let Bag { total: 0, .. } = bag(acc) {
        return 0;
    }
    acc + total + code[pc] as i64
}
"#,
        &[
            "10:9: matching on or destructuring a value of type `Bag`, which owns a Vec, is not supported in traced code",
            "11:35: matching on or destructuring a value of type `Bag`, which owns a Vec, is not supported in traced code",
        ],
    );
}

#[test]
fn a_temporary_vec() {
    step_rejects(
        r#"fn make(n: usize) -> Vec<i64> {
    Vec::with_capacity(n)
}

fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    let n = make(pc).len();
    acc + n as i64 + code[pc] as i64
}
"#,
        &["6:13: using a temporary Vec is not supported in traced code"],
    );
}

#[test]
fn vec_of_vecs_pop_move_out_of_memory_and_vec_live_across_the_merge_point() {
    rejects(
        r#"use metatrace::prelude::*;

pub struct Lists { pub all: Vec<Vec<i64>> }

#[jit_driver(greens = [pc, code], reds = [acc, lists])]
pub fn run(code: &[u8], mut acc: i64, lists: &mut Lists) -> i64 {
    let mut pc: usize = 0;
    let mut seen = Vec::new();
    while pc < code.len() {
        jit_merge_point!();
        seen.push(acc);
        let last = lists.all.pop();
        let first = lists.all[0];
        acc += code[pc] as i64;
        pc += 1;
    }
    acc
}
"#,
        &[
            "10:9: the Vec in `seen` (`Vec<i64>`) is live across this `jit_merge_point!()`, which is not supported in traced code yet",
            "12:20: `pop` on a Vec of `Vec<i64>` is not supported in traced code yet",
            "13:21: a value of type `Vec<i64>` cannot be copied out of memory in traced code",
        ],
    );
}

#[test]
fn vec_repeat_of_values_that_are_not_plain_data() {
    step_rejects(
        r#"fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    let inner: Vec<i64> = Vec::new();
    let nested = vec![inner; 3];
    acc + nested.len() as i64 + code[pc] as i64
}
"#,
        &["3:18: `vec![x; n]` of a value of type `Vec<i64>` is not supported in traced code"],
    );
}

#[test]
fn vec_macro_of_another_form() {
    step_rejects(
        r#"fn step(code: &[u8], pc: usize, acc: i64) -> i64 {
    let bad = vec![1, 2; 3];
    acc + bad.len() as i64 + code[pc] as i64
}
"#,
        &["2:15: this form of `vec!` is not supported in traced code"],
    );
}
