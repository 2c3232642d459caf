//! A writer for the "newc" cpio format, the one the kernel unpacks as an initramfs
//! (Documentation/driver-api/early-userspace/buffer-format.rst).

use std::io::{self, Write};

const MAGIC: &[u8] = b"070701";
const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFCHR: u32 = 0o020000;
const TRAILER: &str = "TRAILER!!!";

/// Builds a newc archive entry by entry.
pub struct CpioWriter<W: Write> {
    out: W,
    next_inode: u32,
    written: u64,
}

impl<W: Write> CpioWriter<W> {
    pub fn new(out: W) -> Self {
        Self {
            out,
            next_inode: 1,
            written: 0,
        }
    }

    /// A directory; parents must come first, as the kernel creates entries in order.
    pub fn directory(&mut self, path: &str, mode: u32) -> io::Result<()> {
        self.entry(path, S_IFDIR | mode, 2, (0, 0), &[])
    }

    /// A regular file.
    pub fn file(&mut self, path: &str, mode: u32, data: &[u8]) -> io::Result<()> {
        self.entry(path, S_IFREG | mode, 1, (0, 0), data)
    }

    /// A character device node, e.g. /dev/console (5, 1) so init has a console before
    /// devtmpfs is mounted.
    pub fn char_device(&mut self, path: &str, mode: u32, major: u32, minor: u32) -> io::Result<()> {
        self.entry(path, S_IFCHR | mode, 1, (major, minor), &[])
    }

    /// Writes the trailer and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.entry(TRAILER, 0, 1, (0, 0), &[])?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn entry(
        &mut self,
        path: &str,
        mode: u32,
        nlink: u32,
        rdev: (u32, u32),
        data: &[u8],
    ) -> io::Result<()> {
        let name = path.trim_start_matches('/');
        let size = u32::try_from(data.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "cpio entry over 4 GiB"))?;
        let inode = if name == TRAILER { 0 } else { self.next_inode };
        self.next_inode += 1;
        let fields = [
            inode,
            mode,
            0, // uid
            0, // gid
            nlink,
            0, // mtime: fixed, so the same inputs give the same archive
            size,
            0, // devmajor
            0, // devminor
            rdev.0,
            rdev.1,
            name.len() as u32 + 1, // with the NUL
            0,                     // check (unused by newc)
        ];
        let mut header = Vec::with_capacity(110 + name.len() + 4);
        header.extend_from_slice(MAGIC);
        for field in fields {
            header.extend_from_slice(format!("{field:08x}").as_bytes());
        }
        header.extend_from_slice(name.as_bytes());
        header.push(0);
        self.write_padded(&header)?;
        self.write_padded(data)
    }

    /// Writes `bytes` and pads to a 4-byte boundary of the whole archive.
    fn write_padded(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.written += bytes.len() as u64;
        let pad = (4 - (self.written % 4) as usize) % 4;
        self.out.write_all(&[0; 3][..pad])?;
        self.written += pad as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive() -> Vec<u8> {
        let mut w = CpioWriter::new(Vec::new());
        w.directory("/bin", 0o755).unwrap();
        w.file("/bin/hello", 0o755, b"hi\n").unwrap();
        w.char_device("/dev/console", 0o600, 5, 1).unwrap();
        w.finish().unwrap()
    }

    #[test]
    fn entries_are_aligned_and_end_with_the_trailer() {
        let bytes = archive();
        assert_eq!(bytes.len() % 4, 0);
        assert!(bytes.starts_with(b"070701"));
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("bin/hello\0"));
        assert!(text.contains("TRAILER!!!\0"));
    }

    /// The system's cpio reads what we write (skipped when cpio is not installed).
    #[test]
    fn gnu_cpio_lists_the_archive() {
        let Ok(mut child) = std::process::Command::new("cpio")
            .args(["-t", "-v", "--quiet"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
        else {
            eprintln!("skipping: cpio not installed");
            return;
        };
        child.stdin.take().unwrap().write_all(&archive()).unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success());
        let listing = String::from_utf8(output.stdout).unwrap();
        let lines: Vec<&str> = listing.lines().collect();
        assert_eq!(lines.len(), 3, "{listing}");
        assert!(lines[0].starts_with("drwxr-xr-x") && lines[0].ends_with(" bin"));
        assert!(lines[1].starts_with("-rwxr-xr-x") && lines[1].ends_with(" bin/hello"));
        assert!(lines[2].starts_with("crw-------") && lines[2].ends_with(" dev/console"));
    }
}
