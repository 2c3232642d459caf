//! Finds the Debian mirror this machine's own apt uses, so the private apt root can reuse it.
//! The repository never names a mirror: whatever the host's sources say is used.

use std::path::{Path, PathBuf};

/// The mirror URIs found in the host's apt sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostMirrors {
    /// Serves the regular suites (bullseye, trixie-backports, sid, ...).
    pub archive: String,
    /// Serves the `*-security` suites, when the host has one configured.
    pub security: Option<String>,
    /// The keyring the host's sources are verified with.
    pub keyring: PathBuf,
}

/// Why no mirror could be found.
#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    /// None of the source files names a `deb` mirror for regular suites.
    #[error(
        "no Debian mirror found in the host's apt sources ({}); \
         the kernels are downloaded with apt from the same mirror the host uses",
        searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    NotFound { searched: Vec<PathBuf> },
}

/// Debian's archive keyring; it verifies bullseye through sid.
const DEFAULT_KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

/// One `deb` source: a URI and its suites.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Source {
    uri: String,
    suites: Vec<String>,
    signed_by: Option<PathBuf>,
}

impl HostMirrors {
    /// Reads `/etc/apt/sources.list` and `/etc/apt/sources.list.d/*.{list,sources}`.
    pub fn from_host() -> Result<Self, MirrorError> {
        Self::from_dir(Path::new("/etc/apt"))
    }

    /// Reads the sources under an apt configuration directory (tests use a fixture).
    pub fn from_dir(etc_apt: &Path) -> Result<Self, MirrorError> {
        let mut files = vec![etc_apt.join("sources.list")];
        if let Ok(entries) = std::fs::read_dir(etc_apt.join("sources.list.d")) {
            let mut parts: Vec<PathBuf> =
                entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            parts.sort();
            files.extend(parts);
        }
        let mut sources = Vec::new();
        for file in &files {
            let Ok(text) = std::fs::read_to_string(file) else {
                continue;
            };
            match file.extension().and_then(|e| e.to_str()) {
                Some("sources") => sources.extend(parse_deb822(&text)),
                _ if file.file_name().is_some_and(|n| n == "sources.list")
                    || file.extension().is_some_and(|e| e == "list") =>
                {
                    sources.extend(parse_one_line(&text))
                }
                _ => {}
            }
        }
        Self::from_sources(&sources).ok_or(MirrorError::NotFound { searched: files })
    }

    fn from_sources(sources: &[Source]) -> Option<Self> {
        let is_security = |s: &Source| s.suites.iter().any(|suite| suite.ends_with("-security"));
        let archive = sources.iter().find(|s| !is_security(s))?;
        let security = sources.iter().find(|s| is_security(s));
        Some(Self {
            archive: archive.uri.trim_end_matches('/').to_owned(),
            security: security.map(|s| s.uri.trim_end_matches('/').to_owned()),
            keyring: archive
                .signed_by
                .clone()
                .unwrap_or_else(|| PathBuf::from(DEFAULT_KEYRING)),
        })
    }

    /// The URI serving `suite`.
    pub fn uri_for(&self, suite: &str) -> Option<&str> {
        if suite.ends_with("-security") {
            self.security.as_deref()
        } else {
            Some(&self.archive)
        }
    }
}

/// Parses deb822 `.sources` paragraphs (`Types:`, `URIs:`, `Suites:`, `Signed-By:`).
fn parse_deb822(text: &str) -> Vec<Source> {
    let mut sources = Vec::new();
    for paragraph in text.split("\n\n") {
        let mut types = Vec::new();
        let mut uris = Vec::new();
        let mut suites = Vec::new();
        let mut signed_by = None;
        let mut enabled = true;
        for line in paragraph.lines() {
            if line.starts_with('#') || line.starts_with(char::is_whitespace) {
                continue;
            }
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let words = || value.split_whitespace().map(str::to_owned);
            match key.trim().to_ascii_lowercase().as_str() {
                "types" => types.extend(words()),
                "uris" => uris.extend(words()),
                "suites" => suites.extend(words()),
                "enabled" => enabled = value.trim() != "no",
                "signed-by" if value.trim().starts_with('/') => {
                    signed_by = Some(PathBuf::from(value.trim()))
                }
                _ => {}
            }
        }
        if enabled && types.iter().any(|t| t == "deb") {
            for uri in uris {
                sources.push(Source {
                    uri,
                    suites: suites.clone(),
                    signed_by: signed_by.clone(),
                });
            }
        }
    }
    sources
}

/// Parses one-line `deb [options] URI suite components...` entries.
fn parse_one_line(text: &str) -> Vec<Source> {
    text.lines()
        .filter_map(|line| {
            let line = line.split('#').next()?.trim();
            let rest = line.strip_prefix("deb ")?.trim_start();
            let (options, rest) = match rest.strip_prefix('[') {
                Some(after) => after.split_once(']')?,
                None => ("", rest),
            };
            let mut words = rest.split_whitespace();
            let uri = words.next()?.to_owned();
            let suite = words.next()?.to_owned();
            let signed_by = options
                .split_whitespace()
                .find_map(|o| o.strip_prefix("signed-by="))
                .map(PathBuf::from);
            Some(Source {
                uri,
                suites: vec![suite],
                signed_by,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Host names here are placeholders of the reserved .invalid domain.
    const DEB822: &str = "Types: deb\nURIs: http://mirror.invalid/debian\nSuites: bookworm bookworm-updates\n\
Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n\
Types: deb\nURIs: http://mirror.invalid/debian-security/\nSuites: bookworm-security\nComponents: main\n";

    #[test]
    fn reads_deb822_archive_and_security() {
        let mirrors = HostMirrors::from_sources(&parse_deb822(DEB822)).unwrap();
        assert_eq!(mirrors.archive, "http://mirror.invalid/debian");
        assert_eq!(
            mirrors.security.as_deref(),
            Some("http://mirror.invalid/debian-security")
        );
        assert_eq!(mirrors.uri_for("sid"), Some("http://mirror.invalid/debian"));
        assert_eq!(
            mirrors.uri_for("trixie-security"),
            Some("http://mirror.invalid/debian-security")
        );
    }

    #[test]
    fn reads_one_line_sources_and_skips_deb_src() {
        let text = "# comment\ndeb-src http://src.invalid/debian bookworm main\n\
deb [arch=amd64 signed-by=/k.gpg] http://a.invalid/debian bookworm main\n";
        let mirrors = HostMirrors::from_sources(&parse_one_line(text)).unwrap();
        assert_eq!(mirrors.archive, "http://a.invalid/debian");
        assert_eq!(mirrors.keyring, PathBuf::from("/k.gpg"));
        assert_eq!(mirrors.security, None);
        assert_eq!(mirrors.uri_for("bookworm-security"), None);
    }

    #[test]
    fn a_directory_without_sources_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = HostMirrors::from_dir(dir.path()).unwrap_err().to_string();
        assert!(err.starts_with("no Debian mirror found"), "{err}");
    }
}
