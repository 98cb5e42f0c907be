//! First drafts of interpreters, as a newcomer writes them before reading
//! docs/subset.md: each has real problems (listed above its test), and the
//! translator must report each exactly once, at its line, with a help that
//! applies to it — no knock-on errors, every function and phase in one
//! run (issue 15). Helpers: `metatrace_testkit::subset`.

use metatrace_testkit::subset::*;

/// A Universal Machine (ICFP 2006) in a module of its own. Its problems:
/// `#[elidable]` with `#[dont_look_inside]` on `fresh_id`; the private
/// field `regs`, which the JIT's glue must read; the `HashMap` of arrays;
/// `checked_div`, a std method traced code cannot call; `nand`, a method of
/// the user's trait; the private `#[dont_look_inside]` function `fresh_id`,
/// which the glue must call; `print!` and `std::io::stdin` in traced code.
const UM: &str = r#"use metatrace::prelude::*;
use std::collections::HashMap;
use std::io::Read;

trait Nand {
    fn nand(self, other: Self) -> Self;
}

impl Nand for u32 {
    fn nand(self, other: u32) -> u32 {
        !(self & other)
    }
}

mod um {
    use super::*;

    pub struct Machine {
        regs: [u32; 8],
        pub arrays: HashMap<u32, Vec<u32>>,
        pub next_id: u32,
    }

    #[elidable]
    #[dont_look_inside]
    fn fresh_id(m: &mut Machine) -> u32 {
        m.next_id += 1;
        m.next_id
    }

    #[jit_driver(greens = [pc], reds = [m])]
    pub fn run(m: &mut Machine, program: &[u32]) {
        let mut pc: usize = 0;
        loop {
            jit_merge_point!();
            let insn = program[pc];
            pc += 1;
            let a = ((insn >> 6) & 7) as usize;
            let b = ((insn >> 3) & 7) as usize;
            let c = (insn & 7) as usize;
            match insn >> 28 {
                0 => {
                    if m.regs[c] != 0 {
                        m.regs[a] = m.regs[b];
                    }
                }
                1 => m.regs[a] = m.arrays[&m.regs[b]][m.regs[c] as usize],
                3 => m.regs[a] = m.regs[b].wrapping_add(m.regs[c]),
                4 => m.regs[a] = m.regs[b].wrapping_mul(m.regs[c]),
                5 => m.regs[a] = m.regs[b].checked_div(m.regs[c]).unwrap_or(0),
                6 => m.regs[a] = m.regs[b].nand(m.regs[c]),
                7 => return,
                8 => m.regs[b] = fresh_id(m),
                10 => print!("{}", m.regs[c] as u8 as char),
                11 => {
                    let mut byte = [0u8; 1];
                    std::io::stdin().read(&mut byte).unwrap();
                    m.regs[c] = byte[0] as u32;
                }
                13 => m.regs[(insn >> 25 & 7) as usize] = insn & 0x1ff_ffff,
                _ => panic!("bad instruction"),
            }
        }
    }
}

fn main() {}
"#;

#[test]
fn universal_machine() {
    rejects_with_help(
        UM,
        &[
            ("24:5: function `fresh_id` is both #[elidable] and #[dont_look_inside]", "keep one"),
            ("43:26: field `regs` of `Machine` is private to its module, and the code generated for the JIT cannot read it", "`pub(crate)`"),
            ("47:36: field `arrays` has type `HashMap<u32, Vec<u32>>`, which traced code cannot use", "write a table as a struct in the subset"),
            ("50:44: method `checked_div` of `u32` is not supported in traced code", "`wrapping_add`, `wrapping_sub`"),
            ("51:44: `nand` is a method of trait `Nand`: traits are not supported in traced code", "plain function (`fn nand(..)`)"),
            ("53:34: #[dont_look_inside] function `fresh_id` is private to its module, and the code generated for the JIT cannot call it", "`pub(crate) fn fresh_id`"),
            ("54:23: `print!` is not supported in traced code", "do I/O in a #[dont_look_inside] function"),
            ("57:21: `std::io::stdin` does I/O, which is not supported in traced code", "do I/O in a #[dont_look_inside] function"),
        ],
    );
}

