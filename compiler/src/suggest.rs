//! "Did you mean …?" for misspelt node, property and reference names.

/// The closest candidate within a small edit distance, if any.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    // Allow about one typo per three characters, at least one, at most three.
    let limit = (word.chars().count() / 3).clamp(1, 3);
    candidates
        .into_iter()
        .map(|c| (distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, c)| (*d, *c))
        .map(|(_, c)| c)
}

/// "did you mean `x`?" or a list of what is allowed when nothing is close.
pub fn help_for<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str> + Clone,
    what: &str,
) -> String {
    match closest(word, candidates.clone()) {
        Some(c) => format!("did you mean `{c}`?"),
        None => {
            let all: Vec<&str> = candidates.into_iter().collect();
            if all.is_empty() {
                format!("no {what} is defined")
            } else if all.len() <= 12 {
                format!("expected one of: {}", all.join(", "))
            } else {
                format!("no {what} has a similar name")
            }
        }
    }
}

/// Edit distance over characters, counting a swap of neighbours as one edit (optimal
/// string alignment), since `bois` for `bios` is one slip of the fingers.
fn distance(a: &str, b: &str) -> usize {
    strsim::osa_distance(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_misses_only() {
        let names = ["kernel", "initrd", "cmdline"];
        assert_eq!(closest("kernl", names), Some("kernel"));
        assert_eq!(closest("cmdlin", names), Some("cmdline"));
        assert_eq!(closest("sanboot", names), None);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("abc", "abc"), 0);
        assert_eq!(distance("bois", "bios"), 1);
    }

    #[test]
    fn help_lists_choices_when_nothing_is_close() {
        assert_eq!(
            help_for("x", ["bios", "efi"], "value"),
            "expected one of: bios, efi"
        );
        assert_eq!(
            help_for("bois", ["bios", "efi"], "value"),
            "did you mean `bios`?"
        );
    }
}
