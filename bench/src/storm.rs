//! `netboot-bench storm`: N machines booting at once through the whole chain (proxy-DHCP,
//! 4011, TFTP loader, iPXE DHCP, HTTP script, kernel and initrd), against each server stack in
//! turn, repetitions interleaved (A B B A ...) so drift on a shared machine hits both alike.

use std::net::{Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use crate::dhcp_hub::Hub;
use crate::expected::Expected;
use crate::firmware_dhcp::Arch;
use crate::record::{Better, Record};
use crate::server_cpu::{pids_for, CpuPid, Meter};
use crate::stats::percentile;
use crate::storm_client::{self, Machine, Plan, Servers};
use crate::target::parse_sha256;

#[derive(clap::Args)]
pub struct Args {
    /// Server stack, LABEL=IP:DHCP_PORT,PXE_PORT,TFTP_PORT (repeatable), e.g.
    /// netboot=127.0.0.1:10067,14011,16969 or dnsmasq+nginx=127.0.0.1:10167,4011,69.
    #[arg(long = "target", required = true)]
    targets: Vec<StormTarget>,
    /// `uefi` (OVMF: arch 7, TFTP blksize 1468 windowsize 4) or `bios` (PXE ROM: arch 0,
    /// lockstep TFTP blksize 1456).
    #[arg(long, default_value = "uefi")]
    firmware: Firmware,
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// Machines start evenly over this many milliseconds (0: all at once).
    #[arg(long, default_value_t = 0)]
    spread_ms: u64,
    /// How this run differs from the plain one, added to the test's name (e.g. where the
    /// processes were placed).
    #[arg(long)]
    variant: Option<String>,
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Where the machines' DHCP socket listens: dnsmasq broadcasts to its client port.
    #[arg(long, default_value = "0.0.0.0:10068")]
    client: SocketAddr,
    /// The address the machines hold (ciaddr of their 4011 requests).
    #[arg(long, default_value = "127.0.0.1")]
    client_ip: Ipv4Addr,
    #[arg(long)]
    loader_size: u64,
    #[arg(long)]
    loader_sha256: String,
    #[arg(long)]
    kernel_size: u64,
    #[arg(long)]
    kernel_sha256: String,
    #[arg(long)]
    initrd_size: u64,
    #[arg(long)]
    initrd_sha256: String,
    /// The kernel and initrd files themselves (they must match their sizes and sha256s):
    /// downloads are compared with them instead of hashed, so the machines spend less of the
    /// CPU the servers need.
    #[arg(long)]
    kernel_file: Option<std::path::PathBuf>,
    #[arg(long)]
    initrd_file: Option<std::path::PathBuf>,
    /// TFTP retransmission timeout in milliseconds.
    #[arg(long, default_value_t = 1000)]
    tftp_timeout_ms: u64,
    /// A machine not booted this long after its start is a failure.
    #[arg(long, default_value_t = 120)]
    timeout_s: u64,
    /// Server processes to charge CPU time to, LABEL=PID[,PID...] (repeatable; summed).
    #[arg(long = "cpu-pid")]
    cpu_pids: Vec<CpuPid>,
    /// A process whose peak RSS (VmHWM) to report after the run, LABEL=PID.
    #[arg(long = "rss-pid")]
    rss_pids: Vec<CpuPid>,
    #[arg(long, default_value = "")]
    goal_wall: String,
    #[arg(long, default_value = "")]
    goal_p99: String,
    #[arg(long, default_value = "")]
    goal_cpu: String,
    #[arg(long, default_value = "")]
    goal_rss: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Firmware {
    Uefi,
    Bios,
}

/// `LABEL=IP:DHCP_PORT,PXE_PORT,TFTP_PORT`.
#[derive(Clone, Debug)]
pub struct StormTarget {
    label: String,
    servers: Servers,
}

impl FromStr for StormTarget {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let usage = || format!("expected LABEL=IP:DHCP_PORT,PXE_PORT,TFTP_PORT, found {s:?}");
        let (label, rest) = s.split_once('=').ok_or_else(usage)?;
        let mut parts = rest.split(',');
        let (Some(dhcp), Some(pxe), Some(tftp), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(usage());
        };
        if label.is_empty() {
            return Err(usage());
        }
        Ok(StormTarget {
            label: label.to_string(),
            servers: Servers {
                dhcp: dhcp.parse().map_err(|_| usage())?,
                pxe_port: pxe.parse().map_err(|_| usage())?,
                tftp_port: tftp.parse().map_err(|_| usage())?,
            },
        })
    }
}

/// One repetition against one stack.
struct Rep {
    /// Start of the run to the last machine's verified initrd.
    wall: Duration,
    /// Each booted machine's time from its own start to its verified initrd, in seconds.
    per_client: Vec<f64>,
    failures: u64,
    bytes: u64,
    cpu: Option<f64>,
    /// CPU seconds the machines themselves (this process) used.
    clients_cpu: Option<f64>,
}

pub fn run(args: &Args) -> Result<(), String> {
    let expect = |size, sha: &str, file: &Option<std::path::PathBuf>| {
        let expected = Expected::new(size, parse_sha256(sha)?);
        match file {
            Some(file) => expected.with_file(file),
            None => Ok::<_, String>(expected),
        }
    };
    let loader = expect(args.loader_size, &args.loader_sha256, &None)?;
    let kernel = expect(args.kernel_size, &args.kernel_sha256, &args.kernel_file)?;
    let initrd = expect(args.initrd_size, &args.initrd_sha256, &args.initrd_file)?;
    let hub = Hub::bind(args.client)?;
    let (arch, blksize, windowsize) = match args.firmware {
        // OVMF asks for blksize 1468 and windowsize 4 (EDK2's PXE defaults).
        Firmware::Uefi => (Arch::EfiX64, 1468, 4),
        // Intel's PXE 2.1 ROMs ask for blksize 1456 and no window.
        Firmware::Bios => (Arch::Bios, 1456, 1),
    };
    let mut test = format!(
        "boot storm {}, {} clients{}",
        match args.firmware {
            Firmware::Uefi => "UEFI",
            Firmware::Bios => "BIOS",
        },
        args.clients,
        match args.spread_ms {
            0 => String::new(),
            ms => format!(" over {} s", ms as f64 / 1e3),
        }
    );
    if let Some(variant) = &args.variant {
        test += &format!(", {variant}");
    }
    let mut reps: Vec<Vec<Rep>> = args.targets.iter().map(|_| Vec::new()).collect();
    let mut salt = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(1)
        << 16;
    for r in 0..args.reps {
        let mut order: Vec<usize> = (0..args.targets.len()).collect();
        if r % 2 == 1 {
            order.reverse();
        }
        for i in order {
            let target = &args.targets[i];
            // Each repetition's transaction ids differ from the last one's: a late reply to
            // the previous run is a stray, never an answer.
            salt = salt.wrapping_add(1 << 16);
            let plan = Plan {
                servers: &target.servers,
                hub: &hub,
                arch,
                client_ip: args.client_ip,
                loader: &loader,
                kernel: &kernel,
                initrd: &initrd,
                blksize,
                windowsize,
                tftp_timeout: Duration::from_millis(args.tftp_timeout_ms),
            };
            let meter = Meter::start(pids_for(&args.cpu_pids, &target.label));
            let clients = Meter::start(vec![std::process::id()]);
            let switches = context_switches();
            let mut rep = one_rep(args, &plan, salt, r == 0, &target.label, &test);
            rep.cpu = meter.stop();
            rep.clients_cpu = clients.stop();
            let switches = context_switches() - switches;
            eprintln!(
                "  {test} {}: rep {} wall {:.2} s, p99 {:.2} s, {} failures, CPU s: server {}, clients {} ({switches} sleeps)",
                target.label,
                r + 1,
                rep.wall.as_secs_f64(),
                percentile(&rep.per_client, 99.0),
                rep.failures,
                seconds(rep.cpu),
                seconds(rep.clients_cpu),
            );
            reps[i].push(rep);
        }
    }
    if hub.strays() > 0 {
        eprintln!(
            "  {test}: {} DHCP replies came for no waiting machine",
            hub.strays()
        );
    }
    for (target, reps) in args.targets.iter().zip(&reps) {
        print_records(args, &test, &target.label, reps);
    }
    if args.spread_ms == 0 {
        print_floor(&test, &reps);
    }
    Ok(())
}

/// The row a storm is read against: the machines' own CPU time over the cores, the soonest any
/// server could have booted them all on this machine (had it used no CPU at all). On loopback
/// the clients share the server's cores, and copying and checking every byte is most of a
/// storm's work. Per repetition, the smaller of the stacks' runs (the floor is the clients'
/// work, which should not depend on the server; where the kernel charges loopback work to one
/// side or the other, the lower figure is the conservative one).
fn print_floor(test: &str, reps: &[Vec<Rep>]) {
    let cores = thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let samples = floor(reps, cores);
    if samples.is_empty() {
        return;
    }
    let label = format!("floor: clients' CPU / {cores} cores");
    Record {
        test,
        metric: "wall s",
        target: &label,
        better: Better::Lower,
        samples,
        failures: 0,
        goal: "",
    }
    .print();
}

fn print_records(args: &Args, test: &str, label: &str, reps: &[Rep]) {
    let failures = reps.iter().map(|r| r.failures).sum();
    let lines: [(&str, Vec<f64>, &str); 3] = [
        (
            "wall s",
            reps.iter().map(|r| r.wall.as_secs_f64()).collect(),
            &args.goal_wall,
        ),
        (
            "p50 s",
            reps.iter()
                .map(|r| percentile(&r.per_client, 50.0))
                .collect(),
            "",
        ),
        (
            "p99 s",
            reps.iter()
                .map(|r| percentile(&r.per_client, 99.0))
                .collect(),
            &args.goal_p99,
        ),
    ];
    for (metric, samples, goal) in lines {
        Record {
            test,
            metric,
            target: label,
            better: Better::Lower,
            samples,
            failures,
            goal,
        }
        .print();
    }
    Record::print_server_cpu(
        test,
        "server CPU ms/MB",
        label,
        ms_per_mb(reps, |r| r.cpu),
        failures,
        &args.goal_cpu,
    );
    // On loopback the kernel does part of a server's sending in the machines' context (an ACK
    // a machine sends makes the server's socket transmit what it had queued, in the machine's
    // softirq), and how much depends on the server: the sum is the work a stack costs.
    Record::print_server_cpu(
        test,
        "server + machines CPU ms/MB",
        label,
        ms_per_mb(reps, |r| Some(r.cpu? + r.clients_cpu?)),
        failures,
        "",
    );
    for pid in pids_for(&args.rss_pids, label) {
        match peak_rss_mib(pid) {
            Some(mib) => Record {
                test,
                metric: "peak RSS MiB",
                target: label,
                better: Better::Lower,
                samples: vec![mib],
                failures,
                goal: &args.goal_rss,
            }
            .print(),
            None => eprintln!("  {test} {label}: cannot read VmHWM of process {pid}"),
        }
    }
}

/// CPU milliseconds per MB delivered, for each repetition where `cpu` gives its seconds.
fn ms_per_mb(reps: &[Rep], cpu: impl Fn(&Rep) -> Option<f64>) -> Vec<f64> {
    reps.iter()
        .filter_map(|r| Some(cpu(r)? * 1e3 / (r.bytes as f64 / 1e6)))
        .filter(|x| x.is_finite())
        .collect()
}

/// Per repetition, the least CPU the machines used with any stack, over `cores`; a repetition
/// where some stack's figure is missing has no floor.
fn floor(reps: &[Vec<Rep>], cores: f64) -> Vec<f64> {
    let count = reps.iter().map(Vec::len).min().unwrap_or(0);
    (0..count)
        .filter_map(|r| {
            reps.iter()
                .map(|runs| runs[r].clients_cpu)
                .collect::<Option<Vec<f64>>>()?
                .into_iter()
                .reduce(f64::min)
        })
        .map(|cpu| cpu / cores)
        .collect()
}

/// Times the machines' threads slept on a socket or lock so far (voluntary context switches
/// of this process, its finished threads included).
fn context_switches() -> i64 {
    // SAFETY: getrusage writes into the zeroed struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to a live rusage.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return 0;
    }
    usage.ru_nvcsw
}

