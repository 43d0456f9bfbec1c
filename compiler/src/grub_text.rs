//! Text in a GRUB script. GRUB's shell expands `$…` and splits words on blanks, `;`, `|`,
//! `&` and quotes, so fleet text (labels, command-line words) goes in single quotes, inside
//! which nothing is special; a `'` itself is written `'\''`.

/// `text` as one literal GRUB word, always quoted (menu labels).
pub fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// A command-line word, quoted only when GRUB would read it otherwise, so plain kernel
/// arguments stay readable.
pub fn word(w: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_.,:/=+@%^~".contains(c);
    if !w.is_empty() && w.chars().all(plain) {
        return w.to_string();
    }
    quote(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_only_when_grub_would_read_them_otherwise() {
        assert_eq!(word("console=ttyS0,115200n8"), "console=ttyS0,115200n8");
        assert_eq!(
            word("url=http://10.0.0.1:8080/p"),
            "url=http://10.0.0.1:8080/p"
        );
        assert_eq!(word("x=$y"), "'x=$y'");
        assert_eq!(word("a;b"), "'a;b'");
        assert_eq!(word("it's"), r"'it'\''s'");
    }

    #[test]
    fn labels_are_always_one_literal_word() {
        assert_eq!(quote("Debian 12 ($arch)"), "'Debian 12 ($arch)'");
        assert_eq!(quote("Bob's tools"), r"'Bob'\''s tools'");
    }
}
