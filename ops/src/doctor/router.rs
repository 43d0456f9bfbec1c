//! `doctor --router`: when the LAN's DHCP server hands out the boot answers (configured from
//! `netboot dhcp-config`), one DISCOVER per client kind the fleet serves, each answer held
//! against what the fleet says that kind gets ([`Manifest::boot_target`], the rule the export
//! and netboot's own DHCP follow). Says which kinds get the wrong boot file, or none.

use std::net::Ipv4Addr;
use std::time::Duration;

use netboot_manifest::{ClientKind, MacAddr, Manifest, Protocol};

use super::probe::{self, Heard};
use super::{ipv4_of, Level, Report, Settings};

/// Probes every kind the fleet answers and reports each verdict.
pub(super) fn check(
    s: &Settings,
    manifest: &Manifest,
    mac: MacAddr,
    seconds: u64,
    report: &mut Report,
) -> Result<(), String> {
    let Some(server) = s.address else {
        report.add(
            Level::Fail,
            "--router needs the address clients must fetch from: the fleet's `address` or --address",
        );
        return Ok(());
    };
    let local: Vec<Ipv4Addr> = ipv4_of(&s.interface).into_iter().map(|(a, _)| a).collect();
    for kind in ClientKind::ALL {
        let Some(target) = manifest.boot_target(kind, Some(mac)) else {
            continue;
        };
        let expected = Expected {
            kind,
            protocol: target.protocol,
            file: target.file(server, s.http_port),
            server,
        };
        let heard = probe::probe(
            &s.interface,
            kind,
            mac,
            probe::random_xid(),
            Duration::from_secs(seconds),
        )?;
        // Only a server that offers an address is the router; netboot's own answers are not.
        let routers: Vec<&Heard> = heard
            .iter()
            .filter(|h| !h.offer.yiaddr.is_unspecified())
            .filter(|h| {
                let id = h.offer.server_id.unwrap_or(h.from);
                !(local.contains(&id) || local.contains(&h.from))
            })
            .collect();
        for (level, text) in judge(&expected, &routers, seconds) {
            report.add(level, text);
        }
    }
    Ok(())
}

/// What the fleet says a client of `kind` gets.
struct Expected {
    kind: ClientKind,
    protocol: Protocol,
    /// A TFTP path or an HTTP URL.
    file: String,
    server: Ipv4Addr,
}

/// The verdict on the routers' answers to one kind's DISCOVER.
fn judge(e: &Expected, routers: &[&Heard], seconds: u64) -> Vec<(Level, String)> {
    let kind = e.kind;
    if routers.is_empty() {
        return vec![(
            Level::Fail,
            format!(
                "{kind}: no DHCP server answered in {seconds} s (the fleet says {})",
                e.file
            ),
        )];
    }
    routers
        .iter()
        .map(|h| {
            let o = &h.offer;
            let who = h.from;
            let wrong = match &o.boot_file {
                None => Some("no boot file".to_string()),
                Some(f) if *f != e.file => Some(format!("boot file {f}")),
                Some(_) if e.protocol == Protocol::Tftp && o.siaddr != e.server => {
                    Some(format!("next-server {}", o.siaddr))
                }
                Some(_)
                    if kind != ClientKind::Ipxe
                        && kind.is_http()
                        && !o
                            .vendor_class
                            .as_deref()
                            .is_some_and(|v| v.starts_with("HTTPClient")) =>
                {
                    Some("no option 60 HTTPClient (UEFI HTTP Boot ignores such an offer)".into())
                }
                Some(_) => None,
            };
            let says = match e.protocol {
                Protocol::Tftp => format!("{} from {}", e.file, e.server),
                Protocol::Http => e.file.clone(),
            };
            match wrong {
                Some(what) => (
                    Level::Fail,
                    format!("{kind}: {who} gives {what}; the fleet says {says} (export it again with `netboot dhcp-config`)"),
                ),
                None => (Level::Ok, format!("{kind}: {who} gives {says}, as the fleet says")),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use netboot_runtime::dhcp::Offer;

    use super::*;

    const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
    const ROUTER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

    fn heard(file: Option<&str>, siaddr: Ipv4Addr, class: Option<&str>) -> Heard {
        Heard {
            from: ROUTER,
            mac: None,
            offer: Offer {
                message_type: "OFFER".into(),
                xid: 1,
                chaddr: MacAddr([2, 0, 0, 0, 0, 1]),
                yiaddr: Ipv4Addr::new(10, 0, 0, 100),
                siaddr,
                server_id: Some(ROUTER),
                server_name: None,
                boot_file: file.map(str::to_string),
                vendor_class: class.map(str::to_string),
                vendor_options: None,
                client_guid_echoed: false,
            },
        }
    }

    fn expected(kind: ClientKind, protocol: Protocol, file: &str) -> Expected {
        Expected {
            kind,
            protocol,
            file: file.into(),
            server: SERVER,
        }
    }

    fn levels(e: &Expected, h: Option<Heard>) -> Vec<(Level, String)> {
        let list: Vec<&Heard> = h.iter().collect();
        judge(e, &list, 3)
    }

    #[test]
    fn the_right_file_from_the_right_server_passes() {
        let e = expected(ClientKind::Bios, Protocol::Tftp, "undionly.kpxe");
        let v = levels(&e, Some(heard(Some("undionly.kpxe"), SERVER, None)));
        assert_eq!(v[0].0, Level::Ok, "{v:?}");
    }

    #[test]
    fn wrong_none_or_elsewhere_fails_and_says_what_the_fleet_wants() {
        let e = expected(ClientKind::EfiX64, Protocol::Tftp, "ipxe.efi");
        for (h, what) in [
            (
                heard(Some("undionly.kpxe"), SERVER, None),
                "boot file undionly.kpxe",
            ),
            (heard(None, SERVER, None), "no boot file"),
            (
                heard(Some("ipxe.efi"), ROUTER, None),
                "next-server 10.0.0.1",
            ),
        ] {
            let v = levels(&e, Some(h));
            assert_eq!(v[0].0, Level::Fail, "{v:?}");
            assert!(v[0].1.contains(what), "{v:?}");
            assert!(
                v[0].1.contains("the fleet says ipxe.efi from 10.0.0.2"),
                "{v:?}"
            );
        }
        let v = levels(&e, None);
        assert_eq!(v[0].0, Level::Fail);
        assert!(v[0].1.contains("no DHCP server answered"), "{v:?}");
    }

    #[test]
    fn http_boot_needs_httpclient_echoed() {
        let url = "http://10.0.0.2:8080/ipxe.efi";
        let e = expected(ClientKind::HttpX64, Protocol::Http, url);
        let v = levels(&e, Some(heard(Some(url), ROUTER, None)));
        assert_eq!(v[0].0, Level::Fail, "{v:?}");
        assert!(v[0].1.contains("HTTPClient"), "{v:?}");
        let v = levels(&e, Some(heard(Some(url), ROUTER, Some("HTTPClient"))));
        assert_eq!(v[0].0, Level::Ok, "{v:?}");
    }
}
