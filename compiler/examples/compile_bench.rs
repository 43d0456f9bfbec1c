//! Compile-time benchmark: generates a fleet of N machines and compares a full compile (and
//! compile + write) with a bare KDL parse of the same file. Run by bench/compile.sh:
//!
//! ```sh
//! cargo run --release -p netboot-compiler --example compile_bench -- --hosts 10000 DIR
//! ```
//!
//! The target is a compile within 5x of the parse: everything after parsing (checks,
//! templates, scripts, hashing, manifest) should cost no more than reading the file does.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use netboot_compiler::{compile, write_output, ServerOverrides};

struct Args {
    hosts: usize,
    runs: usize,
    dir: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut hosts = 10_000;
    let mut runs = 5;
    let mut dir = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--hosts" => {
                hosts = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--hosts needs a number")?
            }
            "--runs" => {
                runs = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--runs needs a number")?
            }
            _ if dir.is_none() && !a.starts_with('-') => dir = Some(PathBuf::from(a)),
            _ => return Err(format!("unexpected argument {a}")),
        }
    }
    Ok(Args {
        hosts,
        runs: runs.max(1),
        dir: dir.ok_or("usage: compile_bench [--hosts N] [--runs R] DIR")?,
    })
}

/// A realistic large fleet: installer groups with per-machine command lines and preseeds,
/// menu machines, a shared menu for unknown machines.
fn generate(dir: &Path, hosts: usize) -> std::io::Result<PathBuf> {
    fs::create_dir_all(dir.join("artifacts"))?;
    fs::create_dir_all(dir.join("templates"))?;
    fs::create_dir_all(dir.join("loaders"))?;
    for (f, body) in [
        ("artifacts/linux", "kernel stand-in\n"),
        ("artifacts/initrd.gz", "initrd stand-in\n"),
        ("loaders/undionly.kpxe", "bios loader stand-in\n"),
        ("loaders/ipxe.efi", "efi loader stand-in\n"),
        (
            "templates/preseed.cfg",
            "d-i netcfg/get_hostname string {{ host }}\nd-i mirror/http/proxy string http://{{ server }}/\n# {{ mac }} in {{ group }}\n",
        ),
    ] {
        fs::write(dir.join(f), body)?;
    }
    let mut s = String::new();
    s.push_str("server { address \"10.0.0.2\"; http-port 8080; }\n");
    s.push_str("loaders { bios \"loaders/undionly.kpxe\"; efi-x64 \"loaders/ipxe.efi\"; }\n");
    s.push_str("artifact \"kernel\" path=\"artifacts/linux\" sha256=\"");
    s.push_str(&netboot_compiler::manifest::sha256_hex(
        b"kernel stand-in\n",
    ));
    s.push_str("\"\nartifact \"initrd\" path=\"artifacts/initrd.gz\" sha256=\"");
    s.push_str(&netboot_compiler::manifest::sha256_hex(
        b"initrd stand-in\n",
    ));
    s.push_str("\"\n");
    s.push_str(
        "profile \"install\" {\n    kernel \"kernel\"\n    initrd \"initrd\"\n    cmdline \"auto=true url=http://{{ server }}/m/{{ host }}/preseed.cfg hostname={{ host }} console=ttyS0\"\n    file \"preseed.cfg\" template=\"templates/preseed.cfg\"\n}\n",
    );
    s.push_str(
        "profile \"live\" { kernel \"kernel\"; initrd \"initrd\"; cmdline \"boot=live quiet\"; }\n",
    );
    s.push_str("profile \"disk\" { exit; }\n");
    s.push_str("menu \"main\" {\n    title \"Fleet\"\n    timeout 5\n    default \"disk\"\n    item \"disk\" \"Boot from disk\"\n    item \"live\" \"Live system\"\n}\n");
    let per_group = 250;
    for g in 0..hosts.div_ceil(per_group) {
        let target = if g % 4 == 3 {
            "menu=\"main\""
        } else {
            "profile=\"install\""
        };
        let _ = writeln!(s, "group \"rack{g:03}\" {target} {{");
        for h in (g * per_group)..((g + 1) * per_group).min(hosts) {
            let append = if h % 10 == 0 {
                " cmdline-append=\"nomodeset\""
            } else {
                ""
            };
            let target_append = if target.starts_with("menu") {
                ""
            } else {
                append
            };
            let _ = writeln!(
                s,
                "    host \"node{h:05}\" mac=\"52:54:{:02x}:{:02x}:{:02x}:{:02x}\"{target_append}",
                (h >> 24) & 0xff,
                (h >> 16) & 0xff,
                (h >> 8) & 0xff,
                h & 0xff
            );
        }
        s.push_str("}\n");
    }
    s.push_str("default menu=\"main\"\n");
    let fleet = dir.join("fleet.kdl");
    fs::write(&fleet, s)?;
    Ok(fleet)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(f());
                t.elapsed()
            })
            .collect(),
    )
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let fleet = generate(&args.dir, args.hosts).expect("generate the fleet");
    let text = fs::read_to_string(&fleet).expect("read the fleet");
    println!(
        "fleet: {} machines, {} lines, {:.2} MB ({})",
        args.hosts,
        text.lines().count(),
        text.len() as f64 / 1e6,
        fleet.display()
    );

    let overrides = ServerOverrides::default();
    let compiled = match compile(&fleet, &overrides) {
        Ok(c) => c,
        Err(f) => {
            eprintln!("{f}");
            std::process::exit(1);
        }
    };
    println!(
        "output: {} routes, {} generated files, {} hosts",
        compiled.manifest.files.len(),
        compiled.generated.len(),
        compiled.manifest.hosts.len()
    );

    let parse = time(args.runs, || {
        text.parse::<kdl::KdlDocument>().expect("valid KDL")
    });
    let read_parse = time(args.runs, || {
        fs::read_to_string(&fleet)
            .expect("read")
            .parse::<kdl::KdlDocument>()
            .expect("valid KDL")
    });
    let full = time(args.runs, || compile(&fleet, &overrides).expect("compiles"));
    let out = args.dir.join("build");
    let with_write = time(args.runs, || {
        let c = compile(&fleet, &overrides).expect("compiles");
        write_output(&c, &fleet, &out).expect("write");
    });
    let ratio = full.as_secs_f64() / read_parse.as_secs_f64();
    println!(
        "bare KDL parse:          {} (median of {})",
        ms(parse),
        args.runs
    );
    println!("read + bare KDL parse:   {}", ms(read_parse));
    println!(
        "compile (in memory):     {}  = {ratio:.2}x read + parse",
        ms(full)
    );
    println!(
        "compile + write_output:  {}  = {:.2}x read + parse",
        ms(with_write),
        with_write.as_secs_f64() / read_parse.as_secs_f64()
    );
    println!(
        "target (compile within 5x of the parse): {}",
        if ratio <= 5.0 { "met" } else { "NOT met" }
    );
}
