//! The kernel x test matrix: per-kernel outcomes folded into rows (one per test, with its
//! feature) and columns (one per kernel), printed as a table and written as JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use meshtwin_kernel_features::record::RecordStatus;

use crate::guest_output::{same_test, GuestReport, LibtestStatus};

/// How one test ended on one kernel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "status", content = "reason")]
pub enum TestStatus {
    Pass,
    Skip(String),
    Fail(String),
}

/// One test's result on one kernel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestResult {
    pub test: String,
    pub feature: String,
    #[serde(flatten)]
    pub status: TestStatus,
}

/// Why a kernel produced no (complete) results.
#[derive(Debug, Clone, Serialize)]
pub struct KernelFailure {
    /// `timeout`, `boot`, `guest`, `missing-results`, `wrong-kernel`, `provision`.
    pub kind: String,
    pub message: String,
    /// The last lines of the serial console.
    pub console_tail: Vec<String>,
}

/// Everything about one kernel's run.
#[derive(Debug, Clone, Serialize)]
pub struct KernelOutcome {
    pub name: String,
    pub release: String,
    pub accel: String,
    pub duration_secs: f64,
    /// Seconds from qemu start until the guest agent answered.
    pub boot_secs: Option<f64>,
    pub tests: Vec<TestResult>,
    pub failures: Vec<KernelFailure>,
    /// The serial console of this kernel's run.
    pub console_log: String,
    /// What the guest command printed, each line stamped with seconds since qemu started.
    pub guest_log: String,
}

impl KernelOutcome {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
            && self
                .tests
                .iter()
                .all(|t| !matches!(t.status, TestStatus::Fail(_)))
    }
}

/// Test results of one guest, from its records and libtest's lines; also the kernel-level
/// failures the output shows (a binary that crashed, results cut off, malformed records).
pub fn tests_from_report(
    report: &GuestReport,
    expected_release: &str,
) -> (Vec<TestResult>, Vec<KernelFailure>) {
    let mut failures = Vec::new();
    let mut fail = |kind: &str, message: String| {
        failures.push(KernelFailure {
            kind: kind.to_owned(),
            message,
            console_tail: Vec::new(),
        })
    };

    // The guest self-check: it booted the kernel asked for and has what the tests need.
    let mut tests = Vec::new();
    let guest_problems: Vec<String> = [
        (report.uname.as_deref() != Some(expected_release)).then(|| {
            format!(
                "uname -r is {:?}, expected {expected_release}",
                report.uname.as_deref().unwrap_or("missing")
            )
        }),
        (report.environment.get("tmp-writable").map(String::as_str) != Some("yes"))
            .then(|| "/tmp is not writable".to_owned()),
        (report.environment.get("bpffs").map(String::as_str) != Some("yes"))
            .then(|| "no bpffs at /sys/fs/bpf".to_owned()),
        report
            .environment
            .get("cgroup2")
            .is_none_or(|p| p.is_empty())
            .then(|| "no cgroup2 mount".to_owned()),
    ]
    .into_iter()
    .flatten()
    .chain(
        report
            .setup_failures
            .iter()
            .map(|s| format!("set-up failed: {s}")),
    )
    .collect();
    tests.push(TestResult {
        test: GUEST_CHECK.to_owned(),
        feature: "-".to_owned(),
        status: if guest_problems.is_empty() {
            TestStatus::Pass
        } else {
            TestStatus::Fail(guest_problems.join("; "))
        },
    });

    for record in &report.records {
        let status = match record.status {
            RecordStatus::Pass => TestStatus::Pass,
            RecordStatus::Skip => TestStatus::Skip(record.reason.clone()),
        };
        tests.push(TestResult {
            test: record.test.clone(),
            feature: record.feature.clone(),
            status,
        });
    }
    for (full, status) in &report.libtest {
        let recorded = report.records.iter().any(|r| same_test(&r.test, full));
        match status {
            LibtestStatus::Failed => {
                let why = report
                    .panics
                    .get(full)
                    .filter(|m| !m.is_empty())
                    .cloned()
                    .unwrap_or_else(|| "FAILED (see the guest log)".to_owned());
                let name = short_name(full);
                // A test that recorded a result and then failed is reported once, as failed.
                tests.retain(|t| !same_test(&t.test, full));
                tests.push(TestResult {
                    test: name,
                    feature: "?".to_owned(),
                    status: TestStatus::Fail(why),
                });
            }
            LibtestStatus::Ok if !recorded => tests.push(TestResult {
                test: short_name(full),
                feature: "-".to_owned(),
                status: TestStatus::Pass,
            }),
            _ => {}
        }
    }

    for (binary, code) in &report.binaries {
        let failed_tests = report
            .libtest
            .iter()
            .any(|(_, s)| *s == LibtestStatus::Failed);
        match code {
            None => fail(
                "missing-results",
                format!("test binary `{binary}` started but never finished"),
            ),
            Some(0) => {}
            Some(code) if !failed_tests => fail(
                "guest",
                format!(
                    "test binary `{binary}` exited {code} without a FAILED test (did it crash?)"
                ),
            ),
            Some(_) => {}
        }
    }
    if !report.results_complete {
        fail(
            "missing-results",
            "the guest's result block never ended (the guest stopped mid-run)".to_owned(),
        );
    }
    for line in &report.malformed {
        fail("guest", format!("malformed result record: {line}"));
    }
    (tests, failures)
}

