//! `dhcp "full" { … }` in the server block: the settings of full-DHCP mode.
//!
//! ```kdl
//! dhcp "full" {
//!     range "10.0.0.100" "10.0.0.200"   // required, inclusive
//!     lease-time 3600                  // seconds, default 3600, at least 60
//!     router "10.0.0.1"                // optional: isolated labs usually have none
//!     dns "10.0.0.1" "10.0.0.2"        // optional, one or more
//!     subnet "10.78.0.0/24" {          // optional, repeatable: a subnet behind a DHCP relay
//!         range "10.78.0.100" "10.78.0.199"
//!         router "10.78.0.1"           // optional: default the relay's address (giaddr)
//!     }
//! }
//! ```
//!
//! The subnet mask is deliberately not a setting: the runtime takes it from the interface
//! holding the server address, so it cannot disagree with the network.

use std::net::Ipv4Addr;

use kdl::{KdlEntry, KdlNode};
use netboot_manifest::FullDhcpConfig;

use super::values::{children, name_span, positional, Decoder};
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Span};
use crate::fleet::Spanned;

const CHILDREN: &[&str] = &["range", "lease-time", "router", "dns", "subnet"];
/// An hour: long enough that a lab's machines are not renewing all the time, short enough
/// that a machine taken away frees its address the same day.
pub const DEFAULT_LEASE_SECS: u32 = 3600;
const EXAMPLE: &str = "dhcp \"full\" { range \"10.0.0.100\" \"10.0.0.200\" }";

