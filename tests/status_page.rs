//! The status page of `netboot serve`: on loopback with the binary (pages on and off, a failed
//! reload in /metrics), and in headless Chromium after real firmware booted through it in the
//! VM lab, which also refreshes the screenshot in docs/status.png.

use std::path::{Path, PathBuf};
use std::time::Duration;

use netboot_test_support::fleet_dir::Fleet;
use netboot_test_support::lab::Role;
use netboot_test_support::served::Served;
use netboot_test_support::vm::{fleet, Firmware, Lab};

const FLEET: &str = r#"
loaders { bios "loaders/undionly.kpxe" }
artifact "kernel" path="files/kernel"
artifact "initrd" path="files/initrd"
profile "install" {
    kernel "kernel"
    initrd "initrd"
    cmdline "console=ttyS0"
}
host "node1" mac="52:54:00:00:00:11" profile="install"
default profile="install"
"#;

#[test]
fn serve_shows_what_a_client_fetched_on_the_page_in_metrics_and_json() {
    let fleet = Fleet::new(FLEET);
    let server = Served::fleet(&fleet);
    server.tftp_bytes("undionly.kpxe");
    server.http_text("hosts/52-54-00-00-00-11.ipxe");
    server.http_bytes("artifacts/kernel");

    let page = server.http_text("");
    assert!(page.contains("<title>netboot status</title>"), "{page}");
    assert!(
        page.contains("<span class=\"mac\">52:54:00:00:00:11</span>"),
        "{page}"
    );
    assert!(page.contains("<span class=\"host\">node1</span>"));
    assert!(page.contains("data-reached=\"kernel\""), "{page}");

    let metrics = server.http_text("metrics");
    assert!(metrics.contains("netboot_transfers_total{protocol=\"tftp\",result=\"ok\"} 1"));
    assert!(metrics.contains("netboot_transfers_total{protocol=\"http\",result=\"ok\"} 2"));
    assert!(metrics.contains("netboot_reloads_total{result=\"ok\"} 0"));

    let json: serde_json::Value = serde_json::from_str(&server.http_text("status.json")).unwrap();
    assert_eq!(json["machines"][0]["mac"], "52:54:00:00:00:11");
}

#[test]
fn no_status_leaves_the_reserved_paths_to_the_manifest() {
    let fleet = Fleet::new(FLEET);
    let server = Served::fleet_with(&fleet, &["--no-status"]);
    for path in ["", "metrics", "status.json"] {
        assert_eq!(server.http_status(path), 404, "/{path}");
    }
    assert_eq!(server.http_status("boot.ipxe"), 200);
}

#[test]
fn a_broken_fleet_edit_shows_as_a_failed_reload() {
    let fleet = Fleet::new(FLEET);
    let server = Served::fleet(&fleet);
    // "serving" is logged just before the file watch is armed: an edit in between would go
    // unseen, so the edit is repeated until the server notices it.
    let noticed = (0..10).any(|_| {
        fleet.write("profile \"install\" {");
        (0..20).any(|_| {
            std::thread::sleep(Duration::from_millis(50));
            server
                .http_text("metrics")
                .contains("netboot_last_reload_success 0")
        })
    });
    assert!(noticed, "no failed reload in /metrics:\n{}", server.log());
    let page = server.http_text("");
    assert!(
        page.contains("failed, still serving the last good fleet"),
        "{page}"
    );
    // And the last good fleet is indeed still served.
    assert_eq!(server.http_status("hosts/52-54-00-00-00-11.ipxe"), 200);
}

#[test]
#[ignore = "needs chromium: run by .ci/run"]
fn chromium_shows_hostile_client_text_as_text() {
    let fleet = Fleet::new(FLEET);
    let server = Served::fleet(&fleet);
    let attack = "<img src=x onerror=\"document.title='owned'\">";
    let http = std::process::Command::new("curl")
        .args([
            "--silent",
            "--max-time",
            "5",
            "-o",
            "/dev/null",
            "-A",
            attack,
        ])
        .arg(format!(
            "http://127.0.0.1:{}/hosts/52-54-00-00-00-11.ipxe",
            server.http
        ))
        .status()
        .unwrap();
    assert!(http.success());
    // A TFTP file name is any bytes the client likes.
    assert!(server.tftp_fails("<b>bold</b>"));

    let scratch = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{}/", server.http);
    let dom = netboot_test_support::chromium::dump_dom(None, scratch.path(), &url);
    assert!(dom.contains("<title>netboot status</title>"), "{dom}");
    assert!(
        !dom.contains("<img"),
        "an element came from a client:\n{dom}"
    );
    assert!(
        !dom.contains("<b>"),
        "an element came from a client:\n{dom}"
    );
    assert!(dom.contains("&lt;img src=x"), "{dom}");
    assert!(dom.contains("&lt;b&gt;bold&lt;/b&gt;"), "{dom}");
}

