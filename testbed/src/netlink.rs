//! The few route-netlink requests the testbed makes (veth pairs, links up, addresses, routes,
//! link state), sent from the test process itself instead of an `ip` process each. Under qemu's
//! TCG an exec costs 0.2 s (Linux 6.x) to 0.8 s (5.10), and a test used to run about thirty
//! `ip` processes: most of the kernel matrix's time (docs/kernels.md).
//!
//! A netlink socket belongs to the network namespace it was created in, whichever thread uses
//! it later, so a [`Netns`](crate::netns::Netns) opens one when it is made.

use std::{
    io,
    net::{IpAddr, Ipv4Addr},
    os::fd::RawFd,
};

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL,
    NLM_F_REQUEST,
};
use netlink_packet_route::{
    address::{AddressAttribute, AddressHeaderFlags, AddressMessage},
    link::{
        InfoData, InfoKind, InfoNetkit, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
        LinkXdp, NetkitMode, State, XdpAttached,
    },
    route::{RouteAddress, RouteAttribute, RouteMessage, RouteProtocol, RouteScope, RouteType},
    AddressFamily, RouteNetlinkMessage,
};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

/// The main routing table (RT_TABLE_MAIN), where `ip route add` puts routes.
const MAIN_TABLE: u8 = 254;

pub struct RouteNetlink {
    socket: Socket,
    sequence: u32,
}

