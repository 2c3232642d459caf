//! One problem in an input file, rendered `error: file:line:column: message` with the
//! offending line and a caret under the span.

use crate::{Location, SourceFile};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One problem in an input file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", Rendered(self))]
pub struct Diagnostic {
    place: Place,
    message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Place {
    /// The file as a whole (it could not be read, or something is missing from all of it).
    File(PathBuf),
    /// A byte range of the file's text.
    Span {
        source: Arc<SourceFile>,
        span: Range<usize>,
    },
}

impl Diagnostic {
    /// A problem at byte range `span` of `source`.
    pub fn at(source: &Arc<SourceFile>, span: Range<usize>, message: impl Into<String>) -> Self {
        Diagnostic {
            place: Place::Span {
                source: Arc::clone(source),
                span,
            },
            message: message.into(),
        }
    }

    /// A problem with the file at `path` as a whole; shown without a line.
    pub fn file(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Diagnostic {
            place: Place::File(path.into()),
            message: message.into(),
        }
    }

    /// The file, as the user named it.
    pub fn path(&self) -> &Path {
        match &self.place {
            Place::File(path) => path,
            Place::Span { source, .. } => source.name(),
        }
    }

    /// The byte range at fault; `None` for a problem with the whole file.
    pub fn span(&self) -> Option<Range<usize>> {
        match &self.place {
            Place::File(_) => None,
            Place::Span { span, .. } => Some(span.clone()),
        }
    }

    /// Line and column of the start of the span.
    pub fn location(&self) -> Option<Location> {
        match &self.place {
            Place::File(_) => None,
            Place::Span { source, span } => Some(source.location(span.start)),
        }
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

/// The display, apart so that the derived `Error` can name it.
struct Rendered<'a>(&'a Diagnostic);

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        let (source, span) = match &d.place {
            Place::File(path) => {
                return write!(f, "error: {}: {}", path.display(), d.message);
            }
            Place::Span { source, span } => (source, span),
        };
        let Location { line, column } = source.location(span.start);
        writeln!(
            f,
            "error: {}:{line}:{column}: {}",
            source.name().display(),
            d.message
        )?;
        let text = source.line_text(line);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_line_and_column_and_underlines_the_span() {
        let source = Arc::new(SourceFile::new("x.toml", "a = 1\nbad = 2\n"));
        let d = Diagnostic::at(&source, 6..9, "unknown key `bad`");
        assert_eq!(d.location(), Some(Location { line: 2, column: 1 }));
        assert_eq!(
            d.to_string(),
            "error: x.toml:2:1: unknown key `bad`\n  |\n2 | bad = 2\n  | ^^^"
        );
    }

    #[test]
    fn a_span_past_its_line_gets_one_caret_run_on_the_first_line() {
        let source = Arc::new(SourceFile::new("x.toml", "[a]\nb = [\n  1,\n]\n"));
        let d = Diagnostic::at(&source, 8..17, "bad list");
        assert_eq!(
            d.to_string(),
            "error: x.toml:2:5: bad list\n  |\n2 | b = [\n  |     ^"
        );
    }

    #[test]
    fn a_diagnostic_about_the_whole_file_names_it() {
        let d = Diagnostic::file("x.toml", "is empty");
        assert_eq!(d.to_string(), "error: x.toml: is empty");
        assert_eq!((d.location(), d.span()), (None, None));
        assert_eq!(d.path(), Path::new("x.toml"));
    }

    #[test]
    fn diagnostics_share_the_source_instead_of_copying_it() {
        let source = Arc::new(SourceFile::new("x.toml", "a = 1\n"));
        let problems: Vec<Diagnostic> = (0..3)
            .map(|i| Diagnostic::at(&source, i..i + 1, "x"))
            .collect();
        assert_eq!(Arc::strong_count(&source), 1 + problems.len());
    }
}
