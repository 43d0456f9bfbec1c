//! `netboot check`: the negative suite (tests/broken/*.kdl, one check each) and the CLI's
//! exit codes and JSON output.
//!
//! Each broken fleet starts with `// expect: CODE at LINE:COLUMN`: checking it must report a
//! diagnostic with that code whose primary label starts there, and every error it reports
//! must have that code (one problem per fleet, so a check firing by accident shows up).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use netboot_compiler::codes::Scope;
use netboot_compiler::{compile, Code, Diagnostic, ServerOverrides, Severity, SourceFile};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn netboot(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netboot"))
        .args(args)
        .output()
        .expect("run netboot")
}

struct Expect {
    code: String,
    line: usize,
    column: usize,
}

fn expectation(path: &Path) -> Expect {
    let text = fs::read_to_string(path).unwrap();
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("// expect: "))
        .unwrap_or_else(|| panic!("{} has no `// expect:` line", path.display()));
    let mut words = line.split_whitespace();
    let code = words.next().unwrap().to_string();
    assert_eq!(words.next(), Some("at"), "{}", path.display());
    let (l, c) = words.next().unwrap().split_once(':').unwrap();
    Expect {
        code,
        line: l.parse().unwrap(),
        column: c.parse().unwrap(),
    }
}

fn broken_fleets() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(root().join("tests/broken"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "kdl"))
        .collect();
    v.sort();
    v
}

