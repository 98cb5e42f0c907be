//! The types the whole pipeline agrees on: the Rust-level types of the subset
//! (`Ty`, with the user's structs and enums in a `TypeTable`) and the scalar
//! types of flow-graph variables.
//!
//! Aggregates passed by value (Copy structs, tuples, enums, `Option`, fat
//! references) never appear as one flow-graph variable: the front end explodes
//! them into their scalar leaves (see `TypeTable::flatten`). Memory keeps
//! rustc's own layout; the codewriter reads it through descrs generated with
//! `offset_of!`.

use std::fmt;

pub use metatrace_runtime::jitcode::{IntTy, Kind};

/// Index of a user-defined struct or enum in the `TypeTable`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AdtId(pub u32);

/// A type of the Rust subset.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Ty {
    Unit,
    /// The type of `panic!()`, `return`, `break`, `loop {}` without break.
    Never,
    Bool,
    Char,
    Int(IntTy),
    F64,
    Ref {
        mutable: bool,
        to: Box<Ty>,
    },
    Adt(AdtId),
    Tuple(Vec<Ty>),
    Array(Box<Ty>, u64),
    /// `[T]`: unsized, only behind a reference.
    Slice(Box<Ty>),
    /// `str`: unsized, only behind a reference.
    Str,
    Vec(Box<Ty>),
    Box(Box<Ty>),
    String,
    Option(Box<Ty>),
    Result(Box<Ty>, Box<Ty>),
    /// `metatrace::Gc<T>`: a `Copy` pointer to an object on the GC heap
    /// (one `Ref` leaf). The object is immutable except through cells, so
    /// reads through a `Gc` use immutable descrs.
    Gc(Box<Ty>),
    /// `std::cell::Cell<T>` of a `Copy` `T`: `repr(transparent)`, the value
    /// itself in memory and in registers.
    Cell(Box<Ty>),
    /// `metatrace::GcCell<T>`: `repr(C)` borrow flag (`isize`), `logged`
    /// (`bool`), then the value (`FieldRef`s 0, 1, 2 of the owner
    /// `GcCell<T>`; the glue takes the value's offset from the runtime).
    GcCell(Box<Ty>),
    /// `metatrace::QuasiImmut<T>` of a plain scalar `T`: `repr(C)`
    /// `watched` (`usize`), then the value (`FieldRef`s 0, 1 of the owner
    /// `QuasiImmut<T>`; offsets from the runtime). Read as a constant by
    /// traces that know its address (runtime/src/quasiimmut.rs).
    QuasiImmut(Box<Ty>),
    /// A type outside the subset (`std::io::Stdout`, `HashMap<..>`, ...) held
    /// in a field: traced code may pass the struct around behind a reference
    /// and hand it to `#[dont_look_inside]` functions, but never touch the
    /// field itself. The string is the type as written.
    Opaque(String),
}

impl Ty {
    pub fn usize() -> Ty {
        Ty::Int(IntTy::Usize)
    }

    pub fn reference(mutable: bool, to: Ty) -> Ty {
        Ty::Ref {
            mutable,
            to: Box::new(to),
        }
    }

    /// Equality up to the mutability of references: `&T` and `&mut T` are
    /// the same pointer to the JIT (rustc has already checked borrows).
    pub fn same_value_type(&self, other: &Ty) -> bool {
        match (self, other) {
            (Ty::Ref { to: a, .. }, Ty::Ref { to: b, .. }) => a.same_value_type(b),
            (Ty::Tuple(a), Ty::Tuple(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same_value_type(y))
            }
            (Ty::Array(a, n), Ty::Array(b, m)) => n == m && a.same_value_type(b),
            (Ty::Slice(a), Ty::Slice(b))
            | (Ty::Vec(a), Ty::Vec(b))
            | (Ty::Box(a), Ty::Box(b))
            | (Ty::Option(a), Ty::Option(b))
            | (Ty::Gc(a), Ty::Gc(b))
            | (Ty::Cell(a), Ty::Cell(b))
            | (Ty::GcCell(a), Ty::GcCell(b))
            | (Ty::QuasiImmut(a), Ty::QuasiImmut(b)) => a.same_value_type(b),
            (Ty::Result(a, b), Ty::Result(c, d)) => a.same_value_type(c) && b.same_value_type(d),
            (a, b) => a == b,
        }
    }

