//! The optimizer against the trace interpreter, on random traces: every
//! pass alone and all of them together must keep the exits (which guard,
//! with which resume values), and the memory effects, of the trace they
//! optimize.
//!
//! Traces come from a small deterministic generator: int arithmetic of
//! several widths, casts, comparisons with guards (redundant and
//! contradictory ones included), `guard_value`, float arithmetic, reads
//! and writes of a real `#[repr(C)]` struct (`Obj`) through two refs that
//! may point to the same object, through `fieldaddr` + `load`/`store`,
//! through raw addresses, its `Vec<i64>` (length, data pointer, items by
//! constant and by bounds-checked index, push, pop), an immutable program
//! reached through a constant, residual calls that write memory, and an
//! elidable jitcode (`pair`). Guards are flipped until the first input set
//! runs through them (so traces get deep), like the tracer would have
//! recorded them. Straight traces end with `jump_to`; loops count an input
//! down to leave.

use metatrace_runtime::blackhole::ResumeFrame;
use metatrace_runtime::jitcode::*;
use metatrace_runtime::optimizer::{
    optimize, optimize_entering, optimize_loop, Ctx, EnabledOpts, Optimized, Pass, Peeled,
    ShortPreamble,
};
use metatrace_runtime::trace::interp::{self, TraceExit};
use metatrace_runtime::trace::*;
use metatrace_testkit::backend::TB;
use metatrace_testkit::env_u64;
use metatrace_testkit::ops::{CMP_OPS, FLOAT_BIN_OPS, INT_BIN_OPS};
use metatrace_testkit::optimizer::*;
use metatrace_testkit::trace_text::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

// ---------------------------------------------------------------------------
// The generator.

#[derive(Clone, Copy, PartialEq, Debug)]
enum Ty {
    Int(IntTy),
    Bool,
}

struct Gen<'r> {
    r: &'r mut Rng,
    /// The trace so far.
    t: TB,
    ints: Vec<(Val, Ty)>,
    floats: Vec<Val>,
    objs: Vec<Val>,
    /// `fieldaddr<Obj.vals>` values, and a live data pointer of each.
    vecs: Vec<(Val, Option<Val>)>,
    cmps: Vec<(Opcode, Val, Val, Val)>,
    pure_calls: Vec<(Val, Val)>,
    /// Pushes minus pops, per Vec value.
    net: HashMap<Val, i64>,
    free_pops: u32,
    pushes: u32,
    /// Guards the finder may flip (true/false) or fill in (value).
    flippable: Vec<usize>,
    value_guards: Vec<usize>,
}

const INT_TYS: [IntTy; 7] = [
    IntTy::I64,
    IntTy::I64,
    IntTy::U64,
    IntTy::Usize,
    IntTy::U8,
    IntTy::I32,
    IntTy::I16,
];

impl<'r> Gen<'r> {
    fn kind(&self, v: Val) -> Kind {
        self.t.kind_of(v)
    }

    fn op(&mut self, opcode: Opcode, args: Vec<Val>, result: Option<Kind>) -> Val {
        self.t.op(opcode, args, result)
    }

    /// Random resume data: 1-2 frames of values in the pools and
    /// constants; `first` (if any) is register 0 of frame 0.
    fn guard(&mut self, opcode: Opcode, args: Vec<Val>, first: Option<Val>) -> usize {
        let nframes = 1 + self.r.chance(25) as usize;
        let mut frames = Vec::new();
        for f in 0..nframes {
            let mut vals = Vec::new();
            if f == 0 {
                if let Some(x) = first {
                    vals.push(x);
                }
            }
            for _ in 0..self.r.below(5) {
                let v = match self.r.below(10) {
                    0..=4 if !self.ints.is_empty() => {
                        let k = self.r.below(self.ints.len() as u64) as usize;
                        self.ints[k].0
                    }
                    5 | 6 if !self.objs.is_empty() => self.r.pick(&self.objs),
                    7 if !self.floats.is_empty() => self.r.pick(&self.floats),
                    8 if !args.is_empty() => args[0],
                    _ => Val::Int(self.r.trace_int()),
                };
                vals.push(v);
            }
            let regs = vals
                .iter()
                .enumerate()
                .map(|(k, v)| {
                    (
                        KReg {
                            kind: self.kind(*v),
                            reg: k as u16,
                        },
                        *v,
                    )
                })
                .collect();
            frames.push(FrameSnapshot {
                jitcode: 0,
                pc: f as u32,
                regs,
            });
        }
        self.t.guards.push(GuardInfo::new(frames));
        self.t.ops.push(TraceOp {
            opcode,
            args,
            result: None,
            guard: Some(self.t.guards.len() as u32 - 1),
        });
        self.t.ops.len() - 1
    }

    /// `guard_true(c)` or `guard_false(c)`, one the finder may flip.
    fn flippable_guard(&mut self, c: Val) {
        let g = if self.r.chance(50) {
            Opcode::GuardTrue
        } else {
            Opcode::GuardFalse
        };
        let at = self.guard(g, vec![c], None);
        self.flippable.push(at);
    }

    fn constant(&mut self, ty: Ty) -> Val {
        match ty {
            Ty::Int(t) => Val::Int(metatrace_runtime::executor::wrap(t, self.r.trace_int())),
            Ty::Bool => Val::Int(self.r.below(2) as i64),
        }
    }

