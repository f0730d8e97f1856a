//! Bounded reads: every reply a check reads is limited in size, so a hostile or broken server
//! can cost a check its timeout, never unbounded memory.

use tokio::io::{AsyncRead, AsyncReadExt};

use crate::Down;

/// The longest line a text protocol reply may have (SMTP's limit is 512; servers' banners
/// and multi-line replies stay well below this).
pub const MAX_LINE: usize = 8 * 1024;

/// Reads lines (ending in LF, CR stripped) from a stream, buffering what comes after a line.
pub struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    max_line: usize,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    pub fn new(inner: R) -> Self {
        LineReader { inner, buf: Vec::new(), max_line: MAX_LINE }
    }

    pub fn with_max_line(inner: R, max_line: usize) -> Self {
        LineReader { inner, buf: Vec::new(), max_line }
    }

    /// The next line, without its line ending. Non-UTF-8 bytes are replaced.
    pub async fn read_line(&mut self) -> Result<String, Down> {
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=pos).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(String::from_utf8_lossy(&line).into_owned());
            }
            if self.buf.len() > self.max_line {
                return Err(Down(format!("reply line longer than {} bytes", self.max_line)));
            }
            let mut chunk = [0u8; 2048];
            let n = self.inner.read(&mut chunk).await?;
            if n == 0 {
                return Err(Down::new(if self.buf.is_empty() {
                    "connection closed by the server"
                } else {
                    "connection closed in the middle of a line"
                }));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// The underlying stream (for writes; buffered bytes stay here).
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// Gives the stream back, with what was read past the last line (for a STARTTLS upgrade
    /// that must see no buffered plaintext: the caller checks it is empty).
    pub fn into_parts(self) -> (R, Vec<u8>) {
        (self.inner, self.buf)
    }
}

/// Reads until EOF or `limit` bytes, whichever comes first; `truncated` says which.
pub async fn read_to_limit<R: AsyncRead + Unpin>(r: &mut R, limit: usize) -> Result<(Vec<u8>, bool), Down> {
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = r.read(&mut chunk).await?;
        if n == 0 {
            return Ok((out, false));
        }
        let room = limit - out.len();
        if n >= room {
            out.extend_from_slice(&chunk[..room]);
            return Ok((out, true));
        }
        out.extend_from_slice(&chunk[..n]);
    }
}

/// The most lines one coded reply (SMTP, FTP, NNTP: `250-...` continued, `250 ...` last) may
/// have; a server that keeps sending continuation lines is down, not a memory sink.
pub const MAX_REPLY_LINES: usize = 256;

/// One coded reply: its three-digit code and the text of its lines (code stripped).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodedReply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl CodedReply {
    /// The whole reply as one string (lines joined with newlines), for receive= and reasons.
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }

    /// The code and the first line, short: "554 no service here".
    pub fn summary(&self) -> String {
        let first = self.lines.first().map(String::as_str).unwrap_or("");
        let first = match first.char_indices().nth(80) {
            Some((i, _)) => &first[..i],
            None => first,
        };
        if first.is_empty() { self.code.to_string() } else { format!("{} {first}", self.code) }
    }
}

/// Parses one line of a coded reply: `Ok((code, is_last, text))`. `250-x` continues, `250 x`
/// (or a bare `250`) ends. Anything else is not such a reply.
pub fn parse_coded_line(line: &str) -> Result<(u16, bool, &str), Down> {
    let b = line.as_bytes();
    if b.len() < 3 || !b[..3].iter().all(u8::is_ascii_digit) {
        return Err(Down(format!("not a protocol reply: {}", quoted(line))));
    }
    let code: u16 = line[..3].parse().map_err(|_| Down::new("bad reply code"))?;
    match b.get(3) {
        None => Ok((code, true, "")),
        Some(b' ') => Ok((code, true, &line[4..])),
        Some(b'-') => Ok((code, false, &line[4..])),
        Some(_) => Err(Down(format!("not a protocol reply: {}", quoted(line)))),
    }
}

/// Reads one coded reply (RFC 5321 4.2.1, RFC 959 4.2): continuation lines `NNN-`, then the
/// last `NNN `. RFC 959 lets the lines between carry any text; we accept that (vsftpd and
/// others indent them), and require the last line to carry the first line's code.
pub async fn read_coded_reply<R: AsyncRead + Unpin>(r: &mut LineReader<R>) -> Result<CodedReply, Down> {
    let first = r.read_line().await?;
    let (code, mut last, text) = parse_coded_line(&first)?;
    let mut lines = vec![text.to_string()];
    while !last {
        if lines.len() >= MAX_REPLY_LINES {
            return Err(Down(format!("reply {code} longer than {MAX_REPLY_LINES} lines")));
        }
        let line = r.read_line().await?;
        match parse_coded_line(&line) {
            Ok((c, l, text)) if c == code => {
                last = l;
                lines.push(text.to_string());
            }
            Ok((c, _, _)) if line.as_bytes().get(3) == Some(&b' ') => {
                return Err(Down(format!("reply {code} ended with code {c}")));
            }
            _ => lines.push(line),
        }
    }
    Ok(CodedReply { code, lines })
}

