//! `netboot serve` as an operator runs it, on loopback and unprivileged ports: a fleet edit is
//! live within a second, a broken edit keeps the last good fleet serving, the fix after it is
//! live, and a frozen build is served from its manifest.

use std::time::Duration;

use netboot_test_support::fleet_dir::Fleet;
use netboot_test_support::served::Served;
use netboot_test_support::stand_in;

const FLEET: &str = r#"
loaders { bios "loaders/undionly.kpxe" }
artifact "kernel" path="files/kernel"
artifact "initrd" path="files/initrd"
profile "install" {
    kernel "kernel"
    initrd "initrd"
    cmdline "console=ttyS0 marker=one"
}
host "node1" mac="52:54:00:00:00:11" profile="install"
default profile="install"
"#;

#[test]
fn an_edit_is_live_within_a_second() {
    let fleet = Fleet::new(FLEET);
    let server = Served::fleet(&fleet);
    let script = server.http_text("hosts/52-54-00-00-00-11.ipxe");
    assert!(script.contains("marker=one"), "{script}");

    fleet.write(&FLEET.replace("marker=one", "marker=two"));
    let script = server.wait_for_http_text(
        "hosts/52-54-00-00-00-11.ipxe",
        |s| s.contains("marker=two"),
        Duration::from_secs(1),
    );
    assert!(!script.contains("marker=one"));
    assert!(
        server.log().contains("snapshot replaced"),
        "{}",
        server.log()
    );
}

#[test]
fn an_artifact_edit_is_live_too() {
    let fleet = Fleet::new(FLEET);
    let server = Served::fleet(&fleet);
    assert_eq!(server.http_bytes("artifacts/kernel"), Fleet::kernel_v1());
    let two = stand_in::kernel("kernel version two\n");
    fleet.write_file("files/kernel", &two);
    server.wait_for_http_text(
        "artifacts/kernel",
        |s| s.as_bytes() == two,
        Duration::from_secs(1),
    );
    assert_eq!(server.tftp_bytes("undionly.kpxe"), b"stand-in loader\n");
}

#[test]
fn a_broken_edit_keeps_the_last_good_fleet_and_the_fix_is_live() {
    let fleet = Fleet::new(FLEET);
    let server = Served::fleet(&fleet);

    // An undefined profile: a compile error, not a half-applied fleet.
    fleet.write(&FLEET.replace(
        r#"profile="install"
default"#,
        r#"profile="instal"
default"#,
    ));
    server.wait_for_log("reload failed", Duration::from_secs(3));
    let log = server.log();
    assert!(
        log.contains("no profile is named `instal`") && log.contains("fleet::unknown-profile"),
        "the full diagnostic is logged:\n{log}"
    );
    let script = server.http_text("hosts/52-54-00-00-00-11.ipxe");
    assert!(
        script.contains("marker=one"),
        "old fleet still served: {script}"
    );

    fleet.write(&FLEET.replace("marker=one", "marker=fixed"));
    server.wait_for_http_text(
        "hosts/52-54-00-00-00-11.ipxe",
        |s| s.contains("marker=fixed"),
        Duration::from_secs(1),
    );
}

#[test]
fn nothing_outside_the_manifest_is_served() {
    let fleet = Fleet::new(FLEET);
    let server = Served::fleet(&fleet);
    for path in [
        "fleet.kdl",
        "files/kernel",
        "../fleet.kdl",
        "artifacts/../fleet.kdl",
        "%2e%2e/fleet.kdl",
        "/etc/passwd",
    ] {
        assert_eq!(server.http_status(path), 404, "{path}");
    }
    assert!(server.tftp_fails("fleet.kdl"));
    assert!(server.tftp_fails("../fleet.kdl"));
}

#[test]
fn a_frozen_build_is_served_from_its_manifest() {
    let fleet = Fleet::new(FLEET);
    let out = fleet.build();
    let server = Served::manifest(&out.join("manifest.json"));
    let script = server.http_text("hosts/52-54-00-00-00-11.ipxe");
    assert!(script.contains("marker=one"), "{script}");
    assert_eq!(server.http_bytes("artifacts/initrd"), b"initrd v1\n");
    assert_eq!(
        server.tftp_bytes("boot.ipxe"),
        server.http_bytes("boot.ipxe")
    );
}

