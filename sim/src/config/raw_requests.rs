//! The traffic keys of the cluster file as written: a `[[service]]`'s calls, each a plain name
//! or a table with its calls per request, and `[[request]]` types with their call trees.
//! Checked in `resolve::requests`.

use crate::traffic::{ArrivalKind, CallMode};
use serde::Deserialize;
use toml::Spanned;

/// One entry of a `[[service]]`'s `calls`: `"currency"` (once per request) or
/// `{ service = "currency", per_request = 3.0 }`. Read as `Spanned<RawCall>`, so that a plain
/// name keeps its location.
#[derive(Debug)]
pub enum RawCall {
    Name(String),
    Edge(RawEdge),
}

/// `{ service = "currency", per_request = 3.0 }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEdge {
    pub service: Spanned<String>,
    /// Calls per request of the caller, a mean (1 when left out).
    pub per_request: Option<Spanned<f64>>,
}

impl<'de> Deserialize<'de> for RawCall {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // A hand-written visitor rather than `#[serde(untagged)]`, which buffers the value and
        // so loses the spans `Spanned` asks the TOML reader for, and serde's precise messages.
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = RawCall;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a service's name or a table { service = \"name\", per_request = N }")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawCall, E> {
                Ok(RawCall::Name(v.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<RawCall, A::Error> {
                RawEdge::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(RawCall::Edge)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// `[[request]]`: a type of request, the service it enters at, its rate and its call tree.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRequest {
    pub name: Spanned<String>,
    pub entry: Spanned<String>,
    /// Requests per second of this type entering the mesh, over all the entry's pods.
    pub rate: Spanned<f64>,
    pub arrivals: Option<ArrivalKind>,
    /// How the entry service issues its calls.
    pub mode: Option<CallMode>,
    pub payload_bytes: Option<Spanned<i64>>,
    #[serde(default)]
    pub calls: Vec<RawCallNode>,
}

/// One edge of a request's call tree: the callee, how often, how, and what the callee calls
/// while serving it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCallNode {
    pub service: Spanned<String>,
    pub per_request: Option<Spanned<f64>>,
    /// How the callee issues its own calls (`calls` below).
    pub mode: Option<CallMode>,
    pub payload_bytes: Option<Spanned<i64>>,
    #[serde(default)]
    pub calls: Vec<RawCallNode>,
}