    /// An int canonical for `ty`: from the pool (64-bit values serve every
    /// 64-bit type) or a constant.
    fn int_of(&mut self, ty: Ty) -> Val {
        let fits = |t: Ty| {
            t == ty
                || matches!((t, ty), (Ty::Int(a), Ty::Int(b)) if a.bits() == 64 && b.bits() == 64)
                || (t == Ty::Bool && matches!(ty, Ty::Int(IntTy::U8 | IntTy::I64 | IntTy::U64)))
        };
        let cands: Vec<Val> = self
            .ints
            .iter()
            .filter(|(_, t)| fits(*t))
            .map(|(v, _)| *v)
            .collect();
        if cands.is_empty() || self.r.chance(25) {
            self.constant(ty)
        } else {
            self.r.pick(&cands)
        }
    }

    fn float(&mut self) -> Val {
        if self.floats.is_empty() || self.r.chance(20) {
            Val::Float(((self.r.trace_int() % 64) as f64 / 4.0).to_bits())
        } else {
            self.r.pick(&self.floats)
        }
    }

    /// A field of `Obj`, often `a` (which raw accesses and `Obj.a#2`
    /// alias).
    fn field(&mut self) -> (u16, ScalarTy) {
        if self.r.chance(40) {
            (self.r.pick(&[F_A, F_A, F_A2]), ScalarTy::Int(IntTy::I64))
        } else {
            self.r.pick(&obj_fields())
        }
    }

    fn obj(&mut self) -> Val {
        self.r.pick(&self.objs)
    }

    /// A `Vec` of an object, and its data pointer (fresh when unknown).
    fn vec(&mut self) -> (usize, Val) {
        if self.vecs.is_empty() || self.r.chance(30) {
            let o = self.obj();
            let v = self.op(Opcode::FieldAddr(FieldId(F_VALS)), vec![o], Some(Kind::Ref));
            self.vecs.push((v, None));
        }
        let k = self.r.below(self.vecs.len() as u64) as usize;
        let (v, p) = self.vecs[k];
        let p = match p {
            Some(p) if self.r.chance(70) => p,
            _ => {
                let p = self.op(Opcode::VecPtr(ArrayId(A_VI64)), vec![v], Some(Kind::Ref));
                self.vecs[k].1 = Some(p);
                p
            }
        };
        (k, p)
    }

    /// Memory changed size: every data pointer is stale.
    fn resized(&mut self) {
        for v in &mut self.vecs {
            v.1 = None;
        }
    }

    /// An index known to be in bounds: a constant below 5, or a value
    /// masked to 0..=7 and checked against the length by a guard.
    fn index(&mut self, vec: Val) -> Val {
        if self.r.chance(50) {
            return Val::Int(self.r.below(5) as i64);
        }
        let x = self.int_of(Ty::Int(IntTy::Usize));
        let i = self.op(
            Opcode::IntBin(IntBinOp::And, IntTy::Usize),
            vec![x, Val::Int(7)],
            Some(Kind::Int),
        );
        let n = self.op(Opcode::VecLen(ArrayId(A_VI64)), vec![vec], Some(Kind::Int));
        let c = self.op(
            Opcode::IntCmp(CmpOp::Lt, IntTy::Usize),
            vec![i, n],
            Some(Kind::Int),
        );
        // Not flippable: it protects the access.
        self.guard(Opcode::GuardTrue, vec![c], None);
        self.ints.push((i, Ty::Int(IntTy::Usize)));
        i
    }

