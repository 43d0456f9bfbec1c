//! A strict walk over the DHCP options area.
//!
//! dhcproto's decoder stops quietly at the first option it cannot read, which would let us
//! answer a half-read packet; this walk instead refuses any option that runs past the end of
//! the packet. It also follows option overload (52) into the `file` and `sname` fields exactly
//! once, so a packet whose overloaded fields ask for overload again cannot send it in circles.

use std::collections::BTreeMap;

/// Option code that marks padding.
const PAD: u8 = 0;
/// Option code that ends an options area.
const END: u8 = 255;
/// Option overload (RFC 2132 9.3): more options live in `file` (1), `sname` (2) or both (3).
const OVERLOAD: u8 = 52;

/// Why the options could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionError {
    #[error("option {code} at offset {offset} claims {claimed} bytes but only {left} remain")]
    Overrun {
        code: u8,
        offset: usize,
        claimed: usize,
        left: usize,
    },
    #[error("option {code} at offset {offset} has no length byte")]
    NoLength { code: u8, offset: usize },
    #[error("the options end without an END (255) option: the packet was cut short")]
    NoEnd,
    #[error("option overload (52) must be one byte of 1, 2 or 3, found {0:?}")]
    BadOverload(Vec<u8>),
}

/// Options by code; repeated codes are joined in order, as RFC 3396 asks for long options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options(BTreeMap<u8, Vec<u8>>);

impl Options {
    /// Reads the options area and, if it asks for it, the overloaded `file` and `sname` fields
    /// (in that order, as RFC 3396 specifies).
    pub fn parse(area: &[u8], file: &[u8], sname: &[u8]) -> Result<Options, OptionError> {
        let mut map = BTreeMap::new();
        if !walk(area, &mut map, true)? {
            return Err(OptionError::NoEnd);
        }
        if let Some(value) = map.get(&OVERLOAD) {
            let which = match value.as_slice() {
                [v @ 1..=3] => *v,
                other => return Err(OptionError::BadOverload(other.to_vec())),
            };
            if which & 1 != 0 {
                walk(file, &mut map, false)?;
            }
            if which & 2 != 0 {
                walk(sname, &mut map, false)?;
            }
        }
        Ok(Options(map))
    }

    /// The value of option `code`, if the packet carries it.
    pub fn get(&self, code: u8) -> Option<&[u8]> {
        self.0.get(&code).map(Vec::as_slice)
    }
}

/// Reads TLVs until END or the end of `area`; tells whether END was seen. RFC 2131 requires
/// END in the options area, so its absence there marks a truncated packet; the overloaded
/// fields may simply run out.
fn walk(area: &[u8], map: &mut BTreeMap<u8, Vec<u8>>, top: bool) -> Result<bool, OptionError> {
    let mut at = 0;
    while at < area.len() {
        let code = area[at];
        match code {
            PAD => {
                at += 1;
                continue;
            }
            END => return Ok(true),
            _ => {}
        }
        let Some(&len) = area.get(at + 1) else {
            return Err(OptionError::NoLength { code, offset: at });
        };
        let len = usize::from(len);
        let start = at + 2;
        let Some(value) = area.get(start..start + len) else {
            return Err(OptionError::Overrun {
                code,
                offset: at,
                claimed: len,
                left: area.len() - start,
            });
        };
        // An overload option inside an overloaded field would point back at itself.
        if top || code != OVERLOAD {
            map.entry(code).or_default().extend_from_slice(value);
        }
        at = start + len;
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_repeated_options_and_skips_padding() {
        let area = [60, 3, b'P', b'X', b'E', 0, 0, 60, 2, b'C', b'l', 255, 99];
        let opts = Options::parse(&area, &[], &[]).unwrap();
        assert_eq!(opts.get(60), Some(&b"PXECl"[..]));
        assert_eq!(opts.get(99), None, "bytes after END are not options");
    }

    #[test]
    fn overrun_is_an_error_not_a_partial_read() {
        let err = Options::parse(&[53, 1, 1, 60, 9, b'P'], &[], &[]).unwrap_err();
        assert_eq!(
            err,
            OptionError::Overrun {
                code: 60,
                offset: 3,
                claimed: 9,
                left: 1
            }
        );
        assert!(matches!(
            Options::parse(&[53], &[], &[]),
            Err(OptionError::NoLength {
                code: 53,
                offset: 0
            })
        ));
    }

    #[test]
    fn overload_is_followed_once() {
        // The file field asks for overload again; that request is ignored, not followed.
        let area = [52, 1, 3, 255];
        let file = [52, 1, 3, 60, 1, b'a', 255];
        let sname = [60, 1, b'b', 255];
        let opts = Options::parse(&area, &file, &sname).unwrap();
        assert_eq!(opts.get(60), Some(&b"ab"[..]));
        assert_eq!(opts.get(52), Some(&[3][..]));
        assert!(Options::parse(&[52, 1, 7, 255], &[], &[]).is_err());
        assert_eq!(
            Options::parse(&[53, 1, 1], &[], &[]),
            Err(OptionError::NoEnd)
        );
    }
}
