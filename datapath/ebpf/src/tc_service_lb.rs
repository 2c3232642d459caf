//! TC (clsact ingress) service load balancing, attached to the node side of workload interfaces.
//!
//! A packet from a client to a service VIP:port is DNATed to a backend chosen by a hash of its
//! 5-tuple; the choice is kept in an LRU conntrack map so the whole flow stays on that backend,
//! and a reverse entry restores the VIP as source on the backend's replies. Backends the agent
//! adds or removes change the choice for new flows only. IPv4 only.

use aya_ebpf::{
    bindings::{BPF_F_MARK_MANGLED_0, BPF_F_PSEUDO_HDR, TC_ACT_OK, TC_ACT_SHOT},
    macros::classifier,
    programs::TcContext,
};
use meshtwin_datapath_common::{
    flow_hash::{backend_slot, flow_hash_v4},
    packet::{
        l4_checksum_offset, parse_frame, IpHeaders, ParseError, Parsed, IPPROTO_TCP, IPPROTO_UDP,
        IPV4_CHECKSUM_OFFSET, IPV4_DST_OFFSET, IPV4_SRC_OFFSET, TCP_FLAG_ACK, TCP_FLAG_SYN,
    },
    service::{BackendKey, Flow4, LbConnection, LbReverse, ServiceCounters, ServiceKey},
};

use crate::{context_bytes::ContextBytes, maps::*};

/// Enough for Ethernet + the largest IPv4 header + a TCP header.
const HEADERS_MAX: u32 = 14 + 60 + 20;

#[classifier]
pub fn tc_service_lb(ctx: TcContext) -> i32 {
    match translate(&ctx) {
        Ok(action) => action,
        // A helper failed half-way through a rewrite: the packet may be inconsistent.
        Err(_) => TC_ACT_SHOT,
    }
}

#[inline(always)]
fn parse(ctx: &TcContext) -> Option<IpHeaders> {
    let parsed = parse_frame(&ContextBytes::new(ctx.data(), ctx.data_end()));
    let parsed = match parsed {
        // Headers may sit in the non-linear part of the buffer: pull them in and look again.
        Err(ParseError::Truncated { .. }) if ctx.len() > (ctx.data_end() - ctx.data()) as u32 => {
            let wanted = if ctx.len() < HEADERS_MAX {
                ctx.len()
            } else {
                HEADERS_MAX
            };
            ctx.pull_data(wanted).ok()?;
            parse_frame(&ContextBytes::new(ctx.data(), ctx.data_end()))
        }
        other => other,
    };
    match parsed {
        Ok(Parsed::Ip(headers)) => Some(headers),
        _ => None,
    }
}

