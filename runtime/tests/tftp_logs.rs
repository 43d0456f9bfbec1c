//! The TFTP server's log lines: one "tftp file done" per transfer with the fields an operator
//! reads a boot by, and warnings for refusals and abandoned transfers.

use std::os::unix::fs::FileExt;
use std::time::Duration;

use netboot_runtime::tftp::TftpConfig;
use netboot_test_support::log_events::Events;
use netboot_test_support::tftp::{
    block, expect_error, opcode, pattern, snapshot, start_with, Client, File,
};

#[test]
fn transfers_and_refusals_are_logged_with_their_fields() {
    let events = Events::install();
    let dir = tempfile::tempdir().unwrap();
    let config = TftpConfig {
        timeout: Duration::from_millis(50),
        retries: 1,
        ..TftpConfig::default()
    };
    let bytes = pattern(10_000, 1);
    let server = start_with(
        snapshot(
            &[
                File::Memory("undionly.kpxe", bytes.clone()),
                File::Disk("kernel", pattern(600, 2)),
            ],
            dir.path(),
        ),
        config,
    );

    let got = Client::new(server.addr).fetch("/undionly.kpxe", 1468, 4);
    assert!(got == bytes);
    let done = events.wait_for(
        "tftp file done",
        &[
            ("file", "undionly.kpxe"),
            ("ip", "127.0.0.1"),
            ("bytes", "10000"),
            ("blksize", "1468"),
            ("windowsize", "4"),
        ],
    );
    assert_eq!(done["level"], "INFO");
    assert_eq!(done["target"], "netboot::tftp");
    assert!(done["ms"].parse::<f64>().is_ok(), "{done:?}");

    let client = Client::new(server.addr);
    client.read("no\nsuch", &[]);
    expect_error(&client.recv().0, 1);
    let refused = events.wait_for(
        "tftp request refused",
        &[("code", "1"), ("file", "no\\nsuch")],
    );
    assert_eq!(refused["level"], "WARN");

    // A client that never acknowledges: the transfer is abandoned with a warning.
    let client = Client::new(server.addr);
    client.read("undionly.kpxe", &[]);
    let failed = events.wait_for("tftp transfer failed", &[("bytes", "0")]);
    assert_eq!(failed["level"], "WARN");
    assert!(failed["error"].contains("retransmissions"), "{failed:?}");

    // A file written into in place mid-transfer: the transfer fails, and says why.
    let client = Client::new(server.addr);
    client.read("kernel", &[]);
    let (p, tid) = client.recv();
    assert_eq!((opcode(&p), block(&p)), (3, 1));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.path().join("kernel"))
        .unwrap();
    file.write_all_at(b"other bytes", 0).unwrap();
    // Moved well away, so the test does not depend on the mtime's granularity.
    file.set_modified(std::time::SystemTime::UNIX_EPOCH)
        .unwrap();
    client.ack(tid, 1);
    expect_error(&client.recv().0, 0);
    let failed = events.wait_for(
        "tftp transfer failed",
        &[("file", "kernel"), ("bytes", "512"), ("size", "600")],
    );
    assert_eq!(failed["level"], "WARN");
    assert!(
        failed["error"].contains("file changed during transfer"),
        "{failed:?}"
    );
}
