//! The `stackvm` interpreter proper: a stack machine over tagged values,
//! written the way a Rust programmer writes one — an `enum Value` with
//! payloads (`#[repr(u8)]`), a `Vec<Value>` stack with `push`/`pop` and
//! index stores, an `enum Op` program with payloads (rustc's layout, read
//! only), a side table of a `#[repr(C)]` enum holding values (`Slot`) and
//! an `Option<Value>` field (rustc's layout, written), and Vecs made,
//! moved and dropped by the loop (`gather`, `stash`: Vec values,
//! docs/values.md).
//!
//! Written in metatrace's restricted Rust subset; printing is a
//! `#[dont_look_inside]` residual call.

use metatrace::prelude::*;

/// A value of the machine. `#[repr(u8)]`: the JIT reads and writes its
/// tag and payload as plain fields (docs/values.md).
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    Nil,
    Bool(bool),
    Num(f64),
    /// A pair of small integers (a range `lo..hi`): a payload of two fields.
    Range(i32, i32),
}

/// A saved value. `#[repr(C)]`: a C-like tag (an `i32`) and a union of
/// the variants; the payload is itself a `Value`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Slot {
    Empty,
    Full(Value),
}

/// One instruction; jump targets and slots are checked by the parser.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    /// Push a number.
    Num(f64),
    Nil,
    True,
    False,
    /// `range lo hi`: push `Range(lo, hi)`.
    Range(i32, i32),
    /// `get i`: push a copy of stack slot `i` (a local).
    Get(usize),
    /// `set i`: stack slot `i` = the top (which stays).
    Set(usize),
    Pop,
    /// `dup`: push a copy of the top (`last`).
    Dup,
    /// `swap`: exchange the two top values (`Vec::swap`).
    Swap,
    /// `tuck`: move the top under the second (`Vec::insert`).
    Tuck,
    /// `trunc n`: keep the `n` bottom values (`Vec::truncate`).
    Trunc(usize),
    Add,
    Sub,
    Mul,
    /// `lt`: `a < b` on numbers (`Bool`).
    Lt,
    /// `eq`: equality of any two values.
    Eq,
    Not,
    /// `span`: replace a `Range(lo, hi)` by the number `hi - lo`.
    Span,
    /// `exp`: replace a number by its biased binary exponent (from its
    /// bits: `f64::to_bits`, `cast_signed`).
    Exp,
    /// `half`: replace a number by half of it, by its bits (one less in
    /// the exponent, `f64::from_bits`; for normal numbers, else unchanged).
    Half,
    /// `jf t`: pop; jump to `t` if it is `nil` or `false`.
    Jf(usize),
    /// `jmp t`.
    Jmp(usize),
    /// `keep k`: save the top (popped) in slot `k`.
    Keep(usize),
    /// `fetch k`: push the value saved in slot `k` (`nil` if none).
    Fetch(usize),
    /// `print`: pop and print.
    Print,
    /// `again`: push the value printed last (`nil` if none).
    Again,
    /// `gather n`: pop `n` values into a new Vec (`Vec::with_capacity`),
    /// put them in stack order (`reversed`, native), make a `Bag` of it (a struct owning the Vec, by value through
    /// `bag_of`), box the bag; push the total of its numbers, then its
    /// size. The box, the bag and the Vec are dropped at the end.
    Gather(usize),
    /// `stash`: pop the top; the VM's stash becomes a new Vec (`Vec::new`)
    /// of the first value stashed before (if any) and the popped one (the
    /// old stash is dropped); push the size of the new stash.
    Stash,
    /// `fill n`: pop a value; push the number of items of `vec![v; n]`
    /// that equal it (all `n`), and the number of items of
    /// `vec![v, v]` (2).
    Fill(usize),
    /// `tree n`: pop a value; build a tree of depth `n` (boxes of an enum
    /// holding boxes, `Tree`) with it at every leaf, box the tree; push
    /// its number of truthy leaves. The whole tree is dropped after.
    Tree(usize),
    Halt,
}

/// What can go wrong at run time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Error {
    /// An operation on values of the wrong type, at this pc.
    Type(usize),
    /// A pop from the empty stack, at this pc.
    Underflow(usize),
}

pub struct Vm {
    pub stack: Vec<Value>,
    pub slots: Vec<Slot>,
    /// The last value printed (written through the generated
    /// `write<Option<Value>>` helper: `Option` has rustc's layout).
    pub last: Option<Value>,
    /// What `stash` keeps: a Vec field that traced code overwrites.
    pub stash: Vec<Value>,
}

