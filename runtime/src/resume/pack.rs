//! Resume data as compiled traces keep it: every guard of a trace packed
//! into one array of 32-bit words (RPython's `resumecode.py`, which packs
//! a guard's snapshot into a varint string; LuaJIT's snapshot map, one
//! `SnapEntry` word per slot).
//!
//! While a trace is recorded and optimized its guards' resume data is
//! made of `GuardInfo`s: vectors of `(KReg, Val)` pairs, 24 bytes each,
//! and a vector per frame, per virtual and per delayed write. Once the
//! trace is compiled, nothing rewrites that data any more; it is read
//! only when a guard fails (the blackhole, a bridge). Kept as it was, it
//! was most of a JIT'd UM's memory (sandmark: 20,000 guards, 15 MB, and
//! the allocator's gaps around them). Packed, a register is two words, a
//! guard's header four, and a trace's data is five allocations whatever
//! its size.
//!
//! A value is one word: its low two bits say what the rest is (`FAIL_ARG`:
//! the index of a fail argument, `VIRTUAL`: of a virtual object, `CONST`:
//! of a constant in the trace's pool, `SMALL_INT`: a signed integer of 30
//! bits, in place). Unpacked, a guard's fail arguments are the values
//! `Val::Input(0..n)`: a bridge's inputs and the blackhole's values are by
//! position, so that is the same resume data.

use std::collections::HashMap;

use crate::jitcode::{AllocId, KReg, Kind};
use crate::trace::{FieldWrite, FrameSnapshot, GuardInfo, Opcode, PendingWrite, Val, VirtualObj};

const FAIL_ARG: u32 = 0;
const VIRTUAL: u32 = 1;
const CONST: u32 = 2;
const SMALL_INT: u32 = 3;
/// The values a `SMALL_INT` word holds.
const SMALL: std::ops::RangeInclusive<i64> = -(1 << 29)..=(1 << 29) - 1;

/// The resume data of every guard of one compiled trace, packed.
#[derive(Debug, Default)]
pub struct PackedResume {
    /// Per guard, where its words start (and the next guard's end it).
    starts: Box<[u32]>,
    words: Box<[u32]>,
    /// The constants the words name (`CONST`), without duplicates.
    consts: Box<[Val]>,
    /// The opcodes of delayed writes, without duplicates.
    opcodes: Box<[Opcode]>,
    /// How virtuals' fields are written, without duplicates.
    field_writes: Box<[FieldWrite]>,
}

/// Collects the pools while packing.
#[derive(Default)]
struct Packer {
    words: Vec<u32>,
    consts: Pool<Val>,
    opcodes: Pool<Opcode>,
    field_writes: Pool<FieldWrite>,
}

struct Pool<T> {
    items: Vec<T>,
    index: HashMap<T, u32>,
}

impl<T> Default for Pool<T> {
    fn default() -> Self {
        Pool {
            items: Vec::new(),
            index: HashMap::new(),
        }
    }
}

impl<T: Clone + Eq + std::hash::Hash> Pool<T> {
    fn add(&mut self, item: &T) -> u32 {
        if let Some(&i) = self.index.get(item) {
            return i;
        }
        let i = self.items.len() as u32;
        self.items.push(item.clone());
        self.index.insert(item.clone(), i);
        i
    }
}

impl Packer {
    fn len(&mut self, n: usize) {
        self.words
            .push(u32::try_from(n).expect("resume data of fewer than 2^32 entries"));
    }

    fn value(&mut self, fail_args: &HashMap<Val, u32>, v: Val) {
        let word = match v {
            Val::Int(i) if SMALL.contains(&i) => ((i as u32) << 2) | SMALL_INT,
            Val::Int(_) | Val::Ref(_) | Val::Float(_) => (self.consts.add(&v) << 2) | CONST,
            Val::Virtual(k) => (k << 2) | VIRTUAL,
            Val::Input(_) | Val::Op(_) => match fail_args.get(&v) {
                Some(&i) => (i << 2) | FAIL_ARG,
                None => panic!("metatrace: resume data uses {v:?}, which is no fail argument"),
            },
        };
        self.words.push(word);
    }

