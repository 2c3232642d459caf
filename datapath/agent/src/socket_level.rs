//! The socket-level programs: sock_ops on workload cgroups, sk_msg on the socket hash (with its
//! chunk parser in the `HTTP_PARSE` program array), connect4 and getpeername4 on the cgroups of
//! workloads whose service connections are redirected to the node proxy.
//!
//! Cgroup attachments are bpf links pinned under `<bpffs-dir>/cgroups/`, so they outlive the
//! agent; a restarted agent swaps the new program into each pinned link (`BPF_LINK_UPDATE`),
//! so there is no instant without a program. The sk_msg program is attached to the pinned
//! socket hash itself (the kernel has no link for that before 6.10): it stays as long as the
//! map does, a new `up` replaces it, and its program is pinned under `<bpffs-dir>/sockmap/` so
//! that `down` can detach it.

use std::{
    collections::BTreeSet,
    fs, io,
    os::fd::AsFd as _,
    path::{Path, PathBuf},
};

use aya::{
    maps::{ProgramArray, SockHash},
    programs::{
        links::{FdLink, PinnedLink},
        CgroupAttachMode, CgroupSockAddr, ProgramError, SkMsg, SockOps,
    },
    Ebpf,
};
use aya_obj::generated::bpf_attach_type;
use meshtwin_datapath_common::{maps as names, sockets::SockKey};
use meshtwin_datapath_pins::{CgroupPin, PinDir};

use crate::{
    bpf_syscall,
    config::{NodeConfig, ProgramKind},
    kernel,
    lifecycle::{program_error, program_mut, DatapathError},
};

/// Name of the sk_msg program's record pin under `<bpffs-dir>/sockmap/`.
const SK_MSG_RECORD: &str = "sk_msg_mesh";

/// One cgroup the config wants programs on.
struct CgroupTarget<'a> {
    owner: &'a str,
    cgroup: &'a Path,
    programs: Vec<ProgramKind>,
}

fn targets(config: &NodeConfig) -> Vec<CgroupTarget<'_>> {
    let mut targets: Vec<CgroupTarget<'_>> = config
        .workloads
        .iter()
        .map(|workload| {
            let mut programs = vec![ProgramKind::SockopsMesh];
            if workload.redirect {
                programs.extend([ProgramKind::Connect4Proxy, ProgramKind::Getpeername4]);
            }
            CgroupTarget {
                owner: &workload.name,
                cgroup: &workload.cgroup,
                programs,
            }
        })
        .collect();
    if let Some(proxy) = &config.node_proxy {
        if let (true, Some(cgroup)) = (proxy.sockmap, &proxy.cgroup) {
            targets.push(CgroupTarget {
                owner: "node-proxy",
                cgroup,
                programs: vec![ProgramKind::SockopsMesh],
            });
        }
    }
    targets
}

/// What `up` did at the socket level.
#[derive(Debug, Default)]
pub struct SocketReport {
    pub created: Vec<CgroupPin>,
    pub replaced: Vec<CgroupPin>,
    pub removed: Vec<CgroupPin>,
    /// The sk_msg program is attached to the socket hash.
    pub sk_msg: bool,
}

/// Checks the cgroups before anything is loaded (the kernel's features were checked by the
/// lifecycle's preflight).
pub fn preflight(config: &NodeConfig) -> Result<(), DatapathError> {
    for target in targets(config) {
        kernel::check_cgroup2(target.cgroup)?;
    }
    Ok(())
}

