//! bf2c: an optimizing Brainfuck-to-C translator, "the limit" baseline.
//!
//! Runs of `+`/`-` and of `<`/`>` are folded into one addition or one
//! pointer move, and `[-]` (a loop whose body is a single odd addition)
//! becomes `*p = 0`. The C that comes out is compiled with `cc -O2`, which
//! does the rest. The semantics are those of the bf VM for programs that
//! stay on the tape: 8-bit wrapping cells, `,` at end of input leaves the
//! cell unchanged. There are no bounds checks: the tape is a 16 MiB static
//! array and the pointer starts at its first cell.

/// One folded instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// Add to the current cell (wrapping); never 0.
    Add(u8),
    /// Move the pointer; never 0.
    Move(isize),
    /// Set the current cell to 0.
    Zero,
    Output,
    Input,
    Open,
    Close,
}

/// Translates Brainfuck source to a C program. `name` goes into the header
/// comment. Fails on unbalanced brackets.
pub fn translate(source: &[u8], name: &str) -> Result<String, String> {
    Ok(emit(&parse(source)?, name))
}

fn parse(source: &[u8]) -> Result<Vec<Op>, String> {
    let mut ops: Vec<Op> = Vec::new();
    let mut depth = 0usize;
    for &byte in source {
        match byte {
            b'+' => fold(&mut ops, Op::Add(1)),
            b'-' => fold(&mut ops, Op::Add(255)),
            b'>' => fold(&mut ops, Op::Move(1)),
            b'<' => fold(&mut ops, Op::Move(-1)),
            b'.' => ops.push(Op::Output),
            b',' => ops.push(Op::Input),
            b'[' => {
                depth += 1;
                ops.push(Op::Open);
            }
            b']' => {
                if depth == 0 {
                    return Err("unmatched ']'".to_string());
                }
                depth -= 1;
                ops.push(Op::Close);
                if let [.., Op::Open, Op::Add(n), Op::Close] = ops[..] {
                    if n % 2 == 1 {
                        ops.truncate(ops.len() - 3);
                        ops.push(Op::Zero);
                    }
                }
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(format!("{depth} unmatched '['"));
    }
    Ok(ops)
}

/// Pushes `Add` or `Move` `op`, folded into the last op if that is of the
/// same kind; a fold that comes to 0 removes it.
fn fold(ops: &mut Vec<Op>, op: Op) {
    match (ops.last_mut(), op) {
        (Some(Op::Add(m)), Op::Add(n)) => *m = m.wrapping_add(n),
        (Some(Op::Move(m)), Op::Move(n)) => *m += n,
        _ => return ops.push(op),
    }
    if let Some(Op::Add(0) | Op::Move(0)) = ops.last() {
        ops.pop();
    }
}

fn emit(ops: &[Op], name: &str) -> String {
    let mut c = format!(
        "/* {name}, translated to C by benches/vms/bf2c.rs */\n\
         #include <stdio.h>\n\
         \n\
         static unsigned char tape[1 << 24];\n\
         \n\
         int main(void) {{\n\
         \x20   unsigned char *p = tape;\n\
         \x20   int c;\n"
    );
    let mut depth = 1;
    for &op in ops {
        if op == Op::Close {
            depth -= 1;
        }
        let line = match op {
            Op::Add(n) if n < 128 => format!("*p += {n};"),
            Op::Add(n) => format!("*p -= {};", 256 - u32::from(n)),
            Op::Move(n) if n > 0 => format!("p += {n};"),
            Op::Move(n) => format!("p -= {};", -n),
            Op::Zero => "*p = 0;".to_string(),
            Op::Output => "putchar(*p);".to_string(),
            Op::Input => "if ((c = getchar()) != EOF) *p = (unsigned char)c;".to_string(),
            Op::Open => "while (*p) {".to_string(),
            Op::Close => "}".to_string(),
        };
        c.push_str(&"    ".repeat(depth));
        c.push_str(&line);
        c.push('\n');
        if op == Op::Open {
            depth += 1;
        }
    }
    c.push_str("    return fflush(stdout) != 0;\n}\n");
    c
}
