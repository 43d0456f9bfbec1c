//! `netboot test` end to end: it boots real firmware in VMs on its own private network and its
//! verdict must match what happened. The fleet is tests/fixtures/vm/lab.kdl with the lab's
//! kernel and busybox initrd (whose /init prints `NETBOOT-E2E-OK cmdline=…`); the negative
//! cases change one thing each and must fail naming the step that never happened.
//! BIOS boots are the fastest under TCG, so the negative cases use BIOS only.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use netboot_test_support::vm::Assets;

const KNOWN_MAC: &str = "52:54:00:e2:e0:01";

/// lab.kdl with the cached assets in, edited by `edit`, written to `dir/fleet.kdl`.
fn fleet(dir: &Path, edit: impl Fn(String) -> String) -> PathBuf {
    let fixture = netboot_test_support::workspace().join("tests/fixtures/vm/lab.kdl");
    let assets = Assets::get();
    let text = std::fs::read_to_string(fixture)
        .expect("read lab.kdl")
        .replace("@KERNEL@", &assets.kernel.display().to_string())
        .replace("@INITRD@", &assets.initrd.display().to_string());
    let path = dir.join("fleet.kdl");
    std::fs::write(&path, edit(text)).expect("write fleet");
    path
}

fn netboot_test(fleet: &Path, args: &[&str]) -> Output {
    let out = std::process::Command::new(netboot_test_support::netboot_bin())
        .arg("test")
        .arg(fleet)
        .args(args)
        .output()
        .expect("run netboot test");
    eprintln!(
        "stdout:\n{}\nstderr (last part):\n{}",
        String::from_utf8_lossy(&out.stdout),
        tail(&String::from_utf8_lossy(&out.stderr), 40)
    );
    out
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).expect("read result.json"))
        .expect("result.json is JSON")
}

/// The PNG signature, then the IHDR chunk first with a non-zero width and height.
fn assert_png(path: &Path) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert_eq!(
        &bytes[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is not a PNG",
        path.display()
    );
    assert_eq!(
        &bytes[12..16],
        b"IHDR",
        "{}: first chunk is not IHDR",
        path.display()
    );
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert!(
        width >= 320 && height >= 200,
        "{}: {width}x{height}",
        path.display()
    );
}

