//! `netboot-bench membw`: how fast this machine copies memory, the physical limit of every
//! loopback transfer. A byte that crosses loopback is copied at least once (socket buffer to the
//! client's buffer; sendfile spares the server's copy), and a verifying client reads it once
//! more, so no loopback download can beat one thread's copy rate, and a client that checks
//! what it got runs at best at about half of it.

use std::hint::black_box;
use std::time::Instant;

use crate::record::{Better, Record};

#[derive(clap::Args)]
pub struct Args {
    /// Buffer size in MiB: well beyond the CPU caches, so the copy goes to memory.
    #[arg(long, default_value_t = 256)]
    mib: usize,
    #[arg(long, default_value_t = 5)]
    reps: usize,
}

pub fn run(args: &Args) -> Result<(), String> {
    if args.mib == 0 {
        return Err("--mib must be at least 1".into());
    }
    let len = args.mib << 20;
    let src = vec![0x5au8; len];
    let mut dst = vec![0u8; len];
    // One untimed pass, so the pages are faulted in before anything is measured.
    dst.copy_from_slice(&src);
    let samples = (0..args.reps)
        .map(|_| {
            let start = Instant::now();
            black_box(&mut dst).copy_from_slice(black_box(&src));
            len as f64 / start.elapsed().as_secs_f64() / 1e6
        })
        .collect();
    Record {
        test: "memory copy, one thread (the loopback limit)",
        metric: "MB/s",
        target: "machine",
        better: Better::Higher,
        samples,
        failures: 0,
        goal: "",
    }
    .print();
    Ok(())
}
