//! Who may listen where: port 0 is refused on the command line (it would end up in every URL
//! as `:0`).

mod serve_support;

use std::process::Command;
use std::time::Duration;

use serve_support::{exits_within, Fleet};

const FLEET: &str = r#"
loaders { bios "loaders/undionly.kpxe" }
profile "p" { exit }
default profile="p"
"#;

fn serve(fleet: &Fleet) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_netboot"));
    cmd.arg("serve")
        .arg(fleet.path())
        .args(["--address", "127.0.0.1"]);
    cmd
}

#[test]
fn port_zero_is_refused_on_the_command_line() {
    let fleet = Fleet::new(FLEET);
    for flag in ["--http-port", "--tftp-port"] {
        let result = exits_within(
            serve(&fleet).args(["--no-dhcp", "--no-watch", flag, "0"]),
            Duration::from_secs(10),
        );
        let Some((status, log)) = result else {
            panic!("`serve {flag} 0` started serving");
        };
        assert_eq!(status.code(), Some(2), "a usage error:\n{log}");
        assert!(
            log.contains(&format!("invalid value '0' for '{flag} <PORT>'"))
                && log.contains("1.."),
            "{log}"
        );
    }
}
