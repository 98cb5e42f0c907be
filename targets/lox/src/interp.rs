//! The interpreter loop (clox's `run`): the portal the JIT traces.
//!
//! Written in the translator's subset (docs/subset.md): no closures,
//! traits, generics, `Rc`/`RefCell` or `HashMap`; values are a `Copy`
//! enum kept in `Vec<Value>`; objects are `Gc` pointers mutated through
//! `GcCell`s. What must stay native is behind `#[dont_look_inside]`
//! (printing, string concatenation and interning, `clock()`, growing a
//! table).
//!
//! Hints, placed as in an RPython interpreter: the green key is the
//! position in the user's program, `ip` with the `function` whose chunk it
//! indexes (both become constants in a trace, so the opcode dispatch and
//! the operand reads fold away: `code_at` and `constant` are
//! `#[elidable]`, since a function's chunk never changes once compiled).
//! `can_enter_jit!()` is on OP_LOOP, the only backward jump Lox has, and
//! `jit_function_entry!()` where a call enters a Lox function. The
//! reds are the running frame's closure and stack base, and the VM. Calls
//! push a frame and continue in this same loop, as clox's do, so a trace
//! follows a Lox call into the callee.
//!
//! With `recursive` (`lox --recursive-calls`, a green: constant in every
//! trace), a call of a Lox function is a native call of `run` instead, as
//! PyPy's interpreter calls itself: each `run` runs one Lox frame and
//! returns at its `OP_RETURN`. Traces then start at a function's entry
//! and end at its return (`finish`), and the calls in them are calls of
//! the callee's compiled code (`call_assembler`; docs/jit.md, "Recursive
//! portal calls").

use crate::calls::{
    as_class, bind_method, call_value, capture_upvalue, close_upvalues, invoke, invoke_from_class,
    peek,
};
use crate::chunk::*;
use crate::globals::{assign_global, define_global, get_global};
use crate::object::{
    values_equal, Class, Closure, Function, LoxString, Obj, Shape, Table, UpvalueState, Value,
};
use crate::printing::print_value;
use crate::shapes::{get_field, set_field};
use crate::strings::concatenate;
use crate::vm::{CallFrame, RuntimeError, Vm};
use metatrace::prelude::*;
use metatrace::{Gc, GcCell};

