//! The plan as ISC dhcpd configuration: two option definitions and one `if`/`elsif` chain over
//! the client kinds, iPXE first (the chain's order is the precedence); inside a kind, the named
//! machines with an answer of their own, then the kind's default.

use std::fmt::Write;

use netboot_manifest::{ClientKind, Protocol};

use super::{hex, Answer, Plan, Target, IPXE_USER_CLASS};

pub(super) fn render(plan: &Plan) -> String {
    let mut out = plan.header(
        "#",
        Target::Isc,
        &[
            "Paste at the top level of dhcpd.conf (option definitions must be global); the",
            "subnet declarations with their ranges stay as they are.",
        ],
    );
    out += "\noption netboot-client-arch code 93 = unsigned integer 16;\n";
    out += "option netboot-ipxe-encap code 175 = string;\n\n";
    let mut first = true;
    for k in &plan.kinds {
        let keyword = if first { "if" } else { "} elsif" };
        first = false;
        let _ = writeln!(out, "{keyword} {} {{", matches(k.kind));
        let _ = writeln!(out, "    # {}", k.kind);
        if k.hosts.is_empty() {
            body(&mut out, "    ", k.kind, k.default.as_ref(), plan);
            continue;
        }
        for (i, h) in k.hosts.iter().enumerate() {
            let keyword = if i == 0 { "if" } else { "} elsif" };
            // `hardware` is the type (1, Ethernet) followed by the address.
            let _ = writeln!(out, "    {keyword} hardware = 01:{} {{", h.mac);
            let _ = writeln!(out, "        # {}", h.name);
            body(&mut out, "        ", k.kind, h.answer.as_ref(), plan);
        }
        out += "    } else {\n";
        body(&mut out, "        ", k.kind, k.default.as_ref(), plan);
        out += "    }\n";
    }
    out += "}\n";
    out
}

/// The test for a client of `kind`; the chain's order keeps iPXE out of the later kinds.
fn matches(kind: ClientKind) -> String {
    let Some(class) = kind.vendor_class() else {
        return format!(
            "((exists user-class and (option user-class = \"{IPXE_USER_CLASS}\" \
             or option user-class = 04:{})) or exists netboot-ipxe-encap)",
            hex(IPXE_USER_CLASS, ":")
        );
    };
    let archs: Vec<String> = kind
        .architectures()
        .iter()
        .map(|a| {
            format!(
                "option netboot-client-arch = {:02x}:{:02x}",
                a >> 8,
                a & 0xff
            )
        })
        .collect();
    format!(
        "(substring(option vendor-class-identifier, 0, {}) = \"{class}\" and ({}))",
        class.len(),
        archs.join(" or ")
    )
}

fn body(out: &mut String, indent: &str, kind: ClientKind, answer: Option<&Answer>, plan: &Plan) {
    let Some(answer) = answer else {
        let _ = writeln!(out, "{indent}# no boot answer");
        return;
    };
    match answer.protocol {
        Protocol::Tftp => {
            let _ = writeln!(out, "{indent}next-server {};", plan.server);
            let _ = writeln!(out, "{indent}server-name \"{}\";", plan.server);
            let _ = writeln!(out, "{indent}option tftp-server-name \"{}\";", plan.server);
        }
        Protocol::Http if kind != ClientKind::Ipxe => {
            // UEFI HTTP Boot takes an offer only when it says HTTPClient back; added to the
            // requested options, since the firmware does not ask for option 60.
            let _ = writeln!(
                out,
                "{indent}option vendor-class-identifier \"HTTPClient\";"
            );
            let _ = writeln!(
                out,
                "{indent}option dhcp-parameter-request-list = concat(option dhcp-parameter-request-list, 3c);"
            );
        }
        Protocol::Http => {}
    }
    let _ = writeln!(out, "{indent}filename \"{}\";", answer.file);
}
