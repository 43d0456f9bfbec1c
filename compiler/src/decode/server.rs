//! The `server` block: interface, address, ports and the DHCP mode.

use kdl::KdlNode;
use netboot_manifest::DhcpMode;

use super::values::{children, positional, Decoder};
use crate::codes::Code;
use crate::fleet::{Server, Spanned};
use crate::suggest;

const SERVER_CHILDREN: &[&str] = &["interface", "address", "http-port", "tftp-port", "dhcp"];

impl Decoder<'_> {
    pub(super) fn server(&mut self, node: &KdlNode, server: &mut Server) {
        self.check_entries(node, 0, &[]);
        let mut seen = Vec::new();
        for child in children(node) {
            let key = child.name().value();
            if !SERVER_CHILDREN.contains(&key) {
                self.unknown_node(child, SERVER_CHILDREN, "in `server`");
                continue;
            }
            if !self.once(&mut seen, child) {
                continue;
            }
            self.check_entries(child, 1, &[]);
            // `dhcp "full"` has a block of settings; the other modes and settings take none.
            if key != "dhcp" {
                self.no_children(child);
            }
            match key {
                "interface" => {
                    server.interface =
                        self.string_arg(child, 0, "an interface name", "interface \"br0\"")
                }
                "address" => {
                    if let Some(s) =
                        self.string_arg(child, 0, "an IPv4 address", "address \"192.168.1.10\"")
                    {
                        match s.value.parse() {
                            Ok(ip) => server.address = Some(Spanned::new(ip, s.span)),
                            Err(_) => self.error(
                                Code::BadIp,
                                format!("`{}` is not an IPv4 address", s.value),
                                s.span,
                                "not an IPv4 address",
                                "write a dotted quad like `192.168.1.10`".into(),
                            ),
                        }
                    }
                }
                "http-port" | "tftp-port" => {
                    let Some(e) = positional(child).first().copied() else {
                        self.string_arg(child, 0, "a port number", &format!("{key} 8080"));
                        continue;
                    };
                    let Some(n) = self.int_entry(e, &format!("`{key}`")) else {
                        continue;
                    };
                    match u16::try_from(n.value) {
                        Ok(p) if p > 0 => {
                            let v = Some(Spanned::new(p, n.span));
                            if key == "http-port" {
                                server.http_port = v;
                            } else {
                                server.tftp_port = v;
                            }
                        }
                        _ => self.error(
                            Code::BadPort,
                            format!("{} is not a port number", n.value),
                            n.span,
                            "out of range",
                            "ports are 1 to 65535".into(),
                        ),
                    }
                }
                "dhcp" => {
                    if let Some(s) = self.string_arg(child, 0, "a DHCP mode", "dhcp \"proxy\"") {
                        match s.value.as_str() {
                            "proxy" => {
                                self.no_children(child);
                                server.dhcp = Some(Spanned::new(DhcpMode::Proxy, s.span));
                            }
                            "off" => {
                                self.no_children(child);
                                server.dhcp = Some(Spanned::new(DhcpMode::Off, s.span));
                            }
                            "full" => {
                                if let Some(full) = self.full_dhcp(child, s.span) {
                                    server.dhcp = Some(Spanned::new(DhcpMode::Full(full), s.span));
                                }
                            }
                            other => {
                                self.no_children(child);
                                let help =
                                    suggest::help_for(other, ["proxy", "off", "full"], "mode");
                                self.error(
                                    Code::BadValue,
                                    format!("unknown DHCP mode `{other}`"),
                                    s.span,
                                    "not a DHCP mode",
                                    help,
                                )
                            }
                        }
                    }
                }
                _ => unreachable!("checked against SERVER_CHILDREN"),
            }
        }
    }
}
