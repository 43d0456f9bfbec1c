//! `netboot doctor`: is this machine ready to serve network boot on an interface, and who
//! else answers boot clients there?
//!
//! Checks the interface (exists, up, IPv4), the advertised address, the ports netboot needs
//! (naming the process that holds one, from /proc), then sends ONE PXE DISCOVER on that
//! interface only and reports every DHCP and proxy-DHCP server that answers. Another server
//! handing out a boot file is the classic "machines boot the wrong thing" cause, so it is
//! reported loudly.

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::path::PathBuf;
use std::time::Duration;

use crate::console::Console;
use crate::report_format::Format;
use netboot_compiler::ServerOverrides;
use netboot_manifest::settings::{self, ServerBlock, DHCP_PORT, PXE_PORT};
use netboot_manifest::{ClientKind, DhcpMode, MacAddr, Manifest};
use netboot_runtime::dhcp::Offer;

mod ports;
mod probe;
mod router;

/// What to check, and how to report it.
#[derive(Debug, Clone)]
pub struct DoctorOptions {
    /// The interface on the boot network; `None`: the fleet's.
    pub interface: Option<String>,
    /// The address netboot will advertise; `None`: the fleet's.
    pub address: Option<Ipv4Addr>,
    /// Take the interface, address and ports from this fleet's `server` block.
    pub fleet: Option<PathBuf>,
    /// How long to listen for answers to the DISCOVER.
    pub listen_seconds: u64,
    pub http_port: Option<u16>,
    pub tftp_port: Option<u16>,
    /// netboot will not run DHCP here: skip ports 67 and 4011.
    pub no_dhcp: bool,
    /// Check the interface and ports only; send nothing on the network.
    pub no_discover: bool,
    /// The LAN's DHCP server hands out the boot answers (`netboot dhcp-config`): send one
    /// DISCOVER per client kind the fleet serves and check each answer against the fleet.
    pub router: bool,
    /// `human`: one line per check as it runs; `json`: one object at the end.
    pub format: Format,
}

/// What the checks add up to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No problem found.
    Ready,
    /// At least one check failed.
    Problems,
    /// The network could not be probed (no root for ports 67/68, typically).
    CouldNotProbe,
}

