//! Reads what a guest printed: the marker lines of guest_run.sh, the JSON result records the
//! datapath tests appended to $MESHTWIN_RESULTS, and libtest's own `test NAME ... STATUS` lines
//! (a failing test panics and writes no record; libtest's FAILED line is how it shows).

use std::collections::BTreeMap;

use meshtwin_kernel_features::record::TestRecord;

use crate::guest_script::MARKER;

/// What libtest said about one test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LibtestStatus {
    Ok,
    Failed,
    Ignored,
}

/// Everything read from one guest's output.
#[derive(Debug, Default)]
pub struct GuestReport {
    /// `uname -r` in the guest.
    pub uname: Option<String>,
    /// Facts about the guest environment (`tmp-writable yes`, `bpffs yes`, `cgroup2 /sys/...`).
    pub environment: BTreeMap<String, String>,
    /// Set-up steps of guest_run.sh that failed.
    pub setup_failures: Vec<String>,
    /// Test binaries started, with their exit codes (None: started but never finished).
    pub binaries: Vec<(String, Option<i32>)>,
    /// libtest's verdicts, by full test name (`module::function`).
    pub libtest: Vec<(String, LibtestStatus)>,
    /// The first panic message of each failed test, by full test name.
    pub panics: BTreeMap<String, String>,
    /// Records from $MESHTWIN_RESULTS.
    pub records: Vec<TestRecord>,
    /// Lines between the result markers that were not valid records.
    pub malformed: Vec<String>,
    /// Whether the result block was printed to its end.
    pub results_complete: bool,
}

/// Parses a guest's command output.
pub fn parse(lines: &[String]) -> GuestReport {
    let mut report = GuestReport::default();
    let mut in_results = false;
    let mut failure_section: Option<String> = None;
    for raw in lines {
        let line = raw.trim_end_matches('\r');
        if let Some(rest) = line.strip_prefix(MARKER).map(str::trim) {
            let (word, args) = rest.split_once(' ').unwrap_or((rest, ""));
            match word {
                "uname" => report.uname = Some(args.trim().to_owned()),
                "guest" => {
                    let (key, value) = args.split_once(' ').unwrap_or((args, ""));
                    report
                        .environment
                        .insert(key.to_owned(), value.trim().to_owned());
                }
                "setup-failed" => report.setup_failures.push(args.to_owned()),
                "run" => report.binaries.push((args.trim().to_owned(), None)),
                "exit" => {
                    let (name, code) = args.rsplit_once(' ').unwrap_or((args, ""));
                    let code = code.trim().parse().ok();
                    match report
                        .binaries
                        .iter_mut()
                        .rev()
                        .find(|(n, c)| n == name && c.is_none())
                    {
                        Some(entry) => entry.1 = code,
                        None => report.binaries.push((name.to_owned(), code)),
                    }
                }
                "results-begin" => in_results = true,
                "results-end" => {
                    in_results = false;
                    report.results_complete = true;
                }
                _ => {}
            }
            continue;
        }
        if in_results {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<TestRecord>(line) {
                Ok(record) => report.records.push(record),
                Err(_) => report.malformed.push(line.to_owned()),
            }
            continue;
        }
        if let Some((name, status)) = libtest_line(line) {
            report.libtest.push((name, status));
            continue;
        }
        // libtest prints each failure's captured output under `---- NAME stdout ----`.
        if let Some(name) = line
            .strip_prefix("---- ")
            .and_then(|l| l.strip_suffix(" stdout ----"))
        {
            failure_section = Some(name.to_owned());
            continue;
        }
        if let Some(test) = &failure_section {
            if line.contains("panicked at ") && !report.panics.contains_key(test) {
                // The message is on the next line(s); remember where to put it.
                report.panics.insert(test.clone(), String::new());
            } else if report.panics.get(test).is_some_and(String::is_empty)
                && !line.trim().is_empty()
            {
                report.panics.insert(test.clone(), line.trim().to_owned());
            }
            if line == "failures:" || line.starts_with("test result:") {
                failure_section = None;
            }
        }
    }
    report
}

