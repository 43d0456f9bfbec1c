//! What to do with a datagram that reaches the listening port: start a read transfer, refuse
//! with a TFTP ERROR, or stay silent.

use super::packet::{self, ErrorCode, Packet};

/// The listener's decision for one datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming<'a> {
    /// A read request for the manifest route `route`, with the client's options.
    Read {
        route: &'a str,
        options: Vec<(&'a [u8], &'a [u8])>,
    },
    /// Answer with this ERROR and forget the client.
    Refuse { code: ErrorCode, message: String },
    /// Say nothing: an ERROR from a client (answering could loop) or a datagram too short to
    /// be TFTP at all.
    Ignore,
}

/// Decides what a datagram sent to the listening port asks for.
pub fn classify(datagram: &[u8]) -> Incoming<'_> {
    let refuse = |code, message: &str| Incoming::Refuse {
        code,
        message: message.to_owned(),
    };
    match packet::parse(datagram) {
        Ok(Packet::Read(req)) => {
            if !req.mode.eq_ignore_ascii_case(b"octet") {
                let message = if req.mode.eq_ignore_ascii_case(b"netascii") {
                    "netascii mode is not served: ask for octet (binary) mode"
                } else {
                    "unknown transfer mode: only octet (binary) is served"
                };
                return refuse(ErrorCode::IllegalOperation, message);
            }
            match route_name(req.filename) {
                Some(route) => Incoming::Read {
                    route,
                    options: req.options,
                },
                None => refuse(ErrorCode::FileNotFound, "file not found"),
            }
        }
        Ok(Packet::Write(_)) => refuse(
            ErrorCode::AccessViolation,
            "this server is read-only: write requests are refused",
        ),
        Ok(Packet::Error { .. }) | Err(packet::PacketError::Truncated(_)) => Incoming::Ignore,
        Ok(Packet::Data { .. } | Packet::Ack { .. } | Packet::Oack) => refuse(
            ErrorCode::UnknownTransferId,
            "no transfer on this port: send a read request first",
        ),
        Err(e) => refuse(ErrorCode::IllegalOperation, &e.to_string()),
    }
}

/// The manifest route a requested name stands for. PXE ROMs and iPXE ask for `undionly.kpxe`
/// or `/undionly.kpxe` alike, so leading slashes go; nothing else is changed, because the
/// route is then looked up verbatim in the manifest and never used as a filesystem path.
/// A name that is not UTF-8 cannot be a route.
pub fn route_name(filename: &[u8]) -> Option<&str> {
    let name = std::str::from_utf8(filename).ok()?;
    let name = name.trim_start_matches('/');
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(i: Incoming<'_>) -> Option<ErrorCode> {
        match i {
            Incoming::Refuse { code, .. } => Some(code),
            _ => None,
        }
    }

    #[test]
    fn read_requests_name_routes_without_leading_slashes() {
        for pkt in [
            &b"\x00\x01undionly.kpxe\0octet\0"[..],
            b"\x00\x01/undionly.kpxe\0OCTET\0",
            b"\x00\x01//undionly.kpxe\0Octet\0",
        ] {
            assert_eq!(
                classify(pkt),
                Incoming::Read {
                    route: "undionly.kpxe",
                    options: vec![]
                }
            );
        }
        // Traversal-looking names are passed through verbatim for an exact manifest lookup,
        // which they cannot match.
        assert!(matches!(
            classify(b"\x00\x01/../etc/passwd\0octet\0"),
            Incoming::Read {
                route: "../etc/passwd",
                ..
            }
        ));
    }

    #[test]
    fn refusals_carry_the_rfc_codes() {
        use ErrorCode::*;
        assert_eq!(code(classify(b"\x00\x02f\0octet\0")), Some(AccessViolation));
        assert_eq!(
            code(classify(b"\x00\x01f\0netascii\0")),
            Some(IllegalOperation)
        );
        assert_eq!(code(classify(b"\x00\x01f\0mail\0")), Some(IllegalOperation));
        assert_eq!(code(classify(b"\x00\x01/\0octet\0")), Some(FileNotFound));
        assert_eq!(
            code(classify(b"\x00\x01\xff\xfe\0octet\0")),
            Some(FileNotFound)
        );
        assert_eq!(code(classify(b"\x00\x07junk")), Some(IllegalOperation));
        assert_eq!(code(classify(b"\x00\x01f")), Some(IllegalOperation));
        assert_eq!(code(classify(b"\x00\x04\x00\x01")), Some(UnknownTransferId));
    }

    #[test]
    fn client_errors_and_runts_get_no_answer() {
        assert_eq!(classify(b"\x00\x05\x00\x00bye\0"), Incoming::Ignore);
        assert_eq!(classify(b"\x01"), Incoming::Ignore);
        assert_eq!(classify(b""), Incoming::Ignore);
    }
}
