//! Loading, attaching, adopting and removing the datapath.
//!
//! `up` is idempotent and is also how a restarted agent takes over: maps are reused from their
//! pins (so counters and policy survive), and an interface that already has a pinned link gets
//! the new program swapped in atomically (`bpf_link_update`), so there is no instant without a
//! program. Maps are written before anything new is attached, so a new attachment never runs
//! with empty policy.

use std::{
    collections::BTreeSet,
    fs, io,
    os::fd::AsFd as _,
    path::{Path, PathBuf},
};

use aya::{
    programs::{
        links::{FdLink, PinnedLink},
        tc::{self, NlOptions, SchedClassifierLink, TcAttachOptions, TcHandle},
        xdp::XdpLink,
        LinkOrder, ProgramError, SchedClassifier, TcAttachType, Xdp, XdpMode,
    },
    Ebpf, EbpfLoader,
};

use meshtwin_datapath_pins::{AttachmentPin, CgroupPin, PinDir, PinnedMaps};

use crate::{
    bpf_syscall,
    config::{Attachment, NodeConfig, ProgramKind, TcAttachSetting, XdpModeSetting},
    kernel::{self, KernelVersion, MissingFeature, PreflightError},
    map_sync::{self, MapSyncError, SyncSummary},
    netns::{self, NetnsGuard},
    socket_level::{self, CgroupStatus, SocketReport},
};

/// Priority and handle of meshtwin's netlink tc filters: fixed, so that a restarted agent can
/// replace its own filter in place and `down` can find it.
const NETLINK_PRIORITY: u16 = 0x4d54;
const NETLINK_HANDLE: TcHandle = TcHandle::new(0, 0x4d54);

/// Errors of the datapath operations; each says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum DatapathError {
    /// A precondition on the machine is not met.
    #[error(transparent)]
    Preflight(#[from] PreflightError),
    /// The bpffs directory could not be created or read.
    #[error("cannot use pin directory {dir}: {source}")]
    PinDir { dir: PathBuf, source: io::Error },
    /// The kernel rejected the object (verifier, map creation).
    #[error("loading the eBPF object failed: {0}")]
    Load(Box<aya::EbpfError>),
    /// A program in the object is missing or could not be loaded.
    #[error("loading program {program} failed: {source}")]
    Program {
        program: &'static str,
        source: ProgramError,
    },
    /// The network namespace of an attachment could not be entered.
    #[error(
        "cannot enter network namespace {netns}: {source}; check the attach entry's netns path"
    )]
    Netns { netns: PathBuf, source: io::Error },
    /// An interface named in the config does not exist.
    #[error(
        "interface {interface} does not exist{where_}; create it first or fix the [[attach]] entry"
    )]
    InterfaceAbsent { interface: String, where_: String },
    /// Attaching failed.
    #[error("attaching {program} to {interface} failed: {source}")]
    Attach {
        program: &'static str,
        interface: String,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A pin could not be written or removed.
    #[error("pin {path} failed: {source}")]
    Pin {
        path: PathBuf,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Writing maps failed.
    #[error(transparent)]
    Maps(#[from] MapSyncError),
    /// Nothing is pinned in this directory.
    #[error(
        "nothing of meshtwin's is pinned in {0}; `up` first, or pass the bpffs-dir that `up` used"
    )]
    NotUp(PathBuf),
}

/// The error for a directory without pins: that `ip netns exec` hides them, when it does.
fn not_up(dir: &Path) -> DatapathError {
    match kernel::bpffs_hidden(dir) {
        Some(hidden) => DatapathError::Preflight(hidden),
        None => DatapathError::NotUp(dir.to_owned()),
    }
}

/// What `up` did, for the log and for tests.
#[derive(Debug, Default)]
pub struct UpReport {
    pub created: Vec<AttachmentPin>,
    pub replaced: Vec<AttachmentPin>,
    pub removed: Vec<AttachmentPin>,
    pub sync: SyncSummary,
    pub tcx: bool,
    pub socket: SocketReport,
}