#[test]
fn a_frozen_build_takes_a_tampered_artifact_out_of_service() {
    let fleet = Fleet::new(FLEET);
    let out = fleet.build();
    // Same size, different bytes: only the sha256 can tell.
    fleet.write_file("files/initrd", b"initrd v2\n");
    let server = Served::manifest(&out.join("manifest.json"));
    assert_eq!(server.http_status("artifacts/initrd"), 404);
    assert_eq!(server.http_bytes("artifacts/kernel"), Fleet::kernel_v1());
    assert!(server.log().contains("out of service"), "{}", server.log());
}

#[test]
fn an_artifact_overwritten_in_place_against_its_pin_is_taken_out_of_service() {
    let pinned = FLEET.replace(
        r#"path="files/initrd""#,
        &format!(
            r#"path="files/initrd" sha256="{}""#,
            sha256_of(b"initrd v1\n")
        ),
    );
    let fleet = Fleet::new(&pinned);
    let server = Served::fleet(&fleet);
    assert_eq!(server.http_bytes("artifacts/initrd"), b"initrd v1\n");
    // Same inode, new bytes (what `cp` onto an existing file does): the pinned sha256 no
    // longer holds, the recompile fails, and the old snapshot must not serve the new bytes.
    fleet.overwrite_in_place("files/initrd", b"initrd v2\n");
    server.wait_for_log("route taken out of service", Duration::from_secs(3));
    assert_eq!(server.http_status("artifacts/initrd"), 404);
    assert_eq!(server.http_bytes("artifacts/kernel"), Fleet::kernel_v1());
}

fn sha256_of(bytes: &[u8]) -> String {
    netboot_manifest::sha256_hex(bytes)
}

#[test]
fn a_broken_fleet_at_start_is_refused_with_its_diagnostic() {
    let fleet = Fleet::new(&FLEET.replace("52:54:00:00:00:11", "52:54:00:00:00"));
    let (status, log) = Served::fleet_fails(&fleet);
    assert!(!status.success());
    assert!(log.contains("fleet::bad-mac"), "{log}");
    assert!(log.contains("52:54:00:00:00"), "{log}");
}

/// [`FLEET`] plus a per-machine file rendered from `templates/preseed.cfg` (so no default
/// profile: unknown machines cannot have per-machine files).
const FLEET_WITH_TEMPLATE: &str = r#"
loaders { bios "loaders/undionly.kpxe" }
artifact "kernel" path="files/kernel"
artifact "initrd" path="files/initrd"
profile "install" {
    kernel "kernel"
    initrd "initrd"
    cmdline "console=ttyS0 marker=one"
    file "preseed.cfg" template="templates/preseed.cfg"
}
host "node1" mac="52:54:00:00:00:11" profile="install"
"#;

const PRESEED: &str = "m/node1/preseed.cfg";

#[test]
fn a_templates_symlink_swapped_by_rename_is_live_and_so_are_later_edits_in_it() {
    let fleet = Fleet::new(FLEET_WITH_TEMPLATE);
    fleet.write_file("tplA/preseed.cfg", b"preseed A\n");
    fleet.write_file("tplB/preseed.cfg", b"preseed B\n");
    fleet.symlink("tplA", "templates");
    let server = Served::fleet(&fleet);
    assert_eq!(server.http_text(PRESEED), "preseed A\n");

    // `ln -sfn tplB t.new && mv -T t.new templates`: the deploy-by-symlink idiom.
    fleet.symlink("tplB", "t.new");
    fleet.rename("t.new", "templates");
    server.wait_for_http_text(PRESEED, |s| s == "preseed B\n", Duration::from_secs(2));

    // The watch must now be on tplB, not on the directory the old link pointed at.
    fleet.write_file("templates/preseed.cfg", b"preseed B2\n");
    server.wait_for_http_text(PRESEED, |s| s == "preseed B2\n", Duration::from_secs(2));
}

