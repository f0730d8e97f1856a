//! `ipvsadm-save` / `ipvsadm -S -n` text to one `ocf:rha:ipvs-service` primitive per virtual
//! service, or to an `ldirectord.cf` (when health checks are wanted).
//!
//! The text is read by rha-ipvs's save-format parser, the one the agent itself uses, so the
//! converted resources program exactly the table `ipvsadm -R` of the same text programs. Host and
//! port names are resolved as ipvsadm resolves them (IPv4, /etc/services) when converting: the
//! result is numeric, so the cluster never needs a resolver to fail over.

use std::net::IpAddr;

use rha_ipvs::save_format::{Resolver, parse_with, sched_flags_string, to_table};
use rha_ipvs::{Dest, Family, Forward, Netmask, Protocol, ServiceFlags, ServiceKey, ServiceSpec, TunnelType};

use crate::error::Faults;
use crate::names::Ids;
use crate::plan::{Op, Plan, Primitive};

fn addr(a: &IpAddr, port: u16) -> String {
    match a {
        IpAddr::V4(v) => format!("{v}:{port}"),
        IpAddr::V6(v) => format!("[{v}]:{port}"),
    }
}

fn method(f: Forward) -> Result<&'static str, String> {
    match f {
        Forward::Masq => Ok("masq"),
        Forward::Tunnel => Ok("ipip"),
        Forward::DirectRoute | Forward::Local => Ok("gate"),
        Forward::Bypass => Err("a bypass real server cannot be configured".into()),
    }
}

fn real(d: &Dest) -> Result<String, String> {
    let mut s = format!("{} {} {}", addr(&d.addr, d.port), method(d.forward)?, d.weight);
    if d.u_threshold != 0 {
        s.push_str(&format!(" x={}", d.u_threshold));
    }
    if d.l_threshold != 0 {
        s.push_str(&format!(" y={}", d.l_threshold));
    }
    if d.forward == Forward::Tunnel {
        let t = &d.tunnel;
        let csum = t.csum.option().trim_start_matches("--");
        match t.kind {
            TunnelType::Ipip => {}
            TunnelType::Gue => s.push_str(&format!(" tun-type=gue tun-port={} {csum}", t.port)),
            TunnelType::Gre => s.push_str(&format!(" tun-type=gre {csum}")),
        }
    }
    Ok(s)
}

fn proto_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Sctp => "sctp",
    }
}

/// The resource id and instance parameters of one service.
fn service_params(spec: &ServiceSpec) -> Result<(String, Vec<(String, String)>), String> {
    let s = &spec.service;
    let mut p: Vec<(String, String)> = Vec::new();
    let id = match s.key {
        ServiceKey::Addr { protocol, addr: a, port } => {
            p.push(("virtual".into(), addr(&a, port)));
            p.push(("protocol".into(), proto_name(protocol).into()));
            let a = a.to_string().replace(':', "_");
            format!("lvs-{}-{a}-{port}", proto_name(protocol))
        }
        ServiceKey::Fwmark { mark, family } => {
            let v = match family {
                Family::Inet => mark.to_string(),
                Family::Inet6 => format!("{mark} ipv6"),
            };
            p.push(("virtual".into(), v));
            p.push(("protocol".into(), "fwmark".into()));
            format!("lvs-fwmark-{mark}{}", if family == Family::Inet6 { "-6" } else { "" })
        }
    };
    p.push(("scheduler".into(), s.scheduler.clone()));
    if s.is_persistent() {
        p.push(("persistent".into(), s.timeout.to_string()));
        match s.netmask {
            Netmask::V4(m) if m != std::net::Ipv4Addr::BROADCAST && s.key.family() == Family::Inet => {
                p.push(("netmask".into(), m.to_string()))
            }
            Netmask::V6(b) if b != 128 && s.key.family() == Family::Inet6 => {
                p.push(("netmask".into(), b.to_string()))
            }
            _ => {}
        }
    }
    if let Some(pe) = &s.pe_name {
        p.push(("pe".into(), pe.clone()));
    }
    let sched = s.flags.0 & ServiceFlags::SCHED_MASK;
    if sched != 0 {
        p.push(("schedflags".into(), sched_flags_string(&s.scheduler, sched)));
    }
    if s.flags.contains(ServiceFlags::ONEPACKET) {
        p.push(("ops".into(), "true".into()));
    }
    let reals: Result<Vec<String>, String> = spec.dests.iter().map(real).collect();
    let reals = reals?;
    if !reals.is_empty() {
        p.push(("reals".into(), reals.join("; ")));
    }
    Ok((id, p))
}

