//! Writing a compiled fleet to an output directory: all files into a fresh temporary
//! directory beside the target, then renamed into place, so a reader (or a `serve
//! --manifest` reload) never sees half a build.
//!
//! Two shapes: a build (`-o`), whose manifest points back at the operator's artifacts, and a
//! bundle (`--bundle`, see [`write_bundle`]), which carries its artifacts inside it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use netboot_manifest::{Manifest, Source};

use crate::{bundle, earlier_build, leftovers, Compiled};

/// Writes a build: the generated files and a manifest whose artifacts are the operator's
/// files, found relative to the output directory.
pub fn write_output(compiled: &Compiled, fleet_path: &Path, out_dir: &Path) -> io::Result<()> {
    replace_dir(fleet_path, out_dir, |tmp, fleet_dir, out_abs| {
        let mut manifest = compiled.manifest.clone();
        manifest.artifact_root = relative(out_abs, fleet_dir);
        write_files(tmp, &compiled.generated)?;
        fs::write(tmp.join("manifest.json"), manifest.to_json())
    })
}

/// Writes a bundle: a self-contained static tree any HTTP server can serve as it is. The
/// generated scripts and menus sit at their routes (as in a build), every artifact and loader
/// at `sha256/<hex>` of its content, and `manifest.json` names those copies (`artifact_root`
/// "."), so `netboot serve --manifest DIR/manifest.json` serves the bundle too. Nothing in it
/// depends on where the fleet or the bundle live: the same input gives the same bytes.
pub fn write_bundle(compiled: &Compiled, fleet_path: &Path, out_dir: &Path) -> io::Result<()> {
    replace_dir(fleet_path, out_dir, |tmp, fleet_dir, _| {
        let manifest = bundled_manifest(&compiled.manifest);
        write_files(tmp, &compiled.generated)?;
        bundle::copy_artifacts(&compiled.manifest, fleet_dir, tmp)?;
        fs::write(tmp.join("manifest.json"), manifest.to_json())
    })
}

/// The manifest of a bundle: every artifact's source is its copy at `sha256/<hex>`.
fn bundled_manifest(manifest: &Manifest) -> Manifest {
    let mut m = manifest.clone();
    m.artifact_root = ".".into();
    for entry in m.files.values_mut() {
        if let Source::Artifact { path } = &mut entry.source {
            *path = bundle::content_path(&entry.sha256);
        }
    }
    m
}

/// Replaces `out_dir` with what `fill(tmp, fleet_dir, out_abs)` writes into a fresh
/// temporary directory beside it, if `out_dir` may be replaced at all (see
/// `earlier_build::may_replace`).
fn replace_dir(
    fleet_path: &Path,
    out_dir: &Path,
    fill: impl FnOnce(&Path, &Path, &Path) -> io::Result<()>,
) -> io::Result<()> {
    // `-o .` or `-o ..` names no file: the directory it means is what gets checked (and
    // refused, if it holds the fleet), so resolve it first.
    let resolved;
    let out_dir = if out_dir.file_name().is_none() && out_dir.exists() {
        resolved = fs::canonicalize(out_dir)?;
        resolved.as_path()
    } else {
        out_dir
    };
    let name = out_dir
        .file_name()
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} does not name a directory", out_dir.display()),
            )
        })?
        .to_string_lossy()
        .into_owned();
    let parent = match out_dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent)?;
    let parent = fs::canonicalize(&parent)?;
    let out_abs = parent.join(&name);
    let fleet_dir = match fleet_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let fleet_dir = fs::canonicalize(fleet_dir)?;
    earlier_build::may_replace(&out_abs, &fleet_dir)?;

    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    if tmp.exists() {
        fs::remove_dir_all(&tmp)?;
    }
    let written = fs::create_dir(&tmp).and_then(|()| fill(&tmp, &fleet_dir, &out_abs));
    if let Err(e) = written {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e);
    }

    // Swap: the old build moves aside first (a rename cannot replace a non-empty directory).
    let old = parent.join(format!(".{name}.old-{}", std::process::id()));
    let had_old = out_abs.exists();
    if had_old {
        if old.exists() {
            fs::remove_dir_all(&old)?;
        }
        fs::rename(&out_abs, &old)?;
    }
    if let Err(e) = fs::rename(&tmp, &out_abs) {
        if had_old {
            let _ = fs::rename(&old, &out_abs);
        }
        let _ = fs::remove_dir_all(&tmp);
        return Err(e);
    }
    if had_old {
        fs::remove_dir_all(&old)?;
    }
    leftovers::remove_stale(&parent, &name);
    Ok(())
}

/// Writes every generated file under `dir`. A large fleet means tens of thousands of small
/// files, where creating each one costs a disk round trip: a few threads overlap them.
fn write_files(dir: &Path, files: &BTreeMap<String, Vec<u8>>) -> io::Result<()> {
    let mut dirs = BTreeSet::new();
    let mut jobs = Vec::with_capacity(files.len());
    for (file, bytes) in files {
        let path = dir.join(safe_relative(file)?);
        if let Some(parent) = path.parent() {
            dirs.insert(parent.to_path_buf());
        }
        jobs.push((path, bytes));
    }
    for d in &dirs {
        fs::create_dir_all(d)?;
    }
    const THREADS: usize = 4;
    let chunk = jobs.len().div_ceil(THREADS).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = jobs
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .try_for_each(|(path, bytes)| fs::write(path, bytes))
                })
            })
            .collect();
        handles.into_iter().try_for_each(|h| {
            h.join()
                .unwrap_or_else(|_| Err(io::Error::other("a writer thread panicked")))
        })
    })
}

/// A generated file's name as a path that stays inside the output directory.
fn safe_relative(file: &str) -> io::Result<PathBuf> {
    let p = Path::new(file);
    if p.components().all(|c| matches!(c, Component::Normal(_))) {
        Ok(p.to_path_buf())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("generated file name `{file}` leaves the output directory"),
        ))
    }
}

/// `to` relative to `from` (both absolute and canonical), with `/` separators; "." if equal.
pub fn relative(from: &Path, to: &Path) -> String {
    let f: Vec<_> = from.components().collect();
    let t: Vec<_> = to.components().collect();
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_string(); f.len() - common];
    parts.extend(
        t[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_climb_then_descend() {
        assert_eq!(relative(Path::new("/a/b/out"), Path::new("/a/b")), "..");
        assert_eq!(relative(Path::new("/a/b"), Path::new("/a/b")), ".");
        assert_eq!(
            relative(Path::new("/x/out"), Path::new("/a/fleet")),
            "../../a/fleet"
        );
        assert_eq!(relative(Path::new("/a"), Path::new("/a/b/c")), "b/c");
    }

    #[test]
    fn generated_names_cannot_escape() {
        assert!(safe_relative("hosts/x.ipxe").is_ok());
        assert!(safe_relative("../x").is_err());
        assert!(safe_relative("/etc/x").is_err());
    }
}
