//! Random traces (deterministic seeds), compiled vs interpreted: loops of
//! typed int/float/ref operations, comparisons, casts, guards (fused and
//! not), residual and pure calls, under varying register pressure; then
//! random bridges attached to the guards that fail, jumping back into the
//! loop. Every exit (trace, guard, fail values) must match the
//! interpreter's model.

#![allow(clippy::needless_range_loop)]

use metatrace_runtime::backend;
use metatrace_runtime::jitcode::*;
use metatrace_runtime::trace::*;
use metatrace_testkit::backend::*;
use metatrace_testkit::env_u64;
use metatrace_testkit::ops::{CMP_OPS, FLOAT_BIN_OPS, INT_BIN_OPS};
use std::collections::HashMap;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ty {
    I(IntTy),
    F,
    R,
}

struct Gen<'a> {
    r: &'a mut Rng,
    tb: TB,
    vals: Vec<(Val, Ty)>,
    counter: Val,
    /// Inputs of the recorded run: guards are made to pass on it (like a
    /// tracer records them), so runs get deep into the trace.
    reference: Vec<u64>,
}

impl<'a> Gen<'a> {
    /// The value of `v` in the recorded run (the trace so far, interpreted).
    fn eval(&mut self, v: Val) -> u64 {
        if let Some(b) = v.const_bits() {
            return b;
        }
        let mut ops = self.tb.ops.clone();
        let mut guards = self.tb.guards.clone();
        guards.push(GuardInfo {
            frames: vec![],
            virtuals: vec![],
            pending: vec![],
            fail_args: vec![v],
        });
        ops.push(TraceOp {
            opcode: Opcode::GuardTrue,
            args: vec![Val::Int(0)],
            result: None,
            guard: Some(guards.len() as u32 - 1),
        });
        ops.push(TraceOp {
            opcode: Opcode::Jump,
            args: self
                .tb
                .inputs
                .iter()
                .map(|k| Val::constant(*k, 0))
                .collect(),
            result: None,
            guard: None,
        });
        let t = Trace {
            start: TraceStart::Loop {
                driver: 0,
                greens: vec![],
            },
            inputs: self.tb.inputs.clone(),
            ops,
            guards,
        };
        let e = metatrace_runtime::trace::interp::run(&t, tables(), &self.reference);
        // (a bridge whose counter is already 0 leaves at its first guard)
        if e.guard as usize == t.guards.len() - 1 {
            e.values[0]
        } else {
            0
        }
    }

    /// guard_true or guard_false on `v`, whichever passes in the recorded run.
    fn guard_on(&mut self, v: Val) {
        let g = if self.eval(v) != 0 {
            Opcode::GuardTrue
        } else {
            Opcode::GuardFalse
        };
        let fa = self.fail_args();
        self.tb.guard(g, vec![v], fa);
    }

    /// The arguments of a jump: `first` (the counter), then a value of
    /// each of `kinds` but the first (`Val::Int(int_default)`, `0.0` or
    /// null when there is none).
    fn jump_args(&mut self, first: Val, kinds: &[Kind], int_default: i64) -> Vec<Val> {
        let mut args = vec![first];
        for kind in kinds.iter().skip(1) {
            let v = match kind {
                Kind::Int => self
                    .pick_of(|t| matches!(t, Ty::I(_)))
                    .map(|p| p.0)
                    .unwrap_or(Val::Int(int_default)),
                Kind::Float => self
                    .pick_of(|t| t == Ty::F)
                    .map(|p| p.0)
                    .unwrap_or(Val::Float(0)),
                Kind::Ref => self
                    .pick_of(|t| t == Ty::R)
                    .map(|p| p.0)
                    .unwrap_or(Val::Ref(0)),
            };
            args.push(v);
        }
        args
    }

    fn pick_of(&mut self, want: impl Fn(Ty) -> bool) -> Option<(Val, Ty)> {
        let c: Vec<(Val, Ty)> = self
            .vals
            .iter()
            .copied()
            .filter(|(_, t)| want(*t))
            .collect();
        if c.is_empty() {
            None
        } else {
            // prefer recent values
            let n = c.len() as u64;
            let k = if self.r.chance(50) {
                n - 1 - self.r.below(n.min(4))
            } else {
                self.r.below(n)
            };
            Some(c[k as usize])
        }
    }

