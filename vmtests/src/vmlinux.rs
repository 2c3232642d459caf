//! The ELF `vmlinux` inside a bzImage. qemu boots an ELF kernel that has a PVH entry note
//! directly in 32-bit mode; under TCG that skips the firmware's real-mode loader and the
//! in-guest decompression, about 5 of the 9 seconds a Debian kernel takes to reach its init.
//!
//! bzImage layout (Documentation/arch/x86/boot.rst): `setup_sects` at 0x1f1, and the
//! compressed payload at `payload_offset` (0x248) / `payload_length` (0x24c), counted from the
//! protected-mode code at `(setup_sects + 1) * 512`.

use std::io::Read;
use std::path::{Path, PathBuf};

use object::read::elf::{ElfFile64, NoteIterator, ProgramHeader};
use object::Endianness;

/// Xen's ELF note type for the PVH 32-bit entry point (XEN_ELFNOTE_PHYS32_ENTRY).
const XEN_ELFNOTE_PHYS32_ENTRY: u32 = 18;

/// Why no ELF kernel could be had (the bzImage is then booted as it is).
#[derive(Debug, thiserror::Error)]
pub enum VmlinuxError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Format(String),
}

/// Extracts the ELF kernel of `bzimage` to `out`, if it can be booted through PVH.
pub fn extract(bzimage: &Path, out: &Path) -> Result<(), VmlinuxError> {
    let data = std::fs::read(bzimage).map_err(|source| VmlinuxError::Io {
        path: bzimage.to_owned(),
        source,
    })?;
    let elf = decompress_payload(payload(&data)?)?;
    if !has_pvh_entry(&elf) {
        return Err(VmlinuxError::Format(
            "the kernel has no PVH entry note (CONFIG_PVH is off)".to_owned(),
        ));
    }
    let partial = out.with_extension("partial");
    std::fs::write(&partial, &elf)
        .and_then(|()| std::fs::rename(&partial, out))
        .map_err(|source| VmlinuxError::Io {
            path: out.to_owned(),
            source,
        })
}

fn payload(data: &[u8]) -> Result<&[u8], VmlinuxError> {
    let bad = |what: &str| VmlinuxError::Format(format!("not a bzImage: {what}"));
    if data.get(0x202..0x206) != Some(b"HdrS") {
        return Err(bad("no HdrS setup header"));
    }
    let u32_at = |at: usize| {
        data.get(at..at + 4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize)
    };
    let setup_sects = match data[0x1f1] {
        0 => 4,
        n => n as usize,
    };
    let start = (setup_sects + 1) * 512 + u32_at(0x248).ok_or_else(|| bad("short header"))?;
    let length = u32_at(0x24c).ok_or_else(|| bad("short header"))?;
    data.get(start..start + length)
        .ok_or_else(|| bad("payload outside the file"))
}

fn decompress_payload(payload: &[u8]) -> Result<Vec<u8>, VmlinuxError> {
    let mut elf = Vec::with_capacity(payload.len() * 6);
    let result = if payload.starts_with(b"\xfd7zXZ\0") {
        decompress_xz_stream(payload, &mut elf)
    } else if payload.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        ruzstd::decoding::StreamingDecoder::new(payload)
            .map_err(|e| e.to_string())
            .and_then(|mut d| {
                d.read_to_end(&mut elf)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })
    } else {
        Err("payload is neither xz nor zstd".to_owned())
    };
    result.map_err(|e| VmlinuxError::Format(format!("cannot decompress the payload: {e}")))?;
    if !elf.starts_with(b"\x7fELF") {
        return Err(VmlinuxError::Format(
            "the decompressed payload is not ELF".to_owned(),
        ));
    }
    Ok(elf)
}

/// Decodes the first xz stream of `input`. The kernel appends the uncompressed size after the
/// stream, which a reader that expects end-of-input after the stream rejects as corrupt.
fn decompress_xz_stream(mut input: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let mut stream =
        xz2::stream::Stream::new_stream_decoder(u64::MAX, 0).map_err(|e| e.to_string())?;
    loop {
        if out.capacity() - out.len() < 1 << 20 {
            out.reserve(16 << 20);
        }
        let before = stream.total_in();
        let status = stream
            .process_vec(input, out, xz2::stream::Action::Run)
            .map_err(|e| e.to_string())?;
        input = &input[(stream.total_in() - before) as usize..];
        match status {
            xz2::stream::Status::StreamEnd => return Ok(()),
            _ if input.is_empty() && stream.total_in() == before => {
                return Err("the xz stream ends early".to_owned())
            }
            _ => {}
        }
    }
}

fn has_pvh_entry(elf: &[u8]) -> bool {
    let Ok(file) = ElfFile64::<Endianness>::parse(elf) else {
        return false;
    };
    let endian = file.endian();
    file.elf_program_headers().iter().any(|header| {
        let notes: Option<NoteIterator<_>> = header.notes(endian, elf).ok().flatten();
        notes.is_some_and(|mut notes| {
            std::iter::from_fn(|| notes.next().ok().flatten()).any(|note| {
                note.name() == b"Xen" && note.n_type(endian) == XEN_ELFNOTE_PHYS32_ENTRY
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_what_is_not_a_bzimage() {
        assert!(payload(b"short").is_err());
        let mut fake = vec![0u8; 0x300];
        fake[0x202..0x206].copy_from_slice(b"HdrS");
        fake[0x24c] = 0xff; // payload_length far past the end
        assert!(payload(&fake).is_err());
    }

    #[test]
    fn decompression_checks_for_elf() {
        let err = decompress_payload(b"plain").unwrap_err().to_string();
        assert!(err.contains("neither xz nor zstd"), "{err}");
    }
}
