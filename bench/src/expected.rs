//! What a download must be: its size and sha256, and when the bench has the file itself, its
//! bytes. With the bytes, every download is compared with them as it arrives (a memcmp, many
//! times cheaper than hashing it again), so hundreds of verifying clients leave the two cores
//! to the servers they measure; the file was checked against the sha256 when it was loaded.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};

#[derive(Clone, Debug)]
pub struct Expected {
    pub size: u64,
    pub sha256: [u8; 32],
    bytes: Option<Arc<[u8]>>,
}

impl Expected {
    pub fn new(size: u64, sha256: [u8; 32]) -> Expected {
        Expected {
            size,
            sha256,
            bytes: None,
        }
    }

    /// Reads `path`, which must have this size and sha256, to compare downloads with.
    pub fn with_file(self, path: &Path) -> Result<Expected, String> {
        let bytes = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let sha: [u8; 32] = Sha256::digest(&bytes).into();
        if bytes.len() as u64 != self.size || sha != self.sha256 {
            return Err(format!(
                "{} has {} bytes with sha256 {}, expected {} bytes with {}",
                path.display(),
                bytes.len(),
                hex::encode(sha),
                self.size,
                hex::encode(self.sha256)
            ));
        }
        Ok(Expected {
            bytes: Some(bytes.into()),
            ..self
        })
    }

    /// A checker for one download.
    pub fn checker(&self) -> Checker<'_> {
        Checker {
            expected: self,
            hasher: self.bytes.is_none().then(Sha256::new),
            pos: 0,
            first_difference: None,
        }
    }
}

/// Checks one download chunk by chunk.
pub struct Checker<'a> {
    expected: &'a Expected,
    /// Without the file's bytes, the download is hashed.
    hasher: Option<Sha256>,
    pos: u64,
    first_difference: Option<u64>,
}

impl Checker<'_> {
    pub fn update(&mut self, chunk: &[u8]) {
        match (&mut self.hasher, &self.expected.bytes) {
            (Some(hasher), _) => hasher.update(chunk),
            (None, Some(bytes)) if self.first_difference.is_none() => {
                let start = self.pos as usize;
                let same = bytes
                    .get(start..start + chunk.len())
                    .is_some_and(|want| want == chunk);
                if !same {
                    self.first_difference = Some(self.pos);
                }
            }
            (None, _) => {}
        }
        self.pos += chunk.len() as u64;
    }

    /// `Ok` when the download was exactly the expected file; else what was wrong.
    pub fn finish(self) -> Result<(), String> {
        let want = self.expected;
        if self.pos != want.size {
            return Err(format!("got {} bytes, expected {}", self.pos, want.size));
        }
        if let Some(hasher) = self.hasher {
            let sha: [u8; 32] = hasher.finalize().into();
            if sha != want.sha256 {
                return Err(format!(
                    "sha256 {}, expected {}",
                    hex::encode(sha),
                    hex::encode(want.sha256)
                ));
            }
        }
        match self.first_difference {
            Some(at) => Err(format!("the bytes differ from the file's at offset {at}")),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(bytes: &[u8]) -> (tempfile::NamedTempFile, Expected) {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, bytes).unwrap();
        let sha: [u8; 32] = Sha256::digest(bytes).into();
        (f, Expected::new(bytes.len() as u64, sha))
    }

    fn check(expected: &Expected, chunks: &[&[u8]]) -> Result<(), String> {
        let mut c = expected.checker();
        for chunk in chunks {
            c.update(chunk);
        }
        c.finish()
    }

    #[test]
    fn compares_with_the_file_or_hashes_without_it() {
        let (f, hashed) = file(b"hello world");
        let compared = hashed.clone().with_file(f.path()).unwrap();
        for e in [&hashed, &compared] {
            assert_eq!(check(e, &[b"hello", b" world"]), Ok(()));
            assert!(check(e, &[b"hello", b" wOrld"]).is_err());
            assert!(check(e, &[b"hello"]).unwrap_err().contains("5 bytes"));
            assert!(check(e, &[b"hello world!"]).is_err());
        }
        let diff = check(&compared, &[b"hello", b" wOrld"]).unwrap_err();
        assert!(diff.contains("offset 5"), "{diff}");
    }

    #[test]
    fn a_file_that_is_not_the_expected_one_is_refused() {
        let (f, mut e) = file(b"abc");
        e.sha256[0] ^= 1;
        assert!(e.with_file(f.path()).unwrap_err().contains("sha256"));
    }
}