/// Loads and attaches the socket-level programs the config wants, adopting pinned ones, and
/// detaches those it no longer wants.
pub fn up(
    ebpf: &mut Ebpf,
    config: &NodeConfig,
    pins: &PinDir,
) -> Result<SocketReport, DatapathError> {
    let mut report = SocketReport::default();
    let wanted_targets = targets(config);
    if !wanted_targets.is_empty() {
        attach_sk_msg(ebpf, pins)?;
        report.sk_msg = true;
    } else {
        detach_sk_msg(pins)?;
    }
    let mut loaded = BTreeSet::new();
    let mut wanted = BTreeSet::new();
    for target in &wanted_targets {
        let inode = cgroup_inode(target.cgroup)?;
        for kind in &target.programs {
            if loaded.insert(*kind) {
                load(ebpf, *kind)?;
            }
            let pin = CgroupPin {
                program: kind.program_name().to_string(),
                cgroup_inode: inode,
                owner: target.owner.to_string(),
            };
            wanted.insert(pin.file_name());
            let created = attach_cgroup(ebpf, *kind, target.cgroup, &pin, pins);
            match created {
                Ok(true) => report.created.push(pin),
                Ok(false) => report.replaced.push(pin),
                Err(error) => {
                    // Undo what this run attached; what was there before stays.
                    for pin in &report.created {
                        let _ = remove_cgroup_pin(&pins.cgroups().join(pin.file_name()));
                    }
                    return Err(error);
                }
            }
        }
    }
    let listed = CgroupPin::list(&pins.cgroups()).map_err(|source| DatapathError::PinDir {
        dir: pins.cgroups(),
        source,
    })?;
    for (path, pin) in listed {
        if !wanted.contains(&pin.file_name()) {
            remove_cgroup_pin(&path)?;
            report.removed.push(pin);
        }
    }
    Ok(report)
}

fn load(ebpf: &mut Ebpf, kind: ProgramKind) -> Result<(), DatapathError> {
    match kind {
        ProgramKind::SockopsMesh => program_mut::<SockOps>(ebpf, kind)?
            .load()
            .map_err(program_error(kind)),
        ProgramKind::Connect4Proxy | ProgramKind::Getpeername4 => {
            program_mut::<CgroupSockAddr>(ebpf, kind)?
                .load()
                .map_err(program_error(kind))
        }
        ProgramKind::SkMsgMesh | ProgramKind::SkMsgHttp => program_mut::<SkMsg>(ebpf, kind)?
            .load()
            .map_err(program_error(kind)),
        ProgramKind::XdpPolicy | ProgramKind::TcServiceLb => Ok(()),
    }
}

/// The inode of a cgroup directory: the cgroup's id, which names its pins.
fn cgroup_inode(cgroup: &Path) -> Result<u64, DatapathError> {
    use std::os::unix::fs::MetadataExt as _;
    fs::metadata(cgroup)
        .map(|m| m.ino())
        .map_err(|source| DatapathError::PinDir {
            dir: cgroup.to_owned(),
            source,
        })
}

fn pin_error(path: &Path) -> impl FnOnce(io::Error) -> DatapathError + '_ {
    move |source| DatapathError::Pin {
        path: path.to_owned(),
        source: Box::new(source),
    }
}

/// The two kinds of cgroup program, as far as attaching them goes.
trait CgroupProgram {
    fn program_fd(&self) -> Result<&aya::programs::ProgramFd, ProgramError>;
    /// Attaches to `cgroup` and returns the link, to be pinned.
    fn attach_link(
        &mut self,
        cgroup: &fs::File,
    ) -> Result<FdLink, Box<dyn std::error::Error + Send + Sync>>;
}

macro_rules! cgroup_program {
    ($program:ty) => {
        impl CgroupProgram for $program {
            fn program_fd(&self) -> Result<&aya::programs::ProgramFd, ProgramError> {
                self.fd()
            }

            fn attach_link(
                &mut self,
                cgroup: &fs::File,
            ) -> Result<FdLink, Box<dyn std::error::Error + Send + Sync>> {
                let id = self.attach(cgroup, CgroupAttachMode::Single)?;
                Ok(FdLink::try_from(self.take_link(id)?)?)
            }
        }
    };
}

cgroup_program!(SockOps);
cgroup_program!(CgroupSockAddr);

