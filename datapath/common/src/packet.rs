//! Ethernet / IPv4 / IPv6 / TCP / UDP header parsing, shared by the kernel programs and the
//! user-space tests.
//!
//! The parser never touches memory itself: it asks a [`PacketBytes`] for `N` bytes at an offset,
//! and every such read is bounds-checked by the implementation. In the kernel that check is the
//! `data + offset + N <= data_end` comparison the verifier demands; in user space it is a slice
//! range. So a packet that is too short gives [`ParseError::Truncated`], never an out-of-bounds
//! read, on both sides.

/// Length of an Ethernet II header without VLAN tags.
pub const ETH_HEADER_LEN: usize = 14;
/// Length of the fixed IPv6 header.
pub const IPV6_HEADER_LEN: usize = 40;
/// Minimum IPv4 header length (IHL = 5).
pub const IPV4_MIN_HEADER_LEN: usize = 20;
/// Minimum TCP header length (data offset = 5).
pub const TCP_MIN_HEADER_LEN: usize = 20;
/// UDP header length.
pub const UDP_HEADER_LEN: usize = 8;

pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_IPV6: u16 = 0x86DD;

pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_UDP: u8 = 17;
pub const IPPROTO_ICMPV6: u8 = 58;

/// ICMPv6 neighbour discovery: router solicitation .. redirect (RFC 4861). IPv6's ARP.
pub const ICMPV6_NEIGHBOR_DISCOVERY: core::ops::RangeInclusive<u8> = 133..=137;

/// TCP flag bits as found in byte 13 of the TCP header.
pub const TCP_FLAG_FIN: u8 = 0x01;
pub const TCP_FLAG_SYN: u8 = 0x02;
pub const TCP_FLAG_RST: u8 = 0x04;
pub const TCP_FLAG_ACK: u8 = 0x10;

/// Bytes of a packet, read with a bounds check on every access.
pub trait PacketBytes {
    /// Copies `N` bytes starting at `offset`, or returns `None` when any of them lies past the
    /// end of the packet.
    fn read<const N: usize>(&self, offset: usize) -> Option<[u8; N]>;
}

impl PacketBytes for [u8] {
    #[inline(always)]
    fn read<const N: usize>(&self, offset: usize) -> Option<[u8; N]> {
        let end = offset.checked_add(N)?;
        let bytes = self.get(offset..end)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Some(out)
    }
}

/// Source and destination addresses, in network byte order as they appear on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpPair {
    V4 { src: [u8; 4], dst: [u8; 4] },
    V6 { src: [u8; 16], dst: [u8; 16] },
}

/// What the parser learnt about an IP packet.
///
/// A flat `#[repr(C)]` struct with explicit padding, always fully written: the kernel copies it
/// around on the stack, and older verifiers (5.10) reject a read of any stack byte that some path
/// left unwritten, such as the unused part of an enum variant.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpHeaders {
    /// Source address in wire order; IPv4 uses the first 4 bytes, the rest are 0.
    pub src: [u8; 16],
    /// Destination address, as `src`.
    pub dst: [u8; 16],
    /// Offset of the IP header (after Ethernet).
    pub l3_offset: usize,
    /// Offset of the transport header.
    pub l4_offset: usize,
    /// Source port in host order; 0 when the packet carries no TCP/UDP header we can read
    /// (another protocol, or an IPv4 fragment other than the first).
    pub src_port: u16,
    /// Destination port in host order; 0 as for `src_port`.
    pub dst_port: u16,
    /// 4 or 6.
    pub family: u8,
    /// IPv4 protocol or IPv6 next header (extension headers are not walked: such a packet is
    /// reported with the extension header's number and no ports).
    pub protocol: u8,
    /// TCP flags byte; 0 for anything but TCP.
    pub tcp_flags: u8,
    /// ICMPv6 message type; 0 for anything but ICMPv6.
    pub icmpv6_type: u8,
    /// The packet is an IPv4 fragment other than the first one.
    pub later_fragment: bool,
    /// Always 0.
    pub pad: [u8; 7],
}

