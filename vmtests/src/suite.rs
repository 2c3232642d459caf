//! The test binaries the guests run: the datapath agent's integration tests, built once on the
//! host (`cargo test --release --no-run`) and run inside each guest through the shared root,
//! with the programs they start (the traffic tool, the node proxy) built beside them.
//! Release: the guests run under emulation (TCG), where unoptimised code costs several times
//! more; with debug builds the five-kernel matrix took 347 s, with release builds 249 s.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;

/// Which tests the guests run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suite {
    /// The datapath agent's integration tests (what `just vmtest` is for).
    Datapath,
    /// This crate's own guest probe (tests/guest_probe.rs): checks the harness and a few
    /// kernel features against the table without needing the datapath.
    SelfCheck,
}

impl Suite {
    /// The package whose integration tests make up the suite.
    pub fn package(self) -> &'static str {
        match self {
            Suite::Datapath => "meshtwin-agent",
            Suite::SelfCheck => "vmtests",
        }
    }

    /// The integration-test targets to run (None: all of the package's). The agent's other
    /// targets (its config checks) need no kernel of their own.
    fn targets(self) -> Option<&'static [&'static str]> {
        match self {
            Suite::Datapath => Some(&["datapath"]),
            Suite::SelfCheck => Some(&["guest_probe"]),
        }
    }

    /// The programs of other packages the tests start, as (package, binary). A guest cannot
    /// build them (it has no cargo run and a read-only target directory), so they are built
    /// here, into the target directory and profile of the test binaries, where the tests look
    /// first (`meshtwin_testbed::binaries`).
    fn programs(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Suite::Datapath => &[
                ("meshtwin-testbed", "meshtwin-traffic"),
                ("meshtwin-node-proxy", "meshtwin-node-proxy"),
            ],
            Suite::SelfCheck => &[],
        }
    }
}

/// One integration-test executable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestBinary {
    /// The test target's name (`datapath` for tests/datapath/main.rs).
    pub name: String,
    pub path: PathBuf,
}

/// Why the suite could not be built or found.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    #[error("cannot run {cargo}: {source}")]
    Spawn {
        cargo: String,
        #[source]
        source: std::io::Error,
    },
    /// cargo failed (compile error, unknown package ...).
    #[error("`{command}` failed:\n{tail}")]
    Build { command: String, tail: String },
    /// The package builds no integration tests.
    #[error(
        "`cargo test --release -p {package} --no-run` built no integration-test executable (tests/*.rs)"
    )]
    NoTests { package: String },
}

#[derive(Deserialize)]
struct Message {
    reason: String,
    #[serde(default)]
    target: Option<Target>,
    #[serde(default)]
    executable: Option<PathBuf>,
}

#[derive(Deserialize)]
struct Target {
    name: String,
    kind: Vec<String>,
}

/// Builds the suite's integration tests, and the programs they start, in `workspace`; returns
/// the tests' executables.
pub fn build(workspace: &Path, suite: Suite) -> Result<Vec<TestBinary>, SuiteError> {
    let package = suite.package();
    let messages = cargo(
        workspace,
        &[
            "test",
            "--release",
            "-p",
            package,
            "--no-run",
            "--message-format=json",
        ],
    )?;
    let mut binaries = integration_tests(&messages);
    if let Some(targets) = suite.targets() {
        binaries.retain(|b| targets.contains(&b.name.as_str()));
    }
    if binaries.is_empty() {
        return Err(SuiteError::NoTests {
            package: package.to_owned(),
        });
    }
    if !suite.programs().is_empty() {
        let mut args = vec!["build", "--release"];
        for (package, binary) in suite.programs() {
            args.extend(["-p", package, "--bin", binary]);
        }
        cargo(workspace, &args)?;
    }
    Ok(binaries)
}

/// Runs `cargo ARGS` in `workspace`; returns its standard output.
fn cargo(workspace: &Path, args: &[&str]) -> Result<String, SuiteError> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut child = Command::new(&cargo)
        .args(args)
        .current_dir(workspace)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| SuiteError::Spawn {
            cargo: cargo.clone(),
            source,
        })?;
    let mut stderr = child.stderr.take().expect("piped");
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let mut stdout = String::new();
    let _ = child
        .stdout
        .take()
        .expect("piped")
        .read_to_string(&mut stdout);
    let status = child.wait().map_err(|source| SuiteError::Spawn {
        cargo: cargo.clone(),
        source,
    })?;
    let stderr = stderr_reader.join().unwrap_or_default();
    if !status.success() {
        return Err(SuiteError::Build {
            command: format!("cargo {}", args.join(" ")),
            tail: build_errors(&stderr),
        });
    }
    Ok(stdout)
}

/// The part of cargo's stderr worth showing: each `error` line with what follows it (up to
/// 40 lines; a build script's panic is followed by a long backtrace), else the last 25 lines.
fn build_errors(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().collect();
    let mut shown: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < lines.len() && shown.len() < 40 {
        if lines[i].starts_with("error") {
            let end = (i + 12).min(lines.len());
            shown.extend(
                lines[i..end]
                    .iter()
                    .take_while(|l| !l.trim_start().starts_with("0: ")),
            );
            i = end;
        } else {
            i += 1;
        }
    }
    if shown.is_empty() {
        shown = lines[lines.len().saturating_sub(25)..].to_vec();
    }
    shown.join("\n")
}

/// The executables of integration-test targets in cargo's JSON messages.
fn integration_tests(messages: &str) -> Vec<TestBinary> {
    let mut found: Vec<TestBinary> = messages
        .lines()
        .filter_map(|line| serde_json::from_str::<Message>(line).ok())
        .filter(|m| m.reason == "compiler-artifact")
        .filter_map(|m| {
            let target = m.target?;
            let path = m.executable?;
            target
                .kind
                .iter()
                .any(|k| k == "test")
                .then_some(TestBinary {
                    name: target.name,
                    path,
                })
        })
        .collect();
    found.sort_by(|a, b| a.name.cmp(&b.name));
    found.dedup();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_cargo_errors_rather_than_backtraces() {
        let stderr = "   Compiling a v1\nerror: failed to run custom build command for `x`\n\
Caused by:\n  process didn't exit successfully\n  thread 'main' panicked at build.rs:3:5:\n  \
no bpf-linker\n  stack backtrace:\n     0: rust_begin_unwind\n     1: main\n";
        let shown = build_errors(stderr);
        assert!(
            shown.starts_with("error: failed to run custom build command"),
            "{shown}"
        );
        assert!(shown.contains("no bpf-linker"), "{shown}");
        assert!(!shown.contains("rust_begin_unwind"), "{shown}");
    }

    #[test]
    fn picks_integration_test_executables_only() {
        let messages = r#"{"reason":"compiler-artifact","target":{"name":"aya","kind":["lib"]},"executable":null}
{"reason":"compiler-artifact","target":{"name":"meshtwin_agent","kind":["lib"]},"executable":"/t/debug/deps/meshtwin_agent-1"}
{"reason":"compiler-artifact","target":{"name":"datapath","kind":["test"]},"executable":"/t/debug/deps/datapath-2"}
{"reason":"build-finished","success":true}"#;
        assert_eq!(
            integration_tests(messages),
            [TestBinary {
                name: "datapath".into(),
                path: "/t/debug/deps/datapath-2".into()
            }]
        );
    }
}
