//! The parser of printed jitcodes, the inverse of `printer.rs`: tests
//! write jitcodes as text, and printing then parsing gives the same
//! instructions. Like the printer, it walks the instruction table.
//!
//! Constants (`$7`, `$1.5`, `$null`, `$"text"`) are pooled per kind in
//! the order they first appear; descrs are found by name through
//! [`JitCodeNames::lookup`] (or written `field#3`).

use super::insns::{Access, DescrTable, LabelStyle, ListStyle, OperandMut};
use super::tokens::{closing, match_template};
use super::*;

/// A ref constant as written in text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefConstText {
    Null,
    Str(String),
}

/// Constant pools (int, ref, float by its bits) as the printer shows
/// them, for [`RegNames`].
pub fn const_texts(ints: &[i64], refs: &[RefConstText], floats: &[u64]) -> [Vec<String>; 3] {
    [
        ints.iter().map(|v| v.to_string()).collect(),
        refs.iter()
            .map(|c| match c {
                RefConstText::Null => "null".to_string(),
                RefConstText::Str(s) => format!("{s:?}"),
            })
            .collect(),
        floats
            .iter()
            .map(|b| format!("{:?}", f64::from_bits(*b)))
            .collect(),
    ]
}

/// A jitcode read back from text.
#[derive(Clone, Debug, PartialEq)]
pub struct ParsedJitCode {
    pub name: String,
    pub args: Vec<KReg>,
    pub num_regs: [u16; 3],
    pub consts_i: Vec<i64>,
    pub consts_r: Vec<RefConstText>,
    /// By their bits.
    pub consts_f: Vec<u64>,
    pub insns: Vec<Insn>,
}

impl ParsedJitCode {
    /// The constants as the printer shows them, for [`RegNames`].
    pub fn const_texts(&self) -> [Vec<String>; 3] {
        const_texts(&self.consts_i, &self.consts_r, &self.consts_f)
    }

    /// Print it again.
    pub fn print(&self, names: &dyn JitCodeNames) -> String {
        let texts = self.const_texts();
        let regs = RegNames {
            num_regs: self.num_regs,
            consts: [&texts[0], &texts[1], &texts[2]],
        };
        format_jitcode(&self.name, &self.insns, &self.args, &regs, names)
    }
}

/// Parse one printed jitcode (as [`format_jitcode`] prints it).
pub fn parse_jitcode(text: &str, names: &dyn JitCodeNames) -> Result<ParsedJitCode, String> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or("empty jitcode text")?;
    let mut code = parse_header(header.trim()).map_err(|e| format!("line 1: {e}"))?;
    for (n, line) in lines {
        let line = line.trim();
        // A label `L3:` before the instruction is only for the reader.
        let body = match line.split_once(' ') {
            Some((l, rest)) if l.starts_with('L') && l.ends_with(':') => rest.trim_start(),
            _ => line,
        };
        let insn = parse_insn(body, &mut code, names)
            .map_err(|e| format!("line {}: {e}: {line}", n + 1))?;
        code.insns.push(insn);
    }
    Ok(code)
}

/// `jitcode NAME(ARGS) regs iN rN fN`
fn parse_header(line: &str) -> Result<ParsedJitCode, String> {
    let rest = line
        .strip_prefix("jitcode ")
        .ok_or("expected `jitcode NAME(ARGS) regs iN rN fN`")?;
    let open = rest.find('(').ok_or("no `(` after the jitcode's name")?;
    let close = rest.rfind(')').ok_or("no `)` after the arguments")?;
    let name = rest[..open].to_string();
    let mut num_regs = [0u16; 3];
    let regs: Vec<&str> = rest[close + 1..].split_whitespace().collect();
    match regs.as_slice() {
        ["regs", i, r, f] => {
            for (k, (t, letter)) in [i, r, f].iter().zip(['i', 'r', 'f']).enumerate() {
                num_regs[k] = t
                    .strip_prefix(letter)
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| format!("bad register count `{t}`"))?;
            }
        }
        _ => return Err("expected `regs iN rN fN` after the arguments".into()),
    }
    let mut code = ParsedJitCode {
        name,
        args: Vec::new(),
        num_regs,
        consts_i: Vec::new(),
        consts_r: Vec::new(),
        consts_f: Vec::new(),
        insns: Vec::new(),
    };
    let mut cur = Cursor {
        s: &rest[open + 1..close],
        pos: 0,
    };
    while !cur.at_end() {
        let r = cur.kreg(&mut code)?;
        code.args.push(r);
        cur.skip_separators();
    }
    Ok(code)
}

