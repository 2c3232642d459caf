//! TOML syntax and schema errors, located: the `toml` crate knows the span of an unknown key
//! or a wrong type, and its own message repeats the location, so only the message body is kept.

use crate::{Diagnostic, SourceFile};
use std::sync::Arc;

impl Diagnostic {
    /// A `toml` deserialisation error of `source`, at its span (or about the whole file when
    /// it has none).
    pub fn from_toml(source: &Arc<SourceFile>, error: &toml::de::Error) -> Self {
        let message = match error.message().trim() {
            // The parser gives no words when the text ends where a value must come (`a =`).
            "" => "incomplete TOML: a value is missing here",
            message => message,
        };
        match error.span() {
            Some(span) => Diagnostic::at(source, span, message),
            None => Diagnostic::file(source.name(), message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Location;

    #[test]
    fn a_syntax_error_is_located_with_the_message_body_only() {
        let source = Arc::new(SourceFile::new(
            "x.toml",
            "a = 1
b = = 2
",
        ));
        let error = toml::from_str::<toml::Table>(source.text()).unwrap_err();
        let d = Diagnostic::from_toml(&source, &error);
        assert_eq!(d.location(), Some(Location { line: 2, column: 5 }));
        assert!(!d.message().contains("line 2"), "{}", d.message());
    }

    #[test]
    fn a_missing_value_at_the_end_of_the_file_still_has_a_message() {
        let source = Arc::new(SourceFile::new("x.toml", "[cluster]\nnodes ="));
        let error = toml::from_str::<toml::Table>(source.text()).unwrap_err();
        let d = Diagnostic::from_toml(&source, &error);
        assert_eq!(d.location(), Some(Location { line: 2, column: 8 }));
        assert_eq!(d.message(), "incomplete TOML: a value is missing here");
    }
}