/// Runs the frame on top of `vm.frames` until it (the script) returns,
/// or until a runtime error. On error, `ip` of the top frame is saved and
/// the frames are left as they were, for the stack trace. With
/// `recursive`, until that frame returns (its result pushed on the
/// stack); the calls it makes run in calls of `run`.
#[jit_driver(greens = [ip, function, recursive], reds = [closure, base, vm])]
pub fn run(vm: &mut Vm, recursive: bool) -> Result<(), RuntimeError> {
    let frame = top_frame(vm);
    let mut closure = frame.closure;
    let mut function = closure.function;
    let mut ip = frame.ip;
    let mut base = frame.base;
    if recursive && ip == 0 {
        // A Lox function starts here: hot ones are traced from their
        // entry to their return.
        jit_function_entry!();
    }
    loop {
        jit_merge_point!();
        let op = code_at(function, ip);
        ip += 1;
        match op {
            OP_CONSTANT => {
                let value = constant(function, code_at(function, ip));
                ip += 1;
                vm.stack.push(value);
            }
            OP_NIL => vm.stack.push(Value::Nil),
            OP_TRUE => vm.stack.push(Value::Bool(true)),
            OP_FALSE => vm.stack.push(Value::Bool(false)),
            OP_POP => {
                vm.stack.pop();
            }
            OP_GET_LOCAL => {
                let slot = code_at(function, ip) as usize;
                ip += 1;
                let value = vm.stack[base + slot];
                vm.stack.push(value);
            }
            OP_SET_LOCAL => {
                let slot = code_at(function, ip) as usize;
                ip += 1;
                vm.stack[base + slot] = peek(vm, 0);
            }
            OP_GET_GLOBAL => {
                let name = string_constant(function, code_at(function, ip));
                ip += 1;
                match get_global(promote(vm.globals), name) {
                    Some(value) => vm.stack.push(value),
                    None => return Err(fail(vm, ip, RuntimeError::UndefinedVariable(name))),
                }
            }
            OP_DEFINE_GLOBAL => {
                let name = string_constant(function, code_at(function, ip));
                ip += 1;
                let value = peek(vm, 0);
                define_global(promote(vm.globals), name, value);
                vm.stack.pop();
            }
            OP_SET_GLOBAL => {
                let name = string_constant(function, code_at(function, ip));
                ip += 1;
                let value = peek(vm, 0);
                if !assign_global(promote(vm.globals), name, value) {
                    return Err(fail(vm, ip, RuntimeError::UndefinedVariable(name)));
                }
            }
            OP_GET_UPVALUE => {
                let slot = code_at(function, ip) as usize;
                ip += 1;
                let upvalue = closure.upvalues.borrow()[slot];
                let value = match upvalue.state.get() {
                    UpvalueState::Open(index) => vm.stack[index],
                    UpvalueState::Closed(value) => value,
                };
                vm.stack.push(value);
            }
            OP_SET_UPVALUE => {
                let slot = code_at(function, ip) as usize;
                ip += 1;
                let value = peek(vm, 0);
                let upvalue = closure.upvalues.borrow()[slot];
                match upvalue.state.get() {
                    UpvalueState::Open(index) => vm.stack[index] = value,
                    UpvalueState::Closed(_) => upvalue.state.set(UpvalueState::Closed(value)),
                }
            }
            OP_GET_PROPERTY => {
                let name = string_constant(function, code_at(function, ip));
                ip += 1;
                let Value::Obj(Obj::Instance(instance)) = peek(vm, 0) else {
                    return Err(fail(vm, ip, RuntimeError::OnlyInstancesHaveProperties));
                };
                match get_field(instance, name) {
                    Some(value) => {
                        let top = vm.stack.len() - 1;
                        vm.stack[top] = value;
                    }
                    None => {
                        if let Err(error) = bind_method(vm, instance.class, name) {
                            return Err(fail(vm, ip, error));
                        }
                    }
                }
            }
            OP_SET_PROPERTY => {
                let name = string_constant(function, code_at(function, ip));
                ip += 1;
                let Value::Obj(Obj::Instance(instance)) = peek(vm, 1) else {
                    return Err(fail(vm, ip, RuntimeError::OnlyInstancesHaveFields));
                };
                let value = peek(vm, 0);
                set_field(instance, name, value);
                // The assignment's value replaces the instance.
                vm.stack.pop();
                let top = vm.stack.len() - 1;
                vm.stack[top] = value;
            }
            OP_GET_SUPER => {
                let name = string_constant(function, code_at(function, ip));
                ip += 1;
                let superclass = pop_class(vm);
                if let Err(error) = bind_method(vm, superclass, name) {
                    return Err(fail(vm, ip, error));
                }
            }
            OP_EQUAL => {
                let b = pop(vm);
                let top = vm.stack.len() - 1;
                vm.stack[top] = Value::Bool(values_equal(vm.stack[top], b));
            }
            OP_GREATER | OP_LESS | OP_SUBTRACT | OP_MULTIPLY | OP_DIVIDE => {
                if let Err(error) = arithmetic(vm, op) {
                    return Err(fail(vm, ip, error));
                }
            }
            OP_ADD => match (peek(vm, 1), peek(vm, 0)) {
                (Value::Number(a), Value::Number(b)) => {
                    vm.stack.pop();
                    let top = vm.stack.len() - 1;
                    vm.stack[top] = Value::Number(a + b);
                }
                (Value::Obj(Obj::String(a)), Value::Obj(Obj::String(b))) => {
                    let result = concatenate(&mut vm.strings, a, b);
                    vm.stack.pop();
                    let top = vm.stack.len() - 1;
                    vm.stack[top] = Value::Obj(Obj::String(result));
                }
                _ => return Err(fail(vm, ip, RuntimeError::OperandsMustBeNumbersOrStrings)),
            },
            OP_NOT => {
                let top = vm.stack.len() - 1;
                vm.stack[top] = Value::Bool(vm.stack[top].is_falsey());
            }
            OP_NEGATE => {
                let top = vm.stack.len() - 1;
                match vm.stack[top] {
                    Value::Number(n) => vm.stack[top] = Value::Number(-n),
                    _ => return Err(fail(vm, ip, RuntimeError::OperandMustBeNumber)),
                }
            }
            OP_PRINT => {
                let value = pop(vm);
                print_value(&mut vm.out, value);
            }
            OP_JUMP => {
                let offset = short_at(function, ip);
                ip += 2 + offset;
            }
            OP_JUMP_IF_FALSE => {
                let offset = short_at(function, ip);
                ip += 2;
                if peek(vm, 0).is_falsey() {
                    ip += offset;
                }
            }
            OP_LOOP => {
                let offset = short_at(function, ip);
                ip = ip + 2 - offset;
                can_enter_jit!();
            }
            OP_CALL | OP_INVOKE | OP_SUPER_INVOKE => {
                call_instruction(vm, op, function, ip)?;
                if recursive && top_frame(vm).ip == 0 {
                    // The callee's frame, run to its return by a native
                    // call of the portal.
                    run(vm, recursive)?;
                }
                // Continue in the callee (or here, after a native or an
                // instantiation without `init`).
                let frame = top_frame(vm);
                closure = frame.closure;
                function = closure.function;
                ip = frame.ip;
                base = frame.base;
                if !recursive && ip == 0 {
                    // A Lox function starts here: hot ones are traced from
                    // their entry, recursive ones included.
                    jit_function_entry!();
                }
            }
            OP_CLOSURE => {
                let callee = function_constant(function, code_at(function, ip));
                ip += 1;
                // Made and pushed first, as clox does: capturing
                // allocates, and the upvalues captured so far must be
                // where the collector sees them (in the closure, on the
                // VM stack), not in a Vec of this frame.
                let made = Gc::new(Closure {
                    function: callee,
                    upvalues: GcCell::new(Vec::with_capacity(callee.upvalue_count)),
                });
                vm.stack.push(Value::Obj(Obj::Closure(made)));
                for _ in 0..callee.upvalue_count {
                    let is_local = code_at(function, ip);
                    let index = code_at(function, ip + 1) as usize;
                    ip += 2;
                    let upvalue = if is_local == 1 {
                        capture_upvalue(vm, base + index)
                    } else {
                        closure.upvalues.borrow()[index]
                    };
                    made.upvalues.borrow_mut().push(upvalue);
                }
            }
            OP_CLOSE_UPVALUE => {
                let top = vm.stack.len() - 1;
                close_upvalues(vm, top);
                vm.stack.pop();
            }
            OP_RETURN => {
                let result = pop(vm);
                close_upvalues(vm, base);
                vm.frames.pop();
                if vm.frames.is_empty() {
                    // The script's closure.
                    vm.stack.pop();
                    return Ok(());
                }
                vm.stack.truncate(base);
                vm.stack.push(result);
                if recursive {
                    // The caller's `run` goes on with its frame.
                    return Ok(());
                }
                let frame = top_frame(vm);
                closure = frame.closure;
                function = closure.function;
                ip = frame.ip;
                base = frame.base;
            }
            OP_CLASS => {
                let name = string_constant(function, code_at(function, ip));
                ip += 1;
                let empty_shape = Gc::new(Shape::empty());
                let class = Gc::new(Class {
                    name,
                    methods: GcCell::new(Table::new()),
                    empty_shape,
                });
                vm.stack.push(Value::Obj(Obj::Class(class)));
            }
            OP_INHERIT => {
                let Value::Obj(Obj::Class(superclass)) = peek(vm, 1) else {
                    return Err(fail(vm, ip, RuntimeError::SuperclassMustBeClass));
                };
                let subclass = as_class(peek(vm, 0));
                subclass
                    .methods
                    .borrow_mut()
                    .add_all(&superclass.methods.borrow());
                vm.stack.pop();
            }
            OP_METHOD => {
                let name = string_constant(function, code_at(function, ip));
                ip += 1;
                let method = peek(vm, 0);
                let class = as_class(peek(vm, 1));
                class.methods.borrow_mut().set(name, method);
                vm.stack.pop();
            }
            _ => unreachable!("unknown opcode"),
        }
    }
}

