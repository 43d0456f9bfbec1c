//! `netboot build`: compile a fleet and write the output directory atomically.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use netboot_compiler::{compile, write_output, ServerOverrides};

#[derive(clap::Args)]
pub struct BuildArgs {
    /// The fleet description.
    pub fleet: PathBuf,
    /// Output directory [default: `build/` next to the fleet file]. It is replaced as a whole,
    /// so it must be empty or an earlier build.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub overrides: OverrideArgs,
}

/// Settings that override the fleet's `server` block (shared by build and check).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct OverrideArgs {
    /// Address clients fetch from (what `{{ server }}` renders to, with the HTTP port).
    #[arg(long)]
    pub address: Option<Ipv4Addr>,
    /// Interface proxy-DHCP listens on.
    #[arg(long)]
    pub interface: Option<String>,
    /// HTTP port.
    #[arg(long)]
    pub http_port: Option<u16>,
}

impl OverrideArgs {
    pub fn to_overrides(&self) -> ServerOverrides {
        ServerOverrides {
            interface: self.interface.clone(),
            address: self.address,
            http_port: self.http_port,
            ..ServerOverrides::default()
        }
    }
}

/// `build/` beside the fleet file.
pub fn default_output(fleet: &Path) -> PathBuf {
    match fleet.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join("build"),
        _ => PathBuf::from("build"),
    }
}

pub fn run(args: BuildArgs) -> ExitCode {
    let compiled = match compile(&args.fleet, &args.overrides.to_overrides()) {
        Ok(c) => c,
        Err(failure) => {
            eprintln!("{failure}");
            return ExitCode::from(if failure.is_io() { 2 } else { 1 });
        }
    };
    for w in &compiled.warnings {
        eprint!("{}", w.render());
    }
    let out = args.output.unwrap_or_else(|| default_output(&args.fleet));
    if let Err(e) = write_output(&compiled, &args.fleet, &out) {
        eprintln!("netboot build: cannot write {}: {e}", out.display());
        return ExitCode::from(2);
    }
    eprintln!(
        "wrote {} ({} hosts, {} routes, {} generated files)",
        out.display(),
        compiled.manifest.hosts.len(),
        compiled.manifest.files.len(),
        compiled.generated.len()
    );
    ExitCode::SUCCESS
}