    /// `Option<Gc<T>>`, `Option<Box<T>>`, `Option<&T>` of a sized `T`:
    /// the types whose layout Rust guarantees is the pointer alone, 0 for
    /// `None` (the glue's `EnumDescr::null_pointer` for reads, the
    /// lowering's one-store writes).
    pub fn is_null_pointer_option(&self) -> bool {
        matches!(self, Ty::Option(inner)
            if matches!(&**inner, Ty::Gc(_) | Ty::Box(_))
                || matches!(&**inner, Ty::Ref { to, .. } if !to.is_unsized()))
    }

    pub fn is_unsized(&self) -> bool {
        matches!(self, Ty::Slice(_) | Ty::Str)
    }

    /// The scalar register kind of a one-variable type, if it is one.
    pub fn scalar_kind(&self) -> Option<Kind> {
        match self {
            Ty::Bool | Ty::Char | Ty::Int(_) => Some(Kind::Int),
            Ty::F64 => Some(Kind::Float),
            Ty::Ref { to, .. } if !to.is_unsized() => Some(Kind::Ref),
            Ty::Gc(_) => Some(Kind::Ref),
            // An owned box is its pointer (see `TypeTable::flatten`).
            Ty::Box(to) if !to.is_unsized() && !matches!(**to, Ty::Opaque(_)) => Some(Kind::Ref),
            _ => None,
        }
    }

    pub fn is_scalar(&self) -> bool {
        self.scalar_kind().is_some()
    }

    /// Types that own heap memory: they may be used in traced code only in
    /// place (behind a reference), never created, moved or dropped there.
    pub fn owns_heap(&self, table: &TypeTable) -> bool {
        match self {
            Ty::Vec(_) | Ty::Box(_) | Ty::String | Ty::Opaque(_) => true,
            Ty::Unit | Ty::Never | Ty::Bool | Ty::Char | Ty::Int(_) | Ty::F64 | Ty::Str => false,
            Ty::Ref { .. } | Ty::Gc(_) => false,
            Ty::Tuple(items) => items.iter().any(|t| t.owns_heap(table)),
            Ty::Array(t, _)
            | Ty::Slice(t)
            | Ty::Option(t)
            | Ty::Cell(t)
            | Ty::GcCell(t)
            | Ty::QuasiImmut(t) => t.owns_heap(table),
            Ty::Result(a, b) => a.owns_heap(table) || b.owns_heap(table),
            Ty::Adt(id) => table.adt(*id).owns_heap,
        }
    }
}

