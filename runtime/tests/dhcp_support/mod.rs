//! Shared pieces of the proxy-DHCP tests: a hand-made manifest, request builders, a reply
//! decoder, and a reader for the captured packets under `tests/fixtures/dhcp/`.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};

use dhcproto::v4::{DhcpOption, Message, MessageType, Opcode, OptionCode};
use dhcproto::{Decodable, Decoder, Encodable};
use netboot_manifest::{
    sha256_hex, BootAnswer, ClientKind, DhcpMode, FileEntry, Host, MacAddr, Manifest, Protocol,
    Server, Source,
};
use netboot_runtime::dhcp::ServerIdentity;

pub const SERVER: ServerIdentity = ServerIdentity {
    addr: Ipv4Addr::new(10, 0, 2, 2),
    http_port: 8080,
};

/// A MAC the manifest names as host `web1`.
pub const KNOWN_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
pub const UNKNOWN_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc];

/// The generated files the manifest lists, by name.
pub fn generated() -> BTreeMap<String, Vec<u8>> {
    let mut g = BTreeMap::new();
    g.insert(
        "boot.ipxe".to_string(),
        b"#!ipxe\nchain menu.ipxe\n".to_vec(),
    );
    g.insert(
        "hosts/52-54-00-12-34-56.ipxe".to_string(),
        b"#!ipxe\nkernel vmlinuz\n".to_vec(),
    );
    g.insert("undionly.kpxe".to_string(), b"fake undionly".to_vec());
    g.insert("ipxe.efi".to_string(), b"fake ipxe.efi".to_vec());
    g.insert(
        "arm64/ipxe.efi".to_string(),
        b"fake arm64 ipxe.efi".to_vec(),
    );
    g
}

/// A manifest answering every kind: TFTP loaders for firmware PXE, HTTP for the rest.
pub fn manifest() -> Manifest {
    let answer = |protocol, path: &str| BootAnswer {
        protocol,
        path: path.to_string(),
    };
    let mut dhcp = BTreeMap::new();
    dhcp.insert(ClientKind::Bios, answer(Protocol::Tftp, "undionly.kpxe"));
    dhcp.insert(ClientKind::EfiX64, answer(Protocol::Tftp, "ipxe.efi"));
    dhcp.insert(
        ClientKind::EfiArm64,
        answer(Protocol::Tftp, "arm64/ipxe.efi"),
    );
    dhcp.insert(ClientKind::HttpX64, answer(Protocol::Http, "ipxe.efi"));
    dhcp.insert(
        ClientKind::HttpArm64,
        answer(Protocol::Http, "arm64/ipxe.efi"),
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
        },
    );
    let files = generated()
        .into_iter()
        .map(|(name, bytes)| {
            let entry = FileEntry {
                size: bytes.len() as u64,
                sha256: sha256_hex(&bytes),
                source: Source::Generated { file: name.clone() },
                tftp: true,
                http: true,
            };
            (name, entry)
        })
        .collect();
    Manifest {
        format: netboot_manifest::FORMAT_VERSION,
        compiler: "netboot test".into(),
        fleet_sha256: "0".repeat(64),
        server: Server {
            interface: None,
            address: Some(SERVER.addr),
            http_port: SERVER.http_port,
            tftp_port: 69,
            dhcp: DhcpMode::Proxy,
        },
        dhcp,
        hosts,
        artifact_root: ".".into(),
        files,
    }
}

/// A client's request, built with dhcproto the way firmware lays it out.
pub struct Req {
    pub msg: Message,
}

impl Req {
    pub fn new(kind: MessageType, mac: [u8; 6]) -> Req {
        let mut msg = Message::new_with_id(
            0x1234_5678,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            &mac,
        );
        msg.set_flags(dhcproto::v4::Flags::default().set_broadcast());
        msg.opts_mut().insert(DhcpOption::MessageType(kind));
        Req { msg }
    }

    /// A firmware PXE/HTTP client: vendor class, arch (93) and GUID (97).
    pub fn firmware(kind: MessageType, mac: [u8; 6], vendor: &str, arch: u16) -> Req {
        let mut r = Req::new(kind, mac);
        r.opt(DhcpOption::ClassIdentifier(vendor.as_bytes().to_vec()));
        r.opt(DhcpOption::ClientSystemArchitecture(arch.into()));
        r.opt(DhcpOption::ClientMachineIdentifier(guid()));
        r
    }

    /// iPXE's DISCOVER: PXEClient class plus user class `iPXE` and option 175.
    pub fn ipxe(kind: MessageType, mac: [u8; 6]) -> Req {
        let mut r = Req::firmware(kind, mac, "PXEClient:Arch:00000:UNDI:002001", 0);
        r.opt(DhcpOption::UserClass(b"iPXE".to_vec()));
        r.opt(DhcpOption::Unknown(dhcproto::v4::UnknownOption::new(
            OptionCode::from(175u8),
            vec![177, 5, 1, 0x1a, 0xf4, 0x10, 0x00],
        )));
        r
    }

    pub fn opt(&mut self, o: DhcpOption) -> &mut Req {
        self.msg.opts_mut().insert(o);
        self
    }

    pub fn bytes(&self) -> Vec<u8> {
        self.msg.to_vec().expect("test request encodes")
    }
}

/// The GUID firmware puts in option 97: type 0 then 16 bytes.
pub fn guid() -> Vec<u8> {
    let mut g = vec![0u8];
    g.extend(1..=16u8);
    g
}

/// A broadcast source, as a client without an address sends from.
pub fn from_nowhere() -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68)
}

pub fn broadcast68() -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::BROADCAST, 68)
}

pub fn decode(bytes: &[u8]) -> Message {
    Message::decode(&mut Decoder::new(bytes)).expect("reply decodes")
}

/// The raw bytes of option `code` in `msg`, re-encoded by dhcproto.
pub fn opt_bytes(msg: &Message, code: u8) -> Option<Vec<u8>> {
    let opt = msg.opts().get(OptionCode::from(code))?;
    let encoded = opt.to_vec().expect("option encodes");
    Some(encoded[2..].to_vec())
}

/// The boot file field without its NUL terminator (dhcproto keeps the NUL).
pub fn fname(msg: &Message) -> String {
    let raw = msg.fname().unwrap_or_default();
    let text = raw.strip_suffix(&[0]).unwrap_or(raw);
    String::from_utf8(text.to_vec()).expect("file is text")
}

/// Checks what every proxy reply must hold, whatever the client.
pub fn assert_proxy_basics(reply: &Message, request_xid: u32, mac: [u8; 6], kind: MessageType) {
    assert_eq!(reply.opcode(), Opcode::BootReply);
    assert_eq!(reply.xid(), request_xid);
    assert_eq!(
        reply.yiaddr(),
        Ipv4Addr::UNSPECIFIED,
        "a proxy never offers an address"
    );
    assert_eq!(reply.chaddr(), &mac);
    assert_eq!(reply.opts().msg_type(), Some(kind));
    assert_eq!(
        reply.opts().get(OptionCode::ServerIdentifier),
        Some(&DhcpOption::ServerIdentifier(SERVER.addr))
    );
}

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dhcp")
}
