//! A fleet compiled in memory, or a frozen build read back: what `explain` follows and what
//! `diff` compares, with the generated scripts either way.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use netboot_compiler::ServerOverrides;
use netboot_manifest::{Manifest, Source};

/// A fleet compiled in memory, or a frozen build read back.
pub struct Loaded {
    pub manifest: Manifest,
    /// Generated files' bytes by their `Source::Generated` name (empty for a frozen build).
    generated: BTreeMap<String, Vec<u8>>,
    /// Directory generated files of a frozen build are read from.
    base: PathBuf,
}

/// Why nothing could be loaded, with the report for the operator.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The fleet has errors, or the manifest is not one this version reads.
    #[error("{0}")]
    Invalid(String),
    /// The file could not be read.
    #[error("{0}")]
    Unreadable(String),
}

impl Loaded {
    /// Compiles `path` (a fleet) or reads it as a manifest when it ends in `.json`.
    pub fn load(path: &Path, overrides: &ServerOverrides) -> Result<Loaded, LoadError> {
        if path.extension().is_some_and(|e| e == "json") {
            return Loaded::manifest(path);
        }
        Loaded::compiled(netboot_compiler::compile(path, overrides))
    }

    /// Compiles a fleet given as text (see [`netboot_compiler::compile_text`]).
    pub fn compile_text(
        name: &Path,
        text: String,
        base_dir: &Path,
        overrides: &ServerOverrides,
    ) -> Result<Loaded, LoadError> {
        Loaded::compiled(netboot_compiler::compile_text(
            name, text, base_dir, overrides,
        ))
    }

    fn compiled(
        result: Result<netboot_compiler::Compiled, netboot_compiler::Failure>,
    ) -> Result<Loaded, LoadError> {
        match result {
            Ok(c) => Ok(Loaded {
                manifest: c.manifest,
                generated: c.generated,
                base: PathBuf::new(),
            }),
            Err(f) if f.is_io() => Err(LoadError::Unreadable(f.to_string())),
            Err(f) => Err(LoadError::Invalid(f.to_string())),
        }
    }

    /// Reads a frozen build's `manifest.json`; its scripts are read beside it when asked for.
    pub fn manifest(path: &Path) -> Result<Loaded, LoadError> {
        let bytes = std::fs::read(path)
            .map_err(|e| LoadError::Unreadable(format!("cannot read {}: {e}", path.display())))?;
        let manifest = Manifest::from_json(&bytes)
            .map_err(|e| LoadError::Invalid(format!("{}: {e}", path.display())))?;
        Ok(Loaded {
            manifest,
            generated: BTreeMap::new(),
            base: path.parent().unwrap_or(Path::new(".")).to_path_buf(),
        })
    }

    /// A snapshot to serve: generated files from memory (or beside a frozen build's manifest),
    /// artifacts resolved against `base`, the fleet's directory.
    pub fn snapshot(&self, base: &Path) -> netboot_runtime::Snapshot {
        netboot_runtime::Snapshot::from_compiled(self.manifest.clone(), &self.generated, base)
    }

    /// What iPXE reads at `route`, for following scripts (`ipxe_follow`): `None` when the
    /// fleet serves no such file, `Some(None)` for a file that is not a script, else its text.
    pub fn script_at(&self, route: &str) -> Option<Option<String>> {
        self.manifest.files.get(route)?;
        Some(
            self.generated(route)
                .filter(|_| route.ends_with(".ipxe"))
                .map(|b| String::from_utf8_lossy(&b).into_owned()),
        )
    }

    /// The bytes of a generated file (a script), or `None` for an artifact or a missing file.
    pub fn generated(&self, route: &str) -> Option<Vec<u8>> {
        let Source::Generated { file } = &self.manifest.files.get(route)?.source else {
            return None;
        };
        match self.generated.get(file) {
            Some(b) => Some(b.clone()),
            None => std::fs::read(self.base.join(file)).ok(),
        }
    }
}