impl Decoder<'_> {
    /// Decodes the block of `node` (`dhcp "full" { … }`); `mode` is the `"full"` value.
    pub(super) fn full_dhcp(&mut self, node: &KdlNode, mode: Span) -> Option<FullDhcpConfig> {
        let mut seen = Vec::new();
        let mut range = None;
        let mut lease_time = None;
        let mut router = None;
        let mut dns = Vec::new();
        let mut subnets = Vec::new();
        let mut ok = true;
        for child in children(node) {
            let key = child.name().value();
            if !CHILDREN.contains(&key) {
                self.unknown_node(child, CHILDREN, "in `dhcp \"full\"`");
                ok = false;
                continue;
            }
            if key == "subnet" {
                match self.relayed_subnet(child) {
                    Some(subnet) => subnets.push(subnet),
                    None => ok = false,
                }
                continue;
            }
            if !self.once(&mut seen, child) {
                ok = false;
                continue;
            }
            let max = match key {
                "range" => 2,
                "dns" => usize::MAX,
                _ => 1,
            };
            ok &= !self.check_entries(child, max, &[]);
            self.no_children(child);
            match key {
                "range" => match self.range_arg(child) {
                    Some(r) => range = Some(r),
                    None => ok = false,
                },
                "lease-time" => {
                    let Some(e) = positional(child).first().copied() else {
                        self.string_arg(child, 0, "a number of seconds", "lease-time 3600");
                        ok = false;
                        continue;
                    };
                    let Some(n) = self.int_entry(e, "`lease-time`") else {
                        ok = false;
                        continue;
                    };
                    match u32::try_from(n.value) {
                        Ok(secs) if secs >= 60 => lease_time = Some(secs),
                        _ => {
                            self.error(
                                Code::BadLeaseTime,
                                format!("a lease of {} seconds is out of range", n.value),
                                n.span,
                                "out of range",
                                "leases are 60 seconds to about 136 years; an hour is `lease-time 3600`".into(),
                            );
                            ok = false;
                        }
                    }
                }
                "router" => match self.ipv4_args(child, "router \"10.0.0.1\"") {
                    Some(ips) => router = ips.first().map(|s| s.value),
                    None => ok = false,
                },
                "dns" => match self.ipv4_args(child, "dns \"10.0.0.1\"") {
                    Some(ips) => dns = ips.into_iter().map(|s| s.value).collect(),
                    None => ok = false,
                },
                _ => unreachable!("checked against CHILDREN"),
            }
        }
        let Some((first, last)) = range else {
            if ok {
                self.error(
                    Code::MissingValue,
                    "full DHCP needs a `range` of addresses to lease".into(),
                    mode,
                    "no range given",
                    format!("write it like `{EXAMPLE}`"),
                );
            }
            return None;
        };
        ok &= self.no_overlaps((&first, &last), &subnets);
        ok.then_some(FullDhcpConfig {
            first: first.value,
            last: last.value,
            lease_time: lease_time.unwrap_or(DEFAULT_LEASE_SECS),
            router,
            dns,
            subnets: subnets.into_iter().map(|s| s.manifest()).collect(),
        })
    }

    /// `range FIRST LAST`, both addresses, the lower first.
    pub(super) fn range_arg(
        &mut self,
        child: &KdlNode,
    ) -> Option<(Spanned<Ipv4Addr>, Spanned<Ipv4Addr>)> {
        match self.ipv4_args(child, "range \"10.0.0.100\" \"10.0.0.200\"")? {
            ips if ips.len() == 2 => {
                let (first, last) = (ips[0].clone(), ips[1].clone());
                if u32::from(first.value) > u32::from(last.value) {
                    self.push(
                        Diagnostic::new(
                            Code::BadRange,
                            format!("the range {}-{} is backwards", first.value, last.value),
                        )
                        .label(first.span, "first address")
                        .label(last.span, "is after the last")
                        .help("write the lower address first"),
                    );
                    None
                } else {
                    Some((first, last))
                }
            }
            _ => {
                self.error(
                    Code::MissingValue,
                    "`range` needs its first and last address".into(),
                    name_span(child),
                    "needs two addresses",
                    "write it like `range \"10.0.0.100\" \"10.0.0.200\"`".into(),
                );
                None
            }
        }
    }

    /// Every positional value of `node` as an IPv4 address; at least one must be there.
    pub(super) fn ipv4_args(
        &mut self,
        node: &KdlNode,
        example: &str,
    ) -> Option<Vec<Spanned<Ipv4Addr>>> {
        let entries: Vec<&KdlEntry> = positional(node);
        if entries.is_empty() {
            self.string_arg(node, 0, "an IPv4 address", example);
            return None;
        }
        let mut out = Vec::new();
        let mut ok = true;
        for e in entries {
            let Some(s) = self.string_entry(e, "an address") else {
                ok = false;
                continue;
            };
            match s.value.parse::<Ipv4Addr>() {
                Ok(ip) => out.push(Spanned::new(ip, s.span)),
                Err(_) => {
                    self.error(
                        Code::BadIp,
                        format!("`{}` is not an IPv4 address", s.value),
                        s.span,
                        "not an IPv4 address",
                        "write a dotted quad like `10.0.0.1`".into(),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use netboot_manifest::{DhcpMode, FullDhcpConfig, RelayedSubnet};
    use std::net::Ipv4Addr;

    fn compile(server: &str) -> Result<crate::Compiled, crate::Failure> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fleet.kdl");
        std::fs::write(
            &path,
            format!("server {{ {server} }}\nprofile \"p\" {{ exit }}\ndefault profile=\"p\"\n"),
        )
        .unwrap();
        crate::compile(&path, &crate::ServerOverrides::default())
    }

    #[test]
    fn full_mode_reaches_the_manifest_with_its_defaults() {
        let c = compile(
            r#"interface "br0"; dhcp "full" { range "10.0.0.100" "10.0.0.200"; router "10.0.0.1"; dns "10.0.0.1" "10.0.0.2"; }"#,
        )
        .unwrap();
        assert_eq!(
            c.manifest.server.dhcp,
            DhcpMode::Full(FullDhcpConfig {
                first: Ipv4Addr::new(10, 0, 0, 100),
                last: Ipv4Addr::new(10, 0, 0, 200),
                lease_time: super::DEFAULT_LEASE_SECS,
                router: Some(Ipv4Addr::new(10, 0, 0, 1)),
                dns: vec![Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2)],
                subnets: vec![],
            })
        );
        // --no-dhcp still wins over the fleet.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fleet.kdl");
        std::fs::write(
            &path,
            "server { dhcp \"full\" { range \"10.0.0.1\" \"10.0.0.9\"; }; }\nprofile \"p\" { exit }\ndefault profile=\"p\"\n",
        )
        .unwrap();
        let overrides = crate::ServerOverrides {
            no_dhcp: true,
            ..Default::default()
        };
        let c = crate::compile(&path, &overrides).unwrap();
        assert_eq!(c.manifest.server.dhcp, DhcpMode::Off);
    }

    #[test]
    fn relayed_subnets_reach_the_manifest_in_fleet_order() {
        let c = compile(
            r#"dhcp "full" {
                range "10.0.0.100" "10.0.0.200"
                subnet "10.79.0.0/16" { range "10.79.1.10" "10.79.1.20"; router "10.79.0.254"; }
                subnet "10.78.0.0/24" { range "10.78.0.100" "10.78.0.199"; }
            }"#,
        )
        .unwrap();
        let DhcpMode::Full(full) = c.manifest.server.dhcp else {
            panic!("not full mode");
        };
        assert_eq!(
            full.subnets,
            [
                RelayedSubnet {
                    network: Ipv4Addr::new(10, 79, 0, 0),
                    prefix: 16,
                    first: Ipv4Addr::new(10, 79, 1, 10),
                    last: Ipv4Addr::new(10, 79, 1, 20),
                    router: Some(Ipv4Addr::new(10, 79, 0, 254)),
                },
                RelayedSubnet {
                    network: Ipv4Addr::new(10, 78, 0, 0),
                    prefix: 24,
                    first: Ipv4Addr::new(10, 78, 0, 100),
                    last: Ipv4Addr::new(10, 78, 0, 199),
                    router: None,
                },
            ]
        );
        assert_eq!(
            (full.first, full.last),
            (Ipv4Addr::new(10, 0, 0, 100), Ipv4Addr::new(10, 0, 0, 200))
        );
    }

    #[test]
    fn a_bad_subnet_is_named_whatever_is_wrong_with_it() {
        for (subnet, why) in [
            ("10.78.0.0", "is not a subnet"),
            ("10.78.0.0/33", "/33"),
            ("10.78.0.0/31", "/31"),
            ("10.78.0.0/7", "/7"),
            ("10.78.0.300/24", "is not a subnet"),
            ("10.78.0.128/24", "host bits"),
        ] {
            let err = compile(&format!(
                r#"dhcp "full" {{ range "10.0.0.1" "10.0.0.9"; subnet "{subnet}" {{ range "10.78.0.1" "10.78.0.2"; }}; }}"#
            ))
            .unwrap_err();
            let d = &err.diagnostics()[0];
            assert_eq!(d.code, "fleet::bad-subnet", "{subnet}");
            assert!(d.message.contains(why), "{subnet}: {}", d.message);
        }
        // A router outside its subnet has the range's code.
        let err = compile(r#"dhcp "full" { range "10.0.0.1" "10.0.0.9"; subnet "10.78.0.0/24" { range "10.78.0.1" "10.78.0.2"; router "10.0.0.1"; }; }"#)
            .unwrap_err();
        assert_eq!(err.diagnostics()[0].code, "fleet::range-outside-subnet");
        assert!(err.diagnostics()[0].message.contains("router 10.0.0.1"));
    }

    #[test]
    fn a_mistyped_setting_is_named_with_a_suggestion() {
        let err = compile(r#"dhcp "full" { range "10.0.0.1" "10.0.0.9"; routr "10.0.0.1"; netmask "255.255.255.0"; }"#)
            .unwrap_err();
        let codes: Vec<&str> = err.diagnostics().iter().map(|d| d.code).collect();
        assert_eq!(codes, ["fleet::unknown-node", "fleet::unknown-node"]);
        assert!(err.diagnostics()[0]
            .help
            .as_deref()
            .unwrap_or("")
            .contains("router"));
        let err = compile(r#"dhcp "full" { range "10.0.0.1"; }"#).unwrap_err();
        assert_eq!(err.diagnostics()[0].code, "fleet::missing-value");
        let err = compile(r#"dhcp "full" { dns "10.0.0.300"; range "10.0.0.1" "10.0.0.2"; }"#)
            .unwrap_err();
        assert_eq!(err.diagnostics()[0].code, "fleet::bad-ip");
    }
}
