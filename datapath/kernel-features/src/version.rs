//! Kernel versions as kernels.toml and `uname -r` write them.
//!
//! No dependencies: the build script compiles this file too (`#[path]`), so the table's
//! versions are parsed by the same code at build time as the running kernel's at run time.

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionError {
    /// The text that did not parse.
    pub text: String,
}

impl fmt::Display for VersionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not a kernel version: expected MAJOR.MINOR or MAJOR.MINOR.PATCH, like 5.10",
            self.text
        )
    }
}

impl std::error::Error for VersionError {}

impl KernelVersion {
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        Self {
            major,
            minor,
            patch,
        }
    }

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

    /// The running kernel, from `/proc/sys/kernel/osrelease` (what `uname -r` prints).
    pub fn running() -> Result<Self, String> {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map_err(|error| format!("cannot read /proc/sys/kernel/osrelease: {error}"))?;
        Self::from_release(release.trim()).map_err(|error| error.to_string())
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
        Ok(Self::new(numbers[0], numbers[1], numbers[2]))
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
        assert_eq!(v("5.10"), KernelVersion::new(5, 10, 0));
        assert_eq!(v("6.12.117").patch, 117);
        for bad in ["5", "5.", ".10", "5.10.1.2", "5.x", "v5.10", ""] {
            assert!(bad.parse::<KernelVersion>().is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn reads_distribution_release_strings() {
        assert_eq!(
            KernelVersion::from_release("5.10.0-43-amd64").unwrap(),
            v("5.10.0")
        );
        assert_eq!(
            KernelVersion::from_release("6.12.117+deb13-amd64").unwrap(),
            v("6.12.117")
        );
        assert_eq!(
            KernelVersion::from_release("6.18.44-fc-v595").unwrap(),
            v("6.18.44")
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

    #[test]
    fn prints_without_a_zero_patch() {
        assert_eq!(v("6.6").to_string(), "6.6");
        assert_eq!(v("6.6.0").to_string(), "6.6");
        assert_eq!(v("6.6.3").to_string(), "6.6.3");
    }
}
