//! sha256 as the manifest spells it (lowercase hex), shared so compiler and runtime hash alike.

use std::io::{self, Write};

use sha2::{Digest, Sha256};

/// Lowercase hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Hashes whatever is written through it, for streaming a large artifact without holding it.
#[derive(Default)]
pub struct Sha256Writer {
    hasher: Sha256,
    len: u64,
}

impl Sha256Writer {
    /// Bytes written so far and their lowercase hex sha256.
    pub fn finish(self) -> (u64, String) {
        (self.len, hex::encode(self.hasher.finalize()))
    }
}

impl Write for Sha256Writer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.hasher.update(buf);
        self.len += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streaming_and_one_shot_agree() {
        let data = b"netboot";
        let mut w = Sha256Writer::default();
        w.write_all(&data[..3]).unwrap();
        w.write_all(&data[3..]).unwrap();
        let (len, hex) = w.finish();
        assert_eq!(len, 7);
        assert_eq!(hex, sha256_hex(data));
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
