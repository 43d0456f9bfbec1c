//! Beyond one `netboot serve` (issue 16), booting real firmware: artifacts from an existing
//! HTTP origin (nginx serving a `netboot build --bundle` tree), a machine on another subnet
//! behind Debian's `dhcrelay`, and two runtimes on one segment where one has died.
//!
//! Each test is one or two boots in a lab of its own (test-support/src/lab.rs), which stops
//! every process and deletes every namespace when dropped, also on failure. The fleet is
//! tests/fixtures/vm/lab.kdl.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use netboot_test_support::lab::{Role, IFACE};
use netboot_test_support::nginx;
use netboot_test_support::vm::fleet;
use netboot_test_support::vm::restart::Restartable;
use netboot_test_support::vm::{Booted, Firmware, Lab};

/// Listed in the fleet with profile "pinned".
const KNOWN_MAC: &str = "52:54:00:e2:e0:01";
/// Also listed with profile "pinned"; the second boot of a lab uses it.
const OTHER_MAC: &str = "52:54:00:e2:e0:02";

fn assert_word(booted: &Booted, word: &str) {
    assert!(
        booted.cmdline_words().contains(&word),
        "expected {word:?} on the kernel command line, got {:?}",
        booted.cmdline
    );
}

/// `netboot serve FLEET --interface eth0 --address ADDRESS --http-port 8080` in `role`'s
/// namespace, as lab daemon `name`, waiting for its sockets.
fn serve_in(lab: &mut Lab, role: Role, name: &str, fleet: &Path, address: &str) {
    let mut cmd = lab.netns(role).command(env!("CARGO_BIN_EXE_netboot"));
    cmd.arg("serve")
        .arg(fleet)
        .args(["--interface", IFACE, "--address", address])
        .args(["--http-port", "8080", "--no-watch"])
        .env("RUST_LOG", "debug")
        .env("NO_COLOR", "1");
    lab.spawn_command(name, cmd);
    lab.wait_listening(role, "udp", 67);
    lab.wait_listening(role, "udp", 69);
    lab.wait_listening(role, "tcp", 8080);
}

// ---- artifacts from an existing origin --------------------------------------------------

/// nginx in the router namespace serves a bundle of the fleet at 10.77.N.1:8081; netboot
/// answers DHCP and TFTP and serves the scripts, which fetch the kernel and the initrd from
/// nginx.
#[test]
#[ignore = "needs root and qemu: run by .ci/run"]
fn bios_boots_a_kernel_and_initrd_served_by_nginx_from_a_bundle() {
    let mut lab = Lab::new();
    let origin = format!("{}.1:8081", lab.subnet());
    let fleet = fleet::write(&lab, "lab");
    let text = std::fs::read_to_string(&fleet).unwrap();
    std::fs::write(
        &fleet,
        format!("artifact-origin \"http://{origin}/\"\n{text}"),
    )
    .unwrap();

    // nginx runs as `nobody`: the lab's private work dir must let it reach the bundle.
    let work = lab.work_dir().to_path_buf();
    std::fs::set_permissions(&work, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let bundle = work.join("bundle");
    let built = Command::new(env!("CARGO_BIN_EXE_netboot"))
        .arg("build")
        .arg(&fleet)
        .arg("--bundle")
        .arg(&bundle)
        .args(["--address", &lab.server_addr(), "--http-port", "8080"])
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("manifest.json")).unwrap()).unwrap();
    let sha = |route: &str| {
        manifest["files"][route]["sha256"]
            .as_str()
            .unwrap()
            .to_string()
    };

    let nginx_work = work.join("nginx");
    nginx::configure(&bundle, &origin, &nginx_work);
    let cmd = nginx::command(Some(lab.netns(Role::Router)), &nginx_work);
    lab.spawn_command("nginx", cmd);
    lab.wait_listening(Role::Router, "tcp", 8081);
    let server = lab.server_addr();
    serve_in(&mut lab, Role::Server, "netboot", &fleet, &server);

    let booted = lab.boot(Firmware::Bios, KNOWN_MAC);
    assert_word(&booted, "netboot-profile=pinned");
    assert_word(&booted, "host=known");

    let access = nginx::access_log(&nginx_work);
    for route in ["artifacts/kernel", "artifacts/initrd"] {
        let line = format!("GET /sha256/{} 200 ", sha(route));
        assert!(
            access.lines().any(|l| l.starts_with(&line)),
            "nginx did not serve {route} ({line:?}):\n{access}"
        );
    }
    let log = lab.daemon_log("netboot");
    assert!(
        log.contains("file=hosts/52-54-00-e2-e0-01.ipxe"),
        "netboot did not serve the host's script:\n{log}"
    );
    assert!(
        !log.contains("file=artifacts/"),
        "netboot served an artifact the origin should have:\n{log}"
    );
}

