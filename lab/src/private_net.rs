//! The private network: this process moves into a network namespace of its own, where a bridge
//! holds the server's address and each VM gets a tap on it. Nothing is created on the host's
//! interfaces, and nothing needs removing afterwards: the namespace, its bridge and taps go
//! away with the last process inside it (this one and its QEMU children).
//!
//! As root the process only unshares its network namespace. Anyone else first enters a new
//! user namespace that maps their uid to root, as `unshare -rn` does: root in there owns the
//! network namespace, so it may add the bridge and taps and bind ports 67, 69 and 80; opening
//! /dev/net/tun still goes by the device's mode on the host (see [`crate::preflight`]).

use std::net::Ipv4Addr;
use std::process::Command;

use nix::sched::{unshare, CloneFlags};

/// The bridge's name inside the namespace.
pub const BRIDGE: &str = "br0";

/// How the process got its namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entered {
    /// As root: a new network namespace only.
    Root,
    /// A new user namespace mapping `uid` to root, owning the new network namespace.
    UserNamespace { uid: u32 },
}

/// Why the private network could not be made.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error(
        "cannot create a private network namespace ({0}); a process with threads cannot, and \
         unprivileged user namespaces may be switched off (sysctl kernel.unprivileged_userns_clone \
         or user.max_user_namespaces): run as root"
    )]
    Unshare(nix::Error),
    #[error("cannot map uid/gid into the new user namespace: {0}")]
    Map(std::io::Error),
    #[error("`ip {args}` failed in the private network: {message}")]
    Ip { args: String, message: String },
}

/// Moves this process into a network namespace of its own (and, unless it runs as root or
/// `force_user_namespace`, a user namespace mapping it to root first). Call it before any
/// thread is started: the kernel refuses a multi-threaded process a new user namespace.
pub fn enter(force_user_namespace: bool) -> Result<Entered, NetError> {
    let uid = nix::unistd::geteuid().as_raw();
    let gid = nix::unistd::getegid().as_raw();
    if uid == 0 && !force_user_namespace {
        unshare(CloneFlags::CLONE_NEWNET).map_err(NetError::Unshare)?;
        bring_up_loopback()?;
        return Ok(Entered::Root);
    }
    unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNET).map_err(NetError::Unshare)?;
    // setgroups must be denied before an unprivileged process may write its gid_map.
    std::fs::write("/proc/self/setgroups", "deny").map_err(NetError::Map)?;
    std::fs::write("/proc/self/uid_map", format!("0 {uid} 1")).map_err(NetError::Map)?;
    std::fs::write("/proc/self/gid_map", format!("0 {gid} 1")).map_err(NetError::Map)?;
    bring_up_loopback()?;
    Ok(Entered::UserNamespace { uid })
}

fn bring_up_loopback() -> Result<(), NetError> {
    ip(&["link", "set", "lo", "up"])
}

/// The bridge with the server's address, in the namespace [`enter`] made.
#[derive(Debug)]
pub struct Bridge {
    pub address: Ipv4Addr,
    pub prefix: u8,
    taps: usize,
}

impl Bridge {
    /// Adds [`BRIDGE`] with `address/prefix`. `forward_delay 0`: a port forwards at once, so a
    /// firmware's first DISCOVER is not lost while the bridge learns.
    pub fn create(address: Ipv4Addr, prefix: u8) -> Result<Bridge, NetError> {
        ip(&[
            "link",
            "add",
            BRIDGE,
            "type",
            "bridge",
            "forward_delay",
            "0",
        ])?;
        ip(&["addr", "add", &format!("{address}/{prefix}"), "dev", BRIDGE])?;
        ip(&["link", "set", BRIDGE, "up"])?;
        Ok(Bridge {
            address,
            prefix,
            taps: 0,
        })
    }

    /// A new tap on the bridge, up, for one VM; its name.
    pub fn add_tap(&mut self) -> Result<String, NetError> {
        let tap = format!("tap{}", self.taps);
        self.taps += 1;
        ip(&["tuntap", "add", "dev", &tap, "mode", "tap"])?;
        ip(&["link", "set", &tap, "master", BRIDGE, "up"])?;
        Ok(tap)
    }

    /// Deletes a tap whose VM has ended.
    pub fn remove_tap(&self, tap: &str) {
        let _ = ip(&["link", "del", tap]);
    }
}

fn ip(args: &[&str]) -> Result<(), NetError> {
    let failed = |message: String| NetError::Ip {
        args: args.join(" "),
        message,
    };
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| failed(e.to_string()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(failed(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ))
    }
}