    /// An operand canonical for int type `ty`: a value of that type, a
    /// cast of another int, or a constant.
    fn int_operand(&mut self, ty: IntTy) -> Val {
        if self.r.chance(15) {
            return Val::Int(self.r.canon(ty));
        }
        if let Some((v, _)) = self.pick_of(|t| t == Ty::I(ty)) {
            if self.r.chance(70) {
                return v;
            }
        }
        match self.pick_of(|t| matches!(t, Ty::I(_))) {
            Some((v, Ty::I(from))) => {
                if from == ty || (from.bits() == 64 && ty.bits() == 64) {
                    v
                } else {
                    self.tb.int(
                        Opcode::Cast(ScalarTy::Int(from), ScalarTy::Int(ty)),
                        vec![v],
                    )
                }
            }
            _ => Val::Int(self.r.canon(ty)),
        }
    }

    fn float_operand(&mut self) -> Val {
        if self.r.chance(15) {
            return Val::Float(self.r.float().to_bits());
        }
        match self.pick_of(|t| t == Ty::F) {
            Some((v, _)) => v,
            None => Val::Float(self.r.float().to_bits()),
        }
    }

    fn push(&mut self, v: Val, t: Ty) {
        self.vals.push((v, t));
    }

    fn fail_args(&mut self) -> Vec<Val> {
        let mut fa = vec![self.counter];
        let p = 10 + self.r.below(60);
        for &(v, _) in &self.vals {
            if !v.is_const() && self.r.chance(p) && !fa.contains(&v) {
                fa.push(v);
            }
        }
        for _ in 0..self.r.below(3) {
            let c = match self.r.below(3) {
                0 => Val::Int(self.r.int()),
                1 => Val::Float(self.r.float().to_bits()),
                _ => Val::Ref(self.r.next() as usize),
            };
            let at = self.r.below(fa.len() as u64 + 1) as usize;
            fa.insert(at.max(1), c);
        }
        fa
    }