/// Valid against the JUnit schema (tests/fixtures/junit/junit.xsd, by xmllint), and beyond
/// what a schema can say: `testsuite` with name, timestamp, hostname, tests, failures, errors,
/// time (and package, id inside `testsuites`), `properties`, `system-out` and `system-err`;
/// each `testcase` with name, classname, time; a `failure` with message and type; the counts
/// and each case's verdict as expected.
fn assert_junit(xml: &str, cases: &[(&str, bool)]) {
    if let Err(e) = netboot_test_support::junit::validate(xml, "junit.xml of a VM run") {
        panic!("{e}");
    }
    let doc = roxmltree::Document::parse(xml).expect("junit.xml is well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let suites: Vec<_> = root.children().filter(|n| n.is_element()).collect();
    assert_eq!(suites.len(), 1);
    let suite = suites[0];
    assert_eq!(suite.tag_name().name(), "testsuite");
    for attr in [
        "package",
        "id",
        "name",
        "timestamp",
        "hostname",
        "tests",
        "failures",
        "errors",
        "time",
    ] {
        assert!(suite.attribute(attr).is_some(), "testsuite lacks {attr}");
    }
    let stamp = suite.attribute("timestamp").unwrap();
    assert!(
        stamp.len() == 19 && stamp.as_bytes()[10] == b'T',
        "timestamp {stamp}"
    );
    suite
        .attribute("time")
        .unwrap()
        .parse::<f64>()
        .expect("time is a number");
    let children: Vec<&str> = suite
        .children()
        .filter(|n| n.is_element())
        .map(|n| n.tag_name().name())
        .collect();
    assert_eq!(children.first(), Some(&"properties"));
    assert_eq!(
        &children[children.len() - 2..],
        ["system-out", "system-err"]
    );
    let testcases: Vec<_> = suite
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(
        suite.attribute("tests"),
        Some(testcases.len().to_string().as_str())
    );
    for (name, passed) in cases {
        let tc = testcases
            .iter()
            .find(|t| t.attribute("name") == Some(name))
            .unwrap_or_else(|| panic!("no testcase {name}"));
        assert!(tc.attribute("classname").is_some() && tc.attribute("time").is_some());
        let failure = tc.children().find(|n| n.has_tag_name("failure"));
        assert_eq!(failure.is_none(), *passed, "testcase {name}");
        if let Some(f) = failure {
            assert!(f.attribute("message").is_some() && f.attribute("type").is_some());
        }
    }
}

#[test]
#[ignore = "needs root and qemu: run by .ci/run"]
fn a_kernel_artifact_that_is_not_a_kernel_fails_after_it_was_delivered() {
    let dir = tempfile::tempdir().unwrap();
    // `netboot build` refuses a fleet whose kernel is not one (fleet::not-a-kernel), so the
    // wrong file goes into a hand-written manifest, as a build edited after the fact would:
    // the kernel's route serves the initrd (a gzip'd cpio), with its size and sha256.
    let fleet = hand_written(dir.path(), |manifest, _| {
        let initrd = manifest["files"]["artifacts/initrd"].clone();
        assert!(initrd.is_object(), "the lab fleet serves artifacts/initrd");
        manifest["files"]["artifacts/kernel"] = initrd;
    });
    let report = dir.path().join("report");
    let out = netboot_test(
        &fleet,
        &[
            "--machine",
            "known",
            "--firmware",
            "bios",
            "--format",
            "json",
            "--report",
            report.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let result = json(&report.join("result.json"));
    let case = &result["cases"][0];
    assert_eq!(case["passed"], false);
    // iPXE fetches the "kernel" whole, refuses it at once ("Exec format error") and never
    // asks for the initrd: that is the step named, with iPXE's own line as the reason.
    let steps = case["steps"].as_array().unwrap();
    assert_eq!(
        case["steps_done"],
        steps.len() - 1,
        "every step but the initrd"
    );
    let step = case["failure"]["step"].as_str().unwrap();
    let why = case["failure"]["why"].as_str().unwrap();
    assert!(step.starts_with("the initrd artifacts/initrd"), "{step}");
    assert!(
        why.contains("Could not boot image: Exec format error"),
        "{why}"
    );
    assert_png(&report.join("known-bios.png"));
}

/// The lab fleet built into `dir/out`, its manifest then edited by `edit` (given the manifest
/// and the build's directory), as a build changed by hand after the fact; the manifest's path.
fn hand_written(dir: &Path, edit: impl FnOnce(&mut serde_json::Value, &Path)) -> PathBuf {
    let fleet = fleet(dir, |t| t);
    let out_dir = dir.join("out");
    let built = std::process::Command::new(netboot_test_support::netboot_bin())
        .arg("build")
        .arg(&fleet)
        .arg("-o")
        .arg(&out_dir)
        .args(["--address", "10.77.0.1"])
        .output()
        .expect("run netboot build");
    assert!(built.status.success(), "{built:?}");
    let manifest_path = out_dir.join("manifest.json");
    let mut manifest = json(&manifest_path);
    edit(&mut manifest, &out_dir);
    std::fs::write(
        &manifest_path,
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();
    manifest_path
}

/// The compiler always writes `initrd=<name>` on a kernel line; a script edited by hand
/// without it boots under BIOS (iPXE hands the initrd over through the boot protocol) but
/// not under UEFI, where Debian's iPXE hands it to the kernel only through that argument:
/// the server delivers every byte, and only the console shows the kernel finding no root.
/// It also checks the evidence a run leaves: JUnit, result.json, PNGs, serial logs.
#[test]
#[ignore = "needs root and qemu: run by .ci/run"]
fn a_uefi_kernel_line_without_initrd_fails_at_the_kernel_using_its_initrd() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report");
    let script = "hosts/52-54-00-e2-e0-01.ipxe";
    let fleet = hand_written(dir.path(), |manifest, out| {
        let path = out.join(script);
        let text = std::fs::read_to_string(&path).unwrap();
        let edited = text.replace(" initrd=initrd", "");
        assert_ne!(edited, text, "the kernel line named its initrd");
        std::fs::write(&path, &edited).unwrap();
        let entry = &mut manifest["files"][script];
        entry["size"] = edited.len().into();
        entry["sha256"] = netboot_manifest::sha256_hex(edited.as_bytes()).into();
    });
    let out = netboot_test(
        &fleet,
        &[
            "--machine",
            "known",
            "--firmware",
            "bios,uefi",
            "--expect-console",
            "NETBOOT-E2E-OK",
            "--format",
            "junit",
            "--report",
            report.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    // The evidence: JUnit on stdout and in the report, a real PNG of each screen, each
    // serial log.
    let junit = String::from_utf8(out.stdout).unwrap();
    assert_junit(&junit, &[("known-bios", true), ("known-uefi", false)]);
    assert_eq!(
        std::fs::read_to_string(report.join("junit.xml")).unwrap(),
        junit
    );
    for name in ["known-bios", "known-uefi"] {
        assert_png(&report.join(format!("{name}.png")));
    }
    let serial =
        |name: &str| std::fs::read_to_string(report.join(format!("{name}-serial.log"))).unwrap();
    // The same script under BIOS: its busybox init ran.
    assert!(serial("known-bios").contains("NETBOOT-E2E-OK"));
    assert!(serial("known-uefi").contains("Unable to mount root fs"));
    let result = json(&report.join("result.json"));
    assert_eq!(case(&result, "known-bios")["passed"], true);
    let case = case(&result, "known-uefi");
    assert_eq!(case["passed"], false);
    assert_eq!(case["mac"], KNOWN_MAC);
    let steps: Vec<&str> = case["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        ["dhcp", "file", "dhcp", "file", "file", "file"],
        "loader, iPXE, script, kernel, initrd"
    );
    assert_eq!(
        case["steps_done"],
        case["steps"].as_array().unwrap().len(),
        "the server delivered every file"
    );
    assert_eq!(
        case["failure"]["step"],
        "the kernel using its initrd artifacts/initrd"
    );
    let why = case["failure"]["why"].as_str().unwrap();
    assert!(why.contains("Unable to mount root fs"), "{why}");
    let notes = case["notes"].to_string();
    assert!(notes.contains("no `initrd=`"), "{notes}");
}

#[test]
#[ignore = "needs root and qemu: run by .ci/run"]
fn a_menu_default_that_chains_a_dead_url_names_that_url() {
    let dir = tempfile::tempdir().unwrap();
    // 192.0.2.0/24 is TEST-NET-1: nothing answers it, least of all in the private network.
    let fleet = fleet(dir.path(), |t| {
        t.replace(
            "default menu=\"main\"",
            "profile \"dead\" { chain \"http://192.0.2.1/gone.ipxe\"; }\ndefault profile=\"dead\"",
        )
    });
    let out = netboot_test(
        &fleet,
        &[
            "--machine",
            "default",
            "--firmware",
            "bios",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let failure = &result["cases"][0]["failure"];
    let step = failure["step"].as_str().unwrap();
    assert!(
        step.starts_with("the chain http://192.0.2.1/gone.ipxe"),
        "{step}"
    );
}

/// The user `.ci/run` creates for the unprivileged runs, as (uid, gid), when it exists.
fn ci_user() -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() > 3 && f[0] == "netboot-ci")
            .then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))?
    })
}

/// `netboot test` on an example as shipped (Debian's files, which .ci/run installs), as
/// `as_user` (`None`: this process's user, root), under BIOS and UEFI; the JSON result.
fn test_example(example: &str, as_user: Option<(u32, u32)>, args: &[&str]) -> serde_json::Value {
    let fleet = netboot_test_support::workspace().join(format!("examples/{example}/fleet.kdl"));
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report");
    let mut command = match as_user {
        Some((uid, gid)) => {
            // The user writes the report into a directory of root's temporary one.
            std::fs::create_dir(&report).unwrap();
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
            std::fs::set_permissions(&report, std::fs::Permissions::from_mode(0o777)).unwrap();
            let mut c = std::process::Command::new("setpriv");
            c.args([
                format!("--reuid={uid}"),
                format!("--regid={gid}"),
                "--clear-groups".into(),
            ])
            .arg(netboot_test_support::netboot_bin());
            c
        }
        None => std::process::Command::new(netboot_test_support::netboot_bin()),
    };
    let out = command
        .arg("test")
        .arg(&fleet)
        .args(["--firmware", "bios,uefi", "--format", "human", "--report"])
        .arg(&report)
        .args(args)
        .output()
        .expect("run netboot test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!(
        "{example}:\n{stdout}\nstderr (last part):\n{}",
        tail(&String::from_utf8_lossy(&out.stderr), 40)
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{example}: every runnable machine boots"
    );
    let result = json(&report.join("result.json"));
    assert_eq!(result["failed"], 0, "{example}");
    let cases = result["cases"].as_array().unwrap();
    assert_eq!(
        result["passed"].as_u64().unwrap() + result["skipped"].as_u64().unwrap(),
        cases.len() as u64
    );
    for firmware in ["bios", "uefi"] {
        assert!(
            cases
                .iter()
                .any(|c| c["firmware"] == firmware && c["passed"] == true),
            "{example}: a machine booted under {firmware}"
        );
    }
    assert_junit(
        &std::fs::read_to_string(report.join("junit.xml")).unwrap(),
        &[],
    );
    result
}

fn case<'a>(result: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    result["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no case {name}"))
}

