//! Level-10 checks: `testurl`/`testregex10`, or a block of `testconffile`:
//!
//! ```text
//! test webapp1
//! url /webapp1_mon
//! match This application is alive
//! user monitor
//! password secret
//! client curl
//! client_opts --header 'Host: www.example.com'
//! end
//! ```
//!
//! `client` is ignored (the agent's own client is used); of `client_opts`, `-H/--header`,
//! `-k/--insecure` and `-u/--user` are understood, anything else is ignored with a debug note.

use std::path::Path;

use ocf_shim::{OcfError, OcfResult};
use regex::bytes::Regex;

use crate::config::split_words;
use crate::params::{Config, compile};

/// One level-10 check.
#[derive(Clone, Debug)]
pub struct TestSpec {
    pub name: Option<String>,
    pub url: String,
    pub regex: Regex,
    pub auth: Option<(String, String)>,
    pub headers: Vec<(String, String)>,
    /// `-k` given: never verify the certificate.
    pub insecure: bool,
    /// What was ignored, for debug logging.
    pub ignored: Vec<String>,
}

/// The level-10 check configured by the parameters, `Ok(None)` when none is.
pub fn from_config(cfg: &Config) -> OcfResult<Option<TestSpec>> {
    if let Some(file) = &cfg.testconffile {
        let text = read(file)?;
        return parse(&text, cfg.testname.as_deref()).map(Some).map_err(|e| e.context(file.display()));
    }
    let Some(url) = &cfg.testurl else { return Ok(None) };
    let regex = cfg
        .testregex10
        .clone()
        .ok_or_else(|| OcfError::configured("testurl is set but testregex10 is not"))?;
    Ok(Some(TestSpec {
        name: None,
        url: url.clone(),
        regex,
        auth: None,
        headers: Vec::new(),
        insecure: false,
        ignored: Vec::new(),
    }))
}

fn read(file: &Path) -> OcfResult<String> {
    std::fs::read(file)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .map_err(|e| OcfError::installed(format!("testconffile {}: {e}", file.display())))
}

/// Parse the file and pick the block named `name` (the first one when `None`).
pub fn parse(text: &str, name: Option<&str>) -> OcfResult<TestSpec> {
    let mut current: Option<Block> = None;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let (key, value) = match line.split_once(char::is_whitespace) {
            Some((k, v)) => (k, v.trim()),
            None => (line, ""),
        };
        match &mut current {
            None => {
                if key == "test" && name.is_none_or(|want| want == value) {
                    current = Some(Block { name: value.to_string(), ..Default::default() });
                }
            }
            Some(b) => match key {
                "url" => b.url = Some(value.to_string()),
                "match" => b.regex = Some(value.to_string()),
                "user" => b.user = Some(value.to_string()),
                "password" => b.password = Some(value.to_string()),
                "client" => {}
                "client_opts" => b.client_opts = Some(value.to_string()),
                "end" => break,
                "" => {}
                k if k.starts_with('#') => {}
                k => return Err(OcfError::configured(format!("line {}: unknown keyword {k:?}", n + 1))),
            },
        }
    }
    let Some(b) = current else {
        return Err(OcfError::configured(match name {
            Some(n) => format!("no test named {n:?}"),
            None => "no test block".to_string(),
        }));
    };
    b.into_spec()
}

#[derive(Default)]
struct Block {
    name: String,
    url: Option<String>,
    regex: Option<String>,
    user: Option<String>,
    password: Option<String>,
    client_opts: Option<String>,
}

impl Block {
    fn into_spec(self) -> OcfResult<TestSpec> {
        let which = format!("test {:?}", self.name);
        let url = self
            .url
            .filter(|u| !u.is_empty())
            .ok_or_else(|| OcfError::configured(format!("{which}: no url")))?;
        let regex = self
            .regex
            .filter(|r| !r.is_empty())
            .ok_or_else(|| OcfError::configured(format!("{which}: no match")))?;
        let regex = compile("match", &regex).map_err(|e| e.context(&which))?;
        let mut spec = TestSpec {
            name: Some(self.name),
            url,
            regex,
            auth: None,
            headers: Vec::new(),
            insecure: false,
            ignored: Vec::new(),
        };
        match (self.user, self.password) {
            (None, None) => {}
            (Some(u), Some(p)) if !u.is_empty() && !p.is_empty() => spec.auth = Some((u, p)),
            _ => return Err(OcfError::configured(format!("{which}: user and password go together"))),
        }
        if let Some(opts) = self.client_opts {
            let words = split_words(&opts)
                .ok_or_else(|| OcfError::configured(format!("{which}: unbalanced quotes in client_opts")))?;
            client_opts(&words, &mut spec);
        }
        Ok(spec)
    }
}

/// The curl/wget options that make sense for our client.
fn client_opts(words: &[String], spec: &mut TestSpec) {
    let mut it = words.iter();
    while let Some(w) = it.next() {
        match w.as_str() {
            "-H" | "--header" => {
                if let Some((k, v)) = it.next().and_then(|h| h.split_once(':')) {
                    spec.headers.push((k.trim().to_string(), v.trim().to_string()));
                }
            }
            "-k" | "--insecure" | "--no-check-certificate" => spec.insecure = true,
            "-u" | "--user" => {
                if let Some((u, p)) = it.next().and_then(|up| up.split_once(':')) {
                    spec.auth = Some((u.to_string(), p.to_string()));
                }
            }
            other => {
                if let Some(h) = other.strip_prefix("--header=") {
                    if let Some((k, v)) = h.split_once(':') {
                        spec.headers.push((k.trim().to_string(), v.trim().to_string()));
                    }
                } else {
                    spec.ignored.push(other.to_string());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "# monitoring tests\n\
        test first\nurl /one\nmatch alive\nend\n\n\
        test second\n  url http://127.0.0.1:8080/two\n  match ^ok$\n  user mon\n  password s3cret\n\
        \x20 client curl\n  client_opts --header 'Host: www.example.com' -k --max-time 3\n  # comment\nend\n";

    #[test]
    fn picks_blocks() {
        let t = parse(FILE, None).unwrap();
        assert_eq!((t.name.as_deref(), t.url.as_str()), (Some("first"), "/one"));
        assert!(t.auth.is_none());
        let t = parse(FILE, Some("second")).unwrap();
        assert_eq!(t.url, "http://127.0.0.1:8080/two");
        assert_eq!(t.auth, Some(("mon".into(), "s3cret".into())));
        assert_eq!(t.headers, vec![("Host".to_string(), "www.example.com".to_string())]);
        assert!(t.insecure);
        assert_eq!(t.ignored, vec!["--max-time", "3"]);
        assert!(t.regex.is_match(b"x\nOK\n"));
    }

    #[test]
    fn errors_are_configuration_errors() {
        for (text, name, want) in [
            (FILE, Some("third"), "no test named"),
            ("", None, "no test block"),
            ("test a\nmatch x\nend\n", None, "no url"),
            ("test a\nurl /\nend\n", None, "no match"),
            ("test a\nurl /\nmatch (\nend\n", None, "not a valid regular expression"),
            ("test a\nurl /\nmatch x\nuser u\nend\n", None, "go together"),
            ("test a\nurl /\nmatch x\nbogus 1\nend\n", None, "unknown keyword"),
        ] {
            let e = parse(text, name).unwrap_err();
            assert_eq!(e.code, ocf_shim::OcfCode::ErrConfigured);
            assert!(e.reason.contains(want), "{want}: {}", e.reason);
        }
    }
}
