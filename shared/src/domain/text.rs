//! Validated strings: bounded text and links.

/// Trimmed text whose length in characters (not bytes: Korean and emoji count once) lies in a range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundedText(String);

impl BoundedText {
    pub fn parse(raw: &str, min: usize, max: usize) -> Result<Self, String> {
        let trimmed = raw.trim();
        let chars = trimmed.chars().count();
        // Only spaces is not "too short" to the person who typed them.
        if chars == 0 && min > 0 && !raw.is_empty() {
            return Err(format!("must not be blank (1 to {max} characters besides spaces)"));
        }
        if chars < min || chars > max {
            return Err(if min > 0 {
                format!("must be {min} to {max} characters")
            } else {
                format!("must be at most {max} characters")
            });
        }
        if trimmed.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
            return Err("must not contain control characters".into());
        }
        if trimmed.chars().any(is_invisible_format) {
            return Err("must not contain invisible formatting characters (bidi overrides, zero-width spaces)".into());
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

impl AsRef<str> for BoundedText {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Characters that change how text around them is shown without being seen: bidi overrides,
/// embeddings, isolates and marks (which can make a message read backwards or hide a link's real
/// target) and zero-width or invisible characters (which make two names look the same). The
/// zero-width joiner (U+200D) stays allowed: emoji sequences such as 👨‍👩‍👧 need it.
pub fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'                        // soft hyphen
            | '\u{061C}'                  // Arabic letter mark
            | '\u{180E}'                  // Mongolian vowel separator
            | '\u{200B}'..='\u{200C}'    // zero-width space, non-joiner
            | '\u{200E}'..='\u{200F}'    // left-to-right and right-to-left marks
            | '\u{202A}'..='\u{202E}'    // bidi embeddings and overrides
            | '\u{2060}'..='\u{2064}'    // word joiner, invisible operators
            | '\u{2066}'..='\u{206F}'    // bidi isolates, deprecated format characters
            | '\u{FEFF}'                  // zero-width no-break space (BOM)
            | '\u{FFF9}'..='\u{FFFB}' // interlinear annotation
    )
}

/// `raw` without the characters [`is_invisible_format`] names: for text this service does not
/// ask for but must show (names from tokens), which should not be refused, only cleaned.
pub fn strip_invisible(raw: &str) -> String {
    raw.chars().filter(|c| !is_invisible_format(*c)).collect()
}

/// Text a sibling service sent, made fit to show inside this service's own texts: without
/// control characters and the characters [`is_invisible_format`] names (a title pasted with a
/// zero-width space or a bidi mark would otherwise make the composed text invalid), runs of
/// whitespace as one space, trimmed. Never refused: the sibling's data is what it is.
pub fn clean_sibling_text(raw: &str) -> String {
    let visible: String =
        raw.chars().filter(|c| !is_invisible_format(*c)).map(|c| if c.is_control() { ' ' } else { c }).collect();
    visible.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Where a link may point: a path inside the PortForge app (`/projects/12`) or an https URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link(String);

impl Link {
    pub const MAX_CHARS: usize = 2048;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let link = raw.trim();
        if link.is_empty() || link.chars().count() > Self::MAX_CHARS {
            return Err(format!("must be 1 to {} characters", Self::MAX_CHARS));
        }
        if link.chars().any(|c| c.is_whitespace() || c.is_control() || c == '\\') {
            return Err("must not contain whitespace, control characters or backslashes".into());
        }
        let is_relative = link.starts_with('/') && !link.starts_with("//");
        let is_https =
            link.get(..8).is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://")) && Self::has_host(&link[8..]);
        if is_relative || is_https {
            Ok(Self(link.to_owned()))
        } else {
            Err("must be a relative path starting with '/' or an https:// URL".into())
        }
    }

    fn has_host(after_scheme: &str) -> bool {
        let authority = after_scheme.split(['/', '?', '#']).next().unwrap_or_default();
        // Reject credentials in the URL and empty hosts ("https:///x", "https://@evil").
        !authority.is_empty() && !authority.contains('@') && !authority.starts_with(':')
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

impl AsRef<str> for Link {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_text_counts_characters_not_bytes() {
        let korean = "가".repeat(100);
        assert!(BoundedText::parse(&korean, 1, 100).is_ok());
        assert!(BoundedText::parse(&format!("{korean}가"), 1, 100).is_err());
        assert_eq!(BoundedText::parse("  🎉 해커톤  ", 1, 100).unwrap().as_str(), "🎉 해커톤");
        assert_eq!(
            BoundedText::parse("   ", 1, 100).unwrap_err(),
            "must not be blank (1 to 100 characters besides spaces)",
            "only spaces is blank, not too short"
        );
        assert_eq!(BoundedText::parse("", 1, 100).unwrap_err(), "must be 1 to 100 characters");
        assert!(BoundedText::parse("a\u{0}b", 1, 100).is_err());
        assert!(BoundedText::parse("line\nbreak", 1, 100).is_ok());
        for sneaky in ["abc\u{202E}gpj.exe", "ad\u{200B}min", "\u{2066}x\u{2069}", "\u{FEFF}hi"] {
            assert!(BoundedText::parse(sneaky, 1, 100).is_err(), "{sneaky:?}");
        }
        assert!(BoundedText::parse("가족 👨\u{200D}👩\u{200D}👧", 1, 100).is_ok(), "emoji sequences keep their joiner");
        assert_eq!(strip_invisible("지\u{200B}민\u{202E}"), "지민");
    }

    #[test]
    fn links_are_relative_paths_or_https() {
        for ok in ["/projects/12", "/a?b=c#d", "https://portforge.dev/x", "HTTPS://example.com"] {
            assert!(Link::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "projects/12",
            "//evil.example",
            "http://example.com",
            "javascript:alert(1)",
            "https://",
            "https:///path",
            "https://user@evil.example",
            "/with space",
            "/back\\slash",
        ] {
            assert!(Link::parse(bad).is_err(), "{bad}");
        }
        assert!(Link::parse(&format!("/{}", "a".repeat(2048))).is_err());
    }
}
