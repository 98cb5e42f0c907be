//! A reference interpreter of traces: the semantics the backend's machine
//! code must reproduce bit for bit, and a slow way to run a trace without
//! compiling it (tests, the tracer's sanity checks, `--jit` debugging).
//!
//! Every operation is computed by the same functions the blackhole uses
//! (`crate::executor`), on canonical register values (`u64`: the i64 bit
//! pattern of ints, addresses of refs, `f64::to_bits` of floats).
//!
//! `run` executes the trace from its first operation with `inputs` as the
//! values of its inputs. `Jump` starts the next iteration with its
//! arguments as the new inputs; the run stops at the first guard that
//! fails (its index in `Trace::guards` and the values of its fail
//! arguments) or at `JumpTo` (`TraceExit::JUMP_TO` and the jump's
//! arguments, the inputs of the target loop) or at `Finish`
//! (`TraceExit::FINISH` and the portal's results).

use super::{Opcode, Trace, Val};
use crate::blackhole;
use crate::executor;
use crate::jitcode::{Kind, ScalarTy, Tables};

/// Where a run of a trace stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceExit {
    /// Index of the failing guard in `Trace::guards`, or
    /// [`TraceExit::JUMP_TO`] when the trace ended with `JumpTo`.
    pub guard: u32,
    /// The guard's fail arguments (`GuardInfo::fail_args` order), or the
    /// arguments of the `JumpTo`.
    pub values: Vec<u64>,
}

impl TraceExit {
    /// `guard` of an exit through `JumpTo` (no guard failed).
    pub const JUMP_TO: u32 = u32::MAX;
    /// `guard` of an exit through `Finish` (the portal returned).
    pub const FINISH: u32 = u32::MAX - 1;

    pub fn is_jump_to(&self) -> bool {
        self.guard == Self::JUMP_TO
    }
}

/// The values of a running trace: inputs, then one slot per operation.
struct Values {
    v: Vec<u64>,
    n_inputs: usize,
}

impl Values {
    #[inline(always)]
    fn get(&self, a: Val) -> u64 {
        match a {
            Val::Input(i) => self.v[i as usize],
            Val::Op(i) => self.v[self.n_inputs + i as usize],
            Val::Int(c) => c as u64,
            Val::Ref(r) => r as u64,
            Val::Float(b) => b,
            Val::Virtual(_) => unreachable!("virtuals are only in resume data"),
        }
    }
}

/// The result kind and canonical value of an arithmetic operation (an
/// int or float operator, a comparison, a cast: computed from its
/// operands alone) whose operands have the values `arg(0)`, `arg(1)`;
/// `None` for other operations. The tracer, this interpreter and
/// constant folding all compute them here.
pub fn arith(opcode: &Opcode, arg: impl Fn(usize) -> u64) -> Option<(Kind, u64)> {
    use Kind::{Float, Int};
    let int = |n: usize| arg(n) as i64;
    let float = |n: usize| f64::from_bits(arg(n));
    Some(match opcode {
        Opcode::IntBin(o, t) => (Int, executor::int_bin(*o, *t, int(0), int(1)) as u64),
        Opcode::IntNeg(t) => (Int, executor::int_neg(*t, int(0)) as u64),
        Opcode::IntNot(t) => (Int, executor::int_not(*t, int(0)) as u64),
        Opcode::IntCmp(o, t) => (Int, executor::int_cmp(*o, *t, int(0), int(1)) as u64),
        Opcode::FloatBin(o) => (Float, executor::float_bin(*o, float(0), float(1)).to_bits()),
        Opcode::FloatNeg => (Float, (-float(0)).to_bits()),
        Opcode::FloatCmp(o) => (Int, executor::float_cmp(*o, float(0), float(1)) as u64),
        Opcode::Cast(from, to) => (to.kind(), executor::cast(*from, *to, arg(0))),
        _ => return None,
    })
}