    fn step(&mut self, looped: bool) {
        let r = self.r.below(100);
        match r {
            0..=14 => {
                let ty = self.r.pick(&INT_TYS);
                // (`add` twice as likely)
                let ops: Vec<IntBinOp> =
                    std::iter::once(IntBinOp::Add).chain(INT_BIN_OPS).collect();
                let o = self.r.pick(&ops);
                let a = self.int_of(Ty::Int(ty));
                let b = match self.r.below(6) {
                    0 => a,
                    1 => Val::Int(self.r.pick(&[0, 1, -1, 2, 7])),
                    _ => {
                        if matches!(o, IntBinOp::Shl | IntBinOp::Shr) {
                            let t = self.r.pick(&INT_TYS);
                            self.int_of(Ty::Int(t))
                        } else {
                            self.int_of(Ty::Int(ty))
                        }
                    }
                };
                let b = match (b, ty) {
                    (Val::Int(c), t) => Val::Int(metatrace_runtime::executor::wrap(t, c)),
                    (b, _) => b,
                };
                // (a shift's amount may have another type: it stays second,
                // the shifted value must be canonical for `ty`)
                let shift = matches!(o, IntBinOp::Shl | IntBinOp::Shr);
                let (a, b) = if !shift && self.r.chance(20) {
                    (b, a)
                } else {
                    (a, b)
                };
                let v = self.op(Opcode::IntBin(o, ty), vec![a, b], Some(Kind::Int));
                self.ints.push((v, Ty::Int(ty)));
            }
            15..=17 => {
                let ty = self.r.pick(&INT_TYS);
                let a = self.int_of(Ty::Int(ty));
                let o = if self.r.chance(50) {
                    Opcode::IntNeg(ty)
                } else {
                    Opcode::IntNot(ty)
                };
                let mut v = self.op(o.clone(), vec![a], Some(Kind::Int));
                if self.r.chance(50) {
                    v = self.op(o, vec![v], Some(Kind::Int));
                }
                self.ints.push((v, Ty::Int(ty)));
            }
            18..=21 => {
                let from = if self.r.chance(20) {
                    Ty::Bool
                } else {
                    Ty::Int(self.r.pick(&INT_TYS))
                };
                let a = self.int_of(from);
                let to = self.r.pick(&INT_TYS);
                let fs = match from {
                    Ty::Int(t) => ScalarTy::Int(t),
                    Ty::Bool => ScalarTy::Bool,
                };
                let v = self.op(
                    Opcode::Cast(fs, ScalarTy::Int(to)),
                    vec![a],
                    Some(Kind::Int),
                );
                self.ints.push((v, Ty::Int(to)));
                if self.r.chance(40) {
                    // and back
                    let w = self.op(
                        Opcode::Cast(ScalarTy::Int(to), fs),
                        vec![v],
                        Some(Kind::Int),
                    );
                    self.ints.push((w, from));
                }
            }
            22..=31 => {
                // A comparison, usually guarded.
                let (opc, a, b) = if !self.cmps.is_empty() && self.r.chance(25) {
                    // The same or a mirrored comparison again.
                    let (o, a, b, _) =
                        self.cmps[self.r.below(self.cmps.len() as u64) as usize].clone();
                    match (o, self.r.below(4)) {
                        (Opcode::IntCmp(op, t), 0) => {
                            // mirrored: the same comparison
                            let m = match op {
                                CmpOp::Lt => CmpOp::Gt,
                                CmpOp::Gt => CmpOp::Lt,
                                CmpOp::Le => CmpOp::Ge,
                                CmpOp::Ge => CmpOp::Le,
                                o => o,
                            };
                            (Opcode::IntCmp(m, t), b, a)
                        }
                        // swapped operands: another comparison
                        (Opcode::IntCmp(op, t), 1) => (Opcode::IntCmp(op, t), b, a),
                        (Opcode::IntCmp(_, t), 2) => {
                            let op = self.r.pick(&CMP_OPS);
                            (Opcode::IntCmp(op, t), a, b)
                        }
                        (o, _) => (o, a, b),
                    }
                } else {
                    let ty = self.r.pick(&INT_TYS);
                    let op = self.r.pick(&CMP_OPS);
                    let a = self.int_of(Ty::Int(ty));
                    let b = if self.r.chance(10) {
                        a
                    } else {
                        self.int_of(Ty::Int(ty))
                    };
                    (Opcode::IntCmp(op, ty), a, b)
                };
                let c = self.op(opc.clone(), vec![a, b], Some(Kind::Int));
                self.cmps.push((opc, a, b, c));
                self.ints.push((c, Ty::Bool));
                if self.r.chance(75) {
                    self.flippable_guard(c);
                }
            }
            32..=35 => {
                // Guard again on an earlier comparison.
                if let Some(&(_, _, _, c)) = self.cmps.last() {
                    let c = if self.r.chance(50) {
                        c
                    } else {
                        self.cmps[self.r.below(self.cmps.len() as u64) as usize].3
                    };
                    self.flippable_guard(c);
                }
            }
            36..=38 => {
                // promote
                let x = if self.r.chance(80) {
                    let t = self.r.pick(&INT_TYS);
                    self.int_of(Ty::Int(t))
                } else {
                    self.obj()
                };
                if !x.is_const() {
                    let c = Val::constant(self.kind(x), 0);
                    let at = self.guard(Opcode::GuardValue, vec![x, c], Some(x));
                    self.value_guards.push(at);
                }
            }
            39..=46 => {
                // getfield
                let o = self.obj();
                let (d, ty) = self.field();
                let v = if self.r.chance(25) {
                    let a = self.op(Opcode::FieldAddr(FieldId(d)), vec![o], Some(Kind::Ref));
                    self.op(Opcode::Load(ty), vec![a], Some(ty.kind()))
                } else {
                    self.op(Opcode::GetField(FieldId(d)), vec![o], Some(ty.kind()))
                };
                match ty {
                    ScalarTy::Int(t) => self.ints.push((v, Ty::Int(t))),
                    ScalarTy::Bool => self.ints.push((v, Ty::Bool)),
                    ScalarTy::F64 => self.floats.push(v),
                    ScalarTy::Ref => self.objs.push(v),
                    ScalarTy::Char => unreachable!(),
                }
            }
            47..=54 => {
                // setfield
                let o = self.obj();
                let (d, ty) = self.field();
                let v = match ty {
                    ScalarTy::Int(t) => self.int_of(Ty::Int(t)),
                    ScalarTy::Bool => self.int_of(Ty::Bool),
                    ScalarTy::F64 => self.float(),
                    ScalarTy::Ref => self.obj(),
                    ScalarTy::Char => unreachable!(),
                };
                if self.r.chance(25) {
                    let a = self.op(Opcode::FieldAddr(FieldId(d)), vec![o], Some(Kind::Ref));
                    self.op(Opcode::Store(ty), vec![a, v], None);
                } else {
                    self.op(Opcode::SetField(FieldId(d)), vec![o, v], None);
                }
            }
            55..=57 => {
                // raw access to `Obj.a` at the object's address
                let o = self.obj();
                if self.r.chance(50) {
                    let v = self.op(
                        Opcode::Load(ScalarTy::Int(IntTy::I64)),
                        vec![o],
                        Some(Kind::Int),
                    );
                    self.ints.push((v, Ty::Int(IntTy::I64)));
                } else {
                    let v = self.int_of(Ty::Int(IntTy::I64));
                    self.op(Opcode::Store(ScalarTy::Int(IntTy::I64)), vec![o, v], None);
                }
            }
            58..=66 if self.r.chance(30) => {
                // a virtualizable frame's pc and registers, at constant
                // addresses (as the UM's)
                let (read, item) = (self.r.chance(50), self.r.chance(70));
                let (opcode, mut args) = if item {
                    let at = vec![
                        Val::Ref(frame_regs_addr() as usize),
                        Val::Int(self.r.below(4) as i64),
                    ];
                    let d = ArrayId(A_FRAME_REGS);
                    (
                        if read {
                            Opcode::GetItem(d)
                        } else {
                            Opcode::SetItem(d)
                        },
                        at,
                    )
                } else {
                    let d = FieldId(F_FRAME_PC);
                    let at = vec![Val::Ref(frame_addr() as usize)];
                    (
                        if read {
                            Opcode::GetField(d)
                        } else {
                            Opcode::SetField(d)
                        },
                        at,
                    )
                };
                if read {
                    let v = self.op(opcode, args, Some(Kind::Int));
                    self.ints.push((v, Ty::Int(IntTy::I64)));
                } else {
                    args.push(self.int_of(Ty::Int(IntTy::I64)));
                    self.op(opcode, args, None);
                }
            }
            58..=66 => {
                // items
                let (k, p) = self.vec();
                let vec = self.vecs[k].0;
                let i = self.index(vec);
                let descr = if self.r.chance(20) {
                    A_SLICE_I64
                } else {
                    A_VI64
                };
                match self.r.below(5) {
                    0 | 1 => {
                        let v =
                            self.op(Opcode::GetItem(ArrayId(descr)), vec![p, i], Some(Kind::Int));
                        self.ints.push((v, Ty::Int(IntTy::I64)));
                    }
                    2 => {
                        let a = self.op(
                            Opcode::ItemAddr(ArrayId(descr)),
                            vec![p, i],
                            Some(Kind::Ref),
                        );
                        let v = self.op(
                            Opcode::Load(ScalarTy::Int(IntTy::I64)),
                            vec![a],
                            Some(Kind::Int),
                        );
                        self.ints.push((v, Ty::Int(IntTy::I64)));
                    }
                    _ => {
                        let v = self.int_of(Ty::Int(IntTy::I64));
                        self.op(Opcode::SetItem(ArrayId(descr)), vec![p, i, v], None);
                    }
                }
            }
            67..=69 => {
                let (k, _) = self.vec();
                let v = self.vecs[k].0;
                let n = self.op(Opcode::VecLen(ArrayId(A_VI64)), vec![v], Some(Kind::Int));
                self.ints.push((n, Ty::Int(IntTy::Usize)));
            }
            70..=72 => {
                // push / pop
                let (k, _) = self.vec();
                let v = self.vecs[k].0;
                let net = *self.net.get(&v).unwrap_or(&0);
                if self.r.chance(50) && self.pushes < 6 {
                    let x = self.int_of(Ty::Int(IntTy::I64));
                    self.op(Opcode::VecPush(ArrayId(A_VI64)), vec![v, x], None);
                    self.pushes += 1;
                    *self.net.entry(v).or_default() += 1;
                    self.resized();
                } else if net > 0 || (!looped && self.free_pops > 0) {
                    if net <= 0 {
                        self.free_pops -= 1;
                    }
                    let x = self.op(
                        Opcode::VecPopNonEmpty(ArrayId(A_VI64)),
                        vec![v],
                        Some(Kind::Int),
                    );
                    self.ints.push((x, Ty::Int(IntTy::I64)));
                    *self.net.entry(v).or_default() -= 1;
                    self.resized();
                }
            }
            73..=76 => {
                // residual calls
                let o = self.obj();
                if self.r.chance(50) && self.pushes < 6 {
                    self.op(Opcode::CallResidual(CallId(C_BUMP)), vec![o], None);
                    self.pushes += 1;
                    if self.r.chance(80) {
                        let v = self.op(Opcode::CallResult(0, Kind::Int), vec![], Some(Kind::Int));
                        self.ints.push((v, Ty::Int(IntTy::I64)));
                    }
                    self.resized();
                } else {
                    self.op(Opcode::CallResidual(CallId(C_PEEK)), vec![o], None);
                    for n in 0..2u8 {
                        if self.r.chance(60) {
                            let v =
                                self.op(Opcode::CallResult(n, Kind::Int), vec![], Some(Kind::Int));
                            let t = if n == 0 { IntTy::I64 } else { IntTy::Usize };
                            self.ints.push((v, Ty::Int(t)));
                        }
                    }
                }
            }
            77..=80 => {
                // elidable calls, sometimes with the same arguments again
                let (a, b) = if !self.pure_calls.is_empty() && self.r.chance(40) {
                    self.pure_calls[self.r.below(self.pure_calls.len() as u64) as usize]
                } else {
                    (
                        self.int_of(Ty::Int(IntTy::I64)),
                        self.int_of(Ty::Int(IntTy::I64)),
                    )
                };
                self.pure_calls.push((a, b));
                self.op(Opcode::CallPure(JitCodeId(J_PAIR)), vec![a, b], None);
                for n in 0..2u8 {
                    if self.r.chance(65) {
                        let v = self.op(Opcode::CallResult(n, Kind::Int), vec![], Some(Kind::Int));
                        self.ints.push((v, Ty::Int(IntTy::I64)));
                    }
                }
            }
            81..=85 => {
                // floats
                let a = self.float();
                match self.r.below(4) {
                    0 | 1 => {
                        let o = self.r.pick(&FLOAT_BIN_OPS);
                        let b = self.float();
                        let v = self.op(Opcode::FloatBin(o), vec![a, b], Some(Kind::Float));
                        self.floats.push(v);
                    }
                    2 => {
                        let mut v = self.op(Opcode::FloatNeg, vec![a], Some(Kind::Float));
                        if self.r.chance(50) {
                            v = self.op(Opcode::FloatNeg, vec![v], Some(Kind::Float));
                        }
                        self.floats.push(v);
                    }
                    _ => {
                        let op = self.r.pick(&[CmpOp::Eq, CmpOp::Lt, CmpOp::Ge]);
                        let b = if self.r.chance(20) { a } else { self.float() };
                        let c = self.op(Opcode::FloatCmp(op), vec![a, b], Some(Kind::Int));
                        self.ints.push((c, Ty::Bool));
                    }
                }
            }
            86..=90 => {
                // the immutable program, through a constant
                let pa = Val::Ref(prog_addr());
                match self.r.below(3) {
                    0 => {
                        let v = self.op(
                            Opcode::GetField(FieldId(F_PROG_N)),
                            vec![pa],
                            Some(Kind::Int),
                        );
                        self.ints.push((v, Ty::Int(IntTy::I64)));
                    }
                    _ => {
                        let c = self.op(
                            Opcode::FieldAddr(FieldId(F_PROG_CODE)),
                            vec![pa],
                            Some(Kind::Ref),
                        );
                        let n = self.op(
                            Opcode::VecLen(ArrayId(A_VI64_IMM)),
                            vec![c],
                            Some(Kind::Int),
                        );
                        self.ints.push((n, Ty::Int(IntTy::Usize)));
                        let p = self.op(
                            Opcode::VecPtr(ArrayId(A_VI64_IMM)),
                            vec![c],
                            Some(Kind::Ref),
                        );
                        let i = Val::Int(self.r.below(5) as i64);
                        let v = self.op(
                            Opcode::GetItem(ArrayId(A_VI64_IMM)),
                            vec![p, i],
                            Some(Kind::Int),
                        );
                        self.ints.push((v, Ty::Int(IntTy::I64)));
                    }
                }
            }
            91..=92 => {
                let t = self.op(
                    Opcode::EnumTag(EnumId(1)),
                    vec![Val::Ref(circle_addr())],
                    Some(Kind::Int),
                );
                self.ints.push((t, Ty::Int(IntTy::U32)));
            }
            93 => {
                self.op(Opcode::DebugMergePoint(JitCodeId(0), 7), vec![], None);
            }
            _ => {
                // a value guard on a constant, or an always-true one
                let c = self.constant(Ty::Int(IntTy::I64));
                let x = self.op(
                    Opcode::IntCmp(CmpOp::Eq, IntTy::I64),
                    vec![c, c],
                    Some(Kind::Int),
                );
                self.guard(Opcode::GuardTrue, vec![x], None);
            }
        }
    }
}