    fn guard(&mut self, g: &GuardInfo) {
        let fail_args: HashMap<Val, u32> = g
            .fail_args
            .iter()
            .enumerate()
            .map(|(i, &v)| (v, i as u32))
            .collect();
        self.len(g.fail_args.len());
        self.len(g.frames.len());
        self.len(g.virtuals.len());
        self.len(g.pending.len());
        for f in &g.frames {
            self.words.push(u32::from(f.jitcode));
            self.words.push(f.pc);
            self.len(f.regs.len());
            for &(r, v) in &f.regs {
                self.words
                    .push(((r.kind.index() as u32) << 16) | u32::from(r.reg));
                self.value(&fail_args, v);
            }
        }
        for obj in &g.virtuals {
            self.words.push(u32::from(obj.descr.0));
            self.len(obj.fields.len());
            for &(w, v) in &obj.fields {
                let w = self.field_writes.add(&w);
                self.words.push(w);
                self.value(&fail_args, v);
            }
        }
        for w in &g.pending {
            let op = self.opcodes.add(&w.opcode);
            self.words.push(op);
            self.len(w.args.len());
            for &v in &w.args {
                self.value(&fail_args, v);
            }
        }
    }
}

impl PackedResume {
    /// Packs `guards`.
    ///
    /// Panics if a guard's resume data names a non-constant value that
    /// is not among its fail arguments (the verifier rejects such traces).
    pub fn pack(guards: &[GuardInfo]) -> PackedResume {
        let mut p = Packer::default();
        let mut starts = Vec::with_capacity(guards.len() + 1);
        for g in guards {
            starts.push(p.words.len() as u32);
            p.guard(g);
        }
        starts.push(p.words.len() as u32);
        PackedResume {
            starts: starts.into(),
            words: p.words.into(),
            consts: p.consts.items.into(),
            opcodes: p.opcodes.items.into(),
            field_writes: p.field_writes.items.into(),
        }
    }

    /// Number of guards.
    pub fn len(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn words_of(&self, g: usize) -> &[u32] {
        &self.words[self.starts[g] as usize..self.starts[g + 1] as usize]
    }

    /// Number of fail arguments of guard `g`.
    pub fn fail_arg_count(&self, g: usize) -> usize {
        self.words_of(g)[0] as usize
    }

    /// Guard `g`'s resume data, its fail arguments `Val::Input(0..n)`.
    pub fn unpack(&self, g: usize) -> GuardInfo {
        let mut r = Reader {
            words: self.words_of(g),
            at: 0,
            pack: self,
        };
        let n_fail_args = r.next() as usize;
        let n_frames = r.next() as usize;
        let n_virtuals = r.next() as usize;
        let n_pending = r.next() as usize;
        let frames = (0..n_frames)
            .map(|_| {
                let jitcode = r.next() as u16;
                let pc = r.next();
                let n = r.next() as usize;
                let regs = (0..n)
                    .map(|_| {
                        let w = r.next();
                        let reg = KReg {
                            kind: Kind::ALL[(w >> 16) as usize],
                            reg: w as u16,
                        };
                        (reg, r.value())
                    })
                    .collect();
                FrameSnapshot { jitcode, pc, regs }
            })
            .collect();
        let virtuals = (0..n_virtuals)
            .map(|_| {
                let descr = AllocId(r.next() as u16);
                let n = r.next() as usize;
                let fields = (0..n)
                    .map(|_| {
                        let w = self.field_writes[r.next() as usize];
                        (w, r.value())
                    })
                    .collect();
                VirtualObj { descr, fields }
            })
            .collect();
        let pending = (0..n_pending)
            .map(|_| {
                let opcode = self.opcodes[r.next() as usize].clone();
                let n = r.next() as usize;
                let args = (0..n).map(|_| r.value()).collect();
                PendingWrite { opcode, args }
            })
            .collect();
        GuardInfo {
            frames,
            virtuals,
            pending,
            fail_args: (0..n_fail_args as u16).map(Val::Input).collect(),
        }
    }

    /// Heap bytes it holds.
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of_val;
        size_of_val(&*self.starts)
            + size_of_val(&*self.words)
            + size_of_val(&*self.consts)
            + size_of_val(&*self.opcodes)
            + size_of_val(&*self.field_writes)
    }
}

struct Reader<'a> {
    words: &'a [u32],
    at: usize,
    pack: &'a PackedResume,
}