/// Run `trace` on `inputs` (one canonical value per `trace.inputs`) until a
/// guard fails or the trace leaves through `JumpTo`. Loops forever when no
/// guard ever fails, like the compiled loop would. Panics where the code
/// it stands for panics (inside a residual call, a pure call, a shim).
pub fn run(trace: &Trace, tables: &'static Tables, inputs: &[u64]) -> TraceExit {
    assert_eq!(
        inputs.len(),
        trace.inputs.len(),
        "trace::interp::run: wrong number of inputs"
    );
    let n_inputs = inputs.len();
    let mut vals = Values {
        v: vec![0; n_inputs + trace.ops.len()],
        n_inputs,
    };
    vals.v[..n_inputs].copy_from_slice(inputs);
    let mut call_results: Vec<u64> = Vec::new();
    let mut call_args: Vec<u64> = Vec::new();
    let mut next_inputs: Vec<u64> = vec![0; n_inputs];
    loop {
        for (i, op) in trace.ops.iter().enumerate() {
            let arg = |n: usize| vals.get(op.args[n]);
            let result: u64 = match &op.opcode {
                Opcode::IntBin(..)
                | Opcode::IntNeg(_)
                | Opcode::IntNot(_)
                | Opcode::IntCmp(..)
                | Opcode::FloatBin(_)
                | Opcode::FloatNeg
                | Opcode::FloatCmp(_)
                | Opcode::Cast(..) => arith(&op.opcode, arg).expect("an arithmetic operation").1,
                Opcode::GetField(d) => {
                    let d = &tables.fields[*d];
                    let ty = d.ty.expect("getfield of a scalar field");
                    unsafe { executor::load(ty, executor::field_addr(d, arg(0) as usize)) }
                }
                Opcode::SetField(_)
                | Opcode::Store(_)
                | Opcode::SetItem(_)
                | Opcode::VecSetLen(_) => {
                    let args: Vec<u64> = (0..op.args.len()).map(arg).collect();
                    unsafe { write(tables, &op.opcode, &args) };
                    0
                }
                Opcode::FieldAddr(d) => {
                    let d = &tables.fields[*d];
                    unsafe { executor::field_addr(d, arg(0) as usize) as u64 }
                }
                Opcode::Load(ty) => unsafe { executor::load(*ty, arg(0) as usize) },
                Opcode::New(d) => executor::alloc(&tables.allocs[*d]) as u64,
                Opcode::Free(d) => {
                    unsafe { executor::free(&tables.allocs[*d], arg(0) as usize) };
                    0
                }
                Opcode::EnumTag(d) => {
                    let d = &tables.enums[*d];
                    unsafe { (d.tag)(arg(0) as usize) as u64 }
                }
                Opcode::VecLen(d) => unsafe {
                    (tables.arrays[*d].vec_shims().len)(arg(0) as usize) as u64
                },
                Opcode::VecPtr(d) => unsafe {
                    (tables.arrays[*d].vec_shims().ptr)(arg(0) as usize) as u64
                },
                Opcode::VecPush(d) => {
                    unsafe { tables.arrays[*d].push_shim()(arg(0) as usize, arg(1)) };
                    0
                }
                Opcode::VecPopNonEmpty(d) => {
                    unsafe { tables.arrays[*d].pop_shim()(arg(0) as usize) }.unwrap_or(0)
                }
                Opcode::VecCap(d) => unsafe {
                    (executor::slot_shims(&tables.arrays[*d]).cap)(arg(0) as usize) as u64
                },
                Opcode::VecReserve(d) => {
                    let s = executor::slot_shims(&tables.arrays[*d]);
                    unsafe { (s.reserve)(arg(0) as usize) };
                    0
                }
                Opcode::VecInit(d) => {
                    let n = arg(1) as usize;
                    unsafe { executor::vec_init(&tables.arrays[*d], arg(0) as usize, n) };
                    0
                }
                Opcode::VecDrop(d) => {
                    unsafe { executor::vec_drop(&tables.arrays[*d], arg(0) as usize) };
                    0
                }
                Opcode::VecTake(d) => {
                    let (dst, src) = (arg(0) as usize, arg(1) as usize);
                    unsafe { executor::vec_take(&tables.arrays[*d], dst, src) };
                    0
                }
                Opcode::ItemAddr(d) => {
                    let d = &tables.arrays[*d];
                    executor::item_addr(d, arg(0) as usize, arg(1) as i64) as u64
                }
                Opcode::GetItem(d) => {
                    let d = &tables.arrays[*d];
                    let ty = item_ty(d.item);
                    unsafe {
                        executor::load(ty, executor::item_addr(d, arg(0) as usize, arg(1) as i64))
                    }
                }
                Opcode::StringPtr => unsafe {
                    (&*(arg(0) as usize as *const String)).as_ptr() as u64
                },
                Opcode::StringLen => unsafe { (&*(arg(0) as usize as *const String)).len() as u64 },
                Opcode::CallResidual(d) => {
                    let d = &tables.calls[*d];
                    call_args.clear();
                    call_args.extend(op.args.iter().map(|a| vals.get(*a)));
                    call_results.clear();
                    call_results.resize(d.result_kinds.len(), 0);
                    unsafe { (d.shim)(&call_args, &mut call_results) };
                    0
                }
                Opcode::CallPure(j) => {
                    call_args.clear();
                    call_args.extend(op.args.iter().map(|a| vals.get(*a)));
                    call_results = blackhole::call(tables, j.0, &call_args);
                    0
                }
                Opcode::CallAssembler(driver) => {
                    call_args.clear();
                    call_args.extend(op.args.iter().map(|a| vals.get(*a)));
                    call_results =
                        crate::portal_calls::at_merge_point(tables, *driver as u16, &call_args);
                    0
                }
                Opcode::CallResult(n, _) => call_results.get(*n as usize).copied().unwrap_or(0),
                Opcode::GuardTrue
                | Opcode::GuardFalse
                | Opcode::GuardValue
                | Opcode::GuardNotInvalidated => {
                    let ok = match op.opcode {
                        Opcode::GuardTrue => arg(0) != 0,
                        Opcode::GuardFalse => arg(0) == 0,
                        Opcode::GuardNotInvalidated => {
                            !crate::quasiimmut::is_invalid(arg(0) as usize)
                        }
                        _ => arg(0) == arg(1),
                    };
                    if !ok {
                        let g = op.guard.expect("a guard has resume data");
                        let info = &trace.guards[g as usize];
                        return TraceExit {
                            guard: g,
                            values: info.fail_args.iter().map(|a| vals.get(*a)).collect(),
                        };
                    }
                    0
                }
                Opcode::DebugMergePoint(..) => 0,
                Opcode::Label => panic!(
                    "trace::interp::run: a label (loop peeling's internal marker) cannot run"
                ),
                Opcode::Jump => {
                    // (element by element: for a handful of inputs this
                    // beats memmove calls)
                    for (k, a) in op.args.iter().enumerate() {
                        next_inputs[k] = vals.get(*a);
                    }
                    for (k, v) in next_inputs.iter().enumerate() {
                        vals.v[k] = *v;
                    }
                    break;
                }
                Opcode::JumpTo(_) | Opcode::Finish => {
                    let guard = match op.opcode {
                        Opcode::Finish => TraceExit::FINISH,
                        _ => TraceExit::JUMP_TO,
                    };
                    return TraceExit {
                        guard,
                        values: op.args.iter().map(|a| vals.get(*a)).collect(),
                    };
                }
            };
            vals.v[n_inputs + i] = result;
        }
        if !matches!(trace.ops.last().map(|o| &o.opcode), Some(Opcode::Jump)) {
            panic!("trace::interp::run: the trace does not end with jump, jump_to or finish");
        }
    }
}

