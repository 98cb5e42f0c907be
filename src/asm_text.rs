//! The line-based program text the example VMs read (`targets/calls`,
//! `stackvm`, `objvm`): one instruction per line, `#` to the end of a line
//! is a comment, `name:` on a line of its own labels the next
//! instruction. Each VM decodes its own instructions; this finds them and
//! the labels.

use crate::runtime::cli::VmArgs;
use std::collections::HashMap;
use std::str::FromStr;

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

/// Reads the VM's PROGRAM file and decodes it with `parse`; errors name
/// the file (`cannot read PATH: ...`, `PATH:LINE: ...`).
pub fn read_program<T>(
    vm: &VmArgs,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, String> {
    let path = vm.program.display().to_string();
    let text =
        std::fs::read_to_string(&vm.program).map_err(|e| format!("cannot read {path}: {e}"))?;
    parse(&text).map_err(|e| format!("{path}:{e}"))
}

/// The optional argument N after PROGRAM (`what` it must be, for the
/// error: `N must be WHAT, not 'x'`); a second argument is an error.
pub fn optional_n<T: FromStr>(args: &[String], what: &str) -> Result<Option<T>, String> {
    match args {
        [] => Ok(None),
        [n] => n
            .trim()
            .parse::<T>()
            .map(Some)
            .map_err(|_| format!("N must be {what}, not '{n}'")),
        [_, extra, ..] => Err(format!("unexpected argument '{extra}'")),
    }
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

    #[test]
    fn the_optional_argument() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(super::optional_n::<i64>(&args(&[]), "an integer"), Ok(None));
        assert_eq!(
            super::optional_n::<i64>(&args(&[" 7"]), "an integer"),
            Ok(Some(7))
        );
        assert_eq!(
            super::optional_n::<i64>(&args(&["x"]), "an integer"),
            Err("N must be an integer, not 'x'".to_string())
        );
        assert_eq!(
            super::optional_n::<i64>(&args(&["1", "2"]), "an integer"),
            Err("unexpected argument '2'".to_string())
        );
    }
}
