//! The builtins registry: every std method and associated function that
//! traced code may use, declared once with the receiver it applies to, its
//! signature and how it lowers. The type checker types calls from it
//! (`typeck/call.rs`), the lowering gives each `Lowering` its flow-graph
//! operations (`lower/builtins.rs`), and docs/subset.md's list of std
//! methods is generated from it (`doc_section`, checked by
//! `tests/builtins_doc.rs`).
//!
//! Anything not listed here is an error that suggests a
//! `#[dont_look_inside]` helper (`unsupported_method_help`).

use metatrace_jitcodegen::flowgraph::{Const, Op};
use metatrace_jitcodegen::types::IntTy;

/// The receivers (or, for an associated function, the `Type::` before the
/// name) an entry applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recv {
    /// Every integer type.
    Int,
    SignedInt,
    UnsignedInt,
    U8,
    Char,
    Bool,
    F64,
    Vec,
    Slice,
    Array,
    Str,
    String,
    Option,
    Result,
    Tuple,
    /// The crate's own structs and enums that derive `Copy`.
    CopyAdt,
    Box,
    /// `metatrace::Gc<T>` (its associated functions; methods reach `T`).
    Gc,
    /// `std::cell::Cell<T>`.
    Cell,
    /// `metatrace::GcCell<T>`.
    GcCell,
    /// `metatrace::QuasiImmut<T>`.
    QuasiImmut,
}

/// The receiver's type as the type checker sees it, to look entries up
/// by: an integer type, or one of the other receivers of `Recv`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Int(IntTy),
    Of(Recv),
}

impl Recv {
    pub fn accepts(self, s: Shape) -> bool {
        match (self, s) {
            (Recv::Int, Shape::Int(_)) => true,
            (Recv::SignedInt, Shape::Int(t)) => t.signed(),
            (Recv::UnsignedInt, Shape::Int(t)) => !t.signed(),
            (Recv::U8, Shape::Int(t)) => t == IntTy::U8,
            (r, Shape::Of(k)) => r == k,
            _ => false,
        }
    }

    /// How docs/subset.md names the receiver.
    pub fn shown(self) -> &'static str {
        match self {
            Recv::Int => "integers",
            Recv::SignedInt => "signed integers",
            Recv::UnsignedInt => "unsigned integers",
            Recv::U8 => "`u8`",
            Recv::Char => "`char`",
            Recv::Bool => "`bool`",
            Recv::F64 => "`f64`",
            Recv::Vec => "`Vec<T>`",
            Recv::Slice => "`[T]`",
            Recv::Array => "`[T; N]`",
            Recv::Str => "`str`",
            Recv::String => "`String`",
            Recv::Option => "`Option<T>`",
            Recv::Result => "`Result<T, E>`",
            Recv::Tuple => "tuples",
            Recv::CopyAdt => "your own `Copy` structs and enums",
            Recv::Box => "`Box<T>`",
            Recv::Gc => "`Gc<T>`",
            Recv::Cell => "`Cell<T>`",
            Recv::GcCell => "`GcCell<T>`",
            Recv::QuasiImmut => "`QuasiImmut<T>`",
        }
    }

    /// How the `Type::` of an associated function is written.
    fn assoc_shown(self) -> &'static str {
        match self {
            Recv::Int => "i64",
            Recv::F64 => "f64",
            Recv::Char => "char",
            Recv::Box => "Box",
            Recv::Gc => "Gc",
            Recv::Cell => "Cell",
            Recv::GcCell => "GcCell",
            Recv::QuasiImmut => "QuasiImmut",
            _ => "Self",
        }
    }
}

/// A parameter or result type, relative to the receiver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TyRule {
    /// The receiver's own type (`Self`).
    Recv,
    /// The element or payload type `T` of a `Vec<T>`, `Option<T>`,
    /// `Result<T, E>` or `Box<T>`.
    Elem,
    /// Any type: the argument is checked on its own (`u64::from(x)`).
    Any,
    U32,
    I32,
    Usize,
    Bool,
    Unit,
    /// `&str`.
    StrRef,
    /// `&[u8]`.
    BytesRef,
    /// `Option<u32>`.
    OptionU32,
    /// `Option<T>`.
    OptionElem,
    /// `Option<&T>`.
    OptionElemRef,
    U64,
    /// The integer type of `Self`'s width, unsigned (`i64` → `u64`).
    UnsignedRecv,
    /// The integer type of `Self`'s width, signed (`u64` → `i64`).
    SignedRecv,
    /// `&T` (`GcCell::borrow`).
    ElemRef,
    /// `&mut T` (`GcCell::borrow_mut`).
    ElemMut,
}

