//! `netboot test`: boots the fleet's machines in throwaway VMs on a private network and says,
//! from the server's own record, whether each got everything the fleet says it boots.
//!
//! The order matters: the machine is checked first (QEMU, firmware, /dev/net/tun), then the
//! process moves into its own network namespace (before any thread exists, as the kernel
//! requires for a user namespace), then the fleet is compiled against the bridge's address and
//! served there in-process with full DHCP (the private network has no other DHCP server), and
//! the VMs boot on taps of that bridge.

use std::io::Read as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use netboot_compiler::linux_image::{self, Arch};
use netboot_compiler::ServerOverrides;
use netboot_lab::preflight::{self, Missing};
use netboot_lab::private_net::{self, Bridge, NetError, BRIDGE};
use netboot_lab::{Accel, Firmware};
use netboot_manifest::{FullDhcpConfig, MacAddr, Manifest, Source};
use netboot_runtime::dhcp::{netmask_of, FullDhcp, FullSettings, ServerIdentity};
use netboot_runtime::server::{Runtime, ServeConfig};
use netboot_runtime::Snapshot;

use crate::loaded::{LoadError, Loaded};

pub mod judge;
pub mod plan;
pub mod report;
mod run;

pub use report::{render, TestFormat, TestRun};

/// The bridge's address when the fleet names none: scripts are compiled against it.
pub const DEFAULT_ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);

/// What to boot, and how.
#[derive(Debug, Clone)]
pub struct TestOptions {
    /// A fleet (compiled in memory) or a frozen build's `manifest.json`.
    pub fleet: PathBuf,
    /// Host names or MACs to boot (`default`: the unknown machine); empty: all of them.
    pub machines: Vec<String>,
    pub firmware: Vec<Firmware>,
    /// Per VM; `None`: the firmware's own bound.
    pub timeout: Option<Duration>,
    /// Where the result (in every format), each VM's serial log and screenshot are written.
    pub report: Option<PathBuf>,
    pub expect_console: Option<String>,
    /// `None`: KVM when /dev/kvm is usable, else TCG.
    pub accel: Option<Accel>,
    /// Enter a user namespace even as root (the path a non-root user takes).
    pub user_namespace: bool,
    /// Quiet this long after the last file: booted.
    pub quiet: Duration,
    /// VMs at once; `None`: the number of cores.
    pub jobs: Option<usize>,
}