    /// One random operation (maybe a guard).
    fn step(&mut self, guards: bool) {
        let tys = IntTy::ALL;
        match self.r.below(100) {
            0..=29 => {
                let ty = self.r.pick(&tys);
                let op = self.r.pick(&INT_BIN_OPS);
                let a = self.int_operand(ty);
                let b = if matches!(op, IntBinOp::Shl | IntBinOp::Shr) {
                    let bt = self.r.pick(&tys);
                    self.int_operand(bt)
                } else {
                    self.int_operand(ty)
                };
                let v = self.tb.int_bin(op, ty, a, b);
                self.push(v, Ty::I(ty));
            }
            30..=34 => {
                let ty = self.r.pick(&tys);
                let a = self.int_operand(ty);
                let opc = if self.r.chance(50) {
                    Opcode::IntNeg(ty)
                } else {
                    Opcode::IntNot(ty)
                };
                let v = self.tb.int(opc, vec![a]);
                self.push(v, Ty::I(ty));
            }
            35..=49 => {
                // comparison, often guarded right away (fused)
                let op = self.r.pick(&CMP_OPS);
                let v = if self.r.chance(70) {
                    let ty = self.r.pick(&tys);
                    let a = self.int_operand(ty);
                    let b = self.int_operand(ty);
                    self.tb.int_cmp(op, ty, a, b)
                } else {
                    let a = self.float_operand();
                    let b = self.float_operand();
                    self.tb.int(Opcode::FloatCmp(op), vec![a, b])
                };
                self.push(v, Ty::I(IntTy::U8));
                if guards && self.r.chance(60) {
                    self.guard_on(v);
                }
            }
            50..=62 => {
                let op = self.r.pick(&FLOAT_BIN_OPS);
                let a = self.float_operand();
                let b = self.float_operand();
                let v = self.tb.float(Opcode::FloatBin(op), vec![a, b]);
                self.push(v, Ty::F);
            }
            63..=65 => {
                let a = self.float_operand();
                let v = self.tb.float(Opcode::FloatNeg, vec![a]);
                self.push(v, Ty::F);
            }
            66..=75 => {
                // casts
                match self.r.below(4) {
                    0 => {
                        let from = self.r.pick(&tys);
                        let a = self.int_operand(from);
                        let v = self
                            .tb
                            .float(Opcode::Cast(ScalarTy::Int(from), ScalarTy::F64), vec![a]);
                        self.push(v, Ty::F);
                    }
                    1 => {
                        let to = self.r.pick(&tys);
                        let a = self.float_operand();
                        let v = self
                            .tb
                            .int(Opcode::Cast(ScalarTy::F64, ScalarTy::Int(to)), vec![a]);
                        self.push(v, Ty::I(to));
                    }
                    2 => {
                        let from = self.r.pick(&tys);
                        let to = self.r.pick(&tys);
                        let a = self.int_operand(from);
                        let v = self.tb.int(
                            Opcode::Cast(ScalarTy::Int(from), ScalarTy::Int(to)),
                            vec![a],
                        );
                        self.push(v, Ty::I(to));
                    }
                    _ => match self.pick_of(|t| t == Ty::R) {
                        Some((rv, _)) => {
                            let v = self.tb.int(
                                Opcode::Cast(ScalarTy::Ref, ScalarTy::Int(IntTy::Usize)),
                                vec![rv],
                            );
                            self.push(v, Ty::I(IntTy::Usize));
                        }
                        None => {
                            let a = self.int_operand(IntTy::Usize);
                            let v = self.tb.r#ref(
                                Opcode::Cast(ScalarTy::Int(IntTy::Usize), ScalarTy::Ref),
                                vec![a],
                            );
                            self.push(v, Ty::R);
                        }
                    },
                }
            }
            76..=81 => {
                // residual / pure calls
                match self.r.below(4) {
                    0 => {
                        let a = self.int_operand(IntTy::I64);
                        let b = self.float_operand();
                        let c = match self.pick_of(|t| t == Ty::R) {
                            Some((v, _)) => v,
                            None => Val::Ref(self.r.next() as usize),
                        };
                        self.tb
                            .effect(Opcode::CallResidual(CallId(C_MIX)), vec![a, b, c]);
                        let v0 = self.tb.int(Opcode::CallResult(0, Kind::Int), vec![]);
                        self.push(v0, Ty::I(IntTy::I64));
                        if self.r.chance(70) {
                            let v1 = self.tb.float(Opcode::CallResult(1, Kind::Float), vec![]);
                            self.push(v1, Ty::F);
                        }
                        if self.r.chance(50) {
                            let v2 = self.tb.r#ref(Opcode::CallResult(2, Kind::Ref), vec![]);
                            self.push(v2, Ty::R);
                        }
                    }
                    1 => {
                        let args: Vec<Val> = (0..self.r.below(9))
                            .map(|_| self.int_operand(IntTy::I64))
                            .collect();
                        self.tb.effect(Opcode::CallResidual(CallId(C_SUM8)), args);
                        let v0 = self.tb.int(Opcode::CallResult(0, Kind::Int), vec![]);
                        self.push(v0, Ty::I(IntTy::I64));
                    }
                    2 => {
                        let a = self.float_operand();
                        let b = self.float_operand();
                        self.tb
                            .effect(Opcode::CallResidual(CallId(C_FLOATS)), vec![a, b]);
                        let v0 = self.tb.float(
                            Opcode::CallResult(self.r.below(2) as u8, Kind::Float),
                            vec![],
                        );
                        self.push(v0, Ty::F);
                    }
                    _ => {
                        let a = self.int_operand(IntTy::I64);
                        let b = self.float_operand();
                        self.tb
                            .effect(Opcode::CallPure(JitCodeId(J_AFFINE)), vec![a, b]);
                        let v0 = self.tb.int(Opcode::CallResult(0, Kind::Int), vec![]);
                        let v1 = self.tb.float(Opcode::CallResult(1, Kind::Float), vec![]);
                        self.push(v0, Ty::I(IntTy::I64));
                        self.push(v1, Ty::F);
                    }
                }
            }
            82..=90 if guards => {
                // guard on an arbitrary int value (not fused)
                let ty = self.r.pick(&tys);
                let a = self.int_operand(ty);
                self.guard_on(a);
            }
            91..=93 if guards => {
                // guard_value: with the value it usually has (small ints), or a float
                if self.r.chance(70) {
                    let ty = self.r.pick(&tys);
                    let a = self.int_operand(ty);
                    let m = self
                        .tb
                        .int(Opcode::IntBin(IntBinOp::And, ty), vec![a, Val::Int(1)]);
                    let fa = self.fail_args();
                    let c = self.eval(m);
                    self.tb
                        .guard(Opcode::GuardValue, vec![m, Val::Int(c as i64)], fa);
                } else {
                    let a = self.float_operand();
                    let c = Val::Float(self.eval(a));
                    let fa = self.fail_args();
                    self.tb.guard(Opcode::GuardValue, vec![a, c], fa);
                }
            }
            _ if self.r.chance(40) => {
                // a debug merge point
                self.tb.effect(
                    Opcode::DebugMergePoint(JitCodeId(0), self.r.below(100) as u32),
                    vec![],
                );
            }
            _ => {
                // loads from static (never written) data
                let (rec, arrays) = static_data();
                if self.r.chance(40) {
                    let fields = rec_fields();
                    let (d, ty) = self.r.pick(&fields);
                    let base = if self.r.chance(50) {
                        Val::Ref(rec)
                    } else {
                        let a = self.int_operand(IntTy::Usize);
                        let z = self.tb.int_bin(IntBinOp::And, IntTy::Usize, a, Val::Int(0));
                        let z =
                            self.tb
                                .int_bin(IntBinOp::Add, IntTy::Usize, z, Val::Int(rec as i64));
                        self.tb.r#ref(
                            Opcode::Cast(ScalarTy::Int(IntTy::Usize), ScalarTy::Ref),
                            vec![z],
                        )
                    };
                    let v = self
                        .tb
                        .op(Opcode::GetField(FieldId(d)), vec![base], Some(ty.kind()));
                    let t = match ty {
                        ScalarTy::Int(t) => Ty::I(t),
                        ScalarTy::Bool => Ty::I(IntTy::U8),
                        ScalarTy::Char => Ty::I(IntTy::U32),
                        ScalarTy::F64 => Ty::F,
                        ScalarTy::Ref => Ty::R,
                    };
                    self.push(v, t);
                } else {
                    let k = self.r.below(4) as usize;
                    let (d, t) = [
                        (A_SLICE_U16, IntTy::U16),
                        (A_SLICE_I8, IntTy::I8),
                        (A_SLICE_U32, IntTy::U32),
                        (A_SLICE_I32, IntTy::I32),
                    ][k];
                    let ix = if self.r.chance(30) {
                        Val::Int(self.r.below(16) as i64)
                    } else {
                        let a = self.int_operand(IntTy::Usize);
                        self.tb
                            .int_bin(IntBinOp::And, IntTy::Usize, a, Val::Int(15))
                    };
                    let v = if self.r.chance(50) {
                        self.tb
                            .int(Opcode::GetItem(ArrayId(d)), vec![Val::Ref(arrays[k]), ix])
                    } else {
                        let a = self
                            .tb
                            .r#ref(Opcode::ItemAddr(ArrayId(d)), vec![Val::Ref(arrays[k]), ix]);
                        self.tb.int(Opcode::Load(ScalarTy::Int(t)), vec![a])
                    };
                    self.push(v, Ty::I(t));
                }
            }
        }
    }
}

