//! The tracer's interpreter frames: every register holds its concrete
//! value (what the native code would have) and its trace value (an input,
//! an operation's result, or a constant).

use crate::blackhole::ResumeFrame;
use crate::blackhole::{Code, Program};
use crate::jitcode::{KReg, Kind};
use crate::trace::Val;

/// A register's content: the concrete value (canonical register bits) and
/// the trace value it stands for. Constants have `val` equal to `bits`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Value {
    pub bits: u64,
    pub val: Val,
}

impl Value {
    pub fn constant(kind: Kind, bits: u64) -> Value {
        Value {
            bits,
            val: Val::constant(kind, bits),
        }
    }

    pub fn is_const(self) -> bool {
        self.val.is_const()
    }
}

/// One jitcode activation.
#[derive(Clone, Debug)]
pub(crate) struct Frame {
    pub jitcode: u16,
    pub code: &'static Code,
    /// The instruction to execute next; in a caller frame, its `Call`.
    pub pc: u32,
    /// Per kind: the registers, then the constants (preloaded).
    regs: [Vec<Value>; 3],
}

impl Frame {
    /// The concrete values of the ref registers (and ref constants).
    pub fn ref_bits(&self) -> impl Iterator<Item = u64> + '_ {
        self.regs[Kind::Ref.index()].iter().map(|v| v.bits)
    }

    /// A frame for jitcode `jitcode` at `pc`: registers zero (constant 0),
    /// constants loaded.
    pub fn new(prog: &'static Program, jitcode: u16, pc: u32) -> Frame {
        let code = &prog.codes[jitcode as usize];
        let n = code.jitcode.num_regs;
        let file = |kind: Kind, consts: &mut dyn Iterator<Item = u64>| -> Vec<Value> {
            let mut v = vec![Value::constant(kind, 0); n[kind.index()] as usize];
            v.extend(consts.map(|c| Value::constant(kind, c)));
            v
        };
        let regs = [
            file(Kind::Int, &mut code.consts_i.iter().map(|&c| c as u64)),
            file(Kind::Ref, &mut code.consts_r.iter().map(|&c| c as u64)),
            file(Kind::Float, &mut code.consts_f.iter().copied()),
        ];
        Frame {
            jitcode,
            code,
            pc,
            regs,
        }
    }

    #[inline]
    pub fn get(&self, kind: Kind, reg: u16) -> Value {
        self.regs[kind.index()][reg as usize]
    }

    #[inline]
    pub fn getk(&self, r: KReg) -> Value {
        self.get(r.kind, r.reg)
    }

    #[inline]
    pub fn set(&mut self, kind: Kind, reg: u16, v: Value) {
        debug_assert!(
            reg < self.code.jitcode.num_regs[kind.index()],
            "a jitcode never writes a constant"
        );
        self.regs[kind.index()][reg as usize] = v;
    }

    #[inline]
    pub fn setk(&mut self, r: KReg, v: Value) {
        self.set(r.kind, r.reg, v)
    }

    /// Replace the trace value `old` by `new` in every register (after a
    /// guard proved them equal).
    pub fn replace(&mut self, old: Val, new: Val) {
        for file in &mut self.regs {
            for v in file.iter_mut() {
                if v.val == old {
                    v.val = new;
                }
            }
        }
    }

    /// The frame's concrete state, for the blackhole: every register (not
    /// the constants) with its value.
    pub fn to_resume(&self) -> ResumeFrame {
        let n = self.code.jitcode.num_regs;
        let mut regs = Vec::new();
        for kind in Kind::ALL {
            for reg in 0..n[kind.index()] {
                regs.push((KReg { kind, reg }, self.get(kind, reg).bits));
            }
        }
        ResumeFrame {
            jitcode: self.jitcode,
            pc: self.pc,
            regs,
        }
    }
}