/// Values gathered by `gather`, with the total of the numbers among them:
/// a struct owning a Vec, built and moved by value in traced code.
pub struct Bag {
    pub items: Vec<Value>,
    pub total: f64,
}

/// A binary tree: an enum holding boxes (`tree`).
pub enum Tree {
    Leaf(Value),
    Pair(Box<Tree>, Box<Tree>),
}

/// A tree of depth `depth` with `v` at every leaf.
fn grow(v: Value, depth: usize) -> Tree {
    if depth == 0 {
        return Tree::Leaf(v);
    }
    let left = Box::new(grow(v, depth - 1));
    let right = Box::new(grow(v, depth - 1));
    Tree::Pair(left, right)
}

/// The number of truthy leaves of `t` (through references: nothing
/// moves).
fn leaves(t: &Tree) -> usize {
    match t {
        Tree::Leaf(v) => truthy(*v) as usize,
        Tree::Pair(l, r) => leaves(l) + leaves(r),
    }
}

/// The bag of `items` (taken by value, moved into the result).
fn bag_of(items: Vec<Value>) -> Bag {
    let mut total = 0.0;
    let mut i = 0;
    while i < items.len() {
        if let Value::Num(x) = items[i] {
            total += x;
        }
        i += 1;
    }
    Bag { items, total }
}

pub struct Output {
    pub text: Vec<u8>,
}

impl Vm {
    fn push(&mut self, v: Value) {
        self.stack.push(v);
    }

    fn pop(&mut self, pc: usize) -> Result<Value, Error> {
        match self.stack.pop() {
            Some(v) => Ok(v),
            None => Err(Error::Underflow(pc)),
        }
    }

    fn top(&self, pc: usize) -> Result<Value, Error> {
        match self.stack.last() {
            Some(v) => Ok(*v),
            None => Err(Error::Underflow(pc)),
        }
    }

    fn nums(&mut self, pc: usize) -> Result<(f64, f64), Error> {
        let b = self.pop(pc)?;
        let a = self.pop(pc)?;
        match (a, b) {
            (Value::Num(x), Value::Num(y)) => Ok((x, y)),
            _ => Err(Error::Type(pc)),
        }
    }
}

fn truthy(v: Value) -> bool {
    !matches_falsy(v)
}

fn matches_falsy(v: Value) -> bool {
    match v {
        Value::Nil | Value::Bool(false) => true,
        _ => false,
    }
}

