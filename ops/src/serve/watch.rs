//! Watches the files a snapshot was built from and says when one of them changed.
//!
//! Editors save by writing a temporary file and renaming it over the original, which replaces
//! the inode a file watch is attached to. So this watches the *directories* holding the inputs
//! (non-recursively) and filters their events down to the paths that matter.
//!
//! A directory watch has the same problem one level up: it follows the directory's inode, not
//! its path. Deploys swap whole directories (`ln -sfn tplB t.new && mv -T t.new templates`, or
//! `mv templates templates.old && mv templates.new templates`), which leaves the watch on a
//! directory nobody reads any more. So this also watches every directory between the root (the
//! fleet's directory) and each input, counts events on those path components as changes, and
//! re-arms the watches by path: [`InputWatcher::rearm`] before a reload reads anything, so an
//! edit made while it compiles is not lost, and [`InputWatcher::set_inputs`] after it.
//! Directories are watched under their canonical path, so a symlinked directory is watched
//! where its files really are, and each directory once (two watches on one inode would share
//! one inotify descriptor, and removing either would silence both).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher as _};

/// Quiet time after the last relevant event before a reload: one save often arrives as
/// several events (truncate, write, rename, chmod).
const SETTLE: Duration = Duration::from_millis(150);

/// Why [`InputWatcher::next_change`] returned.
#[derive(Debug, PartialEq, Eq)]
pub enum Wake {
    /// These watched paths (inputs, or directories on the way to them) changed.
    Changed(BTreeSet<PathBuf>),
    /// The retry delay passed without a change.
    RetryDue,
    /// A reload was asked for ([`ReloadRequests::request`], e.g. on SIGHUP).
    Requested,
}

/// What reaches the reload thread: a file-system event, or a request to reload.
enum Message {
    Fs(notify::Result<Event>),
    Requested,
}

/// Asks the reload thread for a reload, as an edit would; cheap to clone.
#[derive(Clone)]
pub struct ReloadRequests(Sender<Message>);

impl ReloadRequests {
    pub fn request(&self) {
        let _ = self.0.send(Message::Requested);
    }
}

pub struct InputWatcher {
    /// `None` under `--no-watch` (or when the system gives no watcher): only requests wake it.
    watcher: Option<RecommendedWatcher>,
    events: Receiver<Message>,
    requests: Sender<Message>,
    /// The fleet's (or manifest's) directory: where the directory chains to inputs start.
    root: PathBuf,
    /// The inputs as the last load named them (absolute, not canonical).
    inputs: BTreeSet<PathBuf>,
    /// Watched directories (canonical), each with the identity it had when its watch was set.
    armed: BTreeMap<PathBuf, Option<DirId>>,
    /// Paths whose events count as changes.
    relevant: BTreeSet<PathBuf>,
}

impl InputWatcher {
    /// A watcher for inputs under `root` (absolute); inputs elsewhere are watched too, but only
    /// in their own directory.
    pub fn new(root: &Path) -> notify::Result<InputWatcher> {
        let mut watcher = InputWatcher::manual(root);
        let tx = watcher.requests.clone();
        watcher.watcher = Some(notify::recommended_watcher(move |event| {
            let _ = tx.send(Message::Fs(event));
        })?);
        Ok(watcher)
    }

    /// One that watches no files: only [`ReloadRequests`] wake it (`--no-watch`).
    pub fn manual(root: &Path) -> InputWatcher {
        let (requests, events) = channel();
        InputWatcher {
            watcher: None,
            events,
            requests,
            root: root.to_path_buf(),
            inputs: BTreeSet::new(),
            armed: BTreeMap::new(),
            relevant: BTreeSet::new(),
        }
    }

    /// A watcher already watching `inputs`; when the system gives no watcher, that is logged and
    /// only requests reload.
    pub fn armed(root: &Path, inputs: &BTreeSet<PathBuf>) -> InputWatcher {
        match InputWatcher::new(root) {
            Ok(mut watcher) => {
                watcher.set_inputs(inputs.iter().map(PathBuf::as_path));
                watcher
            }
            Err(e) => {
                tracing::error!(target: "netboot::reload", error = %e, "cannot watch files; hot reload on edits is off (SIGHUP still reloads)");
                InputWatcher::manual(root)
            }
        }
    }

    /// A handle that wakes [`InputWatcher::next_change`] with [`Wake::Requested`].
    pub fn requests(&self) -> ReloadRequests {
        ReloadRequests(self.requests.clone())
    }

