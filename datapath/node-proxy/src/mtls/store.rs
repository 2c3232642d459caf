//! A node's certificates as the proxy uses them: the trust bundle, each local identity's
//! certificate and key, and the rustls configurations made from them. The directory is read
//! again whenever a file in it changes (`ca issue` rotating certificates), and the new
//! configurations serve the next handshakes; connections already established keep theirs,
//! so rotation drops nothing.

use std::{
    collections::BTreeMap,
    fmt, fs,
    path::{Path, PathBuf},
    sync::{Arc, RwLock},
    time::SystemTime,
};

use anyhow::{bail, Context as _, Result};
use rustls::{
    client::Resumption,
    crypto::CryptoProvider,
    pki_types::{pem::PemObject as _, CertificateDer, PrivateKeyDer},
    server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier},
    sign::CertifiedKey,
    ClientConfig, RootCertStore, ServerConfig,
};

use super::{
    ca::{identity_of_file, read_trust_domain, BUNDLE},
    spiffe::TrustDomain,
};

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// One loaded directory.
pub struct Certificates {
    pub trust_domain: TrustDomain,
    /// Identity -> client configuration presenting its certificate.
    clients: BTreeMap<u32, Arc<ClientConfig>>,
    server: Arc<ServerConfig>,
}

/// Picks the certificate of the identity the client asked for by server name.
struct ByServerName {
    trust_domain: TrustDomain,
    keys: BTreeMap<u32, Arc<CertifiedKey>>,
}

impl fmt::Debug for ByServerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ByServerName({:?})", self.keys.keys())
    }
}

impl ResolvesServerCert for ByServerName {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let identity = self
            .trust_domain
            .identity_of_server_name(hello.server_name()?)?;
        self.keys.get(&identity).cloned()
    }
}

impl Certificates {
    pub fn load(dir: &Path) -> Result<Self> {
        let trust_domain = read_trust_domain(dir)?;
        let bundle = dir.join(BUNDLE);
        let mut roots = RootCertStore::empty();
        for certificate in CertificateDer::pem_file_iter(&bundle)
            .with_context(|| format!("cannot read {}", bundle.display()))?
        {
            roots.add(certificate.with_context(|| format!("bad PEM in {}", bundle.display()))?)?;
        }
        if roots.is_empty() {
            bail!("{} holds no certificate", bundle.display());
        }
        let roots = Arc::new(roots);
        let provider = provider();
        let mut keys = BTreeMap::new();
        let mut clients = BTreeMap::new();
        for entry in fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(identity) = name.to_str().and_then(identity_of_file) else {
                continue;
            };
            let path = entry.path();
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&path)
                .with_context(|| format!("cannot read {}", path.display()))?
                .collect::<Result<_, _>>()
                .with_context(|| format!("bad certificate PEM in {}", path.display()))?;
            let key = PrivateKeyDer::from_pem_file(&path)
                .with_context(|| format!("no private key in {}", path.display()))?;
            let signing = provider
                .key_provider
                .load_private_key(key.clone_key())
                .with_context(|| format!("unusable private key in {}", path.display()))?;
            keys.insert(
                identity,
                Arc::new(CertifiedKey::new(chain.clone(), signing)),
            );
            let mut client = ClientConfig::builder_with_provider(provider.clone())
                .with_protocol_versions(&[&rustls::version::TLS13])?
                .with_root_certificates(roots.clone())
                .with_client_auth_cert(chain, key)
                .with_context(|| format!("{}: certificate and key do not match", path.display()))?;
            // Every tunnel is a full handshake: what the benchmark measures, and no session
            // state outlives a rotation.
            client.resumption = Resumption::disabled();
            clients.insert(identity, Arc::new(client));
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider.clone())
            .build()
            .context("cannot build the client certificate verifier")?;
        let server = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_client_cert_verifier(verifier)
            .with_cert_resolver(Arc::new(ByServerName {
                trust_domain: trust_domain.clone(),
                keys,
            }));
        Ok(Self {
            trust_domain,
            clients,
            server: Arc::new(server),
        })
    }

    /// The configuration that presents `identity`'s certificate, if this node has it.
    pub fn client(&self, identity: u32) -> Option<Arc<ClientConfig>> {
        self.clients.get(&identity).cloned()
    }

    pub fn server(&self) -> Arc<ServerConfig> {
        self.server.clone()
    }

    pub fn identities(&self) -> impl Iterator<Item = u32> + '_ {
        self.clients.keys().copied()
    }
}

/// The current certificates of a directory, reloaded when it changes.
pub struct CertificateStore {
    dir: PathBuf,
    stamp: RwLock<Vec<(String, SystemTime, u64)>>,
    current: RwLock<Arc<Certificates>>,
}

/// Names, modification times and sizes of a directory's files: what "changed" means.
fn stamp(dir: &Path) -> Vec<(String, SystemTime, u64)> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let metadata = entry.metadata().ok()?;
            let name = entry.file_name().to_str()?.to_owned();
            let modified = metadata.modified().ok()?;
            (!name.starts_with('.')).then_some((name, modified, metadata.len()))
        })
        .collect();
    files.sort();
    files
}

impl CertificateStore {
    pub fn open(dir: &Path) -> Result<Self> {
        let stamp_now = stamp(dir);
        let certificates = Certificates::load(dir)?;
        Ok(Self {
            dir: dir.to_owned(),
            stamp: RwLock::new(stamp_now),
            current: RwLock::new(Arc::new(certificates)),
        })
    }

    pub fn current(&self) -> Arc<Certificates> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Reloads if a file changed; returns the new set's identities when it did. A directory
    /// caught mid-change or broken keeps the previous certificates (and says why).
    pub fn reload_if_changed(&self) -> Result<Option<Vec<u32>>> {
        let now = stamp(&self.dir);
        {
            let seen = self.stamp.read().unwrap_or_else(|p| p.into_inner());
            if *seen == now {
                return Ok(None);
            }
        }
        let certificates = Certificates::load(&self.dir)?;
        let identities = certificates.identities().collect();
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(certificates);
        *self.stamp.write().unwrap_or_else(|p| p.into_inner()) = now;
        Ok(Some(identities))
    }
}
