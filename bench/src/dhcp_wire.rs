//! The reading of the OFFER that answers a client's DHCP request (`firmware_dhcp` builds the
//! requests).

use std::net::Ipv4Addr;

pub(crate) const COOKIE: [u8; 4] = [99, 130, 83, 99];

/// What the client checks in a reply.
#[derive(Debug, PartialEq, Eq)]
pub struct Reply {
    pub xid: u32,
    pub message_type: Option<u8>,
    pub vendor_class: Vec<u8>,
    /// The boot file, from the `file` field or option 67.
    pub boot_file: String,
    /// Option 43 present (PXE vendor options: menu, discovery control).
    pub pxe_options: bool,
    /// `siaddr`: the next server of a BOOTP reply.
    pub siaddr: Ipv4Addr,
    /// Option 54, the server identifier: where the 4011 request goes.
    pub server_id: Option<Ipv4Addr>,
    /// Option 66, the TFTP server name (netboot sends the address as text).
    pub tftp_server: Option<String>,
    /// The first item of a PXE boot menu (option 43 sub-option 9), by boot server type: what a
    /// PXE ROM with no user at the keyboard picks and echoes in its 4011 request.
    pub menu_item: Option<u16>,
}

impl Reply {
    /// The TFTP server of the boot file: siaddr, else option 66, else the server identifier.
    pub fn next_server(&self) -> Option<Ipv4Addr> {
        if !self.siaddr.is_unspecified() {
            return Some(self.siaddr);
        }
        self.tftp_server
            .as_deref()
            .and_then(|s| s.parse().ok())
            .or(self.server_id)
    }
}

impl Reply {
    /// A proxy OFFER a PXE ROM would act on: DHCPOFFER, `PXEClient` echoed, and either a boot
    /// file or PXE vendor options (dnsmasq's pxe-service answers with a boot menu in option 43).
    pub fn is_pxe_offer(&self) -> bool {
        self.message_type == Some(2)
            && self.vendor_class.starts_with(b"PXEClient")
            && (!self.boot_file.is_empty() || self.pxe_options)
    }
}

/// Reads a BOOTREPLY; anything else is an error.
pub fn parse_reply(buf: &[u8]) -> Result<Reply, String> {
    if buf.len() < 240 || buf[236..240] != COOKIE {
        return Err(format!("{}-byte packet is not a DHCP message", buf.len()));
    }
    if buf[0] != 2 {
        return Err("not a BOOTREPLY".into());
    }
    let file_field = &buf[108..236];
    let end = file_field
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(file_field.len());
    let mut reply = Reply {
        xid: u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]),
        message_type: None,
        vendor_class: Vec::new(),
        boot_file: String::from_utf8_lossy(&file_field[..end]).into_owned(),
        pxe_options: false,
        siaddr: Ipv4Addr::new(buf[20], buf[21], buf[22], buf[23]),
        server_id: None,
        tftp_server: None,
        menu_item: None,
    };
    let mut i = 240;
    while i < buf.len() {
        let code = buf[i];
        if code == 255 {
            break;
        }
        if code == 0 {
            i += 1;
            continue;
        }
        let len = *buf.get(i + 1).ok_or("option without a length")? as usize;
        let value = buf
            .get(i + 2..i + 2 + len)
            .ok_or("option runs past the packet")?;
        match code {
            53 => reply.message_type = value.first().copied(),
            60 => reply.vendor_class = value.to_vec(),
            43 => {
                reply.pxe_options = true;
                reply.menu_item = first_menu_item(value);
            }
            54 => {
                if let Ok(ip) = <[u8; 4]>::try_from(value) {
                    reply.server_id = Some(Ipv4Addr::from(ip));
                }
            }
            66 => {
                reply.tftp_server = Some(
                    String::from_utf8_lossy(value)
                        .trim_end_matches('\0')
                        .to_string(),
                );
            }
            67 if reply.boot_file.is_empty() => {
                reply.boot_file = String::from_utf8_lossy(value)
                    .trim_end_matches('\0')
                    .to_string();
            }
            _ => {}
        }
        i += 2 + len;
    }
    Ok(reply)
}