/// Why the run could not start.
#[derive(Debug, thiserror::Error)]
pub enum TestError {
    #[error("this machine cannot run the test VMs:\n{}", list(.0))]
    Missing(Vec<Missing>),
    #[error(transparent)]
    Network(#[from] NetError),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("no machine of the fleet is called {0} (give a host's name or MAC, or `default`)")]
    NoMachine(String),
    #[error("{0}")]
    Setup(String),
}

fn list(missing: &[Missing]) -> String {
    missing
        .iter()
        .map(|m| format!("  - {m}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs the test; `Ok` whether or not the machines booted (see [`TestRun::all_passed`]).
/// Must be called before the process starts any thread.
pub fn test(options: &TestOptions) -> Result<TestRun, TestError> {
    let private = Private::start(&options.fleet, &options.firmware, options.user_namespace)?;
    let base = private
        .fleet
        .parent()
        .unwrap_or(Path::new("/"))
        .to_path_buf();
    let cases = cases(&private.loaded, &base, options)?;
    if let Some(dir) = &options.report {
        std::fs::create_dir_all(dir)
            .map_err(|e| TestError::Setup(format!("cannot create {}: {e}", dir.display())))?;
    }
    let accel = options.accel.unwrap_or_else(Accel::detect);
    let started = SystemTime::now();
    let clock = Instant::now();
    let Private {
        fleet,
        bridge,
        work,
        runtime,
        server,
        ..
    } = private;
    let lab = Arc::new(run::Lab {
        events: server.reloader().events().clone(),
        in_flight: server.in_flight().clone(),
        bridge: Mutex::new(bridge),
        accel,
        work: work.path().to_path_buf(),
        report: options.report.clone(),
        rules: judge::Rules {
            quiet: options.quiet,
            stall: Duration::from_secs(45),
            timeout: Duration::ZERO,
            expect_console: options.expect_console.clone(),
        },
        timeout: options.timeout,
    });
    let jobs = options
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let results = run::run_all(&lab, cases, jobs);
    runtime.block_on(server.shutdown());

    let passed = results.iter().filter(|r| r.passed).count();
    let skipped = results.iter().filter(|r| r.case.skipped.is_some()).count();
    let run = TestRun {
        fleet: fleet.display().to_string(),
        accel: accel.name(),
        passed,
        failed: results.len() - passed - skipped,
        skipped,
        seconds: clock.elapsed().as_secs_f64(),
        cases: results,
        started,
    };
    if let Some(dir) = &options.report {
        // Every format: CI attaches the JUnit file, a person reads the text, a script the JSON.
        for format in [TestFormat::Human, TestFormat::Json, TestFormat::Junit] {
            let path = dir.join(format.file_name());
            std::fs::write(&path, render(&run, format))
                .map_err(|e| TestError::Setup(format!("cannot write {}: {e}", path.display())))?;
        }
    }
    Ok(run)
}

/// Every (machine, firmware) pair asked for: the hosts (or those named), then the unknown
/// machine the fleet's default serves.
fn cases(
    loaded: &Loaded,
    base: &Path,
    options: &TestOptions,
) -> Result<Vec<plan::Case>, TestError> {
    let m = &loaded.manifest;
    let mut machines: Vec<(String, MacAddr)> = Vec::new();
    let all = options.machines.is_empty();
    for wanted in &options.machines {
        let found = m.hosts.iter().find(|(mac, h)| {
            h.name == *wanted || wanted.parse::<MacAddr>().is_ok_and(|w| w == **mac)
        });
        match found {
            Some((mac, h)) => machines.push((h.name.clone(), *mac)),
            None if wanted == "default" => {}
            None => return Err(TestError::NoMachine(wanted.clone())),
        }
    }
    if all {
        machines.extend(m.hosts.iter().map(|(mac, h)| (h.name.clone(), *mac)));
    }
    if all || options.machines.iter().any(|w| w == "default") {
        machines.push(("default".into(), plan::unknown_mac(m)));
    }
    let kernel_arch = |route: &str| kernel_arch(m, base, route);
    let files = plan::Files {
        kernel_arch: &kernel_arch,
    };
    let mut cases = Vec::new();
    for (name, mac) in machines {
        for firmware in &options.firmware {
            cases.push(plan::case(loaded, &files, &name, mac, *firmware));
        }
    }
    Ok(cases)
}

/// The architecture of the kernel served at `route`, from its first bytes (artifacts are
/// found as the server finds them: under the artifact root, from the fleet's directory).
pub(crate) fn kernel_arch(m: &Manifest, base: &Path, route: &str) -> Option<Arch> {
    let Source::Artifact { path } = &m.files.get(route)?.source else {
        return None;
    };
    let path = base.join(&m.artifact_root).join(path);
    let mut head = Vec::with_capacity(linux_image::HEAD_LEN);
    std::fs::File::open(path)
        .ok()?
        .take(linux_image::HEAD_LEN as u64)
        .read_to_end(&mut head)
        .ok()?;
    match linux_image::inspect(&head) {
        linux_image::LinuxImage::Kernel(arch) => Some(arch),
        _ => None,
    }
}

/// Full DHCP on the bridge: a range of the bridge's /24 that leaves out the server's address.
fn full_dhcp(config: &ServeConfig, work: &Path) -> Result<FullDhcp, TestError> {
    let [a, b, c, d] = config.address.octets();
    let (first, last) = if (100..=199).contains(&d) {
        (20, 99)
    } else {
        (100, 199)
    };
    let settings = FullDhcpConfig {
        first: Ipv4Addr::new(a, b, c, first),
        last: Ipv4Addr::new(a, b, c, last),
        lease_time: 3600,
        // The bridge as the router, as on a LAN: Debian's installer stops at "Continue
        // without a default route?" before it fetches its answers when there is none; the
        // namespace has no other interface, so nothing routed there leaves it.
        router: Some(config.address),
        // Likewise it asks for name servers when DHCP names none (nothing answers DNS here;
        // the answer file's URL is an address).
        dns: vec![config.address],
        subnets: vec![],
    };
    let netmask = netmask_of(config.address).map_err(|e| TestError::Setup(e.to_string()))?;
    let identity = ServerIdentity {
        addr: config.address,
        http_port: config.http_port,
    };
    FullDhcp::open(
        &FullSettings::from(&settings),
        identity,
        netmask,
        work.join("dhcp-leases.json"),
    )
    .map(|(full, _)| full)
    .map_err(|e| TestError::Setup(e.to_string()))
}

/// The private network with the fleet served on it: what `netboot test` and `netboot try`
/// both start from.
struct Private {
    fleet: PathBuf,
    loaded: Loaded,
    bridge: Bridge,
    work: tempfile::TempDir,
    runtime: tokio::runtime::Runtime,
    server: Runtime,
}

impl Private {
    /// Checks the machine, enters the private network (before any thread), compiles the fleet
    /// against the bridge's address and serves it there with full DHCP.
    fn start(
        fleet: &Path,
        firmware: &[Firmware],
        user_namespace: bool,
    ) -> Result<Private, TestError> {
        let uid = nix::unistd::geteuid().as_raw();
        let missing = preflight::check(firmware, uid);
        if !missing.is_empty() {
            return Err(TestError::Missing(missing));
        }
        let fleet = std::path::absolute(fleet)
            .map_err(|e| TestError::Setup(format!("cannot resolve {}: {e}", fleet.display())))?;
        let entered = private_net::enter(user_namespace)?;
        tracing::info!(target: "netboot::test", namespace = ?entered, "private network");

        let is_manifest = fleet.extension().is_some_and(|e| e == "json");
        let address = if is_manifest {
            Loaded::manifest(&fleet)?
                .manifest
                .server
                .address
                .unwrap_or(DEFAULT_ADDRESS)
        } else {
            DEFAULT_ADDRESS
        };
        let overrides = ServerOverrides {
            interface: Some(BRIDGE.into()),
            address: Some(address),
            ..ServerOverrides::default()
        };
        let loaded = Loaded::load(&fleet, &overrides)?;
        let bridge = Bridge::create(address, 24)?;
        let snapshot = if is_manifest {
            Snapshot::load(&fleet).map_err(|e| TestError::Setup(e.to_string()))?
        } else {
            loaded.snapshot(fleet.parent().unwrap_or(Path::new("/")))
        };
        let work = tempfile::Builder::new()
            .prefix("netboot-test-")
            .tempdir()
            .map_err(|e| TestError::Setup(format!("cannot create a work directory: {e}")))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| TestError::Setup(format!("cannot start the async runtime: {e}")))?;
        let m = snapshot.manifest().clone();
        let config = ServeConfig {
            address,
            interface: Some(BRIDGE.into()),
            http_port: m.server.http_port,
            tftp_port: m.server.tftp_port,
            dhcp: true,
            dhcp_port: netboot_manifest::settings::DHCP_PORT,
            pxe_port: netboot_manifest::settings::PXE_PORT,
            status: true,
            install: Some(netboot_runtime::install::InstallStore::file(
                work.path().join(netboot_runtime::install::STATE_FILE),
            )),
        };
        let full = full_dhcp(&config, work.path())?;
        let server = runtime
            .block_on(Runtime::start_with(&config, snapshot, Some(full)))
            .map_err(|e| TestError::Setup(format!("cannot serve on the private network: {e}")))?;
        Ok(Private {
            fleet,
            loaded,
            bridge,
            work,
            runtime,
            server,
        })
    }
}

/// What `netboot try` boots.
#[derive(Debug, Clone)]
pub struct TryOptions {
    pub fleet: PathBuf,
    /// `None`: the unknown machine the fleet's default serves.
    pub mac: Option<MacAddr>,
    pub firmware: Firmware,
    pub accel: Option<Accel>,
    pub user_namespace: bool,
}

/// `netboot try`: the same private network with one VM whose console is this terminal, until
/// QEMU ends (Ctrl-A X); everything is gone afterwards.
pub fn try_one(options: &TryOptions) -> Result<std::process::ExitStatus, TestError> {
    let mut private = Private::start(&options.fleet, &[options.firmware], options.user_namespace)?;
    let mac = options
        .mac
        .unwrap_or_else(|| plan::unknown_mac(&private.loaded.manifest));
    let tap = private.bridge.add_tap()?;
    let status = netboot_lab::vm::Vm::attached(&netboot_lab::vm::VmOptions {
        firmware: options.firmware,
        tap: &tap,
        mac: &mac.to_string(),
        accel: options.accel.unwrap_or_else(Accel::detect),
        dir: private.work.path(),
        name: "try",
        netns: None,
        purpose: netboot_lab::vm::Purpose::Machine,
    })
    .map_err(|e| TestError::Setup(format!("cannot start QEMU: {e}")));
    private.runtime.block_on(private.server.shutdown());
    status
}