    /// Replaces the watched set with `inputs` (absolute paths). A directory already watched is
    /// watched again only if another directory now stands at its path.
    pub fn set_inputs<'a>(&mut self, inputs: impl IntoIterator<Item = &'a Path>) {
        self.inputs = inputs.into_iter().map(Path::to_path_buf).collect();
        self.arm(false);
    }

    /// Watches every directory again by its path, wherever its symlinks now lead. Call before
    /// reading the inputs: what changes after this is seen, whatever was swapped before.
    pub fn rearm(&mut self) {
        self.arm(true);
    }

    fn arm(&mut self, all: bool) {
        let Some(watcher) = self.watcher.as_mut() else {
            return;
        };
        let plan = Plan::of(&self.root, &self.inputs);
        for gone in self.armed.keys().filter(|d| !plan.dirs.contains(*d)) {
            // Fails when notify already dropped a watch whose directory was moved or deleted.
            let _ = watcher.unwatch(gone);
        }
        let mut armed = BTreeMap::new();
        for dir in plan.dirs {
            let id = DirId::of(&dir);
            match self.armed.get(&dir) {
                Some(was) if !all && id.is_some() && *was == id => {
                    armed.insert(dir, id);
                    continue;
                }
                Some(_) => {
                    let _ = watcher.unwatch(&dir);
                }
                None => {}
            }
            match watcher.watch(&dir, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    armed.insert(dir, id);
                }
                // Mid-swap, or a file that is missing: the watch on the directory above sees
                // it come back, and a reload that failed on it is retried.
                Err(e) if matches!(e.kind, notify::ErrorKind::PathNotFound) => {}
                Err(e) => {
                    tracing::warn!(target: "netboot::reload", dir = %dir.display(), error = %e,
                        "cannot watch directory; edits there will not reload");
                }
            }
        }
        self.armed = armed;
        self.relevant = plan.relevant;
    }

    /// Blocks until an input changes, then waits for the burst of events to settle and returns
    /// the changed paths; or returns [`Wake::RetryDue`] once `retry_after` has passed with no
    /// change. `None` when the watcher itself has stopped.
    pub fn next_change(&mut self, retry_after: Option<Duration>) -> Option<Wake> {
        let retry_at = retry_after.map(|d| Instant::now() + d);
        let mut changed = BTreeSet::new();
        // Only a relevant event restarts the settle time: a log file or anything else beside
        // the fleet that is written (or merely opened) more often than SETTLE would otherwise
        // put the reload off for as long as it goes on.
        let mut settle_at = Instant::now();
        loop {
            let wait = if changed.is_empty() {
                retry_at.map(|at| at.saturating_duration_since(Instant::now()))
            } else {
                Some(settle_at.saturating_duration_since(Instant::now()))
            };
            let event = match wait {
                None => self.events.recv().ok()?,
                Some(wait) => match self.events.recv_timeout(wait) {
                    Ok(event) => event,
                    Err(RecvTimeoutError::Timeout) if changed.is_empty() => {
                        return Some(Wake::RetryDue)
                    }
                    Err(RecvTimeoutError::Timeout) => return Some(Wake::Changed(changed)),
                    Err(RecvTimeoutError::Disconnected) => return None,
                },
            };
            match event {
                Message::Fs(Ok(event)) => {
                    let touched = touches(&event, &self.relevant);
                    if !touched.is_empty() {
                        settle_at = Instant::now() + SETTLE;
                        changed.extend(touched);
                    }
                }
                Message::Fs(Err(e)) => {
                    tracing::warn!(target: "netboot::reload", error = %e, "file watcher error")
                }
                // A reload reads every input anyway: changes gathered so far are part of it.
                Message::Requested => return Some(Wake::Requested),
            }
        }
    }
}

/// What to watch for a set of inputs, as the file system stands now.
#[derive(Debug, Default, PartialEq, Eq)]
struct Plan {
    /// Directories to watch, canonical.
    dirs: BTreeSet<PathBuf>,
    /// Paths whose events are changes: each input and each directory between the root and it,
    /// both as named and as the event from the canonical directory watch names them, and the
    /// file a symlinked input points at.
    relevant: BTreeSet<PathBuf>,
}

impl Plan {
    fn of(root: &Path, inputs: &BTreeSet<PathBuf>) -> Plan {
        let mut plan = Plan::default();
        for input in inputs {
            for entry in chain(root, input) {
                if let Some(parent) = entry.parent() {
                    let parent = canonical_or_same(parent);
                    if let Some(name) = entry.file_name() {
                        plan.relevant.insert(parent.join(name));
                    }
                    plan.dirs.insert(parent);
                }
                plan.relevant.insert(entry);
            }
            // A symlinked input (or one under a symlinked directory outside the root) is
            // edited where it really lives.
            if let Ok(target) = input.canonicalize() {
                if let Some(parent) = target.parent() {
                    plan.dirs.insert(parent.to_path_buf());
                }
                plan.relevant.insert(target);
            }
        }
        plan
    }
}

