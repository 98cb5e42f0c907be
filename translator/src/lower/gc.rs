//! `Gc`, `Cell` and `GcCell` in traced code: allocation on the GC heap
//! (`gc_new`), pointer comparison, and the cells' reads and writes with
//! `GcCell`'s borrow flag and write barrier (docs/gc.md, "Traced code").
//! Also `QuasiImmut`, the other cell: `quasiimmut_get`, and `set` as a
//! store and a rare invalidation (RPython's `quasiimmut_field` and
//! `jit_force_quasi_immutable`, codewriter/jtransform.py).
//!
//! RPython's counterparts: `malloc` of a GC type in rtyped graphs (the
//! `malloc` operation, which the GC transformer turns into the collector's
//! allocation and the JIT's `new_with_vtable`), and the write barrier the
//! framework GC transformer inserts before stores of GC pointers into GC
//! objects (`gct_setfield` calling `write_barrier`; in JIT code
//! `cond_call_gc_wb`, a flag test and a rare call, which is what a `set` on
//! a `GcCell` becomes here).

use super::{Leaves, Lowerer};
use crate::builtins::{Builtin, Lowering};
use metatrace_jitcodegen::flowgraph::{
    Const, FieldRef, Helper, Op, Operand, PanicKind, GCCELL_BORROW, GCCELL_LOGGED, GCCELL_VALUE,
    QUASIIMMUT_VALUE, QUASIIMMUT_WATCHED,
};
use metatrace_jitcodegen::types::{IntTy, Ty};
use proc_macro2::Span;
use syn::spanned::Spanned;

use super::place::Lval;

/// `GcCell`'s borrow flag while mutably borrowed (`cell.rs`'s `WRITING`).
const WRITING: i64 = -1;
/// The panic messages of `GcCell` (runtime/src/gc/cell.rs).
const MUT_BORROWED: &str = "GcCell already mutably borrowed";
const BORROWED: &str = "GcCell already borrowed";

impl Lowerer<'_, '_> {
    /// `Gc::new(x)`, `Gc::ptr_eq(a, b)`, `Cell::new(x)`, `GcCell::new(x)`.
    pub(super) fn gc_assoc_call(
        &mut self,
        b: &Builtin,
        args: &[&syn::Expr],
        ty: &Ty,
        span: Span,
    ) -> Option<Leaves> {
        match b.lower {
            Lowering::GcNew => self.gc_new(args[0], ty, span),
            Lowering::GcPtrEq => {
                let a = self.scalar(args[0])?;
                let c = self.scalar(args[1])?;
                let a = self.emit1(Op::Cast, vec![a], Ty::usize());
                let c = self.emit1(Op::Cast, vec![c], Ty::usize());
                Some(vec![self.emit1(Op::IntEq, vec![a, c], Ty::Bool)])
            }
            // A cell in registers is its value (`Cell`), or its flags
            // (free, not logged) then its value (`GcCell`).
            _ => {
                let v = self.rvalue(args[0])?;
                match ty {
                    Ty::GcCell(_) => {
                        let free = Operand::Const(metatrace_jitcodegen::flowgraph::Const::Int(
                            0,
                            IntTy::Isize,
                        ));
                        let unlogged =
                            Operand::Const(metatrace_jitcodegen::flowgraph::Const::Bool(false));
                        Some([vec![free, unlogged], v].concat())
                    }
                    // Not watched (`QuasiImmut::new`).
                    Ty::QuasiImmut(_) => {
                        Some([vec![Operand::Const(Const::Int(0, IntTy::Usize))], v].concat())
                    }
                    _ => Some(v),
                }
            }
        }
    }

    /// `Gc::new(x)`: `gc_new` (a zeroed object), then `x` stored into it
    /// leaf by leaf. No barrier: the object is the youngest there is.
    fn gc_new(&mut self, arg: &syn::Expr, ty: &Ty, span: Span) -> Option<Leaves> {
        let Ty::Gc(inner) = ty else {
            self.error(span, "cannot lower this `Gc::new`", "rewrite it with the constructs listed in docs/subset.md, or move it into a #[dont_look_inside] function");
            return None;
        };
        let inner = (**inner).clone();
        // A value the translator cannot flatten (one holding a String, or
        // a Vec or Box inside an `Option` or `Result`) cannot be built
        // here; the stores decide the rest. The object is zeroed, so its drop glue
        // (registered at the allocation) never sees garbage.
        if self.items.types.flatten(&inner).is_none() {
            let shown = self.items.types.display(&inner).to_string();
            self.error(
                span,
                format!("`Gc::new` of a value of type `{shown}` is not supported in traced code yet"),
                "traced code allocates GC objects of values it can build (plain data, `Gc`s, cells, Vecs and boxes of them); an object holding a String, or a Vec or Box inside an `Option` or `Result`, is made in a #[dont_look_inside] function",
            );
            return None;
        }
        self.new_and_store(Op::GcNew(inner.clone()), arg, &inner, ty, span)
    }