/// A random trace: a straight one ending in `jump_to`, or a loop.
fn gen_trace(r: &mut Rng, looped: bool) -> (Trace, Fix) {
    let inputs = vec![
        Kind::Ref,
        Kind::Ref,
        Kind::Int,
        Kind::Int,
        Kind::Int,
        Kind::Float,
    ];
    let mut g = Gen {
        r,
        t: TB::new(&inputs),
        ints: vec![
            (Val::Input(3), Ty::Int(IntTy::I64)),
            (Val::Input(4), Ty::Int(IntTy::I64)),
        ],
        floats: vec![Val::Input(5)],
        objs: vec![Val::Input(0), Val::Input(1)],
        vecs: vec![],
        cmps: vec![],
        pure_calls: vec![],
        net: HashMap::new(),
        free_pops: 1,
        pushes: 0,
        flippable: vec![],
        value_guards: vec![],
    };
    let mut counter = Val::Input(2);
    if looped {
        let c = g.op(
            Opcode::IntCmp(CmpOp::Gt, IntTy::I64),
            vec![Val::Input(2), Val::Int(0)],
            Some(Kind::Int),
        );
        g.guard(Opcode::GuardTrue, vec![c], None);
        counter = g.op(
            Opcode::IntBin(IntBinOp::Sub, IntTy::I64),
            vec![Val::Input(2), Val::Int(1)],
            Some(Kind::Int),
        );
    } else {
        g.ints.push((Val::Input(2), Ty::Int(IntTy::I64)));
    }
    let n = 10 + g.r.below(50);
    for _ in 0..n {
        g.step(looped);
    }
    let (opcode, args, start) = if looped {
        let a = g.int_of(Ty::Int(IntTy::I64));
        let b = g.int_of(Ty::Int(IntTy::I64));
        let f = g.float();
        (
            Opcode::Jump,
            vec![Val::Input(0), Val::Input(1), counter, a, b, f],
            TraceStart::Loop {
                driver: 0,
                greens: vec![],
            },
        )
    } else {
        let mut args = vec![];
        for _ in 0..g.r.below(5) {
            let v = match g.r.below(4) {
                0 => g.obj(),
                1 => g.float(),
                _ => {
                    let t = g.r.pick(&INT_TYS);
                    g.int_of(Ty::Int(t))
                }
            };
            args.push(v);
        }
        (
            Opcode::JumpTo(0),
            args,
            TraceStart::Bridge { code: 0, guard: 0 },
        )
    };
    g.t.effect(opcode, args);
    let fix = Fix {
        flippable: std::mem::take(&mut g.flippable),
        value_guards: std::mem::take(&mut g.value_guards),
    };
    let t = Trace {
        start,
        inputs: g.t.inputs,
        ops: g.t.ops,
        guards: g.t.guards,
    };
    if let Err(e) = verify_trace(&t) {
        panic!("generated trace does not verify: {e:?}\n{}", show(&t));
    }
    (t, fix)
}