/// The row that checks the guest itself (right kernel, writable /tmp, bpffs, cgroup2).
pub const GUEST_CHECK: &str = "guest: right kernel, /tmp, bpffs, cgroup2";

fn short_name(full: &str) -> String {
    full.rsplit("::").next().unwrap_or(full).to_owned()
}

/// The matrix of all kernels run.
#[derive(Debug, Serialize)]
pub struct Matrix {
    pub accel: String,
    pub accel_reason: String,
    pub features: BTreeMap<String, String>,
    pub kernels: Vec<KernelOutcome>,
    pub summary: Summary,
}

/// Totals over the matrix. Each kernel-level failure counts as one failed.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

impl Matrix {
    pub fn new(
        accel: String,
        accel_reason: String,
        features: BTreeMap<String, String>,
        mut kernels: Vec<KernelOutcome>,
    ) -> Self {
        // A test that failed has no record, hence no feature: take it from another kernel.
        let known: BTreeMap<String, String> = kernels
            .iter()
            .flat_map(|k| &k.tests)
            .filter(|t| t.feature != "?")
            .map(|t| (t.test.clone(), t.feature.clone()))
            .collect();
        for kernel in &mut kernels {
            for test in &mut kernel.tests {
                if test.feature == "?" {
                    test.feature = known.get(&test.test).cloned().unwrap_or_else(|| "-".into());
                }
            }
        }
        let mut summary = Summary::default();
        for kernel in &kernels {
            summary.failed += kernel.failures.len();
            for test in &kernel.tests {
                match test.status {
                    TestStatus::Pass => summary.passed += 1,
                    TestStatus::Skip(_) => summary.skipped += 1,
                    TestStatus::Fail(_) => summary.failed += 1,
                }
            }
        }
        Self {
            accel,
            accel_reason,
            features,
            kernels,
            summary,
        }
    }

    pub fn passed(&self) -> bool {
        self.summary.failed == 0 && self.kernels.iter().all(KernelOutcome::passed)
    }

    /// The table for the terminal: tests down, kernels across, then the reasons.
    pub fn render(&self) -> String {
        // Rows in first-seen order, the guest check first.
        let mut rows: Vec<(String, String)> = Vec::new();
        for kernel in &self.kernels {
            for test in &kernel.tests {
                if !rows.iter().any(|(name, _)| *name == test.test) {
                    rows.push((test.test.clone(), test.feature.clone()));
                }
            }
        }
        rows.sort_by(|a, b| {
            (a.0 != GUEST_CHECK, &a.1, &a.0).cmp(&(b.0 != GUEST_CHECK, &b.1, &b.0))
        });
        let name_width = rows.iter().map(|r| r.0.len()).max().unwrap_or(4).max(4);
        let feature_width = rows.iter().map(|r| r.1.len()).max().unwrap_or(7).max(7);
        let column = |k: &KernelOutcome| k.name.len().max(5);

        let mut out = String::new();
        let _ = write!(out, "{:name_width$}  {:feature_width$}", "test", "feature");
        for k in &self.kernels {
            let _ = write!(out, "  {:>w$}", k.name, w = column(k));
        }
        out.push('\n');
        let mut notes: Vec<String> = Vec::new();
        for (name, feature) in &rows {
            let _ = write!(out, "{name:name_width$}  {feature:feature_width$}");
            for k in &self.kernels {
                let cell = match k.tests.iter().find(|t| t.test == *name) {
                    Some(t) => match &t.status {
                        TestStatus::Pass => "pass",
                        TestStatus::Skip(reason) => {
                            notes.push(format!("skip  {} on {}: {reason}", name, k.name));
                            "skip"
                        }
                        TestStatus::Fail(reason) => {
                            notes.push(format!("FAIL  {} on {}: {reason}", name, k.name));
                            "FAIL"
                        }
                    },
                    None if !k.failures.is_empty() => "-",
                    None => "none",
                };
                let _ = write!(out, "  {cell:>w$}", w = column(k));
            }
            out.push('\n');
        }
        let _ = write!(out, "{:name_width$}  {:feature_width$}", "time (s)", "");
        for k in &self.kernels {
            let _ = write!(out, "  {:>w$.0}", k.duration_secs, w = column(k));
        }
        out.push('\n');
        for k in &self.kernels {
            for f in &k.failures {
                let mut note = format!(
                    "FAIL  kernel {} ({}): {}\n      logs: {} and {}",
                    k.name, f.kind, f.message, k.console_log, k.guest_log
                );
                if !f.console_tail.is_empty() {
                    note.push_str("\n      console tail:");
                    for line in &f.console_tail {
                        note.push_str("\n      | ");
                        note.push_str(line);
                    }
                }
                notes.push(note);
            }
        }
        if !notes.is_empty() {
            out.push('\n');
            for note in notes {
                out.push_str(&note);
                out.push('\n');
            }
        }
        out
    }
}

