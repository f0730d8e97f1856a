//! Monitor level 10: read one block of an array with O_DIRECT, so the answer comes from the
//! members and not from the page cache, within the operation's deadline. A read on an array
//! whose members stopped answering can block for minutes (SCSI timeouts, a hung path), so the
//! read runs on a thread of its own and the monitor gives up on it when the deadline comes.

use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::time::Duration;

/// What is read: 4096 bytes at offset 0, in a buffer aligned to 4096. O_DIRECT wants offset,
/// length and address aligned to the device's logical block size, which is 512 or 4096 for
/// md (it is the largest of its members', and never above the page size), so 4096 fits both.
pub const BLOCK: usize = 4096;

#[repr(C, align(4096))]
struct Block([u8; BLOCK]);

/// Why a read check failed.
#[derive(Debug)]
pub enum ReadFailure {
    /// open or pread failed (the errno is in the error).
    Io(io::Error),
    /// Fewer bytes than a block (an array smaller than 4 KiB, or an end-of-device answer).
    Short(usize),
    /// The read had not returned when the deadline came.
    TimedOut(Duration),
}

/// The errno's symbolic name and text, e.g. `EIO (Input/output error)`.
pub fn describe(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => {
            let name = format!("{:?}", nix::errno::Errno::from_raw(n));
            let text = e.to_string();
            let text = text.split(" (os error").next().unwrap_or(&text).to_string();
            format!("{name} ({text})")
        }
        None => e.to_string(),
    }
}

impl ReadFailure {
    /// The failure as the monitor reports it for `dev`.
    pub fn report(&self, dev: &str) -> String {
        match self {
            ReadFailure::Io(e) => {
                format!("O_DIRECT read of the first block of {dev} failed: {}", describe(e))
            }
            ReadFailure::Short(n) => {
                format!("O_DIRECT read of the first block of {dev} returned {n} of {BLOCK} bytes")
            }
            ReadFailure::TimedOut(d) => format!(
                "O_DIRECT read of the first block of {dev} did not return within {:.1} s (the \
                 operation's deadline): the array is not answering",
                d.as_secs_f64()
            ),
        }
    }
}

/// Open `dev` with O_DIRECT and read its first block, on the calling thread.
pub fn read_first_block(dev: &str) -> Result<(), ReadFailure> {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT | libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(dev)
        .map_err(ReadFailure::Io)?;
    let mut buf = Box::new(Block([0; BLOCK]));
    loop {
        match f.read_at(&mut buf.0, 0) {
            Ok(n) if n == BLOCK => return Ok(()),
            Ok(n) => return Err(ReadFailure::Short(n)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ReadFailure::Io(e)),
        }
    }
}

/// [`read_first_block`] on its own thread, waited for at most `limit` (the thread is left
/// behind when it does not answer: the agent exits right after reporting).
pub fn read_within(dev: &str, limit: Duration) -> Result<(), ReadFailure> {
    let owned = dev.to_string();
    match ocf_shim::deadline::on_thread_within(limit, move || read_first_block(&owned)) {
        Some(r) => r,
        None => Err(ReadFailure::TimedOut(limit)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn reads_a_block_of_a_file_that_supports_o_direct() {
        // Next to the test binary, i.e. on the target directory's disk file system (/tmp may be
        // a tmpfs, which can refuse O_DIRECT).
        let exe = std::env::current_exe().unwrap();
        let dir = tempfile::tempdir_in(exe.parent().unwrap()).unwrap();
        let p = dir.path().join("img");
        std::fs::write(&p, vec![7u8; 2 * BLOCK]).unwrap();
        match read_first_block(p.to_str().unwrap()) {
            Ok(()) => {}
            // A file system without O_DIRECT answers EINVAL at open: say so, do not pass.
            Err(f) => panic!("{}", f.report(&p.display().to_string())),
        }
        std::fs::write(&p, vec![7u8; 100]).unwrap();
        assert!(matches!(read_first_block(p.to_str().unwrap()), Err(ReadFailure::Short(100))));
    }

    #[test]
    fn a_missing_device_names_the_device_and_the_errno() {
        let f = read_within("/dev/md-nonexistent", Duration::from_secs(5)).unwrap_err();
        let r = f.report("/dev/md-nonexistent");
        assert!(r.contains("/dev/md-nonexistent") && r.contains("ENOENT (No such file or directory)"), "{r}");
    }

    #[test]
    fn a_read_that_never_returns_is_bounded() {
        // A FIFO without a writer: open(2) blocks for real, as a read on a hung array does.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fifo");
        nix::unistd::mkfifo(&p, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let t = Instant::now();
        let f = read_within(p.to_str().unwrap(), Duration::from_millis(300)).unwrap_err();
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
        assert!(matches!(f, ReadFailure::TimedOut(_)), "{f:?}");
        assert!(f.report("/dev/md9").contains("/dev/md9 did not return within 0.3 s"), "{}", f.report("x"));
        // Unblock the thread left behind.
        let _ = std::fs::OpenOptions::new().write(true).custom_flags(libc::O_NONBLOCK).open(&p);
    }
}
