//! The tracer's per-instruction semantics: every instruction is executed
//! on the concrete values exactly as the blackhole executes it (through
//! the same `crate::executor`, shims and `blackhole::call`), and recorded
//! unless the trace knows its result already (a constant, a pure operation
//! or a read recorded before, a guard's outcome: `heapcache`).
//!
//! Vec operations go through the trace IR's smaller operations:
//! `VecGetItem` = `vec_ptr` + `getitem`, `VecItemAddr` = `vec_ptr` +
//! `itemaddr`, `VecAsSlice` = `vec_ptr` + `vec_len`, `VecPop` = `vec_len`,
//! a guard on emptiness and `vec_pop` (when non-empty); `StringAsStr` =
//! `string_ptr` + `string_len`. Calls: regular (and loop-invariant) callees
//! are inlined; elidable ones are run in the blackhole and folded on
//! constant arguments, else recorded as `call_pure`; residual calls are
//! made and recorded as `call_residual`; results of both come from
//! `call_result`s.

use super::frame::{Frame, Value};
use super::heapcache::Effect;
use super::{AbortReason, Header, Stop, Tracer};
use crate::blackhole;
use crate::executor;
use crate::jitcode::{ArrayId, CallFlavor, CmpOp, Insn, IntBinOp, IntTy, KReg, Kind, Reg};
use crate::trace::interp::arith;
use crate::trace::{Opcode, Val};

use Kind::{Float, Int, Ref};

