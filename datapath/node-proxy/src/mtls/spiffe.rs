//! SPIFFE IDs of workload identities: `spiffe://<trust-domain>/identity/<id>`, the numeric
//! identity the policy maps are keyed by, as Cilium's mutual authentication names its
//! identities (`spiffe://spiffe.cilium/identity/<id>`). The number is what authorization needs,
//! so no table of names has to reach the nodes; the identity's name goes into the certificate's
//! common name for people. Each certificate also carries a DNS name for its identity
//! (`identity-<id>.<trust-domain>`, allowed beside the one URI SAN by the X.509-SVID spec): the
//! client proxy asks for it as the server name, the server proxy picks the certificate by it,
//! and rustls' standard verifier checks it.

use std::fmt;

/// A trust domain: lowercase DNS labels (the SPIFFE spec also allows `_`, which a DNS name,
/// and so the server name, cannot carry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustDomain(String);

impl TrustDomain {
    pub fn parse(text: &str) -> Result<Self, String> {
        let valid_label = |label: &str| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        };
        if text.is_empty() || text.len() > 200 || !text.split('.').all(valid_label) {
            return Err(format!(
                "trust domain {text:?} is not lowercase DNS labels (a-z, 0-9, '-', separated by '.')"
            ));
        }
        Ok(Self(text.to_owned()))
    }

    /// The SPIFFE ID of `identity` in this trust domain.
    pub fn spiffe_id(&self, identity: u32) -> String {
        format!("spiffe://{}/identity/{identity}", self.0)
    }

    /// The server name that selects `identity`'s certificate.
    pub fn server_name(&self, identity: u32) -> String {
        format!("identity-{identity}.{}", self.0)
    }

    /// The identity of a SPIFFE ID of this trust domain; None for any other ID.
    pub fn identity_of(&self, spiffe_id: &str) -> Option<u32> {
        let rest = spiffe_id.strip_prefix("spiffe://")?;
        let (domain, path) = rest.split_once('/')?;
        if domain != self.0 {
            return None;
        }
        let number = path.strip_prefix("identity/")?;
        // Only the canonical decimal form: "010" or "+10" would be a second name for 10.
        if number.starts_with('0') || !number.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        number.parse().ok().filter(|id| *id != 0)
    }

    /// The identity whose certificate a server name asks for.
    pub fn identity_of_server_name(&self, name: &str) -> Option<u32> {
        let number = name
            .strip_suffix(&self.0)?
            .strip_suffix('.')?
            .strip_prefix("identity-")?;
        if number.starts_with('0') || !number.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        number.parse().ok().filter(|id| *id != 0)
    }
}

impl fmt::Display for TrustDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_server_names_round_trip_and_foreign_ones_are_refused() {
        let domain = TrustDomain::parse("meshtwin.test").unwrap();
        assert_eq!(domain.spiffe_id(10), "spiffe://meshtwin.test/identity/10");
        assert_eq!(domain.identity_of(&domain.spiffe_id(10)), Some(10));
        assert_eq!(domain.server_name(20), "identity-20.meshtwin.test");
        assert_eq!(
            domain.identity_of_server_name("identity-20.meshtwin.test"),
            Some(20)
        );
        for foreign in [
            "spiffe://other.test/identity/10",
            "spiffe://meshtwin.test/identity/010",
            "spiffe://meshtwin.test/identity/0",
            "spiffe://meshtwin.test/identity/+1",
            "spiffe://meshtwin.test/ns/default/sa/web",
            "https://meshtwin.test/identity/10",
            "spiffe://meshtwin.test/identity/99999999999",
        ] {
            assert_eq!(domain.identity_of(foreign), None, "{foreign}");
        }
        assert_eq!(
            domain.identity_of_server_name("identity-20.other.test"),
            None
        );
        assert_eq!(
            domain.identity_of_server_name("identity-20xmeshtwin.test"),
            None
        );
        for bad in ["", "Mesh.test", "a..b", "-a.b", "a_b", "a/b"] {
            assert!(TrustDomain::parse(bad).is_err(), "{bad}");
        }
    }
}
