//! Kernel modules of an extracted Debian kernel: finds a module by name, reads its
//! dependencies from its own `.modinfo` section (Debian's packages ship no modules.dep; depmod
//! writes it at install time) and returns them in load order, decompressed.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use object::{Object, ObjectSection};

/// The modules of one kernel, indexed by name.
#[derive(Debug)]
pub struct ModuleTree {
    dir: PathBuf,
    /// Module name (with `_`, never `-`) -> file.
    files: BTreeMap<String, PathBuf>,
    /// Names in modules.builtin, when the packages ship that file (7.x's do not).
    builtin: Option<HashSet<String>>,
}

/// A module ready to go into the initramfs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadableModule {
    pub name: String,
    /// Plain ELF, as `insmod` takes it.
    pub elf: Vec<u8>,
}

/// What was found for the modules asked for.
#[derive(Debug, Default)]
pub struct Resolution {
    /// Modules to insmod, dependencies first.
    pub load_order: Vec<LoadableModule>,
    /// Asked-for modules that are built into the kernel.
    pub builtin: Vec<String>,
}

/// Why a module could not be provided.
#[derive(Debug, thiserror::Error)]
pub enum ModuleError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The module is neither a file nor listed as built in.
    #[error(
        "module `{name}` is not in {} and not built into the kernel; \
         remove it from `modules` in kernels.toml or pick a kernel that has it",
        dir.display()
    )]
    Missing { name: String, dir: PathBuf },
    /// The file is not a module we can read (bad ELF, bad xz, unknown compression).
    #[error("{}: {problem}", path.display())]
    Unreadable { path: PathBuf, problem: String },
}

impl ModuleTree {
    /// Indexes `modules_dir` (`.../lib/modules/<release>`).
    pub fn open(modules_dir: &Path) -> Result<Self, ModuleError> {
        let mut files = BTreeMap::new();
        let mut pending = vec![modules_dir.join("kernel")];
        while let Some(dir) = pending.pop() {
            let entries = std::fs::read_dir(&dir).map_err(|source| ModuleError::Io {
                path: dir.clone(),
                source,
            })?;
            for entry in entries.filter_map(Result::ok) {
                let path = entry.path();
                if path.is_dir() {
                    pending.push(path);
                } else if let Some(name) = module_name(&path) {
                    files.insert(name, path);
                }
            }
        }
        let builtin = std::fs::read_to_string(modules_dir.join("modules.builtin"))
            .ok()
            .map(|text| {
                text.lines()
                    .filter_map(|l| module_name(Path::new(l)))
                    .collect()
            });
        Ok(Self {
            dir: modules_dir.to_owned(),
            files,
            builtin,
        })
    }

    /// The modules to load for `wanted`, each after the modules it depends on.
    pub fn resolve(&self, wanted: &[String]) -> Result<Resolution, ModuleError> {
        let mut resolution = Resolution::default();
        let mut done = HashSet::new();
        for name in wanted {
            let name = name.replace('-', "_");
            if !self.files.contains_key(&name) {
                let listed_builtin = self.builtin.as_ref().map(|b| b.contains(&name));
                match listed_builtin {
                    // Without modules.builtin a missing file is taken as built in; if it is
                    // really absent, the guest's mount or test fails and says so.
                    Some(true) | None => resolution.builtin.push(name),
                    Some(false) => {
                        return Err(ModuleError::Missing {
                            name,
                            dir: self.dir.clone(),
                        })
                    }
                }
                continue;
            }
            self.visit(&name, &mut done, &mut resolution.load_order)?;
        }
        Ok(resolution)
    }

    fn visit(
        &self,
        name: &str,
        done: &mut HashSet<String>,
        order: &mut Vec<LoadableModule>,
    ) -> Result<(), ModuleError> {
        if !done.insert(name.to_owned()) {
            return Ok(());
        }
        // Dependencies named in .modinfo are always modules (the kernel's build only lists
        // symbols exported by modules), so a missing one is an error.
        let path = self.files.get(name).ok_or_else(|| ModuleError::Missing {
            name: name.to_owned(),
            dir: self.dir.clone(),
        })?;
        let elf = read_module(path)?;
        for dependency in depends(&elf).map_err(|problem| ModuleError::Unreadable {
            path: path.clone(),
            problem,
        })? {
            self.visit(&dependency, done, order)?;
        }
        order.push(LoadableModule {
            name: name.to_owned(),
            elf,
        });
        Ok(())
    }
}

