//! `tlr`: a VM for the tiny register language of "Tracing the Meta-Level"
//! (Bolz et al. 2009), built with metatrace.
//!
//! ```text
//! tlr [--jit OPTIONS] PROGRAM N
//! ```
//!
//! PROGRAM is a file of comma-separated decimal bytes (0..=255); whitespace
//! and newlines are free, `#` starts a comment to the end of the line, a
//! trailing comma is allowed. N (an i64) is the initial accumulator. The
//! program's result (the accumulator at `RETURN_A`) is printed as a decimal
//! line. Errors go to stderr as `error: ...`, with exit status 1.

mod interp;

use interp::{Regs, TlrError};
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    match run() {
        Ok(result) => {
            println!("{result}");
            ExitCode::SUCCESS
        }
        Err(msg) => {
            eprintln!("error: {msg}");
            ExitCode::from(1)
        }
    }
}

fn run() -> Result<i64, String> {
    let vm = metatrace::runtime::cli::parse_vm_args("tlr", std::env::args().skip(1))?;
    metatrace::__private::check_mode_supported(&vm.jit)?;
    let a = match vm.args.as_slice() {
        [n] => n.trim().parse::<i64>().map_err(|_| {
            format!("the argument N must be an integer (i64), not '{n}'; usage: tlr PROGRAM N")
        })?,
        [] => return Err("missing argument N; usage: tlr PROGRAM N".to_string()),
        [_, extra, ..] => {
            return Err(format!(
                "unexpected argument '{extra}'; usage: tlr PROGRAM N"
            ))
        }
    };
    let bytecode = load_program(&vm.program)?;
    let mut regs = Regs { values: Vec::new() };
    interp::interpret(&bytecode, a, &mut regs).map_err(|e| describe(&e, &bytecode))
}

fn load_program(path: &Path) -> Result<Vec<u8>, String> {
    let text = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let text = String::from_utf8_lossy(&text);
    parse_program(&text).map_err(|e| format!("{}:{e}", path.display()))
}

/// Parses the program file format: comma-separated decimal bytes. Errors
/// start with `LINE:COLUMN: `, except for an empty program.
fn parse_program(text: &str) -> Result<Vec<u8>, String> {
    enum Tok {
        Comma,
        Word(String),
    }
    let mut toks: Vec<(usize, usize, Tok)> = Vec::new();
    for (lineno, line) in text.lines().enumerate() {
        let line = match line.find('#') {
            Some(i) => &line[..i],
            None => line,
        };
        let mut word: Option<(usize, String)> = None;
        for (col, ch) in line.chars().enumerate() {
            if ch == ',' || ch.is_whitespace() {
                if let Some((c, w)) = word.take() {
                    toks.push((lineno + 1, c + 1, Tok::Word(w)));
                }
                if ch == ',' {
                    toks.push((lineno + 1, col + 1, Tok::Comma));
                }
            } else {
                word.get_or_insert((col, String::new())).1.push(ch);
            }
        }
        if let Some((c, w)) = word.take() {
            toks.push((lineno + 1, c + 1, Tok::Word(w)));
        }
    }
    let mut bytes = Vec::new();
    let mut need_comma = false;
    for (line, col, tok) in toks {
        match tok {
            Tok::Comma if need_comma => need_comma = false,
            Tok::Comma => {
                return Err(format!(
                    "{line}:{col}: expected a number (0..=255) before ','"
                ))
            }
            Tok::Word(w) if need_comma => {
                return Err(format!("{line}:{col}: expected ',' before '{w}'"))
            }
            Tok::Word(w) => {
                let n: u64 = w.parse().map_err(|_| {
                    format!("{line}:{col}: expected a number (0..=255), found '{w}'")
                })?;
                if n > 255 {
                    return Err(format!(
                        "{line}:{col}: {n} does not fit in a byte (0..=255)"
                    ));
                }
                bytes.push(n as u8);
                need_comma = true;
            }
        }
    }
    if bytes.is_empty() {
        return Err(" the program is empty (expected comma-separated bytes)".to_string());
    }
    Ok(bytes)
}