    /// A method of a `Cell` or `GcCell` (the receiver's type, references
    /// and `Gc`s followed, is `cell_ty`).
    pub(super) fn cell_method(
        &mut self,
        b: &Builtin,
        m: &syn::ExprMethodCall,
        cell_ty: &Ty,
    ) -> Option<Leaves> {
        let span = m.span();
        let lv = self.deref_place(&m.receiver)?;
        let (inner, is_gc_cell) = match cell_ty {
            Ty::Cell(t) => ((**t).clone(), false),
            Ty::GcCell(t) => ((**t).clone(), true),
            _ => return None,
        };
        if !is_gc_cell
            && matches!(b.lower, Lowering::CellSet | Lowering::CellReplace)
            && self.items.types.holds_gc(&inner)
        {
            self.error(
                span,
                format!(
                    "a `Cell<{}>` holds a `Gc` but has no write barrier",
                    self.items.types.display(&inner)
                ),
                "use `metatrace::GcCell` for fields that hold a `Gc` and change",
            );
            return None;
        }
        // A `Cell` field is accessed as a field of its owner, which the
        // optimizer knows (and removes with a virtual owner).
        if let (Lval::Field { .. }, false) = (&lv, is_gc_cell) {
            let value = super::place::uncell(&lv);
            return match b.lower {
                Lowering::CellGet => self.load(&value, span),
                _ => self.cell_write(b, m, &value, None),
            };
        }
        let cell = self.writable_addr(&lv, cell_ty, span)?;
        let value = self.cell_value(&cell, cell_ty, &inner);
        let gc_cell = is_gc_cell.then_some((&cell, cell_ty));
        match b.lower {
            Lowering::CellGet => {
                if is_gc_cell {
                    self.check_borrow(&cell, cell_ty, false);
                }
                self.load(&value, span)
            }
            Lowering::CellSet | Lowering::CellReplace => self.cell_write(b, m, &value, gc_cell),
            Lowering::CellBorrow | Lowering::CellBorrowMut => {
                let mutable = b.lower == Lowering::CellBorrowMut;
                self.check_borrow(&cell, cell_ty, mutable);
                if mutable {
                    self.write_barrier(&cell, cell_ty, &inner);
                }
                let addr = self.addr_of(&value, span)?.remove(0);
                Some(vec![self.emit1(
                    Op::Cast,
                    vec![addr],
                    Ty::reference(mutable, inner),
                )])
            }
            _ => {
                self.error(span, format!("cannot lower `{}` of a cell", b.name), "rewrite it with the constructs listed in docs/subset.md, or move it into a #[dont_look_inside] function");
                None
            }
        }
    }

    /// The address of the cell (of type `cell_ty`) at `lv`, as a `&mut`:
    /// a cell is written through a shared reference, so its accesses must
    /// not use immutable descrs, which the optimizer may fold.
    fn writable_addr(&mut self, lv: &Lval, cell_ty: &Ty, span: Span) -> Option<Operand> {
        let cell = self.addr_of(lv, span)?.remove(0);
        if matches!(self.g.operand_ty(&cell), Ty::Ref { mutable: true, .. }) {
            return Some(cell);
        }
        Some(self.emit1(Op::Cast, vec![cell], Ty::reference(true, cell_ty.clone())))
    }

    /// A method of a `QuasiImmut` (the receiver's type, references and
    /// `Gc`s followed, is `q_ty`): `get` is `quasiimmut_get`, which the
    /// tracer turns into a constant when the field's address is one;
    /// `set` is the store, then the test of `watched` and the rare call
    /// that invalidates the traces that read the field as a constant.
    pub(super) fn quasiimmut_method(
        &mut self,
        b: &Builtin,
        m: &syn::ExprMethodCall,
        q_ty: &Ty,
    ) -> Option<Leaves> {
        let span = m.span();
        let Ty::QuasiImmut(inner) = q_ty else {
            return None;
        };
        if !matches!(**inner, Ty::Bool | Ty::Char | Ty::Int(_) | Ty::F64) {
            self.error(
                span,
                format!(
                    "a `QuasiImmut<{}>` is not supported: a quasi-immutable field holds a plain scalar",
                    self.items.types.display(inner)
                ),
                "use an integer, `f64`, `bool` or `char`; to make a compound binding (a value, a table) constant in traces, keep a version number in a `QuasiImmut<u64>` and look the binding up in an #[elidable] function that takes the version (docs/jit.md, \"Quasi-immutable fields\")",
            );
            return None;
        }
        let lv = self.deref_place(&m.receiver)?;
        let q = self.writable_addr(&lv, q_ty, span)?;
        let field = |index| FieldRef {
            owner: q_ty.clone(),
            variant: None,
            index,
        };
        match b.lower {
            Lowering::CellGet => Some(vec![self.emit1(
                Op::QuasiImmutGet(field(QUASIIMMUT_VALUE)),
                vec![q],
                (**inner).clone(),
            )]),
            Lowering::CellSet => {
                let x = self.rvalue(&m.args[0])?;
                let mut args = vec![q.clone()];
                args.extend(x);
                self.emit0(Op::SetField(field(QUASIIMMUT_VALUE)), args);
                let watched = self.emit1(
                    Op::GetField(field(QUASIIMMUT_WATCHED)),
                    vec![q.clone()],
                    Ty::usize(),
                );
                let zero = Operand::Const(Const::Int(0, IntTy::Usize));
                let is_watched = self.emit1(Op::IntNe, vec![watched, zero], Ty::Bool);
                let (invalidate, done, keys) = self.branch(is_watched);
                let join = self.new_join(&keys, &[]);
                self.enter(done, &keys);
                self.goto(join, &keys, vec![]);
                self.enter(invalidate, &keys);
                let shared = self.emit1(Op::Cast, vec![q], Ty::reference(false, q_ty.clone()));
                self.emit0(
                    Op::Helper(Helper::QuasiImmutInvalidate((**inner).clone())),
                    vec![shared],
                );
                self.goto(join, &keys, vec![]);
                self.enter(join, &keys);
                Some(vec![])
            }
            _ => {
                self.error(
                    span,
                    format!("cannot lower `{}` of a `QuasiImmut`", b.name),
                    "rewrite it with the constructs listed in docs/subset.md, or move it into a #[dont_look_inside] function",
                );
                None
            }
        }
    }

