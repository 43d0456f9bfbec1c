//! `netboot-bench`: the clients of the performance suite (bench/run.sh drives them).
//!
//! Every measuring subcommand takes one or more `--target LABEL=ADDR[/PATH]`, runs the same client
//! against each target in turn (repetitions interleaved, so drift on a shared machine hits every
//! server alike), checks every download against its sha256, and prints one JSON line per metric
//! and target. `table` turns those lines into the markdown table of BENCHMARKS.md.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod dhcp_bench;
mod dhcp_hub;
mod dhcp_wire;
mod expected;
mod firmware_dhcp;
mod fleet_gen;
mod http_bench;
mod http_get;
mod ipxe_script;
mod membw;
mod record;
mod server_cpu;
mod stats;
mod storm;
mod storm_client;
mod table;
mod target;
mod tftp_bench;
mod tftp_client;
mod tftp_wire;
mod udp_batch;
mod udp_buffers;
mod wrk_bench;

#[derive(Parser)]
#[command(name = "netboot-bench", about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// TFTP downloads (one or many concurrent clients) with blksize/windowsize options.
    Tftp(tftp_bench::Args),
    /// HTTP downloads (one or many concurrent clients).
    Http(http_bench::Args),
    /// Small-file request rate and latency with wrk.
    Wrk(wrk_bench::Args),
    /// Proxy-DHCP DISCOVER -> OFFER round trips.
    Dhcp(dhcp_bench::Args),
    /// Memory copy rate: the physical limit of loopback transfers.
    Membw(membw::Args),
    /// N machines booting at once through the whole chain (DHCP, 4011, TFTP, iPXE, HTTP).
    Storm(Box<storm::Args>),
    /// Write a generated fleet of N machines.
    Fleet(fleet_gen::Args),
    /// Print a result line for a number measured elsewhere (time, memory).
    Record(record::Args),
    /// Render result lines (JSON) as a markdown table.
    Table(table::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Tftp(args) => tftp_bench::run(&args),
        Command::Http(args) => http_bench::run(&args),
        Command::Wrk(args) => wrk_bench::run(&args),
        Command::Dhcp(args) => dhcp_bench::run(&args),
        Command::Membw(args) => membw::run(&args),
        Command::Storm(args) => storm::run(&args),
        Command::Fleet(args) => fleet_gen::run(&args),
        Command::Record(args) => record::run(&args),
        Command::Table(args) => table::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("netboot-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
