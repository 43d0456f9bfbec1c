//! `netboot serve`: arguments, logging, and the exit code once the server stops.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitCode;

use netboot_manifest::settings::{DHCP_PORT, PXE_PORT};
use netboot_ops::install_state::StateUrl;
use netboot_ops::serve::{serve, ServeError, ServeOptions, Source};

use crate::logging::{self, LogFormat};

#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("source").required(true).args(["fleet", "manifest"]))]
pub struct ServeArgs {
    /// A fleet to compile in memory; it and every file it references are watched.
    pub fleet: Option<PathBuf>,
    /// A frozen build to serve instead (the `manifest.json` written by `netboot build`).
    #[arg(long, value_name = "MANIFEST.json")]
    pub manifest: Option<PathBuf>,
    /// Interface for proxy-DHCP; also gives the address when none is set.
    #[arg(long, value_name = "IF")]
    pub interface: Option<String>,
    /// Address clients are told to fetch from (must be on --interface).
    #[arg(long, value_name = "IPV4")]
    pub address: Option<Ipv4Addr>,
    #[arg(long, value_name = "PORT", value_parser = crate::overrides::port())]
    pub http_port: Option<u16>,
    #[arg(long, value_name = "PORT", value_parser = crate::overrides::port())]
    pub tftp_port: Option<u16>,
    /// Serve TFTP and HTTP only; another DHCP server hands out the boot file.
    #[arg(long)]
    pub no_dhcp: bool,
    /// Drop root to this user once the ports are bound.
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// Do not reload when inputs change.
    #[arg(long)]
    pub no_watch: bool,
    /// Do not answer the status page (/), /metrics and /status.json over HTTP.
    #[arg(long)]
    pub no_status: bool,
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// DHCP server port (tests run unprivileged on another).
    #[arg(long, default_value_t = DHCP_PORT, hide = true)]
    pub dhcp_port: u16,
    /// PXE boot-server discovery port.
    #[arg(long, default_value_t = PXE_PORT, hide = true)]
    pub pxe_port: u16,
    /// Where full-DHCP mode keeps its leases (`dhcp-leases.json`) and the install lifecycle
    /// what each machine reported installed (`install-state.json`).
    #[arg(long, value_name = "DIR", default_value = "/var/lib/netboot")]
    pub state_dir: PathBuf,
    /// Keep both in PostgreSQL instead, shared by every server given the same URL
    /// (postgres://USER@%2Frun%2Fpostgresql/DB over a unix socket, or host:port on a trusted
    /// network: no TLS). Tables are created if missing; a database that is down stops start-up.
    #[arg(long, value_name = "postgres://…")]
    pub state: Option<StateUrl>,
    /// Artifact cache of `netboot build` (`url=` artifacts found there are served locally)
    /// [default: $XDG_CACHE_HOME/netboot, else ~/.cache/netboot].
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
}

pub fn run(args: ServeArgs) -> ExitCode {
    logging::init(args.log_format);
    // clap's `source` group gives exactly one of the two.
    let source = match (args.fleet, args.manifest) {
        (Some(fleet), _) => Source::Fleet(fleet),
        (None, Some(manifest)) => Source::Manifest(manifest),
        (None, None) => {
            tracing::error!("give either a fleet or --manifest, not both");
            return ExitCode::FAILURE;
        }
    };
    let options = ServeOptions {
        source,
        interface: args.interface,
        address: args.address,
        http_port: args.http_port,
        tftp_port: args.tftp_port,
        no_dhcp: args.no_dhcp,
        user: args.user,
        no_watch: args.no_watch,
        no_status: args.no_status,
        dhcp_port: args.dhcp_port,
        pxe_port: args.pxe_port,
        state_dir: args.state_dir,
        state: args.state,
        cache: args.cache,
    };
    match serve(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(ServeError::AsyncRuntime(e)) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            ExitCode::FAILURE
        }
        Err(ServeError::Failed(message)) => {
            tracing::error!("{message}");
            ExitCode::FAILURE
        }
    }
}
