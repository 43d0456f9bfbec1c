//! The bytes of one served file, readable at any offset without shared cursor state, so any
//! number of TFTP and HTTP transfers can read one file at once.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::SystemTime;

/// A file as a snapshot serves it. Cloning is cheap; a clone keeps the bytes it was made from
/// alive even after the snapshot that produced it has been replaced.
#[derive(Debug, Clone)]
pub enum Body {
    /// Generated scripts and menus, held in memory.
    Memory(Arc<[u8]>),
    /// An artifact on disk. The descriptor was opened (and its content verified) when the
    /// snapshot was built, so a file renamed over it later does not change what this serves.
    /// `modified` is the mtime at that moment: a write *into* this very file (not a rename
    /// over it) changes the bytes behind the descriptor, and the mtime is how we notice.
    /// The ctime would also catch a writer that puts the mtime back (`touch -r`), but it
    /// changes too when the file is renamed or unlinked, which is how a rename over it (the
    /// save this design keeps serving through) retires the old file: checking it would cut
    /// those transfers for nothing.
    File {
        file: Arc<File>,
        len: u64,
        modified: Option<SystemTime>,
    },
}

impl Body {
    pub fn len(&self) -> u64 {
        match self {
            Body::Memory(b) => b.len() as u64,
            Body::File { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Why the bytes behind this body may no longer be the ones that were verified, if they
    /// may not: the open file was written to, truncated or extended since.
    pub fn changed_since_open(&self) -> Option<String> {
        let Body::File {
            file,
            len,
            modified,
        } = self
        else {
            return None;
        };
        let meta = match file.metadata() {
            Ok(meta) => meta,
            Err(e) => return Some(format!("cannot stat the open file: {e}")),
        };
        if meta.len() != *len {
            return Some(format!(
                "the file was rewritten in place: {} bytes now, {len} when verified",
                meta.len()
            ));
        }
        if meta.modified().ok() != *modified {
            return Some("the file was rewritten in place since it was verified".into());
        }
        None
    }

    /// Fills as much of `buf` as the file has from `offset`; returns the count, 0 at the end.
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let len = self.len();
        if offset >= len {
            return Ok(0);
        }
        let want = buf.len().min((len - offset) as usize);
        match self {
            Body::Memory(b) => {
                let start = offset as usize;
                buf[..want].copy_from_slice(&b[start..start + want]);
                Ok(want)
            }
            Body::File { file, .. } => {
                let mut done = 0;
                while done < want {
                    match file.read_at(&mut buf[done..want], offset + done as u64) {
                        Ok(0) => {
                            return Err(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                "artifact shrank while being served",
                            ))
                        }
                        Ok(n) => done += n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(done)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn memory_and_file_read_the_same_windows() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let mut tmp = tempfile::NamedTempFile::new().unwrap();
        tmp.write_all(&data).unwrap();
        let bodies = [
            Body::Memory(data.clone().into()),
            Body::File {
                file: Arc::new(tmp.reopen().unwrap()),
                len: 1000,
                modified: None,
            },
        ];
        for body in &bodies {
            let mut buf = [0u8; 512];
            assert_eq!(body.read_at(0, &mut buf).unwrap(), 512);
            assert_eq!(&buf[..], &data[..512]);
            assert_eq!(body.read_at(512, &mut buf).unwrap(), 488);
            assert_eq!(&buf[..488], &data[512..]);
            assert_eq!(body.read_at(1000, &mut buf).unwrap(), 0);
            assert_eq!(body.read_at(5000, &mut buf).unwrap(), 0);
        }
    }
}