/// What the preflight found: the running kernel and, for each feature the config needs, how
/// its presence was established (probed, or by version).
pub struct Preflight {
    pub kernel: KernelVersion,
    pub features: Vec<kernel::Finding>,
}

/// Checks root, the kernel's features (those `config` needs) and bpffs before anything is
/// touched.
pub fn preflight(config: &NodeConfig) -> Result<Preflight, PreflightError> {
    kernel::check_root()?;
    let running = kernel::running_kernel()?;
    // Before probing: on kernels that charge maps to RLIMIT_MEMLOCK even a probe needs it.
    if !kernel::raise_memlock_if_charged(running) {
        eprintln!("meshtwin-agent: warning: cannot raise RLIMIT_MEMLOCK; kernel {running} charges BPF maps to it, so loading may fail with EPERM");
    }
    let features = kernel::check_features(running, &needed_features(config))?;
    kernel::check_bpffs(&config.bpffs_dir)?;
    Ok(Preflight {
        kernel: running,
        features,
    })
}

/// The kernel features `config` needs.
pub fn needed_features(config: &NodeConfig) -> Vec<kernel::Feature> {
    kernel::features_for(
        !config.workloads.is_empty() || config.node_proxy.is_some(),
        config.workloads.iter().any(|w| w.redirect),
    )
}

/// Loads, writes maps, attaches and pins: see the module documentation.
pub fn up(config: &NodeConfig, object: &[u8]) -> Result<UpReport, DatapathError> {
    let running = preflight(config)?.kernel;
    socket_level::preflight(config)?;
    let pins = PinDir::new(&config.bpffs_dir);
    let fresh = pins.create().map_err(|source| DatapathError::PinDir {
        dir: pins.root.clone(),
        source,
    })?;
    let result = up_in(config, object, &pins, running);
    if result.is_err() && fresh {
        // Nothing was attached before this run: leave nothing behind.
        let _ = down(&pins.root, Some(config));
    }
    result
}

fn up_in(
    config: &NodeConfig,
    object: &[u8],
    pins: &PinDir,
    running: KernelVersion,
) -> Result<UpReport, DatapathError> {
    // No kernel BTF: the programs have no CO-RE relocations to resolve against it. (aya 0.14's
    // EbpfLoader::new still reads and parses /sys/kernel/btf/vmlinux before this discards it;
    // about a third of an `up` on Linux 6.18, which aya offers no way to skip.)
    let mut ebpf = EbpfLoader::new()
        .btf(None)
        .default_map_pin_directory(pins.maps())
        .load(object)
        .map_err(|error| DatapathError::Load(Box::new(error)))?;
    let mut report = UpReport {
        sync: map_sync::apply(&mut open_maps(pins)?, config)?,
        ..UpReport::default()
    };

    let xdp = program_mut::<Xdp>(&mut ebpf, ProgramKind::XdpPolicy)?;
    xdp.load().map_err(program_error(ProgramKind::XdpPolicy))?;
    let tc_program = program_mut::<SchedClassifier>(&mut ebpf, ProgramKind::TcServiceLb)?;
    tc_program
        .load()
        .map_err(program_error(ProgramKind::TcServiceLb))?;
    report.tcx = uses_tcx(config, running);

    // By path: the same interface's tc program is a link under links/ with tcx and a filter's
    // record under netlink/ without, and a change of `tc-attach` must replace one by the other.
    let mut wanted = BTreeSet::new();
    let mut created = Vec::new();
    for attachment in &config.attachments {
        let outcome = attach(&mut ebpf, config, attachment, pins, report.tcx);
        match outcome {
            Ok((pin, was_created)) => {
                wanted.insert(pin_path(pins, &pin, report.tcx));
                if was_created {
                    created.push(pin);
                } else {
                    report.replaced.push(pin);
                }
            }
            Err(error) => {
                // Undo what this run attached; what was there before stays, so policy that was
                // enforced stays enforced.
                for pin in &created {
                    let _ = remove_attachment(pins, pin, Some(config));
                }
                return Err(error);
            }
        }
    }
    report.created = created;
    match socket_level::up(&mut ebpf, config, pins) {
        Ok(socket) => report.socket = socket,
        Err(error) => {
            for pin in &report.created {
                let _ = remove_attachment(pins, pin, Some(config));
            }
            return Err(error);
        }
    }

    // Attachments of an earlier config that this one no longer has, or has in the other tc
    // mode: removed after their replacement is attached, so the interface is never without.
    for (path, pin) in pinned_attachments(pins)? {
        if wanted.contains(&path) {
            continue;
        }
        if path.starts_with(pins.links()) {
            remove_link(&path)?;
        } else {
            remove_netlink_filter(pins, &pin, Some(config))?;
        }
        report.removed.push(pin);
    }
    Ok(report)
}

