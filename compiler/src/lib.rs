//! The fleet compiler: KDL fleet → checked fleet → iPXE scripts → frozen manifest.
//!
//! The public contract the CLI and the runtime rely on is [`compile`] (in memory; a fleet
//! that is not a file of its own goes through [`compile_text`]) and [`write_output`] (to a
//! directory). Every problem comes back as a [`Diagnostic`] with a stable [`Code`] from the
//! registry in [`codes`], a labelled span and a help line; all of them at once.
//!
//! Stages: `decode/` (KDL → typed `fleet`, one module per part of the language),
//! `validate/` (one rule per concern: names, references, files, templates, platforms),
//! `generate` (scripts via the askama templates in `render`, per-machine files via minijinja
//! in `template`, the manifest), `output` (atomic write). Boot methods are declared once in
//! `methods/` (nodes, decoding, rendering, the downloads [`ipxe_follow`] follows), and every
//! stage iterates that list.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub use netboot_manifest as manifest;
use netboot_manifest::Manifest;

mod artifact_cache;
mod boot;
mod bundle;
pub mod codes;
mod decode;
mod diagnostic;
mod earlier_build;
mod el_torito;
mod file_kind;
mod files;
mod fleet;
mod generate;
pub mod grub_follow;
mod grub_text;
pub mod ipxe_follow;
mod leftovers;
pub mod linux_image;
mod methods;
mod nesting;
mod output;
pub mod pe_image;
mod platform;
mod remote;
mod render;
mod spanned;
mod suggest;
mod template;
mod validate;

pub use artifact_cache::ArtifactCache;
pub use codes::Code;
pub use codes::Severity;
pub use diagnostic::{
    render_all, Diagnostic, DiagnosticRecord, Failure, Label, SourceFile, Span,
    MAX_SHOWN_DIAGNOSTICS, MAX_SHOWN_LINE,
};
pub use methods::kernel::CMDLINE_MAX;
pub use nesting::MAX_NESTING;
pub use output::{write_bundle, write_output};
pub use remote::{url_artifacts, UrlArtifact, UrlArtifacts};

/// Command-line overrides of the fleet's `server` block, applied before rendering so
/// templates (`{{ server }}`) name the address the server will really answer on.
pub use netboot_manifest::settings::ServerOverrides;

/// The result of a successful compile.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// `artifact_root` is "." (the fleet file's directory); [`write_output`] rewrites it.
    pub manifest: Manifest,
    /// Generated file contents keyed by the `file` of their `Source::Generated`.
    pub generated: BTreeMap<String, Vec<u8>>,
    /// Every local file the compile read (fleet, templates, artifacts, loaders), absolute;
    /// what a watcher must watch to recompile on change.
    pub inputs: BTreeSet<PathBuf>,
    /// Problems that do not stop the build (unused profile, artifact without sha256).
    pub warnings: Vec<Diagnostic>,
}

/// Compiles the fleet at `path` in memory.
///
/// Fails with every error found (and the warnings alongside); [`Failure::is_io`] tells an
/// unreadable fleet file apart from an invalid one.
pub fn compile(path: &Path, overrides: &ServerOverrides) -> Result<Compiled, Failure> {
    compile_with(path, overrides, None)
}

/// [`compile`], with `url=` artifacts found in the download cache `artifact_cache` (see
/// [`url_artifacts`]) served locally as `artifacts/<name>` instead of booted from their URL.
pub fn compile_with(
    path: &Path,
    overrides: &ServerOverrides,
    artifact_cache: Option<&Path>,
) -> Result<Compiled, Failure> {
    on_compile_stack(path, || compile_here(path, overrides, artifact_cache))
}

/// Stack for one compile. Parsing recurses per `{ … }` level ([`MAX_NESTING`] at most) and
/// template expressions per bracket (minijinja stops at 150); in a debug build one KDL level
/// takes about 35 KiB, so a caller's 2 MiB thread (tests, `serve`'s reload thread) is too
/// small at the bound. Only the pages touched are committed.
const COMPILE_STACK: usize = 64 << 20;