/// A field of a struct (`variant == None`) or of one variant of an enum.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FieldDef {
    /// `x` for named fields, `0`, `1`, ... for tuple fields.
    pub name: String,
    pub ty: Ty,
    /// Kept in registers by the JIT: a field listed by the struct's
    /// `#[virtualizable]` (a scalar, or a fixed array of scalars).
    pub virtualizable: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VariantDef {
    pub name: String,
    pub fields: Vec<FieldDef>,
    /// Whether the variant was declared with `{ named }` fields.
    pub named: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdtKind {
    Struct { fields: Vec<FieldDef>, named: bool },
    Enum { variants: Vec<VariantDef> },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdtDef {
    /// The name used in printed IR, e.g. `Tape`.
    pub name: String,
    /// The path from the crate root, e.g. `interp::Tape`; the generated glue
    /// names the type with `crate::` in front of it.
    pub path: String,
    pub kind: AdtKind,
    /// Derived once all definitions are known.
    pub owns_heap: bool,
    pub is_copy: bool,
    /// For an enum whose layout Rust guarantees (`#[repr(u8)]` and the
    /// other integers, `#[repr(C)]`, `#[repr(C, u8)]`; RFC 2195) and whose
    /// discriminants are the variant indices: where its tag is. `None`
    /// for structs and for enums of rustc's own layout.
    pub tag: Option<TagRepr>,
}

/// The layout of an enum with a primitive representation (RFC 2195).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TagRepr {
    /// The tag's integer type (`#[repr(C)]` alone: C's `int`, an `i32`).
    pub int: IntTy,
    /// `#[repr(C)]` or `#[repr(C, Int)]`: a `repr(C)` struct of the tag
    /// and a `repr(C)` union of the variants' `repr(C)` structs. Else
    /// (`#[repr(Int)]`): a union of `repr(C)` structs, each starting with
    /// the tag.
    pub c_outer: bool,
}

impl AdtDef {
    pub fn fields(&self) -> &[FieldDef] {
        match &self.kind {
            AdtKind::Struct { fields, .. } => fields,
            AdtKind::Enum { .. } => &[],
        }
    }

    pub fn variants(&self) -> &[VariantDef] {
        match &self.kind {
            AdtKind::Struct { .. } => &[],
            AdtKind::Enum { variants } => variants,
        }
    }

    pub fn is_enum(&self) -> bool {
        matches!(self.kind, AdtKind::Enum { .. })
    }

    /// Every field, of the struct or of each variant in turn, with its
    /// variant (`None` in a struct) and its index.
    pub fn all_fields(&self) -> impl Iterator<Item = (Option<u32>, u32, &FieldDef)> {
        let in_struct = self.fields().iter().enumerate();
        let in_variants = self.variants().iter().enumerate().flat_map(|(v, var)| {
            let fields = var.fields.iter().enumerate();
            fields.map(move |(i, f)| (Some(v as u32), i as u32, f))
        });
        in_struct
            .map(|(i, f)| (None, i as u32, f))
            .chain(in_variants)
    }
}

/// All user structs and enums of one translated crate.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TypeTable {
    pub adts: Vec<AdtDef>,
}

impl TypeTable {
    pub fn adt(&self, id: AdtId) -> &AdtDef {
        &self.adts[id.0 as usize]
    }

    /// The types whose values may live inside a cell (`Cell`, `GcCell`,
    /// `QuasiImmut`): the cells' contents, and what those hold by value
    /// (fields and payloads, tuple and array elements, what a `Vec`,
    /// `Box` or `Option` there owns), not what they point to (`Gc`,
    /// references). Such memory changes behind shared references.
    pub fn cell_contents(&self) -> std::collections::HashSet<Ty> {
        fn owned(ty: &Ty, types: &TypeTable, out: &mut Vec<Ty>) {
            match ty {
                Ty::Adt(id) => {
                    let adt = types.adt(*id);
                    out.extend(adt.fields().iter().map(|f| f.ty.clone()));
                    for v in adt.variants() {
                        out.extend(v.fields.iter().map(|f| f.ty.clone()));
                    }
                }
                Ty::Tuple(ts) => out.extend(ts.iter().cloned()),
                Ty::Array(t, _) | Ty::Slice(t) | Ty::Vec(t) | Ty::Box(t) | Ty::Option(t) => {
                    out.push((**t).clone())
                }
                Ty::Result(a, b) => out.extend([(**a).clone(), (**b).clone()]),
                Ty::Cell(t) | Ty::GcCell(t) | Ty::QuasiImmut(t) => out.push((**t).clone()),
                _ => {}
            }
        }
        // The types the cells hold, for every cell type a struct or enum
        // of the program contains, by value or behind a pointer. (A cell
        // type that appears only in a function's locals is not seen.)
        let mut todo = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut all: Vec<Ty> = self
            .adts
            .iter()
            .flat_map(|a| {
                let variants = a.variants().iter().flat_map(|v| v.fields.iter());
                a.fields().iter().chain(variants).map(|f| f.ty.clone())
            })
            .collect();
        while let Some(t) = all.pop() {
            if !seen.insert(t.clone()) {
                continue;
            }
            if let Ty::Cell(inner) | Ty::GcCell(inner) | Ty::QuasiImmut(inner) = &t {
                todo.push((**inner).clone());
            }
            match &t {
                Ty::Ref { to, .. } | Ty::Gc(to) => all.push((**to).clone()),
                other => owned(other, self, &mut all),
            }
        }
        let mut contents = std::collections::HashSet::new();
        while let Some(t) = todo.pop() {
            if contents.insert(t.clone()) {
                owned(&t, self, &mut todo);
            }
        }
        contents
    }

