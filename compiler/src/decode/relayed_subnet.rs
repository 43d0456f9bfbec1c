//! `subnet "10.78.0.0/24" { … }` inside `dhcp "full"`: a subnet behind a DHCP relay, leased
//! from its own range.
//!
//! ```kdl
//! subnet "10.78.0.0/24" {
//!     range "10.78.0.100" "10.78.0.199"   // required, inside the subnet
//!     router "10.78.0.1"                  // optional: default the relay's address (giaddr)
//! }
//! ```
//!
//! The runtime serves a relayed request from the subnet holding its giaddr, so the checks
//! here are the ones that keep that choice unambiguous and its answers routable: each range
//! inside its subnet, no address in two ranges, no giaddr in two subnets.

use std::net::Ipv4Addr;

use kdl::KdlNode;
use netboot_manifest::RelayedSubnet;

use super::values::{children, Decoder};
use crate::codes::Code;
use crate::diagnostic::{Diagnostic, Span};
use crate::fleet::Spanned;

const CHILDREN: &[&str] = &["range", "router"];
const EXAMPLE: &str = "subnet \"10.78.0.0/24\" { range \"10.78.0.100\" \"10.78.0.199\" }";
/// A /31 or /32 has no room for a relay and a client; a /7 is no one subnet.
const PREFIXES: std::ops::RangeInclusive<u8> = 8..=30;

/// One decoded `subnet`, its values still pointing at the fleet for later checks.
#[derive(Debug, Clone)]
pub(super) struct SubnetDecl {
    network: Ipv4Addr,
    prefix: u8,
    span: Span,
    first: Spanned<Ipv4Addr>,
    last: Spanned<Ipv4Addr>,
    router: Option<Ipv4Addr>,
}

impl SubnetDecl {
    pub(super) fn manifest(&self) -> RelayedSubnet {
        RelayedSubnet {
            network: self.network,
            prefix: self.prefix,
            first: self.first.value,
            last: self.last.value,
            router: self.router,
        }
    }

    fn contains(&self, ip: Ipv4Addr) -> bool {
        self.manifest().contains(ip)
    }

    fn cidr(&self) -> String {
        format!("{}/{}", self.network, self.prefix)
    }
}

