//! TOML syntax and schema errors, located: the `toml` crate knows the span of an unknown key
//! or a wrong type, and its own message repeats the location, so only the message body is kept.

use crate::{Diagnostic, SourceFile};
use std::sync::Arc;

impl Diagnostic {
    /// A `toml` deserialisation error of `source`, at its span (or about the whole file when
    /// it has none).
    pub fn from_toml(source: &Arc<SourceFile>, error: &toml::de::Error) -> Self {
        let message = error.message().trim();
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
}
