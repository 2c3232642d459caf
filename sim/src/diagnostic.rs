//! Located errors about input files: `file:line:column: message`, with the offending line
//! and a caret under the span, the way compilers print them. A user's first contact with the
//! tool is often one of these, so they are snapshot-tested.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// One problem in an input file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// Byte range in the file's text; `None` when the problem is about the file as a whole.
    pub span: Option<Range<usize>>,
    pub message: String,
    /// The file's text, kept to render the line; empty when unknown.
    source_text: String,
}

impl Diagnostic {
    pub fn new(
        file: &Path,
        source_text: &str,
        span: Option<Range<usize>>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            file: file.to_path_buf(),
            span,
            message: message.into(),
            source_text: source_text.to_string(),
        }
    }

    /// 1-based line and column of the start of the span.
    pub fn line_column(&self) -> Option<(usize, usize)> {
        let start = self.span.as_ref()?.start.min(self.source_text.len());
        let before = &self.source_text[..start];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Some((line, column))
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some((line, column)) = self.line_column() else {
            return write!(f, "error: {}: {}", self.file.display(), self.message);
        };
        writeln!(
            f,
            "error: {}:{}:{}: {}",
            self.file.display(),
            line,
            column,
            self.message
        )?;
        let text = self.source_text.lines().nth(line - 1).unwrap_or("");
        let span = self.span.clone().unwrap_or(0..0);
        // Underline the span on its first line only; multi-line spans get a single caret run.
        let width = text
            .chars()
            .skip(column - 1)
            .take(span.len().max(1))
            .count()
            .max(1);
        let gutter = " ".repeat(line.to_string().len());
        writeln!(f, "{gutter} |")?;
        writeln!(f, "{line} | {text}")?;
        write!(
            f,
            "{gutter} | {}{}",
            " ".repeat(column - 1),
            "^".repeat(width)
        )
    }
}

impl std::error::Error for Diagnostic {}

/// Several problems found in one pass; shown one after the other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

/// Turns a TOML syntax or schema error into a located diagnostic. The `toml` crate already
/// knows the span of an unknown key or a wrong type; its own message repeats the location, so
/// only the first line of its message body is kept.
pub fn from_toml_error(file: &Path, text: &str, err: &toml::de::Error) -> Diagnostic {
    let message = err.message().trim().to_string();
    Diagnostic::new(file, text, err.span(), message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_line_and_column_and_underlines_the_span() {
        let text = "a = 1\nbad = 2\n";
        let d = Diagnostic::new(Path::new("x.toml"), text, Some(6..9), "unknown key `bad`");
        assert_eq!(d.line_column(), Some((2, 1)));
        assert_eq!(
            d.to_string(),
            "error: x.toml:2:1: unknown key `bad`\n  |\n2 | bad = 2\n  | ^^^"
        );
    }

    #[test]
    fn a_diagnostic_without_span_names_the_file() {
        let d = Diagnostic::new(Path::new("x.toml"), "", None, "is empty");
        assert_eq!(d.to_string(), "error: x.toml: is empty");
    }
}