/// `test module::name ... ok` -> (`module::name`, Ok).
fn libtest_line(line: &str) -> Option<(String, LibtestStatus)> {
    let rest = line.strip_prefix("test ")?;
    let (name, verdict) = rest.rsplit_once(" ... ")?;
    let status = match verdict.trim() {
        "ok" => LibtestStatus::Ok,
        "FAILED" => LibtestStatus::Failed,
        v if v.starts_with("ignored") => LibtestStatus::Ignored,
        _ => return None,
    };
    Some((name.trim().to_owned(), status))
}

/// Whether a record's test name is libtest's `full` name: the record may carry the function
/// name only (`xdp_policy_allows` for `xdp_policy::xdp_policy_allows`).
pub fn same_test(record_name: &str, full: &str) -> bool {
    full == record_name || full.rsplit("::").next() == Some(record_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    const OUTPUT: &str = r#"MESHTWIN-VMTEST uname 6.1.0-56-amd64
MESHTWIN-VMTEST guest tmp-writable yes
MESHTWIN-VMTEST guest cgroup2 /sys/fs/cgroup
MESHTWIN-VMTEST run datapath

running 3 tests
test xdp_policy::xdp_allows ... ok
skipping tc::tcx_links: tcx needs 6.6, kernel is 6.1.0
test tc::tcx_links ... ok
test lifecycle::down_cleans ... FAILED

failures:

---- lifecycle::down_cleans stdout ----

thread 'lifecycle::down_cleans' panicked at datapath/agent/tests/datapath/lifecycle.rs:80:5:
xdp program still attached to veth0
note: run with `RUST_BACKTRACE=1`

failures:
    lifecycle::down_cleans

test result: FAILED. 2 passed; 1 failed; 0 ignored
MESHTWIN-VMTEST exit datapath 101
MESHTWIN-VMTEST results-begin
{"test":"xdp_allows","feature":"xdp","status":"pass","reason":""}
{"test":"tcx_links","feature":"tcx","status":"skip","reason":"tcx needs 6.6, kernel is 6.1.0"}
not json
MESHTWIN-VMTEST results-end"#;

    #[test]
    fn reads_markers_records_and_libtest() {
        let r = parse(&lines(OUTPUT));
        assert_eq!(r.uname.as_deref(), Some("6.1.0-56-amd64"));
        assert_eq!(r.environment["tmp-writable"], "yes");
        assert_eq!(r.environment["cgroup2"], "/sys/fs/cgroup");
        assert_eq!(r.binaries, [("datapath".to_owned(), Some(101))]);
        assert_eq!(r.libtest.len(), 3);
        assert_eq!(
            r.libtest[2],
            ("lifecycle::down_cleans".to_owned(), LibtestStatus::Failed)
        );
        assert_eq!(
            r.panics["lifecycle::down_cleans"],
            "xdp program still attached to veth0"
        );
        assert_eq!(r.records.len(), 2);
        assert_eq!(
            r.records[1].status,
            meshtwin_kernel_features::record::RecordStatus::Skip
        );
        assert_eq!(r.malformed, ["not json"]);
        assert!(r.results_complete);
    }

    #[test]
    fn a_cut_off_guest_leaves_results_incomplete() {
        let r = parse(&lines("MESHTWIN-VMTEST run datapath\ntest a ... ok\n"));
        assert_eq!(r.binaries, [("datapath".to_owned(), None)]);
        assert!(!r.results_complete);
    }

    #[test]
    fn matches_record_names_to_libtest_names() {
        assert!(same_test("xdp_allows", "xdp_policy::xdp_allows"));
        assert!(same_test(
            "xdp_policy::xdp_allows",
            "xdp_policy::xdp_allows"
        ));
        assert!(!same_test("allows", "xdp_policy::xdp_allows"));
    }
}
