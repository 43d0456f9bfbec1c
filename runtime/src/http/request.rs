//! Reading an HTTP/1.x request head: a pure function of the bytes received so far, bounded in
//! size and header count, so a hostile client costs at most [`MAX_HEAD`] bytes of memory and
//! every malformed head gets a definite status instead of a stalled or crashed connection.

/// Largest request head accepted (request line and headers); more is answered with 431.
/// Boot firmware sends a few hundred bytes; browsers stay well under this.
pub const MAX_HEAD: usize = 8 * 1024;
/// Most header fields accepted; more is answered with 431.
pub const MAX_HEADERS: usize = 64;

/// A complete request head, reduced to what the server acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    pub method: String,
    pub target: String,
    pub range: Option<String>,
    pub if_none_match: Option<String>,
    pub if_range: Option<String>,
    /// Shown on the status page; any bytes accepted (lossily), as it is never acted on.
    pub user_agent: Option<String>,
    /// The client wants the connection kept open after this response (HTTP/1.1 unless
    /// `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`). False also when the
    /// request announces a body: we never read one, so the connection cannot be reused.
    pub keep_alive: bool,
    /// The request announces a body (which is never read).
    pub has_body: bool,
    /// Bytes of the buffer the head took; anything after it belongs to the next request.
    pub head_len: usize,
}

/// What the bytes received so far amount to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// The head is not complete yet and still within bounds: read more.
    Partial,
    Complete(RequestHead),
}

/// Why a head was refused; each maps to the status the client is told before the connection
/// is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadError {
    /// Not an HTTP/1.x request head (400).
    Malformed(&'static str),
    /// Head longer than [`MAX_HEAD`] or more than [`MAX_HEADERS`] fields (431).
    TooLarge,
    /// A protocol version other than HTTP/1.0 or 1.1 (505).
    Version,
}

impl HeadError {
    pub fn status(self) -> u16 {
        match self {
            HeadError::Malformed(_) => 400,
            HeadError::TooLarge => 431,
            HeadError::Version => 505,
        }
    }

    pub fn reason(self) -> &'static str {
        match self {
            HeadError::Malformed(why) => why,
            HeadError::TooLarge => "request head too large",
            HeadError::Version => "only HTTP/1.0 and HTTP/1.1 are served",
        }
    }
}

/// Parses the head at the start of `buf`.
pub fn parse_head(buf: &[u8]) -> Result<Parsed, HeadError> {
    // Tolerate the stray CRLFs some clients send between requests (RFC 9112 §2.2).
    let skipped = buf
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    let rest = &buf[skipped..];
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(rest) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            if buf.len() >= MAX_HEAD {
                return Err(HeadError::TooLarge);
            }
            if looks_like_http2(rest) {
                return Err(HeadError::Version);
            }
            return Ok(Parsed::Partial);
        }
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooLarge),
        Err(httparse::Error::Version) => return Err(version_error(rest)),
        Err(_) => return Err(HeadError::Malformed("malformed request head")),
    };
    if skipped + head_len > MAX_HEAD {
        return Err(HeadError::TooLarge);
    }
    let method = req.method.unwrap_or_default();
    let target = req.path.unwrap_or_default();
    if method.is_empty() || target.is_empty() {
        return Err(HeadError::Malformed("malformed request line"));
    }
    let http11 = req.version == Some(1);

    let mut range = None;
    let mut if_none_match = None;
    let mut if_range = None;
    let mut user_agent = None;
    let mut connection_close = false;
    let mut connection_keep_alive = false;
    let mut has_body = false;
    let mut content_length: Option<&[u8]> = None;
    for h in req.headers.iter() {
        let name = h.name;
        let value = h.value;
        if name.eq_ignore_ascii_case("range") {
            range.get_or_insert(text(value)?);
        } else if name.eq_ignore_ascii_case("if-none-match") {
            if_none_match.get_or_insert(text(value)?);
        } else if name.eq_ignore_ascii_case("if-range") {
            if_range.get_or_insert(text(value)?);
        } else if name.eq_ignore_ascii_case("user-agent") {
            user_agent.get_or_insert_with(|| String::from_utf8_lossy(value).into_owned());
        } else if name.eq_ignore_ascii_case("connection") {
            for token in text(value)?.split(',') {
                let token = token.trim();
                connection_close |= token.eq_ignore_ascii_case("close");
                connection_keep_alive |= token.eq_ignore_ascii_case("keep-alive");
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            has_body = true;
        } else if name.eq_ignore_ascii_case("content-length") {
            // Differing lengths are the classic request-smuggling ambiguity (RFC 9112 §6.3).
            if content_length.is_some_and(|v| v != value) {
                return Err(HeadError::Malformed("conflicting Content-Length headers"));
            }
            content_length = Some(value);
        }
    }
    if let Some(value) = content_length {
        let value = std::str::from_utf8(value).unwrap_or_default().trim();
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(HeadError::Malformed("invalid Content-Length"));
        }
        has_body |= value.bytes().any(|b| b != b'0');
    }
    let keep_alive = !has_body && !connection_close && (http11 || connection_keep_alive);
    Ok(Parsed::Complete(RequestHead {
        method: method.to_owned(),
        target: target.to_owned(),
        range,
        if_none_match,
        if_range,
        user_agent,
        keep_alive,
        has_body,
        head_len: skipped + head_len,
    }))
}

/// Header values we act on are ASCII; anything else in them is refused rather than guessed at.
fn text(value: &[u8]) -> Result<String, HeadError> {
    match std::str::from_utf8(value) {
        Ok(s) if s.is_ascii() => Ok(s.to_owned()),
        _ => Err(HeadError::Malformed("non-ASCII header value")),
    }
}

