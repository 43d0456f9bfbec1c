//! The install state in its file under `--state-dir`, shared by every HTTP connection: read
//! from the file, re-read when the file changes (so `netboot reinstall`, run beside a live server, takes effect on the next
//! request), written through under a lock.

use std::fs::{self, File};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use netboot_manifest::MacAddr;

use super::state_file::{self, InstallRecord, InstallState, StateFileError};

/// Cheap to clone; every clone sees the same state.
#[derive(Clone, Debug)]
pub struct FileStore {
    path: PathBuf,
    cache: Arc<Mutex<Cache>>,
}

#[derive(Debug)]
struct Cache {
    /// The file's identity when last read; `None`: not read yet.
    seen: Option<Stamp>,
    state: Result<InstallState, String>,
}

/// What changes when the file is replaced or written: inode, size, modification time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stamp {
    Missing,
    File { ino: u64, len: u64, mtime_ns: i128 },
    Unreadable,
}

impl FileStore {
    /// A store over `path`; nothing is read until a lifecycle host asks.
    pub fn new(path: PathBuf) -> FileStore {
        FileStore {
            path,
            cache: Arc::new(Mutex::new(Cache {
                seen: None,
                state: Ok(InstallState::new()),
            })),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The state now, re-read if the file changed since the last look. A damaged or
    /// unreadable file is `Err` with the reason, logged at error level once per change.
    pub fn current(&self) -> Result<InstallState, String> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let stamp = stamp(&self.path);
        // A file this store has read, gone now: deleted by hand, or its volume unmounted.
        // Read as "nothing installed" it would send every lifecycle machine to its installer,
        // so it counts as unreadable until a report or `netboot reinstall` writes it again.
        let vanished = matches!(cache.seen, Some(Stamp::File { .. })) && stamp == Stamp::Missing;
        if vanished {
            let why = StateFileError::Vanished {
                path: self.path.clone(),
            }
            .to_string();
            // Logged once; it stays vanished until the file is back.
            if cache.state.as_ref().err() != Some(&why) {
                tracing::error!(target: "netboot::install", path = %self.path.display(), "{why}");
            }
            cache.state = Err(why);
        } else if cache.seen != Some(stamp) {
            cache.state = state_file::load(&self.path).map_err(|e| {
                tracing::error!(
                    target: "netboot::install",
                    path = %self.path.display(), error = %e,
                    "install state unreadable: every machine with an install lifecycle boots its `then` profile"
                );
                e.to_string()
            });
            cache.seen = Some(stamp);
        }
        cache.state.clone()
    }

    /// Records `record` for `mac` unless the file holds this generation or a later one
    /// already; re-reads under an exclusive lock first, so a concurrent `netboot reinstall`
    /// is not overwritten. Returns whether anything was written.
    pub fn record(&self, mac: MacAddr, record: InstallRecord) -> Result<bool, StateFileError> {
        self.update(|state| {
            if state
                .get(&mac)
                .is_some_and(|r| r.generation >= record.generation)
            {
                return false;
            }
            state.insert(mac, record);
            true
        })
    }

    /// Forgets what `mac` reported, so it installs again at its current generation.
    /// Returns the record removed.
    pub fn forget(&self, mac: MacAddr) -> Result<Option<InstallRecord>, StateFileError> {
        // Nothing to forget, and a file written now would hold no machine at all.
        if stamp(&self.path) == Stamp::Missing {
            return Err(StateFileError::Absent {
                path: self.path.clone(),
            });
        }
        let mut removed = None;
        self.update(|state| {
            removed = state.remove(&mac);
            removed.is_some()
        })?;
        Ok(removed)
    }

    fn update(
        &self,
        change: impl FnOnce(&mut InstallState) -> bool,
    ) -> Result<bool, StateFileError> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let _lock = FileLock::take(&self.path)?;
        // A file that vanished is not written anew from one machine's report: every other
        // machine, missing from it, would install again.
        if matches!(cache.seen, Some(Stamp::File { .. })) && stamp(&self.path) == Stamp::Missing {
            return Err(StateFileError::Vanished {
                path: self.path.clone(),
            });
        }
        // A damaged file is never overwritten: it still holds every other machine's record.
        let mut state = state_file::load(&self.path)?;
        let changed = change(&mut state);
        if changed {
            state_file::save(&self.path, &state)?;
        }
        cache.seen = Some(stamp(&self.path));
        cache.state = Ok(state);
        Ok(changed)
    }
}

