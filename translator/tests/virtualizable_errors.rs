//! Diagnostics of `#[virtualizable]`: on anything but a struct, naming a
//! field the struct lacks (or one twice), keeping a field the JIT cannot
//! hold in registers (only scalars and fixed-size arrays of scalars), and
//! taking a reference to a kept field in traced code (the JIT must see
//! every access). Each at the user's line with its help; every message is
//! listed in docs/subset.md.

use metatrace_testkit::subset::*;

/// A portal over `Machine` whose loop body is `body`.
fn with_machine(attr: &str, body: &str) -> String {
    format!(
        r#"use metatrace::prelude::*;

{attr}
pub struct Machine {{
    pub regs: [u32; 8],
    pub pc: usize,
    pub program: Vec<u32>,
}}

#[jit_driver(greens = [pc], reds = [machine])]
pub fn run(machine: &mut Machine) -> u32 {{
    let mut pc: usize = 0;
    while pc < 100 {{
        jit_merge_point!();
        {body}
        pc += 1;
    }}
    machine.regs[0]
}}
"#
    )
}

#[test]
fn a_frame_struct_with_scalar_and_array_fields_translates() {
    let src = with_machine(
        "#[virtualizable(regs, pc)]",
        "machine.regs[pc % 8] = machine.regs[1] + 1; machine.pc = pc;",
    );
    let t = metatrace_translator::translate_source("interp.rs", &src)
        .unwrap_or_else(|e| panic!("{}", e.render()));
    let machine = t
        .program
        .types
        .adts
        .iter()
        .find(|a| a.name == "Machine")
        .unwrap();
    let kept: Vec<bool> = machine.fields().iter().map(|f| f.virtualizable).collect();
    assert_eq!(kept, [true, true, false]);
}

#[test]
fn fields_the_jit_cannot_keep_in_registers_are_refused() {
    rejects_with_help(
        &with_machine("#[virtualizable]", "machine.regs[1] = 2;"),
        &[(
            "7:18: field `program` of virtualizable struct `Machine` has type `Vec<u32>`, which the JIT cannot keep in registers",
            "#[virtualizable(regs, pc)]",
        )],
    );
    rejects_with_help(
        &with_machine("#[virtualizable(regs, nope, regs)]", "machine.regs[1] = 2;"),
        &[
            (
                "3:23: struct `Machine` has no field `nope`",
                "name fields of the struct",
            ),
            (
                "3:29: field `regs` is named twice in `#[virtualizable(...)]`",
                "name each field once",
            ),
        ],
    );
    rejects_with_help(
        &with_machine("#[virtualizable = 3]", "machine.regs[1] = 2;"),
        &[(
            "3:17: expected `#[virtualizable]` or `#[virtualizable(field, ...)]`",
            "`#[virtualizable(regs, pc)]` (those fields)",
        )],
    );
}

#[test]
fn virtualizable_on_anything_but_a_struct_is_refused() {
    rejects_with_help(
        r#"use metatrace::prelude::*;

#[virtualizable]
pub enum Op {
    Add,
    Halt,
}

#[virtualizable]
fn step(acc: u32) -> u32 {
    acc + 1
}

#[jit_driver(greens = [pc], reds = [acc])]
pub fn run(acc: u32) -> u32 {
    let mut pc: usize = 0;
    let mut acc = acc;
    while pc < 100 {
        jit_merge_point!();
        acc = step(acc);
        pc += 1;
    }
    acc
}
"#,
        &[
            (
                "3:1: `#[virtualizable]` applies to a struct only",
                "the struct that holds the interpreter's frame state",
            ),
            (
                "9:1: `#[virtualizable]` applies to a struct only",
                "the struct that holds the interpreter's frame state",
            ),
        ],
    );
}

#[test]
fn references_to_kept_fields_are_refused() {
    rejects_with_help(
        &with_machine(
            "#[virtualizable(regs)]",
            "let regs = &mut machine.regs; regs[1] = 2;",
        ),
        &[(
            "15:20: taking a reference to the virtualizable field `Machine.regs` is not supported in traced code",
            "read and write it in place",
        )],
    );
}