/// The guards `settle` may change (op indices).
struct Fix {
    flippable: Vec<usize>,
    value_guards: Vec<usize>,
}

// ---------------------------------------------------------------------------
// Running.

#[derive(Debug, PartialEq)]
enum Exit {
    Guard(Vec<ResumeFrame>),
    JumpTo(Vec<u64>),
}

fn exit_of(t: &Trace, e: &TraceExit) -> Exit {
    if e.is_jump_to() {
        Exit::JumpTo(e.values.clone())
    } else {
        Exit::Guard(ResumeFrame::from_guard(
            tables(),
            &t.guards[e.guard as usize],
            &e.values,
        ))
    }
}

/// Run what the optimizer made: a peeled loop runs its preamble, then
/// the peeled loop on the values the preamble jumps with.
fn run_optimized(o: &Optimized, w: &mut World, inputs: &[u64]) -> (Exit, Snapshot) {
    match o {
        Optimized::Loop(t) => {
            let (_, x, s) = run(t, w, inputs);
            (x, s)
        }
        Optimized::Peeled(p) => {
            w.reset();
            let e = interp::run(&p.preamble, tables(), inputs);
            let x = if e.is_jump_to() {
                let e = interp::run(&p.body, tables(), &e.values);
                exit_of(&p.body, &e)
            } else {
                exit_of(&p.preamble, &e)
            };
            (x, w.snapshot())
        }
    }
}

