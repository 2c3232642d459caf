//! `meshtwin-agent check` as a user runs it: a config with problems gets every one of them,
//! each located, on stderr, and exit code 2; every config example in the documentation passes.
//! The messages are snapshot-tested: they are often a user's first contact.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn check(config: &Path, dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_meshtwin-agent"))
        .current_dir(dir)
        .arg("check")
        .arg("--config")
        .arg(config)
        .output()
        .expect("the agent runs")
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid")
}

macro_rules! invalid_config_test {
    ($name:ident, $expect_location:expr) => {
        #[test]
        fn $name() {
            let file = concat!(stringify!($name), ".toml");
            let output = check(Path::new(file), &fixtures());
            let stderr = String::from_utf8(output.stderr).expect("utf-8");
            assert_eq!(output.status.code(), Some(2), "{stderr}");
            assert!(output.stdout.is_empty(), "{file} printed a result");
            assert!(
                stderr.starts_with(&format!("error: {file}{}", $expect_location)),
                "{stderr}"
            );
            insta::assert_snapshot!(stringify!($name), stderr);
        }
    };
}

invalid_config_test!(many_problems, ":3:19:");
invalid_config_test!(syntax_error, ":2:17:");
invalid_config_test!(missing_value, ":2:11:");
invalid_config_test!(unknown_field, ":4:1:");
invalid_config_test!(not_utf8, ":2:14:");
invalid_config_test!(empty_service_name, ":2:8:");
invalid_config_test!(long_workload_name, ":3:8:");
invalid_config_test!(long_interface_name, ":2:13:");
invalid_config_test!(unknown_identity, ":8:6:");
invalid_config_test!(redirect_without_node_proxy, ":5:12:");
invalid_config_test!(host_bits_set, ":4:14:");

#[test]
fn every_fixture_has_a_test() {
    let source = include_str!("config_check.rs");
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let name = entry
            .unwrap()
            .file_name()
            .to_string_lossy()
            .replace(".toml", "");
        assert!(
            source.contains(&format!("invalid_config_test!({name},")),
            "fixture {name}.toml has no test"
        );
    }
}

#[test]
fn a_config_with_several_problems_gets_them_all() {
    let output = check(Path::new("many_problems.toml"), &fixtures());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(
        stderr.matches("error: many_problems.toml:").count(),
        4,
        "{stderr}"
    );
}

/// The ```toml blocks of a Markdown page, or of a Rust file's `//!` docs, with the line each
/// starts on.
fn toml_blocks(text: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let line = line
            .strip_prefix("//!")
            .map_or(line, |l| l.strip_prefix(' ').unwrap_or(l));
        match (&mut current, line.trim_start()) {
            (None, "```toml") => current = Some((i + 2, String::new())),
            (Some(_), "```") => blocks.extend(current.take()),
            (Some((_, block)), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

/// Every node config shown to users (the config module's docs, docs/datapath.md) passes
/// `check`: whatever keys they gain, an example that does not is a bug of the docs or the code.
#[test]
fn every_config_example_in_the_docs_passes_check() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let pages = [
        root.join("src/config.rs"),
        root.join("../../docs/datapath.md"),
    ];
    let dir = std::env::temp_dir().join(format!("meshtwin-config-examples-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut checked = 0;
    let mut failures = Vec::new();
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap();
        let blocks = toml_blocks(&text);
        assert!(
            !blocks.is_empty(),
            "{} has no ```toml example",
            page.display()
        );
        for (line, block) in blocks {
            let name = format!(
                "{}-line-{line}.toml",
                page.file_name().unwrap().to_string_lossy()
            );
            let config = dir.join(&name);
            std::fs::write(&config, &block).unwrap();
            let output = check(&config, &dir);
            checked += 1;
            if !output.status.success() {
                failures.push(format!(
                    "{}:{line}:\n{}",
                    page.display(),
                    String::from_utf8_lossy(&output.stderr)
                ));
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked >= 2);
}

/// docs/datapath.md states the name limits the code checks.
#[test]
fn the_documented_name_limits_are_the_checked_ones() {
    use meshtwin_agent::config::{MAX_INTERFACE_NAME_BYTES, MAX_WORKLOAD_NAME_BYTES};
    let page = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/datapath.md"),
    )
    .unwrap();
    for stated in [
        format!("interface names 1–{MAX_INTERFACE_NAME_BYTES} bytes"),
        format!("at most {MAX_WORKLOAD_NAME_BYTES} bytes"),
    ] {
        assert!(
            page.contains(&stated),
            "docs/datapath.md should say `{stated}`"
        );
    }
}