/// Runs the compile on a thread of its own with [`COMPILE_STACK`], whatever thread the caller
/// is on; a machine that cannot start one more thread gets an I/O failure, not a crash.
fn on_compile_stack(
    path: &Path,
    compile: impl FnOnce() -> Result<Compiled, Failure> + Send,
) -> Result<Compiled, Failure> {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("compile".into())
            .stack_size(COMPILE_STACK)
            .spawn_scoped(scope, compile)
            .map_err(|e| Failure::io(path, &e))?
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Compiles a fleet given as text, in memory: `name` is what diagnostics and the generated
/// scripts call it, and `base_dir` is where its relative paths (artifacts, loaders,
/// templates) start. For a fleet that is not a file of its own, like an older revision from
/// git, which then needs no copy written anywhere.
pub fn compile_text(
    name: &Path,
    text: String,
    base_dir: &Path,
    overrides: &ServerOverrides,
) -> Result<Compiled, Failure> {
    on_compile_stack(name, || {
        let base_dir = std::path::absolute(base_dir).map_err(|e| Failure::io(name, &e))?;
        compile_source(name, text, &base_dir, None, overrides, None)
    })
}

fn compile_here(
    path: &Path,
    overrides: &ServerOverrides,
    artifact_cache: Option<&Path>,
) -> Result<Compiled, Failure> {
    // A FIFO (or a device) named as the fleet would block the read until someone writes to it,
    // and in `serve` the reload thread with it: only a regular file is read.
    let meta = std::fs::metadata(path).map_err(|e| Failure::io(path, &e))?;
    if !meta.is_file() {
        let e = std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file");
        return Err(Failure::io(path, &e));
    }
    let text = std::fs::read_to_string(path).map_err(|e| Failure::io(path, &e))?;
    let abs = std::path::absolute(path).map_err(|e| Failure::io(path, &e))?;
    let fleet_dir = abs
        .parent()
        .map_or_else(|| PathBuf::from("/"), Path::to_path_buf);
    compile_source(path, text, &fleet_dir, Some(abs), overrides, artifact_cache)
}

/// The compile proper. `abs` is the fleet file's absolute path when it is a file (an input
/// to watch).
fn compile_source(
    path: &Path,
    text: String,
    fleet_dir: &Path,
    abs: Option<PathBuf>,
    overrides: &ServerOverrides,
    artifact_cache: Option<&Path>,
) -> Result<Compiled, Failure> {
    let fleet_file = path.file_name().map_or_else(
        || "fleet.kdl".to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let src = SourceFile::new(path, text);

    let mut diags = diagnostic::Diagnostics::default();
    let Some(mut fleet) = decode::decode(&src, &mut diags) else {
        return Err(Failure::new(diags.into_sorted()));
    };
    if let Some(cache) = artifact_cache {
        remote::localize(&mut fleet, cache);
    }
    let checked = validate::validate(&fleet, &src, fleet_dir, overrides, &mut diags);
    if diags.has_errors() {
        return Err(Failure::new(diags.into_sorted()));
    }
    let out = generate::generate(&checked, &src, &fleet_file, &mut diags);
    let all = diags.into_sorted();
    match out {
        Some(out) if !all.iter().any(Diagnostic::is_error) => {
            let mut inputs = checked.inputs;
            inputs.extend(abs);
            Ok(Compiled {
                manifest: out.manifest,
                generated: out.generated,
                inputs,
                warnings: all,
            })
        }
        _ => Err(Failure::new(all)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use netboot_test_support::stand_in;

    /// Compiles `fleet` in a temporary directory holding stand-in files `k`, `i1`, `i2`.
    fn build(fleet: &str) -> Result<Compiled, Failure> {
        let dir = tempfile::tempdir().unwrap();
        for f in ["i1", "i2", "bios.bin"] {
            std::fs::write(dir.path().join(f), f).unwrap();
        }
        std::fs::write(dir.path().join("k"), stand_in::kernel("k")).unwrap();
        std::fs::write(dir.path().join("efi.bin"), stand_in::efi_x64("efi")).unwrap();
        let path = dir.path().join("fleet.kdl");
        std::fs::write(&path, fleet).unwrap();
        compile(&path, &ServerOverrides::default())
    }

    fn script(c: &Compiled, route: &str) -> String {
        String::from_utf8(c.generated[route].clone()).unwrap()
    }

    const ARTIFACTS: &str = r#"
artifact "k" path="k"; artifact "i1" path="i1"; artifact "i2" path="i2"
artifact "efi" path="efi.bin"; artifact "bios" path="bios.bin"
"#;

    #[test]
    fn kernel_line_names_every_initrd_and_appends_per_host() {
        let c = build(&format!(
            r#"{ARTIFACTS}
profile "p" {{ kernel "k"; initrd "i1" "i2"; cmdline "host={{{{ host }}}} mac={{{{ mac }}}} g={{{{ group }}}}"; }}
group "g" profile="p" {{ host "a" mac="52:54:00:00:00:01" cmdline-append="quiet"; }}
"#
        ))
        .unwrap();
        let s = script(&c, "hosts/52-54-00-00-00-01.ipxe");
        assert!(
            s.contains("kernel ../artifacts/k initrd=i1 initrd=i2 host=a mac=52:54:00:00:00:01 g=g quiet\n"),
            "{s}"
        );
        assert!(
            s.contains("initrd ../artifacts/i1\ninitrd ../artifacts/i2\nboot\n"),
            "{s}"
        );
        let host = &c.manifest.hosts[&"52:54:00:00:00:01".parse().unwrap()];
        assert_eq!(host.boots, "profile:p");
        assert_eq!(host.group.as_deref(), Some("g"));
    }

    #[test]
    fn an_artifact_origin_serves_local_artifacts_by_content_and_names_initrds() {
        let c = build(&format!(
            r#"{ARTIFACTS}
artifact-origin "http://cache.example/nb/"
profile "p" {{ kernel "k"; initrd "i1"; }}
profile "e" {{ efi "efi"; }}
profile "u" {{ chain "http://example.org/x"; }}
menu "m" {{ item "p" "P"; item "e" "E"; item "u" "U"; }}
default menu="m"
"#
        ))
        .unwrap();
        let sha = |route: &str| c.manifest.files[route].sha256.clone();
        let p = script(&c, "profiles/p.ipxe");
        assert!(
            p.contains(&format!(
                "kernel http://cache.example/nb/sha256/{} initrd=i1\ninitrd --name i1 http://cache.example/nb/sha256/{}\n",
                sha("artifacts/k"),
                sha("artifacts/i1")
            )),
            "{p}"
        );
        let e = script(&c, "profiles/e.ipxe");
        assert!(
            e.contains(&format!(
                "http://cache.example/nb/sha256/{}",
                sha("artifacts/efi")
            )),
            "{e}"
        );
        // A chain's own URL stays; netboot keeps serving every artifact itself too.
        assert!(script(&c, "profiles/u.ipxe").contains("http://example.org/x"));
        assert!(c.manifest.files["artifacts/k"].http);
    }

    #[test]
    fn host_target_overrides_its_group() {
        let c = build(
            r#"profile "a" { exit; }; profile "b" { chain "http://example.org/x"; }
group "g" profile="a" { host "h" mac="52:54:00:00:00:01" profile="b"; }
"#,
        )
        .unwrap();
        let s = script(&c, "hosts/52-54-00-00-00-01.ipxe");
        assert!(
            s.contains("chain --replace --autofree http://example.org/x"),
            "{s}"
        );
    }

    #[test]
    fn unknown_machines_exit_without_a_default() {
        let c = build(r#"profile "a" { exit; }; host "h" mac="52:54:00:00:00:01" profile="a""#)
            .unwrap();
        let s = script(&c, "boot.ipxe");
        assert!(
            s.contains("chain --replace hosts/${mac:hexhyp}.ipxe || goto unknown"),
            "{s}"
        );
        assert!(s.trim_end().ends_with("exit"), "{s}");
    }

    #[test]
    fn submenus_get_a_way_back_and_platform_items_a_guard() {
        let c = build(&format!(
            r#"{ARTIFACTS}
loaders {{ efi-x64 "k"; }}
profile "shell" {{ only "efi"; efi "efi"; }}
profile "disk" {{ exit; }}
menu "main" {{
    timeout 0
    item "disk" "Disk"
    menu "tools" "Tools" {{ item "shell" "Shell"; }}
}}
default menu="main"
"#
        ))
        .unwrap();
        let main = script(&c, "menus/main.ipxe");
        assert!(main.contains("choose selected || goto cancel"), "{main}");
        assert!(main.contains("item m-tools Tools >"), "{main}");
        let tools = script(&c, "menus/tools.ipxe");
        assert!(
            tools.contains(
                "iseq ${platform} efi || goto skip-p-shell\nitem p-shell Shell\n:skip-p-shell"
            ),
            "{tools}"
        );
        assert!(
            tools.contains(":back\n:cancel\nchain --replace ../menus/main.ipxe"),
            "{tools}"
        );
    }

    #[test]
    fn loaders_fill_the_dhcp_table() {
        use netboot_manifest::{ClientKind, Protocol};
        let c = build(
            r#"loaders { bios "k"; efi-x64 "i1"; efi-arm64 "i2"; }
profile "a" { exit; }
default profile="a"
"#,
        )
        .unwrap();
        let d = &c.manifest.dhcp;
        assert_eq!(d[&ClientKind::Bios].path, "k");
        assert_eq!(d[&ClientKind::EfiX64].protocol, Protocol::Tftp);
        assert_eq!(d[&ClientKind::HttpX64].protocol, Protocol::Http);
        assert_eq!(d[&ClientKind::HttpArm64].path, "arm64/i2");
        assert_eq!(d[&ClientKind::Ipxe].path, "boot.ipxe");
        assert!(c.manifest.files["k"].tftp && c.manifest.files["k"].http);
    }

    #[test]
    fn server_needs_an_address_unless_overridden() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("k"), stand_in::kernel("k")).unwrap();
        let path = dir.path().join("fleet.kdl");
        std::fs::write(
            &path,
            r#"artifact "k" path="k"; profile "p" { kernel "k"; cmdline "url=http://{{ server }}/x"; }; default profile="p""#,
        )
        .unwrap();
        let err = compile(&path, &ServerOverrides::default()).unwrap_err();
        let codes: Vec<&str> = err
            .diagnostics()
            .iter()
            .filter(|d| d.is_error())
            .map(|d| d.code)
            .collect();
        assert_eq!(codes, ["fleet::address-needed"]);
        let o = ServerOverrides {
            address: Some(std::net::Ipv4Addr::new(10, 1, 2, 3)),
            http_port: Some(81),
            ..ServerOverrides::default()
        };
        let c = compile(&path, &o).unwrap();
        assert!(script(&c, "profiles/p.ipxe").contains("url=http://10.1.2.3:81/x"));
        assert_eq!(c.manifest.server.http_port, 81);
    }

    #[test]
    fn text_compiles_against_its_base_directory_under_its_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("k"), stand_in::kernel("k")).unwrap();
        let text = r#"artifact "k" path="k"; profile "p" { kernel "k"; }; default profile="p""#;
        let c = compile_text(
            Path::new("git:HEAD:fleet.kdl"),
            text.into(),
            dir.path(),
            &ServerOverrides::default(),
        )
        .unwrap();
        assert!(script(&c, "profiles/p.ipxe").contains("from git:HEAD:fleet.kdl:"));
        assert_eq!(
            c.manifest.files["artifacts/k"].size,
            stand_in::kernel("k").len() as u64
        );
        // Nothing but the artifact is read, and nothing is written beside it.
        assert_eq!(c.inputs.len(), 1);
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
        let err = compile_text(
            Path::new("old.kdl"),
            "hots \"x\"\ndefault profile=\"p\"\nprofile \"p\" { exit; }".into(),
            dir.path(),
            &ServerOverrides::default(),
        )
        .unwrap_err();
        assert_eq!(err.diagnostics()[0].code, "fleet::unknown-node");
        assert_eq!(
            err.diagnostics()[0].source.as_ref().unwrap().path,
            Path::new("old.kdl")
        );
    }
}
