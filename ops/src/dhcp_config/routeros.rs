//! The plan as MikroTik RouterOS 7 commands: DHCP options and option sets, chosen per client by
//! `/ip dhcp-server matcher` (RouterOS 7.4 and later).
//!
//! A matcher tests one option of the request, so this format cannot combine conditions: iPXE
//! is told apart by its user class alone and listed first, kinds by option 93 alone, and a named
//! machine cannot get an answer of its own (the header says which machines that leaves short).

use std::fmt::Write;

use netboot_manifest::{ClientKind, Protocol};

use super::{Plan, Target, IPXE_USER_CLASS};

pub(super) fn render(plan: &Plan) -> String {
    let mut needs = vec![
        "Paste into a RouterOS 7.4+ terminal. Replace dhcp1 with the name of the LAN's".to_string(),
        "DHCP server (`/ip dhcp-server print`); its network gets next-server.".to_string(),
    ];
    let own: Vec<String> = plan
        .kinds
        .iter()
        .flat_map(|k| k.hosts.iter().map(move |h| (k.kind, h)))
        .map(|(kind, h)| format!("  {} ({}) {kind}", h.name, h.mac))
        .collect();
    if !own.is_empty() {
        needs.push("RouterOS matchers cannot test a MAC and a client kind together: these".into());
        needs
            .push("machines get their kind's answer instead of their own. For iPXE that is".into());
        needs.push("the same in the end (boot.ipxe chains to each named machine's script).".into());
        needs.extend(own);
    }
    let needs: Vec<&str> = needs.iter().map(String::as_str).collect();
    let mut out = plan.header("#", Target::RouterOs, &needs);

    out += "\n/ip dhcp-server option\n";
    let _ = writeln!(
        out,
        "add name=netboot-tftp-server code=66 value=\"'{}'\"",
        plan.server
    );
    if plan.has_http_boot() {
        out += "add name=netboot-httpclient code=60 value=\"'HTTPClient'\"\n";
    }
    let answered: Vec<_> = plan
        .kinds
        .iter()
        .filter_map(|k| k.default.as_ref().map(|a| (k.kind, a)))
        .collect();
    for (kind, answer) in &answered {
        let _ = writeln!(
            out,
            "add name=netboot-{kind}-file code=67 value=\"'{}'\"",
            answer.file
        );
    }
    out += "/ip dhcp-server option sets\n";
    for (kind, answer) in &answered {
        let mut options = Vec::new();
        if answer.protocol == Protocol::Tftp {
            options.push("netboot-tftp-server".to_string());
        }
        if *kind != ClientKind::Ipxe && kind.is_http() {
            options.push("netboot-httpclient".to_string());
        }
        options.push(format!("netboot-{kind}-file"));
        let _ = writeln!(out, "add name=netboot-{kind} options={}", options.join(","));
    }
    out += "/ip dhcp-server matcher\n";
    for (kind, _) in &answered {
        if *kind == ClientKind::Ipxe {
            let _ = writeln!(
                out,
                "add name=netboot-ipxe server=dhcp1 code=77 value=\"{IPXE_USER_CLASS}\" option-set=netboot-ipxe"
            );
            continue;
        }
        // Option 93 alone cannot tell HTTP Boot from PXE on the numbers they share (7, 9, 11).
        let shared = |a: &u16| {
            ClientKind::ALL
                .iter()
                .any(|o| !o.is_http() && o.architectures().contains(a))
        };
        for arch in kind
            .architectures()
            .iter()
            .filter(|a| !(kind.is_http() && shared(a)))
        {
            let _ = writeln!(
                out,
                "add name=netboot-{kind}-{arch} server=dhcp1 code=93 value=0x{arch:04x} option-set=netboot-{kind}"
            );
        }
    }
    out += "/ip dhcp-server network\n";
    let _ = writeln!(out, "set [find] next-server={}", plan.server);
    out
}
