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