/// A Rec and four arrays (u16, i8, u32, i32; 16 items each) that no
/// trace writes.
fn static_data() -> (usize, [usize; 4]) {
    static D: std::sync::OnceLock<(usize, [usize; 4])> = std::sync::OnceLock::new();
    *D.get_or_init(|| {
        let mut r = Rng::new(99);
        let rec = Box::leak(Box::new(Rec::sample(&mut r))) as *const Rec as usize;
        let a = leak((0..16).map(|_| r.next() as u16).collect()).as_ptr() as usize;
        let b = leak((0..16).map(|_| r.next() as i8).collect()).as_ptr() as usize;
        let c = leak((0..16).map(|_| r.next() as u32).collect()).as_ptr() as usize;
        let d = leak((0..16).map(|_| r.next() as i32).collect()).as_ptr() as usize;
        (rec, [a, b, c, d])
    })
}

fn input_values(r: &mut Rng, kinds: &[Kind], counter: u64) -> Vec<u64> {
    kinds
        .iter()
        .enumerate()
        .map(|(k, kind)| match (k, kind) {
            (0, _) => counter,
            (_, Kind::Int) => r.int() as u64,
            (_, Kind::Float) => r.float().to_bits(),
            (_, Kind::Ref) => r.next(),
        })
        .collect()
}

