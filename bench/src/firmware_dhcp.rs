//! The DHCP packets of a booting machine, as its firmware and then iPXE send them: the
//! DISCOVER to port 67 and the request to the proxy's boot server on port 4011.
//!
//! Shapes follow what the real clients send: OVMF (EDK2's PxeBcDhcp4), a BIOS PXE ROM, and
//! iPXE's dhcp.c. A server that tells them apart by their
//! options (arch, user class, option 175) must see the same bytes here.

use std::net::Ipv4Addr;

use crate::dhcp_wire::COOKIE;

/// The machine's firmware.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    /// x86 BIOS (RFC 4578 arch 0).
    Bios,
    /// x86-64 UEFI (arch 7).
    EfiX64,
}

/// Which program is speaking DHCP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// The firmware's PXE client, which fetches the loader by TFTP.
    Firmware,
    /// iPXE, the loader, which fetches its script by HTTP.
    Ipxe,
}

/// DHCP message types.
const DISCOVER: u8 = 1;
const REQUEST: u8 = 3;

/// OVMF's parameter request list (EDK2 NetworkPkg/UefiPxeBcDxe, mInterestedDhcp4Tags order).
const OVMF_PARAMS: &[u8] = &[
    1, 2, 3, 4, 5, 6, 12, 13, 15, 17, 18, 22, 23, 28, 40, 41, 42, 43, 50, 51, 54, 58, 59, 60, 66,
    67, 97, 128, 129, 130, 131, 132, 133, 134, 135,
];
/// A BIOS PXE ROM's.
const BIOS_PARAMS: &[u8] = &[
    1, 2, 3, 5, 6, 12, 13, 15, 17, 18, 43, 54, 60, 66, 67, 128, 129, 130, 131, 132, 133, 134, 135,
];
/// iPXE's (src/net/udp/dhcp.c dhcp_request_options_data).
const IPXE_PARAMS: &[u8] = &[
    1, 3, 6, 7, 12, 15, 17, 26, 43, 60, 66, 67, 119, 128, 129, 130, 131, 132, 133, 134, 135, 175,
    203,
];
/// iPXE's option 175: one encapsulated "bus id" entry, as a virtio-net build sends it.
const IPXE_ENCAP: &[u8] = &[177, 5, 1, 0x1a, 0xf4, 0x10, 0x00];

/// The DISCOVER `stage` on `arch` broadcasts first.
pub fn discover(arch: Arch, stage: Stage, xid: u32, mac: [u8; 6]) -> Vec<u8> {
    packet(arch, stage, DISCOVER, xid, mac, Ipv4Addr::UNSPECIFIED, &[])
}

/// The DHCPREQUEST to the proxy's port 4011. `ciaddr` is the address the machine holds (the
/// LAN's DHCP server gave it one). `boot_item` is the PXE boot menu entry picked (option 43
/// sub-option 71, layer 0): a ROM sends it when the offer carried a menu, iPXE when it does
/// boot-server discovery. iPXE also names the proxy in option 54, where the ROM does not.
pub fn proxy_request(
    arch: Arch,
    stage: Stage,
    xid: u32,
    mac: [u8; 6],
    ciaddr: Ipv4Addr,
    server_id: Option<Ipv4Addr>,
    boot_item: Option<u16>,
) -> Vec<u8> {
    let mut extra: Vec<(u8, Vec<u8>)> = Vec::new();
    if let (Stage::Ipxe, Some(id)) = (stage, server_id) {
        extra.push((54, id.octets().to_vec()));
    }
    if let Some(item) = boot_item {
        let t = item.to_be_bytes();
        extra.push((43, vec![71, 4, t[0], t[1], 0, 0, 255]));
    }
    packet(arch, stage, REQUEST, xid, mac, ciaddr, &extra)
}

/// Sets or clears the BOOTP broadcast flag: a client without an address asks for broadcast
/// replies; the proxy-DHCP rate test also measures servers without it.
pub fn set_broadcast_flag(p: &mut [u8], on: bool) {
    p[10] = if on { 0x80 } else { 0 };
}

