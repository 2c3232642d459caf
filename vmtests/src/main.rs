//! `vmtests`: boots each kernel of kernels.toml under qemu, runs the datapath's integration
//! tests in it, and prints the kernel x test matrix. `just vmtest [KERNEL...]` runs it.

mod kernel_job;
mod progress;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Parser, ValueEnum};

use vmtests::accel::{self, Accel, AccelChoice};
use vmtests::apt_root::LazyAptRoot;
use vmtests::catalog::{Catalog, CatalogError, KernelSpec};
use vmtests::file_lock::lock_exclusive;
use vmtests::kernel_cache::{default_cache_dir, CachedKernel, KernelCache};
use vmtests::matrix::{Matrix, Summary};
use vmtests::suite::{self, Suite, TestBinary};
use vmtests::{guest_script, host_tools, qemu_wrapper, shim};

use crate::kernel_job::KernelJob;
use crate::progress::Progress;

#[derive(Parser)]
#[command(
    about = "Boot the kernels pinned in kernels.toml under qemu and run the datapath's \
             integration tests in each; prints the kernel x test matrix"
)]
struct Cli {
    /// Kernels to run, by their name in kernels.toml (all of them when none is given).
    kernels: Vec<String>,
    /// The kernel table [default: kernels.toml at the workspace root].
    #[arg(long, value_name = "PATH")]
    kernels_toml: Option<PathBuf>,
    /// How many kernels boot at once.
    #[arg(long, short, default_value_t = 2)]
    jobs: usize,
    /// Accelerator: `auto` uses KVM only if a probe boot under it works.
    #[arg(long, value_enum, default_value_t = AccelArg::Auto)]
    accel: AccelArg,
    /// Where to write the matrix as JSON [default: <target dir>/vmtests/matrix.json].
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// Overrides every kernel's timeout_secs.
    #[arg(long, value_name = "SECS")]
    timeout_secs: Option<u64>,
    /// Only download, verify and prepare the kernels; boot nothing.
    #[arg(long)]
    provision_only: bool,
    /// List the kernels of kernels.toml and exit.
    #[arg(long)]
    list: bool,
    /// Which tests run in the guests: the datapath's, or this crate's own guest probe.
    #[arg(long, value_enum, default_value_t = SuiteArg::Datapath)]
    suite: SuiteArg,
    /// Print everything the guests print.
    #[arg(long, short)]
    verbose: bool,
    /// Passed to each test binary: a name filter, --test-threads=N, ...
    #[arg(last = true)]
    test_args: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SuiteArg {
    /// meshtwin-agent's integration tests.
    Datapath,
    /// vmtests' guest probe (tests/guest_probe.rs), for checking the harness itself.
    #[value(name = "self")]
    SelfCheck,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum AccelArg {
    Auto,
    Kvm,
    Tcg,
}

fn main() {
    if qemu_wrapper::invoked_as_wrapper() {
        let error = qemu_wrapper::run_as_wrapper();
        eprintln!("meshtwin-qemu: cannot start qemu: {error}");
        std::process::exit(127);
    }
    let cli = Cli::parse();
    match run(cli) {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(error) => {
            match error.downcast_ref::<CatalogError>() {
                // Already `error: kernels.toml:line:column: ...` with the line shown.
                Some(CatalogError::Invalid(problems)) => eprintln!("{problems}"),
                _ => eprintln!("error: {error:#}"),
            }
            std::process::exit(2);
        }
    }
}

/// Runs the matrix; Ok(false) when anything failed.
fn run(cli: Cli) -> Result<bool> {
    let started = Instant::now();
    let workspace = workspace_root();
    let kernels_toml = match &cli.kernels_toml {
        Some(path) => std::path::absolute(path)
            .with_context(|| format!("cannot resolve {}", path.display()))?,
        None => workspace.join("kernels.toml"),
    };
    let catalog = Catalog::load(&kernels_toml)?;
    let mut selected = catalog.select(&cli.kernels)?;
    if let Some(secs) = cli.timeout_secs {
        if secs == 0 {
            bail!("--timeout-secs must be at least 1");
        }
        for spec in &mut selected {
            spec.timeout = Duration::from_secs(secs);
        }
    }
    if cli.list {
        for k in &catalog.kernels {
            let packages: Vec<String> = k.packages.iter().map(ToString::to_string).collect();
            println!("{:6} {:20} {}", k.name, k.suite, packages.join(" "));
        }
        return Ok(true);
    }

    let progress = Progress::new();
    let qemu = if cli.provision_only {
        None
    } else {
        let qemu = host_tools::qemu()?;
        host_tools::guest_agent()?;
        Some(qemu)
    };
    let busybox = shim::find_static_busybox()?;
    let target_dir = target_dir(&workspace)?;
    let work_dir = target_dir.join("vmtests");
    std::fs::create_dir_all(&work_dir)
        .with_context(|| format!("cannot create {}", work_dir.display()))?;
    // Per-kernel directories (wrapper, pid file, logs) are shared by all runs of this target
    // directory: a second run waits instead of killing the first one's qemu.
    let lock_path = work_dir.join("lock");
    let _run_lock = lock_exclusive(&lock_path, || {
        progress.println(&format!(
            "waiting for another vmtests run using {} to finish",
            work_dir.display()
        ))
    })
    .with_context(|| format!("cannot lock {}", lock_path.display()))?;

    let prepared = provision(&selected, &busybox, &work_dir, &progress)?;
    let Some(qemu) = qemu else {
        return Ok(true);
    };

    let suite = match cli.suite {
        SuiteArg::Datapath => Suite::Datapath,
        SuiteArg::SelfCheck => Suite::SelfCheck,
    };
    let binaries = build_suite(&workspace, suite, &progress)?;
    let command = guest_script::render(&binaries, &cli.test_args, &[&workspace, &target_dir]);

    let choice = choose_accel(cli.accel, &qemu, &prepared[0], &progress);
    progress.println(&format!(
        "accelerator: {} ({})",
        choice.accel.name(),
        choice.reason
    ));

    // vmtest's guest init runs with this process's PATH; it must find qemu-ga and mount.
    std::env::set_var("PATH", host_tools::path_with_sbin());
    let outcomes = run_kernels(
        &prepared,
        choice.accel,
        &qemu,
        &command,
        cli.jobs.max(1),
        cli.verbose,
        &progress,
    );

    let features: BTreeMap<String, String> = meshtwin_kernel_features::ALL
        .iter()
        .map(|feature| (feature.name.to_owned(), feature.since.to_string()))
        .collect();
    let matrix = Matrix::new(
        choice.accel.name().to_owned(),
        choice.reason.clone(),
        features,
        outcomes,
    );
    print!("{}", matrix.render());
    let json_path = cli.json.unwrap_or_else(|| work_dir.join("matrix.json"));
    write_json(&matrix, &json_path)?;
    let Summary {
        passed,
        failed,
        skipped,
    } = matrix.summary;
    println!(
        "matrix: {} kernels in {:.0} s, JSON in {}",
        matrix.kernels.len(),
        started.elapsed().as_secs_f64(),
        json_path.display()
    );
    println!("vmtest: {passed} passed, {failed} failed, {skipped} skipped");
    Ok(matrix.passed())
}

/// The workspace this binary was built from (vmtests/ is one of its members).
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("vmtests sits inside the workspace")
        .to_owned()
}

/// cargo's target directory (honours CARGO_TARGET_DIR), where logs and shims go.
fn target_dir(workspace: &Path) -> Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = std::process::Command::new(&cargo)
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(workspace)
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("cannot run `{cargo} metadata`"))?;
    if !output.status.success() {
        bail!("`{cargo} metadata` failed in {}", workspace.display());
    }
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).context("cannot read `cargo metadata` output")?;
    metadata["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .context("`cargo metadata` printed no target_directory")
}

