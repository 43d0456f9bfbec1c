//! The iPXE interpreter behind `explain` and `diff` understands every command the compiler's
//! templates write: every example and every boot method (tests/methods/fleet.kdl) is
//! rendered, and each command in each script is known, and following each script on BIOS
//! and on UEFI meets no unknown command. A method whose template writes a command the
//! interpreter cannot follow fails here, not in an operator's `explain`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use netboot_compiler::ipxe_follow::{self, Context, Step};
use netboot_compiler::{compile_text, ServerOverrides};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every fleet the project ships or tests every method with, compiled, as route → script.
fn rendered() -> Vec<(PathBuf, BTreeMap<String, String>)> {
    // The examples name files from Debian packages; copies with stand-ins for them keep the
    // test off the packages.
    let copies = tempfile::tempdir().unwrap();
    let mut fleets: Vec<PathBuf> = netboot_test_support::examples::names()
        .iter()
        .map(|name| netboot_test_support::examples::copy(name, &copies.path().join(name)))
        .collect();
    fleets.push(root().join("compiler/tests/methods/fleet.kdl"));
    assert!(fleets.len() >= 4, "{fleets:?}");
    fleets
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let dir = path.parent().unwrap_or(Path::new("."));
            let c = compile_text(&path, text, dir, &ServerOverrides::default())
                .unwrap_or_else(|f| panic!("{}: {f}", path.display()));
            let scripts = c
                .generated
                .into_iter()
                .filter(|(route, _)| route.ends_with(".ipxe"))
                .map(|(route, bytes)| (route, String::from_utf8(bytes).unwrap()))
                .collect();
            (path, scripts)
        })
        .collect()
}

fn unknown_steps(steps: &[Step], out: &mut Vec<String>) {
    for s in steps {
        match s {
            Step::Unknown { route, command } => out.push(format!("`{command}` in {route}")),
            Step::Menu { items, .. } => {
                for i in items {
                    unknown_steps(&i.steps, out);
                }
            }
            _ => {}
        }
    }
}

#[test]
fn every_command_the_templates_write_is_understood() {
    let mut problems = Vec::new();
    let mut commands = std::collections::BTreeSet::new();
    for (fleet, scripts) in rendered() {
        for (route, text) in &scripts {
            for line in text.lines().map(str::trim) {
                if line.is_empty() || line.starts_with('#') || line.starts_with(':') {
                    continue;
                }
                let command = line.split_whitespace().next().unwrap_or("");
                commands.insert(command.to_string());
                if !ipxe_follow::understands(command) {
                    problems.push(format!("{}: {route}: `{command}`", fleet.display()));
                }
            }
        }
        let lookup = |r: &str| -> Option<Option<String>> { Some(scripts.get(r).cloned()) };
        for route in scripts.keys() {
            for platform in ["pcbios", "efi"] {
                let ctx = Context {
                    platform,
                    mac_hexhyp: "52-54-00-00-00-01".into(),
                    script: &lookup,
                };
                let mut unknown = Vec::new();
                unknown_steps(&ipxe_follow::follow(route, &ctx), &mut unknown);
                for u in unknown {
                    problems.push(format!("{}: {platform}: {u}", fleet.display()));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The fleets above reach every kind of command the templates write.
    for c in [
        "chain", "kernel", "initrd", "sanboot", "boot", "exit", "menu", "choose",
    ] {
        assert!(commands.contains(c), "no script writes `{c}`: {commands:?}");
    }
}
