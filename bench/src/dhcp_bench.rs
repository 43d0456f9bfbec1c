//! `netboot-bench dhcp`: DISCOVER -> OFFER round trips on loopback, with K requests in flight.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant, SystemTime};

use crate::dhcp_wire;
use crate::firmware_dhcp::{self, Arch, Stage};
use crate::record::{Better, Record};
use crate::server_cpu::{pids_for, CpuPid, Meter};
use crate::stats::percentile;
use crate::target::Target;

#[derive(clap::Args)]
pub struct Args {
    /// Proxy-DHCP server, LABEL=IP:PORT (repeatable).
    #[arg(long = "target", required = true)]
    targets: Vec<Target>,
    #[arg(long)]
    test: String,
    /// Where the client listens: dnsmasq answers to its client port (--dhcp-alternate-port),
    /// netboot to the request's source, so both are served by one fixed address.
    #[arg(long, default_value = "127.0.0.1:10068")]
    client: SocketAddr,
    /// DISCOVERs per repetition.
    #[arg(long, default_value_t = 20000)]
    requests: u32,
    /// Requests kept in flight (1 = strict ping-pong, which gives latency).
    #[arg(long, default_value_t = 1)]
    inflight: usize,
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// A request unanswered this long is a failure.
    #[arg(long, default_value_t = 200)]
    timeout_ms: u64,
    /// Set the BOOTP broadcast flag, as PXE ROMs do.
    #[arg(long)]
    broadcast_flag: bool,
    /// Server process to charge CPU time to, LABEL=PID (repeatable; optional).
    #[arg(long = "cpu-pid")]
    cpu_pids: Vec<CpuPid>,
    #[arg(long, default_value = "")]
    goal_rate: String,
    #[arg(long, default_value = "")]
    goal_p99: String,
}

struct Rep {
    rate: f64,
    latencies_ms: Vec<f64>,
    failures: u64,
    /// Server CPU seconds, when its process was given.
    cpu: Option<f64>,
}

pub fn run(args: &Args) -> Result<(), String> {
    let sock = UdpSocket::bind(args.client).map_err(|e| format!("bind {}: {e}", args.client))?;
    sock.set_read_timeout(Some(Duration::from_millis(2)))
        .map_err(|e| e.to_string())?;
    let mut xid = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(1);
    let mut reps: Vec<Vec<Rep>> = args.targets.iter().map(|_| Vec::new()).collect();
    for _ in 0..args.reps {
        for (i, target) in args.targets.iter().enumerate() {
            let meter = Meter::start(pids_for(&args.cpu_pids, &target.label));
            let mut rep = one_rep(args, &sock, target.addr, &mut xid)?;
            rep.cpu = meter.stop();
            reps[i].push(rep);
        }
    }
    for (target, reps) in args.targets.iter().zip(&reps) {
        let failures = reps.iter().map(|r| r.failures).sum();
        for (metric, better, goal, samples) in [
            (
                "OFFER/s",
                Better::Higher,
                &args.goal_rate,
                reps.iter().map(|r| r.rate).collect(),
            ),
            (
                "p99 ms",
                Better::Lower,
                &args.goal_p99,
                reps.iter()
                    .map(|r| percentile(&r.latencies_ms, 99.0))
                    .collect::<Vec<_>>(),
            ),
        ] {
            Record {
                test: &args.test,
                metric,
                target: &target.label,
                better,
                samples,
                failures,
                goal,
            }
            .print();
        }
        let cpu: Vec<f64> = reps
            .iter()
            .filter_map(|r| Some(r.cpu? * 1e6 / r.latencies_ms.len().max(1) as f64))
            .collect();
        Record::print_server_cpu(
            &args.test,
            "server CPU µs/OFFER",
            &target.label,
            cpu,
            failures,
            "",
        );
    }
    Ok(())
}

fn one_rep(
    args: &Args,
    sock: &UdpSocket,
    server: SocketAddr,
    xid: &mut u32,
) -> Result<Rep, String> {
    let timeout = Duration::from_millis(args.timeout_ms);
    let mut in_flight: HashMap<u32, Instant> = HashMap::new();
    let mut latencies_ms = Vec::with_capacity(args.requests as usize);
    let mut failures = 0u64;
    let mut sent = 0u32;
    let mut buf = [0u8; 1500];
    // Stale answers from the previous target or repetition must not count here.
    drain(sock, &mut buf);
    let start = Instant::now();
    while sent < args.requests || !in_flight.is_empty() {
        while in_flight.len() < args.inflight && sent < args.requests {
            *xid = xid.wrapping_add(1);
            let n = sent.to_be_bytes();
            let mac = [0x52, 0x54, 0x00, n[1], n[2], n[3]];
            let mut discover = firmware_dhcp::discover(Arch::Bios, Stage::Firmware, *xid, mac);
            firmware_dhcp::set_broadcast_flag(&mut discover, args.broadcast_flag);
            sock.send_to(&discover, server)
                .map_err(|e| format!("send to {server}: {e}"))?;
            in_flight.insert(*xid, Instant::now());
            sent += 1;
        }
        match sock.recv_from(&mut buf) {
            Ok((n, _)) => {
                let now = Instant::now();
                match dhcp_wire::parse_reply(&buf[..n]) {
                    Ok(reply) => {
                        if let Some(sent_at) = in_flight.remove(&reply.xid) {
                            if reply.is_pxe_offer() {
                                latencies_ms.push((now - sent_at).as_secs_f64() * 1e3);
                            } else {
                                failures += 1;
                                if failures <= 3 {
                                    eprintln!("  {server}: reply is not a PXE OFFER: {reply:?}");
                                }
                            }
                        }
                    }
                    Err(e) => {
                        failures += 1;
                        eprintln!("  {server}: {e}");
                    }
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => return Err(format!("receive: {e}")),
        }
        let now = Instant::now();
        let before = in_flight.len();
        in_flight.retain(|_, sent_at| now - *sent_at < timeout);
        failures += (before - in_flight.len()) as u64;
        if failures > 0 && latencies_ms.is_empty() && sent >= 20 {
            return Err(format!(
                "{server} answered none of the first {sent} DISCOVERs"
            ));
        }
    }
    Ok(Rep {
        rate: latencies_ms.len() as f64 / start.elapsed().as_secs_f64(),
        latencies_ms,
        failures,
        cpu: None,
    })
}

fn drain(sock: &UdpSocket, buf: &mut [u8]) {
    while sock.recv_from(buf).is_ok() {}
}