/// A kernel ready to boot: cached, verified, with its shim built.
pub struct Prepared {
    pub spec: KernelSpec,
    pub kernel: CachedKernel,
    pub shim: PathBuf,
    pub dir: PathBuf,
}

fn provision(
    selected: &[KernelSpec],
    busybox: &Path,
    work_dir: &Path,
    progress: &Progress,
) -> Result<Vec<Prepared>> {
    let cache_dir = default_cache_dir()?;
    let task = progress.task(
        "kernels",
        &format!("checking the cache in {}", cache_dir.display()),
    );
    let cache = KernelCache::open(&cache_dir)?;
    let suites: BTreeSet<String> = selected.iter().map(|k| k.suite.clone()).collect();
    let mut apt = LazyAptRoot::new(cache.apt_dir(), suites);
    let mut prepared = Vec::new();
    let mut downloaded = Vec::new();
    for spec in selected {
        let action = if cache.has_all_packages(spec) {
            "verifying"
        } else {
            "downloading"
        };
        task.step(&format!("{action} {} ({})", spec.name, spec.suite));
        let kernel = cache.provision(spec, &mut apt)?;
        if kernel.downloaded {
            downloaded.push(spec.name.clone());
        }
        let dir = work_dir.join(&spec.name);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let shim_path = dir.join("shim.cpio");
        let shim = shim::build(&kernel.modules_dir, &spec.modules, busybox, &shim_path)
            .with_context(|| format!("cannot build the shim initramfs for kernel {}", spec.name))?;
        progress.println(&format!(
            "{:>8} {} from {}; boots {}; shim loads {} ({} built in)",
            spec.name,
            kernel.release,
            spec.suite,
            kernel.boot_note,
            shim.loaded.join(" "),
            if shim.builtin.is_empty() {
                "none".to_owned()
            } else {
                shim.builtin.join(" ")
            }
        ));
        prepared.push(Prepared {
            spec: spec.clone(),
            kernel,
            shim: shim_path,
            dir,
        });
    }
    task.finish(&if downloaded.is_empty() {
        format!("{} kernels cached and verified", prepared.len())
    } else {
        format!(
            "{} kernels ready (downloaded {})",
            prepared.len(),
            downloaded.join(", ")
        )
    });
    Ok(prepared)
}

