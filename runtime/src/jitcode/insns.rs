//! The jitcode instruction table: every instruction declared once, with
//! its opcode byte, its printed name and its operands, each with its role
//! (a register read or written and its kind, a descr and which table it
//! indexes, a label, a static operand). In the manner of RPython's
//! `@arguments` and LuaJIT's IRDEF.
//!
//! From this table come the `Insn` enum, the encoder and decoder
//! (`encode.rs`), the printer (`printer.rs`), the parser (`parser.rs`),
//! the verifier's operand checks (`verify.rs`), liveness and the operand
//! visitors the codewriter uses ([`Insn::operands`],
//! [`Insn::operands_mut`]). Adding an instruction is one entry here plus
//! the arms that give it meaning: the blackhole (`blackhole/interp.rs`),
//! the tracer (`metainterp/execute.rs`) and the codewriter that emits it.
//!
//! An entry reads
//! `code Name "mnemonic" { operand: Type = role, ... }`. Operands are
//! listed in printed order, which is also their encoded order. The
//! mnemonic's `{}`s are filled, in order, by the operands without a
//! role: the static ones (an operator, a type, a kind). The roles:
//!
//! | role | operand | printed |
//! |---|---|---|
//! | `read(K)`, `write(K)` | a register of kind `K` | `%i3` or a constant `$7`; writes after `->` |
//! | `reads(paren)`, `writes(paren)`, `reads(bare)` | a list of registers, each with its kind | `(%i1, %r0)` or bare |
//! | `descr(T)` | an index into descr table `T` | `<name>` |
//! | `label`, `default_label` | an instruction index | `L7`, `default L7` |
//! | `cases` | switch cases | `[1: L3, 2: L4]` |
//!
//! where a kind `K` is `Int`, `Ref`, `Float`, `kind(f)` (the `Kind`
//! operand `f`), `scalar(f)` (the kind of `ScalarTy` operand `f`),
//! `field(d)` or `item(d)` (the kind of the scalar field or array item of
//! descr operand `d`).

use super::*;

/// Whether an operand is read or written by its instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// The kind of a register operand, as the table gives it: fixed, or that
/// of a descr's field or item (known only with the descr tables).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KindOf {
    Fixed(Kind),
    FieldOf(FieldId),
    ItemOf(ArrayId),
}

impl KindOf {
    /// The kind, given what the descrs are; `None` when the descr is out
    /// of range or not scalar (the verifier says so).
    pub fn resolve(self, descrs: &dyn DescrInfo) -> Option<Kind> {
        match self {
            KindOf::Fixed(k) => Some(k),
            KindOf::FieldOf(d) => descrs.field_ty(d).flatten().map(ScalarTy::kind),
            KindOf::ItemOf(d) => descrs.array_ty(d).and_then(|a| a.1).map(ScalarTy::kind),
        }
    }
}

/// Which descr table an index refers to, and what the instruction needs
/// of the entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DescrTable {
    /// `Tables::fields`; `scalar`: the field must be a scalar.
    Field {
        scalar: bool,
    },
    /// `Tables::arrays`; `vec`: must be a `Vec`; `scalar`: its items must
    /// be scalars.
    Array {
        vec: bool,
        scalar: bool,
    },
    Enum,
    Call,
    Jitcode,
    Alloc,
    Driver,
    /// `Tables::strings`, printed as the string itself.
    String,
}

impl DescrTable {
    /// The table's name in errors and in `what#i` descr names.
    pub fn what(self) -> &'static str {
        match self {
            DescrTable::Field { .. } => "field",
            DescrTable::Array { .. } => "array",
            DescrTable::Enum => "enum",
            DescrTable::Call => "call",
            DescrTable::Jitcode => "jitcode",
            DescrTable::Alloc => "alloc",
            DescrTable::Driver => "driver",
            DescrTable::String => "string",
        }
    }
}

/// How a register list is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListStyle {
    Paren,
    Bare,
}

