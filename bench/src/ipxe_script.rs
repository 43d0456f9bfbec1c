//! The part of an iPXE script a simulated machine acts on: `kernel`, `initrd`, `chain`, `goto`
//! and labels, `boot` and `exit`; every other command (echo, menus, settings) is skipped, as
//! are the image options iPXE takes (`--replace`, `--name x` ...). URLs are resolved against
//! the script's own URL, as iPXE does.

use std::collections::HashMap;
use std::net::SocketAddr;

/// One command of a script, its URL resolved and its variables expanded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Fetch and run another script; on failure go to `fallback` (`|| goto LABEL`) or fail.
    Chain {
        url: String,
        fallback: Option<String>,
    },
    Kernel(String),
    Initrd(String),
    Goto(String),
    Boot,
    Exit,
}

/// A parsed script: its commands and where each label points.
#[derive(Debug, Default)]
pub struct Script {
    pub commands: Vec<Command>,
    labels: HashMap<String, usize>,
}

impl Script {
    /// The index of the command after `label`.
    pub fn label(&self, label: &str) -> Option<usize> {
        self.labels.get(label).copied()
    }
}

/// Parses `text`, fetched from `base` (an http:// URL), expanding `${name}` from `vars`
/// (unknown settings expand to nothing, as in iPXE).
pub fn parse(text: &str, base: &str, vars: &[(&str, String)]) -> Result<Script, String> {
    let mut lines = text.lines();
    if !lines
        .next()
        .is_some_and(|l| l.trim_end().eq_ignore_ascii_case("#!ipxe"))
    {
        return Err(format!("{base} is not an iPXE script (no #!ipxe line)"));
    }
    let mut script = Script::default();
    for line in lines {
        let line = expand(line.trim(), vars);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(label) = line.strip_prefix(':') {
            script
                .labels
                .insert(label.trim().to_string(), script.commands.len());
            continue;
        }
        let (main, fallback) = match line.split_once("||") {
            Some((main, rest)) => {
                let mut words = rest.split_whitespace();
                let target = match (words.next(), words.next()) {
                    (Some("goto"), Some(label)) => Some(label.to_string()),
                    _ => None,
                };
                (main, target)
            }
            None => (line.as_str(), None),
        };
        let mut words = main.split_whitespace();
        let Some(name) = words.next() else { continue };
        let first_argument = || {
            let mut words = main.split_whitespace().skip(1);
            while let Some(w) = words.next() {
                match w {
                    // Image options that take a value as the next word.
                    "--name" | "-n" | "--timeout" | "-t" => {
                        words.next();
                    }
                    w if w.starts_with('-') => {}
                    w => return Some(w),
                }
            }
            None
        };
        let url = || -> Result<String, String> {
            let reference = first_argument().ok_or(format!("{name} without a URL in {base}"))?;
            resolve(base, reference)
        };
        let command = match name {
            "chain" | "imgexec" => Command::Chain {
                url: url()?,
                fallback,
            },
            "kernel" | "imgselect" => Command::Kernel(url()?),
            "initrd" | "imgfetch" | "module" => Command::Initrd(url()?),
            "goto" => Command::Goto(
                words
                    .next()
                    .ok_or(format!("goto without a label in {base}"))?
                    .to_string(),
            ),
            "boot" => Command::Boot,
            "exit" => Command::Exit,
            _ => continue,
        };
        script.commands.push(command);
    }
    Ok(script)
}

/// `${name}` and `${name:type}` settings replaced by their values.
fn expand(line: &str, vars: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let name = &rest[start + 2..start + len];
        if let Some((_, value)) = vars.iter().find(|(n, _)| *n == name) {
            out.push_str(value);
        }
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    out
}

