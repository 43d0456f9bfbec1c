//! `netboot state` and `netboot reinstall` on a real fleet and a real state file, as the
//! server writes it. Outputs are golden files under tests/golden/cli/ (regenerate with
//! `SNAPSHOTS=overwrite cargo test --test cli_state`, then review the diff).

use std::path::Path;

use netboot_test_support::fleet_dir::Fleet;
use netboot_test_support::golden;

const FLEET: &str = r#"
server { address "10.0.0.1"; }
loaders { bios "loaders/undionly.kpxe"; }
artifact "kernel" path="files/kernel"
profile "debian-auto" { kernel "kernel"; cmdline "auto=true done={{ install_done_url }}"; }
profile "local-disk" { exit; }
group "web" generation=2 {
    install "debian-auto" then="local-disk"
    host "web1" mac="52:54:00:00:00:11"
    host "web2" mac="52:54:00:00:00:12"
}
host "db1" mac="52:54:00:00:00:21" generation=3 {
    install "debian-auto" then="local-disk"
}
host "desk" mac="52:54:00:00:00:31" profile="local-disk"
"#;

/// web1 reported its generation, db1 an older one, web2 nothing; 52:54:00:00:00:99 was a
/// machine the fleet no longer has.
const STATE: &str = r#"{
  "format": 1,
  "machines": {
    "52:54:00:00:00:11": { "host": "web1", "generation": 2, "at": 1796126400, "address": "10.0.0.11" },
    "52:54:00:00:00:21": { "host": "db1", "generation": 2, "at": 1790000000, "address": "10.0.0.21" },
    "52:54:00:00:00:99": { "host": "old", "generation": 1, "at": 1780000000, "address": "10.0.0.99" }
  }
}
"#;

fn fleet_with_state(state: &str) -> Fleet {
    let fleet = Fleet::new(FLEET);
    fleet.write_file("state/install-state.json", state.as_bytes());
    fleet
}

fn netboot(dir: &Path, args: &[&str]) -> snapbox::cmd::OutputAssert {
    snapbox::cmd::Command::new(env!("CARGO_BIN_EXE_netboot"))
        .args(args)
        .current_dir(dir)
        .with_assert(golden::assert())
        .assert()
}

fn state_file(fleet: &Fleet) -> String {
    std::fs::read_to_string(fleet.dir().join("state/install-state.json")).unwrap()
}

#[test]
fn state_lists_what_each_machine_reported_and_boots_next() {
    let fleet = fleet_with_state(STATE);
    netboot(fleet.dir(), &["state", "--state-dir", "state", "fleet.kdl"])
        .code(0)
        .stdout_eq(golden::file("cli/state-human.txt"))
        .stderr_eq("");
    netboot(
        fleet.dir(),
        &[
            "state",
            "--state-dir",
            "state",
            "fleet.kdl",
            "--format",
            "json",
        ],
    )
    .code(0)
    .stdout_eq(golden::file("cli/state-json.json"))
    .stderr_eq("");
    // Without a fleet: the records alone.
    netboot(fleet.dir(), &["state", "--state-dir", "state"])
        .code(0)
        .stdout_eq(golden::file("cli/state-records-only.txt"))
        .stderr_eq("");
    assert_eq!(state_file(&fleet), STATE, "state only reads");
}

#[test]
fn reinstall_forgets_one_machine_and_logs_it() {
    let fleet = fleet_with_state(STATE);
    let log = netboot(
        fleet.dir(),
        &["reinstall", "web1", "--state-dir", "state", "fleet.kdl"],
    )
    .code(0)
    .stdout_eq(golden::file("cli/reinstall-web1.txt"))
    .get_output()
    .stderr
    .clone();
    let log = String::from_utf8(log).unwrap();
    assert!(
        log.contains("WARN netboot::install: install record forgotten by hand")
            && log.contains("host=web1 mac=52:54:00:00:00:11 forgot_generation=2"),
        "{log}"
    );
    let after = state_file(&fleet);
    assert!(!after.contains("52:54:00:00:00:11"), "{after}");
    assert!(after.contains("52:54:00:00:00:21") && after.contains("52:54:00:00:00:99"));
    // It installs now; the second time there is nothing to forget.
    netboot(
        fleet.dir(),
        &["reinstall", "web1", "--state-dir", "state", "fleet.kdl"],
    )
    .code(0)
    .stdout_eq(
        "web1: nothing reported installed; it boots debian-auto (generation 2) next already\n",
    );
    netboot(fleet.dir(), &["state", "--state-dir", "state", "fleet.kdl"])
        .code(0)
        .stdout_eq(golden::file("cli/state-after-reinstall.txt"));
}

#[test]
fn reinstall_refuses_unknown_hosts_hosts_without_a_lifecycle_and_a_damaged_file() {
    let fleet = fleet_with_state(STATE);
    for (host, says) in [
        ("web9", "netboot reinstall: no host `web9` in the fleet\n"),
        (
            "desk",
            "netboot reinstall: host `desk` has no install lifecycle: it boots the same profile every time\n",
        ),
    ] {
        netboot(fleet.dir(), &["reinstall", host, "--state-dir", "state", "fleet.kdl"])
            .code(1)
            .stdout_eq("")
            .stderr_eq(says);
    }
    assert_eq!(state_file(&fleet), STATE);

    let damaged = fleet_with_state("{ half written");
    netboot(
        damaged.dir(),
        &["reinstall", "web1", "--state-dir", "state", "fleet.kdl"],
    )
    .code(1)
    .stdout_eq("");
    assert_eq!(state_file(&damaged), "{ half written", "never overwritten");
    let out = netboot(
        damaged.dir(),
        &["state", "--state-dir", "state", "fleet.kdl"],
    )
    .code(1)
    .stdout_eq("")
    .get_output()
    .stderr
    .clone();
    let err = String::from_utf8(out).unwrap();
    assert!(
        err.contains("is damaged") && err.contains("boots its `then` profile"),
        "{err}"
    );
}

#[test]
fn explain_says_which_profile_a_lifecycle_machine_gets_now_and_why() {
    let fleet = fleet_with_state(STATE);
    let explain = |mac: &str, with_state: bool, golden_name: &str| {
        let mut args = vec!["explain", "fleet.kdl", mac, "--arch", "bios"];
        if with_state {
            args.extend(["--state-dir", "state"]);
        }
        netboot(fleet.dir(), &args)
            .code(0)
            .stdout_eq(golden::file(&format!("cli/{golden_name}")))
            .stderr_eq("");
    };
    // Reported its generation: local disk. An older report: the installer.
    explain("52:54:00:00:00:11", true, "explain-lifecycle-installed.txt");
    explain("52:54:00:00:00:21", true, "explain-lifecycle-pending.txt");
    // Without the state: both named with the rule, the then chain followed.
    explain("52:54:00:00:00:11", false, "explain-lifecycle-no-state.txt");
    // A damaged state: then, never the installer, as the server does.
    let damaged = fleet_with_state("{ half written");
    let out = netboot(
        damaged.dir(),
        &[
            "explain",
            "fleet.kdl",
            "52:54:00:00:00:12",
            "--arch",
            "bios",
            "--state-dir",
            "state",
        ],
    )
    .code(0)
    .get_output()
    .stdout
    .clone();
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains("boots local-disk now, never debian-auto") && !out.contains("kernel"),
        "{out}"
    );
}
