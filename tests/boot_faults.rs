//! Faults on the boot LAN, with real firmware where it matters: a lossy, slow link to the
//! server, and the server crashing and coming back while machines boot. The fleet is
//! tests/fixtures/vm/lab.kdl, as in tests/boot_netboot.rs.

use std::time::{Duration, Instant};

use netboot_test_support::lab::Role;
use netboot_test_support::vm::fleet;
use netboot_test_support::vm::impair::{self, Impairment};
use netboot_test_support::vm::restart::Restartable;
use netboot_test_support::vm::{Booted, Firmware, Lab};

/// Listed in the fleet with profile "pinned".
const KNOWN_MAC: &str = "52:54:00:e2:e0:01";
const LOSS_PERCENT: u32 = 10;
const DELAY: Duration = Duration::from_millis(50);

fn assert_word(booted: &Booted, word: &str) {
    assert!(
        booted.cmdline_words().contains(&word),
        "expected {word:?} on the kernel command line, got {:?}",
        booted.cmdline
    );
}

/// A serving lab whose server link loses 10 % of the frames each way and delays the rest 50 ms.
fn impaired_lab() -> (Lab, Impairment) {
    let mut lab = Lab::new();
    let path = fleet::write(&lab, "lab");
    fleet::serve(&mut lab, &path);
    let how = impair::impair(&mut lab, LOSS_PERCENT, DELAY);
    (lab, how)
}

/// The forwarder really dropped frames both ways (with netem, the qdisc statistics say so).
fn assert_frames_dropped(lab: &Lab, how: Impairment) {
    let counters = impair::counters(lab, how);
    eprintln!("impairment ({how:?}): {counters}");
    if how == Impairment::Userspace {
        let drops: Vec<u64> = counters
            .split("dropped ")
            .skip(1)
            .map(|s| {
                s.split(|c: char| !c.is_ascii_digit())
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap()
            })
            .collect();
        assert!(
            drops.len() == 2 && drops.iter().all(|d| *d > 0),
            "no frames were lost each way: {counters}"
        );
    }
}

#[test]
#[ignore = "needs root and qemu: run by .ci/run"]
fn bios_boot_completes_through_loss_and_delay() {
    let (mut lab, how) = impaired_lab();
    let booted = lab.boot(Firmware::Bios, KNOWN_MAC);
    assert_word(&booted, "netboot-profile=pinned");
    eprintln!("BIOS boot through 10% loss / 50 ms: {:.1?}", booted.elapsed);
    assert_frames_dropped(&lab, how);
}

#[test]
#[ignore = "needs root and qemu: run by .ci/run"]
fn uefi_pxe_boot_completes_through_loss_and_delay() {
    let (mut lab, how) = impaired_lab();
    let booted = lab.boot(Firmware::UefiPxe, KNOWN_MAC);
    assert_word(&booted, "netboot-profile=pinned");
    eprintln!(
        "UEFI PXE boot through 10% loss / 50 ms: {:.1?}",
        booted.elapsed
    );
    assert!(
        lab.captured().contains("RRQ \"ipxe.efi\""),
        "ipxe.efi was not fetched over TFTP"
    );
    assert_frames_dropped(&lab, how);
}

/// A TFTP transfer cannot outlive its server: RFC 1350 ties it to the server's port for that
/// transfer (its TID), which dies with the process, so no client can resume it. What must hold
/// is that a client that asks again gets the whole file from the restarted server, on the same
/// port, with nothing left over from the dead transfer. curl with retries is that client.
#[test]
#[ignore = "needs root and qemu: run by .ci/run"]
fn a_tftp_client_that_asks_again_gets_the_whole_file_after_a_server_crash() {
    let mut lab = Lab::new();
    let path = fleet::write(&lab, "lab");
    let server = Restartable::serve(&lab, &path);
    // curl's --limit-rate does not slow TFTP; 50 ms each way does: 208 lock-step blocks of
    // 4096 bytes at a 100 ms round trip take about 21 s, so a crash 3 s in lands mid-transfer.
    let how = impair::impair(&mut lab, 0, Duration::from_millis(50));
    let want = netboot_manifest::sha256_hex(&std::fs::read("/usr/lib/ipxe/ipxe.efi").unwrap());
    let out = lab.work_dir().join("ipxe.efi.got");

    let mut cmd = lab.netns(Role::Router).command("curl");
    // curl's TFTP resends its ACK for an hour by default; --max-time bounds each attempt,
    // and --retry starts a new transfer (a new RRQ) after one fails.
    cmd.args(["--no-progress-meter", "--tftp-blksize", "4096"])
        .args(["--retry", "3", "--retry-all-errors", "--retry-delay", "1"])
        .args(["--max-time", "45", "-o"])
        .arg(&out)
        .arg(format!("tftp://{}/ipxe.efi", lab.server_addr()));
    let started = Instant::now();
    let client = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    server.kill();
    let down = Instant::now();
    std::thread::sleep(Duration::from_secs(1));
    server.start();
    eprintln!("server down for {:.1?}", down.elapsed());

    let result = client.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    eprintln!(
        "curl finished after {:.1?} ({}): {stderr}",
        started.elapsed(),
        impair::counters(&lab, how)
    );
    assert!(
        result.status.success(),
        "curl gave up: {stderr}\n{}",
        server.logs()
    );
    assert!(
        stderr.contains("Will retry"),
        "the first transfer was not cut by the crash (nothing to prove): {stderr}"
    );
    let got = std::fs::read(&out).unwrap();
    assert_eq!(
        netboot_manifest::sha256_hex(&got),
        want,
        "{} bytes",
        got.len()
    );
    // curl exits once it has sent the last ACK; the server logs the transfer when that ACK
    // arrives, a moment later.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !server.log(2).contains("tftp file done") && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        server.log(2).contains("tftp file done"),
        "the restarted server did not serve the retry:\n{}",
        server.logs()
    );
}

