//! Packet loss and delay on the boot server's link, inside the lab only: what
//! `tc qdisc add dev … root netem loss P% delay D` does, on kernels built without sch_netem
//! too. With netem available it is used on both ends of the server's veth; without it the
//! server's veth is taken off the bridge and `impair.py` forwards its frames to the bridge
//! through a second veth, dropping and delaying them in userspace. Either way every frame to
//! and from the server (proxy-DHCP, TFTP, HTTP) is impaired in both directions; the router's
//! plain DHCP is not.

use std::time::{Duration, Instant};

use crate::lab::{Lab, Role, IFACE};

/// How the impairment was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Impairment {
    /// The kernel's netem qdisc.
    Netem,
    /// `impair.py` in the lan namespace (the kernel has no sch_netem).
    Userspace,
}

/// Loses `loss_percent` % of the frames each way and delays the rest by `delay`, on the link
/// between the server namespace and the bridge.
pub fn impair(lab: &mut Lab, loss_percent: u32, delay: Duration) -> Impairment {
    let ms = delay.as_millis().to_string();
    let loss = format!("{loss_percent}%");
    let netem = |role: Role, dev: &str| {
        lab.netns(role)
            .command("tc")
            .args(["qdisc", "add", "dev", dev, "root", "netem", "loss", &loss])
            .args(["delay", &format!("{ms}ms")])
            // "Specified qdisc kind is unknown" is expected here and answered below.
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if netem(Role::Server, IFACE) && netem(Role::Lan, "vserver") {
        return Impairment::Netem;
    }

    let lan = lab.netns(Role::Lan);
    lan.ip(&["link", "set", "vserver", "nomaster"]);
    lan.ip(&[
        "link", "add", "vimpair", "type", "veth", "peer", "name", "vimpairb",
    ]);
    lan.ip(&["link", "set", "vimpairb", "master", "br0", "up"]);
    lan.ip(&["link", "set", "vimpair", "up", "promisc", "on"]);
    lan.ip(&["link", "set", "vserver", "promisc", "on"]);
    // Frames pass through userspace as they are: no segmentation or checksum offload may
    // leave a 64 KiB super-frame or an unfinished checksum for the forwarder to copy.
    for (role, dev) in [
        (Role::Server, IFACE),
        (Role::Lan, "vserver"),
        (Role::Lan, "vimpair"),
        (Role::Lan, "vimpairb"),
    ] {
        let status = lab
            .netns(role)
            .command("ethtool")
            .args(["-K", dev, "tx", "off", "sg", "off", "tso", "off"])
            .args(["gso", "off", "gro", "off"])
            .stdout(std::process::Stdio::null())
            .status()
            .expect("run ethtool");
        assert!(status.success(), "ethtool -K {dev} failed");
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/src/vm/impair.py");
    let args = vec![
        script.to_string(),
        "vserver".into(),
        "vimpair".into(),
        loss_percent.to_string(),
        ms,
        // A fixed seed: the same frames are lost on every run of the same traffic.
        "7".into(),
    ];
    lab.spawn(Role::Lan, "impair", "python3", &args);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !lab.daemon_log("impair").contains("impair:") {
        assert!(Instant::now() < deadline, "impair.py did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Impairment::Userspace
}

/// The forwarder's last counter line (frames forwarded and dropped each way), or "netem".
pub fn counters(lab: &Lab, how: Impairment) -> String {
    match how {
        Impairment::Netem => lab.netns(Role::Server).output("tc", &["-s", "qdisc"]),
        Impairment::Userspace => lab
            .daemon_log("impair")
            .lines()
            .rev()
            .find(|l| l.contains("forwarded"))
            .unwrap_or("no counters yet")
            .to_string(),
    }
}
