//! Artifacts by URL.
//!
//! `netboot build` downloads every `http://` or `https://` artifact into a content-addressed
//! cache ([`ArtifactCache`], verified against the fleet's sha256) before compiling. A
//! compile that is given the cache then treats each cached URL artifact as a local file:
//! hashed again, served at `artifacts/<name>` over HTTP and TFTP, and fetched by the scripts
//! from this server, so machines need no internet access. A URL artifact that is not cached
//! (or not http/https, like `tftp://`) is still booted from its URL directly.
//!
//! The download itself lives in `netboot build`: the compiler does no network I/O.

use std::path::Path;
use std::sync::Arc;

use crate::artifact_cache::ArtifactCache;
use crate::decode;
use crate::diagnostic::{Diagnostics, Failure, SourceFile, Span};
use crate::fleet::{Fleet, Location, Spanned};

/// One artifact the fleet names by URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlArtifact {
    pub name: String,
    pub url: String,
    /// Lowercase hex; `None` is an error the compile reports (`fleet::url-without-sha256`).
    pub sha256: Option<String>,
    /// The `url=` value, for diagnostics about the download.
    pub url_span: Span,
}

impl UrlArtifact {
    /// Whether `netboot build` can fetch it into the cache (http and https only).
    pub fn downloadable(&self) -> bool {
        downloadable(&self.url)
    }
}

/// The fleet's URL artifacts and its source, for labelling download problems.
#[derive(Debug, Clone)]
pub struct UrlArtifacts {
    pub source: Arc<SourceFile>,
    pub artifacts: Vec<UrlArtifact>,
}

fn downloadable(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// Reads the fleet at `path` just far enough to list its URL artifacts.
pub fn url_artifacts(path: &Path) -> Result<UrlArtifacts, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| Failure::io(path, &e))?;
    let source = SourceFile::new(path, text);
    let mut diags = Diagnostics::default();
    let Some(fleet) = decode::decode(&source, &mut diags) else {
        return Err(Failure::new(diags.into_sorted()));
    };
    if diags.has_errors() {
        return Err(Failure::new(diags.into_sorted()));
    }
    let artifacts = fleet
        .artifacts
        .iter()
        .filter_map(|a| match &a.location {
            Location::Url(u) => Some(UrlArtifact {
                name: a.name.value.clone(),
                url: u.value.clone(),
                sha256: a.sha256.as_ref().map(|s| s.value.clone()),
                url_span: u.span,
            }),
            Location::Path(_) => None,
        })
        .collect();
    Ok(UrlArtifacts { source, artifacts })
}

/// Turns every URL artifact whose bytes are in `cache` into a local one. The span stays the
/// `url=` value's, so a damaged cache file is reported at the artifact's line.
pub(crate) fn localize(fleet: &mut Fleet, cache: &Path) {
    let cache = ArtifactCache::new(cache.to_path_buf());
    for a in &mut fleet.artifacts {
        let (Location::Url(u), Some(sha)) = (&a.location, &a.sha256) else {
            continue;
        };
        if !downloadable(&u.value) {
            continue;
        }
        if let Some(path) = cache.cached(&sha.value) {
            a.location = Location::Path(Spanned::new(path.to_string_lossy().into_owned(), u.span));
            a.downloaded = true;
        }
    }
}
