//! The reserved HTTP paths and what answers them.
//!
//! `/`, `/metrics` and `/status.json` are looked at before the manifest, with one rule: a
//! manifest that lists the same route wins, so the status page can never hide a file the
//! fleet serves. (`/` is never a manifest route, and the compiler emits neither of the other
//! two; a hand-written manifest might.)

use std::time::SystemTime;

use netboot_manifest::Manifest;

use super::metrics::Gauges;
use super::recorder::Events;
use super::serving::Serving;
use super::{json, page};
use crate::install::InstallStore;
use crate::snapshot::Snapshot;

/// One of the status module's own answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// `/`: the HTML page.
    Status,
    /// `/metrics`: Prometheus text.
    Metrics,
    /// `/status.json`.
    Json,
}

impl Page {
    /// The page `target` (a request target as sent: `/`, `/metrics?x`) asks for, unless the
    /// manifest has a route of that name.
    pub fn for_target(target: &str, manifest: &Manifest) -> Option<Page> {
        reserved(target, |route| {
            manifest.files.get(route).is_some_and(|f| f.http)
        })
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Page::Status => "text/html; charset=utf-8",
            Page::Metrics => "text/plain; version=0.0.4; charset=utf-8",
            Page::Json => "application/json",
        }
    }

    /// The page's body, from what `events` recorded, the snapshot serving now and the
    /// install state (`None`: the server keeps none).
    pub fn render(
        self,
        events: &Events,
        snapshot: &Snapshot,
        install: Option<&InstallStore>,
        now: SystemTime,
    ) -> String {
        match self {
            Page::Status => page::render(&events.view(), &Serving::of(snapshot, install), now),
            Page::Json => json::render(&events.view(), &Serving::of(snapshot, install), now),
            // Scraped often: counters only, not a copy of every machine's history.
            Page::Metrics => {
                let (counters, machines) = events.counters();
                let installs = Serving::of(snapshot, install)
                    .installs
                    .into_values()
                    .map(|i| (i.host, i.state))
                    .collect();
                counters.render(Gauges {
                    routes_out_of_service: snapshot.broken().len(),
                    machines,
                    installs,
                })
            }
        }
    }
}

fn reserved(target: &str, listed: impl Fn(&str) -> bool) -> Option<Page> {
    let path = target.split(['?', '#']).next().unwrap_or(target);
    let (page, route) = match path {
        "/" => (Page::Status, ""),
        "/metrics" => (Page::Metrics, "metrics"),
        "/status.json" => (Page::Json, "status.json"),
        _ => return None,
    };
    (!listed(route)).then_some(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_paths_with_or_without_a_query() {
        let none = |_: &str| false;
        assert_eq!(reserved("/", none), Some(Page::Status));
        assert_eq!(reserved("/?refresh=1", none), Some(Page::Status));
        assert_eq!(reserved("/metrics", none), Some(Page::Metrics));
        assert_eq!(reserved("/status.json", none), Some(Page::Json));
        assert_eq!(reserved("/boot.ipxe", none), None);
        assert_eq!(reserved("/metrics/x", none), None);
        assert_eq!(reserved("metrics", none), None);
        assert_eq!(reserved("//", none), None);
    }

    #[test]
    fn a_manifest_route_of_the_same_name_wins() {
        let listed = |route: &str| route == "metrics";
        assert_eq!(reserved("/metrics", listed), None);
        assert_eq!(reserved("/status.json", listed), Some(Page::Json));
    }
}
