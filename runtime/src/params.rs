//! JIT parameters: the values `--jit name=value,...` sets on every generated
//! VM (and that a program can set through this API).
//!
//! Names and defaults follow RPython (`rpython/rlib/jit.py`,
//! `PARAMETER_DOCS`), so that people who know PyPy's `--jit` find their way.
//! Syntax of an options string: comma-separated items, each one of
//! - `name=value` — set one parameter (see [`JitParams`] for the list);
//! - `off` — shorthand for `mode=native`: run the interpreter only;
//! - `default` — reset every parameter to its default.
//!
//! Items apply left to right, and so do repeated `--jit` options; empty items
//! (`threshold=2,,`) are ignored.

pub use crate::options::OptionList;
use std::fmt;

/// How a VM runs its portal (its `#[jit_driver]` function).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JitMode {
    /// `native`: the interpreter compiled by rustc only, no JIT (the baseline).
    Native,
    /// `jitcode-only`: run the portal entirely on its jitcodes through the
    /// blackhole interpreter, never tracing. Slow; it checks that the
    /// jitcodes behave exactly like the native code.
    JitcodeOnly,
    /// `jit`: the native interpreter with warm-up counters; hot loops are
    /// traced, optimized and compiled to machine code.
    Jit,
    /// `auto` (the default): `jit` in a VM built with its jitcodes,
    /// `native` in one built without (`cargo translate --no-jit`).
    Auto,
}

impl JitMode {
    /// All modes, in the order they are listed in messages.
    pub const ALL: [JitMode; 4] = [
        JitMode::Native,
        JitMode::JitcodeOnly,
        JitMode::Jit,
        JitMode::Auto,
    ];

    /// The name used on the command line (`mode=NAME`).
    pub fn name(self) -> &'static str {
        match self {
            JitMode::Native => "native",
            JitMode::JitcodeOnly => "jitcode-only",
            JitMode::Jit => "jit",
            JitMode::Auto => "auto",
        }
    }

    /// Parses a mode name as written on the command line.
    pub fn from_name(name: &str) -> Option<JitMode> {
        JitMode::ALL.into_iter().find(|m| m.name() == name)
    }
}

impl fmt::Display for JitMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The JIT's tunable parameters. `JitParams::default()` holds the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JitParams {
    /// `threshold` (default 1039): number of times a loop has to run (counted
    /// at `can_enter_jit!()`, per green key) before it is traced. At least 1.
    pub threshold: u32,
    /// `function_threshold` (default 1619): number of times a function has to
    /// be entered (counted at the portal's entry, per green key) before it is
    /// traced from its start. At least 1.
    pub function_threshold: u32,
    /// `trace_eagerness` (default 200): number of times a guard has to fail
    /// before a bridge is traced from it. At least 1.
    pub trace_eagerness: u32,
    /// `trace_limit` (default 6000): maximum number of operations a trace may
    /// record; longer traces are aborted (and their key blacklisted for a
    /// while). At least 1.
    pub trace_limit: u32,
    /// `decay` (default 40): how much the warm-up counters decay each time a
    /// loop is compiled, in thousandths (0 = never, 1000 = reset to zero);
    /// 0..=1000.
    pub decay: u32,
    /// `mode` (default `auto`: `jit` when the VM has jitcodes, else
    /// `native`): `native`, `jitcode-only`, `jit` or `auto`; see
    /// [`JitMode`]. `off` is shorthand for `mode=native`.
    pub mode: JitMode,
    /// `enable_opts` (default `all`): the optimization passes to run, `all` or
    /// a colon-separated list of pass names (`intbounds:rewrite:virtualize`);
    /// empty or `none` runs no pass.
    /// Stored as given; the optimizer interprets the names.
    pub enable_opts: Vec<String>,
    /// `max_code` (default 64M): the machine-code memory one VM's JIT may
    /// hold (`K`, `M`, `G` suffixes, at least [`MIN_MAX_CODE`]); when a
    /// new trace would not fit, every trace of the VM is retired and the
    /// hot loops warm up again (LuaJIT's `maxmcode` flush, docs/jit.md).
    pub max_code: usize,
    /// `inlining` (default 0; RPython's parameter of that name): 1 makes
    /// loops traced from `can_enter_jit!()` inline the user functions
    /// they call (`jit_function_entry!()`) instead of ending in their
    /// function traces, and makes merge points end traces only after a
    /// loop header or a function entry (docs/jit.md, "Inlining").
    pub inlining: bool,
}

/// The smallest `max_code`: one page.
pub const MIN_MAX_CODE: usize = 4096;

impl Default for JitParams {
    fn default() -> Self {
        JitParams {
            threshold: 1039,
            function_threshold: 1619,
            trace_eagerness: 200,
            trace_limit: 6000,
            decay: 40,
            mode: JitMode::Auto,
            enable_opts: vec!["all".to_string()],
            max_code: 64 << 20,
            inlining: false,
        }
    }
}

