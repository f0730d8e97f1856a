//! The URL of a check: parsing, the `Host:` header, and redirect targets.

use super::error::HttpError;

/// A parsed `http(s)://[user:pass@]host[:port][/path]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    pub https: bool,
    /// Without brackets.
    pub host: String,
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
    pub userinfo: Option<(String, String)>,
}

impl Url {
    pub fn parse(s: &str) -> Result<Url, HttpError> {
        // Quoted and cut: the value may be huge, and the reason must stay readable.
        let bad = || HttpError::Url(ocf_shim::params::quote(std::ffi::OsStr::new(s)));
        let s = s.trim();
        let (scheme, rest) = s.split_once("://").ok_or_else(bad)?;
        let https = match scheme.to_ascii_lowercase().as_str() {
            "http" => false,
            "https" => true,
            _ => return Err(bad()),
        };
        let (authority, path) = match rest.find(['/', '?', '#']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let path = path.split('#').next().unwrap_or("/");
        let path = if path.starts_with('/') { path.to_string() } else { format!("/{path}") };
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => {
                let (user, pass) = u.split_once(':').unwrap_or((u, ""));
                (Some((percent_decode(user), percent_decode(pass))), h)
            }
            None => (None, authority),
        };
        let default_port = if https { 443 } else { 80 };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(bad)?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| bad())?,
                None if after.is_empty() => default_port,
                None => return Err(bad()),
            };
            (h.to_string(), port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => {
                    (h.to_string(), if p.is_empty() { default_port } else { p.parse().map_err(|_| bad())? })
                }
                None => (hostport.to_string(), default_port),
            }
        };
        if host.is_empty() || port == 0 || host.contains(char::is_whitespace) {
            return Err(bad());
        }
        Ok(Url { https, host, port, path, userinfo })
    }

    /// `Host:` header value.
    pub(super) fn host_header(&self) -> String {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        if self.port == if self.https { 443 } else { 80 } { host } else { format!("{host}:{}", self.port) }
    }

    /// A `Location` header resolved against this URL.
    pub(super) fn join(&self, location: &str) -> Result<Url, HttpError> {
        let l = location.trim();
        if l.contains("://") {
            return Url::parse(l);
        }
        let scheme = if self.https { "https" } else { "http" };
        if let Some(rest) = l.strip_prefix("//") {
            return Url::parse(&format!("{scheme}://{rest}"));
        }
        let mut next = self.clone();
        next.path = if l.starts_with('/') {
            l.to_string()
        } else {
            let dir = self.path.split('?').next().unwrap_or("/");
            let dir = &dir[..dir.rfind('/').map_or(0, |i| i + 1)];
            format!("{dir}{l}")
        };
        Ok(next)
    }

    pub fn display(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}{}", self.host_header(), self.path)
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = Url::parse("http://127.0.0.1:80/server-status?auto").unwrap();
        assert_eq!(
            (u.https, u.host.as_str(), u.port, u.path.as_str()),
            (false, "127.0.0.1", 80, "/server-status?auto")
        );
        let u = Url::parse("HTTPS://u%40x:p%3Aw@[2001:db8::1]/").unwrap();
        assert_eq!((u.https, u.host.as_str(), u.port), (true, "2001:db8::1", 443));
        assert_eq!(u.userinfo, Some(("u@x".into(), "p:w".into())));
        assert_eq!(u.host_header(), "[2001:db8::1]");
        assert_eq!(Url::parse("http://h").unwrap().path, "/");
        assert_eq!(Url::parse("http://h?q").unwrap().path, "/?q");
        for bad in [
            "",
            "ftp://h/",
            "http://",
            "http://h:x/",
            "http://[::1/",
            "http://h:0/",
            "127.0.0.1/x",
            "http://a b/",
        ] {
            assert!(Url::parse(bad).is_err(), "{bad}");
        }
        let base = Url::parse("http://h:8080/a/b?x").unwrap();
        assert_eq!(base.join("/c").unwrap().display(), "http://h:8080/c");
        assert_eq!(base.join("c").unwrap().display(), "http://h:8080/a/c");
        assert_eq!(base.join("https://o/").unwrap().display(), "https://o/");
        assert_eq!(base.join("//o:1/p").unwrap().display(), "http://o:1/p");
    }
}