/// A stack VM. Its problems: names as `Rc<str>` (a parameter of `slot` and
/// the field `names`, reported at its first use, in `slot`, whose body is
/// checked although its signature is refused); `pow`, not supported yet;
/// `println!` for `Print`; `iter().sum()` at the end. `Vm::slot` compares
/// two `&Rc<str>` with `==`: no error of its own (its operands are errors).
const STACK_VM: &str = r#"use metatrace::prelude::*;
use std::rc::Rc;

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Op {
    Push(i64),
    Add,
    Mul,
    Pow,
    Swap,
    Load(usize),
    Store(usize),
    JumpIfZero(usize),
    Jump(usize),
    Print,
    Halt,
}

pub struct Vm {
    pub stack: Vec<i64>,
    pub names: Vec<Rc<str>>,
    pub vars: Vec<i64>,
}

impl Vm {
    fn pop(&mut self) -> i64 {
        self.stack.pop().expect("stack underflow")
    }

    fn slot(&self, name: &Rc<str>) -> usize {
        let mut i = 0;
        while i < self.names.len() {
            if &self.names[i] == name {
                return i;
            }
            i += 1;
        }
        0
    }
}

#[jit_driver(greens = [pc, code], reds = [vm])]
pub fn run(code: &[Op], vm: &mut Vm) -> i64 {
    let mut pc = 0;
    while pc < code.len() {
        jit_merge_point!();
        let op = code[pc];
        pc += 1;
        match op {
            Op::Push(n) => vm.stack.push(n),
            Op::Add => {
                let b = vm.pop();
                let a = vm.pop();
                vm.stack.push(a + b);
            }
            Op::Mul => {
                let b = vm.pop();
                let a = vm.pop();
                vm.stack.push(a * b);
            }
            Op::Pow => {
                let b = vm.pop();
                let a = vm.pop();
                vm.stack.push(a.pow(b as u32));
            }
            Op::Swap => {
                let n = vm.stack.len();
                vm.stack.swap(n - 1, n - 2);
            }
            Op::Load(i) => {
                let slot = vm.slot(&vm.names[i].clone());
                vm.stack.push(vm.vars[slot]);
            }
            Op::Store(i) => {
                let v = vm.pop();
                vm.vars[i] = v;
            }
            Op::JumpIfZero(t) => {
                if vm.pop() == 0 {
                    pc = t;
                }
            }
            Op::Jump(t) => pc = t,
            Op::Print => println!("{}", vm.stack.last().unwrap()),
            Op::Halt => break,
        }
    }
    vm.stack.iter().sum()
}

fn main() {}
"#;

#[test]
fn stack_vm() {
    rejects_with_help(
        STACK_VM,
        &[
            (
                "30:27: type `Rc` is not supported in traced code",
                "metatrace::Gc<T>",
            ),
            (
                "32:24: field `names` has type `Vec<Rc<str>>`, which traced code cannot use",
                "metatrace::Gc<T>",
            ),
            (
                "64:33: `pow` is not supported in traced code yet",
                "compute it with arithmetic",
            ),
            (
                "84:26: `println!` is not supported in traced code",
                "do I/O in a #[dont_look_inside] function",
            ),
            (
                "88:14: method `iter` of `Vec<i64>` is not supported in traced code",
                "loop over an index range",
            ),
        ],
    );
}

/// A register VM. Its problems: a `for` over an iterator; `Regs::default()`
/// of the `Default` trait; a closure reading registers (and called twice);
/// an `f32` cast; an `unsafe` update of a `static mut` counter.
const REGISTER_VM: &str = r#"use metatrace::prelude::*;

static mut STEPS: u64 = 0;

#[derive(Clone, Copy)]
pub enum Insn {
    Load(usize, i64),
    Add(usize, usize, usize),
    Scale(usize, usize),
    Dec(usize),
    Jnz(usize, usize),
    Halt,
}

pub struct Regs {
    pub r: [i64; 4],
}

impl Default for Regs {
    fn default() -> Regs {
        Regs { r: [0; 4] }
    }
}

fn checksum(regs: &Regs) -> i64 {
    let mut sum = 0;
    for (i, r) in regs.r.iter().enumerate() {
        sum += r * i as i64;
    }
    sum
}

#[jit_driver(greens = [pc, code], reds = [regs])]
pub fn run(code: &[Insn]) -> i64 {
    let mut regs = Regs::default();
    let mut pc: usize = 0;
    loop {
        jit_merge_point!();
        let get = |i: usize| regs.r[i];
        match code[pc] {
            Insn::Load(d, v) => regs.r[d] = v,
            Insn::Add(d, a, b) => regs.r[d] = get(a) + get(b),
            Insn::Scale(d, a) => regs.r[d] = (regs.r[a] as f32 * 1.5) as i64,
            Insn::Dec(d) => regs.r[d] -= 1,
            Insn::Jnz(r, t) => {
                if regs.r[r] != 0 {
                    pc = t;
                    continue;
                }
            }
            Insn::Halt => return checksum(&regs),
        }
        unsafe { STEPS += 1 };
        pc += 1;
    }
}

