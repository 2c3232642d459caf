//! The agent's bpffs directory. Everything the kernel keeps for meshtwin is reachable from here,
//! which is what lets a restarted agent adopt it and `down` remove all of it:
//!
//! ```text
//! <bpffs-dir>/maps/<MAP>                                   every map, pinned by name
//! <bpffs-dir>/links/<program>@<netns inode>@<ifindex>@<interface>    XDP and tcx links
//! <bpffs-dir>/netlink/<program>@<netns inode>@<ifindex>@<interface>  program of a netlink
//!                                                          tc filter (kernels without tcx)
//! ```

use std::{
    io,
    path::{Path, PathBuf},
};

use crate::config::ProgramKind;

/// One attachment, as named by its pin.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct AttachmentPin {
    pub program: String,
    pub netns_inode: u64,
    pub if_index: u32,
    pub interface: String,
}

impl AttachmentPin {
    pub fn new(program: ProgramKind, netns_inode: u64, if_index: u32, interface: &str) -> Self {
        Self {
            program: program.program_name().to_string(),
            netns_inode,
            if_index,
            interface: interface.to_string(),
        }
    }

    pub fn file_name(&self) -> String {
        format!(
            "{}@{}@{}@{}",
            self.program, self.netns_inode, self.if_index, self.interface
        )
    }

    pub fn parse(file_name: &str) -> Option<Self> {
        let mut parts = file_name.splitn(4, '@');
        Some(Self {
            program: parts.next()?.to_string(),
            netns_inode: parts.next()?.parse().ok()?,
            if_index: parts.next()?.parse().ok()?,
            interface: parts.next()?.to_string(),
        })
    }
}

/// Paths under one bpffs directory.
#[derive(Clone, Debug)]
pub struct PinDir {
    pub root: PathBuf,
}

impl PinDir {
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_owned(),
        }
    }

    pub fn maps(&self) -> PathBuf {
        self.root.join("maps")
    }

    pub fn map(&self, name: &str) -> PathBuf {
        self.maps().join(name)
    }

    pub fn links(&self) -> PathBuf {
        self.root.join("links")
    }

    pub fn netlink(&self) -> PathBuf {
        self.root.join("netlink")
    }

    /// Creates the directories; returns whether the root did not exist before.
    pub fn create(&self) -> io::Result<bool> {
        let fresh = !self.root.exists();
        for dir in [self.root.clone(), self.maps(), self.links(), self.netlink()] {
            match std::fs::create_dir(&dir) {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
                Err(error) => return Err(error),
            }
        }
        Ok(fresh)
    }

    /// Attachment pins in `dir` (links/ or netlink/), sorted.
    pub fn list(dir: &Path) -> io::Result<Vec<(PathBuf, AttachmentPin)>> {
        let mut pins = Vec::new();
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(pins),
            Err(error) => return Err(error),
        };
        for entry in entries {
            let entry = entry?;
            if let Some(pin) = entry.file_name().to_str().and_then(AttachmentPin::parse) {
                pins.push((entry.path(), pin));
            }
        }
        pins.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(pins)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_names_round_trip_even_with_at_signs_in_interface_names() {
        let pin = AttachmentPin::new(ProgramKind::TcServiceLb, 4026531840, 7, "veth@odd");
        assert_eq!(pin.file_name(), "tc_service_lb@4026531840@7@veth@odd");
        assert_eq!(AttachmentPin::parse(&pin.file_name()), Some(pin));
        assert_eq!(AttachmentPin::parse("garbage"), None);
    }
}