impl IpHeaders {
    /// A header with every byte set: addresses and ports 0.
    #[inline(always)]
    pub const fn empty(family: u8, l3_offset: usize, l4_offset: usize) -> Self {
        Self {
            src: [0; 16],
            dst: [0; 16],
            l3_offset,
            l4_offset,
            src_port: 0,
            dst_port: 0,
            family,
            protocol: 0,
            tcp_flags: 0,
            icmpv6_type: 0,
            later_fragment: false,
            pad: [0; 7],
        }
    }

    /// IPv4 source address (meaningful when `family == 4`).
    #[inline(always)]
    pub fn src_v4(&self) -> [u8; 4] {
        [self.src[0], self.src[1], self.src[2], self.src[3]]
    }

    /// IPv4 destination address (meaningful when `family == 4`).
    #[inline(always)]
    pub fn dst_v4(&self) -> [u8; 4] {
        [self.dst[0], self.dst[1], self.dst[2], self.dst[3]]
    }

    /// The addresses as an enum, for user space.
    pub fn addrs(&self) -> IpPair {
        if self.family == 4 {
            IpPair::V4 {
                src: self.src_v4(),
                dst: self.dst_v4(),
            }
        } else {
            IpPair::V6 {
                src: self.src,
                dst: self.dst,
            }
        }
    }

    /// Whether the ports are meaningful (TCP or UDP with its header present).
    #[inline(always)]
    pub fn has_ports(&self) -> bool {
        !self.later_fragment && (self.protocol == IPPROTO_TCP || self.protocol == IPPROTO_UDP)
    }

    /// IPv6 neighbour discovery, which must pass like ARP or IPv6 stops working.
    #[inline(always)]
    pub fn is_neighbor_discovery(&self) -> bool {
        self.family == 6
            && self.protocol == IPPROTO_ICMPV6
            && ICMPV6_NEIGHBOR_DISCOVERY.contains(&self.icmpv6_type)
    }
}

/// A parsed frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Not IPv4 or IPv6 (ARP, VLAN-tagged, ...): the programs let it pass untouched.
    NotIp {
        ether_type: u16,
    },
    Ip(IpHeaders),
}

/// Why a frame could not be parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// The frame ends before a header it announces: `needed` bytes at `offset`.
    Truncated { offset: usize, needed: usize },
    /// The IP version nibble does not match the EtherType.
    BadIpVersion { version: u8 },
    /// IPv4 header length below 20 bytes.
    BadIpv4HeaderLength { ihl: u8 },
}

#[inline(always)]
fn read<B: PacketBytes + ?Sized, const N: usize>(
    bytes: &B,
    offset: usize,
) -> Result<[u8; N], ParseError> {
    bytes
        .read::<N>(offset)
        .ok_or(ParseError::Truncated { offset, needed: N })
}

/// Parses an Ethernet frame down to the transport ports.
#[inline(always)]
pub fn parse_frame<B: PacketBytes + ?Sized>(bytes: &B) -> Result<Parsed, ParseError> {
    let ether_type = u16::from_be_bytes(read::<B, 2>(bytes, 12)?);
    match ether_type {
        ETHERTYPE_IPV4 => parse_ipv4(bytes, ETH_HEADER_LEN).map(Parsed::Ip),
        ETHERTYPE_IPV6 => parse_ipv6(bytes, ETH_HEADER_LEN).map(Parsed::Ip),
        other => Ok(Parsed::NotIp { ether_type: other }),
    }
}

