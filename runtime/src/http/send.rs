//! Writing a response to a non-blocking socket without waiting forever on a client that
//! stopped reading: every write must make progress within the stall timeout.
//!
//! Artifacts go from the open descriptor straight to the socket with sendfile(2), so their
//! bytes are never copied through user space; where the kernel refuses sendfile for a file
//! (some filesystems) the fallback is pread + write. Both read at explicit offsets, so one
//! descriptor serves any number of downloads at once. A file not in the page cache makes
//! sendfile block this worker thread on the disk, as it does nginx without aio; boot artifacts
//! are few and hot, so that is accepted.
//!
//! Reading at offsets from the verified descriptor does not protect against a write *into* that
//! file (`dd conv=notrunc`): the client would get old bytes, then new ones, under the old ETag
//! and Content-Length. So a transfer stops at [`Checkpoints`] to ask whether its source changed,
//! and fails before its last bytes leave if it did: the client sees a short body, not a
//! corrupt one.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;

use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// The fallback's copy buffer.
const CHUNK: usize = 256 * 1024;
/// Largest count asked of one sendfile call. On a non-blocking socket sendfile returns once
/// the socket buffer is full, so a large count only saves calls and never holds the thread.
const SENDFILE_MAX: u64 = 1 << 30;
/// How often a transfer asks whether its source changed: an fstat per this many bytes.
const CHECK_EVERY: u64 = 4 << 20;
/// Every call that sends any of the last this many bytes is preceded by a check, so a change
/// made before the end is caught before the end leaves. Small, so that it is one or two calls.
const TAIL: u64 = 64 * 1024;

/// Why the bytes behind an open artifact may differ from the verified ones, if they may (see
/// [`Body::changed_since_open`](crate::body::Body::changed_since_open)).
pub type Changed<'a> = &'a (dyn Fn() -> Option<String> + Sync);

/// A transfer cut off because its source file changed under it; carried inside the
/// `io::Error` so the connection can log it as what it is.
#[derive(Debug, thiserror::Error)]
#[error("artifact changed during the transfer: {0}")]
pub struct SourceChanged(pub String);

/// Where a transfer of `offset..end` stops to check its source: every [`CHECK_EVERY`] bytes,
/// and before every call within the last [`TAIL`] bytes. No call crosses a checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Checkpoints {
    next: u64,
    tail: u64,
    end: u64,
}

impl Checkpoints {
    fn new(offset: u64, end: u64) -> Checkpoints {
        let tail = end.saturating_sub(TAIL).max(offset);
        Checkpoints {
            next: offset.saturating_add(CHECK_EVERY).min(tail),
            tail,
            end,
        }
    }

    /// Whether to check before sending from `pos`; moves the next checkpoint on if so.
    fn due(&mut self, pos: u64) -> bool {
        if pos >= self.tail {
            return true;
        }
        if pos >= self.next {
            self.next = pos.saturating_add(CHECK_EVERY).min(self.tail);
            return true;
        }
        false
    }

    /// The most one call may send from `pos` (after [`Checkpoints::due`]) without passing
    /// the next checkpoint.
    fn room(&self, pos: u64) -> u64 {
        let stop = if pos >= self.tail {
            self.end
        } else {
            self.next
        };
        stop.saturating_sub(pos)
    }

    /// [`Checkpoints::due`], then the check itself.
    fn check(&mut self, pos: u64, changed: Changed<'_>) -> io::Result<()> {
        match self.due(pos).then(changed).flatten() {
            Some(why) => Err(io::Error::other(SourceChanged(why))),
            None => Ok(()),
        }
    }
}

fn stalled(stall: Duration) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("client read nothing for {} s", stall.as_secs()),
    )
}

/// Writes all of `buf`, each write allowed `stall` to make progress.
pub async fn write_all(stream: &mut TcpStream, mut buf: &[u8], stall: Duration) -> io::Result<()> {
    while !buf.is_empty() {
        let n = timeout(stall, stream.write(buf))
            .await
            .map_err(|_| stalled(stall))??;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        buf = &buf[n..];
    }
    Ok(())
}

