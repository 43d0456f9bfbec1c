//! What DHCP tells a boot client to fetch: the one rule the runtime's DHCP answers and the
//! exported router configurations (`netboot dhcp-config`) both follow, so a router configured
//! from the export hands out exactly what netboot itself would.

use std::net::Ipv4Addr;

use crate::{ClientKind, MacAddr, Manifest, Protocol};

/// The boot file of one answer, before it is addressed to a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootTarget<'m> {
    pub protocol: Protocol,
    /// A key of [`Manifest::files`].
    pub path: &'m str,
}

impl BootTarget<'_> {
    /// The boot file as the client sees it: the TFTP path itself (the server goes into
    /// next-server), or the full HTTP URL on `addr`:`http_port`.
    pub fn file(&self, addr: Ipv4Addr, http_port: u16) -> String {
        match self.protocol {
            Protocol::Tftp => self.path.to_string(),
            Protocol::Http => http_url(addr, http_port, self.path),
        }
    }
}

/// `http://addr:port/path`, with every byte of `path` outside the URL-safe set
/// percent-encoded (a route may hold spaces or non-ASCII names).
pub fn http_url(addr: Ipv4Addr, http_port: u16, path: &str) -> String {
    let mut url = format!("http://{addr}:{http_port}/");
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            url.push(char::from(b));
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url
}

impl Manifest {
    /// What DHCP hands a `kind` client with `mac` (`None`: a machine the fleet does not name):
    /// its kind's loader (the Secure Boot chain's for a machine that boots through it), except
    /// that an iPXE client the fleet names gets its own host script. `None` when the manifest
    /// has no answer for the kind.
    pub fn boot_target(&self, kind: ClientKind, mac: Option<MacAddr>) -> Option<BootTarget<'_>> {
        let host = mac.and_then(|m| self.hosts.get(&m));
        let entry = self.loader_for_host(kind, host)?;
        let path = match host {
            Some(h) if kind == ClientKind::Ipxe => h.script.as_str(),
            _ => entry.path.as_str(),
        };
        Some(BootTarget {
            protocol: entry.protocol,
            path,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::{BootAnswer, Host, SecureBoot};

    fn answer(protocol: Protocol, path: &str) -> BootAnswer {
        BootAnswer {
            protocol,
            path: path.into(),
        }
    }

    fn manifest() -> Manifest {
        let mut m = Manifest::serving(BTreeMap::new(), ".");
        m.dhcp
            .insert(ClientKind::Bios, answer(Protocol::Tftp, "undionly.kpxe"));
        m.dhcp
            .insert(ClientKind::EfiX64, answer(Protocol::Tftp, "ipxe.efi"));
        m.dhcp
            .insert(ClientKind::Ipxe, answer(Protocol::Http, "boot.ipxe"));
        m.secure_boot = Some(SecureBoot {
            dhcp: [(ClientKind::EfiX64, answer(Protocol::Tftp, "sb/shimx64.efi"))].into(),
            default: false,
        });
        m.hosts.insert(
            "52:54:00:00:00:01".parse().unwrap(),
            Host {
                name: "web1".into(),
                group: None,
                boots: "profile:p".into(),
                script: "hosts/52-54-00-00-00-01.ipxe".into(),
                install: None,
                secure_boot: true,
            },
        );
        m
    }

    #[test]
    fn named_machines_get_their_script_and_chain_unnamed_ones_the_kinds_answer() {
        let m = manifest();
        let named = Some("52:54:00:00:00:01".parse().unwrap());
        let stranger = Some("52:54:00:00:00:09".parse().unwrap());
        let path = |kind, mac| m.boot_target(kind, mac).map(|t| t.path);
        assert_eq!(
            path(ClientKind::Ipxe, named),
            Some("hosts/52-54-00-00-00-01.ipxe")
        );
        assert_eq!(path(ClientKind::Ipxe, stranger), Some("boot.ipxe"));
        assert_eq!(path(ClientKind::Ipxe, None), Some("boot.ipxe"));
        assert_eq!(path(ClientKind::EfiX64, named), Some("sb/shimx64.efi"));
        assert_eq!(path(ClientKind::EfiX64, None), Some("ipxe.efi"));
        assert_eq!(path(ClientKind::Bios, named), Some("undionly.kpxe"));
        assert_eq!(path(ClientKind::HttpX64, None), None);
    }

    #[test]
    fn http_answers_are_urls_and_tftp_answers_bare_paths() {
        let m = manifest();
        let addr = Ipv4Addr::new(10, 0, 0, 1);
        let ipxe = m.boot_target(ClientKind::Ipxe, None).unwrap();
        assert_eq!(ipxe.file(addr, 8080), "http://10.0.0.1:8080/boot.ipxe");
        let bios = m.boot_target(ClientKind::Bios, None).unwrap();
        assert_eq!(bios.file(addr, 8080), "undionly.kpxe");
        assert_eq!(
            http_url(addr, 80, "a b/é.ipxe"),
            "http://10.0.0.1:80/a%20b/%C3%A9.ipxe"
        );
    }
}
