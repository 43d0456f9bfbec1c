//! What signed GRUB does with the configs the compiler writes for the Secure Boot chain
//! (`generate/grub.rs`): `grub/grub.cfg` dispatches by `configfile` to the machine's own
//! config or the default one, whose menu level (`set timeout`, `set default`, `menuentry`,
//! `submenu`) boots an entry's `linux` / `initrd`, `chainloader` or `exit`. The result is the
//! same [`Step`]s as [`crate::ipxe_follow`], so one walker follows either chain.
//!
//! Only the commands the compiler writes are understood; anything else is a
//! [`Step::Unknown`], since what GRUB does next is then not known either.

use crate::ipxe_follow::{MenuItem, Step};

/// How GRUB would see this machine.
pub struct Context<'a> {
    /// `$net_default_mac`: lower case with colons, as the manifest writes MACs.
    pub mac: String,
    /// Config text by route: `None` when the manifest does not serve the route, `Some(None)`
    /// for a served file that is not a config.
    pub config: &'a dyn Fn(&str) -> Option<Option<String>>,
}

/// The prefix built into Debian's signed network GRUB: `/grub` on the TFTP server.
const PREFIX: &str = "grub";

/// Configs nest at most this deep (the compiler writes two: grub.cfg, then the machine's).
const MAX_DEPTH: usize = 8;

/// The steps after GRUB reads `route` (which the caller already reported).
pub fn follow(route: &str, ctx: &Context) -> Vec<Step> {
    run_config(route, ctx, 0)
}

fn run_config(route: &str, ctx: &Context, depth: usize) -> Vec<Step> {
    let text = match (ctx.config)(route) {
        Some(Some(text)) => text,
        Some(None) | None => {
            return vec![Step::Missing {
                route: route.to_string(),
            }]
        }
    };
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let mut at = 0;
    level(route, route, &lines, &mut at, ctx, depth)
}

/// One menu level, up to its closing `}` (or the end of the file): what GRUB runs before the
/// menu, then the menu itself, the default entry standing for it when nothing else is shown.
fn level(
    route: &str,
    title: &str,
    lines: &[&str],
    at: &mut usize,
    ctx: &Context,
    depth: usize,
) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut timeout: Option<u64> = None;
    let mut default: Option<String> = None;
    let mut items: Vec<(String, String, Vec<Step>)> = Vec::new();
    while *at < lines.len() {
        let line = lines[*at];
        *at += 1;
        if line.is_empty() || line.starts_with('#') || line.starts_with("echo ") {
            continue;
        }
        if line == "}" {
            break;
        }
        if let Some(path) = line.strip_prefix("configfile ") {
            let target = path
                .trim()
                .replace("$prefix", PREFIX)
                .replace("$net_default_mac", &ctx.mac);
            let target = target.trim_start_matches('/').to_string();
            // GRUB cannot test for a file over TFTP: a config that is not served fails to
            // load, and the next line runs.
            if (ctx.config)(&target).is_none() {
                continue;
            }
            steps.push(Step::Script {
                route: target.clone(),
            });
            if depth >= MAX_DEPTH {
                steps.push(unknown(route, line));
                return steps;
            }
            steps.extend(run_config(&target, ctx, depth + 1));
            return steps;
        }
        if let Some(v) = line.strip_prefix("set timeout=") {
            timeout = v.trim().parse().ok();
            continue;
        }
        if let Some(v) = line.strip_prefix("set default=") {
            default = Some(v.trim().to_string());
            continue;
        }
        if let Some((keyword, label, id)) = block_header(line) {
            let body = if keyword == "submenu" {
                level(route, &label, lines, at, ctx, depth)
            } else {
                entry(route, lines, at)
            };
            items.push((label, id, body));
            continue;
        }
        if line == "exit" {
            steps.push(Step::Exit);
            return steps;
        }
        steps.push(unknown(route, line));
        return steps;
    }
    if items.is_empty() {
        return steps;
    }
    // A profile's own config: one entry, booted at once.
    if items.len() == 1 && timeout == Some(0) {
        steps.extend(items.remove(0).2);
        return steps;
    }
    let default_at = default
        .as_deref()
        .and_then(|d| items.iter().position(|(_, id, _)| id == d));
    steps.push(Step::Menu {
        title: title.to_string(),
        // GRUB waits for a key when no timeout is set.
        timeout_seconds: timeout,
        default: default.clone(),
        items: items
            .into_iter()
            .enumerate()
            .map(|(i, (label, _, steps))| MenuItem {
                label,
                default: Some(i) == default_at,
                steps,
            })
            .collect(),
    });
    steps
}

/// A `menuentry`'s commands, up to its closing `}`.
fn entry(route: &str, lines: &[&str], at: &mut usize) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut stopped = false;
    while *at < lines.len() {
        let line = lines[*at];
        *at += 1;
        if line == "}" {
            break;
        }
        if stopped || line.is_empty() || line.starts_with('#') || line.starts_with("echo ") {
            continue;
        }
        let (command, rest) = line.split_once(' ').unwrap_or((line, ""));
        match command {
            "linux" => {
                let (path, args) = rest.split_once(' ').unwrap_or((rest, ""));
                steps.push(fetch("kernel", path, Some(args.trim().to_string())));
            }
            "initrd" => steps.extend(rest.split_whitespace().map(|p| fetch("initrd", p, None))),
            "chainloader" => steps.push(fetch("chain", rest.trim(), None)),
            "exit" => {
                steps.push(Step::Exit);
                stopped = true;
            }
            _ => {
                steps.push(unknown(route, line));
                stopped = true;
            }
        }
    }
    steps
}

