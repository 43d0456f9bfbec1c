//! The reference boot server: dnsmasq as proxy-DHCP + TFTP and python's http.server, in the
//! server namespace. When a control boot fails the lab is broken; when only netboot's fails,
//! netboot is.

use super::assets::Assets;
use super::lab::{Lab, Role, IFACE};

/// The kernel command line the control script boots with.
pub const CMDLINE: &str = "console=ttyS0 lab=control";

/// Starts dnsmasq (proxy-DHCP and TFTP) and an HTTP server serving the assets.
pub fn start(lab: &mut Lab) {
    let assets = Assets::get();
    let addr = lab.server_addr();
    let tftp = lab.work_dir().join("control-tftp");
    let http = lab.work_dir().join("control-http");
    std::fs::create_dir_all(&tftp).expect("create control tftp root");
    std::fs::create_dir_all(&http).expect("create control http root");
    for loader in ["undionly.kpxe", "ipxe.efi"] {
        std::fs::copy(format!("/usr/lib/ipxe/{loader}"), tftp.join(loader))
            .unwrap_or_else(|e| panic!("copy /usr/lib/ipxe/{loader}: {e}"));
    }
    std::os::unix::fs::symlink(&assets.kernel, http.join("vmlinuz")).expect("link kernel");
    std::os::unix::fs::symlink(&assets.initrd, http.join("initrd.img")).expect("link initrd");
    // Under UEFI the kernel needs initrd=NAME to find the initrd iPXE handed over.
    let script = format!(
        "#!ipxe\necho netboot lab control script for ${{mac}}\n\
         kernel http://{addr}:8080/vmlinuz initrd=initrd.img {CMDLINE}\n\
         initrd http://{addr}:8080/initrd.img\nboot\n"
    );
    std::fs::write(tftp.join("boot.ipxe"), script).expect("write control boot.ipxe");

    let args = vec![
        "--no-daemon".to_string(),
        "--conf-file=/dev/null".into(),
        "--port=0".into(),
        format!("--interface={IFACE}"),
        "--bind-interfaces".into(),
        format!("--dhcp-range={},proxy", lab.subnet().to_owned() + ".0"),
        format!(
            "--dhcp-leasefile={}",
            lab.work_dir().join("control.leases").display()
        ),
        "--enable-tftp".into(),
        format!("--tftp-root={}", tftp.display()),
        // iPXE says so in its user class; it gets the script, firmware gets iPXE (no loop).
        "--dhcp-userclass=set:ipxe,iPXE".into(),
        "--pxe-service=tag:!ipxe,x86PC,firmware,undionly.kpxe".into(),
        "--pxe-service=tag:!ipxe,x86-64_EFI,firmware,ipxe.efi".into(),
        "--pxe-service=tag:ipxe,x86PC,ipxe,boot.ipxe".into(),
        "--pxe-service=tag:ipxe,x86-64_EFI,ipxe,boot.ipxe".into(),
        "--log-dhcp".into(),
        "--log-facility=-".into(),
        "--user=root".into(),
    ];
    lab.spawn(Role::Server, "control-dnsmasq", "dnsmasq", &args);
    let http_args = vec![
        "-m".to_string(),
        "http.server".into(),
        "8080".into(),
        "--bind".into(),
        addr,
        "--directory".into(),
        http.display().to_string(),
    ];
    lab.spawn(Role::Server, "control-http", "/usr/bin/python3", &http_args);
    lab.wait_listening(Role::Server, "udp", 67);
    lab.wait_listening(Role::Server, "udp", 69);
    lab.wait_listening(Role::Server, "tcp", 8080);
}
