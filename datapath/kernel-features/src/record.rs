//! The line a kernel test appends to `$MESHTWIN_RESULTS` when it passes or skips, which the VM
//! harness reads back from each guest. A failing test panics and writes nothing (libtest's
//! `FAILED` line is how that shows).

use serde::{Deserialize, Serialize};

/// The environment variable naming the results file.
pub const RESULTS_ENV: &str = "MESHTWIN_RESULTS";

/// One JSON line of the results file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestRecord {
    /// The test's name as it gave it to the gate.
    pub test: String,
    /// The feature that caused a skip, else the test's first feature.
    pub feature: String,
    pub status: RecordStatus,
    /// Why it skipped; empty when it passed.
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordStatus {
    Pass,
    Skip,
}

#[cfg(feature = "gate")]
impl TestRecord {
    /// Appends this record to `$MESHTWIN_RESULTS`, when it names a file.
    pub fn append_to_results(&self) {
        use std::io::Write as _;
        let Some(path) = std::env::var_os(RESULTS_ENV) else {
            return;
        };
        let line = serde_json::to_string(self).expect("a record serialises");
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|error| panic!("cannot append to {RESULTS_ENV} {path:?}: {error}"));
        // One write per line: tests running at once append whole lines.
        file.write_all(format!("{line}\n").as_bytes())
            .unwrap_or_else(|error| panic!("cannot append to {RESULTS_ENV} {path:?}: {error}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_lines_tests_write() {
        let record: TestRecord = serde_json::from_str(
            r#"{"test":"tcx_links","feature":"tcx","status":"skip","reason":"tcx needs 6.6, kernel is 6.1"}"#,
        )
        .unwrap();
        assert_eq!(record.status, RecordStatus::Skip);
        let pass: TestRecord =
            serde_json::from_str(r#"{"test":"t","feature":"xdp","status":"pass"}"#).unwrap();
        assert_eq!(
            (pass.status, pass.reason.as_str()),
            (RecordStatus::Pass, "")
        );
        assert!(serde_json::from_str::<TestRecord>(
            r#"{"test":"t","feature":"xdp","status":"ok"}"#
        )
        .is_err());
    }
}