/// Every parameter name, with a one-line description, in documentation order.
pub const PARAMETERS: &[(&str, &str)] = &[
    (
        "threshold",
        "loop iterations (per green key) before tracing starts",
    ),
    (
        "function_threshold",
        "portal entries (per green key) before tracing from the start",
    ),
    (
        "trace_eagerness",
        "guard failures before a bridge is traced",
    ),
    ("trace_limit", "maximum number of operations in one trace"),
    (
        "decay",
        "counter decay per compilation, in thousandths (0..=1000)",
    ),
    (
        "mode",
        "native | jitcode-only | jit | auto (jit if the VM has jitcodes; `off` = mode=native)",
    ),
    (
        "enable_opts",
        "optimizations to run: `all` or names separated by `:`",
    ),
    (
        "max_code",
        "machine code the JIT may hold (K, M, G suffixes); when full, all traces are retired",
    ),
    (
        "inlining",
        "1: loops inline the user functions they call (0: they end in their function traces)",
    ),
];

impl OptionList for JitParams {
    const WHAT: &'static str = "JIT parameter";
    const ITEMS: &'static [(&'static str, &'static str)] = PARAMETERS;
    const FLAGS: &'static [(&'static str, &'static str)] = &[
        ("off", "same as mode=native"),
        ("default", "reset every parameter to its default"),
    ];

    fn set_flag(&mut self, _off: &str) {
        self.mode = JitMode::Native;
    }

    fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        match name {
            "threshold" => self.threshold = number(name, value, 1, u32::MAX)?,
            "function_threshold" => self.function_threshold = number(name, value, 1, u32::MAX)?,
            "trace_eagerness" => self.trace_eagerness = number(name, value, 1, u32::MAX)?,
            "trace_limit" => self.trace_limit = number(name, value, 1, u32::MAX)?,
            "decay" => self.decay = number(name, value, 0, 1000)?,
            "mode" => {
                self.mode = JitMode::from_name(value).ok_or_else(|| {
                    let modes: Vec<&str> = JitMode::ALL.iter().map(|m| m.name()).collect();
                    format!(
                        "bad value for JIT parameter 'mode': '{value}'; valid modes: {}",
                        modes.join(", ")
                    )
                })?
            }
            "enable_opts" => {
                // An empty value or `none` disables the optimizer.
                let value = value.trim();
                let names: Vec<String> = if value.is_empty() || value == "none" {
                    Vec::new()
                } else {
                    value.split(':').map(|s| s.trim().to_string()).collect()
                };
                if names.iter().any(|n| n.is_empty()) {
                    return Err(format!(
                        "bad value for JIT parameter 'enable_opts': '{value}'; expected `all`, `none` or names separated by `:`"
                    ));
                }
                self.enable_opts = names;
            }
            "max_code" => {
                self.max_code = crate::options::parse_size(value)
                    .filter(|&n| n >= MIN_MAX_CODE)
                    .ok_or_else(|| {
                        format!(
                            "bad value for JIT parameter 'max_code': '{value}' (expected a size like 512K or 64M, at least {}; default {})",
                            crate::options::size_name(MIN_MAX_CODE),
                            crate::options::size_name(JitParams::default().max_code)
                        )
                    })?
            }
            "inlining" => self.inlining = number(name, value, 0, 1)? == 1,
            _ => return Err(Self::unknown(name)),
        }
        Ok(())
    }

    /// The current value of a parameter, as it would be written after `name=`.
    fn value_of(&self, name: &str) -> Option<String> {
        Some(match name {
            "threshold" => self.threshold.to_string(),
            "function_threshold" => self.function_threshold.to_string(),
            "trace_eagerness" => self.trace_eagerness.to_string(),
            "trace_limit" => self.trace_limit.to_string(),
            "decay" => self.decay.to_string(),
            "mode" => self.mode.name().to_string(),
            "enable_opts" => self.enable_opts.join(":"),
            "max_code" => crate::options::size_name(self.max_code),
            "inlining" => (self.inlining as u8).to_string(),
            _ => return None,
        })
    }
}

/// `threshold=1039,function_threshold=1619,...`: parses back to the same value.
impl fmt::Display for JitParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_options())
    }
}

