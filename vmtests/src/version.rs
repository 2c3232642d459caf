//! Kernel versions as the feature table and `uname -r` write them.

use std::fmt;
use std::str::FromStr;

/// An upstream kernel version: `MAJOR.MINOR[.PATCH]`. Distribution suffixes of `uname -r`
/// (`-43-amd64`, `+deb13-amd64`) are not part of it: a feature arrives with an upstream release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KernelVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

/// Why a string is not a kernel version.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{text}` is not a kernel version: expected MAJOR.MINOR or MAJOR.MINOR.PATCH, like 5.10")]
pub struct VersionError {
    /// The text that did not parse.
    pub text: String,
}

impl KernelVersion {
    /// Reads the leading `MAJOR.MINOR[.PATCH]` of a release string such as `uname -r` prints
    /// (`6.12.117+deb13-amd64` -> 6.12.117, `5.10.0-43-amd64` -> 5.10.0).
    pub fn from_release(release: &str) -> Result<Self, VersionError> {
        let end = release
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(release.len());
        release[..end]
            .trim_end_matches('.')
            .parse()
            .map_err(|_| VersionError {
                text: release.to_owned(),
            })
    }
}

impl FromStr for KernelVersion {
    type Err = VersionError;

    /// Parses exactly `MAJOR.MINOR` or `MAJOR.MINOR.PATCH`, nothing around it.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || VersionError {
            text: text.to_owned(),
        };
        let parts: Vec<&str> = text.split('.').collect();
        if !(2..=3).contains(&parts.len()) {
            return Err(error());
        }
        let mut numbers = [0u32; 3];
        for (slot, part) in numbers.iter_mut().zip(&parts) {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(error());
            }
            *slot = part.parse().map_err(|_| error())?;
        }
        Ok(Self {
            major: numbers[0],
            minor: numbers[1],
            patch: numbers[2],
        })
    }
}

impl fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.patch == 0 {
            write!(f, "{}.{}", self.major, self.minor)
        } else {
            write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> KernelVersion {
        text.parse().unwrap()
    }

    #[test]
    fn parses_the_table_form() {
        assert_eq!(
            v("5.10"),
            KernelVersion {
                major: 5,
                minor: 10,
                patch: 0
            }
        );
        assert_eq!(v("6.12.117").patch, 117);
        for bad in ["5", "5.", ".10", "5.10.1.2", "5.x", "v5.10", ""] {
            assert!(bad.parse::<KernelVersion>().is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn reads_debian_release_strings() {
        assert_eq!(
            KernelVersion::from_release("5.10.0-43-amd64").unwrap(),
            v("5.10.0")
        );
        assert_eq!(
            KernelVersion::from_release("6.12.117+deb13-amd64").unwrap(),
            v("6.12.117")
        );
        assert_eq!(KernelVersion::from_release("7.3.4").unwrap(), v("7.3.4"));
        assert!(KernelVersion::from_release("amd64").is_err());
    }

    #[test]
    fn orders_numerically_not_as_text() {
        assert!(v("6.12") > v("6.1"));
        assert!(v("6.1.192") > v("6.1"));
        assert!(v("5.10") > v("5.9.1"));
        assert!(v("10.0") > v("9.99"));
    }
}
