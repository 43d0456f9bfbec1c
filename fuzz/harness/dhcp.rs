//! Fuzz harness for the proxy-DHCP decision: one datagram's bytes, as they arrive on a port;
//! the same bytes also go through the reply reader (`Offer::parse`) the operator tools use.
//!
//! Shared by the `dhcp_answer` fuzz target and by `runtime/tests/fuzz_corpus.rs`, which
//! replays the checked-in corpus in plain `cargo test`. Besides "never panics", it asserts
//! what a proxy must never do whatever the bytes: answer a client that is not a PXE or
//! HTTP-boot client, offer an address, or name a boot file the manifest does not list.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};

use dhcproto::v4::{Message, MessageType as WireType, Opcode, OptionCode};
use dhcproto::{Decodable, Decoder};
use netboot_manifest::{
    sha256_hex, BootAnswer, ClientKind, DhcpMode, FileEntry, Host, MacAddr, Manifest, Protocol,
    Server, Source, FORMAT_VERSION,
};
use netboot_runtime::dhcp::{answer, dhcp_reply, Decision, Offer, Port, Request, ServerIdentity};
use netboot_runtime::http::route::request_path;

const SERVER: ServerIdentity = ServerIdentity {
    addr: Ipv4Addr::new(10, 0, 2, 2),
    http_port: 8080,
};

/// The MAC of the SeaBIOS iPXE capture, named as a host so its own script is chosen.
const KNOWN_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];

/// Builds the manifests once; a fuzz run calls [`run`] millions of times.
pub struct Harness {
    /// Answers every client kind (one path needs percent-encoding in its URL).
    full: Manifest,
    /// Answers BIOS only, so "no answer for this kind" is exercised too.
    partial: Manifest,
}

impl Default for Harness {
    fn default() -> Self {
        Harness::new()
    }
}

impl Harness {
    pub fn new() -> Harness {
        let mut dhcp = BTreeMap::new();
        let answer = |protocol, path: &str| BootAnswer {
            protocol,
            path: path.to_string(),
        };
        dhcp.insert(ClientKind::Bios, answer(Protocol::Tftp, "undionly.kpxe"));
        dhcp.insert(ClientKind::EfiX64, answer(Protocol::Tftp, "ipxe.efi"));
        dhcp.insert(
            ClientKind::EfiArm64,
            answer(Protocol::Tftp, "arm64/ipxe.efi"),
        );
        dhcp.insert(ClientKind::HttpX64, answer(Protocol::Http, "ipxe.efi"));
        dhcp.insert(
            ClientKind::HttpArm64,
            answer(Protocol::Http, "arm 64/ipxe%.efi"),
        );
        dhcp.insert(ClientKind::Ipxe, answer(Protocol::Http, "boot.ipxe"));
        let mut hosts = BTreeMap::new();
        hosts.insert(
            MacAddr(KNOWN_MAC),
            Host {
                name: "web1".into(),
                group: None,
                boots: "profile:debian".into(),
                script: "hosts/52-54-00-12-34-56.ipxe".into(),
                install: None,
                secure_boot: false,
            },
        );
        let files = [
            "undionly.kpxe",
            "ipxe.efi",
            "arm64/ipxe.efi",
            "arm 64/ipxe%.efi",
            "boot.ipxe",
            "hosts/52-54-00-12-34-56.ipxe",
        ]
        .into_iter()
        .map(|name| {
            let entry = FileEntry {
                size: name.len() as u64,
                sha256: sha256_hex(name.as_bytes()),
                source: Source::Generated { file: name.into() },
                tftp: true,
                http: true,
            };
            (name.to_string(), entry)
        })
        .collect();
        let full = Manifest {
            format: FORMAT_VERSION,
            compiler: "netboot fuzz".into(),
            fleet_sha256: "0".repeat(64),
            server: Server {
                interface: None,
                address: Some(SERVER.addr),
                http_port: SERVER.http_port,
                tftp_port: 69,
                dhcp: DhcpMode::Proxy,
            },
            dhcp,
            secure_boot: None,
            hosts,
            artifact_root: ".".into(),
            files,
        };
        let mut partial = full.clone();
        partial.dhcp.retain(|kind, _| *kind == ClientKind::Bios);
        Harness { full, partial }
    }

