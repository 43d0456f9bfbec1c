//! Real firmware against the proxy: QEMU clients on a bridge in a network namespace, the LAN's
//! address handed out by a plain dnsmasq in a second namespace (no PXE options), and our
//! [`DhcpServer`] on the bridge. Each test passes when the firmware, guided only by our
//! replies, asks our TFTP or HTTP port for the file we named.
//!
//! Needs root, `ip`, dnsmasq and qemu-system-x86 (with ovmf and ipxe-qemu). With
//! `NETBOOT_DHCP_CAPTURE=DIR` set, each test also leaves a pcap of the bridge in DIR, which
//! `tests/fixtures/dhcp/capture.sh` turns into the fixtures.

use std::fs::File;
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use netboot_runtime::dhcp::{DhcpConfig, DhcpServer};
use netboot_runtime::Snapshot;
use netboot_test_support::dhcp::*;

const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
/// How long one firmware may take to ask for its file under emulation.
const BOOT_DEADLINE: Duration = Duration::from_secs(240);

/// Two namespaces, a bridge, a tap and the processes started in them; all removed on drop,
/// even when the test fails.
struct Lab {
    lan: String,
    dhcp: String,
    children: Vec<Child>,
    dir: tempfile::TempDir,
}

fn run(args: &[&str]) {
    let status = Command::new(args[0])
        .args(&args[1..])
        .status()
        .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"));
    assert!(status.success(), "{args:?} failed with {status}");
}

impl Lab {
    fn new(name: &str) -> Lab {
        let lan = format!("nbd-{name}-{}", std::process::id());
        let dhcp = format!("{lan}-d");
        let lab = Lab {
            lan: lan.clone(),
            dhcp: dhcp.clone(),
            children: Vec::new(),
            dir: tempfile::tempdir().unwrap(),
        };
        run(&["ip", "netns", "add", &lan]);
        run(&["ip", "netns", "add", &dhcp]);
        let l = |args: &[&str]| {
            let mut all = vec!["ip", "-n", &lan];
            all.extend_from_slice(args);
            run(&all);
        };
        l(&["link", "set", "lo", "up"]);
        l(&["link", "add", "br0", "type", "bridge", "forward_delay", "0"]);
        l(&["addr", "add", "10.77.0.1/24", "dev", "br0"]);
        l(&["link", "set", "br0", "up"]);
        l(&["tuntap", "add", "dev", "tap0", "mode", "tap"]);
        l(&["link", "set", "tap0", "master", "br0", "up"]);
        l(&[
            "link", "add", "vl0", "type", "veth", "peer", "name", "vd0", "netns", &dhcp,
        ]);
        l(&["link", "set", "vl0", "master", "br0", "up"]);
        run(&["ip", "-n", &dhcp, "link", "set", "lo", "up"]);
        run(&[
            "ip",
            "-n",
            &dhcp,
            "addr",
            "add",
            "10.77.0.2/24",
            "dev",
            "vd0",
        ]);
        run(&["ip", "-n", &dhcp, "link", "set", "vd0", "up"]);
        lab
    }

    fn spawn(&mut self, ns: &str, args: &[&str], log: &str) {
        let out = File::create(self.dir.path().join(log)).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {args:?}: {e}"));
        self.children.push(child);
    }

    /// The LAN's ordinary DHCP server: addresses only, no boot options.
    fn start_plain_dhcp(&mut self) {
        let leases = self.dir.path().join("leases");
        let dhcp = self.dhcp.clone();
        self.spawn(
            &dhcp,
            &[
                "dnsmasq",
                "--no-daemon",
                "--port=0",
                "--interface=vd0",
                "--bind-interfaces",
                "--dhcp-range=10.77.0.100,10.77.0.150,255.255.255.0,1h",
                &format!("--dhcp-leasefile={}", leases.display()),
                "--no-resolv",
                "--no-hosts",
                "--log-dhcp",
                "--conf-file=/dev/null",
            ],
            "dnsmasq.log",
        );
    }

