//! The byte encoding of jitcodes: one opcode byte per instruction, then its
//! operands in declaration order (registers and descrs as u16, labels as
//! u32, types as one byte, lists as a u16 count then items; all little
//! endian). `encode` and `decode` are the one instruction table every
//! producer and executor shares.

use super::*;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad jitcode at byte {}: {}", self.offset, self.message)
    }
}

struct W(Vec<u8>);

impl W {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn kind(&mut self, k: Kind) {
        self.u8(k as u8);
    }
    fn int_ty(&mut self, t: IntTy) {
        self.u8(IntTy::ALL.iter().position(|x| *x == t).unwrap() as u8);
    }
    fn scalar(&mut self, t: ScalarTy) {
        match t {
            ScalarTy::Int(i) => {
                self.u8(0);
                self.int_ty(i)
            }
            ScalarTy::Bool => self.u8(1),
            ScalarTy::Char => self.u8(2),
            ScalarTy::F64 => self.u8(3),
            ScalarTy::Ref => self.u8(4),
        }
    }
    fn regs(&mut self, rs: &[KReg]) {
        self.u16(rs.len() as u16);
        for r in rs {
            self.kind(r.kind);
            self.u16(r.reg);
        }
    }
}

struct R<'a> {
    b: &'a [u8],
    pos: usize,
}

impl R<'_> {
    fn err(&self, m: &str) -> DecodeError {
        DecodeError {
            offset: self.pos,
            message: m.to_owned(),
        }
    }
    fn take(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        if self.pos + n > self.b.len() {
            return Err(self.err("truncated instruction"));
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().unwrap()))
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
    fn kind(&mut self) -> Result<Kind, DecodeError> {
        match self.u8()? {
            0 => Ok(Kind::Int),
            1 => Ok(Kind::Ref),
            2 => Ok(Kind::Float),
            _ => Err(self.err("bad register kind")),
        }
    }
    fn int_ty(&mut self) -> Result<IntTy, DecodeError> {
        let i = self.u8()? as usize;
        IntTy::ALL
            .get(i)
            .copied()
            .ok_or_else(|| self.err("bad int type"))
    }
    fn scalar(&mut self) -> Result<ScalarTy, DecodeError> {
        Ok(match self.u8()? {
            0 => ScalarTy::Int(self.int_ty()?),
            1 => ScalarTy::Bool,
            2 => ScalarTy::Char,
            3 => ScalarTy::F64,
            4 => ScalarTy::Ref,
            _ => return Err(self.err("bad scalar type")),
        })
    }
    fn regs(&mut self) -> Result<Vec<KReg>, DecodeError> {
        let n = self.u16()?;
        (0..n)
            .map(|_| {
                Ok(KReg {
                    kind: self.kind()?,
                    reg: self.u16()?,
                })
            })
            .collect()
    }
}

fn int_bin_code(op: IntBinOp) -> u8 {
    op as u8
}

fn int_bin(v: u8) -> Option<IntBinOp> {
    use IntBinOp::*;
    [Add, Sub, Mul, Div, Rem, And, Or, Xor, Shl, Shr]
        .get(v as usize)
        .copied()
}

fn cmp(v: u8) -> Option<CmpOp> {
    use CmpOp::*;
    [Eq, Ne, Lt, Le, Gt, Ge].get(v as usize).copied()
}

fn float_bin(v: u8) -> Option<FloatBinOp> {
    use FloatBinOp::*;
    [Add, Sub, Mul, Div, Rem].get(v as usize).copied()
}

fn flavor(v: u8) -> Option<CallFlavor> {
    use CallFlavor::*;
    [Regular, Elidable, LoopInvariant].get(v as usize).copied()
}

fn panic_kind(v: u8) -> Option<PanicKind> {
    use PanicKind::*;
    [BoundsCheck, DivideByZero, DivideOverflow, Unwrap, Explicit]
        .get(v as usize)
        .copied()
}

