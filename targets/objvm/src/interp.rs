//! The `objvm` interpreter proper: a register machine whose values are
//! integers or pointers to pairs on the GC heap, written the way a Rust
//! programmer writes one with metatrace's collector — `enum Value` with a
//! `Gc<Pair>` payload, `Gc::new` in the loop, a `GcCell` field that
//! programs mutate (cycles included), a `Cell<i64>` counter, `Gc::ptr_eq`.
//!
//! Written in metatrace's restricted Rust subset; printing is a
//! `#[dont_look_inside]` residual call.

use metatrace::prelude::*;
use std::cell::Cell;

/// The number of registers.
pub const NREGS: usize = 8;

/// A value of the machine. `#[repr(u8)]`: the JIT reads and writes its
/// tag and payload as plain fields (docs/values.md).
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    Nil,
    Int(i64),
    Pair(Gc<Pair>),
}

/// A pair on the GC heap: `car` is fixed at creation, `cdr` may be
/// replaced (`setcdr`, through the write barrier), `visits` counts the
/// `cdr` reads.
pub struct Pair {
    pub car: Value,
    pub cdr: GcCell<Value>,
    pub visits: Cell<i64>,
}

/// An accumulator on the GC heap, made and dropped by `sum2` within one
/// instruction: it never escapes, so the JIT keeps it in registers (its
/// fields are scalars, set and read through a `Cell`).
pub struct Acc {
    pub base: i64,
    pub total: Cell<i64>,
}

/// One instruction; registers and jump targets are checked by the parser.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    /// `int r n`: r = n.
    Int(usize, i64),
    /// `nil r`.
    Nil(usize),
    /// `mov r a`.
    Mov(usize, usize),
    /// `add r a b`: integers.
    Add(usize, usize, usize),
    /// `cons r a b`: r = a new pair (a, b).
    Cons(usize, usize, usize),
    /// `car r a`.
    Car(usize, usize),
    /// `cdr r a` (counts a visit of a).
    Cdr(usize, usize),
    /// `setcdr a b`: the cdr of pair a becomes b.
    SetCdr(usize, usize),
    /// `visits r a`: how often `cdr` read pair a.
    Visits(usize, usize),
    /// `same r a b`: 1 if a and b are the same integer or the same pair.
    Same(usize, usize, usize),
    /// `sum2 r a b`: a + b through a temporary `Acc` that never escapes
    /// (the JIT's virtuals pass removes its allocation).
    Sum2(usize, usize, usize),
    /// `list3 r a`: r = the list (a a+1 a+2) of integers, made in one
    /// instruction: the first two pairs are held only in locals (in
    /// traced code, registers) while the next ones are allocated.
    List3(usize, usize),
    /// `tree r a`: r = the tree ((a . a+1) . (a+2 . a+3)) . ((a+4 . a+5)
    /// . (a+6 . a+7)): up to four pairs held only in locals at once while
    /// the next is allocated (in machine code, more live refs than
    /// callee-saved registers).
    Tree(usize, usize),
    /// `jlt a b t`: jump to t if a < b (integers).
    Jlt(usize, usize, usize),
    /// `jnil a t`: jump to t if a is nil.
    Jnil(usize, usize),
    /// `jmp t`.
    Jmp(usize),
    /// `print a`.
    Print(usize),
    Halt,
}

/// What can go wrong at run time: an operation on values of the wrong
/// type, at this pc.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TypeError(pub usize);

/// The registers live in a struct on the native stack of `execute`: the
/// collector scans it conservatively.
pub struct Vm {
    pub regs: [Value; NREGS],
}

pub struct Output {
    pub text: Vec<u8>,
}

fn int(v: Value, pc: usize) -> Result<i64, TypeError> {
    match v {
        Value::Int(i) => Ok(i),
        _ => Err(TypeError(pc)),
    }
}

fn pair(v: Value, pc: usize) -> Result<Gc<Pair>, TypeError> {
    match v {
        Value::Pair(p) => Ok(p),
        _ => Err(TypeError(pc)),
    }
}

fn cons(car: Value, cdr: Value) -> Value {
    Value::Pair(Gc::new(Pair {
        car,
        cdr: GcCell::new(cdr),
        visits: Cell::new(0),
    }))
}

fn same(a: Value, b: Value) -> bool {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Pair(p), Value::Pair(q)) => Gc::ptr_eq(p, q),
        (Value::Nil, Value::Nil) => true,
        _ => false,
    }
}