    /// Keeps a capture of the bridge when asked to, for the fixtures.
    fn start_capture(&mut self, name: &str) {
        let Some(dir) = std::env::var_os("NETBOOT_DHCP_CAPTURE") else {
            return;
        };
        let file = PathBuf::from(dir).join(format!("{name}.pcap"));
        let lan = self.lan.clone();
        let path = file.display().to_string();
        self.spawn(
            &lan,
            &["tcpdump", "-i", "br0", "-U", "-w", &path, "udp"],
            "tcpdump.log",
        );
        // Let tcpdump open the interface before the firmware speaks.
        std::thread::sleep(Duration::from_secs(1));
    }

    fn start_qemu(&mut self, firmware: Firmware, mac: &str) {
        let serial = self.dir.path().join("serial.log");
        let mut args: Vec<String> = [
            "qemu-system-x86_64",
            "-accel",
            "tcg",
            "-m",
            "512",
            "-nographic",
            "-monitor",
            "none",
            "-netdev",
            "tap,id=n0,ifname=tap0,script=no,downscript=no",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.push("-serial".into());
        args.push(format!("file:{}", serial.display()));
        match firmware {
            Firmware::SeaBiosIpxe => {
                args.push("-device".into());
                args.push(format!("virtio-net-pci,netdev=n0,mac={mac},bootindex=1"));
            }
            Firmware::OvmfOwnPxe | Firmware::OvmfIpxe => {
                let vars = self.dir.path().join("vars.fd");
                std::fs::copy("/usr/share/OVMF/OVMF_VARS_4M.fd", &vars).unwrap();
                args.extend(
                    [
                        "-machine",
                        "q35",
                        "-drive",
                        "if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd",
                    ]
                    .map(String::from),
                );
                args.push("-drive".into());
                args.push(format!("if=pflash,format=raw,file={}", vars.display()));
                args.push("-device".into());
                args.push(match firmware {
                    Firmware::OvmfOwnPxe => format!("virtio-net-pci,netdev=n0,mac={mac},romfile="),
                    _ => format!("virtio-net-pci,netdev=n0,mac={mac}"),
                });
            }
        }
        let lan = self.lan.clone();
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        self.spawn(&lan, &refs, "qemu.log");
    }

    /// Moves the calling thread into the LAN namespace, so sockets it opens live there.
    fn enter_lan(&self) {
        let ns = File::open(format!("/run/netns/{}", self.lan)).unwrap();
        // SAFETY: setns on a valid namespace fd only changes this thread's network namespace.
        let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        // Keep the logs beside the capture, to read after a failure.
        if let Some(dir) = std::env::var_os("NETBOOT_DHCP_CAPTURE") {
            for log in ["dnsmasq.log", "serial.log", "qemu.log"] {
                let to = PathBuf::from(&dir).join(format!("{}-{log}", self.lan));
                let _ = std::fs::copy(self.dir.path().join(log), to);
            }
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.lan])
            .status();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.dhcp])
            .status();
    }
}

#[derive(Clone, Copy)]
enum Firmware {
    /// SeaBIOS running the NIC's iPXE option ROM.
    SeaBiosIpxe,
    /// OVMF's own PXE client (the NIC's option ROM disabled).
    OvmfOwnPxe,
    /// OVMF running the NIC's iPXE option ROM.
    OvmfIpxe,
}

/// Runs a test body on a thread of its own: the body moves its thread into a namespace, which
/// must not leak into whatever thread the test harness reuses.
fn isolated(body: impl FnOnce() + Send + 'static) {
    if let Err(panic) = std::thread::spawn(body).join() {
        std::panic::resume_unwind(panic);
    }
}

/// Runs our proxy on the bridge (sockets opened on this namespaced thread) until `wait`
/// returns on a blocking thread.
fn with_proxy<T: Send + 'static>(wait: impl FnOnce() -> T + Send + 'static) -> T {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let snapshot = Arc::new(Snapshot::from_compiled(
        manifest(),
        &generated(),
        dir.path(),
    ));
    let (_tx, rx) = tokio::sync::watch::channel(snapshot);
    let config = DhcpConfig {
        server_addr: SERVER_IP,
        http_port: 8080,
        interface: Some("br0".into()),
        dhcp_port: 67,
        pxe_port: 4011,
    };
    runtime.block_on(async move {
        let server = DhcpServer::bind(&config, rx).await.unwrap();
        let task = tokio::spawn(server.run());
        let out = tokio::task::spawn_blocking(wait).await.unwrap();
        task.abort();
        out
    })
}