/// The server crashes right after answering a UEFI machine's PXE DHCP and stays down until the
/// firmware has sent its next request to it (the TFTP read of ipxe.efi, or the proxy-DHCP
/// request on port 4011) in vain: the firmware's own retry reaches the restarted server (same
/// ports, fresh process) and the boot completes.
#[test]
#[ignore = "needs root and qemu: run by .ci/run"]
fn uefi_pxe_boot_survives_a_server_restart_between_dhcp_and_tftp() {
    let mut lab = Lab::new();
    let path = fleet::write(&lab, "lab");
    let server = Restartable::serve(&lab, &path);
    let pcap = lab.work_dir().join("lan.pcap");
    let to_server = [
        format!("> {}.69:", lab.server_addr()),
        format!("> {}.4011:", lab.server_addr()),
    ];
    let crasher = {
        let server = server.handle();
        let to_server = to_server.clone();
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(240);
            while !server
                .log(1)
                .lines()
                .any(|l| l.contains("dhcp answer") && l.contains(KNOWN_MAC))
            {
                if Instant::now() > deadline {
                    return None;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            server.kill();
            let killed = epoch_seconds();
            // Down until the firmware has asked the dead server for its next step (TFTP or
            // port 4011) and a second more, so that request surely went unanswered.
            let asked = Instant::now() + Duration::from_secs(60);
            while Instant::now() < asked
                && !packets_between(&pcap, killed, f64::MAX)
                    .iter()
                    .any(|l| to_server.iter().any(|t| l.contains(t.as_str())))
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            std::thread::sleep(Duration::from_secs(1));
            let restarting = epoch_seconds();
            server.start();
            Some((killed, restarting))
        })
    };
    let booted = lab.boot(Firmware::UefiPxe, KNOWN_MAC);
    let (killed, restarting) = crasher
        .join()
        .unwrap()
        .expect("the server never answered the VM's DHCP");
    assert_word(&booted, "netboot-profile=pinned");
    eprintln!(
        "UEFI PXE boot across a server restart after its DHCP answer: {:.1?}",
        booted.elapsed
    );
    let first = server.log(1);
    assert!(
        !first.contains("tftp file done"),
        "the first server already served TFTP, so the crash was not before TFTP:\n{first}"
    );
    assert!(
        server.log(2).contains("ipxe.efi"),
        "the restarted server did not serve ipxe.efi:\n{}",
        server.logs()
    );
    // What the firmware sent while nobody served: these went unanswered and were retried.
    let unanswered: Vec<String> =
        packets_between(&lab.work_dir().join("lan.pcap"), killed, restarting)
            .into_iter()
            .filter(|l| to_server.iter().any(|t| l.contains(t.as_str())))
            .collect();
    eprintln!(
        "sent to the server while it was down ({:.1} s):\n{}",
        restarting - killed,
        unanswered.join("\n")
    );
    assert!(
        !unanswered.is_empty(),
        "the firmware asked nothing while the server was down: no retry was needed"
    );
}

fn epoch_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// The captured DHCP/TFTP packets (one line each) with a timestamp in `from..to`.
fn packets_between(pcap: &std::path::Path, from: f64, to: f64) -> Vec<String> {
    let out = std::process::Command::new("tcpdump")
        .args(["-n", "-tt", "-r"])
        .arg(pcap)
        .output()
        .expect("run tcpdump -r");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .next()
                .and_then(|t| t.parse::<f64>().ok())
                .is_some_and(|t| t >= from && t <= to)
        })
        .map(str::to_string)
        .collect()
}
