//! Replacing a small state file (full-DHCP leases, install state) so that a crash or power
//! loss leaves either the old file or the new one, never half of each: write a temporary file
//! beside it, fsync it, rename it over, fsync the directory.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

/// Replaces `path` with `text`, creating its directory if needed.
pub fn replace(path: &Path, text: &str) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = dir.join(tmp_name);
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        // The rename itself must reach the disk too.
        fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}