/// Every example boots as `as_user` (`None`: root), under BIOS and UEFI. The installer
/// example boots one installing machine (web1: Debian's installer takes about two minutes per
/// firmware under TCG) besides the spare and the unknown machine; its other three installing
/// hosts differ only in their rendered preseed.
fn every_example_boots(as_user: Option<(u32, u32)>) {
    let homelab = test_example("homelab", as_user, &[]);
    // Every machine's menu default is "local-disk": iPXE exits after the menu's timeout.
    assert_eq!(case(&homelab, "desk-bios")["end"], "exits");

    let installer = test_example(
        "installer",
        as_user,
        &[
            "--machine",
            "web1",
            "--machine",
            "spare",
            "--machine",
            "default",
        ],
    );
    // Debian's installer boots and fetches its own preseed from the fleet.
    for name in ["web1-bios", "web1-uefi"] {
        let steps = case(&installer, name)["steps"].as_array().unwrap();
        let last = steps.last().unwrap();
        assert_eq!(last["role"], "answer file", "{name}");
        assert_eq!(last["route"], "m/web1/preseed.cfg", "{name}");
    }

    let multi = test_example("multi-arch", as_user, &[]);
    // The arm64 boards are skipped, with the reason, and nothing else is.
    let mut skipped: Vec<&str> = multi["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| !c["skipped"].is_null())
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    skipped.sort_unstable();
    assert_eq!(
        skipped,
        [
            "ampere-bios",
            "ampere-uefi",
            "rpi4-a-bios",
            "rpi4-a-uefi",
            "rpi4-b-bios",
            "rpi4-b-uefi"
        ]
    );
    let why = case(&multi, "ampere-uefi")["skipped"].as_str().unwrap();
    assert!(why.contains("arm64 kernel"), "{why}");
    assert_eq!(multi["passed"], 6);
}

/// The unprivileged path: a user namespace, /dev/net/tun opened by an ordinary user.
#[test]
#[ignore = "needs root, qemu and Debian's installer packages: run by .ci/run"]
fn every_example_boots_as_a_non_root_user() {
    let Some(user) = ci_user() else {
        eprintln!("skipped: no user netboot-ci (.ci/run creates it; useradd --system netboot-ci)");
        return;
    };
    every_example_boots(Some(user));
}

/// Root's path: no user namespace, the network namespace made directly.
#[test]
#[ignore = "needs root, qemu and Debian's installer packages: run by .ci/run"]
fn every_example_boots_as_root() {
    every_example_boots(None);
}

/// An ISO with no EFI boot image offered to UEFI machines never gets as far as a VM: the
/// compiler refuses the fleet (fleet::unbootable-iso), and `netboot test` reports that
/// diagnostic and exits 2, "the test could not run", before any VM starts. The build-time
/// check is what catches this case; no boot is needed to see it.
#[test]
#[ignore = "needs root, qemu and grub-rescue-pc: run by .ci/run"]
fn an_iso_without_an_efi_image_for_uefi_machines_is_refused_at_build_time() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = dir.path().join("fleet.kdl");
    std::fs::write(
        &fleet,
        r#"loaders {
    bios "/usr/lib/ipxe/undionly.kpxe"
    efi-x64 "/usr/lib/ipxe/ipxe.efi"
}
artifact "rescue-iso" path="/usr/lib/grub-rescue/grub-rescue-cdrom.iso"
profile "rescue" { sanboot "rescue-iso"; }
default profile="rescue"
"#,
    )
    .unwrap();
    let out = netboot_test(&fleet, &["--firmware", "uefi"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("fleet::unbootable-iso"), "{stderr}");
    assert!(out.stdout.is_empty(), "no VM was reported");
}