impl Reader<'_> {
    fn next(&mut self) -> u32 {
        let w = self.words[self.at];
        self.at += 1;
        w
    }

    fn value(&mut self) -> Val {
        let w = self.next();
        let payload = w >> 2;
        match w & 3 {
            FAIL_ARG => Val::Input(payload as u16),
            VIRTUAL => Val::Virtual(payload),
            CONST => self.pack.consts[payload as usize],
            _ => Val::Int(i64::from((w as i32) >> 2)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jitcode::{ArrayId, FieldId, IntTy, ScalarTy};

    fn kreg(kind: Kind, reg: u16) -> KReg {
        KReg { kind, reg }
    }

    /// A guard using every kind of value and entry.
    fn guard() -> GuardInfo {
        let frames = vec![
            FrameSnapshot {
                jitcode: 0,
                pc: 17,
                regs: vec![
                    (kreg(Kind::Int, 0), Val::Op(40)),
                    (kreg(Kind::Int, 3), Val::Int(-5)),
                    (kreg(Kind::Int, 4), Val::Int(1 << 40)),
                    (kreg(Kind::Int, 5), Val::Int(-(1 << 29))),
                    (kreg(Kind::Int, 6), Val::Int((1 << 29) - 1)),
                    (kreg(Kind::Int, 7), Val::Int(1 << 29)),
                    (kreg(Kind::Int, 8), Val::Int(i64::MIN)),
                ],
            },
            FrameSnapshot {
                jitcode: 3,
                pc: 2,
                regs: vec![
                    (kreg(Kind::Ref, 1), Val::Virtual(0)),
                    (kreg(Kind::Ref, 2), Val::Ref(0x7fff_1234_5678)),
                    (kreg(Kind::Float, 0), Val::Float(2.5f64.to_bits())),
                    (kreg(Kind::Int, 1), Val::Input(2)),
                ],
            },
        ];
        let virtuals = vec![VirtualObj {
            descr: AllocId(2),
            fields: vec![
                (FieldWrite::Field(FieldId(4)), Val::Op(40)),
                (
                    FieldWrite::Store(ScalarTy::Int(IntTy::I64)),
                    Val::Int(1 << 40),
                ),
            ],
        }];
        let pending = vec![
            PendingWrite {
                opcode: Opcode::SetItem(ArrayId(1)),
                args: vec![Val::Ref(0x1000), Val::Int(7), Val::Op(9)],
            },
            PendingWrite {
                opcode: Opcode::SetField(FieldId(4)),
                args: vec![Val::Input(2), Val::Int(3)],
            },
        ];
        let mut g = GuardInfo {
            frames,
            virtuals,
            pending,
            fail_args: Vec::new(),
        };
        g.fail_args = g.collect_fail_args();
        g
    }

    /// `g` with its fail arguments renamed `Input(0..n)`, as unpacked.
    fn renamed(g: &GuardInfo) -> GuardInfo {
        let mut out = g.clone();
        let at = |v: &mut Val| {
            if let Some(i) = g.fail_args.iter().position(|a| a == v) {
                *v = Val::Input(i as u16);
            }
        };
        out.values_mut(at);
        out.fail_args = (0..g.fail_args.len() as u16).map(Val::Input).collect();
        out
    }

    #[test]
    fn packed_guards_unpack_to_the_same_resume_data() {
        let g = guard();
        let empty = GuardInfo::new(vec![FrameSnapshot {
            jitcode: 0,
            pc: 0,
            regs: Vec::new(),
        }]);
        let guards = vec![g.clone(), empty.clone(), g.clone()];
        let p = PackedResume::pack(&guards);
        assert_eq!(p.len(), 3);
        assert_eq!(p.fail_arg_count(0), g.fail_args.len());
        assert_eq!(p.unpack(0), renamed(&g));
        assert_eq!(p.unpack(1), empty);
        assert_eq!(p.unpack(2), renamed(&g));
        // The pool holds each constant that fits no word once.
        assert_eq!(p.consts.len(), 6);
    }

    #[test]
    fn packed_resume_data_is_smaller() {
        let guards = vec![guard(); 100];
        let packed = PackedResume::pack(&guards).heap_bytes();
        let trace = crate::trace::Trace {
            start: crate::trace::TraceStart::Bridge { code: 0, guard: 0 },
            inputs: Vec::new(),
            ops: Vec::new(),
            guards,
        };
        assert!(
            packed * 3 < trace.heap_bytes(),
            "packed {packed} bytes, as GuardInfos {}",
            trace.heap_bytes()
        );
    }
}