#[inline(always)]
fn parse_ipv4<B: PacketBytes + ?Sized>(bytes: &B, l3: usize) -> Result<IpHeaders, ParseError> {
    let [version_ihl] = read::<B, 1>(bytes, l3)?;
    let version = version_ihl >> 4;
    if version != 4 {
        return Err(ParseError::BadIpVersion { version });
    }
    // Masking keeps the header length provably at most 60 bytes, which the verifier needs to
    // bound the transport header offset.
    let ihl = version_ihl & 0x0f;
    if ihl < 5 {
        return Err(ParseError::BadIpv4HeaderLength { ihl });
    }
    let [flags_hi, frag_lo] = read::<B, 2>(bytes, l3 + 6)?;
    let later_fragment = (u16::from_be_bytes([flags_hi, frag_lo]) & 0x1fff) != 0;
    let [protocol] = read::<B, 1>(bytes, l3 + 9)?;
    let src = read::<B, 4>(bytes, l3 + 12)?;
    let dst = read::<B, 4>(bytes, l3 + 16)?;
    let l4 = l3 + (ihl as usize) * 4;
    // Options, if any, must be present too: the transport header starts after them.
    read::<B, 1>(bytes, l4 - 1)?;
    let mut headers = IpHeaders::empty(4, l3, l4);
    headers.src[..4].copy_from_slice(&src);
    headers.dst[..4].copy_from_slice(&dst);
    headers.protocol = protocol;
    headers.later_fragment = later_fragment;
    if !later_fragment {
        parse_l4(bytes, &mut headers)?;
    }
    Ok(headers)
}

#[inline(always)]
fn parse_ipv6<B: PacketBytes + ?Sized>(bytes: &B, l3: usize) -> Result<IpHeaders, ParseError> {
    let [version_class] = read::<B, 1>(bytes, l3)?;
    let version = version_class >> 4;
    if version != 6 {
        return Err(ParseError::BadIpVersion { version });
    }
    let [next_header] = read::<B, 1>(bytes, l3 + 6)?;
    let src = read::<B, 16>(bytes, l3 + 8)?;
    let dst = read::<B, 16>(bytes, l3 + 24)?;
    let mut headers = IpHeaders::empty(6, l3, l3 + IPV6_HEADER_LEN);
    headers.src = src;
    headers.dst = dst;
    headers.protocol = next_header;
    parse_l4(bytes, &mut headers)?;
    Ok(headers)
}

#[inline(always)]
fn parse_l4<B: PacketBytes + ?Sized>(bytes: &B, headers: &mut IpHeaders) -> Result<(), ParseError> {
    let l4 = headers.l4_offset;
    match headers.protocol {
        IPPROTO_TCP => {
            // The whole fixed TCP header must be there: the checksum (offset 16) is rewritten by
            // the load balancer.
            let tcp = read::<B, TCP_MIN_HEADER_LEN>(bytes, l4)?;
            headers.src_port = u16::from_be_bytes([tcp[0], tcp[1]]);
            headers.dst_port = u16::from_be_bytes([tcp[2], tcp[3]]);
            headers.tcp_flags = tcp[13];
        }
        IPPROTO_UDP => {
            let udp = read::<B, UDP_HEADER_LEN>(bytes, l4)?;
            headers.src_port = u16::from_be_bytes([udp[0], udp[1]]);
            headers.dst_port = u16::from_be_bytes([udp[2], udp[3]]);
        }
        IPPROTO_ICMPV6 if headers.family == 6 => {
            let [icmp_type] = read::<B, 1>(bytes, l4)?;
            headers.icmpv6_type = icmp_type;
        }
        _ => {}
    }
    Ok(())
}

/// Offset of the transport checksum within the transport header, for the protocols whose
/// checksum covers the IP pseudo-header.
#[inline(always)]
pub const fn l4_checksum_offset(protocol: u8) -> Option<usize> {
    match protocol {
        IPPROTO_TCP => Some(16),
        IPPROTO_UDP => Some(6),
        _ => None,
    }
}

/// Offset of the IPv4 header checksum within the IPv4 header.
pub const IPV4_CHECKSUM_OFFSET: usize = 10;
/// Offset of the IPv4 source address within the IPv4 header.
pub const IPV4_SRC_OFFSET: usize = 12;
/// Offset of the IPv4 destination address within the IPv4 header.
pub const IPV4_DST_OFFSET: usize = 16;

#[cfg(test)]
mod tests;
