//! `--user`: the server binds as root, then runs as an unprivileged user that can still read
//! and reload the fleet but cannot become root again.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use netboot_test_support::fleet_dir::Fleet;
use netboot_test_support::served::Served;

const FLEET: &str = r#"
loaders { bios "loaders/undionly.kpxe" }
artifact "kernel" path="files/kernel"
profile "p" { kernel "kernel"; cmdline "marker=one" }
default profile="p"
"#;

fn uid_of(pid: u32) -> (u32, u32) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u32 {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap();
        // Real, effective, saved, filesystem: all four must have dropped.
        let ids: Vec<u32> = line[name.len()..]
            .split_whitespace()
            .map(|v| v.parse().unwrap())
            .collect();
        assert!(ids.windows(2).all(|w| w[0] == w[1]), "{line}");
        ids[0]
    };
    (field("Uid:"), field("Gid:"))
}

#[test]
#[ignore = "needs root: run by .ci/run"]
fn drops_to_the_user_after_binding_and_still_reloads() {
    let fleet = Fleet::new(FLEET);
    // The fleet must be readable by the unprivileged user for reloads.
    std::fs::set_permissions(fleet.dir(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let server = Served::fleet_with(&fleet, &["--user", "nobody"]);
    server.wait_for_log("dropped root", Duration::from_secs(5));
    let (uid, gid) = uid_of(server.pid());
    assert_ne!(uid, 0);
    assert_ne!(gid, 0);
    assert!(server.http_text("profiles/p.ipxe").contains("marker=one"));

    fleet.write(&FLEET.replace("marker=one", "marker=two"));
    server.wait_for_http_text(
        "profiles/p.ipxe",
        |s| s.contains("marker=two"),
        Duration::from_secs(2),
    );
}

#[test]
#[ignore = "needs root: run by .ci/run"]
fn an_unknown_user_stops_the_server_before_it_serves() {
    let fleet = Fleet::new(FLEET);
    let (status, log) = Served::fleet_fails_with(&fleet, &["--user", "no-such-user-here"]);
    assert!(!status.success());
    assert!(log.contains("no such user `no-such-user-here`"), "{log}");
}