fn seconds(cpu: Option<f64>) -> String {
    cpu.map_or("?".into(), |s| format!("{s:.2}"))
}

/// VmHWM of `pid` in MiB: the most memory it ever held resident.
fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    vm_hwm_kib(&status).map(|kib| kib as f64 / 1024.0)
}

fn vm_hwm_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn one_rep(args: &Args, plan: &Plan, salt: u32, first: bool, label: &str, test: &str) -> Rep {
    let n = args.clients;
    let timeout = Duration::from_secs(args.timeout_s);
    let spread = Duration::from_millis(args.spread_ms);
    // The threads are all spawned before the first machine starts.
    let start = Instant::now() + Duration::from_millis(100 + n as u64);
    let (tx, rx) = mpsc::channel();
    let mut unspawned = 0;
    thread::scope(|scope| {
        for index in 0..n {
            let tx = tx.clone();
            let offset = spread.mul_f64(index as f64 / n.max(1) as f64);
            let spawned =
                thread::Builder::new()
                    .stack_size(512 << 10)
                    .spawn_scoped(scope, move || {
                        let begin = start + offset;
                        thread::sleep(begin.saturating_duration_since(Instant::now()));
                        let machine = Machine::new(index, salt, begin + timeout);
                        let result = storm_client::boot(&machine, plan);
                        let _ = tx.send((index, result, begin, Instant::now()));
                    });
            if let Err(e) = spawned {
                unspawned += 1;
                eprintln!("  {test} {label} machine {index}: spawn: {e}");
            }
        }
        drop(tx);
        let mut rep = Rep {
            wall: Duration::ZERO,
            per_client: Vec::with_capacity(n),
            failures: unspawned,
            bytes: 0,
            cpu: None,
            clients_cpu: None,
        };
        let mut reported = 0;
        let mut stages: [Vec<f64>; 4] = Default::default();
        // Every machine ends by its own deadline (each step is bounded by it), so this
        // collects them all; scope's join then returns at once.
        for (index, result, begin, end) in rx {
            match result {
                Ok(booted) => {
                    rep.per_client.push((end - begin).as_secs_f64());
                    rep.wall = rep.wall.max(end.saturating_duration_since(start));
                    rep.bytes += booted.bytes;
                    for (times, took) in stages.iter_mut().zip(booted.stages) {
                        times.push(took.as_secs_f64());
                    }
                    if first && index == 0 {
                        for step in &booted.trace {
                            eprintln!("  {test} {label} machine 0: {step}");
                        }
                    }
                }
                Err(e) => {
                    rep.failures += 1;
                    reported += 1;
                    if reported <= 5 {
                        eprintln!("  {test} {label} machine {index}: {e}");
                    }
                }
            }
        }
        // Where the time goes, for whoever tunes a server against this run.
        let by_stage: Vec<String> = storm_client::STAGES
            .iter()
            .zip(&stages)
            .map(|(name, t)| {
                format!(
                    "{name} {:.1}/{:.1}",
                    percentile(t, 50.0) * 1e3,
                    percentile(t, 99.0) * 1e3
                )
            })
            .collect();
        eprintln!(
            "  {test} {label}: stage p50/p99 ms: {}",
            by_stage.join(", ")
        );
        rep
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rep(clients_cpu: Option<f64>) -> Rep {
        Rep {
            wall: Duration::from_secs(1),
            per_client: vec![1.0],
            failures: 0,
            bytes: 1,
            cpu: Some(0.1),
            clients_cpu,
        }
    }

    #[test]
    fn the_floor_is_the_least_client_cpu_of_each_repetition_over_the_cores() {
        let netboot = vec![rep(Some(2.6)), rep(Some(2.4)), rep(None)];
        let peer = vec![rep(Some(2.2)), rep(Some(3.0)), rep(Some(2.0))];
        assert_eq!(floor(&[netboot, peer], 2.0), [1.1, 1.2]);
        assert!(floor(&[], 2.0).is_empty());
    }

    #[test]
    fn parses_a_storm_target() {
        let t: StormTarget = "dnsmasq+nginx=127.0.0.1:10167,4011,69".parse().unwrap();
        assert_eq!(t.label, "dnsmasq+nginx");
        assert_eq!(t.servers.dhcp, "127.0.0.1:10167".parse().unwrap());
        assert_eq!((t.servers.pxe_port, t.servers.tftp_port), (4011, 69));
        for bad in [
            "127.0.0.1:67,4011,69",
            "=127.0.0.1:67,4011,69",
            "x=127.0.0.1:67,4011",
            "x=127.0.0.1:67,4011,69,1",
            "x=127.0.0.1,4011,69",
        ] {
            assert!(bad.parse::<StormTarget>().is_err(), "{bad}");
        }
    }

    #[test]
    fn reads_vm_hwm() {
        let status =
            "Name:\tnetboot\nVmPeak:\t  99999 kB\nVmHWM:\t   21504 kB\nVmRSS:\t 20000 kB\n";
        assert_eq!(vm_hwm_kib(status), Some(21504));
        assert_eq!(vm_hwm_kib("Name:\tx\n"), None);
        assert!(peak_rss_mib(std::process::id()).is_some());
    }
}
