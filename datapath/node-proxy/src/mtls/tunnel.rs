//! The two ends of a tunnel. Outbound (proxy A): a redirected connection whose backend lives
//! on another node is carried to that node's proxy in TLS, presenting the client workload's
//! certificate and expecting the backend's. Inbound (proxy B): the handshake verifies the
//! client's certificate against the trust bundle (wrong CA, expired: refused), the CONNECT
//! target must be a workload of this node with the identity whose certificate was presented,
//! and the policy decides on the verified identity, exactly as for a local client.

use std::{
    net::{Ipv4Addr, SocketAddr, SocketAddrV4},
    sync::{atomic::Ordering, Arc, Mutex},
};

use meshtwin_datapath_common::{identity::UNKNOWN_IDENTITY, policy::PolicyLookups as _};
use meshtwin_datapath_pins::PinnedMaps;
use rustls::pki_types::ServerName;
use tokio::{
    io::AsyncWriteExt as _,
    net::{TcpListener, TcpStream},
};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::{connect_head, spiffe::TrustDomain, store::CertificateStore};
use crate::{
    authorize::Client,
    counters::ProxyCounters,
    forward::{self, Refusal},
};

/// An IPv4 network: the pods of a peer node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Network {
    pub address: Ipv4Addr,
    pub prefix_len: u8,
}

impl Network {
    pub fn contains(&self, address: Ipv4Addr) -> bool {
        let mask = u32::MAX
            .checked_shl(32 - u32::from(self.prefix_len))
            .unwrap_or(0);
        u32::from(address) & mask == u32::from(self.address) & mask
    }
}

/// A peer node: its pods' network, and where its proxy accepts tunnels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peer {
    pub pods: Network,
    pub tunnel: SocketAddr,
}

impl std::str::FromStr for Peer {
    type Err = String;

    /// `10.78.0.0/24=10.100.0.2:15008`
    fn from_str(text: &str) -> Result<Self, String> {
        let usage = || {
            format!("{text:?}: expected POD-CIDR=ADDRESS:PORT, e.g. 10.78.0.0/24=10.100.0.2:15008")
        };
        let (cidr, tunnel) = text.split_once('=').ok_or_else(usage)?;
        let (address, prefix_len) = cidr.split_once('/').ok_or_else(usage)?;
        let pods = Network {
            address: address.parse().map_err(|_| usage())?,
            prefix_len: prefix_len
                .parse()
                .ok()
                .filter(|p| *p <= 32)
                .ok_or_else(usage)?,
        };
        Ok(Self {
            pods,
            tunnel: tunnel.parse().map_err(|_| usage())?,
        })
    }
}

/// What both ends share.
pub struct Tunnels {
    pub store: Arc<CertificateStore>,
    pub peers: Vec<Peer>,
    pub maps: Arc<Mutex<PinnedMaps>>,
    pub counters: Arc<ProxyCounters>,
    /// The proxy's own address, the source of its connections to local backends.
    pub source: Ipv4Addr,
}

impl Tunnels {
    /// The peer node whose pods include `backend`, if it is not on this node.
    pub fn peer_of(&self, backend: Ipv4Addr) -> Option<Peer> {
        self.peers
            .iter()
            .copied()
            .find(|p| p.pods.contains(backend))
    }

    fn identities(&self, client: Ipv4Addr, backend: Ipv4Addr) -> (u32, u32) {
        match self.maps.lock() {
            Ok(maps) => (
                maps.identity_v4(client.octets()),
                maps.identity_v4(backend.octets()),
            ),
            Err(_) => (UNKNOWN_IDENTITY, UNKNOWN_IDENTITY),
        }
    }

