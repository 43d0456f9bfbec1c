//! Watches the files a snapshot was built from and says when one of them changed.
//!
//! Editors save by writing a temporary file and renaming it over the original, which replaces
//! the inode a file watch is attached to. So this watches the *directories* holding the inputs
//! (non-recursively) and filters their events down to the input paths; the set is replaced after
//! every reload because a fleet edit can add or drop templates and artifacts.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::Duration;

use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher as _};

/// Quiet time after the last relevant event before a reload: one save often arrives as
/// several events (truncate, write, rename, chmod).
const SETTLE: Duration = Duration::from_millis(150);

pub struct InputWatcher {
    watcher: RecommendedWatcher,
    events: Receiver<notify::Result<Event>>,
    dirs: BTreeSet<PathBuf>,
    files: BTreeSet<PathBuf>,
}

impl InputWatcher {
    pub fn new() -> notify::Result<InputWatcher> {
        let (tx, events) = channel();
        let watcher = notify::recommended_watcher(move |event| {
            let _ = tx.send(event);
        })?;
        Ok(InputWatcher {
            watcher,
            events,
            dirs: BTreeSet::new(),
            files: BTreeSet::new(),
        })
    }

    /// Replaces the watched set with `inputs` (absolute paths).
    pub fn set_inputs<'a>(&mut self, inputs: impl IntoIterator<Item = &'a Path>) {
        let files: BTreeSet<PathBuf> = inputs.into_iter().map(Path::to_path_buf).collect();
        let dirs: BTreeSet<PathBuf> = files
            .iter()
            .filter_map(|f| f.parent().map(Path::to_path_buf))
            .collect();
        for gone in self.dirs.difference(&dirs) {
            let _ = self.watcher.unwatch(gone);
        }
        for new in dirs.difference(&self.dirs) {
            if let Err(e) = self.watcher.watch(new, RecursiveMode::NonRecursive) {
                tracing::warn!(target: "netboot::reload", dir = %new.display(), error = %e,
                    "cannot watch directory; edits there will not reload");
            }
        }
        self.dirs = dirs;
        self.files = files;
    }

    /// Blocks until an input changes, then waits for the burst of events to settle and returns
    /// the changed inputs. `None` when the watcher itself has stopped.
    pub fn next_change(&mut self) -> Option<BTreeSet<PathBuf>> {
        let mut changed = BTreeSet::new();
        loop {
            let event = if changed.is_empty() {
                self.events.recv().ok()?
            } else {
                match self.events.recv_timeout(SETTLE) {
                    Ok(event) => event,
                    Err(RecvTimeoutError::Timeout) => return Some(changed),
                    Err(RecvTimeoutError::Disconnected) => return None,
                }
            };
            match event {
                Ok(event) => changed.extend(touches(&event, &self.files)),
                Err(e) => {
                    tracing::warn!(target: "netboot::reload", error = %e, "file watcher error")
                }
            }
        }
    }
}

/// The inputs an event concerns; reads and opens are not changes.
fn touches(event: &Event, files: &BTreeSet<PathBuf>) -> Vec<PathBuf> {
    if matches!(event.kind, EventKind::Access(_)) {
        return Vec::new();
    }
    event
        .paths
        .iter()
        .filter(|p| files.contains(p.as_path()))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{AccessKind, CreateKind, ModifyKind, RenameMode};
    use std::time::Instant;

    fn event(kind: EventKind, path: &str) -> Event {
        Event::new(kind).add_path(PathBuf::from(path))
    }

    #[test]
    fn only_changes_to_inputs_count() {
        let files: BTreeSet<PathBuf> = [PathBuf::from("/f/fleet.kdl")].into();
        let write = EventKind::Modify(ModifyKind::Any);
        assert_eq!(
            touches(&event(write, "/f/fleet.kdl"), &files),
            vec![PathBuf::from("/f/fleet.kdl")]
        );
        assert!(touches(&event(write, "/f/fleet.kdl.swp"), &files).is_empty());
        let read = EventKind::Access(AccessKind::Any);
        assert!(touches(&event(read, "/f/fleet.kdl"), &files).is_empty());
        let renamed = EventKind::Modify(ModifyKind::Name(RenameMode::To));
        assert_eq!(touches(&event(renamed, "/f/fleet.kdl"), &files).len(), 1);
        let created = EventKind::Create(CreateKind::File);
        assert_eq!(touches(&event(created, "/f/fleet.kdl"), &files).len(), 1);
    }

    #[test]
    fn an_editor_style_save_is_seen_once() {
        let dir = tempfile::tempdir().unwrap();
        let fleet = dir.path().join("fleet.kdl");
        std::fs::write(&fleet, "one").unwrap();
        let mut watcher = InputWatcher::new().unwrap();
        watcher.set_inputs([fleet.as_path()]);

        let writer = {
            let dir = dir.path().to_path_buf();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(100));
                // Write-to-temp-and-rename, as vim and most editors save.
                let tmp = dir.join(".fleet.kdl.tmp");
                std::fs::write(&tmp, "two").unwrap();
                std::fs::rename(&tmp, dir.join("fleet.kdl")).unwrap();
            })
        };
        let started = Instant::now();
        let changed = watcher.next_change().unwrap();
        writer.join().unwrap();
        assert_eq!(changed, [fleet.clone()].into());
        assert!(started.elapsed() < Duration::from_secs(5));

        // The watch survives the rename: a second in-place write is seen too.
        std::fs::write(&fleet, "three").unwrap();
        assert_eq!(watcher.next_change().unwrap(), [fleet].into());
    }
}
