//! The install-lifecycle fleet the serve tests share: two hosts of a group that install once
//! (their installer reports at its done URL), then boot their `then` profile.

pub const FLEET: &str = r#"
artifact "kernel" path="files/kernel"
artifact "initrd" path="files/initrd"
profile "debian-auto" {
    kernel "kernel"
    initrd "initrd"
    cmdline "auto=true done={{ install_done_url }}"
}
profile "local-disk" { exit }
group "web" generation=1 {
    install "debian-auto" then="local-disk"
    host "web1" mac="52:54:00:00:00:11"
    host "web2" mac="52:54:00:00:00:12"
}
"#;

pub const WEB1: &str = "hosts/52-54-00-00-00-11.ipxe";
pub const WEB2: &str = "hosts/52-54-00-00-00-12.ipxe";

/// The done URL's path, as the install script hands it to the installer.
pub fn done_path(script: &str) -> String {
    let url = script
        .split_whitespace()
        .find_map(|w| w.strip_prefix("done="))
        .unwrap_or_else(|| panic!("no done URL in {script}"));
    let after_host = url.strip_prefix("http://").unwrap();
    after_host[after_host.find('/').unwrap() + 1..].to_string()
}