/// A server's text quoted for a reason: escapes for control and other odd characters (as
/// Rust's `{:?}`), cut to about 100 bytes with "..." marking the cut, so that a reason stays
/// short however the text is made (80 characters of `{:?}` can be 800 bytes).
pub fn quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        let start = out.len();
        out.extend(c.escape_debug());
        if out.len() > 100 {
            out.truncate(start);
            out.push_str("...");
            break;
        }
    }
    out.push('"');
    out
}

/// A reply line cut to 80 characters, for reasons.
pub fn short(s: &str) -> &str {
    match s.char_indices().nth(80) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// A scripted server for unit tests and fuzzing: reads come from `input` (then EOF), writes are
/// kept in `written`. It never blocks, so a dialogue over it finishes in one poll.
pub struct Scripted<'a> {
    input: &'a [u8],
    pub written: Vec<u8>,
}

impl<'a> Scripted<'a> {
    pub fn new(input: &'a [u8]) -> Self {
        Scripted { input, written: Vec::new() }
    }
}

impl AsyncRead for Scripted<'_> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let n = self.input.len().min(buf.remaining());
        buf.put_slice(&self.input[..n]);
        self.input = &self.input[n..];
        std::task::Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncWrite for Scripted<'_> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        // Bounded too: a dialogue that writes without end is a bug the fuzzer should see.
        if self.written.len() < 1 << 20 {
            self.written.extend_from_slice(buf);
        }
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// Runs a future that never waits (a dialogue over [`Scripted`]) to completion without a
/// runtime: `None` if it would have waited.
pub fn run_ready<F: std::future::Future>(f: F) -> Option<F::Output> {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => Some(v),
        std::task::Poll::Pending => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    }

    #[test]
    fn lines_split_on_lf_and_crlf_and_bound_their_length() {
        rt().block_on(async {
            let mut r = LineReader::new(&b"220 hello\r\n250 ok\nrest"[..]);
            assert_eq!(r.read_line().await.unwrap(), "220 hello");
            assert_eq!(r.read_line().await.unwrap(), "250 ok");
            assert!(r.read_line().await.unwrap_err().0.contains("middle of a line"));
            let long = vec![b'a'; 20_000];
            let mut r = LineReader::new(&long[..]);
            assert!(r.read_line().await.unwrap_err().0.contains("longer than"));
        });
    }

    #[test]
    fn coded_replies_single_multi_and_bounded() {
        let mut r = LineReader::new(&b"220 hi\r\n250-a\r\n250-b\r\n250 c\r\n"[..]);
        let one = run_ready(read_coded_reply(&mut r)).unwrap().unwrap();
        assert_eq!((one.code, one.summary()), (220, "220 hi".to_string()));
        let multi = run_ready(read_coded_reply(&mut r)).unwrap().unwrap();
        assert_eq!((multi.code, multi.text()), (250, "a\nb\nc".to_string()));
        let mut r = LineReader::new(&b"250-a\r\n251 b\r\n"[..]);
        assert!(run_ready(read_coded_reply(&mut r)).unwrap().unwrap_err().0.contains("ended with code 251"));
        let endless = "250-x\r\n".repeat(MAX_REPLY_LINES + 5);
        let mut r = LineReader::new(endless.as_bytes());
        assert!(run_ready(read_coded_reply(&mut r)).unwrap().unwrap_err().0.contains("longer than"));
        for bad in ["", "25", "2x0 a", "250x", "\u{e9}\u{e9}"] {
            assert!(parse_coded_line(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_coded_line("250").unwrap(), (250, true, ""));
    }

    #[test]
    fn quoted_text_is_escaped_and_short() {
        assert_eq!(quoted("a\"b\n"), "\"a\\\"b\\n\"");
        let hostile = quoted(&"\u{14}".repeat(500));
        assert!(hostile.len() <= 105 && hostile.ends_with("...\""), "{hostile}");
        assert!(quoted(&"\u{e9}".repeat(500)).len() <= 105);
    }

    #[test]
    fn read_to_limit_stops_at_the_limit() {
        rt().block_on(async {
            let data = vec![7u8; 10_000];
            let (got, truncated) = read_to_limit(&mut &data[..], 100).await.unwrap();
            assert_eq!((got.len(), truncated), (100, true));
            let (got, truncated) = read_to_limit(&mut &data[..50], 100).await.unwrap();
            assert_eq!((got.len(), truncated), (50, false));
        });
    }
}
