//! `receive=`: a Perl regular expression matched against a reply.
//!
//! ldirectord evaluates `$reply =~ /$receive/`. We compile with fancy-regex, which adds
//! Perl's lookaround, backreferences and possessive/atomic groups to the regex crate's syntax.
//! Not supported (refused when the config is read, with the regex error): embedded code
//! (`(?{...})`), recursion (`(?R)`), `\G`, and Perl's match modifiers after a closing slash
//! (write `(?i)` inside the pattern instead). An empty receive is "no receive": any reply passes
//! (ldirectord's empty pattern would reuse Perl's last successful match, a bug we don't copy).
//!
//! `$` is Perl's: outside multi-line mode it matches at the end of the reply *or before a
//! final newline* (so `receive=^OK$` matches a health page or file "OK\n", as in
//! ldirectord). The regex crate's `$` is the very end only, so a bare `$` (not escaped, not
//! in a character class) is compiled as `(?=\n?\z)` unless the pattern turns on multi-line
//! mode, where both dialects' `$` already match before every newline.

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
        let regex = fancy_regex::RegexBuilder::new(&perl_dollars(pattern))
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

/// Rewrites each bare `$` (outside escapes and character classes) as Perl's
/// end-or-before-a-final-newline, unless the pattern uses an `m` flag (`(?m)`, `(?im:...)`):
/// then it is left as written.
fn perl_dollars(pattern: &str) -> String {
    if has_multiline_flag(pattern) {
        return pattern.to_string();
    }
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                out.push(c);
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push(c);
                // A `]` (after an optional `^`) first in a class is a literal.
                if chars.peek() == Some(&'^') {
                    out.push(chars.next().unwrap());
                }
                if chars.peek() == Some(&']') {
                    out.push(chars.next().unwrap());
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            '$' if !in_class => out.push_str("(?=\\n?\\z)"),
            _ => out.push(c),
        }
    }
    out
}

/// Does an inline flag group (`(?m)`, `(?im)`, `(?m:`, `(?x-m)` is not) turn on multi-line mode?
fn has_multiline_flag(pattern: &str) -> bool {
    let b = pattern.as_bytes();
    let mut i = 0;
    while i + 2 < b.len() {
        if b[i] == b'\\' {
            i += 2;
            continue;
        }
        if b[i] == b'(' && b[i + 1] == b'?' {
            let mut j = i + 2;
            while j < b.len() && b[j].is_ascii_alphabetic() {
                if b[j] == b'm' {
                    return true;
                }
                j += 1;
            }
        }
        i += 1;
    }
    false
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
    fn dollar_is_perls_end_or_before_a_final_newline() {
        let m = |p: &str, t: &str| Receive::new(p).unwrap().is_match(t.as_bytes());
        assert!(m("^OK$", "OK\n"));
        assert!(m("^OK$", "OK"));
        assert!(m("ok$", "status: ok\n"));
        assert!(!m("^OK$", "OK\n\n"), "only one final newline, as Perl");
        assert!(!m("^OK$", "OK\nmore"));
        assert!(m("OK$\n", "OK\n"), "zero-width, as Perl");
        assert!(m("ok$|fail", "fail here"));
        // Escaped and in a class: a literal dollar.
        assert!(m("\\$5", "costs $5"));
        assert!(m("[$]5", "costs $5"));
        assert!(m("[]$]5", "costs $5"));
        assert!(!m("[$]5", "costs 5"));
        // Multi-line mode: both dialects match before every newline.
        assert!(m("(?m)^one$", "one\ntwo\n"));
        assert!(!m("^one$", "one\ntwo\n"));
        assert_eq!(Receive::new("^OK$").unwrap().as_str(), "^OK$", "reasons show the pattern as written");
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
