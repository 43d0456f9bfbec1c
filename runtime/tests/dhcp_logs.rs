//! The proxy-DHCP log lines: one "dhcp answer" at info level per reply with the fields an
//! operator reads a boot by, and a debug line with the reason for each ignored packet.

mod dhcp_support;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dhcp_support::*;
use dhcproto::v4::MessageType;
use netboot_runtime::dhcp::{DhcpConfig, DhcpServer};
use netboot_runtime::Snapshot;
use tokio::net::UdpSocket;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

type Events = Arc<Mutex<Vec<BTreeMap<String, String>>>>;

/// Collects every event's fields, level and target as strings.
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

async fn wait_for(events: &Events, message: &str) -> BTreeMap<String, String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let found = events
            .lock()
            .unwrap()
            .iter()
            .find(|e| e.get("message").map(String::as_str) == Some(message))
            .cloned();
        if let Some(e) = found {
            return e;
        }
        assert!(
            Instant::now() < deadline,
            "no {message:?} in {:#?}",
            events.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn answers_and_ignored_packets_are_logged_with_their_fields() {
    let events = Events::default();
    tracing::subscriber::set_global_default(Capture(events.clone())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let snapshot = Arc::new(Snapshot::from_compiled(
        manifest(),
        &generated(),
        dir.path(),
    ));
    let (_tx, rx) = tokio::sync::watch::channel(snapshot);
    let config = DhcpConfig {
        server_addr: SERVER.addr,
        http_port: SERVER.http_port,
        interface: None,
        dhcp_port: 0,
        pxe_port: 0,
    };
    let server = DhcpServer::bind(&config, rx).await.unwrap();
    let dhcp_port = server.local_addrs().0.port();
    tokio::spawn(server.run());
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let to = (Ipv4Addr::LOCALHOST, dhcp_port);

    client.send_to(&[1, 1, 6], to).await.unwrap();
    let ignored = wait_for(&events, "dhcp packet ignored").await;
    assert_eq!(ignored["level"], "DEBUG");
    assert_eq!(ignored["target"], "netboot::dhcp");
    assert_eq!(ignored["port"], "67");
    assert!(
        ignored["reason"].contains("shorter than the 240-byte"),
        "{ignored:?}"
    );

    let discover = Req::ipxe(MessageType::Discover, KNOWN_MAC);
    client.send_to(&discover.bytes(), to).await.unwrap();
    let answer = wait_for(&events, "dhcp answer").await;
    assert_eq!(answer["level"], "INFO");
    assert_eq!(answer["target"], "netboot::dhcp");
    assert_eq!(answer["mac"], "52:54:00:12:34:56");
    assert_eq!(answer["ip"], "127.0.0.1");
    assert_eq!(answer["kind"], "ipxe");
    assert_eq!(
        answer["file"],
        "http://10.0.2.2:8080/hosts/52-54-00-12-34-56.ipxe"
    );
    assert_eq!(answer["port"], "67");
    assert_eq!(answer["to"], client.local_addr().unwrap().to_string());
}