/// A random loop: input 0 counts down; the other inputs are i64, f64 and
/// refs carried around the loop.
fn random_loop(r: &mut Rng) -> (Trace, Vec<Kind>, Vec<u64>) {
    let n_i = 1 + r.below(10) as usize;
    let n_f = r.below(8) as usize;
    let n_r = r.below(3) as usize;
    let mut kinds = vec![Kind::Int];
    kinds.extend(vec![Kind::Int; n_i]);
    kinds.extend(vec![Kind::Float; n_f]);
    kinds.extend(vec![Kind::Ref; n_r]);
    let c = 2 + r.below(40);
    let reference = input_values(r, &kinds, c);
    let mut tb = TB::new(&kinds);
    let c1 = tb.int_bin(IntBinOp::Sub, IntTy::I64, Val::Input(0), Val::Int(1));
    let mut vals = vec![(c1, Ty::I(IntTy::I64))];
    for (k, kind) in kinds.iter().enumerate().skip(1) {
        let t = match kind {
            Kind::Int => Ty::I(IntTy::I64),
            Kind::Float => Ty::F,
            Kind::Ref => Ty::R,
        };
        vals.push((Val::Input(k as u16), t));
    }
    let mut g = Gen {
        r,
        tb,
        vals,
        counter: c1,
        reference: reference.clone(),
    };
    let n_ops = 5 + g.r.below(70);
    let counter_at = g.r.below(n_ops);
    for k in 0..n_ops {
        if k == counter_at {
            let c = g.tb.int_cmp(CmpOp::Gt, IntTy::I64, c1, Val::Int(0));
            let fa = g.fail_args();
            g.tb.guard(Opcode::GuardTrue, vec![c], fa);
        }
        g.step(true);
    }
    // jump: the counter, then values of each input's kind
    let args = g.jump_args(c1, &kinds, 0);
    (g.tb.finish_loop(args), kinds, reference)
}

/// A random bridge from guard `guard` of `code` (whose fail args start
/// with the loop's decremented counter) back into loop `target`.
fn random_bridge(
    r: &mut Rng,
    code: u32,
    guard: u32,
    fail_kinds: &[Kind],
    fail_values: &[u64],
    target: u32,
    target_kinds: &[Kind],
) -> Trace {
    let mut tb = TB::new(fail_kinds);
    let mut vals = Vec::new();
    for (k, kind) in fail_kinds.iter().enumerate() {
        let t = match kind {
            // ints from fail args are i64-canonical (any bit pattern)
            Kind::Int => Ty::I(IntTy::I64),
            Kind::Float => Ty::F,
            Kind::Ref => Ty::R,
        };
        vals.push((Val::Input(k as u16), t));
    }
    let counter = Val::Input(0);
    let c = tb.int_cmp(CmpOp::Gt, IntTy::I64, counter, Val::Int(0));
    let mut g = Gen {
        r,
        tb,
        vals,
        counter,
        reference: fail_values.to_vec(),
    };
    let fa = g.fail_args();
    g.tb.guard(Opcode::GuardTrue, vec![c], fa);
    for _ in 0..g.r.below(30) {
        g.step(true);
    }
    let args = g.jump_args(counter, target_kinds, 3);
    g.tb.finish_bridge(code, guard, target, args)
}