fn item_ty(t: Option<ScalarTy>) -> ScalarTy {
    t.expect("getitem/setitem of scalar items")
}

/// A write operation of a trace (`setfield`, `setitem`, `store`,
/// `vec_set_len`) on the values `args`: the trace interpreter's, and a
/// guard's delayed writes when it fails (`GuardInfo::pending`). Returns
/// false for any other opcode (nothing is done).
///
/// # Safety
/// The arguments are valid for the operation, as in a verified trace
/// (the base is an object of the field's type, and so on).
pub unsafe fn write(tables: &Tables, opcode: &Opcode, args: &[u64]) -> bool {
    use executor::{field_addr, item_addr, slot_shims, store};
    match *opcode {
        Opcode::SetField(d) => {
            let d = &tables.fields[d];
            let ty = d.ty.expect("setfield of a scalar field");
            store(ty, field_addr(d, args[0] as usize), args[1]);
        }
        Opcode::Store(ty) => store(ty, args[0] as usize, args[1]),
        Opcode::SetItem(d) => {
            let d = &tables.arrays[d];
            let ty = d.item.expect("setitem of scalar items");
            store(ty, item_addr(d, args[0] as usize, args[1] as i64), args[2]);
        }
        Opcode::VecSetLen(d) => {
            (slot_shims(&tables.arrays[d]).set_len)(args[0] as usize, args[1] as usize)
        }
        _ => return false,
    }
    true
}