fn stamp(path: &Path) -> Stamp {
    match fs::metadata(path) {
        Ok(m) => Stamp::File {
            ino: m.ino(),
            len: m.len(),
            mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Stamp::Missing,
        Err(_) => Stamp::Unreadable,
    }
}

/// An exclusive flock(2) on `<state>.lock`, held while a writer reads, changes and replaces
/// the state file (the state file itself is replaced by rename, so it cannot carry the lock).
/// The lock is released when the descriptor closes, on drop.
struct FileLock(#[allow(dead_code)] File);

/// Tries for the state file's lock, [`LOCK_RETRY`] apart: 100 ms in all at the most.
const LOCK_ATTEMPTS: u32 = 10;
const LOCK_RETRY: std::time::Duration = std::time::Duration::from_millis(10);

impl FileLock {
    fn take(path: &Path) -> Result<FileLock, StateFileError> {
        let write = |source| StateFileError::Write {
            path: path.into(),
            source,
        };
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(".lock");
        let lock_path = path.with_file_name(name);
        if let Some(dir) = lock_path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(write)?;
        }
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(write)?;
        // Never waits long: this runs on the HTTP server's threads, and a lock someone else
        // holds (a stuck `netboot reinstall`, any process that can open the file) must cost one
        // refused report, not every worker. Writers hold it for one small file's write.
        for attempt in 0..LOCK_ATTEMPTS {
            // SAFETY: flock on a descriptor this File owns for the call's duration.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                return Ok(FileLock(file));
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::WouldBlock {
                return Err(write(err));
            }
            if attempt + 1 < LOCK_ATTEMPTS {
                std::thread::sleep(LOCK_RETRY);
            }
        }
        Err(write(std::io::Error::new(
            std::io::ErrorKind::WouldBlock,
            format!("{} is held by another process", lock_path.display()),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const MAC: MacAddr = MacAddr([0x52, 0x54, 0, 0, 0, 1]);

    fn record(generation: u32) -> InstallRecord {
        InstallRecord {
            host: "web1".into(),
            generation,
            at: 5,
            address: Ipv4Addr::new(10, 0, 0, 5).into(),
        }
    }

    #[test]
    fn records_survive_a_new_store_and_older_generations_do_not_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("install-state.json");
        let store = FileStore::new(path.clone());
        assert_eq!(store.current().unwrap(), InstallState::new());
        assert!(store.record(MAC, record(2)).unwrap());
        assert!(
            !store.record(MAC, record(2)).unwrap(),
            "a repeat writes nothing"
        );
        assert!(
            !store.record(MAC, record(1)).unwrap(),
            "an older one writes nothing"
        );
        // A restart reads what was written.
        let again = FileStore::new(path);
        assert_eq!(again.current().unwrap()[&MAC], record(2));
    }

    #[test]
    fn a_change_by_another_writer_is_seen_on_the_next_look() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("install-state.json");
        let server = FileStore::new(path.clone());
        server.record(MAC, record(2)).unwrap();
        assert!(server.current().unwrap().contains_key(&MAC));
        // `netboot reinstall` in another process: its own store over the same file.
        let cli = FileStore::new(path);
        assert_eq!(cli.forget(MAC).unwrap(), Some(record(2)));
        assert!(!server.current().unwrap().contains_key(&MAC));
    }

    /// A state file deleted (or its volume unmounted) under a running server once read as
    /// "nothing installed": every lifecycle machine would have wiped its disk again.
    #[test]
    fn a_file_that_vanishes_is_an_error_and_is_not_written_anew() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("install-state.json");
        let store = FileStore::new(path.clone());
        store.record(MAC, record(2)).unwrap();
        assert!(store.current().unwrap().contains_key(&MAC));
        fs::remove_file(&path).unwrap();
        let err = store.current().unwrap_err();
        assert!(err.contains("disappeared"), "{err}");
        let other = MacAddr([0x52, 0x54, 0, 0, 0, 2]);
        assert!(matches!(
            store.record(other, record(1)),
            Err(StateFileError::Vanished { .. })
        ));
        assert!(!path.exists(), "a report wrote a new file");
        // Restored from a backup: read again.
        state_file::save(&path, &[(MAC, record(2))].into()).unwrap();
        assert!(store.current().unwrap().contains_key(&MAC));
        // `netboot reinstall` with no file at all refuses rather than writing an empty one.
        fs::remove_file(&path).unwrap();
        let cli = FileStore::new(path.clone());
        assert!(matches!(
            cli.forget(MAC),
            Err(StateFileError::Absent { .. })
        ));
        assert!(!path.exists());
    }

    /// A lock held by another process (here: this test, through flock) once blocked the HTTP
    /// worker that took the report, and behind it every request for a lifecycle host.
    #[test]
    fn a_lock_held_elsewhere_refuses_the_report_instead_of_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("install-state.json");
        let store = FileStore::new(path.clone());
        let held = FileLock::take(&path).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let writer = std::thread::spawn(move || tx.send(store.record(MAC, record(1)).is_err()));
        let refused = rx
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("the report waited for the lock");
        assert!(refused);
        drop(held);
        writer.join().unwrap().unwrap();
    }

    #[test]
    fn a_damaged_file_is_an_error_and_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("install-state.json");
        fs::write(&path, "{ half a file").unwrap();
        let store = FileStore::new(path.clone());
        let err = store.current().unwrap_err();
        assert!(err.contains("damaged"), "{err}");
        assert!(store.record(MAC, record(1)).is_err());
        assert_eq!(fs::read_to_string(&path).unwrap(), "{ half a file");
    }
}