impl Decoder<'_> {
    /// Decodes one `subnet` node; `None` when anything in it is wrong (already reported).
    pub(super) fn relayed_subnet(&mut self, node: &KdlNode) -> Option<SubnetDecl> {
        let mut ok = !self.check_entries(node, 1, &[]);
        let cidr = self.string_arg(node, 0, "a subnet like \"10.78.0.0/24\"", EXAMPLE)?;
        let parsed = self.cidr(&cidr);
        let mut seen = Vec::new();
        let mut range = None;
        let mut router = None;
        for child in children(node) {
            let key = child.name().value();
            if !CHILDREN.contains(&key) {
                self.unknown_node(child, CHILDREN, "in a relayed `subnet`");
                ok = false;
                continue;
            }
            if !self.once(&mut seen, child) {
                ok = false;
                continue;
            }
            ok &= !self.check_entries(child, if key == "range" { 2 } else { 1 }, &[]);
            self.no_children(child);
            match key {
                "range" => match self.range_arg(child) {
                    Some(r) => range = Some(r),
                    None => ok = false,
                },
                "router" => match self.ipv4_args(child, "router \"10.78.0.1\"") {
                    Some(ips) => router = ips.into_iter().next(),
                    None => ok = false,
                },
                _ => unreachable!("checked against CHILDREN"),
            }
        }
        let (network, prefix) = parsed?;
        let Some((first, last)) = range else {
            if ok {
                self.error(
                    Code::SubnetWithoutRange,
                    format!("the relayed subnet {network}/{prefix} has no `range` to lease from"),
                    cidr.span,
                    "no range given",
                    format!("write it like `{EXAMPLE}`"),
                );
            }
            return None;
        };
        let decl = SubnetDecl {
            network,
            prefix,
            span: cidr.span,
            first,
            last,
            router: router.as_ref().map(|r| r.value),
        };
        ok &= self.inside(&decl, router.as_ref());
        ok.then_some(decl)
    }

    /// `ADDRESS/PREFIX` with no host bits set.
    fn cidr(&mut self, text: &Spanned<String>) -> Option<(Ipv4Addr, u8)> {
        let parsed = text.value.split_once('/').and_then(|(ip, prefix)| {
            Some((ip.parse::<Ipv4Addr>().ok()?, prefix.parse::<u8>().ok()?))
        });
        let problem = match parsed {
            None => format!("`{}` is not a subnet", text.value),
            Some((_, prefix)) if !PREFIXES.contains(&prefix) => {
                format!("a /{prefix} subnet cannot be relayed to netboot")
            }
            Some((ip, prefix)) => {
                let subnet = RelayedSubnet {
                    network: ip,
                    prefix,
                    first: ip,
                    last: ip,
                    router: None,
                };
                let network = u32::from(ip) & u32::from(subnet.netmask());
                if network == u32::from(ip) {
                    return Some((ip, prefix));
                }
                let network = Ipv4Addr::from(network);
                self.error(
                    Code::BadSubnet,
                    format!("`{}` has host bits set", text.value),
                    text.span,
                    "not a network address",
                    format!("a subnet is named by its network address: `{network}/{prefix}`"),
                );
                return None;
            }
        };
        self.error(
            Code::BadSubnet,
            problem,
            text.span,
            "not a subnet",
            format!(
                "write the network address and the prefix length ({}–{}), like `10.78.0.0/24`",
                PREFIXES.start(),
                PREFIXES.end()
            ),
        );
        None
    }

    /// The range and the router lie inside the subnet, or its clients could not use them.
    fn inside(&mut self, decl: &SubnetDecl, router: Option<&Spanned<Ipv4Addr>>) -> bool {
        let mut ok = true;
        let outside: Vec<&Spanned<Ipv4Addr>> = [&decl.first, &decl.last]
            .into_iter()
            .filter(|ip| !decl.contains(ip.value))
            .collect();
        if !outside.is_empty() {
            let mut d = Diagnostic::new(
                Code::RangeOutsideSubnet,
                format!(
                    "the range {}-{} is not inside the subnet {}",
                    decl.first.value,
                    decl.last.value,
                    decl.cidr()
                ),
            );
            for ip in outside {
                d = d.label(ip.span, format!("outside {}", decl.cidr()));
            }
            self.push(
                d.label(decl.span, "the subnet")
                    .help("a relayed subnet leases its own addresses: give it a range inside it"),
            );
            ok = false;
        }
        if let Some(router) = router.filter(|r| !decl.contains(r.value)) {
            self.push(
                Diagnostic::new(
                    Code::RangeOutsideSubnet,
                    format!(
                        "the router {} is not inside the subnet {}",
                        router.value,
                        decl.cidr()
                    ),
                )
                .label(router.span, format!("outside {}", decl.cidr()))
                .label(decl.span, "the subnet")
                .help("a client's gateway is on its own subnet; leave `router` out to use the relay's address"),
            );
            ok = false;
        }
        ok
    }

    /// No address in two ranges (the server's own and the subnets'), and no relay address
    /// in two subnets.
    pub(super) fn no_overlaps(
        &mut self,
        own: (&Spanned<Ipv4Addr>, &Spanned<Ipv4Addr>),
        subnets: &[SubnetDecl],
    ) -> bool {
        let mut ok = true;
        // Two relayed ranges can only share addresses if their subnets overlap, reported
        // below; the server's own range is the one that can run into a subnet's.
        for later in subnets {
            let (first, last) = own;
            if !(first.value <= later.last.value && later.first.value <= last.value) {
                continue;
            }
            self.push(
                Diagnostic::new(
                    Code::OverlappingRanges,
                    format!(
                        "the range {}-{} of the relayed subnet {} shares addresses with the server's own range {}-{}",
                        later.first.value,
                        later.last.value,
                        later.cidr(),
                        first.value,
                        last.value
                    ),
                )
                .label(later.first.span, "overlaps the server's own range")
                .label(first.span, "the server's own range")
                .help("an address is leased from one range only: make the ranges disjoint (the server's own range is for its own segment)"),
            );
            ok = false;
        }
        for (j, later) in subnets.iter().enumerate() {
            let Some(earlier) = subnets[..j]
                .iter()
                .find(|e| e.contains(later.network) || later.contains(e.network))
            else {
                continue;
            };
            self.push(
                Diagnostic::new(
                    Code::OverlappingSubnets,
                    format!(
                        "the relayed subnets {} and {} overlap",
                        earlier.cidr(),
                        later.cidr()
                    ),
                )
                .label(later.span, "this subnet")
                .label(earlier.span, "overlaps this one")
                .help("a relayed request is served from the one subnet holding the relay's address: make the subnets disjoint"),
            );
            ok = false;
        }
        ok
    }
}
