//! The VM's state (clox's `VM` and `CallFrame`), its runtime errors, and
//! how they are reported. The loop that runs it is `interp.rs`; calls and
//! upvalues are `calls.rs`.

use crate::globals::{define_global, Globals};
use crate::natives::NATIVES;
use crate::object::{Closure, LoxString, Native, Obj, Upvalue, Value};
use crate::printing::Output;
use crate::strings::Interner;
use metatrace::{Gc, Root};

/// The deepest call stack (clox's FRAMES_MAX): one call more is a "Stack
/// overflow." error.
pub const FRAMES_MAX: usize = 64;

/// A function activation.
#[derive(Debug, Clone, Copy)]
pub struct CallFrame {
    pub closure: Gc<Closure>,
    /// The next instruction, while another frame runs (the running frame's
    /// is a local of the interpreter loop, saved here at calls and errors).
    pub ip: usize,
    /// Where its slots start in `Vm::stack`: slot 0 is the callee (or
    /// `this`), then the arguments and locals.
    pub base: usize,
}

/// The whole state of a Lox program. Globals, interned strings and the
/// output last across the lines of a REPL session. It lives in a
/// [`Root`] (see [`Vm::new`]): the collector finds the values on its
/// stack, its frames, globals and open upvalues there.
pub struct Vm {
    pub stack: Vec<Value>,
    pub frames: Vec<CallFrame>,
    /// Constant in traces (`promote`d where read): see `globals.rs`.
    pub globals: Gc<Globals>,
    pub strings: Interner,
    /// `"init"`, the initializer's name, looked up at every instantiation.
    pub init_string: Gc<LoxString>,
    /// The upvalues still pointing into `stack`, by increasing slot.
    pub open_upvalues: Vec<Gc<Upvalue>>,
    pub out: Output,
}

/// A runtime error: what went wrong (the message's arguments), raised by
/// the interpreter loop with the faulting frame's `ip` saved.
#[derive(Debug, Clone, Copy)]
pub enum RuntimeError {
    OperandMustBeNumber,
    OperandsMustBeNumbers,
    OperandsMustBeNumbersOrStrings,
    UndefinedVariable(Gc<LoxString>),
    UndefinedProperty(Gc<LoxString>),
    OnlyInstancesHaveProperties,
    OnlyInstancesHaveFields,
    OnlyInstancesHaveMethods,
    WrongArity { expected: usize, got: usize },
    StackOverflow,
    NotCallable,
    SuperclassMustBeClass,
}

impl RuntimeError {
    /// The message, as clox words it.
    pub fn message(self) -> String {
        match self {
            RuntimeError::OperandMustBeNumber => "Operand must be a number.".to_string(),
            RuntimeError::OperandsMustBeNumbers => "Operands must be numbers.".to_string(),
            RuntimeError::OperandsMustBeNumbersOrStrings => {
                "Operands must be two numbers or two strings.".to_string()
            }
            RuntimeError::UndefinedVariable(name) => {
                format!("Undefined variable '{}'.", name.chars)
            }
            RuntimeError::UndefinedProperty(name) => {
                format!("Undefined property '{}'.", name.chars)
            }
            RuntimeError::OnlyInstancesHaveProperties => {
                "Only instances have properties.".to_string()
            }
            RuntimeError::OnlyInstancesHaveFields => "Only instances have fields.".to_string(),
            RuntimeError::OnlyInstancesHaveMethods => "Only instances have methods.".to_string(),
            RuntimeError::WrongArity { expected, got } => {
                format!("Expected {expected} arguments but got {got}.")
            }
            RuntimeError::StackOverflow => "Stack overflow.".to_string(),
            RuntimeError::NotCallable => "Can only call functions and classes.".to_string(),
            RuntimeError::SuperclassMustBeClass => "Superclass must be a class.".to_string(),
        }
    }
}

impl Vm {
    /// A VM with the natives defined, registered as a root of the
    /// collector (its `Vec`s are on the Rust heap, out of sight of the
    /// stack scan).
    pub fn new() -> Root<Vm> {
        let mut strings = Interner::default();
        let init_string = strings.intern("init");
        let mut vm = Root::new(Vm {
            stack: Vec::with_capacity(FRAMES_MAX * 256),
            frames: Vec::with_capacity(FRAMES_MAX),
            globals: Gc::new(Globals::new()),
            strings,
            init_string,
            open_upvalues: Vec::new(),
            out: Output::default(),
        });
        for (name, function) in NATIVES {
            let name = vm.strings.intern(name);
            let native = Gc::new(Native { function });
            define_global(vm.globals, name, Value::Obj(Obj::Native(native)));
        }
        vm
    }

    /// Empties the stacks after a runtime error (the REPL goes on with
    /// the globals).
    pub fn reset_stack(&mut self) {
        self.stack.clear();
        self.frames.clear();
        self.open_upvalues.clear();
    }

    /// The report of runtime error `error`: its message, then a line per
    /// active call, innermost first (`[line N] in f()` or `in script`).
    pub fn stack_trace(&self, error: RuntimeError) -> String {
        let mut text = error.message();
        text.push('\n');
        for frame in self.frames.iter().rev() {
            let function = &frame.closure.function;
            // `ip` is past the instruction that was running.
            let line = function.chunk.lines[frame.ip.saturating_sub(1)];
            match function.name {
                Some(name) => text.push_str(&format!("[line {line}] in {}()\n", name.chars)),
                None => text.push_str(&format!("[line {line}] in script\n")),
            }
        }
        text
    }
}