/// One operand of an instruction, as the table's visitors hand it out
/// (shared references; [`OperandMut`] has the same shape).
pub enum Operand<'a> {
    Static(&'a dyn StaticOperand),
    Reg(&'a Reg, Access, KindOf),
    Regs(&'a Vec<KReg>, Access, ListStyle),
    Descr(&'a dyn AnyId, DescrTable),
    Label(&'a Label, LabelStyle),
    Cases(&'a Vec<(i64, Label)>),
}

/// [`Operand`] with mutable references, for decoding, parsing and
/// renumbering.
pub enum OperandMut<'a> {
    Static(&'a mut dyn StaticOperand),
    Reg(&'a mut Reg, Access, KindOf),
    Regs(&'a mut Vec<KReg>, Access, ListStyle),
    Descr(&'a mut dyn AnyId, DescrTable),
    Label(&'a mut Label, LabelStyle),
    Cases(&'a mut Vec<(i64, Label)>),
}

/// How a label is printed: `L7`, or `default L7` (a switch's default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabelStyle {
    Plain,
    Default,
}

/// A register kind in a role.
macro_rules! kind_of {
    (Int) => {
        KindOf::Fixed(Kind::Int)
    };
    (Ref) => {
        KindOf::Fixed(Kind::Ref)
    };
    (Float) => {
        KindOf::Fixed(Kind::Float)
    };
    (kind $k:ident) => {
        KindOf::Fixed(*$k)
    };
    (scalar $t:ident) => {
        KindOf::Fixed($t.kind())
    };
    (field $d:ident) => {
        KindOf::FieldOf(*$d)
    };
    (item $d:ident) => {
        KindOf::ItemOf(*$d)
    };
}

/// The visitor call for one operand of one role.
macro_rules! operand {
    ($f:ident $Op:ident $x:ident) => { $f($Op::Static($x)) };
    ($f:ident $Op:ident $x:ident read ($($k:tt)*)) => {
        $f($Op::Reg($x, Access::Read, kind_of!($($k)*)))
    };
    ($f:ident $Op:ident $x:ident write ($($k:tt)*)) => {
        $f($Op::Reg($x, Access::Write, kind_of!($($k)*)))
    };
    ($f:ident $Op:ident $x:ident reads (paren)) => { $f($Op::Regs($x, Access::Read, ListStyle::Paren)) };
    ($f:ident $Op:ident $x:ident reads (bare)) => { $f($Op::Regs($x, Access::Read, ListStyle::Bare)) };
    ($f:ident $Op:ident $x:ident writes (paren)) => { $f($Op::Regs($x, Access::Write, ListStyle::Paren)) };
    ($f:ident $Op:ident $x:ident descr ($($t:tt)*)) => { $f($Op::Descr($x, DescrTable::$($t)*)) };
    ($f:ident $Op:ident $x:ident label) => { $f($Op::Label($x, LabelStyle::Plain)) };
    ($f:ident $Op:ident $x:ident default_label) => { $f($Op::Label($x, LabelStyle::Default)) };
    ($f:ident $Op:ident $x:ident cases) => { $f($Op::Cases($x)) };
}

macro_rules! insn_table {
    ($(
        $(#[$doc:meta])*
        $code:literal $name:ident $mnemonic:literal {
            $( $field:ident : $fty:ty $(= $role:ident $(($($rarg:tt)*))? )? ),* $(,)?
        }
    )*) => {
        /// One jitcode instruction (declared in `jitcode/insns.rs`).
        #[derive(Clone, Debug, PartialEq)]
        pub enum Insn {
            $( $(#[$doc])* $name { $( $field: $fty ),* }, )*
        }

        impl Insn {
            /// Opcode byte and mnemonic template of every instruction.
            pub const TABLE: &'static [(u8, &'static str)] = &[$(($code, $mnemonic)),*];

            /// The opcode byte.
            pub fn opcode(&self) -> u8 {
                match self { $( Insn::$name { .. } => $code, )* }
            }

            /// The printed name, with a `{}` for each static operand.
            pub fn mnemonic_template(&self) -> &'static str {
                match self { $( Insn::$name { .. } => $mnemonic, )* }
            }

            /// The instruction of opcode `code` with placeholder operands,
            /// to be filled by [`Insn::operands_mut`].
            pub fn blank(code: u8) -> Option<Insn> {
                match code {
                    $( $code => Some(Insn::$name { $( $field: Default::default() ),* }), )*
                    _ => None,
                }
            }

            /// Every operand, in table order.
            #[allow(unused_variables)]
            pub fn operands(&self, f: &mut dyn FnMut(Operand<'_>)) {
                match self {
                    $( Insn::$name { $( $field ),* } => {
                        $( operand!(f Operand $field $($role $(($($rarg)*))?)?); )*
                    } )*
                }
            }

            /// Every operand, in table order, mutably. A register's kind
            /// is computed after the operands before it are visited, so a
            /// decoder may fill them in order.
            #[allow(unused_variables)]
            pub fn operands_mut(&mut self, f: &mut dyn FnMut(OperandMut<'_>)) {
                match self {
                    $( Insn::$name { $( $field ),* } => {
                        $( operand!(f OperandMut $field $($role $(($($rarg)*))?)?); )*
                    } )*
                }
            }
        }
    };
}

insn_table! {
    /// Copy a register (or constant) of one kind.
    0 Copy "{}_copy" { kind: Kind, src: Reg = read(kind kind), dst: Reg = write(kind kind) }
    /// `dst = a op b`, wrapped to `ty`. For shifts, `b` may be any int type.
    1 IntBin "int_{}/{}" {
        op: IntBinOp, ty: IntTy, a: Reg = read(Int), b: Reg = read(Int), dst: Reg = write(Int)
    }
    /// `dst = -a` (wrapping), wrapped to `ty`.
    2 IntNeg "int_neg/{}" { ty: IntTy, a: Reg = read(Int), dst: Reg = write(Int) }
    /// `dst = !a` (bitwise), wrapped to `ty`.
    3 IntNot "int_not/{}" { ty: IntTy, a: Reg = read(Int), dst: Reg = write(Int) }
    /// Comparison by `ty`'s signedness; `dst` (int) is 0 or 1.
    4 IntCmp "int_{}/{}" {
        op: CmpOp, ty: IntTy, a: Reg = read(Int), b: Reg = read(Int), dst: Reg = write(Int)
    }
    5 FloatBin "float_{}" {
        op: FloatBinOp, a: Reg = read(Float), b: Reg = read(Float), dst: Reg = write(Float)
    }
    6 FloatNeg "float_neg" { a: Reg = read(Float), dst: Reg = write(Float) }
    /// Comparison of floats; `dst` is an int register (0 or 1).
    7 FloatCmp "float_{}" {
        op: CmpOp, a: Reg = read(Float), b: Reg = read(Float), dst: Reg = write(Int)
    }
    /// `as` with Rust semantics (float to int saturates, int to char from u8).
    /// `src` has `from`'s kind, `dst` has `to`'s kind.
    8 Cast "cast/{}->{}" {
        from: ScalarTy, to: ScalarTy, src: Reg = read(scalar from), dst: Reg = write(scalar to)
    }
    /// Read a scalar field of the object at `base` (descr: `Tables::fields`).
    9 GetField "getfield" {
        base: Reg = read(Ref),
        descr: FieldId = descr(Field { scalar: true }),
        dst: Reg = write(field descr),
    }
    10 SetField "setfield" {
        base: Reg = read(Ref),
        descr: FieldId = descr(Field { scalar: true }),
        value: Reg = read(field descr),
    }
    /// Address of a field (scalar or not) of the object at `base`.
    11 FieldAddr "fieldaddr" {
        base: Reg = read(Ref),
        descr: FieldId = descr(Field { scalar: false }),
        dst: Reg = write(Ref),
    }
    /// Read the scalar of type `ty` at address `addr`.
    12 Load "load/{}" { ty: ScalarTy, addr: Reg = read(Ref), dst: Reg = write(scalar ty) }
    /// Write the scalar of type `ty` at address `addr`.
    13 Store "store/{}" { ty: ScalarTy, addr: Reg = read(Ref), value: Reg = read(scalar ty) }
    /// Variant index of the enum-like value at `addr` (`Tables::enums`).
    14 EnumTag "enum_tag" { addr: Reg = read(Ref), descr: EnumId = descr(Enum), dst: Reg = write(Int) }
    /// Vec operations on the `Vec<T>` at `vec` (`Tables::arrays`).
    15 VecLen "vec_len" {
        vec: Reg = read(Ref),
        descr: ArrayId = descr(Array { vec: true, scalar: false }),
        dst: Reg = write(Int),
    }
    16 VecItemAddr "vec_itemaddr" {
        vec: Reg = read(Ref),
        idx: Reg = read(Int),
        descr: ArrayId = descr(Array { vec: true, scalar: false }),
        dst: Reg = write(Ref),
    }
    17 VecGetItem "vec_getitem" {
        vec: Reg = read(Ref),
        idx: Reg = read(Int),
        descr: ArrayId = descr(Array { vec: true, scalar: true }),
        dst: Reg = write(item descr),
    }
    18 VecSetItem "vec_setitem" {
        vec: Reg = read(Ref),
        idx: Reg = read(Int),
        descr: ArrayId = descr(Array { vec: true, scalar: true }),
        value: Reg = read(item descr),
    }
    19 VecPush "vec_push" {
        vec: Reg = read(Ref),
        descr: ArrayId = descr(Array { vec: true, scalar: true }),
        value: Reg = read(item descr),
    }
    /// `tag` (int) is 1 and `value` the popped item, or `tag` 0 and `value` zero.
    20 VecPop "vec_pop" {
        vec: Reg = read(Ref),
        descr: ArrayId = descr(Array { vec: true, scalar: true }),
        tag: Reg = write(Int),
        value: Reg = write(item descr),
    }
    /// Data pointer and length of the Vec at `vec`.
    21 VecAsSlice "vec_as_slice" {
        vec: Reg = read(Ref),
        descr: ArrayId = descr(Array { vec: true, scalar: false }),
        ptr: Reg = write(Ref),
        len: Reg = write(Int),
    }
    /// Item access on slice/array data starting at `ptr` (no bounds check:
    /// the jitcode checked before).
    22 SliceItemAddr "slice_itemaddr" {
        ptr: Reg = read(Ref),
        idx: Reg = read(Int),
        descr: ArrayId = descr(Array { vec: false, scalar: false }),
        dst: Reg = write(Ref),
    }
    23 SliceGetItem "slice_getitem" {
        ptr: Reg = read(Ref),
        idx: Reg = read(Int),
        descr: ArrayId = descr(Array { vec: false, scalar: true }),
        dst: Reg = write(item descr),
    }
    24 SliceSetItem "slice_setitem" {
        ptr: Reg = read(Ref),
        idx: Reg = read(Int),
        descr: ArrayId = descr(Array { vec: false, scalar: true }),
        value: Reg = read(item descr),
    }
    /// Data pointer and length of the `String` at `string`.
    25 StringAsStr "string_as_str" {
        string: Reg = read(Ref), ptr: Reg = write(Ref), len: Reg = write(Int)
    }
    /// Call another jitcode of the same `Tables`.
    26 Call "{}" {
        flavor: CallFlavor,
        jitcode: JitCodeId = descr(Jitcode),
        args: Vec<KReg> = reads(paren),
        results: Vec<KReg> = writes(paren),
    }
    /// Call native code through a shim (`Tables::calls`): `#[dont_look_inside]`.
    27 ResidualCall "residual_call" {
        descr: CallId = descr(Call),
        args: Vec<KReg> = reads(paren),
        results: Vec<KReg> = writes(paren),
    }
    /// `promote(x)`: a copy for the blackhole, a guard_value for the tracer.
    28 Promote "{}_promote" { kind: Kind, src: Reg = read(kind kind), dst: Reg = write(kind kind) }
    /// `we_are_jitted()`: 0 in the blackhole, 1 in traces.
    29 WeAreJitted "we_are_jitted" { dst: Reg = write(Int) }
    /// `jit_merge_point!()` of driver `driver`: greens then reds.
    30 MergePoint "jit_merge_point" { driver: DriverId = descr(Driver), args: Vec<KReg> = reads(paren) }
    /// `can_enter_jit!()`, same arguments.
    31 CanEnterJit "can_enter_jit" { driver: DriverId = descr(Driver), args: Vec<KReg> = reads(paren) }
    /// `-live-`: the registers live here (before a call, a guard or a merge
    /// point), for resume data. Not a use: liveness skips it.
    32 Live "-live-" { regs: Vec<KReg> = reads(bare) }
    33 Goto "goto" { target: Label = label }
    /// Jump to `target` when the int register `cond` is 0; else fall through.
    34 GotoIfNot "goto_if_not" { cond: Reg = read(Int), target: Label = label }
    /// Jump on the value of int register `value`.
    35 Switch "switch" {
        value: Reg = read(Int), cases: Vec<(i64, Label)> = cases, default: Label = default_label
    }
    36 Return "return" { values: Vec<KReg> = reads(paren) }
    /// Panic like the native code: message from `Tables::strings`.
    37 Panic "panic/{}" { kind: PanicKind, message: StringId = descr(String) }
    /// `Box::new`: fresh memory for one value of the type of `Tables::allocs`
    /// entry `descr`, uninitialized (the stores that follow fill it); `dst`
    /// is a ref register.
    38 New "new" { descr: AllocId = descr(Alloc), dst: Reg = write(Ref) }
    /// Dropping a `Box<T>` of plain data: frees the memory at the ref
    /// register `ptr`, allocated for `Tables::allocs` entry `descr`. Nothing
    /// when `ptr` is null: a box moved out of its variable leaves null behind
    /// (the translator's drop flags).
    39 Free "free" { ptr: Reg = read(Ref), descr: AllocId = descr(Alloc) }
    /// `v.push(x)` of an item of any type, in place: grows the Vec at
    /// `vec` by one item, left uninitialized (the stores that follow fill
    /// it); `dst` is its address.
    40 VecPushSlot "vec_push_slot" {
        vec: Reg = read(Ref),
        descr: ArrayId = descr(Array { vec: true, scalar: false }),
        dst: Reg = write(Ref),
    }
    /// `v.pop()` of an item of any type, in place: `tag` (int) is 1 and
    /// `dst` the address of the popped item (past the new length, still
    /// there: the loads that follow read it), or `tag` 0 and `dst` null
    /// when the Vec is empty.
    41 VecPopSlot "vec_pop_slot" {
        vec: Reg = read(Ref),
        descr: ArrayId = descr(Array { vec: true, scalar: false }),
        tag: Reg = write(Int),
        dst: Reg = write(Ref),
    }
    /// `Vec::with_capacity(len)` (and `Vec::new()`, `len` 0) written at
    /// `vec`, memory that holds no Vec (the box of a Vec value: see
    /// docs/values.md): allocates the buffer when `len` is not 0.
    42 VecInit "vec_init" {
        vec: Reg = read(Ref),
        len: Reg = read(Int),
        descr: ArrayId = descr(Array { vec: true, scalar: false }),
    }
    /// Drops the Vec at `vec` in place (its items, then its buffer), as
    /// overwriting a Vec field does to the old value.
    43 VecDrop "vec_drop" {
        vec: Reg = read(Ref),
        descr: ArrayId = descr(Array { vec: true, scalar: false }),
    }
    /// Moves the Vec at `src` to `dst` (memory that holds no Vec, or
    /// whose Vec was dropped), leaving an empty Vec at `src`: a Vec value
    /// moved into a field, a box or an item.
    44 VecTake "vec_take" {
        dst: Reg = read(Ref),
        src: Reg = read(Ref),
        descr: ArrayId = descr(Array { vec: true, scalar: false }),
    }
    /// `v.truncate(len)` of a Vec whose items need no drop: its length
    /// becomes `len` if that is shorter (RPython's `list.truncate`
    /// oopspec: a length write the heap caches see, not a residual call).
    45 VecTruncate "vec_truncate" {
        vec: Reg = read(Ref),
        len: Reg = read(Int),
        descr: ArrayId = descr(Array { vec: true, scalar: false }),
    }
    /// `QuasiImmut::get` of the `QuasiImmut` at `base` (`descr`: its value
    /// field): a `getfield` for the blackhole; a constant for the tracer
    /// when `base` is one, with the trace made to depend on the field
    /// (`quasiimmut.rs`).
    46 QuasiImmutGet "quasiimmut_get" {
        base: Reg = read(Ref),
        descr: FieldId = descr(Field { scalar: true }),
        dst: Reg = write(field descr),
    }
    /// `jit_function_entry!()`: `can_enter_jit!()` at a user function's
    /// entry, same arguments. The tracer tells the two apart: a loop
    /// traced from a `can_enter_jit!()` inlines the calls it makes rather
    /// than jump into their function traces.
    47 FunctionEntry "jit_function_entry" {
        driver: DriverId = descr(Driver), args: Vec<KReg> = reads(paren)
    }
}

impl Insn {
    /// Is this an instruction after which execution never falls through
    /// (goto, switch, return, panic)?
    pub fn is_terminator(&self) -> bool {
        matches!(
            self,
            Insn::Goto { .. } | Insn::Switch { .. } | Insn::Return { .. } | Insn::Panic { .. }
        )
    }

    /// The operands of an item access (`vec_itemaddr`, `slice_getitem`,
    /// ...): the array descr, whether the base is a Vec (else slice
    /// data), the base and index registers, and the register written or
    /// stored.
    pub fn item_operands(&self) -> Option<(ArrayId, bool, Reg, Reg, Reg)> {
        Some(match *self {
            Insn::VecItemAddr {
                descr,
                vec,
                idx,
                dst,
            } => (descr, true, vec, idx, dst),
            Insn::VecGetItem {
                descr,
                vec,
                idx,
                dst,
            } => (descr, true, vec, idx, dst),
            Insn::VecSetItem {
                descr,
                vec,
                idx,
                value,
            } => (descr, true, vec, idx, value),
            Insn::SliceItemAddr {
                descr,
                ptr,
                idx,
                dst,
            } => (descr, false, ptr, idx, dst),
            Insn::SliceGetItem {
                descr,
                ptr,
                idx,
                dst,
            } => (descr, false, ptr, idx, dst),
            Insn::SliceSetItem {
                descr,
                ptr,
                idx,
                value,
            } => (descr, false, ptr, idx, value),
            _ => return None,
        })
    }

    /// Where control may go after this instruction, at index `pc`.
    pub fn successors(&self, pc: usize) -> Vec<usize> {
        let mut out = Vec::new();
        if !self.is_terminator() {
            out.push(pc + 1);
        }
        self.operands(&mut |op| match op {
            Operand::Label(l, _) => out.push(*l as usize),
            Operand::Cases(cs) => out.extend(cs.iter().map(|c| c.1 as usize)),
            _ => {}
        });
        out
    }

    /// Call `f` on every register the instruction reads or writes, with its
    /// kind (`descrs` resolves the kinds that come from a descr; `Int`
    /// when it cannot), reads before writes. The registers a `-live-`
    /// lists count as reads.
    pub fn visit_regs(
        &mut self,
        descrs: &dyn DescrInfo,
        f: &mut dyn FnMut(Kind, &mut Reg, Access),
    ) {
        self.operands_mut(&mut |op| match op {
            OperandMut::Reg(r, acc, k) => f(k.resolve(descrs).unwrap_or(Kind::Int), r, acc),
            OperandMut::Regs(rs, acc, _) => {
                for r in rs.iter_mut() {
                    f(r.kind, &mut r.reg, acc)
                }
            }
            _ => {}
        });
    }

    /// [`Insn::visit_regs`] without changing the instruction: every
    /// register read or written, with its kind and access.
    pub fn regs(&self, descrs: &dyn DescrInfo, f: &mut dyn FnMut(Kind, Reg, Access)) {
        self.operands(&mut |op| match op {
            Operand::Reg(r, acc, k) => f(k.resolve(descrs).unwrap_or(Kind::Int), *r, acc),
            Operand::Regs(rs, acc, _) => rs.iter().for_each(|r| f(r.kind, r.reg, acc)),
            _ => {}
        });
    }

    /// Call `f` on every label operand.
    pub fn visit_labels(&mut self, f: &mut dyn FnMut(&mut Label)) {
        self.operands_mut(&mut |op| match op {
            OperandMut::Label(l, _) => f(l),
            OperandMut::Cases(cs) => cs.iter_mut().for_each(|c| f(&mut c.1)),
            _ => {}
        });
    }
}
