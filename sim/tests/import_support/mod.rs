//! What the import tests share: running `sim`, fixtures, scratch files, and the rate of every
//! edge an imported file gives the simulator.

#![allow(dead_code)] // each test binary uses its own part

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sim"))
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
        .args(args)
        .output()
        .expect("sim runs")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fixture's path, relative to the crate (where `sim` runs).
pub fn fixture(name: &str) -> String {
    format!("tests/fixtures/import/{name}")
}

/// A file in the temporary directory, removed when dropped.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn write(name: &str, text: &str) -> Scratch {
        let path =
            std::env::temp_dir().join(format!("meshtwin-import-{}-{name}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        Scratch(path)
    }
    pub fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        std::fs::remove_file(&self.0).ok();
    }
}

/// (caller, callee) → requests per second, as docs/config.md's per-edge form defines them: a
/// service nobody calls serves rps_per_pod × replicas; a called service its callers' rates ×
/// their calls per request.
pub fn edge_rates(t: &toml::Table) -> BTreeMap<(String, String), f64> {
    let services = t["service"].as_array().unwrap();
    let name = |s: &toml::Value| s["name"].as_str().unwrap().to_string();
    let calls: Vec<(String, String, f64)> = services
        .iter()
        .flat_map(|s| {
            s.get("calls")
                .and_then(|c| c.as_array())
                .into_iter()
                .flatten()
                .map(move |c| {
                    (
                        name(s),
                        c["service"].as_str().unwrap().to_string(),
                        c["per_request"].as_float().unwrap(),
                    )
                })
        })
        .collect();
    let mut rate: BTreeMap<String, f64> = BTreeMap::new();
    for s in services {
        if !calls.iter().any(|(_, to, _)| *to == name(s)) {
            let rps = s
                .get("rps_per_pod")
                .and_then(|r| r.as_float())
                .unwrap_or(0.0);
            rate.insert(name(s), rps * s["replicas"].as_integer().unwrap() as f64);
        }
    }
    // The graph has no cycle: settle callees once all their callers are known.
    while rate.len() < services.len() {
        let before = rate.len();
        for s in services {
            let n = name(s);
            if rate.contains_key(&n) {
                continue;
            }
            let callers: Vec<&(String, String, f64)> =
                calls.iter().filter(|(_, to, _)| *to == n).collect();
            if callers.iter().all(|(from, _, _)| rate.contains_key(from)) {
                let r = callers.iter().map(|(from, _, k)| rate[from] * k).sum();
                rate.insert(n, r);
            }
        }
        assert!(rate.len() > before, "the call graph has a cycle");
    }
    calls
        .iter()
        .map(|(from, to, k)| ((from.clone(), to.clone()), rate[from] * k))
        .collect()
}
