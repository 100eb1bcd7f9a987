//! Compile diagnostics as data, rendered in one place.
//!
//! Every phase (lexer, parser, scope resolution, code generation, module loading) reports
//! problems as [`Diagnostic`] values with a file and a byte span; [`render`] turns them into the
//! user-facing form of ASK.md §1.4:
//!
//! ```text
//! app.ask:3:23: error: unmatched ')'
//! result = max(total, 4))
//!                       ^
//! ```
//!
//! Columns are 1-based and counted in code points; the caret line covers the span (at least one
//! caret). Tabs in the source line are kept so the caret stays aligned in a terminal.

use crate::ast::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Path of the file as given by the user (or as resolved for an include).
    pub file: String,
    pub span: Span,
    pub message: String,
}

impl Diagnostic {
    pub fn error(file: &str, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Error, file: file.to_string(), span, message: message.into() }
    }
    pub fn warning(file: &str, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, file: file.to_string(), span, message: message.into() }
    }
}

/// 1-based (line, column) of a byte offset; the column counts code points.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(src, offset.min(src.len()));
    let before = &src[..offset];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let col = src[line_start..offset].chars().count() + 1;
    (line, col)
}

/// Line starts of one source text, for many `line_col` lookups: each is a binary search plus a
/// scan of one line, where `line_col` scans everything before the offset (quadratic when it is
/// called per route or per instruction of a big program).
pub struct LineIndex<'s> {
    src: &'s str,
    starts: Vec<usize>,
}

impl<'s> LineIndex<'s> {
    pub fn new(src: &'s str) -> LineIndex<'s> {
        let mut starts = vec![0usize];
        starts.extend(src.bytes().enumerate().filter(|&(_, b)| b == b'\n').map(|(i, _)| i + 1));
        LineIndex { src, starts }
    }

    /// The same answer as [`line_col`].
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let off = floor_char_boundary(self.src, offset.min(self.src.len()));
        let line = match self.starts.binary_search(&off) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.starts[line];
        (line + 1, self.src[start..off].chars().count() + 1)
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Render one diagnostic against the source text of its file.
pub fn render(d: &Diagnostic, src: &str) -> String {
    let lo = floor_char_boundary(src, (d.span.lo as usize).min(src.len()));
    let hi = floor_char_boundary(src, (d.span.hi as usize).min(src.len())).max(lo);
    let (line, col) = line_col(src, lo);
    let line_start = src[..lo].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line_end = src[lo..].find('\n').map(|i| lo + i).unwrap_or(src.len());
    let text = src[line_start..line_end].trim_end_matches('\r');
    let sev = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut out = format!("{}:{}:{}: {}: {}\n", d.file, line, col, sev, d.message);
    // Printing a huge minified line in full helps nobody; show a bounded window.
    let shown: String = text.chars().take(200).collect();
    out.push_str(&shown);
    out.push('\n');
    let pad: String = src[line_start..lo]
        .chars()
        .take(200)
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    let width = src[lo..hi.min(line_end)].chars().count().clamp(1, 200);
    out.push_str(&pad);
    out.push_str(&"^".repeat(width));
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::{line_col, LineIndex};

    #[test]
    fn line_index_agrees_with_line_col() {
        let src = "a = 1\n\nx = 'é€😀'\r\n  y\nlast";
        let idx = LineIndex::new(src);
        for off in 0..=src.len() + 3 {
            assert_eq!(idx.line_col(off), line_col(src, off), "offset {off}");
        }
        assert_eq!(LineIndex::new("").line_col(0), (1, 1));
    }
}