fn table(file: &str, text: &str, resolver: &dyn Resolver) -> Result<Vec<ServiceSpec>, Faults> {
    let mut faults = Faults::default();
    let table = parse_with(text, resolver).and_then(|c| to_table(&c)).map_err(|e| {
        let token = e.token.as_ref().map(|t| format!("`{t}`: ")).unwrap_or_default();
        faults.push(file, e.line, format!("{token}{}", e.message));
        faults.clone()
    })?;
    if table.is_empty() {
        faults.push(file, 0, "no virtual service (no -A line)");
    }
    faults.or(table)
}

/// ipvs-service primitives, one per virtual service, in the file's order.
pub fn convert(file: &str, text: &str, resolver: &dyn Resolver) -> Result<Plan, Faults> {
    let table = table(file, text, resolver)?;
    let mut faults = Faults::default();
    let mut plan = Plan::default();
    let mut ids = Ids::default();
    for spec in &table {
        match service_params(spec) {
            Ok((id, params)) => plan.primitives.push(Primitive {
                id: ids.take(&id),
                agent: "ocf:rha:ipvs-service".into(),
                params,
                ops: vec![Op::new("monitor", &[("interval", "10s"), ("timeout", "20s")])],
                comment: Vec::new(),
            }),
            Err(e) => faults.push(file, 0, format!("{}: {e}", spec.service.key)),
        }
    }
    if !faults.is_empty() {
        return Err(faults);
    }
    plan.header = vec![
        format!("Converted by rha-migrate from the ipvsadm rules in {file}: one ocf:rha:ipvs-service"),
        "per virtual service, programming the same table as ipvsadm -R of that file. Names were".into(),
        "resolved as ipvsadm resolves them. The virtual addresses are IPaddr2's job: group each".into(),
        "service after its address (and for NAT enable net.ipv4.ip_forward on the directors).".into(),
    ];
    Ok(plan)
}

