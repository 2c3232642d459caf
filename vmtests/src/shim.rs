//! The shim initramfs: static busybox, the kernel's modules in load order, and an `/init`
//! (shim_init.sh) that loads them, mounts the host root over 9p and switches to vmtest's init.

use std::path::{Path, PathBuf};

use object::read::elf::{ElfFile64, ProgramHeader};
use object::Endianness;

use crate::cpio::CpioWriter;
use crate::kmod::{ModuleError, ModuleTree, Resolution};

const INIT_SCRIPT: &str = include_str!("shim_init.sh");

/// Where Debian's busybox-static puts its binary.
const BUSYBOX_PATHS: &[&str] = &["/bin/busybox", "/usr/bin/busybox"];

/// What went wrong building a shim.
#[derive(Debug, thiserror::Error)]
pub enum ShimError {
    /// No busybox binary on the host.
    #[error("busybox not found ({}); install it: apt-get install -y busybox-static", BUSYBOX_PATHS.join(", "))]
    BusyboxMissing,
    /// The busybox found needs a dynamic loader, which the initramfs does not have.
    #[error("{} is dynamically linked; the shim needs a static one: apt-get install -y busybox-static", path.display())]
    BusyboxDynamic { path: PathBuf },
    #[error(transparent)]
    Module(#[from] ModuleError),
    #[error("cannot write the shim initramfs {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A built shim: where it is and what it loads.
#[derive(Debug)]
pub struct Shim {
    pub path: PathBuf,
    pub loaded: Vec<String>,
    pub builtin: Vec<String>,
}

/// Finds a static busybox on the host.
pub fn find_static_busybox() -> Result<PathBuf, ShimError> {
    let path = BUSYBOX_PATHS
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or(ShimError::BusyboxMissing)?;
    let data = std::fs::read(&path).map_err(|_| ShimError::BusyboxMissing)?;
    if needs_loader(&data) {
        return Err(ShimError::BusyboxDynamic { path });
    }
    Ok(path)
}

/// True when an ELF executable has a PT_INTERP header (asks for a dynamic loader).
fn needs_loader(data: &[u8]) -> bool {
    let Ok(elf) = ElfFile64::<Endianness>::parse(data) else {
        return true;
    };
    let endian = elf.endian();
    elf.elf_program_headers()
        .iter()
        .any(|header| header.p_type(endian) == object::elf::PT_INTERP)
}

/// Writes the shim for the kernel whose modules are in `modules_dir` to `out`.
pub fn build(
    modules_dir: &Path,
    wanted_modules: &[String],
    busybox: &Path,
    out: &Path,
) -> Result<Shim, ShimError> {
    let Resolution {
        load_order,
        builtin,
    } = ModuleTree::open(modules_dir)?.resolve(wanted_modules)?;
    let busybox_data = std::fs::read(busybox).map_err(|_| ShimError::BusyboxMissing)?;

    let write_error = |source| ShimError::Write {
        path: out.to_owned(),
        source,
    };
    let file = std::fs::File::create(out).map_err(write_error)?;
    let mut cpio = CpioWriter::new(std::io::BufWriter::new(file));
    let mut write = || -> std::io::Result<()> {
        for dir in ["/bin", "/dev", "/proc", "/sys", "/newroot", "/modules"] {
            cpio.directory(dir, 0o755)?;
        }
        cpio.char_device("/dev/console", 0o600, 5, 1)?;
        cpio.file("/bin/busybox", 0o755, &busybox_data)?;
        cpio.file("/init", 0o755, INIT_SCRIPT.as_bytes())?;
        let mut order = String::new();
        for module in &load_order {
            cpio.file(&format!("/modules/{}.ko", module.name), 0o644, &module.elf)?;
            order.push_str(&module.name);
            order.push('\n');
        }
        cpio.file("/modules/load-order", 0o644, order.as_bytes())?;
        Ok(())
    };
    write().map_err(write_error)?;
    cpio.finish().map_err(write_error)?;
    Ok(Shim {
        path: out.to_owned(),
        loaded: load_order.into_iter().map(|m| m.name).collect(),
        builtin,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_static_from_dynamic_executables() {
        // The test binary itself is dynamically linked on Debian.
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert!(needs_loader(&me));
        assert!(needs_loader(b"not an elf"));
    }

    #[test]
    fn init_script_reads_the_load_order_it_is_given() {
        assert!(INIT_SCRIPT.contains("/modules/load-order"));
        assert!(INIT_SCRIPT.starts_with("#!/bin/busybox sh\n"));
    }
}
