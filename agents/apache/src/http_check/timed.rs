//! Reads and writes bounded by the operation's deadline, over plain TCP or TLS.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::error::HttpError;

pub(super) enum Conn {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Conn {
    fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(s) => s,
            Conn::Tls(s) => &s.sock,
        }
    }
}

/// Sets the socket timeouts to what is left before each read and write.
pub(super) struct Timed<'a> {
    pub(super) conn: &'a mut Conn,
    pub(super) deadline: Instant,
}

impl Timed<'_> {
    fn arm(&self) -> io::Result<()> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "deadline"));
        }
        let left = left.max(Duration::from_millis(1));
        self.conn.tcp().set_read_timeout(Some(left))?;
        self.conn.tcp().set_write_timeout(Some(left))
    }
}

impl Read for Timed<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.arm()?;
        let r = match self.conn {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        };
        match r {
            // A peer closing without TLS close_notify: the end of a close-delimited body.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
            other => other,
        }
    }
}

impl Write for Timed<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.arm()?;
        match self.conn {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        self.arm()?;
        match self.conn {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

pub(super) fn io_error(e: io::Error, during: &'static str, started: Instant) -> HttpError {
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
            HttpError::Timeout { during, waited: started.elapsed().as_secs_f64() }
        }
        _ => match e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
            Some(tls) => HttpError::Tls(tls.to_string()),
            None => HttpError::Io(format!("{during}: {e}")),
        },
    }
}
