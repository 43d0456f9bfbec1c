//! `netboot dhcp-config`: the snippet that makes a router's DHCP server hand out the fleet's
//! boot answers, for networks where netboot cannot answer DHCP itself (`serve --no-dhcp`).
//!
//! Nothing is re-derived: the answers come from the manifest's DHCP table through
//! [`Manifest::boot_target`], the function the runtime's own DHCP answers call, and clients are
//! told apart by [`ClientKind::architectures`] and [`ClientKind::vendor_class`], the table the
//! runtime classifies with. [`Plan`] is that result, independent of any server's syntax; each
//! format module only spells it.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use netboot_compiler::ServerOverrides;
use netboot_manifest::settings::{self, ServerBlock};
use netboot_manifest::{ClientKind, MacAddr, Manifest, Protocol};

use crate::loaded::{LoadError, Loaded};

mod dnsmasq;
mod isc;
mod kea;
mod routeros;

/// The DHCP servers an export is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Dnsmasq,
    Isc,
    Kea,
    RouterOs,
}

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Target::Dnsmasq => "dnsmasq",
            Target::Isc => "ISC dhcpd",
            Target::Kea => "Kea (kea-dhcp4)",
            Target::RouterOs => "MikroTik RouterOS 7",
        }
    }
}

/// What to export.
#[derive(Debug, Clone)]
pub struct DhcpConfigOptions {
    /// A fleet, or a frozen build's `manifest.json`.
    pub input: PathBuf,
    pub target: Target,
    /// Overrides the fleet's server address and HTTP port.
    pub overrides: ServerOverrides,
}

/// Why nothing was exported.
#[derive(Debug, thiserror::Error)]
pub enum DhcpConfigError {
    #[error("{0}")]
    Load(#[from] LoadError),
    #[error(transparent)]
    Plan(#[from] PlanError),
}

/// Why a manifest cannot be exported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "the router must tell clients which server to fetch from, and the fleet names no address\n  \
         help: add `address \"192.168.1.10\"` to the fleet's `server` block, or pass --address 192.168.1.10"
    )]
    NoAddress,
    #[error(
        "the fleet has no DHCP answers (no `loaders`): there is nothing for the router to hand out"
    )]
    NoAnswers,
}

/// Loads the fleet (or manifest) and writes the snippet for `options.target`.
pub fn dhcp_config(options: &DhcpConfigOptions) -> Result<String, DhcpConfigError> {
    let mut loaded = Loaded::load(&options.input, &options.overrides)?;
    // A frozen manifest was settled when it was built; the command line still wins.
    let block = ServerBlock::from(&loaded.manifest.server);
    loaded.manifest.server = settings::settle(&block, &options.overrides);
    let name = options.input.file_name().map_or_else(
        || options.input.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let plan = Plan::new(&loaded.manifest, &name)?;
    Ok(render(&plan, options.target))
}

/// The snippet for `target`.
pub fn render(plan: &Plan, target: Target) -> String {
    match target {
        Target::Dnsmasq => dnsmasq::render(plan),
        Target::Isc => isc::render(plan),
        Target::Kea => kea::render(plan),
        Target::RouterOs => routeros::render(plan),
    }
}

/// The fleet's boot answers as a DHCP server must give them, in no server's syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The fleet's file name, for the header.
    pub fleet: String,
    pub fleet_sha256: String,
    /// Where clients fetch from: next-server, and the host of every HTTP URL.
    pub server: Ipv4Addr,
    pub http_port: u16,
    pub tftp_port: u16,
    /// One entry per client kind the fleet answers, iPXE first (its check is what keeps iPXE
    /// from being handed its own loader again, the chainload loop).
    pub kinds: Vec<KindPlan>,
}

/// The answers for one client kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindPlan {
    pub kind: ClientKind,
    /// What a machine the fleet does not name gets (`None`: nothing).
    pub default: Option<Answer>,
    /// Named machines whose answer differs from [`KindPlan::default`].
    pub hosts: Vec<HostAnswer>,
}

/// A named machine's own answer for one kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostAnswer {
    pub mac: MacAddr,
    pub name: String,
    /// `None`: this machine gets no boot answer though others of its kind do.
    pub answer: Option<Answer>,
}

/// One boot answer as the client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub protocol: Protocol,
    /// A TFTP path (fetched from [`Plan::server`]) or a full HTTP URL.
    pub file: String,
}

impl Plan {
    /// The plan for `manifest`, whose server settings are final; `fleet` names it in headers.
    pub fn new(manifest: &Manifest, fleet: &str) -> Result<Plan, PlanError> {
        let server = manifest.server.address.ok_or(PlanError::NoAddress)?;
        let http_port = manifest.server.http_port;
        let answer = |kind, mac| {
            manifest.boot_target(kind, mac).map(|t| Answer {
                protocol: t.protocol,
                file: t.file(server, http_port),
            })
        };
        let order = std::iter::once(ClientKind::Ipxe).chain(
            ClientKind::ALL
                .into_iter()
                .filter(|k| *k != ClientKind::Ipxe),
        );
        let mut kinds = Vec::new();
        for kind in order {
            let default = answer(kind, None);
            let hosts: Vec<HostAnswer> = manifest
                .hosts
                .iter()
                .filter_map(|(mac, host)| {
                    let own = answer(kind, Some(*mac));
                    (own != default).then(|| HostAnswer {
                        mac: *mac,
                        name: host.name.clone(),
                        answer: own,
                    })
                })
                .collect();
            if default.is_some() || hosts.iter().any(|h| h.answer.is_some()) {
                kinds.push(KindPlan {
                    kind,
                    default,
                    hosts,
                });
            }
        }
        // iPXE alone is no boot: something must first load iPXE.
        if kinds.iter().all(|k| k.kind == ClientKind::Ipxe) {
            return Err(PlanError::NoAnswers);
        }
        Ok(Plan {
            fleet: fleet.to_string(),
            fleet_sha256: manifest.fleet_sha256.clone(),
            server,
            http_port,
            tftp_port: manifest.server.tftp_port,
            kinds,
        })
    }

