//! The command line every generated VM keeps:
//!
//! ```text
//! <vm> [--jit OPTIONS] [--gc OPTIONS] PROGRAM [ARGS...]
//! ```
//!
//! - `--jit OPTIONS` or `--jit=OPTIONS`: JIT parameters (see
//!   [`crate::params`]); repeated `--jit` options merge left to right.
//! - `--gc OPTIONS` or `--gc=OPTIONS`: the garbage collector's options
//!   (see [`crate::gc::options`]), merged the same way.
//! - `-h`, `--help`: print the usage and exit successfully.
//! - `--`: end of options (the next argument is PROGRAM even if it starts
//!   with `-`).
//! - Options come before PROGRAM; everything after PROGRAM belongs to the
//!   user's program, even if it looks like an option.

use crate::gc::GcOptions;
use crate::options::OptionList;
use crate::params::JitParams;
use std::path::PathBuf;

/// A VM's parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmArgs {
    /// The JIT parameters from every `--jit` option, applied on the defaults.
    pub jit: JitParams,
    /// The GC options from every `--gc` option, applied on the defaults.
    pub gc: GcOptions,
    /// The user's program file.
    pub program: PathBuf,
    /// The arguments after PROGRAM, for the user's program.
    pub args: Vec<String>,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CliAction {
    /// Run PROGRAM.
    Run(VmArgs),
    /// `--help` was given: print this text to stdout and exit with status 0.
    Help(String),
}

/// The usage text of a VM called `vm_name`.
pub fn usage(vm_name: &str) -> String {
    let mut s = format!("usage: {vm_name} [--jit OPTIONS] [--gc OPTIONS] PROGRAM [ARGS...]\n\n");
    s.push_str("options:\n");
    s.push_str("  --jit OPTIONS   set JIT parameters: comma-separated NAME=VALUE items,\n");
    s.push_str("                  applied left to right (--jit may be repeated):\n");
    s.push_str(&JitParams::help());
    s.push_str("  --gc OPTIONS    set GC options: comma-separated NAME=VALUE items,\n");
    s.push_str("                  applied left to right (--gc may be repeated):\n");
    s.push_str(&GcOptions::help());
    s.push_str("  -h, --help      print this help\n");
    s.push_str("  --              end of options\n");
    s
}

/// Parses a VM's arguments (those after the executable's name, e.g.
/// `std::env::args().skip(1)`). `--help` prints the usage to stdout and exits
/// the process with status 0; use [`try_parse_vm_args`] to avoid that.
/// Errors (unknown option, bad `--jit` item, missing PROGRAM) are messages
/// for the user, ending with the usage text where it helps.
pub fn parse_vm_args(
    vm_name: &str,
    args: impl IntoIterator<Item = String>,
) -> Result<VmArgs, String> {
    match try_parse_vm_args(vm_name, args)? {
        CliAction::Run(vm_args) => Ok(vm_args),
        CliAction::Help(text) => {
            print!("{text}");
            std::process::exit(0);
        }
    }
}