    /// `set(x)` / `replace(x)` of the cell whose value is at `value`; for
    /// a `GcCell` (`gc_cell`: its address and type) the borrow check and
    /// the write barrier first. The old value for `replace`.
    fn cell_write(
        &mut self,
        b: &Builtin,
        m: &syn::ExprMethodCall,
        value: &Lval,
        gc_cell: Option<(&Operand, &Ty)>,
    ) -> Option<Leaves> {
        let span = m.span();
        let x = self.rvalue(&m.args[0])?;
        if let Some((cell, cell_ty)) = gc_cell {
            self.check_borrow(cell, cell_ty, true);
            self.write_barrier(cell, cell_ty, &value.ty());
        }
        let old = match b.lower {
            Lowering::CellReplace => self.load(value, span)?,
            _ => vec![],
        };
        self.store(value, x, span)?;
        Some(old)
    }

    /// The place of a cell's value, given the cell's (writable) address.
    fn cell_value(&mut self, cell: &Operand, cell_ty: &Ty, inner: &Ty) -> Lval {
        match cell_ty {
            Ty::GcCell(_) => Lval::Field {
                base: cell.clone(),
                field: gccell_field(cell_ty, GCCELL_VALUE),
                ty: inner.clone(),
            },
            // `repr(transparent)`.
            _ => Lval::Mem {
                addr: cell.clone(),
                ty: inner.clone(),
            },
        }
    }

    /// `GcCell`'s dynamic borrow check, as `RefCell` does it: a write (or
    /// `borrow_mut`) needs the cell free, a read only not mutably
    /// borrowed; a panic with the runtime's message otherwise. Traced code
    /// checks the flag but does not raise it while it holds the borrow
    /// (docs/gc.md, "The borrow flag in traced code").
    fn check_borrow(&mut self, cell: &Operand, cell_ty: &Ty, write: bool) {
        let flag = self.emit1(
            Op::GetField(gccell_field(cell_ty, GCCELL_BORROW)),
            vec![cell.clone()],
            Ty::Int(IntTy::Isize),
        );
        let (op, against, msg) = if write {
            (Op::IntEq, 0, BORROWED)
        } else {
            (Op::IntNe, WRITING, MUT_BORROWED)
        };
        let c = Operand::Const(metatrace_jitcodegen::flowgraph::Const::Int(
            against,
            IntTy::Isize,
        ));
        let ok = self.emit1(op, vec![flag, c], Ty::Bool);
        self.check(ok, PanicKind::Explicit, msg);
    }

    /// `GcCell::write_barrier`: a test of the cell's `logged` flag, and
    /// when it is clear the rare call that remembers the cell.
    fn write_barrier(&mut self, cell: &Operand, cell_ty: &Ty, inner: &Ty) {
        let logged = self.emit1(
            Op::GetField(gccell_field(cell_ty, GCCELL_LOGGED)),
            vec![cell.clone()],
            Ty::Bool,
        );
        let (done, slow, keys) = self.branch(logged);
        let join = self.new_join(&keys, &[]);
        self.enter(done, &keys);
        self.goto(join, &keys, vec![]);
        self.enter(slow, &keys);
        let shared = self.emit1(
            Op::Cast,
            vec![cell.clone()],
            Ty::reference(false, cell_ty.clone()),
        );
        self.emit0(
            Op::Helper(Helper::GcCellBarrier(inner.clone())),
            vec![shared],
        );
        self.goto(join, &keys, vec![]);
        self.enter(join, &keys);
    }
}

fn gccell_field(cell_ty: &Ty, index: u32) -> FieldRef {
    FieldRef {
        owner: cell_ty.clone(),
        variant: None,
        index,
    }
}