/// Runs `code` from its first instruction; the result is register 0 at
/// `halt`.
#[jit_driver(greens = [pc, code], reds = [vm, out])]
pub fn run(code: &[Op], vm: &mut Vm, out: &mut Output) -> Result<Value, TypeError> {
    let mut pc: usize = 0;
    loop {
        jit_merge_point!();
        let op = code[pc];
        let here = pc;
        pc += 1;
        match op {
            Op::Int(r, n) => vm.regs[r] = Value::Int(n),
            Op::Nil(r) => vm.regs[r] = Value::Nil,
            Op::Mov(r, a) => vm.regs[r] = vm.regs[a],
            Op::Add(r, a, b) => {
                let x = int(vm.regs[a], here)?;
                let y = int(vm.regs[b], here)?;
                vm.regs[r] = Value::Int(x.wrapping_add(y));
            }
            Op::Cons(r, a, b) => vm.regs[r] = cons(vm.regs[a], vm.regs[b]),
            Op::Car(r, a) => {
                let p = pair(vm.regs[a], here)?;
                vm.regs[r] = p.car;
            }
            Op::Cdr(r, a) => {
                let p = pair(vm.regs[a], here)?;
                p.visits.set(p.visits.get() + 1);
                vm.regs[r] = p.cdr.get();
            }
            Op::SetCdr(a, b) => {
                let p = pair(vm.regs[a], here)?;
                p.cdr.set(vm.regs[b]);
            }
            Op::Visits(r, a) => {
                let p = pair(vm.regs[a], here)?;
                vm.regs[r] = Value::Int(p.visits.get());
            }
            Op::Same(r, a, b) => {
                let s = same(vm.regs[a], vm.regs[b]);
                vm.regs[r] = Value::Int(s as i64);
            }
            Op::Sum2(r, a, b) => {
                let acc = Gc::new(Acc {
                    base: int(vm.regs[a], here)?,
                    total: Cell::new(0),
                });
                let y = int(vm.regs[b], here)?;
                acc.total.set(acc.base.wrapping_add(y));
                vm.regs[r] = Value::Int(acc.total.get());
            }
            Op::List3(r, a) => {
                let x = int(vm.regs[a], here)?;
                let last = cons(Value::Int(x.wrapping_add(2)), Value::Nil);
                let middle = cons(Value::Int(x.wrapping_add(1)), last);
                vm.regs[r] = cons(Value::Int(x), middle);
            }
            Op::Tree(r, a) => {
                let x = int(vm.regs[a], here)?;
                let l0 = cons(Value::Int(x), Value::Int(x.wrapping_add(1)));
                let l1 = cons(Value::Int(x.wrapping_add(2)), Value::Int(x.wrapping_add(3)));
                let l2 = cons(Value::Int(x.wrapping_add(4)), Value::Int(x.wrapping_add(5)));
                let l3 = cons(Value::Int(x.wrapping_add(6)), Value::Int(x.wrapping_add(7)));
                let m0 = cons(l0, l1);
                let m1 = cons(l2, l3);
                vm.regs[r] = cons(m0, m1);
            }
            Op::Jlt(a, b, t) => {
                let x = int(vm.regs[a], here)?;
                let y = int(vm.regs[b], here)?;
                if x < y {
                    pc = t;
                    if t < here {
                        can_enter_jit!();
                    }
                }
            }
            Op::Jnil(a, t) => {
                if let Value::Nil = vm.regs[a] {
                    pc = t;
                    if t < here {
                        can_enter_jit!();
                    }
                }
            }
            Op::Jmp(t) => {
                pc = t;
                if t < here {
                    can_enter_jit!();
                }
            }
            Op::Print(a) => show(out, vm.regs[a]),
            Op::Halt => return Ok(vm.regs[0]),
        }
    }
}

/// Writes `v` as a line (`text`).
#[dont_look_inside]
pub fn show(out: &mut Output, v: Value) {
    let s = format!("{}\n", text(v));
    out.text.extend_from_slice(s.as_bytes());
}

/// `nil`, an integer, or a pair as `(car . cdr)` — a cdr chain as a list
/// `(a b c)`, stopped after 8 items (`...`, so that cycles print).
pub fn text(v: Value) -> String {
    match v {
        Value::Nil => "nil".to_string(),
        Value::Int(i) => i.to_string(),
        Value::Pair(p) => {
            let mut s = format!("({}", text(p.car));
            let mut rest = p.cdr.get();
            let mut n = 1;
            loop {
                match rest {
                    Value::Nil => break,
                    Value::Pair(q) if n < 8 => {
                        s.push_str(&format!(" {}", text(q.car)));
                        rest = q.cdr.get();
                        n += 1;
                    }
                    Value::Pair(_) => {
                        s.push_str(" ...");
                        break;
                    }
                    other => {
                        s.push_str(&format!(" . {}", text(other)));
                        break;
                    }
                }
            }
            s.push(')');
            s
        }
    }
}