/// Why the checks could not start.
#[derive(Debug, thiserror::Error)]
pub enum DoctorError {
    /// The interface, address or ports could not be settled (no interface, a fleet that
    /// does not compile).
    #[error("{0}")]
    Settings(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
enum Level {
    Ok,
    Info,
    Warn,
    Fail,
}

#[derive(serde::Serialize)]
struct Check {
    level: Level,
    text: String,
}

/// One server that answered the DISCOVER.
#[derive(serde::Serialize)]
struct Responder {
    ip: Ipv4Addr,
    mac: Option<MacAddr>,
    /// `dhcp` (offers an address) or `proxy`.
    kind: &'static str,
    /// Why it competes with netboot for boot clients, if it does.
    pxe_server: Option<String>,
    ours: bool,
    offer: Offer,
}

#[derive(serde::Serialize)]
struct Report<'r, 'c> {
    interface: String,
    /// Human reports are written line by line as the checks run; JSON at the end.
    #[serde(skip)]
    live: bool,
    #[serde(skip)]
    console: &'r mut Console<'c>,
    checks: Vec<Check>,
    responders: Vec<Responder>,
}

impl Report<'_, '_> {
    fn add(&mut self, level: Level, text: impl Into<String>) {
        let tag = match level {
            Level::Ok => "ok  ",
            Level::Info => "    ",
            Level::Warn => "warn",
            Level::Fail => "FAIL",
        };
        let text = text.into();
        if self.live {
            self.console.out(&format!("{tag}  {text}\n"));
        }
        self.checks.push(Check { level, text });
    }

    fn problems(&self) -> usize {
        self.checks
            .iter()
            .filter(|c| c.level == Level::Fail)
            .count()
    }

    /// The closing line (human) or the whole report (JSON).
    fn finish(self, verdict: Verdict) -> Verdict {
        let problems = self.problems();
        if self.live {
            let line = match (verdict, problems) {
                (Verdict::CouldNotProbe, _) => {
                    "could not probe the network (root is needed to use ports 67/68)".to_string()
                }
                (_, 0) => "no problems found".to_string(),
                (_, n) => format!("{n} problem(s) found"),
            };
            self.console.out(&(line + "\n"));
        } else {
            let mut value = serde_json::to_value(&self).expect("reports always serialise");
            value["problems"] = problems.into();
            value["ok"] = (verdict == Verdict::Ready).into();
            self.console.out(
                &(serde_json::to_string_pretty(&value).expect("JSON values serialise") + "\n"),
            );
        }
        verdict
    }
}

/// What to check, after the fleet and the flags are combined.
struct Settings {
    interface: String,
    address: Option<Ipv4Addr>,
    http_port: u16,
    tftp_port: u16,
    dhcp: bool,
    /// The compiled fleet, when one was given.
    manifest: Option<Manifest>,
    /// Check the router's boot answers against `manifest`.
    router: bool,
}

/// Runs every check, reporting on `console`.
pub fn doctor(options: &DoctorOptions, console: &mut Console) -> Result<Verdict, DoctorError> {
    let settings = settle(options).map_err(DoctorError::Settings)?;
    let mut report = Report {
        interface: settings.interface.clone(),
        live: options.format == Format::Human,
        console,
        checks: Vec::new(),
        responders: Vec::new(),
    };
    let ready = check_interface(&settings, &mut report);
    check_ports(&settings, &mut report);
    if options.no_discover {
        report.add(Level::Info, "no DISCOVER sent (--no-discover)");
    } else if let Some(mac) = ready {
        if let Err(message) = listen(&settings, mac, options.listen_seconds, &mut report) {
            report.add(Level::Fail, message);
            return Ok(report.finish(Verdict::CouldNotProbe));
        }
        if let (true, Some(manifest)) = (settings.router, &settings.manifest) {
            let seconds = options.listen_seconds;
            if let Err(message) = router::check(&settings, manifest, mac, seconds, &mut report) {
                report.add(Level::Fail, message);
                return Ok(report.finish(Verdict::CouldNotProbe));
            }
        }
    } else {
        report.add(Level::Info, "no DISCOVER sent: the interface is not usable");
    }
    let verdict = if report.problems() == 0 {
        Verdict::Ready
    } else {
        Verdict::Problems
    };
    Ok(report.finish(verdict))
}

fn settle(args: &DoctorOptions) -> Result<Settings, String> {
    if args.router && args.fleet.is_none() {
        return Err(
            "--router checks the router's answers against a fleet: give --fleet FLEET.kdl".into(),
        );
    }
    let (block, manifest) = match &args.fleet {
        Some(fleet) => {
            let overrides = ServerOverrides {
                interface: args.interface.clone(),
                address: args.address,
                ..ServerOverrides::default()
            };
            let compiled = netboot_compiler::compile(fleet, &overrides).map_err(|f| {
                format!(
                    "{} does not compile (run `netboot check` on it):\n{f}",
                    fleet.display()
                )
            })?;
            (
                ServerBlock::from(&compiled.manifest.server),
                Some(compiled.manifest),
            )
        }
        None => (ServerBlock::default(), None),
    };
    let settled = settings::settle(
        &block,
        &ServerOverrides {
            interface: args.interface.clone(),
            address: args.address,
            http_port: args.http_port,
            tftp_port: args.tftp_port,
            no_dhcp: args.no_dhcp,
        },
    );
    let interface = settled
        .interface
        .ok_or("give --interface (or a --fleet whose server block names one)")?;
    Ok(Settings {
        interface,
        address: settled.address,
        http_port: settled.http_port,
        tftp_port: settled.tftp_port,
        dhcp: settled.dhcp != DhcpMode::Off,
        manifest,
        router: args.router,
    })
}

/// The interface's MAC when it is there, up and has IPv4 (so a DISCOVER can go out).
fn check_interface(s: &Settings, report: &mut Report) -> Option<MacAddr> {
    let sys = PathBuf::from("/sys/class/net").join(&s.interface);
    if s.interface.contains('/') || !sys.exists() {
        let mut names: Vec<String> = std::fs::read_dir("/sys/class/net")
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        report.add(
            Level::Fail,
            format!(
                "interface {} does not exist (interfaces here: {})",
                s.interface,
                names.join(", ")
            ),
        );
        return None;
    }
    let read = |f: &str| std::fs::read_to_string(sys.join(f)).unwrap_or_default();
    let flags = u32::from_str_radix(read("flags").trim().trim_start_matches("0x"), 16).unwrap_or(0);
    let operstate = read("operstate").trim().to_string();
    let mac: Option<MacAddr> = read("address").trim().parse().ok();
    let mut usable = true;
    if flags & 1 == 0 {
        report.add(
            Level::Fail,
            format!(
                "interface {} is down (`ip link set {} up`)",
                s.interface, s.interface
            ),
        );
        usable = false;
    } else if operstate == "down" || operstate == "lowerlayerdown" {
        report.add(
            Level::Fail,
            format!("interface {} is up but has no link (operstate {operstate}): is the cable or bridge port connected?", s.interface),
        );
        usable = false;
    } else {
        report.add(
            Level::Ok,
            format!(
                "interface {} is up (operstate {operstate}, mac {})",
                s.interface,
                mac.map_or("unknown".into(), |m| m.to_string())
            ),
        );
    }
    let v4 = ipv4_of(&s.interface);
    if v4.is_empty() {
        report.add(
            Level::Fail,
            format!(
                "interface {} has no IPv4 address: clients could not reach this server",
                s.interface
            ),
        );
        usable = false;
    } else {
        let list: Vec<String> = v4.iter().map(|(a, p)| format!("{a}/{p}")).collect();
        report.add(
            Level::Ok,
            format!("IPv4 on {}: {}", s.interface, list.join(", ")),
        );
    }
    if let Some(address) = s.address {
        match netboot_runtime::address::resolve(Some(address), Some(&s.interface)) {
            Ok(_) => report.add(
                Level::Ok,
                format!("address {address} is on {}", s.interface),
            ),
            Err(e) => report.add(Level::Fail, e.to_string()),
        }
    }
    match (usable, mac) {
        (true, Some(mac)) => Some(mac),
        (true, None) => {
            report.add(
                Level::Warn,
                format!("interface {} has no MAC address to send from", s.interface),
            );
            None
        }
        _ => None,
    }
}

/// What makes an answer a boot server's: a boot file, or a proxy speaking PXE (it may hand
/// out a menu in option 43 and the file on port 4011). `None` for a plain DHCP server.
fn pxe_competitor(o: &Offer) -> Option<String> {
    let pxe = o
        .vendor_class
        .as_deref()
        .is_some_and(|v| v.starts_with("PXEClient"));
    match (&o.boot_file, o.yiaddr.is_unspecified() && pxe) {
        (Some(file), _) => Some(format!("hands out boot file {file}")),
        (None, true) => Some("a proxy answering PXE clients".into()),
        (None, false) => None,
    }
}

/// The interface's IPv4 addresses with their prefix lengths.
fn ipv4_of(interface: &str) -> Vec<(Ipv4Addr, u8)> {
    if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .filter(|i| i.name == interface)
        .filter_map(|i| match i.addr {
            if_addrs::IfAddr::V4(a) => Some((a.ip, a.prefixlen)),
            if_addrs::IfAddr::V6(_) => None,
        })
        .collect()
}

fn check_ports(s: &Settings, report: &mut Report) {
    let mut wanted = Vec::new();
    if s.dhcp {
        wanted.push((DHCP_PORT, false, "proxy-DHCP"));
        wanted.push((PXE_PORT, false, "PXE boot server"));
    }
    wanted.push((s.tftp_port, false, "TFTP"));
    wanted.push((s.http_port, true, "HTTP"));
    for (port, tcp, what) in wanted {
        let proto = if tcp { "tcp" } else { "udp" };
        let holders = ports::holders(port, tcp);
        if !holders.is_empty() {
            let who: Vec<String> = holders
                .iter()
                .map(|h| match &h.process {
                    Some((pid, name)) => format!("{name} (pid {pid}) on {}", h.local),
                    None => format!("socket inode {} on {}", h.inode, h.local),
                })
                .collect();
            let running = holders.iter().any(|h| {
                h.process
                    .as_ref()
                    .is_some_and(|(_, name)| name == "netboot")
            });
            let hint = if running {
                " (netboot is already serving here: stop it first, or ignore this for a running server)"
            } else {
                ""
            };
            report.add(
                Level::Fail,
                format!(
                    "port {port}/{proto} ({what}) is taken by {}{hint}",
                    who.join(", ")
                ),
            );
            continue;
        }
        let bound = if tcp {
            TcpListener::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port)).map(drop)
        } else {
            std::net::UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port)).map(drop)
        };
        match bound {
            Ok(()) => report.add(Level::Ok, format!("port {port}/{proto} ({what}) is free")),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => report.add(
                Level::Warn,
                format!("port {port}/{proto} ({what}): cannot test without root (serve needs root or CAP_NET_BIND_SERVICE)"),
            ),
            Err(e) => report.add(
                Level::Fail,
                format!("port {port}/{proto} ({what}) cannot be bound: {e}"),
            ),
        }
    }
}

