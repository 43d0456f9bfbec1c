//! Dropping root once the privileged ports are bound.
//!
//! Ports 67, 69 and 4011 and SO_BINDTODEVICE need root (or CAP_NET_BIND_SERVICE and
//! CAP_NET_RAW); nothing after binding does. A boot server faces every machine on the LAN, so it
//! should spend its life as a user that can read the fleet and artifacts and nothing more.

use nix::unistd::{getuid, setgid, setgroups, setuid, User};

/// Switches the whole process (all threads) to `name`'s uid and gid, with no supplementary
/// groups, and checks that root cannot be regained.
pub fn drop_to(name: &str) -> Result<(), String> {
    let user = User::from_name(name)
        .map_err(|e| format!("cannot look up user `{name}`: {e}"))?
        .ok_or_else(|| {
            format!("no such user `{name}` (create it, e.g. `useradd --system {name}`)")
        })?;
    if !getuid().is_root() {
        return Err(format!("--user {name} needs netboot to start as root"));
    }
    setgroups(&[]).map_err(|e| format!("cannot clear supplementary groups: {e}"))?;
    setgid(user.gid).map_err(|e| format!("cannot switch to group {}: {e}", user.gid))?;
    setuid(user.uid).map_err(|e| format!("cannot switch to user `{name}`: {e}"))?;
    if setuid(nix::unistd::Uid::from_raw(0)).is_ok() {
        return Err("dropped privileges but could become root again; refusing to serve".into());
    }
    // `netboot::privilege`, the binary's module this came from: log filters name it.
    tracing::info!(
        target: "netboot::privilege",
        user = %name,
        uid = user.uid.as_raw(),
        gid = user.gid.as_raw(),
        "dropped root"
    );
    Ok(())
}
