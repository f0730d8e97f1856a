//! Directive values: yes/no, counts, durations, ports, quoted strings.
//!
//! Upstream matches values loosely (`checktimeout=3s` is 3 because `/(\d+)/` finds the digits;
//! `gate foo 5` takes 5 as the weight and drops "foo"). Here a value is the whole value or an
//! error naming it: a typo is never half-read.

use std::time::Duration;

/// An error message; the caller adds file:line.
pub type Res<T> = Result<T, String>;

/// The largest duration accepted (a day): a bigger checkinterval or timeout is a typo.
const MAX_SECONDS: f64 = 86_400.0;

/// `yes` or `no`.
pub fn yes_no(key: &str, v: &str) -> Res<bool> {
    match v {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err(format!("{key} must be 'yes' or 'no', not {v:?}")),
    }
}

/// A positive whole number.
pub fn count(key: &str, v: &str) -> Res<u32> {
    match v.parse::<u32>() {
        Ok(n) if n > 0 && v.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(format!("{key} must be a whole number greater than 0, not {v:?}")),
    }
}

/// A whole number, 0 allowed, at most `max`.
pub fn number(key: &str, v: &str, max: u32) -> Res<u32> {
    match v.parse::<u32>() {
        Ok(n) if n <= max && v.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(format!("{key} must be a whole number from 0 to {max}, not {v:?}")),
    }
}

/// Seconds greater than 0: whole (`3`, as upstream) or with a fraction (`0.5`, ours only).
pub fn seconds(key: &str, v: &str) -> Res<Duration> {
    let ok = !v.is_empty()
        && v.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && v.bytes().filter(|b| *b == b'.').count() <= 1
        && !v.starts_with('.')
        && !v.ends_with('.');
    match v.parse::<f64>() {
        Ok(s) if ok && s > 0.0 && s <= MAX_SECONDS => Ok(Duration::from_secs_f64(s)),
        _ => Err(format!(
            "{key} must be a number of seconds greater than 0 and at most {MAX_SECONDS} (like 5 or 0.5), not {v:?}"
        )),
    }
}

/// Whole seconds, 0 allowed (emailalertfreq).
pub fn whole_seconds(key: &str, v: &str) -> Res<Duration> {
    number(key, v, MAX_SECONDS as u32).map(|n| Duration::from_secs(n.into()))
}

/// A port 1..=65535.
pub fn port(key: &str, v: &str) -> Res<u16> {
    match v.parse::<u16>() {
        Ok(p) if p > 0 && v.bytes().all(|b| b.is_ascii_digit()) => Ok(p),
        _ => Err(format!("{key} must be a port from 1 to 65535, not {v:?}")),
    }
}

/// A value that must be in double quotes, as upstream requires for request, receive, login,
/// passwd, database, secret, load, logfile and callback. The value runs from the first to
/// the last double quote (so `"say "hi""` is `say "hi"`, as upstream's greedy match).
pub fn quoted(key: &str, v: &str) -> Res<String> {
    let Some(inner) = v.strip_prefix('"') else {
        return Err(format!("{key} needs its value in double quotes: {key}=\"{v}\""));
    };
    match inner.rfind('"') {
        Some(end) if inner[end + 1..].trim().is_empty() => Ok(inner[..end].to_string()),
        Some(end) => {
            Err(format!("{key}: text after the closing double quote: {:?}", inner[end + 1..].trim()))
        }
        None => Err(format!("{key}: the closing double quote is missing in {v:?}")),
    }
}

/// A value that may be quoted (checkcommand, fallbackcommand, monitorfile, virtualhost, ...).
pub fn maybe_quoted(key: &str, v: &str) -> Res<String> {
    if v.starts_with('"') { quoted(key, v) } else { Ok(v.to_string()) }
}

/// A non-empty value, quoted or not.
pub fn non_empty(key: &str, v: &str) -> Res<String> {
    let s = maybe_quoted(key, v)?;
    if s.trim().is_empty() { Err(format!("{key} needs a value")) } else { Ok(s) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yes_no_and_numbers_are_strict() {
        assert_eq!(yes_no("quiescent", "yes"), Ok(true));
        assert_eq!(yes_no("quiescent", "no"), Ok(false));
        assert!(yes_no("quiescent", "Yes").unwrap_err().contains("\"Yes\""));
        assert_eq!(count("failurecount", "3"), Ok(3));
        assert!(count("failurecount", "0").is_err());
        assert!(count("failurecount", "3x").unwrap_err().contains("\"3x\""));
        assert!(count("failurecount", "+3").is_err());
        assert_eq!(number("weight", "0", 65535), Ok(0));
        assert!(number("weight", "65536", 65535).is_err());
        assert_eq!(port("checkport", "65535"), Ok(65535));
        assert!(port("checkport", "0").is_err());
        assert!(port("checkport", "65536").is_err());
    }

    #[test]
    fn seconds_whole_or_fractional() {
        assert_eq!(seconds("checktimeout", "3"), Ok(Duration::from_secs(3)));
        assert_eq!(seconds("checkinterval", "0.5"), Ok(Duration::from_millis(500)));
        for bad in ["0", "", "3s", "-1", ".5", "5.", "1.2.3", "86401", "1e3", "inf", "NaN"] {
            assert!(seconds("checktimeout", bad).is_err(), "{bad}");
        }
        assert_eq!(whole_seconds("emailalertfreq", "0"), Ok(Duration::ZERO));
    }

    #[test]
    fn quoting() {
        assert_eq!(quoted("receive", "\"It works\""), Ok("It works".into()));
        assert_eq!(quoted("receive", "\"say \"hi\"\""), Ok("say \"hi\"".into()));
        assert_eq!(quoted("receive", "\"\""), Ok(String::new()));
        assert!(quoted("receive", "It works").unwrap_err().contains("double quotes"));
        assert!(quoted("receive", "\"open").unwrap_err().contains("closing"));
        assert!(quoted("receive", "\"a\" b").unwrap_err().contains("\"b\""));
        assert_eq!(maybe_quoted("virtualhost", "www.example.org"), Ok("www.example.org".into()));
        assert_eq!(maybe_quoted("virtualhost", "\"www.example.org\""), Ok("www.example.org".into()));
        assert!(non_empty("checkcommand", "\"\"").is_err());
    }
}
