//! `bf`: a Brainfuck VM built with metatrace.
//!
//! ```text
//! bf [--jit OPTIONS] PROGRAM
//! ```
//!
//! Reads PROGRAM (any bytes; characters other than `+-<>.,[]` are comments),
//! runs it with stdin as input and stdout as output. 8-bit wrapping cells, a
//! tape of 30000 cells growing on the right, `,` at end of input leaves the
//! cell unchanged. Errors (unbalanced brackets, moving left of cell 0, ...)
//! go to stderr as `error: ...`, with exit status 1.

mod interp;
mod parse;

use interp::{BfError, Io, Program, Tape};
use std::process::ExitCode;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("error: {msg}");
            ExitCode::from(1)
        }
    }
}

fn run() -> Result<(), String> {
    let vm = metatrace::runtime::cli::parse_vm_args("bf", std::env::args().skip(1))?;
    metatrace::__private::check_mode_supported(&vm.jit)?;
    if let Some(extra) = vm.args.first() {
        return Err(format!(
            "unexpected argument '{extra}': bf takes only PROGRAM (input comes from stdin)"
        ));
    }
    let path = vm.program.display().to_string();
    let src = std::fs::read(&vm.program).map_err(|e| format!("cannot read {path}: {e}"))?;
    let program = parse::compile(&src).map_err(|e| {
        let (line, col) = parse::line_col(&src, e.offset);
        let more = match e.others {
            0 => String::new(),
            1 => " (and 1 more unmatched '[')".to_string(),
            n => format!(" (and {n} more unmatched '[')"),
        };
        format!(
            "{path}:{line}:{col}: unmatched '{}' (byte offset {}){more}",
            e.bracket, e.offset
        )
    })?;
    let mut tape = Tape {
        cells: vec![0; interp::TAPE_SIZE],
    };
    let mut io = Io {
        out: Vec::with_capacity(interp::OUTPUT_BUFFER),
        eof: false,
        write_error: None,
    };
    let result = interp::run(&program, &mut tape, &mut io);
    interp::flush(&mut io);
    if let Err(e) = result {
        return Err(describe(&e, &program, &src, &path));
    }
    if let Some(e) = io.write_error {
        return Err(format!("cannot write output: {e}"));
    }
    Ok(())
}

fn describe(e: &BfError, program: &Program, src: &[u8], path: &str) -> String {
    let at = |offset: usize| {
        let (line, col) = parse::line_col(src, offset);
        format!("{path}:{line}:{col} (byte offset {offset})")
    };
    match *e {
        BfError::LeftOfTape { pc, moved } => {
            // `moved` single steps of the `<` run succeeded: the next one failed.
            format!(
                "'<' moved left of cell 0 at {}",
                at(program.offsets[pc] + moved)
            )
        }
        BfError::TapeLimit { pc } => format!(
            "'>' moved beyond the tape's limit of {} cells at {}",
            interp::MAX_TAPE_SIZE,
            at(program.offsets[pc])
        ),
    }
}