/// `reference` resolved against `base` (RFC 3986 section 5.2, for http:// URLs without query).
pub fn resolve(base: &str, reference: &str) -> Result<String, String> {
    if reference.contains("://") {
        return Ok(reference.to_string());
    }
    let rest = base
        .strip_prefix("http://")
        .ok_or(format!("base {base:?} is not an http:// URL"))?;
    let (authority, base_path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let merged = if reference.starts_with('/') {
        reference.to_string()
    } else {
        let dir = &base_path[..base_path.rfind('/').map_or(0, |i| i + 1)];
        format!("{dir}{reference}")
    };
    Ok(format!("http://{authority}{}", remove_dots(&merged)))
}

/// RFC 3986 5.2.4: `.` and `..` segments removed; `..` above the root stays at the root.
fn remove_dots(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *segment {
            "." => {
                if last {
                    out.push("");
                }
            }
            ".." => {
                out.pop();
                if last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

/// An `http://IP:PORT/path` URL as the bench's HTTP client takes it (no names, no TLS).
pub fn split_http(url: &str) -> Result<(SocketAddr, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or(format!("{url:?} is not an http:// URL"))?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let addr = if authority.contains(':') {
        authority.parse()
    } else {
        format!("{authority}:80").parse()
    }
    .map_err(|_| format!("{url:?}: {authority:?} is not IP:PORT"))?;
    Ok((addr, path.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "http://127.0.0.1:18080/boot.ipxe";

    #[test]
    fn netboot_entry_script_chains_by_mac_then_falls_back() {
        let text = "#!ipxe\n# Entry script\n\nchain --replace hosts/${mac:hexhyp}.ipxe || goto unknown\n\n:unknown\n# Everyone else\nchain --replace menus/main.ipxe\n";
        let s = parse(text, BASE, &[("mac:hexhyp", "52-54-00-00-00-01".into())]).unwrap();
        assert_eq!(
            s.commands,
            vec![
                Command::Chain {
                    url: "http://127.0.0.1:18080/hosts/52-54-00-00-00-01.ipxe".into(),
                    fallback: Some("unknown".into())
                },
                Command::Chain {
                    url: "http://127.0.0.1:18080/menus/main.ipxe".into(),
                    fallback: None
                },
            ]
        );
        assert_eq!(s.label("unknown"), Some(1));
        assert_eq!(s.label("nope"), None);
    }

    #[test]
    fn profile_script_kernel_initrd_boot_with_relative_urls() {
        let text = "#!ipxe\nkernel ../artifacts/kernel initrd=initrd console=ttyS0\ninitrd --name initrd ../artifacts/initrd\necho hello\nboot\n";
        let s = parse(text, "http://127.0.0.1:18081/profiles/storm.ipxe", &[]).unwrap();
        assert_eq!(
            s.commands,
            vec![
                Command::Kernel("http://127.0.0.1:18081/artifacts/kernel".into()),
                Command::Initrd("http://127.0.0.1:18081/artifacts/initrd".into()),
                Command::Boot,
            ]
        );
    }

    #[test]
    fn goto_exit_and_unknown_settings() {
        let text = "#!ipxe\n:retry\ngoto done\nchain ${missing}x.ipxe || exit\n:done\nexit\n";
        let s = parse(text, BASE, &[]).unwrap();
        assert_eq!(s.commands[0], Command::Goto("done".into()));
        assert_eq!(
            s.commands[1],
            Command::Chain {
                url: "http://127.0.0.1:18080/x.ipxe".into(),
                fallback: None
            }
        );
        assert_eq!(s.label("retry"), Some(0));
        assert_eq!(s.label("done"), Some(2));
        assert_eq!(s.commands[2], Command::Exit);
    }

    #[test]
    fn refuses_what_is_not_a_script_or_lacks_a_url() {
        assert!(parse("<html>", BASE, &[]).is_err());
        assert!(parse("#!ipxe\nkernel --name k\n", BASE, &[]).is_err());
        assert!(parse("#!ipxe\ngoto\n", BASE, &[]).is_err());
    }

    #[test]
    fn resolves_like_rfc_3986() {
        let base = "http://127.0.0.1:80/a/b/c.ipxe";
        for (reference, want) in [
            ("d", "http://127.0.0.1:80/a/b/d"),
            ("./d", "http://127.0.0.1:80/a/b/d"),
            ("../d", "http://127.0.0.1:80/a/d"),
            ("../../../../d", "http://127.0.0.1:80/d"),
            ("/x/y", "http://127.0.0.1:80/x/y"),
            ("..", "http://127.0.0.1:80/a/"),
            ("http://10.0.0.1/k", "http://10.0.0.1/k"),
        ] {
            assert_eq!(resolve(base, reference).unwrap(), want, "{reference}");
        }
        assert!(resolve("tftp://x/y", "z").is_err());
    }

    #[test]
    fn splits_address_and_path() {
        assert_eq!(
            split_http("http://127.0.0.1:18081/storm.ipxe").unwrap(),
            ("127.0.0.1:18081".parse().unwrap(), "storm.ipxe".into())
        );
        assert_eq!(
            split_http("http://127.0.0.1").unwrap(),
            ("127.0.0.1:80".parse().unwrap(), String::new())
        );
        assert!(split_http("http://boot.example/x").is_err());
        assert!(split_http("tftp://127.0.0.1/x").is_err());
    }
}