impl Tracer<'_> {
    fn get(&self, kind: Kind, reg: Reg) -> Value {
        self.top().get(kind, reg)
    }

    fn set(&mut self, kind: Kind, reg: Reg, v: Value) {
        self.top_mut().set(kind, reg, v)
    }

    fn put(&mut self, kind: Kind, reg: Reg, bits: u64, val: Val) {
        self.set(kind, reg, Value { bits, val })
    }

    /// `vec_ptr` of the Vec `vec` (concrete data pointer and trace value).
    fn vec_ptr(&mut self, descr: ArrayId, vec: Value) -> Value {
        let d = &self.tables.arrays[descr];
        let bits = unsafe { (d.vec_shims().ptr)(vec.bits as usize) } as u64;
        let val = self
            .rec
            .read(Opcode::VecPtr(descr), &[vec.val], Ref, bits, d.immutable);
        Value { bits, val }
    }

    /// `vec_len` of the Vec `vec`.
    fn vec_len(&mut self, descr: ArrayId, vec: Value) -> Value {
        let d = &self.tables.arrays[descr];
        let bits = unsafe { (d.vec_shims().len)(vec.bits as usize) } as u64;
        let val = self
            .rec
            .read(Opcode::VecLen(descr), &[vec.val], Int, bits, d.immutable);
        Value { bits, val }
    }

    /// The length of the Vec `vec` and whether it is non-empty, recorded
    /// with a guard on the emptiness check. A pop checks this first, so the
    /// guard resumes at the pop itself, before anything is popped.
    fn guard_nonempty(&mut self, descr: ArrayId, vec: Value) -> (Value, bool) {
        let len = self.vec_len(descr, vec);
        let nonempty = len.bits != 0;
        let ne = Opcode::IntCmp(CmpOp::Ne, IntTy::Usize);
        let c = self
            .rec
            .pure(ne, &[len.val, Val::Int(0)], Int, nonempty as u64);
        self.guard_truth(Value {
            bits: nonempty as u64,
            val: c,
        });
        (len, nonempty)
    }

    /// `vec.push(value)` of a scalar, when the Vec has spare room (and
    /// in-place shims): the guard on the room, the length, the store
    /// (RPython's list append). No call, and the heap caches learn the
    /// item and the length. False (nothing done) when it has no room.
    fn push_into_room(&mut self, descr: ArrayId, vec: Reg, value: Reg) -> bool {
        let d = &self.tables.arrays[descr];
        let Some(s) = d.vec.and_then(|v| v.slots) else {
            return false;
        };
        let v = self.get(Ref, vec);
        let cap_bits = unsafe { (s.cap)(v.bits as usize) } as u64;
        let len_bits = unsafe { (d.vec_shims().len)(v.bits as usize) } as u64;
        if len_bits >= cap_bits {
            return false;
        }
        let len = self.vec_len(descr, v);
        let cap = self
            .rec
            .read(Opcode::VecCap(descr), &[v.val], Int, cap_bits, d.immutable);
        let lt = Opcode::IntCmp(CmpOp::Lt, IntTy::Usize);
        let room = self.rec.pure(lt, &[len.val, cap], Int, 1);
        // (It resumes at the push, before anything is pushed.)
        self.guard_truth(Value { bits: 1, val: room });
        let add = Opcode::IntBin(IntBinOp::Add, IntTy::Usize);
        let n = self
            .rec
            .pure(add, &[len.val, Val::Int(1)], Int, len.bits + 1);
        unsafe { (s.set_len)(v.bits as usize, len.bits as usize + 1) };
        self.rec.set_len(descr, v.val, n, len.bits + 1);
        let ptr = self.vec_ptr(descr, v);
        self.set_item(descr, ptr, len, value);
        true
    }

    /// The array data pointer and the index (registers `base`, `idx`) of
    /// an item access: the data of the Vec `base` when `vec`, else `base`.
    fn item_base(&mut self, descr: ArrayId, vec: bool, base: Reg, idx: Reg) -> (Value, Value) {
        let (b, i) = (self.get(Ref, base), self.get(Int, idx));
        let ptr = if vec { self.vec_ptr(descr, b) } else { b };
        (ptr, i)
    }

    /// Read item `idx` of the array data at `ptr` into `dst`.
    fn get_item(&mut self, descr: ArrayId, ptr: Value, idx: Value, dst: Reg) {
        let d = &self.tables.arrays[descr];
        let ty = d.item.expect("verified: scalar items");
        let addr = executor::item_addr(d, ptr.bits as usize, idx.bits as i64);
        let bits = unsafe { executor::load(ty, addr) };
        let val = self.rec.read(
            Opcode::GetItem(descr),
            &[ptr.val, idx.val],
            ty.kind(),
            bits,
            d.immutable,
        );
        self.put(ty.kind(), dst, bits, val);
    }

    /// Write `value` to item `idx` of the array data at `ptr`.
    fn set_item(&mut self, descr: ArrayId, ptr: Value, idx: Value, value: Reg) {
        let d = &self.tables.arrays[descr];
        let ty = d.item.expect("verified: scalar items");
        let v = self.get(ty.kind(), value);
        let addr = executor::item_addr(d, ptr.bits as usize, idx.bits as i64);
        unsafe { executor::store(ty, addr, v.bits) };
        self.rec
            .write(Opcode::SetItem(descr), &[ptr.val, idx.val, v.val], v.bits);
    }

    /// Address of item `idx` of the array data at `ptr`, into `dst`.
    fn item_addr(&mut self, descr: ArrayId, ptr: Value, idx: Value, dst: Reg) {
        let d = &self.tables.arrays[descr];
        let bits = executor::item_addr(d, ptr.bits as usize, idx.bits as i64) as u64;
        let val = self
            .rec
            .pure(Opcode::ItemAddr(descr), &[ptr.val, idx.val], Ref, bits);
        self.put(Ref, dst, bits, val);
    }

    /// Compute arithmetic operation `opcode` on registers `operands` into
    /// `dst`, and record it.
    fn arith(&mut self, opcode: Opcode, operands: &[(Kind, Reg)], dst: Reg) {
        let (mut bits, mut vals) = ([0u64; 2], [Val::Int(0); 2]);
        for (n, &(kind, reg)) in operands.iter().enumerate() {
            let v = self.get(kind, reg);
            (bits[n], vals[n]) = (v.bits, v.val);
        }
        let (kind, result) = arith(&opcode, |n| bits[n]).expect("an arithmetic opcode");
        let val = self.rec.pure(opcode, &vals[..operands.len()], kind, result);
        self.put(kind, dst, result, val);
    }

    /// Record `call_result`s for `results` (concrete values `out`).
    fn call_results(&mut self, results: &[KReg], out: &[u64]) {
        for (n, (r, &bits)) in results.iter().zip(out).enumerate() {
            let val = self
                .rec
                .op(Opcode::CallResult(n as u8, r.kind), vec![], Some(r.kind));
            self.put(r.kind, r.reg, bits, val);
        }
    }

    /// The portal frame of a recursive portal call reached its merge
    /// point (arguments `args`), its prologue traced as an inlined call:
    /// its greens are promoted, so the callee's green key is a trace
    /// constant, and the call from here to the portal's return is made
    /// (`jit::portal_call_at`: the callee's compiled code for that key, or
    /// the blackhole) and recorded as `call_assembler` of the merge
    /// point's arguments (RPython's `call_assembler`, whose arguments are
    /// the portal's greens and reds). It may write anything and collect
    /// garbage. The caller frame then goes on after its call.
    fn call_assembler(&mut self, args: &[KReg]) -> Result<(), Stop> {
        let tables = self.tables;
        let Some(driver) = self.driver_with_native_entry() else {
            return Err(Stop::Abort(AbortReason::Recursion));
        };
        self.promote_greens(args);
        let vals: Vec<Value> = args.iter().map(|a| self.top().getk(*a)).collect();
        let bits: Vec<u64> = vals.iter().map(|v| v.bits).collect();
        self.publish_gc_roots();
        let out = crate::portal_calls::at_merge_point(tables, driver, &bits);
        let args = vals.iter().map(|v| v.val).collect();
        self.rec.effect(
            Opcode::CallAssembler(driver as u32),
            args,
            None,
            Effect::Everything,
        );
        self.frames.pop();
        let caller = self.top();
        let Insn::Call { results, .. } = &caller.code.insns[caller.pc as usize] else {
            unreachable!("a caller frame stops at its call");
        };
        self.call_results(results, &out);
        self.top_mut().pc += 1;
        Ok(())
    }

    /// The driver of the traced portal, if the glue gave it a native entry
    /// (a recursive portal call needs one: the blackhole makes such calls
    /// through it). Without one (tables built by hand) a recursive portal
    /// call aborts the trace.
    fn driver_with_native_entry(&self) -> Option<u16> {
        let found = self
            .tables
            .drivers
            .iter()
            .position(|d| d.jitcode == self.portal && d.native.is_some());
        found.map(|d| d as u16)
    }

    /// Execute the top frame's current instruction and record it. On
    /// `Err`, the frames are at an instruction boundary: the instruction
    /// that stopped tracing has not been executed (the merge point that
    /// closes the trace, a panic, a return from the portal, a recursive
    /// call of the portal, a merge point repeated by a bridge).
    pub(super) fn step(&mut self) -> Result<(), Stop> {
        let tables = self.tables;
        let (code, pc) = {
            let f = self.top();
            (f.code, f.pc)
        };
        let insn: &'static Insn = &code.insns[pc as usize];
        let mut next = pc + 1;
        match insn {
            Insn::Copy { kind, src, dst } => {
                let v = self.get(*kind, *src);
                self.set(*kind, *dst, v);
            }
            Insn::IntBin { op, ty, a, b, dst } => {
                self.arith(Opcode::IntBin(*op, *ty), &[(Int, *a), (Int, *b)], *dst)
            }
            Insn::IntNeg { ty, a, dst } => self.arith(Opcode::IntNeg(*ty), &[(Int, *a)], *dst),
            Insn::IntNot { ty, a, dst } => self.arith(Opcode::IntNot(*ty), &[(Int, *a)], *dst),
            Insn::IntCmp { op, ty, a, b, dst } => {
                self.arith(Opcode::IntCmp(*op, *ty), &[(Int, *a), (Int, *b)], *dst)
            }
            Insn::FloatBin { op, a, b, dst } => {
                self.arith(Opcode::FloatBin(*op), &[(Float, *a), (Float, *b)], *dst)
            }
            Insn::FloatNeg { a, dst } => self.arith(Opcode::FloatNeg, &[(Float, *a)], *dst),
            Insn::FloatCmp { op, a, b, dst } => {
                self.arith(Opcode::FloatCmp(*op), &[(Float, *a), (Float, *b)], *dst)
            }
            Insn::Cast { from, to, src, dst } => {
                self.arith(Opcode::Cast(*from, *to), &[(from.kind(), *src)], *dst)
            }
            Insn::New { descr, dst } => {
                self.publish_gc_roots();
                let bits = executor::alloc(&tables.allocs[*descr]) as u64;
                let val = self.rec.op(Opcode::New(*descr), vec![], Some(Ref));
                self.put(Ref, *dst, bits, val);
            }
            Insn::Free { descr, ptr } => {
                let p = self.get(Ref, *ptr);
                unsafe { executor::free(&tables.allocs[*descr], p.bits as usize) };
                // A box moved out of its variable left a constant null behind.
                if self.rec.resolve(p.val) != Val::Ref(0) {
                    self.rec.op(Opcode::Free(*descr), vec![p.val], None);
                }
            }
            Insn::GetField { descr, base, dst } => {
                let d = &tables.fields[*descr];
                let ty = d.ty.expect("verified: scalar field");
                let b = self.get(Ref, *base);
                let bits = unsafe { executor::load(ty, executor::field_addr(d, b.bits as usize)) };
                let val = self.rec.read(
                    Opcode::GetField(*descr),
                    &[b.val],
                    ty.kind(),
                    bits,
                    d.immutable,
                );
                self.put(ty.kind(), *dst, bits, val);
            }
            Insn::QuasiImmutGet { descr, base, dst } => {
                let d = &tables.fields[*descr];
                let ty = d.ty.expect("verified: scalar field");
                let b = self.get(Ref, *base);
                let bits = unsafe { executor::load(ty, executor::field_addr(d, b.bits as usize)) };
                if let Val::Ref(addr) = self.rec.resolve(b.val) {
                    self.not_invalidated(addr);
                    self.set(ty.kind(), *dst, Value::constant(ty.kind(), bits));
                } else {
                    let val =
                        self.rec
                            .read(Opcode::GetField(*descr), &[b.val], ty.kind(), bits, false);
                    self.put(ty.kind(), *dst, bits, val);
                }
            }
            Insn::SetField { descr, base, value } => {
                let d = &tables.fields[*descr];
                let ty = d.ty.expect("verified: scalar field");
                let (b, v) = (self.get(Ref, *base), self.get(ty.kind(), *value));
                unsafe { executor::store(ty, executor::field_addr(d, b.bits as usize), v.bits) };
                self.rec
                    .write(Opcode::SetField(*descr), &[b.val, v.val], v.bits);
            }
            Insn::FieldAddr { descr, base, dst } => {
                let d = &tables.fields[*descr];
                let b = self.get(Ref, *base);
                let bits = unsafe { executor::field_addr(d, b.bits as usize) } as u64;
                let val = self
                    .rec
                    .pure(Opcode::FieldAddr(*descr), &[b.val], Ref, bits);
                self.put(Ref, *dst, bits, val);
            }
            Insn::Load { ty, addr, dst } => {
                let a = self.get(Ref, *addr);
                let bits = unsafe { executor::load(*ty, a.bits as usize) };
                let val = self
                    .rec
                    .read(Opcode::Load(*ty), &[a.val], ty.kind(), bits, false);
                self.put(ty.kind(), *dst, bits, val);
            }
            Insn::Store { ty, addr, value } => {
                let (a, v) = (self.get(Ref, *addr), self.get(ty.kind(), *value));
                unsafe { executor::store(*ty, a.bits as usize, v.bits) };
                self.rec.write(Opcode::Store(*ty), &[a.val, v.val], v.bits);
            }
            Insn::EnumTag { descr, addr, dst } => {
                let d = &tables.enums[*descr];
                let a = self.get(Ref, *addr);
                let bits = unsafe { (d.tag)(a.bits as usize) } as u64;
                let val = self
                    .rec
                    .read(Opcode::EnumTag(*descr), &[a.val], Int, bits, d.immutable);
                self.put(Int, *dst, bits, val);
            }
            Insn::VecLen { descr, vec, dst } => {
                let v = self.get(Ref, *vec);
                let len = self.vec_len(*descr, v);
                self.set(Int, *dst, len);
            }
            Insn::VecItemAddr { .. } | Insn::SliceItemAddr { .. } => {
                let (descr, vec, base, idx, dst) = insn.item_operands().expect("item access");
                let (ptr, i) = self.item_base(descr, vec, base, idx);
                self.item_addr(descr, ptr, i, dst);
            }
            Insn::VecGetItem { .. } | Insn::SliceGetItem { .. } => {
                let (descr, vec, base, idx, dst) = insn.item_operands().expect("item access");
                let (ptr, i) = self.item_base(descr, vec, base, idx);
                self.get_item(descr, ptr, i, dst);
            }
            Insn::VecSetItem { .. } | Insn::SliceSetItem { .. } => {
                let (descr, vec, base, idx, value) = insn.item_operands().expect("item access");
                let (ptr, i) = self.item_base(descr, vec, base, idx);
                self.set_item(descr, ptr, i, value);
            }
            Insn::VecPush { descr, vec, value } => {
                let d = &tables.arrays[*descr];
                let ty = d.item.expect("verified: scalar items");
                if !self.push_into_room(*descr, *vec, *value) {
                    let push = d.push_shim();
                    let (v, x) = (self.get(Ref, *vec), self.get(ty.kind(), *value));
                    unsafe { push(v.bits as usize, x.bits) };
                    self.rec.effect(
                        Opcode::VecPush(*descr),
                        vec![v.val, x.val],
                        None,
                        Effect::Resize(v.val, *descr),
                    );
                }
            }
            Insn::VecPop {
                descr,
                vec,
                tag,
                value,
            } => {
                let d = &tables.arrays[*descr];
                let ty = d.item.expect("verified: scalar items");
                let pop = d.pop_shim();
                let v = self.get(Ref, *vec);
                let (_, nonempty) = self.guard_nonempty(*descr, v);
                match unsafe { pop(v.bits as usize) } {
                    Some(bits) => {
                        debug_assert!(nonempty);
                        let val = self.rec.effect(
                            Opcode::VecPopNonEmpty(*descr),
                            vec![v.val],
                            Some(ty.kind()),
                            Effect::Resize(v.val, *descr),
                        );
                        self.set(Int, *tag, Value::constant(Int, 1));
                        self.put(ty.kind(), *value, bits, val);
                    }
                    None => {
                        debug_assert!(!nonempty);
                        self.set(Int, *tag, Value::constant(Int, 0));
                        self.set(ty.kind(), *value, Value::constant(ty.kind(), 0));
                    }
                }
            }
            Insn::VecInit { descr, vec, len } => {
                let (v, n) = (self.get(Ref, *vec), self.get(Int, *len));
                unsafe {
                    executor::vec_init(&tables.arrays[*descr], v.bits as usize, n.bits as usize)
                };
                let effect = Effect::Resize(v.val, *descr);
                self.rec
                    .effect(Opcode::VecInit(*descr), vec![v.val, n.val], None, effect);
                // A new Vec is empty.
                self.rec.knows_len(*descr, v.val, Val::Int(0), 0);
            }
            Insn::VecDrop { descr, vec } => {
                let v = self.get(Ref, *vec);
                unsafe { executor::vec_drop(&tables.arrays[*descr], v.bits as usize) };
                let effect = Effect::Resize(v.val, *descr);
                self.rec
                    .effect(Opcode::VecDrop(*descr), vec![v.val], None, effect);
            }
            Insn::VecTake { descr, dst, src } => {
                let (d, s) = (self.get(Ref, *dst), self.get(Ref, *src));
                let a = &tables.arrays[*descr];
                unsafe { executor::vec_take(a, d.bits as usize, s.bits as usize) };
                // Both headers change (the cache forgets the second one as
                // the effect of the first: `Effect::Resize` of either Vec
                // hits every header of the descr that may alias it).
                self.rec.effect(
                    Opcode::VecTake(*descr),
                    vec![d.val, s.val],
                    None,
                    Effect::Resize(d.val, *descr),
                );
                self.rec.forget(Effect::Resize(s.val, *descr));
            }
            Insn::VecTruncate { descr, vec, len } => {
                let (v, n) = (self.get(Ref, *vec), self.get(Int, *len));
                let cur = self.vec_len(*descr, v);
                let shorter = n.bits < cur.bits;
                let lt = Opcode::IntCmp(CmpOp::Lt, IntTy::Usize);
                let c = self.rec.pure(lt, &[n.val, cur.val], Int, shorter as u64);
                self.guard_truth(Value {
                    bits: shorter as u64,
                    val: c,
                });
                if shorter {
                    let s = executor::slot_shims(&self.tables.arrays[*descr]);
                    unsafe { (s.set_len)(v.bits as usize, n.bits as usize) };
                    self.rec.set_len(*descr, v.val, n.val, n.bits);
                }
            }
            Insn::VecPushSlot { descr, vec, dst } => {
                let v = self.get(Ref, *vec);
                let len = self.vec_len(*descr, v);
                let s = executor::slot_shims(&tables.arrays[*descr]);
                let cap_bits = unsafe { (s.cap)(v.bits as usize) } as u64;
                if len.bits < cap_bits {
                    // Room for one more: the guard resumes at this
                    // instruction, before anything is pushed.
                    let immutable = tables.arrays[*descr].immutable;
                    let cap =
                        self.rec
                            .read(Opcode::VecCap(*descr), &[v.val], Int, cap_bits, immutable);
                    let lt = Opcode::IntCmp(CmpOp::Lt, IntTy::Usize);
                    let room = self.rec.pure(lt, &[len.val, cap], Int, 1);
                    self.guard_truth(Value { bits: 1, val: room });
                } else {
                    unsafe { (s.reserve)(v.bits as usize) };
                    self.rec.effect(
                        Opcode::VecReserve(*descr),
                        vec![v.val],
                        None,
                        Effect::Resize(v.val, *descr),
                    );
                }
                let add = Opcode::IntBin(IntBinOp::Add, IntTy::Usize);
                let n = self
                    .rec
                    .pure(add, &[len.val, Val::Int(1)], Int, len.bits + 1);
                unsafe { (s.set_len)(v.bits as usize, len.bits as usize + 1) };
                self.rec.set_len(*descr, v.val, n, len.bits + 1);
                let ptr = self.vec_ptr(*descr, v);
                self.item_addr(*descr, ptr, len, *dst);
            }
            Insn::VecPopSlot {
                descr,
                vec,
                tag,
                dst,
            } => {
                let v = self.get(Ref, *vec);
                let (len, nonempty) = self.guard_nonempty(*descr, v);
                if nonempty {
                    let s = executor::slot_shims(&tables.arrays[*descr]);
                    let sub = Opcode::IntBin(IntBinOp::Sub, IntTy::Usize);
                    let bits = len.bits - 1;
                    let n = self.rec.pure(sub, &[len.val, Val::Int(1)], Int, bits);
                    unsafe { (s.set_len)(v.bits as usize, bits as usize) };
                    self.rec.set_len(*descr, v.val, n, bits);
                    let ptr = self.vec_ptr(*descr, v);
                    self.item_addr(*descr, ptr, Value { bits, val: n }, *dst);
                    self.set(Int, *tag, Value::constant(Int, 1));
                } else {
                    self.set(Int, *tag, Value::constant(Int, 0));
                    self.set(Ref, *dst, Value::constant(Ref, 0));
                }
            }
            Insn::VecAsSlice {
                descr,
                vec,
                ptr,
                len,
            } => {
                let v = self.get(Ref, *vec);
                let p = self.vec_ptr(*descr, v);
                let n = self.vec_len(*descr, v);
                self.set(Ref, *ptr, p);
                self.set(Int, *len, n);
            }
            Insn::StringAsStr { string, ptr, len } => {
                let s = self.get(Ref, *string);
                let st = unsafe { &*(s.bits as usize as *const String) };
                let (p, n) = (st.as_ptr() as u64, st.len() as u64);
                let pv = self.rec.read(Opcode::StringPtr, &[s.val], Ref, p, false);
                let nv = self.rec.read(Opcode::StringLen, &[s.val], Int, n, false);
                self.put(Ref, *ptr, p, pv);
                self.put(Int, *len, n, nv);
            }
            Insn::Call {
                flavor,
                jitcode,
                args,
                results,
            } => {
                if jitcode.0 == self.portal && self.driver_with_native_entry().is_none() {
                    return Err(Stop::Abort(AbortReason::Recursion));
                }
                // (A recursive portal call is inlined up to the callee's
                // merge point: `call_assembler` there.)
                let vals: Vec<Value> = args.iter().map(|a| self.top().getk(*a)).collect();
                match flavor {
                    CallFlavor::Elidable => {
                        let bits: Vec<u64> = vals.iter().map(|v| v.bits).collect();
                        // An elidable function may allocate (a map
                        // transition), and so collect.
                        self.publish_gc_roots();
                        let out = blackhole::call(tables, jitcode.0, &bits);
                        if vals.iter().all(|v| v.is_const()) {
                            for (r, &b) in results.iter().zip(&out) {
                                self.set(r.kind, r.reg, Value::constant(r.kind, b));
                            }
                        } else {
                            let args = vals.iter().map(|v| v.val).collect();
                            self.rec.effect(
                                Opcode::CallPure(*jitcode),
                                args,
                                None,
                                Effect::Everything,
                            );
                            self.call_results(results, &out);
                        }
                    }
                    // Inlined: the caller stays suspended in its call until
                    // the callee's `Return`.
                    CallFlavor::Regular | CallFlavor::LoopInvariant => {
                        let mut callee = Frame::new(self.prog, jitcode.0, 0);
                        for (p, v) in callee.code.jitcode.args.iter().zip(vals) {
                            callee.setk(*p, v);
                        }
                        self.frames.push(callee);
                        return Ok(());
                    }
                }
            }
            Insn::ResidualCall {
                descr,
                args,
                results,
            } => {
                let d = &tables.calls[*descr];
                let vals: Vec<Value> = args.iter().map(|a| self.top().getk(*a)).collect();
                let bits: Vec<u64> = vals.iter().map(|v| v.bits).collect();
                let mut out = vec![0u64; results.len()];
                self.publish_gc_roots();
                unsafe { (d.shim)(&bits, &mut out) };
                let args = vals.iter().map(|v| v.val).collect();
                self.rec.effect(
                    Opcode::CallResidual(*descr),
                    args,
                    None,
                    Effect::Call(*descr),
                );
                self.call_results(results, &out);
            }
            Insn::Return { values } => {
                if self.frames.len() == 1 {
                    return Err(self.portal_return(values));
                }
                let vals: Vec<Value> = values.iter().map(|v| self.top().getk(*v)).collect();
                self.frames.pop();
                let caller = self.top_mut();
                let Insn::Call { results, .. } = &caller.code.insns[caller.pc as usize] else {
                    unreachable!("a caller frame stops at its call");
                };
                for (r, v) in results.iter().zip(vals) {
                    caller.setk(*r, v);
                }
                caller.pc += 1;
                return Ok(());
            }
            Insn::Promote { kind, src, dst } => {
                let v = self.get(*kind, *src);
                let c = if v.is_const() {
                    v
                } else {
                    self.guard_value(*kind, v)
                };
                self.set(*kind, *dst, c);
            }
            Insn::WeAreJitted { dst } => self.set(Int, *dst, Value::constant(Int, 1)),
            Insn::MergePoint { args, .. } => {
                // The traced portal's merge point; in an inner frame, that
                // of a recursive call of the portal, whose prologue was
                // traced up to here.
                if self.frames.len() == 1 {
                    self.merge_point(pc, args)?;
                } else if self.top().jitcode == self.portal {
                    return self.call_assembler(args);
                }
            }
            Insn::CanEnterJit { .. } if self.frames.len() == 1 => self.header = Header::Loop,
            Insn::FunctionEntry { .. } if self.frames.len() == 1 => self.header = Header::Function,
            Insn::CanEnterJit { .. } | Insn::FunctionEntry { .. } | Insn::Live { .. } => {}
            Insn::Goto { target } => next = *target,
            Insn::GotoIfNot { cond, target } => {
                let c = self.get(Int, *cond);
                self.guard_truth(c);
                if c.bits == 0 {
                    next = *target;
                }
            }
            Insn::Switch {
                value,
                cases,
                default,
            } => {
                let v = self.get(Int, *value);
                if !v.is_const() {
                    self.guard_value(Int, v);
                }
                next = code.switch_target(pc as usize, cases, *default, v.bits as i64);
            }
            Insn::Panic { .. } => return Err(Stop::Abort(AbortReason::Panic)),
        }
        self.top_mut().pc = next;
        Ok(())
    }
}
