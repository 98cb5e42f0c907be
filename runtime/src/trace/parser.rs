//! The parser of printed traces, the inverse of `printer.rs`: optimizer
//! tests write their input and expected traces as text, and every trace
//! printed parses back to the same operations.
//!
//! Names are free (`i7` need not be op 7; the letter gives the kind).
//! The `[...]` after a guard is its resume data: the printer shows the
//! fail arguments, which parse back as one frame (jitcode 0, pc 0)
//! holding them in order; a hand-written trace may give several frames
//! separated by `|` (frame k at pc k), constants allowed. `#n` after it is
//! ignored, ` virtualK = new<T>(field: value, ...)` describes the
//! guard's virtual objects, and ` pending setfield<T.f>(r1, i2)` a write
//! delayed past it (`GuardInfo::pending`), in order. A trace ending with `jump_to` is a bridge.
//! Descrs are found by name through [`JitCodeNames::lookup`].

use super::ops::ParamMut;
use super::*;
use crate::jitcode::{closing, match_template, AllocId, DescrTable, FieldId, JitCodeNames};
use std::collections::HashMap;

/// Parse a trace in the printed format; the error names the line.
pub fn parse_trace(text: &str, names: &dyn JitCodeNames) -> Result<Trace, String> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(n, l)| (n + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'));
    let (n, header) = lines.next().ok_or("empty trace text")?;
    let header = header
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .ok_or_else(|| format!("line {n}: expected `[inputs]`"))?;
    let mut p = Parser {
        names,
        vals: HashMap::new(),
        trace: Trace {
            start: TraceStart::Loop {
                driver: 0,
                greens: vec![],
            },
            inputs: Vec::new(),
            ops: Vec::new(),
            guards: Vec::new(),
        },
    };
    for (k, name) in split_top(header).into_iter().enumerate() {
        let kind = kind_of_name(name).ok_or_else(|| format!("line {n}: bad input `{name}`"))?;
        p.trace.inputs.push(kind);
        p.vals.insert(name.to_string(), Val::Input(k as u16));
    }
    for (n, line) in lines {
        p.line(line).map_err(|e| format!("line {n}: {e}: {line}"))?;
    }
    if let Some(Opcode::JumpTo(_)) = p.trace.ops.last().map(|o| &o.opcode) {
        p.trace.start = TraceStart::Bridge { code: 0, guard: 0 };
    }
    Ok(p.trace)
}

fn kind_of_name(name: &str) -> Option<Kind> {
    Kind::from_letter(name.chars().next()?)
}

/// Split at top-level commas (not inside `<>`, `()` or `[]`; a `->` is
/// no bracket).
fn split_top(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '<' | '(' | '[' => depth += 1,
            '>' if s[..i].ends_with('-') => {}
            '>' | ')' | ']' => depth -= 1,
            ',' if depth == 0 => {
                out.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    if !s[start..].trim().is_empty() {
        out.push(s[start..].trim());
    }
    out
}

struct Parser<'a> {
    names: &'a dyn JitCodeNames,
    vals: HashMap<String, Val>,
    trace: Trace,
}