fn packet(
    arch: Arch,
    stage: Stage,
    message_type: u8,
    xid: u32,
    mac: [u8; 6],
    ciaddr: Ipv4Addr,
    extra: &[(u8, Vec<u8>)],
) -> Vec<u8> {
    let mut p = vec![0u8; 236];
    p[0] = 1; // BOOTREQUEST
    p[1] = 1; // Ethernet
    p[2] = 6;
    p[4..8].copy_from_slice(&xid.to_be_bytes());
    // PXE clients ask for broadcast replies until they hold an address.
    set_broadcast_flag(&mut p, ciaddr.is_unspecified());
    p[12..16].copy_from_slice(&ciaddr.octets());
    p[28..34].copy_from_slice(&mac);
    p.extend_from_slice(&COOKIE);
    let mut option = |code: u8, value: &[u8]| {
        p.push(code);
        p.push(value.len() as u8);
        p.extend_from_slice(value);
    };
    let mut guid = [0u8; 17];
    guid[11..17].copy_from_slice(&mac);
    option(53, &[message_type]);
    let (arch_number, undi): (u16, &[u8]) = match arch {
        Arch::Bios => (0, &[1, 2, 1]),
        Arch::EfiX64 => (7, &[1, 3, 0]),
    };
    match stage {
        Stage::Firmware => {
            let (size, params, class): (u16, _, &[u8]) = match arch {
                Arch::Bios => (1464, BIOS_PARAMS, b"PXEClient:Arch:00000:UNDI:002001"),
                Arch::EfiX64 => (1472, OVMF_PARAMS, b"PXEClient:Arch:00007:UNDI:003016"),
            };
            option(57, &size.to_be_bytes());
            option(93, &arch_number.to_be_bytes());
            option(94, undi);
            option(97, &guid);
            option(60, class);
            option(55, params);
        }
        Stage::Ipxe => {
            let class: &[u8] = match arch {
                Arch::Bios => b"PXEClient:Arch:00000:UNDI:002001",
                Arch::EfiX64 => b"PXEClient:Arch:00007:UNDI:003010",
            };
            let mut client_id = vec![1];
            client_id.extend_from_slice(&mac);
            option(57, &1472u16.to_be_bytes());
            option(93, &arch_number.to_be_bytes());
            option(94, undi);
            option(60, class);
            option(77, b"iPXE");
            option(55, IPXE_PARAMS);
            option(175, IPXE_ENCAP);
            option(61, &client_id);
            option(97, &guid);
        }
    }
    for (code, value) in extra {
        option(*code, value);
    }
    p.push(255);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x52, 0x54, 0, 0, 0x01, 0xf4];

    /// The options of a packet, in order, with their values.
    fn options(p: &[u8]) -> Vec<(u8, Vec<u8>)> {
        assert_eq!(&p[236..240], &COOKIE);
        let mut out = Vec::new();
        let mut i = 240;
        while p[i] != 255 {
            let len = usize::from(p[i + 1]);
            out.push((p[i], p[i + 2..i + 2 + len].to_vec()));
            i += 2 + len;
        }
        assert_eq!(i, p.len() - 1, "255 ends the packet");
        out
    }

    fn get(p: &[u8], code: u8) -> Option<Vec<u8>> {
        options(p)
            .into_iter()
            .find(|(c, _)| *c == code)
            .map(|(_, v)| v)
    }

    #[test]
    fn ovmf_discover_is_arch_7_broadcast_without_user_class() {
        let p = discover(Arch::EfiX64, Stage::Firmware, 0x0102_0304, MAC);
        assert_eq!(&p[..4], &[1, 1, 6, 0]);
        assert_eq!(&p[4..8], &[1, 2, 3, 4]);
        assert_eq!(&p[10..12], &[0x80, 0]);
        assert_eq!(&p[12..16], &[0; 4]);
        assert_eq!(&p[28..34], &MAC);
        assert_eq!(get(&p, 53), Some(vec![1]));
        assert_eq!(get(&p, 93), Some(vec![0, 7]));
        assert_eq!(get(&p, 94), Some(vec![1, 3, 0]));
        assert_eq!(get(&p, 60).unwrap(), b"PXEClient:Arch:00007:UNDI:003016");
        assert_eq!(get(&p, 97).unwrap()[11..], MAC);
        assert_eq!(get(&p, 55).unwrap(), OVMF_PARAMS);
        assert_eq!(get(&p, 77), None);
        assert_eq!(get(&p, 175), None);
    }

    #[test]
    fn bios_rom_discover_is_arch_0_with_the_rom_options_in_order() {
        let mut p = discover(Arch::Bios, Stage::Firmware, 0xdead_beef, MAC);
        assert_eq!(&p[4..8], &[0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(&p[10..12], &[0x80, 0]);
        assert_eq!(&p[28..34], &MAC);
        let codes: Vec<u8> = options(&p).iter().map(|(c, _)| *c).collect();
        assert_eq!(codes, [53, 57, 93, 94, 97, 60, 55]);
        assert_eq!(get(&p, 57), Some(1464u16.to_be_bytes().to_vec()));
        assert_eq!(get(&p, 93), Some(vec![0, 0]));
        assert_eq!(get(&p, 94), Some(vec![1, 2, 1]));
        assert_eq!(get(&p, 60).unwrap(), b"PXEClient:Arch:00000:UNDI:002001");
        assert_eq!(get(&p, 55).unwrap(), BIOS_PARAMS);
        set_broadcast_flag(&mut p, false);
        assert_eq!(&p[10..12], &[0, 0]);
    }

    #[test]
    fn ipxe_discover_names_itself() {
        for (arch, class, number) in [
            (
                Arch::EfiX64,
                &b"PXEClient:Arch:00007:UNDI:003010"[..],
                [0, 7],
            ),
            (Arch::Bios, &b"PXEClient:Arch:00000:UNDI:002001"[..], [0, 0]),
        ] {
            let p = discover(arch, Stage::Ipxe, 5, MAC);
            assert_eq!(get(&p, 53), Some(vec![1]));
            assert_eq!(get(&p, 77).unwrap(), b"iPXE");
            assert_eq!(get(&p, 60).unwrap(), class);
            assert_eq!(get(&p, 93).unwrap(), number);
            assert_eq!(get(&p, 175).unwrap(), IPXE_ENCAP);
            assert_eq!(get(&p, 61).unwrap()[1..], MAC);
        }
    }

    #[test]
    fn firmware_4011_request_echoes_the_menu_item_only_when_given() {
        let ip = Ipv4Addr::new(127, 0, 0, 1);
        let p = proxy_request(
            Arch::Bios,
            Stage::Firmware,
            7,
            MAC,
            ip,
            Some(ip),
            Some(0x8000),
        );
        assert_eq!(get(&p, 53), Some(vec![3]));
        assert_eq!(&p[12..16], &[127, 0, 0, 1]);
        assert_eq!(
            &p[10..12],
            &[0, 0],
            "no broadcast flag once it has an address"
        );
        assert_eq!(get(&p, 43), Some(vec![71, 4, 0x80, 0, 0, 0, 255]));
        assert_eq!(get(&p, 54), None, "the ROM does not name the boot server");
        let p = proxy_request(Arch::EfiX64, Stage::Firmware, 7, MAC, ip, Some(ip), None);
        assert_eq!(get(&p, 43), None);
        assert_eq!(get(&p, 93), Some(vec![0, 7]));
    }

    #[test]
    fn ipxe_proxy_request_names_the_proxy() {
        let ip = Ipv4Addr::new(127, 0, 0, 1);
        let p = proxy_request(Arch::EfiX64, Stage::Ipxe, 7, MAC, ip, Some(ip), None);
        assert_eq!(get(&p, 53), Some(vec![3]));
        assert_eq!(get(&p, 54), Some(vec![127, 0, 0, 1]));
        assert_eq!(get(&p, 77).unwrap(), b"iPXE");
        assert_eq!(get(&p, 43), None);
    }
}
