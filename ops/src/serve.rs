//! `netboot serve`: run proxy-DHCP, TFTP and HTTP from a fleet or a frozen manifest, reload
//! when its inputs change or on SIGHUP, and stop on SIGTERM or SIGINT, letting transfers in
//! flight finish for a moment.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use netboot_compiler::{ArtifactCache, ServerOverrides};
use netboot_manifest::settings::{self, ServerBlock};
use netboot_manifest::{DhcpMode, Server};
use netboot_runtime::install::{InstallStore, STATE_FILE};
use netboot_runtime::pg::StateUrl;
use netboot_runtime::server::{Reloader, Runtime, ServeConfig};
use netboot_runtime::status::Event;
use netboot_runtime::{Snapshot, SnapshotError};
use tokio::signal::unix::{signal, Signal, SignalKind};

mod full_dhcp;
mod privilege;
mod reload_retry;
mod watch;

use watch::{InputWatcher, ReloadRequests, Wake};

/// The target of this command's log events: `netboot::serve`, as the binary's module was
/// called when the logs' format was settled (filters and log readers rely on it).
const TARGET: &str = "netboot::serve";

/// How long a stopping server lets transfers in flight finish before it cuts them: enough for
/// a script, a loader or the end of a kernel, short enough for a restart not to drag.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// What to serve, and how.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub source: Source,
    /// Interface for proxy-DHCP; also gives the address when none is set.
    pub interface: Option<String>,
    /// Address clients are told to fetch from (must be on `interface`).
    pub address: Option<Ipv4Addr>,
    pub http_port: Option<u16>,
    pub tftp_port: Option<u16>,
    /// Serve TFTP and HTTP only; another DHCP server hands out the boot file.
    pub no_dhcp: bool,
    /// Drop root to this user once the ports are bound.
    pub user: Option<String>,
    /// Do not reload when inputs change (SIGHUP still reloads).
    pub no_watch: bool,
    /// Do not answer the status page, /metrics and /status.json.
    pub no_status: bool,
    /// The DHCP server port (tests run unprivileged on another).
    pub dhcp_port: u16,
    /// The PXE boot-server discovery port.
    pub pxe_port: u16,
    /// Where full-DHCP mode keeps its leases and the install lifecycle its state.
    pub state_dir: PathBuf,
    /// The state database shared with other servers, instead of the files in `state_dir`.
    pub state: Option<StateUrl>,
    /// `netboot build`'s artifact cache; `None`: the default one.
    pub cache: Option<PathBuf>,
}

/// What is served.
#[derive(Debug, Clone)]
pub enum Source {
    /// A fleet compiled in memory; it and every file it references are watched.
    Fleet(PathBuf),
    /// A frozen build (`manifest.json` from `netboot build`).
    Manifest(PathBuf),
}

/// Why serving could not start, or stopped other than by a signal.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot start the async runtime: {0}")]
    AsyncRuntime(std::io::Error),
    /// Everything the operator needs to fix it (a fleet's diagnostics, a port taken...).
    #[error("{0}")]
    Failed(String),
}

/// Serves until SIGTERM or SIGINT. Logs go to the global `tracing` subscriber.
pub fn serve(options: ServeOptions) -> Result<(), ServeError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(ServeError::AsyncRuntime)?;
    runtime.block_on(run(options)).map_err(ServeError::Failed)
}

