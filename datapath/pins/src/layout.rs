//! The layout of the agent's bpffs directory. Everything the kernel keeps for meshtwin is
//! reachable from here, which is what lets a restarted agent adopt it and `down` remove all of
//! it:
//!
//! ```text
//! <bpffs-dir>/maps/<MAP>                                   every map, pinned by name
//! <bpffs-dir>/links/<program>@<netns inode>@<ifindex>@<interface>    XDP and tcx links
//! <bpffs-dir>/netlink/<program>@<netns inode>@<ifindex>@<interface>  program of a netlink
//!                                                          tc filter (kernels without tcx)
//! <bpffs-dir>/cgroups/<program>@<cgroup inode>@<owner>     cgroup links (sock_ops, connect4,
//!                                                          getpeername4); owner: a workload's
//!                                                          name or "node-proxy"
//! <bpffs-dir>/sockmap/sk_msg_mesh                          the program attached to MESH_SOCKS
//! ```

use std::{
    io,
    path::{Path, PathBuf},
};

/// One attachment, as named by its pin.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct AttachmentPin {
    pub program: String,
    pub netns_inode: u64,
    pub if_index: u32,
    pub interface: String,
}

impl AttachmentPin {
    /// `program` is the kernel program's name (`meshtwin_datapath_common::maps::PROGRAM_*`).
    pub fn new(program: &str, netns_inode: u64, if_index: u32, interface: &str) -> Self {
        Self {
            program: program.to_string(),
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

    pub fn cgroups(&self) -> PathBuf {
        self.root.join("cgroups")
    }

    pub fn sockmap(&self) -> PathBuf {
        self.root.join("sockmap")
    }

    /// Creates the directories; returns whether the root did not exist before.
    pub fn create(&self) -> io::Result<bool> {
        let fresh = !self.root.exists();
        for dir in [
            self.root.clone(),
            self.maps(),
            self.links(),
            self.netlink(),
            self.cgroups(),
            self.sockmap(),
        ] {
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
        list_pins(dir, AttachmentPin::parse)
    }
}

/// The pins in `dir` whose file names `parse` accepts, sorted by what it makes of them.
fn list_pins<T: Ord>(dir: &Path, parse: fn(&str) -> Option<T>) -> io::Result<Vec<(PathBuf, T)>> {
    let mut pins = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(pins),
        Err(error) => return Err(error),
    };
    for entry in entries {
        let entry = entry?;
        if let Some(pin) = entry.file_name().to_str().and_then(parse) {
            pins.push((entry.path(), pin));
        }
    }
    pins.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(pins)
}

/// One cgroup attachment, as named by its pin.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct CgroupPin {
    pub program: String,
    pub cgroup_inode: u64,
    /// The workload's name, or "node-proxy".
    pub owner: String,
}

impl CgroupPin {
    pub fn file_name(&self) -> String {
        format!("{}@{}@{}", self.program, self.cgroup_inode, self.owner)
    }

    pub fn parse(file_name: &str) -> Option<Self> {
        let mut parts = file_name.splitn(3, '@');
        Some(Self {
            program: parts.next()?.to_string(),
            cgroup_inode: parts.next()?.parse().ok()?,
            owner: parts.next()?.to_string(),
        })
    }

    /// Cgroup pins in `dir`, sorted.
    pub fn list(dir: &Path) -> io::Result<Vec<(PathBuf, CgroupPin)>> {
        list_pins(dir, CgroupPin::parse)
    }
}

#[cfg(test)]
mod tests {
    use meshtwin_datapath_common::maps::PROGRAM_TC_SERVICE_LB;

    use super::*;

    #[test]
    fn pin_names_round_trip_even_with_at_signs_in_interface_names() {
        let pin = AttachmentPin::new(PROGRAM_TC_SERVICE_LB, 4026531840, 7, "veth@odd");
        assert_eq!(pin.file_name(), "tc_service_lb@4026531840@7@veth@odd");
        assert_eq!(AttachmentPin::parse(&pin.file_name()), Some(pin));
        assert_eq!(AttachmentPin::parse("garbage"), None);
    }

    #[test]
    fn cgroup_pin_names_round_trip() {
        let pin = CgroupPin {
            program: "sockops_mesh".into(),
            cgroup_inode: 4242,
            owner: "node-proxy".into(),
        };
        assert_eq!(pin.file_name(), "sockops_mesh@4242@node-proxy");
        assert_eq!(CgroupPin::parse(&pin.file_name()), Some(pin));
    }
}
