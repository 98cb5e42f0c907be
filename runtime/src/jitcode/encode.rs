//! The byte encoding of jitcodes: one opcode byte per instruction, then its
//! operands in table order (registers and descrs as u16, labels as u32,
//! static operands as their token bytes, lists as a u16 count then items;
//! all little endian). Both directions walk the instruction table
//! (`insns.rs`), so they cannot disagree.

use super::insns::OperandMut;
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

fn put_u16(w: &mut Vec<u8>, v: u16) {
    w.extend_from_slice(&v.to_le_bytes());
}

fn put_u32(w: &mut Vec<u8>, v: u32) {
    w.extend_from_slice(&v.to_le_bytes());
}

/// Encode a list of instructions.
pub fn encode(insns: &[Insn]) -> Vec<u8> {
    let mut w = Vec::new();
    for insn in insns {
        w.push(insn.opcode());
        insn.operands(&mut |op| match op {
            Operand::Static(s) => s.encode(&mut w),
            Operand::Reg(r, ..) => put_u16(&mut w, *r),
            Operand::Descr(d, _) => put_u16(&mut w, d.raw()),
            Operand::Regs(rs, ..) => {
                put_u16(&mut w, rs.len() as u16);
                for r in rs {
                    r.kind.encode(&mut w);
                    put_u16(&mut w, r.reg);
                }
            }
            Operand::Label(l, _) => put_u32(&mut w, *l),
            Operand::Cases(cs) => {
                put_u16(&mut w, cs.len() as u16);
                for (v, l) in cs {
                    w.extend_from_slice(&v.to_le_bytes());
                    put_u32(&mut w, *l);
                }
            }
        });
    }
    w
}

/// A cursor over encoded bytes; errors name the offset of the byte that
/// is wrong.
struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn err(&self, m: &str) -> DecodeError {
        DecodeError {
            offset: self.pos,
            message: m.to_owned(),
        }
    }
    fn take<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let bytes = self
            .b
            .get(self.pos..self.pos + N)
            .ok_or_else(|| self.err("truncated instruction"))?;
        self.pos += N;
        Ok(bytes.try_into().unwrap())
    }
    fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.take()?))
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.take()?))
    }
    fn i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_le_bytes(self.take()?))
    }
    fn token(&mut self, s: &mut dyn StaticOperand) -> Result<(), DecodeError> {
        let n = s.decode(&self.b[self.pos..]).map_err(|m| self.err(m))?;
        self.pos += n;
        Ok(())
    }
    fn operand(&mut self, op: OperandMut<'_>) -> Result<(), DecodeError> {
        match op {
            OperandMut::Static(s) => self.token(s)?,
            OperandMut::Reg(r, ..) => *r = self.u16()?,
            OperandMut::Descr(d, _) => d.set_raw(self.u16()?),
            OperandMut::Regs(rs, ..) => {
                let n = self.u16()?;
                for _ in 0..n {
                    let mut kind = Kind::Int;
                    self.token(&mut kind)?;
                    rs.push(KReg {
                        kind,
                        reg: self.u16()?,
                    });
                }
            }
            OperandMut::Label(l, _) => *l = self.u32()?,
            OperandMut::Cases(cs) => {
                let n = self.u16()?;
                for _ in 0..n {
                    cs.push((self.i64()?, self.u32()?));
                }
            }
        }
        Ok(())
    }
}

/// Decode an encoded jitcode.
pub fn decode(bytes: &[u8]) -> Result<Vec<Insn>, DecodeError> {
    let mut r = Reader { b: bytes, pos: 0 };
    let mut out = Vec::new();
    while r.pos < bytes.len() {
        let code = bytes[r.pos];
        let mut insn = Insn::blank(code).ok_or_else(|| r.err(&format!("unknown opcode {code}")))?;
        r.pos += 1;
        let mut result = Ok(());
        insn.operands_mut(&mut |op| {
            if result.is_ok() {
                result = r.operand(op);
            }
        });
        result?;
        out.push(insn);
    }
    Ok(out)
}
