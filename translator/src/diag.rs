//! Diagnostics: errors that point at the user's source, rendered as rustc
//! renders them (file:line:col, the line, the span underlined, a help line).
//!
//! Spans come from proc-macro2's `span-locations`, so a `Span` read from a
//! syn tree parsed out of a file knows its line, column and byte range.

use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label, Severity};
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term;
use proc_macro2::Span;
use std::fmt;
use std::path::{Path, PathBuf};

/// Index of a file in the `SourceMap`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub usize);

/// The source files read for one translation, for rendering diagnostics.
#[derive(Default)]
pub struct SourceMap {
    files: SimpleFiles<String, String>,
    paths: Vec<PathBuf>,
    /// Byte offset of the start of every line, per file.
    line_starts: Vec<Vec<usize>>,
}

impl SourceMap {
    pub fn add(&mut self, path: &Path, display_name: String, text: String) -> FileId {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        self.line_starts.push(starts);
        self.paths.push(path.to_owned());
        FileId(self.files.add(display_name, text))
    }

    pub fn path(&self, file: FileId) -> &Path {
        &self.paths[file.0]
    }

    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    pub fn text(&self, file: FileId) -> &str {
        self.files
            .get(file.0)
            .map(|f| f.source().as_str())
            .unwrap_or("")
    }

    pub fn name(&self, file: FileId) -> &str {
        self.files
            .get(file.0)
            .map(|f| f.name().as_str())
            .unwrap_or("?")
    }

    /// Byte range of a span in its file. proc-macro2 gives lines (1-based)
    /// and columns (0-based, in chars); convert them to byte offsets.
    pub fn byte_range(&self, file: FileId, span: Span) -> std::ops::Range<usize> {
        let start = self.offset(file, span.start().line, span.start().column);
        let end = self.offset(file, span.end().line, span.end().column);
        start..end.max(start)
    }

    fn offset(&self, file: FileId, line: usize, column: usize) -> usize {
        let text = self.text(file);
        let starts = &self.line_starts[file.0];
        let Some(&line_start) = starts.get(line.saturating_sub(1)) else {
            return text.len();
        };
        let rest = &text[line_start..];
        let in_line = rest
            .char_indices()
            .nth(column)
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        line_start + in_line
    }
}

/// One error about the user's code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub message: String,
    pub file: Option<FileId>,
    /// 1-based line and column of the span's start (0 when there is no file).
    pub line: usize,
    pub col: usize,
    pub range: std::ops::Range<usize>,
    /// A label under the span; empty for none.
    pub label: String,
    /// What to write instead.
    pub help: Option<String>,
    /// One problem reported wherever it shows (a field of a type traced
    /// code cannot use, at every use): only the first diagnostic of each
    /// key is kept (`dedup_problems`).
    pub problem: Option<String>,
}

impl Diagnostic {
    /// A diagnostic with no place in a file (bad command line, missing crate).
    pub fn global(message: impl Into<String>) -> Self {
        Diagnostic {
            message: message.into(),
            file: None,
            line: 0,
            col: 0,
            range: 0..0,
            label: String::new(),
            help: None,
            problem: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Mark the diagnostic as one report of `problem` (see `problem`).
    pub fn once_per(mut self, problem: impl Into<String>) -> Self {
        self.problem = Some(problem.into());
        self
    }
}

/// Sort diagnostics by place, drop exact repeats and keep the first report
/// of each problem (`Diagnostic::problem`).
pub fn dedup_problems(list: &mut Vec<Diagnostic>) {
    list.sort_by(|a, b| (a.file, a.line, a.col).cmp(&(b.file, b.line, b.col)));
    list.dedup();
    let mut seen = std::collections::HashSet::new();
    list.retain(|d| match &d.problem {
        Some(p) => seen.insert(p.clone()),
        None => true,
    });
}

/// Errors collected over a whole translation, reported together.
#[derive(Default)]
pub struct Diagnostics {
    pub list: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn error(
        &mut self,
        sources: &SourceMap,
        file: FileId,
        span: Span,
        message: impl Into<String>,
    ) -> &mut Diagnostic {
        let d = at(sources, file, span, message);
        self.list.push(d);
        self.list.last_mut().unwrap()
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.list.push(d);
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }
}

/// Build a diagnostic located at `span` of `file`.
pub fn at(sources: &SourceMap, file: FileId, span: Span, message: impl Into<String>) -> Diagnostic {
    let start = span.start();
    Diagnostic {
        message: message.into(),
        file: Some(file),
        line: start.line,
        col: start.column + 1,
        range: sources.byte_range(file, span),
        label: String::new(),
        help: None,
        problem: None,
    }
}

/// Render diagnostics the way rustc does, plus a closing count line.
pub fn render(sources: &SourceMap, diags: &[Diagnostic]) -> String {
    let mut out = render_as(sources, diags, Severity::Error);
    if diags.len() > 1 {
        out.push_str(&format!(
            "error: aborting due to {} previous errors\n",
            diags.len()
        ));
    }
    out
}

/// Render warnings the way rustc does (no count line: they stop nothing).
pub fn render_warnings(sources: &SourceMap, warnings: &[Diagnostic]) -> String {
    render_as(sources, warnings, Severity::Warning)
}

fn render_as(sources: &SourceMap, diags: &[Diagnostic], severity: Severity) -> String {
    let config = term::Config::default();
    let mut out = String::new();
    for d in diags {
        let mut cs = CsDiagnostic::new(severity).with_message(d.message.clone());
        if let Some(file) = d.file {
            cs = cs.with_labels(vec![
                Label::primary(file.0, d.range.clone()).with_message(d.label.clone())
            ]);
        }
        if let Some(help) = &d.help {
            cs = cs.with_notes(vec![format!("help: {help}")]);
        }
        match term::emit_into_string(&config, &sources.files, &cs) {
            Ok(text) => out.push_str(&text),
            Err(_) => {
                let word = if severity == Severity::Warning {
                    "warning"
                } else {
                    "error"
                };
                out.push_str(&format!("{word}: {}\n", d.message))
            }
        }
    }
    out
}

impl fmt::Display for Diagnostic {
    /// Short one-line form: `file:line:col: message`, used in test assertions.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.file.is_some() {
            write!(f, "{}:{}: {}", self.line, self.col, self.message)
        } else {
            write!(f, "{}", self.message)
        }
    }
}

/// The help of every diagnostic on `Rc`, `RefCell`, `Weak` and `HashMap` in
/// traced code (docs/subset.md, "GC objects").
pub const GC_INSTEAD_HELP: &str = "share objects with `metatrace::Gc<T>` (a `Copy` pointer to the GC heap) and mutate them through `Cell` or `metatrace::GcCell` fields; write a table as a struct in the subset (a `Vec` of entries probed by hash), see docs/gc.md";

/// Source text as rustc prints it in messages (`HashMap<u32, Vec<u32>>`,
/// `&mut Vm`), rather than token by token as proc-macro2 does
/// (`HashMap < u32 , Vec < u32 > >`).
pub fn rust_text(node: &impl quote::ToTokens) -> String {
    let mut text = node.to_token_stream().to_string();
    for (from, to) in [
        (" < ", "<"),
        (" <", "<"),
        ("< ", "<"),
        (" >", ">"),
        (" ,", ","),
        (" ;", ";"),
        (" :: ", "::"),
        (":: ", "::"),
        ("& ", "&"),
        ("[ ", "["),
        (" ]", "]"),
        ("( ", "("),
        (" )", ")"),
        (" !", "!"),
    ] {
        text = text.replace(from, to);
    }
    text
}
