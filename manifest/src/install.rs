//! The install lifecycle's part of the contract: what a host that installs once carries, and
//! the done-URL token both sides derive the same way.
//!
//! The token is not a secret from the machines: the install profile's files (a preseed that
//! calls the done URL) are served over plain HTTP to anyone on the boot network, like every
//! other file. What it does is bind a report to one machine and one generation, so a preseed
//! copied to the wrong machine, a typo'd URL or a late report from an older install changes
//! nothing. It is derived from the fleet alone (no random, no key) so equal fleets give
//! byte-identical builds; see the README's threat model.

use serde::{Deserialize, Serialize};

use crate::{sha256_hex, MacAddr};

/// A host that boots `profile` until it has reported `generation` installed, then `then`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstallLifecycle {
    /// The install profile's name.
    pub profile: String,
    /// The profile booted once the install is reported (the host's `script`).
    pub then: String,
    /// The generation to install; a recorded generation at or above it means installed.
    pub generation: u32,
    /// The install script, a key of [`Manifest::files`](crate::Manifest::files).
    pub script: String,
}

/// Where done reports arrive: `install-done/<host>/<generation>/<token>`.
pub const DONE_PREFIX: &str = "install-done/";

/// The per-machine, per-generation token of the done URL: 32 hex digits.
pub fn install_token(host: &str, mac: MacAddr, generation: u32) -> String {
    // Separated by newlines, which no host name (or MAC) contains, so fields cannot run together.
    let digest =
        sha256_hex(format!("netboot install-done v1\n{host}\n{mac}\n{generation}").as_bytes());
    digest[..32].to_string()
}

/// The done URL's path, without the leading slash.
pub fn install_done_path(host: &str, mac: MacAddr, generation: u32) -> String {
    format!(
        "{DONE_PREFIX}{host}/{generation}/{}",
        install_token(host, mac, generation)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_differ_per_machine_and_generation_and_are_stable() {
        let a = MacAddr([0x52, 0x54, 0, 0, 0, 1]);
        let b = MacAddr([0x52, 0x54, 0, 0, 0, 2]);
        let t = install_token("web1", a, 1);
        assert_eq!(t.len(), 32);
        assert!(t.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(t, install_token("web1", a, 1));
        assert_ne!(t, install_token("web1", a, 2));
        assert_ne!(t, install_token("web2", a, 1));
        assert_ne!(t, install_token("web1", b, 1));
        assert_eq!(
            install_done_path("web1", a, 1),
            format!("install-done/web1/1/{t}")
        );
    }
}