fn parse_insn(
    line: &str,
    code: &mut ParsedJitCode,
    names: &dyn JitCodeNames,
) -> Result<Insn, String> {
    let (mnemonic, operands) = line.split_once(' ').unwrap_or((line, ""));
    for &(opcode, template) in Insn::TABLE {
        let Some(params) = match_template(template, mnemonic) else {
            continue;
        };
        let mut insn = Insn::blank(opcode).expect("opcode from the table");
        let mut params = params.into_iter();
        let mut statics_match = true;
        let mut cur = Cursor {
            s: operands,
            pos: 0,
        };
        let mut error = None;
        insn.operands_mut(&mut |op| {
            if error.is_some() || !statics_match {
                return;
            }
            if let OperandMut::Static(s) = op {
                statics_match = params.next().is_some_and(|p| s.set_name(p));
            } else if let Err(e) = cur.operand(op, code, names) {
                error = Some(e);
            }
        });
        if !statics_match {
            continue;
        }
        if let Some(e) = error {
            return Err(e);
        }
        cur.skip_separators();
        if !cur.at_end() {
            return Err(format!("unexpected `{}`", &cur.s[cur.pos..]));
        }
        return Ok(insn);
    }
    Err(format!("unknown instruction `{mnemonic}`"))
}

struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl Cursor<'_> {
    fn rest(&self) -> &str {
        &self.s[self.pos..]
    }

    fn at_end(&self) -> bool {
        self.rest().trim().is_empty()
    }

    /// Skip what separates operands: spaces, commas and `->`.
    fn skip_separators(&mut self) {
        loop {
            let r = self.rest();
            if r.starts_with("->") {
                self.pos += 2;
            } else if r.starts_with([' ', ',']) {
                self.pos += 1;
            } else {
                return;
            }
        }
    }

    fn eat(&mut self, s: &str) -> bool {
        if self.rest().starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, s: &str) -> Result<(), String> {
        if self.eat(s) {
            Ok(())
        } else {
            Err(format!("expected `{s}` at `{}`", self.rest()))
        }
    }

    /// Up to (not including) the first of `stops`, or the end.
    fn until(&mut self, stops: &[char]) -> &str {
        let r = &self.s[self.pos..];
        let n = r.find(stops).unwrap_or(r.len());
        self.pos += n;
        &r[..n]
    }

    fn number<T: std::str::FromStr>(&mut self) -> Result<T, String> {
        let t = self.until(&[',', ' ', ')', ']', ':']);
        t.parse().map_err(|_| format!("bad number `{t}`"))
    }

    /// A Rust string literal as `{:?}` prints it, the quotes included.
    fn quoted(&mut self) -> Result<String, String> {
        self.expect("\"")?;
        let mut out = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos += i + 1;
                    return Ok(out);
                }
                '\\' => {
                    let (_, e) = chars.next().ok_or("unterminated string")?;
                    out.push(match e {
                        'n' => '\n',
                        'r' => '\r',
                        't' => '\t',
                        '0' => '\0',
                        'u' => {
                            let hex: String = chars
                                .by_ref()
                                .map(|(_, c)| c)
                                .skip_while(|c| *c == '{')
                                .take_while(|c| *c != '}')
                                .collect();
                            u32::from_str_radix(&hex, 16)
                                .ok()
                                .and_then(char::from_u32)
                                .ok_or("bad \\u escape")?
                        }
                        other => other,
                    })
                }
                c => out.push(c),
            }
        }
        Err("unterminated string".into())
    }

    /// `<...>` with nested angle brackets; the text inside.
    fn angled(&mut self) -> Result<String, String> {
        let r = self.rest();
        if !r.starts_with('<') {
            return Err(format!("expected `<` at `{r}`"));
        }
        let close = closing(r, '<', '>').ok_or("unclosed `<`")?;
        let inside = r[1..close].to_string();
        self.pos += close + 1;
        Ok(inside)
    }

    /// A register (`%i3`) or constant (`$7`), with its kind.
    fn kreg(&mut self, code: &mut ParsedJitCode) -> Result<KReg, String> {
        if self.eat("$") {
            return self.constant(code);
        }
        if !self.eat("%") {
            return Err(format!("expected a register at `{}`", self.rest()));
        }
        let Some(kind) = self.rest().chars().next().and_then(Kind::from_letter) else {
            return Err(format!("expected a register at `%{}`", self.rest()));
        };
        self.pos += 1;
        let reg = self.until(&[',', ' ', ')', ']', '?']);
        let reg = reg.parse().map_err(|_| format!("bad number `{reg}`"))?;
        // `%i9?`: a register number past the constants, as the printer
        // shows malformed code.
        self.eat("?");
        Ok(KReg { kind, reg })
    }

    /// A constant after its `$`: interned into the pool of its kind.
    fn constant(&mut self, code: &mut ParsedJitCode) -> Result<KReg, String> {
        fn intern<T: PartialEq>(pool: &mut Vec<T>, v: T) -> u16 {
            match pool.iter().position(|x| *x == v) {
                Some(i) => i as u16,
                None => {
                    pool.push(v);
                    pool.len() as u16 - 1
                }
            }
        }
        let (kind, index) = if self.rest().starts_with('"') {
            let s = self.quoted()?;
            (Kind::Ref, intern(&mut code.consts_r, RefConstText::Str(s)))
        } else if self.eat("null") {
            (Kind::Ref, intern(&mut code.consts_r, RefConstText::Null))
        } else {
            let t = self.until(&[',', ' ', ')', ']']);
            if let Ok(v) = t.parse::<i64>() {
                (Kind::Int, intern(&mut code.consts_i, v))
            } else if let Ok(f) = t.parse::<f64>() {
                (Kind::Float, intern(&mut code.consts_f, f.to_bits()))
            } else {
                return Err(format!("bad constant `${t}`"));
            }
        };
        Ok(KReg {
            kind,
            reg: code.num_regs[kind.index()] + index,
        })
    }

    fn label(&mut self) -> Result<Label, String> {
        self.expect("L")?;
        self.number()
    }

    fn operand(
        &mut self,
        op: OperandMut<'_>,
        code: &mut ParsedJitCode,
        names: &dyn JitCodeNames,
    ) -> Result<(), String> {
        self.skip_separators();
        match op {
            OperandMut::Static(_) => unreachable!("static operands come from the mnemonic"),
            OperandMut::Reg(r, access, _) => {
                // `%5`: a register whose kind the printer did not know.
                *r = if self.rest().starts_with('%')
                    && self.rest()[1..].starts_with(|c: char| c.is_ascii_digit())
                {
                    self.pos += 1;
                    self.number()?
                } else {
                    if access == Access::Write && self.rest().starts_with('$') {
                        return Err("a constant cannot be written".into());
                    }
                    self.kreg(code)?.reg
                };
            }
            OperandMut::Regs(rs, access, style) => {
                let paren = style == ListStyle::Paren;
                if paren {
                    self.expect("(")?;
                }
                loop {
                    self.skip_separators();
                    if (paren && self.eat(")")) || (!paren && self.at_end()) {
                        break;
                    }
                    if access == Access::Write && self.rest().starts_with('$') {
                        return Err("a constant cannot be written".into());
                    }
                    rs.push(self.kreg(code)?);
                }
            }
            OperandMut::Descr(d, table) => {
                let name = if table == DescrTable::String {
                    if self.rest().starts_with('"') {
                        format!("{:?}", self.quoted()?)
                    } else {
                        self.until(&[' ']).to_string()
                    }
                } else {
                    self.angled()?
                };
                d.set_raw(
                    names
                        .lookup(table, &name)
                        .ok_or_else(|| format!("unknown {} `{name}`", table.what()))?,
                );
            }
            OperandMut::Label(l, style) => {
                if style == LabelStyle::Default {
                    self.expect("default")?;
                    self.skip_separators();
                }
                *l = self.label()?;
            }
            OperandMut::Cases(cs) => {
                self.expect("[")?;
                loop {
                    self.skip_separators();
                    if self.eat("]") {
                        break;
                    }
                    let v = self.number()?;
                    self.expect(":")?;
                    self.skip_separators();
                    cs.push((v, self.label()?));
                }
            }
        }
        Ok(())
    }
}