impl Parser<'_> {
    fn val(&self, s: &str) -> Result<Val, String> {
        if let Some(v) = self.vals.get(s) {
            return Ok(*v);
        }
        if let Some(k) = s.strip_prefix("virtual") {
            if let Ok(k) = k.parse() {
                return Ok(Val::Virtual(k));
            }
        }
        if let Some(h) = s.strip_prefix("0x") {
            return usize::from_str_radix(h, 16)
                .map(Val::Ref)
                .map_err(|_| format!("bad address `{s}`"));
        }
        if let Ok(c) = s.parse::<i64>() {
            return Ok(Val::Int(c));
        }
        if let Ok(f) = s.parse::<f64>() {
            return Ok(Val::Float(f.to_bits()));
        }
        Err(format!("unknown value `{s}`"))
    }

    fn opcode(&self, name: &str) -> Result<Opcode, String> {
        for (mut op, template) in ops::templates() {
            let Some(params) = match_template(template, name) else {
                continue;
            };
            let mut params = params.into_iter();
            let mut ok = true;
            op.params_mut(&mut |p| {
                let text = match p {
                    ParamMut::Hidden => return,
                    _ => params.next(),
                };
                ok &= match (p, text) {
                    (ParamMut::Token(t), Some(s)) => t.set_name(s),
                    (ParamMut::Descr(d, table), Some(s)) => match self.names.lookup(table, s) {
                        Some(i) => {
                            d.set_raw(i);
                            true
                        }
                        None => false,
                    },
                    (ParamMut::Number(n), Some(s)) => s.parse().is_ok_and(|v| n.set(v)),
                    _ => false,
                };
            });
            if ok {
                return Ok(op);
            }
        }
        Err(format!("unknown operation `{name}`"))
    }

    /// `name(args)` at the start of `rhs`: the opcode, the arguments and
    /// where the `)` is.
    fn operation(&self, rhs: &str) -> Result<(Opcode, Vec<Val>, usize), String> {
        // The name runs to the first `(` outside `<>`.
        let mut depth = 0;
        let open = rhs
            .char_indices()
            .find(|&(i, c)| {
                match c {
                    '<' => depth += 1,
                    '>' if !rhs[..i].ends_with('-') => depth -= 1,
                    _ => {}
                }
                c == '(' && depth == 0
            })
            .map(|(i, _)| i)
            .ok_or("no `(`")?;
        let close = open + closing(&rhs[open..], '(', ')').ok_or("unclosed `(`")?;
        let opcode = self.opcode(&rhs[..open])?;
        let args = split_top(&rhs[open + 1..close])
            .into_iter()
            .map(|a| self.val(a))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((opcode, args, close))
    }

    fn line(&mut self, line: &str) -> Result<(), String> {
        let (lhs, rhs) = match line.split_once(" = ") {
            Some((l, r)) if !l.contains('(') => (Some(l.trim()), r.trim()),
            _ => (None, line),
        };
        let (mut opcode, args, close) = self.operation(rhs)?;
        let result = match lhs {
            Some(l) => Some(kind_of_name(l).ok_or_else(|| format!("bad result name `{l}`"))?),
            None => None,
        };
        if let (Opcode::CallResult(n, _), Some(k)) = (&opcode, result) {
            opcode = Opcode::CallResult(*n, k);
        }
        let mut guard = None;
        if opcode.is_guard() {
            guard = Some(self.guard(&rhs[close + 1..])?);
        }
        self.trace.ops.push(TraceOp {
            opcode,
            args,
            result,
            guard,
        });
        if let Some(l) = lhs {
            let v = Val::Op(self.trace.ops.len() as u32 - 1);
            self.vals.insert(l.to_string(), v);
        }
        Ok(())
    }

    /// `[a, b | c] #g virtual0 = new<T>(f: v, ...) ...` after a guard.
    fn guard(&mut self, rest: &str) -> Result<u32, String> {
        let rest = rest.trim();
        let (frames_text, after) = match rest.strip_prefix('[') {
            Some(_) => {
                let close = closing(rest, '[', ']').ok_or("unclosed `[`")?;
                (&rest[1..close], &rest[close + 1..])
            }
            None => ("", rest),
        };
        let mut frames = Vec::new();
        for (k, group) in frames_text.split('|').enumerate() {
            let mut regs = Vec::new();
            for (r, s) in split_top(group).into_iter().enumerate() {
                let v = self.val(s)?;
                let kind = self
                    .trace
                    .kind_of(v)
                    .ok_or_else(|| format!("`{s}` has no kind"))?;
                regs.push((
                    KReg {
                        kind,
                        reg: r as u16,
                    },
                    v,
                ));
            }
            frames.push(FrameSnapshot {
                jitcode: 0,
                pc: k as u32,
                regs,
            });
        }
        let mut info = GuardInfo::new(frames);
        let mut text = after.trim();
        if let Some(r) = text.strip_prefix('#') {
            text = r.trim_start_matches(|c: char| c.is_ascii_digit()).trim();
        }
        while let Some(r) = text.strip_prefix("virtual") {
            let (_, r) = r
                .split_once(" = new<")
                .ok_or("expected `virtualK = new<T>(...)`")?;
            let close = closing(&format!("<{r}"), '<', '>').ok_or("unclosed `<`")? - 1;
            let descr = self
                .names
                .lookup(DescrTable::Alloc, &r[..close])
                .ok_or_else(|| format!("unknown alloc `{}`", &r[..close]))?;
            let r = &r[close + 1..];
            let end = closing(r, '(', ')').ok_or("unclosed `(`")?;
            let mut fields = Vec::new();
            for f in split_top(&r[1..end]) {
                let (at, v) = f.rsplit_once(": ").ok_or("expected `field: value`")?;
                let w = match at.strip_prefix("store/") {
                    Some(ty) => FieldWrite::Store(
                        <ScalarTy as crate::jitcode::Token>::from_name(ty)
                            .ok_or_else(|| format!("bad type `{ty}`"))?,
                    ),
                    None => FieldWrite::Field(FieldId(
                        self.names
                            .lookup(DescrTable::Field { scalar: true }, at)
                            .ok_or_else(|| format!("unknown field `{at}`"))?,
                    )),
                };
                fields.push((w, self.val(v)?));
            }
            info.virtuals.push(VirtualObj {
                descr: AllocId(descr),
                fields,
            });
            text = r[end + 1..].trim();
        }
        while let Some(r) = text.strip_prefix("pending ") {
            let (opcode, args, close) = self.operation(r.trim())?;
            info.pending.push(PendingWrite { opcode, args });
            text = r.trim()[close + 1..].trim();
        }
        info.fail_args = info.collect_fail_args();
        self.trace.guards.push(info);
        Ok(self.trace.guards.len() as u32 - 1)
    }
}

/// Print `t`, parse it back and compare: the same operations, inputs,
/// fail arguments, virtuals and delayed writes, and the same text printed again. (The
/// frame layout of resume data is not printed, so not compared.)
pub fn check_text_round_trip(t: &Trace, names: &dyn JitCodeNames) -> Result<(), String> {
    let text = format_trace(t, names);
    let back = parse_trace(&text, names).map_err(|e| format!("does not parse: {e}\n{text}"))?;
    let resume = |t: &Trace| -> Vec<(Vec<Val>, Vec<VirtualObj>, Vec<PendingWrite>)> {
        t.guards
            .iter()
            .map(|g| (g.fail_args.clone(), g.virtuals.clone(), g.pending.clone()))
            .collect()
    };
    if back.inputs != t.inputs || back.ops != t.ops || resume(&back) != resume(t) {
        let first = t.ops.iter().zip(&back.ops).position(|(a, b)| a != b);
        let detail = match first {
            Some(i) => format!(
                " (first at operation {i}: {:?} parsed as {:?})",
                t.ops[i], back.ops[i]
            ),
            None => String::new(),
        };
        return Err(format!("parses back differently{detail}\n{text}"));
    }
    let again = format_trace(&back, names);
    if again != text {
        return Err(format!(
            "prints differently once parsed\n{text}\n---\n{again}"
        ));
    }
    Ok(())
}

/// Whether `METATRACE_CHECK_IR_TEXT` asks for [`check_text_round_trip`] on
/// every trace compiled (the end-to-end tests set it).
pub fn text_checks_enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("METATRACE_CHECK_IR_TEXT").is_some())
}
