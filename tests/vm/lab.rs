//! One lab: a bridged LAN with a plain DHCP server, a server namespace for the boot server
//! under test, and QEMU clients on taps. Dropping it stops everything and deletes it all.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::netns::{unique_stem, Netns};
use super::process::{tail, Daemon};
use super::qemu::{self, Booted, Firmware};

/// Which namespace of the lab something runs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The bridge and the QEMU taps.
    Lan,
    /// The LAN's ordinary DHCP server (10.77.N.1).
    Router,
    /// The boot server under test (10.77.N.2).
    Server,
}

/// Interface name of the veth end inside the router and server namespaces.
pub const IFACE: &str = "eth0";

/// A network lab. Fields drop in order: VMs, then servers, then the capture, then namespaces.
pub struct Lab {
    vms: Vec<Vm>,
    daemons: Vec<Daemon>,
    capture: Option<Daemon>,
    lan: Netns,
    router: Netns,
    server: Netns,
    subnet: String,
    work: tempfile::TempDir,
}

struct Vm {
    process: Daemon,
    serial: PathBuf,
}

impl Lab {
    /// Builds the namespaces, the bridge and the veths, and starts the LAN's DHCP server.
    pub fn new() -> Lab {
        let mut lab = Lab::without_router_dhcp();
        lab.start_router_dhcp();
        lab
    }

    /// A lab whose router namespace runs nothing: for a control whose server hands out the
    /// addresses itself.
    pub fn without_router_dhcp() -> Lab {
        let (stem, n) = unique_stem();
        let work = tempfile::Builder::new()
            .prefix(&format!("{stem}-"))
            .tempdir()
            .expect("create lab work dir");
        let lan = Netns::create(&format!("{stem}-lan"));
        let router = Netns::create(&format!("{stem}-router"));
        let server = Netns::create(&format!("{stem}-server"));
        let subnet = format!("10.77.{}", n % 250 + 1);

        // forward_delay 0: a port forwards at once, so the firmware's first DISCOVER is not lost.
        lan.ip(&["link", "add", "br0", "type", "bridge", "forward_delay", "0"]);
        lan.ip(&["link", "set", "br0", "up"]);
        for (ns, port, host) in [(&router, "vrouter", 1), (&server, "vserver", 2)] {
            lan.ip(&[
                "link",
                "add",
                port,
                "type",
                "veth",
                "peer",
                "name",
                IFACE,
                "netns",
                ns.name(),
            ]);
            lan.ip(&["link", "set", port, "master", "br0", "up"]);
            ns.ip(&["addr", "add", &format!("{subnet}.{host}/24"), "dev", IFACE]);
            ns.ip(&["link", "set", IFACE, "up"]);
        }

        let mut lab = Lab {
            vms: Vec::new(),
            daemons: Vec::new(),
            capture: None,
            lan,
            router,
            server,
            subnet,
            work,
        };
        lab.start_capture();
        lab
    }

    /// The first three octets of the lab's /24, e.g. `10.77.3`.
    pub fn subnet(&self) -> &str {
        &self.subnet
    }

    /// The server namespace's address, where the boot server under test listens.
    pub fn server_addr(&self) -> String {
        format!("{}.2", self.subnet)
    }

    /// A scratch directory removed with the lab.
    pub fn work_dir(&self) -> &Path {
        self.work.path()
    }

    pub fn netns(&self, role: Role) -> &Netns {
        match role {
            Role::Lan => &self.lan,
            Role::Router => &self.router,
            Role::Server => &self.server,
        }
    }

    /// Starts `program ARGS` in `role`'s namespace as a lab daemon logged to `<name>.log`.
    pub fn spawn(&mut self, role: Role, name: &str, program: &str, args: &[String]) {
        let mut cmd = self.netns(role).command(program);
        cmd.args(args);
        self.spawn_command(name, cmd);
    }

    /// Starts a prepared command (already wrapped for its namespace) as a lab daemon.
    pub fn spawn_command(&mut self, name: &str, cmd: Command) {
        let log = self.work.path().join(format!("{name}.log"));
        self.daemons.push(Daemon::spawn(name, cmd, &log));
    }

    /// The log of the daemon called `name` so far.
    pub fn daemon_log(&self, name: &str) -> String {
        self.daemons
            .iter()
            .find(|d| d.name() == name)
            .map(Daemon::log_text)
            .unwrap_or_else(|| panic!("no lab daemon called {name}"))
    }

