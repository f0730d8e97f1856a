//! `checktype=external`: `checkcommand <virtual> <vport> <real> <rport>`, exit 0 = up.
//!
//! As ldirectord's `check_external`: the command is exec'ed directly (no shell; Perl's
//! `exec(LIST)`), with four arguments: the virtual's address (its fwmark for a fwmark virtual,
//! whose port is then "0"), the virtual's port, the real's address (IPv6 without brackets) and
//! the port checked. ldirectord only sends SIGTERM to the direct child at the timeout, leaving
//! its children running; we run the command as the leader of its own process group and kill the
//! whole group with SIGKILL when the check ends (timeout, cancellation or normal exit), so no
//! check leaves processes behind interval after interval.
//!
//! Output is read up to [`MAX_OUTPUT`] bytes per stream (the rest is drained and discarded so
//! the command never blocks on a full pipe); on failure the first non-empty line of stdout,
//! else of stderr, is the reason.

use std::process::Stdio;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

use crate::Down;
use crate::outcome::CheckResult;
use crate::run::Probe;

/// Output kept per stream.
pub const MAX_OUTPUT: usize = 4096;

/// Kills the process group when dropped (the check finished, or its timeout dropped it).
struct GroupGuard(i32);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if self.0 > 0 {
            // SAFETY: kill(2) with a negative pid signals the group; no memory is involved.
            unsafe {
                libc::kill(-self.0, libc::SIGKILL);
            }
        }
    }
}

/// The four arguments ldirectord passes.
pub fn arguments(probe: &Probe<'_>) -> [String; 4] {
    let (virt, vport) = &probe.spec.virtual_id;
    [
        virt.clone(),
        vport.to_string(),
        probe.target.addr.ip().to_string(),
        probe.target.addr.port().to_string(),
    ]
}

pub async fn check(probe: &Probe<'_>) -> CheckResult {
    let Some(command) = probe.spec.checkcommand.as_deref().filter(|c| !c.is_empty()) else {
        return Err(Down::new("checktype=external needs a checkcommand"));
    };
    probe.stage("starting checkcommand");
    let mut child = Command::new(command)
        .args(arguments(probe))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            Down(format!("cannot run checkcommand {command}: {}", crate::net::describe_io_error(&e)))
        })?;
    let group = GroupGuard(child.id().map_or(0, |p| p as i32));
    probe.stage("running checkcommand");
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    // The command's exit decides; a grandchild may keep its pipes open, so once the command
    // has exited the group is killed, which closes them and ends the reads.
    let wait = async {
        let status = child.wait().await;
        drop(group);
        status
    };
    let (status, out, err) = tokio::join!(wait, read_bounded(stdout), read_bounded(stderr));
    let status = status?;
    if status.success() {
        return Ok(());
    }
    let how = match status.code() {
        Some(code) => format!("checkcommand exited {code}"),
        None => {
            use std::os::unix::process::ExitStatusExt;
            format!("checkcommand killed by signal {}", status.signal().unwrap_or(0))
        }
    };
    match first_line(&out).or_else(|| first_line(&err)) {
        Some(line) => Err(Down(format!("{how}: {line}"))),
        None => Err(Down(how)),
    }
}

/// Reads a pipe to EOF, keeping the first [`MAX_OUTPUT`] bytes.
async fn read_bounded<R: AsyncRead + Unpin>(pipe: Option<R>) -> Vec<u8> {
    let Some(mut pipe) = pipe else {
        return Vec::new();
    };
    let mut kept = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n) = pipe.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        let room = MAX_OUTPUT.saturating_sub(kept.len());
        kept.extend_from_slice(&chunk[..n.min(room)]);
    }
    kept
}

/// The first non-empty line, trimmed and cut to 200 characters.
pub fn first_line(out: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(out);
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    Some(line.chars().take(200).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_lines() {
        assert_eq!(first_line(b"\n  CRITICAL - down  \nmore"), Some("CRITICAL - down".into()));
        assert_eq!(first_line(b""), None);
        assert_eq!(first_line(&[b'x'; 500]).unwrap().len(), 200);
    }
}
