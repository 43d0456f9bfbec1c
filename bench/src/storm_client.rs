//! One simulated machine of a boot storm, through the whole chain: firmware DHCP, the 4011
//! request, the loader by TFTP, iPXE's DHCP and 4011 request, then its script, kernel and
//! initrd by HTTP. Every download is checked against its size and sha256.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use crate::dhcp_hub::Hub;
use crate::dhcp_wire::Reply;
use crate::expected::Expected;
use crate::firmware_dhcp::{self, Arch, Stage};
use crate::http_get;
use crate::ipxe_script::{self, Command};
use crate::tftp_client;

/// The DHCP retransmission schedule of PXE firmware (and iPXE): 1 s, 2 s, 4 s, 8 s, then the
/// machine gives up.
pub const DHCP_SCHEDULE: [Duration; 4] = [
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
    Duration::from_secs(8),
];
/// A script longer than this many steps is looping.
const MAX_STEPS: usize = 200;
/// `chain` commands followed at most (netboot's entry script chains once).
const MAX_CHAINS: usize = 4;
/// The HTTP read buffer of each machine: hundreds download at once.
const HTTP_BUFFER: usize = 64 << 10;

/// One server stack: where its proxy-DHCP and TFTP listen (HTTP comes from the URLs it gives).
#[derive(Clone, Debug)]
pub struct Servers {
    /// The proxy's port-67 equivalent.
    pub dhcp: SocketAddr,
    /// Its port-4011 equivalent (at the address of the offer's server identifier).
    pub pxe_port: u16,
    /// The TFTP port at the next-server address.
    pub tftp_port: u16,
}

/// What every machine of a run shares.
pub struct Plan<'a> {
    pub servers: &'a Servers,
    pub hub: &'a Hub,
    pub arch: Arch,
    /// The address the machine holds (ciaddr of its 4011 requests).
    pub client_ip: Ipv4Addr,
    pub loader: &'a Expected,
    pub kernel: &'a Expected,
    pub initrd: &'a Expected,
    pub blksize: u16,
    pub windowsize: u16,
    pub tftp_timeout: Duration,
}

/// One machine.
#[derive(Clone, Copy, Debug)]
pub struct Machine {
    pub index: usize,
    pub mac: [u8; 6],
    /// Transaction ids `xid_base..xid_base + 8` are this machine's.
    pub xid_base: u32,
    /// The machine has given up (counts as a failure) past this.
    pub deadline: Instant,
}

impl Machine {
    pub fn new(index: usize, salt: u32, deadline: Instant) -> Machine {
        let i = (index as u32).to_be_bytes();
        Machine {
            index,
            mac: [0x52, 0x54, 0x00, i[1], i[2], i[3]],
            xid_base: salt.wrapping_add((index as u32) << 3),
            deadline,
        }
    }

    fn hexhyp(&self) -> String {
        self.mac
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join("-")
    }
}

/// A machine that reached its initrd.
#[derive(Debug, Default)]
pub struct Booted {
    /// Bytes of every verified download (loader, scripts, kernel, initrd).
    pub bytes: u64,
    /// What the servers answered at each step, for the run's log.
    pub trace: Vec<String>,
    /// How long each stage took, in the order of [`STAGES`].
    pub stages: [Duration; 4],
}

/// The stages of a boot, for the per-stage times in the run's log.
pub const STAGES: [&str; 4] = ["firmware DHCP", "TFTP", "iPXE DHCP", "HTTP"];

/// Boots `machine` through the whole chain.
pub fn boot(machine: &Machine, plan: &Plan) -> Result<Booted, String> {
    let mut booted = Booted::default();
    let mut mark = Instant::now();
    let mut lap = |stage: usize, booted: &mut Booted| {
        let now = Instant::now();
        booted.stages[stage] = now - mark;
        mark = now;
    };
    let loader = dhcp(machine, plan, Stage::Firmware, &mut booted.trace)
        .map_err(|e| format!("firmware DHCP: {e}"))?;
    lap(0, &mut booted);
    let (server, file) = loader;
    let tftp = SocketAddr::new(server.into(), plan.servers.tftp_port);
    let outcome = tftp_client::fetch(&tftp_client::Request {
        server: tftp,
        file: file.clone(),
        blksize: plan.blksize,
        windowsize: plan.windowsize,
        timeout: plan.tftp_timeout,
        retries: 8,
        source: tftp_client::source_for(tftp, machine.index),
    })
    .map_err(|e| format!("TFTP {file} from {tftp}: {e}"))?;
    check(&file, outcome.bytes, outcome.sha256, plan.loader)?;
    booted.bytes += outcome.bytes;
    booted.trace.push(format!(
        "TFTP {file} from {tftp}: blksize {} windowsize {} agreed",
        outcome.blksize, outcome.windowsize
    ));
    lap(1, &mut booted);
    let (_, url) = dhcp(machine, plan, Stage::Ipxe, &mut booted.trace)
        .map_err(|e| format!("iPXE DHCP: {e}"))?;
    lap(2, &mut booted);
    if !url.starts_with("http://") {
        return Err(format!(
            "iPXE DHCP: boot file {url:?} is not an http:// URL"
        ));
    }
    run_script(machine, plan, &url, &mut booted)?;
    lap(3, &mut booted);
    Ok(booted)
}