fn number(name: &str, value: &str, min: u32, max: u32) -> Result<u32, String> {
    let default = JitParams::default().value_of(name).unwrap_or_default();
    let range = if max == u32::MAX {
        format!("an integer >= {min}")
    } else {
        format!("an integer in {min}..={max}")
    };
    match value.parse::<u32>() {
        Ok(n) if n >= min && n <= max => Ok(n),
        _ => Err(format!(
            "bad value for JIT parameter '{name}': '{value}' (expected {range}; default {default})"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let p = JitParams::default();
        assert_eq!(p.threshold, 1039);
        assert_eq!(p.function_threshold, 1619);
        assert_eq!(p.trace_eagerness, 200);
        assert_eq!(p.trace_limit, 6000);
        assert_eq!(p.decay, 40);
        assert_eq!(p.mode, JitMode::Auto);
        assert_eq!(p.enable_opts, ["all"]);
        assert_eq!(JitParams::parse("").unwrap(), p);
    }

    #[test]
    fn parses_items() {
        let p = JitParams::parse("threshold=2,trace_eagerness=1").unwrap();
        assert_eq!(p.threshold, 2);
        assert_eq!(p.trace_eagerness, 1);
        assert_eq!(p.trace_limit, 6000);
        let p = JitParams::parse(" mode = jitcode-only , decay=0,").unwrap();
        assert_eq!(p.mode, JitMode::JitcodeOnly);
        assert_eq!(p.decay, 0);
        let p = JitParams::parse("mode=jit,enable_opts=intbounds:virtualize").unwrap();
        assert_eq!(p.mode, JitMode::Jit);
        assert_eq!(p.enable_opts, ["intbounds", "virtualize"]);
        let p = JitParams::parse("max_code=512K").unwrap();
        assert_eq!(p.max_code, 512 << 10);
        assert_eq!(JitParams::parse("max_code=2m").unwrap().max_code, 2 << 20);
        let p = JitParams::parse("function_threshold=7,trace_limit=100").unwrap();
        assert_eq!((p.function_threshold, p.trace_limit), (7, 100));
    }

    #[test]
    fn off_and_default() {
        let p = JitParams::parse("mode=jit,off").unwrap();
        assert_eq!(p.mode, JitMode::Native);
        let p = JitParams::parse("threshold=3,mode=jit,default").unwrap();
        assert_eq!(p, JitParams::default());
    }

    #[test]
    fn apply_merges_left_to_right() {
        let mut p = JitParams::default();
        p.apply("threshold=5,mode=jit").unwrap();
        p.apply("threshold=6").unwrap();
        assert_eq!(p.threshold, 6);
        assert_eq!(p.mode, JitMode::Jit);
    }

    #[test]
    fn display_round_trips() {
        let p = JitParams::parse("threshold=3,mode=jitcode-only,enable_opts=a:b").unwrap();
        let s = p.to_string();
        assert_eq!(
            s,
            "threshold=3,function_threshold=1619,trace_eagerness=200,trace_limit=6000,decay=40,mode=jitcode-only,enable_opts=a:b,max_code=64M,inlining=0"
        );
        assert_eq!(JitParams::parse(&s).unwrap(), p);
    }

    #[test]
    fn unknown_parameter_lists_valid_ones() {
        let e = JitParams::parse("threshold=2,foo=1").unwrap_err();
        assert!(e.starts_with("unknown JIT parameter 'foo'; valid: threshold=1039, function_threshold=1619, trace_eagerness=200, trace_limit=6000, decay=40, mode=auto, enable_opts=all, max_code=64M"), "{e}");
        let e = JitParams::parse("nope").unwrap_err();
        assert!(
            e.starts_with("unknown JIT parameter 'nope'; valid: "),
            "{e}"
        );
        let e = JitParams::parse("threshold").unwrap_err();
        assert!(e.contains("'threshold' needs a value"), "{e}");
    }

    #[test]
    fn bad_values_are_named() {
        for (opts, needle) in [
            ("threshold=abc", "'threshold': 'abc'"),
            ("threshold=0", "'threshold': '0'"),
            ("threshold=-1", "'threshold': '-1'"),
            ("threshold=", "'threshold': ''"),
            ("function_threshold=0", "'function_threshold': '0'"),
            ("trace_eagerness=x", "'trace_eagerness': 'x'"),
            ("trace_limit=0", "'trace_limit': '0'"),
            ("decay=1001", "'decay': '1001'"),
            ("threshold=99999999999", "'threshold': '99999999999'"),
            ("max_code=lots", "'max_code': 'lots'"),
            ("max_code=1K", "'max_code': '1K'"),
            ("max_code=", "'max_code': ''"),
            ("max_code=99999999999T", "'max_code': '99999999999T'"),
        ] {
            let e = JitParams::parse(opts).unwrap_err();
            assert!(e.starts_with("bad value for JIT parameter "), "{e}");
            assert!(e.contains(needle), "{opts}: {e}");
            assert!(e.contains("default"), "{e}");
        }
        let e = JitParams::parse("mode=fast").unwrap_err();
        assert_eq!(
            e,
            "bad value for JIT parameter 'mode': 'fast'; valid modes: native, jitcode-only, jit, auto"
        );
        let e = JitParams::parse("enable_opts=a::b").unwrap_err();
        assert!(e.contains("'enable_opts': 'a::b'"), "{e}");
    }

    #[test]
    fn help_mentions_every_parameter() {
        let h = JitParams::help();
        for (name, _) in PARAMETERS {
            assert!(h.contains(name), "{name}");
        }
        assert!(h.contains("threshold=1039"));
        assert!(h.contains("off"));
    }
}
