//! The content-addressed half of a bundle (`netboot build --bundle DIR`): every artifact and
//! loader a manifest serves, copied once per distinct content to `DIR/sha256/<hex>`.
//!
//! Content addresses let any HTTP server, cache or object store hold the bytes: a URL never
//! changes meaning, so it can be cached forever, and two fleets (or two builds) that boot the
//! same kernel share one object. The layout is that of the download cache
//! ([`crate::ArtifactCache`]), so one tree can serve as both.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use netboot_manifest::{Manifest, Sha256Writer, Source};

/// The directory of a bundle that holds the artifacts.
pub const CONTENT_DIR: &str = "sha256";

/// Where a bundle keeps the bytes whose sha256 is `hex`, relative to its root.
pub fn content_path(hex: &str) -> String {
    format!("{CONTENT_DIR}/{hex}")
}

/// Whether `path` (relative to a bundle's root) is a content path: `sha256/` and 64
/// lowercase hex digits.
pub fn is_content_path(path: &Path) -> bool {
    let Ok(rest) = path.strip_prefix(CONTENT_DIR) else {
        return false;
    };
    let hex = rest.to_string_lossy();
    hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Copies every artifact `manifest` serves (sources relative to `fleet_dir`, the compile's
/// artifact root) into `dir/sha256/<hex>`, hashing as it copies: a file that changed since the
/// compile hashed it is refused, never bundled under a name its bytes do not have.
pub fn copy_artifacts(manifest: &Manifest, fleet_dir: &Path, dir: &Path) -> io::Result<()> {
    let mut wanted: BTreeMap<&str, PathBuf> = BTreeMap::new();
    for entry in manifest.files.values() {
        if let Source::Artifact { path } = &entry.source {
            wanted
                .entry(&entry.sha256)
                .or_insert_with(|| fleet_dir.join(path));
        }
    }
    if wanted.is_empty() {
        return Ok(());
    }
    fs::create_dir(dir.join(CONTENT_DIR))?;
    for (hex, source) in wanted {
        copy_verified(&source, &dir.join(content_path(hex)), hex)?;
    }
    Ok(())
}

/// Copies `from` to `to`, failing if the bytes copied do not hash to `hex`.
fn copy_verified(from: &Path, to: &Path, hex: &str) -> io::Result<()> {
    let mut input = File::open(from)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", from.display())))?;
    let mut output = Tee {
        file: File::create(to)?,
        hash: Sha256Writer::default(),
    };
    io::copy(&mut input, &mut output)?;
    output.file.sync_all()?;
    let (_, got) = output.hash.finish();
    if got != hex {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} changed while it was being bundled (sha256 {got}, the build hashed {hex}); build again",
                from.display()
            ),
        ));
    }
    Ok(())
}

/// Writes to a file and hashes what it wrote.
struct Tee {
    file: File,
    hash: Sha256Writer,
}

impl Write for Tee {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hash.write_all(&buf[..n])?;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_paths_are_sha256_and_64_hex_digits() {
        let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(content_path(hex), format!("sha256/{hex}"));
        assert!(is_content_path(Path::new(&content_path(hex))));
        assert!(!is_content_path(Path::new("sha256/abc")));
        assert!(!is_content_path(Path::new(&format!(
            "sha256/{}",
            hex.to_uppercase()
        ))));
        assert!(!is_content_path(Path::new(&format!("artifacts/{hex}"))));
        assert!(!is_content_path(Path::new(&format!("sha256/x/{hex}"))));
    }

    #[test]
    fn a_file_that_changed_since_it_was_hashed_is_not_bundled() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("k");
        fs::write(&from, b"now").unwrap();
        let to = dir.path().join("copy");
        let then = netboot_manifest::sha256_hex(b"then");
        let err = copy_verified(&from, &to, &then).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        let now = netboot_manifest::sha256_hex(b"now");
        copy_verified(&from, &to, &now).unwrap();
        assert_eq!(fs::read(&to).unwrap(), b"now");
    }
}