/// DISCOVER, OFFER, then the request to port 4011 (and, for iPXE, boot-server discovery when
/// the answer is a menu): the boot file's server and name.
fn dhcp(
    machine: &Machine,
    plan: &Plan,
    stage: Stage,
    trace: &mut Vec<String>,
) -> Result<(Ipv4Addr, String), String> {
    let xid = machine.xid_base + if stage == Stage::Firmware { 0 } else { 4 };
    let is_offer =
        |r: &Reply| r.message_type == Some(2) && r.vendor_class.starts_with(b"PXEClient");
    let is_ack = |r: &Reply| r.message_type == Some(5);
    let offer = plan.hub.exchange(
        xid,
        &firmware_dhcp::discover(plan.arch, stage, xid, machine.mac),
        plan.servers.dhcp,
        &DHCP_SCHEDULE,
        machine.deadline,
        is_offer,
    )?;
    trace.push(format!("{stage:?} OFFER: {}", describe(&offer)));
    let proxy = offer
        .server_id
        .ok_or("the OFFER has no server identifier (option 54)")?;
    let to = SocketAddr::V4(SocketAddrV4::new(proxy, plan.servers.pxe_port));
    // The ROM answers a menu with its first item; iPXE asks plainly first (its
    // ProxyDHCPREQUEST), and discovers a boot server only if the answer is a menu again.
    let item = match stage {
        Stage::Firmware => offer.menu_item,
        Stage::Ipxe => None,
    };
    let request = |xid: u32, item: Option<u16>| {
        firmware_dhcp::proxy_request(
            plan.arch,
            stage,
            xid,
            machine.mac,
            plan.client_ip,
            Some(proxy),
            item,
        )
    };
    let mut ack = plan.hub.exchange(
        xid + 1,
        &request(xid + 1, item),
        to,
        &DHCP_SCHEDULE,
        machine.deadline,
        is_ack,
    )?;
    trace.push(format!(
        "{stage:?} 4011 ACK (item {item:?}): {}",
        describe(&ack)
    ));
    if stage == Stage::Ipxe && ack.boot_file.is_empty() && ack.menu_item.is_some() {
        ack = plan.hub.exchange(
            xid + 2,
            &request(xid + 2, ack.menu_item),
            to,
            &DHCP_SCHEDULE,
            machine.deadline,
            is_ack,
        )?;
        trace.push(format!("{stage:?} boot-server ACK: {}", describe(&ack)));
    }
    let file = [&ack.boot_file, &offer.boot_file]
        .into_iter()
        .find(|f| !f.is_empty())
        .ok_or("neither the OFFER nor the 4011 ACK names a boot file")?
        .clone();
    let server = ack
        .next_server()
        .or(offer.next_server())
        .ok_or("no next-server in the OFFER or the ACK")?;
    Ok((server, file))
}

fn describe(r: &Reply) -> String {
    format!(
        "file {:?} siaddr {} option 54 {:?} option 66 {:?} option 43 {} menu item {:?}",
        r.boot_file,
        r.siaddr,
        r.server_id,
        r.tftp_server,
        if r.pxe_options { "present" } else { "absent" },
        r.menu_item
    )
}