async fn run(args: ServeOptions) -> Result<(), String> {
    let mut origin = Origin::from_args(&args)?;
    // An interface on the command line brings its own address: the fleet's `address` is for
    // the fleet's own interface, and scripts must name the address we really answer on.
    if let (None, Some(interface)) = (args.address, &args.interface) {
        let address =
            netboot_runtime::address::resolve(None, Some(interface)).map_err(|e| e.to_string())?;
        origin.pin_address(address);
    }
    let (snapshot, inputs) = origin.load()?;
    let mut config = settle(&args, origin.pinned_address(), &snapshot.manifest().server)?;
    // Later compiles must name the address we actually answer on.
    origin.pin_address(config.address);
    let (snapshot, inputs) = if origin.needs_recompile(&snapshot, config.address) {
        origin.load()?
    } else {
        (snapshot, inputs)
    };

    let server_block = snapshot.manifest().server.clone();
    // Before anything is served: a signal after the "serving" line must find its handler.
    let mut signals = Signals::register().map_err(|e| format!("cannot handle signals: {e}"))?;
    // A state database that is down stops start-up here, named: serving without it would
    // mean guessing who is installed and which addresses are free.
    if let Some(url) = &args.state {
        config.install = Some(InstallStore::postgres(url).map_err(|e| e.to_string())?);
        tracing::info!(target: TARGET, state = %url, "install state and full-DHCP leases are shared in PostgreSQL");
    }
    let full = full_dhcp::open(
        &args.state_dir,
        args.state.as_ref(),
        &config,
        &snapshot.manifest().server,
    )?;
    let runtime = Runtime::start_with(&config, snapshot, full)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(user) = &args.user {
        if let Err(message) = privilege::drop_to(user) {
            runtime.shutdown().await;
            return Err(message);
        }
    }
    // Armed before "serving" is logged: an edit made as soon as we answer must not be missed.
    // Under --no-watch only SIGHUP wakes the reload thread.
    let watcher = if args.no_watch {
        InputWatcher::manual(origin.root())
    } else {
        InputWatcher::armed(origin.root(), &inputs)
    };
    let reload_requests = watcher.requests();
    let bound = runtime.bound();
    tracing::info!(
        target: TARGET,
        address = %config.address,
        interface = %config.interface.as_deref().unwrap_or("-"),
        http = %bound.http,
        tftp = %bound.tftp,
        dhcp = %bound.dhcp.map(|(a, b)| format!("{a} {b}")).unwrap_or_else(|| "off".into()),
        "serving"
    );

    let reloader = runtime.reloader();
    std::thread::Builder::new()
        .name("reload".into())
        .spawn(move || watch_forever(watcher, origin, inputs, reloader, server_block))
        .map_err(|e| format!("cannot start the reload thread: {e}"))?;

    let signal = signals.until_stopped(&reload_requests).await;
    let in_flight = runtime.in_flight().list().len();
    tracing::info!(target: TARGET, signal, in_flight, "stopping");
    let cut = runtime.stop(STOP_GRACE).await;
    tracing::info!(target: TARGET, cut, "stopped");
    Ok(())
}

/// Where snapshots come from, so a reload redoes exactly what start-up did.
#[derive(Clone)]
enum Origin {
    Fleet {
        path: PathBuf,
        overrides: ServerOverrides,
        /// `netboot build`'s artifact cache: cached `url=` artifacts are served locally.
        cache: Option<PathBuf>,
    },
    Manifest(PathBuf),
}

impl Origin {
    fn from_args(args: &ServeOptions) -> Result<Origin, String> {
        let absolute = |p: &Path| {
            std::path::absolute(p).map_err(|e| format!("cannot resolve {}: {e}", p.display()))
        };
        Ok(match &args.source {
            Source::Fleet(fleet) => Origin::Fleet {
                path: absolute(fleet)?,
                overrides: ServerOverrides {
                    interface: args.interface.clone(),
                    address: args.address,
                    http_port: args.http_port,
                    tftp_port: args.tftp_port,
                    no_dhcp: args.no_dhcp,
                },
                cache: ArtifactCache::chosen(args.cache.as_deref()).map(|c| c.root().to_path_buf()),
            },
            Source::Manifest(manifest) => Origin::Manifest(absolute(manifest)?),
        })
    }