fn build_suite(workspace: &Path, suite: Suite, progress: &Progress) -> Result<Vec<TestBinary>> {
    let task = progress.task(
        "tests",
        &format!("building {}'s integration tests", suite.package()),
    );
    let binaries = suite::build(workspace, suite)?;
    let names: Vec<&str> = binaries.iter().map(|b| b.name.as_str()).collect();
    task.finish(&format!("built test binaries: {}", names.join(", ")));
    Ok(binaries)
}

fn choose_accel(arg: AccelArg, qemu: &Path, first: &Prepared, progress: &Progress) -> AccelChoice {
    match arg {
        AccelArg::Kvm => AccelChoice {
            accel: Accel::Kvm,
            reason: "--accel kvm".to_owned(),
        },
        AccelArg::Tcg => AccelChoice {
            accel: Accel::Tcg,
            reason: "--accel tcg".to_owned(),
        },
        AccelArg::Auto => {
            let task = progress.task("accel", "probing KVM with a boot");
            let choice = accel::choose(qemu, &first.kernel.boot_image, &first.shim);
            task.finish(choice.accel.name());
            choice
        }
    }
}

fn run_kernels(
    prepared: &[Prepared],
    accel: Accel,
    qemu: &Path,
    command: &str,
    jobs: usize,
    verbose: bool,
    progress: &Progress,
) -> Vec<vmtests::matrix::KernelOutcome> {
    let queue: Mutex<VecDeque<usize>> = Mutex::new((0..prepared.len()).collect());
    let results = Mutex::new(BTreeMap::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(prepared.len()) {
            scope.spawn(|| loop {
                let Some(index) = queue.lock().expect("queue lock").pop_front() else {
                    break;
                };
                let job = KernelJob {
                    prepared: &prepared[index],
                    accel,
                    qemu,
                    command,
                    verbose,
                };
                let outcome = job.run(progress);
                results.lock().expect("results lock").insert(index, outcome);
            });
        }
    });
    results
        .into_inner()
        .expect("results lock")
        .into_values()
        .collect()
}

fn write_json(matrix: &Matrix, path: &Path) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let text = serde_json::to_string_pretty(matrix).context("cannot serialise the matrix")?;
    std::fs::write(path, text + "\n").with_context(|| format!("cannot write {}", path.display()))
}
