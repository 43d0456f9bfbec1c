//! The fleet compiler: KDL fleet → checked fleet → iPXE scripts → frozen manifest.
//!
//! The public contract the CLI and the runtime rely on is [`compile`] (in memory) and
//! [`write_output`] (to a directory). Every problem comes back as a [`Diagnostic`] with a
//! stable code, a labelled span and a help line; all of them at once.
//!
//! Stages, one file each: `decode` (KDL → typed [`fleet`]), `validate` (names, references,
//! files, templates, platforms), `generate` (scripts via the askama templates in `render`,
//! per-machine files via minijinja in `template`, the manifest), `output` (atomic write).

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

pub use netboot_manifest as manifest;
use netboot_manifest::Manifest;

mod decode;
mod diagnostic;
mod files;
pub mod fleet;
mod generate;
mod output;
mod render;
mod suggest;
mod template;
mod validate;

pub use diagnostic::{Diagnostic, DiagnosticRecord, Failure, Label, Severity, SourceFile, Span};
pub use generate::CMDLINE_MAX;
pub use output::write_output;

/// Command-line overrides of the fleet's `server` block, applied before rendering so
/// templates (`{{ server }}`) name the address the server will really answer on.
#[derive(Debug, Clone, Default)]
pub struct ServerOverrides {
    pub interface: Option<String>,
    pub address: Option<Ipv4Addr>,
    pub http_port: Option<u16>,
    pub tftp_port: Option<u16>,
    pub no_dhcp: bool,
}

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
    let text = std::fs::read_to_string(path).map_err(|e| Failure::io(path, &e))?;
    let abs = std::path::absolute(path).map_err(|e| Failure::io(path, &e))?;
    let fleet_dir = abs
        .parent()
        .map_or_else(|| PathBuf::from("/"), Path::to_path_buf);
    let fleet_file = path.file_name().map_or_else(
        || "fleet.kdl".to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let src = SourceFile::new(path, text);

    let mut diags = diagnostic::Diagnostics::default();
    let Some(fleet) = decode::decode(&src, &mut diags) else {
        return Err(Failure::new(diags.into_sorted()));
    };
    let checked = validate::validate(&fleet, &src, &fleet_dir, overrides, &mut diags);
    if diags.has_errors() {
        return Err(Failure::new(diags.into_sorted()));
    }
    let out = generate::generate(&checked, &src, &fleet_file, &mut diags);
    let all = diags.into_sorted();
    match out {
        Some(out) if !all.iter().any(Diagnostic::is_error) => {
            let mut inputs = checked.inputs;
            inputs.insert(abs);
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
