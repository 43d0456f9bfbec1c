//! The HTTP server's side of the status page: answering the reserved paths, and turning a
//! finished exchange into an [`Event`]. The status module only consumes events and renders
//! pages; what an HTTP [`Answer`] means for it is decided here, so the arrow points one way
//! (http → status). Kept apart so the connection loop needs one call each.

use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use netboot_manifest::{sha256_hex, Protocol};

use super::route::Answer;
use crate::body::Body;
use crate::snapshot::Snapshot;
use crate::status::{Event, Events, Page};

/// The answer to `method target` when it asks for a status page and the recorder is on.
/// Other methods fall through to the router, which refuses them.
pub fn page_answer(
    events: &Events,
    method: &str,
    target: &str,
    snapshot: &Snapshot,
    install: Option<&crate::install::InstallStore>,
) -> Option<Answer> {
    if !events.is_on() || !(method == "GET" || method == "HEAD") {
        return None;
    }
    let page = Page::for_target(target, snapshot.manifest())?;
    let text = page.render(events, snapshot, install, SystemTime::now());
    let bytes: Arc<[u8]> = text.into_bytes().into();
    Some(Answer::File {
        path: target.to_string(),
        etag: format!("\"{}\"", sha256_hex(&bytes)),
        len: bytes.len() as u64,
        body: Body::Memory(bytes),
        start: 0,
        partial: false,
        content_type: page.content_type(),
    })
}

/// What a finished HTTP exchange tells the status page, if anything: a file delivered or
/// broken off, or a request refused. `sent` counts body bytes the client got.
pub fn exchange_event(
    ip: IpAddr,
    target: &str,
    user_agent: Option<&str>,
    answer: &Answer,
    result: &io::Result<()>,
    sent: u64,
    took: Duration,
) -> Option<Event> {
    let event = match (answer, result) {
        (Answer::File { path, .. }, Ok(())) => Event::done(Protocol::Http, ip, path, sent, took),
        (Answer::File { path, .. }, Err(e)) => {
            Event::failed(Protocol::Http, ip, path, sent, took, &e.to_string())
        }
        (Answer::Error { status, reason }, _) => {
            Event::refused(Protocol::Http, ip, target, &format!("{status} {reason}"))
        }
        (Answer::Unsatisfiable { .. }, _) => {
            Event::refused(Protocol::Http, ip, target, "416 range not satisfiable")
        }
        // The client's copy is current: nothing was transferred or refused.
        (Answer::NotModified { .. }, _) => return None,
    };
    Some(event.with_user_agent(user_agent))
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::status::event::Transfer;

    fn file(path: &str) -> Answer {
        Answer::File {
            path: path.into(),
            body: Body::Memory(Arc::from(&b"0123456789"[..])),
            start: 0,
            len: 10,
            partial: false,
            etag: "\"e\"".into(),
            content_type: "application/octet-stream",
        }
    }

    #[test]
    fn exchanges_become_events() {
        let ip: IpAddr = Ipv4Addr::new(10, 0, 0, 9).into();
        let ms = Duration::from_millis(7);
        let done = exchange_event(
            ip,
            "/kernel",
            Some("iPXE/1.21.1"),
            &file("kernel"),
            &Ok(()),
            10,
            ms,
        );
        assert_eq!(
            done,
            Some(Event::Transfer(Transfer {
                protocol: Protocol::Http,
                ip,
                file: "kernel".into(),
                bytes: 10,
                duration: ms,
                error: None,
                user_agent: Some("iPXE/1.21.1".into()),
            }))
        );
        let reset = Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "reset by peer",
        ));
        let failed = exchange_event(ip, "/kernel", None, &file("kernel"), &reset, 4, ms);
        assert!(
            matches!(failed, Some(Event::Transfer(t)) if t.error.as_deref() == Some("reset by peer") && t.bytes == 4)
        );
        let missing = Answer::Error {
            status: 404,
            reason: "not in the manifest",
        };
        let refused = exchange_event(ip, "/hosts/x.ipxe", None, &missing, &Ok(()), 0, ms);
        assert!(
            matches!(refused, Some(Event::Refused(r)) if r.reason == "404 not in the manifest" && r.file == "/hosts/x.ipxe")
        );
        let current = Answer::NotModified {
            etag: "\"e\"".into(),
        };
        assert_eq!(
            exchange_event(ip, "/kernel", None, &current, &Ok(()), 0, ms),
            None
        );
    }
}