/// `kernel/fs/9p/9p.ko.xz` -> `9p`; `-` becomes `_` as the kernel treats them alike.
fn module_name(path: &Path) -> Option<String> {
    let file = path.file_name()?.to_str()?;
    let stem = file
        .strip_suffix(".ko")
        .or_else(|| file.strip_suffix(".ko.xz"))
        .or_else(|| file.strip_suffix(".ko.zst"))
        .or_else(|| file.strip_suffix(".ko.gz"))?;
    Some(stem.replace('-', "_"))
}

/// Reads a module file, decompressing `.ko.xz`.
fn read_module(path: &Path) -> Result<Vec<u8>, ModuleError> {
    let data = std::fs::read(path).map_err(|source| ModuleError::Io {
        path: path.to_owned(),
        source,
    })?;
    let name = path.to_string_lossy();
    if name.ends_with(".ko") {
        Ok(data)
    } else if name.ends_with(".ko.xz") {
        let mut elf = Vec::with_capacity(data.len() * 4);
        xz2::read::XzDecoder::new(data.as_slice())
            .read_to_end(&mut elf)
            .map_err(|e| ModuleError::Unreadable {
                path: path.to_owned(),
                problem: format!("bad xz data: {e}"),
            })?;
        Ok(elf)
    } else {
        Err(ModuleError::Unreadable {
            path: path.to_owned(),
            problem: "only .ko and .ko.xz modules are supported (Debian's formats)".to_owned(),
        })
    }
}

/// The `depends=` entry of a module's `.modinfo` section: comma-separated module names.
fn depends(elf: &[u8]) -> Result<Vec<String>, String> {
    let file = object::File::parse(elf).map_err(|e| format!("not an ELF module: {e}"))?;
    let section = file
        .section_by_name(".modinfo")
        .ok_or("no .modinfo section")?;
    let data = section
        .data()
        .map_err(|e| format!("unreadable .modinfo: {e}"))?;
    Ok(data
        .split(|&b| b == 0)
        .filter_map(|entry| entry.strip_prefix(b"depends="))
        .flat_map(|list| {
            String::from_utf8_lossy(list)
                .split(',')
                .filter(|d| !d.is_empty())
                .map(|d| d.replace('-', "_"))
                .collect::<Vec<_>>()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_modules_like_the_kernel() {
        assert_eq!(
            module_name(Path::new("kernel/fs/9p/9p.ko.xz")).as_deref(),
            Some("9p")
        );
        assert_eq!(
            module_name(Path::new("a/virtio-pci.ko")).as_deref(),
            Some("virtio_pci")
        );
        assert_eq!(module_name(Path::new("modules.order")), None);
    }

    #[test]
    fn unknown_module_without_builtin_list_is_taken_as_builtin() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("kernel")).unwrap();
        let tree = ModuleTree::open(dir.path()).unwrap();
        let r = tree.resolve(&["virtio_pci".to_owned()]).unwrap();
        assert_eq!(r.builtin, ["virtio_pci"]);

        std::fs::write(dir.path().join("modules.builtin"), "kernel/fs/9p/9p.ko\n").unwrap();
        let tree = ModuleTree::open(dir.path()).unwrap();
        assert_eq!(tree.resolve(&["9p".to_owned()]).unwrap().builtin, ["9p"]);
        let err = tree.resolve(&["veth".to_owned()]).unwrap_err().to_string();
        assert!(err.starts_with("module `veth` is not in"), "{err}");
    }

    /// Resolves real Debian modules when a kernel has been cached on this machine
    /// (MESHTWIN_TEST_MODULES_DIR=.../lib/modules/<release>); otherwise there is nothing to read.
    #[test]
    fn resolves_real_module_dependencies_when_available() {
        let Some(dir) = std::env::var_os("MESHTWIN_TEST_MODULES_DIR") else {
            eprintln!("skipping: set MESHTWIN_TEST_MODULES_DIR to a cached kernel's modules");
            return;
        };
        let tree = ModuleTree::open(Path::new(&dir)).unwrap();
        let r = tree.resolve(&["9p".to_owned()]).unwrap();
        let names: Vec<&str> = r.load_order.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names.last(), Some(&"9p"));
        assert!(names.contains(&"9pnet"), "{names:?}");
    }
}