/// Attaches `kind` to `cgroup` as a pinned link, or swaps it into the link already pinned there.
/// Returns whether the link is new.
fn attach_cgroup(
    ebpf: &mut Ebpf,
    kind: ProgramKind,
    cgroup: &Path,
    pin: &CgroupPin,
    pins: &PinDir,
) -> Result<bool, DatapathError> {
    let program: &mut dyn CgroupProgram = match kind {
        ProgramKind::SockopsMesh => program_mut::<SockOps>(ebpf, kind)?,
        _ => program_mut::<CgroupSockAddr>(ebpf, kind)?,
    };
    let path = pins.cgroups().join(pin.file_name());
    let attach_error = |source: Box<dyn std::error::Error + Send + Sync>| DatapathError::Attach {
        program: kind.program_name(),
        interface: format!("cgroup {}", cgroup.display()),
        source,
    };
    if let Some(link) = live_cgroup_link(&path) {
        let program_fd = program.program_fd().map_err(program_error(kind))?;
        bpf_syscall::link_update(link.as_fd(), program_fd.as_fd())
            .map_err(|error| attach_error(Box::new(error)))?;
        return Ok(false);
    }
    let cgroup_file = fs::File::open(cgroup).map_err(|error| attach_error(Box::new(error)))?;
    let link = program.attach_link(&cgroup_file).map_err(attach_error)?;
    link.pin(&path).map_err(|source| DatapathError::Pin {
        path: path.clone(),
        source: Box::new(source),
    })?;
    Ok(true)
}

/// A pinned cgroup link whose cgroup still exists, or `None` (no pin, or a defunct link, whose
/// pin is removed so that a fresh link can take its name).
fn live_cgroup_link(path: &Path) -> Option<std::os::fd::OwnedFd> {
    let fd = bpf_syscall::obj_get(path).ok()?;
    if bpf_syscall::cgroup_link_cgroup_id(fd.as_fd()).is_none_or(|id| id == 0) {
        drop(fd);
        let _ = fs::remove_file(path);
        return None;
    }
    Some(fd)
}

/// Detaches a pinned cgroup link (even if another process holds it) and removes its pin.
pub fn remove_cgroup_pin(path: &Path) -> Result<(), DatapathError> {
    if let Ok(fd) = bpf_syscall::obj_get(path) {
        bpf_syscall::link_detach(fd.as_fd());
    }
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(DatapathError::Pin {
            path: path.to_owned(),
            source: Box::new(source),
        }),
    }
}

/// Loads both sk_msg programs, puts the chunk parser into `HTTP_PARSE` and attaches
/// `sk_msg_mesh` to the socket hash (replacing the program a previous `up` attached).
fn attach_sk_msg(ebpf: &mut Ebpf, pins: &PinDir) -> Result<(), DatapathError> {
    for kind in [ProgramKind::SkMsgMesh, ProgramKind::SkMsgHttp] {
        load(ebpf, kind)?;
    }
    let parser_fd = program_mut::<SkMsg>(ebpf, ProgramKind::SkMsgHttp)?
        .fd()
        .map_err(program_error(ProgramKind::SkMsgHttp))?
        .try_clone()
        .map_err(pin_error(&pins.sockmap()))?;
    let map_error = |source: aya::maps::MapError| DatapathError::Attach {
        program: ProgramKind::SkMsgHttp.program_name(),
        interface: format!("map {}", names::HTTP_PARSE),
        source: Box::new(source),
    };
    let mut parsers: ProgramArray<_> = ebpf
        .map_mut(names::HTTP_PARSE)
        .ok_or(DatapathError::Program {
            program: ProgramKind::SkMsgHttp.program_name(),
            source: ProgramError::NotLoaded,
        })?
        .try_into()
        .map_err(map_error)?;
    parsers.set(0, &parser_fd, 0).map_err(map_error)?;

    let socks: SockHash<_, SockKey> = ebpf
        .map(names::MESH_SOCKS)
        .ok_or(DatapathError::Program {
            program: ProgramKind::SkMsgMesh.program_name(),
            source: ProgramError::NotLoaded,
        })?
        .try_into()
        .map_err(|source: aya::maps::MapError| DatapathError::Attach {
            program: ProgramKind::SkMsgMesh.program_name(),
            interface: format!("map {}", names::MESH_SOCKS),
            source: Box::new(source),
        })?;
    let socks_fd = socks.fd().try_clone().map_err(pin_error(&pins.sockmap()))?;
    let program = program_mut::<SkMsg>(ebpf, ProgramKind::SkMsgMesh)?;
    let id = program
        .attach(&socks_fd)
        .map_err(program_error(ProgramKind::SkMsgMesh))?;
    // Dropping the link would detach the program: the attachment belongs to the pinned map.
    std::mem::forget(
        program
            .take_link(id)
            .map_err(program_error(ProgramKind::SkMsgMesh))?,
    );
    let record = pins.sockmap().join(SK_MSG_RECORD);
    match fs::remove_file(&record) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(pin_error(&record)(error)),
    }
    program.pin(&record).map_err(|source| DatapathError::Pin {
        path: record.clone(),
        source: Box::new(source),
    })
}

