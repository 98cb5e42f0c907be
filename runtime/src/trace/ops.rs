//! The trace operation table: every opcode declared once with its static
//! parameters, printed name, operand kinds, result kind and class (pure,
//! memory read or write, allocation, call, guard, marker, final). In the
//! manner of LuaJIT's IRDEF and RPython's `resoperation`.
//!
//! From it come the `Opcode` enum, `is_pure`/`is_guard`/`is_final`, the
//! printer's opcode names and the parser's inverse (`printer.rs`,
//! `parser.rs`), and the verifier's arity and kind checks (`verify.rs`).
//! Adding an opcode is one entry here plus the arms that give it meaning:
//! the trace interpreter (`trace/interp.rs`), the backend
//! (`backend/x86/ops.rs`), and the tracer or pass that emits it.
//!
//! An entry reads `Name(param: Type = role, ...) "name" (args) -> result,
//! Class;`. Parameter roles: `token` (an operator or type, printed by
//! name), `descr(T)` (an index into descr table `T`, printed by the
//! descr's name), `number`, `hidden` (not printed: the `Kind` of
//! `call_result`, which its result gives). The name's `{}`s are filled by
//! the printed parameters in order. Operand and result kinds: `Int`,
//! `Ref`, `Float`, `Any` (known only with the descr tables, or any kind),
//! `scalar(p)` (the kind of `ScalarTy` parameter `p`), `kind(p)`; `(..)`
//! for any number of operands of any kind; `-> None` for no result.

use crate::jitcode::{
    AllocId, AnyId, ArrayId, CallId, CmpOp, DescrTable, EnumId, FieldId, FloatBinOp, IntBinOp,
    IntTy, JitCodeId, Kind, ScalarTy, StaticOperand,
};

/// What an operation does, for the passes that only need to know that.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpClass {
    /// No side effect and no dependence on memory: may be folded, CSE'd
    /// or dropped when unused.
    Pure,
    /// Reads memory (or the call-result buffer): dropped when unused.
    Read,
    /// Writes memory.
    Write,
    /// Allocates or frees.
    Alloc,
    /// Calls native code or the blackhole.
    Call,
    /// Leaves the trace when its condition does not hold.
    Guard,
    /// Marks a place in the trace (merge point, label); no effect.
    Marker,
    /// Ends the trace.
    Final,
}

/// The kind of an operand or a result, as the table states it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    Fixed(Kind),
    /// Decided by a descr (or any kind).
    Any,
}

/// The operand kinds of an opcode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArgKinds {
    Fixed(Vec<OpKind>),
    /// Any number, of any kinds (calls, merge points, jumps).
    Variadic,
}

/// A static parameter of an opcode, as the printer and parser see it.
pub enum Param<'a> {
    Token(&'a dyn StaticOperand),
    Descr(u16, DescrTable),
    Number(u64),
    Hidden,
}

