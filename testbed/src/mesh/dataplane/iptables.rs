//! iptables rules in a namespace of the run, in chains named with the run prefix, loaded in
//! one `iptables-restore` (one process per namespace rather than one per rule).

use std::{io::Write as _, process::Stdio};

use crate::netns::Netns;

use super::super::MeshError;
use super::Build;

/// The nat table's rules for one namespace: `(hook chain, rule)` pairs; each hook's rules go
/// into a chain `<PREFIX>-<HOOK>` jumped to from the hook.
#[derive(Default)]
pub struct NatRules {
    rules: Vec<(&'static str, String)>,
}

impl NatRules {
    /// A rule for `hook` (`PREROUTING` or `OUTPUT`), without `-A CHAIN`.
    pub fn add(&mut self, hook: &'static str, rule: String) {
        self.rules.push((hook, rule));
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    fn render(&self, prefix: &str) -> String {
        let mut hooks: Vec<&str> = self.rules.iter().map(|(h, _)| *h).collect();
        hooks.dedup();
        let chain = |hook: &str| format!("{}-{hook}", prefix.to_uppercase());
        let mut text = String::from("*nat\n");
        for hook in &hooks {
            text.push_str(&format!(":{} - [0:0]\n", chain(hook)));
        }
        for hook in &hooks {
            text.push_str(&format!("-A {hook} -j {}\n", chain(hook)));
        }
        for (hook, rule) in &self.rules {
            text.push_str(&format!("-A {} {rule}\n", chain(hook)));
        }
        text.push_str("COMMIT\n");
        text
    }
}

/// Loads `rules` into `netns`'s nat table.
pub fn apply(
    build: &Build,
    netns: &Netns,
    where_: &str,
    rules: &NatRules,
) -> Result<(), MeshError> {
    let text = rules.render(build.prefix);
    let program = &build.options.iptables_restore;
    let mut child = netns
        .command(&program.to_string_lossy())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(MeshError::io(format!("run {}", program.display())))?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(text.as_bytes())
        .map_err(MeshError::io("write to iptables-restore"))?;
    let output = child
        .wait_with_output()
        .map_err(MeshError::io("wait for iptables-restore"))?;
    if !output.status.success() {
        return Err(MeshError::Setup(format!(
            "iptables-restore in {where_} failed: {}\nrules:\n{text}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(())
}
