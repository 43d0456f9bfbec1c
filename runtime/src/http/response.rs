//! The bytes of a response head for a decided [`Answer`]: a pure formatter, so what the
//! server says on the wire is unit-tested without a socket.
//!
//! Every response carries Content-Length (iPXE and firmware show progress from it; nothing is
//! ever chunked) and says `Connection: close` when the server is about to close.

use std::fmt::Write;

use super::route::Answer;

/// What goes on the wire for one answer: the head, and the body bytes that follow it (for
/// a file, a range of the [`Body`](crate::body::Body) the answer holds; else a short text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub bytes: Vec<u8>,
    /// Body bytes announced by Content-Length and sent after the head (0 for HEAD and 304).
    pub body_len: u64,
    /// Text body for answers without a file (error reasons), already counted in `body_len`.
    pub text: Option<String>,
}

/// The head for `answer`. `head_only` for HEAD requests: same headers, no body.
pub fn head(answer: &Answer, keep_alive: bool, head_only: bool) -> Head {
    let status = answer.status();
    let mut h = status_line(status);
    let (content_length, text) = match answer {
        Answer::File {
            body,
            start,
            len,
            partial,
            etag,
            content_type,
            ..
        } => {
            header(&mut h, "Content-Type", content_type);
            header(&mut h, "ETag", etag);
            header(&mut h, "Accept-Ranges", "bytes");
            if *partial {
                let end = start + len - 1;
                let range = format!("bytes {start}-{end}/{}", body.len());
                header(&mut h, "Content-Range", &range);
            }
            (*len, None)
        }
        Answer::NotModified { etag } => {
            header(&mut h, "ETag", etag);
            // A 304 has no body whatever Content-Length says; say nothing.
            finish(&mut h, keep_alive);
            return Head {
                bytes: h.into_bytes(),
                body_len: 0,
                text: None,
            };
        }
        Answer::Unsatisfiable { size } => {
            header(&mut h, "Content-Range", &format!("bytes */{size}"));
            (0, None)
        }
        Answer::Error { status, reason } => {
            if *status == 405 {
                header(&mut h, "Allow", "GET, HEAD");
            }
            let text = format!("{status} {reason}\n");
            header(&mut h, "Content-Type", "text/plain; charset=utf-8");
            (text.len() as u64, Some(text))
        }
    };
    let _ = write!(h, "Content-Length: {content_length}\r\n");
    finish(&mut h, keep_alive);
    let (body_len, text) = if head_only {
        (0, None)
    } else {
        (content_length, text)
    };
    Head {
        bytes: h.into_bytes(),
        body_len,
        text,
    }
}

/// A complete response (head and text body) for a request refused before it could be
/// routed: a bad head, or no room for another connection. The connection is always closed.
pub fn refusal(status: u16, reason: &str) -> Vec<u8> {
    let text = format!("{status} {reason}\n");
    let mut h = status_line(status);
    header(&mut h, "Content-Type", "text/plain; charset=utf-8");
    let _ = write!(h, "Content-Length: {}\r\n", text.len());
    finish(&mut h, false);
    h.push_str(&text);
    h.into_bytes()
}

fn status_line(status: u16) -> String {
    let mut h = String::with_capacity(256);
    let _ = write!(h, "HTTP/1.1 {status} {}\r\n", reason_phrase(status));
    h
}

fn header(h: &mut String, name: &str, value: &str) {
    // Values come from the manifest and from our own formatting; a line break in one would
    // let a crafted route name inject headers, so it is dropped rather than sent.
    if value.chars().any(char::is_control) {
        let value: String = value.chars().filter(|c| !c.is_control()).collect();
        let _ = write!(h, "{name}: {value}\r\n");
    } else {
        let _ = write!(h, "{name}: {value}\r\n");
    }
}

fn finish(h: &mut String, keep_alive: bool) {
    h.push_str(if keep_alive {
        "Connection: keep-alive\r\n\r\n"
    } else {
        "Connection: close\r\n\r\n"
    });
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        304 => "Not Modified",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        416 => "Range Not Satisfiable",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::Body;

    fn file(partial: bool) -> Answer {
        Answer::File {
            path: "kernel".into(),
            body: Body::Memory(vec![0u8; 100].into()),
            start: if partial { 10 } else { 0 },
            len: if partial { 20 } else { 100 },
            partial,
            etag: "\"abc\"".into(),
            content_type: "application/octet-stream",
        }
    }

    fn text(h: &Head) -> &str {
        std::str::from_utf8(&h.bytes).unwrap()
    }

    #[test]
    fn whole_file_head() {
        let h = head(&file(false), true, false);
        assert_eq!(
            text(&h),
            "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nETag: \"abc\"\r\n\
             Accept-Ranges: bytes\r\nContent-Length: 100\r\nConnection: keep-alive\r\n\r\n"
        );
        assert_eq!((h.body_len, h.text.clone()), (100, None));
    }

    #[test]
    fn partial_head_and_head_requests() {
        let h = head(&file(true), false, false);
        assert!(text(&h).starts_with("HTTP/1.1 206 Partial Content\r\n"));
        assert!(text(&h).contains("Content-Range: bytes 10-29/100\r\n"));
        assert!(text(&h).contains("Content-Length: 20\r\n"));
        assert!(text(&h).ends_with("Connection: close\r\n\r\n"));
        assert_eq!(h.body_len, 20);
        // HEAD: the same Content-Length, but nothing follows.
        let h = head(&file(false), true, true);
        assert!(text(&h).contains("Content-Length: 100\r\n"));
        assert_eq!(h.body_len, 0);
    }

    #[test]
    fn bodiless_answers() {
        let h = head(
            &Answer::NotModified {
                etag: "\"e\"".into(),
            },
            true,
            false,
        );
        assert_eq!(
            text(&h),
            "HTTP/1.1 304 Not Modified\r\nETag: \"e\"\r\nConnection: keep-alive\r\n\r\n"
        );
        assert_eq!(h.body_len, 0);
        let h = head(&Answer::Unsatisfiable { size: 7 }, true, false);
        assert!(text(&h).starts_with("HTTP/1.1 416 Range Not Satisfiable\r\n"));
        assert!(text(&h).contains("Content-Range: bytes */7\r\nContent-Length: 0\r\n"));
    }

    #[test]
    fn errors_carry_their_reason() {
        let answer = Answer::Error {
            status: 405,
            reason: "only GET and HEAD are served",
        };
        let h = head(&answer, true, false);
        assert!(text(&h).starts_with("HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\n"));
        let body = "405 only GET and HEAD are served\n";
        assert_eq!(h.text.as_deref(), Some(body));
        assert_eq!(h.body_len, body.len() as u64);
        assert!(text(&h).contains(&format!("Content-Length: {}\r\n", body.len())));
        let h = head(&answer, true, true);
        assert_eq!((h.body_len, h.text), (0, None));
    }

    #[test]
    fn refusals_close() {
        let r = String::from_utf8(refusal(431, "request head too large")).unwrap();
        assert_eq!(
            r,
            "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; \
             charset=utf-8\r\nContent-Length: 27\r\nConnection: close\r\n\r\n\
             431 request head too large\n"
        );
    }

    #[test]
    fn no_header_injection_through_values() {
        let answer = Answer::NotModified {
            etag: "\"a\"\r\nSet-Cookie: x".into(),
        };
        let h = head(&answer, false, false);
        assert!(text(&h).contains("ETag: \"a\"Set-Cookie: x\r\n"));
    }
}
