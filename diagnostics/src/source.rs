//! A file's text with the byte offset where each line starts, so that any offset becomes a
//! line and column by binary search instead of a scan from the start.

use crate::Diagnostic;
use std::fmt;
use std::path::{Path, PathBuf};

/// An input file: its name as the user gave it, its text, and its line index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    name: PathBuf,
    text: String,
    /// Byte offset of the start of every line; the first is 0.
    line_starts: Vec<usize>,
}

/// A 1-based line and column; the column counts characters, not bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

impl SourceFile {
    /// `name` is only for messages: the path as the user gave it.
    pub fn new(name: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        let text = text.into();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        SourceFile {
            name: name.into(),
            text,
            line_starts,
        }
    }

    /// Reads a file; failing that, a diagnostic about it (`cannot read: ...`). A file that is
    /// not UTF-8 is an error at its first byte that is not, shown in the line around it.
    pub fn read(path: &Path) -> Result<Self, Diagnostic> {
        let bytes =
            std::fs::read(path).map_err(|e| Diagnostic::file(path, format!("cannot read: {e}")))?;
        SourceFile::from_bytes(path, bytes)
    }

    /// A file's bytes as text, or the located error of its first byte that is not UTF-8.
    pub fn from_bytes(name: impl Into<PathBuf>, bytes: Vec<u8>) -> Result<Self, Diagnostic> {
        match String::from_utf8(bytes) {
            Ok(text) => Ok(SourceFile::new(name, text)),
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                let byte = e.as_bytes()[at];
                // The text up to the bad byte is the file's own, so the offset is the same in
                // the lossy copy, where the byte shows as U+FFFD (3 bytes).
                let shown = String::from_utf8_lossy(e.as_bytes()).into_owned();
                let source = std::sync::Arc::new(SourceFile::new(name, shown));
                Err(Diagnostic::at(
                    &source,
                    at..at + '\u{FFFD}'.len_utf8(),
                    format!(
                        "the file is not UTF-8 text: byte 0x{byte:02X} here is not part of a character; save it as UTF-8"
                    ),
                ))
            }
        }
    }

    pub fn name(&self) -> &Path {
        &self.name
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The line and column of byte `offset`; past the end it is the end, inside a character
    /// it is that character.
    pub fn location(&self, offset: usize) -> Location {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_starts.partition_point(|&start| start <= offset);
        let start = self.line_starts[line - 1];
        Location {
            line,
            column: self.text[start..offset].chars().count() + 1,
        }
    }

    /// How many characters of `span` are on the line where it starts (a span past the end
    /// of the text has none).
    pub fn width_on_first_line(&self, span: std::ops::Range<usize>) -> usize {
        let boundary = |mut offset: usize| {
            offset = offset.min(self.text.len());
            while !self.text.is_char_boundary(offset) {
                offset -= 1;
            }
            offset
        };
        let (start, end) = (boundary(span.start), boundary(span.end.max(span.start)));
        let text = &self.text[start..end];
        let first_line = text.split(['\n', '\r']).next().unwrap_or("");
        first_line.chars().count()
    }

    /// The text of 1-based `line` without its line ending (`\n` or `\r\n`); empty past the
    /// last line.
    pub fn line_text(&self, line: usize) -> &str {
        let Some(&start) = line.checked_sub(1).and_then(|i| self.line_starts.get(i)) else {
            return "";
        };
        let end = self
            .line_starts
            .get(line)
            .copied()
            .unwrap_or(self.text.len());
        let text = &self.text[start..end];
        match text.strip_suffix('\n') {
            Some(line) => line.strip_suffix('\r').unwrap_or(line),
            None => text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scan every caller did before this crate: count newlines before the offset.
    fn scanned(text: &str, offset: usize) -> Location {
        let before = &text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Location {
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
        }
    }

    #[test]
    fn every_offset_is_where_a_scan_from_the_start_puts_it() {
        let text = "a = 1\n\nnamé = \"x\"\r\nlast";
        let source = SourceFile::new("x.toml", text);
        for (offset, _) in text.char_indices().chain([(text.len(), ' ')]) {
            assert_eq!(source.location(offset), scanned(text, offset), "{offset}");
        }
        assert_eq!(source.location(1000), scanned(text, text.len()));
        // Inside the two bytes of `é`: that character.
        assert_eq!(source.location(11), Location { line: 3, column: 4 });
    }

    #[test]
    fn a_file_that_is_not_utf8_is_an_error_at_its_first_bad_byte() {
        let e = SourceFile::from_bytes("x.toml", b"a = 1\nname = \"\xff\"\n".to_vec()).unwrap_err();
        assert_eq!(e.location(), Some(Location { line: 2, column: 9 }));
        assert_eq!(
            e.to_string(),
            "error: x.toml:2:9: the file is not UTF-8 text: byte 0xFF here is not part of a character; save it as UTF-8\n  |\n2 | name = \"\u{FFFD}\"\n  |         ^"
        );
        let ok = SourceFile::from_bytes("x.toml", "namé".as_bytes().to_vec()).unwrap();
        assert_eq!(ok.text(), "namé");
    }

    #[test]
    fn lines_are_what_str_lines_gives() {
        for text in ["a\nb\r\nc", "a\n", "", "one", "x\r\n\r\ny\r"] {
            let source = SourceFile::new("x", text);
            let lines: Vec<&str> = text.lines().collect();
            for line in 1..=lines.len() + 1 {
                let expected = lines.get(line - 1).copied().unwrap_or("");
                assert_eq!(source.line_text(line), expected, "{text:?} line {line}");
            }
            assert_eq!(source.line_text(0), "");
        }
    }
}