#[test]
fn a_templates_directory_swapped_by_two_renames_is_live_and_so_are_later_edits_in_it() {
    let fleet = Fleet::new(FLEET_WITH_TEMPLATE);
    fleet.write_file("templates/preseed.cfg", b"preseed old\n");
    fleet.write_file("templates.new/preseed.cfg", b"preseed new\n");
    let server = Served::fleet(&fleet);
    assert_eq!(server.http_text(PRESEED), "preseed old\n");

    fleet.rename("templates", "templates.old");
    fleet.rename("templates.new", "templates");
    server.wait_for_http_text(PRESEED, |s| s == "preseed new\n", Duration::from_secs(2));

    // Same path, another inode: the watch must follow the path.
    fleet.write_file("templates/preseed.cfg", b"preseed newer\n");
    server.wait_for_http_text(PRESEED, |s| s == "preseed newer\n", Duration::from_secs(2));
}

#[test]
fn a_reload_that_failed_on_a_missing_file_is_retried_without_another_edit() {
    let fleet = Fleet::new(FLEET);
    // Created before the server starts: nothing under store/ is an input, so nothing there is
    // watched and only a retry can notice the file appearing.
    fleet.write_file("store/.keep", b"");
    let server = Served::fleet(&fleet);
    assert_eq!(server.http_bytes("artifacts/initrd"), b"initrd v1\n");

    // The artifact becomes a dangling link (a failure root cannot read past either)...
    fleet.symlink("../store/initrd", "files/initrd.new");
    fleet.rename("files/initrd.new", "files/initrd");
    server.wait_for_log("reload failed", Duration::from_secs(3));
    assert_eq!(server.http_bytes("artifacts/initrd"), b"initrd v1\n");

    // ...and its target appears later, with no event on any input.
    fleet.write_file("store/initrd", b"initrd v2\n");
    server.wait_for_http_text(
        "artifacts/initrd",
        |s| s == "initrd v2\n",
        Duration::from_secs(5),
    );
}

#[test]
fn permissions_put_back_on_a_templates_directory_reload_without_another_edit() {
    use std::os::unix::fs::PermissionsExt;
    if nix::unistd::geteuid().is_root() {
        eprintln!("skipped: root reads through mode 000, so there is no failure to recover from");
        return;
    }
    let fleet = Fleet::new(FLEET_WITH_TEMPLATE);
    fleet.write_file("templates/preseed.cfg", b"preseed one\n");
    let server = Served::fleet(&fleet);
    let templates = fleet.dir().join("templates");
    let mode =
        |m| std::fs::set_permissions(&templates, std::fs::Permissions::from_mode(m)).unwrap();

    mode(0o000);
    fleet.write(&FLEET_WITH_TEMPLATE.replace("marker=one", "marker=two"));
    server.wait_for_log("reload failed", Duration::from_secs(3));
    // chmod back and touch nothing else.
    mode(0o755);
    server.wait_for_http_text(
        "hosts/52-54-00-00-00-11.ipxe",
        |s| s.contains("marker=two"),
        Duration::from_secs(5),
    );
}

/// The log lines an operator reads: a duration to the microsecond (not `ms=45.044292999999996`),
/// and a value quoted only where it needs it (`method=GET` like `file=artifacts/kernel`).
#[test]
fn log_lines_print_durations_briefly_and_quote_alike() {
    let fleet = Fleet::new(FLEET);
    let server = Served::fleet(&fleet);
    server.http_bytes("artifacts/kernel");
    server.tftp_bytes("undionly.kpxe");
    server.wait_for_log("tftp file done", Duration::from_secs(2));
    let log = server.log();
    for message in ["http file done", "tftp file done"] {
        let line = log
            .lines()
            .find(|l| l.contains(message))
            .unwrap_or_else(|| panic!("no `{message}` line in:\n{log}"));
        let ms = line
            .split(' ')
            .find_map(|f| f.strip_prefix("ms="))
            .unwrap_or_else(|| panic!("no ms= in {line}"));
        let decimals = ms.split_once('.').map_or(0, |(_, d)| d.len());
        assert!(
            ms.parse::<f64>().is_ok() && decimals <= 3,
            "ms={ms} in {line}"
        );
        assert!(!line.contains("=\"GET\""), "{line}");
    }
    let http = log.lines().find(|l| l.contains("http file done")).unwrap();
    assert!(http.contains(" method=GET "), "{http}");
}
