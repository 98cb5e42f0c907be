//! The optimizer tests' fixture: hand-built `Tables` over real
//! `#[repr(C)]` data (`Obj` with a `Vec<i64>`, an immutable `Prog`,
//! `Regs`), residual calls, an elidable jitcode, and the "world" the
//! random traces run against. The printed trace format the tests read
//! and write is `crate::trace_text`.

use crate::insn;
use crate::jitcode::{array, ki, kr};
pub use crate::leak;
pub use crate::rng::Rng;
pub use crate::shape::Shape;
use crate::shape::{shape_enum, shape_tag};
use crate::vec_shims;
use metatrace_runtime::jitcode::*;
use std::cell::Cell;
use std::mem::offset_of;
use std::sync::OnceLock;

// ---------------------------------------------------------------------------
// Native data.

unsafe fn drop_obj(p: usize) {
    unsafe { std::ptr::drop_in_place(p as *mut Obj) }
}

unsafe fn drop_vec_i64(p: usize) {
    unsafe { std::ptr::drop_in_place(p as *mut Vec<i64>) }
}

#[repr(C)]
#[derive(Debug)]
pub struct Obj {
    pub a: i64,
    pub b: u8,
    pub flag: bool,
    pub h: i16,
    pub c: i32,
    pub d: u64,
    pub f: f64,
    /// Address of an `Obj`.
    pub next: usize,
    pub vals: Vec<i64>,
}

/// The interpreter's program: reached through a shared reference.
#[repr(C)]
pub struct Prog {
    pub n: i64,
    pub code: Vec<i64>,
}

/// What traces allocate (`new<Pair>`, a `Box<Pair>`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pair {
    pub x: i64,
    pub y: i64,
}

/// A struct holding a `Pair` by value (`Holder.p`), and arrays of both
/// (`[Pair]`, `[Holder]`): a `Pair` in a field is never an item.
#[repr(C)]
pub struct Holder {
    pub n: i64,
    pub p: Pair,
}

#[repr(C)]
pub struct Regs {
    pub values: Vec<i64>,
}

/// An interpreter's frame, `#[virtualizable]`: `Frame.pc` and the items
/// of `regs` (descr `[i64] virtualizable`) stay in registers in peeled loops.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    pub pc: i64,
    pub regs: [i64; 4],
}

pub const F_A: u16 = 0;
pub const F_B: u16 = 1;
pub const F_FLAG: u16 = 2;
pub const F_H: u16 = 3;
pub const F_C: u16 = 4;
pub const F_D: u16 = 5;
pub const F_F: u16 = 6;
pub const F_NEXT: u16 = 7;
pub const F_VALS: u16 = 8;
/// A second descr of `Obj.a` (same offset and type).
pub const F_A2: u16 = 9;
pub const F_PROG_N: u16 = 10;
pub const F_PROG_CODE: u16 = 11;
pub const F_REGS_VALUES: u16 = 12;
pub const F_FRAME_PC: u16 = 15;
pub const F_HOLDER_P: u16 = 16;

pub const A_VI64: u16 = 0;
pub const A_VI64_IMM: u16 = 1;
pub const A_SLICE_I64: u16 = 2;
pub const A_FRAME_REGS: u16 = 3;
pub const A_SLICE_PAIR: u16 = 4;
pub const A_SLICE_HOLDER: u16 = 5;

pub const C_BUMP: u16 = 0;
pub const C_PEEK: u16 = 1;
pub const C_RESET: u16 = 2;

pub const J_PAIR: u16 = 0;

/// The scalar fields of `Obj`: descr and type.
pub fn obj_fields() -> Vec<(u16, ScalarTy)> {
    use IntTy::*;
    vec![
        (F_A, ScalarTy::Int(I64)),
        (F_B, ScalarTy::Int(U8)),
        (F_FLAG, ScalarTy::Bool),
        (F_H, ScalarTy::Int(I16)),
        (F_C, ScalarTy::Int(I32)),
        (F_D, ScalarTy::Int(U64)),
        (F_F, ScalarTy::F64),
        (F_NEXT, ScalarTy::Ref),
        (F_A2, ScalarTy::Int(I64)),
    ]
}

thread_local! {
    /// Calls of `bump` (a side effect the tests compare).
    pub static BUMPS: Cell<u64> = const { Cell::new(0) };
    /// This thread's virtualizable frame: random traces reach it through
    /// constant addresses (as the UM's traces reach its machine), and
    /// `World` resets and snapshots it.
    static FRAME: *mut Frame = Box::leak(Box::new(Frame { pc: 0, regs: [0; 4] }));
}

/// The address of this thread's frame (`Frame.pc`'s base).
pub fn frame_addr() -> u64 {
    FRAME.with(|f| *f as usize as u64)
}

