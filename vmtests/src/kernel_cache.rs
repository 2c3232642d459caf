//! The kernel cache under the user's cache directory: downloaded `.deb`s keyed by package
//! version, their SHA-256 recorded on first download and checked on every later use, and the
//! tree `dpkg-deb -x` made of them.
//!
//! ```text
//! ~/.cache/meshtwin/
//!   apt/                              private apt root (lists, apt.conf)
//!   kernels/<version>/
//!     <package>_<version>_amd64.deb
//!     SHA256SUMS                      recorded when each .deb first arrived
//!     root-<packages hash>/           dpkg-deb -x of all the kernel's packages
//! ```

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::apt_root::{deb_file_name, LazyAptRoot};
use crate::catalog::{KernelSpec, PackagePin};
use crate::file_lock::{lock_exclusive, FileLock};

/// Where cached kernels live, and the lock that keeps two runs from filling it at once.
#[derive(Debug)]
pub struct KernelCache {
    root: PathBuf,
    _lock: FileLock,
}

/// A kernel ready to boot: its image and its module tree on disk.
#[derive(Debug, Clone)]
pub struct CachedKernel {
    /// Name from kernels.toml.
    pub name: String,
    /// What `uname -r` will say (the modules directory's name).
    pub release: String,
    /// The image as packaged (a bzImage).
    pub vmlinuz: PathBuf,
    /// What to boot: the ELF vmlinux extracted from `vmlinuz` when it has a PVH entry (much
    /// faster under TCG), else `vmlinuz` itself.
    pub boot_image: PathBuf,
    /// Which of the two `boot_image` is, and why.
    pub boot_note: String,
    /// `lib/modules/<release>` inside the extracted tree.
    pub modules_dir: PathBuf,
    /// Whether anything had to be downloaded this time.
    pub downloaded: bool,
}

