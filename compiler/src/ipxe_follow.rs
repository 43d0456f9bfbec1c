//! Follows the generated iPXE scripts the way iPXE would, for one machine on one platform
//! (what `netboot explain` and `netboot diff` report).
//!
//! The scripts are the compiler's own output, so only the commands its templates write are
//! understood: the flow of the entry, host, menu and profile scripts ([`CONTROL`]), and the
//! downloads each boot method declares (`methods`). Any other command is a
//! [`Step::Unknown`], never skipped in silence; a test renders every template and checks that
//! none is. A menu is not decided here: every item is followed, so the report shows each
//! choice the machine can make. Pure over the script texts, so it needs no server.

use std::collections::BTreeMap;

use crate::methods;

/// The commands the interpreter runs itself: flow, menus, `chain` (which follows a script
/// or boots a binary) and `echo` (a message, which changes nothing).
pub const CONTROL: &[&str] = &[
    "goto", "iseq", "exit", "boot", "menu", "item", "choose", "chain", "echo",
];

/// Whether the interpreter knows what iPXE does with `command`.
pub fn understands(command: &str) -> bool {
    CONTROL.contains(&command) || methods::fetch(command).is_some()
}

/// What a script leads to, in order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "step", rename_all = "kebab-case")]
pub enum Step {
    /// A script iPXE fetches and runs; its steps follow.
    Script { route: String },
    /// A file iPXE downloads: `role` is `chain` (a binary booted directly) or the role its
    /// boot method declares for the command (kernel, initrd, sanboot). `route` is a key of the manifest's files, or an absolute URL.
    Fetch {
        role: &'static str,
        route: String,
        /// The kernel command line, for `kernel`.
        #[serde(skip_serializing_if = "Option::is_none")]
        args: Option<String>,
        /// Whether the manifest serves it; `false` for a URL fetched from elsewhere.
        served: bool,
    },
    /// A menu: the machine's user (or the timeout) picks one of the items.
    Menu {
        title: String,
        timeout_seconds: Option<u64>,
        default: Option<String>,
        items: Vec<MenuItem>,
    },
    /// iPXE exits and the firmware tries its next boot device (usually the local disk).
    Exit,
    /// Back to a script already on this path (a submenu's "back" item).
    Back { route: String },
    /// The script names something the manifest does not serve.
    Missing { route: String },
    /// A command the interpreter does not know: what iPXE does next is not known either.
    Unknown { route: String, command: String },
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MenuItem {
    pub label: String,
    pub default: bool,
    pub steps: Vec<Step>,
}

/// How iPXE would see this machine.
pub struct Context<'a> {
    /// `${platform}`: `pcbios` or `efi`.
    pub platform: &'a str,
    /// `${mac:hexhyp}`.
    pub mac_hexhyp: String,
    /// Script text by route, `None` when the manifest does not list the route; `Some(None)`
    /// for a served file that is not a script.
    pub script: &'a dyn Fn(&str) -> Option<Option<String>>,
}

/// Scripts nest at most this deep (the compiler writes three levels: entry, host, menu/profile).
const MAX_DEPTH: usize = 16;

/// The steps after iPXE fetches `route` (which the caller already reported).
pub fn follow(route: &str, ctx: &Context) -> Vec<Step> {
    let mut path = vec![route.to_string()];
    run_script(route, None, ctx, &mut path)
}