/// Every attachment pinned under `links/` and `netlink/`, by path.
fn pinned_attachments(pins: &PinDir) -> Result<Vec<(PathBuf, AttachmentPin)>, DatapathError> {
    let mut listed = Vec::new();
    for dir in [pins.links(), pins.netlink()] {
        listed.extend(PinDir::list(&dir).map_err(|source| DatapathError::PinDir {
            dir: dir.clone(),
            source,
        })?);
    }
    Ok(listed)
}

/// Whether the tc program is attached as a tcx link (else as a netlink filter).
fn uses_tcx(config: &NodeConfig, running: KernelVersion) -> bool {
    match config.tc_attach {
        TcAttachSetting::Auto => meshtwin_kernel_features::TCX.listed_for(running),
        TcAttachSetting::Tcx => true,
        TcAttachSetting::Netlink => false,
    }
}

fn open_maps(pins: &PinDir) -> Result<PinnedMaps, DatapathError> {
    PinnedMaps::open(pins).map_err(|error| DatapathError::Maps(MapSyncError::from(error)))
}

pub(crate) fn program_mut<'a, T>(
    ebpf: &'a mut Ebpf,
    kind: ProgramKind,
) -> Result<&'a mut T, DatapathError>
where
    &'a mut T: TryFrom<&'a mut aya::programs::Program, Error = ProgramError>,
{
    let name = kind.program_name();
    let program = ebpf.program_mut(name).ok_or(DatapathError::Program {
        program: name,
        source: ProgramError::NotLoaded,
    })?;
    program.try_into().map_err(program_error(kind))
}

pub(crate) fn program_error(kind: ProgramKind) -> impl FnOnce(ProgramError) -> DatapathError {
    move |source| DatapathError::Program {
        program: kind.program_name(),
        source,
    }
}

fn attach_error<E: std::error::Error + Send + Sync + 'static>(
    kind: ProgramKind,
    interface: &str,
) -> impl FnOnce(E) -> DatapathError + '_ {
    move |source| DatapathError::Attach {
        program: kind.program_name(),
        interface: interface.to_string(),
        source: Box::new(source),
    }
}

fn where_(netns: Option<&Path>) -> String {
    netns.map_or_else(
        || " in the agent's network namespace".to_string(),
        |p| format!(" in network namespace {}", p.display()),
    )
}

/// Enters the network namespace of an attachment (none: the agent's own stays).
fn enter_netns(attachment: &Attachment) -> Result<Option<NetnsGuard>, DatapathError> {
    match attachment.netns.as_deref() {
        Some(path) => NetnsGuard::enter(path)
            .map(Some)
            .map_err(|source| DatapathError::Netns {
                netns: path.to_owned(),
                source,
            }),
        None => Ok(None),
    }
}

/// The pin an attachment has once attached: its namespace and interface, found now.
fn resolve(attachment: &Attachment) -> Result<AttachmentPin, DatapathError> {
    let netns_path = attachment.netns.as_deref();
    let inode = netns::netns_inode(netns_path).map_err(|source| DatapathError::Netns {
        netns: netns_path.map_or_else(|| PathBuf::from("(own)"), Path::to_owned),
        source,
    })?;
    let _inside = enter_netns(attachment)?;
    let interface = attachment.interface.as_str();
    let if_index = netns::if_index(interface).ok_or_else(|| DatapathError::InterfaceAbsent {
        interface: interface.to_string(),
        where_: where_(netns_path),
    })?;
    Ok(AttachmentPin::new(
        attachment.program.program_name(),
        inode,
        if_index,
        interface,
    ))
}

