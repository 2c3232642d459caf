//! `meshtwin-node-proxy ca init|issue`: the mesh's certificate authority on the command line
//! (files and formats: `mtls::ca`).
//!
//! ```text
//! meshtwin-node-proxy ca init  --dir CA --trust-domain meshtwin.test [--valid-for-secs N]
//! meshtwin-node-proxy ca issue --ca CA --out NODE-DIR --identity 10=frontend --identity 20 \
//!                              [--valid-for-secs 3600] [--backdate-secs 0] [--renew-every-secs 1800]
//! ```

use std::{path::PathBuf, time::Duration};

use anyhow::{bail, Context as _, Result};
use clap::Subcommand;

use crate::mtls::{ca, spiffe::TrustDomain};

#[derive(Subcommand)]
pub enum CaCommand {
    /// Create the CA (key and self-signed certificate) for a trust domain.
    Init {
        /// Directory for ca.pem, ca-key.pem and trust-domain (created; must hold no CA yet).
        #[arg(long)]
        dir: PathBuf,
        /// The trust domain, lowercase DNS labels (e.g. meshtwin.test).
        #[arg(long)]
        trust_domain: String,
        /// How long the CA certificate is valid (default: one year).
        #[arg(long, default_value_t = 365 * 24 * 3600)]
        valid_for_secs: u64,
    },
    /// Issue a certificate per identity into a node's certificate directory (again, before
    /// half the validity is over, to rotate them; running proxies pick them up).
    Issue {
        /// The CA's directory (`ca init --dir`).
        #[arg(long)]
        ca: PathBuf,
        /// The node's certificate directory (the proxy's `--certs`).
        #[arg(long)]
        out: PathBuf,
        /// ID or ID=NAME of an identity whose workloads run on this node (repeatable).
        #[arg(long = "identity", required = true, value_parser = parse_identity)]
        identities: Vec<(u32, String)>,
        /// How long each certificate is valid (default: one hour, short-lived as ztunnel's
        /// workload certificates are).
        #[arg(long, default_value_t = 3600)]
        valid_for_secs: u64,
        /// Start the validity this many seconds in the past (tests of expired certificates).
        #[arg(long, default_value_t = 0)]
        backdate_secs: u64,
        /// Keep running and issue again every this many seconds (rotation; at most half the
        /// validity, so a proxy always holds a valid certificate).
        #[arg(long)]
        renew_every_secs: Option<u64>,
    },
}

fn parse_identity(text: &str) -> Result<(u32, String), String> {
    let (id, name) = text.split_once('=').unwrap_or((text, ""));
    let id: u32 = id
        .parse()
        .ok()
        .filter(|id| *id != 0)
        .ok_or_else(|| format!("{text:?}: expected ID or ID=NAME with ID a number from 1"))?;
    let name = if name.is_empty() {
        format!("identity {id}")
    } else {
        name.to_owned()
    };
    Ok((id, name))
}

pub fn run(command: CaCommand) -> Result<()> {
    match command {
        CaCommand::Init {
            dir,
            trust_domain,
            valid_for_secs,
        } => {
            let trust_domain = TrustDomain::parse(&trust_domain).map_err(anyhow::Error::msg)?;
            ca::init(&dir, &trust_domain, Duration::from_secs(valid_for_secs))
                .with_context(|| format!("cannot create the CA in {}", dir.display()))?;
            println!("CA for spiffe://{trust_domain} in {}", dir.display());
        }
        CaCommand::Issue {
            ca: ca_dir,
            out,
            identities,
            valid_for_secs,
            backdate_secs,
            renew_every_secs,
        } => {
            if let Some(every) = renew_every_secs {
                if every == 0 || every * 2 > valid_for_secs {
                    bail!("--renew-every-secs {every} must be from 1 to half of --valid-for-secs ({valid_for_secs})");
                }
            }
            let request = ca::Issue {
                identities: &identities,
                valid_for: Duration::from_secs(valid_for_secs),
                backdate: Duration::from_secs(backdate_secs),
            };
            loop {
                let written = ca::issue(&ca_dir, &out, &request)
                    .with_context(|| format!("cannot issue certificates into {}", out.display()))?;
                for path in written {
                    println!("issued {}", path.display());
                }
                use std::io::Write as _;
                std::io::stdout().flush()?;
                match renew_every_secs {
                    Some(every) => std::thread::sleep(Duration::from_secs(every)),
                    None => break,
                }
            }
        }
    }
    Ok(())
}
