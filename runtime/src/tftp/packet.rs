//! The TFTP wire format (RFC 1350, options from RFC 2347): decoding what clients send and
//! encoding what the server sends. No state and no I/O; every malformed packet is an error
//! value, never a panic.

use std::fmt;

pub const OP_RRQ: u16 = 1;
pub const OP_WRQ: u16 = 2;
pub const OP_DATA: u16 = 3;
pub const OP_ACK: u16 = 4;
pub const OP_ERROR: u16 = 5;
pub const OP_OACK: u16 = 6;

/// One decoded client packet. Strings borrow from the datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet<'a> {
    Read(Request<'a>),
    Write(Request<'a>),
    Data { block: u16, data: &'a [u8] },
    Ack { block: u16 },
    Error { code: u16, message: String },
    Oack,
}

/// A read or write request: file name, mode and options, in the order the client sent them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    /// Raw bytes: names are not required to be UTF-8 on the wire, and must not be decoded
    /// lossily before they are compared with the manifest's routes.
    pub filename: &'a [u8],
    pub mode: &'a [u8],
    pub options: Vec<(&'a [u8], &'a [u8])>,
}

/// Why a datagram is not a TFTP packet we understand.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    #[error("packet of {0} bytes is too short for a TFTP header")]
    Truncated(usize),
    #[error("unknown TFTP opcode {0}")]
    UnknownOpcode(u16),
    #[error("request is missing its {0}")]
    MissingField(&'static str),
    #[error("request has an empty file name")]
    EmptyFilename,
}

/// TFTP error codes (RFC 1350 section 5, code 8 from RFC 2347).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum ErrorCode {
    NotDefined = 0,
    FileNotFound = 1,
    AccessViolation = 2,
    DiskFull = 3,
    IllegalOperation = 4,
    UnknownTransferId = 5,
    FileExists = 6,
    NoSuchUser = 7,
    OptionRefused = 8,
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", *self as u16)
    }
}

/// Decodes one datagram as a client would send it.
pub fn parse(bytes: &[u8]) -> Result<Packet<'_>, PacketError> {
    if bytes.len() < 2 {
        return Err(PacketError::Truncated(bytes.len()));
    }
    let opcode = u16::from_be_bytes([bytes[0], bytes[1]]);
    let rest = &bytes[2..];
    let short = || PacketError::Truncated(bytes.len());
    match opcode {
        OP_RRQ => parse_request(rest).map(Packet::Read),
        OP_WRQ => parse_request(rest).map(Packet::Write),
        OP_DATA => {
            let block = be16(rest).ok_or_else(short)?;
            Ok(Packet::Data {
                block,
                data: &rest[2..],
            })
        }
        OP_ACK => Ok(Packet::Ack {
            block: be16(rest).ok_or_else(short)?,
        }),
        OP_ERROR => {
            let code = be16(rest).ok_or_else(short)?;
            let text = &rest[2..];
            let text = text.split(|&b| b == 0).next().unwrap_or(&[]);
            Ok(Packet::Error {
                code,
                message: String::from_utf8_lossy(text).into_owned(),
            })
        }
        OP_OACK => Ok(Packet::Oack),
        other => Err(PacketError::UnknownOpcode(other)),
    }
}

fn be16(b: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes([*b.first()?, *b.get(1)?]))
}

/// `filename NUL mode NUL [name NUL value NUL]*`. Firmware in the wild pads requests or
/// leaves a dangling option name, so anything after the last complete pair is ignored rather
/// than refusing the boot.
fn parse_request(body: &[u8]) -> Result<Request<'_>, PacketError> {
    let mut fields = body.split(|&b| b == 0);
    // `split` yields a final piece after the last NUL; only NUL-terminated fields count.
    let terminated = body.iter().filter(|&&b| b == 0).count();
    if terminated < 1 {
        return Err(PacketError::MissingField("file name"));
    }
    let filename = fields.next().unwrap_or(&[]);
    if filename.is_empty() {
        return Err(PacketError::EmptyFilename);
    }
    if terminated < 2 {
        return Err(PacketError::MissingField("transfer mode"));
    }
    let mode = fields.next().unwrap_or(&[]);
    let mut options = Vec::new();
    let pairs = (terminated - 2) / 2;
    for _ in 0..pairs {
        let (Some(name), Some(value)) = (fields.next(), fields.next()) else {
            break;
        };
        if name.is_empty() {
            // Zero padding after the request, not an option.
            break;
        }
        options.push((name, value));
    }
    Ok(Request {
        filename,
        mode,
        options,
    })
}

