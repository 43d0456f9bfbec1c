//! What the protocol loops report: one value per protocol step worth showing an operator.
//!
//! Constructors keep the hooks in the socket loops to one line each.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use netboot_manifest::{ClientKind, MacAddr, Protocol};

/// Strings that came from a client (file names, user agents) or from an error are cut to this
/// many bytes before they are stored, so a hostile client cannot make the recorder grow.
pub const MAX_TEXT: usize = 256;

/// One protocol step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Proxy-DHCP sent an answer to `mac`.
    Dhcp(DhcpAnswer),
    /// A TFTP or HTTP transfer ended, completely or not.
    Transfer(Transfer),
    /// A request was refused before any byte of a file was sent (not found, malformed, busy).
    Refused(Refusal),
    /// A new snapshot was swapped in, or a reload failed and the old one kept serving.
    Reload(Reload),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhcpAnswer {
    pub mac: MacAddr,
    /// The client's address when it already had one (requests to port 4011); DISCOVERs come
    /// from 0.0.0.0 and carry none.
    pub ip: Option<Ipv4Addr>,
    pub kind: ClientKind,
    /// The boot file as the client was told: a TFTP path or an HTTP URL.
    pub file: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub protocol: Protocol,
    pub ip: IpAddr,
    /// The route as the manifest names it (no leading slash).
    pub file: String,
    /// Bytes the client received (or acknowledged, for TFTP).
    pub bytes: u64,
    pub duration: Duration,
    /// Why it ended early; `None` for a complete transfer.
    pub error: Option<String>,
    /// HTTP's User-Agent, when the client sent one.
    pub user_agent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub protocol: Protocol,
    pub ip: IpAddr,
    /// What the client asked for, as it asked.
    pub file: String,
    /// The status or error text the client was sent (`404 not in the manifest`).
    pub reason: String,
    pub user_agent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reload {
    /// `None` when the new snapshot is serving; else why the old one stayed.
    pub error: Option<String>,
}

impl Event {
    pub fn dhcp(mac: MacAddr, ip: Ipv4Addr, kind: ClientKind, file: &str) -> Event {
        Event::Dhcp(DhcpAnswer {
            mac,
            ip: (!ip.is_unspecified()).then_some(ip),
            kind,
            file: clip(file),
        })
    }

    /// A transfer that delivered the whole file.
    pub fn done(protocol: Protocol, ip: IpAddr, file: &str, bytes: u64, took: Duration) -> Event {
        Event::Transfer(Transfer {
            protocol,
            ip,
            file: clip(file),
            bytes,
            duration: took,
            error: None,
            user_agent: None,
        })
    }

    /// A transfer that ended after `bytes` for `error`.
    pub fn failed(
        protocol: Protocol,
        ip: IpAddr,
        file: &str,
        bytes: u64,
        took: Duration,
        error: &str,
    ) -> Event {
        Event::Transfer(Transfer {
            protocol,
            ip,
            file: clip(file),
            bytes,
            duration: took,
            error: Some(clip(error)),
            user_agent: None,
        })
    }

    pub fn refused(protocol: Protocol, ip: IpAddr, file: &str, reason: &str) -> Event {
        Event::Refused(Refusal {
            protocol,
            ip,
            file: clip(file),
            reason: clip(reason),
            user_agent: None,
        })
    }

    pub fn reloaded() -> Event {
        Event::Reload(Reload { error: None })
    }

    pub fn reload_failed(error: &str) -> Event {
        Event::Reload(Reload {
            error: Some(clip(error)),
        })
    }

    /// Adds the HTTP client's User-Agent to a transfer or refusal.
    pub fn with_user_agent(mut self, agent: Option<&str>) -> Event {
        let agent = agent.map(clip);
        match &mut self {
            Event::Transfer(t) => t.user_agent = agent,
            Event::Refused(r) => r.user_agent = agent,
            Event::Dhcp(_) | Event::Reload(_) => {}
        }
        self
    }
}

/// At most [`MAX_TEXT`] bytes, cut on a character boundary, marked with `…` when cut.
pub fn clip(text: &str) -> String {
    if text.len() <= MAX_TEXT {
        return text.to_string();
    }
    let mut end = MAX_TEXT - '…'.len_utf8();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_client_text_is_clipped_on_a_character_boundary() {
        let long = "é".repeat(400);
        let clipped = clip(&long);
        assert!(clipped.len() <= MAX_TEXT);
        assert!(clipped.ends_with('…'));
        assert!(clipped.starts_with("éé"));
        assert_eq!(clip("short"), "short");
    }

    #[test]
    fn dhcp_from_a_client_without_an_address_carries_none() {
        let mac = MacAddr([0x52, 0x54, 0, 1, 2, 3]);
        let Event::Dhcp(a) = Event::dhcp(mac, Ipv4Addr::UNSPECIFIED, ClientKind::Bios, "x") else {
            panic!("not a DHCP event");
        };
        assert_eq!(a.ip, None);
        let Event::Dhcp(b) = Event::dhcp(mac, Ipv4Addr::new(10, 0, 0, 9), ClientKind::Bios, "x")
        else {
            panic!("not a DHCP event");
        };
        assert_eq!(b.ip, Some(Ipv4Addr::new(10, 0, 0, 9)));
    }

    #[test]
    fn user_agent_attaches_to_transfers_and_refusals_only() {
        let ip: IpAddr = Ipv4Addr::LOCALHOST.into();
        let e = Event::refused(Protocol::Http, ip, "x", "404").with_user_agent(Some("iPXE/1.21"));
        assert!(matches!(e, Event::Refused(r) if r.user_agent.as_deref() == Some("iPXE/1.21")));
        let r = Event::reloaded().with_user_agent(Some("x"));
        assert_eq!(r, Event::reloaded());
    }
}
