//! Compiles Brainfuck source to `interp::Program`: folds runs, recognizes
//! `[-]`, matches brackets. Characters other than `+-<>.,[]` are comments.

use crate::interp::{Op, Program};

/// A bracket without a partner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BracketError {
    /// `'['` or `']'`.
    pub bracket: char,
    /// Byte offset in the source.
    pub offset: usize,
    /// How many other unmatched `[` there are (for `[` only).
    pub others: usize,
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(src: &[u8], offset: usize) -> (usize, usize) {
    let before = &src[..offset.min(src.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    // Count characters, not bytes: skip UTF-8 continuation bytes.
    let col = before[line_start..]
        .iter()
        .filter(|&&b| (b & 0xC0) != 0x80)
        .count()
        + 1;
    (line, col)
}

/// Compiles `src`. Runs of `+`/`-` and runs of one of `<`, `>` are folded
/// only when their characters are adjacent, so that an op's source position
/// plus a count gives the exact character.
pub fn compile(src: &[u8]) -> Result<Program, BracketError> {
    let mut ops: Vec<Op> = Vec::new();
    let mut offsets: Vec<usize> = Vec::new();
    let mut open: Vec<usize> = Vec::new(); // indices in ops of unmatched `[`
    let mut i = 0;
    while i < src.len() {
        let start = i;
        match src[i] {
            b'+' | b'-' => {
                let mut n: u8 = 0;
                while i < src.len() && (src[i] == b'+' || src[i] == b'-') {
                    n = if src[i] == b'+' {
                        n.wrapping_add(1)
                    } else {
                        n.wrapping_sub(1)
                    };
                    i += 1;
                }
                if n != 0 {
                    ops.push(Op::Add(n));
                    offsets.push(start);
                }
                continue;
            }
            c @ (b'<' | b'>') => {
                while i < src.len() && src[i] == c {
                    i += 1;
                }
                let n = i - start;
                ops.push(if c == b'>' { Op::Right(n) } else { Op::Left(n) });
                offsets.push(start);
                continue;
            }
            b'.' => ops.push(Op::Output),
            b',' => ops.push(Op::Input),
            b'[' => {
                open.push(ops.len());
                ops.push(Op::Open(0)); // patched at the matching `]`
            }
            b']' => {
                let Some(o) = open.pop() else {
                    return Err(BracketError {
                        bracket: ']',
                        offset: i,
                        others: 0,
                    });
                };
                let body = &ops[o + 1..];
                if let [Op::Add(n)] = body {
                    if n % 2 == 1 {
                        // An odd step reaches 0 from any value: the loop
                        // always ends with the cell cleared.
                        let open_offset = offsets[o];
                        ops.truncate(o);
                        offsets.truncate(o);
                        ops.push(Op::Clear);
                        offsets.push(open_offset);
                        i += 1;
                        continue;
                    }
                }
                let close = ops.len();
                ops[o] = Op::Open(close + 1);
                ops.push(Op::Close(o + 1));
            }
            _ => {
                i += 1;
                continue;
            }
        }
        offsets.push(start);
        i += 1;
    }
    if let Some(&first) = open.first() {
        return Err(BracketError {
            bracket: '[',
            offset: offsets[first],
            others: open.len() - 1,
        });
    }
    Ok(Program { ops, offsets })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_runs_and_matches_brackets() {
        let p = compile(b"++-x>>> <<[.,]").unwrap();
        assert_eq!(
            p.ops,
            [
                Op::Add(1),
                Op::Right(3),
                Op::Left(2),
                Op::Open(7),
                Op::Output,
                Op::Input,
                Op::Close(4)
            ]
        );
        assert_eq!(p.offsets, [0, 4, 8, 10, 11, 12, 13]);
    }

    #[test]
    fn clear_loops() {
        let p = compile(b">[-]<[+++]+[--]").unwrap();
        assert_eq!(
            p.ops,
            [
                Op::Right(1),
                Op::Clear,
                Op::Left(1),
                Op::Clear,
                Op::Add(1),
                Op::Open(8),
                Op::Add(254),
                Op::Close(6)
            ]
        );
        assert_eq!(p.offsets[1], 1);
        assert_eq!(p.offsets[3], 5);
        // a comment inside still leaves one Add op
        assert_eq!(compile(b"[ - ]").unwrap().ops, [Op::Clear]);
    }

    #[test]
    fn unbalanced() {
        let e = compile(b"+[\n[]]\n ]").err().unwrap();
        assert_eq!((e.bracket, e.offset), (']', 8));
        let e = compile(b"[[]\n[").err().unwrap();
        assert_eq!((e.bracket, e.offset, e.others), ('[', 0, 1));
    }

    #[test]
    fn positions() {
        let src = "ab\nc\u{e9}d[".as_bytes();
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 3), (2, 1));
        assert_eq!(line_col(src, src.len() - 1), (2, 4));
    }
}