/// Seconds, for the JSON.
pub fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guest_output::parse;

    fn report(text: &str) -> GuestReport {
        parse(&text.lines().map(str::to_owned).collect::<Vec<_>>())
    }

    const GOOD_GUEST: &str = "MESHTWIN-VMTEST uname 6.1.0-56-amd64
MESHTWIN-VMTEST guest tmp-writable yes
MESHTWIN-VMTEST guest bpffs yes
MESHTWIN-VMTEST guest cgroup2 /sys/fs/cgroup
MESHTWIN-VMTEST run datapath
test xdp::xdp_allows ... ok
test tc::tc_lb ... FAILED
test util::parses ... ok
MESHTWIN-VMTEST exit datapath 101
MESHTWIN-VMTEST results-begin
{\"test\":\"xdp_allows\",\"feature\":\"xdp\",\"status\":\"pass\",\"reason\":\"\"}
MESHTWIN-VMTEST results-end";

    #[test]
    fn folds_records_and_libtest_into_results() {
        let (tests, failures) = tests_from_report(&report(GOOD_GUEST), "6.1.0-56-amd64");
        assert!(failures.is_empty(), "{failures:?}");
        let find = |n: &str| tests.iter().find(|t| t.test == n).unwrap();
        assert_eq!(find(GUEST_CHECK).status, TestStatus::Pass);
        assert_eq!(find("xdp_allows").status, TestStatus::Pass);
        assert_eq!(find("xdp_allows").feature, "xdp");
        assert!(matches!(find("tc_lb").status, TestStatus::Fail(_)));
        assert_eq!(find("parses").status, TestStatus::Pass);
        assert_eq!(tests.len(), 4);
    }

    #[test]
    fn wrong_kernel_and_cut_off_output_are_failures() {
        let (tests, failures) = tests_from_report(
            &report("MESHTWIN-VMTEST uname 6.12.1\nMESHTWIN-VMTEST run datapath\n"),
            "6.1.0-56-amd64",
        );
        assert!(
            matches!(&tests[0].status, TestStatus::Fail(m) if m.contains("expected 6.1.0-56-amd64"))
        );
        let kinds: Vec<&str> = failures.iter().map(|f| f.kind.as_str()).collect();
        assert_eq!(kinds, ["missing-results", "missing-results"]);
    }

    fn outcome(name: &str, tests: Vec<TestResult>) -> KernelOutcome {
        KernelOutcome {
            name: name.into(),
            release: format!("{name}.0"),
            accel: "tcg".into(),
            duration_secs: 20.0,
            boot_secs: Some(10.0),
            tests,
            failures: vec![],
            console_log: format!("target/vmtests/{name}/console.log"),
            guest_log: format!("target/vmtests/{name}/guest.log"),
        }
    }

    fn result(test: &str, feature: &str, status: TestStatus) -> TestResult {
        TestResult {
            test: test.into(),
            feature: feature.into(),
            status,
        }
    }

    #[test]
    fn renders_a_table_and_fills_features_of_failed_tests() {
        let matrix = Matrix::new(
            "tcg".into(),
            "no /dev/kvm".into(),
            BTreeMap::new(),
            vec![
                outcome(
                    "5.10",
                    vec![result(
                        "tcx_links",
                        "tcx",
                        TestStatus::Skip("tcx needs 6.6".into()),
                    )],
                ),
                outcome(
                    "6.6",
                    vec![result("tcx_links", "?", TestStatus::Fail("boom".into()))],
                ),
            ],
        );
        assert_eq!(matrix.kernels[1].tests[0].feature, "tcx");
        assert_eq!(
            matrix.summary,
            Summary {
                passed: 0,
                failed: 1,
                skipped: 1
            }
        );
        assert!(!matrix.passed());
        let table = matrix.render();
        assert!(
            table.starts_with("test       feature   5.10    6.6\n"),
            "{table}"
        );
        assert!(
            table.contains("tcx_links  tcx       skip   FAIL\n"),
            "{table}"
        );
        assert!(table.contains("skip  tcx_links on 5.10: tcx needs 6.6"));
        assert!(table.contains("FAIL  tcx_links on 6.6: boom"));
        let json = serde_json::to_value(&matrix).unwrap();
        assert_eq!(json["kernels"][0]["tests"][0]["status"], "skip");
        assert_eq!(json["kernels"][0]["tests"][0]["reason"], "tcx needs 6.6");
    }
}
