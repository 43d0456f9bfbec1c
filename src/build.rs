//! `netboot build`: download `url=` artifacts into the cache, compile the fleet and write the
//! output directory atomically.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use netboot_compiler::{
    compile_with, url_artifacts, write_output, ArtifactCache, Code, Diagnostic, ServerOverrides,
};

use crate::fetch::{fetch, FetchError};

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

/// Settings that override the fleet's `server` block (shared by build and check).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct OverrideArgs {
    /// Address clients fetch from (what `{{ server }}` renders to, with the HTTP port).
    #[arg(long)]
    pub address: Option<Ipv4Addr>,
    /// Interface proxy-DHCP listens on.
    #[arg(long)]
    pub interface: Option<String>,
    /// HTTP port (1–65535, as in the fleet: port 0 would be written into every URL).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
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
    let cache = ArtifactCache::chosen(args.cache.as_deref());
    if !args.no_download {
        if let Err(code) = fetch_all(&args.fleet, cache.as_ref(), args.offline) {
            return code;
        }
    }
    let spinner = crate::fetch::spinner("compiling");
    let compiled = compile_with(
        &args.fleet,
        &args.overrides.to_overrides(),
        cache.as_ref().map(ArtifactCache::root),
    );
    spinner.finish_and_clear();
    let compiled = match compiled {
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

/// Brings every downloadable `url=` artifact into the cache, reporting all that fail at once,
/// each pointing at its line in the fleet.
fn fetch_all(fleet: &Path, cache: Option<&ArtifactCache>, offline: bool) -> Result<(), ExitCode> {
    let found = match url_artifacts(fleet) {
        Ok(found) => found,
        Err(failure) => {
            // The compile that follows reports the same problems with everything else.
            if failure.is_io() {
                eprintln!("{failure}");
                return Err(ExitCode::from(2));
            }
            return Ok(());
        }
    };
    let wanted: Vec<_> = found
        .artifacts
        .iter()
        .filter(|a| a.downloadable())
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let Some(cache) = cache else {
        eprintln!("netboot build: the fleet has url= artifacts but no cache directory: set XDG_CACHE_HOME or HOME, or pass --cache DIR");
        return Err(ExitCode::from(2));
    };
    let mut problems = Vec::new();
    for a in wanted {
        let Some(sha256) = a.sha256.as_deref() else {
            continue;
        };
        if cache.cached(sha256).is_some() {
            continue;
        }
        let problem = if offline {
            Diagnostic::new(
                Code::NotCached,
                format!(
                    "artifact `{}` is not in the cache, and --offline forbids downloading it",
                    a.name
                ),
            )
            .label(a.url_span, "not downloaded yet")
            .help(format!(
                "run `netboot build` once without --offline, or put the file at {}",
                cache.path(sha256).display()
            ))
        } else {
            eprintln!("downloading {} from {}", a.name, a.url);
            match fetch(cache, &a.url, sha256, &a.name) {
                Ok(_) => continue,
                Err(e @ FetchError::Mismatch { .. }) => Diagnostic::new(
                    Code::Sha256Mismatch,
                    format!(
                        "artifact `{}` downloaded, but it is not the file the fleet names",
                        a.name
                    ),
                )
                .label(a.url_span, "downloaded from here")
                .help(format!(
                    "{e}; nothing was kept. If the file changed upstream on purpose, update sha256"
                )),
                Err(e) => Diagnostic::new(
                    Code::DownloadFailed,
                    format!("cannot download artifact `{}`", a.name),
                )
                .label(a.url_span, "from here")
                .help(format!("{e}; `--offline` builds from the cache only")),
            }
        };
        problems.push(problem.in_source(&found.source));
    }
    if problems.is_empty() {
        return Ok(());
    }
    for p in &problems {
        eprint!("{}", p.render());
    }
    eprintln!(
        "netboot build: {} artifact{} could not be fetched; nothing was written",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    Err(ExitCode::from(1))
}