impl TyRule {
    fn shown(self) -> &'static str {
        match self {
            TyRule::Recv => "Self",
            TyRule::Elem => "T",
            TyRule::Any => "x",
            TyRule::U32 => "u32",
            TyRule::I32 => "i32",
            TyRule::Usize => "usize",
            TyRule::Bool => "bool",
            TyRule::Unit => "()",
            TyRule::StrRef => "&str",
            TyRule::BytesRef => "&[u8]",
            TyRule::OptionU32 => "Option<u32>",
            TyRule::OptionElem => "Option<T>",
            TyRule::OptionElemRef => "Option<&T>",
            TyRule::U64 => "u64",
            TyRule::UnsignedRecv => "Self as unsigned",
            TyRule::SignedRecv => "Self as signed",
            TyRule::ElemRef => "&T",
            TyRule::ElemMut => "&mut T",
        }
    }
}

/// How a call is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// `x.name(args)`: the receiver is auto-dereferenced.
    Method,
    /// `Type::name(args)`.
    Assoc,
}

/// How an entry lowers: each variant is given its operations in
/// `lower/builtins.rs`.
#[derive(Clone, Debug, PartialEq)]
pub enum Lowering {
    /// One flow-graph operation on the receiver and the arguments.
    Op(Op),
    /// The value itself (a copy).
    Copy,
    /// `a <= b` (`min`) or `a >= b` (`max`) and a select.
    MinMax(Op),
    Abs,
    Signum,
    /// A comparison with zero.
    CmpZero(Op),
    IsPowerOfTwo,
    /// Whether the `u8` or `char` lies in one of the inclusive ranges.
    InRanges(&'static [(char, char)]),
    /// `is_digit(10)`: the radix must be the constant 10.
    IsDigit,
    /// `to_digit(10)`: the radix must be the constant 10.
    ToDigit,
    /// `len()` of a Vec, slice, str, String or array.
    Len,
    IsEmpty,
    /// `push` on a Vec: `vec_push` for scalars, else in place.
    Push,
    /// `pop` on a Vec: `vec_pop` for scalars, else in place.
    Pop,
    /// `last` of a Vec: the address of its last item.
    Last,
    /// A Vec method done by a generated native helper, for items of any
    /// type (`flowgraph::Helper`): `insert`, `swap`, `clear`.
    VecHelper,
    /// `truncate`: the `vec_truncate` instruction for items of plain
    /// data, else the generated helper (as [`Lowering::VecHelper`]).
    Truncate,
    /// `f64::to_bits`, `f64::from_bits`: a generated native helper.
    BitCast,
    AsBytes,
    AsStr,
    /// A test of an Option's or Result's tag: `true` for `Some`/`Ok`.
    IsVariant(bool),
    /// `unwrap`: a guard on the tag, then the payload.
    Unwrap,
    /// `expect(msg)`: likewise, panicking with the literal message.
    Expect,
    /// `unwrap_or` with a scalar payload.
    UnwrapOr,
    /// `T::from(x)`: an `as` cast.
    Cast,
    /// `Box::new(x)` of plain data: allocation the tracer sees.
    BoxNew,
    /// `Gc::new(x)`: allocation on the GC heap that the tracer sees.
    GcNew,
    /// `Gc::ptr_eq(a, b)`: a comparison of the addresses.
    GcPtrEq,
    /// `Cell::new(x)`, `GcCell::new(x)`: the value in a cell, in registers
    /// (stored where the enclosing value goes).
    CellNew,
    /// `get` of a `Cell` or `GcCell`: a load of the value (the `GcCell`'s
    /// borrow flag checked first).
    CellGet,
    /// `set` of a `Cell` or `GcCell`: a store (the `GcCell`'s borrow flag
    /// checked and its write barrier passed first).
    CellSet,
    /// `GcCell::replace`: a load and a store, as `CellSet`.
    CellReplace,
    /// `GcCell::borrow()`: the flag checked, then the value's address.
    CellBorrow,
    /// `GcCell::borrow_mut()`: the flag checked, the barrier passed, then
    /// the value's address.
    CellBorrowMut,
    /// `Vec::new()`, `Vec::with_capacity(n)`: a Vec value, its box and
    /// buffer allocations the tracer sees.
    VecNew,
    /// Typed, but refused by the lowering ("`pow` is not supported in
    /// traced code yet").
    NotYet,
}

impl Lowering {
    /// What the lowering makes of it, for docs/subset.md.
    fn shown(&self, recv: Recv) -> String {
        let op = |o: &Op| format!("`{}`", o.name());
        match self {
            Lowering::Op(o) => op(o),
            Lowering::Copy => "the value itself".into(),
            Lowering::MinMax(o) => format!("{} and a select", op(o)),
            Lowering::Abs => "`int_lt` with 0, `int_neg` and a select".into(),
            Lowering::Signum => "comparisons with 0, casts and `int_sub`".into(),
            Lowering::CmpZero(o) => format!("{} with 0", op(o)),
            Lowering::IsPowerOfTwo => "`x != 0 && x & (x - 1) == 0`".into(),
            Lowering::InRanges(ranges) => {
                let shown: Vec<String> = ranges
                    .iter()
                    .map(|(lo, hi)| match lo == hi {
                        true => format!("`{lo:?}`"),
                        false => format!("`{lo:?}..={hi:?}`"),
                    })
                    .collect();
                format!("range tests: {}", shown.join(", "))
            }
            Lowering::IsDigit => {
                "range test `'0'..='9'`; only `is_digit(10)` (the radix must be the constant 10)"
                    .into()
            }
            Lowering::ToDigit => {
                "`c as u32 - '0'` and a range test; only `to_digit(10)` (the radix must be the constant 10)"
                    .into()
            }
            Lowering::Len => match recv {
                Recv::Vec => "`vec_len`".into(),
                Recv::String => "`string_as_str`'s length".into(),
                Recv::Array => "the constant `N`".into(),
                _ => "the length of the fat reference".into(),
            },
            Lowering::IsEmpty => format!("{} compared with 0", Lowering::Len.shown(recv)),
            Lowering::Push => "`vec_push` for a Vec of scalars (integers, `bool`, `char`, `f64`, references); for other plain data (structs, tuples, enums, `Option`, `Result`) `vec_push_slot` (a new item in place) and the stores of the value; not `Vec<Box<T>>`".into(),
            Lowering::Pop => "`vec_pop` for a Vec of scalars; for other plain data `vec_pop_slot` (the popped item's address) and the loads of the value; not `Vec<Box<T>>`".into(),
            Lowering::Last => "`vec_len`, a test and the last item's address".into(),
            Lowering::VecHelper => "a residual call of a generated helper that calls the method natively (items are moved or dropped as Rust does)".into(),
            Lowering::Truncate => "items of plain data: `vec_truncate` (a length write the heap caches see); other items: a residual call of a generated helper that calls the method natively (items are dropped as Rust does)".into(),
            Lowering::BitCast => "a residual call of a generated helper (no effects)".into(),
            Lowering::AsBytes => match recv {
                Recv::String => "`string_as_str` and a cast".into(),
                _ => "a cast of the fat reference".into(),
            },
            Lowering::AsStr => "`string_as_str`".into(),
            Lowering::IsVariant(_) => "a test of the tag".into(),
            Lowering::Unwrap => "a guard on the tag (a panic when it fails), then the payload".into(),
            Lowering::Expect => "a guard on the tag (a panic with the message when it fails), then the payload".into(),
            Lowering::UnwrapOr => "a test of the tag and a select; only for a scalar `T`".into(),
            Lowering::Cast => "an `as` cast".into(),
            Lowering::BoxNew => {
                "`new` and stores; for plain data and values owning Vecs (see \"Boxes\")".into()
            }
            Lowering::VecNew => {
                "`new` of the Vec value's box and `vec_init` (see \"Vec values\")".into()
            }
            Lowering::GcNew => "`gc_new` (zeroed object on the GC heap) and stores; plain data, `Gc`s and cells (see \"GC objects\")".into(),
            Lowering::GcPtrEq => "a comparison of the addresses".into(),
            Lowering::CellNew => "the value itself (stored with the value that holds the cell)".into(),
            Lowering::CellGet => match recv {
                Recv::GcCell => "a guard that the cell is not mutably borrowed (a panic, as `RefCell`), then a load".into(),
                Recv::QuasiImmut => "`quasiimmut_get`: a constant and a `guard_not_invalidated` when the field's address is a trace constant, else a load (see \"Quasi-immutable fields\" in docs/jit.md)".into(),
                _ => "a load".into(),
            },
            Lowering::CellSet => match recv {
                Recv::GcCell => "a guard that the cell is not borrowed, the write barrier (a test of `logged` and a rare residual call), then a store".into(),
                Recv::QuasiImmut => "a store, then a test of the field's `watched` word and, when set, a residual call that invalidates the traces that read it as a constant".into(),
                _ => "a store".into(),
            },
            Lowering::CellReplace => "as `set`, with a load of the old value first".into(),
            Lowering::CellBorrow => "a guard that the cell is not mutably borrowed, then the value's address (see \"GC objects\" for the borrow flag)".into(),
            Lowering::CellBorrowMut => "a guard that the cell is not borrowed, the write barrier, then the value's address".into(),
            Lowering::NotYet => "not supported yet".into(),
        }
    }
}

/// One std method or associated function that traced code may use.
#[derive(Debug)]
pub struct Builtin {
    pub recv: Recv,
    pub form: Form,
    pub name: &'static str,
    /// The arguments after the receiver (for a method) or all of them.
    pub params: &'static [TyRule],
    pub ret: TyRule,
    pub lower: Lowering,
}

/// Entries are compared by identity: each is one row of `BUILTINS`.
impl PartialEq for Builtin {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

const fn method(
    recv: Recv,
    name: &'static str,
    params: &'static [TyRule],
    ret: TyRule,
    lower: Lowering,
) -> Builtin {
    Builtin {
        recv,
        form: Form::Method,
        name,
        params,
        ret,
        lower,
    }
}

const fn assoc(
    recv: Recv,
    name: &'static str,
    params: &'static [TyRule],
    ret: TyRule,
    lower: Lowering,
) -> Builtin {
    let mut b = method(recv, name, params, ret, lower);
    b.form = Form::Assoc;
    b
}

use Lowering as L;
use Recv as R;
use TyRule as T;

const DIGIT: &[(char, char)] = &[('0', '9')];
const ALPHA: &[(char, char)] = &[('a', 'z'), ('A', 'Z')];
const ALNUM: &[(char, char)] = &[('a', 'z'), ('A', 'Z'), ('0', '9')];
const UPPER: &[(char, char)] = &[('A', 'Z')];
const LOWER: &[(char, char)] = &[('a', 'z')];
const HEX: &[(char, char)] = &[('0', '9'), ('a', 'f'), ('A', 'F')];
const SPACE: &[(char, char)] = &[(' ', ' '), ('\t', '\n'), ('\x0C', '\r')];
const ASCII: &[(char, char)] = &[('\0', '\x7f')];

/// The registry, in the order of docs/subset.md's list.
#[rustfmt::skip]
pub static BUILTINS: &[Builtin] = &[
    // ---- integers ----
    method(R::Int, "wrapping_add", &[T::Recv], T::Recv, L::Op(Op::IntAdd)),
    method(R::Int, "wrapping_sub", &[T::Recv], T::Recv, L::Op(Op::IntSub)),
    method(R::Int, "wrapping_mul", &[T::Recv], T::Recv, L::Op(Op::IntMul)),
    method(R::Int, "wrapping_neg", &[], T::Recv, L::Op(Op::IntNeg)),
    method(R::Int, "wrapping_shl", &[T::U32], T::Recv, L::Op(Op::IntShl)),
    method(R::Int, "wrapping_shr", &[T::U32], T::Recv, L::Op(Op::IntShr)),
    method(R::Int, "min", &[T::Recv], T::Recv, L::MinMax(Op::IntLe)),
    method(R::Int, "max", &[T::Recv], T::Recv, L::MinMax(Op::IntGe)),
    method(R::Int, "abs", &[], T::Recv, L::Abs),
    method(R::Int, "signum", &[], T::Recv, L::Signum),
    method(R::Int, "clone", &[], T::Recv, L::Copy),
    method(R::Int, "rem_euclid", &[T::Recv], T::Recv, L::NotYet),
    method(R::Int, "wrapping_rem", &[T::Recv], T::Recv, L::NotYet),
    method(R::Int, "wrapping_div", &[T::Recv], T::Recv, L::NotYet),
    method(R::Int, "swap_bytes", &[], T::Recv, L::NotYet),
    method(R::Int, "pow", &[T::U32], T::Recv, L::NotYet),
    method(R::Int, "wrapping_pow", &[T::U32], T::Recv, L::NotYet),
    method(R::Int, "count_ones", &[], T::U32, L::NotYet),
    method(R::Int, "leading_zeros", &[], T::U32, L::NotYet),
    method(R::Int, "trailing_zeros", &[], T::U32, L::NotYet),
    method(R::UnsignedInt, "is_power_of_two", &[], T::Bool, L::IsPowerOfTwo),
    method(R::SignedInt, "cast_unsigned", &[], T::UnsignedRecv, L::Cast),
    method(R::UnsignedInt, "cast_signed", &[], T::SignedRecv, L::Cast),
    method(R::SignedInt, "is_positive", &[], T::Bool, L::CmpZero(Op::IntGt)),
    method(R::SignedInt, "is_negative", &[], T::Bool, L::CmpZero(Op::IntLt)),
    method(R::U8, "is_ascii_digit", &[], T::Bool, L::InRanges(DIGIT)),
    method(R::U8, "is_ascii_alphabetic", &[], T::Bool, L::InRanges(ALPHA)),
    method(R::U8, "is_ascii_alphanumeric", &[], T::Bool, L::InRanges(ALNUM)),
    method(R::U8, "is_ascii_whitespace", &[], T::Bool, L::InRanges(SPACE)),
    method(R::U8, "is_ascii_uppercase", &[], T::Bool, L::InRanges(UPPER)),
    method(R::U8, "is_ascii_lowercase", &[], T::Bool, L::InRanges(LOWER)),
    method(R::U8, "is_ascii_hexdigit", &[], T::Bool, L::InRanges(HEX)),
    method(R::U8, "is_ascii_punctuation", &[], T::Bool, L::NotYet),
    assoc(R::Int, "from", &[T::Any], T::Recv, L::Cast),
    assoc(R::Int, "wrapping_add", &[T::Recv, T::Recv], T::Recv, L::Op(Op::IntAdd)),
    assoc(R::Int, "wrapping_sub", &[T::Recv, T::Recv], T::Recv, L::Op(Op::IntSub)),
    assoc(R::Int, "wrapping_mul", &[T::Recv, T::Recv], T::Recv, L::Op(Op::IntMul)),
    assoc(R::Int, "min", &[T::Recv, T::Recv], T::Recv, L::MinMax(Op::IntLe)),
    assoc(R::Int, "max", &[T::Recv, T::Recv], T::Recv, L::MinMax(Op::IntGe)),
    assoc(R::Int, "wrapping_neg", &[T::Recv], T::Recv, L::Op(Op::IntNeg)),
    assoc(R::Int, "abs", &[T::Recv], T::Recv, L::Abs),
    // ---- char and bool ----
    method(R::Char, "is_ascii_digit", &[], T::Bool, L::InRanges(DIGIT)),
    method(R::Char, "is_ascii_alphabetic", &[], T::Bool, L::InRanges(ALPHA)),
    method(R::Char, "is_ascii_alphanumeric", &[], T::Bool, L::InRanges(ALNUM)),
    method(R::Char, "is_ascii_whitespace", &[], T::Bool, L::InRanges(SPACE)),
    method(R::Char, "is_ascii_uppercase", &[], T::Bool, L::InRanges(UPPER)),
    method(R::Char, "is_ascii_lowercase", &[], T::Bool, L::InRanges(LOWER)),
    method(R::Char, "is_ascii_hexdigit", &[], T::Bool, L::InRanges(HEX)),
    method(R::Char, "is_ascii", &[], T::Bool, L::InRanges(ASCII)),
    method(R::Char, "is_ascii_punctuation", &[], T::Bool, L::NotYet),
    method(R::Char, "is_digit", &[T::U32], T::Bool, L::IsDigit),
    method(R::Char, "to_digit", &[T::U32], T::OptionU32, L::ToDigit),
    method(R::Char, "clone", &[], T::Recv, L::Copy),
    assoc(R::Char, "from", &[T::Any], T::Recv, L::Cast),
    method(R::Bool, "clone", &[], T::Recv, L::Copy),
    // ---- f64 ----
    method(R::F64, "clone", &[], T::Recv, L::Copy),
    assoc(R::F64, "from", &[T::Any], T::Recv, L::Cast),
    method(R::F64, "to_bits", &[], T::U64, L::BitCast),
    assoc(R::F64, "from_bits", &[T::U64], T::Recv, L::BitCast),
    method(R::F64, "abs", &[], T::Recv, L::NotYet),
    method(R::F64, "sqrt", &[], T::Recv, L::NotYet),
    method(R::F64, "floor", &[], T::Recv, L::NotYet),
    method(R::F64, "ceil", &[], T::Recv, L::NotYet),
    method(R::F64, "round", &[], T::Recv, L::NotYet),
    method(R::F64, "trunc", &[], T::Recv, L::NotYet),
    method(R::F64, "min", &[T::Recv], T::Recv, L::NotYet),
    method(R::F64, "max", &[T::Recv], T::Recv, L::NotYet),
    method(R::F64, "powf", &[T::Recv], T::Recv, L::NotYet),
    method(R::F64, "powi", &[T::I32], T::Recv, L::NotYet),
    method(R::F64, "is_nan", &[], T::Bool, L::NotYet),
    method(R::F64, "is_finite", &[], T::Bool, L::NotYet),
    // ---- Vec, slices, arrays, strings ----
    method(R::Vec, "len", &[], T::Usize, L::Len),
    method(R::Vec, "is_empty", &[], T::Bool, L::IsEmpty),
    method(R::Vec, "push", &[T::Elem], T::Unit, L::Push),
    method(R::Vec, "pop", &[], T::OptionElem, L::Pop),
    method(R::Vec, "last", &[], T::OptionElemRef, L::Last),
    method(R::Vec, "insert", &[T::Usize, T::Elem], T::Unit, L::VecHelper),
    method(R::Vec, "truncate", &[T::Usize], T::Unit, L::Truncate),
    method(R::Vec, "swap", &[T::Usize, T::Usize], T::Unit, L::VecHelper),
    method(R::Vec, "clear", &[], T::Unit, L::VecHelper),
    method(R::Slice, "len", &[], T::Usize, L::Len),
    method(R::Slice, "is_empty", &[], T::Bool, L::IsEmpty),
    method(R::Array, "len", &[], T::Usize, L::Len),
    method(R::Array, "is_empty", &[], T::Bool, L::IsEmpty),
    method(R::Str, "len", &[], T::Usize, L::Len),
    method(R::Str, "is_empty", &[], T::Bool, L::IsEmpty),
    method(R::Str, "as_bytes", &[], T::BytesRef, L::AsBytes),
    method(R::String, "len", &[], T::Usize, L::Len),
    method(R::String, "is_empty", &[], T::Bool, L::IsEmpty),
    method(R::String, "as_bytes", &[], T::BytesRef, L::AsBytes),
    method(R::String, "as_str", &[], T::StrRef, L::AsStr),
    // ---- Option, Result, tuples, the crate's Copy types ----
    method(R::Option, "is_some", &[], T::Bool, L::IsVariant(true)),
    method(R::Option, "is_none", &[], T::Bool, L::IsVariant(false)),
    method(R::Option, "unwrap", &[], T::Elem, L::Unwrap),
    method(R::Option, "expect", &[T::StrRef], T::Elem, L::Expect),
    method(R::Option, "unwrap_or", &[T::Elem], T::Elem, L::UnwrapOr),
    method(R::Option, "clone", &[], T::Recv, L::Copy),
    method(R::Result, "is_ok", &[], T::Bool, L::IsVariant(true)),
    method(R::Result, "is_err", &[], T::Bool, L::IsVariant(false)),
    method(R::Result, "unwrap", &[], T::Elem, L::Unwrap),
    method(R::Result, "expect", &[T::StrRef], T::Elem, L::Expect),
    method(R::Result, "clone", &[], T::Recv, L::Copy),
    method(R::Tuple, "clone", &[], T::Recv, L::Copy),
    method(R::CopyAdt, "clone", &[], T::Recv, L::Copy),
    // ---- Box ----
    assoc(R::Box, "new", &[T::Elem], T::Recv, L::BoxNew),
    // ---- the GC heap (docs/gc.md) ----
    assoc(R::Gc, "new", &[T::Elem], T::Recv, L::GcNew),
    assoc(R::Gc, "ptr_eq", &[T::Recv, T::Recv], T::Bool, L::GcPtrEq),
    assoc(R::Cell, "new", &[T::Elem], T::Recv, L::CellNew),
    method(R::Cell, "get", &[], T::Elem, L::CellGet),
    method(R::Cell, "set", &[T::Elem], T::Unit, L::CellSet),
    method(R::Cell, "replace", &[T::Elem], T::Elem, L::CellReplace),
    assoc(R::GcCell, "new", &[T::Elem], T::Recv, L::CellNew),
    method(R::GcCell, "get", &[], T::Elem, L::CellGet),
    method(R::GcCell, "set", &[T::Elem], T::Unit, L::CellSet),
    method(R::GcCell, "replace", &[T::Elem], T::Elem, L::CellReplace),
    method(R::GcCell, "borrow", &[], T::ElemRef, L::CellBorrow),
    method(R::GcCell, "borrow_mut", &[], T::ElemMut, L::CellBorrowMut),
    assoc(R::QuasiImmut, "new", &[T::Elem], T::Recv, L::CellNew),
    method(R::QuasiImmut, "get", &[], T::Elem, L::CellGet),
    method(R::QuasiImmut, "set", &[T::Elem], T::Unit, L::CellSet),
    // ---- Vec values ----
    assoc(R::Vec, "new", &[], T::Recv, L::VecNew),
    assoc(R::Vec, "with_capacity", &[T::Usize], T::Recv, L::VecNew),
];

/// The associated constants traced code may use: `i64::MAX`, `i64::MIN`
/// and `i64::BITS` for every integer type, and these of `f64`.
const F64_CONSTS: &[(&str, f64)] = &[
    ("MAX", f64::MAX),
    ("MIN", f64::MIN),
    ("INFINITY", f64::INFINITY),
    ("NEG_INFINITY", f64::NEG_INFINITY),
    ("NAN", f64::NAN),
    ("EPSILON", f64::EPSILON),
];

/// The value of `ty_name::name` (`u8::MAX`, `f64::EPSILON`), if it is one
/// of the associated constants traced code may use.
pub fn assoc_const(ty_name: &str, name: &str) -> Option<Const> {
    if ty_name == "f64" {
        let (_, v) = F64_CONSTS.iter().find(|(n, _)| *n == name)?;
        return Some(Const::F64(v.to_bits()));
    }
    let t = IntTy::from_name(ty_name)?;
    let (lo, hi) = t.range();
    match name {
        "MAX" => Some(Const::Int(t.wrap(hi), t)),
        "MIN" => Some(Const::Int(t.wrap(lo), t)),
        "BITS" => Some(Const::Int(t.bits() as i64, IntTy::U32)),
        _ => None,
    }
}

/// The method `name` of a receiver of this shape.
pub fn method_of(shape: Shape, name: &str) -> Option<&'static Builtin> {
    BUILTINS
        .iter()
        .find(|b| b.form == Form::Method && b.name == name && b.recv.accepts(shape))
}

/// The associated function `ty_name::name`, for a type named as in the
/// source (`u64`, `f64`, `char`, `Box`) with `arity` arguments.
pub fn assoc_fn(ty_name: &str, name: &str, arity: usize) -> Option<&'static Builtin> {
    let shape = match ty_name {
        "f64" => Shape::Of(Recv::F64),
        "char" => Shape::Of(Recv::Char),
        "Box" => Shape::Of(Recv::Box),
        "Gc" => Shape::Of(Recv::Gc),
        "Cell" => Shape::Of(Recv::Cell),
        "GcCell" => Shape::Of(Recv::GcCell),
        "QuasiImmut" => Shape::Of(Recv::QuasiImmut),
        "Vec" => Shape::Of(Recv::Vec),
        t => Shape::Int(IntTy::from_name(t)?),
    };
    BUILTINS.iter().find(|b| {
        b.form == Form::Assoc && b.name == name && b.params.len() == arity && b.recv.accepts(shape)
    })
}