// ---- relayed subnets ---------------------------------------------------------------------

/// `dhcrelay` in the router namespace, in the foreground, relaying from the second segment
/// (eth1) to netboot; started as a lab daemon, never as the system service.
fn start_relay(lab: &mut Lab) {
    let server = lab.server_addr();
    let args: Vec<String> = ["-d", "-4", "-id", "eth1", "-iu", IFACE, &server]
        .map(String::from)
        .to_vec();
    let pid = lab.work_dir().join("dhcrelay.pid");
    let mut cmd = lab.netns(Role::Router).command("dhcrelay");
    cmd.arg("-pf").arg(&pid).args(&args);
    lab.spawn_command("dhcrelay", cmd);
    lab.wait_listening(Role::Router, "udp", 67);
}

/// No reply of netboot's was broadcast on the server's segment: each went to the relay's
/// address on the client's segment (giaddr), from where the relay passes it on.
fn assert_replies_went_to_the_relay(lab: &Lab) {
    let packets = lab.captured();
    let server = lab.server_addr();
    // The relay's address on the client's segment (giaddr), reached through the router.
    let relay = format!("{}.1.67", lab.relayed_subnet());
    assert!(
        packets.contains(&format!("{server}.67 > {relay}:")),
        "no reply from netboot to the relay {relay}:\n{packets}"
    );
    assert!(
        !packets.contains(&format!("{server}.67 > 255.255.255.255")),
        "netboot broadcast a reply on its own segment for a relayed client:\n{packets}"
    );
}

/// The second subnet has its own DHCP server (dnsmasq on 10.78.N.2, addresses only, the
/// router as gateway), and the router relays to netboot too: netboot answers as a proxy,
/// through the relay.
#[test]
#[ignore = "needs root and qemu: run by .ci/run"]
fn bios_behind_a_relay_boots_beside_that_subnets_own_dhcp_server() {
    let mut lab = Lab::without_router_dhcp();
    lab.add_relayed_segment();
    let b = lab.relayed_subnet();
    let mut args = lab.dnsmasq_args("segment");
    args.push(format!("--dhcp-range={b}.100,{b}.199,255.255.255.0,1h"));
    args.push(format!("--dhcp-option=3,{b}.1"));
    lab.spawn(Role::SegmentHost, "segment-dnsmasq", "dnsmasq", &args);
    lab.wait_listening(Role::SegmentHost, "udp", 67);
    start_relay(&mut lab);
    let fleet = fleet::write(&lab, "lab");
    let server = lab.server_addr();
    serve_in(&mut lab, Role::Server, "netboot", &fleet, &server);

    let booted = lab.boot(Firmware::Bios, KNOWN_MAC);
    assert_word(&booted, "netboot-profile=pinned");
    assert_word(&booted, "host=known");
    let log = lab.daemon_log("netboot");
    assert!(
        log.contains(&format!("to={}.1:67", lab.relayed_subnet())),
        "netboot did not answer through the relay:\n{log}"
    );
    assert!(
        lab.daemon_log("segment-dnsmasq").contains("DHCPACK"),
        "the subnet's own DHCP server gave no address"
    );
    assert_replies_went_to_the_relay(&lab);
}