/// Where an attachment's pin goes: a bpf link under `links/`, a netlink tc filter's record
/// under `netlink/`.
fn pin_path(pins: &PinDir, pin: &AttachmentPin, tcx: bool) -> PathBuf {
    if pin.program == ProgramKind::TcServiceLb.program_name() && !tcx {
        pins.netlink().join(pin.file_name())
    } else {
        pins.links().join(pin.file_name())
    }
}

/// Attaches one program to one interface; returns its pin and whether it is new.
fn attach(
    ebpf: &mut Ebpf,
    config: &NodeConfig,
    attachment: &Attachment,
    pins: &PinDir,
    tcx: bool,
) -> Result<(AttachmentPin, bool), DatapathError> {
    let pin = resolve(attachment)?;
    let _inside = enter_netns(attachment)?;
    let interface = attachment.interface.as_str();
    let if_index = pin.if_index;
    let kind = attachment.program;
    match kind {
        ProgramKind::XdpPolicy => {
            let xdp = program_mut::<Xdp>(ebpf, kind)?;
            let mode = match config.xdp_mode {
                XdpModeSetting::Skb => XdpMode::Skb,
                XdpModeSetting::Native => XdpMode::Driver,
            };
            let path = pins.links().join(pin.file_name());
            if let Some(old) = open_live_link(&path) {
                let link = XdpLink::try_from(old).map_err(attach_error(kind, interface))?;
                let id = xdp
                    .attach_to_link(link)
                    .map_err(attach_error(kind, interface))?;
                // The pin still names the (updated) link; this process's handle can go.
                drop(xdp.take_link(id).map_err(attach_error(kind, interface))?);
                return Ok((pin, false));
            }
            let id = xdp
                .attach_to_if_index(if_index, mode)
                .map_err(attach_error(kind, interface))?;
            let link = xdp.take_link(id).map_err(attach_error(kind, interface))?;
            // Without bpf links (< 5.9) aya falls back to netlink, which cannot be pinned:
            // dropping that link detaches it again, so nothing is left half-attached.
            let link = FdLink::try_from(link).map_err(|_| {
                let kernel = KernelVersion::running().unwrap_or(KernelVersion::new(0, 0, 0));
                DatapathError::Preflight(
                    MissingFeature::by_version(meshtwin_kernel_features::XDP_LINK, kernel).into(),
                )
            })?;
            link.pin(&path).map_err(|source| DatapathError::Pin {
                path: path.clone(),
                source: Box::new(source),
            })?;
            Ok((pin, true))
        }
        ProgramKind::TcServiceLb => {
            let program = program_mut::<SchedClassifier>(ebpf, kind)?;
            // A netkit pod: the program goes on the device itself, at what the pod sends
            // (docs/datapath.md, "netkit pods").
            if netns::driver_name(interface).as_deref() == Some("netkit") {
                let path = pins.links().join(pin.file_name());
                let program = program.fd().map_err(attach_error(kind, interface))?;
                let created = attach_netkit(program.as_fd(), if_index, &path)
                    .map_err(attach_error(kind, interface))?;
                return Ok((pin, created));
            }
            if tcx {
                let path = pins.links().join(pin.file_name());
                if let Some(old) = open_live_link(&path) {
                    let link = SchedClassifierLink::try_from(old)
                        .map_err(attach_error(kind, interface))?;
                    let id = program
                        .attach_to_link(link)
                        .map_err(attach_error(kind, interface))?;
                    drop(
                        program
                            .take_link(id)
                            .map_err(attach_error(kind, interface))?,
                    );
                    return Ok((pin, false));
                }
                let id = program
                    .attach_with_options(
                        interface,
                        TcAttachType::Ingress,
                        TcAttachOptions::TcxOrder(LinkOrder::default()),
                    )
                    .map_err(attach_error(kind, interface))?;
                let link = FdLink::try_from(
                    program
                        .take_link(id)
                        .map_err(attach_error(kind, interface))?,
                )
                .map_err(attach_error(kind, interface))?;
                link.pin(&path).map_err(|source| DatapathError::Pin {
                    path: path.clone(),
                    source: Box::new(source),
                })?;
                Ok((pin, true))
            } else {
                // Netlink filters live in the clsact qdisc, not in a link: the record pin keeps
                // the program and tells `down` where to look.
                if let Err(error) = tc::qdisc_add_clsact(interface) {
                    let exists = matches!(&error, tc::TcError::NetlinkError(e) if e.raw_os_error() == Some(libc::EEXIST))
                        || matches!(error, tc::TcError::AlreadyAttached);
                    if !exists {
                        return Err(attach_error(kind, interface)(error));
                    }
                }
                let path = pins.netlink().join(pin.file_name());
                let existed = path.exists();
                let id = if existed {
                    let link = SchedClassifierLink::attached(
                        interface,
                        TcAttachType::Ingress,
                        NETLINK_PRIORITY,
                        NETLINK_HANDLE,
                        None,
                    )
                    .map_err(attach_error(kind, interface))?;
                    program
                        .attach_to_link(link)
                        .map_err(attach_error(kind, interface))?
                } else {
                    let options = NlOptions {
                        priority: NETLINK_PRIORITY,
                        handle: NETLINK_HANDLE,
                        ..NlOptions::default()
                    };
                    program
                        .attach_with_options(
                            interface,
                            TcAttachType::Ingress,
                            TcAttachOptions::Netlink(options),
                        )
                        .map_err(attach_error(kind, interface))?
                };
                // Dropping the link would delete the filter: it must outlive this process.
                std::mem::forget(
                    program
                        .take_link(id)
                        .map_err(attach_error(kind, interface))?,
                );
                if existed {
                    fs::remove_file(&path).map_err(|source| DatapathError::Pin {
                        path: path.clone(),
                        source: Box::new(source),
                    })?;
                }
                program.pin(&path).map_err(|source| DatapathError::Pin {
                    path: path.clone(),
                    source: Box::new(source),
                })?;
                Ok((pin, !existed))
            }
        }
        // The config only attaches interface programs to interfaces.
        other => Err(DatapathError::Attach {
            program: other.program_name(),
            interface: interface.to_string(),
            source: "not an interface program".into(),
        }),
    }
}

