//! `netboot serve` and the signals operators send it: SIGHUP reloads (as `systemctl reload`
//! does for nginx and dnsmasq) instead of killing the server; SIGTERM lets transfers in flight
//! finish for a moment, names the ones it has to cut, and exits 0.

use std::net::UdpSocket;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use netboot_test_support::fleet_dir::Fleet;
use netboot_test_support::served::Served;
use netboot_test_support::stand_in;

const FLEET: &str = r#"
loaders { bios "loaders/undionly.kpxe" }
artifact "kernel" path="files/kernel"
profile "p" { kernel "kernel"; cmdline "marker=one" }
default profile="p"
"#;

const SCRIPT: &str = "profiles/p.ipxe";

/// Longer than the server's grace period (5 s) plus start-up slack: a bound, not a benchmark.
const EXIT_LIMIT: Duration = Duration::from_secs(20);

#[test]
fn sighup_reloads_and_the_server_keeps_serving() {
    let fleet = Fleet::new(FLEET);
    // No watcher: only the signal can make this edit live.
    let mut server = Served::fleet_with(&fleet, &["--no-watch"]);
    assert!(server.http_text(SCRIPT).contains("marker=one"));

    fleet.write(&FLEET.replace("marker=one", "marker=two"));
    server.signal("HUP");
    server.wait_for_log("SIGHUP: reloading", Duration::from_secs(5));
    server.wait_for_http_text(SCRIPT, |s| s.contains("marker=two"), Duration::from_secs(5));
    assert!(
        server.wait_exit(Duration::ZERO).is_none(),
        "SIGHUP stopped the server:\n{}",
        server.log()
    );
}

/// A curl download of `path` at `rate`, its body written to `out`.
fn slow_download(server: &Served, path: &str, rate: &str, out: &Path) -> Child {
    Command::new("curl")
        .args([
            "--silent",
            "--fail",
            "--max-time",
            "60",
            "--limit-rate",
            rate,
        ])
        .arg("-o")
        .arg(out)
        .arg(format!("http://127.0.0.1:{}/{path}", server.http))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("curl is installed")
}

fn wait_for_bytes(out: &Path) {
    let started = Instant::now();
    while std::fs::metadata(out).map_or(0, |m| m.len()) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no bytes arrived"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A TFTP client that takes the first block and then never acknowledges the second: the
/// transfer stays in flight on the server (retransmitting) for as long as the test needs.
fn stalled_tftp(server: &Served, file: &str) -> UdpSocket {
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut rrq = vec![0, 1];
    rrq.extend_from_slice(file.as_bytes());
    rrq.extend_from_slice(b"\0octet\0");
    client.send_to(&rrq, ("127.0.0.1", server.tftp)).unwrap();
    let mut buf = [0u8; 600];
    let (n, from) = client.recv_from(&mut buf).unwrap();
    assert_eq!(
        &buf[..4],
        &[0, 3, 0, 1],
        "DATA block 1, got {:?}",
        &buf[..n]
    );
    client.send_to(&[0, 4, 0, 1], from).unwrap();
    let (_, _) = client.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..4], &[0, 3, 0, 2], "DATA block 2");
    client
}

#[test]
fn sigterm_names_the_transfers_it_cuts_and_exits_zero() {
    let fleet = Fleet::new(FLEET);
    // More than loopback's socket buffers and curl hold, at a rate that cannot finish in the
    // grace period.
    fleet.write_file("files/kernel", &stand_in::as_kernel(vec![7u8; 24 << 20]));
    fleet.write_file("loaders/undionly.kpxe", &vec![9u8; 64 << 10]);
    let mut server = Served::fleet_with(&fleet, &["--no-watch"]);
    let out = fleet.dir().join("kernel.part");
    let mut curl = slow_download(&server, "artifacts/kernel", "256k", &out);
    wait_for_bytes(&out);
    let _tftp = stalled_tftp(&server, "undionly.kpxe");

    server.signal("TERM");
    let status = server.wait_exit(EXIT_LIMIT);
    let status = status.unwrap_or_else(|| panic!("still running:\n{}", server.log()));
    server.wait_for_log("stopped", Duration::from_secs(2));
    let log = server.log();
    assert!(status.success(), "{status}:\n{log}");
    let cut = |target: &str, file: &str| {
        log.lines()
            .any(|l| l.contains(target) && l.contains("transfer cut short") && l.contains(file))
    };
    assert!(
        cut("netboot::http", "file=artifacts/kernel"),
        "the HTTP transfer is named:\n{log}"
    );
    assert!(
        cut("netboot::tftp", "file=undionly.kpxe"),
        "the TFTP transfer is named:\n{log}"
    );
    // curl would take long to drain what loopback buffered at its rate before it saw the end.
    let _ = curl.kill();
    let _ = curl.wait();
}

#[test]
fn sigterm_lets_a_transfer_that_ends_within_the_grace_period_finish() {
    let fleet = Fleet::new(FLEET);
    // About 3 s at this rate, and more than loopback buffers at once, so the server is still
    // sending when the signal comes.
    let kernel = stand_in::as_kernel((0..(12u32 << 20)).map(|i| (i % 251) as u8).collect());
    fleet.write_file("files/kernel", &kernel);
    let mut server = Served::fleet_with(&fleet, &["--no-watch"]);
    let out = fleet.dir().join("kernel.whole");
    let mut curl = slow_download(&server, "artifacts/kernel", "4M", &out);
    wait_for_bytes(&out);

    server.signal("TERM");
    let status = server.wait_exit(EXIT_LIMIT);
    let status = status.unwrap_or_else(|| panic!("still running:\n{}", server.log()));
    server.wait_for_log("stopped", Duration::from_secs(2));
    let log = server.log();
    assert!(status.success(), "{status}:\n{log}");
    assert!(
        curl.wait().unwrap().success(),
        "the download finished:\n{log}"
    );
    assert!(std::fs::read(&out).unwrap() == kernel, "with every byte");
    assert!(!log.contains("cut short"), "{log}");
}
