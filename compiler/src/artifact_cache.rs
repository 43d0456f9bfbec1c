//! The artifact cache's layout: where a `url=` artifact's bytes live once downloaded.
//!
//! `netboot build` downloads into it and the compiler reads from it, so the layout is written
//! here once: `<root>/sha256/<hex>` for verified files, and `<root>/tmp/` for downloads in
//! progress (beside the final place, so the rename that publishes a file never crosses file
//! systems). A file name under `sha256/` is a promise about its contents: only bytes whose
//! hash was checked are moved there. The download itself is not here: the compiler does no
//! network I/O.

use std::path::{Path, PathBuf};

/// A content-addressed cache of downloaded artifacts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactCache {
    root: PathBuf,
}

impl ArtifactCache {
    pub fn new(root: PathBuf) -> ArtifactCache {
        ArtifactCache { root }
    }

    /// The cache named on the command line, else the default one ([`ArtifactCache::default_root`]);
    /// `None` when neither is known.
    pub fn chosen(flag: Option<&Path>) -> Option<ArtifactCache> {
        flag.map(Path::to_path_buf)
            .or_else(ArtifactCache::default_root)
            .map(ArtifactCache::new)
    }

    /// `$XDG_CACHE_HOME/netboot`, else `$HOME/.cache/netboot`.
    pub fn default_root() -> Option<PathBuf> {
        let non_empty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        non_empty("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| non_empty("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .map(|base| base.join("netboot"))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the artifact with this (lowercase hex) sha256 is kept.
    pub fn path(&self, sha256: &str) -> PathBuf {
        self.root.join("sha256").join(sha256)
    }

    /// The cached file, if it was downloaded before.
    pub fn cached(&self, sha256: &str) -> Option<PathBuf> {
        let path = self.path(sha256);
        path.is_file().then_some(path)
    }

    /// Where downloads are written until their hash is checked.
    pub fn partial_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_live_under_their_hash() {
        let cache = ArtifactCache::new(PathBuf::from("/c"));
        assert_eq!(cache.path("ab12"), Path::new("/c/sha256/ab12"));
        assert_eq!(cache.partial_dir(), Path::new("/c/tmp"));
    }

    #[test]
    fn only_a_file_present_is_cached() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ArtifactCache::new(dir.path().to_path_buf());
        assert_eq!(cache.cached("ab12"), None);
        std::fs::create_dir_all(dir.path().join("sha256")).unwrap();
        std::fs::write(dir.path().join("sha256/ab12"), b"x").unwrap();
        assert_eq!(cache.cached("ab12"), Some(dir.path().join("sha256/ab12")));
    }
}
