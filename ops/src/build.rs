//! `netboot build`: download `url=` artifacts into the cache, compile the fleet and write the
//! output directory atomically.

mod download;

use std::path::{Path, PathBuf};

use netboot_compiler::{
    compile_with, url_artifacts, write_bundle, write_output, ArtifactCache, Code, Diagnostic,
    Failure, ServerOverrides,
};

use crate::console::Console;
use download::{fetch, spinner, FetchError};

/// What to build, and how `url=` artifacts are fetched.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The fleet description.
    pub fleet: PathBuf,
    /// Output directory; `None`: `build/` next to the fleet file ([`default_output`]).
    pub output: Option<PathBuf>,
    /// Write `output` as a bundle: a self-contained static tree with the artifacts inside it
    /// by content (`sha256/<hex>`), for an HTTP origin to serve as it is.
    pub bundle: bool,
    pub overrides: ServerOverrides,
    /// Artifact cache for `url=` artifacts; `None`: the default one.
    pub cache: Option<PathBuf>,
    /// Download nothing: every `url=` artifact must already be in the cache.
    pub offline: bool,
    /// Download nothing, and let machines fetch uncached `url=` artifacts from their URLs.
    pub no_download: bool,
}

/// What a successful build wrote.
#[derive(Debug, Clone)]
pub struct Built {
    pub output: PathBuf,
    pub hosts: usize,
    pub routes: usize,
    pub generated: usize,
}

/// Why a build wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The fleet could not be read, or has errors (all of them, rendered).
    #[error("{0}")]
    Compile(Failure),
    #[error("netboot build: the fleet has url= artifacts but no cache directory: set XDG_CACHE_HOME or HOME, or pass --cache DIR")]
    NoCache,
    /// Artifacts could not be fetched; their diagnostics went to the console.
    #[error("netboot build: {count} artifact{} could not be fetched; nothing was written", if *.count == 1 { "" } else { "s" })]
    Fetch { count: usize },
    #[error("netboot build: cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// `build/` beside the fleet file.
pub fn default_output(fleet: &Path) -> PathBuf {
    match fleet.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join("build"),
        _ => PathBuf::from("build"),
    }
}

/// Fetches what the fleet names by URL, compiles it and writes the output directory.
/// Downloads and warnings are reported on `console` as they happen.
pub fn build(options: &BuildOptions, console: &mut Console) -> Result<Built, BuildError> {
    let cache = ArtifactCache::chosen(options.cache.as_deref());
    if !options.no_download {
        fetch_all(&options.fleet, cache.as_ref(), options.offline, console)?;
    }
    let spinner = spinner("compiling");
    let compiled = compile_with(
        &options.fleet,
        &options.overrides,
        cache.as_ref().map(ArtifactCache::root),
    );
    spinner.finish_and_clear();
    let compiled = compiled.map_err(BuildError::Compile)?;
    for w in &compiled.warnings {
        console.err(&w.render());
    }
    let out = options
        .output
        .clone()
        .unwrap_or_else(|| default_output(&options.fleet));
    let write = if options.bundle {
        write_bundle
    } else {
        write_output
    };
    write(&compiled, &options.fleet, &out).map_err(|source| BuildError::Write {
        path: out.clone(),
        source,
    })?;
    Ok(Built {
        output: out,
        hosts: compiled.manifest.hosts.len(),
        routes: compiled.manifest.files.len(),
        generated: compiled.generated.len(),
    })
}

/// Brings every downloadable `url=` artifact into the cache, reporting all that fail at once,
/// each pointing at its line in the fleet.
fn fetch_all(
    fleet: &Path,
    cache: Option<&ArtifactCache>,
    offline: bool,
    console: &mut Console,
) -> Result<(), BuildError> {
    let found = match url_artifacts(fleet) {
        Ok(found) => found,
        Err(failure) => {
            // The compile that follows reports the same problems with everything else.
            if failure.is_io() {
                return Err(BuildError::Compile(failure));
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
        return Err(BuildError::NoCache);
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
            console.err(&format!("downloading {} from {}\n", a.name, a.url));
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
        console.err(&p.render());
    }
    Err(BuildError::Fetch {
        count: problems.len(),
    })
}
