//! The proxy's connection to a backend on this node, announced to the XDP policy first: the
//! socket is bound to the proxy's address and an ephemeral port, its flow is written into
//! `FORWARDED_FLOWS` with the identity of the client it carries, and only then does it
//! connect. The backend's XDP program judges every packet of the flow as that client's
//! (docs/datapath.md, "The node proxy"); the entry goes when the connection does.

use std::{
    io,
    net::{Ipv4Addr, SocketAddr, SocketAddrV4},
    sync::{Arc, Mutex},
};

use meshtwin_datapath_common::{packet::IPPROTO_TCP, policy::FlowKey};
use meshtwin_datapath_pins::PinnedMaps;
use tokio::net::{TcpSocket, TcpStream};

/// A connection to a backend and its `FORWARDED_FLOWS` entry, removed on drop.
pub struct Upstream {
    pub stream: TcpStream,
    /// Held for its `Drop`, which removes the flow's entry.
    _announced: Announced,
}

struct Announced {
    maps: Arc<Mutex<PinnedMaps>>,
    flow: FlowKey,
}

impl Drop for Announced {
    fn drop(&mut self) {
        if let Ok(mut maps) = self.maps.lock() {
            let _ = maps.forwarded_flows.remove(&self.flow);
        }
    }
}

fn flow(source: SocketAddrV4, backend: SocketAddrV4) -> FlowKey {
    let mut src = [0; 16];
    let mut dst = [0; 16];
    src[..4].copy_from_slice(&source.ip().octets());
    dst[..4].copy_from_slice(&backend.ip().octets());
    FlowKey {
        src,
        dst,
        src_port: source.port(),
        dst_port: backend.port(),
        protocol: IPPROTO_TCP,
        family: 4,
        pad: [0; 2],
    }
}

/// Connects from `source` (the proxy's address) to `backend` for a client of `identity`.
pub async fn connect(
    maps: &Arc<Mutex<PinnedMaps>>,
    source: Ipv4Addr,
    backend: SocketAddrV4,
    identity: u32,
) -> io::Result<Upstream> {
    let socket = TcpSocket::new_v4()?;
    // The port is chosen here, so the flow is known before the SYN exists.
    socket.bind(SocketAddr::from((source, 0)))?;
    let SocketAddr::V4(bound) = socket.local_addr()? else {
        return Err(io::Error::other("an IPv4 socket bound to an IPv6 address"));
    };
    let flow = flow(bound, backend);
    {
        let mut guard = maps
            .lock()
            .map_err(|_| io::Error::other("the pinned maps' lock is poisoned"))?;
        guard
            .forwarded_flows
            .insert(flow, identity, 0)
            .map_err(|error| io::Error::other(format!("FORWARDED_FLOWS: {error}")))?;
    }
    let announced = Announced {
        maps: maps.clone(),
        flow,
    };
    let stream = socket.connect(backend.into()).await?;
    Ok(Upstream {
        stream,
        _announced: announced,
    })
}
