//! The conditional request headers a boot client sends (RFC 9110 §13): `If-None-Match` to
//! revalidate a cached copy, and `If-Range` to resume a download only if the file is still the
//! one it has part of. Pure functions of the header value and the current ETag.
//!
//! This server's ETags are strong (the sha256 of the bytes) and it sends no Last-Modified, so a
//! date in `If-Range` can never match and always means "send the whole file".

/// Whether `If-None-Match: header` matches a file whose ETag is `etag`, so a GET or HEAD is
/// answered 304. Weak comparison (§13.1.2): `W/"x"` matches `"x"`; `*` matches any file that
/// exists. A malformed list matches nothing, so the client gets the file.
pub fn none_match(header: &str, etag: &str) -> bool {
    let ours = opaque(etag);
    entity_tags(header).is_some_and(|tags| {
        tags.iter()
            .any(|t| matches!(t, Member::Any) || matches!(t, Member::Tag(t) if t.opaque == ours))
    })
}

/// Whether a `Range` may be honoured given `If-Range: header` (None when absent), for a file
/// whose ETag is `etag` (§13.1.5). True only for an entity tag that matches strongly: a
/// different tag, a weak one, a date (we send no Last-Modified) or anything malformed means
/// the client's partial copy may be of other bytes, so it must get the whole file.
pub fn range_applies(header: Option<&str>, etag: &str) -> bool {
    let Some(header) = header else {
        return true;
    };
    match entity_tags(header).as_deref() {
        Some([Member::Tag(tag)]) => !tag.weak && tag.opaque == opaque(etag),
        _ => false,
    }
}

/// One member of an entity-tag list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Member<'a> {
    /// `*`: the grammar allows it only as the whole field; it is taken as a member too, as
    /// this server always has.
    Any,
    Tag(EntityTag<'a>),
}

/// One entity tag as sent: `W/` or not, and the quoted part (quotes included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct EntityTag<'a> {
    weak: bool,
    opaque: &'a str,
}

/// The quoted part of one of our own ETags.
fn opaque(etag: &str) -> &str {
    etag.strip_prefix("W/").unwrap_or(etag)
}

/// A comma-separated list of `[W/]"…"` and `*`, `None` if anything else is in it.
/// Splitting on commas would cut a tag that contains one (the grammar allows it).
fn entity_tags(header: &str) -> Option<Vec<Member<'_>>> {
    let mut tags = Vec::new();
    let mut rest = header.trim_start_matches([' ', '\t', ',']);
    while !rest.is_empty() {
        let after = if let Some(after) = rest.strip_prefix('*') {
            tags.push(Member::Any);
            after
        } else {
            let (weak, quoted) = match rest.strip_prefix("W/") {
                Some(quoted) => (true, quoted),
                None => (false, rest),
            };
            let inner = quoted.strip_prefix('"')?;
            let close = inner.find('"')?;
            let (opaque, after) = quoted.split_at(close + 2);
            if !opaque[1..close + 1].bytes().all(etagc) {
                return None;
            }
            tags.push(Member::Tag(EntityTag { weak, opaque }));
            after
        };
        let after = after.trim_start_matches([' ', '\t']);
        if !(after.is_empty() || after.starts_with(',')) {
            return None;
        }
        rest = after.trim_start_matches([' ', '\t', ',']);
    }
    Some(tags)
}

/// `etagc` of RFC 9110 §8.8.3, without obs-text (header values we act on are ASCII).
fn etagc(b: u8) -> bool {
    b == 0x21 || (0x23..=0x7e).contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ETAG: &str = "\"5d41\"";

    #[test]
    fn if_none_match_compares_weakly() {
        for header in [
            "\"5d41\"",
            "W/\"5d41\"",
            "\"other\", W/\"5d41\"",
            "\"a,*\",\"5d41\"",
            "  \"5d41\"  ",
            "*",
            "\"stale\", *",
        ] {
            assert!(none_match(header, ETAG), "{header}");
        }
        for header in [
            "\"other\"",
            "W/\"other\"",
            "\"5d41",
            "5d41",
            "\"5d41\" junk",
            "\"x,*,y\"",
            "w/\"5d41\"",
            "\"5d4\"",
            "",
        ] {
            assert!(!none_match(header, ETAG), "{header}");
        }
    }

    #[test]
    fn if_range_needs_a_strong_match_of_one_tag() {
        assert!(range_applies(None, ETAG));
        assert!(range_applies(Some("\"5d41\""), ETAG));
        assert!(range_applies(Some(" \"5d41\" "), ETAG));
        for header in [
            "\"stale\"",
            "W/\"5d41\"",
            // A date: we send no Last-Modified, so none can match it.
            "Tue, 01 Dec 2026 00:00:00 GMT",
            "\"5d41\", \"5d41\"",
            "*",
            "",
            "\"5d41",
        ] {
            assert!(!range_applies(Some(header), ETAG), "{header}");
        }
    }

    #[test]
    fn entity_tag_lists() {
        let tag = |weak, opaque| Member::Tag(EntityTag { weak, opaque });
        assert_eq!(
            entity_tags("W/\"a\" , \"b,*\",,\"\", *").unwrap(),
            [
                tag(true, "\"a\""),
                tag(false, "\"b,*\""),
                tag(false, "\"\""),
                Member::Any
            ]
        );
        for bad in ["a", "\"a\"b", "W/a", "\"a b\"", "\"a\" W/", "**", "W/*"] {
            assert_eq!(entity_tags(bad), None, "{bad}");
        }
        assert_eq!(entity_tags(""), Some(vec![]));
    }
}
