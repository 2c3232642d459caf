//! The command each guest runs (guest_run.sh, filled in), and the marker its lines carry.

use crate::suite::TestBinary;

/// Prefix of every line the harness reads from the guest.
pub const MARKER: &str = "MESHTWIN-VMTEST";

const TEMPLATE: &str = include_str!("guest_run.sh");

/// The script for a guest that runs `binaries` (each with `test_args`) against the feature
/// table `kernels_toml` (the file's text).
pub fn render(kernels_toml: &str, binaries: &[TestBinary], test_args: &[String]) -> String {
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
        runs.push('\n');
    }
    TEMPLATE
        .replace("@KERNELS_TOML@", &shell_quote(kernels_toml))
        .replace("@RUNS@", runs.trim_end())
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
            "[features]\nxdp = \"4.12\" # it's\n",
            &[TestBinary {
                name: "datapath".into(),
                path: "/t/datapath-1".into(),
            }],
            &["--test-threads=1".into(), "it's".into()],
        );
        assert!(script.contains(
            "printf '%s' '[features]\nxdp = \"4.12\" # it'\\''s\n' >\"$MESHTWIN_KERNELS_TOML\""
        ));
        assert!(script.contains("run 'datapath' '/t/datapath-1' '--test-threads=1' 'it'\\''s'\n"));
        assert!(!script.contains("@RUNS@") && !script.contains("@KERNELS_TOML@"));
        assert!(script.contains(&format!("M={MARKER}")));
    }
}
