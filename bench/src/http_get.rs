//! A minimal HTTP/1.1 GET client that hashes the body as it arrives.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::expected::Expected;

/// A finished download.
#[derive(Debug)]
pub struct Outcome {
    pub status: u16,
    pub bytes: u64,
    /// What was wrong with the body, when it was checked against an [`Expected`].
    pub wrong: Option<String>,
}

/// The parts of a response head the client needs.
#[derive(Debug, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    pub content_length: Option<u64>,
    pub chunked: bool,
}

/// Parses a response head (status line and headers, without the blank line).
pub fn parse_head(head: &[u8]) -> Result<Head, String> {
    let text = std::str::from_utf8(head).map_err(|_| "response head is not UTF-8".to_string())?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status = status_line
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.get(2..5))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut parsed = Head {
        status,
        content_length: None,
        chunked: false,
    };
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            parsed.content_length = Some(
                value
                    .parse()
                    .map_err(|_| format!("bad Content-Length {value:?}"))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding")
            && value.eq_ignore_ascii_case("chunked")
        {
            parsed.chunked = true;
        }
    }
    Ok(parsed)
}

/// GETs `path` from `server` on a fresh connection and reads the whole body, checking it
/// against `expected`.
pub fn fetch(server: SocketAddr, path: &str, expected: &Expected) -> Result<Outcome, String> {
    let timeout = Duration::from_secs(30);
    fetch_with(server, path, 256 << 10, timeout, Body::Check(expected))
}

/// What to do with a body as it arrives.
pub enum Body<'a> {
    /// Check it against the file it should be.
    Check(&'a Expected),
    /// Keep it (scripts, not kernels: at most [`KEEP_MAX`] bytes).
    Keep(&'a mut Vec<u8>),
}

/// The most of a body [`fetch_with`] keeps: scripts, not kernels.
pub const KEEP_MAX: usize = 1 << 20;

/// [`fetch`] with a read buffer of `buffer` bytes (a boot storm runs hundreds at once), a
/// `timeout` for connecting and for each read, and the body checked or kept.
pub fn fetch_with(
    server: SocketAddr,
    path: &str,
    buffer: usize,
    timeout: Duration,
    mut body: Body<'_>,
) -> Result<Outcome, String> {
    let mut stream =
        TcpStream::connect_timeout(&server, timeout).map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let request = format!("GET /{path} HTTP/1.1\r\nHost: {server}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("send: {e}"))?;

    let mut buf = vec![0u8; buffer.max(4096)];
    let mut filled = 0;
    let head_end = loop {
        if let Some(pos) = buf[..filled].windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        if filled == buf.len() {
            return Err(format!("response head larger than {} bytes", buf.len()));
        }
        let n = stream
            .read(&mut buf[filled..])
            .map_err(|e| format!("read head: {e}"))?;
        if n == 0 {
            return Err("connection closed before the response head ended".into());
        }
        filled += n;
    };
    let head = parse_head(&buf[..head_end])?;
    if head.chunked {
        return Err("chunked responses are not expected for static files".into());
    }
    let mut checker = match &body {
        Body::Check(expected) => Some(expected.checker()),
        Body::Keep(_) => None,
    };
    let mut take = |chunk: &[u8]| -> Result<(), String> {
        match (&mut checker, &mut body) {
            (Some(checker), _) => checker.update(chunk),
            (None, Body::Keep(kept)) => {
                if kept.len() + chunk.len() > KEEP_MAX {
                    return Err(format!("body larger than {KEEP_MAX} bytes"));
                }
                kept.extend_from_slice(chunk);
            }
            (None, Body::Check(_)) => {}
        }
        Ok(())
    };
    let first = &buf[head_end + 4..filled];
    take(first)?;
    let mut bytes = first.len() as u64;
    loop {
        if head.content_length.is_some_and(|len| bytes >= len) {
            break;
        }
        let n = stream
            .read(&mut buf)
            .map_err(|e| format!("read body after {bytes} bytes: {e}"))?;
        if n == 0 {
            break;
        }
        take(&buf[..n])?;
        bytes += n as u64;
    }
    if let Some(len) = head.content_length {
        if bytes != len {
            return Err(format!("body has {bytes} bytes, Content-Length said {len}"));
        }
    }
    Ok(Outcome {
        status: head.status,
        bytes,
        wrong: checker.and_then(|c| c.finish().err()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_and_length() {
        let head = parse_head(b"HTTP/1.1 200 OK\r\nServer: x\r\ncontent-length: 42").unwrap();
        assert_eq!(
            head,
            Head {
                status: 200,
                content_length: Some(42),
                chunked: false
            }
        );
        let head = parse_head(b"HTTP/1.0 404 Not Found\r\nTransfer-Encoding: chunked").unwrap();
        assert_eq!(head.status, 404);
        assert!(head.chunked);
    }

    #[test]
    fn rejects_garbage_heads() {
        assert!(parse_head(b"SSH-2.0-OpenSSH").is_err());
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: lots").is_err());
    }
}