/// A pinned link that is still attached, or `None` (no pin, or the interface went away: such a
/// pin is removed so that a fresh link can take its name).
/// Attaches `program` to the netkit device `if_index` at `BPF_NETKIT_PEER` (what the pod sends,
/// where tcx on a veth's host side sees it), pinned at `path`; a live pinned link gets the new
/// program in place. Returns whether the link is new.
fn attach_netkit(
    program: std::os::fd::BorrowedFd<'_>,
    if_index: u32,
    path: &Path,
) -> std::io::Result<bool> {
    if pinned_link_is_live(path) {
        let link = bpf_syscall::obj_get(path)?;
        bpf_syscall::link_update(link.as_fd(), program)?;
        return Ok(false);
    }
    let _ = fs::remove_file(path);
    let link = bpf_syscall::netkit_link_create(
        program,
        if_index,
        aya_obj::generated::bpf_attach_type::BPF_NETKIT_PEER,
    )?;
    bpf_syscall::obj_pin(link.as_fd(), path)?;
    Ok(true)
}

fn open_live_link(path: &Path) -> Option<FdLink> {
    if !pinned_link_is_live(path) {
        let _ = fs::remove_file(path);
        return None;
    }
    PinnedLink::from_pin(path).ok().map(FdLink::from)
}

/// Whether the link pinned at `path` is still attached to an interface: a defunct XDP or tcx
/// link (its interface was deleted) reports interface index 0.
fn pinned_link_is_live(path: &Path) -> bool {
    bpf_syscall::obj_get(path)
        .ok()
        .and_then(|fd| bpf_syscall::netdev_link_ifindex(fd.as_fd()))
        .is_some_and(|index| index != 0)
}

