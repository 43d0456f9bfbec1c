//! The `netboot` commands as a library: one module per command, each with one entry function
//! that takes a plain options struct and returns a typed result or error. The binary parses
//! arguments into those options, calls the function, prints what it returns and maps errors
//! to exit codes; so every command can be called from a test in-process, as cargo's `ops` are.
//!
//! No command module imports another: what two commands share has a module of its own
//! ([`console`], [`install_state`], [`loaded`], [`report_format`]). The work below the commands lives in the
//! crates they call: `netboot-compiler` (fleet → manifest), `netboot-runtime` (the servers and
//! the DHCP packet code), `netboot-manifest` (the contract, and the server settings).

pub mod boot_test;
pub mod build;
pub mod check;
pub mod console;
pub mod dhcp_config;
pub mod diff;
pub mod doctor;
pub mod explain;
pub mod init;
pub mod install_state;
pub mod loaded;
pub mod reinstall;
pub mod report_format;
pub mod serve;
pub mod state;