/// No DHCP server on the second subnet at all: netboot, in full mode on the server's segment,
/// reached through `dhcrelay`, leases a UEFI machine an address from that subnet's own range
/// (with the relay as its gateway) and boots it.
#[test]
#[ignore = "needs root and qemu: run by .ci/run"]
fn uefi_behind_a_relay_gets_its_address_from_netboot_in_full_mode() {
    let mut lab = Lab::without_router_dhcp();
    lab.add_relayed_segment();
    start_relay(&mut lab);
    let (a, b) = (lab.subnet().to_string(), lab.relayed_subnet());
    let fleet = fleet::write(&lab, "lab");
    let text = std::fs::read_to_string(&fleet).unwrap();
    let server = format!(
        "server {{\n    dhcp \"full\" {{\n        range \"{a}.100\" \"{a}.150\"\n        \
         subnet \"{b}.0/24\" {{ range \"{b}.100\" \"{b}.150\"; }}\n    }}\n}}\n"
    );
    std::fs::write(&fleet, server + &text).unwrap();
    fleet::serve_full(&mut lab, &fleet);

    let booted = lab.boot(Firmware::UefiPxe, KNOWN_MAC);
    assert_word(&booted, "netboot-profile=pinned");
    assert_word(&booted, "host=known");
    let leases =
        std::fs::read_to_string(lab.work_dir().join("state/dhcp-leases.json")).unwrap_or_default();
    assert!(
        leases.contains(KNOWN_MAC) && leases.contains(&format!("\"{b}.100\"")),
        "no lease of the relayed subnet's range was written down:\n{leases}"
    );
    assert!(
        !leases.contains(&format!("\"{a}.1")),
        "an address of the server's own segment was leased:\n{leases}"
    );
    let log = lab.daemon_log("netboot");
    let (ip, relay) = (format!("ip={b}.100 "), format!("to={b}.1:67"));
    assert!(
        log.lines().any(|l| l.contains("dhcp full answer")
            && l.contains("ACK")
            && l.contains(&ip)
            && l.contains(&relay)),
        "netboot did not ACK {b}.100 through the relay:\n{log}"
    );
    assert_replies_went_to_the_relay(&lab);
}

// ---- active-active -----------------------------------------------------------------------

/// Two runtimes serve the same fleet on one segment (10.77.N.2 and 10.77.N.10), each naming
/// itself. One dies before a BIOS boot; the survivor boots it. The dead one comes back, the
/// other dies before a UEFI boot; the survivor boots that too.
#[test]
#[ignore = "needs root and qemu: run by .ci/run"]
fn the_survivor_of_two_runtimes_boots_bios_and_uefi() {
    let mut lab = Lab::builder().client().build();
    let fleet = fleet::write(&lab, "lab");
    let a = lab.server_addr();
    let b = format!("{}.10", lab.subnet());
    serve_in(&mut lab, Role::Server, "netboot-a", &fleet, &a);
    serve_in(&mut lab, Role::Client, "netboot-b", &fleet, &b);

    lab.stop_daemon("netboot-a");
    let booted = lab.boot(Firmware::Bios, KNOWN_MAC);
    assert_word(&booted, "netboot-profile=pinned");
    let survivor = lab.daemon_log("netboot-b");
    assert!(
        survivor.contains("file=hosts/52-54-00-e2-e0-01.ipxe"),
        "{survivor}"
    );

    serve_in(&mut lab, Role::Server, "netboot-a", &fleet, &a);
    lab.stop_daemon("netboot-b");
    let booted = lab.boot(Firmware::UefiPxe, OTHER_MAC);
    assert_word(&booted, "netboot-profile=pinned");
    assert_word(&booted, "host=reloaded");
    let survivor = lab.daemon_log("netboot-a");
    assert!(
        survivor.contains("file=hosts/52-54-00-e2-e0-02.ipxe"),
        "{survivor}"
    );
}

/// A process of the test's own, killed when dropped (also when the test fails).
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `netboot serve` as runtime B at `address` in the client namespace, logging to `log`; not
/// started yet (a test starts it the moment A dies).
fn runtime_b_command(lab: &Lab, fleet: &Path, address: &str, log: &Path) -> Command {
    let mut cmd = lab
        .netns(Role::Client)
        .command(env!("CARGO_BIN_EXE_netboot"));
    let out = std::fs::File::create(log).unwrap();
    cmd.arg("serve")
        .arg(fleet)
        .args(["--interface", IFACE, "--address", address])
        .args(["--http-port", "8080", "--no-watch"])
        .env("RUST_LOG", "debug")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out);
    cmd
}

