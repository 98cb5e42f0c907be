//! `lox`: a Lox VM in the shape of clox (Crafting Interpreters, part III),
//! built with metatrace.
//!
//! ```text
//! lox [--jit OPTIONS] [--gc OPTIONS] [--recursive-calls] [FILE]
//! ```
//!
//! Runs FILE; without it, a REPL that runs each line of stdin (globals
//! persist from line to line). As clox: compile errors go to stderr as
//! `[line N] Error at 'x': message` with exit status 65, runtime errors as
//! the message and a stack trace with exit status 70, an unreadable FILE
//! exits with 74. A bad command line gives `error: ...` with exit status
//! 64 (clox's usage error).
//!
//! `--jit` takes the JIT parameters every metatrace VM takes
//! (`metatrace::runtime::params`), with `inlining=1` where metatrace's
//! default is 0 (loops inline the Lox functions they call).
//! `--gc` takes the options of metatrace's collector (`plan=`, `heap=`,
//! `threads=`, `stress`, `default`; docs/gc.md) and configures the heap
//! the Lox objects live on.

mod calls;
mod chunk;
mod compiler;
mod gc_types;
mod globals;
mod interp;
mod natives;
mod object;
mod printing;
mod scanner;
mod shapes;
mod strings;
mod table;
mod vm;

metatrace::include_jit!();

/// Counts malloc memory for the collector's memory-pressure check
/// (docs/gc.md): instances own their field vectors on the malloc heap.
#[global_allocator]
static ALLOCATOR: metatrace::gc::CountingAllocator = metatrace::gc::CountingAllocator;

use metatrace::gc::GcOptions;
use metatrace::runtime::params::{JitParams, OptionList};
use metatrace::{Gc, GcCell};
use object::{Closure, Obj, Value};
use std::io::{BufRead, Write};
use std::process::ExitCode;
use vm::Vm;

/// What running a script or a REPL line came to (clox's
/// `InterpretResult`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InterpretResult {
    Ok,
    CompileError,
    RuntimeError,
}

fn main() -> ExitCode {
    let code = match parse_args(std::env::args().skip(1)) {
        Ok(Command::Help) => {
            print!("{}", usage());
            ExitCode::SUCCESS
        }
        Ok(Command::Run {
            jit,
            gc,
            file,
            recursive_calls,
        }) => match start(jit, &gc) {
            Ok(()) => match file {
                Some(path) => run_file(&path, recursive_calls),
                None => repl(recursive_calls),
            },
            Err(e) => usage_error(&e),
        },
        Err(e) => usage_error(&e),
    };
    // Writes the JIT summary if METATRACE_LOG asks for one.
    metatrace::__private::vm_exit();
    code
}

fn usage() -> String {
    let mut s = String::from("usage: lox [--jit OPTIONS] [--gc OPTIONS] [FILE]\n\n");
    s.push_str("Runs FILE, or without it a REPL on stdin.\n\noptions:\n");
    s.push_str("  --jit OPTIONS   set JIT parameters: comma-separated NAME=VALUE items,\n");
    s.push_str("                  applied left to right (--jit may be repeated):\n");
    s.push_str(&JitParams::help());
    s.push_str("                  (lox starts from inlining=1; the defaults above are\n");
    s.push_str("                  metatrace's)\n");
    s.push_str("  --gc OPTIONS    set GC options: comma-separated NAME=VALUE items,\n");
    s.push_str("                  applied left to right (--gc may be repeated):\n");
    s.push_str(&GcOptions::help());
    s.push_str("  --recursive-calls  run each call of a Lox function as a native call of\n");
    s.push_str("                  the interpreter loop (the JIT compiles the calls as\n");
    s.push_str("                  calls of compiled code: call_assembler)\n");
    s.push_str("  -h, --help      print this help\n");
    s.push_str("  --              end of options\n");
    s
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message} (`lox --help` lists the options)");
    ExitCode::from(64)
}

enum Command {
    Help,
    Run {
        jit: JitParams,
        gc: GcOptions,
        file: Option<String>,
        recursive_calls: bool,
    },
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    // Lox's loops inline the functions they call (`inlining`, off in
    // metatrace's defaults, which serve interpreters without function
    // entries too): a loop of thirty `init()` calls is one trace instead
    // of a chain of bridges, one per call site (docs/jit.md, "Inlining").
    // `--jit inlining=0` turns it off.
    let mut jit = JitParams {
        inlining: true,
        ..JitParams::default()
    };
    let mut gc = GcOptions::default();
    let mut file = None;
    let mut recursive_calls = false;
    let mut args = args.into_iter();
    let mut options_done = false;
    while let Some(arg) = args.next() {
        if options_done || !arg.starts_with('-') || arg == "-" {
            if file.is_some() {
                return Err(format!("unexpected argument '{arg}': lox runs one FILE"));
            }
            file = Some(arg);
            continue;
        }
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name == "--jit" || name == "--gc" => {
                (name.to_string(), Some(value.to_string()))
            }
            _ => (arg.clone(), None),
        };
        match name.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--" => options_done = true,
            "--recursive-calls" => recursive_calls = true,
            "--jit" | "--gc" => {
                let Some(value) = inline.or_else(|| args.next()) else {
                    return Err(format!("{name} needs a value"));
                };
                if name == "--jit" {
                    jit.apply(&value)
                        .map_err(|e| format!("--jit {value}: {e}"))?;
                } else {
                    gc.apply(&value).map_err(|e| format!("--gc {value}: {e}"))?;
                }
            }
            _ => return Err(format!("unknown option '{arg}'")),
        }
    }
    Ok(Command::Run {
        jit,
        gc,
        file,
        recursive_calls,
    })
}

