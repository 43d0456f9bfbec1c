//! The Secure Boot chain's files over the runtime's TFTP server on loopback, requested the way
//! shim and Debian's signed GRUB ask for them (seen in the lab): shim without a leading slash
//! from its own directory, GRUB with absolute paths, its per-machine config named by
//! `$net_default_mac` (colons and all).

use std::path::PathBuf;
use std::sync::Arc;

use netboot_compiler::{compile, ServerOverrides};
use netboot_runtime::Snapshot;
use netboot_test_support::tftp::{start, Client};

fn fleet_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("compiler/tests/secure_boot")
}

/// Reads `name` in plain 512-byte lockstep; `None` when the server answers with an error.
fn download(client: &Client, name: &str) -> Option<Vec<u8>> {
    client.read(name, &[]);
    let mut bytes = Vec::new();
    let mut expected = 1u16;
    loop {
        let (packet, tid) = client.recv();
        match u16::from_be_bytes([packet[0], packet[1]]) {
            3 => {
                let block = u16::from_be_bytes([packet[2], packet[3]]);
                assert_eq!(block, expected, "{name}: blocks in order");
                bytes.extend_from_slice(&packet[4..]);
                client.ack(tid, block);
                if packet.len() < 4 + 512 {
                    return Some(bytes);
                }
                expected += 1;
            }
            5 => return None,
            other => panic!("{name}: unexpected opcode {other}"),
        }
    }
}

#[test]
fn shim_and_grub_get_every_file_of_the_chain_over_tftp() {
    let compiled = compile(&fleet_dir().join("fleet.kdl"), &ServerOverrides::default())
        .unwrap_or_else(|f| panic!("{f}"));
    let generated = compiled.generated.clone();
    let snap = Snapshot::from_compiled(compiled.manifest, &compiled.generated, &fleet_dir());
    let server = start(Arc::new(snap));
    let client = Client::new(server.addr);
    let file = |rel: &str| std::fs::read(fleet_dir().join(rel)).unwrap();

    // shim, loaded as sb/shimx64.efi, asks for GRUB from the same directory.
    assert_eq!(
        download(&client, "sb/grubx64.efi"),
        Some(file("files/grubnetx64.efi.signed"))
    );
    // GRUB: its fixed prefix /grub, then the machine's config, then the kernel and initrd.
    for route in [
        "grub/grub.cfg",
        "grub/hosts/52:54:00:00:00:01.cfg",
        "grub/default.cfg",
    ] {
        assert_eq!(
            download(&client, &format!("/{route}")).as_ref(),
            Some(&generated[route]),
            "{route}"
        );
    }
    assert_eq!(
        download(&client, "/artifacts/linux"),
        Some(file("files/vmlinuz"))
    );
    assert_eq!(
        download(&client, "/artifacts/initrd"),
        Some(file("files/initrd.img"))
    );
    // A machine without a config of its own is refused, so GRUB's next line takes the default.
    assert_eq!(download(&client, "/grub/hosts/52:54:00:00:00:99.cfg"), None);
}
