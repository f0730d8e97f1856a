//! Reading a response: status line and headers, then a Content-Length, chunked or
//! close-delimited body.

use std::io::Read;
use std::time::Instant;

use super::error::HttpError;
use super::timed::io_error;

/// Largest response header accepted.
const MAX_HEADER: usize = 64 << 10;
/// Body bytes kept for matching; the rest is read and dropped (the regex sees the beginning).
const MAX_BODY: usize = 16 << 20;

/// One response, before redirects are followed.
pub(super) struct RawResponse {
    pub(super) status: u16,
    pub(super) reason: String,
    pub(super) location: Option<String>,
    pub(super) body: Vec<u8>,
}

pub(super) fn read_response(r: &mut impl Read, started: Instant) -> Result<RawResponse, HttpError> {
    let mut buf = Vec::with_capacity(8192);
    let mut chunk = [0u8; 16384];
    loop {
        // Header (skipping interim 1xx responses).
        let end = loop {
            if let Some(i) = find(&buf, b"\r\n\r\n") {
                break i + 4;
            }
            if buf.len() > MAX_HEADER {
                return Err(HttpError::Protocol("header too large".into()));
            }
            let n = r.read(&mut chunk).map_err(|e| io_error(e, "waiting for the response", started))?;
            if n == 0 {
                return Err(if buf.is_empty() {
                    HttpError::Io("connection closed without a response".into())
                } else {
                    HttpError::Protocol("connection closed inside the header".into())
                });
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        let rest = buf.split_off(end);
        buf = rest;
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or("");
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or("");
        if !version.starts_with("HTTP/") {
            return Err(HttpError::Protocol(format!("status line {:?}", truncate(status_line, 60))));
        }
        let status: u16 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| HttpError::Protocol(format!("status line {:?}", truncate(status_line, 60))))?;
        let reason = parts.next().unwrap_or("").trim().to_string();
        if (100..200).contains(&status) && status != 101 {
            continue;
        }
        let mut content_length = None;
        let mut chunked = false;
        let mut location = None;
        for l in lines {
            let Some((k, v)) = l.split_once(':') else { continue };
            let (k, v) = (k.trim(), v.trim());
            if k.eq_ignore_ascii_case("content-length") {
                content_length = v.parse::<u64>().ok();
            } else if k.eq_ignore_ascii_case("transfer-encoding") {
                chunked = v.to_ascii_lowercase().contains("chunked");
            } else if k.eq_ignore_ascii_case("location") {
                location = Some(v.to_string());
            }
        }
        let body = if status == 204 || status == 304 {
            Vec::new()
        } else if chunked {
            read_chunked(r, buf, started)?
        } else if let Some(len) = content_length {
            read_exact_len(r, buf, len, started)?
        } else {
            read_to_close(r, buf, started)?
        };
        return Ok(RawResponse { status, reason, location, body });
    }
}

fn read_more(r: &mut impl Read, buf: &mut Vec<u8>, started: Instant) -> Result<usize, HttpError> {
    let mut chunk = [0u8; 16384];
    let n = r.read(&mut chunk).map_err(|e| io_error(e, "reading the response body", started))?;
    if buf.len() < MAX_BODY + 64 {
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(n)
}

fn read_exact_len(
    r: &mut impl Read,
    mut buf: Vec<u8>,
    len: u64,
    started: Instant,
) -> Result<Vec<u8>, HttpError> {
    let mut total = buf.len() as u64;
    while total < len {
        let n = read_more(r, &mut buf, started)?;
        if n == 0 {
            return Err(HttpError::Protocol(format!("body ended after {total} of {len} bytes")));
        }
        total += n as u64;
    }
    buf.truncate(len.min(MAX_BODY as u64) as usize);
    Ok(buf)
}

fn read_to_close(r: &mut impl Read, mut buf: Vec<u8>, started: Instant) -> Result<Vec<u8>, HttpError> {
    while read_more(r, &mut buf, started)? > 0 {}
    buf.truncate(MAX_BODY);
    Ok(buf)
}

fn read_chunked(r: &mut impl Read, mut raw: Vec<u8>, started: Instant) -> Result<Vec<u8>, HttpError> {
    let mut dec = Dechunker::default();
    let mut pos = 0;
    loop {
        pos += dec.feed(&raw[pos..])?;
        if dec.done {
            return Ok(dec.out);
        }
        raw.drain(..pos);
        pos = 0;
        if read_more(r, &mut raw, started)? == 0 {
            return Err(HttpError::Protocol("connection closed inside a chunked body".into()));
        }
    }
}

/// Incremental `Transfer-Encoding: chunked` decoder.
#[derive(Default)]
struct Dechunker {
    /// Bytes left in the current chunk's data.
    left: usize,
    /// Expecting the CRLF after a chunk's data.
    after_data: bool,
    in_trailer: bool,
    done: bool,
    out: Vec<u8>,
}

impl Dechunker {
    /// Consume what can be consumed; returns the bytes used.
    fn feed(&mut self, data: &[u8]) -> Result<usize, HttpError> {
        let mut i = 0;
        while i < data.len() && !self.done {
            if self.left > 0 {
                let n = self.left.min(data.len() - i);
                if self.out.len() < MAX_BODY {
                    self.out.extend_from_slice(&data[i..i + n]);
                }
                self.left -= n;
                i += n;
                if self.left == 0 {
                    self.after_data = true;
                }
                continue;
            }
            // Line-oriented parts need a whole line.
            let Some(eol) = find(&data[i..], b"\r\n") else { break };
            let line = &data[i..i + eol];
            i += eol + 2;
            if self.after_data {
                if !line.is_empty() {
                    return Err(HttpError::Protocol("missing CRLF after a chunk".into()));
                }
                self.after_data = false;
            } else if self.in_trailer {
                if line.is_empty() {
                    self.done = true;
                }
            } else {
                let size_s = String::from_utf8_lossy(line);
                let size_s = size_s.split(';').next().unwrap_or("").trim();
                let size = usize::from_str_radix(size_s, 16)
                    .map_err(|_| HttpError::Protocol(format!("chunk size {:?}", truncate(size_s, 20))))?;
                if size == 0 {
                    self.in_trailer = true;
                } else {
                    self.left = size;
                }
            }
        }
        Ok(i)
    }
}

pub(super) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_in_pieces() {
        let body = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nTrailer: x\r\n\r\n";
        for split in 1..body.len() {
            let mut d = Dechunker::default();
            let mut raw = body[..split].to_vec();
            let used = d.feed(&raw).unwrap();
            raw.drain(..used);
            raw.extend_from_slice(&body[split..]);
            d.feed(&raw).unwrap();
            assert!(d.done, "split {split}");
            assert_eq!(d.out, b"Wikipedia");
        }
        assert!(Dechunker::default().feed(b"zz\r\n").is_err());
    }
}
