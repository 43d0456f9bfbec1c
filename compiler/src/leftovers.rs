//! Directories an interrupted build left beside its output: `build` writes into
//! `.NAME.tmp-PID` and moves the previous build aside to `.NAME.old-PID` for the swap, and a
//! build killed in between leaves them behind. The next build of the same output removes those
//! whose process is gone, after its own swap succeeded (until then an `.old` one may be the
//! only copy of the last good build).

use std::fs;
use std::path::Path;

/// Removes `.{name}.tmp-PID` and `.{name}.old-PID` directories in `parent` whose PID is no
/// longer running; what cannot be removed is logged and left.
pub fn remove_stale(parent: &Path, name: &str) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(pid) = leftover_pid(&file_name.to_string_lossy(), name) else {
            continue;
        };
        // A symlink or a file with such a name is not ours to delete.
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if !is_dir || pid == std::process::id() || process_alive(pid) {
            continue;
        }
        let path = entry.path();
        match fs::remove_dir_all(&path) {
            Ok(()) => {
                tracing::info!(dir = %path.display(), "removed what an interrupted build left")
            }
            Err(e) => {
                tracing::warn!(dir = %path.display(), error = %e, "cannot remove what an interrupted build left")
            }
        }
    }
}

/// The PID in `.{name}.tmp-PID` or `.{name}.old-PID`.
fn leftover_pid(file_name: &str, name: &str) -> Option<u32> {
    let rest = file_name.strip_prefix('.')?.strip_prefix(name)?;
    let pid = rest
        .strip_prefix(".tmp-")
        .or_else(|| rest.strip_prefix(".old-"))?;
    if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok()
}

/// Whether a process with this PID exists (Linux: it has a `/proc` entry).
fn process_alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_outputs_leftovers_match() {
        assert_eq!(leftover_pid(".out.tmp-123", "out"), Some(123));
        assert_eq!(leftover_pid(".out.old-7", "out"), Some(7));
        assert_eq!(leftover_pid(".out.tmp-", "out"), None);
        assert_eq!(leftover_pid(".out.tmp-12x", "out"), None);
        assert_eq!(leftover_pid(".output.tmp-1", "out"), None);
        assert_eq!(leftover_pid(".out.new-1", "out"), None);
        assert_eq!(leftover_pid("out.tmp-1", "out"), None);
    }

    #[test]
    fn dead_processes_leftovers_go_live_ones_and_strangers_stay() {
        let dir = tempfile::tempdir().unwrap();
        // PIDs above the kernel's pid_max (4194304 at most) can never be running.
        let dead = [".out.tmp-4999999", ".out.old-4999998"];
        for d in dead {
            fs::create_dir_all(dir.path().join(d).join("hosts")).unwrap();
            fs::write(dir.path().join(d).join("hosts/x.ipxe"), "x").unwrap();
        }
        let live = format!(".out.tmp-{}", std::process::id());
        fs::create_dir(dir.path().join(&live)).unwrap();
        let parent_pid = format!(".out.old-{}", std::os::unix::process::parent_id());
        fs::create_dir(dir.path().join(&parent_pid)).unwrap();
        fs::write(dir.path().join(".out.tmp-4999997"), "a file, not ours").unwrap();
        fs::create_dir(dir.path().join(".other.tmp-4999999")).unwrap();

        remove_stale(dir.path(), "out");

        for d in dead {
            assert!(!dir.path().join(d).exists(), "{d} stayed");
        }
        for kept in [&live, &parent_pid, ".out.tmp-4999997", ".other.tmp-4999999"] {
            assert!(dir.path().join(kept).exists(), "{kept} was removed");
        }
    }
}