    pub fn adt_mut(&mut self, id: AdtId) -> &mut AdtDef {
        &mut self.adts[id.0 as usize]
    }

    pub fn find(&self, path: &str) -> Option<AdtId> {
        self.adts
            .iter()
            .position(|a| a.path == path)
            .map(|i| AdtId(i as u32))
    }

    /// Scalar leaves of a by-value aggregate, in a fixed order:
    /// structs and tuples field by field; enums, `Option` and `Result` as a
    /// `u32` tag followed by the leaves of every variant in turn; `&[T]` and
    /// `&str` as data pointer then `usize` length. `None` for types that
    /// cannot live in registers (heap owners, unsized types, arrays).
    ///
    /// A `Box<T>` on its own (`is_boxable`) is one leaf, its pointer (of
    /// the type `Box<T>`, so that the front end knows to free it); a box
    /// inside an aggregate is not supported yet (`None`).
    ///
    /// A `Vec<T>` is one leaf too, of type `Vec<T>`: the pointer to a box
    /// that holds the Vec's three words, rustc's own layout (the Vec
    /// operations work on it as on any Vec in memory; moving it into a
    /// field or a box moves the words and frees the box). It may be a
    /// field of a struct or tuple value, not a payload of an enum,
    /// `Option` or `Result` (dropping those would need a test of the tag).
    pub fn flatten(&self, ty: &Ty) -> Option<Vec<Ty>> {
        if let Ty::Box(to) = ty {
            return self.is_boxable(to).then(|| vec![ty.clone()]);
        }
        let mut out = Vec::new();
        if self.flatten_into(ty, &mut out, true) {
            Some(out)
        } else {
            None
        }
    }

    /// Whether traced code may box a `ty`: plain data, or a value whose
    /// leaves own Vecs or boxes (a Vec, a struct holding Vecs, an enum of
    /// the crate holding boxes or Vecs), which the box's drop glue frees
    /// (`AllocDescr::drop`); not zero-sized, not a box itself.
    pub fn is_boxable(&self, ty: &Ty) -> bool {
        if self.is_plain_data(ty) {
            return true;
        }
        let mut leaves = Vec::new();
        !matches!(ty, Ty::Box(_))
            && self.flatten_into(ty, &mut leaves, true)
            && !leaves.is_empty()
            && leaves.iter().any(|l| matches!(l, Ty::Vec(_) | Ty::Box(_)))
    }

    /// Whether `ty` is plain data that traced code may box: a scalar (a
    /// thin reference included), or a struct, tuple or enum (`Option`,
    /// `Result` included) of plain data; not zero-sized, no heap owner
    /// (`Box::new` stores it leaf by leaf, and freeing it is freeing its
    /// memory).
    pub fn is_plain_data(&self, ty: &Ty) -> bool {
        let mut n = 0;
        self.plain_leaves(ty, &mut n) && n > 0
    }