/// The pins `config` would have at the socket level once up.
pub fn planned_pins(config: &NodeConfig, pins: &PinDir) -> Result<Vec<PathBuf>, DatapathError> {
    let wanted = targets(config);
    let mut planned = Vec::new();
    for target in &wanted {
        kernel::check_cgroup2(target.cgroup)?;
        let inode = cgroup_inode(target.cgroup)?;
        for kind in &target.programs {
            let pin = CgroupPin {
                program: kind.program_name().to_string(),
                cgroup_inode: inode,
                owner: target.owner.to_string(),
            };
            planned.push(pins.cgroups().join(pin.file_name()));
        }
    }
    if !wanted.is_empty() {
        planned.push(pins.sockmap().join(SK_MSG_RECORD));
    }
    Ok(planned)
}

/// The socket-level pins there are.
pub fn pinned_pins(pins: &PinDir) -> Result<Vec<PathBuf>, DatapathError> {
    let mut pinned: Vec<PathBuf> = CgroupPin::list(&pins.cgroups())
        .map_err(|source| DatapathError::PinDir {
            dir: pins.cgroups(),
            source,
        })?
        .into_iter()
        .map(|(path, _)| path)
        .collect();
    let record = pins.sockmap().join(SK_MSG_RECORD);
    if record.exists() {
        pinned.push(record);
    }
    Ok(pinned)
}

/// Detaches the recorded sk_msg program from the socket hash and removes its record.
pub fn detach_sk_msg(pins: &PinDir) -> Result<(), DatapathError> {
    let record = pins.sockmap().join(SK_MSG_RECORD);
    let Ok(program) = bpf_syscall::obj_get(&record) else {
        return Ok(());
    };
    if let Ok(map) = bpf_syscall::obj_get(&pins.map(names::MESH_SOCKS)) {
        bpf_syscall::prog_detach(
            map.as_fd(),
            program.as_fd(),
            bpf_attach_type::BPF_SK_MSG_VERDICT,
        );
    }
    drop(program);
    fs::remove_file(&record).map_err(pin_error(&record))
}

/// One cgroup attachment as `status` shows it.
#[derive(Debug)]
pub struct CgroupStatus {
    pub pin: CgroupPin,
    pub link_id: Option<u32>,
    pub program_id: Option<u32>,
    /// Its cgroup still exists.
    pub live: bool,
}

/// The pinned cgroup attachments, and whether the sk_msg program is recorded.
pub fn status(pins: &PinDir) -> Result<(Vec<CgroupStatus>, Option<u32>), DatapathError> {
    let listed = CgroupPin::list(&pins.cgroups()).map_err(|source| DatapathError::PinDir {
        dir: pins.cgroups(),
        source,
    })?;
    let mut attachments = Vec::new();
    for (path, pin) in listed {
        let info = PinnedLink::from_pin(&path)
            .map(FdLink::from)
            .ok()
            .and_then(|l| l.info().ok());
        let live = bpf_syscall::obj_get(&path)
            .ok()
            .and_then(|fd| bpf_syscall::cgroup_link_cgroup_id(fd.as_fd()))
            .is_some_and(|id| id != 0);
        attachments.push(CgroupStatus {
            link_id: info.as_ref().map(|i| i.id()),
            program_id: info.as_ref().map(|i| i.program_id()),
            live,
            pin,
        });
    }
    let sk_msg = aya::programs::ProgramInfo::from_pin(pins.sockmap().join(SK_MSG_RECORD))
        .ok()
        .map(|i| i.id());
    Ok((attachments, sk_msg))
}

/// Every pin of the socket level, for `down`.
pub fn down(pins: &PinDir) -> Result<Vec<CgroupPin>, DatapathError> {
    detach_sk_msg(pins)?;
    let listed = CgroupPin::list(&pins.cgroups()).map_err(|source| DatapathError::PinDir {
        dir: pins.cgroups(),
        source,
    })?;
    let mut removed = Vec::new();
    for (path, pin) in listed {
        remove_cgroup_pin(&path)?;
        removed.push(pin);
    }
    Ok(removed)
}