/// Runtime A answers a UEFI machine's DISCOVER and dies at once (SIGKILL), before the
/// firmware's port-4011 REQUEST and TFTP read. B starts the moment A dies, so the firmware
/// has A's offer alone to take, as if it had taken A's of two. Observed: OVMF's PXE client asks
/// the dead A on port 4011 four times (about 10 s) and gives up on that boot option; its next
/// one, HTTP Boot, broadcasts a new DISCOVER, which B answers, and the machine boots from B in
/// the same power-on, no reset.
#[test]
#[ignore = "needs root and qemu: run by .ci/run"]
fn uefi_boots_from_the_survivor_when_a_runtime_dies_between_dhcp_and_tftp() {
    let mut lab = Lab::builder().client().build();
    let fleet = fleet::write(&lab, "lab");
    let (a, b) = (lab.server_addr(), format!("{}.10", lab.subnet()));
    let runtime_a = Restartable::serve(&lab, &fleet);
    let b_log = lab.work_dir().join("netboot-b.log");
    let mut cmd = runtime_b_command(&lab, &fleet, &b, &b_log);
    let runtime_b: Arc<Mutex<Option<Killed>>> = Arc::default();

    // A's answer on port 67 to this machine, then A's death and B's start, in one thread
    // beside the boot.
    let watcher = {
        let (a_handle, b_slot) = (runtime_a.handle(), Arc::clone(&runtime_b));
        let mac = format!("mac={OTHER_MAC}");
        std::thread::spawn(move || {
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(240) {
                let answered = a_handle.log(1).lines().any(|l| {
                    l.contains("dhcp answer") && l.contains(&mac) && l.contains("port=67")
                });
                if answered {
                    a_handle.kill();
                    let child = cmd.spawn().expect("start runtime B");
                    *b_slot.lock().unwrap() = Some(Killed(child));
                    return true;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            false
        })
    };
    let booted = lab.boot(Firmware::UefiPxe, OTHER_MAC);
    assert!(watcher.join().unwrap(), "A never answered the DISCOVER");
    assert_word(&booted, "netboot-profile=pinned");
    assert_word(&booted, "host=reloaded");

    let log_a = runtime_a.log(1);
    let log_b = std::fs::read_to_string(&b_log).unwrap_or_default();
    assert!(
        !log_a.contains("port=4011"),
        "A answered port 4011 before it died: the kill came too late\n{log_a}"
    );
    let packets = lab.captured();
    assert!(
        packets.contains(&format!("> {a}.4011:")),
        "the firmware never asked A on port 4011 (did it take another offer?):\n{packets}"
    );
    assert!(
        log_b.contains("kind=http-x64"),
        "the survivor was not reached through OVMF's HTTP Boot:\n{log_b}"
    );
    assert!(
        log_b.contains("file=hosts/52-54-00-e2-e0-02.ipxe"),
        "the survivor did not serve the machine's script:\n{log_b}"
    );
    drop(runtime_b.lock().unwrap().take());
}

/// Bytes the server namespace's HTTP connections (local port 8080) have had acknowledged, the
/// largest of them: how far into a download the client is.
fn http_bytes_acked(netns: &str) -> u64 {
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            netns,
            "ss",
            "-tniH",
            "state",
            "established",
        ])
        .arg("( sport = :8080 )")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    out.split_whitespace()
        .filter_map(|w| w.strip_prefix("bytes_acked:"))
        .filter_map(|n| n.parse().ok())
        .max()
        .unwrap_or(0)
}

/// How long the machine is watched after iPXE gave up, for a sign that it boots on.
const AFTER_FAILURE: Duration = Duration::from_secs(60);