/// OP_CALL, OP_INVOKE or OP_SUPER_INVOKE at `ip` (past the opcode): reads
/// the operands, saves the caller's `ip` past them and makes the call
/// (`op` is a trace constant: the tests on it fold).
fn call_instruction(
    vm: &mut Vm,
    op: u8,
    function: Gc<Function>,
    ip: usize,
) -> Result<(), RuntimeError> {
    if op == OP_CALL {
        let argc = code_at(function, ip) as usize;
        save_ip(vm, ip + 1);
        let callee = peek(vm, argc);
        return call_value(vm, callee, argc);
    }
    let name = string_constant(function, code_at(function, ip));
    let argc = code_at(function, ip + 1) as usize;
    save_ip(vm, ip + 2);
    if op == OP_INVOKE {
        invoke(vm, name, argc)
    } else {
        let superclass = pop_class(vm);
        invoke_from_class(vm, superclass, name, argc)
    }
}

/// The bytecode at `ip` (a function's chunk never changes once compiled).
#[elidable]
fn code_at(function: Gc<Function>, ip: usize) -> u8 {
    function.chunk.code[ip]
}

/// The two-byte jump offset at `ip`.
#[elidable]
fn short_at(function: Gc<Function>, ip: usize) -> usize {
    ((function.chunk.code[ip] as usize) << 8) | function.chunk.code[ip + 1] as usize
}