fn show_optimized(o: &Optimized) -> String {
    match o {
        Optimized::Loop(t) => format!("{}{}", show(t), show_resume(t)),
        Optimized::Peeled(p) => format!(
            "preamble:\n{}{}peeled loop:\n{}{}",
            show(&p.preamble),
            show_resume(&p.preamble),
            show(&p.body),
            show_resume(&p.body)
        ),
    }
}

/// How many random loops were peeled (so that `random_loops` is not
/// vacuous for `unroll`).
static PEELED: AtomicUsize = AtomicUsize::new(0);
/// How many of those got a short preamble, and how many runs entered
/// their peeled loop directly.
static SHORT: AtomicUsize = AtomicUsize::new(0);
static SHORT_RUNS: AtomicUsize = AtomicUsize::new(0);
/// How many runs left through a guard with writes delayed past it (so
/// that the lazy stores of `heap` are compared too).
static DELAYED_EXITS: AtomicUsize = AtomicUsize::new(0);
/// How many peeled loops keep a location of the virtualizable frame in a
/// register (a guard writes it back, no operation stores it).
static VABLE_CARRIED: AtomicUsize = AtomicUsize::new(0);

/// Does peeled loop `body` keep a virtualizable location out of memory?
fn carries_virtualizable(body: &Trace) -> bool {
    let stores = |opcode: &Opcode| {
        matches!(
            opcode,
            Opcode::SetItem(ArrayId(A_FRAME_REGS)) | Opcode::SetField(FieldId(F_FRAME_PC))
        )
    };
    let pending = body.guards.iter().flat_map(|g| &g.pending);
    pending.into_iter().any(|w| {
        stores(&w.opcode)
            && !body.ops.iter().any(|o| {
                o.opcode == w.opcode && o.args[..o.args.len() - 1] == w.args[..w.args.len() - 1]
            })
    })
}