/// The boot server type of the first entry of the PXE boot menu (sub-option 9 of option 43:
/// entries of type u16, description length u8, description), if the options carry one.
fn first_menu_item(vendor: &[u8]) -> Option<u16> {
    let mut i = 0;
    while i < vendor.len() {
        let code = vendor[i];
        match code {
            255 => return None,
            0 => {
                i += 1;
                continue;
            }
            _ => {}
        }
        let len = usize::from(*vendor.get(i + 1)?);
        let value = vendor.get(i + 2..i + 2 + len)?;
        if code == 9 {
            return match value {
                [hi, lo, ..] => Some(u16::from_be_bytes([*hi, *lo])),
                _ => None,
            };
        }
        i += 2 + len;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firmware_dhcp::{self, Arch, Stage};

    fn offer(xid: u32, file: &str, options: &[(u8, &[u8])]) -> Vec<u8> {
        let mut p = vec![0u8; 236];
        p[0] = 2;
        p[4..8].copy_from_slice(&xid.to_be_bytes());
        p[108..108 + file.len()].copy_from_slice(file.as_bytes());
        p.extend_from_slice(&COOKIE);
        for (code, value) in options {
            p.push(*code);
            p.push(value.len() as u8);
            p.extend_from_slice(value);
        }
        p.push(255);
        p
    }

    #[test]
    fn reads_an_offer_with_a_boot_file() {
        let r = parse_reply(&offer(
            7,
            "undionly.kpxe",
            &[(53, &[2]), (60, b"PXEClient")],
        ))
        .unwrap();
        assert_eq!(r.xid, 7);
        assert_eq!(r.boot_file, "undionly.kpxe");
        assert!(r.is_pxe_offer());
    }

    #[test]
    fn an_offer_with_only_a_pxe_menu_counts() {
        let r = parse_reply(&offer(
            7,
            "",
            &[(53, &[2]), (60, b"PXEClient"), (43, &[6, 1, 8])],
        ))
        .unwrap();
        assert!(r.is_pxe_offer());
        let r = parse_reply(&offer(7, "", &[(53, &[2]), (60, b"PXEClient")])).unwrap();
        assert!(!r.is_pxe_offer());
    }

    #[test]
    fn reads_dnsmasq_proxy_offer_with_a_boot_menu() {
        // dnsmasq 2.90 in proxy mode with `--pxe-service=tag:!ipxe,x86PC,"netboot BIOS",
        // undionly.kpxe`, answering a BIOS PXE ROM's DISCOVER (captured on lo).
        let hex: String = include_str!("fixtures/dnsmasq_proxy_offer_bios.hex")
            .split_whitespace()
            .collect();
        let r = parse_reply(&hex::decode(hex).unwrap()).unwrap();
        assert_eq!(r.xid, 0x1234);
        assert_eq!(r.message_type, Some(2));
        assert_eq!(r.vendor_class, b"PXEClient");
        // No boot file and no siaddr: the ROM must ask the boot server on 4011.
        assert_eq!(r.boot_file, "");
        assert_eq!(r.siaddr, Ipv4Addr::UNSPECIFIED);
        assert_eq!(r.server_id, Some(Ipv4Addr::LOCALHOST));
        assert_eq!(r.menu_item, Some(0x8000));
        assert_eq!(r.next_server(), Some(Ipv4Addr::LOCALHOST));
        assert!(r.is_pxe_offer());
    }

    #[test]
    fn next_server_prefers_siaddr_then_option_66() {
        let mut p = offer(
            1,
            "f",
            &[(53, &[5]), (66, b"127.0.0.9"), (54, &[127, 0, 0, 8])],
        );
        let r = parse_reply(&p).unwrap();
        assert_eq!(r.next_server(), Some(Ipv4Addr::new(127, 0, 0, 9)));
        p[20..24].copy_from_slice(&[127, 0, 0, 7]);
        let r = parse_reply(&p).unwrap();
        assert_eq!(r.next_server(), Some(Ipv4Addr::new(127, 0, 0, 7)));
    }

    #[test]
    fn menu_item_skips_other_sub_options_and_survives_garbage() {
        assert_eq!(
            first_menu_item(&[6, 1, 3, 9, 5, 0x80, 2, 1, b'x', 0, 255]),
            Some(0x8002)
        );
        assert_eq!(first_menu_item(&[6, 1, 8, 255]), None);
        assert_eq!(first_menu_item(&[9, 9, 0x80]), None);
        assert_eq!(first_menu_item(&[9, 1, 0x80]), None);
    }

    #[test]
    fn rejects_requests_truncation_and_garbage() {
        let request = firmware_dhcp::discover(Arch::Bios, Stage::Firmware, 1, [0; 6]);
        assert!(parse_reply(&request).is_err());
        let mut p = offer(1, "", &[(53, &[2])]);
        p.truncate(p.len() - 2);
        assert!(parse_reply(&p).is_err());
        assert!(parse_reply(b"hello").is_err());
    }
}
