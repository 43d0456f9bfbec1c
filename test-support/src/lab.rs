//! The network-namespace lab: a bridged LAN with a plain DHCP server, a server namespace for
//! the boot server under test, optionally a client namespace to probe the LAN from, and QEMU
//! clients on taps. Dropping it stops everything and deletes it all.
//!
//! ```text
//!  router ns: dnsmasq (plain DHCP, no PXE)  ─ eth0 10.77.N.1  ─┐
//!  server ns: netboot serve / control       ─ eth0 10.77.N.2  ─┤  lan ns: bridge br0
//!  client ns: netboot doctor (optional)     ─ eth0 10.77.N.10 ─┤
//!  QEMU (started in the lan ns) ─ tap0, tap1, …                ─┘
//! ```
//!
//! Everything a lab creates is owned by a value whose `Drop` removes it, so a failing test
//! leaves no namespace or process behind; leftovers of a killed run are removed by the next.
//! Nothing is routed out of the namespaces: the lab has no link to the host's network.
//! `NETBOOT_TEST_LOGS=1` (with `--nocapture`) prints every log of a passing lab too;
//! `NETBOOT_TEST_KEEP=1` keeps its work dir (daemon logs, serial consoles, `lan.pcap`).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::daemon::{tail, Daemon};
use crate::netns::{unique_stem, Netns};
use crate::vm::qemu::{self, Booted, Firmware};

/// Which namespace of the lab something runs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The bridge and the QEMU taps.
    Lan,
    /// The LAN's ordinary DHCP server (10.77.N.1).
    Router,
    /// The boot server under test (10.77.N.2).
    Server,
    /// A host that probes the LAN (10.77.N.10), made by [`Builder::client`].
    Client,
    /// A host on the relayed segment (10.78.N.2), made by [`Lab::add_relayed_segment`]: that
    /// subnet's own DHCP server, where there is one.
    SegmentHost,
}

/// Interface name of the veth end inside the router and server namespaces.
pub const IFACE: &str = "eth0";

/// A network lab. Fields drop in order: VMs, then servers, then the capture, then namespaces.
pub struct Lab {
    vms: Vec<netboot_lab::vm::Vm>,
    daemons: Vec<Daemon>,
    capture: Option<Daemon>,
    lan: Netns,
    router: Netns,
    server: Netns,
    client: Option<Netns>,
    segment_host: Option<Netns>,
    /// The bridge VMs are plugged into: `br0`, or `br1` once they sit behind the relay.
    vm_bridge: &'static str,
    subnet: String,
    work: tempfile::TempDir,
}

/// How to build a lab; [`Lab::new`] is the usual one.
pub struct Builder {
    router_dhcp: bool,
    subnet: Option<String>,
    client: bool,
}

impl Builder {
    /// Whether the router runs the LAN's DHCP server (default yes). Without it, for a control
    /// whose server hands out the addresses itself.
    pub fn router_dhcp(mut self, on: bool) -> Builder {
        self.router_dhcp = on;
        self
    }

    /// The first three octets of the LAN, e.g. `10.77.0`, for output compared with a golden
    /// file. Namespaces are isolated, so labs on the same subnet do not meet; by default each
    /// lab of a process gets its own anyway, which keeps their captures and logs apart.
    pub fn subnet(mut self, subnet: &str) -> Builder {
        self.subnet = Some(subnet.to_string());
        self
    }

    /// Adds the client namespace ([`Role::Client`]).
    pub fn client(mut self) -> Builder {
        self.client = true;
        self
    }

    /// Builds the namespaces, the bridge and the veths, and starts the capture (and the LAN's
    /// DHCP server unless turned off).
    pub fn build(self) -> Lab {
        let (stem, n) = unique_stem();
        let work = tempfile::Builder::new()
            .prefix(&format!("{stem}-"))
            .tempdir()
            .expect("create lab work dir");
        let lan = Netns::create(&format!("{stem}-lan"));
        let router = Netns::create(&format!("{stem}-router"));
        let server = Netns::create(&format!("{stem}-server"));
        let client = self
            .client
            .then(|| Netns::create(&format!("{stem}-client")));
        let subnet = self
            .subnet
            .unwrap_or_else(|| format!("10.77.{}", n % 250 + 1));

        // forward_delay 0: a port forwards at once, so the firmware's first DISCOVER is not lost.
        lan.ip(&["link", "add", "br0", "type", "bridge", "forward_delay", "0"]);
        lan.ip(&["link", "set", "br0", "up"]);
        let hosts = [(Some(&router), "vrouter", 1), (Some(&server), "vserver", 2)];
        let client_host = [(client.as_ref(), "vclient", 10)];
        for (ns, port, host) in hosts.into_iter().chain(client_host) {
            let Some(ns) = ns else { continue };
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
            client,
            segment_host: None,
            vm_bridge: "br0",
            subnet,
            work,
        };
        lab.start_capture();
        if self.router_dhcp {
            lab.start_router_dhcp();
        }
        lab
    }
}