/// Constant `index` of `function`.
#[elidable]
fn constant(function: Gc<Function>, index: u8) -> Value {
    function.chunk.constants[index as usize]
}

/// A name constant (the compiler makes them strings).
#[elidable]
fn string_constant(function: Gc<Function>, index: u8) -> Gc<LoxString> {
    match function.chunk.constants[index as usize] {
        Value::Obj(Obj::String(s)) => s,
        _ => unreachable!("name constants are strings"),
    }
}

/// The function constant of an OP_CLOSURE.
#[elidable]
fn function_constant(function: Gc<Function>, index: u8) -> Gc<Function> {
    match function.chunk.constants[index as usize] {
        Value::Obj(Obj::Function(f)) => f,
        _ => unreachable!("OP_CLOSURE's constant is a function"),
    }
}

fn top_frame(vm: &Vm) -> CallFrame {
    vm.frames[vm.frames.len() - 1]
}

/// Saves the running frame's `ip` (before a call pushes another frame).
fn save_ip(vm: &mut Vm, ip: usize) {
    let top = vm.frames.len() - 1;
    vm.frames[top].ip = ip;
}

/// Saves `ip` for the stack trace and returns `error`.
fn fail(vm: &mut Vm, ip: usize, error: RuntimeError) -> RuntimeError {
    save_ip(vm, ip);
    error
}

fn pop(vm: &mut Vm) -> Value {
    match vm.stack.pop() {
        Some(value) => value,
        None => unreachable!("stack underflow"),
    }
}

fn pop_class(vm: &mut Vm) -> Gc<Class> {
    let value = pop(vm);
    as_class(value)
}

/// `>`, `<`, `-`, `*`, `/` on the two numbers on top of the stack
/// (`op` is a trace constant: the `match` folds).
fn arithmetic(vm: &mut Vm, op: u8) -> Result<(), RuntimeError> {
    let (a, b) = match (peek(vm, 1), peek(vm, 0)) {
        (Value::Number(a), Value::Number(b)) => (a, b),
        _ => return Err(RuntimeError::OperandsMustBeNumbers),
    };
    let result = match op {
        OP_GREATER => Value::Bool(a > b),
        OP_LESS => Value::Bool(a < b),
        OP_SUBTRACT => Value::Number(a - b),
        OP_MULTIPLY => Value::Number(a * b),
        _ => Value::Number(a / b),
    };
    vm.stack.pop();
    let top = vm.stack.len() - 1;
    vm.stack[top] = result;
    Ok(())
}