fn opcode_name(opcode: u8) -> &'static str {
    match opcode {
        interp::MOV_A_R => "MOV_A_R",
        interp::MOV_R_A => "MOV_R_A",
        interp::JUMP_IF_A => "JUMP_IF_A",
        interp::SET_A => "SET_A",
        interp::ADD_R_TO_A => "ADD_R_TO_A",
        interp::RETURN_A => "RETURN_A",
        interp::ALLOCATE => "ALLOCATE",
        interp::NEG_A => "NEG_A",
        _ => "?",
    }
}

fn describe(e: &TlrError, bytecode: &[u8]) -> String {
    match *e {
        TlrError::UnknownOpcode { pc, opcode } => format!(
            "unknown opcode {opcode} at pc {pc} (valid opcodes: 1 MOV_A_R, 2 MOV_R_A, 3 JUMP_IF_A, 4 SET_A, 5 ADD_R_TO_A, 6 RETURN_A, 7 ALLOCATE, 8 NEG_A)"
        ),
        TlrError::RegisterOutOfRange { pc, reg, count } => format!(
            "register {reg} out of range at pc {pc} ({} {reg}): {count} register{} allocated",
            opcode_name(bytecode[pc]),
            if count == 1 { " is" } else { "s are" }
        ),
        TlrError::MissingOperand { pc, opcode } => format!(
            "ran off the end of the bytecode: {} at pc {pc} has no operand ({} bytes)",
            opcode_name(opcode),
            bytecode.len()
        ),
        TlrError::RanOffEnd { pc } => format!(
            "ran off the end of the bytecode at pc {pc} ({} bytes) without RETURN_A",
            bytecode.len()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_src(src: &str, a: i64) -> Result<i64, TlrError> {
        let code = parse_program(src).unwrap();
        interp::interpret(&code, a, &mut Regs { values: Vec::new() })
    }

    const SQUARE: &str = "7,3,1,0,1,1,4,0,1,2,4,1,8,5,0,1,0,2,2,5,1,1,2,2,0,3,10,2,2,6";

    #[test]
    fn square() {
        assert_eq!(run_src(SQUARE, 10), Ok(100));
        assert_eq!(run_src(SQUARE, 1), Ok(1));
        assert_eq!(run_src(SQUARE, 1000), Ok(1_000_000));
    }

    #[test]
    fn parses_program_format() {
        assert_eq!(
            parse_program(" 1, 2 ,3,\n# comment, 9\n 4 # x\n,5,\n").unwrap(),
            [1, 2, 3, 4, 5]
        );
        assert_eq!(
            parse_program("1,x").unwrap_err(),
            "1:3: expected a number (0..=255), found 'x'"
        );
        assert_eq!(
            parse_program("1,\n 256").unwrap_err(),
            "2:2: 256 does not fit in a byte (0..=255)"
        );
        assert_eq!(
            parse_program("1,,2").unwrap_err(),
            "1:3: expected a number (0..=255) before ','"
        );
        assert_eq!(
            parse_program("1 2").unwrap_err(),
            "1:3: expected ',' before '2'"
        );
        assert!(parse_program(" # nothing\n").unwrap_err().contains("empty"));
    }

    #[test]
    fn errors() {
        assert_eq!(
            run_src("9", 0),
            Err(TlrError::UnknownOpcode { pc: 0, opcode: 9 })
        );
        assert_eq!(
            run_src("7,1,1,1", 0),
            Err(TlrError::RegisterOutOfRange {
                pc: 2,
                reg: 1,
                count: 1
            })
        );
        assert_eq!(
            run_src("4", 0),
            Err(TlrError::MissingOperand { pc: 0, opcode: 4 })
        );
        assert_eq!(run_src("4,0", 0), Err(TlrError::RanOffEnd { pc: 2 }));
        assert_eq!(run_src("3,200", 1), Err(TlrError::RanOffEnd { pc: 200 }));
    }

    #[test]
    fn wrapping() {
        // a = i64::MIN; NEG_A; RETURN_A
        assert_eq!(run_src("8,6", i64::MIN), Ok(i64::MIN));
        // ALLOCATE 1; MOV_A_R 0; ADD_R_TO_A 0; RETURN_A
        assert_eq!(run_src("7,1,1,0,5,0,6", i64::MAX), Ok(-2));
    }
}
