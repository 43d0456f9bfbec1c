//! `LABEL=ADDR[/PATH]` command-line targets: which server to measure and what to ask it for.

use std::net::SocketAddr;
use std::str::FromStr;

/// One server under test.
#[derive(Clone, Debug)]
pub struct Target {
    /// Name shown in the table (`netboot`, `dnsmasq`, ...).
    pub label: String,
    pub addr: SocketAddr,
    /// File name or URL path to request; empty for DHCP.
    pub path: String,
}

impl FromStr for Target {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (label, rest) = s
            .split_once('=')
            .ok_or_else(|| format!("expected LABEL=ADDR[/PATH] like netboot=127.0.0.1:6969/artifacts/big32, found {s:?}"))?;
        let (addr, path) = match rest.split_once('/') {
            Some((addr, path)) => (addr, path),
            None => (rest, ""),
        };
        let addr = addr
            .parse()
            .map_err(|e| format!("target {label}: {addr:?} is not an IP:PORT ({e})"))?;
        if label.is_empty() {
            return Err(format!("target {s:?} has an empty label"));
        }
        Ok(Target {
            label: label.to_string(),
            addr,
            path: path.to_string(),
        })
    }
}

/// Parses a hex sha256 as given on the command line.
pub fn parse_sha256(s: &str) -> Result<[u8; 32], String> {
    let bytes = hex::decode(s).map_err(|e| format!("sha256 {s:?} is not hex: {e}"))?;
    bytes
        .try_into()
        .map_err(|_| format!("sha256 {s:?} is not 64 hex digits"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_label_address_and_path() {
        let t: Target = "netboot=127.0.0.1:6969/artifacts/big32".parse().unwrap();
        assert_eq!(t.label, "netboot");
        assert_eq!(t.addr, "127.0.0.1:6969".parse().unwrap());
        assert_eq!(t.path, "artifacts/big32");
        let t: Target = "dnsmasq=127.0.0.2:4011".parse().unwrap();
        assert_eq!(t.path, "");
    }

    #[test]
    fn rejects_missing_label_or_bad_address() {
        assert!("127.0.0.1:69".parse::<Target>().is_err());
        assert!("x=localhost:69/f".parse::<Target>().is_err());
        assert!("=127.0.0.1:69".parse::<Target>().is_err());
    }
}
