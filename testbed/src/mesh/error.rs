//! Why a mesh testbed could not be built or removed. Every error says what to do; `up`
//! removes whatever it had made before returning one.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum MeshError {
    #[error(
        "the mesh testbed needs root (network namespaces, cgroups, BPF, iptables): run it as root"
    )]
    NotRoot,
    #[error("{program} not found at {path}: {hint}")]
    MissingProgram {
        program: &'static str,
        path: PathBuf,
        hint: &'static str,
    },
    #[error("the workspace program {0}")]
    Binary(#[from] crate::binaries::BinaryError),
    #[error("the user {user} does not exist: {hint}")]
    MissingUser { user: String, hint: &'static str },
    #[error("the cluster is too large for this machine: {what} is {count}, the limit is {limit}: {reason}")]
    TooLarge {
        what: &'static str,
        count: usize,
        limit: usize,
        reason: &'static str,
    },
    #[error("port {port} of service {service} is already taken by {by}: give the service another port in the cluster file")]
    PortTaken {
        port: u16,
        service: String,
        by: &'static str,
    },
    #[error("the {architecture} data plane is not supported by the testbed: {reason}")]
    Unsupported {
        architecture: String,
        reason: &'static str,
    },
    #[error("the cluster file has [[request]] types (`{first}` first), which the testbed does not build yet: its workloads call per service, not per place in a request's tree; describe the calls per service (calls = [{{ service, per_request }}]) to run it here")]
    RequestTypes { first: String },
    #[error("bad option: {0}")]
    Option(String),
    #[error("a mesh with prefix {prefix} exists ({found}): stop it, or remove what a killed run left with `meshtwin-testbed down --prefix {prefix}`")]
    PrefixInUse { prefix: String, found: String },
    #[error("{what} {name} did not start: {reason}\n{log}")]
    ProcessFailed {
        what: String,
        name: String,
        reason: String,
        /// The end of its output.
        log: String,
    },
    #[error("setting up the testbed failed: {0}")]
    Setup(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
}

impl MeshError {
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> MeshError {
        let context = context.into();
        move |source| MeshError::Io { context, source }
    }
}
