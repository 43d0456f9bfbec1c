//! Option negotiation: blksize (RFC 2348), timeout and tsize (RFC 2349), windowsize (RFC 7440).
//!
//! RFC 2347 lets the server leave out of its OACK any option it does not know or will not
//! honour, and lets it answer blksize and windowsize with a smaller value than asked; it may not
//! answer with a larger one. So unknown options and out-of-range values are dropped (the
//! transfer then uses the RFC 1350 default) and too-large values are lowered, rather than
//! refusing a boot over them.

use std::time::Duration;

use super::backoff::{self, DEFAULT_RETRIES};

/// RFC 1350 block size, used when the client asks for nothing else.
pub const DEFAULT_BLKSIZE: u16 = 512;
/// RFC 2348's upper bound: a block plus headers still fits a 64 KiB IPv4 datagram.
pub const MAX_BLKSIZE: u16 = 65464;
/// RFC 2348's lower bound.
pub const MIN_BLKSIZE: u16 = 8;

/// The server's side of the negotiation.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest block offered, at most [`MAX_BLKSIZE`].
    pub max_blksize: u16,
    /// Largest window offered, in blocks.
    pub max_windowsize: u16,
    /// A window is read from the file and kept for retransmission in one buffer, so its size
    /// in bytes is what bounds a transfer's memory; windowsize is lowered to stay under it.
    pub max_window_bytes: usize,
    /// Retransmission timeout when the client does not ask for one.
    pub timeout: Duration,
    /// Longest a transfer waits without progress before it is abandoned, whatever timeout the
    /// client negotiated: a slot is held that long. A client asking for a timeout this long
    /// or longer is declined (the server could not retransmit even once).
    pub give_up_after: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_blksize: MAX_BLKSIZE,
            max_windowsize: 64,
            // Enough for a 64-block window at the Ethernet-sized blksize 1468, or 4 blocks of the
            // largest blksize, while 512 transfers stay within 128 MiB.
            max_window_bytes: 256 << 10,
            timeout: Duration::from_secs(1),
            give_up_after: backoff::patience(Duration::from_secs(1), DEFAULT_RETRIES),
        }
    }
}

/// What this transfer will use, and the OACK that tells the client so (empty: no OACK, the
/// transfer starts with DATA 1 as in RFC 1350).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    pub blksize: u16,
    pub windowsize: u16,
    pub timeout: Duration,
    /// See [`Limits::give_up_after`].
    pub give_up_after: Duration,
    pub oack: Vec<(&'static str, String)>,
}

/// Settles the options of a read request for a file of `file_len` bytes.
pub fn negotiate(options: &[(&[u8], &[u8])], file_len: u64, limits: &Limits) -> Negotiated {
    let max_blksize = limits.max_blksize.clamp(MIN_BLKSIZE, MAX_BLKSIZE);
    let mut blksize = None;
    let mut windowsize = None;
    let mut timeout = None;
    let mut tsize = false;
    for (name, value) in options {
        let Some(value) = decimal(value) else {
            continue;
        };
        // Only the first occurrence of an option counts.
        if name.eq_ignore_ascii_case(b"blksize") && blksize.is_none() {
            if value >= u64::from(MIN_BLKSIZE) {
                blksize = Some(value.min(u64::from(max_blksize)) as u16);
            }
        } else if name.eq_ignore_ascii_case(b"windowsize") && windowsize.is_none() {
            if (1..=65535).contains(&value) {
                windowsize = Some(value as u16);
            }
        } else if name.eq_ignore_ascii_case(b"timeout") && timeout.is_none() {
            let honoured = Duration::from_secs(value) < limits.give_up_after;
            if (1..=255).contains(&value) && honoured {
                timeout = Some(value);
            }
        } else if name.eq_ignore_ascii_case(b"tsize") {
            tsize = true;
        }
    }
    let mut oack = Vec::new();
    let size = blksize.unwrap_or(DEFAULT_BLKSIZE);
    if let Some(b) = blksize {
        oack.push(("blksize", b.to_string()));
    }
    let mut window = 1;
    if let Some(asked) = windowsize {
        let by_memory = (limits.max_window_bytes / usize::from(size)).clamp(1, 65535) as u16;
        window = asked.min(limits.max_windowsize.max(1)).min(by_memory);
        oack.push(("windowsize", window.to_string()));
    }
    if let Some(t) = timeout {
        oack.push(("timeout", t.to_string()));
    }
    // curl (7.88 at least) aborts on an OACK saying tsize 0; leaving tsize out for an empty
    // file is allowed and costs a client nothing, the first DATA is empty anyway.
    if tsize && file_len > 0 {
        oack.push(("tsize", file_len.to_string()));
    }
    Negotiated {
        blksize: size,
        windowsize: window,
        timeout: timeout.map_or(limits.timeout, Duration::from_secs),
        give_up_after: limits.give_up_after,
        oack,
    }
}

