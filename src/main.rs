//! `netboot`: the command-line front end. Argument parsing, one `netboot-ops` call per command,
//! printing what it returns and mapping errors to exit codes; the work happens in `netboot-ops`
//! and the crates below it.

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

mod boot_test;
mod build;
mod check;
mod completions;
mod dhcp_config;
mod diff;
mod doctor;
mod explain;
mod init;
mod logging;
mod overrides;
mod reinstall;
mod report_format;
mod serve;
mod state;
mod stdout;
mod try_boot;

/// Declarative network boot: compile a fleet, then serve it over proxy-DHCP, TFTP and HTTP.
#[derive(Parser)]
#[command(name = "netboot", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a fleet and write its scripts, menus and manifest.json.
    Build(build::BuildArgs),
    /// Validate a fleet only; exit 1 when it has errors.
    Check(check::CheckArgs),
    /// Serve a fleet (compiled in memory) or a frozen manifest.
    Serve(serve::ServeArgs),
    /// Show the exact boot chain one machine gets, or why it gets nothing.
    Explain(explain::ExplainArgs),
    /// Compare two fleets (or manifests, or git revisions): which machines boot something else.
    Diff(diff::DiffArgs),
    /// Write a commented starter fleet that uses the iPXE loaders found on this machine.
    Init(init::InitArgs),
    /// List the machines with an install lifecycle: what each reported, what it boots next.
    State(state::StateArgs),
    /// Make one machine install again on its next boot (an emergency override; the normal
    /// way is a generation bump in the fleet).
    Reinstall(reinstall::ReinstallArgs),
    /// Check the interface, address and ports, and find other DHCP/PXE servers on the segment.
    Doctor(doctor::DoctorArgs),
    /// Print the configuration that makes a router's DHCP server (dnsmasq, ISC dhcpd, Kea,
    /// RouterOS) hand out the fleet's boot answers, for `serve --no-dhcp`.
    DhcpConfig(dhcp_config::DhcpConfigArgs),
    /// Boot the fleet's machines in throwaway VMs on a private network and check that each
    /// gets everything the fleet says.
    Test(boot_test::TestArgs),
    /// Boot one VM on the same private network with its console on this terminal, to walk
    /// the fleet's menus by hand.
    Try(try_boot::TryArgs),
    /// Print a shell completion script (bash, zsh, fish, ...).
    Completions(completions::CompletionsArgs),
    /// Print the manual page (roff) for netboot or one of its commands.
    Man(completions::ManArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // Help and version are successes; everything else is a usage error (exit 2).
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.command {
        Command::Build(args) => build::run(args),
        Command::Check(args) => check::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Init(args) => init::run(args),
        Command::State(args) => state::run(args),
        Command::Reinstall(args) => reinstall::run(args),
        Command::Doctor(args) => doctor::run(args),
        Command::DhcpConfig(args) => dhcp_config::run(args),
        Command::Test(args) => boot_test::run(args),
        Command::Try(args) => try_boot::run(args),
        Command::Completions(args) => completions::completions(args, Cli::command()),
        Command::Man(args) => completions::man(args, Cli::command()),
    }
}
