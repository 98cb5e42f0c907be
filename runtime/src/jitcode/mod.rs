//! The jitcode format: the register bytecode twin of every translated
//! function, shared by the codewriter (which produces it), the generated
//! glue (which stores it as static data in the VM binary), the blackhole
//! interpreter and the meta-tracer (which execute it).
//!
//! Registers come in three kinds (int, ref, float), numbered per kind. In a
//! jitcode with `num_regs[k]` registers of kind `k`, register numbers from
//! `num_regs[k]` upwards name that kind's constants, in pool order: an
//! executor preloads them, so every operand is just a register number.
//!
//! Int registers hold `i64`s, kept canonical for their static type: an
//! `u8` value is zero-extended, an `i8` value sign-extended, `bool` is 0/1,
//! `char` its scalar value. Every int operation carries the type whose
//! wrap-around and signedness it must follow. Ref registers hold addresses
//! (`usize`), float registers `f64`s.
//!
//! Labels are instruction indices. Static jitcodes are stored encoded
//! (`encode`) and decoded once when a VM starts (`decode`).

mod encode;
mod ids;
mod insns;
mod liveness;
mod parser;
mod printer;
mod tokens;
mod verify;

pub use encode::{decode, encode, DecodeError};
pub use ids::{AllocId, AnyId, ArrayId, CallId, DriverId, EnumId, FieldId, JitCodeId, StringId};
pub use insns::{Access, DescrTable, Insn, KindOf, LabelStyle, ListStyle, Operand, OperandMut};
pub use liveness::live_in;
pub use parser::{const_texts, parse_jitcode, ParsedJitCode, RefConstText};
pub use printer::{
    distinct_name, format_insn, format_jitcode, indexed_name, JitCodeNames, RegNames,
};
pub use tokens::{
    fill_template, match_template, CallFlavor, CmpOp, FloatBinOp, IntBinOp, IntTy, Kind, PanicKind,
    StaticOperand, Token,
};
pub use verify::{verify_jitcode, DescrInfo, JitCodeShape};

pub(crate) use tokens::closing;

use std::fmt;

impl IntTy {
    pub fn bits(self) -> u32 {
        match self {
            IntTy::I8 | IntTy::U8 => 8,
            IntTy::I16 | IntTy::U16 => 16,
            IntTy::I32 | IntTy::U32 => 32,
            IntTy::I64 | IntTy::U64 | IntTy::Isize | IntTy::Usize => 64,
        }
    }

    pub fn signed(self) -> bool {
        matches!(
            self,
            IntTy::I8 | IntTy::I16 | IntTy::I32 | IntTy::I64 | IntTy::Isize
        )
    }

    /// Smallest and largest value, as i128 so that both signednesses fit.
    pub fn range(self) -> (i128, i128) {
        let bits = self.bits();
        if self.signed() {
            (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
        } else {
            (0, (1i128 << bits) - 1)
        }
    }

    /// Reduce `value` to this type's range with wrap-around, as `as` does.
    pub fn wrap(self, value: i128) -> i64 {
        let bits = self.bits();
        let masked = (value as u128) & (u128::MAX >> (128 - bits));
        if self.signed() && bits < 128 && (masked >> (bits - 1)) & 1 == 1 {
            (masked as i128 - (1i128 << bits)) as i64
        } else {
            masked as i64
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Kind {
    pub fn index(self) -> usize {
        self as usize
    }

    /// One-letter name used in printed jitcodes: `%i3`, `%r0`, `%f1`.
    pub fn letter(self) -> char {
        match self {
            Kind::Int => 'i',
            Kind::Ref => 'r',
            Kind::Float => 'f',
        }
    }

    /// The kind whose [`Kind::letter`] is `c`.
    pub fn from_letter(c: char) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.letter() == c)
    }
}

/// The static type of a scalar value: what a load reads, what an int
/// operation wraps to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScalarTy {
    Int(IntTy),
    Bool,
    Char,
    F64,
    Ref,
}

impl ScalarTy {
    pub fn kind(self) -> Kind {
        match self {
            ScalarTy::Int(_) | ScalarTy::Bool | ScalarTy::Char => Kind::Int,
            ScalarTy::F64 => Kind::Float,
            ScalarTy::Ref => Kind::Ref,
        }
    }

    /// Size in bytes in memory.
    pub fn size(self) -> usize {
        match self {
            ScalarTy::Int(t) => (t.bits() / 8) as usize,
            ScalarTy::Bool => 1,
            ScalarTy::Char => 4,
            ScalarTy::F64 | ScalarTy::Ref => 8,
        }
    }