/// The methods traced code may call on a receiver of this shape, by name
/// (each once, in the registry's order).
pub fn supported_methods(shape: Shape) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::new();
    for b in BUILTINS {
        // `abs` and `signum` are the signed integers' only, in Rust.
        let rust_has = !matches!((shape, b.name), (Shape::Int(t), "abs" | "signum") if !t.signed());
        if b.form == Form::Method
            && b.lower != Lowering::NotYet
            && b.recv.accepts(shape)
            && rust_has
            && !names.contains(&b.name)
        {
            names.push(b.name);
        }
    }
    names
}

/// Methods that exist on std types but that traced code cannot use, with
/// what to do instead; for any other method, the supported methods of
/// the receiver's type (`shape`), from the registry.
pub fn unsupported_method_help(method: &str, shape: Option<Shape>) -> String {
    match method {
        "iter" | "iter_mut" | "into_iter" | "map" | "filter" | "collect" | "enumerate" | "zip" | "fold" | "sum" | "chars" | "bytes" => {
            "iterators are not supported in traced code; loop over an index range: `for i in 0..v.len()`".into()
        }
        "clone" | "to_vec" | "to_string" | "to_owned" | "resize" | "extend" | "split_off" => {
            "methods that allocate heap memory are not supported in traced code; do it in a #[dont_look_inside] function".into()
        }
        _ => {
            let supported = shape.map(supported_methods).unwrap_or_default();
            if supported.is_empty() {
                "call it from a #[dont_look_inside] function".into()
            } else {
                let list: Vec<String> = supported.iter().map(|n| format!("`{n}`")).collect();
                format!(
                    "call it from a #[dont_look_inside] function; the methods of this type traced code may call are {}",
                    list.join(", ")
                )
            }
        }
    }
}

