//! The hand-made manifest the proxy-DHCP tests answer from: an answer for every client kind,
//! one known host, and the generated files those answers name.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

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
            install: None,
            secure_boot: false,
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
        secure_boot: None,
        hosts,
        artifact_root: ".".into(),
        files,
    }
}