/// Removes one attachment (its link and its netlink filter, whichever it has) and its pins.
fn remove_attachment(
    pins: &PinDir,
    pin: &AttachmentPin,
    config: Option<&NodeConfig>,
) -> Result<(), DatapathError> {
    remove_link(&pins.links().join(pin.file_name()))?;
    remove_netlink_filter(pins, pin, config)
}

/// Detaches a pinned link (even if another process holds it) and removes its pin.
fn remove_link(link_path: &Path) -> Result<(), DatapathError> {
    if let Ok(fd) = bpf_syscall::obj_get(link_path) {
        bpf_syscall::link_detach(fd.as_fd());
        drop(fd);
        remove_pin(link_path)?;
    }
    Ok(())
}

/// Deletes the netlink tc filter an attachment's record names, and the record.
fn remove_netlink_filter(
    pins: &PinDir,
    pin: &AttachmentPin,
    config: Option<&NodeConfig>,
) -> Result<(), DatapathError> {
    let record = pins.netlink().join(pin.file_name());
    if record.exists() {
        if let Some(netns_path) = find_netns(pin.netns_inode, config) {
            let entered = match &netns_path {
                NetnsLocation::Own => None,
                NetnsLocation::Path(path) => NetnsGuard::enter(path).ok(),
            };
            let reachable = matches!(netns_path, NetnsLocation::Own) || entered.is_some();
            if reachable {
                match tc::qdisc_detach_program(&pin.interface, TcAttachType::Ingress, &pin.program)
                {
                    Ok(()) => {}
                    Err(tc::TcError::IoError(error)) if error.kind() == io::ErrorKind::NotFound => {
                    }
                    Err(error) => {
                        return Err(DatapathError::Attach {
                            program: "tc_service_lb",
                            interface: pin.interface.clone(),
                            source: Box::new(error),
                        })
                    }
                }
            }
            drop(entered);
        }
        // A namespace nobody holds any more took its interfaces and filters with it.
        remove_pin(&record)?;
    }
    Ok(())
}

fn remove_pin(path: &Path) -> Result<(), DatapathError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(DatapathError::Pin {
            path: path.to_owned(),
            source: Box::new(source),
        }),
    }
}

enum NetnsLocation {
    Own,
    Path(PathBuf),
}

/// Finds a path that opens the network namespace with this inode: the agent's own, one named in
/// the config, /run/netns, or a process's namespace or open file descriptor.
fn find_netns(inode: u64, config: Option<&NodeConfig>) -> Option<NetnsLocation> {
    if netns::netns_inode(None).ok() == Some(inode) {
        return Some(NetnsLocation::Own);
    }
    let matches = |path: &Path| netns::netns_inode(Some(path)).ok() == Some(inode);
    if let Some(config) = config {
        for attachment in &config.attachments {
            if let Some(path) = &attachment.netns {
                if matches(path) {
                    return Some(NetnsLocation::Path(path.clone()));
                }
            }
        }
    }
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Ok(entries) = fs::read_dir("/run/netns") {
        candidates.extend(entries.filter_map(Result::ok).map(|e| e.path()));
    }
    let target = format!("net:[{inode}]");
    if let Ok(processes) = fs::read_dir("/proc") {
        for process in processes.filter_map(Result::ok) {
            let dir = process.path();
            candidates.push(dir.join("ns/net"));
            if let Ok(fds) = fs::read_dir(dir.join("fd")) {
                for fd in fds.filter_map(Result::ok) {
                    if fs::read_link(fd.path()).is_ok_and(|t| t.as_os_str() == target.as_str()) {
                        candidates.push(fd.path());
                    }
                }
            }
        }
    }
    candidates
        .into_iter()
        .find(|p| matches(p))
        .map(NetnsLocation::Path)
}