/// Encode a list of instructions.
pub fn encode(insns: &[Insn]) -> Vec<u8> {
    let mut w = W(Vec::new());
    for insn in insns {
        match insn {
            Insn::Copy { kind, src, dst } => {
                w.u8(0);
                w.kind(*kind);
                w.u16(*src);
                w.u16(*dst);
            }
            Insn::IntBin { op, ty, a, b, dst } => {
                w.u8(1);
                w.u8(int_bin_code(*op));
                w.int_ty(*ty);
                w.u16(*a);
                w.u16(*b);
                w.u16(*dst);
            }
            Insn::IntNeg { ty, a, dst } => {
                w.u8(2);
                w.int_ty(*ty);
                w.u16(*a);
                w.u16(*dst);
            }
            Insn::IntNot { ty, a, dst } => {
                w.u8(3);
                w.int_ty(*ty);
                w.u16(*a);
                w.u16(*dst);
            }
            Insn::IntCmp { op, ty, a, b, dst } => {
                w.u8(4);
                w.u8(*op as u8);
                w.int_ty(*ty);
                w.u16(*a);
                w.u16(*b);
                w.u16(*dst);
            }
            Insn::FloatBin { op, a, b, dst } => {
                w.u8(5);
                w.u8(*op as u8);
                w.u16(*a);
                w.u16(*b);
                w.u16(*dst);
            }
            Insn::FloatNeg { a, dst } => {
                w.u8(6);
                w.u16(*a);
                w.u16(*dst);
            }
            Insn::FloatCmp { op, a, b, dst } => {
                w.u8(7);
                w.u8(*op as u8);
                w.u16(*a);
                w.u16(*b);
                w.u16(*dst);
            }
            Insn::Cast { from, to, src, dst } => {
                w.u8(8);
                w.scalar(*from);
                w.scalar(*to);
                w.u16(*src);
                w.u16(*dst);
            }
            Insn::GetField { descr, base, dst } => w3(&mut w, 9, *descr, *base, *dst),
            Insn::SetField { descr, base, value } => w3(&mut w, 10, *descr, *base, *value),
            Insn::FieldAddr { descr, base, dst } => w3(&mut w, 11, *descr, *base, *dst),
            Insn::Load { ty, addr, dst } => {
                w.u8(12);
                w.scalar(*ty);
                w.u16(*addr);
                w.u16(*dst);
            }
            Insn::Store { ty, addr, value } => {
                w.u8(13);
                w.scalar(*ty);
                w.u16(*addr);
                w.u16(*value);
            }
            Insn::EnumTag { descr, addr, dst } => w3(&mut w, 14, *descr, *addr, *dst),
            Insn::VecLen { descr, vec, dst } => w3(&mut w, 15, *descr, *vec, *dst),
            Insn::VecItemAddr {
                descr,
                vec,
                idx,
                dst,
            } => w4(&mut w, 16, *descr, *vec, *idx, *dst),
            Insn::VecGetItem {
                descr,
                vec,
                idx,
                dst,
            } => w4(&mut w, 17, *descr, *vec, *idx, *dst),
            Insn::VecSetItem {
                descr,
                vec,
                idx,
                value,
            } => w4(&mut w, 18, *descr, *vec, *idx, *value),
            Insn::VecPush { descr, vec, value } => w3(&mut w, 19, *descr, *vec, *value),
            Insn::VecPop {
                descr,
                vec,
                tag,
                value,
            } => w4(&mut w, 20, *descr, *vec, *tag, *value),
            Insn::VecAsSlice {
                descr,
                vec,
                ptr,
                len,
            } => w4(&mut w, 21, *descr, *vec, *ptr, *len),
            Insn::SliceItemAddr {
                descr,
                ptr,
                idx,
                dst,
            } => w4(&mut w, 22, *descr, *ptr, *idx, *dst),
            Insn::SliceGetItem {
                descr,
                ptr,
                idx,
                dst,
            } => w4(&mut w, 23, *descr, *ptr, *idx, *dst),
            Insn::SliceSetItem {
                descr,
                ptr,
                idx,
                value,
            } => w4(&mut w, 24, *descr, *ptr, *idx, *value),
            Insn::StringAsStr { string, ptr, len } => {
                w.u8(25);
                w.u16(*string);
                w.u16(*ptr);
                w.u16(*len);
            }
            Insn::Call {
                flavor,
                jitcode,
                args,
                results,
            } => {
                w.u8(26);
                w.u8(*flavor as u8);
                w.u16(*jitcode);
                w.regs(args);
                w.regs(results);
            }
            Insn::ResidualCall {
                descr,
                args,
                results,
            } => {
                w.u8(27);
                w.u16(*descr);
                w.regs(args);
                w.regs(results);
            }
            Insn::Promote { kind, src, dst } => {
                w.u8(28);
                w.kind(*kind);
                w.u16(*src);
                w.u16(*dst);
            }
            Insn::WeAreJitted { dst } => {
                w.u8(29);
                w.u16(*dst);
            }
            Insn::MergePoint { driver, args } => {
                w.u8(30);
                w.u16(*driver);
                w.regs(args);
            }
            Insn::CanEnterJit { driver, args } => {
                w.u8(31);
                w.u16(*driver);
                w.regs(args);
            }
            Insn::Live { regs } => {
                w.u8(32);
                w.regs(regs);
            }
            Insn::Goto { target } => {
                w.u8(33);
                w.u32(*target);
            }
            Insn::GotoIfNot { cond, target } => {
                w.u8(34);
                w.u16(*cond);
                w.u32(*target);
            }
            Insn::Switch {
                value,
                cases,
                default,
            } => {
                w.u8(35);
                w.u16(*value);
                w.u16(cases.len() as u16);
                for (v, l) in cases {
                    w.i64(*v);
                    w.u32(*l);
                }
                w.u32(*default);
            }
            Insn::Return { values } => {
                w.u8(36);
                w.regs(values);
            }
            Insn::New { descr, dst } => {
                w.u8(38);
                w.u16(*descr);
                w.u16(*dst);
            }
            Insn::Free { descr, ptr } => {
                w.u8(39);
                w.u16(*descr);
                w.u16(*ptr);
            }
            Insn::Panic { kind, message } => {
                w.u8(37);
                w.u8(*kind as u8);
                w.u16(*message);
            }
        }
    }
    w.0
}

