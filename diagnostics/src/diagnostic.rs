//! One problem in an input file, rendered `error: file:line:column: message` with the
//! offending line and a caret under the span, and any notes about other places (the line of
//! another file that led to this one), rendered the same way as `note: ...`.

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
    /// Other places that explain this problem, shown after it.
    notes: Vec<(Place, String)>,
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
    /// A problem at byte range `span` of `source`. The message must say something: an empty
    /// one is a bug of the caller (debug builds stop on it).
    pub fn at(source: &Arc<SourceFile>, span: Range<usize>, message: impl Into<String>) -> Self {
        Diagnostic {
            place: Place::Span {
                source: Arc::clone(source),
                span,
            },
            message: non_empty(message.into()),
            notes: Vec::new(),
        }
    }

    /// A problem with the file at `path` as a whole; shown without a line.
    pub fn file(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Diagnostic {
            place: Place::File(path.into()),
            message: non_empty(message.into()),
            notes: Vec::new(),
        }
    }

    /// Adds a note at byte range `span` of `source`: for a problem found in a file that
    /// another one names, the line that names it.
    pub fn with_note_at(
        mut self,
        source: &Arc<SourceFile>,
        span: Range<usize>,
        message: impl Into<String>,
    ) -> Self {
        let place = Place::Span {
            source: Arc::clone(source),
            span,
        };
        self.notes.push((place, non_empty(message.into())));
        self
    }

    /// The notes, each with its file and, when it has one, its line and column.
    pub fn notes(&self) -> impl Iterator<Item = (&Path, Option<Location>, &str)> {
        self.notes
            .iter()
            .map(|(place, message)| (place.path(), place.location(), message.as_str()))
    }

    /// The file, as the user named it.
    pub fn path(&self) -> &Path {
        self.place.path()
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
        self.place.location()
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl Place {
    fn path(&self) -> &Path {
        match self {
            Place::File(path) => path,
            Place::Span { source, .. } => source.name(),
        }
    }

    fn location(&self) -> Option<Location> {
        match self {
            Place::File(_) => None,
            Place::Span { source, span } => Some(source.location(span.start)),
        }
    }

    /// `kind: file:line:column: message`, the line and a caret under the span (or
    /// `kind: file: message` for the whole file).
    fn render(&self, f: &mut fmt::Formatter<'_>, kind: &str, message: &str) -> fmt::Result {
        let (source, span) = match self {
            Place::File(path) => {
                return write!(f, "{kind}: {}: {message}", path.display());
            }
            Place::Span { source, span } => (source, span),
        };
        let Location { line, column } = source.location(span.start);
        writeln!(
            f,
            "{kind}: {}:{line}:{column}: {message}",
            source.name().display(),
        )?;
        let text = source.line_text(line);
        // Underline the span on its first line only; multi-line spans get a single caret run.
        let width = source.width_on_first_line(span.clone()).max(1);
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

/// A message, or a placeholder that says an empty one is a bug rather than print nothing.
fn non_empty(message: String) -> String {
    debug_assert!(!message.trim().is_empty(), "a diagnostic needs a message");
    if message.trim().is_empty() {
        "(no message: please report this as a bug of meshtwin)".to_string()
    } else {
        message
    }
}

/// The display, apart so that the derived `Error` can name it.
struct Rendered<'a>(&'a Diagnostic);

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        d.place.render(f, "error", &d.message)?;
        for (place, message) in &d.notes {
            writeln!(f)?;
            place.render(f, "note", message)?;
        }
        Ok(())
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
    fn a_note_names_the_other_file_and_its_line() {
        let cluster = Arc::new(SourceFile::new(
            "c.toml",
            "[latency]\nenvoy_histogram = \"h.csv\"\n",
        ));
        let histogram = Arc::new(SourceFile::new("h.csv", "50,1\n40,2\n"));
        let d = Diagnostic::at(&histogram, 5..9, "latencies must increase").with_note_at(
            &cluster,
            28..35,
            "the histogram named here",
        );
        assert_eq!(
            d.to_string(),
            "error: h.csv:2:1: latencies must increase\n  |\n2 | 40,2\n  | ^^^^\n\
             note: c.toml:2:19: the histogram named here\n  |\n\
             2 | envoy_histogram = \"h.csv\"\n  |                   ^^^^^^^"
        );
        let notes: Vec<_> = d.notes().collect();
        assert_eq!(
            notes,
            vec![(
                Path::new("c.toml"),
                Some(Location {
                    line: 2,
                    column: 19
                }),
                "the histogram named here"
            )]
        );
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