fn fuzz(seed: u64, n_traces: usize) {
    let mut r = Rng::new(seed);
    let mut n_bridges = 0;
    let mut exits_in_bridges = 0;
    let mut counter_exits = 0;
    let mut total_ops = 0;
    let mut deep_exits = 0;
    let mut runs = 0;
    for t in 0..n_traces {
        let (trace, kinds, reference) = random_loop(&mut r);
        let text = describe(&trace);
        total_ops += trace.ops.len();
        let id = backend::compile_loop(trace.clone(), tables())
            .unwrap_or_else(|e| panic!("trace {t}: {e}\n{text}"));
        let mut loops = HashMap::new();
        loops.insert(id, trace.clone());
        let mut bridges: HashMap<(u32, u32), (u32, Trace)> = HashMap::new();
        let mut sets: Vec<Vec<u64>> = vec![reference];
        sets.extend((0..3).map(|_| {
            let c = 1 + r.below(12);
            input_values(&mut r, &kinds, c)
        }));
        for round in 0..3 {
            for s in &sets {
                let want = model(&loops, &bridges, id, s);
                let got = backend::execute(id, s);
                if (got.trace, got.guard, got.values.clone()) != want {
                    let mut msg = format!("seed {seed} trace {t} round {round}\ninputs {s:x?}\nmodel: {want:x?}\ncompiled: {:x?}\n{text}\n{}", (got.trace, got.guard, &got.values), backend::disassemble(id));
                    for ((c, g), (b, bt)) in &bridges {
                        msg.push_str(&format!(
                            "bridge {b} on {c}#{g}:\n{}\n{}",
                            describe(bt),
                            backend::disassemble(*b)
                        ));
                    }
                    panic!("{msg}");
                }
                runs += 1;
                if got.trace != id {
                    exits_in_bridges += 1;
                }
                if got.trace == id {
                    let pos = trace
                        .ops
                        .iter()
                        .position(|o| o.guard == Some(got.guard))
                        .unwrap();
                    if pos * 2 > trace.ops.len() {
                        deep_exits += 1;
                    }
                }
                if got.values.first().map(|v| *v as i64 <= 0).unwrap_or(false) {
                    counter_exits += 1;
                }
                // attach a bridge to the loop guard that failed (not twice)
                if round < 2
                    && got.trace == id
                    && !bridges.contains_key(&(id, got.guard))
                    && r.chance(70)
                {
                    let info = &trace.guards[got.guard as usize];
                    let fk: Vec<Kind> = info
                        .fail_args
                        .iter()
                        .map(|a| trace.kind_of(*a).unwrap())
                        .collect();
                    let b = random_bridge(&mut r, id, got.guard, &fk, &got.values, id, &kinds);
                    let btext = describe(&b);
                    let bid = backend::compile_bridge(b.clone(), tables())
                        .unwrap_or_else(|e| panic!("bridge: {e}\n{btext}"));
                    bridges.insert((id, got.guard), (bid, b));
                    n_bridges += 1;
                }
            }
        }
    }
    eprintln!("fuzz seed {seed}: {n_traces} loops ({total_ops} ops), {n_bridges} bridges, {runs} runs: {exits_in_bridges} exits in bridges, {deep_exits} exits in the second half of the loop, {counter_exits} with counter <= 0");
}

#[test]
fn random_traces_a() {
    fuzz(1, 150);
}

#[test]
fn random_traces_b() {
    fuzz(2, 150);
}

/// Long runs of one loop with high register pressure.
#[test]
fn random_traces_c() {
    fuzz(3, 150);
}

/// Many more seeds (ignored by default):
/// `FUZZ_SEEDS=200 cargo test --release -p metatrace-runtime --test backend_fuzz -- --ignored`.
#[test]
#[ignore]
fn random_traces_long() {
    let n = env_u64("FUZZ_SEEDS", 50);
    for seed in 1000..1000 + n {
        fuzz(seed, 200);
    }
}