fn listen(s: &Settings, mac: MacAddr, seconds: u64, report: &mut Report) -> Result<(), String> {
    let xid = probe::random_xid();
    report.add(
        Level::Info,
        format!(
            "sending one PXE DISCOVER (BIOS, xid {xid:#010x}, from {mac}) on {} and listening {seconds} s",
            s.interface
        ),
    );
    let heard = probe::probe(
        &s.interface,
        ClientKind::Bios,
        mac,
        xid,
        Duration::from_secs(seconds),
    )?;
    let local = ipv4_of(&s.interface);
    let mut dhcp_servers = 0;
    for h in &heard {
        let o = &h.offer;
        let id = o.server_id.unwrap_or(h.from);
        let who = format!(
            "{} (mac {}, server id {id})",
            h.from,
            h.mac.map_or("unknown".into(), |m| m.to_string())
        );
        let boot = match &o.boot_file {
            Some(f) => format!("boot file {f}, next-server {}", o.siaddr),
            None => "no boot file".into(),
        };
        // An answer from this machine is netboot's own (or at least not another host's).
        let ours = [id, h.from]
            .iter()
            .any(|a| s.address == Some(*a) || local.iter().any(|(l, _)| l == a));
        if o.yiaddr.is_unspecified() {
            let pxe = o
                .vendor_class
                .as_deref()
                .map_or(String::new(), |v| format!(", echoes {v}"));
            report.add(
                Level::Info,
                format!("{who}: proxy-DHCP {}{pxe}; {boot}", o.message_type),
            );
        } else {
            dhcp_servers += 1;
            report.add(
                Level::Info,
                format!(
                    "{who}: DHCP server, {} of address {}; {boot}",
                    o.message_type, o.yiaddr
                ),
            );
        }
        let competitor = pxe_competitor(o);
        report.responders.push(Responder {
            ip: h.from,
            mac: h.mac,
            kind: if o.yiaddr.is_unspecified() {
                "proxy"
            } else {
                "dhcp"
            },
            pxe_server: competitor.clone(),
            ours,
            offer: o.clone(),
        });
        if ours {
            report.add(
                Level::Info,
                format!("{id} is this machine's own address: that answer is netboot's"),
            );
        } else if competitor.is_some() && s.router && !o.yiaddr.is_unspecified() {
            report.add(
                Level::Info,
                format!(
                    "{} hands out boot answers (--router): checked per client kind below",
                    h.from
                ),
            );
        } else if let Some(what) = competitor {
            report.add(
                Level::Fail,
                format!(
                    "WARNING: {} is another PXE server ({what}): machines may boot from it instead of netboot; turn off its PXE/boot options on this segment",
                    h.from
                ),
            );
        }
    }
    if heard.is_empty() {
        report.add(
            Level::Fail,
            format!("nothing answered in {seconds} s: no DHCP server on this segment, so clients get no address (proxy-DHCP never gives one); servers that ping an address before offering it (dnsmasq waits 3 s) need --listen-seconds 6"),
        );
    } else if dhcp_servers == 0 {
        report.add(
            Level::Fail,
            "no DHCP server offered an address: only proxies answered, so clients get no address",
        );
    } else {
        report.add(
            Level::Ok,
            format!(
                "{} answer(s), {dhcp_servers} from DHCP server(s) offering addresses",
                heard.len()
            ),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(yiaddr: [u8; 4], file: Option<&str>, class: Option<&str>) -> Offer {
        Offer {
            message_type: "OFFER".into(),
            xid: 1,
            chaddr: MacAddr([2, 0, 0, 0, 0, 1]),
            yiaddr: yiaddr.into(),
            siaddr: Ipv4Addr::UNSPECIFIED,
            server_id: None,
            server_name: None,
            boot_file: file.map(str::to_string),
            vendor_class: class.map(str::to_string),
            vendor_options: None,
            client_guid_echoed: false,
        }
    }

    #[test]
    fn a_plain_dhcp_server_is_no_competitor() {
        assert_eq!(pxe_competitor(&offer([10, 0, 0, 5], None, None)), None);
    }

    #[test]
    fn a_boot_file_or_a_pxe_proxy_is() {
        assert!(pxe_competitor(&offer([10, 0, 0, 5], Some("pxelinux.0"), None)).is_some());
        assert!(pxe_competitor(&offer([0, 0, 0, 0], None, Some("PXEClient"))).is_some());
    }
}