    /// Carries `client`'s connection to `backend` on `peer`'s node.
    pub async fn outbound(
        &self,
        mut client: TcpStream,
        client_address: Ipv4Addr,
        backend: SocketAddrV4,
        peer: Peer,
    ) {
        let counters = &self.counters;
        let (src, dst) = self.identities(client_address, *backend.ip());
        let certificates = self.store.current();
        let config = match (src, dst) {
            (UNKNOWN_IDENTITY, _) | (_, UNKNOWN_IDENTITY) => None,
            _ => certificates.client(src),
        };
        let Some(config) = config else {
            counters.no_certificate.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let Ok(name) = ServerName::try_from(certificates.trust_domain.server_name(dst)) else {
            counters.no_certificate.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let tls = match TcpStream::connect(peer.tunnel).await {
            Ok(tcp) => {
                let _ = tcp.set_nodelay(true);
                TlsConnector::from(config).connect(name, tcp).await
            }
            Err(error) => Err(error),
        };
        let Ok(mut tls) = tls else {
            counters.tunnel_failed.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let status = match connect_head::write_request(&mut tls, backend).await {
            Ok(()) => connect_head::read_response(&mut tls).await.ok(),
            Err(_) => None,
        };
        if status != Some(200) {
            counters.tunnel_refused.fetch_add(1, Ordering::Relaxed);
            let _ = tls.shutdown().await;
            return;
        }
        counters.tunneled.fetch_add(1, Ordering::Relaxed);
        counters.active.fetch_add(1, Ordering::Relaxed);
        if let Ok((to_backend, to_client)) =
            tokio::io::copy_bidirectional(&mut client, &mut tls).await
        {
            counters
                .bytes_to_backend
                .fetch_add(to_backend, Ordering::Relaxed);
            counters
                .bytes_to_client
                .fetch_add(to_client, Ordering::Relaxed);
        }
        counters.active.fetch_sub(1, Ordering::Relaxed);
    }

    /// Accepts tunnels until the task is dropped.
    pub async fn serve_inbound(self: Arc<Self>, listener: TcpListener) -> std::io::Result<()> {
        loop {
            let (tcp, _) = listener.accept().await?;
            let tunnels = self.clone();
            tokio::spawn(async move { tunnels.inbound(tcp).await });
        }
    }

    async fn inbound(&self, tcp: TcpStream) {
        let counters = &self.counters;
        let _ = tcp.set_nodelay(true);
        let certificates = self.store.current();
        let trust_domain = &certificates.trust_domain;
        let Ok(mut tls) = TlsAcceptor::from(certificates.server()).accept(tcp).await else {
            counters.handshake_failed.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let (_, connection) = tls.get_ref();
        let peer_identity = connection
            .peer_certificates()
            .and_then(|chain| chain.first())
            .and_then(|leaf| spiffe_identity(leaf, trust_domain));
        let presented = connection
            .server_name()
            .and_then(|name| trust_domain.identity_of_server_name(name));
        let (Some(peer_identity), Some(presented)) = (peer_identity, presented) else {
            counters.handshake_failed.fetch_add(1, Ordering::Relaxed);
            return;
        };
        counters.tunnels_accepted.fetch_add(1, Ordering::Relaxed);
        let Ok(target) = connect_head::read_request(&mut tls).await else {
            let _ = connect_head::write_response(&mut tls, 400, "Bad Request").await;
            counters.misdirected.fetch_add(1, Ordering::Relaxed);
            return;
        };
        if !self.is_local_workload_of(target, presented) {
            let _ = connect_head::write_response(&mut tls, 421, "Misdirected Request").await;
            counters.misdirected.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let peer = Client::Verified(peer_identity);
        match forward::open(peer, target, self.source, &self.maps, counters).await {
            Err(Refusal::Denied) => {
                let _ = connect_head::write_response(&mut tls, 403, "Forbidden").await;
                let _ = tls.shutdown().await;
            }
            Err(Refusal::Unreachable) => {
                let _ = connect_head::write_response(&mut tls, 503, "Service Unavailable").await;
                let _ = tls.shutdown().await;
            }
            Ok((upstream, granted)) => {
                if connect_head::write_response(&mut tls, 200, "OK")
                    .await
                    .is_ok()
                {
                    forward::relay(tls, upstream, peer, target, granted, &self.maps, counters)
                        .await;
                }
            }
        }
    }

    /// Whether `target` is a workload on this node (`LOCAL_ENDPOINTS`) with the identity
    /// whose certificate this proxy presented: a tunnel reaches only what its client verified,
    /// and this proxy relays to nowhere else.
    fn is_local_workload_of(&self, target: SocketAddrV4, identity: u32) -> bool {
        let Ok(maps) = self.maps.lock() else {
            return false;
        };
        let address = target.ip().octets();
        maps.local_endpoints.get(&address, 0).is_ok() && maps.identity_v4(address) == identity
    }
}

/// The identity of a verified certificate's SPIFFE ID: its one URI SAN, of this trust domain.
fn spiffe_identity(
    certificate: &rustls::pki_types::CertificateDer<'_>,
    trust_domain: &TrustDomain,
) -> Option<u32> {
    use x509_parser::{extensions::GeneralName, prelude::FromDer as _};
    let (_, parsed) = x509_parser::certificate::X509Certificate::from_der(certificate).ok()?;
    let names = parsed.subject_alternative_name().ok()??;
    let mut uris = names
        .value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::URI(uri) => Some(*uri),
            _ => None,
        });
    let uri = uris.next()?;
    if uris.next().is_some() {
        return None;
    }
    trust_domain.identity_of(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_parse_and_networks_contain_their_addresses_only() {
        let peer: Peer = "10.78.0.0/24=10.100.0.2:15008".parse().unwrap();
        assert!(peer.pods.contains(Ipv4Addr::new(10, 78, 0, 11)));
        assert!(!peer.pods.contains(Ipv4Addr::new(10, 77, 0, 11)));
        assert_eq!(peer.tunnel, "10.100.0.2:15008".parse().unwrap());
        let everything: Peer = "0.0.0.0/0=10.100.0.2:15008".parse().unwrap();
        assert!(everything.pods.contains(Ipv4Addr::new(192, 0, 2, 1)));
        for bad in [
            "10.78.0.0/24",
            "10.78.0.0/33=1.2.3.4:5",
            "10.78.0.0=1.2.3.4:5",
            "x/8=1.2.3.4:5",
        ] {
            assert!(bad.parse::<Peer>().is_err(), "{bad}");
        }
    }
}