fn run_script(
    route: &str,
    from_label: Option<&str>,
    ctx: &Context,
    path: &mut Vec<String>,
) -> Vec<Step> {
    let Some(Some(text)) = (ctx.script)(route) else {
        return vec![Step::Missing {
            route: route.to_string(),
        }];
    };
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let labels: BTreeMap<&str, usize> = lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| l.strip_prefix(':').map(|name| (name, i)))
        .collect();
    let mut steps = Vec::new();
    let mut pc = match from_label {
        Some(label) => match labels.get(label) {
            Some(&at) => at + 1,
            None => return steps,
        },
        None => 0,
    };
    let mut menu: Option<(String, Vec<(String, String)>)> = None;
    let mut executed = 0;
    while pc < lines.len() && executed < 10_000 {
        executed += 1;
        let line = lines[pc];
        pc += 1;
        if line.is_empty() || line.starts_with('#') || line.starts_with(':') {
            continue;
        }
        let (command, on_fail) = match line.split_once("||") {
            Some((c, f)) => (c.trim(), f.trim().strip_prefix("goto ").map(str::trim)),
            None => (line, None),
        };
        let words: Vec<&str> = command.split_whitespace().collect();
        let jump = |label: Option<&str>, pc: &mut usize| -> bool {
            match label.and_then(|l| labels.get(l)) {
                Some(&at) => {
                    *pc = at + 1;
                    true
                }
                None => false,
            }
        };
        match words.first().copied() {
            Some("goto") => {
                let jumped = jump(words.get(1).copied(), &mut pc);
                if !jumped {
                    return steps;
                }
            }
            Some("iseq") => {
                let a = expand(words.get(1).copied().unwrap_or(""), ctx);
                let b = expand(words.get(2).copied().unwrap_or(""), ctx);
                if a != b && !jump(on_fail, &mut pc) {
                    return steps;
                }
            }
            Some("exit") => {
                steps.push(Step::Exit);
                return steps;
            }
            Some("boot") => return steps,
            Some("menu") => menu = Some((words[1..].join(" "), Vec::new())),
            Some("item") => {
                let rest: Vec<&str> = words[1..]
                    .iter()
                    .copied()
                    .skip_while(|w| w.starts_with("--"))
                    .collect();
                if words.contains(&"--gap") || rest.is_empty() {
                    continue;
                }
                if let Some((_, items)) = &mut menu {
                    items.push((rest[0].to_string(), rest[1..].join(" ")));
                }
            }
            Some("choose") => {
                let (title, items) = menu.take().unwrap_or_default();
                let option = |name: &str| {
                    words
                        .windows(2)
                        .find(|w| w[0] == name)
                        .map(|w| w[1].to_string())
                };
                let default = option("--default");
                let timeout_seconds = option("--timeout")
                    .and_then(|t| t.parse::<u64>().ok())
                    .filter(|&ms| ms > 0)
                    .map(|ms| ms / 1000);
                let default_label = default
                    .as_ref()
                    .and_then(|d| items.iter().find(|(l, _)| l == d))
                    .map(|(_, text)| text.clone());
                let items = items
                    .into_iter()
                    .map(|(label, text)| MenuItem {
                        default: default.as_deref() == Some(label.as_str()),
                        steps: run_script(route, Some(&label), ctx, path),
                        label: text,
                    })
                    .collect();
                steps.push(Step::Menu {
                    title,
                    timeout_seconds,
                    default: default_label,
                    items,
                });
                return steps;
            }
            Some(cmd) if cmd == "chain" || methods::fetch(cmd).is_some() => {
                let mut args = &words[1..];
                while let Some(w) = args.first().filter(|w| w.starts_with("--")) {
                    // `--name NAME` takes a value; the other flags stand alone.
                    let skip = if *w == "--name" { 2 } else { 1 };
                    args = args.get(skip..).unwrap_or(&[]);
                }
                let Some((url, rest)) = args.split_first() else {
                    continue;
                };
                let url = *url;
                let target = resolve(route, &expand(url, ctx));
                let listed = target.as_deref().and_then(|t| (ctx.script)(t));
                match (cmd, &target, listed) {
                    ("chain", Some(t), Some(Some(_))) => {
                        steps.push(Step::Script { route: t.clone() });
                        if path.contains(t) || path.len() >= MAX_DEPTH {
                            steps.push(Step::Back { route: t.clone() });
                        } else {
                            path.push(t.clone());
                            steps.extend(run_script(t, None, ctx, path));
                            path.pop();
                        }
                        return steps;
                    }
                    ("chain", Some(_), None) if on_fail.is_some() => {
                        if !jump(on_fail, &mut pc) {
                            return steps;
                        }
                    }
                    (_, Some(t), Some(None)) | (_, Some(t), Some(Some(_))) => {
                        steps.push(Step::Fetch {
                            role: role(cmd),
                            route: t.clone(),
                            args: (cmd == "kernel").then(|| rest.join(" ")),
                            served: true,
                        });
                        if ends_script(cmd) {
                            return steps;
                        }
                    }
                    (_, Some(t), None) => {
                        steps.push(Step::Missing { route: t.clone() });
                        return steps;
                    }
                    (_, None, _) => {
                        steps.push(Step::Fetch {
                            role: role(cmd),
                            route: url.to_string(),
                            args: (cmd == "kernel").then(|| rest.join(" ")),
                            served: false,
                        });
                        if ends_script(cmd) {
                            return steps;
                        }
                    }
                }
            }
            Some("echo") | None => {}
            Some(command) => steps.push(Step::Unknown {
                route: route.to_string(),
                command: command.to_string(),
            }),
        }
    }
    steps
}