/// Runs iPXE's part: the script at `url` and whatever it chains to, downloading the kernel
/// and initrd it names.
fn run_script(
    machine: &Machine,
    plan: &Plan,
    url: &str,
    booted: &mut Booted,
) -> Result<(), String> {
    let vars = [
        ("mac:hexhyp", machine.hexhyp()),
        ("mac", machine.hexhyp().replace('-', ":")),
        (
            "platform",
            match plan.arch {
                Arch::Bios => "pcbios".to_string(),
                Arch::EfiX64 => "efi".to_string(),
            },
        ),
    ];
    let mut script = fetch_script(machine, url, &vars, booted)?;
    let (mut kernel, mut initrd) = (false, false);
    let mut pc = 0;
    let mut chains = 0;
    for _ in 0..MAX_STEPS {
        let Some(command) = script.commands.get(pc).cloned() else {
            break;
        };
        pc += 1;
        match command {
            Command::Chain { url, fallback } => {
                chains += 1;
                if chains > MAX_CHAINS {
                    return Err(format!("more than {MAX_CHAINS} chained scripts"));
                }
                match fetch_script(machine, &url, &vars, booted) {
                    Ok(next) => {
                        script = next;
                        pc = 0;
                    }
                    Err(e) => {
                        let label = fallback.ok_or(e)?;
                        pc = script
                            .label(&label)
                            .ok_or(format!("goto {label}: no such label"))?;
                    }
                }
            }
            Command::Kernel(url) => {
                download(machine, &url, plan.kernel, booted)?;
                kernel = true;
            }
            Command::Initrd(url) => {
                download(machine, &url, plan.initrd, booted)?;
                initrd = true;
            }
            Command::Goto(label) => {
                pc = script
                    .label(&label)
                    .ok_or(format!("goto {label}: no such label"))?;
            }
            Command::Boot => break,
            Command::Exit => return Err("the script exits without booting".into()),
        }
    }
    match (kernel, initrd) {
        (true, true) => Ok(()),
        _ => Err(format!(
            "the scripts from {url} booted without {}",
            if kernel { "an initrd" } else { "a kernel" }
        )),
    }
}

fn fetch_script(
    machine: &Machine,
    url: &str,
    vars: &[(&str, String)],
    booted: &mut Booted,
) -> Result<ipxe_script::Script, String> {
    let (addr, path) = ipxe_script::split_http(url)?;
    let mut body = Vec::new();
    let outcome = http_get::fetch_with(
        addr,
        &path,
        HTTP_BUFFER,
        read_timeout(machine)?,
        http_get::Body::Keep(&mut body),
    )
    .map_err(|e| format!("GET {url}: {e}"))?;
    if outcome.status != 200 {
        return Err(format!("GET {url}: status {}", outcome.status));
    }
    booted.bytes += outcome.bytes;
    booted
        .trace
        .push(format!("GET {url}: {} bytes", outcome.bytes));
    let text = String::from_utf8(body).map_err(|_| format!("{url} is not UTF-8"))?;
    ipxe_script::parse(&text, url, vars)
}

fn download(
    machine: &Machine,
    url: &str,
    expected: &Expected,
    booted: &mut Booted,
) -> Result<(), String> {
    let (addr, path) = ipxe_script::split_http(url)?;
    let body = http_get::Body::Check(expected);
    let outcome = http_get::fetch_with(addr, &path, HTTP_BUFFER, read_timeout(machine)?, body)
        .map_err(|e| format!("GET {url}: {e}"))?;
    if outcome.status != 200 {
        return Err(format!("GET {url}: status {}", outcome.status));
    }
    if let Some(wrong) = outcome.wrong {
        return Err(format!("GET {url}: {wrong}"));
    }
    booted.bytes += outcome.bytes;
    Ok(())
}

/// How long one read may block: what is left of the machine's time, at most 30 s.
fn read_timeout(machine: &Machine) -> Result<Duration, String> {
    let left = machine.deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err("out of time".into());
    }
    Ok(left.min(Duration::from_secs(30)))
}

fn check(what: &str, bytes: u64, sha256: [u8; 32], expect: &Expected) -> Result<(), String> {
    if bytes != expect.size || sha256 != expect.sha256 {
        return Err(format!(
            "{what}: got {bytes} bytes with sha256 {}, expected {} bytes with {}",
            hex::encode(sha256),
            expect.size,
            hex::encode(expect.sha256)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machines_have_distinct_macs_and_xid_ranges() {
        let deadline = Instant::now();
        let a = Machine::new(0x1_02, 0xabcd_0000, deadline);
        let b = Machine::new(0x1_03, 0xabcd_0000, deadline);
        assert_eq!(a.mac, [0x52, 0x54, 0, 0, 1, 2]);
        assert_eq!(a.hexhyp(), "52-54-00-00-01-02");
        assert_eq!(b.xid_base - a.xid_base, 8);
        // Stage ids (+0..+6) stay inside the machine's range.
        assert!(a.xid_base + 6 < b.xid_base);
    }

    #[test]
    fn check_refuses_short_or_corrupt_files() {
        let expect = Expected::new(3, [7; 32]);
        assert!(check("f", 3, [7; 32], &expect).is_ok());
        assert!(check("f", 2, [7; 32], &expect).is_err());
        assert!(check("f", 3, [8; 32], &expect).is_err());
    }
}