/// Refuses a JIT mode this VM cannot run (it has no jitcodes yet), sets
/// the parameters and the heap's options, as `metatrace::vm_main` does.
fn start(jit: JitParams, gc: &GcOptions) -> Result<(), String> {
    metatrace::__private::check_mode_supported(&jit, metatrace::jit_tables!())?;
    metatrace::__private::set_params(jit);
    metatrace::gc::configure(gc)
}

fn run_file(path: &str, recursive_calls: bool) -> ExitCode {
    let source = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(_) => {
            eprintln!("Could not open file \"{path}\".");
            return ExitCode::from(74);
        }
    };
    let source = source_text(&source);
    let mut vm = Vm::new();
    let result = interpret(&mut vm, &source, recursive_calls);
    vm.out.flush();
    match result {
        InterpretResult::Ok => ExitCode::SUCCESS,
        InterpretResult::CompileError => ExitCode::from(65),
        InterpretResult::RuntimeError => ExitCode::from(70),
    }
}

/// The source as clox sees it: a C string (it ends at a NUL byte). Bytes
/// that are not UTF-8 become U+FFFD.
fn source_text(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// clox's REPL: a prompt, a line, run it; at end of input a newline.
fn repl(recursive_calls: bool) -> ExitCode {
    let mut vm = Vm::new();
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut line = Vec::new();
    loop {
        vm.out.write_str("> ");
        vm.out.flush();
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => {
                vm.out.write_str("\n");
                vm.out.flush();
                return ExitCode::SUCCESS;
            }
            Ok(_) => {
                interpret(&mut vm, &source_text(&line), recursive_calls);
            }
        }
    }
}

/// Compiles and runs `source` (clox's `interpret`); with
/// `recursive_calls`, each call of a Lox function is a native call of the
/// interpreter loop (`interp::run`).
fn interpret(vm: &mut Vm, source: &str, recursive_calls: bool) -> InterpretResult {
    let function = match compiler::compile(source, &mut vm.strings) {
        Ok(function) => function,
        Err(errors) => {
            vm.out.flush();
            let mut stderr = std::io::stderr().lock();
            for error in errors {
                let _ = writeln!(stderr, "{error}");
            }
            return InterpretResult::CompileError;
        }
    };
    let closure = Gc::new(Closure {
        function,
        upvalues: GcCell::new(Vec::new()),
    });
    vm.stack.push(Value::Obj(Obj::Closure(closure)));
    if let Err(error) = calls::call(vm, closure, 0) {
        return report(vm, error);
    }
    match interp::run(vm, recursive_calls) {
        Ok(()) => InterpretResult::Ok,
        Err(error) => report(vm, error),
    }
}

/// Prints a runtime error with its stack trace and empties the stacks.
fn report(vm: &mut Vm, error: vm::RuntimeError) -> InterpretResult {
    vm.out.flush();
    eprint!("{}", vm.stack_trace(error));
    vm.reset_stack();
    InterpretResult::RuntimeError
}

#[cfg(test)]
mod tests {
    /// The GC heap belongs to the first thread that allocates, and the
    /// test harness runs each test on a thread of its own: the unit tests
    /// that allocate run here, one after the other.
    #[test]
    fn on_the_gc_heap() {
        crate::table::tests::set_get_delete_with_collisions();
        crate::strings::tests::equal_texts_are_one_object();
        crate::strings::tests::dead_strings_leave_the_interner();
    }

    /// Lox starts from `inlining=1`; `--jit` items apply on top of it.
    #[test]
    fn lox_inlines_calls_unless_told_not_to() {
        let run = |args: &[&str]| match super::parse_args(args.iter().map(|a| a.to_string())) {
            Ok(super::Command::Run { jit, .. }) => jit,
            _ => panic!("{args:?} is a run"),
        };
        assert!(run(&["x.lox"]).inlining);
        assert!(run(&["--jit", "threshold=5", "x.lox"]).inlining);
        assert!(!run(&["--jit", "inlining=0", "x.lox"]).inlining);
    }
}