/// The data pointer of this thread's frame's `regs`.
pub fn frame_regs_addr() -> u64 {
    frame_addr() + std::mem::offset_of!(Frame, regs) as u64
}

fn frame() -> &'static mut Frame {
    // Safety: leaked, one per thread, reached only from this thread.
    FRAME.with(|f| unsafe { &mut **f })
}

/// `fn bump(o: &mut Obj) -> i64`: `o.a += 1; o.c += 1; o.vals.push(o.a)`.
unsafe fn bump_shim(args: &[u64], results: &mut [u64]) {
    let o = unsafe { &mut *(args[0] as usize as *mut Obj) };
    o.a = o.a.wrapping_add(1);
    o.c = o.c.wrapping_add(1);
    o.vals.push(o.a);
    BUMPS.with(|b| b.set(b.get() + 1));
    results[0] = o.a as u64;
}

/// `fn reset(r: &mut Regs)`: `r.values.clear(); r.values.push(7)`.
unsafe fn reset_shim(args: &[u64], _results: &mut [u64]) {
    let r = unsafe { &mut *(args[0] as usize as *mut Regs) };
    r.values.clear();
    r.values.push(7);
}

/// `fn peek(o: &Obj) -> (i64, usize)`.
unsafe fn peek_shim(args: &[u64], results: &mut [u64]) {
    let o = unsafe { &*(args[0] as usize as *const Obj) };
    results[0] = o.a as u64;
    results[1] = o.vals.len() as u64;
}

fn pair_jitcode() -> JitCode {
    let ki = |reg| KReg {
        kind: Kind::Int,
        reg,
    };
    // fn pair(a: i64, b: i64) -> (i64, i64) { (a + b, a * b) }
    let code = [
        insn::int_bin(IntBinOp::Add, IntTy::I64, 0, 1, 2),
        insn::int_bin(IntBinOp::Mul, IntTy::I64, 0, 1, 3),
        insn::ret(vec![ki(2), ki(3)]),
    ];
    JitCode {
        name: "pair",
        code: leak(encode(&code)),
        num_regs: [4, 0, 0],
        consts_i: &[],
        consts_r: &[],
        consts_f: &[],
        args: leak(vec![ki(0), ki(1)]),
        results: leak(vec![Kind::Int, Kind::Int]),
    }
}

/// The portal of driver 0: its merge point takes `(i0, r0)`, the inputs of
/// most loops of the optimizer's tests (`[i0, r1]`). A short preamble's
/// guards resume there (`optimizer::short`).
fn loop_portal() -> JitCode {
    let args = vec![ki(0), kr(0)];
    let code = [insn::merge_point(0, args.clone()), insn::ret(vec![])];
    JitCode {
        name: "loop_portal",
        code: leak(encode(&code)),
        num_regs: [1, 1, 0],
        consts_i: &[],
        consts_r: &[],
        consts_f: &[],
        args: leak(args),
        results: leak(vec![]),
    }
}

fn field(name: &'static str, ty: Option<ScalarTy>, off: usize, immutable: bool) -> FieldDescr {
    FieldDescr {
        name,
        ty,
        place: FieldPlace::Offset(off),
        immutable,
        virtualizable: false,
        owner: None,
    }
}

