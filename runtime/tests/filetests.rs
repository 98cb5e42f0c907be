//! The optimizer's file tests (`filetests/<dir>/*.trace`, format in
//! `metatrace_testkit::filetest` and docs/testing.md): a trace in, the
//! optimized trace(s) out, one `#[test]` per directory. Commands:
//!
//! - `pass NAME`: the pass `NAME` alone (`Pass::from_name`, `Pass::run`);
//! - `optimize`: the whole pipeline (`optimizer::optimize`, all passes, or
//!   those of `enable_opts=a:b`);
//! - `optimize_loop`: `optimizer::optimize_loop` (all passes, or
//!   `enable_opts=`), printed as `; preamble`, the preamble, `; loop`, the
//!   peeled loop (or `; not peeled` and the one trace);
//! - the flag `resume` after any of them prints, after each trace,
//!   `; resume` and every guard's full resume data (`show_resume`).
//!
//! Traces are parsed and printed with `testkit::optimizer::tables()`; every
//! output trace must verify. `$prog`, `$circle` and `$prog_code` are the
//! addresses of the tables' immutable `Prog`, a `Shape::Circle` and the
//! `Prog`'s `code` field.

use metatrace_runtime::optimizer::{optimize, optimize_loop, Ctx, EnabledOpts, Optimized, Pass};
use metatrace_runtime::params::{JitParams, OptionList};
use metatrace_runtime::trace::{verify_trace, Trace};
use metatrace_testkit::filetest::{Command, Runner};
use metatrace_testkit::optimizer::{circle_addr, prog_addr, tables, Prog};
use metatrace_testkit::trace_text::{parse, show, show_resume};

fn opts(cmd: &Command) -> EnabledOpts {
    match cmd.value("enable_opts") {
        None => EnabledOpts::all(),
        Some(names) => {
            let p = JitParams::parse(&format!("enable_opts={names}")).unwrap();
            EnabledOpts::parse(&p.enable_opts).unwrap()
        }
    }
}

/// A trace as the files show it: printed, verified, and with `resume`
/// its guards' resume data.
fn out(cmd: &Command, t: &Trace) -> String {
    let mut s = show(t);
    if let Err(e) = verify_trace(t) {
        panic!("optimized trace does not verify: {e:?}\n{s}");
    }
    if cmd.has("resume") {
        s.push_str("; resume\n");
        s.push_str(&show_resume(t));
    }
    s
}

fn command(cmd: &Command, input: &str) -> String {
    let t = parse(input);
    match cmd.name.as_str() {
        "pass" => {
            let name = cmd.args.first().expect("pass NAME");
            let p = Pass::from_name(name).unwrap_or_else(|| panic!("no pass {name}"));
            out(cmd, &p.run(t, &Ctx { tables: tables() }))
        }
        "optimize" => out(cmd, &optimize(t, tables(), &opts(cmd))),
        "optimize_loop" => match optimize_loop(t, tables(), &opts(cmd)) {
            Optimized::Peeled(p) => format!(
                "; preamble\n{}; loop\n{}",
                out(cmd, &p.preamble),
                out(cmd, &p.body)
            ),
            Optimized::Loop(t) => format!("; not peeled\n{}", out(cmd, &t)),
        },
        other => panic!("unknown command `{other}` (pass, optimize, optimize_loop)"),
    }
}

fn run(dir: &str) {
    let code = prog_addr() + std::mem::offset_of!(Prog, code);
    Runner::new(
        format!("{}/tests/filetests/{dir}", env!("CARGO_MANIFEST_DIR")),
        "trace",
    )
    .var("prog", format!("0x{:x}", prog_addr()))
    .var("circle", format!("0x{:x}", circle_addr()))
    .var("prog_code", format!("0x{code:x}"))
    .run(command);
}

#[test]
fn optimizer() {
    run("optimizer");
}

#[test]
fn optimizer_unroll() {
    run("optimizer_unroll");
}

#[test]
fn optimizer_virtuals() {
    run("optimizer_virtuals");
}