/// Secure Boot firmware (OVMF enforcing, Microsoft's keys) on tests/fixtures/vm/secure-boot.kdl:
/// the Secure Boot host and the unknown machine boot Debian's signed shim, GRUB and kernel,
/// and the kernel itself reports enforcement; the host the fleet boots through iPXE is
/// skipped with the reason rather than refused.
#[test]
#[ignore = "needs root, qemu, OVMF's Secure Boot build, shim-signed and grub-efi-amd64-signed: run by .ci/run"]
fn secure_boot_machines_boot_through_shim_and_grub_and_a_plain_one_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let assets = Assets::get();
    let text = std::fs::read_to_string(
        netboot_test_support::workspace().join("tests/fixtures/vm/secure-boot.kdl"),
    )
    .unwrap()
    .replace("@KERNEL@", &assets.kernel.display().to_string())
    .replace("@INITRD@", &assets.initrd.display().to_string());
    let fleet = dir.path().join("fleet.kdl");
    std::fs::write(&fleet, text).unwrap();
    let report = dir.path().join("report");
    let out = netboot_test(
        &fleet,
        &[
            "--firmware",
            "uefi-secure-boot",
            "--expect-console",
            "Secure boot enabled",
            "--format",
            "junit",
            "--report",
            report.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let junit = String::from_utf8(out.stdout).unwrap();
    assert_junit(
        &junit,
        &[
            ("secure-uefi-secure-boot", true),
            ("default-uefi-secure-boot", true),
        ],
    );
    let result = json(&report.join("result.json"));
    assert_eq!(result["passed"], 2);
    let plain = case(&result, "plain-uefi-secure-boot");
    let why = plain["skipped"].as_str().unwrap_or_default();
    assert!(why.contains("iPXE"), "{why}");
    let steps: Vec<String> = case(&result, "secure-uefi-secure-boot")["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["route"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        steps,
        [
            "sb/shimx64.efi",
            "sb/grubx64.efi",
            "grub/grub.cfg",
            "grub/hosts/52:54:00:5b:00:01.cfg",
            "artifacts/kernel",
            "artifacts/initrd"
        ]
    );
    let serial =
        std::fs::read_to_string(report.join("secure-uefi-secure-boot-serial.log")).unwrap();
    assert!(serial.contains("netboot-profile=signed"), "{serial}");
}

/// OVMF's HTTP Boot client alone (no PXE, no TFTP): the loader comes over HTTP.
#[test]
#[ignore = "needs root and qemu: run by .ci/run"]
fn a_known_machine_boots_through_uefi_http_boot() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = fleet(dir.path(), |t| t);
    let out = netboot_test(
        &fleet,
        &[
            "--machine",
            "known",
            "--firmware",
            "uefi-http",
            "--expect-console",
            "NETBOOT-E2E-OK",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let case = &result["cases"][0];
    assert_eq!(case["name"], "known-uefi-http");
    assert_eq!(case["steps"][0]["kind"], "http-x64");
    let lines: Vec<&str> = case["server_lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(
        lines.iter().any(|l| l.contains("HTTP ipxe.efi delivered")),
        "{lines:?}"
    );
    assert!(!lines.iter().any(|l| l.contains("TFTP")), "{lines:?}");
}