#[inline(always)]
fn translate(ctx: &TcContext) -> Result<i32, i64> {
    let Some(headers) = parse(ctx) else {
        return Ok(TC_ACT_OK);
    };
    if headers.family != 4 {
        return Ok(TC_ACT_OK);
    }
    let (src, dst) = (headers.src_v4(), headers.dst_v4());
    if !headers.has_ports() {
        return Ok(TC_ACT_OK);
    }
    let protocol = headers.protocol;
    let flow = Flow4::new(src, dst, headers.src_port, headers.dst_port, protocol);
    let bytes = ctx.len() as u64;

    // Reply of a balanced flow: backend -> client becomes VIP -> client.
    // SAFETY: copied at once (maps.rs, "Map memory").
    let reverse = unsafe { LB_REVNAT.get(flow) }.copied();
    if let Some(reverse) = reverse {
        rewrite(
            ctx,
            &headers,
            Side::Source,
            src,
            reverse.vip,
            headers.src_port,
            reverse.port,
        )?;
        count(reverse.service_id, bytes, false);
        return Ok(TC_ACT_OK);
    }

    // Client -> VIP.
    // SAFETY: copied at once (maps.rs, "Map memory").
    let service =
        unsafe { SERVICES.get(ServiceKey::new(dst, headers.dst_port, protocol)) }.copied();
    let Some(service) = service else {
        return Ok(TC_ACT_OK);
    };
    // A TCP SYN starts a new connection even if an old one with the same tuple is still in the
    // conntrack map: it must see the current backend set.
    let opening = protocol == IPPROTO_TCP
        && headers.tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK) == TCP_FLAG_SYN;
    let existing = if opening {
        None
    } else {
        // SAFETY: copied at once (maps.rs, "Map memory").
        unsafe { LB_CONNTRACK.get(flow) }.copied()
    };
    let connection = match existing {
        Some(connection) => connection,
        None => {
            let hash = flow_hash_v4(src, dst, headers.src_port, headers.dst_port, protocol);
            let Some(slot) = backend_slot(hash, service.backend_count) else {
                count(service.id, bytes, true);
                return Ok(TC_ACT_SHOT);
            };
            let key = BackendKey {
                service_id: service.id,
                slot,
            };
            // SAFETY: copied at once (maps.rs, "Map memory").
            let Some(backend) = (unsafe { BACKENDS.get(key) }).copied() else {
                // The agent is rewriting this service's slots; the client will retransmit.
                count(service.id, bytes, true);
                return Ok(TC_ACT_SHOT);
            };
            let connection = LbConnection {
                backend,
                service_id: service.id,
            };
            let reply = Flow4::new(backend.addr, src, backend.port, headers.src_port, protocol);
            let reverse = LbReverse {
                vip: dst,
                port: headers.dst_port,
                pad: 0,
                service_id: service.id,
            };
            LB_CONNTRACK.insert(flow, connection, 0)?;
            LB_REVNAT.insert(reply, reverse, 0)?;
            connection
        }
    };
    rewrite(
        ctx,
        &headers,
        Side::Destination,
        dst,
        connection.backend.addr,
        headers.dst_port,
        connection.backend.port,
    )?;
    count(service.id, bytes, false);
    Ok(TC_ACT_OK)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Source,
    Destination,
}

/// Replaces one address and port of the packet and fixes the IPv4 and transport checksums
/// incrementally (the transport checksum covers the addresses through the pseudo-header).
#[inline(always)]
fn rewrite(
    ctx: &TcContext,
    headers: &IpHeaders,
    side: Side,
    old_addr: [u8; 4],
    new_addr: [u8; 4],
    old_port: u16,
    new_port: u16,
) -> Result<(), i64> {
    let l3 = headers.l3_offset;
    let l4 = headers.l4_offset;
    let (addr_offset, port_offset) = match side {
        Side::Source => (IPV4_SRC_OFFSET, 0),
        Side::Destination => (IPV4_DST_OFFSET, 2),
    };
    let old_addr_raw = u32::from_ne_bytes(old_addr) as u64;
    let new_addr_raw = u32::from_ne_bytes(new_addr) as u64;
    let old_port_raw = u16::from_ne_bytes(old_port.to_be_bytes()) as u64;
    let new_port_raw = u16::from_ne_bytes(new_port.to_be_bytes()) as u64;

    if let Some(checksum) = l4_checksum_offset(headers.protocol) {
        // A UDP checksum of 0 means "none" and must stay 0.
        let mangled = if headers.protocol == IPPROTO_UDP {
            BPF_F_MARK_MANGLED_0 as u64
        } else {
            0
        };
        ctx.l4_csum_replace(
            l4 + checksum,
            old_addr_raw,
            new_addr_raw,
            BPF_F_PSEUDO_HDR as u64 | mangled | 4,
        )?;
        if old_port != new_port {
            ctx.l4_csum_replace(l4 + checksum, old_port_raw, new_port_raw, mangled | 2)?;
        }
    }
    ctx.l3_csum_replace(l3 + IPV4_CHECKSUM_OFFSET, old_addr_raw, new_addr_raw, 4)?;
    ctx.store(l3 + addr_offset, &new_addr, 0)?;
    if old_port != new_port {
        ctx.store(l4 + port_offset, &new_port.to_be_bytes(), 0)?;
    }
    Ok(())
}

#[inline(always)]
fn count(service_id: u32, bytes: u64, no_backend: bool) {
    let Some(counters) = SERVICE_COUNTS.get_ptr_mut(service_id) else {
        return;
    };
    // SAFETY: this CPU's copy of a per-CPU value (maps.rs, "Map memory").
    let counters: &mut ServiceCounters = unsafe { &mut *counters };
    counters.packets += 1;
    counters.bytes += bytes;
    if no_backend {
        counters.no_backend_drops += 1;
    }
}
