//! Calls, method lookup and upvalues (clox's `callValue`, `invoke`,
//! `bindMethod`, `captureUpvalue`, `closeUpvalues`). Traced code: the
//! interpreter loop calls these for OP_CALL, OP_INVOKE, property reads,
//! OP_CLOSURE and returns.
//!
//! A call of a Lox function pushes a `CallFrame` and returns; the
//! interpreter loop then continues in the new frame, as clox's does (no
//! Rust recursion per Lox call).

use crate::natives::call_native;
use crate::object::{BoundMethod, Class, Closure, LoxString, Obj, Upvalue, UpvalueState, Value};
use crate::shapes::{get_field, new_instance};
use crate::vm::{CallFrame, RuntimeError, Vm, FRAMES_MAX};
use metatrace::prelude::*;
use metatrace::{Gc, GcCell};

/// The value `distance` slots below the top of the stack.
pub fn peek(vm: &Vm, distance: usize) -> Value {
    vm.stack[vm.stack.len() - 1 - distance]
}

/// Calls `callee` with the `argc` arguments on top of the stack (the
/// callee is just below them): pushes a frame for a Lox function, makes
/// an instance for a class, runs a native at once.
pub fn call_value(vm: &mut Vm, callee: Value, argc: usize) -> Result<(), RuntimeError> {
    let callee_slot = vm.stack.len() - argc - 1;
    match callee {
        Value::Obj(Obj::Closure(closure)) => call(vm, closure, argc),
        Value::Obj(Obj::BoundMethod(bound)) => {
            vm.stack[callee_slot] = bound.receiver;
            call(vm, bound.method, argc)
        }
        Value::Obj(Obj::Class(class)) => {
            let class = promote(class);
            let instance = new_instance(class);
            vm.stack[callee_slot] = Value::Obj(Obj::Instance(instance));
            let initializer = find_method(class, promote(vm.init_string));
            match initializer {
                Some(method) => call(vm, as_closure(method), argc),
                None => {
                    if argc != 0 {
                        return Err(RuntimeError::WrongArity {
                            expected: 0,
                            got: argc,
                        });
                    }
                    Ok(())
                }
            }
        }
        Value::Obj(Obj::Native(native)) => {
            let result = call_native(native.function);
            vm.stack.truncate(callee_slot);
            vm.stack.push(result);
            Ok(())
        }
        _ => Err(RuntimeError::NotCallable),
    }
}

/// Pushes the frame of a call of `closure` with `argc` arguments.
pub fn call(vm: &mut Vm, closure: Gc<Closure>, argc: usize) -> Result<(), RuntimeError> {
    let arity = closure.function.arity;
    if argc != arity {
        return Err(RuntimeError::WrongArity {
            expected: arity,
            got: argc,
        });
    }
    if vm.frames.len() == FRAMES_MAX {
        return Err(RuntimeError::StackOverflow);
    }
    let base = vm.stack.len() - argc - 1;
    vm.frames.push(CallFrame {
        closure,
        ip: 0,
        base,
    });
    Ok(())
}

/// `receiver.name(args)` (OP_INVOKE): a field holding a callable, else a
/// method, called without making a bound method.
pub fn invoke(vm: &mut Vm, name: Gc<LoxString>, argc: usize) -> Result<(), RuntimeError> {
    let Value::Obj(Obj::Instance(instance)) = peek(vm, argc) else {
        return Err(RuntimeError::OnlyInstancesHaveMethods);
    };
    if let Some(value) = get_field(instance, name) {
        let callee_slot = vm.stack.len() - argc - 1;
        vm.stack[callee_slot] = value;
        return call_value(vm, value, argc);
    }
    invoke_from_class(vm, instance.class, name, argc)
}

/// Calls method `name` of `class` on the receiver below the arguments.
pub fn invoke_from_class(
    vm: &mut Vm,
    class: Gc<Class>,
    name: Gc<LoxString>,
    argc: usize,
) -> Result<(), RuntimeError> {
    let method = find_method(promote(class), name);
    match method {
        Some(method) => call(vm, as_closure(method), argc),
        None => Err(RuntimeError::UndefinedProperty(name)),
    }
}

/// Replaces the receiver on top of the stack by its method `name` of
/// `class`, bound to it.
pub fn bind_method(vm: &mut Vm, class: Gc<Class>, name: Gc<LoxString>) -> Result<(), RuntimeError> {
    let method = find_method(promote(class), name);
    let Some(method) = method else {
        return Err(RuntimeError::UndefinedProperty(name));
    };
    let bound = Gc::new(BoundMethod {
        receiver: peek(vm, 0),
        method: as_closure(method),
    });
    let top = vm.stack.len() - 1;
    vm.stack[top] = Value::Obj(Obj::BoundMethod(bound));
    Ok(())
}

/// The open upvalue for stack slot `slot`: the existing one, so that
/// closures share the variable, or a new one.
pub fn capture_upvalue(vm: &mut Vm, slot: usize) -> Gc<Upvalue> {
    let mut i = vm.open_upvalues.len();
    while i > 0 {
        let upvalue = vm.open_upvalues[i - 1];
        let open = open_slot(upvalue);
        if open == slot {
            return upvalue;
        }
        if open < slot {
            break;
        }
        i -= 1;
    }
    let created = Gc::new(Upvalue {
        state: GcCell::new(UpvalueState::Open(slot)),
    });
    vm.open_upvalues.insert(i, created);
    created
}

/// Closes the open upvalues of slots `last` and above: their variables
/// leave the stack, so the values move into the upvalues.
pub fn close_upvalues(vm: &mut Vm, last: usize) {
    loop {
        let n = vm.open_upvalues.len();
        if n == 0 {
            return;
        }
        let upvalue = vm.open_upvalues[n - 1];
        let slot = open_slot(upvalue);
        if slot < last {
            return;
        }
        upvalue.state.set(UpvalueState::Closed(vm.stack[slot]));
        vm.open_upvalues.pop();
    }
}

/// The slot of an upvalue of `open_upvalues` (they are all open).
fn open_slot(upvalue: Gc<Upvalue>) -> usize {
    match upvalue.state.get() {
        UpvalueState::Open(slot) => slot,
        UpvalueState::Closed(_) => unreachable!("a closed upvalue in the open list"),
    }
}

/// Method `name` of `class`. Elidable: a class's methods are all set
/// while its declaration runs (OP_INHERIT and OP_METHOD, which no user
/// code interleaves with), before any lookup can reach it, and never
/// change afterwards; so with the class promoted, the lookup is a
/// constant in a trace (PyPy promotes the map of an object the same way).
#[elidable]
pub fn find_method(class: Gc<Class>, name: Gc<LoxString>) -> Option<Value> {
    class.methods.borrow().get(name)
}

/// A method of a class's table (the compiler only puts closures there).
pub fn as_closure(value: Value) -> Gc<Closure> {
    match value {
        Value::Obj(Obj::Closure(closure)) => closure,
        _ => unreachable!("methods are closures"),
    }
}

/// A value the compiler guarantees is a class (the operand of
/// OP_GET_SUPER and OP_SUPER_INVOKE, the class under OP_METHOD).
pub fn as_class(value: Value) -> Gc<Class> {
    match value {
        Value::Obj(Obj::Class(class)) => class,
        _ => unreachable!("expected a class"),
    }
}
