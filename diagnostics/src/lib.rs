//! Located errors in input files, the way compilers print them:
//!
//! ```text
//! error: cluster.toml:7:17: service `web` calls `db`, which is not defined
//!   |
//! 7 | calls = ["api", "db"]
//!   |                 ^^^^
//! ```
//!
//! A [`SourceFile`] is a file's name and text with its line index, built once; a
//! [`Diagnostic`] is one problem at a byte span of it (or about the file as a whole) and
//! shares the source through an `Arc`, so a hundred problems keep one copy of the text;
//! [`Diagnostics`] are all the problems one pass found, shown one after the other.
//!
//! ```
//! use meshtwin_diagnostics::{Diagnostic, Diagnostics, Location, SourceFile};
//! use std::sync::Arc;
//!
//! let source = Arc::new(SourceFile::new("x.toml", "a = 1\nbad = 2\n"));
//! let mut problems = Diagnostics::new();
//! problems.push(Diagnostic::at(&source, 6..9, "unknown key `bad`"));
//! assert_eq!(problems.iter().next().unwrap().location(), Some(Location { line: 2, column: 1 }));
//! assert_eq!(
//!     problems.to_string(),
//!     "error: x.toml:2:1: unknown key `bad`\n  |\n2 | bad = 2\n  | ^^^"
//! );
//! assert!(problems.into_result(()).is_err());
//! ```

mod diagnostic;
mod diagnostics;
mod source;
#[cfg(feature = "toml")]
mod toml_error;

pub use diagnostic::Diagnostic;
pub use diagnostics::Diagnostics;
pub use source::{Location, SourceFile};
