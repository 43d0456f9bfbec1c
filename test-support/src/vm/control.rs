//! Reference boot servers built from dnsmasq and python's http.server, in the server
//! namespace. When a control boot fails the lab is broken; when only netboot's fails, netboot is.

use std::path::PathBuf;

use super::assets::Assets;
use crate::lab::{Lab, Role};

/// The kernel command line the control script boots with.
pub const CMDLINE: &str = "console=ttyS0 lab=control";

/// dnsmasq as proxy-DHCP + TFTP (firmware gets iPXE over TFTP, iPXE gets `boot.ipxe` over
/// TFTP) and an HTTP server with the kernel and initrd. Use with [`Lab::new`].
pub fn start(lab: &mut Lab) {
    let tftp = lab.work_dir().join("control-tftp");
    std::fs::create_dir_all(&tftp).expect("create control tftp root");
    for loader in ["undionly.kpxe", "ipxe.efi"] {
        std::fs::copy(format!("/usr/lib/ipxe/{loader}"), tftp.join(loader))
            .unwrap_or_else(|e| panic!("copy /usr/lib/ipxe/{loader}: {e}"));
    }
    std::fs::write(tftp.join("boot.ipxe"), script(lab)).expect("write control boot.ipxe");

    let mut args = lab.dnsmasq_args("control");
    args.extend([
        format!("--dhcp-range={}.0,proxy", lab.subnet()),
        "--enable-tftp".into(),
        format!("--tftp-root={}", tftp.display()),
        // iPXE says so in its user class; it gets the script, firmware gets iPXE (no loop).
        "--dhcp-userclass=set:ipxe,iPXE".into(),
        "--pxe-service=tag:!ipxe,x86PC,firmware,undionly.kpxe".into(),
        "--pxe-service=tag:!ipxe,x86-64_EFI,firmware,ipxe.efi".into(),
        "--pxe-service=tag:ipxe,x86PC,ipxe,boot.ipxe".into(),
        "--pxe-service=tag:ipxe,x86-64_EFI,ipxe,boot.ipxe".into(),
    ]);
    lab.spawn(Role::Server, "control-dnsmasq", "dnsmasq", &args);
    start_http(lab);
    lab.wait_listening(Role::Server, "udp", 67);
    lab.wait_listening(Role::Server, "udp", 69);
}

/// dnsmasq as the only, full DHCP server (use with [`Lab::without_router_dhcp`]): UEFI HTTP
/// Boot clients get the URL of `ipxe.efi` with option 60 `HTTPClient`, iPXE gets the URL of
/// `boot.ipxe`. It shows OVMF's HTTP Boot client works in the lab at all.
pub fn start_http_boot(lab: &mut Lab) {
    let addr = lab.server_addr();
    let s = lab.subnet().to_string();
    let mut args = lab.dnsmasq_args("control");
    args.extend([
        format!("--dhcp-range={s}.150,{s}.199,255.255.255.0,1h"),
        "--dhcp-vendorclass=set:efihttp,HTTPClient".into(),
        "--dhcp-userclass=set:ipxe,iPXE".into(),
        "--dhcp-option-force=tag:efihttp,60,HTTPClient".into(),
        format!("--dhcp-boot=tag:efihttp,http://{addr}:8080/ipxe.efi"),
        format!("--dhcp-boot=tag:ipxe,http://{addr}:8080/boot.ipxe"),
    ]);
    lab.spawn(Role::Server, "control-dnsmasq", "dnsmasq", &args);
    let http = start_http(lab);
    std::fs::copy("/usr/lib/ipxe/ipxe.efi", http.join("ipxe.efi")).expect("copy ipxe.efi");
    std::fs::write(http.join("boot.ipxe"), script(lab)).expect("write control boot.ipxe");
    lab.wait_listening(Role::Server, "udp", 67);
}

/// The iPXE script both controls boot: kernel and initrd over HTTP from the server.
fn script(lab: &Lab) -> String {
    let addr = lab.server_addr();
    // Under UEFI the kernel needs initrd=NAME to find the initrd iPXE handed over.
    format!(
        "#!ipxe\necho netboot lab control script for ${{mac}}\n\
         kernel http://{addr}:8080/vmlinuz initrd=initrd.img {CMDLINE}\n\
         initrd http://{addr}:8080/initrd.img\nboot\n"
    )
}

/// python's http.server on port 8080 with the kernel and initrd; returns its root directory.
fn start_http(lab: &mut Lab) -> PathBuf {
    let assets = Assets::get();
    let http = lab.work_dir().join("control-http");
    std::fs::create_dir_all(&http).expect("create control http root");
    std::os::unix::fs::symlink(&assets.kernel, http.join("vmlinuz")).expect("link kernel");
    std::os::unix::fs::symlink(&assets.initrd, http.join("initrd.img")).expect("link initrd");
    let args = vec![
        "-m".to_string(),
        "http.server".into(),
        "8080".into(),
        "--bind".into(),
        lab.server_addr(),
        "--directory".into(),
        http.display().to_string(),
    ];
    lab.spawn(Role::Server, "control-http", "/usr/bin/python3", &args);
    lab.wait_listening(Role::Server, "tcp", 8080);
    http
}