/// httparse says "version" both for `HTTP/2.0` and for garbage where the version should be;
/// only a well-formed `HTTP/d.d` deserves 505.
fn version_error(rest: &[u8]) -> HeadError {
    let line = rest.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let parts: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    match parts[..] {
        [_, _, [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            HeadError::Version
        }
        _ => HeadError::Malformed("malformed request line"),
    }
}

/// The HTTP/2 connection preface (`PRI * HTTP/2.0`) stalls as Partial in httparse.
fn looks_like_http2(rest: &[u8]) -> bool {
    rest.starts_with(b"PRI * HTTP/2")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(buf: &[u8]) -> RequestHead {
        match parse_head(buf) {
            Ok(Parsed::Complete(head)) => head,
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(buf)),
        }
    }

    #[test]
    fn a_typical_ipxe_request() {
        let buf = b"GET /boot.ipxe?mac=52:54:00:00:00:11 HTTP/1.1\r\nConnection: keep-alive\r\n\
                    User-Agent: iPXE/1.21.1\r\nHost: 10.0.0.1:8080\r\n\r\n";
        let head = complete(buf);
        assert_eq!(head.method, "GET");
        assert_eq!(head.target, "/boot.ipxe?mac=52:54:00:00:00:11");
        assert_eq!(head.range, None);
        assert_eq!(head.user_agent.as_deref(), Some("iPXE/1.21.1"));
        assert!(head.keep_alive);
        assert_eq!(head.head_len, buf.len());
    }

    #[test]
    fn partial_heads_ask_for_more() {
        let full = b"GET /kernel HTTP/1.1\r\nHost: x\r\nRange: bytes=0-9\r\n\r\n";
        for cut in 0..full.len() {
            assert_eq!(
                parse_head(&full[..cut]),
                Ok(Parsed::Partial),
                "cut at {cut}"
            );
        }
        let head = complete(full);
        assert_eq!(head.range.as_deref(), Some("bytes=0-9"));
    }

    #[test]
    fn pipelined_requests_leave_the_next_one_in_the_buffer() {
        let buf = b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
        let first = complete(buf);
        assert_eq!(first.target, "/a");
        let second = complete(&buf[first.head_len..]);
        assert_eq!(second.target, "/b");
        // Stray CRLF between requests is skipped and counted.
        let head = complete(b"\r\nGET /c HTTP/1.1\r\n\r\n");
        assert_eq!((head.target.as_str(), head.head_len), ("/c", 21));
    }

    #[test]
    fn keep_alive_by_version_and_connection_header() {
        let cases: [(&[u8], bool); 7] = [
            (b"GET / HTTP/1.1\r\n\r\n", true),
            (b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false),
            (
                b"GET / HTTP/1.1\r\nconnection: Upgrade, CLOSE\r\n\r\n",
                false,
            ),
            (b"GET / HTTP/1.0\r\n\r\n", false),
            (b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true),
            (b"GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\n", false),
            (
                b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                false,
            ),
        ];
        for (buf, keep) in cases {
            assert_eq!(
                complete(buf).keep_alive,
                keep,
                "{}",
                String::from_utf8_lossy(buf)
            );
        }
        assert!(complete(b"GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n").keep_alive);
    }

    #[test]
    fn conditional_headers_first_one_wins() {
        let head = complete(
            b"GET /k HTTP/1.1\r\nIf-None-Match: \"a\"\r\nif-none-match: \"b\"\r\nRANGE: bytes=5-\r\n\
              if-range: \"c\"\r\nIf-Range: \"d\"\r\n\r\n",
        );
        assert_eq!(head.if_none_match.as_deref(), Some("\"a\""));
        assert_eq!(head.if_range.as_deref(), Some("\"c\""));
        assert_eq!(head.range.as_deref(), Some("bytes=5-"));
    }

    #[test]
    fn oversized_heads_are_431() {
        let mut big = b"GET / HTTP/1.1\r\nX-Pad: ".to_vec();
        big.resize(MAX_HEAD, b'a');
        assert_eq!(parse_head(&big), Err(HeadError::TooLarge));
        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(format!("X-{i}: 1\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(parse_head(&many), Err(HeadError::TooLarge));
        assert_eq!(HeadError::TooLarge.status(), 431);
        // Exactly at the bound is still served.
        let mut edge = b"GET / HTTP/1.1\r\nX-Pad: ".to_vec();
        edge.resize(MAX_HEAD - 4, b'a');
        edge.extend_from_slice(b"\r\n\r\n");
        assert_eq!(complete(&edge).head_len, MAX_HEAD);
    }

    #[test]
    fn malformed_heads_are_400_and_other_versions_505() {
        for buf in [
            &b"GET\r\n\r\n"[..],
            b"GET /a b HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n",
            b"GET / HTTP/1.1\r\n: empty\r\n\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
            b"GET / FTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nRange: bytes=\xff-\r\n\r\n",
            b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            b"GET / HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\n",
        ] {
            let got = parse_head(buf);
            assert!(
                matches!(got, Err(HeadError::Malformed(_))),
                "{}: {got:?}",
                String::from_utf8_lossy(buf)
            );
            assert_eq!(got.unwrap_err().status(), 400);
        }
        for buf in [
            &b"GET / HTTP/2.0\r\n\r\n"[..],
            b"GET / HTTP/0.9\r\n\r\n",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            b"PRI * HTTP/2.0\r\n",
        ] {
            assert_eq!(
                parse_head(buf),
                Err(HeadError::Version),
                "{}",
                String::from_utf8_lossy(buf)
            );
        }
        assert_eq!(HeadError::Version.status(), 505);
    }
}
