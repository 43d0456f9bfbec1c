//! The lifecycle's two decisions, pure functions of the request path, the manifest and the
//! state as loaded (or the reason it could not be), so every rule is a unit test.

use std::net::IpAddr;

use netboot_manifest::{install_token, InstallLifecycle, MacAddr, Manifest, DONE_PREFIX};

use super::state_file::{InstallRecord, InstallState};

/// The script to serve instead of `path`, when `path` is a lifecycle host's everyday script
/// and the machine has not reported its current generation installed. `None`: serve `path`
/// as asked. An unreadable state (`Err`) never yields the installer.
pub fn script_for<'m>(
    path: &str,
    manifest: &'m Manifest,
    state: Result<&InstallState, &str>,
) -> Option<&'m str> {
    let mac: MacAddr = path
        .strip_prefix("hosts/")?
        .strip_suffix(".ipxe")?
        .parse()
        .ok()?;
    let host = manifest.hosts.get(&mac)?;
    let install = host.install.as_ref()?;
    if host.script != path {
        return None;
    }
    let record = state.ok()?.get(&mac);
    (next(install, record) == Next::Install).then_some(install.script.as_str())
}

/// Which of a lifecycle host's two profiles it boots now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Next {
    /// Its current generation is not reported yet: the install profile.
    Install,
    /// Reported at its generation or a later one: the `then` profile.
    Then,
}

/// The lifecycle rule, in one place for the server, the status page and the commands: a
/// machine installs until it has reported its current generation (or a later one) installed.
/// A state that cannot be read is the caller's to turn into [`Next::Then`].
pub fn next(install: &InstallLifecycle, record: Option<&InstallRecord>) -> Next {
    let installed = record.map_or(0, |r| r.generation);
    if installed < install.generation {
        Next::Install
    } else {
        Next::Then
    }
}

/// What a done report amounts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    /// Record this; the machine boots `then` from now on.
    Record { mac: MacAddr, record: InstallRecord },
    /// This generation (or a later one) is recorded already: nothing changes.
    AlreadyDone { host: String, generation: u32 },
    /// Refused with an HTTP status; nothing changes.
    Refused { status: u16, reason: &'static str },
}

/// Checks a report at `path` (`install-done/<host>/<generation>/<token>`, no leading slash)
/// from `from` at `now` against the manifest and the state.
pub fn done(
    path: &str,
    manifest: &Manifest,
    state: Result<&InstallState, &str>,
    from: IpAddr,
    now: u64,
) -> Done {
    let refused = |status, reason| Done::Refused { status, reason };
    let Some(rest) = path.strip_prefix(DONE_PREFIX) else {
        return refused(404, "not a done report");
    };
    let parts: Vec<&str> = rest.split('/').collect();
    let [name, generation, token] = parts[..] else {
        return refused(404, "expected install-done/<host>/<generation>/<token>");
    };
    let Some((&mac, host)) = manifest.hosts.iter().find(|(_, h)| h.name == name) else {
        return refused(404, "no such machine");
    };
    let Some(install) = &host.install else {
        return refused(404, "this machine has no install lifecycle");
    };
    // Digits only: `+3`, ` 3` or `03` are not the generation the URL was made for.
    let generation = match generation.parse::<u32>() {
        Ok(g) if g.to_string() == generation => g,
        _ => return refused(400, "the generation is not a number"),
    };
    // Checked against the URL's own generation first, so a stale URL with its real token
    // is told "stale", and a forged one only "forbidden".
    if !same(
        token.as_bytes(),
        install_token(name, mac, generation).as_bytes(),
    ) {
        return refused(403, "wrong token for this machine and generation");
    }
    if generation != install.generation {
        return refused(409, "not the generation the fleet installs now");
    }
    let state = match state {
        Ok(s) => s,
        // Writing now would throw away every other machine's record.
        Err(_) => return refused(503, "the install state cannot be read"),
    };
    if state.get(&mac).is_some_and(|r| r.generation >= generation) {
        return Done::AlreadyDone {
            host: host.name.clone(),
            generation,
        };
    }
    Done::Record {
        mac,
        record: InstallRecord {
            host: host.name.clone(),
            generation,
            at: now,
            address: from,
        },
    }
}