    fn plain_leaves(&self, ty: &Ty, n: &mut usize) -> bool {
        match ty {
            Ty::Bool | Ty::Char | Ty::Int(_) | Ty::F64 => {
                *n += 1;
                true
            }
            Ty::Ref { to, .. } if !to.is_unsized() => {
                *n += 1;
                true
            }
            Ty::Gc(_) => {
                *n += 1;
                true
            }
            Ty::Cell(t) => self.plain_leaves(t, n),
            // The borrow flag and `logged`, then the value.
            Ty::GcCell(t) => {
                *n += 2;
                self.plain_leaves(t, n)
            }
            // `watched`, then the value.
            Ty::QuasiImmut(t) => {
                *n += 1;
                self.plain_leaves(t, n)
            }
            Ty::Unit => true,
            Ty::Tuple(items) => items.iter().all(|t| self.plain_leaves(t, n)),
            Ty::Adt(id) => match &self.adt(*id).kind {
                AdtKind::Struct { fields, .. } => {
                    !self.adt(*id).owns_heap && fields.iter().all(|f| self.plain_leaves(&f.ty, n))
                }
                // The tag, then every variant's leaves.
                AdtKind::Enum { variants } => {
                    *n += 1;
                    !self.adt(*id).owns_heap
                        && variants
                            .iter()
                            .all(|v| v.fields.iter().all(|f| self.plain_leaves(&f.ty, n)))
                }
            },
            Ty::Option(t) => {
                *n += 1;
                self.plain_leaves(t, n)
            }
            Ty::Result(a, b) => {
                *n += 1;
                self.plain_leaves(a, n) && self.plain_leaves(b, n)
            }
            _ => false,
        }
    }

    /// `vec_ok`: a `Vec` may be a leaf here (not inside an enum's payload).
    fn flatten_into(&self, ty: &Ty, out: &mut Vec<Ty>, vec_ok: bool) -> bool {
        match ty {
            Ty::Unit | Ty::Never => true,
            Ty::Bool | Ty::Char | Ty::Int(_) | Ty::F64 => {
                out.push(ty.clone());
                true
            }
            Ty::Ref { mutable, to } => {
                match &**to {
                    Ty::Slice(elem) => {
                        out.push(Ty::reference(*mutable, Ty::Slice(elem.clone())));
                        out.push(Ty::usize());
                    }
                    Ty::Str => {
                        out.push(Ty::reference(*mutable, Ty::Str));
                        out.push(Ty::usize());
                    }
                    _ => out.push(ty.clone()),
                }
                true
            }
            Ty::Gc(_) => {
                out.push(ty.clone());
                true
            }
            Ty::Cell(t) => self.flatten_into(t, out, vec_ok),
            Ty::GcCell(t) => {
                out.push(Ty::Int(IntTy::Isize));
                out.push(Ty::Bool);
                self.flatten_into(t, out, vec_ok)
            }
            Ty::QuasiImmut(t) => {
                out.push(Ty::usize());
                self.flatten_into(t, out, vec_ok)
            }
            Ty::Tuple(items) => items.iter().all(|t| self.flatten_into(t, out, vec_ok)),
            Ty::Adt(id) => {
                let adt = self.adt(*id);
                if adt.owns_heap && !vec_ok {
                    return false;
                }
                match &adt.kind {
                    AdtKind::Struct { fields, .. } => {
                        fields.iter().all(|f| self.flatten_into(&f.ty, out, vec_ok))
                    }
                    // (Owned leaves of the variants that are not the
                    // value's are null: dropping them all drops the value.)
                    AdtKind::Enum { variants } => {
                        out.push(Ty::Int(IntTy::U32));
                        variants.iter().all(|v| {
                            v.fields
                                .iter()
                                .all(|f| self.flatten_into(&f.ty, out, vec_ok))
                        })
                    }
                }
            }
            Ty::Option(t) => {
                out.push(Ty::Int(IntTy::U32));
                self.flatten_into(t, out, false)
            }
            Ty::Result(a, b) => {
                out.push(Ty::Int(IntTy::U32));
                self.flatten_into(a, out, false) && self.flatten_into(b, out, false)
            }
            Ty::Vec(_) if vec_ok => {
                out.push(ty.clone());
                true
            }
            // A box inside a struct or an enum of the crate: its pointer.
            // (Whether traced code may make one is `is_boxable`'s to say, at
            // the `Box::new`; not asked here, where `T` may be the type
            // being flattened.)
            Ty::Box(to) if vec_ok && !to.is_unsized() && !matches!(**to, Ty::Opaque(_)) => {
                out.push(ty.clone());
                true
            }
            Ty::Array(..)
            | Ty::Slice(_)
            | Ty::Str
            | Ty::Vec(_)
            | Ty::Box(_)
            | Ty::String
            | Ty::Opaque(_) => false,
        }
    }