/// `input` and the directories between `root` and it (`root/a`, `root/a/b`, `root/a/b/input`);
/// just `input` when it is not plainly below `root` (elsewhere, or reached through `..`).
fn chain(root: &Path, input: &Path) -> Vec<PathBuf> {
    let Ok(below) = input.strip_prefix(root) else {
        return vec![input.to_path_buf()];
    };
    if !below
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
    {
        return vec![input.to_path_buf()];
    }
    let mut path = root.to_path_buf();
    below
        .components()
        .map(|c| {
            path.push(c);
            path.clone()
        })
        .collect()
}

fn canonical_or_same(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

/// Which directory stands at a path: a watch follows it, not the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DirId {
    dev: u64,
    ino: u64,
}

impl DirId {
    #[cfg(unix)]
    fn of(path: &Path) -> Option<DirId> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path).ok()?;
        Some(DirId {
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }

    /// Unknown: every arming watches it again.
    #[cfg(not(unix))]
    fn of(_: &Path) -> Option<DirId> {
        None
    }
}

/// The relevant paths an event concerns; reads and opens are not changes, attribute changes
/// (a chmod that makes a file readable again) are.
fn touches(event: &Event, relevant: &BTreeSet<PathBuf>) -> Vec<PathBuf> {
    if matches!(event.kind, EventKind::Access(_)) {
        return Vec::new();
    }
    event
        .paths
        .iter()
        .filter(|p| relevant.contains(p.as_path()))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SIGHUP's way in: a request wakes the reload thread whether or not files are watched.
    #[test]
    fn a_request_wakes_a_watching_and_a_manual_watcher() {
        let dir = tempfile::tempdir().unwrap();
        let mut manual = InputWatcher::manual(dir.path());
        manual.requests().request();
        assert_eq!(manual.next_change(None), Some(Wake::Requested));
        let mut watching = InputWatcher::new(dir.path()).unwrap();
        let requests = watching.requests();
        std::thread::spawn(move || requests.request());
        assert_eq!(watching.next_change(None), Some(Wake::Requested));
    }
    use notify::event::{AccessKind, CreateKind, MetadataKind, ModifyKind, RenameMode};

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
        let chmod = EventKind::Modify(ModifyKind::Metadata(MetadataKind::Permissions));
        assert_eq!(touches(&event(chmod, "/f/fleet.kdl"), &files).len(), 1);
    }

    #[test]
    fn directories_between_the_root_and_an_input_are_relevant_and_watched() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("tplA/sub")).unwrap();
        std::os::unix::fs::symlink("tplA", root.join("templates")).unwrap();
        let input = root.join("templates/sub/a.cfg");
        std::fs::write(root.join("tplA/sub/a.cfg"), "a").unwrap();

        let plan = Plan::of(&root, &[input.clone()].into());
        assert_eq!(
            plan.dirs,
            [root.clone(), root.join("tplA"), root.join("tplA/sub")].into()
        );
        for path in [
            root.join("templates"),
            root.join("templates/sub"),
            input,
            // What the watch on the link's target reports.
            root.join("tplA/sub"),
            root.join("tplA/sub/a.cfg"),
        ] {
            assert!(plan.relevant.contains(&path), "{}", path.display());
        }
        assert!(!plan.relevant.contains(&root));
    }

    #[test]
    fn an_input_outside_the_root_is_watched_in_its_own_directory_only() {
        let root = Path::new("/srv/fleet");
        assert_eq!(
            chain(root, Path::new("/usr/lib/ipxe/ipxe.efi")),
            [PathBuf::from("/usr/lib/ipxe/ipxe.efi")]
        );
        assert_eq!(
            chain(root, Path::new("/srv/fleet/../shared/k")),
            [PathBuf::from("/srv/fleet/../shared/k")]
        );
        assert_eq!(
            chain(root, Path::new("/srv/fleet/a/k")),
            [
                PathBuf::from("/srv/fleet/a"),
                PathBuf::from("/srv/fleet/a/k")
            ]
        );
    }

    #[test]
    fn an_editor_style_save_is_seen_once() {
        let dir = tempfile::tempdir().unwrap();
        let fleet = dir.path().join("fleet.kdl");
        std::fs::write(&fleet, "one").unwrap();
        let mut watcher = InputWatcher::new(dir.path()).unwrap();
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
        let changed = watcher.next_change(None).unwrap();
        writer.join().unwrap();
        assert_eq!(changed, Wake::Changed([fleet.clone()].into()));
        assert!(started.elapsed() < Duration::from_secs(5));

        // The watch survives the rename: a second in-place write is seen too.
        std::fs::write(&fleet, "three").unwrap();
        assert_eq!(
            watcher.next_change(None).unwrap(),
            Wake::Changed([fleet].into())
        );
    }

    /// A log beside the fleet written every few milliseconds once put every reload off for as
    /// long as it went on: each unrelated event restarted the settle time. The writer here stops
    /// by itself after 2,000 writes; the change must be seen while it still runs.
    #[test]
    fn unrelated_events_do_not_put_a_reload_off() {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        let dir = tempfile::tempdir().unwrap();
        let fleet = dir.path().join("fleet.kdl");
        std::fs::write(&fleet, "one").unwrap();
        let mut watcher = InputWatcher::new(dir.path()).unwrap();
        watcher.set_inputs([fleet.as_path()]);
        let (stop, done) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicBool::new(false)),
        );
        let writer = {
            let (log, stop, done) = (dir.path().join("serve.log"), stop.clone(), done.clone());
            std::thread::spawn(move || {
                for i in 0..2_000 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    std::fs::write(&log, format!("line {i}\n")).unwrap();
                    std::thread::sleep(Duration::from_millis(5));
                }
                done.store(true, Ordering::Relaxed);
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        std::fs::write(&fleet, "two").unwrap();
        let wake = watcher.next_change(None).unwrap();
        let writer_still_running = !done.load(Ordering::Relaxed);
        stop.store(true, Ordering::Relaxed);
        writer.join().unwrap();
        assert_eq!(wake, Wake::Changed([fleet].into()));
        assert!(
            writer_still_running,
            "the reload waited for the log writer to stop"
        );
    }

    /// A watcher on `root/templates/a.cfg`, with `root/fleet.kdl` too (as a fleet has).
    fn watching_a_template(root: &Path) -> InputWatcher {
        std::fs::write(root.join("fleet.kdl"), "fleet").unwrap();
        let mut watcher = InputWatcher::new(root).unwrap();
        watcher.set_inputs([
            root.join("fleet.kdl").as_path(),
            root.join("templates/a.cfg").as_path(),
        ]);
        watcher
    }

    fn changed(watcher: &mut InputWatcher) -> BTreeSet<PathBuf> {
        match watcher.next_change(Some(Duration::from_secs(5))) {
            Some(Wake::Changed(changed)) => changed,
            other => panic!("expected a change, got {other:?}"),
        }
    }

    #[test]
    fn a_symlinked_directory_swapped_by_rename_is_a_change_and_its_new_target_is_watched() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        for tpl in ["tplA", "tplB"] {
            std::fs::create_dir(root.join(tpl)).unwrap();
            std::fs::write(root.join(tpl).join("a.cfg"), tpl).unwrap();
        }
        std::os::unix::fs::symlink("tplA", root.join("templates")).unwrap();
        let mut watcher = watching_a_template(&root);

        std::os::unix::fs::symlink("tplB", root.join("t.new")).unwrap();
        std::fs::rename(root.join("t.new"), root.join("templates")).unwrap();
        assert!(changed(&mut watcher).contains(&root.join("templates")));

        // After a reload, the edit in the directory the link now names counts; one in the
        // directory it used to name does not.
        watcher.rearm();
        std::fs::write(root.join("tplA/a.cfg"), "A2").unwrap();
        std::fs::write(root.join("tplB/a.cfg"), "B2").unwrap();
        assert_eq!(
            changed(&mut watcher),
            [root.join("tplB/a.cfg")].into(),
            "only the live template"
        );
    }

    #[test]
    fn a_directory_swapped_by_two_renames_is_a_change_and_the_new_one_is_watched() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        for tpl in ["templates", "templates.new"] {
            std::fs::create_dir(root.join(tpl)).unwrap();
            std::fs::write(root.join(tpl).join("a.cfg"), tpl).unwrap();
        }
        let mut watcher = watching_a_template(&root);

        std::fs::rename(root.join("templates"), root.join("templates.old")).unwrap();
        std::fs::rename(root.join("templates.new"), root.join("templates")).unwrap();
        assert!(changed(&mut watcher).contains(&root.join("templates")));

        // set_inputs alone (as after a reload) notices the path holds another directory.
        watcher.set_inputs([
            root.join("fleet.kdl").as_path(),
            root.join("templates/a.cfg").as_path(),
        ]);
        std::fs::write(root.join("templates/a.cfg"), "new2").unwrap();
        assert_eq!(changed(&mut watcher), [root.join("templates/a.cfg")].into());
    }

    #[test]
    fn with_nothing_changing_a_retry_falls_due() {
        let dir = tempfile::tempdir().unwrap();
        let mut watcher = watching_a_template(dir.path());
        assert_eq!(
            watcher.next_change(Some(Duration::from_millis(50))),
            Some(Wake::RetryDue)
        );
    }
}