/// Appends a DATA header; the caller appends the block's bytes.
pub fn put_data_header(out: &mut Vec<u8>, block: u16) {
    out.extend_from_slice(&OP_DATA.to_be_bytes());
    out.extend_from_slice(&block.to_be_bytes());
}

/// Appends an ERROR packet. The message is sent as-is (ASCII we wrote), NUL-terminated.
pub fn put_error(out: &mut Vec<u8>, code: ErrorCode, message: &str) {
    out.extend_from_slice(&OP_ERROR.to_be_bytes());
    out.extend_from_slice(&(code as u16).to_be_bytes());
    out.extend(message.bytes().filter(|&b| b != 0));
    out.push(0);
}

/// An ERROR packet on its own.
pub fn error(code: ErrorCode, message: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + message.len());
    put_error(&mut out, code, message);
    out
}

/// Appends an OACK with the acknowledged options.
pub fn put_oack(out: &mut Vec<u8>, options: &[(&str, String)]) {
    out.extend_from_slice(&OP_OACK.to_be_bytes());
    for (name, value) in options {
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        out.extend_from_slice(value.as_bytes());
        out.push(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_request_with_options() {
        let pkt = b"\x00\x01/undionly.kpxe\0octet\0blksize\x001468\0tsize\x000\0";
        let Packet::Read(req) = parse(pkt).unwrap() else {
            panic!("not a read request")
        };
        assert_eq!(req.filename, b"/undionly.kpxe");
        assert_eq!(req.mode, b"octet");
        assert_eq!(
            req.options,
            vec![(&b"blksize"[..], &b"1468"[..]), (&b"tsize"[..], &b"0"[..])]
        );
    }

    #[test]
    fn padding_and_dangling_option_names_are_ignored() {
        let pkt = b"\x00\x01f\0octet\0blksize\0\0\0\0\0";
        let Packet::Read(req) = parse(pkt).unwrap() else {
            panic!("not a read request")
        };
        assert_eq!(req.filename, b"f");
        // An empty value is still a value (negotiation drops it); the zeros after it are not
        // options.
        assert_eq!(req.options, vec![(&b"blksize"[..], &b""[..])]);
        let pkt = b"\x00\x01f\0octet\0blksize\0";
        let Packet::Read(req) = parse(pkt).unwrap() else {
            panic!("not a read request")
        };
        assert!(req.options.is_empty());
    }

    #[test]
    fn malformed_requests_are_errors() {
        assert_eq!(parse(b""), Err(PacketError::Truncated(0)));
        assert_eq!(parse(b"\x00"), Err(PacketError::Truncated(1)));
        assert_eq!(
            parse(b"\x00\x01file"),
            Err(PacketError::MissingField("file name"))
        );
        assert_eq!(
            parse(b"\x00\x01file\0octet"),
            Err(PacketError::MissingField("transfer mode"))
        );
        assert_eq!(parse(b"\x00\x01\0octet\0"), Err(PacketError::EmptyFilename));
        assert_eq!(parse(b"\x00\x09xx"), Err(PacketError::UnknownOpcode(9)));
        assert_eq!(parse(b"\x00\x04\x01"), Err(PacketError::Truncated(3)));
    }

    #[test]
    fn acks_errors_and_writes() {
        assert_eq!(
            parse(b"\x00\x04\xff\xfe"),
            Ok(Packet::Ack { block: 0xfffe })
        );
        assert_eq!(
            parse(b"\x00\x05\x00\x08no thanks\0"),
            Ok(Packet::Error {
                code: 8,
                message: "no thanks".into()
            })
        );
        assert!(matches!(parse(b"\x00\x02f\0octet\0"), Ok(Packet::Write(_))));
        assert_eq!(
            parse(b"\x00\x03\x00\x01abc"),
            Ok(Packet::Data {
                block: 1,
                data: b"abc"
            })
        );
    }

    #[test]
    fn encodes_error_and_oack() {
        assert_eq!(
            error(ErrorCode::FileNotFound, "no\0pe"),
            b"\x00\x05\x00\x01nope\0"
        );
        let mut out = Vec::new();
        put_oack(
            &mut out,
            &[("blksize", "1468".into()), ("tsize", "9".into())],
        );
        assert_eq!(out, b"\x00\x06blksize\x001468\0tsize\x009\0");
    }
}
