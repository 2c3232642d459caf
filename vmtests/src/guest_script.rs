//! The command each guest runs (guest_run.sh, filled in), and the marker its lines carry.

use std::path::Path;

use crate::suite::TestBinary;

/// Prefix of every line the harness reads from the guest.
pub const MARKER: &str = "MESHTWIN-VMTEST";

const TEMPLATE: &str = include_str!("guest_run.sh");

/// Tests at once in a guest unless the caller says otherwise. A guest has one vCPU, so libtest
/// would run one test at a time; two overlap one test's waits (connect timeouts, polling) with
/// another's work. The tests build their own namespaces, so they can run side by side.
const GUEST_TEST_THREADS: &str = "--test-threads=2";

/// The script for a guest that runs `binaries` (each with `test_args`). `host_paths` are the
/// host directories the tests use (the workspace, the target directory): those under /tmp are
/// kept visible in the guest.
pub fn render(binaries: &[TestBinary], test_args: &[String], host_paths: &[&Path]) -> String {
    let mut keep: Vec<String> = host_paths
        .iter()
        .copied()
        .chain(binaries.iter().map(|b| b.path.as_path()))
        .filter_map(under_tmp)
        .collect();
    keep.sort();
    keep.dedup();
    let mut runs = String::new();
    for binary in binaries {
        runs.push_str("run ");
        runs.push_str(&shell_quote(&binary.name));
        runs.push(' ');
        runs.push_str(&shell_quote(&binary.path.to_string_lossy()));
        for arg in test_args {
            runs.push(' ');
            runs.push_str(&shell_quote(arg));
        }
        if !test_args.iter().any(|a| a.starts_with("--test-threads")) {
            runs.push(' ');
            runs.push_str(&shell_quote(GUEST_TEST_THREADS));
        }
        runs.push('\n');
    }
    TEMPLATE
        .replace(
            "@KEEP@",
            &keep
                .iter()
                .map(|k| shell_quote(k))
                .collect::<Vec<_>>()
                .join(" "),
        )
        .replace("@RUNS@", runs.trim_end())
}

/// `/tmp/x/y/z` -> `/tmp/x`: the directory under /tmp that holds `path`, if any.
fn under_tmp(path: &Path) -> Option<String> {
    let rest = path.strip_prefix("/tmp").ok()?;
    let first = rest.components().next()?;
    Some(Path::new("/tmp").join(first).to_string_lossy().into_owned())
}

/// Single-quotes `text` for bash.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_in_paths_and_runs() {
        let script = render(
            &[TestBinary {
                name: "datapath".into(),
                path: "/t/datapath-1".into(),
            }],
            &["--test-threads=1".into(), "it's".into()],
            &[Path::new("/work/main"), Path::new("/tmp/ci/target")],
        );
        assert!(script.contains("run 'datapath' '/t/datapath-1' '--test-threads=1' 'it'\\''s'\n"));
        assert!(!script.contains("@RUNS@") && !script.contains("@KEEP@"));
        assert!(script.contains(&format!("M={MARKER}")));
        assert!(script.contains("keep=('/tmp/ci')\n"), "{script}");
    }

    #[test]
    fn runs_two_tests_at_once_unless_told_otherwise() {
        let binary = TestBinary {
            name: "datapath".into(),
            path: "/t/datapath-1".into(),
        };
        let script = render(std::slice::from_ref(&binary), &["xdp".into()], &[]);
        assert!(
            script.contains("run 'datapath' '/t/datapath-1' 'xdp' '--test-threads=2'\n"),
            "{script}"
        );
        let script = render(&[binary], &["--test-threads=1".into()], &[]);
        assert!(!script.contains("--test-threads=2"), "{script}");
    }
}