fn main() {}
"#;

#[test]
fn register_vm() {
    rejects_with_help(
        REGISTER_VM,
        &[
            ("27:19: `for` loops are only supported over integer ranges `a..b` and `a..=b`", "loop over an index range"),
            ("35:20: `Regs::default` is a method of trait `Default`: traits are not supported in traced code", "inherent method"),
            ("39:19: closures are not supported in traced code", "write a separate function"),
            ("43:60: `f32` is not supported in traced code", "use `f64`"),
            ("53:9: unsafe blocks are not supported in traced code", "#[dont_look_inside] function"),
        ],
    );
}

/// The Universal Machine with its problems fixed but one: the enum `Kind`
/// is private to its module, and the glue must name it. (With
/// `pub(crate) enum Kind`, this crate builds with rustc, glue included.)
const UM_PRIVATE_ENUM: &str = r#"use metatrace::prelude::*;

metatrace::include_jit!();

fn nand(a: u32, b: u32) -> u32 {
    !(a & b)
}

mod um {
    use super::*;

    #[derive(Clone, Copy)]
    enum Kind {
        Move,
        Halt,
    }

    pub struct Machine {
        pub(crate) regs: [u32; 8],
        pub next_id: u32,
        pub kinds: Vec<Kind>,
    }

    impl Machine {
        pub fn new() -> Machine {
            Machine { regs: [0; 8], next_id: 0, kinds: vec![Kind::Move, Kind::Halt] }
        }
    }

    #[dont_look_inside]
    pub(crate) fn fresh_id(m: &mut Machine) -> u32 {
        m.next_id += 1;
        m.next_id
    }

    #[jit_driver(greens = [pc, program], reds = [m])]
    pub fn run(m: &mut Machine, program: &[u32]) {
        let mut pc: usize = 0;
        loop {
            jit_merge_point!();
            let insn = program[pc];
            pc += 1;
            let a = ((insn >> 6) & 7) as usize;
            let b = ((insn >> 3) & 7) as usize;
            let c = (insn & 7) as usize;
            match m.kinds[(insn >> 28) as usize & 1] {
                Kind::Move => {}
                Kind::Halt => return,
            }
            match insn >> 28 {
                3 => m.regs[a] = m.regs[b].wrapping_add(m.regs[c]),
                6 => m.regs[a] = nand(m.regs[b], m.regs[c]),
                7 => return,
                8 => m.regs[b] = fresh_id(m),
                _ => {}
            }
        }
    }
}

fn main() {
    let mut m = um::Machine::new();
    um::run(&mut m, &[0x3000_0000, 0x7000_0000]);
    println!("{}", m.regs[0]);
}
"#;

#[test]
fn universal_machine_with_a_private_enum() {
    rejects_with_help(
        UM_PRIVATE_ENUM,
        &[(
            "46:19: type `Kind` is private to its module, and the code generated for the JIT cannot name it",
            "`pub(crate) enum Kind`",
        )],
    );
}

