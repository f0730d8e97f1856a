//! ldirectord's defaults, where they are not a plain constant.

use std::time::Duration;

use rha_check::Service;

/// checkinterval when neither the section nor the globals set it.
pub const CHECKINTERVAL: Duration = Duration::from_secs(10);
pub const CHECKTIMEOUT: Duration = Duration::from_secs(5);
pub const NEGOTIATETIMEOUT: Duration = Duration::from_secs(30);
/// The scheduler when `scheduler=` is not given (upstream's; ipvsadm's own is wlc).
pub const SCHEDULER: &str = "wrr";
/// `checkcommand=` when not given.
pub const CHECKCOMMAND: &str = "/bin/true";

/// `quiescent=` when neither the section nor the globals set it: **yes**. Upstream's code
/// (`set_defaults`) says no, its documentation (the POD, ldirectord(8)) says yes; the issue
/// asks for the documented one. A down real so keeps its entry with weight 0: established
/// connections drain instead of being cut.
pub const QUIESCENT: bool = true;

/// `cleanstop=` default.
pub const CLEANSTOP: bool = true;

/// checktimeout and negotiatetimeout default to each other, as upstream's `ld_setup`:
/// checktimeout is the section's checktimeout, else the section's negotiatetimeout, else the
/// global checktimeout, else the global negotiatetimeout, else 5 s; negotiatetimeout the same
/// with the roles swapped, else 30 s.
pub fn timeouts(
    v_check: Option<Duration>,
    v_negotiate: Option<Duration>,
    g_check: Option<Duration>,
    g_negotiate: Option<Duration>,
) -> (Duration, Duration) {
    let check = v_check.or(v_negotiate).or(g_check).or(g_negotiate).unwrap_or(CHECKTIMEOUT);
    let negotiate = v_negotiate.or(v_check).or(g_negotiate).or(g_check).unwrap_or(NEGOTIATETIMEOUT);
    (check, negotiate)
}

/// The protocol of an address virtual without `protocol=`: udp for port 53 written as `53`
/// or `domain` (upstream looks at the text), tcp otherwise.
pub fn udp_by_default(port_text: &str) -> bool {
    port_text == "53" || port_text == "domain"
}

/// The service when `service=` is not given: from the virtual's port (none for fwmarks).
pub fn service_for(port: Option<u16>) -> Service {
    port.map(Service::for_port).unwrap_or(Service::None)
}

/// Credentials upstream fills in for ftp (anonymous / ldirectord@HOST) and sip
/// (login ldirectord@HOST) when none are written. Upstream only does so when the `service=`
/// line comes before `login=`, and never for a service implied by the port; here always.
pub fn credentials(
    service: Service,
    hostname: &str,
    login: &mut Option<String>,
    passwd: &mut Option<String>,
) {
    let me = format!("ldirectord@{hostname}");
    match service {
        Service::Ftp => {
            login.get_or_insert_with(|| "anonymous".into());
            passwd.get_or_insert(me);
        }
        Service::Sip => {
            login.get_or_insert(me);
        }
        _ => {}
    }
}

/// The port a check goes to: `checkport=`, else the real's own port, else the service's
/// well-known port, else (ours: upstream has none) the port the real is programmed with.
pub fn check_port(checkport: Option<u16>, written: u16, service: Service, programmed: u16) -> u16 {
    checkport
        .or((written > 0).then_some(written))
        .or((service.default_port() > 0).then_some(service.default_port()))
        .unwrap_or(programmed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64) -> Option<Duration> {
        Some(Duration::from_secs(n))
    }

    #[test]
    fn timeouts_default_to_each_other_like_upstream() {
        assert_eq!(timeouts(None, None, None, None), (CHECKTIMEOUT, NEGOTIATETIMEOUT));
        assert_eq!(timeouts(None, None, s(3), None), (s(3).unwrap(), s(3).unwrap()));
        assert_eq!(timeouts(None, None, None, s(7)), (s(7).unwrap(), s(7).unwrap()));
        assert_eq!(timeouts(s(2), None, s(3), s(9)), (s(2).unwrap(), s(2).unwrap()));
        assert_eq!(timeouts(None, s(4), s(3), None), (s(4).unwrap(), s(4).unwrap()));
        assert_eq!(timeouts(None, None, s(3), s(9)), (s(3).unwrap(), s(9).unwrap()));
    }

    #[test]
    fn defaults_from_ports_and_services() {
        assert!(udp_by_default("53") && udp_by_default("domain") && !udp_by_default("5353"));
        assert_eq!(service_for(Some(80)), Service::Http);
        assert_eq!(service_for(None), Service::None);
        assert_eq!(check_port(Some(8080), 80, Service::Http, 80), 8080);
        assert_eq!(check_port(None, 81, Service::Http, 80), 81);
        assert_eq!(check_port(None, 0, Service::Http, 0), 80);
        assert_eq!(check_port(None, 0, Service::None, 8000), 8000);
        let (mut l, mut p) = (None, None);
        credentials(Service::Ftp, "lb1", &mut l, &mut p);
        assert_eq!((l.as_deref(), p.as_deref()), (Some("anonymous"), Some("ldirectord@lb1")));
        let (mut l, mut p) = (Some("me".into()), None);
        credentials(Service::Sip, "lb1", &mut l, &mut p);
        assert_eq!((l.as_deref(), p), (Some("me"), None));
    }
}