/// Like [`parse_vm_args`], but returns [`CliAction::Help`] for `--help`
/// instead of exiting.
pub fn try_parse_vm_args(
    vm_name: &str,
    args: impl IntoIterator<Item = String>,
) -> Result<CliAction, String> {
    let mut jit = JitParams::default();
    let mut gc = GcOptions::default();
    let mut args = args.into_iter();
    let program = loop {
        let Some(arg) = args.next() else {
            return Err(format!("missing PROGRAM\n\n{}", usage(vm_name)));
        };
        match arg.as_str() {
            "-h" | "--help" => return Ok(CliAction::Help(usage(vm_name))),
            "--" => match args.next() {
                Some(p) => break p,
                None => return Err(format!("missing PROGRAM after `--`\n\n{}", usage(vm_name))),
            },
            "--jit" => match args.next() {
                Some(opts) => jit.apply(&opts).map_err(|e| format!("--jit {opts}: {e}"))?,
                None => {
                    return Err(format!(
                        "--jit needs a value (e.g. `--jit threshold=100` or `--jit off`)\n\n{}",
                        usage(vm_name)
                    ))
                }
            },
            _ if arg.starts_with("--jit=") => {
                let opts = &arg["--jit=".len()..];
                jit.apply(opts).map_err(|e| format!("--jit {opts}: {e}"))?;
            }
            "--gc" => match args.next() {
                Some(opts) => gc.apply(&opts).map_err(|e| format!("--gc {opts}: {e}"))?,
                None => {
                    return Err(format!(
                        "--gc needs a value (e.g. `--gc plan=immix` or `--gc stress`)\n\n{}",
                        usage(vm_name)
                    ))
                }
            },
            _ if arg.starts_with("--gc=") => {
                let opts = &arg["--gc=".len()..];
                gc.apply(opts).map_err(|e| format!("--gc {opts}: {e}"))?;
            }
            _ if arg.starts_with('-') && arg != "-" => {
                return Err(format!("unknown option '{arg}'\n\n{}", usage(vm_name)));
            }
            _ => break arg,
        }
    };
    Ok(CliAction::Run(VmArgs {
        jit,
        gc,
        program: PathBuf::from(program),
        args: args.collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::JitMode;

    fn parse(args: &[&str]) -> Result<CliAction, String> {
        try_parse_vm_args("vm", args.iter().map(|s| s.to_string()))
    }

    fn run(args: &[&str]) -> VmArgs {
        match parse(args) {
            Ok(CliAction::Run(a)) => a,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    #[test]
    fn program_and_args() {
        let a = run(&["prog.b", "1", "--jit", "x"]);
        assert_eq!(a.program, PathBuf::from("prog.b"));
        assert_eq!(a.args, ["1", "--jit", "x"]);
        assert_eq!(a.jit, JitParams::default());
    }

    #[test]
    fn jit_options_merge_left_to_right() {
        let a = run(&["--jit", "threshold=2,mode=jit", "--jit=threshold=3", "p"]);
        assert_eq!(a.jit.threshold, 3);
        assert_eq!(a.jit.mode, JitMode::Jit);
        let a = run(&["--jit", "mode=jit", "--jit", "off", "p", "a"]);
        assert_eq!(a.jit.mode, JitMode::Native);
        assert_eq!(a.args, ["a"]);
    }

    #[test]
    fn gc_options_merge_left_to_right() {
        use crate::gc::options::{GcPlan, HeapSize};
        let a = run(&[
            "--gc",
            "plan=immix,heap=64M",
            "--jit",
            "off",
            "--gc=stress",
            "p",
        ]);
        assert_eq!(a.gc.plan, GcPlan::Immix);
        assert_eq!(a.gc.heap, HeapSize::Fixed(64 << 20));
        assert!(a.gc.stress);
        assert_eq!(run(&["p"]).gc, GcOptions::default());
        // After PROGRAM, `--gc` belongs to the user's program.
        assert_eq!(run(&["p", "--gc", "nonsense"]).args, ["--gc", "nonsense"]);
    }

    #[test]
    fn double_dash_ends_options() {
        let a = run(&["--jit", "off", "--", "--weird-name", "--help"]);
        assert_eq!(a.program, PathBuf::from("--weird-name"));
        assert_eq!(a.args, ["--help"]);
        let a = run(&["-"]);
        assert_eq!(a.program, PathBuf::from("-"));
    }

    #[test]
    fn help() {
        for flag in ["-h", "--help"] {
            match parse(&["--jit", "off", flag, "p"]) {
                Ok(CliAction::Help(text)) => {
                    assert!(text
                        .starts_with("usage: vm [--jit OPTIONS] [--gc OPTIONS] PROGRAM [ARGS...]"));
                    assert!(text.contains("threshold=1039"));
                    assert!(text.contains("plan=stickyimmix"));
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn errors() {
        let e = parse(&[]).unwrap_err();
        assert!(e.starts_with("missing PROGRAM"), "{e}");
        assert!(e.contains("usage: vm "), "{e}");
        let e = parse(&["--jit", "off"]).unwrap_err();
        assert!(e.starts_with("missing PROGRAM"), "{e}");
        let e = parse(&["--jit"]).unwrap_err();
        assert!(e.starts_with("--jit needs a value"), "{e}");
        let e = parse(&["--jit", "nope=1", "p"]).unwrap_err();
        assert!(
            e.starts_with("--jit nope=1: unknown JIT parameter 'nope'; valid: threshold=1039"),
            "{e}"
        );
        let e = parse(&["--jit=threshold=0", "p"]).unwrap_err();
        assert!(e.contains("'threshold': '0'"), "{e}");
        let e = parse(&["--gc"]).unwrap_err();
        assert!(e.starts_with("--gc needs a value"), "{e}");
        let e = parse(&["--gc", "plan=copying", "p"]).unwrap_err();
        assert!(
            e.starts_with("--gc plan=copying: bad value for GC option 'plan': 'copying'; valid plans: stickyimmix, immix, marksweep"),
            "{e}"
        );
        let e = parse(&["--gc=heap=big", "p"]).unwrap_err();
        assert!(
            e.starts_with("--gc heap=big: bad value for GC option 'heap': 'big'"),
            "{e}"
        );
        let e = parse(&["--frobnicate", "p"]).unwrap_err();
        assert!(e.starts_with("unknown option '--frobnicate'"), "{e}");
        let e = parse(&["--"]).unwrap_err();
        assert!(e.starts_with("missing PROGRAM"), "{e}");
    }
}
