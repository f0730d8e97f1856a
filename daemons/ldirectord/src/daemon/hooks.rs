//! `fallbackcommand`: `<cmd> start|stop <vip:port> <proto>` when a pool becomes empty or its
//! first real returns. Run in the background and bounded, so a hung script never delays a
//! check or an IPVS change.

use std::time::Duration;

use rha_ipvs::ServiceKey;

use super::log;

/// A hook that has not finished by then is killed.
pub const HOOK_LIMIT: Duration = Duration::from_secs(30);

/// The arguments upstream passes: `<vip:port>` (or the fwmark) and the protocol.
pub fn fallback_args(key: &ServiceKey) -> (String, String) {
    match key {
        ServiceKey::Addr { protocol, addr, port } => {
            let a = match addr {
                std::net::IpAddr::V4(a) => format!("{a}:{port}"),
                std::net::IpAddr::V6(a) => format!("[{a}]:{port}"),
            };
            (a, protocol.to_string().to_lowercase())
        }
        ServiceKey::Fwmark { mark, .. } => (mark.to_string(), "fwm".into()),
    }
}

/// Starts `cmd start|stop ...` through the shell (the directive is a command line) and
/// returns at once; the task logs its exit and kills it after [`HOOK_LIMIT`].
pub fn run_fallback_command(cmd: &str, start: bool, key: &ServiceKey) {
    let (vip, proto) = fallback_args(key);
    let line = format!("{cmd} {} {vip} {proto}", if start { "start" } else { "stop" });
    let child = tokio::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(&line)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            log::error(&format!("fallbackcommand {line:?}: cannot start: {e}"));
            return;
        }
    };
    tokio::spawn(async move {
        match tokio::time::timeout(HOOK_LIMIT, child.wait()).await {
            Ok(Ok(st)) if st.success() => log::info(&format!("fallbackcommand {line:?} done")),
            Ok(Ok(st)) => log::warn(&format!("fallbackcommand {line:?} failed: {st}")),
            Ok(Err(e)) => log::warn(&format!("fallbackcommand {line:?}: {e}")),
            Err(_) => {
                let _ = child.kill().await;
                log::warn(&format!("fallbackcommand {line:?} killed after {} s", HOOK_LIMIT.as_secs()));
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_upstreams() {
        assert_eq!(
            fallback_args(&ServiceKey::tcp("198.51.100.10".parse().unwrap(), 80)),
            ("198.51.100.10:80".into(), "tcp".into())
        );
        assert_eq!(
            fallback_args(&ServiceKey::udp("2001:db8::1".parse().unwrap(), 53)),
            ("[2001:db8::1]:53".into(), "udp".into())
        );
    }
}
