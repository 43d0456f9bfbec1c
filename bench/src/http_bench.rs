//! `netboot-bench http`: one or many concurrent HTTP downloads per repetition, per target.

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use crate::expected::Expected;
use crate::http_get;
use crate::record::{Better, Record};
use crate::server_cpu::{pids_for, CpuPid, Meter};
use crate::target::{parse_sha256, Target};

#[derive(clap::Args)]
pub struct Args {
    /// Server to measure, LABEL=IP:PORT/PATH (repeatable).
    #[arg(long = "target", required = true)]
    targets: Vec<Target>,
    #[arg(long)]
    test: String,
    #[arg(long)]
    size: u64,
    #[arg(long)]
    sha256: String,
    /// The file itself (it must match --size and --sha256): downloads are compared with it
    /// instead of hashed, so the clients spend less of the CPU the servers need.
    #[arg(long)]
    file: Option<std::path::PathBuf>,
    #[arg(long, default_value_t = 1)]
    clients: usize,
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Server process to charge CPU time to, LABEL=PID (repeatable; optional).
    #[arg(long = "cpu-pid")]
    cpu_pids: Vec<CpuPid>,
    #[arg(long, default_value = "")]
    goal: String,
}

pub fn run(args: &Args) -> Result<(), String> {
    let mut expected = Expected::new(args.size, parse_sha256(&args.sha256)?);
    if let Some(file) = &args.file {
        expected = expected.with_file(file)?;
    }
    let mut results: Vec<Vec<(Duration, u64)>> = args.targets.iter().map(|_| Vec::new()).collect();
    let mut cpu: Vec<Vec<f64>> = args.targets.iter().map(|_| Vec::new()).collect();
    for _ in 0..args.reps {
        for (i, target) in args.targets.iter().enumerate() {
            let meter = Meter::start(pids_for(&args.cpu_pids, &target.label));
            results[i].push(one_rep(args, target, &expected));
            cpu[i].extend(meter.stop());
        }
    }
    let bytes = args.size as f64 * args.clients as f64;
    for ((target, reps), cpu) in args.targets.iter().zip(&results).zip(&cpu) {
        Record {
            test: &args.test,
            metric: "MB/s",
            target: &target.label,
            better: Better::Higher,
            samples: reps
                .iter()
                .map(|(wall, _)| bytes / wall.as_secs_f64() / 1e6)
                .collect(),
            failures: reps.iter().map(|(_, f)| f).sum(),
            goal: &args.goal,
        }
        .print();
        Record::print_server_cpu(
            &args.test,
            "server CPU ms/MB",
            &target.label,
            cpu.iter().map(|s| s * 1e3 / (bytes / 1e6)).collect(),
            reps.iter().map(|(_, f)| f).sum(),
            "",
        );
    }
    Ok(())
}

/// Runs all clients once; gives the wall time and the number of failed downloads.
fn one_rep(args: &Args, target: &Target, expected: &Expected) -> (Duration, u64) {
    let barrier = Arc::new(Barrier::new(args.clients + 1));
    let workers: Vec<_> = (0..args.clients)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            let (addr, path) = (target.addr, target.path.clone());
            let expected = expected.clone();
            thread::spawn(move || {
                barrier.wait();
                http_get::fetch(addr, &path, &expected)
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    let mut failures = 0;
    for worker in workers {
        let problem = match worker.join() {
            Ok(Ok(o)) if o.status == 200 && o.wrong.is_none() => continue,
            Ok(Ok(o)) => format!(
                "status {}, {} bytes: {}",
                o.status,
                o.bytes,
                o.wrong.as_deref().unwrap_or("")
            ),
            Ok(Err(e)) => e,
            Err(_) => "client thread panicked".to_string(),
        };
        failures += 1;
        eprintln!("  {} {}: {problem}", args.test, target.label);
    }
    (start.elapsed(), failures)
}