impl Lab {
    /// Builds the namespaces, the bridge and the veths, and starts the LAN's DHCP server.
    // Not `Default`: making a lab creates namespaces and starts processes.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Lab {
        Lab::builder().build()
    }

    /// A lab whose router namespace runs nothing: for a control whose server hands out the
    /// addresses itself.
    pub fn without_router_dhcp() -> Lab {
        Lab::builder().router_dhcp(false).build()
    }

    /// A lab to configure before it is built.
    pub fn builder() -> Builder {
        Builder {
            router_dhcp: true,
            subnet: None,
            client: false,
        }
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
            Role::Client => self
                .client
                .as_ref()
                .expect("a lab built without Builder::client has no client namespace"),
            Role::SegmentHost => self
                .segment_host
                .as_ref()
                .expect("the lab has no relayed segment: call Lab::add_relayed_segment"),
        }
    }

    /// The relayed segment's first three octets (10.78.N), once [`Lab::add_relayed_segment`]
    /// made it.
    pub fn relayed_subnet(&self) -> String {
        self.subnet.replacen("10.77.", "10.78.", 1)
    }

    /// Adds a second segment behind the router, as a site's other subnets are:
    ///
    /// ```text
    ///  router ns ─ eth0 10.77.N.1 (LAN, br0) ─ eth1 10.78.N.1 (br1), forwarding between them
    ///  segment-host ns ─ eth0 10.78.N.2 (br1)
    ///  QEMU ─ tapK on br1 (every VM started from now on)
    /// ```
    ///
    /// The server and client namespaces get a route to 10.78.N.0/24 through the router, so
    /// replies to relayed clients (TFTP, HTTP, port 4011) find their way. What runs on the
    /// segment (a relay, a DHCP server) is the test's to start.
    pub fn add_relayed_segment(&mut self) {
        let b = self.relayed_subnet();
        let host_ns = Netns::create(&format!(
            "{}-segb",
            self.lan.name().trim_end_matches("-lan")
        ));
        self.lan
            .ip(&["link", "add", "br1", "type", "bridge", "forward_delay", "0"]);
        self.lan.ip(&["link", "set", "br1", "up"]);
        for (ns, port, iface, host) in [
            (&self.router, "vrelay", "eth1", 1),
            (&host_ns, "vsegb", IFACE, 2),
        ] {
            self.lan.ip(&[
                "link",
                "add",
                port,
                "type",
                "veth",
                "peer",
                "name",
                iface,
                "netns",
                ns.name(),
            ]);
            self.lan.ip(&["link", "set", port, "master", "br1", "up"]);
            ns.ip(&["addr", "add", &format!("{b}.{host}/24"), "dev", iface]);
            ns.ip(&["link", "set", iface, "up"]);
        }
        self.router
            .output("sysctl", &["-q", "-w", "net.ipv4.ip_forward=1"]);
        let via = format!("{}.1", self.subnet);
        for ns in std::iter::once(&self.server).chain(self.client.as_ref()) {
            ns.ip(&["route", "add", &format!("{b}.0/24"), "via", &via]);
        }
        host_ns.ip(&["route", "add", "default", "via", &format!("{b}.1")]);
        self.segment_host = Some(host_ns);
        self.vm_bridge = "br1";
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

    /// Stops the daemon called `name` (it is no longer watched), as when a rogue server is
    /// switched off.
    pub fn stop_daemon(&mut self, name: &str) {
        let at = self.daemons.iter().position(|d| d.name() == name);
        let at = at.unwrap_or_else(|| panic!("no lab daemon called {name}"));
        self.daemons.remove(at).stop();
    }

    /// Panics with the daemon's log if one has exited.
    pub fn assert_daemons_alive(&mut self, during: &str) {
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
        let timeout = firmware.timeout();
        let (text, elapsed, cmdline) =
            self.run_vm(firmware, mac, "the marker", timeout, qemu::find_marker);
        Booted {
            cmdline,
            elapsed,
            serial: text,
        }
    }

    /// Boots a VM until its serial console shows `text` (a refusal, a prompt), and returns
    /// the console up to then.
    pub fn boot_until(&mut self, firmware: Firmware, mac: &str, text: &str) -> String {
        self.boot_until_within(firmware, mac, text, firmware.timeout())
    }

    /// [`Lab::boot_until`] with a bound of its own, for a boot whose end is not the initrd's
    /// marker (an installer's kernel) and so needs a limit other than the firmware's.
    pub fn boot_until_within(
        &mut self,
        firmware: Firmware,
        mac: &str,
        text: &str,
        timeout: Duration,
    ) -> String {
        let what = format!("{text:?}");
        self.run_vm(firmware, mac, &what, timeout, |serial| {
            serial.contains(text).then_some(())
        })
        .0
    }

    /// Boots a VM until `done` finds what it waits for in the serial console (`what`, for the
    /// messages), e.g. a failure and a bounded time after it; returns what `done` returned.
    pub fn boot_watch<T>(
        &mut self,
        firmware: Firmware,
        mac: &str,
        what: &str,
        timeout: Duration,
        done: impl Fn(&str) -> Option<T>,
    ) -> (String, T) {
        let (text, _, found) = self.run_vm(firmware, mac, what, timeout, done);
        (text, found)
    }

    /// Runs a VM until `done` finds what it waits for in the serial console (`what`, for the
    /// messages); stops it then, and panics if QEMU exits or `timeout` passes.
    fn run_vm<T>(
        &mut self,
        firmware: Firmware,
        mac: &str,
        what: &str,
        timeout: Duration,
        done: impl Fn(&str) -> Option<T>,
    ) -> (String, Duration, T) {
        let n = self.vms.len();
        let tap = format!("tap{n}");
        self.lan.ip(&["tuntap", "add", "dev", &tap, "mode", "tap"]);
        self.lan
            .ip(&["link", "set", &tap, "master", self.vm_bridge, "up"]);
        // The VM itself is the lab crate's, as `netboot test` starts it: one QEMU line per
        // firmware, a console file, a QMP socket for the screen.
        let name = format!("vm{n}");
        let vm = netboot_lab::vm::Vm::start(&netboot_lab::vm::VmOptions {
            firmware,
            tap: &tap,
            mac,
            accel: netboot_lab::Accel::Tcg,
            dir: self.work.path(),
            name: &name,
            netns: Some(self.lan.name()),
            purpose: netboot_lab::vm::Purpose::Probe,
        })
        .unwrap_or_else(|e| panic!("start {name}'s QEMU: {e}"));
        self.vms.push(vm);

        let started = Instant::now();
        loop {
            std::thread::sleep(Duration::from_millis(250));
            let text = self.vms[n].serial_text();
            if let Some(found) = done(&text) {
                let elapsed = started.elapsed();
                self.vms[n].stop();
                eprintln!("vm{n} ({firmware:?}, {mac}) reached {what} in {elapsed:.1?}");
                return (text, elapsed, found);
            }
            if let Some(status) = self.vms[n].exited() {
                panic!(
                    "vm{n} ({firmware:?}, {mac}) QEMU exited ({status}) without {what}\n\
                     qemu: {}\nserial (last lines):\n{}",
                    tail(&self.vms[n].qemu_log(), 20),
                    tail(&text, 60)
                );
            }
            self.assert_daemons_alive(&format!("vm{n} ({firmware:?}) was booting"));
            if started.elapsed() > timeout {
                // What the screen showed, beside the console: kept with NETBOOT_TEST_KEEP=1.
                let png = self.work.path().join(format!("{name}.png"));
                let screen = match self.vms[n].screendump(&png) {
                    Ok(()) => format!("screen: {}", png.display()),
                    Err(e) => format!("no screen: {e}"),
                };
                panic!(
                    "vm{n} ({firmware:?}, {mac}) did not reach {what} within {timeout:?} ({screen})\n\
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

    /// The flags every dnsmasq of the lab runs with: in the foreground logging to its daemon
    /// log, no DNS, on `eth0` only, its leases in the work dir as `<name>.leases`.
    pub fn dnsmasq_args(&self, name: &str) -> Vec<String> {
        let leases = self.work.path().join(format!("{name}.leases"));
        vec![
            "--no-daemon".to_string(),
            "--conf-file=/dev/null".into(),
            "--port=0".into(),
            format!("--interface={IFACE}"),
            "--bind-interfaces".into(),
            format!("--dhcp-leasefile={}", leases.display()),
            "--log-dhcp".into(),
            "--log-facility=-".into(),
            // The lease file is in root's private work dir.
            "--user=root".into(),
        ]
    }

    /// The LAN's own DHCP server: addresses only, no PXE options, like a home router.
    fn start_router_dhcp(&mut self) {
        let s = self.subnet.clone();
        let mut args = self.dnsmasq_args("router");
        args.push(format!("--dhcp-range={s}.100,{s}.199,255.255.255.0,1h"));
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
            eprintln!(
                "---- vm{i} qemu ----\n{}\n---- vm{i} serial ----\n{}",
                tail(&vm.qemu_log(), 20),
                tail(&vm.serial_text(), 80)
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
        self.segment_host = None;
    }
}
