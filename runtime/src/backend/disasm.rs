//! Machine code listings (Intel syntax) for the JIT log, via iced-x86.

use iced_x86::{Decoder, DecoderOptions, Formatter, Instruction, IntelFormatter};
use std::fmt;

/// A point of interest in a trace's machine code, for the listing. Kept
/// as data, not text: the backend marks every operation of every trace,
/// and the text is only wanted when the `jit-backend` log is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    /// A named place (`entry`, `loop`, `constants`, ...).
    Text(&'static str),
    /// The code of the trace's operation `i`.
    Op(u32),
    /// The exit stub of guard `guard` (global id `gid`).
    Stub { guard: u32, gid: u32 },
}

impl fmt::Display for Mark {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Mark::Text(t) => f.write_str(t),
            Mark::Op(i) => write!(f, "op {i}"),
            Mark::Stub { guard, gid } => write!(f, "stub of guard #{guard} (id {gid})"),
        }
    }
}

/// Disassemble `code` loaded at `addr`; `marks` (offset, mark) are printed
/// as comments before the instruction at that offset.
pub fn listing(code: &[u8], addr: u64, marks: &[(usize, Mark)]) -> String {
    let mut out = String::new();
    let mut decoder = Decoder::with_ip(64, code, addr, DecoderOptions::NONE);
    let mut formatter = IntelFormatter::new();
    formatter.options_mut().set_first_operand_char_index(8);
    let mut text = String::new();
    let mut insn = Instruction::default();
    let mut m = 0;
    // the constant pool is data: stop decoding there
    let pool_at = marks
        .iter()
        .find(|(_, m)| *m == Mark::Text("constants"))
        .map(|(o, _)| *o)
        .unwrap_or(code.len());
    while decoder.can_decode() {
        let off = (decoder.ip() - addr) as usize;
        if off >= pool_at {
            break;
        }
        while m < marks.len() && marks[m].0 <= off {
            if marks[m].0 == off || !matches!(marks[m].1, Mark::Op(_)) {
                out.push_str(&format!("  ; {}\n", marks[m].1));
            }
            m += 1;
        }
        decoder.decode_out(&mut insn);
        text.clear();
        formatter.format(&insn, &mut text);
        let bytes: String = code[off..off + insn.len()]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        out.push_str(&format!("  {:06x}  {:<24} {}\n", off, bytes, text));
    }
    if pool_at < code.len() {
        out.push_str("  ; constants\n");
        let mut off = pool_at;
        while off + 8 <= code.len() {
            let v = u64::from_le_bytes(code[off..off + 8].try_into().expect("8 bytes"));
            out.push_str(&format!(
                "  {:06x}  .u64 {:#018x} ({:?})\n",
                off,
                v,
                f64::from_bits(v)
            ));
            off += 8;
        }
    }
    out
}