    /// Waits until something in `role`'s namespace listens on `proto` ("tcp"/"udp") `port`,
    /// failing early if a daemon dies.
    pub fn wait_listening(&mut self, role: Role, proto: &str, port: u16) {
        let flag = if proto == "tcp" { "-Hltn" } else { "-Hlun" };
        let deadline = Instant::now() + Duration::from_secs(60);
        let needle = format!(":{port} ");
        loop {
            let sockets = self.netns(role).output("ss", &[flag]);
            if sockets.lines().any(|l| l.contains(&needle)) {
                return;
            }
            self.assert_daemons_alive(&format!("waiting for {proto} port {port}"));
            assert!(
                Instant::now() < deadline,
                "nothing listens on {proto} {port} in the {role:?} namespace after 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn assert_daemons_alive(&mut self, during: &str) {
        for d in &mut self.daemons {
            if let Some(status) = d.exited() {
                panic!(
                    "{} exited ({status}) while {during}:\n{}",
                    d.name(),
                    tail(&d.log_text(), 80)
                );
            }
        }
    }

    /// Powers on a VM with `firmware` and NIC `mac`, waits for the initrd's marker, then
    /// stops the VM. Panics (and the lab prints every log) if the marker does not come in time.
    pub fn boot(&mut self, firmware: Firmware, mac: &str) -> Booted {
        let n = self.vms.len();
        let tap = format!("tap{n}");
        self.lan.ip(&["tuntap", "add", "dev", &tap, "mode", "tap"]);
        self.lan.ip(&["link", "set", &tap, "master", "br0", "up"]);
        let serial = self.work.path().join(format!("vm{n}-serial.log"));
        let scratch = self.work.path().join(format!("vm{n}"));
        let args = qemu::args(firmware, &tap, mac, &serial, &scratch);
        let log = self.work.path().join(format!("vm{n}-qemu.log"));
        let process = Daemon::spawn(
            &format!("vm{n} qemu"),
            qemu::command(&self.lan, &args),
            &log,
        );
        self.vms.push(Vm {
            process,
            serial: serial.clone(),
        });

        let started = Instant::now();
        let timeout = firmware.timeout();
        loop {
            std::thread::sleep(Duration::from_millis(250));
            let text = std::fs::read(&serial)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            if let Some(cmdline) = qemu::find_marker(&text) {
                let elapsed = started.elapsed();
                self.vms[n].process.stop();
                eprintln!("vm{n} ({firmware:?}, {mac}) reached the marker in {elapsed:.1?}");
                return Booted {
                    cmdline,
                    elapsed,
                    serial: text,
                };
            }
            if let Some(status) = self.vms[n].process.exited() {
                panic!(
                    "vm{n} ({firmware:?}, {mac}) QEMU exited ({status}) without the marker\n\
                     qemu: {}\nserial (last lines):\n{}",
                    tail(&self.vms[n].process.log_text(), 20),
                    tail(&text, 60)
                );
            }
            self.assert_daemons_alive(&format!("vm{n} ({firmware:?}) was booting"));
            if started.elapsed() > timeout {
                panic!(
                    "vm{n} ({firmware:?}, {mac}) printed no marker within {timeout:?}\n\
                     serial (last lines):\n{}",
                    tail(&text, 60)
                );
            }
        }
    }

    /// The packets seen on the bridge so far (DHCP, proxy-DHCP and TFTP requests), decoded
    /// verbosely by tcpdump, to check which path a boot took.
    pub fn captured(&self) -> String {
        let pcap = self.work.path().join("lan.pcap");
        let out = Command::new("tcpdump")
            .args(["-n", "-vv", "-r"])
            .arg(&pcap)
            .output()
            .expect("run tcpdump -r");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn start_capture(&mut self) {
        let pcap = self.work.path().join("lan.pcap");
        let mut cmd = self.lan.command("tcpdump");
        // -U: write each packet at once so the file is readable while running;
        // -Z root: the work dir is root's, tcpdump would otherwise drop to its own user.
        cmd.args(["-i", "br0", "-U", "-n", "-Z", "root", "-s", "1500", "-w"])
            .arg(&pcap)
            .args(["udp port 67 or udp port 68 or udp port 4011 or udp port 69"]);
        let log = self.work.path().join("tcpdump.log");
        self.capture = Some(Daemon::spawn("tcpdump", cmd, &log));
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self
            .capture
            .as_ref()
            .is_some_and(|c| c.log_text().contains("listening on"))
        {
            assert!(Instant::now() < deadline, "tcpdump did not start on br0");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The LAN's own DHCP server: addresses only, no PXE options, like a home router.
    fn start_router_dhcp(&mut self) {
        let s = self.subnet.clone();
        let leases = self.work.path().join("router.leases");
        let args = vec![
            "--no-daemon".to_string(),
            "--conf-file=/dev/null".into(),
            "--port=0".into(),
            format!("--interface={IFACE}"),
            "--bind-interfaces".into(),
            format!("--dhcp-range={s}.100,{s}.199,255.255.255.0,1h"),
            format!("--dhcp-leasefile={}", leases.display()),
            "--log-dhcp".into(),
            "--log-facility=-".into(),
            // The lease file is in root's private work dir.
            "--user=root".into(),
        ];
        self.spawn(Role::Router, "router-dnsmasq", "dnsmasq", &args);
        self.wait_listening(Role::Router, "udp", 67);
    }

    fn dump_logs(&self) {
        eprintln!("==== lab {} logs ====", self.lan.name());
        for d in &self.daemons {
            eprintln!(
                "---- {} ({}) ----\n{}",
                d.name(),
                d.log_path().display(),
                tail(&d.log_text(), 150)
            );
        }
        for (i, vm) in self.vms.iter().enumerate() {
            let serial = std::fs::read(&vm.serial)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            eprintln!(
                "---- vm{i} qemu ----\n{}\n---- vm{i} serial ----\n{}",
                tail(&vm.process.log_text(), 20),
                tail(&serial, 80)
            );
        }
        eprintln!("---- packets on br0 ----\n{}", tail(&self.captured(), 200));
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // NETBOOT_TEST_LOGS=1 shows them for passing tests too (run with --nocapture).
        if std::thread::panicking() || std::env::var_os("NETBOOT_TEST_LOGS").is_some() {
            self.dump_logs();
        }
        // NETBOOT_TEST_KEEP=1 keeps the work dir (logs, serial consoles, lan.pcap) to study.
        if std::env::var_os("NETBOOT_TEST_KEEP").is_some() {
            self.work.disable_cleanup(true);
            eprintln!("kept the lab's work dir {}", self.work.path().display());
        }
        // Processes first: a namespace cannot be deleted cleanly while QEMU holds its tap.
        self.vms.clear();
        self.daemons.clear();
        self.capture = None;
    }
}