/// Mutable access to a parameter, for the parser.
pub enum ParamMut<'a> {
    Token(&'a mut dyn StaticOperand),
    Descr(&'a mut dyn AnyId, DescrTable),
    Number(&'a mut dyn NumberParam),
    Hidden,
}

/// A numeric parameter of any width.
pub trait NumberParam {
    fn set(&mut self, v: u64) -> bool;
}

impl NumberParam for u8 {
    fn set(&mut self, v: u64) -> bool {
        u8::try_from(v).map(|v| *self = v).is_ok()
    }
}

impl NumberParam for u32 {
    fn set(&mut self, v: u64) -> bool {
        u32::try_from(v).map(|v| *self = v).is_ok()
    }
}

macro_rules! op_kind {
    (Int) => {
        OpKind::Fixed(Kind::Int)
    };
    (Ref) => {
        OpKind::Fixed(Kind::Ref)
    };
    (Float) => {
        OpKind::Fixed(Kind::Float)
    };
    (Any) => {
        OpKind::Any
    };
    (scalar($p:ident)) => {
        OpKind::Fixed($p.kind())
    };
    (kind($p:ident)) => {
        OpKind::Fixed(*$p)
    };
}

macro_rules! arg_kinds {
    (..) => { ArgKinds::Variadic };
    ($($k:ident $(($p:ident))?),*) => { ArgKinds::Fixed(vec![$(op_kind!($k $(($p))?)),*]) };
}

macro_rules! result_kind {
    (None) => { None };
    ($k:ident $(($p:ident))?) => { Some(op_kind!($k $(($p))?)) };
}

macro_rules! param {
    ($P:ident $x:ident token) => {
        $P::Token($x)
    };
    (Param $x:ident descr($t:expr)) => {
        Param::Descr($x.raw(), $t)
    };
    (ParamMut $x:ident descr($t:expr)) => {
        ParamMut::Descr($x, $t)
    };
    (Param $x:ident number) => {
        Param::Number(*$x as u64)
    };
    (ParamMut $x:ident number) => {
        ParamMut::Number($x)
    };
    ($P:ident $x:ident hidden) => {
        $P::Hidden
    };
}

macro_rules! trace_ops {
    ($(
        $(#[$doc:meta])*
        $name:ident $(( $($p:ident : $pty:ty = $prole:ident $(($($rarg:tt)*))?),* ))?
        $text:literal ($($args:tt)*) -> $res:ident $(($resp:ident))?, $class:ident;
    )*) => {
        /// The operations (declared in `trace/ops.rs`). Descr indices refer
        /// to the interpreter's `Tables`.
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum Opcode {
            $( $(#[$doc])* $name $(( $($pty),* ))?, )*
        }

        /// One blank opcode per table entry, with its printed-name template:
        /// what the parser tries a name against.
        pub(super) fn templates() -> Vec<(Opcode, &'static str)> {
            vec![$( (Opcode::$name $(( $(<$pty as Default>::default()),* ))?, $text) ),*]
        }

        impl Opcode {
            /// The printed name, with a `{}` per printed parameter.
            pub fn template(&self) -> &'static str {
                match self { $( Opcode::$name { .. } => $text, )* }
            }

            pub fn class(&self) -> OpClass {
                match self { $( Opcode::$name { .. } => OpClass::$class, )* }
            }

            /// The operand kinds.
            #[allow(unused_variables)]
            pub fn arg_kinds(&self) -> ArgKinds {
                match self { $( Opcode::$name $(( $($p),* ))? => arg_kinds!($($args)*), )* }
            }

            /// The result kind, `None` for operations without one.
            #[allow(unused_variables)]
            pub fn result_kind(&self) -> Option<OpKind> {
                match self { $( Opcode::$name $(( $($p),* ))? => result_kind!($res $(($resp))?), )* }
            }

            /// The static parameters, in order.
            #[allow(unused_variables)]
            pub fn params(&self, f: &mut dyn FnMut(Param<'_>)) {
                match self {
                    $( Opcode::$name $(( $($p),* ))? => {
                        $($( f(param!(Param $p $prole $(($($rarg)*))?)); )*)?
                    } )*
                }
            }

            /// The static parameters, mutably.
            #[allow(unused_variables)]
            pub(super) fn params_mut(&mut self, f: &mut dyn FnMut(ParamMut<'_>)) {
                match self {
                    $( Opcode::$name $(( $($p),* ))? => {
                        $($( f(param!(ParamMut $p $prole $(($($rarg)*))?)); )*)?
                    } )*
                }
            }
        }
    };
}

trace_ops! {
    /// `a op b` wrapped to `ty` (same semantics as `Insn::IntBin`).
    IntBin(op: IntBinOp = token, ty: IntTy = token) "int_{}/{}" (Int, Int) -> Int, Pure;
    IntNeg(ty: IntTy = token) "int_neg/{}" (Int) -> Int, Pure;
    IntNot(ty: IntTy = token) "int_not/{}" (Int) -> Int, Pure;
    /// Result is an int 0/1.
    IntCmp(op: CmpOp = token, ty: IntTy = token) "int_{}/{}" (Int, Int) -> Int, Pure;
    FloatBin(op: FloatBinOp = token) "float_{}" (Float, Float) -> Float, Pure;
    FloatNeg "float_neg" (Float) -> Float, Pure;
    FloatCmp(op: CmpOp = token) "float_{}" (Float, Float) -> Int, Pure;
    Cast(from: ScalarTy = token, to: ScalarTy = token) "cast/{}->{}"
        (scalar(from)) -> scalar(to), Pure;
    /// args (base) → the scalar field (`Tables::fields[descr]`).
    GetField(d: FieldId = descr(DescrTable::Field { scalar: true })) "getfield<{}>"
        (Ref) -> Any, Read;
    /// args (base, value).
    SetField(d: FieldId = descr(DescrTable::Field { scalar: true })) "setfield<{}>"
        (Ref, Any) -> None, Write;
    /// args (base) → address of the field.
    FieldAddr(d: FieldId = descr(DescrTable::Field { scalar: false })) "fieldaddr<{}>"
        (Ref) -> Ref, Pure;
    /// args (addr) → the scalar at addr.
    Load(ty: ScalarTy = token) "load/{}" (Ref) -> scalar(ty), Read;
    /// args (addr, value).
    Store(ty: ScalarTy = token) "store/{}" (Ref, scalar(ty)) -> None, Write;
    /// `Box::new`: () → fresh uninitialized memory for `Tables::allocs[descr]`.
    New(d: AllocId = descr(DescrTable::Alloc)) "new<{}>" () -> Ref, Alloc;
    /// Dropping a box: args (ptr); frees it, nothing when ptr is null.
    Free(d: AllocId = descr(DescrTable::Alloc)) "free<{}>" (Ref) -> None, Alloc;
    /// args (addr) → variant index (`Tables::enums[descr]`).
    EnumTag(d: EnumId = descr(DescrTable::Enum)) "enum_tag<{}>" (Ref) -> Int, Read;
    /// args (vec) → length of the Vec (`Tables::arrays[descr]`).
    VecLen(d: ArrayId = descr(DescrTable::Array { vec: true, scalar: false })) "vec_len<{}>"
        (Ref) -> Int, Read;
    /// args (vec) → data pointer of the Vec.
    VecPtr(d: ArrayId = descr(DescrTable::Array { vec: true, scalar: false })) "vec_ptr<{}>"
        (Ref) -> Ref, Read;
    /// args (vec, value): push (may reallocate: data pointers die).
    VecPush(d: ArrayId = descr(DescrTable::Array { vec: true, scalar: true })) "vec_push<{}>"
        (Ref, Any) -> None, Write;
    /// args (vec) → the popped item; the Vec is known to be non-empty.
    VecPopNonEmpty(d: ArrayId = descr(DescrTable::Array { vec: true, scalar: true })) "vec_pop<{}>"
        (Ref) -> Any, Write;
    /// args (vec) → capacity of the Vec.
    VecCap(d: ArrayId = descr(DescrTable::Array { vec: true, scalar: false })) "vec_cap<{}>"
        (Ref) -> Int, Read;
    /// args (vec, len): `set_len` (at most the capacity; the data pointer
    /// and the items stay).
    VecSetLen(d: ArrayId = descr(DescrTable::Array { vec: true, scalar: false }))
        "vec_set_len<{}>" (Ref, Int) -> None, Write;
    /// args (vec): `reserve(1)` (may reallocate: data pointers die).
    VecReserve(d: ArrayId = descr(DescrTable::Array { vec: true, scalar: false }))
        "vec_reserve<{}>" (Ref) -> None, Write;
    /// args (vec, len): `Vec::with_capacity(len)` written at vec, memory
    /// that holds no Vec (allocates the buffer when len is not 0).
    VecInit(d: ArrayId = descr(DescrTable::Array { vec: true, scalar: false }))
        "vec_init<{}>" (Ref, Int) -> None, Alloc;
    /// args (vec): drop the Vec at vec in place (items, then buffer).
    VecDrop(d: ArrayId = descr(DescrTable::Array { vec: true, scalar: false }))
        "vec_drop<{}>" (Ref) -> None, Alloc;
    /// args (dst, src): move the Vec at src to dst (which holds none),
    /// leaving an empty Vec at src.
    VecTake(d: ArrayId = descr(DescrTable::Array { vec: true, scalar: false }))
        "vec_take<{}>" (Ref, Ref) -> None, Alloc;
    /// args (ptr, idx) → address of item idx (item size from the descr).
    ItemAddr(d: ArrayId = descr(DescrTable::Array { vec: false, scalar: false })) "itemaddr<{}>"
        (Ref, Int) -> Ref, Pure;
    /// args (ptr, idx) → the scalar item.
    GetItem(d: ArrayId = descr(DescrTable::Array { vec: false, scalar: true })) "getitem<{}>"
        (Ref, Int) -> Any, Read;
    /// args (ptr, idx, value).
    SetItem(d: ArrayId = descr(DescrTable::Array { vec: false, scalar: true })) "setitem<{}>"
        (Ref, Int, Any) -> None, Write;
    /// args (string) → data pointer of the `String`.
    StringPtr "string_ptr" (Ref) -> Ref, Read;
    /// args (string) → length of the `String`.
    StringLen "string_len" (Ref) -> Int, Read;
    /// Call native code (`Tables::calls[descr]`): args are the exploded
    /// arguments; results land in the call-result buffer.
    CallResidual(d: CallId = descr(DescrTable::Call)) "call_residual<{}>" (..) -> None, Call;
    /// Like `CallResidual`, but for a pure (`#[elidable]`) callee given by
    /// its jitcode: the backend calls the blackhole on it. Results in the
    /// call-result buffer.
    CallPure(d: JitCodeId = descr(DescrTable::Jitcode)) "call_pure<{}>" (..) -> None, Call;
    /// A recursive call of the portal of driver `driver` (RPython's
    /// `call_assembler`), from its merge point: args are the merge point's
    /// arguments (greens then reds); the compiled code of that green key
    /// runs, or the blackhole (`jit::portal_call_at`), to the portal's
    /// return. Results (the portal's exploded result) in the call-result
    /// buffer. It may write anything and collect garbage.
    CallAssembler(driver: u32 = number) "call_assembler<{}>" (..) -> None, Call;
    /// Read result `n` of the last call from the call-result buffer.
    CallResult(n: u8 = number, k: Kind = hidden) "call_result#{}" () -> kind(k), Read;
    /// Guards: leave the trace when the condition does not hold. The
    /// operation's `guard` field indexes `Trace::guards`.
    GuardTrue "guard_true" (Int) -> None, Guard;
    GuardFalse "guard_false" (Int) -> None, Guard;
    /// args (value, constant).
    GuardValue "guard_value" (Any, Any) -> None, Guard;
    /// args (the address of the trace's invalid flag, a constant): fails
    /// once a quasi-immutable field the trace read as a constant was
    /// written (`quasiimmut.rs`). Never gets a bridge.
    GuardNotInvalidated "guard_not_invalidated" (Int) -> None, Guard;
    /// Marks where an iteration of the interpreter loop starts (a merge
    /// point inside the trace, of the portal jitcode at pc): for the log
    /// and for loop peeling. Args: the greens.
    DebugMergePoint(jitcode: JitCodeId = descr(DescrTable::Jitcode), pc: u32 = number)
        "debug_merge_point<{} @{}>" (..) -> None, Marker;
    /// Only inside loop peeling (`optimizer::unroll`), never compiled or
    /// interpreted: the boundary between the preamble and the peeled
    /// iteration. Its args are the values the peeled iteration starts
    /// from, one per slot; the final `Jump` then passes one value per
    /// label arg (what that slot holds one iteration later) instead of one
    /// per input. Passes treat it as a use of its args without effects.
    Label "label" (..) -> None, Marker;
    /// End of a loop: args are the values of the inputs for the next
    /// iteration (with a `Label`: of the label's slots).
    Jump "jump" (..) -> None, Final;
    /// End of a bridge: continue in compiled loop `target` with args as its
    /// inputs.
    JumpTo(target: u32 = number) "jump_to<loop {}>" (..) -> None, Final;
    /// The portal returned (RPython's `finish`, `DoneWithThisFrame`): args
    /// are its exploded result, handed back to whoever entered the
    /// compiled code (the driver returns them as the portal's result).
    Finish "finish" (..) -> None, Final;
}

impl Opcode {
    pub fn is_guard(&self) -> bool {
        self.class() == OpClass::Guard
    }

    pub fn is_final(&self) -> bool {
        self.class() == OpClass::Final
    }

    /// Integer and float arithmetic, comparisons and casts: computed from
    /// the operands alone (`trace::interp`'s `arith`).
    pub fn is_arith(&self) -> bool {
        matches!(
            self,
            Opcode::IntBin(..)
                | Opcode::IntNeg(_)
                | Opcode::IntNot(_)
                | Opcode::IntCmp(..)
                | Opcode::FloatBin(_)
                | Opcode::FloatNeg
                | Opcode::FloatCmp(_)
                | Opcode::Cast(..)
        )
    }

    /// No side effect and no dependence on memory: may be folded, CSE'd or
    /// dropped when unused.
    pub fn is_pure(&self) -> bool {
        self.class() == OpClass::Pure
    }
}
