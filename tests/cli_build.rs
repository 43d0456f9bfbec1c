//! `netboot build` end to end: every example's output against its golden copy in
//! tests/golden/<example>/, byte-identical rebuilds, output the runtime loads, and exit codes.
//!
//! Regenerate the golden files after an intended change with
//! `SNAPSHOTS=overwrite cargo test --test cli_build`, then review the diff.
//!
//! The examples name files from Debian packages (/usr/lib/ipxe/…, the installer, memtest86+,
//! GRUB's rescue ISO). Most tests copy each example with stand-ins for them inside the copy,
//! so they run without the packages; one builds the examples as shipped against the real
//! files (ignored unless asked for: .ci/run installs the packages and runs it). The goldens
//! leave out what changes with Debian's point releases (the package files' sizes and hashes)
//! and pin the rest, the generated scripts and menus byte for byte.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use netboot_manifest::Protocol;
use netboot_runtime::Snapshot;
use netboot_test_support::dir_tree::read_tree;
use netboot_test_support::{examples, golden};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn netboot(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netboot"))
        .args(args)
        .output()
        .expect("run netboot")
}

/// `netboot build` with the default flags, as the examples' README says to run it.
fn build(fleet: &Path, out: &Path) {
    let o = netboot(&[
        "build",
        fleet.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(
        o.status.success(),
        "build of {} failed:\n{}",
        fleet.display(),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn there_are_at_least_three_examples() {
    let names = examples::names();
    assert!(names.len() >= 3, "examples: {names:?}");
}

/// Builds every example, copied by `copy`, and compares the build with its golden (package
/// files' sizes and hashes left out: see `examples::normalise_build`).
fn examples_match_their_golden_output_when(copy: fn(&str, &Path) -> PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let mut mismatches = Vec::new();
    for name in examples::names() {
        let fleet = copy(&name, &tmp.path().join(&name));
        let out = tmp.path().join(format!("{name}-out"));
        build(&fleet, &out);
        let got = examples::normalise_build(read_tree(&out));
        mismatches.extend(golden::compare_tree(&name, &got));
    }
    assert!(
        mismatches.is_empty(),
        "{}\n\nIf the change is intended: SNAPSHOTS=overwrite cargo test --test cli_build, and review the diff.",
        mismatches.join("\n")
    );
}

/// With stand-ins for Debian's files: runs anywhere.
#[test]
fn examples_match_their_golden_output() {
    examples_match_their_golden_output_when(examples::copy);
}

/// As an operator gets them, against the real files from Debian's packages.
#[test]
#[ignore = "needs Debian packages ipxe debian-installer-12-netboot-amd64 debian-installer-12-netboot-arm64 memtest86+ grub-rescue-pc: run by .ci/run"]
fn examples_build_as_shipped_against_debians_files() {
    assert!(
        examples::debian_packages_installed(),
        "apt-get install -y --no-install-recommends {}",
        examples::DEBIAN_PACKAGES
    );
    examples_match_their_golden_output_when(examples::copy_as_shipped);
    for name in examples::names() {
        let fleet = root().join("examples").join(&name).join("fleet.kdl");
        let o = netboot(&["check", fleet.to_str().unwrap()]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "check {name}:\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

#[test]
fn rebuilding_gives_identical_bytes_and_replaces_the_old_build() {
    let tmp = tempfile::tempdir().unwrap();
    let fleet = examples::copy("homelab", &tmp.path().join("homelab"));
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    build(&fleet, &a);
    build(&fleet, &b);
    assert_eq!(read_tree(&a), read_tree(&b));
    // The earlier build is replaced whole (a file it lists, changed, comes back as built).
    fs::write(a.join("boot.ipxe"), "old").unwrap();
    build(&fleet, &a);
    assert_eq!(read_tree(&a), read_tree(&b));
    // No temporary directories are left beside it.
    let leftovers: Vec<_> = fs::read_dir(tmp.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn the_runtime_loads_every_example_build() {
    let tmp = tempfile::tempdir().unwrap();
    for name in examples::names() {
        let fleet = examples::copy(&name, &tmp.path().join(&name));
        let out = tmp.path().join("out").join(&name);
        build(&fleet, &out);
        let snap = Snapshot::load(&out.join("manifest.json")).expect("load manifest");
        assert!(snap.broken().is_empty(), "{name}: {:?}", snap.broken());
        let m = snap.manifest();
        let entry = m
            .dhcp
            .get(&netboot_manifest::ClientKind::Ipxe)
            .expect("ipxe answer");
        assert_eq!(entry.path, "boot.ipxe");
        assert!(snap.open("boot.ipxe", Protocol::Http).is_some());
        assert!(snap.open("boot.ipxe", Protocol::Tftp).is_some());
        for (mac, host) in &m.hosts {
            assert!(
                snap.open(&host.script, Protocol::Http).is_some(),
                "{name}: {mac} script"
            );
        }
        for (kind, answer) in &m.dhcp {
            assert!(
                snap.open(&answer.path, answer.protocol).is_some(),
                "{name}: {kind} loader"
            );
        }
    }
}

#[test]
fn in_memory_compile_matches_the_written_build() {
    let tmp = tempfile::tempdir().unwrap();
    let fleet = examples::copy("installer", &tmp.path().join("installer"));
    let compiled = netboot_compiler::compile(&fleet, &Default::default()).expect("compiles");
    let snap = Snapshot::from_compiled(
        compiled.manifest.clone(),
        &compiled.generated,
        fleet.parent().unwrap(),
    );
    assert!(snap.broken().is_empty(), "{:?}", snap.broken());
    assert!(compiled.inputs.iter().all(|p| p.is_absolute()));
    assert!(compiled
        .inputs
        .contains(&std::path::absolute(&fleet).unwrap()));
    assert!(compiled
        .inputs
        .iter()
        .any(|p| p.ends_with("templates/preseed.cfg")));
    let out = tmp.path().join("out");
    netboot_compiler::write_output(&compiled, &fleet, &out).unwrap();
    let on_disk = read_tree(&out);
    for (file, bytes) in &compiled.generated {
        assert_eq!(on_disk.get(file), Some(bytes), "{file}");
    }
}

#[test]
fn address_override_reaches_the_templates() {
    let tmp = tempfile::tempdir().unwrap();
    let fleet = examples::copy("installer", &tmp.path().join("installer"));
    let out = tmp.path().join("out");
    let o = netboot(&[
        "build",
        fleet.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--address",
        "10.9.8.7",
        "--http-port",
        "8081",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let script = fs::read_to_string(out.join("hosts/52-54-00-20-00-01.install.ipxe")).unwrap();
    assert!(
        script.contains("url=http://10.9.8.7:8081/m/web1/preseed.cfg"),
        "{script}"
    );
}

#[test]
fn default_output_is_build_next_to_the_fleet() {
    let tmp = tempfile::tempdir().unwrap();
    let fleet = examples::copy("multi-arch", &tmp.path().join("multi-arch"));
    let o = netboot(&["build", fleet.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let manifest = fleet.parent().unwrap().join("build/manifest.json");
    let text = fs::read_to_string(manifest).unwrap();
    assert!(text.contains("\"artifact_root\": \"..\""), "{text}");
}

#[test]
fn build_refuses_to_replace_a_directory_that_is_not_a_build() {
    let tmp = tempfile::tempdir().unwrap();
    let fleet = examples::copy("homelab", &tmp.path().join("homelab"));
    let precious = tmp.path().join("precious");
    fs::create_dir_all(&precious).unwrap();
    fs::write(precious.join("notes.txt"), "keep me").unwrap();
    let o = netboot(&[
        "build",
        fleet.to_str().unwrap(),
        "-o",
        precious.to_str().unwrap(),
        "--no-download",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("refusing to replace"));
    assert_eq!(
        fs::read_to_string(precious.join("notes.txt")).unwrap(),
        "keep me"
    );
}

/// Runs `build FLEET -o OUT --no-download` and returns it, for tests that expect a refusal.
fn build_into(fleet: &Path, out: &Path) -> Output {
    netboot(&[
        "build",
        fleet.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--no-download",
    ])
}

/// A refused build exits 2, says why, and leaves every file it was given as it was.
fn assert_refused(o: &Output, why: &str, untouched: &BTreeMap<String, Vec<u8>>, dir: &Path) {
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("refusing to replace"), "{stderr}");
    assert!(stderr.contains(why), "wanted `{why}` in: {stderr}");
    assert_eq!(
        &read_tree(dir),
        untouched,
        "a refused build changed {}",
        dir.display()
    );
}

/// Once, any directory holding a file named manifest.json counted as an earlier build and was
/// deleted whole: a web project, or the fleet's own git repository.
#[test]
fn a_foreign_manifest_json_does_not_make_a_directory_a_build() {
    let tmp = tempfile::tempdir().unwrap();
    let fleet = examples::copy("homelab", &tmp.path().join("homelab"));
    let webapp = tmp.path().join("webapp");
    fs::create_dir_all(&webapp).unwrap();
    fs::write(webapp.join("manifest.json"), r#"{"name":"x"}"#).unwrap();
    fs::write(webapp.join("index.html"), "precious").unwrap();
    let before = read_tree(&webapp);
    let o = build_into(&fleet, &webapp);
    assert_refused(&o, "is not a netboot manifest", &before, &webapp);
}

#[test]
fn the_fleets_own_directory_and_its_ancestors_are_never_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let fleet = examples::copy("homelab", &tmp.path().join("homelab"));
    let fleet_dir = fleet.parent().unwrap().to_path_buf();
    // The repository holds a copy of a real build manifest, as in the report.
    let out = tmp.path().join("out");
    build(&fleet, &out);
    fs::copy(out.join("manifest.json"), fleet_dir.join("manifest.json")).unwrap();
    fs::create_dir_all(fleet_dir.join(".git")).unwrap();
    fs::write(fleet_dir.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
    let before = read_tree(tmp.path());
    for target in [
        fleet_dir.clone(),
        fleet_dir.join("."),
        tmp.path().to_path_buf(),
    ] {
        let o = build_into(&fleet, &target);
        assert_refused(&o, "it holds the fleet", &before, tmp.path());
    }
    // Relative `-o .` from inside the fleet's directory, as the operator typed it.
    let o = Command::new(env!("CARGO_BIN_EXE_netboot"))
        .current_dir(&fleet_dir)
        .args(["build", "fleet.kdl", "-o", ".", "--no-download"])
        .output()
        .unwrap();
    assert_refused(&o, "it holds the fleet", &before, tmp.path());
}

#[test]
fn an_earlier_build_with_a_file_it_does_not_list_is_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let fleet = examples::copy("homelab", &tmp.path().join("homelab"));
    let out = tmp.path().join("out");
    build(&fleet, &out);
    fs::write(out.join("hosts/notes.txt"), "an operator's note").unwrap();
    let before = read_tree(&out);
    let o = build_into(&fleet, &out);
    assert_refused(
        &o,
        "notes.txt is not a file of the earlier build",
        &before,
        &out,
    );
    // Without the stranger the earlier build is replaced as before.
    fs::remove_file(out.join("hosts/notes.txt")).unwrap();
    build(&fleet, &out);
}

#[test]
fn an_interrupted_builds_leftovers_are_removed_by_the_next_build() {
    let tmp = tempfile::tempdir().unwrap();
    let fleet = examples::copy("homelab", &tmp.path().join("homelab"));
    let out = tmp.path().join("out");
    // PIDs above the kernel's pid_max (4194304 at most) can never be running.
    let leftovers = [".out.tmp-4999999", ".out.old-4999998"];
    for d in leftovers {
        fs::create_dir_all(tmp.path().join(d).join("hosts")).unwrap();
        fs::write(tmp.path().join(d).join("hosts/x.ipxe"), "#!ipxe\n").unwrap();
    }
    build(&fleet, &out);
    for d in leftovers {
        assert!(!tmp.path().join(d).exists(), "{d} is still there");
    }
    assert!(out.join("manifest.json").is_file());
}

#[test]
fn build_exit_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = netboot(&["build", tmp.path().join("nope.kdl").to_str().unwrap()]);
    assert_eq!(missing.status.code(), Some(2));
    let bad = tmp.path().join("bad.kdl");
    fs::write(&bad, "hots \"x\" mac=\"52:54:00:00:00:01\"\n").unwrap();
    let out = tmp.path().join("out");
    let o = netboot(&["build", bad.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("fleet::unknown-node"));
    assert!(!out.exists(), "a failed build writes nothing");
    let usage = netboot(&["build"]);
    assert_eq!(usage.status.code(), Some(2));
    // Port 0 was accepted and written into every URL as `:0`; the fleet language refuses it.
    for (command, flag) in [
        ("build", "--http-port"),
        ("check", "--http-port"),
        ("doctor", "--http-port"),
        ("doctor", "--tftp-port"),
    ] {
        let port0 = match command {
            "doctor" => netboot(&[command, flag, "0"]),
            _ => netboot(&[command, bad.to_str().unwrap(), flag, "0"]),
        };
        let stderr = String::from_utf8_lossy(&port0.stderr);
        assert_eq!(port0.status.code(), Some(2), "{command}: {stderr}");
        assert!(
            stderr.contains(&format!("invalid value '0' for '{flag}")),
            "{command}: {stderr}"
        );
    }
}

/// The JSON Schema in schema/ names exactly the fields the manifest writes, at every level.
#[test]
fn manifest_schema_matches_the_manifest() {
    let schema: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(root().join("schema/manifest.schema.json")).unwrap(),
    )
    .unwrap();
    let golden: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(root().join("tests/golden/homelab/manifest.json")).unwrap(),
    )
    .unwrap();
    fn keys(v: &serde_json::Value) -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    }
    fn required(v: &serde_json::Value) -> Vec<String> {
        let mut k: Vec<String> = v["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect();
        k.sort();
        k
    }
    let defs = &schema["$defs"];
    assert_eq!(required(&schema), keys(&golden));
    assert_eq!(required(&defs["server"]), keys(&golden["server"]));
    let host = golden["hosts"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap();
    assert_eq!(required(&defs["host"]), keys(host));
    let file = &golden["files"]["boot.ipxe"];
    assert_eq!(required(&defs["fileEntry"]), keys(file));
    let answer = golden["dhcp"].as_object().unwrap().values().next().unwrap();
    assert_eq!(required(&defs["bootAnswer"]), keys(answer));
    let kinds: Vec<&str> = defs["clientKind"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let ours: Vec<&str> = netboot_manifest::ClientKind::ALL
        .iter()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(kinds, ours);
    assert_eq!(
        schema["properties"]["format"]["const"],
        netboot_manifest::FORMAT_VERSION
    );
}
