//! The few bpf(2) commands aya 0.14 does not expose for an object known only by its pin:
//! opening the pin, reading what a link is attached to, swapping a link's program, and
//! detaching. The attribute and info layouts are aya-obj's bindings of the kernel's
//! `include/uapi/linux/bpf.h`, so no offset is written here.
//!
//! aya-obj's `union bpf_attr` and `struct bpf_link_info` can be larger than an older kernel's:
//! the kernel accepts a larger size when the bytes it does not know are zero, which they are
//! (every attribute and info buffer starts zeroed).

use std::{
    ffi::CString,
    io,
    mem::size_of,
    os::{
        fd::{AsRawFd as _, BorrowedFd, FromRawFd as _, OwnedFd},
        unix::ffi::OsStrExt as _,
    },
    path::Path,
};

use aya_obj::generated::{bpf_attach_type, bpf_attr, bpf_cmd, bpf_link_info, bpf_link_type};

/// An all-zero `union bpf_attr`: what the kernel requires in every field a command does not use.
fn zeroed_attr() -> bpf_attr {
    // SAFETY: the union's members are integers and arrays of integers, for which all-zero
    // bytes are a valid value.
    unsafe { std::mem::zeroed() }
}

fn bpf(cmd: bpf_cmd, attr: &mut bpf_attr) -> io::Result<libc::c_long> {
    // SAFETY: `attr` is a whole, initialised `union bpf_attr` that outlives the call, and the
    // size passed is its size, so the kernel reads and writes only inside it. Pointers stored
    // in it (paths, info buffers) are valid for the call: their owners are borrowed by the
    // callers below until it returns.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd as libc::c_long,
            attr as *mut bpf_attr,
            size_of::<bpf_attr>(),
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ret)
}

/// `BPF_OBJ_GET`: opens the object pinned at `path`.
pub fn obj_get(path: &Path) -> io::Result<OwnedFd> {
    let c_path = CString::new(path.as_os_str().as_bytes())?;
    let mut attr = zeroed_attr();
    attr.__bindgen_anon_4.pathname = c_path.as_ptr() as u64;
    let fd = bpf(bpf_cmd::BPF_OBJ_GET, &mut attr)?;
    // SAFETY: the kernel returned a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// `BPF_OBJ_PIN`: pins `fd` at `path` on a bpffs.
pub fn obj_pin(fd: BorrowedFd<'_>, path: &Path) -> io::Result<()> {
    let c_path = CString::new(path.as_os_str().as_bytes())?;
    let mut attr = zeroed_attr();
    attr.__bindgen_anon_4.pathname = c_path.as_ptr() as u64;
    attr.__bindgen_anon_4.bpf_fd = fd.as_raw_fd() as u32;
    bpf(bpf_cmd::BPF_OBJ_PIN, &mut attr).map(drop)
}

/// `BPF_LINK_CREATE` of a netkit link (6.7+, which aya 0.14 does not offer): `program` on the
/// netkit device `if_index` (the primary, in the host's namespace), at `attach_type`
/// (`BPF_NETKIT_PEER`: what the pod sends; `BPF_NETKIT_PRIMARY`: what it receives).
pub fn netkit_link_create(
    program: BorrowedFd<'_>,
    if_index: u32,
    attach_type: bpf_attach_type,
) -> io::Result<OwnedFd> {
    let mut attr = zeroed_attr();
    attr.link_create.__bindgen_anon_1.prog_fd = program.as_raw_fd() as u32;
    attr.link_create.__bindgen_anon_2.target_ifindex = if_index;
    attr.link_create.attach_type = attach_type as u32;
    let fd = bpf(bpf_cmd::BPF_LINK_CREATE, &mut attr)?;
    // SAFETY: the kernel returned a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// `BPF_OBJ_GET_INFO_BY_FD` on a link.
fn link_info(fd: BorrowedFd<'_>) -> Option<bpf_link_info> {
    // SAFETY: integers and unions of integers: all-zero bytes are a valid value.
    let mut info: bpf_link_info = unsafe { std::mem::zeroed() };
    let mut attr = zeroed_attr();
    attr.info.bpf_fd = fd.as_raw_fd() as u32;
    attr.info.info_len = size_of::<bpf_link_info>() as u32;
    attr.info.info = &mut info as *mut bpf_link_info as u64;
    bpf(bpf_cmd::BPF_OBJ_GET_INFO_BY_FD, &mut attr).ok()?;
    Some(info)
}

/// The interface an XDP or tcx link is attached to: 0 once the interface is gone (the link is
/// then defunct). `None` for any other object.
pub fn netdev_link_ifindex(fd: BorrowedFd<'_>) -> Option<u32> {
    let info = link_info(fd)?;
    let target = &info.__bindgen_anon_1;
    // SAFETY: the kernel filled the union member that `type_` names; every member is plain
    // integers over a zeroed buffer, so reading it is defined either way.
    unsafe {
        match info.type_ {
            t if t == bpf_link_type::BPF_LINK_TYPE_XDP as u32 => Some(target.xdp.ifindex),
            t if t == bpf_link_type::BPF_LINK_TYPE_TCX as u32 => Some(target.tcx.ifindex),
            t if t == bpf_link_type::BPF_LINK_TYPE_NETKIT as u32 => Some(target.netkit.ifindex),
            _ => None,
        }
    }
}

/// The cgroup a cgroup link is attached to: 0 once the cgroup is gone. `None` for any other
/// object.
pub fn cgroup_link_cgroup_id(fd: BorrowedFd<'_>) -> Option<u64> {
    let info = link_info(fd)?;
    if info.type_ != bpf_link_type::BPF_LINK_TYPE_CGROUP as u32 {
        return None;
    }
    // SAFETY: `type_` says the kernel filled the `cgroup` member (plain integers).
    Some(unsafe { info.__bindgen_anon_1.cgroup.cgroup_id })
}

/// `BPF_LINK_UPDATE`: swaps the program of a link atomically (5.7+ for cgroup links).
pub fn link_update(link: BorrowedFd<'_>, program: BorrowedFd<'_>) -> io::Result<()> {
    let mut attr = zeroed_attr();
    attr.link_update.link_fd = link.as_raw_fd() as u32;
    attr.link_update.__bindgen_anon_1.new_prog_fd = program.as_raw_fd() as u32;
    bpf(bpf_cmd::BPF_LINK_UPDATE, &mut attr).map(drop)
}

/// `BPF_PROG_DETACH`: detaches a program attached to a map or cgroup with `BPF_PROG_ATTACH`.
/// Best effort: a program that is no longer attached is what the caller wants anyway.
pub fn prog_detach(target: BorrowedFd<'_>, program: BorrowedFd<'_>, attach_type: bpf_attach_type) {
    let mut attr = zeroed_attr();
    attr.__bindgen_anon_5.__bindgen_anon_1.target_fd = target.as_raw_fd() as u32;
    attr.__bindgen_anon_5.attach_bpf_fd = program.as_raw_fd() as u32;
    attr.__bindgen_anon_5.attach_type = attach_type as u32;
    let _ = bpf(bpf_cmd::BPF_PROG_DETACH, &mut attr);
}

/// `BPF_LINK_DETACH`: detaches a link (5.9+) even while another process holds it open. Best
/// effort, as above: a link already detached stays so.
pub fn link_detach(fd: BorrowedFd<'_>) {
    let mut attr = zeroed_attr();
    attr.link_detach.link_fd = fd.as_raw_fd() as u32;
    let _ = bpf(bpf_cmd::BPF_LINK_DETACH, &mut attr);
}
