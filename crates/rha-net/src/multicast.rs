//! Link-layer multicast groups of an interface (what `ip maddr add|del|show` does): an
//! interface joined to a multicast MAC passes frames sent to it up the stack.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::link::format_mac;

/// Joins `ifname` to the multicast MAC `mac`. Joining again is not an error.
pub fn join(ifname: &str, mac: [u8; 6]) -> io::Result<()> {
    ioctl(libc::SIOCADDMULTI, ifname, mac)
}

/// Leaves the multicast MAC `mac` on `ifname`. Leaving a group not joined is not an error.
pub fn leave(ifname: &str, mac: [u8; 6]) -> io::Result<()> {
    match ioctl(libc::SIOCDELMULTI, ifname, mac) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
        r => r,
    }
}

/// Whether `ifname` was joined to `mac` explicitly (as [`join`] does), from
/// `/proc/net/dev_mcast` of the calling thread's network namespace.
pub fn is_joined(ifname: &str, mac: [u8; 6]) -> io::Result<bool> {
    let text = std::fs::read_to_string("/proc/thread-self/net/dev_mcast")?;
    Ok(joined_in(&text, ifname, mac))
}

/// `dev_mcast` lines are `index name users global address-in-hex`.
fn joined_in(dev_mcast: &str, ifname: &str, mac: [u8; 6]) -> bool {
    let hex = format_mac(&mac).replace(':', "");
    dev_mcast.lines().any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() == 5 && f[1] == ifname && f[3] != "0" && f[4].eq_ignore_ascii_case(&hex)
    })
}

fn ioctl(request: libc::Ioctl, ifname: &str, mac: [u8; 6]) -> io::Result<()> {
    let name = ifname.as_bytes();
    if name.is_empty() || name.len() >= libc::IFNAMSIZ {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("bad interface name {ifname:?}")));
    }
    // SAFETY: a plain socket(2) call; the descriptor is owned right away.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor nobody else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: ifreq is plain data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(name) {
        *d = *s as libc::c_char;
    }
    // The kernel wants the hardware address with family AF_UNSPEC.
    let mut hw: libc::sockaddr = unsafe { std::mem::zeroed() };
    hw.sa_family = libc::AF_UNSPEC as libc::sa_family_t;
    for (d, s) in hw.sa_data.iter_mut().zip(mac) {
        *d = s as libc::c_char;
    }
    req.ifr_ifru.ifru_hwaddr = hw;
    // SAFETY: req is a valid ifreq that lives across the call.
    if unsafe { libc::ioctl(sock.as_raw_fd(), request, &req) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_mcast_lines() {
        let text = "1    lo              1     0     01005e000001\n\
                    2    eth0            1     1     01005e112233\n\
                    2    eth0            1     0     333300000001\n";
        let mac = [0x01, 0x00, 0x5e, 0x11, 0x22, 0x33];
        assert!(joined_in(text, "eth0", mac));
        assert!(!joined_in(text, "lo", mac));
        assert!(!joined_in(text, "eth0", [0x33, 0x33, 0, 0, 0, 1]), "joined by the kernel, not by us");
    }
}
