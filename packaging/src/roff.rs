//! Escaping text for man(7) roff source.
//!
//! Everything that comes from meta-data is untrusted text: a backslash would start an escape
//! sequence, a `.` or `'` at the start of a line would be read as a request, and `-` is a
//! hyphen (not the ASCII minus that parameter names and commands need) unless written `\-`.

/// Escapes one line of running text (no newlines expected; they become spaces).
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\e"),
            '-' => out.push_str("\\-"),
            // Keep these ASCII: groff maps them to typographic quotes and accents otherwise.
            '\'' => out.push_str("\\(aq"),
            '`' => out.push_str("\\(ga"),
            '^' => out.push_str("\\(ha"),
            '~' => out.push_str("\\(ti"),
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c if c.is_ascii() => out.push(c),
            c => out.push_str(&format!("\\[u{:04X}]", c as u32)),
        }
    }
    // A leading `.` would be read as a request (the `'` case is already escaped above).
    if out.starts_with('.') {
        out.insert_str(0, "\\&");
    }
    out
}

/// Escapes a macro argument and quotes it (for `.TH`).
pub fn arg(s: &str) -> String {
    let escaped = text(s).replace('"', "\\(dq");
    format!("\"{escaped}\"")
}

/// Bold text (`\fB…\fR`), escaped.
pub fn bold(s: &str) -> String {
    format!("\\fB{}\\fR", text(s))
}

/// Italic text (`\fI…\fR`), escaped.
pub fn italic(s: &str) -> String {
    format!("\\fI{}\\fR", text(s))
}

/// Lines of a (multi-line) description as roff source: paragraphs (blank lines in the
/// description) are separated by `.sp`, other line breaks are kept with `.br`.
pub fn paragraphs(desc: &str) -> String {
    let mut out = String::new();
    let mut pending_break = false;
    let mut pending_para = false;
    for line in desc.lines() {
        let line = line.trim();
        if line.is_empty() {
            pending_para = !out.is_empty();
            continue;
        }
        if pending_para {
            out.push_str(".sp\n");
        } else if pending_break {
            out.push_str(".br\n");
        }
        out.push_str(&text(line));
        out.push('\n');
        pending_break = true;
        pending_para = false;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(text(r"a\b"), r"a\eb");
        assert_eq!(text("validate-all"), r"validate\-all");
        assert_eq!(text(".start"), r"\&.start");
        assert_eq!(text("'quoted'"), r"\(aqquoted\(aq");
        assert_eq!(text("caf\u{e9}"), r"caf\[u00E9]");
        assert_eq!(text("a\tb\u{7}"), "a b");
        assert_eq!(arg(r#"say "hi""#), r#""say \(dqhi\(dq""#);
    }

    #[test]
    fn paragraph_structure() {
        assert_eq!(paragraphs("one\ntwo\n\n.three"), "one\n.br\ntwo\n.sp\n\\&.three\n");
        assert_eq!(paragraphs(""), "");
    }
}