/// Writes a response head that a file body follows: with MSG_MORE, so the head and the first
/// file bytes leave in one segment although they come from two system calls.
pub async fn write_head_more(
    stream: &TcpStream,
    mut head: &[u8],
    stall: Duration,
) -> io::Result<()> {
    while !head.is_empty() {
        timeout(stall, stream.writable())
            .await
            .map_err(|_| stalled(stall))??;
        let sent = stream.try_io(Interest::WRITABLE, || {
            // SAFETY: the pointer and length describe `head`, which outlives the call.
            let n = unsafe {
                libc::send(
                    stream.as_raw_fd(),
                    head.as_ptr().cast(),
                    head.len(),
                    libc::MSG_MORE | libc::MSG_NOSIGNAL,
                )
            };
            if n < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(n as usize)
            }
        });
        match sent {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => head = &head[n..],
            Err(e) if retry(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Sends `len` bytes of `file` from `offset`, counting them into `sent` as they go (so a
/// failure still reports how far it got). Fails with [`SourceChanged`] once `changed` says
/// the file was written to, at the latest before the last bytes are sent.
pub async fn send_file(
    stream: &mut TcpStream,
    file: &File,
    offset: u64,
    len: u64,
    stall: Duration,
    sent: &mut u64,
    changed: Changed<'_>,
) -> io::Result<()> {
    let end = offset + len;
    let mut pos = offset;
    let mut checkpoints = Checkpoints::new(offset, end);
    while pos < end {
        timeout(stall, stream.writable())
            .await
            .map_err(|_| stalled(stall))??;
        // After the wait: the check covers everything written to the file until this call.
        checkpoints.check(pos, changed)?;
        let want = checkpoints.room(pos).min(SENDFILE_MAX) as usize;
        let result = stream.try_io(Interest::WRITABLE, || sendfile(stream, file, pos, want));
        match result {
            Ok(0) => return Err(shrank()),
            Ok(n) => {
                pos += n as u64;
                *sent += n as u64;
            }
            Err(e) if retry(&e) => {}
            Err(e) if sendfile_refused(&e) => {
                tracing::debug!(target: "netboot::http", error = %e, "sendfile refused, copying instead");
                return copy_file(stream, file, pos, end, stall, sent, changed).await;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn sendfile(stream: &TcpStream, file: &File, pos: u64, want: usize) -> io::Result<usize> {
    let mut off =
        libc::off_t::try_from(pos).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: both descriptors are open for the duration of the call; `off` is a valid
    // pointer, and passing it leaves the file's own offset alone (shared by other downloads).
    let n = unsafe { libc::sendfile(stream.as_raw_fd(), file.as_raw_fd(), &mut off, want) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

async fn copy_file(
    stream: &mut TcpStream,
    file: &File,
    mut pos: u64,
    end: u64,
    stall: Duration,
    sent: &mut u64,
    changed: Changed<'_>,
) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; CHUNK.min((end - pos) as usize)];
    let mut checkpoints = Checkpoints::new(pos, end);
    while pos < end {
        let due = checkpoints.due(pos);
        let want = buf.len().min(checkpoints.room(pos) as usize);
        let n = loop {
            match file.read_at(&mut buf[..want], pos) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => break other?,
            }
        };
        if n == 0 {
            return Err(shrank());
        }
        // After the read: a write that landed in these bytes before it is caught here.
        if let Some(why) = due.then(changed).flatten() {
            return Err(io::Error::other(SourceChanged(why)));
        }
        write_all(stream, &buf[..n], stall).await?;
        pos += n as u64;
        *sent += n as u64;
    }
    Ok(())
}

fn retry(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

/// Errors with which sendfile says "not for this kind of file", as opposed to a broken
/// connection.
fn sendfile_refused(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EINVAL) | Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP)
    )
}

fn shrank() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "artifact shrank while being served",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use tokio::io::AsyncReadExt;
    use tokio::net::TcpListener;

    /// Both kernel paths deliver the same bytes at an offset: sendfile, and the pread + write
    /// copy used where sendfile is refused.
    #[tokio::test]
    async fn sendfile_and_copy_send_the_same_window() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut tmp = tempfile::NamedTempFile::new().unwrap();
        tmp.write_all(&data).unwrap();
        let file = tmp.reopen().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stall = Duration::from_secs(10);
        for copy in [false, true] {
            let mut client = TcpStream::connect(addr).await.unwrap();
            let (mut server, _) = listener.accept().await.unwrap();
            let reader = tokio::spawn(async move {
                let mut got = Vec::new();
                client.read_to_end(&mut got).await.unwrap();
                got
            });
            let (start, end) = (12_345u64, 2_900_000u64);
            let mut sent = 0;
            if copy {
                copy_file(&mut server, &file, start, end, stall, &mut sent, &|| None).await
            } else {
                let len = end - start;
                send_file(&mut server, &file, start, len, stall, &mut sent, &|| None).await
            }
            .unwrap();
            assert_eq!(sent, end - start);
            drop(server);
            let got = reader.await.unwrap();
            assert!(got == data[start as usize..end as usize], "copy={copy}");
        }
    }

    #[test]
    fn checkpoints_every_few_mib_and_before_each_call_in_the_tail() {
        let end = 10 * CHECK_EVERY + 5;
        let mut c = Checkpoints::new(0, end);
        // Not at the start, then once per CHECK_EVERY, and no call runs past a checkpoint.
        assert!(!c.due(0));
        assert_eq!(c.room(0), CHECK_EVERY);
        assert!(!c.due(CHECK_EVERY - 1));
        assert!(c.due(CHECK_EVERY + 7));
        assert!(!c.due(CHECK_EVERY + 8));
        assert_eq!(c.room(CHECK_EVERY + 8), CHECK_EVERY - 1);
        // The tail begins a checkpoint of its own, and every call in it is checked.
        let tail = end - TAIL;
        assert!(c.due(tail - 1));
        assert_eq!(c.room(tail - 1), 1);
        assert!(c.due(tail) && c.due(tail) && c.due(end - 1));
        assert_eq!(c.room(tail), TAIL);
        // A body shorter than the tail is checked before each of its calls, from the start.
        let mut small = Checkpoints::new(100, 200);
        assert!(small.due(100));
        assert_eq!(small.room(100), 100);
    }

    /// A source that reports a change makes both paths stop before the last byte, with the
    /// reason, after sending no more than up to the next checkpoint.
    #[tokio::test]
    async fn a_changed_source_fails_the_transfer_before_its_end() {
        let data = vec![7u8; (CHECK_EVERY + TAIL + 1000) as usize];
        let mut tmp = tempfile::NamedTempFile::new().unwrap();
        tmp.write_all(&data).unwrap();
        let file = tmp.reopen().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let stall = Duration::from_secs(10);
        let len = data.len() as u64;
        for copy in [false, true] {
            let mut client = TcpStream::connect(listener.local_addr().unwrap())
                .await
                .unwrap();
            let (mut server, _) = listener.accept().await.unwrap();
            let reader = tokio::spawn(async move {
                let mut got = Vec::new();
                let _ = client.read_to_end(&mut got).await;
                got.len()
            });
            let changed = || Some("rewritten".to_string());
            let mut sent = 0;
            let err = if copy {
                copy_file(&mut server, &file, 0, len, stall, &mut sent, &changed).await
            } else {
                send_file(&mut server, &file, 0, len, stall, &mut sent, &changed).await
            }
            .unwrap_err();
            let why = err
                .get_ref()
                .and_then(|e| e.downcast_ref::<SourceChanged>());
            assert_eq!(why.map(|w| w.0.as_str()), Some("rewritten"), "copy={copy}");
            assert_eq!(sent, CHECK_EVERY, "copy={copy}");
            drop(server);
            assert_eq!(reader.await.unwrap() as u64, CHECK_EVERY);
        }
    }

    #[tokio::test]
    async fn a_file_shorter_than_announced_is_an_error() {
        let mut tmp = tempfile::NamedTempFile::new().unwrap();
        tmp.write_all(b"short").unwrap();
        let file = tmp.reopen().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        let stall = Duration::from_secs(10);
        let mut sent = 0;
        let err = send_file(&mut server, &file, 0, 100, stall, &mut sent, &|| None)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(sent, 5);
        let mut sent = 0;
        let err = copy_file(&mut server, &file, 0, 100, stall, &mut sent, &|| None)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