    /// The int type whose wrap-around rules apply (bool as u8, char as u32).
    pub fn as_int(self) -> Option<IntTy> {
        match self {
            ScalarTy::Int(t) => Some(t),
            ScalarTy::Bool => Some(IntTy::U8),
            ScalarTy::Char => Some(IntTy::U32),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ScalarTy::Int(t) => t.name(),
            ScalarTy::Bool => "bool",
            ScalarTy::Char => "char",
            ScalarTy::F64 => "f64",
            ScalarTy::Ref => "ref",
        }
    }
}

/// A register number of a known kind.
pub type Reg = u16;

/// A register with its kind, for argument and result lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KReg {
    pub kind: Kind,
    pub reg: Reg,
}

/// Instruction index in a decoded jitcode.
pub type Label = u32;

/// A constant of kind ref: what it points to is static data of the VM.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RefConst {
    Null,
    /// The data pointer of a string literal.
    Str(&'static str),
}

/// A jitcode as stored in the VM binary.
#[derive(Debug)]
pub struct JitCode {
    /// Path of the function, e.g. `interp::run`.
    pub name: &'static str,
    /// Encoded instructions (see `encode`).
    pub code: &'static [u8],
    /// Registers per kind (int, ref, float), constants not included.
    pub num_regs: [u16; 3],
    pub consts_i: &'static [i64],
    pub consts_r: &'static [RefConst],
    /// Float constants by their bits.
    pub consts_f: &'static [u64],
    /// Where the (exploded) arguments arrive, in order.
    pub args: &'static [KReg],
    /// Kinds of the (exploded) results.
    pub results: &'static [Kind],
}

/// A field of a struct, tuple or enum variant, reached from a base address.
#[derive(Debug)]
pub struct FieldDescr {
    /// `Tape.cells`, `Op::Add.0`.
    pub name: &'static str,
    /// The field's type when it is a scalar (GetField/SetField); `None` for
    /// aggregate fields, which are only reached through FieldAddr.
    pub ty: Option<ScalarTy>,
    /// Where the field is: a constant offset, or (enum variants, whose
    /// layout rustc keeps to itself) a shim from base to field address.
    pub place: FieldPlace,
    /// Immutable data (the interpreter's program): readers may fold it.
    pub immutable: bool,
    /// A field of a `#[virtualizable]` struct: the optimizer keeps its
    /// stores out of peeled loops (docs/optimizer.md, "Virtualizables").
    pub virtualizable: bool,
    /// The type holding the field (`None`: unknown, as in hand-made
    /// tables). Fields of two different types share bytes only through
    /// an enum's variants (`alias::fields_may_alias`: type-based alias
    /// analysis, RPython's "a descr is a location").
    pub owner: Option<&'static MemType>,
}

/// A type whose fields the jitcodes read or write, for type-based alias
/// analysis (`FieldDescr::owner`).
#[derive(Debug)]
pub struct MemType {
    /// `Value`, `GcCell<Fields>`: for dumps.
    pub name: &'static str,
    /// Numbered per interpreter.
    pub id: u16,
    /// The types (by `id`) whose own fields may lie over this type's,
    /// with this type's offset in them when rustc's layout tells it:
    /// enums that hold it by value, in a variant or deeper (another
    /// variant's fields lie over it), and structs and tuples with a field
    /// of this type when it is a null-pointer option (that field is the
    /// option's `Some` payload).
    pub held_by: &'static [(u16, Option<usize>)],
    /// Every type (by `id`) that may hold this type by value, at any
    /// depth (structs, tuples, enums, cells; not through pointers): an
    /// object of this type lies in an object of another type only when
    /// that type is listed here.
    pub within: &'static [u16],
}

#[derive(Clone, Copy, Debug)]
pub enum FieldPlace {
    Offset(usize),
    Shim(unsafe fn(usize) -> usize),
}

impl FieldPlace {
    /// The offset of a field placed by offset (the generated tables use
    /// it in constants, where a shim is a compile error).
    pub const fn const_offset(self) -> usize {
        match self {
            FieldPlace::Offset(o) => o,
            FieldPlace::Shim(_) => panic!("metatrace: a field placed by a shim has no offset"),
        }
    }
}

