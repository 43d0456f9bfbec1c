//! TFTP packets as the client sends and reads them (RFC 1350, options per RFC 2347/2348/2349/7440).

/// A packet received from the server.
#[derive(Debug, PartialEq, Eq)]
pub enum Packet<'a> {
    Data {
        block: u16,
        payload: &'a [u8],
    },
    /// Option acknowledgement: the options the server accepted, names lower-cased.
    Oack(Vec<(String, String)>),
    Error {
        code: u16,
        message: String,
    },
}

/// A read request for `file` in octet mode with the given options.
pub fn rrq(file: &str, blksize: u16, windowsize: u16, tsize: bool) -> Vec<u8> {
    let mut p = vec![0, 1];
    for field in [file, "octet"] {
        p.extend_from_slice(field.as_bytes());
        p.push(0);
    }
    let mut option = |name: &str, value: &str| {
        p.extend_from_slice(name.as_bytes());
        p.push(0);
        p.extend_from_slice(value.as_bytes());
        p.push(0);
    };
    option("blksize", &blksize.to_string());
    if tsize {
        option("tsize", "0");
    }
    // Asking for windowsize 1 would be a no-op; leaving it out keeps the request what a plain
    // PXE ROM sends.
    if windowsize > 1 {
        option("windowsize", &windowsize.to_string());
    }
    p
}

/// Acknowledges `block` (0 acknowledges an OACK).
pub fn ack(block: u16) -> [u8; 4] {
    let b = block.to_be_bytes();
    [0, 4, b[0], b[1]]
}

/// Reads a packet from the server; anything a client should never receive is an error.
pub fn parse(buf: &[u8]) -> Result<Packet<'_>, String> {
    if buf.len() < 4 {
        return Err(format!(
            "{}-byte packet is shorter than any TFTP packet",
            buf.len()
        ));
    }
    let opcode = u16::from_be_bytes([buf[0], buf[1]]);
    let word = u16::from_be_bytes([buf[2], buf[3]]);
    match opcode {
        3 => Ok(Packet::Data {
            block: word,
            payload: &buf[4..],
        }),
        5 => {
            let text = &buf[4..];
            let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
            Ok(Packet::Error {
                code: word,
                message: String::from_utf8_lossy(&text[..end]).into_owned(),
            })
        }
        6 => {
            let fields: Vec<&[u8]> = buf[2..].split(|&b| b == 0).collect();
            // A well-formed OACK ends in NUL, so the split leaves one empty tail.
            let fields = match fields.split_last() {
                Some(([], rest)) => rest,
                _ => return Err("OACK does not end in NUL".into()),
            };
            if fields.len() % 2 != 0 {
                return Err("OACK has an option without a value".into());
            }
            Ok(Packet::Oack(
                fields
                    .chunks(2)
                    .map(|kv| {
                        (
                            String::from_utf8_lossy(kv[0]).to_ascii_lowercase(),
                            String::from_utf8_lossy(kv[1]).into_owned(),
                        )
                    })
                    .collect(),
            ))
        }
        other => Err(format!("unexpected TFTP opcode {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rrq_carries_options_in_order() {
        assert_eq!(
            rrq("a/b", 1468, 16, true),
            b"\0\x01a/b\0octet\0blksize\x001468\0tsize\x000\0windowsize\x0016\0".to_vec()
        );
        assert_eq!(
            rrq("f", 512, 1, false),
            b"\0\x01f\0octet\0blksize\x00512\0".to_vec()
        );
    }

    #[test]
    fn parses_data_oack_and_error() {
        assert_eq!(
            parse(b"\0\x03\x01\x02xyz").unwrap(),
            Packet::Data {
                block: 0x0102,
                payload: b"xyz"
            }
        );
        assert_eq!(
            parse(b"\0\x06BLKSIZE\x001468\0tsize\x0042\0").unwrap(),
            Packet::Oack(vec![
                ("blksize".into(), "1468".into()),
                ("tsize".into(), "42".into())
            ])
        );
        assert_eq!(
            parse(b"\0\x05\0\x01File not found\0").unwrap(),
            Packet::Error {
                code: 1,
                message: "File not found".into()
            }
        );
    }

    #[test]
    fn rejects_short_odd_and_unknown_packets() {
        assert!(parse(b"\0\x03\0").is_err());
        assert!(parse(b"\0\x06blksize\0").is_err());
        assert!(parse(b"\0\x06blksize\x00512").is_err());
        assert!(parse(b"\0\x01f\0octet\0").is_err());
    }

    #[test]
    fn ack_is_four_bytes() {
        assert_eq!(ack(0x1234), [0, 4, 0x12, 0x34]);
    }
}