impl RouteNetlink {
    /// A route-netlink socket in the calling thread's network namespace.
    pub fn open() -> io::Result<Self> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        Ok(Self {
            socket,
            sequence: 0,
        })
    }

    /// `ip link add NAME type veth peer name PEER_NAME netns PEER_NETNS`.
    pub fn add_veth(&mut self, name: &str, peer_name: &str, peer_netns: RawFd) -> io::Result<()> {
        let mut peer = LinkMessage::default();
        peer.attributes = vec![
            LinkAttribute::IfName(peer_name.to_owned()),
            LinkAttribute::NetNsFd(peer_netns),
        ];
        let mut link = LinkMessage::default();
        link.attributes = vec![
            LinkAttribute::IfName(name.to_owned()),
            LinkAttribute::LinkInfo(vec![
                LinkInfo::Kind(InfoKind::Veth),
                LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
            ]),
        ];
        self.acknowledged(
            RouteNetlinkMessage::NewLink(link),
            NLM_F_CREATE | NLM_F_EXCL,
        )
    }

    /// `ip link add NAME type netkit mode l2 peer name PEER_NAME netns PEER_NETNS`: NAME is the
    /// primary (where BPF programs attach), PEER_NAME the pod's device. L2 mode, so frames
    /// carry an Ethernet header as on a veth and the datapath's parsers read them alike.
    pub fn add_netkit(&mut self, name: &str, peer_name: &str, peer_netns: RawFd) -> io::Result<()> {
        let mut peer = LinkMessage::default();
        peer.attributes = vec![
            LinkAttribute::IfName(peer_name.to_owned()),
            LinkAttribute::NetNsFd(peer_netns),
        ];
        let mut link = LinkMessage::default();
        link.attributes = vec![
            LinkAttribute::IfName(name.to_owned()),
            LinkAttribute::LinkInfo(vec![
                LinkInfo::Kind(InfoKind::Netkit),
                LinkInfo::Data(InfoData::Netkit(vec![
                    InfoNetkit::Mode(NetkitMode::L2),
                    InfoNetkit::Peer(peer),
                ])),
            ]),
        ];
        self.acknowledged(
            RouteNetlinkMessage::NewLink(link),
            NLM_F_CREATE | NLM_F_EXCL,
        )
    }

    /// `ip link set NAME up`.
    pub fn set_up(&mut self, name: &str) -> io::Result<()> {
        let mut link = LinkMessage::default();
        link.header.index = self.index(name)?;
        link.header.flags = LinkFlags::Up;
        link.header.change_mask = LinkFlags::Up;
        self.acknowledged(RouteNetlinkMessage::SetLink(link), 0)
    }

    /// `ip addr add ADDRESS/PREFIX_LEN dev NAME`; IPv6 addresses skip duplicate address
    /// detection (`nodad`), so they are usable at once.
    pub fn add_address(&mut self, name: &str, address: IpAddr, prefix_len: u8) -> io::Result<()> {
        let mut message = AddressMessage::default();
        message.header.index = self.index(name)?;
        message.header.prefix_len = prefix_len;
        match address {
            IpAddr::V4(_) => message.header.family = AddressFamily::Inet,
            IpAddr::V6(_) => {
                message.header.family = AddressFamily::Inet6;
                message.header.flags = AddressHeaderFlags::Nodad;
            }
        }
        message.attributes = vec![
            AddressAttribute::Local(address),
            AddressAttribute::Address(address),
        ];
        self.acknowledged(
            RouteNetlinkMessage::NewAddress(message),
            NLM_F_CREATE | NLM_F_EXCL,
        )
    }

    /// `ip route add DESTINATION/PREFIX_LEN [via GATEWAY] dev NAME` in the main table.
    pub fn add_route(
        &mut self,
        destination: Ipv4Addr,
        prefix_len: u8,
        gateway: Option<Ipv4Addr>,
        name: &str,
    ) -> io::Result<()> {
        let mut route = RouteMessage::default();
        route.header.address_family = AddressFamily::Inet;
        route.header.destination_prefix_length = prefix_len;
        route.header.table = MAIN_TABLE;
        route.header.protocol = RouteProtocol::Boot;
        route.header.kind = RouteType::Unicast;
        // A route without a gateway reaches its destination on the link itself.
        route.header.scope = match gateway {
            Some(_) => RouteScope::Universe,
            None => RouteScope::Link,
        };
        if prefix_len > 0 {
            route
                .attributes
                .push(RouteAttribute::Destination(RouteAddress::Inet(destination)));
        }
        if let Some(gateway) = gateway {
            route
                .attributes
                .push(RouteAttribute::Gateway(RouteAddress::Inet(gateway)));
        }
        route
            .attributes
            .push(RouteAttribute::Oif(self.index(name)?));
        self.acknowledged(
            RouteNetlinkMessage::NewRoute(route),
            NLM_F_CREATE | NLM_F_EXCL,
        )
    }

    /// Whether NAME is operationally up (`state UP` in `ip link show`).
    pub fn is_up(&mut self, name: &str) -> io::Result<bool> {
        let link = self.link(name)?;
        Ok(link
            .attributes
            .iter()
            .any(|a| matches!(a, LinkAttribute::OperState(State::Up))))
    }

    /// Whether an XDP program is attached to NAME, in any mode.
    pub fn has_xdp(&mut self, name: &str) -> io::Result<bool> {
        let link = self.link(name)?;
        Ok(link.attributes.iter().any(|a| match a {
            LinkAttribute::Xdp(xdp) => xdp
                .iter()
                .any(|x| matches!(x, LinkXdp::Attached(mode) if *mode != XdpAttached::None)),
            _ => false,
        }))
    }

    fn index(&mut self, name: &str) -> io::Result<u32> {
        Ok(self.link(name)?.header.index)
    }

    /// `RTM_GETLINK` by name.
    fn link(&mut self, name: &str) -> io::Result<LinkMessage> {
        let mut request = LinkMessage::default();
        request
            .attributes
            .push(LinkAttribute::IfName(name.to_owned()));
        match self.request(RouteNetlinkMessage::GetLink(request), 0)? {
            Some(RouteNetlinkMessage::NewLink(link)) => Ok(link),
            other => Err(io::Error::other(format!(
                "RTM_GETLINK {name}: unexpected reply {other:?}"
            ))),
        }
    }

    /// Sends a request that changes something and waits for the kernel's acknowledgement.
    fn acknowledged(&mut self, message: RouteNetlinkMessage, flags: u16) -> io::Result<()> {
        match self.request(message, flags | NLM_F_ACK)? {
            None => Ok(()),
            Some(other) => Err(io::Error::other(format!(
                "expected an acknowledgement, got {other:?}"
            ))),
        }
    }

    /// Sends one request; returns its reply message, or None for an acknowledgement. A netlink
    /// error becomes the matching `io::Error` (EEXIST, ENODEV, ...).
    fn request(
        &mut self,
        message: RouteNetlinkMessage,
        flags: u16,
    ) -> io::Result<Option<RouteNetlinkMessage>> {
        self.sequence += 1;
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | flags;
        header.sequence_number = self.sequence;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(message));
        packet.finalize();
        let mut buffer = vec![0; packet.buffer_len()];
        packet.serialize(&mut buffer);
        self.socket.send(&buffer, 0)?;
        loop {
            let (reply, _) = self.socket.recv_from_full()?;
            let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&reply)
                .map_err(|error| io::Error::other(format!("bad netlink reply: {error}")))?;
            if reply.header.sequence_number != self.sequence {
                // A late answer to an earlier request: not ours.
                continue;
            }
            return match reply.payload {
                NetlinkPayload::Error(error) => match error.code {
                    Some(code) => Err(io::Error::from_raw_os_error(-code.get())),
                    None => Ok(None),
                },
                NetlinkPayload::InnerMessage(message) => Ok(Some(message)),
                other => Err(io::Error::other(format!(
                    "unexpected netlink reply {other:?}"
                ))),
            };
        }
    }
}
