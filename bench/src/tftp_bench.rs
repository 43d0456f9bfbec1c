//! `netboot-bench tftp`: one or many concurrent TFTP downloads per repetition, per target.

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use crate::record::{Better, Record};
use crate::server_cpu::{pids_for, CpuPid, Meter};
use crate::target::{parse_sha256, Target};
use crate::tftp_client::{self, Request};

#[derive(clap::Args)]
pub struct Args {
    /// Server to measure, LABEL=IP:PORT/FILE (repeatable).
    #[arg(long = "target", required = true)]
    targets: Vec<Target>,
    /// Test name shown in the table.
    #[arg(long)]
    test: String,
    /// Expected size of the file in bytes.
    #[arg(long)]
    size: u64,
    /// Expected sha256 of the file (hex).
    #[arg(long)]
    sha256: String,
    #[arg(long, default_value_t = 512)]
    blksize: u16,
    #[arg(long, default_value_t = 1)]
    windowsize: u16,
    /// Concurrent clients per repetition.
    #[arg(long, default_value_t = 1)]
    clients: usize,
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Retransmission timeout in milliseconds.
    #[arg(long, default_value_t = 500)]
    timeout_ms: u64,
    /// Server process to charge CPU time to, LABEL=PID (repeatable; optional).
    #[arg(long = "cpu-pid")]
    cpu_pids: Vec<CpuPid>,
    /// Goal for netboot's throughput (see `table`).
    #[arg(long, default_value = "")]
    goal: String,
}

/// What one repetition against one target gave.
struct Rep {
    wall: Duration,
    failures: u64,
    timeouts: u64,
    negotiated: Option<(usize, u16)>,
    /// Server CPU seconds, when its process was given.
    cpu: Option<f64>,
}

pub fn run(args: &Args) -> Result<(), String> {
    let sha = parse_sha256(&args.sha256)?;
    let mut reps: Vec<Vec<Rep>> = args.targets.iter().map(|_| Vec::new()).collect();
    for _ in 0..args.reps {
        for (i, target) in args.targets.iter().enumerate() {
            let meter = Meter::start(pids_for(&args.cpu_pids, &target.label));
            let mut rep = one_rep(args, target, sha);
            rep.cpu = meter.stop();
            reps[i].push(rep);
        }
    }
    for (target, reps) in args.targets.iter().zip(&reps) {
        let failures = reps.iter().map(|r| r.failures).sum();
        let timeouts: u64 = reps.iter().map(|r| r.timeouts).sum();
        if let Some((blksize, windowsize)) = reps.iter().find_map(|r| r.negotiated) {
            eprintln!(
                "  {} {}: server agreed blksize {blksize} windowsize {windowsize}; {timeouts} client timeouts, {failures} failures",
                args.test, target.label
            );
        }
        let bytes = args.size as f64 * args.clients as f64;
        Record {
            test: &args.test,
            metric: "MB/s",
            target: &target.label,
            better: Better::Higher,
            samples: reps
                .iter()
                .map(|r| bytes / r.wall.as_secs_f64() / 1e6)
                .collect(),
            failures,
            goal: &args.goal,
        }
        .print();
        let cpu: Vec<f64> = reps
            .iter()
            .filter_map(|r| r.cpu)
            .map(|s| s * 1e3 / (bytes / 1e6))
            .collect();
        Record::print_server_cpu(
            &args.test,
            "server CPU ms/MB",
            &target.label,
            cpu,
            failures,
            "",
        );
        if args.clients > 1 {
            Record {
                test: &args.test,
                metric: "wall s",
                target: &target.label,
                better: Better::Lower,
                samples: reps.iter().map(|r| r.wall.as_secs_f64()).collect(),
                failures,
                goal: "",
            }
            .print();
        }
    }
    Ok(())
}

fn one_rep(args: &Args, target: &Target, sha: [u8; 32]) -> Rep {
    let request = Request {
        server: target.addr,
        file: target.path.clone(),
        blksize: args.blksize,
        windowsize: args.windowsize,
        timeout: Duration::from_millis(args.timeout_ms),
        retries: 10,
        source: tftp_client::source_for(target.addr, 0),
    };
    let barrier = Arc::new(Barrier::new(args.clients + 1));
    let workers: Vec<_> = (0..args.clients)
        .map(|i| {
            let mut request = request.clone();
            request.source = tftp_client::source_for(target.addr, i);
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                tftp_client::fetch(&request)
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    let mut rep = Rep {
        wall: Duration::ZERO,
        failures: 0,
        timeouts: 0,
        negotiated: None,
        cpu: None,
    };
    for worker in workers {
        match worker.join() {
            Ok(Ok(outcome)) => {
                rep.timeouts += u64::from(outcome.timeouts);
                rep.negotiated = Some((outcome.blksize, outcome.windowsize));
                if outcome.bytes != args.size || outcome.sha256 != sha {
                    rep.failures += 1;
                    eprintln!(
                        "  {} {}: got {} bytes with sha256 {}, expected {} bytes",
                        args.test,
                        target.label,
                        outcome.bytes,
                        hex::encode(outcome.sha256),
                        args.size
                    );
                }
            }
            Ok(Err(e)) => {
                rep.failures += 1;
                eprintln!("  {} {}: {e}", args.test, target.label);
            }
            Err(_) => {
                rep.failures += 1;
                eprintln!("  {} {}: client thread panicked", args.test, target.label);
            }
        }
    }
    rep.wall = start.elapsed();
    rep
}
