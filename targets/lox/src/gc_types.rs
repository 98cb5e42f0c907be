//! What the collector needs to know about this VM's types, WRITTEN BY
//! HAND FOR NOW: the scanning functions (`metatrace::gc::Trace`) of every
//! type that holds a `Gc`, and `GcType` (`metatrace::gc_type!`) for the
//! types `Gc::new` allocates.
//!
//! The translator will generate exactly these impls from the types'
//! fields and enum variants (DESIGN §8, docs/gc.md "Objects"): when it
//! translates this crate, this module is deleted and nothing else
//! changes. Nothing else in the VM names `Trace` or `GcType`, so that the
//! rest reads as a Rust programmer writes a VM on `metatrace::Gc`.
//!
//! Each impl reports every field that can hold a `Gc`, directly or
//! inside an enum payload, an `Option`, a `Vec` or a `GcCell`; fields
//! without one (numbers, `String`s, the bytecode) are skipped. Two of the
//! types are not heap objects but roots: the `Vm` (the value stack, the
//! frames, the globals, the open upvalues; the interned strings are a
//! weak table, `strings.rs`) and the compiler's functions in progress.
//! RPython's counterpart is the type layout gctypelayout.py derives for
//! every GC type of the translated interpreter.

use crate::compiler::FunctionCompiler;
use crate::object::{
    BoundMethod, Chunk, Class, Closure, Entry, Function, Instance, LoxString, Native, Obj, Table,
    Upvalue, UpvalueState, Value,
};
use crate::vm::{CallFrame, Vm};
use metatrace::gc::Trace;

type Visit<'a> = &'a mut dyn FnMut(*mut usize);

unsafe impl Trace for Value {
    fn trace(&self, visit: Visit) {
        if let Value::Obj(obj) = self {
            obj.trace(visit)
        }
    }
}

unsafe impl Trace for Obj {
    fn trace(&self, visit: Visit) {
        match self {
            Obj::String(o) => o.trace(visit),
            Obj::Function(o) => o.trace(visit),
            Obj::Native(o) => o.trace(visit),
            Obj::Closure(o) => o.trace(visit),
            Obj::Class(o) => o.trace(visit),
            Obj::Instance(o) => o.trace(visit),
            Obj::BoundMethod(o) => o.trace(visit),
        }
    }
}

unsafe impl Trace for LoxString {
    fn trace(&self, _: Visit) {}
}

unsafe impl Trace for Chunk {
    fn trace(&self, visit: Visit) {
        self.constants.trace(visit)
    }
}

unsafe impl Trace for Function {
    fn trace(&self, visit: Visit) {
        self.chunk.trace(visit);
        self.name.trace(visit)
    }
}

unsafe impl Trace for Native {
    fn trace(&self, _: Visit) {}
}

unsafe impl Trace for Closure {
    fn trace(&self, visit: Visit) {
        self.function.trace(visit);
        self.upvalues.trace(visit)
    }
}

unsafe impl Trace for UpvalueState {
    fn trace(&self, visit: Visit) {
        if let UpvalueState::Closed(value) = self {
            value.trace(visit)
        }
    }
}

unsafe impl Trace for Upvalue {
    fn trace(&self, visit: Visit) {
        self.state.trace(visit)
    }
}

unsafe impl Trace for Class {
    fn trace(&self, visit: Visit) {
        self.name.trace(visit);
        self.methods.trace(visit)
    }
}

unsafe impl Trace for Instance {
    fn trace(&self, visit: Visit) {
        self.class.trace(visit);
        self.fields.trace(visit)
    }
}

unsafe impl Trace for BoundMethod {
    fn trace(&self, visit: Visit) {
        self.receiver.trace(visit);
        self.method.trace(visit)
    }
}

unsafe impl Trace for Entry {
    fn trace(&self, visit: Visit) {
        self.key.trace(visit);
        self.value.trace(visit)
    }
}

unsafe impl Trace for Table {
    fn trace(&self, visit: Visit) {
        self.entries.trace(visit)
    }
}

metatrace::gc_type!(
    LoxString,
    Function,
    Native,
    Closure,
    Upvalue,
    Class,
    Instance,
    BoundMethod
);

unsafe impl Trace for CallFrame {
    fn trace(&self, visit: Visit) {
        self.closure.trace(visit)
    }
}

/// The VM is a root (`Vm::new` registers it). Not `strings`: the
/// interner must not keep strings alive.
unsafe impl Trace for Vm {
    fn trace(&self, visit: Visit) {
        self.stack.trace(visit);
        self.frames.trace(visit);
        self.globals.trace(visit);
        self.init_string.trace(visit);
        self.open_upvalues.trace(visit)
    }
}

/// The compiler's functions in progress are a root while it runs: their
/// constants (strings, finished inner functions) are on the Rust heap.
unsafe impl Trace for FunctionCompiler<'_> {
    fn trace(&self, visit: Visit) {
        self.chunk.trace(visit);
        self.name.trace(visit)
    }
}