    /// A snapshot and the files to watch for the next one.
    fn load(&self) -> Result<(Snapshot, BTreeSet<PathBuf>), LoadError> {
        match self {
            Origin::Fleet {
                path,
                overrides,
                cache,
            } => {
                // An artifact replaced between hashing and opening is caught by re-hashing what
                // was opened; compiling again then sees the new file. Bounded: a file rewritten
                // faster than we compile is taken out of service instead.
                let mut attempts = 0;
                let (compiled, snapshot) = loop {
                    let started = std::time::SystemTime::now();
                    let compiled =
                        netboot_compiler::compile_with(path, overrides, cache.as_deref()).map_err(
                            |e| LoadError {
                                message: format!("fleet {} has errors:\n{e}", path.display()),
                                transient: reload_retry::is_transient(&e),
                            },
                        )?;
                    let base = path.parent().unwrap_or(Path::new("."));
                    let snapshot = Snapshot::from_compiled(
                        compiled.manifest.clone(),
                        &compiled.generated,
                        base,
                    );
                    let changed = snapshot.mismatched_since(started);
                    attempts += 1;
                    if changed.is_empty() {
                        break (compiled, snapshot);
                    }
                    if attempts == 3 {
                        break (compiled, take_out_of_service(&snapshot, &changed));
                    }
                    tracing::info!(
                        target: TARGET,
                        routes = changed.len(),
                        "artifacts changed while compiling; compiling again"
                    );
                };
                for warning in &compiled.warnings {
                    let record = warning.to_record();
                    tracing::warn!(
                        target: TARGET,
                        code = %record.code, line = record.line, column = record.column,
                        "{}: {}", path.display(), record.message
                    );
                }
                let mut inputs = compiled.inputs.clone();
                inputs.insert(path.clone());
                Ok((snapshot, inputs))
            }
            Origin::Manifest(path) => {
                let snapshot = Snapshot::load(path).map_err(|e| LoadError {
                    transient: matches!(e, SnapshotError::Read { .. }),
                    message: e.to_string(),
                })?;
                let mut inputs: BTreeSet<PathBuf> = snapshot.sources().iter().cloned().collect();
                inputs.insert(path.clone());
                Ok((snapshot, inputs))
            }
        }
    }

    /// The directory the inputs are named from: the watcher also watches the way down to each.
    fn root(&self) -> &Path {
        let (Origin::Fleet { path, .. } | Origin::Manifest(path)) = self;
        path.parent().unwrap_or(Path::new("/"))
    }

    fn pinned_address(&self) -> Option<Ipv4Addr> {
        match self {
            Origin::Fleet { overrides, .. } => overrides.address,
            Origin::Manifest(_) => None,
        }
    }

    fn pin_address(&mut self, address: Ipv4Addr) {
        if let Origin::Fleet { overrides, .. } = self {
            overrides.address = Some(address);
        }
    }

    /// A fleet that names only an interface was compiled before its address was known.
    fn needs_recompile(&self, snapshot: &Snapshot, address: Ipv4Addr) -> bool {
        matches!(self, Origin::Fleet { .. }) && snapshot.manifest().server.address != Some(address)
    }
}

/// Why [`Origin::load`] produced no snapshot.
struct LoadError {
    /// Everything the operator needs to fix it (the full diagnostics).
    message: String,
    /// A file was missing or unreadable, which may come right without an edit: worth retrying.
    transient: bool,
}

impl From<LoadError> for String {
    fn from(e: LoadError) -> String {
        e.message
    }
}

/// Flags over the manifest's server block, with the address checked against the interface.
fn settle(
    args: &ServeOptions,
    pinned: Option<Ipv4Addr>,
    server: &Server,
) -> Result<ServeConfig, String> {
    let overrides = ServerOverrides {
        interface: args.interface.clone(),
        address: args.address.or(pinned),
        http_port: args.http_port,
        tftp_port: args.tftp_port,
        no_dhcp: args.no_dhcp,
    };
    let settled = settings::settle(&ServerBlock::from(server), &overrides);
    let address = netboot_runtime::address::resolve(settled.address, settled.interface.as_deref())
        .map_err(|e| e.to_string())?;
    let dhcp = settled.dhcp != DhcpMode::Off;
    if dhcp && settled.interface.is_none() {
        tracing::warn!(
            target: TARGET,
            "proxy-DHCP is not bound to an interface: it answers on every interface; \
             set `interface` in the server block or pass --interface"
        );
    }
    Ok(ServeConfig {
        address,
        interface: settled.interface,
        http_port: settled.http_port,
        tftp_port: settled.tftp_port,
        dhcp,
        dhcp_port: args.dhcp_port,
        pxe_port: args.pxe_port,
        status: !args.no_status,
        install: Some(InstallStore::file(args.state_dir.join(STATE_FILE))),
    })
}