/// A plain decimal number; anything else (signs, spaces, hex, overflow) is not a value.
fn decimal(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() || bytes.len() > 19 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts<'a>(pairs: &[(&'a str, &'a str)]) -> Vec<(&'a [u8], &'a [u8])> {
        pairs
            .iter()
            .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
            .collect()
    }

    #[test]
    fn no_options_means_rfc1350_and_no_oack() {
        let n = negotiate(&[], 10, &Limits::default());
        assert_eq!(n.blksize, 512);
        assert_eq!(n.windowsize, 1);
        assert_eq!(n.timeout, Duration::from_secs(1));
        assert!(n.oack.is_empty());
    }

    #[test]
    fn known_options_are_acknowledged_and_unknown_ones_dropped() {
        let o = opts(&[
            ("TSIZE", "0"),
            ("BlkSize", "1468"),
            ("windowsize", "16"),
            ("timeout", "3"),
            ("multicast", "1"),
        ]);
        let n = negotiate(&o, 4096, &Limits::default());
        assert_eq!(n.blksize, 1468);
        assert_eq!(n.windowsize, 16);
        assert_eq!(n.timeout, Duration::from_secs(3));
        assert_eq!(
            n.oack,
            vec![
                ("blksize", "1468".to_string()),
                ("windowsize", "16".to_string()),
                ("timeout", "3".to_string()),
                ("tsize", "4096".to_string()),
            ]
        );
    }

    #[test]
    fn out_of_range_values_are_lowered_or_dropped() {
        let l = Limits::default();
        let n = negotiate(&opts(&[("blksize", "70000")]), 1, &l);
        assert_eq!(n.blksize, MAX_BLKSIZE);
        assert_eq!(n.oack, vec![("blksize", "65464".to_string())]);
        for bad in [
            "7",
            "0",
            "-1",
            "",
            "0x200",
            " 512",
            "99999999999999999999999",
        ] {
            let n = negotiate(&opts(&[("blksize", bad)]), 1, &l);
            assert_eq!(n.blksize, 512, "blksize {bad:?}");
            assert!(
                n.oack.is_empty(),
                "blksize {bad:?} must not be acknowledged"
            );
        }
        for bad in ["0", "65536", "abc"] {
            let n = negotiate(&opts(&[("windowsize", bad)]), 1, &l);
            assert_eq!(n.windowsize, 1);
            assert!(n.oack.is_empty(), "windowsize {bad:?}");
        }
        // 31 s is the default give-up time: the server could not retransmit even once.
        for bad in ["0", "31", "256"] {
            let n = negotiate(&opts(&[("timeout", bad)]), 1, &l);
            assert_eq!(n.timeout, l.timeout);
            assert!(n.oack.is_empty(), "timeout {bad:?}");
        }
    }

    #[test]
    fn tsize_is_left_out_for_an_empty_file() {
        let n = negotiate(&opts(&[("tsize", "0")]), 0, &Limits::default());
        assert!(n.oack.is_empty());
        let n = negotiate(
            &opts(&[("tsize", "0"), ("blksize", "1024")]),
            0,
            &Limits::default(),
        );
        assert_eq!(n.oack, vec![("blksize", "1024".to_string())]);
    }

    #[test]
    fn window_is_bounded_by_memory_and_configuration() {
        let l = Limits::default();
        let n = negotiate(
            &opts(&[("blksize", "65464"), ("windowsize", "65535")]),
            1,
            &l,
        );
        assert_eq!(n.windowsize, 4, "256 KiB / 65464 bytes");
        let n = negotiate(&opts(&[("windowsize", "65535")]), 1, &l);
        assert_eq!(n.windowsize, 64, "configured maximum");
        let tight = Limits {
            max_window_bytes: 100,
            ..Limits::default()
        };
        let n = negotiate(&opts(&[("windowsize", "8")]), 1, &tight);
        assert_eq!(n.windowsize, 1, "never below one block");
    }

    #[test]
    fn first_occurrence_wins_and_server_maximum_applies() {
        let l = Limits {
            max_blksize: 1024,
            ..Limits::default()
        };
        let n = negotiate(&opts(&[("blksize", "1468"), ("blksize", "600")]), 1, &l);
        assert_eq!(n.blksize, 1024);
        assert_eq!(n.oack, vec![("blksize", "1024".to_string())]);
    }
}
