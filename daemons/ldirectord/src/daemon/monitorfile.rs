//! `monitorfile`: a line appended after every check result, in upstream's format
//! `[<local time>] [<pid>] <real id> [up|down] <message>`, so scripts written for upstream's
//! file keep working.
//!
//! Upstream's real id is its internal key with ':' squeezed into blanks: check (with the
//! service), protocol, address, port, virtualhost, checkport, weight, forwarding method,
//! request, receive; empty fields vanish. The message has '%', '|', CR and LF URI-escaped so a
//! line stays one line. Unlike upstream, which dies when the file cannot be written, a
//! failed write is logged (once per file until it works again) and checking goes on.

use std::io::Write;
use std::path::Path;

use rha_check::CheckType;
use rha_ipvs::Forward;

use crate::model::{Real, Virtual};

/// The line for one result (with its newline).
pub fn line(time: &str, pid: u32, v: &Virtual, real: &Real, up: bool, msg: &str) -> String {
    format!("[{time}] [{pid}] {} [{}] {}\n", real_id(v, real), if up { "up" } else { "down" }, escape(msg))
}

fn real_id(v: &Virtual, real: &Real) -> String {
    let c = &real.check;
    let check = match c.checktype {
        CheckType::Negotiate => format!("negotiate {}", c.service.name()),
        CheckType::Combined(_) => format!("combined {}", c.service.name()),
        CheckType::External => format!("external {}", c.checkcommand.as_deref().unwrap_or("")),
        CheckType::Connect => "connect".into(),
        CheckType::Ping => "ping".into(),
        CheckType::On => "on".into(),
        CheckType::Off => "off".into(),
    };
    let proto = match v.key() {
        rha_ipvs::ServiceKey::Addr { protocol, .. } => protocol.to_string().to_lowercase(),
        rha_ipvs::ServiceKey::Fwmark { .. } => "fwm".into(),
    };
    let forward = match real.dest.forward {
        Forward::Masq => "masq",
        Forward::Tunnel => "ipip",
        Forward::DirectRoute | Forward::Local | Forward::Bypass => "gate",
    };
    let checkport = if real.target.addr.port() != real.dest.port {
        real.target.addr.port().to_string()
    } else {
        String::new()
    };
    let fields = [
        check,
        proto,
        real.dest.addr.to_string(),
        real.dest.port.to_string(),
        c.virtualhost.clone().unwrap_or_default(),
        checkport,
        real.dest.weight.to_string(),
        forward.into(),
        c.request.clone().unwrap_or_default(),
        c.receive.as_ref().map(|r| r.as_str().to_string()).unwrap_or_default(),
    ];
    fields.iter().map(|f| f.trim()).filter(|f| !f.is_empty()).collect::<Vec<_>>().join(" ")
}

fn escape(msg: &str) -> String {
    if msg.is_empty() {
        return "-".into();
    }
    let mut out = String::with_capacity(msg.len());
    for ch in msg.chars() {
        match ch {
            '%' | '|' | '\r' | '\n' => out.push_str(&format!("%{:02x}", ch as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Appends `text` to `path` (created 0644 if missing).
pub fn append(path: &Path, text: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    f.write_all(text.as_bytes())
}

/// The local time as upstream's Perl `localtime()` prints it: "Fri Dec  4 18:50:36 2026".
pub fn local_time_now() -> String {
    let mut t: libc::time_t = 0;
    // SAFETY: time(2) and localtime_r(3) with valid pointers; strftime writes at most buf's size.
    unsafe {
        libc::time(&mut t);
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return t.to_string();
        }
        let mut buf = [0u8; 64];
        let n = libc::strftime(buf.as_mut_ptr().cast(), buf.len(), c"%a %b %e %H:%M:%S %Y".as_ptr(), &tm);
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::desired::tests::virtual_with;

    #[test]
    fn upstreams_line_format() {
        let mut v = virtual_with(&[("203.0.113.2:80", 3)], false, None);
        v.reals[0].check.request = Some("/health".into());
        v.reals[0].check.receive = Some(rha_check::receive::Receive::new("ok").unwrap());
        let r = &v.reals[0];
        assert_eq!(
            line("Fri Dec  4 18:50:36 2026", 42, &v, r, false, "HTTP 503|x\nnext"),
            "[Fri Dec  4 18:50:36 2026] [42] negotiate http tcp 203.0.113.2 80 3 masq /health ok [down] HTTP 503%7cx%0anext\n"
        );
        assert!(line("t", 1, &v, r, true, "").ends_with("[up] -\n"));
        let now = local_time_now();
        assert_eq!(now.split_whitespace().count(), 5, "{now}");
    }

    #[test]
    fn append_creates_and_appends() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("monitor.log");
        append(&p, "a\n").unwrap();
        append(&p, "b\n").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "a\nb\n");
    }
}