    /// Whether any client kind is answered over HTTP Boot (and so needs option 60 echoed).
    pub fn has_http_boot(&self) -> bool {
        self.kinds
            .iter()
            .any(|k| k.kind != ClientKind::Ipxe && k.kind.is_http())
    }

    /// The header every format starts with, each line after `comment`: what this is, for
    /// which fleet and server, and what the operator must add (`needs`).
    fn header(&self, comment: &str, target: Target, needs: &[&str]) -> String {
        let mut lines = vec![
            format!(
                "netboot dhcp-config for {}: boot answers for {}.",
                self.fleet,
                target.name()
            ),
            format!(
                "Fleet sha256 {}. Generated: edit the fleet and export again, not this.",
                short(&self.fleet_sha256)
            ),
            format!(
                "Serve the fleet with `netboot serve --no-dhcp` on {} (TFTP port {}, HTTP port {}).",
                self.server, self.tftp_port, self.http_port
            ),
        ];
        if self.tftp_port != settings::DEFAULT_TFTP_PORT {
            lines.push(format!(
                "WARNING: DHCP cannot tell a client a TFTP port: firmware uses 69, not {}.",
                self.tftp_port
            ));
        }
        lines.push("What each client kind gets (iPXE is told apart first, so a loader that".into());
        lines.push("has started is handed its script, not itself again):".into());
        for k in &self.kinds {
            let arch = match k.kind {
                ClientKind::Ipxe => "user class iPXE or option 175".to_string(),
                kind => format!(
                    "{} arch {}",
                    kind.vendor_class().unwrap_or_default(),
                    kind.architectures()
                        .iter()
                        .map(u16::to_string)
                        .collect::<Vec<_>>()
                        .join("/")
                ),
            };
            let what = k
                .default
                .as_ref()
                .map_or_else(|| "nothing".to_string(), Answer::describe);
            lines.push(format!("  {:<10} ({arch}): {what}", k.kind.as_str()));
            for h in &k.hosts {
                let what = h
                    .answer
                    .as_ref()
                    .map_or_else(|| "nothing".to_string(), Answer::describe);
                lines.push(format!("    {} ({}): {what}", h.name, h.mac));
            }
        }
        lines.extend(needs.iter().map(|n| n.to_string()));
        lines
            .iter()
            .map(|l| format!("{comment} {l}").trim_end().to_string() + "\n")
            .collect()
    }
}

impl Answer {
    fn describe(&self) -> String {
        match self.protocol {
            Protocol::Tftp => format!("tftp {}", self.file),
            Protocol::Http => self.file.clone(),
        }
    }
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// The iPXE user class, as iPXE sends it (some builds prefix the RFC 3004 length byte).
const IPXE_USER_CLASS: &str = "iPXE";

/// `text`'s bytes in hex, two digits each, joined by `sep`.
fn hex(text: &str, sep: &str) -> String {
    text.bytes()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(sep)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use netboot_manifest::{BootAnswer, Host, SecureBoot};

    use super::*;

    fn tftp(path: &str) -> BootAnswer {
        BootAnswer {
            protocol: Protocol::Tftp,
            path: path.into(),
        }
    }

    /// BIOS and UEFI x64 loaders, iPXE's entry script, and one Secure Boot machine.
    fn manifest() -> Manifest {
        let mut m = Manifest::serving(BTreeMap::new(), ".");
        m.server.address = Some(Ipv4Addr::new(10, 0, 0, 1));
        m.dhcp.insert(ClientKind::Bios, tftp("undionly.kpxe"));
        m.dhcp.insert(ClientKind::EfiX64, tftp("ipxe.efi"));
        m.dhcp.insert(
            ClientKind::Ipxe,
            BootAnswer {
                protocol: Protocol::Http,
                path: "boot.ipxe".into(),
            },
        );
        m.secure_boot = Some(SecureBoot {
            dhcp: [(ClientKind::EfiX64, tftp("sb/shimx64.efi"))].into(),
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
    fn a_named_machine_is_listed_only_for_the_kinds_where_its_answer_differs() {
        let plan = Plan::new(&manifest(), "fleet.kdl").unwrap();
        let kinds: Vec<ClientKind> = plan.kinds.iter().map(|k| k.kind).collect();
        assert_eq!(
            kinds,
            [ClientKind::Ipxe, ClientKind::Bios, ClientKind::EfiX64]
        );
        let own = |kind| {
            let k = plan.kinds.iter().find(|k| k.kind == kind).unwrap();
            k.hosts
                .iter()
                .map(|h| h.answer.as_ref().unwrap().file.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(own(ClientKind::EfiX64), ["sb/shimx64.efi"]);
        assert_eq!(
            own(ClientKind::Ipxe),
            ["http://10.0.0.1:8080/hosts/52-54-00-00-00-01.ipxe"]
        );
        // BIOS has no Secure Boot: the machine gets what every BIOS machine gets.
        assert!(own(ClientKind::Bios).is_empty());
    }

    #[test]
    fn no_address_and_no_loaders_are_errors() {
        let mut m = manifest();
        m.server.address = None;
        assert_eq!(Plan::new(&m, "f"), Err(PlanError::NoAddress));
        let mut m = manifest();
        m.dhcp.retain(|k, _| *k == ClientKind::Ipxe);
        m.secure_boot = None;
        assert_eq!(Plan::new(&m, "f"), Err(PlanError::NoAnswers));
    }
}