/// Waits for a TFTP read request on port 69 and returns the file it names.
fn wait_for_tftp_rrq(socket: &UdpSocket, deadline: Instant) -> Option<String> {
    let mut buf = [0u8; 1500];
    while Instant::now() < deadline {
        socket
            .set_read_timeout(Some(Duration::from_secs(1)))
            .unwrap();
        if let Ok((n, _)) = socket.recv_from(&mut buf) {
            if n > 2 && buf[..2] == [0, 1] {
                let name = buf[2..n].split(|b| *b == 0).next().unwrap_or_default();
                return Some(String::from_utf8_lossy(name).into_owned());
            }
        }
    }
    None
}

/// Waits for an HTTP request on `listener` and returns its request line.
fn wait_for_http_get(listener: &TcpListener, deadline: Instant) -> Option<String> {
    listener.set_nonblocking(true).unwrap();
    while Instant::now() < deadline {
        match listener.accept() {
            Ok((mut stream, _)) => {
                stream.set_nonblocking(false).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(5)))
                    .unwrap();
                let mut buf = [0u8; 2048];
                let n = stream.read(&mut buf).unwrap_or(0);
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                return text.lines().next().map(str::to_string);
            }
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
    None
}

#[test]
#[ignore = "needs root and qemu: run by .ci/run"]
fn ovmf_pxe_follows_the_proxy_to_tftp() {
    isolated(|| {
        let mut lab = Lab::new("ovmf");
        lab.start_plain_dhcp();
        lab.start_capture("ovmf-pxe");
        lab.enter_lan();
        let tftp = UdpSocket::bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 69))).unwrap();
        lab.start_qemu(Firmware::OvmfOwnPxe, "52:54:00:12:34:57");
        let asked = with_proxy(move || wait_for_tftp_rrq(&tftp, Instant::now() + BOOT_DEADLINE));
        assert_eq!(
            asked.as_deref(),
            Some("ipxe.efi"),
            "OVMF did not ask for ipxe.efi.\ndnsmasq:\n{}\nserial:\n{}",
            lab.log("dnsmasq.log"),
            lab.log("serial.log")
        );
    });
}

#[test]
#[ignore = "needs root and qemu: run by .ci/run"]
fn bios_ipxe_rom_gets_its_script_over_http() {
    isolated(|| {
        let mut lab = Lab::new("bios");
        lab.start_plain_dhcp();
        lab.start_capture("bios-ipxe");
        lab.enter_lan();
        let http = TcpListener::bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 8080))).unwrap();
        // The host the manifest names by MAC gets its own script.
        lab.start_qemu(Firmware::SeaBiosIpxe, "52:54:00:12:34:56");
        let line = with_proxy(move || wait_for_http_get(&http, Instant::now() + BOOT_DEADLINE));
        assert_eq!(
            line.as_deref(),
            Some("GET /hosts/52-54-00-12-34-56.ipxe HTTP/1.1"),
            "iPXE did not fetch its script.\ndnsmasq:\n{}\nserial:\n{}",
            lab.log("dnsmasq.log"),
            lab.log("serial.log")
        );
    });
}

#[test]
#[ignore = "needs root and qemu: run by .ci/run"]
fn ovmf_ipxe_rom_gets_the_entry_script_over_http() {
    isolated(|| {
        let mut lab = Lab::new("efiipxe");
        lab.start_plain_dhcp();
        lab.start_capture("ovmf-ipxe");
        lab.enter_lan();
        let http = TcpListener::bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 8080))).unwrap();
        // A MAC the manifest does not name: the fleet's entry script.
        lab.start_qemu(Firmware::OvmfIpxe, "52:54:00:12:34:58");
        let line = with_proxy(move || wait_for_http_get(&http, Instant::now() + BOOT_DEADLINE));
        assert_eq!(
            line.as_deref(),
            Some("GET /boot.ipxe HTTP/1.1"),
            "iPXE did not fetch the entry script.\ndnsmasq:\n{}\nserial:\n{}",
            lab.log("dnsmasq.log"),
            lab.log("serial.log")
        );
    });
}