/// `menuentry 'label' --id ID {` or `submenu …`: the keyword, the label, the id.
fn block_header(line: &str) -> Option<(&'static str, String, String)> {
    let keyword = ["menuentry", "submenu"]
        .into_iter()
        .find(|k| line.starts_with(&format!("{k} ")))?;
    let rest = line[keyword.len()..].trim().strip_suffix('{')?.trim_end();
    let (label, id) = rest.rsplit_once(" --id ")?;
    Some((keyword, unquote(label.trim()), id.trim().to_string()))
}

/// A label as `quote` in generate/grub.rs writes it: single quotes, `'\''` for a quote.
fn unquote(text: &str) -> String {
    text.strip_prefix('\'')
        .and_then(|t| t.strip_suffix('\''))
        .map_or_else(|| text.to_string(), |t| t.replace("'\\''", "'"))
}

/// A file GRUB loads: `(tftp)/route` (or `/route`, on its TFTP root) is served by the fleet
/// when the manifest lists it; anything else comes from elsewhere.
fn fetch(role: &'static str, path: &str, args: Option<String>) -> Step {
    let local = path
        .strip_prefix("(tftp)/")
        .or_else(|| path.strip_prefix('/'));
    Step::Fetch {
        role,
        route: local.unwrap_or(path).to_string(),
        args,
        served: local.is_some(),
    }
}

fn unknown(route: &str, line: &str) -> Step {
    Step::Unknown {
        route: route.to_string(),
        command: line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// The configs the compiler writes for tests/fixtures/vm/secure-boot.kdl.
    fn configs() -> BTreeMap<&'static str, &'static str> {
        BTreeMap::from([
            (
                "grub/grub.cfg",
                "# Generated by netboot\nconfigfile $prefix/hosts/$net_default_mac.cfg\nconfigfile $prefix/default.cfg\n",
            ),
            (
                "grub/hosts/52:54:00:5b:00:01.cfg",
                "# Host secure\nset timeout=0\nset default=p-signed\nmenuentry 'signed' --id p-signed {\n    linux (tftp)/artifacts/kernel console=ttyS0 host=secure\n    initrd (tftp)/artifacts/initrd\n}\n",
            ),
            (
                "grub/default.cfg",
                "# Everyone else\nset timeout=3\nset default=m-tools\nmenuentry 'Rescue' --id p-rescue {\n    linux (tftp)/artifacts/kernel rescue\n    initrd (tftp)/artifacts/initrd\n}\nsubmenu 'It'\\''s tools' --id m-tools {\n    set timeout=2\n    set default=p-disk\n    menuentry 'Disk' --id p-disk {\n        exit\n    }\n}\n",
            ),
            ("artifacts/kernel", ""),
            ("artifacts/initrd", ""),
        ])
    }

    fn steps(mac: &str) -> Vec<Step> {
        let files = configs();
        let config = |r: &str| {
            files
                .get(r)
                .map(|t| (!r.starts_with("artifacts/")).then(|| t.to_string()))
        };
        follow(
            "grub/grub.cfg",
            &Context {
                mac: mac.into(),
                config: &config,
            },
        )
    }

    #[test]
    fn a_host_with_its_own_config_boots_its_entry_at_once() {
        assert_eq!(
            steps("52:54:00:5b:00:01"),
            [
                Step::Script {
                    route: "grub/hosts/52:54:00:5b:00:01.cfg".into()
                },
                Step::Fetch {
                    role: "kernel",
                    route: "artifacts/kernel".into(),
                    args: Some("console=ttyS0 host=secure".into()),
                    served: true
                },
                Step::Fetch {
                    role: "initrd",
                    route: "artifacts/initrd".into(),
                    args: None,
                    served: true
                },
            ]
        );
    }

    #[test]
    fn an_unknown_machine_falls_through_to_the_default_menu_and_its_submenu() {
        let s = steps("52:54:00:99:99:99");
        assert_eq!(
            s[0],
            Step::Script {
                route: "grub/default.cfg".into()
            }
        );
        let Step::Menu {
            timeout_seconds,
            items,
            ..
        } = &s[1]
        else {
            panic!("{s:?}")
        };
        assert_eq!(*timeout_seconds, Some(3));
        assert_eq!(items[0].label, "Rescue");
        assert!(!items[0].default);
        assert_eq!(items[1].label, "It's tools");
        assert!(items[1].default);
        let Step::Menu { items: sub, .. } = &items[1].steps[0] else {
            panic!("{items:?}")
        };
        assert_eq!(sub[0].steps, [Step::Exit]);
        assert!(sub[0].default);
    }

    #[test]
    fn a_command_grub_config_of_ours_never_holds_is_unknown() {
        let config = |r: &str| {
            (r == "grub/grub.cfg").then(|| Some("insmod http\nconfigfile x\n".to_string()))
        };
        let s = follow(
            "grub/grub.cfg",
            &Context {
                mac: String::new(),
                config: &config,
            },
        );
        assert_eq!(
            s,
            [Step::Unknown {
                route: "grub/grub.cfg".into(),
                command: "insmod http".into()
            }]
        );
    }
}
