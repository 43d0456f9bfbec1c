//! The plan as Kea client classes (`"client-classes"` in `Dhcp4`).
//!
//! Each class's test is written so that no two classes hold for one client (iPXE is left out
//! of every other kind, a kind's default leaves out the named machines with an answer of
//! their own), so Kea's rule for which class's boot fields win never comes into play.

use std::fmt::Write;

use netboot_manifest::{ClientKind, MacAddr, Protocol};

use super::{hex, Answer, Plan, Target, IPXE_USER_CLASS};

pub(super) fn render(plan: &Plan) -> String {
    let mut out = plan.header(
        "//",
        Target::Kea,
        &[
            "Add the \"client-classes\" list below to the \"Dhcp4\" object of kea-dhcp4.conf",
            "(merge it with a list you have); subnets, pools and interfaces stay as they are.",
        ],
    );
    let mut classes = Vec::new();
    for k in &plan.kinds {
        for h in &k.hosts {
            if let Some(answer) = &h.answer {
                let test = format!("{} and {}", matches(k.kind), mac_test(h.mac));
                let name = format!("netboot-{}-{}", k.kind, h.mac.hexhyp());
                classes.push(class(&name, &h.name, &test, k.kind, answer, plan));
            }
        }
        if let Some(answer) = &k.default {
            let mut test = matches(k.kind);
            if !k.hosts.is_empty() {
                let own: Vec<String> = k.hosts.iter().map(|h| mac_test(h.mac)).collect();
                let _ = write!(test, " and not ({})", own.join(" or "));
            }
            let name = format!("netboot-{}", k.kind);
            classes.push(class(&name, "", &test, k.kind, answer, plan));
        }
    }
    out += "\"client-classes\": [\n";
    out += &classes.join(",\n");
    out += "\n]\n";
    out
}

fn ipxe_test() -> String {
    format!(
        "(option[77].hex == '{IPXE_USER_CLASS}' or option[77].hex == 0x04{} or option[175].exists)",
        hex(IPXE_USER_CLASS, "")
    )
}

/// The test for a client of `kind`, iPXE left out of every other kind.
fn matches(kind: ClientKind) -> String {
    let Some(vendor) = kind.vendor_class() else {
        return ipxe_test();
    };
    let archs: Vec<String> = kind
        .architectures()
        .iter()
        .map(|a| format!("substring(option[93].hex,0,2) == 0x{a:04x}"))
        .collect();
    format!(
        "substring(option[60].hex,0,{}) == '{vendor}' and ({}) and not {}",
        vendor.len(),
        archs.join(" or "),
        ipxe_test()
    )
}

fn mac_test(mac: MacAddr) -> String {
    format!("pkt4.mac == 0x{}", mac.to_string().replace(':', ""))
}

fn class(
    name: &str,
    comment: &str,
    test: &str,
    kind: ClientKind,
    answer: &Answer,
    plan: &Plan,
) -> String {
    let q = |s: &str| serde_json::to_string(s).expect("strings always serialise");
    let mut fields = vec![format!("\"name\": {}", q(name))];
    if !comment.is_empty() {
        fields.push(format!("\"comment\": {}", q(comment)));
    }
    fields.push(format!("\"test\": {}", q(test)));
    match answer.protocol {
        Protocol::Tftp => {
            let server = q(&plan.server.to_string());
            fields.push(format!("\"next-server\": {server}"));
            fields.push(format!("\"server-hostname\": {server}"));
            fields.push(format!(
                "\"option-data\": [ {{ \"name\": \"tftp-server-name\", \"data\": {server} }} ]"
            ));
        }
        // UEFI HTTP Boot takes an offer only when it says HTTPClient back, and does not ask
        // for option 60: always sent.
        Protocol::Http if kind != ClientKind::Ipxe => fields.push(
            "\"option-data\": [ { \"name\": \"vendor-class-identifier\", \"data\": \"HTTPClient\", \"always-send\": true } ]"
                .into(),
        ),
        Protocol::Http => {}
    }
    fields.push(format!("\"boot-file-name\": {}", q(&answer.file)));
    format!("  {{\n    {}\n  }}", fields.join(",\n    "))
}
