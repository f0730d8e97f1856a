//! The line structure of ldirectord.cf: comments, indentation, `keyword = value`.
//!
//! Upstream's rules, and where ours differ (each is in ldirectord.cf(5)):
//! - A line whose first non-blank character is `#` is a comment. So is the rest of a line
//!   after a `#` **outside double quotes**. Upstream strips everything after any `#` inside a
//!   virtual section, even inside a quoted `receive="a#b"`, which silently shortens the regex
//!   (and, when the closing quote is cut off, turns the line into an "Unknown command");
//!   upstream does not strip trailing comments from global lines at all, so
//!   `quiescent=yes # why` is an error there. Here both are comments, and a `#` inside quotes
//!   is data.
//! - An unindented line is a global directive or starts a virtual section (`virtual=`,
//!   `virtual6=`); an indented line (at least 4 columns, a tab counting as 4, as upstream)
//!   belongs to the section above it. An indented line before any section, or one indented by
//!   only 1 to 3 spaces, is an error here; upstream reports the first as an unknown command
//!   and takes the second as the end of the section.
//! - Blank lines are skipped everywhere. Upstream ends a virtual section at a blank line, so
//!   the indented lines after it were parsed as (unknown) global directives.
//! - There are no continuation lines (nor are there upstream).

/// Where a line sits in the file's structure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// Unindented.
    Top,
    /// Indented: part of the virtual section above.
    Indented,
}

/// One non-blank, non-comment line: `key = value` (or a bare `key`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Directive {
    /// 1-based line number.
    pub line: usize,
    pub place: Place,
    pub key: String,
    /// The text after `=`, trailing comment removed, trimmed; `None` for a bare keyword.
    pub value: Option<String>,
}

/// A line that is not a directive: the line number and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub message: String,
}

/// Splits the text into directives, in file order.
pub fn directives(text: &str) -> Result<Vec<Directive>, LineError> {
    let mut out = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let line = i + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let body = strip_comment(raw);
        if body.trim().is_empty() {
            continue;
        }
        let place = match indent_columns(body) {
            0 => Place::Top,
            n if n >= 4 => Place::Indented,
            n => {
                return Err(LineError {
                    line,
                    message: format!(
                        "indented by {n} column{}: a virtual section's lines need at least 4 spaces or a tab, global directives none",
                        if n == 1 { "" } else { "s" }
                    ),
                });
            }
        };
        let (key, value) = split_directive(body.trim()).map_err(|message| LineError { line, message })?;
        out.push(Directive { line, place, key, value });
    }
    Ok(out)
}

/// Leading white space in columns, a tab counting as 4 (upstream replaces each tab by 4 spaces).
fn indent_columns(s: &str) -> usize {
    s.chars().take_while(|c| *c == ' ' || *c == '\t').map(|c| if c == '\t' { 4 } else { 1 }).sum()
}

/// The line without a `#` comment; a `#` between double quotes is data.
pub fn strip_comment(s: &str) -> &str {
    let mut quoted = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '#' if !quoted => return &s[..i],
            _ => {}
        }
    }
    s
}

/// `key = value` → (key, Some(value)); a bare `key` → (key, None).
fn split_directive(s: &str) -> Result<(String, Option<String>), String> {
    let key_len = s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-')).unwrap_or(s.len());
    let (key, rest) = s.split_at(key_len);
    let rest = rest.trim_start();
    if key.is_empty() {
        return Err(format!("expected keyword=value, found {:?}", first_token(s)));
    }
    if rest.is_empty() {
        return Ok((key.to_string(), None));
    }
    match rest.strip_prefix('=') {
        Some(v) => Ok((key.to_string(), Some(v.trim().to_string()))),
        None => Err(format!("expected '=' after {key:?}, found {:?}", first_token(rest))),
    }
}

/// The first white-space-separated word, for messages.
pub fn first_token(s: &str) -> &str {
    s.split_whitespace().next().unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Directive {
        let mut d = directives(text).unwrap();
        assert_eq!(d.len(), 1, "{d:?}");
        d.remove(0)
    }

    #[test]
    fn comments_blank_lines_and_crlf_are_skipped() {
        let d = directives("# c\n\n   \n\t# indented comment\r\nchecktimeout = 3 # trailing\r\n").unwrap();
        assert_eq!(
            d,
            vec![Directive {
                line: 5,
                place: Place::Top,
                key: "checktimeout".into(),
                value: Some("3".into())
            }]
        );
    }

    #[test]
    fn a_hash_inside_double_quotes_is_data() {
        // Upstream strips it (`s/#.*//` on every virtual line): receive="a#b" became "a.
        let d = one("    receive=\"a#b\" # comment");
        assert_eq!(d.value.as_deref(), Some("\"a#b\""));
        assert_eq!(d.place, Place::Indented);
    }

    #[test]
    fn tabs_and_four_spaces_indent_fewer_is_an_error() {
        assert_eq!(one("\treal=1.2.3.4:80 gate").place, Place::Indented);
        assert_eq!(one("    real=1.2.3.4:80 gate").place, Place::Indented);
        assert_eq!(one("  \treal=1.2.3.4:80 gate").place, Place::Indented);
        let e = directives("x=1\n  real=1.2.3.4:80 gate").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("2 columns"), "{}", e.message);
    }

    #[test]
    fn bare_keywords_and_malformed_lines() {
        assert_eq!(one("supervised").value, None);
        let e = directives("checktimeout 3").unwrap_err();
        assert!(e.message.contains("'='") && e.message.contains("\"3\""), "{}", e.message);
        let e = directives("\n=3").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("\"=3\""), "{}", e.message);
        let e = directives("[x]=1").unwrap_err();
        assert!(e.message.contains("keyword=value"), "{}", e.message);
    }

    #[test]
    fn spaces_around_the_equals_sign() {
        let d = one("virtual = 198.51.100.1:80");
        assert_eq!((d.key.as_str(), d.value.as_deref()), ("virtual", Some("198.51.100.1:80")));
        assert_eq!(one("comment=").value.as_deref(), Some(""));
    }
}