/// Runs `code` from its first instruction; the result is the value on
/// top of the stack at `halt` (`nil` if it is empty).
#[jit_driver(greens = [pc, code], reds = [vm, out])]
pub fn run(code: &[Op], vm: &mut Vm, out: &mut Output) -> Result<Value, Error> {
    let mut pc: usize = 0;
    loop {
        jit_merge_point!();
        let op = code[pc];
        let here = pc;
        pc += 1;
        match op {
            Op::Num(n) => vm.push(Value::Num(n)),
            Op::Nil => vm.push(Value::Nil),
            Op::True => vm.push(Value::Bool(true)),
            Op::False => vm.push(Value::Bool(false)),
            Op::Range(lo, hi) => vm.push(Value::Range(lo, hi)),
            Op::Get(i) => {
                let v = vm.stack[i];
                vm.push(v);
            }
            Op::Set(i) => {
                let v = vm.top(here)?;
                vm.stack[i] = v;
            }
            Op::Pop => {
                vm.pop(here)?;
            }
            Op::Dup => {
                let v = vm.top(here)?;
                vm.push(v);
            }
            Op::Swap => {
                let n = vm.stack.len();
                if n < 2 {
                    return Err(Error::Underflow(here));
                }
                vm.stack.swap(n - 1, n - 2);
            }
            Op::Tuck => {
                let v = vm.pop(here)?;
                if vm.stack.is_empty() {
                    return Err(Error::Underflow(here));
                }
                let at = vm.stack.len() - 1;
                vm.stack.insert(at, v);
            }
            Op::Trunc(n) => vm.stack.truncate(n),
            Op::Add => {
                let (x, y) = vm.nums(here)?;
                vm.push(Value::Num(x + y));
            }
            Op::Sub => {
                let (x, y) = vm.nums(here)?;
                vm.push(Value::Num(x - y));
            }
            Op::Mul => {
                let (x, y) = vm.nums(here)?;
                vm.push(Value::Num(x * y));
            }
            Op::Lt => {
                let (x, y) = vm.nums(here)?;
                vm.push(Value::Bool(x < y));
            }
            Op::Eq => {
                let b = vm.pop(here)?;
                let a = vm.pop(here)?;
                vm.push(Value::Bool(a == b));
            }
            Op::Not => {
                let v = vm.pop(here)?;
                vm.push(Value::Bool(!truthy(v)));
            }
            Op::Span => match vm.pop(here)? {
                Value::Range(lo, hi) => vm.push(Value::Num((hi - lo) as f64)),
                _ => return Err(Error::Type(here)),
            },
            Op::Exp => match vm.pop(here)? {
                Value::Num(x) => {
                    let e = ((x.to_bits() >> 52) & 0x7ff).cast_signed();
                    vm.push(Value::Num(e as f64));
                }
                _ => return Err(Error::Type(here)),
            },
            Op::Half => match vm.pop(here)? {
                Value::Num(x) => {
                    let bits = x.to_bits();
                    let e = (bits >> 52) & 0x7ff;
                    if e > 1 && e < 0x7ff {
                        vm.push(Value::Num(f64::from_bits(bits - (1u64 << 52))));
                    } else {
                        vm.push(Value::Num(x));
                    }
                }
                _ => return Err(Error::Type(here)),
            },
            Op::Jf(t) => {
                let v = vm.pop(here)?;
                if !truthy(v) {
                    if t < pc {
                        pc = t;
                        can_enter_jit!();
                    } else {
                        pc = t;
                    }
                }
            }
            Op::Jmp(t) => {
                pc = t;
                if t < here {
                    can_enter_jit!();
                }
            }
            Op::Keep(k) => {
                let v = vm.pop(here)?;
                vm.slots[k] = Slot::Full(v);
            }
            Op::Fetch(k) => match vm.slots[k] {
                Slot::Full(v) => vm.push(v),
                Slot::Empty => vm.push(Value::Nil),
            },
            Op::Print => {
                let v = vm.pop(here)?;
                vm.last = Some(v);
                show(out, v);
            }
            Op::Again => match vm.last {
                Some(v) => vm.push(v),
                None => vm.push(Value::Nil),
            },
            Op::Gather(n) => {
                let mut items = Vec::with_capacity(n);
                let mut k = 0;
                while k < n {
                    // (`?` leaves with `items` dropped)
                    let v = vm.pop(here)?;
                    items.push(v);
                    k += 1;
                }
                // (In the order they were on the stack: a Vec value passed
                // to native code and back.)
                let items = reversed(items);
                let bag = Box::new(bag_of(items));
                vm.push(Value::Num(bag.total));
                vm.push(Value::Num(bag.items.len() as f64));
            }
            Op::Stash => {
                let v = vm.pop(here)?;
                let mut fresh = Vec::new();
                if !vm.stash.is_empty() {
                    fresh.push(vm.stash[0]);
                }
                fresh.push(v);
                let size = fresh.len();
                vm.stash = fresh;
                vm.push(Value::Num(size as f64));
            }
            Op::Fill(n) => {
                let v = vm.pop(here)?;
                let filled = vec![v; n];
                let pair = vec![v, v];
                let mut same = 0;
                let mut i = 0;
                while i < filled.len() {
                    if filled[i] == v {
                        same += 1;
                    }
                    i += 1;
                }
                vm.push(Value::Num(same as f64));
                vm.push(Value::Num(pair.len() as f64));
            }
            Op::Tree(n) => {
                let v = vm.pop(here)?;
                let tree = Box::new(grow(v, n));
                vm.push(Value::Num(leaves(&tree) as f64));
            }
            Op::Halt => {
                return match vm.stack.pop() {
                    Some(v) => Ok(v),
                    None => Ok(Value::Nil),
                };
            }
        }
    }
}

/// Writes `v` as a line: `nil`, `true`, `false`, a number as Rust's `{}`
/// prints an `f64`, a range as `lo..hi`.
#[dont_look_inside]
pub fn show(out: &mut Output, v: Value) {
    let s = format!("{}\n", text(v));
    out.text.extend_from_slice(s.as_bytes());
}

/// `items` back to front: native code given a Vec value, returning one.
#[dont_look_inside]
pub fn reversed(mut items: Vec<Value>) -> Vec<Value> {
    items.reverse();
    items
}

/// `v` as `show` prints it (without the newline).
pub fn text(v: Value) -> String {
    match v {
        Value::Nil => "nil".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Num(n) => n.to_string(),
        Value::Range(lo, hi) => format!("{lo}..{hi}"),
    }
}