pub fn tables() -> &'static Tables {
    static T: OnceLock<&'static Tables> = OnceLock::new();
    T.get_or_init(|| {
        use IntTy::*;
        let mut fields = vec![
            field("Obj.a", Some(ScalarTy::Int(I64)), offset_of!(Obj, a), false),
            field("Obj.b", Some(ScalarTy::Int(U8)), offset_of!(Obj, b), false),
            field(
                "Obj.flag",
                Some(ScalarTy::Bool),
                offset_of!(Obj, flag),
                false,
            ),
            field("Obj.h", Some(ScalarTy::Int(I16)), offset_of!(Obj, h), false),
            field("Obj.c", Some(ScalarTy::Int(I32)), offset_of!(Obj, c), false),
            field("Obj.d", Some(ScalarTy::Int(U64)), offset_of!(Obj, d), false),
            field("Obj.f", Some(ScalarTy::F64), offset_of!(Obj, f), false),
            field(
                "Obj.next",
                Some(ScalarTy::Ref),
                offset_of!(Obj, next),
                false,
            ),
            field("Obj.vals", None, offset_of!(Obj, vals), false),
            field(
                "Obj.a#2",
                Some(ScalarTy::Int(I64)),
                offset_of!(Obj, a),
                false,
            ),
            field(
                "Prog.n",
                Some(ScalarTy::Int(I64)),
                offset_of!(Prog, n),
                true,
            ),
            field("Prog.code", None, offset_of!(Prog, code), true),
            field("Regs.values", None, offset_of!(Regs, values), false),
            field(
                "Pair.x",
                Some(ScalarTy::Int(I64)),
                offset_of!(Pair, x),
                false,
            ),
            field(
                "Pair.y",
                Some(ScalarTy::Int(I64)),
                offset_of!(Pair, y),
                false,
            ),
            FieldDescr {
                virtualizable: true,
                ..field(
                    "Frame.pc",
                    Some(ScalarTy::Int(I64)),
                    offset_of!(Frame, pc),
                    false,
                )
            },
            field("Holder.p", None, offset_of!(Holder, p), false),
        ];
        // Each field belongs to its type: fields of different types never
        // alias (type-based alias analysis, `alias::fields_may_alias`).
        static OWNERS: [MemType; 6] = [
            MemType {
                name: "Obj",
                within: &[],
                id: 0,
                held_by: &[],
            },
            MemType {
                name: "Prog",
                within: &[],
                id: 1,
                held_by: &[],
            },
            MemType {
                name: "Regs",
                within: &[],
                id: 2,
                held_by: &[],
            },
            MemType {
                name: "Pair",
                within: &[5],
                id: 3,
                held_by: &[],
            },
            MemType {
                name: "Frame",
                within: &[],
                id: 4,
                held_by: &[],
            },
            MemType {
                name: "Holder",
                within: &[],
                id: 5,
                held_by: &[],
            },
        ];
        for f in &mut fields {
            let ty = f.name.split('.').next().unwrap_or("");
            f.owner = OWNERS.iter().find(|o| o.name == ty);
        }
        let arrays = vec![
            array(
                "Vec<i64>",
                Some(ScalarTy::Int(I64)),
                8,
                Some(vec_shims!(i64, |x| x as u64, |x| x as i64)),
            ),
            ArrayDescr {
                immutable: true,
                name: "&Vec<i64>",
                item: Some(ScalarTy::Int(I64)),
                item_size: 8,
                vec: Some(vec_shims!(i64, |x| x as u64, |x| x as i64)),
                virtualizable: false,
            },
            array("[i64]", Some(ScalarTy::Int(I64)), 8, None),
            ArrayDescr {
                virtualizable: true,
                ..array("[i64] virtualizable", Some(ScalarTy::Int(I64)), 8, None)
            },
            array("[Pair]", None, std::mem::size_of::<Pair>(), None),
            array("[Holder]", None, std::mem::size_of::<Holder>(), None),
        ];
        // The effect summaries the codewriter computes for these
        // signatures (`codewriter::effects`): `&mut Obj` reaches every
        // field of Obj (both descrs of `Obj.a`) and the Vec<i64> in
        // `Obj.vals` — not those in the other Vec<i64> fields; `&mut Regs`
        // the Vec in `Regs.values`; `&Obj` nothing.
        let i64_arrays: &'static [u16] = &[A_VI64, A_VI64_IMM, A_SLICE_I64];
        let i64_vecs: &'static [u16] = &[A_VI64, A_VI64_IMM];
        let calls = vec![
            CallDescr {
                name: "bump",
                shim: bump_shim,
                arg_kinds: &[Kind::Ref],
                result_kinds: &[Kind::Int],
                effects: CallEffectsDescr {
                    everything: false,
                    fields: &[F_A, F_B, F_FLAG, F_H, F_C, F_D, F_F, F_NEXT, F_A2],
                    items: i64_arrays,
                    vecs: i64_vecs,
                    kept_fields: &[F_PROG_CODE, F_REGS_VALUES],
                    other: false,
                },
            },
            CallDescr {
                name: "peek",
                shim: peek_shim,
                arg_kinds: &[Kind::Ref],
                result_kinds: &[Kind::Int, Kind::Int],
                effects: CallEffectsDescr::NOTHING,
            },
            CallDescr {
                name: "reset",
                shim: reset_shim,
                arg_kinds: &[Kind::Ref],
                result_kinds: &[],
                effects: CallEffectsDescr {
                    everything: false,
                    fields: &[],
                    items: i64_arrays,
                    vecs: i64_vecs,
                    kept_fields: &[F_VALS, F_PROG_CODE],
                    other: false,
                },
            },
        ];
        let enums = vec![
            shape_enum(),
            EnumDescr {
                immutable: true,
                name: "&Shape",
                tag: shape_tag,
                null_pointer: false,
            },
        ];
        Box::leak(Box::new(Tables {
            jitcodes: leak(vec![pair_jitcode(), loop_portal()]),
            fields: leak(fields),
            arrays: leak(arrays),
            enums: leak(enums),
            calls: leak(calls),
            allocs: leak(vec![
                AllocDescr {
                    name: "Pair",
                    size: std::mem::size_of::<Pair>(),
                    align: std::mem::align_of::<Pair>(),
                    gc: None,
                    drop: None,
                },
                AllocDescr {
                    name: "i64",
                    size: 8,
                    align: 8,
                    gc: None,
                    drop: None,
                },
                // What holds Vecs: freeing one drops them (Vec values,
                // docs/values.md).
                AllocDescr {
                    name: "Obj",
                    size: std::mem::size_of::<Obj>(),
                    align: std::mem::align_of::<Obj>(),
                    gc: None,
                    drop: Some(drop_obj),
                },
                AllocDescr {
                    name: "Vec<i64>",
                    size: std::mem::size_of::<Vec<i64>>(),
                    align: std::mem::align_of::<Vec<i64>>(),
                    gc: None,
                    drop: Some(drop_vec_i64),
                },
            ]),
            drivers: leak(vec![DriverDescr {
                portal: "loop_portal",
                jitcode: 1,
                greens: &[],
                reds: &[Kind::Int, Kind::Ref],
                native: None,
            }]),
            strings: &[],
        }))
    })
}

