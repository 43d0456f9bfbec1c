//! The install lifecycle through a real `netboot serve` on loopback: a machine gets its
//! installer until it reports done at its done URL, then its `then` profile, across a
//! restart; a generation bump in the fleet makes it install again.

use std::time::Duration;

use netboot_test_support::fleet_dir::Fleet;
use netboot_test_support::lifecycle::{done_path, FLEET, WEB1, WEB2};
use netboot_test_support::served::Served;

/// The status code the server answers `request` with.
fn raw_status(port: u16, request: &str) -> u16 {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).unwrap();
    String::from_utf8_lossy(&head[9..12]).parse().unwrap()
}

#[test]
fn install_once_then_boot_from_disk_until_the_generation_is_bumped() {
    let fleet = Fleet::new(FLEET);
    let state = tempfile::tempdir().unwrap();
    let state_dir = state.path().to_str().unwrap();
    let flags = ["--state-dir", state_dir];
    let server = Served::fleet_with(&fleet, &flags);

    let script = server.http_text(WEB1);
    assert!(script.contains("kernel ../artifacts/kernel"), "{script}");
    let done = done_path(&script);
    assert!(done.starts_with("install-done/web1/1/"), "{done}");
    // Over TFTP the lifecycle is not decided: the everyday name is the `then` script, so a
    // chain that reaches it by TFTP boots from disk, never an installer (the safe direction).
    let by_tftp = String::from_utf8(server.tftp_bytes(WEB1)).unwrap();
    assert!(
        by_tftp.contains("exit") && !by_tftp.contains("kernel"),
        "{by_tftp}"
    );

    // web2's URL does not mark web1, and a forged token nothing.
    let web2_done = done_path(&server.http_text(WEB2));
    let forged = format!("install-done/web1/1/{}", "0".repeat(32));
    assert_eq!(server.http_status(&forged), 403);
    assert_eq!(server.http_status(&web2_done.replace("web2", "web1")), 403);
    assert!(server.http_text(WEB1).contains("kernel"));

    // A report with a body is refused unread, even with the right URL; other methods too.
    let post = format!("POST /{done} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n");
    assert_eq!(raw_status(server.http, &post), 413);
    let put = format!("PUT /{done} HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(raw_status(server.http, &put), 405);
    assert!(server.http_text(WEB1).contains("kernel"));
    let metrics = server.http_text("metrics");
    assert!(
        metrics.contains("netboot_install_state{host=\"web1\",state=\"pending\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("netboot_install_reports_total{result=\"refused\",reason=\"wrong token for this machine and generation\"} 2"),
        "{metrics}"
    );
    assert_eq!(server.http_status(&done), 200);
    let metrics = server.http_text("metrics");
    assert!(
        metrics.contains("netboot_install_state{host=\"web1\",state=\"installed\"} 1")
            && metrics.contains("netboot_install_state{host=\"web2\",state=\"pending\"} 1")
            && metrics.contains("netboot_install_reports_total{result=\"recorded\",reason=\"\"} 1"),
        "{metrics}"
    );
    let page = server.http_text("");
    assert!(
        page.contains("<span class=\"install installed\">installed (generation 1)"),
        "{page}"
    );
    assert!(
        server.http_text(WEB1).contains("exit"),
        "web1 now boots from disk"
    );
    assert!(
        server.http_text(WEB2).contains("kernel"),
        "web2 still installs"
    );
    // Reported again: still 200, still installed.
    assert_eq!(server.http_status(&done), 200);
    assert!(server.log().contains("install done"), "{}", server.log());
    drop(server);

    // The state outlives the server.
    let server = Served::fleet_with(&fleet, &flags);
    assert!(server.http_text(WEB1).contains("exit"));

    // Reinstall: bump web1's generation in the fleet; the running server reloads.
    fleet.write(&FLEET.replace(
        r#"host "web1" mac="52:54:00:00:00:11""#,
        r#"host "web1" mac="52:54:00:00:00:11" generation=2"#,
    ));
    let script = server.wait_for_http_text(WEB1, |s| s.contains("kernel"), Duration::from_secs(3));
    assert!(done_path(&script).starts_with("install-done/web1/2/"));
    // The old generation's URL is stale now.
    assert_eq!(server.http_status(&done), 409);
    assert!(server.http_text(WEB1).contains("kernel"));
}

#[test]
fn a_damaged_state_file_gives_every_machine_its_then_profile() {
    let fleet = Fleet::new(FLEET);
    let state = tempfile::tempdir().unwrap();
    std::fs::write(state.path().join("install-state.json"), "{ half written").unwrap();
    let server = Served::fleet_with(&fleet, &["--state-dir", state.path().to_str().unwrap()]);
    assert!(
        server.http_text(WEB1).contains("exit"),
        "never the installer"
    );
    let done = format!(
        "install-done/web1/1/{}",
        netboot_manifest::install_token("web1", "52:54:00:00:00:11".parse().unwrap(), 1,)
    );
    assert_eq!(
        server.http_status(&done),
        503,
        "and no report overwrites it"
    );
    assert_eq!(
        std::fs::read_to_string(state.path().join("install-state.json")).unwrap(),
        "{ half written"
    );
    assert!(
        server.log().contains("install state unreadable"),
        "{}",
        server.log()
    );
}
