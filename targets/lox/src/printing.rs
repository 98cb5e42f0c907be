//! `print`: values as clox prints them (clox's printValue and
//! printObject), numbers with C's `%g`, into a buffered stdout.
//!
//! Native code: traced code reaches it through the `#[dont_look_inside]`
//! [`print_value`]; formatting and I/O stay out of traces.

use crate::object::{Function, Obj, Value};
use metatrace::prelude::*;
use std::fmt::Write as _;
use std::io::Write as _;

/// Output is written out when this many bytes are buffered.
const OUTPUT_BUFFER: usize = 1 << 16;

/// The program's standard output, buffered.
#[derive(Default)]
pub struct Output {
    buffer: Vec<u8>,
    /// Stop writing after the first error (a closed pipe): the program
    /// runs on, as clox's ignored `printf` results let it.
    failed: bool,
}

impl Output {
    /// Writes out what is buffered.
    pub fn flush(&mut self) {
        if !self.failed {
            let mut stdout = std::io::stdout().lock();
            if stdout
                .write_all(&self.buffer)
                .and_then(|()| stdout.flush())
                .is_err()
            {
                self.failed = true;
            }
        }
        self.buffer.clear();
    }

    /// Appends `text` (the REPL's prompt).
    pub fn write_str(&mut self, text: &str) {
        self.buffer.extend_from_slice(text.as_bytes());
    }
}

/// `print value;`: the value and a newline.
#[dont_look_inside]
pub fn print_value(out: &mut Output, value: Value) {
    let mut text = String::new();
    format_value(&mut text, value);
    text.push('\n');
    out.buffer.extend_from_slice(text.as_bytes());
    if out.buffer.len() >= OUTPUT_BUFFER {
        out.flush();
    }
}

/// Appends `value` as `print` shows it.
pub fn format_value(text: &mut String, value: Value) {
    match value {
        Value::Nil => text.push_str("nil"),
        Value::Bool(b) => text.push_str(if b { "true" } else { "false" }),
        Value::Number(n) => format_number(text, n),
        Value::Obj(Obj::String(s)) => {
            // C stops at a NUL byte.
            text.push_str(s.chars.split('\0').next().unwrap_or(""));
        }
        Value::Obj(Obj::Function(f)) => format_function(text, &f),
        Value::Obj(Obj::Native(_)) => text.push_str("<native fn>"),
        Value::Obj(Obj::Closure(c)) => format_function(text, &c.function),
        Value::Obj(Obj::Class(c)) => text.push_str(&c.name.chars),
        Value::Obj(Obj::Instance(i)) => {
            let _ = write!(text, "{} instance", i.class.name.chars);
        }
        Value::Obj(Obj::BoundMethod(b)) => format_function(text, &b.method.function),
    }
}

fn format_function(text: &mut String, function: &Function) {
    match function.name {
        Some(name) => {
            let _ = write!(text, "<fn {}>", name.chars);
        }
        None => text.push_str("<script>"),
    }
}

/// Appends `n` as C's `printf("%g", n)` prints it (glibc): six
/// significant digits, trailing zeros removed, exponent form when the
/// exponent is below -4 or at least 6 (`1e+06`, `1.5e-07`), `-0`, `inf`,
/// `nan` and `-nan` (by the sign bit, as glibc does).
pub fn format_number(text: &mut String, n: f64) {
    const PRECISION: i32 = 6;
    if n.is_nan() {
        text.push_str(if n.is_sign_negative() { "-nan" } else { "nan" });
        return;
    }
    if n.is_infinite() {
        text.push_str(if n < 0.0 { "-inf" } else { "inf" });
        return;
    }
    if n == 0.0 {
        text.push_str(if n.is_sign_negative() { "-0" } else { "0" });
        return;
    }
    // The exponent of n rounded to PRECISION significant digits decides
    // the form; Rust's `{:e}` rounds exactly as glibc does (to nearest,
    // ties to even, on the exact binary value).
    let sci = format!("{:.*e}", (PRECISION - 1) as usize, n);
    let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("{:e}'s exponent is an integer");
    if !(-4..PRECISION).contains(&exp) {
        text.push_str(strip_zeros(mantissa));
        let sign = if exp < 0 { '-' } else { '+' };
        let _ = write!(text, "e{sign}{:02}", exp.abs());
    } else {
        let decimals = (PRECISION - 1 - exp) as usize;
        let fixed = format!("{n:.decimals$}");
        text.push_str(strip_zeros(&fixed));
    }
}

/// `1.500` → `1.5`, `2.000` → `2`; integers unchanged.
fn strip_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(n: f64) -> String {
        let mut s = String::new();
        format_number(&mut s, n);
        s
    }

    #[test]
    fn numbers_print_as_printf_g() {
        let cases: [(f64, &str); 22] = [
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (-1.5, "-1.5"),
            (123456.0, "123456"),
            (1234567.0, "1.23457e+06"),
            (1e21, "1e+21"),
            (0.1, "0.1"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.0 / 3.0, "0.333333"),
            (2.0 / 3.0, "0.666667"),
            (999999.5, "1e+06"),
            (999999.4, "999999"),
            (100.0, "100"),
            (123.456789, "123.457"),
            (1e100, "1e+100"),
            (1.5e-300, "1.5e-300"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
            (-f64::NAN, "-nan"),
        ];
        for (n, want) in cases {
            assert_eq!(g(n), want, "{n:?}");
        }
    }
}
