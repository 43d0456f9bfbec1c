//! The commands called in-process, as the binary calls them: no subprocess, text captured from
//! the console they are handed.

use netboot_ops::check::{check, CheckOptions};
use netboot_ops::console::Console;
use netboot_ops::init::{init, InitError, InitOptions};
use netboot_ops::report_format::Format;

#[test]
fn init_writes_a_fleet_that_check_reads_and_refuses_to_overwrite_it() {
    let dir = tempfile::tempdir().unwrap();
    // An empty root: no loaders found, so the fleet names the package's paths.
    let root = tempfile::tempdir().unwrap();
    let options = InitOptions {
        dir: dir.path().join("lab"),
        force: false,
        loader_root: root.path().to_path_buf(),
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    init(&options, &mut Console::new(&mut out, &mut err)).unwrap();
    let out = String::from_utf8(out).unwrap();
    let fleet = dir.path().join("lab/fleet.kdl");
    assert!(
        out.starts_with(&format!("wrote {}\n", fleet.display())),
        "{out}"
    );
    assert!(out.contains("no iPXE loaders found"), "{out}");
    assert!(err.is_empty(), "only missing loaders: nothing on stderr");

    let report = check(&CheckOptions {
        fleet: fleet.clone(),
        deny_warnings: false,
        overrides: Default::default(),
    });
    assert!(report.failed && !report.unreadable);
    assert!(report
        .diagnostics
        .iter()
        .all(|d| d.code == "fleet::missing-file"));
    let (json, to_stdout) = report.render(Format::Json);
    assert!(to_stdout);
    assert!(json.contains("\"ok\": false"), "{json}");

    let again = init(
        &options,
        &mut Console::new(&mut Vec::new(), &mut Vec::new()),
    );
    assert!(matches!(again, Err(InitError::Exists(path)) if path == fleet));
}