/// What `down` removed.
#[derive(Debug, Default)]
pub struct DownReport {
    /// Nothing was pinned in the directory: there was nothing to take down.
    pub nothing_up: bool,
    pub attachments: Vec<AttachmentPin>,
    pub cgroups: Vec<CgroupPin>,
    pub maps: Vec<String>,
}

/// Detaches everything recorded under `dir` and removes every pin and the directory itself.
pub fn down(dir: &Path, config: Option<&NodeConfig>) -> Result<DownReport, DatapathError> {
    kernel::check_root()?;
    let pins = PinDir::new(dir);
    if !dir.exists() {
        // Scripts call `down` in their cleanup: nothing up is not an error, unless the pins
        // are only out of sight.
        if let Some(hidden) = kernel::bpffs_hidden(dir) {
            return Err(hidden.into());
        }
        return Ok(DownReport {
            nothing_up: true,
            ..DownReport::default()
        });
    }
    let mut report = DownReport::default();
    for sub in [pins.links(), pins.netlink()] {
        let listed = PinDir::list(&sub).map_err(|source| DatapathError::PinDir {
            dir: sub.clone(),
            source,
        })?;
        for (_, pin) in listed {
            remove_attachment(&pins, &pin, config)?;
            report.attachments.push(pin);
        }
    }
    // Cgroup links and the socket hash's program before the maps: nothing of meshtwin's runs
    // once the pins are gone.
    report.cgroups = socket_level::down(&pins)?;
    if let Ok(entries) = fs::read_dir(pins.maps()) {
        for entry in entries.filter_map(Result::ok) {
            remove_pin(&entry.path())?;
            report
                .maps
                .push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    report.maps.sort();
    for sub in [
        pins.maps(),
        pins.links(),
        pins.netlink(),
        pins.cgroups(),
        pins.sockmap(),
        pins.root.clone(),
    ] {
        match fs::remove_dir(&sub) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(source) => return Err(DatapathError::PinDir { dir: sub, source }),
        }
    }
    Ok(report)
}

/// One attachment as `status` shows it.
#[derive(Debug)]
pub struct AttachmentStatus {
    pub pin: AttachmentPin,
    /// "xdp link", "tcx link" or "netlink filter".
    pub kind: &'static str,
    pub link_id: Option<u32>,
    pub program_id: Option<u32>,
    pub live: bool,
}

/// Attached programs and map sizes.
#[derive(Debug, Default)]
pub struct Status {
    pub attachments: Vec<AttachmentStatus>,
    pub cgroups: Vec<CgroupStatus>,
    /// Id of the program attached to the socket hash.
    pub sk_msg_program: Option<u32>,
    /// (map, entries)
    pub maps: Vec<(String, usize)>,
}

pub fn status(dir: &Path) -> Result<Status, DatapathError> {
    kernel::check_root()?;
    let pins = PinDir::new(dir);
    if !pins.maps().exists() {
        return Err(not_up(dir));
    }
    let mut status = Status::default();
    let links = PinDir::list(&pins.links()).map_err(|source| DatapathError::PinDir {
        dir: pins.links(),
        source,
    })?;
    for (path, pin) in links {
        let link = PinnedLink::from_pin(&path).map(FdLink::from);
        let info = link.as_ref().ok().and_then(|l| l.info().ok());
        let live = pinned_link_is_live(&path);
        status.attachments.push(AttachmentStatus {
            kind: if pin.program == ProgramKind::XdpPolicy.program_name() {
                "xdp link"
            } else {
                "tcx link"
            },
            link_id: info.as_ref().map(|i| i.id()),
            program_id: info.as_ref().map(|i| i.program_id()),
            live,
            pin,
        });
    }
    let records = PinDir::list(&pins.netlink()).map_err(|source| DatapathError::PinDir {
        dir: pins.netlink(),
        source,
    })?;
    for (path, pin) in records {
        let program_id = aya::programs::ProgramInfo::from_pin(&path)
            .ok()
            .map(|i| i.id());
        status.attachments.push(AttachmentStatus {
            kind: "netlink filter",
            link_id: None,
            program_id,
            live: true,
            pin,
        });
    }
    (status.cgroups, status.sk_msg_program) = socket_level::status(&pins)?;
    let maps = open_maps(&pins)?;
    use meshtwin_datapath_common::maps as names;
    status.maps = vec![
        (names::IDENTITY_V4.into(), maps.identity_v4.keys().count()),
        (names::IDENTITY_V6.into(), maps.identity_v6.keys().count()),
        (names::POLICED.into(), maps.policed.keys().count()),
        (names::POLICY.into(), maps.policy.keys().count()),
        (names::POLICY_FLOWS.into(), maps.policy_flows.keys().count()),
        (
            names::POLICY_COUNTS.into(),
            maps.policy_counts.keys().count(),
        ),
        (names::SERVICES.into(), maps.services.keys().count()),
        (names::BACKENDS.into(), maps.backends.keys().count()),
        (names::LB_CONNTRACK.into(), maps.lb_conntrack.keys().count()),
        (names::LB_REVNAT.into(), maps.lb_revnat.keys().count()),
        (names::SERVICE_COUNTS.into(), maps.service_ids().len()),
        (names::MESH_SOCKS.into(), maps.mesh_socks.keys().count()),
        (names::SOCK_MODES.into(), maps.sock_modes.keys().count()),
        (
            names::LOCAL_ENDPOINTS.into(),
            maps.local_endpoints.keys().count(),
        ),
        (
            names::HTTP_ENDPOINTS.into(),
            maps.http_endpoints.keys().count(),
        ),
        (names::HTTP_CONNS.into(), maps.http_conns.keys().count()),
        (
            names::ORIG_DST_COOKIE.into(),
            maps.orig_dst_cookie.keys().count(),
        ),
        (
            names::ORIG_DST_FLOW.into(),
            maps.orig_dst_flow.keys().count(),
        ),
    ];
    Ok(status)
}

/// What `reload` did.
#[derive(Debug, Default)]
pub struct ReloadReport {
    pub sync: SyncSummary,
    /// When the config adds or removes attachments or workloads (or changes how tc programs
    /// attach): what `up` attached, replaced and detached for it.
    pub up: Option<UpReport>,
}

/// Applies a config to a running datapath (the `reload` command and SIGHUP): the maps in
/// place; and when the config attaches programs where none are pinned, or no longer where some
/// are, the attachments too, which needs the programs (`object`) and is what `up` does. Every
/// interface and cgroup the config names is looked up before anything changes, so a reload
/// that cannot be applied changes nothing.
pub fn reload(config: &NodeConfig, object: &[u8]) -> Result<ReloadReport, DatapathError> {
    kernel::check_root()?;
    let pins = PinDir::new(&config.bpffs_dir);
    if !pins.maps().exists() {
        return Err(not_up(&config.bpffs_dir));
    }
    if planned_pins(config, &pins)? == pinned_pins(&pins)? {
        let sync = map_sync::apply(&mut open_maps(&pins)?, config)?;
        return Ok(ReloadReport { sync, up: None });
    }
    let mut report = up(config, object)?;
    Ok(ReloadReport {
        sync: std::mem::take(&mut report.sync),
        up: Some(report),
    })
}

/// The pins `config` would have once up: interface attachments, cgroup attachments and the
/// socket hash's program.
fn planned_pins(config: &NodeConfig, pins: &PinDir) -> Result<BTreeSet<PathBuf>, DatapathError> {
    let tcx = uses_tcx(config, kernel::running_kernel()?);
    let mut planned = BTreeSet::new();
    for attachment in &config.attachments {
        planned.insert(pin_path(pins, &resolve(attachment)?, tcx));
    }
    planned.extend(socket_level::planned_pins(config, pins)?);
    Ok(planned)
}

/// The pins there are.
fn pinned_pins(pins: &PinDir) -> Result<BTreeSet<PathBuf>, DatapathError> {
    let mut pinned: BTreeSet<PathBuf> = pinned_attachments(pins)?
        .into_iter()
        .map(|(path, _)| path)
        .collect();
    pinned.extend(socket_level::pinned_pins(pins)?);
    Ok(pinned)
}
