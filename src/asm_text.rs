//! The line-based program text the example VMs read (`targets/calls`,
//! `stackvm`, `objvm`): one instruction per line, `#` to the end of a line
//! is a comment, `name:` on a line of its own labels the next
//! instruction. Each VM decodes its own instructions; this finds them and
//! the labels.

use std::collections::HashMap;

/// A program's instructions and labels.
pub struct AsmText<'t> {
    /// Each instruction: its 1-based line number and its text (trimmed,
    /// comment removed).
    pub lines: Vec<(usize, &'t str)>,
    /// Each label: the index in `lines` of the instruction it names (the
    /// length of `lines` for a label after the last one).
    pub labels: HashMap<String, usize>,
}

/// Splits `text` into instructions and labels; a label defined twice is an
/// error `LINE: label 'NAME' defined twice`.
pub fn parse(text: &str) -> Result<AsmText<'_>, String> {
    let mut labels = HashMap::new();
    let mut lines = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if let Some(label) = line.strip_suffix(':') {
            if labels
                .insert(label.trim().to_string(), lines.len())
                .is_some()
            {
                return Err(format!("{}: label '{label}' defined twice", i + 1));
            }
            continue;
        }
        lines.push((i + 1, line));
    }
    Ok(AsmText { lines, labels })
}

#[cfg(test)]
mod tests {
    #[test]
    fn instructions_labels_and_comments() {
        let t = super::parse("a 1 # one\n\nloop:\n  b # two\nend:\n").unwrap();
        assert_eq!(t.lines, vec![(1, "a 1"), (4, "b")]);
        assert_eq!(t.labels["loop"], 1);
        assert_eq!(t.labels["end"], 2);
        let e = super::parse("x:\nx:\n").err().unwrap();
        assert_eq!(e, "2: label 'x' defined twice");
    }
}