/// What went wrong filling or reading the cache.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// Neither $MESHTWIN_CACHE_DIR, $XDG_CACHE_HOME nor $HOME is set.
    #[error("no cache directory: set MESHTWIN_CACHE_DIR, XDG_CACHE_HOME or HOME")]
    NoCacheDir,
    /// A file or directory of the cache could not be read or written.
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A cached `.deb` no longer matches the checksum recorded when it was downloaded.
    #[error(
        "{} does not match the SHA-256 recorded on its first download in {} \
         (recorded {expected}, now {actual}); delete {} to download it again",
        file.display(), sums.display(), file.display()
    )]
    ChecksumMismatch {
        file: PathBuf,
        sums: PathBuf,
        expected: String,
        actual: String,
    },
    /// Downloading failed; the inner error says which package and what to change.
    #[error(transparent)]
    Apt(#[from] crate::apt_root::AptError),
    /// `dpkg-deb -x` failed.
    #[error("`dpkg-deb -x {}` failed: {detail}", deb.display())]
    Extract { deb: PathBuf, detail: String },
    /// The extracted packages hold no kernel image or no module tree.
    #[error("kernel `{kernel}` ({location}): {problem} in the extracted packages at {}", root.display())]
    Layout {
        kernel: String,
        location: String,
        problem: String,
        root: PathBuf,
    },
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> CacheError {
    let path = path.to_owned();
    move |source| CacheError::Io {
        action,
        path,
        source,
    }
}

/// The user cache directory for meshtwin: $MESHTWIN_CACHE_DIR, else $XDG_CACHE_HOME/meshtwin,
/// else ~/.cache/meshtwin.
pub fn default_cache_dir() -> Result<PathBuf, CacheError> {
    let non_empty = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = non_empty("MESHTWIN_CACHE_DIR") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = non_empty("XDG_CACHE_HOME") {
        return Ok(PathBuf::from(dir).join("meshtwin"));
    }
    non_empty("HOME")
        .map(|home| PathBuf::from(home).join(".cache/meshtwin"))
        .ok_or(CacheError::NoCacheDir)
}

impl KernelCache {
    /// Opens (creating) the cache at `root` and takes its lock; a second run waits here.
    pub fn open(root: &Path) -> Result<Self, CacheError> {
        std::fs::create_dir_all(root.join("kernels")).map_err(io("cannot create", root))?;
        let lock_path = root.join("lock");
        let lock = lock_exclusive(&lock_path, || {
            eprintln!(
                "waiting for another run that is filling the kernel cache ({})",
                lock_path.display()
            )
        })
        .map_err(io("cannot lock", &lock_path))?;
        Ok(Self {
            root: root.to_owned(),
            _lock: lock,
        })
    }

    /// The private apt root's directory.
    pub fn apt_dir(&self) -> PathBuf {
        self.root.join("apt")
    }

    fn kernel_dir(&self, kernel: &KernelSpec) -> PathBuf {
        self.root.join("kernels").join(&kernel.packages[0].version)
    }

    /// True when every package of `kernel` is cached (nothing to download).
    pub fn has_all_packages(&self, kernel: &KernelSpec) -> bool {
        let dir = self.kernel_dir(kernel);
        kernel
            .packages
            .iter()
            .all(|p| dir.join(deb_file_name(p)).is_file())
    }

    /// Makes `kernel` ready to boot: downloads what is missing through `apt` (called only when
    /// something is missing), verifies every `.deb` against its recorded checksum, and extracts
    /// them once.
    pub fn provision(
        &self,
        kernel: &KernelSpec,
        apt: &mut LazyAptRoot,
    ) -> Result<CachedKernel, CacheError> {
        let dir = self.kernel_dir(kernel);
        std::fs::create_dir_all(&dir).map_err(io("cannot create", &dir))?;
        let sums_path = dir.join("SHA256SUMS");
        let mut sums = read_sums(&sums_path)?;

        let mut downloaded = false;
        let mut debs = Vec::new();
        for package in &kernel.packages {
            let file_name = deb_file_name(package);
            let path = dir.join(&file_name);
            if path.is_file() && !sums.contains_key(&file_name) {
                // Present but never recorded (a run died between download and record):
                // it cannot be trusted, so fetch it again.
                std::fs::remove_file(&path).map_err(io("cannot remove", &path))?;
            }
            if !path.is_file() {
                let fetched =
                    apt.get()?
                        .download(package, &kernel.suite, &dir, &kernel.location)?;
                debug_assert_eq!(fetched, path);
                downloaded = true;
            }
            let actual = sha256_file(&path)?;
            match sums.get(&file_name) {
                Some(expected) if *expected != actual => {
                    return Err(CacheError::ChecksumMismatch {
                        file: path,
                        sums: sums_path,
                        expected: expected.clone(),
                        actual,
                    })
                }
                Some(_) => {}
                None => {
                    sums.insert(file_name, actual);
                    write_sums(&sums_path, &sums)?;
                }
            }
            debs.push(path);
        }

        let key = packages_key(&kernel.packages);
        let tree = dir.join(format!("root-{key}"));
        if downloaded || !tree.is_dir() {
            extract(&debs, &tree)?;
        }
        let mut cached = locate_kernel(kernel, &tree, downloaded)?;
        let vmlinux = dir.join(format!("vmlinux-{key}"));
        if downloaded || !vmlinux.is_file() {
            if let Err(e) = crate::vmlinux::extract(&cached.vmlinuz, &vmlinux) {
                cached.boot_note = format!("bzImage (no ELF vmlinux: {e})");
                return Ok(cached);
            }
        }
        cached.boot_image = vmlinux;
        cached.boot_note = "ELF vmlinux, PVH entry".to_owned();
        Ok(cached)
    }
}

/// A short stable key for a package set, so two kernels sharing a version dir (image flavours)
/// never share an extracted tree.
fn packages_key(packages: &[PackagePin]) -> String {
    let mut hasher = Sha256::new();
    for p in packages {
        hasher.update(p.name.as_bytes());
        hasher.update(b"=");
        hasher.update(p.version.as_bytes());
        hasher.update(b"\n");
    }
    hex(&hasher.finalize()[..6])
}

fn extract(debs: &[PathBuf], tree: &Path) -> Result<(), CacheError> {
    let partial = tree.with_extension("partial");
    for stale in [&partial, &tree.to_path_buf()] {
        if stale.exists() {
            std::fs::remove_dir_all(stale).map_err(io("cannot remove", stale))?;
        }
    }
    std::fs::create_dir_all(&partial).map_err(io("cannot create", &partial))?;
    for deb in debs {
        let output = Command::new("dpkg-deb")
            .arg("-x")
            .arg(deb)
            .arg(&partial)
            .output()
            .map_err(|e| CacheError::Extract {
                deb: deb.clone(),
                detail: match e.kind() {
                    std::io::ErrorKind::NotFound => {
                        "dpkg-deb not found (install dpkg: apt-get install -y dpkg)".to_owned()
                    }
                    _ => e.to_string(),
                },
            })?;
        if !output.status.success() {
            return Err(CacheError::Extract {
                deb: deb.clone(),
                detail: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            });
        }
    }
    // Renamed only when complete, so a half-extracted tree is never taken for a cached one.
    std::fs::rename(&partial, tree).map_err(io("cannot rename", &partial))
}

/// Finds the image and modules in an extracted tree: `boot/vmlinuz-<release>` (up to 6.x) or
/// `usr/lib/modules/<release>/vmlinuz` (7.x), modules under `lib/` or `usr/lib/modules`.
fn locate_kernel(
    kernel: &KernelSpec,
    tree: &Path,
    downloaded: bool,
) -> Result<CachedKernel, CacheError> {
    let layout = |problem: String| CacheError::Layout {
        kernel: kernel.name.clone(),
        location: kernel.location.clone(),
        problem,
        root: tree.to_owned(),
    };
    let mut module_dirs = Vec::new();
    for base in ["lib/modules", "usr/lib/modules"] {
        if let Ok(entries) = std::fs::read_dir(tree.join(base)) {
            for entry in entries.filter_map(Result::ok) {
                if entry.path().join("kernel").is_dir() {
                    module_dirs.push(entry.path());
                }
            }
        }
    }
    let modules_dir = match module_dirs.as_slice() {
        [one] => one.clone(),
        [] => {
            return Err(layout(
                "no lib/modules/<release>/kernel directory (is the modules package listed?)"
                    .to_owned(),
            ))
        }
        many => {
            return Err(layout(format!(
                "several module trees ({}); list one kernel's packages only",
                many.iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
    };
    let release = modules_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let vmlinuz = [
        tree.join(format!("boot/vmlinuz-{release}")),
        modules_dir.join("vmlinuz"),
    ]
    .into_iter()
    .find(|p| p.is_file())
    .ok_or_else(|| {
        layout(format!(
            "no kernel image (boot/vmlinuz-{release} or {}/vmlinuz; is the image package listed?)",
            modules_dir.display()
        ))
    })?;
    Ok(CachedKernel {
        name: kernel.name.clone(),
        release,
        boot_image: vmlinuz.clone(),
        boot_note: "bzImage".to_owned(),
        vmlinuz,
        modules_dir,
        downloaded,
    })
}

fn read_sums(path: &Path) -> Result<BTreeMap<String, String>, CacheError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(io("cannot read", path)(e)),
    };
    // sha256sum's format: `<hex>  <file>`.
    Ok(text
        .lines()
        .filter_map(|line| {
            let (sum, file) = line.split_once("  ")?;
            Some((file.trim().to_owned(), sum.trim().to_owned()))
        })
        .collect())
}

fn write_sums(path: &Path, sums: &BTreeMap<String, String>) -> Result<(), CacheError> {
    let text: String = sums
        .iter()
        .map(|(file, sum)| format!("{sum}  {file}\n"))
        .collect();
    let partial = path.with_extension("partial");
    std::fs::write(&partial, text).map_err(io("cannot write", &partial))?;
    std::fs::rename(&partial, path).map_err(io("cannot write", path))
}

/// SHA-256 of a file, as lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String, CacheError> {
    let mut file = File::open(path).map_err(io("cannot open", path))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buffer).map_err(io("cannot read", path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_round_trip_in_sha256sum_format() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("SHA256SUMS");
        let mut sums = BTreeMap::new();
        sums.insert("a_1_amd64.deb".to_owned(), "ab".repeat(32));
        write_sums(&path, &sums).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, format!("{}  a_1_amd64.deb\n", "ab".repeat(32)));
        assert_eq!(read_sums(&path).unwrap(), sums);
    }

    #[test]
    fn hashes_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"abc").unwrap();
        assert_eq!(
            sha256_file(&path).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn finds_both_debian_layouts() {
        let spec = KernelSpec {
            name: "t".into(),
            suite: "sid".into(),
            packages: vec![],
            timeout: std::time::Duration::from_secs(1),
            memory: "1G".into(),
            cpus: 1,
            modules: vec![],
            location: "kernels.toml:1".into(),
        };
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old");
        std::fs::create_dir_all(old.join("lib/modules/5.10.0-43-amd64/kernel")).unwrap();
        std::fs::create_dir_all(old.join("boot")).unwrap();
        std::fs::write(old.join("boot/vmlinuz-5.10.0-43-amd64"), b"").unwrap();
        let k = locate_kernel(&spec, &old, false).unwrap();
        assert_eq!(k.release, "5.10.0-43-amd64");

        let new = dir.path().join("new");
        let modules = new.join("usr/lib/modules/7.3.4+deb13-amd64");
        std::fs::create_dir_all(modules.join("kernel")).unwrap();
        std::fs::write(modules.join("vmlinuz"), b"").unwrap();
        let k = locate_kernel(&spec, &new, false).unwrap();
        assert_eq!(k.vmlinuz, modules.join("vmlinuz"));

        let empty = dir.path().join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        let err = locate_kernel(&spec, &empty, false).unwrap_err().to_string();
        assert!(err.contains("no lib/modules/<release>/kernel"), "{err}");
    }
}