fn describe(d: &[Diagnostic]) -> String {
    d.iter()
        .map(|d| {
            let (l, c) = d.line_col().unwrap_or((0, 0));
            format!("  {} at {l}:{c}: {}", d.code, d.message)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_broken_fleet_reports_its_code_line_and_column() {
    let fleets = broken_fleets();
    assert!(fleets.len() >= 40, "only {} broken fleets", fleets.len());
    let mut failures = Vec::new();
    for path in &fleets {
        let want = expectation(path);
        let diagnostics = match compile(path, &ServerOverrides::default()) {
            Ok(c) => c.warnings,
            Err(f) => f.diagnostics().to_vec(),
        };
        let hit = diagnostics
            .iter()
            .any(|d| d.code == want.code && d.line_col() == Some((want.line, want.column)));
        let stray: Vec<&Diagnostic> = diagnostics
            .iter()
            .filter(|d| d.is_error() && d.code != want.code)
            .collect();
        if !hit || !stray.is_empty() {
            failures.push(format!(
                "{}: want {} at {}:{}, got\n{}",
                path.file_name().unwrap().to_string_lossy(),
                want.code,
                want.line,
                want.column,
                describe(&diagnostics)
            ));
        }
        for d in &diagnostics {
            assert!(
                d.help.is_some(),
                "{}: {} has no help",
                path.display(),
                d.code
            );
            assert!(
                !d.labels.is_empty(),
                "{}: {} has no label",
                path.display(),
                d.code
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The rows of the reference table under "## Diagnostics": code, severity (its first word:
/// "error (build)" is an error) and the "when" text.
fn reference_table() -> Vec<(String, String, String)> {
    let doc = fs::read_to_string(root().join("schema/fleet-language.md")).unwrap();
    let section = doc
        .split("\n## Diagnostics\n")
        .nth(1)
        .expect("a Diagnostics section");
    let section = section.split("\n## ").next().unwrap();
    section
        .lines()
        .filter_map(|l| l.strip_prefix("| `fleet::"))
        .map(|row| {
            let cells: Vec<&str> = row.trim_end_matches(" |").split(" | ").collect();
            assert_eq!(cells.len(), 3, "a table row of three cells: {row}");
            let severity = cells[1].split_whitespace().next().unwrap_or("");
            (
                format!("fleet::{}", cells[0].trim_end_matches('`')),
                severity.to_string(),
                cells[2].to_string(),
            )
        })
        .collect()
}

/// The code registry, the reference table and the broken fleets name the same codes: a code
/// added to one without the others fails here.
#[test]
fn the_code_registry_matches_the_reference_table_and_the_broken_fleets() {
    let severity = |s: Severity| match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let registry: Vec<(String, String, String)> = Code::ALL
        .iter()
        .map(|c| {
            let i = c.info();
            (i.name.into(), severity(i.severity).into(), i.when.into())
        })
        .collect();
    let table = reference_table();
    let only_in = |a: &[(String, String, String)], b: &[(String, String, String)]| {
        a.iter()
            .filter(|row| !b.contains(row))
            .map(|(c, s, w)| format!("  {c} | {s} | {w}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(
        registry == table,
        "compiler/src/codes.rs and the table in schema/fleet-language.md differ\n\
         only in the registry:\n{}\nonly in the table:\n{}",
        only_in(&registry, &table),
        only_in(&table, &registry)
    );

    let expected: BTreeMap<String, PathBuf> = broken_fleets()
        .into_iter()
        .map(|p| (expectation(&p).code, p))
        .collect();
    let mut problems = Vec::new();
    for code in Code::ALL {
        let shown = expected.contains_key(code.name());
        match code.info().scope {
            Scope::Fleet if !shown => problems.push(format!(
                "{code}: no broken fleet in tests/broken/ expects it"
            )),
            Scope::NotFromAFleet(why) if shown => problems.push(format!(
                "{code}: a broken fleet expects it, but the registry says no fleet can ({why})"
            )),
            _ => {}
        }
    }
    for (code, path) in &expected {
        if !Code::ALL.iter().any(|c| c.name() == code) {
            problems.push(format!(
                "{}: expects {code}, which is not a code",
                path.display()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn all_errors_are_reported_in_one_run() {
    let tmp = tempfile::tempdir().unwrap();
    let fleet = tmp.path().join("fleet.kdl");
    fs::write(
        &fleet,
        r#"profile "p" { exit }
host "a" mac="52:54:00:00:00:0x" profile="p"
host "b" mac="52:54:00:00:00:02" profile="q"
hots "c"
"#,
    )
    .unwrap();
    let f = compile(&fleet, &ServerOverrides::default()).unwrap_err();
    let codes: Vec<&str> = f.diagnostics().iter().map(|d| d.code).collect();
    assert_eq!(
        codes,
        [
            "fleet::bad-mac",
            "fleet::unknown-profile",
            "fleet::unknown-node"
        ]
    );
    // The Display form is the graphical report, without colour codes.
    let text = f.to_string();
    assert!(text.contains("fleet::unknown-node"), "{text}");
    assert!(text.contains("did you mean `host`?"), "{text}");
    assert!(text.contains("fleet.kdl:4:1"), "{text}");
    assert!(!text.contains('\u{1b}'), "colour codes in {text}");
    assert!(text.ends_with("3 errors found"), "{text}");
}

#[test]
fn duplicates_label_both_places() {
    let path = root().join("tests/broken/duplicate-mac.kdl");
    let f = compile(&path, &ServerOverrides::default()).unwrap_err();
    let d = &f.diagnostics()[0];
    assert_eq!(d.labels.len(), 2);
    let src = d.source.as_ref().unwrap();
    let lines: Vec<usize> = d
        .labels
        .iter()
        .map(|l| src.line_col(l.span.offset).0)
        .collect();
    assert_eq!(lines, [5, 4]);
}

#[test]
fn check_exit_codes() {
    let ok = netboot(&[
        "check",
        root()
            .join("examples/installer/fleet.kdl")
            .to_str()
            .unwrap(),
    ]);
    // The examples name files from Debian packages; without them installed they are missing
    // (tests/cli_build.rs checks every example, as shipped, where they are).
    if netboot_test_support::examples::debian_packages_installed() {
        assert_eq!(
            ok.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&ok.stderr)
        );
    }
    let bad = netboot(&[
        "check",
        root().join("tests/broken/bad-mac.kdl").to_str().unwrap(),
    ]);
    assert_eq!(bad.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("fleet::bad-mac") && stderr.contains("help:"),
        "{stderr}"
    );
    let missing = netboot(&["check", "/nonexistent/fleet.kdl"]);
    assert_eq!(missing.status.code(), Some(2));
    let usage = netboot(&["check", "--format", "yaml", "x.kdl"]);
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn warnings_pass_unless_denied() {
    let path = root().join("tests/broken/unused-profile.kdl");
    let p = path.to_str().unwrap();
    assert_eq!(netboot(&["check", p]).status.code(), Some(0));
    assert_eq!(
        netboot(&["check", p, "--deny-warnings"]).status.code(),
        Some(1)
    );
}

#[test]
fn json_output_has_position_code_message_and_help() {
    let path = root().join("tests/broken/unknown-profile.kdl");
    let o = netboot(&["check", "--format", "json", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON on stdout");
    assert_eq!(v["ok"], false);
    assert_eq!(v["errors"], 1);
    let d = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["severity"] == "error")
        .expect("an error");
    assert_eq!(d["code"], "fleet::unknown-profile");
    assert_eq!(d["severity"], "error");
    assert_eq!(d["line"], 4);
    assert_eq!(d["column"], 42);
    assert_eq!(d["file"], path.to_str().unwrap());
    assert_eq!(d["help"], "did you mean `debian`?");
    assert!(d["message"].as_str().unwrap().contains("debain"));

    let clean = root().join("tests/broken/unused-menu.kdl");
    let o = netboot(&["check", "--format", "json", clean.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["warnings"], 1);
    assert_eq!(v["diagnostics"][0]["severity"], "warning");
}

/// Thousands of nested blocks once overflowed the parser's stack (exit 134, and in `serve`
/// the whole server). Every command that compiles a fleet must answer with the located
/// `fleet::too-deep` instead.
#[test]
fn deep_nesting_is_a_diagnostic_in_every_command_that_parses() {
    let tmp = tempfile::tempdir().unwrap();
    let fleet = tmp.path().join("fleet.kdl");
    let n = 5000;
    fs::write(&fleet, format!("{}{}\n", "a {".repeat(n), "}".repeat(n))).unwrap();
    let fleet = fleet.to_str().unwrap();
    let out = tmp.path().join("out");
    let runs: [(&[&str], i32); 5] = [
        (&["check", fleet], 1),
        (&["check", "--format", "json", fleet], 1),
        (&["build", fleet, "-o", out.to_str().unwrap()], 1),
        (&["diff", fleet, fleet], 2),
        (&["explain", fleet, "52:54:00:00:00:01"], 1),
    ];
    for (args, code) in runs {
        let run = netboot(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        );
        assert_eq!(run.status.code(), Some(code), "{args:?}: {text}");
        assert!(text.contains("fleet::too-deep"), "{args:?}: {text}");
    }
    assert!(!out.exists(), "a refused build wrote {}", out.display());
}

/// The human report's `[file:LINE:COLUMN]` and the JSON position are one number: they once
/// disagreed on lines with non-ASCII text (bytes against characters) or after a byte-order mark.
#[test]
fn human_and_json_positions_agree_on_every_line() {
    let tmp = tempfile::tempdir().unwrap();
    let bad_mac = r#"host "é-日本" mac="52:54:00:00:00:0G""#;
    let texts = [
        ("ascii.kdl", format!("{}\n", bad_mac.replace("é-日本", "x"))),
        ("accents.kdl", format!("// café ☕\n{bad_mac}\n")),
        ("bom.kdl", format!("\u{feff}{bad_mac}\n")),
        ("crlf.kdl", format!("// één\r\n\r\n{bad_mac}\r\n")),
    ];
    let mut fleets: Vec<PathBuf> = texts
        .iter()
        .map(|(name, text)| {
            let path = tmp.path().join(name);
            fs::write(&path, text).unwrap();
            path
        })
        .collect();
    fleets.extend(broken_fleets());
    for path in &fleets {
        let diagnostics = match compile(path, &ServerOverrides::default()) {
            Ok(c) => c.warnings,
            Err(f) => f.diagnostics().to_vec(),
        };
        for d in diagnostics.iter().filter(|d| d.source.is_some()) {
            let (line, column) = d.line_col().unwrap();
            let header = format!(
                "[{}:{line}:{column}]",
                d.source.as_ref().unwrap().path.display()
            );
            let human = d.render();
            assert!(
                human.contains(&header),
                "{}: want {header} in\n{human}",
                path.display()
            );
        }
    }
    // The MAC stands at the same character column on every line above, BOM or not.
    for name in ["accents.kdl", "bom.kdl", "crlf.kdl"] {
        let f = compile(&tmp.path().join(name), &ServerOverrides::default()).unwrap_err();
        let mac = f
            .diagnostics()
            .iter()
            .find(|d| d.code == "fleet::bad-mac")
            .unwrap();
        let line = if name == "bom.kdl" {
            1
        } else {
            2 + usize::from(name == "crlf.kdl")
        };
        assert_eq!(mac.line_col(), Some((line, 17)), "{name}");
    }
}

/// An artifact the server's user cannot read was reported as "artifact not found"; it is
/// `fleet::unreadable-file` with the operating system's reason. As root (CI) the check runs as
/// `nobody` through setpriv, since root reads any file.
#[test]
fn an_unreadable_artifact_is_not_called_missing() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let fleet = tmp.path().join("fleet.kdl");
    fs::write(
        &fleet,
        "artifact \"k\" path=\"kernel\"\nprofile \"p\" { kernel \"k\"; }\ndefault profile=\"p\"\n",
    )
    .unwrap();
    fs::set_permissions(&fleet, fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(tmp.path().join("kernel"), "k").unwrap();
    fs::set_permissions(tmp.path().join("kernel"), fs::Permissions::from_mode(0o000)).unwrap();
    let mut cmd = netboot_test_support::unprivileged::netboot();
    let out = cmd
        .args(["check", "--format", "json", fleet.to_str().unwrap()])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let d = &report["diagnostics"][0];
    assert_eq!(d["code"], "fleet::unreadable-file", "{report}");
    assert!(
        d["message"].as_str().unwrap().contains("Permission denied"),
        "{report}"
    );
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(1), Some(19))
    );
}

/// A FIFO named as the fleet blocked `check` until something wrote to it (and `serve`'s reload
/// thread forever); it is refused as not a regular file, at once.
#[test]
fn a_fifo_as_the_fleet_is_refused_not_waited_on() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("fleet.kdl");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let mut child = Command::new(env!("CARGO_BIN_EXE_netboot"))
        .args(["check", fifo.to_str().unwrap()])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("check is still waiting on the FIFO");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("not a regular file"), "{stderr}");
}

/// Each broken fleet's whole report as `check` prints it (message, labels, help), pinned in
/// `tests/golden/broken/<name>.txt`: a wording change shows up in review, not only a code or a
/// position. The checkout's own path is written `[ROOT]`, so the goldens hold in any clone.
#[test]
fn every_broken_fleet_pins_its_rendered_report() {
    let root_text = root().display().to_string();
    for path in broken_fleets() {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let relative = Path::new("tests/broken").join(path.file_name().unwrap());
        let diagnostics = match compile(&relative, &ServerOverrides::default()) {
            Ok(c) => c.warnings,
            Err(f) => f.diagnostics().to_vec(),
        };
        // Replaced before rendering: the report wraps at 100 columns, so the checkout's path
        // length must not decide where lines break.
        let report: String = diagnostics
            .into_iter()
            .map(|mut d| {
                d.message = d.message.replace(&root_text, "[ROOT]");
                d.help = d.help.map(|h| h.replace(&root_text, "[ROOT]"));
                d.source = d.source.map(|src| {
                    let shown = src.path.display().to_string().replace(&root_text, "[ROOT]");
                    SourceFile::new(Path::new(&shown), src.text.clone())
                });
                d.render()
            })
            .collect();
        netboot_test_support::golden::check_text(&format!("broken/{name}.txt"), &report);
    }
}

/// A fuzzed fleet whose one broken line made the parser report 5,007 syntax errors: `check`
/// took half a minute and printed 50 MB, and `serve` would have logged it all on a reload. The
/// first ten are shown and the rest counted.
#[test]
fn thousands_of_syntax_errors_are_counted_not_listed() {
    let path = root().join("fuzz/corpus/compile/regress-thousands-of-syntax-errors.kdl");
    let f = compile(&path, &ServerOverrides::default()).unwrap_err();
    let d = f.diagnostics();
    assert_eq!(d.len(), 11, "{}", describe(d));
    assert!(d.iter().all(|d| d.code == "fleet::syntax"));
    assert_eq!(d[10].message, "4997 more syntax errors, not shown");
}
