//! Telling what kind of boot client sent a request, from options 60, 77, 93 and 175.
//!
//! Only clients that name themselves `PXEClient` or `HTTPClient` in option 60 are ours: an
//! ordinary laptop asking for an address never matches, so the proxy cannot act as a rogue
//! DHCP server.

use netboot_manifest::ClientKind;

use super::options::Options;

const VENDOR_CLASS: u8 = 60;
const USER_CLASS: u8 = 77;
const CLIENT_ARCH: u8 = 93;
/// iPXE's encapsulated options; only iPXE sends it.
const IPXE_ENCAP: u8 = 175;

/// Which vendor class the client announced; the reply echoes it back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VendorClass {
    PxeClient,
    HttpClient,
}

impl VendorClass {
    /// The bytes put into the reply's option 60.
    pub fn as_bytes(self) -> &'static [u8] {
        match self {
            VendorClass::PxeClient => b"PXEClient",
            VendorClass::HttpClient => b"HTTPClient",
        }
    }
}

/// A recognised boot client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client {
    pub kind: ClientKind,
    pub class: VendorClass,
    /// RFC 4578 architecture number, when the client gave one.
    pub arch: Option<u16>,
}

/// Why a request is not from a boot client we serve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotOurs {
    #[error("no vendor class (option 60): not a PXE or HTTP boot client")]
    NoVendorClass,
    #[error("vendor class {0:?} is not PXEClient or HTTPClient")]
    OtherVendorClass(String),
    #[error("no client architecture in option 93 or option 60")]
    NoArch,
    #[error("client architecture {0} is not one netboot serves (0, 7, 9, 11, 16, 19)")]
    UnsupportedArch(u16),
}

/// Classifies a request by its options.
pub fn classify(options: &Options) -> Result<Client, NotOurs> {
    let vendor = options.get(VENDOR_CLASS).ok_or(NotOurs::NoVendorClass)?;
    let class = if vendor.starts_with(b"PXEClient") {
        VendorClass::PxeClient
    } else if vendor.starts_with(b"HTTPClient") {
        VendorClass::HttpClient
    } else {
        return Err(NotOurs::OtherVendorClass(
            String::from_utf8_lossy(vendor).into_owned(),
        ));
    };
    let arch = arch_from_option(options).or_else(|| arch_from_vendor_class(vendor));
    if is_ipxe(options) {
        return Ok(Client {
            kind: ClientKind::Ipxe,
            class,
            arch,
        });
    }
    let number = arch.ok_or(NotOurs::NoArch)?;
    let http = class == VendorClass::HttpClient;
    // The table is the manifest's, which the exported router configurations match on too.
    let kind = ClientKind::ALL
        .into_iter()
        .find(|k| k.is_http() == http && k.architectures().contains(&number))
        .ok_or(NotOurs::UnsupportedArch(number))?;
    Ok(Client { kind, class, arch })
}

/// iPXE marks itself with user class `iPXE` (sent raw, or RFC 3004 length-prefixed by some
/// builds) and always carries its option 175.
fn is_ipxe(options: &Options) -> bool {
    if options.get(IPXE_ENCAP).is_some() {
        return true;
    }
    matches!(options.get(USER_CLASS), Some(b"iPXE") | Some(b"\x04iPXE"))
}

/// First architecture in option 93 (a list of 16-bit numbers).
fn arch_from_option(options: &Options) -> Option<u16> {
    match options.get(CLIENT_ARCH)? {
        [hi, lo, ..] => Some(u16::from_be_bytes([*hi, *lo])),
        _ => None,
    }
}

/// `PXEClient:Arch:00007:UNDI:003016` carries the architecture in decimal.
fn arch_from_vendor_class(vendor: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(vendor).ok()?;
    let mut parts = text.split(':');
    parts.next()?;
    if parts.next()? != "Arch" {
        return None;
    }
    let digits = parts.next()?;
    if digits.is_empty() || digits.len() > 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(list: &[(u8, &[u8])]) -> Options {
        let mut area = Vec::new();
        for (code, value) in list {
            area.push(*code);
            area.push(value.len() as u8);
            area.extend_from_slice(value);
        }
        area.push(255);
        Options::parse(&area, &[], &[]).unwrap()
    }

    #[test]
    fn kinds_from_arch_and_class() {
        let cases: &[(&[u8], &[u8], ClientKind)] = &[
            (
                b"PXEClient:Arch:00000:UNDI:002001",
                &[0, 0],
                ClientKind::Bios,
            ),
            (
                b"PXEClient:Arch:00007:UNDI:003016",
                &[0, 7],
                ClientKind::EfiX64,
            ),
            (
                b"PXEClient:Arch:00009:UNDI:003016",
                &[0, 9],
                ClientKind::EfiX64,
            ),
            (
                b"PXEClient:Arch:00011:UNDI:003016",
                &[0, 11],
                ClientKind::EfiArm64,
            ),
            (
                b"HTTPClient:Arch:00016:UNDI:003001",
                &[0, 16],
                ClientKind::HttpX64,
            ),
            (
                b"HTTPClient:Arch:00019:UNDI:003001",
                &[0, 19],
                ClientKind::HttpArm64,
            ),
        ];
        for (vendor, arch, kind) in cases {
            let c = classify(&opts(&[(60, vendor), (93, arch)])).unwrap();
            assert_eq!(c.kind, *kind, "{}", String::from_utf8_lossy(vendor));
            // Without option 93 the vendor class alone tells the same.
            assert_eq!(classify(&opts(&[(60, vendor)])).unwrap().kind, *kind);
        }
    }

    #[test]
    fn ipxe_wins_over_arch() {
        let v: &[u8] = b"PXEClient:Arch:00000:UNDI:002001";
        let c = classify(&opts(&[(60, v), (93, &[0, 0]), (77, b"iPXE")])).unwrap();
        assert_eq!(c.kind, ClientKind::Ipxe);
        let c = classify(&opts(&[
            (60, v),
            (175, &[177, 5, 1, 0x10, 0xec, 0x81, 0x39]),
        ]))
        .unwrap();
        assert_eq!(c.kind, ClientKind::Ipxe);
    }

    #[test]
    fn others_are_not_ours() {
        assert_eq!(
            classify(&opts(&[(12, b"laptop")])),
            Err(NotOurs::NoVendorClass)
        );
        assert!(matches!(
            classify(&opts(&[(60, b"MSFT 5.0")])),
            Err(NotOurs::OtherVendorClass(_))
        ));
        assert_eq!(classify(&opts(&[(60, b"PXEClient")])), Err(NotOurs::NoArch));
        assert_eq!(
            classify(&opts(&[(60, b"PXEClient"), (93, &[0, 6])])),
            Err(NotOurs::UnsupportedArch(6))
        );
        assert_eq!(
            classify(&opts(&[(60, b"PXEClient:Arch:99999999")])),
            Err(NotOurs::NoArch)
        );
    }
}
