//! Edits that once took `netboot serve` down or froze its reloads: the last good fleet keeps
//! serving through each, and the fix after it is live.

use std::time::Duration;

use netboot_test_support::fleet_dir::Fleet;
use netboot_test_support::served::Served;

const FLEET: &str = r#"
artifact "kernel" path="files/kernel"
profile "install" {
    kernel "kernel"
    cmdline "console=ttyS0 marker=one"
}
host "node1" mac="52:54:00:00:00:11" profile="install"
"#;

const SCRIPT: &str = "hosts/52-54-00-00-00-11.ipxe";

/// A few hundred nested blocks (a 1 KB edit) overflowed the reload thread's stack and aborted
/// the process: DHCP, TFTP and HTTP went down together.
#[test]
fn a_deeply_nested_edit_is_a_failed_reload_not_a_dead_server() {
    let fleet = Fleet::new(FLEET);
    let server = Served::fleet(&fleet);
    for (nth, depth) in [400, 100_000].into_iter().enumerate() {
        fleet.write(&format!("{}{}\n", "a {".repeat(depth), "}".repeat(depth)));
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while server.log().matches("fleet::too-deep").count() <= nth {
            assert!(
                std::time::Instant::now() < deadline,
                "no failed reload for {depth} levels:\n{}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            server.http_text(SCRIPT).contains("marker=one"),
            "the last good fleet is still served after {depth} levels"
        );
    }
    fleet.write(&FLEET.replace("marker=one", "marker=fixed"));
    server.wait_for_http_text(
        SCRIPT,
        |s| s.contains("marker=fixed"),
        Duration::from_secs(2),
    );
}

/// A FIFO put where the fleet was blocked the reload thread in read() forever: no later edit
/// was ever seen.
#[test]
fn a_fifo_in_place_of_the_fleet_does_not_freeze_reloads() {
    let fleet = Fleet::new(FLEET);
    let server = Served::fleet(&fleet);
    std::fs::remove_file(fleet.path()).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(fleet.path())
        .status()
        .unwrap();
    assert!(made.success());
    server.wait_for_log("not a regular file", Duration::from_secs(5));
    assert!(server.http_text(SCRIPT).contains("marker=one"));
    std::fs::remove_file(fleet.path()).unwrap();
    fleet.write(&FLEET.replace("marker=one", "marker=fixed"));
    server.wait_for_http_text(
        SCRIPT,
        |s| s.contains("marker=fixed"),
        Duration::from_secs(2),
    );
}
