//! The `vmtests` binary's answers to bad input, without booting anything: each is a clear,
//! located message and a non-zero exit.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn vmtests(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vmtests"));
    command.args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("run vmtests")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn write_toml(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("kernels.toml");
    std::fs::write(&path, text).unwrap();
    path
}

const ONE_KERNEL: &str = r#"
[[kernel]]
name = "6.1"
suite = "bookworm-security"
packages = [{ name = "linux-image-6.1.0-56-amd64-unsigned", version = "6.1.192-2" }]

"#;

#[test]
fn malformed_kernels_toml_is_a_located_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_toml(
        dir.path(),
        &ONE_KERNEL.replace("name = \"6.1\"", "name = 6.1"),
    );
    let output = vmtests(&["--kernels-toml", path.to_str().unwrap(), "--list"], &[]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.starts_with(&format!(
            "error: {}:3:8: invalid type: floating point `6.1`, expected a string",
            path.display()
        )),
        "{err}"
    );
}

#[test]
fn unknown_kernel_names_list_the_known_ones() {
    let output = vmtests(&["6.0"], &[]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(err.starts_with("error: no kernel named `6.0` in "), "{err}");
    assert!(err.contains("it has: 5.10, 6.1, 6.12, 6.18, 7.3"), "{err}");
}

#[test]
fn list_shows_the_pinned_kernels() {
    let output = vmtests(&["--list"], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(stdout.lines().count(), 5, "{stdout}");
    assert!(stdout.contains("linux-image-6.1.0-56-amd64-unsigned=6.1.192-2"));
}

#[test]
fn missing_qemu_says_how_to_install_it() {
    let output = vmtests(
        &["6.1"],
        &[(
            "MESHTWIN_QEMU",
            Path::new("/nonexistent/qemu-system-x86_64"),
        )],
    );
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        "error: qemu-system-x86_64 not found (it boots the test kernels); \
         install it with: apt-get install -y qemu-system-x86\n"
    );
}

/// A pinned version the mirror does not have: the error names the package, the suite, what
/// the suite offers and the line to change. Needs the host's apt sources and the mirror.
#[test]
fn an_undownloadable_package_names_what_to_change() {
    if !Path::new("/etc/apt").exists() || Command::new("apt-get").arg("--version").output().is_err()
    {
        eprintln!("skipping: no apt on this host");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = write_toml(dir.path(), &ONE_KERNEL.replace("6.1.192-2", "0.0-0"));
    let cache = dir.path().join("cache");
    let output = vmtests(
        &["--kernels-toml", path.to_str().unwrap(), "--provision-only"],
        &[("MESHTWIN_CACHE_DIR", &cache)],
    );
    let err = stderr(&output);
    if err.contains("no Debian mirror found") {
        eprintln!("skipping: the host's apt sources name no mirror");
        return;
    }
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(
        err.contains(
            "cannot download linux-image-6.1.0-56-amd64-unsigned=0.0-0 from suite `bookworm-security`"
        ),
        "{err}"
    );
    assert!(
        err.contains(
            "versions of linux-image-6.1.0-56-amd64-unsigned that suite offers: 6.1.192-2"
        ),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "fix: change the package's version (or the kernel's suite) in {}:2",
            path.display()
        )),
        "{err}"
    );
}
