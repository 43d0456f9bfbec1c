//! Test fleets: fixtures in tests/fixtures/vm/ with placeholders for machine-specific paths,
//! written into the lab, and `netboot serve` started on them.

use std::path::PathBuf;

use super::assets::{Assets, Installer};
use crate::lab::{Lab, Role, IFACE};

/// The fixture `tests/fixtures/vm/<name>.kdl` with `@KERNEL@`, `@INITRD@` and
/// `@INSTALL_INITRD@` replaced by the cached assets' paths (and `@INSTALLER_KERNEL@`,
/// `@INSTALLER_INITRD@` by Debian's installer, fetched only for a fixture that names it),
/// written to the lab's work dir as `fleet.kdl`.
pub fn write(lab: &Lab, name: &str) -> PathBuf {
    let fixture = crate::workspace().join(format!("tests/fixtures/vm/{name}.kdl"));
    let text = std::fs::read_to_string(&fixture)
        .unwrap_or_else(|e| panic!("read {}: {e}", fixture.display()));
    let assets = Assets::get();
    let text = text
        .replace("@KERNEL@", &assets.kernel.display().to_string())
        .replace("@INITRD@", &assets.initrd.display().to_string())
        .replace(
            "@INSTALL_INITRD@",
            &assets.install_initrd.display().to_string(),
        );
    let text = if text.contains("@INSTALLER_") {
        let installer = Installer::get();
        text.replace(
            "@INSTALLER_KERNEL@",
            &installer.kernel.display().to_string(),
        )
        .replace(
            "@INSTALLER_INITRD@",
            &installer.initrd.display().to_string(),
        )
    } else {
        text
    };
    let path = lab.work_dir().join("fleet.kdl");
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path
}

/// How an edit reaches the disk; editors do both, and a watcher must see both.
#[derive(Clone, Copy, Debug)]
pub enum Save {
    /// Truncate and rewrite the same file (nano, `>`).
    InPlace,
    /// Write a new file next to it and rename it over the old one (vim, most IDEs): the
    /// watched inode goes away.
    Rename,
}

/// Edits the fleet by replacing `from` with `to` (which must occur), saved as `save` says.
pub fn edit(path: &std::path::Path, from: &str, to: &str, save: Save) {
    let text = std::fs::read_to_string(path).expect("read fleet");
    assert!(text.contains(from), "fleet has no {from:?} to edit");
    let text = text.replace(from, to);
    match save {
        Save::InPlace => std::fs::write(path, text).expect("write edited fleet"),
        Save::Rename => {
            let tmp = path.with_extension("kdl.new");
            std::fs::write(&tmp, text).expect("write edited fleet copy");
            std::fs::rename(&tmp, path).expect("rename edited fleet over the old one");
        }
    }
}

/// Starts `netboot serve FLEET --interface eth0 --address <server> --http-port 8080` in the
/// server namespace and waits until its DHCP, TFTP and HTTP sockets are open.
pub fn serve(lab: &mut Lab, fleet: &std::path::Path) {
    start(lab, fleet, &[]);
    lab.wait_listening(Role::Server, "udp", 67);
    lab.wait_listening(Role::Server, "udp", 4011);
    lab.wait_listening(Role::Server, "udp", 69);
    lab.wait_listening(Role::Server, "tcp", 8080);
}

/// [`serve`] for a fleet in full-DHCP mode: no watcher, its leases and install state under
/// the lab's work dir (`state/`), every socket open before it returns.
pub fn serve_full(lab: &mut Lab, fleet: &std::path::Path) {
    let state = lab.work_dir().join("state").display().to_string();
    start(lab, fleet, &["--no-watch", "--state-dir", &state]);
    lab.wait_listening(Role::Server, "udp", 67);
    lab.wait_listening(Role::Server, "udp", 4011);
    lab.wait_listening(Role::Server, "udp", 69);
    lab.wait_listening(Role::Server, "tcp", 8080);
}

/// [`serve`] with `--no-dhcp`, for a LAN whose router hands out the boot answers: waits for
/// TFTP and HTTP only.
pub fn serve_without_dhcp(lab: &mut Lab, fleet: &std::path::Path) {
    start(lab, fleet, &["--no-dhcp"]);
    lab.wait_listening(Role::Server, "udp", 69);
    lab.wait_listening(Role::Server, "tcp", 8080);
}

fn start(lab: &mut Lab, fleet: &std::path::Path, extra: &[&str]) {
    let mut args = vec![
        "serve".to_string(),
        fleet.display().to_string(),
        "--interface".into(),
        IFACE.into(),
        "--address".into(),
        lab.server_addr(),
        "--http-port".into(),
        "8080".into(),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    let mut cmd = lab.netns(Role::Server).command(crate::netboot_bin());
    cmd.args(&args)
        .env("RUST_LOG", "debug")
        .env("NO_COLOR", "1");
    lab.spawn_command("netboot", cmd);
}