/// A `Prog` that lives forever (its address can be a trace constant).
pub fn prog() -> &'static Prog {
    static P: OnceLock<usize> = OnceLock::new();
    let a = *P.get_or_init(|| {
        Box::leak(Box::new(Prog {
            n: 42,
            code: vec![10, 20, 30, 40, 50],
        })) as *const Prog as usize
    });
    unsafe { &*(a as *const Prog) }
}

pub fn prog_addr() -> usize {
    prog() as *const Prog as usize
}

/// A `Shape::Circle` that lives forever.
pub fn circle_addr() -> usize {
    static S: OnceLock<usize> = OnceLock::new();
    *S.get_or_init(|| Box::leak(Box::new(Shape::Circle(1.5))) as *const Shape as usize)
}

// ---------------------------------------------------------------------------
// The world random traces run against: two `Obj`s, reset in place between
// runs so that addresses (which may appear in exits) stay the same.

/// The fields of an `Obj` (`f` by its bits in snapshots).
type ObjState<F> = (i64, u8, bool, i16, i32, u64, F, usize, Vec<i64>);

pub struct World {
    /// (boxed: the addresses must not move)
    #[allow(clippy::vec_box)]
    pub objs: Vec<Box<Obj>>,
    init: Vec<ObjState<f64>>,
}

/// What a run left in memory.
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    pub objs: Vec<ObjState<u64>>,
    pub bumps: u64,
    pub frame: Frame,
}

impl Obj {
    /// An `Obj` of zeros whose `vals` has room for `capacity` items.
    pub fn zeroed(capacity: usize) -> Obj {
        Obj {
            a: 0,
            b: 0,
            flag: false,
            h: 0,
            c: 0,
            d: 0,
            f: 0.0,
            next: 0,
            vals: Vec::with_capacity(capacity),
        }
    }
}

impl World {
    pub fn new(r: &mut Rng) -> World {
        let objs: Vec<Box<Obj>> = (0..2).map(|_| Box::new(Obj::zeroed(512))).collect();
        let addrs: Vec<usize> = objs.iter().map(|o| &**o as *const Obj as usize).collect();
        let mut init = Vec::new();
        for _ in 0..2 {
            let n = 6 + r.below(4) as usize;
            let vals: Vec<i64> = (0..n).map(|_| r.trace_int() % 100).collect();
            init.push((
                r.trace_int(),
                r.trace_int() as u8,
                r.chance(50),
                r.trace_int() as i16,
                r.trace_int() as i32,
                r.trace_int() as u64,
                (r.trace_int() % 1000) as f64 / 8.0,
                addrs[r.below(2) as usize],
                vals,
            ));
        }
        let mut w = World { objs, init };
        w.reset();
        w
    }

    pub fn addr(&self, k: usize) -> u64 {
        &*self.objs[k] as *const Obj as usize as u64
    }

    pub fn reset(&mut self) {
        for (o, i) in self.objs.iter_mut().zip(&self.init) {
            o.a = i.0;
            o.b = i.1;
            o.flag = i.2;
            o.h = i.3;
            o.c = i.4;
            o.d = i.5;
            o.f = i.6;
            o.next = i.7;
            o.vals.clear();
            o.vals.extend_from_slice(&i.8);
        }
        BUMPS.with(|b| b.set(0));
        *frame() = Frame {
            pc: self.init[0].0 % 100,
            regs: [1, 2, 3, self.init[1].0 % 100],
        };
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            objs: self
                .objs
                .iter()
                .map(|o| {
                    (
                        o.a,
                        o.b,
                        o.flag,
                        o.h,
                        o.c,
                        o.d,
                        o.f.to_bits(),
                        o.next,
                        o.vals.clone(),
                    )
                })
                .collect(),
            bumps: BUMPS.with(|b| b.get()),
            frame: *frame(),
        }
    }
}
