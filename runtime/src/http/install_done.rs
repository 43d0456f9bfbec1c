//! The HTTP side of the install lifecycle: answering a done report, and serving a pending
//! machine its install script in place of its everyday one. The decisions are
//! [`crate::install`]'s; this only turns them into answers, writes, and log lines.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use netboot_manifest::{sha256_hex, DONE_PREFIX};

use super::route::Answer;
use crate::body::Body;
use crate::install::{self, Done, InstallStore};
use crate::snapshot::Snapshot;
use crate::status::Events;

/// Whether `path` is a done report (so the router is not asked).
pub fn is_report(path: &str) -> bool {
    path.starts_with(DONE_PREFIX)
}

/// Answers a done report. GET (wget, curl) and POST without a body (cloud-init's
/// `phone_home` can be told to post nothing) are accepted; a body is refused unread.
pub fn answer(
    store: &InstallStore,
    events: &Events,
    snapshot: &Snapshot,
    method: &str,
    has_body: bool,
    path: &str,
    ip: IpAddr,
) -> Answer {
    let refuse = |status, reason| {
        events.count_install_report("refused", reason);
        refuse(ip, path, status, reason)
    };
    if method != "GET" && method != "POST" {
        return refuse(405, "a done report is a GET or a POST");
    }
    if has_body {
        return refuse(413, "a done report carries no body");
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let state = store.current();
    match install::done(
        path,
        snapshot.manifest(),
        state.as_ref().map_err(String::as_str),
        ip,
        now,
    ) {
        Done::Refused { status, reason } => refuse(status, reason),
        Done::AlreadyDone { host, generation } => {
            events.count_install_report("repeated", "");
            tracing::info!(
                target: "netboot::install",
                ip = %ip, host = %host, generation,
                "install done reported again: nothing to change"
            );
            ok(
                path,
                format!("{host}: generation {generation} is installed\n"),
            )
        }
        Done::Record { mac, record } => {
            let (host, generation) = (record.host.clone(), record.generation);
            match store.record(mac, record) {
                Ok(_) => {
                    events.count_install_report("recorded", "");
                    tracing::info!(
                        target: "netboot::install",
                        ip = %ip, host = %host, mac = %mac, generation,
                        "install done: the machine boots its `then` profile from now on"
                    );
                    ok(
                        path,
                        format!("{host}: generation {generation} is installed\n"),
                    )
                }
                Err(e) => {
                    events.count_install_report("refused", "the install state cannot be written");
                    tracing::error!(
                        target: "netboot::install",
                        ip = %ip, host = %host, mac = %mac, generation, error = %e,
                        "install done could not be recorded"
                    );
                    Answer::Error {
                        status: 503,
                        reason: "the install state cannot be written",
                    }
                }
            }
        }
    }
}

/// The script to serve for `path` if the lifecycle says otherwise (a pending install).
pub fn swap(store: &InstallStore, snapshot: &Snapshot, path: &str) -> Option<String> {
    let manifest = snapshot.manifest();
    // Only lifecycle hosts pay for a look at the state file.
    if !manifest.hosts.values().any(|h| h.install.is_some()) || !path.starts_with("hosts/") {
        return None;
    }
    let state = store.current();
    install::script_for(path, manifest, state.as_ref().map_err(String::as_str)).map(str::to_string)
}

fn refuse(ip: IpAddr, path: &str, status: u16, reason: &'static str) -> Answer {
    tracing::warn!(
        target: "netboot::install",
        ip = %ip, target = %path.escape_debug(), status, reason,
        "install done refused"
    );
    Answer::Error { status, reason }
}

fn ok(path: &str, text: String) -> Answer {
    let bytes: Arc<[u8]> = text.into_bytes().into();
    Answer::File {
        path: path.to_string(),
        etag: format!("\"{}\"", sha256_hex(&bytes)),
        len: bytes.len() as u64,
        body: Body::Memory(bytes),
        start: 0,
        partial: false,
        content_type: "text/plain; charset=utf-8",
    }
}