/// The messages and helps this corpus brought in are listed in
/// docs/subset.md (with the drafts' names as the examples).
#[test]
fn messages_are_in_the_subset_doc() {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/subset.md"),
    )
    .expect("read docs/subset.md");
    for listed in [
        "function `fresh_id` is both #[elidable] and #[dont_look_inside]",
        "keep one: #[elidable] for a pure function whose body is in the subset (traced, and its calls folded or removed by the optimizer), #[dont_look_inside] for one that stays native (a residual call)",
        "field `regs` of `Machine` is private to its module, and the code generated for the JIT cannot read it",
        "declare the field (and `Machine`) `pub(crate)`: the JIT's glue, a module at the crate root, reads the field's offset; `pub(crate)` keeps it inside the crate",
        "#[dont_look_inside] function `fresh_id` is private to its module, and the code generated for the JIT cannot call it",
        "declare it `pub(crate) fn fresh_id`: the JIT's glue, a module at the crate root, calls it by path; `pub(crate)` keeps it inside the crate",
        "method `checked_div` of `u32` is not supported in traced code",
        "call it from a #[dont_look_inside] function; the methods of this type traced code may call are `wrapping_add`, `wrapping_sub`",
        "`nand` is a method of trait `Nand`: traits are not supported in traced code",
        "write it as a plain function (`fn nand(..)`) or, on your own type, as an inherent method (`impl Type { fn nand(..) }`), and call that",
        "`std::io::stdin` does I/O, which is not supported in traced code",
        "do I/O in a #[dont_look_inside] function and call it",
        "`pow` is not supported in traced code yet",
        "comparing values of type `&str` is not supported in traced code",
        "compare them in a #[dont_look_inside] function, or compare the items one by one in a loop (`a.len() == b.len()`, then `a.as_bytes()[i]` or `a[i]`)",
        "rustc rejects this too: fix what `cargo check` reports first",
        "which traced code cannot use, at the field's first use",
        "type `Kind` is private to its module, and the code generated for the JIT cannot name it",
        "declare it `pub(crate) enum Kind`: the JIT's glue, a module at the crate root, names the types traced code uses; `pub(crate)` keeps it inside the crate",
    ] {
        assert!(
            doc.contains(listed),
            "docs/subset.md does not list {listed:?}"
        );
    }
}

/// The Universal Machine with its registers in a local array, a red, as a
/// first draft of `targets/um` had them. One problem: traced code cannot
/// build an array (nor take the address of a local to index it). It used
/// to give 19 errors: the refused `let`, 16 "taking a reference to the
/// local variable `regs`" at its uses, and "`regs` is not in scope" at
/// both merge points, which is false.
const UM_LOCAL_REGISTERS: &str = r#"use metatrace::prelude::*;

metatrace::include_jit!();

pub struct Machine {
    pub program: Vec<u32>,
}

#[jit_driver(greens = [pc, machine], reds = [regs])]
pub fn run(machine: &Machine) -> u32 {
    let mut pc: usize = 0;
    let mut regs: [u32; 8] = [0; 8];
    loop {
        jit_merge_point!();
        let insn = machine.program[pc];
        pc += 1;
        let a = ((insn >> 6) & 7) as usize;
        let b = ((insn >> 3) & 7) as usize;
        let c = (insn & 7) as usize;
        match insn >> 28 {
            3 => regs[a] = regs[b].wrapping_add(regs[c]),
            7 => return regs[0],
            12 => {
                pc = regs[c] as usize;
                can_enter_jit!();
            }
            _ => {}
        }
    }
}

fn main() {
    let m = Machine { program: vec![0x3000_0000, 0x7000_0000] };
    println!("{}", run(&m));
}
"#;

#[test]
fn universal_machine_with_local_registers() {
    rejects_with_help(
        UM_LOCAL_REGISTERS,
        &[(
            "12:30: arrays cannot be built in traced code",
            "keep the array in a struct reached through a reference",
        )],
    );
}

/// A hint on a function traced code never reaches does nothing: the
/// crate translates, with a warning at the function's name (issue 15:
/// "a hint on an item traced code never reaches: a warning").
#[test]
fn a_hint_on_an_unreached_function_is_a_warning() {
    let src = r#"use metatrace::prelude::*;

#[elidable]
fn unused_helper(x: u32) -> u32 {
    x + 1
}

#[dont_look_inside]
#[unroll_safe]
fn native_only() {}

#[elidable]
fn used_helper(x: u32) -> u32 {
    x * 2
}

#[jit_driver(greens = [pc], reds = [acc, n])]
pub fn run(n: u32) -> u32 {
    let mut pc: u32 = 0;
    let mut acc: u32 = 0;
    while pc < n {
        jit_merge_point!();
        acc = acc.wrapping_add(used_helper(pc));
        pc += 1;
    }
    acc
}
"#;
    let t = metatrace_translator::pipeline::translate_source("warn.rs", src)
        .unwrap_or_else(|e| panic!("translates:\n{}", e.render()));
    let got: Vec<String> = t.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(
        got,
        [
            "4:4: #[elidable] on `unused_helper`, which traced code never reaches: the hint has no effect",
            "10:4: #[dont_look_inside] and #[unroll_safe] on `native_only`, which traced code never reaches: the hint has no effect",
        ]
    );
    assert!(t.warnings.iter().all(|w| w
        .help
        .as_deref()
        .is_some_and(|h| h.contains("remove the hint"))));
    assert!(t
        .render_warnings()
        .contains("warning: #[elidable] on `unused_helper`"));
}
