//! The install lifecycle on real firmware (SeaBIOS with iPXE): a machine boots its install
//! profile, whose stand-in installer (the install initrd of test-support's build-assets.sh)
//! gets an address from the LAN's DHCP, calls its done URL with busybox wget and powers off.
//! The server is killed and started again on the same state dir; booted again, the machine
//! gets its `then` profile (`exit`: back to the firmware, no kernel fetched). A generation
//! bump in the fleet reloads the server, and the third boot installs again.
//! The fleet is tests/fixtures/vm/install.kdl.

use std::path::Path;
use std::time::{Duration, Instant};

use netboot_test_support::daemon::tail;
use netboot_test_support::lab::Role;
use netboot_test_support::vm::assets::INSTALL_MARKER;
use netboot_test_support::vm::fleet::{self, Save};
use netboot_test_support::vm::restart::Restartable;
use netboot_test_support::vm::{Firmware, Lab};

/// Host "fresh" in the fleet, in group "lab" (generation 1 until the test bumps it).
const MAC: &str = "52:54:00:e2:e0:11";
/// The script iPXE fetches for it; the server picks which of the two profiles it holds.
const SCRIPT: &str = "hosts/52-54-00-e2-e0-11.ipxe";
/// What SeaBIOS prints once iPXE's `exit` has handed the boot back and there is no disk.
const NO_DISK: &str = "No bootable device";

/// The `http file done` and `tftp file done` lines of a server log: what it served, each
/// with `file=` and `bytes=`.
fn served(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains("http file done") || l.contains("tftp file done"))
        .collect()
}

/// The value of `key=` on a log line.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
}

/// The generation the state file records for the machine, as the server wrote it.
fn recorded_generation(state_dir: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(state_dir.join("install-state.json")).ok()?;
    let state: serde_json::Value = serde_json::from_str(&text).expect("install state is JSON");
    state["machines"][MAC]["generation"].as_u64()
}

/// Boots the machine until its installer reports done; the server's answer must name
/// `generation`, and the server must have recorded it.
fn boot_installs(lab: &mut Lab, server: &Restartable, state_dir: &Path, generation: u64) {
    let serial = lab.boot_until(Firmware::Bios, MAC, INSTALL_MARKER);
    let answer = format!("install report answered: fresh: generation {generation} is installed");
    assert!(
        serial.contains(&answer),
        "expected {answer:?} on the console:\n{}",
        tail(&serial, 30)
    );
    let log = server.log(server.generation());
    assert!(
        log.lines().any(
            |l| l.contains("install done: the machine boots its `then` profile")
                && l.contains(&format!("generation={generation}"))
        ),
        "the server did not log the accepted report:\n{}",
        tail(&log, 60)
    );
    // The report was recorded before its answer was sent, so it is on disk by now.
    assert_eq!(recorded_generation(state_dir), Some(generation));
}

#[test]
#[ignore = "needs root and qemu: run by .ci/run"]
fn a_machine_installs_once_boots_from_disk_then_reinstalls_when_the_generation_is_bumped() {
    let started = Instant::now();
    let mut lab = Lab::new();
    let path = fleet::write(&lab, "install");
    let state_dir = lab.work_dir().join("state");
    std::fs::create_dir(&state_dir).expect("create the state dir");
    let state_arg = state_dir.display().to_string();
    // Declared after the lab, so dropped (killed) before the lab removes its namespaces.
    let server = Restartable::serve_with(&lab, &path, &["--state-dir", &state_arg]);

    // Boot 1: the installer, which reports generation 1.
    boot_installs(&mut lab, &server, &state_dir, 1);
    assert!(
        served(&server.log(1))
            .iter()
            .any(|l| field(l, "file") == Some("artifacts/kernel")),
        "the installer's kernel was not fetched:\n{}",
        server.logs()
    );
    let first = started.elapsed();

    // A crash between the boots: the state must come back from the state dir.
    server.kill();
    server.start();

    // Boot 2: the `then` profile. "No bootable device" alone would also follow a failed
    // network boot, so the server's log must show that the script it served was the `then`
    // one (its size) and that nothing else was fetched.
    let console = lab.boot_until(Firmware::Bios, MAC, NO_DISK);
    let log = server.log(2);
    let fetched = served(&log);
    let url = format!("http://{}:8080/{SCRIPT}", lab.server_addr());
    let then_script = lab
        .netns(Role::Router)
        .output("curl", &["--no-progress-meter", "--fail", &url]);
    assert!(
        then_script.contains("exit") && !then_script.contains("kernel"),
        "the server no longer hands out the `then` script:\n{then_script}"
    );
    let expected_bytes = then_script.len().to_string();
    assert!(
        !fetched.is_empty()
            && fetched.iter().all(|l| field(l, "file") == Some(SCRIPT)
                && field(l, "bytes") == Some(expected_bytes.as_str())),
        "boot 2 should fetch only its `then` script ({expected_bytes} bytes):\n{}\nconsole:\n{}",
        fetched.join("\n"),
        tail(&console, 30)
    );
    let second = started.elapsed();

    // Reinstall: bump the group's generation; the running server reloads on its own.
    let reloads = |log: &str| log.matches("snapshot replaced").count();
    let before = reloads(&server.log(2));
    fleet::edit(&path, "generation=1", "generation=2", Save::Rename);
    let deadline = Instant::now() + Duration::from_secs(10);
    while reloads(&server.log(2)) == before {
        assert!(
            Instant::now() < deadline,
            "the server did not reload the bumped fleet:\n{}",
            tail(&server.log(2), 60)
        );
        // The log sits beside fleet.kdl, and the server's watcher waits for 150 ms without
        // any event in that directory before it reloads; opening the log is such an event,
        // so poll slower than that or the reload never starts.
        std::thread::sleep(Duration::from_millis(500));
    }

    // Boot 3: the installer again, which reports generation 2.
    boot_installs(&mut lab, &server, &state_dir, 2);
    eprintln!(
        "install lifecycle: boot 1 (install) done at {first:.1?}, boot 2 (then) at \
         {second:.1?}, boot 3 (reinstall) at {:.1?}",
        started.elapsed()
    );
}
