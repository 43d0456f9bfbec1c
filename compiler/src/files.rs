//! Local files a fleet names (loaders, artifacts, templates): found relative to the fleet's
//! directory, measured and hashed once each per compile.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use netboot_manifest::Sha256Writer;

use crate::codes::Code;

/// A local file that exists and was hashed.
#[derive(Debug, Clone)]
pub struct LocalFile {
    /// Absolute path (what a watcher watches).
    pub abs: PathBuf,
    /// The path as the manifest records it: as written in the fleet (absolute, or relative to
    /// the fleet's directory).
    pub manifest_path: String,
    pub size: u64,
    pub sha256: String,
}

/// Why a named file is unusable.
#[derive(Debug, Clone)]
pub enum FileProblem {
    Missing,
    NotAFile,
    /// It is there but cannot be read (permissions, an I/O error).
    Unreadable(String),
    /// A template that is not UTF-8 text; `at` is the byte offset of the first bad byte.
    NotText {
        at: usize,
    },
}

impl FileProblem {
    pub fn describe(&self, path: &str) -> String {
        match self {
            FileProblem::Missing => format!("file `{path}` does not exist"),
            FileProblem::NotAFile => format!("`{path}` is not a regular file"),
            FileProblem::Unreadable(e) => format!("cannot read `{path}`: {e}"),
            FileProblem::NotText { at } => {
                format!("`{path}` is not UTF-8 text (the first bad byte is at offset {at})")
            }
        }
    }

    /// The diagnostic code: a file that is absent (or not a file) is `missing-file`; one that
    /// is there but cannot be used is `unreadable-file`, so the operator looks at the right thing.
    pub fn code(&self) -> Code {
        match self {
            FileProblem::Missing | FileProblem::NotAFile => Code::MissingFile,
            FileProblem::Unreadable(_) | FileProblem::NotText { .. } => Code::UnreadableFile,
        }
    }

    /// The label under the path, naming what the file is (`template`, `artifact`, …).
    pub fn label(&self, what: &str) -> String {
        match self {
            FileProblem::Missing => format!("{what} not found"),
            FileProblem::NotAFile => format!("{what} is not a regular file"),
            FileProblem::Unreadable(_) => format!("{what} cannot be read"),
            FileProblem::NotText { .. } => format!("{what} is not UTF-8 text"),
        }
    }
}

/// Resolves and hashes files, remembering each so a file named twice is read once.
pub struct FileCache {
    base: PathBuf,
    seen: HashMap<String, Result<LocalFile, FileProblem>>,
}

impl FileCache {
    /// `base` is the fleet's directory, absolute.
    pub fn new(base: PathBuf) -> FileCache {
        FileCache {
            base,
            seen: HashMap::new(),
        }
    }

    pub fn resolve(&self, written: &str) -> PathBuf {
        let p = Path::new(written);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }

    pub fn hashed(&mut self, written: &str) -> Result<LocalFile, FileProblem> {
        if let Some(r) = self.seen.get(written) {
            return r.clone();
        }
        let abs = self.resolve(written);
        let result = hash_file(&abs).map(|(size, sha256)| LocalFile {
            abs: abs.clone(),
            manifest_path: written.to_string(),
            size,
            sha256,
        });
        self.seen.insert(written.to_string(), result.clone());
        result
    }

    /// Reads a template as text.
    pub fn read_text(&self, written: &str) -> Result<(PathBuf, String), FileProblem> {
        let abs = self.resolve(written);
        check_regular(&abs)?;
        let bytes = std::fs::read(&abs).map_err(|e| FileProblem::Unreadable(e.to_string()))?;
        String::from_utf8(bytes)
            .map(|t| (abs, t))
            .map_err(|e| FileProblem::NotText {
                at: e.utf8_error().valid_up_to(),
            })
    }
}

/// Up to `len` bytes of the file at `path` from `offset` (fewer where the file ends): what a
/// check of a file's format reads, never the whole of a file that may be gigabytes.
pub fn read_range(path: &Path, offset: u64, len: usize) -> io::Result<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    let mut bytes = Vec::with_capacity(len);
    file.take(len as u64).read_to_end(&mut bytes)?;
    Ok(bytes)
}

fn check_regular(path: &Path) -> Result<(), FileProblem> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(()),
        Ok(_) => Err(FileProblem::NotAFile),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(FileProblem::Missing),
        Err(e) => Err(FileProblem::Unreadable(e.to_string())),
    }
}

fn hash_file(path: &Path) -> Result<(u64, String), FileProblem> {
    check_regular(path)?;
    let mut file = File::open(path).map_err(|e| FileProblem::Unreadable(e.to_string()))?;
    let mut hasher = Sha256Writer::default();
    io::copy(&mut file, &mut hasher).map_err(|e| FileProblem::Unreadable(e.to_string()))?;
    Ok(hasher.finish())
}
