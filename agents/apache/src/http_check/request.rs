//! The request: what it asks for, and its text.

use super::url::Url;

/// How to make the request.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Prefer ::1 (and IPv6 addresses of names).
    pub ipv6: bool,
    /// Verify HTTPS certificates against the system CA bundle.
    pub verify_tls: bool,
    /// Basic authentication (a URL's own user:password wins).
    pub auth: Option<(String, String)>,
    pub headers: Vec<(String, String)>,
}

/// The request's text, ending with the empty line.
pub(super) fn text(url: &Url, opts: &Options) -> String {
    let mut req = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: rha-apache/{}\r\nAccept: */*\r\nConnection: close\r\n",
        url.path,
        url.host_header(),
        env!("CARGO_PKG_VERSION")
    );
    if let Some((u, p)) = url.userinfo.as_ref().or(opts.auth.as_ref()) {
        req.push_str(&format!("Authorization: Basic {}\r\n", base64(format!("{u}:{p}").as_bytes())));
    }
    for (k, v) in &opts.headers {
        if k.eq_ignore_ascii_case("host") || k.eq_ignore_ascii_case("connection") {
            req = replace_header(&req, k, v);
        } else {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    req.push_str("\r\n");
    req
}

fn replace_header(req: &str, name: &str, value: &str) -> String {
    req.lines()
        .map(|l| match l.split_once(':') {
            Some((k, _)) if k.eq_ignore_ascii_case(name) => format!("{k}: {value}\r\n"),
            _ if l.is_empty() => String::new(),
            _ => format!("{l}\r\n"),
        })
        .collect()
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (k, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if k <= c.len() {
                out.push(T[((n >> shift) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_encoding() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"user:pass"), "dXNlcjpwYXNz");
    }
}