    /// Decides `packet` as it would arrive on each port from a few sources, and checks every
    /// reply. Panics (the fuzzer's finding) only when a rule is broken.
    pub fn run(&self, packet: &[u8]) {
        let sources = [
            SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68),
            SocketAddrV4::new(Ipv4Addr::new(192, 168, 1, 50), 4011),
        ];
        for port in [Port::Dhcp67, Port::Pxe4011] {
            for source in sources {
                self.check(&self.full, packet, port, source);
            }
        }
        self.check(&self.partial, packet, Port::Dhcp67, sources[0]);
        check_reply_reader(packet);
    }

    fn check(&self, manifest: &Manifest, packet: &[u8], port: Port, source: SocketAddrV4) {
        let Decision::Reply(reply) = answer(packet, port, source, manifest, &SERVER) else {
            return;
        };
        let request = Request::parse(packet).expect("a packet that got a reply parses");
        let vendor = request.options.get(60).unwrap_or_default();
        assert!(
            vendor.starts_with(b"PXEClient") || vendor.starts_with(b"HTTPClient"),
            "answered a client that is not a boot client (option 60 {vendor:?})"
        );
        assert_eq!(reply.mac, request.mac);

        let msg = Message::decode(&mut Decoder::new(&reply.bytes)).expect("our reply decodes");
        assert_eq!(msg.opcode(), Opcode::BootReply);
        assert_eq!(
            msg.yiaddr(),
            Ipv4Addr::UNSPECIFIED,
            "a proxy offered an address"
        );
        assert_eq!(msg.xid(), request.xid);
        assert_eq!(&msg.chaddr()[..6], &request.mac.0);
        assert_eq!(msg.siaddr(), SERVER.addr);
        let kind = msg.opts().msg_type();
        match port {
            Port::Dhcp67 => assert_eq!(kind, Some(WireType::Offer)),
            Port::Pxe4011 => assert!(matches!(kind, Some(WireType::Offer | WireType::Ack))),
        }
        let Some(dhcproto::v4::DhcpOption::BootfileName(file)) =
            msg.opts().get(OptionCode::BootfileName)
        else {
            panic!("reply without option 67");
        };
        assert_eq!(file.as_slice(), reply.file.as_bytes());

        // The boot file must be one the manifest lists, for the protocol it is served over.
        let entry = &manifest.dhcp[&reply.kind];
        let route = match entry.protocol {
            Protocol::Tftp => reply.file.clone(),
            Protocol::Http => {
                let prefix = format!("http://{}:{}", SERVER.addr, SERVER.http_port);
                let target = reply
                    .file
                    .strip_prefix(&prefix)
                    .unwrap_or_else(|| panic!("URL {} not on this server", reply.file));
                // The HTTP server must map the URL back to exactly the route meant.
                request_path(target)
                    .unwrap_or_else(|| panic!("URL {} does not decode to a route", reply.file))
            }
        };
        let listed = manifest.files.get(&route);
        assert!(
            listed.is_some_and(|f| match entry.protocol {
                Protocol::Tftp => f.tftp,
                Protocol::Http => f.http,
            }),
            "boot file {route:?} is not served by the manifest"
        );
        let expected = match manifest.hosts.get(&request.mac) {
            Some(host) if reply.kind == ClientKind::Ipxe => host.script.as_str(),
            _ => entry.path.as_str(),
        };
        assert_eq!(route, expected);

        // Replies go to the relay, the client or the broadcast address, never elsewhere.
        let to = *reply.destination.ip();
        assert!(
            to == Ipv4Addr::BROADCAST
                || to == request.giaddr
                || to == request.ciaddr
                || to == *source.ip(),
            "reply sent to {to}, which is neither the client, its relay nor broadcast"
        );
    }
}

/// The reader `explain` and `doctor` use on any server's reply (and on the IPv4 frame around
/// it): whatever the bytes, it never panics, and what it reads is the header's own fields.
fn check_reply_reader(packet: &[u8]) {
    if let Some((_, payload)) = dhcp_reply(packet) {
        let _ = Offer::parse(payload);
    }
    if let Some(offer) = Offer::parse(packet) {
        assert_eq!(packet[0], 2, "only a BOOTREPLY is read as a reply");
        assert_eq!(offer.xid.to_be_bytes(), packet[4..8]);
        assert_eq!(offer.chaddr.0, packet[28..34]);
    }
}
