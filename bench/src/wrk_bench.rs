//! `netboot-bench wrk`: small-file request rate and p99 latency, measured by wrk.

use std::process::Command;

use sha2::{Digest, Sha256};

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
    /// sha256 of the file; checked with one GET before wrk runs.
    #[arg(long)]
    sha256: String,
    #[arg(long, default_value_t = 64)]
    connections: u32,
    #[arg(long, default_value_t = 2)]
    threads: u32,
    /// Seconds per wrk run.
    #[arg(long, default_value_t = 5)]
    duration: u32,
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Server process to charge CPU time to, LABEL=PID (repeatable; optional).
    #[arg(long = "cpu-pid")]
    cpu_pids: Vec<CpuPid>,
    #[arg(long, default_value = "")]
    goal: String,
}

/// What one wrk run reported.
#[derive(Debug, PartialEq)]
pub struct WrkRun {
    pub requests_per_sec: f64,
    pub p99_us: f64,
    /// Non-2xx/3xx responses plus socket errors.
    pub errors: u64,
    /// Server CPU microseconds per request, when its process was given.
    pub cpu_us_per_request: Option<f64>,
}

pub fn run(args: &Args) -> Result<(), String> {
    let sha = parse_sha256(&args.sha256)?;
    for target in &args.targets {
        let mut body = Vec::new();
        let got = http_get::fetch_with(
            target.addr,
            &target.path,
            64 << 10,
            std::time::Duration::from_secs(30),
            http_get::Body::Keep(&mut body),
        )
        .map_err(|e| format!("{}: checking {}: {e}", target.label, target.path))?;
        let got_sha: [u8; 32] = Sha256::digest(&body).into();
        if got.status != 200 || got_sha != sha {
            return Err(format!(
                "{}: /{} answered status {} with sha256 {}, expected {}",
                target.label,
                target.path,
                got.status,
                hex::encode(got_sha),
                args.sha256
            ));
        }
    }
    let mut runs: Vec<Vec<WrkRun>> = args.targets.iter().map(|_| Vec::new()).collect();
    for _ in 0..args.reps {
        for (i, target) in args.targets.iter().enumerate() {
            let url = format!("http://{}/{}", target.addr, target.path);
            let meter = Meter::start(pids_for(&args.cpu_pids, &target.label));
            let out = Command::new("wrk")
                .args([
                    "-t",
                    &args.threads.to_string(),
                    "-c",
                    &args.connections.to_string(),
                ])
                .args(["-d", &format!("{}s", args.duration), "--latency", &url])
                .output()
                .map_err(|e| format!("running wrk: {e}"))?;
            let text = String::from_utf8_lossy(&out.stdout);
            let mut run =
                parse_wrk(&text).ok_or_else(|| format!("cannot read wrk output:\n{text}"))?;
            let requests = run.requests_per_sec * f64::from(args.duration);
            run.cpu_us_per_request = meter.stop().map(|s| s * 1e6 / requests);
            runs[i].push(run);
        }
    }
    for (target, runs) in args.targets.iter().zip(&runs) {
        let errors = runs.iter().map(|r| r.errors).sum();
        Record {
            test: &args.test,
            metric: "req/s",
            target: &target.label,
            better: Better::Higher,
            samples: runs.iter().map(|r| r.requests_per_sec).collect(),
            failures: errors,
            goal: &args.goal,
        }
        .print();
        Record {
            test: &args.test,
            metric: "p99 ms",
            target: &target.label,
            better: Better::Lower,
            samples: runs.iter().map(|r| r.p99_us / 1000.0).collect(),
            failures: errors,
            goal: "",
        }
        .print();
        let cpu: Vec<f64> = runs.iter().filter_map(|r| r.cpu_us_per_request).collect();
        Record::print_server_cpu(
            &args.test,
            "server CPU µs/req",
            &target.label,
            cpu,
            errors,
            "",
        );
    }
    Ok(())
}

/// Reads requests/s, the 99th percentile and the error counts from `wrk --latency` output.
pub fn parse_wrk(text: &str) -> Option<WrkRun> {
    let mut rps = None;
    let mut p99 = None;
    let mut errors = 0;
    for line in text.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("Requests/sec:") {
            rps = v.trim().parse().ok();
        } else if let Some(v) = line.strip_prefix("99%") {
            p99 = duration_us(v.trim());
        } else if let Some(v) = line.strip_prefix("Non-2xx or 3xx responses:") {
            errors += v.trim().parse::<u64>().ok()?;
        } else if let Some(v) = line.strip_prefix("Socket errors:") {
            for part in v.split(',') {
                errors += part.split_whitespace().last()?.parse::<u64>().ok()?;
            }
        }
    }
    Some(WrkRun {
        requests_per_sec: rps?,
        p99_us: p99?,
        errors,
        cpu_us_per_request: None,
    })
}

/// wrk's durations: `812.00us`, `1.23ms`, `2.00s`, `1.50m`.
fn duration_us(s: &str) -> Option<f64> {
    let split = s.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = s.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale = match unit {
        "us" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        "m" => 60e6,
        _ => return None,
    };
    Some(number * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "Running 5s test @ http://127.0.0.1:8080/s
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.10ms  300.00us   9.00ms   80.00%
  Latency Distribution
     50%  812.00us
     75%    1.10ms
     90%    1.50ms
     99%    2.25ms
  123456 requests in 5.00s, 45.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:  24691.20
Transfer/sec:      9.00MB
";

    #[test]
    fn reads_rate_p99_and_errors() {
        assert_eq!(
            parse_wrk(SAMPLE),
            Some(WrkRun {
                requests_per_sec: 24691.2,
                p99_us: 2250.0,
                errors: 7,
                cpu_us_per_request: None
            })
        );
    }

    #[test]
    fn missing_rate_is_no_result() {
        assert_eq!(
            parse_wrk("unable to connect to 127.0.0.1:1 Connection refused"),
            None
        );
    }

    #[test]
    fn durations_in_all_units() {
        assert_eq!(duration_us("812.00us"), Some(812.0));
        assert_eq!(duration_us("2.00s"), Some(2e6));
        assert_eq!(duration_us("fast"), None);
    }
}