fn role(command: &str) -> &'static str {
    methods::fetch(command).map_or("chain", |f| f.role)
}

/// Whether iPXE leaves the script once `command` has fetched its file (it boots it).
fn ends_script(command: &str) -> bool {
    command == "chain" || methods::fetch(command).is_some_and(|f| f.ends_script)
}

fn expand(word: &str, ctx: &Context) -> String {
    word.replace("${platform}", ctx.platform)
        .replace("${mac:hexhyp}", &ctx.mac_hexhyp)
}

/// A URL relative to the script at `base` (both without a leading slash), or `None` for an
/// absolute URL that the fleet does not serve.
fn resolve(base: &str, url: &str) -> Option<String> {
    if url.contains("://") {
        return None;
    }
    let mut parts: Vec<&str> = if url.starts_with('/') {
        Vec::new()
    } else {
        let mut p: Vec<&str> = base.split('/').collect();
        p.pop();
        p
    };
    for seg in url.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scripts(list: &[(&str, &str)]) -> impl Fn(&str) -> Option<Option<String>> {
        let map: BTreeMap<String, String> = list
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |route: &str| match map.get(route) {
            Some(t) if t == "BINARY" => Some(None),
            Some(t) => Some(Some(t.clone())),
            None => None,
        }
    }

    #[test]
    fn relative_urls_resolve_against_the_script() {
        assert_eq!(
            resolve("hosts/a.ipxe", "../menus/m.ipxe").unwrap(),
            "menus/m.ipxe"
        );
        assert_eq!(
            resolve("boot.ipxe", "hosts/x.ipxe").unwrap(),
            "hosts/x.ipxe"
        );
        assert_eq!(resolve("a/b.ipxe", "/c").unwrap(), "c");
        assert_eq!(resolve("boot.ipxe", "https://x/y"), None);
    }

    #[test]
    fn unknown_machine_falls_through_to_the_default_and_platform_picks_the_binary() {
        let f = scripts(&[
            (
                "boot.ipxe",
                "#!ipxe\nchain --replace hosts/${mac:hexhyp}.ipxe || goto unknown\n:unknown\nchain --replace profiles/memtest.ipxe\n",
            ),
            (
                "profiles/memtest.ipxe",
                "iseq ${platform} efi || goto bios\nchain --replace ../artifacts/e\n:bios\nchain --replace ../artifacts/b\n",
            ),
            ("artifacts/e", "BINARY"),
            ("artifacts/b", "BINARY"),
        ]);
        let ctx = Context {
            platform: "pcbios",
            mac_hexhyp: "52-54-00-00-00-01".into(),
            script: &f,
        };
        let steps = follow("boot.ipxe", &ctx);
        assert_eq!(
            steps,
            vec![
                Step::Script {
                    route: "profiles/memtest.ipxe".into()
                },
                Step::Fetch {
                    role: "chain",
                    route: "artifacts/b".into(),
                    args: None,
                    served: true
                }
            ]
        );
    }

    #[test]
    fn menus_follow_every_item_and_stop_at_loops() {
        let f = scripts(&[
            (
                "menus/main.ipxe",
                ":start\nmenu Lab\nitem p-a Disk\nitem --gap\nitem m-r Rescue\nchoose --timeout 5000 --default p-a selected || goto cancel\ngoto ${selected}\n:p-a\nchain --replace ../profiles/a.ipxe || goto start\n:m-r\nchain --replace r.ipxe || goto start\n:cancel\nexit\n",
            ),
            ("profiles/a.ipxe", "exit\n"),
            (
                "menus/r.ipxe",
                "menu R\nitem back Back\nchoose selected\n:back\nchain --replace main.ipxe\n",
            ),
        ]);
        let ctx = Context {
            platform: "efi",
            mac_hexhyp: String::new(),
            script: &f,
        };
        let steps = follow("menus/main.ipxe", &ctx);
        let Step::Menu {
            title,
            timeout_seconds,
            default,
            items,
        } = &steps[0]
        else {
            panic!("{steps:?}")
        };
        assert_eq!(title, "Lab");
        assert_eq!(*timeout_seconds, Some(5));
        assert_eq!(default.as_deref(), Some("Disk"));
        assert_eq!(items.len(), 2);
        assert!(items[0].default);
        assert_eq!(items[0].steps[1], Step::Exit);
        let Step::Menu { items: sub, .. } = &items[1].steps[1] else {
            panic!("{items:?}")
        };
        assert_eq!(
            sub[0].steps,
            vec![
                Step::Script {
                    route: "menus/main.ipxe".into()
                },
                Step::Back {
                    route: "menus/main.ipxe".into()
                }
            ]
        );
    }

    #[test]
    fn kernel_keeps_its_command_line_and_a_missing_file_is_named() {
        let f = scripts(&[
            (
                "p.ipxe",
                "kernel k initrd=i quiet\ninitrd --name i i\ninitrd gone\nboot\n",
            ),
            ("k", "BINARY"),
            ("i", "BINARY"),
        ]);
        let ctx = Context {
            platform: "efi",
            mac_hexhyp: String::new(),
            script: &f,
        };
        let steps = follow("p.ipxe", &ctx);
        assert_eq!(steps.len(), 3);
        assert!(
            matches!(&steps[0], Step::Fetch { role: "kernel", args: Some(a), .. } if a == "initrd=i quiet")
        );
        assert_eq!(
            steps[2],
            Step::Missing {
                route: "gone".into()
            }
        );
    }

    #[test]
    fn hostile_scripts_end_without_panics_or_endless_loops() {
        let f = scripts(&[
            ("spin.ipxe", ":a\ngoto a\n"),
            ("self.ipxe", "chain --replace self.ipxe\n"),
            (
                "odd.ipxe",
                "goto\niseq\nchain\nkernel\ninitrd --name\nitem\nchoose --timeout\nmenu\n:\n||\n",
            ),
            ("deep.ipxe", "chain ../../../../x.ipxe || goto nowhere\n"),
            (
                "unknown.ipxe",
                "#!ipxe\necho hello\nimgtrust --permanent\nexit\n",
            ),
        ]);
        let ctx = Context {
            platform: "efi",
            mac_hexhyp: String::new(),
            script: &f,
        };
        assert!(follow("spin.ipxe", &ctx).is_empty());
        assert_eq!(
            follow("self.ipxe", &ctx),
            vec![
                Step::Script {
                    route: "self.ipxe".into()
                },
                Step::Back {
                    route: "self.ipxe".into()
                }
            ]
        );
        let _ = follow("odd.ipxe", &ctx);
        assert_eq!(
            follow("unknown.ipxe", &ctx),
            vec![
                Step::Unknown {
                    route: "unknown.ipxe".into(),
                    command: "imgtrust".into()
                },
                Step::Exit
            ]
        );
        assert!(follow("deep.ipxe", &ctx).is_empty());
        assert_eq!(
            follow("absent.ipxe", &ctx),
            vec![Step::Missing {
                route: "absent.ipxe".into()
            }]
        );
    }
}