/// The peeled loop entered directly, the way a bridge ending at the loop
/// header does, behaves like the loop: through the short preamble alone
/// when the inputs lie in its ranges, and through a bridge that knows
/// nothing of its inputs, optimized by `optimize_entering`.
#[allow(clippy::too_many_arguments)]
fn check_short_entries(
    seed: u64,
    name: &str,
    t: &Trace,
    p: &Peeled,
    short: &ShortPreamble,
    opts: &EnabledOpts,
    input_sets: &[Vec<u64>],
    want: &[(Exit, Snapshot)],
    w: &mut World,
) {
    let alone = short.to_trace(t.start.clone(), &t.inputs, Peeled::BODY);
    let header_only = Trace {
        start: TraceStart::Bridge { code: 0, guard: 0 },
        inputs: t.inputs.clone(),
        ops: vec![TraceOp {
            opcode: Opcode::JumpTo(0),
            args: (0..t.inputs.len() as u16).map(Val::Input).collect(),
            result: None,
            guard: None,
        }],
        guards: Vec::new(),
    };
    let bridge = optimize_entering(&header_only, Peeled::BODY, short, tables(), opts);
    for (inputs, (wx, ws)) in input_sets.iter().zip(want) {
        let in_ranges = short.ranges.iter().all(|&(q, r)| {
            let Val::Input(k) = short.entry[q] else {
                return false;
            };
            let v = inputs[k as usize];
            (r.slo..=r.shi).contains(&(v as i64)) && (r.ulo..=r.uhi).contains(&v)
        });
        let entries = [
            in_ranges.then_some(("short preamble", &alone)),
            bridge.as_ref().map(|b| ("bridge", b)),
        ];
        for (how, entry) in entries.into_iter().flatten() {
            w.reset();
            let e = interp::run(entry, tables(), inputs);
            assert!(e.is_jump_to(), "seed {seed} ({name}): {how} left early");
            let e = interp::run(&p.body, tables(), &e.values);
            let (gx, gs) = (exit_of(&p.body, &e), w.snapshot());
            SHORT_RUNS.fetch_add(1, Ordering::Relaxed);
            if &gx != wx || &gs != ws {
                panic!(
                    "seed {seed} ({name}): entering the peeled loop through the {how} \
                     differs on inputs {inputs:x?}\n\
                     want exit {wx:?}\n got exit {gx:?}\n\
                     want memory {ws:?}\n got memory {gs:?}\n\
                     --- loop\n{}--- entry\n{}{}",
                    show(t),
                    show(entry),
                    show_optimized(&Optimized::Peeled(Box::new(p.clone()))),
                );
            }
        }
    }
}

fn run(t: &Trace, w: &mut World, inputs: &[u64]) -> (TraceExit, Exit, Snapshot) {
    w.reset();
    let e = interp::run(t, tables(), inputs);
    if !e.is_jump_to() && !t.guards[e.guard as usize].pending.is_empty() {
        DELAYED_EXITS.fetch_add(1, Ordering::Relaxed);
    }
    let x = exit_of(t, &e);
    (e, x, w.snapshot())
}

/// Flip guards (and fill in promoted values) until `inputs` runs through
/// them, as a tracer would have recorded the trace.
fn settle(t: &mut Trace, fix: &Fix, w: &mut World, inputs: &[u64]) {
    let (flippable, value_guards) = (&fix.flippable, &fix.value_guards);
    for _ in 0..t.guards.len() + 2 {
        let (e, _, _) = run(t, w, inputs);
        if e.is_jump_to() {
            return;
        }
        let at = t.ops.iter().position(|o| o.guard == Some(e.guard)).unwrap();
        if flippable.contains(&at) {
            let op = &mut t.ops[at];
            op.opcode = match op.opcode {
                Opcode::GuardTrue => Opcode::GuardFalse,
                _ => Opcode::GuardTrue,
            };
        } else if value_guards.contains(&at) {
            let x = t.ops[at].args[0];
            let k = t.kind_of(x).unwrap();
            let info = &t.guards[e.guard as usize];
            let i = info.fail_args.iter().position(|a| *a == x).unwrap();
            t.ops[at].args[1] = Val::constant(k, e.values[i]);
        } else {
            return;
        }
    }
}

fn configs() -> Vec<(String, EnabledOpts)> {
    let mut out: Vec<(String, EnabledOpts)> = Pass::ALL
        .iter()
        .map(|p| (p.name().to_string(), EnabledOpts::only(&[*p])))
        .collect();
    out.push(("all".into(), EnabledOpts::all()));
    out
}