/// The item type of a Vec, slice or array, and the Vec's own operations
/// (its layout is not stable, so they go through shims).
#[derive(Debug)]
pub struct ArrayDescr {
    /// Reached through a shared reference: the tracer may fold reads of
    /// the Vec header and items when the base is a constant.
    pub immutable: bool,
    /// `Vec<u8>`, `[Op]`.
    pub name: &'static str,
    /// Item type when it is a scalar.
    pub item: Option<ScalarTy>,
    pub item_size: usize,
    /// `Vec<T>` shims; `None` for slices and arrays.
    pub vec: Option<VecShims>,
    /// The items of a fixed array in a `#[virtualizable]` struct, reached
    /// only through it: they alias no other descr's items, and the
    /// optimizer keeps their stores out of peeled loops.
    pub virtualizable: bool,
}

impl ArrayDescr {
    /// The Vec shims (verified code runs Vec operations on Vec descrs
    /// only).
    pub fn vec_shims(&self) -> VecShims {
        self.vec
            .unwrap_or_else(|| panic!("metatrace: {} is not a Vec", self.name))
    }

    /// The push shim (every Vec of scalar items has one).
    pub fn push_shim(&self) -> unsafe fn(usize, u64) {
        self.vec_shims()
            .push
            .unwrap_or_else(|| panic!("metatrace: {} has no push shim", self.name))
    }

    /// The pop shim (every Vec of scalar items has one).
    pub fn pop_shim(&self) -> unsafe fn(usize) -> Option<u64> {
        self.vec_shims()
            .pop
            .unwrap_or_else(|| panic!("metatrace: {} has no pop shim", self.name))
    }
}

#[derive(Clone, Copy, Debug)]
pub struct VecShims {
    pub len: unsafe fn(usize) -> usize,
    pub ptr: unsafe fn(usize) -> usize,
    /// Push the canonical register value (int, ref or float bits).
    pub push: Option<unsafe fn(usize, u64)>,
    /// Pop into the canonical register value; `None` when empty.
    pub pop: Option<unsafe fn(usize) -> Option<u64>>,
    /// What pushing and popping items of any type in place takes
    /// (`VecPushSlot`, `VecPopSlot`); `None` in hand-made tables.
    pub slots: Option<SlotShims>,
}

/// `Vec<T>` operations for items pushed and popped in place: the item is
/// written or read through its address, the length set on its own.
#[derive(Clone, Copy, Debug)]
pub struct SlotShims {
    /// `v.set_len(n)` (`n` at most the capacity; the items below `n`
    /// initialized by the caller).
    pub set_len: unsafe fn(usize, usize),
    /// `v.capacity()`.
    pub cap: unsafe fn(usize) -> usize,
    /// `v.reserve(1)`.
    pub reserve: unsafe fn(usize),
    /// `core::ptr::write(v, Vec::with_capacity(n))` (`VecInit`): the
    /// memory at `v` holds no Vec before.
    pub with_capacity: unsafe fn(usize, usize),
    /// `core::ptr::drop_in_place(v)` (`VecDrop`): drops the items and
    /// frees the buffer; the memory at `v` holds no Vec after.
    pub drop: unsafe fn(usize),
}

/// An enum-like type in memory (user enums, `Option`, `Result`).
#[derive(Debug)]
pub struct EnumDescr {
    /// Reached through a shared reference (see `ArrayDescr::immutable`).
    pub immutable: bool,
    pub name: &'static str,
    /// The variant index of the value at the address.
    pub tag: unsafe fn(usize) -> u32,
    /// An `Option` of a non-null pointer (`Gc<T>`, `&T`, `Box<T>`),
    /// which Rust guarantees to lay out as the pointer with `None` as
    /// null: compiled code reads the tag as `word != 0`, no call.
    pub null_pointer: bool,
}

/// A type that traced code allocates: with `Box::new` (the allocator is
/// Rust's global one, so boxes cross freely between native code, jitcodes
/// and compiled traces), or with `Gc::new` on the GC heap (`gc`).
#[derive(Debug)]
pub struct AllocDescr {
    /// `Num`, `(i64, i64)`, `Vec<i64>` (the box that holds a Vec value
    /// of traced code: `docs/values.md`); `Gc<Pair>` for a GC object.
    pub name: &'static str,
    pub size: usize,
    pub align: usize,
    /// For `Gc::new`: the type's GC descriptor (`<T as GcType>::descr`).
    /// Such objects are zeroed when allocated and never freed by traced
    /// code (the collector frees them).
    pub gc: Option<fn() -> &'static crate::gc::TypeDescr>,
    /// `core::ptr::drop_in_place` of a value of the type, for boxed types
    /// that own heap memory (a Vec, a struct holding Vecs): freeing the box
    /// drops what it holds first, as dropping a `Box` does. `None` for
    /// plain data and GC objects.
    pub drop: Option<unsafe fn(usize)>,
}

