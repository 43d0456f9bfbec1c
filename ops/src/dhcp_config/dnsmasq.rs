//! The plan as dnsmasq configuration lines (`conf-file=` or a file in `/etc/dnsmasq.d/`).
//!
//! dnsmasq combines conditions through tags: `dhcp-match` and friends set tags from the
//! request, `tag-if` ANDs them into one tag per client kind, and each `dhcp-boot` line names
//! the tags it needs. The tags of different kinds (and of a named machine's own answer) never
//! hold together, so which `dhcp-boot` line dnsmasq tries first cannot matter.

use std::collections::BTreeSet;
use std::fmt::Write;

use netboot_manifest::{ClientKind, MacAddr, Protocol};

use super::{hex, Answer, Plan, Target, IPXE_USER_CLASS};

pub(super) fn render(plan: &Plan) -> String {
    let mut out = plan.header(
        "#",
        Target::Dnsmasq,
        &[
            "Add to the dnsmasq that hands out the LAN's addresses (its dhcp-range stays as",
            "it is); dnsmasq's own TFTP server is not needed. Tags are prefixed netboot-.",
        ],
    );
    out += "\n# Who is who: option 60 begins with PXEClient or HTTPClient (matched as hex, which\n";
    out += "# dnsmasq reads as a prefix), option 93 is the architecture, and iPXE says so in its\n";
    out += "# user class (77) or with its own option 175.\n";
    out += "dhcp-match=set:netboot-pxe,60,";
    out += &hex("PXEClient", ":");
    out += "\n";
    if plan.has_http_boot() {
        out += "dhcp-match=set:netboot-http,60,";
        out += &hex("HTTPClient", ":");
        out += "\n";
    }
    let archs: BTreeSet<u16> = plan
        .kinds
        .iter()
        .flat_map(|k| k.kind.architectures().iter().copied())
        .collect();
    for arch in &archs {
        let _ = writeln!(
            out,
            "dhcp-match=set:netboot-arch-{arch},option:client-arch,{arch}"
        );
    }
    let _ = writeln!(out, "dhcp-userclass=set:netboot-ipxe,{IPXE_USER_CLASS}");
    out += "dhcp-match=set:netboot-ipxe,175\n";
    for k in plan.kinds.iter().filter(|k| k.kind != ClientKind::Ipxe) {
        let class = if k.kind.is_http() {
            "netboot-http"
        } else {
            "netboot-pxe"
        };
        for arch in k.kind.architectures() {
            let _ = writeln!(
                out,
                "tag-if=set:{},tag:{class},tag:netboot-arch-{arch},tag:!netboot-ipxe",
                tag(k.kind)
            );
        }
    }

    let named: BTreeSet<(MacAddr, &str)> = plan
        .kinds
        .iter()
        .flat_map(|k| k.hosts.iter().map(|h| (h.mac, h.name.as_str())))
        .collect();
    if !named.is_empty() {
        out += "\n# Machines the fleet names whose answer differs from their kind's.\n";
        for (mac, name) in &named {
            let _ = writeln!(out, "# {name}");
            let _ = writeln!(out, "dhcp-mac=set:{},{mac}", host_tag(*mac));
        }
        for k in plan.kinds.iter().filter(|k| !k.hosts.is_empty()) {
            for h in &k.hosts {
                let _ = writeln!(
                    out,
                    "tag-if=set:{}-own,tag:{},tag:{}",
                    tag(k.kind),
                    tag(k.kind),
                    host_tag(h.mac)
                );
            }
        }
    }

    for k in &plan.kinds {
        let _ = writeln!(out, "\n# {}", k.kind);
        for h in &k.hosts {
            if let Some(answer) = &h.answer {
                let tags = format!("tag:{},tag:{}", tag(k.kind), host_tag(h.mac));
                boot_line(&mut out, &tags, answer, plan);
            }
        }
        if let Some(answer) = &k.default {
            let mut tags = format!("tag:{}", tag(k.kind));
            if !k.hosts.is_empty() {
                let _ = write!(tags, ",tag:!{}-own", tag(k.kind));
            }
            boot_line(&mut out, &tags, answer, plan);
        }
        if k.kind != ClientKind::Ipxe && k.kind.is_http() {
            // UEFI HTTP Boot takes an offer only when it says HTTPClient back; forced, since
            // the firmware does not list option 60 among those it requests.
            let _ = writeln!(out, "dhcp-option-force=tag:{},60,HTTPClient", tag(k.kind));
        }
    }
    out
}

/// A `dhcp-boot` line: a TFTP file with the server as next-server and server name, or a URL.
fn boot_line(out: &mut String, tags: &str, answer: &Answer, plan: &Plan) {
    match answer.protocol {
        Protocol::Tftp => {
            let _ = writeln!(
                out,
                "dhcp-boot={tags},{},{},{}",
                answer.file, plan.server, plan.server
            );
        }
        Protocol::Http => {
            let _ = writeln!(out, "dhcp-boot={tags},{}", answer.file);
        }
    }
}

fn tag(kind: ClientKind) -> String {
    format!("netboot-{kind}")
}

fn host_tag(mac: MacAddr) -> String {
    format!("netboot-{}", mac.hexhyp())
}
