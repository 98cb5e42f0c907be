//! Inference types: `Ty` with holes, and unification over them.
//!
//! The user's code already compiles with rustc, so this is not a checker:
//! it only has to find the types rustc found, for the few places where
//! they are not written down (integer literals, `let` without a type,
//! `None`, `Ok(..)`).

use metatrace_jitcodegen::types::{IntTy, Ty};

#[derive(Clone, Debug, PartialEq)]
pub enum IT {
    /// A hole, resolved through the substitution.
    Var(u32),
    /// A type with no type arguments (ints, bool, ADTs, String, ...).
    Leaf(Ty),
    Ref(bool, Box<IT>),
    Tuple(Vec<IT>),
    Array(Box<IT>, u64),
    Slice(Box<IT>),
    Vec(Box<IT>),
    Box(Box<IT>),
    Gc(Box<IT>),
    Cell(Box<IT>),
    GcCell(Box<IT>),
    QuasiImmut(Box<IT>),
    Option(Box<IT>),
    Result(Box<IT>, Box<IT>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VarKind {
    Any,
    /// An integer literal's type: defaults to `i32`.
    Int,
    /// The type of an expression already reported as an error (rustc's
    /// `ty::Error`): it unifies with everything and stays an error, so
    /// nothing that uses the expression is reported again.
    Error,
}

#[derive(Default)]
pub struct Subst {
    bound: Vec<Option<IT>>,
    kinds: Vec<VarKind>,
}

impl IT {
    pub fn from_ty(ty: &Ty) -> IT {
        match ty {
            Ty::Ref { mutable, to } => IT::Ref(*mutable, Box::new(IT::from_ty(to))),
            Ty::Tuple(items) => IT::Tuple(items.iter().map(IT::from_ty).collect()),
            Ty::Array(t, n) => IT::Array(Box::new(IT::from_ty(t)), *n),
            Ty::Slice(t) => IT::Slice(Box::new(IT::from_ty(t))),
            Ty::Vec(t) => IT::Vec(Box::new(IT::from_ty(t))),
            Ty::Box(t) => IT::Box(Box::new(IT::from_ty(t))),
            Ty::Gc(t) => IT::Gc(Box::new(IT::from_ty(t))),
            Ty::Cell(t) => IT::Cell(Box::new(IT::from_ty(t))),
            Ty::GcCell(t) => IT::GcCell(Box::new(IT::from_ty(t))),
            Ty::QuasiImmut(t) => IT::QuasiImmut(Box::new(IT::from_ty(t))),
            Ty::Option(t) => IT::Option(Box::new(IT::from_ty(t))),
            Ty::Result(a, b) => IT::Result(Box::new(IT::from_ty(a)), Box::new(IT::from_ty(b))),
            leaf => IT::Leaf(leaf.clone()),
        }
    }

    pub fn unit() -> IT {
        IT::Leaf(Ty::Unit)
    }

    pub fn never() -> IT {
        IT::Leaf(Ty::Never)
    }

    pub fn bool() -> IT {
        IT::Leaf(Ty::Bool)
    }

    pub fn int(t: IntTy) -> IT {
        IT::Leaf(Ty::Int(t))
    }

    pub fn usize() -> IT {
        IT::Leaf(Ty::usize())
    }
}

impl Subst {
    pub fn fresh(&mut self, kind: VarKind) -> IT {
        self.bound.push(None);
        self.kinds.push(kind);
        IT::Var(self.bound.len() as u32 - 1)
    }

    /// Follow bindings at the top level only.
    pub fn shallow(&self, t: &IT) -> IT {
        let mut t = t.clone();
        while let IT::Var(v) = t {
            match &self.bound[v as usize] {
                Some(b) => t = b.clone(),
                None => return IT::Var(v),
            }
        }
        t
    }

    pub fn kind(&self, v: u32) -> VarKind {
        self.kinds[v as usize]
    }

    pub fn is_never(&self, t: &IT) -> bool {
        matches!(self.shallow(t), IT::Leaf(Ty::Never))
    }

    /// Make two types equal. `false` when they cannot be (the caller
    /// reports it; rustc-valid code should not get there).
    pub fn unify(&mut self, a: &IT, b: &IT) -> bool {
        let a = self.shallow(a);
        let b = self.shallow(b);
        match (&a, &b) {
            (IT::Var(x), IT::Var(y)) if x == y => true,
            // An error absorbs what it meets: a hole unified with it
            // becomes an error too.
            (IT::Var(x), IT::Var(y)) if self.kind(*x) == VarKind::Error => {
                self.bound[*y as usize] = Some(a.clone());
                true
            }
            (IT::Var(x), IT::Var(y)) if self.kind(*y) == VarKind::Error => {
                self.bound[*x as usize] = Some(b.clone());
                true
            }
            (IT::Var(x), _) | (_, IT::Var(x)) if self.kind(*x) == VarKind::Error => true,
            (IT::Var(x), IT::Var(y)) => {
                let (kx, ky) = (self.kind(*x), self.kind(*y));
                let merged = match (kx, ky) {
                    (VarKind::Any, k) | (k, VarKind::Any) => k,
                    (k1, k2) if k1 == k2 => k1,
                    _ => return false,
                };
                self.kinds[*y as usize] = merged;
                self.bound[*x as usize] = Some(b.clone());
                true
            }
            (IT::Var(x), other) | (other, IT::Var(x)) => {
                let ok = match (self.kind(*x), other) {
                    (VarKind::Any, _) => !self.occurs(*x, other),
                    (VarKind::Int, IT::Leaf(Ty::Int(_))) => true,
                    _ => false,
                };
                if ok {
                    self.bound[*x as usize] = Some(other.clone());
                }
                ok
            }
            // `!` fits anywhere (a diverging arm, `return` as a value).
            (IT::Leaf(Ty::Never), _) | (_, IT::Leaf(Ty::Never)) => true,
            (IT::Leaf(x), IT::Leaf(y)) => x == y,
            // `&mut T` coerces to `&T`: mutability is not part of equality here.
            (IT::Ref(_, x), IT::Ref(_, y)) => self.unify(x, y),
            (IT::Tuple(xs), IT::Tuple(ys)) => {
                xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| self.unify(x, y))
            }
            (IT::Array(x, n), IT::Array(y, m)) => n == m && self.unify(x, y),
            (IT::Slice(x), IT::Slice(y))
            | (IT::Vec(x), IT::Vec(y))
            | (IT::Box(x), IT::Box(y))
            | (IT::Gc(x), IT::Gc(y))
            | (IT::Cell(x), IT::Cell(y))
            | (IT::GcCell(x), IT::GcCell(y))
            | (IT::QuasiImmut(x), IT::QuasiImmut(y))
            | (IT::Option(x), IT::Option(y)) => self.unify(x, y),
            (IT::Result(a1, b1), IT::Result(a2, b2)) => self.unify(a1, a2) && self.unify(b1, b2),
            _ => false,
        }
    }

    /// The type of an expression already reported (`VarKind::Error`).
    pub fn is_error(&self, t: &IT) -> bool {
        matches!(self.shallow(t), IT::Var(v) if self.kind(v) == VarKind::Error)
    }

    /// Some part of `t` is an error: a type left open because of an
    /// earlier error, not one to ask the user to annotate.
    pub fn has_error(&self, t: &IT) -> bool {
        self.any_hole(t, &|w| self.kind(w) == VarKind::Error)
    }

    fn occurs(&self, v: u32, t: &IT) -> bool {
        self.any_hole(t, &|w| w == v)
    }

    /// Whether a hole of `t` (after the substitution) satisfies `pred`.
    fn any_hole(&self, t: &IT, pred: &impl Fn(u32) -> bool) -> bool {
        match self.shallow(t) {
            IT::Var(w) => pred(w),
            IT::Leaf(_) => false,
            IT::Ref(_, x)
            | IT::Array(x, _)
            | IT::Slice(x)
            | IT::Vec(x)
            | IT::Box(x)
            | IT::Gc(x)
            | IT::Cell(x)
            | IT::GcCell(x)
            | IT::QuasiImmut(x)
            | IT::Option(x) => self.any_hole(&x, pred),
            IT::Tuple(xs) => xs.iter().any(|x| self.any_hole(x, pred)),
            IT::Result(a, b) => self.any_hole(&a, pred) || self.any_hole(&b, pred),
        }
    }

    /// The final type, with literal defaults applied; `None` if a hole is
    /// left that nothing constrains.
    pub fn resolve(&self, t: &IT) -> Option<Ty> {
        Some(match self.shallow(t) {
            IT::Var(v) => match self.kind(v) {
                VarKind::Int => Ty::Int(IntTy::I32),
                VarKind::Any | VarKind::Error => return None,
            },
            IT::Leaf(t) => t,
            IT::Ref(m, x) => Ty::reference(m, self.resolve(&x)?),
            IT::Tuple(xs) => Ty::Tuple(xs.iter().map(|x| self.resolve(x)).collect::<Option<_>>()?),
            IT::Array(x, n) => Ty::Array(Box::new(self.resolve(&x)?), n),
            IT::Slice(x) => Ty::Slice(Box::new(self.resolve(&x)?)),
            IT::Vec(x) => Ty::Vec(Box::new(self.resolve(&x)?)),
            IT::Box(x) => Ty::Box(Box::new(self.resolve(&x)?)),
            IT::Gc(x) => Ty::Gc(Box::new(self.resolve(&x)?)),
            IT::Cell(x) => Ty::Cell(Box::new(self.resolve(&x)?)),
            IT::GcCell(x) => Ty::GcCell(Box::new(self.resolve(&x)?)),
            IT::QuasiImmut(x) => Ty::QuasiImmut(Box::new(self.resolve(&x)?)),
            IT::Option(x) => Ty::Option(Box::new(self.resolve(&x)?)),
            IT::Result(a, b) => {
                Ty::Result(Box::new(self.resolve(&a)?), Box::new(self.resolve(&b)?))
            }
        })
    }

    /// Strip references: `&&T` → `T`, with how many were stripped.
    pub fn autoderef(&self, t: &IT) -> (IT, usize) {
        let mut t = self.shallow(t);
        let mut n = 0;
        // Field access and method calls see through boxes as through
        // references.
        while let IT::Ref(_, inner) | IT::Box(inner) | IT::Gc(inner) = t {
            t = self.shallow(&inner);
            n += 1;
        }
        (t, n)
    }
}
