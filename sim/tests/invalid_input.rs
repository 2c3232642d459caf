//! Bad cluster files: `sim check` names the file, line and column and what is wrong, exits 2,
//! and never panics. The messages are snapshot-tested: they are often a user's first contact.

use std::path::Path;
use std::process::Command;

fn check(fixture: &str) -> (Option<i32>, String) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid");
    let output = Command::new(env!("CARGO_BIN_EXE_sim"))
        .current_dir(&dir)
        .args(["check", fixture])
        .output()
        .expect("sim runs");
    let stderr = String::from_utf8(output.stderr).expect("utf-8");
    assert!(!stderr.contains("panicked"), "{fixture}: {stderr}");
    assert!(output.stdout.is_empty(), "{fixture} printed a result");
    (output.status.code(), stderr)
}

macro_rules! invalid_input_test {
    ($name:ident, $expect_location:expr) => {
        #[test]
        fn $name() {
            let file = concat!(stringify!($name), ".toml");
            let (code, stderr) = check(file);
            assert_eq!(code, Some(2), "{stderr}");
            assert!(
                stderr.starts_with(&format!("error: {file}{}", $expect_location)),
                "{stderr}"
            );
            insta::assert_snapshot!(stringify!($name), stderr);
        }
    };
}

invalid_input_test!(unknown_key, ":3:1:");
invalid_input_test!(wrong_type, ":2:9:");
invalid_input_test!(zero_nodes, ":2:9:");
invalid_input_test!(negative_replicas, ":6:12:");
invalid_input_test!(too_many_pods_per_node, ":3:17:");
invalid_input_test!(impossible_cluster, ":1:1:");
invalid_input_test!(unknown_callee, ":7:17:");
invalid_input_test!(call_cycle, ":12:10:");
invalid_input_test!(unknown_architecture, ":7:29:");
invalid_input_test!(unknown_profile, ":7:11:");
invalid_input_test!(unknown_model_parameter, ":7:1:");
invalid_input_test!(negative_model_parameter, ":7:14:");
invalid_input_test!(syntax_error, ":1:9:");
invalid_input_test!(duplicate_service, ":9:8:");
invalid_input_test!(short_form_and_services, ":7:8:");
invalid_input_test!(negative_rate, ":7:15:");
invalid_input_test!(unknown_scoping, ":7:11:");
invalid_input_test!(more_services_than_pods, ":4:12:");
invalid_input_test!(undeclared_namespace, ":8:13:");
invalid_input_test!(port_out_of_range, ":7:19:");
// Issue 12's reproductions: each is refused before anything is allocated or run, located.
invalid_input_test!(not_utf8, ":5:12:");
invalid_input_test!(missing_value, ":2:8:");
invalid_input_test!(too_many_nodes, ":3:9:");
invalid_input_test!(too_many_waypoint_replicas, ":8:21:");
invalid_input_test!(model_bytes_past_range, ":7:14:");
invalid_input_test!(infinite_rate, ":7:15:");
invalid_input_test!(warmup_past_range, ":7:12:");
invalid_input_test!(fractional_workers, ":7:18:");
invalid_input_test!(zero_wire_speed, ":7:13:");
invalid_input_test!(payload_past_range, ":7:17:");
invalid_input_test!(too_many_calls, ":6:21:");
invalid_input_test!(calls_per_request_explode, ":7:8:");
invalid_input_test!(too_many_events, ":11:14:");
invalid_input_test!(histogram_without_counts, ":7:19:");
invalid_input_test!(histogram_counts_sum_to_infinity, ":7:19:");
// Issue 15: per-edge calls.
invalid_input_test!(negative_per_request, ":7:48:");
invalid_input_test!(infinite_per_request, ":7:56:");
invalid_input_test!(unknown_edge_callee, ":7:22:");
invalid_input_test!(called_service_with_own_rate, ":13:15:");
// Issue 15: request types.
invalid_input_test!(request_tree_too_deep, ":54:13:");
invalid_input_test!(request_calls_unknown_service, ":16:55:");
invalid_input_test!(negative_request_rate, ":11:8:");
invalid_input_test!(nan_per_request_in_tree, ":16:48:");
invalid_input_test!(request_types_and_rps_per_pod, ":7:15:");
invalid_input_test!(request_unknown_entry, ":10:9:");
invalid_input_test!(request_calls_per_request_explode, ":18:8:");
invalid_input_test!(derived_rate_past_range, ":17:8:");
invalid_input_test!(l7_policy_on_tcp_only, ":10:8:");
// Found by the fuzz (seed 4242): infinite calls per request reached the capacity model.
invalid_input_test!(unbounded_calls_capacity_only, ":7:8:");

/// A histogram's own row is where its problem is; the note names the key of the cluster file
/// that points to it.
macro_rules! invalid_histogram_test {
    ($name:ident, $histogram:expr, $note:expr) => {
        #[test]
        fn $name() {
            let file = concat!(stringify!($name), ".toml");
            let (code, stderr) = check(file);
            assert_eq!(code, Some(2), "{stderr}");
            assert!(
                stderr.starts_with(&format!("error: {}", $histogram)),
                "{stderr}"
            );
            assert!(
                stderr.contains(&format!("note: {file}{}", $note)),
                "{stderr}"
            );
            insta::assert_snapshot!(stringify!($name), stderr);
        }
    };
}

invalid_histogram_test!(
    histogram_row_out_of_order,
    "../histograms/decreasing.csv:3:1:",
    ":7:19:"
);
invalid_histogram_test!(
    histogram_not_utf8,
    "../histograms/not_utf8.csv:3:1:",
    ":7:21:"
);

#[test]
fn a_missing_file_is_named() {
    let (code, stderr) = check("no-such-file.toml");
    assert_eq!(code, Some(2));
    assert!(
        stderr.starts_with("error: no-such-file.toml: cannot read:"),
        "{stderr}"
    );
}

#[test]
fn every_fixture_has_a_test() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid");
    let source = include_str!("invalid_input.rs");
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry
            .unwrap()
            .file_name()
            .to_string_lossy()
            .replace(".toml", "");
        assert!(
            source.contains(&format!("invalid_input_test!({name},"))
                || source.contains(&format!("invalid_histogram_test!(\n    {name},")),
            "fixture {name}.toml has no test"
        );
    }
}
invalid_input_test!(call_to_in_pod_origin, ":12:10:");
invalid_input_test!(cpu_below_service_time, ":9:17:");
// Issue 16: products, the bill and requests.
invalid_input_test!(unknown_product, ":7:30:");
invalid_input_test!(duplicate_product, ":7:34:");
invalid_input_test!(price_without_node_shape, ":8:18:");
invalid_input_test!(zero_node_cores, ":7:14:");
invalid_input_test!(request_past_range, ":7:34:");