/// Reloads on every change; a failed reload keeps the last good snapshot serving, and one that
/// failed on a file is retried with backoff until it succeeds or the next change.
fn watch_forever(
    mut watcher: InputWatcher,
    origin: Origin,
    mut inputs: BTreeSet<PathBuf>,
    reloader: Reloader,
    server_block: Server,
) {
    // The delay before the pending retry (`None`: none pending), and the failure it retries.
    let mut retry: Option<std::time::Duration> = None;
    let mut last_failure: Option<String> = None;
    while let Some(wake) = watcher.next_change(retry) {
        let retrying = match wake {
            Wake::Changed(changed) => {
                let changed: Vec<String> =
                    changed.iter().map(|p| p.display().to_string()).collect();
                tracing::info!(target: "netboot::reload", changed = %changed.join(" "), "inputs changed, reloading");
                retry = None;
                false
            }
            Wake::RetryDue => {
                tracing::info!(target: "netboot::reload", "retrying the failed reload");
                true
            }
            Wake::Requested => {
                retry = None;
                false
            }
        };
        // Before anything is read: a directory swapped since the last reload is watched at its
        // new place, and an edit made while compiling wakes the next round.
        watcher.rearm();
        match origin.load() {
            Ok((snapshot, loaded)) => {
                inputs = loaded;
                if snapshot.manifest().server != server_block {
                    tracing::warn!(
                        target: "netboot::reload",
                        "the server block changed; addresses, ports and interface take effect on restart"
                    );
                }
                watcher.set_inputs(inputs.iter().map(PathBuf::as_path));
                reloader.replace(snapshot);
                retry = None;
                last_failure = None;
            }
            Err(failure) => {
                retry = failure.transient.then(|| reload_retry::next_delay(retry));
                let retry_in_s = retry.map(|d| d.as_secs());
                // A retry that fails the same way again is logged briefly, and not counted as
                // another failed reload.
                if retrying && last_failure.as_deref() == Some(failure.message.as_str()) {
                    tracing::warn!(target: "netboot::reload", retry_in_s, "reload retry failed the same way; still serving the last good snapshot");
                } else {
                    tracing::error!(
                        target: "netboot::reload",
                        "reload failed; still serving the last good snapshot\n{}", failure.message
                    );
                    (reloader.events()).record(Event::reload_failed(&failure.message));
                    if let Some(retry_in_s) = retry_in_s {
                        tracing::info!(target: "netboot::reload", retry_in_s, "a file was missing or unreadable; will retry");
                    }
                }
                quarantine_stale(&reloader);
                // The inputs of the last good load, watched where they stand now.
                watcher.set_inputs(inputs.iter().map(PathBuf::as_path));
                last_failure = Some(failure.message);
            }
        }
    }
}

/// The last good snapshot keeps serving, but not an artifact someone overwrote in place:
/// those bytes are no longer the verified ones.
fn quarantine_stale(reloader: &Reloader) {
    let current = reloader.current();
    let stale = current.stale();
    if stale.is_empty() {
        return;
    }
    reloader.replace(take_out_of_service(&current, &stale));
}

/// `snapshot` without `routes`, each logged with the reason its bytes cannot be trusted.
fn take_out_of_service(
    snapshot: &Snapshot,
    routes: &std::collections::BTreeMap<String, String>,
) -> Snapshot {
    for (route, reason) in routes {
        tracing::error!(target: "netboot::reload", route = %route, %reason, "route taken out of service");
    }
    snapshot.without(routes)
}

/// The signals `serve` acts on. SIGHUP would kill the process by default; operators of
/// nginx or dnsmasq send it to reload (`systemctl reload`), so it reloads here too.
struct Signals {
    term: Signal,
    interrupt: Signal,
    hangup: Signal,
}

impl Signals {
    fn register() -> std::io::Result<Signals> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }

    /// Asks for a reload on each SIGHUP until SIGTERM or SIGINT comes; returns its name.
    async fn until_stopped(&mut self, reload: &ReloadRequests) -> &'static str {
        loop {
            tokio::select! {
                _ = self.term.recv() => return "SIGTERM",
                _ = self.interrupt.recv() => return "SIGINT",
                _ = self.hangup.recv() => {
                    // The reload thread does it, exactly as for an edit (retries included);
                    // this loop stays free to see SIGTERM meanwhile.
                    tracing::info!(target: "netboot::reload", "SIGHUP: reloading");
                    reload.request();
                }
            }
        }
    }
}