/// The markers around the generated section of docs/subset.md.
pub const DOC_BEGIN: &str = "<!-- builtins:begin -->";
pub const DOC_END: &str = "<!-- builtins:end -->";

/// docs/subset.md's list of std methods, from the registry: what lies
/// between `DOC_BEGIN` and `DOC_END` (the markers' lines excluded).
pub fn doc_section() -> String {
    let mut out = String::new();
    out.push_str("<!-- generated from BUILTINS in translator/src/builtins.rs: edit the registry, then run `METATRACE_BLESS=1 cargo test -p metatrace-translator --test builtins_doc` -->\n\n");
    out.push_str("Traced code may call these std methods and associated functions, and no\nothers. `Self` is the receiver's type, `T` its element or payload type;\n`i64::` stands for every integer type.\n\n");
    out.push_str("| type | call | lowered to |\n|---|---|---|\n");
    let mut not_yet = Vec::new();
    for b in BUILTINS {
        if b.lower == Lowering::NotYet {
            not_yet.push(b);
            continue;
        }
        out.push_str(&format!(
            "| {} | `{}` | {} |\n",
            b.recv.shown(),
            signature(b),
            b.lower.shown(b.recv)
        ));
    }
    let f64_consts: Vec<String> = F64_CONSTS
        .iter()
        .map(|(n, _)| format!("`f64::{n}`"))
        .collect();
    out.push_str(&format!(
        "\nAssociated constants: `i64::MAX`, `i64::MIN` and `i64::BITS` (a `u32`)\nfor every integer type; {}. In `const` items, the integer types'\n`MAX` and `MIN`.\n",
        f64_consts.join(", ")
    ));
    out.push_str("\nThese type-check but are not supported in traced code yet (the\nerror: \"`pow` is not supported in traced code yet\"); compute them with\narithmetic, or call them from a #[dont_look_inside] function:\n\n");
    out.push_str("| type | call |\n|---|---|\n");
    for b in not_yet {
        out.push_str(&format!("| {} | `{}` |\n", b.recv.shown(), signature(b)));
    }
    out
}

fn signature(b: &Builtin) -> String {
    let params: Vec<&str> = b.params.iter().map(|p| p.shown()).collect();
    let ret = match b.ret {
        TyRule::Unit => String::new(),
        r => format!(" -> {}", r.shown()),
    };
    match b.form {
        Form::Method => format!(".{}({}){ret}", b.name, params.join(", ")),
        Form::Assoc => format!(
            "{}::{}({}){ret}",
            b.recv.assoc_shown(),
            b.name,
            params.join(", ")
        ),
    }
}

/// docs/subset.md with its generated section replaced by `doc_section()`;
/// `None` if the markers are missing.
pub fn doc_with_section(doc: &str) -> Option<String> {
    let begin = doc.find(DOC_BEGIN)? + DOC_BEGIN.len();
    let end = doc[begin..].find(DOC_END)? + begin;
    Some(format!(
        "{}\n{}{}",
        &doc[..begin],
        doc_section(),
        &doc[end..]
    ))
}