/// A native function called from jitcodes (`#[dont_look_inside]`).
#[derive(Debug)]
pub struct CallDescr {
    /// Path of the function.
    pub name: &'static str,
    /// Arguments and results as canonical register values, in the order of
    /// the exploded parameter and return types.
    pub shim: unsafe fn(args: &[u64], results: &mut [u64]),
    pub arg_kinds: &'static [Kind],
    pub result_kinds: &'static [Kind],
    /// What the function may write: the optimizer's heap cache keeps
    /// every value read before the call that the call cannot change.
    pub effects: CallEffectsDescr,
}

/// The effect summary of a residual call: what memory the callee may
/// write, in terms of the descrs of the same `Tables`. The codewriter
/// computes it from the callee's parameter types (`docs/optimizer.md`,
/// "Effects of residual calls"); `EVERYTHING` is always correct.
///
/// The lists are exact: a location the trace reads through a descr not
/// listed is not written. So a field written under several descrs (one
/// of them immutable, say) has all of them listed, and an array item
/// type has all of its descrs (Vec and slice, both mutabilities).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallEffectsDescr {
    /// The call may write anything; the rest is then ignored.
    pub everything: bool,
    /// Scalar fields that may be written (field descrs).
    pub fields: &'static [u16],
    /// Arrays whose items may be written (array descrs: Vec, slice and
    /// array data alike), except in the containers of `kept_fields`.
    pub items: &'static [u16],
    /// Vecs that may be resized or reallocated (array descrs of Vecs):
    /// their length, data pointer and items, except in `kept_fields`.
    pub vecs: &'static [u16],
    /// Fields holding a `Vec<T>` or a `[T; N]` whose header and items the
    /// call leaves alone, although `items`/`vecs` list `T`: the writes to
    /// `T`s all happen in containers held in other fields (or in no field
    /// at all). The Vec at `fieldaddr<F>(x)` and the items at
    /// `vec_ptr(fieldaddr<F>(x))` or `fieldaddr<F>(x)` keep their values.
    pub kept_fields: &'static [u16],
    /// Anything else: raw memory (locations read by `load`), enum tags,
    /// strings.
    pub other: bool,
}

impl CallEffectsDescr {
    /// May write anything (the summary of a function the codewriter
    /// cannot see through).
    pub const EVERYTHING: CallEffectsDescr = CallEffectsDescr {
        everything: true,
        fields: &[],
        items: &[],
        vecs: &[],
        kept_fields: &[],
        other: true,
    };

    /// Writes nothing the trace can see (say, only takes values).
    pub const NOTHING: CallEffectsDescr = CallEffectsDescr {
        everything: false,
        fields: &[],
        items: &[],
        vecs: &[],
        kept_fields: &[],
        other: false,
    };
}

/// The driver of a portal: which jitcode it is and how its merge point's
/// arguments split into greens and reds.
#[derive(Debug)]
pub struct DriverDescr {
    pub portal: &'static str,
    pub jitcode: u16,
    /// Leaf kinds of the greens, then of the reds.
    pub greens: &'static [Kind],
    pub reds: &'static [Kind],
    /// The portal called natively on its exploded arguments, results
    /// exploded (the glue's `portal_native_<n>`): how a recursive portal
    /// call runs (`call_assembler`, `jit::portal_call`). `None` in tables
    /// built by hand: a recursive portal call then aborts the trace.
    pub native: Option<unsafe fn(args: &[u64], results: &mut [u64])>,
}

/// Everything the runtime needs about one translated interpreter,
/// generated as static data into the VM binary.
#[derive(Debug)]
pub struct Tables {
    pub jitcodes: &'static [JitCode],
    pub fields: &'static [FieldDescr],
    pub arrays: &'static [ArrayDescr],
    pub enums: &'static [EnumDescr],
    pub calls: &'static [CallDescr],
    /// Types allocated by `New` (`Box::new`) and freed by `Free`.
    pub allocs: &'static [AllocDescr],
    pub drivers: &'static [DriverDescr],
    /// Panic messages.
    pub strings: &'static [&'static str],
}

impl Tables {
    /// The tables of an interpreter with nothing translated.
    pub const EMPTY: Tables = Tables {
        jitcodes: &[],
        fields: &[],
        arrays: &[],
        enums: &[],
        calls: &[],
        allocs: &[],
        drivers: &[],
        strings: &[],
    };
}
