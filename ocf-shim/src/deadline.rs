//! Bounded waiting against the operation's timeout (`OCF_RESKEY_CRM_meta_timeout`).
//!
//! Pacemaker SIGKILLs an agent's whole process group when the timeout expires, and then
//! nobody learns why. So every wait inside an agent is bounded by a deadline that ends a
//! little *before* Pacemaker's, leaving time to clean up and print an exit reason.

use std::time::{Duration, Instant};

/// Pacemaker's default operation timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// When this process was forked, as an `Instant`: Pacemaker's timer for the operation starts
/// at the fork, before exec and dynamic loading (slow on an emulated or loaded node), so an
/// agent's deadline counts from there too. From /proc/self/stat's start time (clock ticks since
/// boot) against CLOCK_BOOTTIME; `None` if either cannot be read.
pub fn process_start() -> Option<Instant> {
    // Read into a buffer big enough for the whole line (procfs reports no size, so
    // read_to_string would stat the file and read it in growing pieces: eight system calls
    // instead of two). The line is a few hundred bytes.
    let mut file = std::fs::File::open("/proc/self/stat").ok()?;
    let mut buf = [0u8; 2048];
    let mut len = 0;
    while len < buf.len() {
        match std::io::Read::read(&mut file, &mut buf[len..]).ok()? {
            0 => break,
            n => len += n,
        }
    }
    let stat = std::str::from_utf8(&buf[..len]).ok()?;
    // Fields after "(comm)": state is field 3, starttime field 22.
    let after_comm = stat.rsplit_once(')')?.1;
    let ticks: u64 = after_comm.split_whitespace().nth(19)?.parse().ok()?;
    // SAFETY: sysconf has no memory effects.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz <= 0 {
        return None;
    }
    let started = Duration::from_secs_f64(ticks as f64 / hz as f64);
    let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_BOOTTIME).ok()?;
    let now = Duration::new(now.tv_sec() as u64, now.tv_nsec() as u32);
    // Never claim more than the process could have lived, nor a start in the future.
    let age = now.checked_sub(started)?.min(Duration::from_secs(3600));
    Instant::now().checked_sub(age)
}

#[derive(Clone, Copy, Debug)]
pub struct Deadline {
    end: Instant,
}

impl Deadline {
    /// A deadline for an operation of `timeout`, started at `start`: the agent keeps back a
    /// tenth of the timeout (at least 0.2 s, at most 2 s) for its own cleanup and reporting.
    pub fn for_timeout(start: Instant, timeout: Duration) -> Self {
        let margin = (timeout / 10).clamp(Duration::from_millis(200), Duration::from_secs(2));
        Deadline { end: start + timeout.saturating_sub(margin) }
    }

    /// A deadline `d` from now (no margin).
    pub fn after(d: Duration) -> Self {
        Deadline { end: Instant::now() + d }
    }

    /// The instant the deadline falls (e.g. for socket timeouts computed per call).
    pub fn end(&self) -> Instant {
        self.end
    }

    /// Time left; zero once expired.
    pub fn remaining(&self) -> Duration {
        self.end.saturating_duration_since(Instant::now())
    }

    pub fn expired(&self) -> bool {
        self.remaining().is_zero()
    }

    /// The earlier of this deadline and `d` from now: for one step of a longer operation.
    pub fn cap(&self, d: Duration) -> Deadline {
        let other = Instant::now() + d;
        Deadline { end: self.end.min(other) }
    }

    /// Poll `done` every `every` until it returns true (→ true) or the deadline passes
    /// (→ false, after one last check).
    pub fn wait_for(&self, every: Duration, mut done: impl FnMut() -> bool) -> bool {
        loop {
            if done() {
                return true;
            }
            let left = self.remaining();
            if left.is_zero() {
                return false;
            }
            std::thread::sleep(every.min(left));
            if self.expired() {
                return done();
            }
        }
    }
}

/// Runs a call that cannot be interrupted (a blocking getaddrinfo) on a thread of its own and
/// waits for it at most `limit`: `None` when it did not answer in time (the thread is left to
/// finish or to die with the process, which an agent's short life makes harmless).
pub fn on_thread_within<T: Send + 'static>(
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("bounded".into())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .ok()?;
    rx.recv_timeout(limit).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_thread_within_gives_up_on_a_hung_call() {
        let t = Instant::now();
        assert_eq!(
            on_thread_within(Duration::from_millis(50), || std::thread::sleep(Duration::from_secs(10))),
            None
        );
        assert!(t.elapsed() < Duration::from_secs(1));
        assert_eq!(on_thread_within(Duration::from_secs(5), || 42), Some(42));
    }

    #[test]
    fn keeps_a_margin() {
        let start = Instant::now();
        let d = Deadline::for_timeout(start, Duration::from_secs(20));
        assert!(d.remaining() <= Duration::from_secs(18));
        let d = Deadline::for_timeout(start, Duration::from_millis(500));
        assert!(d.remaining() <= Duration::from_millis(300));
    }

    #[test]
    fn process_start_is_recent_and_past() {
        let s = process_start().expect("/proc/self/stat and CLOCK_BOOTTIME are readable");
        assert!(s <= Instant::now());
        // The test binary started well within the hour; allow for a 10 ms tick.
        assert!(s.elapsed() < Duration::from_secs(3600));
    }

    #[test]
    fn wait_for_gives_up_in_time() {
        let d = Deadline::after(Duration::from_millis(100));
        let t = Instant::now();
        assert!(!d.wait_for(Duration::from_millis(10), || false));
        assert!(t.elapsed() < Duration::from_millis(500));
        let mut n = 0;
        assert!(Deadline::after(Duration::from_secs(5)).wait_for(Duration::from_millis(1), || {
            n += 1;
            n == 3
        }));
    }
}