fn check_trace(seed: u64, looped: bool) {
    let mut r = Rng::new(seed);
    let mut w = World::new(&mut r);
    let (mut t, fix) = gen_trace(&mut r, looped);
    let mut input_sets: Vec<Vec<u64>> = Vec::new();
    for k in 0..6 {
        let o0 = w.addr(0);
        let o1 = if r.chance(35) { o0 } else { w.addr(1) };
        let (o0, o1) = if r.chance(20) { (o1, o0) } else { (o0, o1) };
        let count = if looped {
            1 + r.below(4)
        } else {
            r.trace_int() as u64
        };
        let f = ((r.trace_int() % 64) as f64 / 4.0).to_bits();
        input_sets.push(vec![
            o0,
            o1,
            count,
            r.trace_int() as u64,
            r.trace_int() as u64,
            f,
        ]);
        if k == 0 {
            settle(&mut t, &fix, &mut w, &input_sets[0]);
        }
    }
    let before = show(&t);
    let want: Vec<(Exit, Snapshot)> = input_sets
        .iter()
        .map(|i| {
            let (_, x, s) = run(&t, &mut w, i);
            (x, s)
        })
        .collect();
    for (name, opts) in configs() {
        let o = if looped {
            optimize_loop(t.clone(), tables(), &opts)
        } else {
            Optimized::Loop(optimize(t.clone(), tables(), &opts))
        };
        let traces: Vec<&Trace> = match &o {
            Optimized::Loop(t) => vec![t],
            Optimized::Peeled(p) => {
                if name == "all" {
                    PEELED.fetch_add(1, Ordering::Relaxed);
                    if carries_virtualizable(&p.body) {
                        VABLE_CARRIED.fetch_add(1, Ordering::Relaxed);
                    }
                }
                vec![&p.preamble, &p.body]
            }
        };
        for ot in traces {
            if let Err(e) = verify_trace(ot) {
                panic!(
                    "seed {seed} ({name}): does not verify: {e:?}\n{before}\n---\n{}",
                    show_optimized(&o)
                );
            }
            assert!(
                ot.ops.len() <= t.ops.len(),
                "seed {seed} ({name}): the trace grew\n{before}\n---\n{}",
                show_optimized(&o)
            );
        }
        if let Some((p, Ok(short))) = match &o {
            Optimized::Peeled(p) => Some((&**p, p.short.get())),
            Optimized::Loop(_) => None,
        } {
            if name == "all" {
                SHORT.fetch_add(1, Ordering::Relaxed);
            }
            check_short_entries(seed, &name, &t, p, short, &opts, &input_sets, &want, &mut w);
        }
        for (inputs, (wx, ws)) in input_sets.iter().zip(&want) {
            let (gx, gs) = run_optimized(&o, &mut w, inputs);
            if &gx != wx || &gs != ws {
                panic!(
                    "seed {seed} ({name}): behaviour differs on inputs {inputs:x?}\n\
                     want exit {wx:?}\n got exit {gx:?}\n\
                     want memory {ws:?}\n got memory {gs:?}\n\
                     --- before\n{before}{}--- after\n{}",
                    show_resume(&t),
                    show_optimized(&o),
                );
            }
        }
    }
}

#[test]
fn random_straight_traces() {
    for seed in 0..400 {
        check_trace(seed, false);
    }
    let delayed = DELAYED_EXITS.load(Ordering::Relaxed);
    eprintln!("{delayed} runs left through a guard with delayed writes");
    assert!(
        delayed >= 10,
        "only {delayed} runs left through a guard with delayed writes"
    );
}

#[test]
fn random_loops() {
    let n = env_u64("RANDOM_LOOPS", 250);
    for seed in 1000..1000 + n {
        check_trace(seed, true);
    }
    // (peeling that moves nothing out of the loop is not done)
    let peeled = PEELED.load(Ordering::Relaxed);
    eprintln!("{peeled} of {n} loops peeled under `all`");
    assert!(
        peeled as u64 * 4 > n,
        "only {peeled} of {n} loops peeled under `all`"
    );
    let short = SHORT.load(Ordering::Relaxed);
    let runs = SHORT_RUNS.load(Ordering::Relaxed);
    eprintln!("{short} of them with a short preamble, entered directly {runs} times");
    assert!(
        short * 4 > peeled && runs > short,
        "only {short} of {peeled} peeled loops have a short preamble, entered {runs} times"
    );
    let carried = VABLE_CARRIED.load(Ordering::Relaxed);
    eprintln!("{carried} of them keep a virtualizable location in a register");
    // (Few: most random loops call, push or touch raw memory, which
    // forces the frame's stores.)
    assert!(
        carried > 0,
        "none of {peeled} peeled loops keeps a virtualizable location in a register"
    );
}

/// The straight trace of `seed`, settled on the usual inputs; its world
/// and those inputs.
fn settled_trace(seed: u64) -> (Trace, World, Vec<u64>) {
    let mut r = Rng::new(seed);
    let mut w = World::new(&mut r);
    let (mut t, fix) = gen_trace(&mut r, false);
    let inputs = vec![w.addr(0), w.addr(1), 5, 7, 9, 0];
    settle(&mut t, &fix, &mut w, &inputs);
    (t, w, inputs)
}

/// The passes do something on these traces (so that the comparison above
/// is not vacuous).
#[test]
fn random_traces_get_smaller() {
    let (mut before, mut after) = (0usize, 0usize);
    let mut per_pass: HashMap<String, usize> = HashMap::new();
    for seed in 0..100 {
        // (the world lives as long as its trace)
        let (t, _w, _) = settled_trace(seed);
        before += t.ops.len();
        after += optimize(t.clone(), tables(), &EnabledOpts::all()).ops.len();
        for p in Pass::ALL {
            let n = p.run(t.clone(), &Ctx { tables: tables() }).ops.len();
            *per_pass.entry(p.name().to_string()).or_default() += t.ops.len() - n;
        }
    }
    eprintln!("ops before {before}, after {after}; removed per pass alone: {per_pass:?}");
    assert!(after * 10 < before * 8, "{before} -> {after}");
    for p in ["rewrite", "pure", "heap", "intbounds", "dce"] {
        assert!(per_pass[p] > 0, "{p} removed nothing");
    }
}

/// Settling works: most traces run to their end on the first input set
/// (so the optimized code is really exercised past its guards).
#[test]
fn settled_traces_run_through() {
    let mut through = 0;
    for seed in 0..100 {
        let (t, mut w, inputs) = settled_trace(seed);
        let (e, _, _) = run(&t, &mut w, &inputs);
        through += e.is_jump_to() as u32;
    }
    assert!(through >= 70, "only {through} of 100 traces run through");
}