    /// Whether a value of type `ty` holds a `Gc` (not behind another
    /// `Gc`): storing it into a GC object needs the write barrier, and a
    /// GC object's scanning function must visit it.
    pub fn holds_gc(&self, ty: &Ty) -> bool {
        self.holds(ty, &|t| matches!(t, Ty::Gc(_)))
    }

    /// Whether `ty` or a part of it satisfies `is`: the parts are the items
    /// of tuples, arrays, slices, `Vec`s, boxes, `Option`s, `Result`s and
    /// cells and the fields of structs and enums, not what references and
    /// `Gc`s point to.
    pub fn holds(&self, ty: &Ty, is: &dyn Fn(&Ty) -> bool) -> bool {
        fn go(types: &TypeTable, ty: &Ty, is: &dyn Fn(&Ty) -> bool, seen: &mut Vec<AdtId>) -> bool {
            if is(ty) {
                return true;
            }
            match ty {
                Ty::Tuple(items) => items.iter().any(|t| go(types, t, is, seen)),
                Ty::Option(t)
                | Ty::Array(t, _)
                | Ty::Slice(t)
                | Ty::Vec(t)
                | Ty::Box(t)
                | Ty::Cell(t)
                | Ty::GcCell(t)
                | Ty::QuasiImmut(t) => go(types, t, is, seen),
                Ty::Result(a, b) => go(types, a, is, seen) || go(types, b, is, seen),
                Ty::Adt(id) => {
                    if seen.contains(id) || id.0 as usize >= types.adts.len() {
                        return false;
                    }
                    seen.push(*id);
                    types
                        .adt(*id)
                        .all_fields()
                        .any(|(_, _, f)| go(types, &f.ty, is, seen))
                }
                _ => false,
            }
        }
        go(self, ty, is, &mut Vec::new())
    }

    pub fn display<'a>(&'a self, ty: &'a Ty) -> TyDisplay<'a> {
        TyDisplay { table: self, ty }
    }
}

pub struct TyDisplay<'a> {
    table: &'a TypeTable,
    ty: &'a Ty,
}

impl fmt::Display for TyDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let table = self.table;
        let d = |t| TyDisplay { table, ty: t };
        match self.ty {
            Ty::Unit => write!(f, "()"),
            Ty::Never => write!(f, "!"),
            Ty::Bool => write!(f, "bool"),
            Ty::Char => write!(f, "char"),
            Ty::Int(i) => write!(f, "{}", i.name()),
            Ty::F64 => write!(f, "f64"),
            Ty::Ref { mutable, to } => {
                write!(f, "&{}{}", if *mutable { "mut " } else { "" }, d(to))
            }
            Ty::Adt(id) => {
                if (id.0 as usize) < self.table.adts.len() {
                    write!(f, "{}", self.table.adt(*id).name)
                } else {
                    write!(f, "adt#{}", id.0)
                }
            }
            Ty::Tuple(items) => {
                write!(f, "(")?;
                for (i, t) in items.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{}", d(t))?;
                }
                if items.len() == 1 {
                    write!(f, ",")?;
                }
                write!(f, ")")
            }
            Ty::Array(t, n) => write!(f, "[{}; {}]", d(t), n),
            Ty::Slice(t) => write!(f, "[{}]", d(t)),
            Ty::Str => write!(f, "str"),
            Ty::Vec(t) => write!(f, "Vec<{}>", d(t)),
            Ty::Box(t) => write!(f, "Box<{}>", d(t)),
            Ty::Gc(t) => write!(f, "Gc<{}>", d(t)),
            Ty::Cell(t) => write!(f, "Cell<{}>", d(t)),
            Ty::GcCell(t) => write!(f, "GcCell<{}>", d(t)),
            Ty::QuasiImmut(t) => write!(f, "QuasiImmut<{}>", d(t)),
            Ty::String => write!(f, "String"),
            Ty::Option(t) => write!(f, "Option<{}>", d(t)),
            Ty::Result(a, b) => write!(f, "Result<{}, {}>", d(a), d(b)),
            Ty::Opaque(name) => write!(f, "{name}"),
        }
    }
}
