//! `netboot build`: arguments, and the exit code of the build.

use std::path::PathBuf;
use std::process::ExitCode;

use netboot_ops::build::{build, BuildError, BuildOptions};
use netboot_ops::console::Console;

use crate::overrides::OverrideArgs;

#[derive(clap::Args)]
pub struct BuildArgs {
    /// The fleet description.
    pub fleet: PathBuf,
    /// Output directory [default: `build/` next to the fleet file]. It is replaced as a whole,
    /// so it must be empty or an earlier build.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Write a bundle to DIR instead: a self-contained static tree (scripts, menus,
    /// manifest.json, and every artifact and loader at `sha256/<hex>` of its content) that any
    /// HTTP server can serve as it is, for a fleet whose `artifact-origin` names that server.
    /// Replaced as a whole, like the output directory.
    #[arg(long, value_name = "DIR", conflicts_with = "output")]
    pub bundle: Option<PathBuf>,
    #[command(flatten)]
    pub overrides: OverrideArgs,
    /// Artifact cache for `url=` artifacts [default: $XDG_CACHE_HOME/netboot, else
    /// ~/.cache/netboot]; files are kept as `sha256/<hex>`.
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Download nothing: every `url=` artifact must already be in the cache.
    #[arg(long, conflicts_with = "no_download")]
    pub offline: bool,
    /// Download nothing, and let machines fetch `url=` artifacts that are not cached from
    /// their URLs (cached ones are still served locally).
    #[arg(long)]
    pub no_download: bool,
}

pub fn run(args: BuildArgs) -> ExitCode {
    let options = BuildOptions {
        fleet: args.fleet,
        bundle: args.bundle.is_some(),
        output: args.bundle.or(args.output),
        overrides: args.overrides.to_overrides(),
        cache: args.cache,
        offline: args.offline,
        no_download: args.no_download,
    };
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    match build(&options, &mut Console::new(&mut out, &mut err)) {
        Ok(built) => {
            eprintln!(
                "wrote {} ({} hosts, {} routes, {} generated files)",
                built.output.display(),
                built.hosts,
                built.routes,
                built.generated
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(match &e {
                BuildError::Compile(failure) if !failure.is_io() => 1,
                BuildError::Fetch { .. } => 1,
                BuildError::Compile(_) | BuildError::NoCache | BuildError::Write { .. } => 2,
            })
        }
    }
}
