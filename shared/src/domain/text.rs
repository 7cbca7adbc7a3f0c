//! Validated strings: bounded text, links and user ids.

use std::fmt;

/// Trimmed text whose length in characters (not bytes: Korean and emoji count once) lies in a range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundedText(String);

impl BoundedText {
    pub fn parse(raw: &str, min: usize, max: usize) -> Result<Self, String> {
        let trimmed = raw.trim();
        let chars = trimmed.chars().count();
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

/// A PortForge user: the Cognito `sub`, a 36-character UUID, stored lower-case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserId(String);

impl UserId {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let valid = raw.len() == 36 && uuid::Uuid::try_parse(raw).is_ok();
        if valid { Ok(Self(raw.to_ascii_lowercase())) } else { Err("must be a 36-character user id (UUID)".into()) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
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
        assert!(BoundedText::parse("   ", 1, 100).is_err());
        assert!(BoundedText::parse("a\u{0}b", 1, 100).is_err());
        assert!(BoundedText::parse("line\nbreak", 1, 100).is_ok());
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

    #[test]
    fn user_ids_are_hyphenated_uuids() {
        let id = UserId::parse("3F2504E0-4F89-11D3-9A0C-0305E82C3301").unwrap();
        assert_eq!(id.as_str(), "3f2504e0-4f89-11d3-9a0c-0305e82c3301");
        assert!(UserId::parse("3f2504e04f8911d39a0c0305e82c3301").is_err());
        assert!(UserId::parse("not-a-user").is_err());
    }
}
