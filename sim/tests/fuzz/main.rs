//! Fuzzing the cluster-file path: proptest generates hostile files from the shipped scenarios
//! and the corpus (`corpus/`), and every file goes through `sim check`, the capacity model
//! and a short run with latency (`runner`). The invariant: exit 0 with finite, in-range
//! figures, or exit 2 with a located, non-empty message; never a panic, an abort, a hang or an
//! allocation past the budget (`runner::ADDRESS_SPACE_BYTES`).
//!
//! A normal `cargo test` runs a short, fixed sample (`MESHTWIN_FUZZ_CASES`, 24 by default,
//! about a minute); `just fuzz` runs more. `MESHTWIN_FUZZ_SEED` picks another sample (the
//! seed is printed); `MESHTWIN_FUZZ_SIM` holds another build of `sim` to it. Every case that
//! breaks the invariant is written to
//! `target/fuzz-findings/` with what it broke, and the test fails listing them all.

mod mutation;
mod runner;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::path::{Path, PathBuf};

/// A seed file: its name and text.
fn corpus() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["scenarios", "tests/fuzz/corpus"] {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(root.join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        for path in paths {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            files.push((name, std::fs::read_to_string(&path).unwrap()));
        }
    }
    files
}

/// The histograms of the corpus, copied next to every mutated file.
fn histograms() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/corpus");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "csv"))
        .collect();
    paths.sort();
    paths
}

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v} is not a number")),
        Err(_) => default,
    }
}

#[test]
fn every_hostile_cluster_file_gets_figures_or_a_located_error() {
    let cases = env_number("MESHTWIN_FUZZ_CASES", 24);
    let seed = env_number("MESHTWIN_FUZZ_SEED", 12);
    eprintln!("fuzz: {cases} cases, seed {seed} (MESHTWIN_FUZZ_CASES, MESHTWIN_FUZZ_SEED)");
    let corpus = corpus();
    let histograms = histograms();
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut generator = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
    );
    let strategy = (0..corpus.len(), vec(mutation::mutation(), 1..4));
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target");
    let work = target.join(format!("fuzz-work-{}", std::process::id()));
    let findings = target.join("fuzz-findings");
    std::fs::create_dir_all(&work).unwrap();
    for h in &histograms {
        std::fs::copy(h, work.join(h.file_name().unwrap())).unwrap();
    }
    // Another build of sim can be held to the same invariant (an older one, to see what it
    // missed): MESHTWIN_FUZZ_SIM=path/to/sim.
    let sim = std::env::var_os("MESHTWIN_FUZZ_SIM")
        .map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_sim")), PathBuf::from);
    let sim = sim.as_path();
    let mut violations = Vec::new();
    let mut exits = std::collections::BTreeMap::new();
    for case in 0..cases {
        let (seed_index, mutations) = strategy.new_tree(&mut generator).expect("a case").current();
        let (seed_name, seed_text) = &corpus[seed_index];
        let text = mutation::apply(seed_text, &mutations);
        let file = format!("case-{case}.toml");
        std::fs::write(work.join(&file), &text).unwrap();
        for command in runner::COMMANDS {
            match runner::check(sim, &work, &file, command) {
                Ok(outcome) => *exits.entry((command.join(" "), outcome)).or_insert(0) += 1,
                Err(v) => {
                    std::fs::create_dir_all(&findings).unwrap();
                    let name = format!("seed{seed}-case{case}");
                    std::fs::write(findings.join(format!("{name}.toml")), &text).unwrap();
                    std::fs::write(
                        findings.join(format!("{name}.txt")),
                        format!(
                            "from {seed_name} with {mutations:#?}\n{}: {}\n{}\n",
                            v.command, v.kind, v.detail
                        ),
                    )
                    .unwrap();
                    violations.push(format!("{name} ({seed_name}): {}: {} ", v.kind, v.command));
                }
            }
        }
    }
    std::fs::remove_dir_all(&work).unwrap();
    for ((command, outcome), n) in &exits {
        eprintln!("fuzz: sim {command}: {n} × {outcome}");
    }
    assert!(
        violations.is_empty(),
        "{} commands broke the invariant (files and outputs in {}):\n{}",
        violations.len(),
        findings.display(),
        violations.join("\n")
    );
}
