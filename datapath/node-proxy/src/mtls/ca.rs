//! The mesh's certificate authority: a self-signed ECDSA P-256 root that issues short-lived
//! identity certificates (X.509-SVIDs), and the files both live in.
//!
//! ```text
//! <ca-dir>/ca.pem  ca-key.pem (0600)  trust-domain        `ca init`, once per mesh
//! <node-dir>/bundle.pem  trust-domain                      `ca issue`, per node, again
//!           identity-<id>.pem (0600: certificate + key)    before half the validity is over
//! ```
//!
//! Every file is written to a temporary name and renamed, so a proxy reloading the directory
//! sees a whole certificate with its own key, never half of a rotation.

use std::{
    fs,
    io::Write as _,
    os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _},
    path::{Path, PathBuf},
    time::{Duration, SystemTime},
};

use anyhow::{bail, Context as _, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use time::OffsetDateTime;

use super::spiffe::TrustDomain;

pub const CA_CERT: &str = "ca.pem";
pub const CA_KEY: &str = "ca-key.pem";
pub const TRUST_DOMAIN: &str = "trust-domain";
pub const BUNDLE: &str = "bundle.pem";

/// The file of `identity`'s certificate and key in a node directory.
pub fn identity_file(identity: u32) -> String {
    format!("identity-{identity}.pem")
}

/// The identity a node directory's file name holds, if it is an identity file.
pub fn identity_of_file(name: &str) -> Option<u32> {
    name.strip_prefix("identity-")?
        .strip_suffix(".pem")?
        .parse()
        .ok()
        .filter(|id| *id != 0)
}

/// Writes `contents` to `dir/name` through a temporary file and a rename, with `mode`.
fn write_atomically(dir: &Path, name: &str, contents: &str, mode: u32) -> Result<()> {
    let target = dir.join(name);
    let temporary = dir.join(format!(".{name}.{}", std::process::id()));
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&temporary)
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    fs::rename(&temporary, &target).with_context(|| {
        format!(
            "cannot rename {} to {}",
            temporary.display(),
            target.display()
        )
    })
}

fn offset(time: SystemTime) -> Result<OffsetDateTime> {
    let since = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .context("the clock is before 1970")?;
    Ok(OffsetDateTime::from_unix_timestamp(since.as_secs() as i64)?)
}

/// `ca init`: a new root for `trust_domain` in `dir`. Refuses to replace an existing one
/// (every node's trust would break at once).
pub fn init(dir: &Path, trust_domain: &TrustDomain, valid_for: Duration) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    if dir.join(CA_KEY).exists() {
        bail!(
            "{} already holds a CA key; remove it first to start a new mesh",
            dir.display()
        );
    }
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::OrganizationName, "meshtwin");
    name.push(DnType::CommonName, format!("meshtwin CA {trust_domain}"));
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.subject_alt_names = vec![SanType::URI(format!("spiffe://{trust_domain}").try_into()?)];
    let now = SystemTime::now();
    params.not_before = offset(now - Duration::from_secs(60))?;
    params.not_after = offset(now + valid_for)?;
    let certificate = params.self_signed(&key)?;
    write_atomically(dir, CA_KEY, &key.serialize_pem(), 0o600)?;
    write_atomically(dir, CA_CERT, &certificate.pem(), 0o644)?;
    write_atomically(dir, TRUST_DOMAIN, &format!("{trust_domain}\n"), 0o644)?;
    Ok(())
}

/// The trust domain recorded in a CA or node directory.
pub fn read_trust_domain(dir: &Path) -> Result<TrustDomain> {
    let path = dir.join(TRUST_DOMAIN);
    let text =
        fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    TrustDomain::parse(text.trim()).map_err(anyhow::Error::msg)
}

/// What `ca issue` makes.
pub struct Issue<'a> {
    /// Identity number and name (the name only goes into the common name).
    pub identities: &'a [(u32, String)],
    pub valid_for: Duration,
    /// Start the validity this long before now: for tests of expired certificates.
    pub backdate: Duration,
}

/// `ca issue`: a certificate and key for each identity, signed by the CA in `ca_dir`, and the
/// trust bundle, written into `out` (a node's certificate directory). Returns the files.
pub fn issue(ca_dir: &Path, out: &Path, request: &Issue<'_>) -> Result<Vec<PathBuf>> {
    let trust_domain = read_trust_domain(ca_dir)?;
    let ca_pem = fs::read_to_string(ca_dir.join(CA_CERT))
        .with_context(|| format!("cannot read {}", ca_dir.join(CA_CERT).display()))?;
    let ca_key_pem = fs::read_to_string(ca_dir.join(CA_KEY))
        .with_context(|| format!("cannot read {}", ca_dir.join(CA_KEY).display()))?;
    let ca_key = KeyPair::from_pem(&ca_key_pem).context("the CA key is not a PEM private key")?;
    // The issuer is rebuilt from the stored certificate and key: same name, same key, so what
    // it signs chains to the stored ca.pem.
    let ca = CertificateParams::from_ca_cert_pem(&ca_pem)
        .context("ca.pem is not a CA certificate")?
        .self_signed(&ca_key)?;
    fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    fs::set_permissions(out, fs::Permissions::from_mode(0o700))?;
    let start = SystemTime::now() - request.backdate;
    let mut written = Vec::new();
    for (identity, name) in request.identities {
        if *identity == 0 {
            bail!("identity 0 means \"unknown\" and gets no certificate");
        }
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "meshtwin");
        dn.push(DnType::CommonName, name.as_str());
        params.distinguished_name = dn;
        params.subject_alt_names = vec![
            SanType::URI(trust_domain.spiffe_id(*identity).try_into()?),
            SanType::DnsName(trust_domain.server_name(*identity).try_into()?),
        ];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.use_authority_key_identifier_extension = true;
        params.not_before = offset(start)?;
        params.not_after = offset(start + request.valid_for)?;
        let certificate = params.signed_by(&key, &ca, &ca_key)?;
        let file = identity_file(*identity);
        let contents = format!("{}{}", certificate.pem(), key.serialize_pem());
        write_atomically(out, &file, &contents, 0o600)?;
        written.push(out.join(file));
    }
    write_atomically(out, BUNDLE, &ca_pem, 0o644)?;
    write_atomically(out, TRUST_DOMAIN, &format!("{trust_domain}\n"), 0o644)?;
    Ok(written)
}
