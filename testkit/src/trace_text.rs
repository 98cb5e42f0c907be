//! The printed trace format, parsed back by the library's parser (so that
//! the optimizer tests read as trace in / trace out), printed with the
//! optimizer tables
//! (`show`, `show_resume`) and compared (`assert_trace`). Names of
//! descrs are those of `crate::optimizer::tables()`.

use crate::optimizer::tables;
use metatrace_runtime::trace::*;

/// Parse a trace in the printed format (`trace::parse_trace` with the
/// optimizer tables; see there for resume data and names); it must
/// verify.
pub fn parse(text: &str) -> Trace {
    let trace = parse_trace(text, tables()).unwrap_or_else(|e| panic!("{e}\n{text}"));
    if let Err(e) = verify_trace(&trace) {
        panic!("parsed trace does not verify: {e:?}\n{text}");
    }
    trace
}

/// `format_trace` with the tests' tables.
pub fn show(t: &Trace) -> String {
    format_trace(t, tables())
}

/// Every guard's full resume data, constants included: `#g: [a, b | c]`.
pub fn show_resume(t: &Trace) -> String {
    let name = |v: Val| -> String {
        match v {
            Val::Input(i) => format!("{}{}", t.inputs[i as usize].letter(), i),
            Val::Op(i) => format!(
                "{}{}",
                t.ops[i as usize].result.unwrap().letter(),
                i as usize + t.inputs.len()
            ),
            Val::Int(c) => c.to_string(),
            Val::Ref(r) => format!("0x{r:x}"),
            Val::Float(b) => format!("{:?}", f64::from_bits(b)),
            Val::Virtual(k) => format!("virtual{k}"),
        }
    };
    let mut out = String::new();
    for (g, info) in t.guards.iter().enumerate() {
        let frames: Vec<String> = info
            .frames
            .iter()
            .map(|f| {
                f.regs
                    .iter()
                    .map(|(_, v)| name(*v))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .collect();
        out.push_str(&format!("#{g}: [{}]", frames.join(" | ")));
        out.push_str(&format_virtuals(t, info, tables()));
        out.push('\n');
    }
    out
}

/// Compare printed traces line by line, ignoring leading/trailing space.
pub fn assert_trace(got: &Trace, want: &str) {
    let got_s = show(got);
    let norm = |s: &str| -> Vec<String> {
        s.lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect()
    };
    if norm(&got_s) != norm(want) {
        panic!(
            "optimized trace differs\n--- want:\n{}\n--- got:\n{}",
            norm(want).join("\n"),
            got_s
        );
    }
    if let Err(e) = verify_trace(got) {
        panic!("optimized trace does not verify: {e:?}\n{got_s}");
    }
}