fn w3(w: &mut W, op: u8, a: u16, b: u16, c: u16) {
    w.u8(op);
    w.u16(a);
    w.u16(b);
    w.u16(c);
}

fn w4(w: &mut W, op: u8, a: u16, b: u16, c: u16, d: u16) {
    w.u8(op);
    w.u16(a);
    w.u16(b);
    w.u16(c);
    w.u16(d);
}

/// Decode an encoded jitcode.
pub fn decode(bytes: &[u8]) -> Result<Vec<Insn>, DecodeError> {
    let mut r = R { b: bytes, pos: 0 };
    let mut out = Vec::new();
    while r.pos < bytes.len() {
        let at = r.pos;
        let op = r.u8()?;
        let bad = |what: &str| DecodeError {
            offset: at,
            message: what.to_owned(),
        };
        let insn = match op {
            0 => Insn::Copy {
                kind: r.kind()?,
                src: r.u16()?,
                dst: r.u16()?,
            },
            1 => Insn::IntBin {
                op: int_bin(r.u8()?).ok_or_else(|| bad("bad int op"))?,
                ty: r.int_ty()?,
                a: r.u16()?,
                b: r.u16()?,
                dst: r.u16()?,
            },
            2 => Insn::IntNeg {
                ty: r.int_ty()?,
                a: r.u16()?,
                dst: r.u16()?,
            },
            3 => Insn::IntNot {
                ty: r.int_ty()?,
                a: r.u16()?,
                dst: r.u16()?,
            },
            4 => Insn::IntCmp {
                op: cmp(r.u8()?).ok_or_else(|| bad("bad comparison"))?,
                ty: r.int_ty()?,
                a: r.u16()?,
                b: r.u16()?,
                dst: r.u16()?,
            },
            5 => Insn::FloatBin {
                op: float_bin(r.u8()?).ok_or_else(|| bad("bad float op"))?,
                a: r.u16()?,
                b: r.u16()?,
                dst: r.u16()?,
            },
            6 => Insn::FloatNeg {
                a: r.u16()?,
                dst: r.u16()?,
            },
            7 => Insn::FloatCmp {
                op: cmp(r.u8()?).ok_or_else(|| bad("bad comparison"))?,
                a: r.u16()?,
                b: r.u16()?,
                dst: r.u16()?,
            },
            8 => Insn::Cast {
                from: r.scalar()?,
                to: r.scalar()?,
                src: r.u16()?,
                dst: r.u16()?,
            },
            9 => Insn::GetField {
                descr: r.u16()?,
                base: r.u16()?,
                dst: r.u16()?,
            },
            10 => Insn::SetField {
                descr: r.u16()?,
                base: r.u16()?,
                value: r.u16()?,
            },
            11 => Insn::FieldAddr {
                descr: r.u16()?,
                base: r.u16()?,
                dst: r.u16()?,
            },
            12 => Insn::Load {
                ty: r.scalar()?,
                addr: r.u16()?,
                dst: r.u16()?,
            },
            13 => Insn::Store {
                ty: r.scalar()?,
                addr: r.u16()?,
                value: r.u16()?,
            },
            14 => Insn::EnumTag {
                descr: r.u16()?,
                addr: r.u16()?,
                dst: r.u16()?,
            },
            15 => Insn::VecLen {
                descr: r.u16()?,
                vec: r.u16()?,
                dst: r.u16()?,
            },
            16 => Insn::VecItemAddr {
                descr: r.u16()?,
                vec: r.u16()?,
                idx: r.u16()?,
                dst: r.u16()?,
            },
            17 => Insn::VecGetItem {
                descr: r.u16()?,
                vec: r.u16()?,
                idx: r.u16()?,
                dst: r.u16()?,
            },
            18 => Insn::VecSetItem {
                descr: r.u16()?,
                vec: r.u16()?,
                idx: r.u16()?,
                value: r.u16()?,
            },
            19 => Insn::VecPush {
                descr: r.u16()?,
                vec: r.u16()?,
                value: r.u16()?,
            },
            20 => Insn::VecPop {
                descr: r.u16()?,
                vec: r.u16()?,
                tag: r.u16()?,
                value: r.u16()?,
            },
            21 => Insn::VecAsSlice {
                descr: r.u16()?,
                vec: r.u16()?,
                ptr: r.u16()?,
                len: r.u16()?,
            },
            22 => Insn::SliceItemAddr {
                descr: r.u16()?,
                ptr: r.u16()?,
                idx: r.u16()?,
                dst: r.u16()?,
            },
            23 => Insn::SliceGetItem {
                descr: r.u16()?,
                ptr: r.u16()?,
                idx: r.u16()?,
                dst: r.u16()?,
            },
            24 => Insn::SliceSetItem {
                descr: r.u16()?,
                ptr: r.u16()?,
                idx: r.u16()?,
                value: r.u16()?,
            },
            25 => Insn::StringAsStr {
                string: r.u16()?,
                ptr: r.u16()?,
                len: r.u16()?,
            },
            26 => Insn::Call {
                flavor: flavor(r.u8()?).ok_or_else(|| bad("bad call flavor"))?,
                jitcode: r.u16()?,
                args: r.regs()?,
                results: r.regs()?,
            },
            27 => Insn::ResidualCall {
                descr: r.u16()?,
                args: r.regs()?,
                results: r.regs()?,
            },
            28 => Insn::Promote {
                kind: r.kind()?,
                src: r.u16()?,
                dst: r.u16()?,
            },
            29 => Insn::WeAreJitted { dst: r.u16()? },
            30 => Insn::MergePoint {
                driver: r.u16()?,
                args: r.regs()?,
            },
            31 => Insn::CanEnterJit {
                driver: r.u16()?,
                args: r.regs()?,
            },
            32 => Insn::Live { regs: r.regs()? },
            33 => Insn::Goto { target: r.u32()? },
            34 => Insn::GotoIfNot {
                cond: r.u16()?,
                target: r.u32()?,
            },
            35 => {
                let value = r.u16()?;
                let n = r.u16()?;
                let mut cases = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    cases.push((r.i64()?, r.u32()?));
                }
                Insn::Switch {
                    value,
                    cases,
                    default: r.u32()?,
                }
            }
            36 => Insn::Return { values: r.regs()? },
            37 => Insn::Panic {
                kind: panic_kind(r.u8()?).ok_or_else(|| bad("bad panic kind"))?,
                message: r.u16()?,
            },
            38 => Insn::New {
                descr: r.u16()?,
                dst: r.u16()?,
            },
            39 => Insn::Free {
                descr: r.u16()?,
                ptr: r.u16()?,
            },
            other => return Err(bad(&format!("unknown opcode {other}"))),
        };
        out.push(insn);
    }
    Ok(out)
}