/// Runtime A serves a UEFI machine its DHCP answers, ipxe.efi and its script, and dies
/// (SIGKILL) while iPXE downloads the kernel from it over HTTP; B starts the moment A dies.
/// A's link is slowed to 4 Mbit/s (a token bucket on its side of the veth) so that the 8 MB
/// kernel takes about 16 s and the kill lands mid-way (1 MB acknowledged).
///
/// Observed: iPXE's download fails at once ("Input/output error", the dead socket's reset),
/// the script stops ("Could not boot image"), iPXE says "No more network devices", offers its
/// Ctrl-B prompt and returns, and then nothing: OVMF neither tries its next boot option nor
/// sends another DHCP packet (watched for a minute here, over two in a longer run), so B never
/// hears of the machine. It does not recover within that power-on. The operator's remedy is a
/// reset (a BMC power cycle): the next power-on broadcasts a DISCOVER, B answers and the machine
/// boots from B, which the test's second boot shows.
#[test]
#[ignore = "needs root and qemu: run by .ci/run"]
fn uefi_stays_stopped_when_a_runtime_dies_mid_http_and_a_reset_boots_it_from_the_survivor() {
    let mut lab = Lab::builder().client().build();
    let fleet = fleet::write(&lab, "lab");
    let b = format!("{}.10", lab.subnet());
    let runtime_a = Restartable::serve(&lab, &fleet);
    let server_ns = lab.netns(Role::Server).name().to_string();
    let status = lab
        .netns(Role::Server)
        .command("tc")
        .args(["qdisc", "add", "dev", IFACE, "root", "tbf", "rate", "4mbit"])
        .args(["burst", "16kb", "latency", "500ms"])
        .status()
        .expect("run tc");
    assert!(status.success(), "tc could not slow A's link");
    let b_log = lab.work_dir().join("netboot-b.log");
    let mut cmd = runtime_b_command(&lab, &fleet, &b, &b_log);
    let runtime_b: Arc<Mutex<Option<Killed>>> = Arc::default();

    // A's script served, then the kernel's download from A under way (1 MB of it
    // acknowledged), then A's death and B's start, in one thread beside the boot.
    let watcher = {
        let (a_handle, b_slot) = (runtime_a.handle(), Arc::clone(&runtime_b));
        std::thread::spawn(move || {
            let started = Instant::now();
            let mut scripted = false;
            while started.elapsed() < Duration::from_secs(240) {
                scripted = scripted
                    || a_handle.log(1).lines().any(|l| {
                        l.contains("http file done")
                            && l.contains("file=hosts/52-54-00-e2-e0-02.ipxe")
                    });
                let acked = if scripted {
                    http_bytes_acked(&server_ns)
                } else {
                    0
                };
                if acked >= 1_000_000 {
                    a_handle.kill();
                    let child = cmd.spawn().expect("start runtime B");
                    *b_slot.lock().unwrap() = Some(Killed(child));
                    return Some(acked);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            None
        })
    };
    // iPXE's failure, then AFTER_FAILURE more (or sooner, any sign of a next boot attempt).
    let failed_at: Mutex<Option<Instant>> = Mutex::default();
    let (serial, ()) = lab.boot_watch(
        Firmware::UefiPxe,
        OTHER_MAC,
        "iPXE's failure and a minute after it",
        Duration::from_secs(240),
        |serial| {
            let after = serial.split_once("No more network devices")?.1;
            let mut at = failed_at.lock().unwrap();
            let at = *at.get_or_insert_with(Instant::now);
            (at.elapsed() > AFTER_FAILURE || after.contains("BdsDxe") || after.contains(">>Start"))
                .then_some(())
        },
    );
    let acked = watcher.join().unwrap();
    assert!(
        acked.is_some(),
        "the kernel's download from A never got 1 MB far"
    );
    let log_a = runtime_a.log(1);
    assert!(
        !log_a.contains("file=artifacts/kernel"),
        "A finished the kernel before it died: the kill came too late\n{log_a}"
    );
    assert!(
        serial.contains("Could not boot image"),
        "iPXE did not report the failed download:\n{serial}"
    );
    let after = serial.split_once("No more network devices").unwrap().1;
    assert!(
        !after.contains("BdsDxe") && !after.contains(">>Start"),
        "the firmware went on to another boot attempt (the behaviour changed: update the \
         README's failure table and this test):\n{after}"
    );
    let log_b = std::fs::read_to_string(&b_log).unwrap_or_default();
    assert!(
        !log_b.contains(&format!("mac={OTHER_MAC}")),
        "the machine reached B in the same power-on (update the README and this test):\n{log_b}"
    );

    // The operator's reset: a new power-on of the same machine boots from B.
    let booted = lab.boot(Firmware::UefiPxe, OTHER_MAC);
    assert_word(&booted, "netboot-profile=pinned");
    assert_word(&booted, "host=reloaded");
    let log_b = std::fs::read_to_string(&b_log).unwrap_or_default();
    assert!(
        log_b.contains("file=hosts/52-54-00-e2-e0-02.ipxe")
            && log_b.contains("file=artifacts/kernel"),
        "the survivor did not serve the machine's script and kernel:\n{log_b}"
    );
    drop(runtime_b.lock().unwrap().take());
}