/// Listed in tests/fixtures/vm/lab.kdl as host "known".
const KNOWN_MAC: &str = "52:54:00:e2:e0:01";
/// Not listed: walks the default menu.
const UNKNOWN_MAC: &str = "52:54:00:e2:e0:99";

#[test]
#[ignore = "needs root and qemu: run by .ci/run"]
fn chromium_shows_the_boot_timelines_of_real_firmware() {
    let mut lab = Lab::new();
    let path = fleet::write(&lab, "lab");
    fleet::serve(&mut lab, &path);
    // SeaBIOS's NIC ROM is iPXE already (no loader); OVMF's own PXE client fetches ipxe.efi
    // over TFTP first, and as an unlisted machine goes on through the menu.
    lab.boot(Firmware::Bios, KNOWN_MAC);
    lab.boot(Firmware::UefiPxe, UNKNOWN_MAC);

    // The browser runs in the server's namespace, where the server's address is local.
    let url = format!("http://{}:8080/", lab.server_addr());
    let scratch = lab.work_dir().join("chromium");
    let in_server_ns = || Some(lab.netns(Role::Server).command("env"));
    let dom = netboot_test_support::chromium::dump_dom(in_server_ns(), &scratch, &url);

    let row = |mac: &str| -> String {
        let start = dom
            .find(&format!("data-machine=\"{mac}\""))
            .unwrap_or_else(|| panic!("no row for {mac} in\n{dom}"));
        let end = dom[start..].find("</tr>").map_or(dom.len(), |e| start + e);
        dom[start..end].to_string()
    };
    let cell = |row: &str, stage: &str| {
        netboot_test_support::chromium::element_text(row, &format!("class=\"stage-{stage}\""))
    };

    let known = row(KNOWN_MAC);
    assert!(known.contains("data-reached=\"initrd\""), "{known}");
    assert!(
        known.contains("<span class=\"host\">known</span>"),
        "{known}"
    );
    assert!(cell(&known, "dhcp").contains("ipxe →"), "{known}");
    assert_eq!(
        cell(&known, "loader"),
        "— already iPXE",
        "the ROM needs no loader"
    );
    assert!(
        cell(&known, "script").contains("hosts/52-54-00-e2-e0-01.ipxe"),
        "{known}"
    );
    assert!(cell(&known, "kernel").contains("MiB"), "{known}");
    assert!(cell(&known, "initrd").contains("http"), "{known}");

    let unknown = row(UNKNOWN_MAC);
    assert!(unknown.contains("data-reached=\"initrd\""), "{unknown}");
    assert!(unknown.contains("not in the fleet"), "{unknown}");
    assert!(
        cell(&unknown, "dhcp").contains("efi-x64 → ipxe.efi"),
        "{unknown}"
    );
    assert!(cell(&unknown, "loader").contains("ipxe.efi"), "{unknown}");
    assert!(cell(&unknown, "loader").contains("tftp"), "{unknown}");
    let scripts = cell(&unknown, "script");
    assert!(scripts.contains("menus/main.ipxe"), "{unknown}");
    assert!(
        scripts.contains("the default follows"),
        "the 404 of its host script: {unknown}"
    );
    assert!(!cell(&unknown, "kernel").is_empty(), "{unknown}");
    assert_eq!(
        dom.matches("<tr class=\"machine\"").count(),
        2,
        "only the two VMs, not the browser:\n{dom}"
    );

    let png = lab.work_dir().join("status.png");
    netboot_test_support::chromium::screenshot(in_server_ns(), &scratch, &url, &png, (1400, 700));
    keep_screenshot(&png);
}

/// docs/status.png is refreshed with the goldens (SNAPSHOTS=overwrite) or when missing, so an ordinary
/// test run does not dirty the tree with a picture that differs only in its clock.
fn keep_screenshot(png: &Path) {
    let docs: PathBuf = [env!("CARGO_MANIFEST_DIR"), "docs", "status.png"]
        .iter()
        .collect();
    if netboot_test_support::golden::refreshing() || !docs.exists() {
        std::fs::create_dir_all(docs.parent().unwrap()).unwrap();
        std::fs::copy(png, &docs).unwrap();
        eprintln!("wrote {}", docs.display());
    }
}
