//! The TFTP server's log lines: one "tftp file done" per transfer with the fields an operator
//! reads a boot by, and warnings for refusals and abandoned transfers.

mod tftp_support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use netboot_runtime::tftp::TftpConfig;
use tftp_support::{expect_error, pattern, snapshot, start_with, Client, File};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

type Events = Arc<Mutex<Vec<BTreeMap<String, String>>>>;

/// Collects every event's fields (and its level) as strings.
struct Capture(Events);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        fields.insert("level".into(), event.metadata().level().to_string());
        fields.insert("target".into(), event.metadata().target().to_string());
        self.0.lock().unwrap().push(fields);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// Waits until an event with `message` and all of `want` shows up.
fn wait_for(events: &Events, message: &str, want: &[(&str, &str)]) -> BTreeMap<String, String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = events
            .lock()
            .unwrap()
            .iter()
            .find(|e| {
                e.get("message").map(String::as_str) == Some(message)
                    && want
                        .iter()
                        .all(|(k, v)| e.get(*k).map(String::as_str) == Some(*v))
            })
            .cloned();
        if let Some(e) = found {
            return e;
        }
        assert!(
            Instant::now() < deadline,
            "no {message:?} with {want:?} in {:#?}",
            events.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn transfers_and_refusals_are_logged_with_their_fields() {
    let events = Events::default();
    tracing::subscriber::set_global_default(Capture(events.clone())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = TftpConfig {
        timeout: Duration::from_millis(50),
        retries: 1,
        ..TftpConfig::default()
    };
    let bytes = pattern(10_000, 1);
    let server = start_with(
        snapshot(&[File::Memory("undionly.kpxe", bytes.clone())], dir.path()),
        config,
    );

    let got = Client::new(server.addr).fetch("/undionly.kpxe", 1468, 4);
    assert!(got == bytes);
    let done = wait_for(
        &events,
        "tftp file done",
        &[
            ("file", "undionly.kpxe"),
            ("ip", "127.0.0.1"),
            ("bytes", "10000"),
            ("blksize", "1468"),
            ("windowsize", "4"),
        ],
    );
    assert_eq!(done["level"], "INFO");
    assert_eq!(done["target"], "netboot::tftp");
    assert!(done["ms"].parse::<f64>().is_ok(), "{done:?}");

    let client = Client::new(server.addr);
    client.read("no\nsuch", &[]);
    expect_error(&client.recv().0, 1);
    let refused = wait_for(
        &events,
        "tftp request refused",
        &[("code", "1"), ("file", "no\\nsuch")],
    );
    assert_eq!(refused["level"], "WARN");

    // A client that never acknowledges: the transfer is abandoned with a warning.
    let client = Client::new(server.addr);
    client.read("undionly.kpxe", &[]);
    let failed = wait_for(&events, "tftp transfer failed", &[("bytes", "0")]);
    assert_eq!(failed["level"], "WARN");
    assert!(failed["error"].contains("retransmissions"), "{failed:?}");
}
