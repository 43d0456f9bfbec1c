//! For the log-line tests: a tracing subscriber that keeps every event's fields, level and
//! target as strings, and waits for a line.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

pub type Line = BTreeMap<String, String>;

/// Every event seen since [`Events::install`].
#[derive(Clone, Default)]
pub struct Events(Arc<Mutex<Vec<Line>>>);

impl Events {
    /// Captures this process's events from now on (once per test binary).
    pub fn install() -> Events {
        let events = Events::default();
        tracing::subscriber::set_global_default(Capture(events.clone())).unwrap();
        events
    }

    /// The first line with `message` and every field of `want`.
    pub fn find(&self, message: &str, want: &[(&str, &str)]) -> Option<Line> {
        let matches = |e: &Line| {
            e.get("message").map(String::as_str) == Some(message)
                && want
                    .iter()
                    .all(|(k, v)| e.get(*k).map(String::as_str) == Some(*v))
        };
        self.0.lock().unwrap().iter().find(|e| matches(e)).cloned()
    }

    /// Every line with `message`, oldest first.
    pub fn all(&self, message: &str) -> Vec<Line> {
        let lines = self.0.lock().unwrap();
        let with = |e: &&Line| e.get("message").map(String::as_str) == Some(message);
        lines.iter().filter(with).cloned().collect()
    }

    /// [`Events::find`], waiting up to 10 s (blocking: for servers on their own runtime).
    pub fn wait_for(&self, message: &str, want: &[(&str, &str)]) -> Line {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(line) = self.find(message, want) {
                return line;
            }
            self.check(deadline, message, want);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// [`Events::wait_for`] inside the server's own runtime.
    pub async fn wait_for_async(&self, message: &str, want: &[(&str, &str)]) -> Line {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(line) = self.find(message, want) {
                return line;
            }
            self.check(deadline, message, want);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn check(&self, deadline: Instant, message: &str, want: &[(&str, &str)]) {
        assert!(
            Instant::now() < deadline,
            "no {message:?} with {want:?} in {:#?}",
            self.0.lock().unwrap()
        );
    }
}

struct Capture(Events);

struct Fields<'a>(&'a mut Line);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        fields.insert("level".into(), event.metadata().level().to_string());
        fields.insert("target".into(), event.metadata().target().to_string());
        (self.0).0.lock().unwrap().push(fields);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}
