//! `netboot`: the command-line front end. Argument parsing, wiring and exit codes only; the
//! work happens in `netboot-compiler` and `netboot-runtime`.

fn main() {
    eprintln!("netboot: not wired yet");
    std::process::exit(2);
}