/// An `ldirectord.cf` for the same services, with a connect check on every real server.
pub fn ldirectord(file: &str, text: &str, resolver: &dyn Resolver) -> Result<String, Faults> {
    let table = table(file, text, resolver)?;
    let mut faults = Faults::default();
    let mut out = format!(
        "# ldirectord.cf converted by rha-migrate from the ipvsadm rules in {file}.\n\
         # Every real server gets a TCP connect check (change checktype to negotiate and add\n\
         # request=/receive= for an HTTP check); a failed one is quiesced (weight 0).\n\
         # Manage it with:  primitive lvs ocf:rha:ldirectord params configfile=/etc/ha.d/ldirectord.cf\n\
         checktimeout=3\ncheckinterval=10\nautoreload=no\nquiescent=yes\n"
    );
    for spec in &table {
        let s = &spec.service;
        out.push('\n');
        match s.key {
            ServiceKey::Addr { protocol, addr: a, port } => {
                out.push_str(&format!("virtual={}\n", addr(&a, port)));
                out.push_str(&format!("\tprotocol={}\n", proto_name(protocol)));
                if protocol == Protocol::Udp {
                    faults.push(
                        file,
                        0,
                        format!(
                            "{}: ldirectord cannot connect-check UDP; use ping or a DNS check by hand",
                            s.key
                        ),
                    );
                }
            }
            ServiceKey::Fwmark { mark, family } => {
                out.push_str(&format!("virtual={mark}\n\tprotocol=fwm\n"));
                if family == Family::Inet6 {
                    faults.push(file, 0, format!("{}: ldirectord fwmark services are IPv4 only", s.key));
                }
            }
        }
        out.push_str(&format!("\tscheduler={}\n", s.scheduler));
        if s.is_persistent() {
            out.push_str(&format!("\tpersistent={}\n", s.timeout));
            if let Netmask::V4(m) = s.netmask
                && m != std::net::Ipv4Addr::BROADCAST
            {
                out.push_str(&format!("\tnetmask={m}\n"));
            }
        }
        if s.flags.0 & (ServiceFlags::SCHED_MASK | ServiceFlags::ONEPACKET) != 0 || s.pe_name.is_some() {
            faults.push(
                file,
                0,
                format!(
                    "{}: scheduler flags, one-packet and persistence engines have no ldirectord.cf form",
                    s.key
                ),
            );
        }
        out.push_str("\tchecktype=connect\n");
        for d in &spec.dests {
            match method(d.forward) {
                Ok(m) if d.forward != Forward::Tunnel || d.tunnel.kind == TunnelType::Ipip => {
                    out.push_str(&format!("\treal={} {m} {}\n", addr(&d.addr, d.port), d.weight));
                }
                Ok(_) => {
                    faults.push(file, 0, format!("{}: GUE/GRE tunnels have no ldirectord.cf form", s.key))
                }
                Err(e) => faults.push(file, 0, format!("{}: {e}", s.key)),
            }
        }
    }
    faults.or(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    /// S3's cluster's names (hosts file of the source), without a DNS server.
    struct S3Names;
    impl Resolver for S3Names {
        fn host_v4(&self, name: &str) -> Option<Ipv4Addr> {
            match name {
                "host" => Some(Ipv4Addr::new(193, 144, 50, 252)),
                "compute-0-0.local" => Some(Ipv4Addr::new(10, 1, 255, 254)),
                "compute-0-7.local" => Some(Ipv4Addr::new(10, 1, 255, 247)),
                "server1.cluster" => Some(Ipv4Addr::new(10, 1, 1, 1)),
                _ => None,
            }
        }
        fn service_port(&self, name: &str, _: Protocol) -> Option<u16> {
            (name == "http").then_some(80)
        }
    }

    #[test]
    fn s3_symbolic_names_resolve_as_ipvsadm_does() {
        let rules = "-A -t host:http -s wrr\n\
                     -a -t host:http -r host:http -m -w 3\n\
                     -a -t host:http -r compute-0-0.local:http -m -w 3\n\
                     -a -t host:http -r compute-0-7.local:http -m -w 1\n";
        let plan = convert("rules", rules, &S3Names).unwrap();
        assert_eq!(plan.primitives.len(), 1);
        let p = &plan.primitives[0];
        assert_eq!(p.id, "lvs-tcp-193.144.50.252-80");
        let get = |k: &str| p.params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("virtual"), Some("193.144.50.252:80"));
        assert_eq!(
            get("reals"),
            Some("193.144.50.252:80 masq 3; 10.1.255.254:80 masq 3; 10.1.255.247:80 masq 1")
        );
        let e = convert("rules", "-A -t nowhere.invalid:http -s rr\n", &S3Names).unwrap_err();
        assert!(e.to_string().starts_with("rules:1: "), "{e}");
    }

    #[test]
    fn fwmark_udp_and_ipv6_forms() {
        let rules = "-A -f 5 -s sh -b sh-port -p 60 -M 255.255.255.0\n-a -f 5 -r 203.0.113.2:0 -g -w 2\n\
                     -A -u [2001:db8::1]:53 -s rr -o\n-a -u [2001:db8::1]:53 -r [2001:db8::2]:53 -m -w 1\n";
        let plan = convert("r", rules, &S3Names).unwrap();
        let texts: Vec<String> = plan.primitives.iter().map(|p| format!("{} {:?}", p.id, p.params)).collect();
        assert!(texts[0].starts_with("lvs-fwmark-5"), "{texts:?}");
        assert!(
            texts[0].contains("\"schedflags\", \"sh-port\"") && texts[0].contains("255.255.255.0"),
            "{texts:?}"
        );
        assert!(texts[1].contains("[2001:db8::1]:53") && texts[1].contains("\"ops\", \"true\""), "{texts:?}");
        let l = ldirectord("r", rules, &S3Names).unwrap_err();
        assert!(l.to_string().contains("UDP"), "{l}");
    }
}