/// Constant-time comparison, so the time to refuse says nothing about how much was right.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use netboot_manifest::{Host, InstallLifecycle};
    use std::collections::BTreeMap;
    use std::net::Ipv4Addr;

    const WEB1: MacAddr = MacAddr([0x52, 0x54, 0, 0, 0, 1]);
    const WEB2: MacAddr = MacAddr([0x52, 0x54, 0, 0, 0, 2]);
    const DESK: MacAddr = MacAddr([0x52, 0x54, 0, 0, 0, 3]);

    fn manifest() -> Manifest {
        let mut m = Manifest::serving(BTreeMap::new(), ".");
        for (mac, name, generation) in [(WEB1, "web1", 3), (WEB2, "web2", 1)] {
            let hyp = mac.hexhyp();
            m.hosts.insert(
                mac,
                Host {
                    name: name.into(),
                    group: None,
                    boots: "profile:local-disk".into(),
                    script: format!("hosts/{hyp}.ipxe"),
                    install: Some(InstallLifecycle {
                        profile: "debian-auto".into(),
                        then: "local-disk".into(),
                        generation,
                        script: format!("hosts/{hyp}.install.ipxe"),
                    }),
                    secure_boot: false,
                },
            );
        }
        m.hosts.insert(
            DESK,
            Host {
                name: "desk".into(),
                group: None,
                boots: "menu:main".into(),
                script: "hosts/52-54-00-00-00-03.ipxe".into(),
                install: None,
                secure_boot: false,
            },
        );
        m
    }

    fn url(name: &str, mac: MacAddr, generation: u32) -> String {
        netboot_manifest::install_done_path(name, mac, generation)
    }

    const FROM: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9));

    fn installed(mac: MacAddr, name: &str, generation: u32) -> InstallState {
        let mut s = InstallState::new();
        s.insert(
            mac,
            InstallRecord {
                host: name.into(),
                generation,
                at: 1,
                address: FROM,
            },
        );
        s
    }

    #[test]
    fn a_pending_machine_gets_its_installer_until_its_generation_is_reported() {
        let m = manifest();
        let path = "hosts/52-54-00-00-00-01.ipxe";
        let install = Some("hosts/52-54-00-00-00-01.install.ipxe");
        assert_eq!(script_for(path, &m, Ok(&InstallState::new())), install);
        assert_eq!(
            script_for(path, &m, Ok(&installed(WEB1, "web1", 2))),
            install
        );
        assert_eq!(script_for(path, &m, Ok(&installed(WEB1, "web1", 3))), None);
        assert_eq!(script_for(path, &m, Ok(&installed(WEB1, "web1", 4))), None);
        // Another machine's record changes nothing for this one.
        assert_eq!(
            script_for(path, &m, Ok(&installed(WEB2, "web2", 9))),
            install
        );
    }

    #[test]
    fn an_unreadable_state_never_yields_the_installer() {
        let m = manifest();
        assert_eq!(
            script_for("hosts/52-54-00-00-00-01.ipxe", &m, Err("damaged")),
            None
        );
    }

    #[test]
    fn other_paths_are_served_as_asked() {
        let m = manifest();
        let empty = InstallState::new();
        for path in [
            "hosts/52-54-00-00-00-03.ipxe",
            "hosts/52-54-00-00-00-01.install.ipxe",
            "hosts/52-54-00-00-00-09.ipxe",
            "hosts/52:54:00:00:00:01.ipxe",
            "boot.ipxe",
        ] {
            assert_eq!(script_for(path, &m, Ok(&empty)), None, "{path}");
        }
    }

    #[test]
    fn the_current_generation_with_its_token_is_recorded() {
        let m = manifest();
        let got = done(
            &url("web1", WEB1, 3),
            &m,
            Ok(&InstallState::new()),
            FROM,
            77,
        );
        assert_eq!(
            got,
            Done::Record {
                mac: WEB1,
                record: InstallRecord {
                    host: "web1".into(),
                    generation: 3,
                    at: 77,
                    address: FROM
                }
            }
        );
        // Reported again (a retrying wget): 200, nothing new.
        let again = done(
            &url("web1", WEB1, 3),
            &m,
            Ok(&installed(WEB1, "web1", 3)),
            FROM,
            78,
        );
        assert_eq!(
            again,
            Done::AlreadyDone {
                host: "web1".into(),
                generation: 3
            }
        );
    }

    #[test]
    fn hostile_reports_change_nothing() {
        let m = manifest();
        let empty = InstallState::new();
        let status = |path: &str| match done(path, &m, Ok(&empty), FROM, 1) {
            Done::Refused { status, .. } => status,
            other => panic!("{path}: {other:?}"),
        };
        let good = url("web1", WEB1, 3);
        let token = good.rsplit('/').next().unwrap();
        // Another machine's own, valid token used for this one.
        let web2_token = url("web2", WEB2, 1);
        let web2_token = web2_token.rsplit('/').next().unwrap();
        assert_eq!(status(&format!("install-done/web1/3/{web2_token}")), 403);
        assert_eq!(status(&format!("install-done/web2/1/{token}")), 403);
        // Wrong, short, long, upper-case tokens.
        assert_eq!(
            status(&format!("install-done/web1/3/{}", "0".repeat(32))),
            403
        );
        assert_eq!(
            status(&format!("install-done/web1/3/{}", &token[..31])),
            403
        );
        assert_eq!(status(&format!("install-done/web1/3/{token}0")), 403);
        assert_eq!(
            status(&format!("install-done/web1/3/{}", token.to_uppercase())),
            403
        );
        // A replay of an older generation's real URL, and a future one's.
        assert_eq!(status(&url("web1", WEB1, 2)), 409);
        assert_eq!(status(&url("web1", WEB1, 4)), 409);
        // Unknown machines and machines without a lifecycle.
        assert_eq!(status(&url("web9", WEB1, 3)), 404);
        assert_eq!(status(&url("desk", DESK, 1)), 404);
        // Malformed and traversal-shaped paths.
        assert_eq!(status(&format!("install-done/web1/03/{token}")), 400);
        assert_eq!(status(&format!("install-done/web1/+3/{token}")), 400);
        assert_eq!(status(&format!("install-done/web1/3/{token}/")), 404);
        assert_eq!(status(&format!("install-done/../web1/3/{token}")), 404);
        assert_eq!(status(&format!("install-done/web1/3/../../{token}")), 404);
        assert_eq!(status("install-done/web1"), 404);
        assert_eq!(status("install-done/"), 404);
        assert_eq!(status("boot.ipxe"), 404);
    }

    #[test]
    fn a_report_while_the_state_is_unreadable_is_refused_not_written() {
        let m = manifest();
        let got = done(&url("web1", WEB1, 3), &m, Err("damaged"), FROM, 1);
        assert!(matches!(got, Done::Refused { status: 503, .. }), "{got:?}");
    }
}
