//! `receive=`: a Perl regular expression matched against a reply.
//!
//! ldirectord evaluates `$reply =~ /$receive/`. We compile with fancy-regex, which adds
//! Perl's lookaround, backreferences and possessive/atomic groups to the regex crate's syntax.
//! Not supported (refused when the config is read, with the regex error): embedded code
//! (`(?{...})`), recursion (`(?R)`), `\G`, and Perl's match modifiers after a closing slash
//! (write `(?i)` inside the pattern instead). An empty receive is "no receive": any reply passes
//! (ldirectord's empty pattern would reuse Perl's last successful match, a bug we don't copy).

use std::fmt;

/// A compiled `receive=` pattern.
#[derive(Clone)]
pub struct Receive {
    source: String,
    regex: fancy_regex::Regex,
}

impl Receive {
    /// Compiles `pattern`; the error names the pattern and what is wrong with it.
    pub fn new(pattern: &str) -> Result<Receive, String> {
        let regex = fancy_regex::RegexBuilder::new(pattern)
            // Bound the backtracking of lookaround/backreference patterns on hostile replies.
            .backtrack_limit(1_000_000)
            .build()
            .map_err(|e| format!("receive {:?} is not a regular expression we can run: {e}", pattern))?;
        Ok(Receive { source: pattern.to_string(), regex })
    }

    /// Does the reply match? Bytes that are not UTF-8 are matched as U+FFFD.
    pub fn is_match(&self, reply: &[u8]) -> bool {
        let text = String::from_utf8_lossy(reply);
        // A backtrack limit hit counts as no match: the server's reply did not prove it is up.
        self.regex.is_match(&text).unwrap_or(false)
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The reason given when a reply does not match: `receive /ok/ not in body`.
    pub fn mismatch(&self, what: &str) -> crate::Down {
        crate::Down(format!("receive /{}/ not in {what}", self.source))
    }
}

impl fmt::Debug for Receive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/{}/", self.source)
    }
}

impl PartialEq for Receive {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}
impl Eq for Receive {}

impl std::hash::Hash for Receive {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.source.hash(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perl_features_users_write_work() {
        assert!(Receive::new("^HTTP/1\\.[01] 200").unwrap().is_match(b"HTTP/1.1 200 OK"));
        assert!(Receive::new("(?i)it works").unwrap().is_match(b"<h1>It Works!</h1>"));
        assert!(Receive::new("ok(?!ay)").unwrap().is_match(b"status: ok"));
        assert!(!Receive::new("ok(?!ay)").unwrap().is_match(b"okay"));
        assert!(Receive::new("(\\w)\\1").unwrap().is_match(b"hello"));
        assert!(Receive::new("\\d+ rows").unwrap().is_match(b"3 rows"));
        assert!(Receive::new("a#b").unwrap().is_match(b"xa#by"));
    }

    #[test]
    fn bad_patterns_are_refused_with_the_pattern_named() {
        let e = Receive::new("(unclosed").unwrap_err();
        assert!(e.contains("(unclosed"), "{e}");
    }

    #[test]
    fn non_utf8_replies_match_lossily() {
        assert!(Receive::new("ok").unwrap().is_match(b"\xff\xfeok"));
    }
}
