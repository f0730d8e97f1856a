//! Heartbeat v1 `haresources` to a Pacemaker configuration.
//!
//! A line is `NODE RESOURCE...`: the resources start on NODE, left to right, and move together;
//! so each line becomes a group in that order, with a location preference for NODE when
//! auto_failback is on (Heartbeat's failback = no stickiness) and stickiness when it is off.
//! A resource is `NAME[::ARG]...` or a bare address (`192.168.85.3/27/192.168.85.16` = IPaddr).
//! Heartbeat looked NAME up in /etc/ha.d/resource.d and then /etc/init.d: the resource.d scripts
//! we know become their OCF agents (rha's where rha has one), everything else an init script,
//! as `systemd:` or `lsb:` by what the node has.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use crate::error::Faults;
use crate::hacf::{AutoFailback, HaCf, valid_node};
use crate::names::{Ids, nearest};
use crate::plan::{Group, Location, Op, Plan, Primitive};

/// How an init script becomes a Pacemaker resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InitClass {
    /// systemd: when the node has NAME.service, lsb: when it has /etc/init.d/NAME only.
    Auto {
        root: PathBuf,
    },
    Systemd,
    Lsb,
}

#[derive(Clone, Debug)]
pub struct Options {
    pub init: InitClass,
    pub ha_cf: Option<HaCf>,
}

/// Heartbeat v1 resource.d scripts (heartbeat 2.1/3.0) and the services we convert to agents.
const ADDRESS_AGENTS: &[&str] = &["IPaddr", "IPaddr2"];
const KNOWN: &[&str] = &[
    "IPaddr",
    "IPaddr2",
    "IPsrcaddr",
    "apache",
    "apache2",
    "httpd",
    "Filesystem",
    "Raid1",
    "ldirectord",
    "MailTo",
    "AudibleAlarm",
    "Delay",
    "ICP",
    "IPv6addr",
    "LVM",
    "LVSSyncDaemonSwap",
    "LinuxSCSI",
    "OCF",
    "SendArp",
    "ServeRAID",
    "WAS",
    "WinPopup",
    "Xinetd",
    "db2",
    "drbddisk",
    "portblock",
    "hto-mapfuncs",
];

fn monitor() -> Op {
    Op::new("monitor", &[("interval", "10s"), ("timeout", "20s")])
}

struct Line {
    number: usize,
    words: Vec<String>,
}

/// Logical lines: `#` comments removed, backslash-continued lines joined (numbered by their first).
fn lines(text: &str) -> Vec<Line> {
    let mut out = Vec::new();
    let mut pending: Option<Line> = None;
    for (i, raw) in text.lines().enumerate() {
        let body = raw.split('#').next().unwrap_or("");
        let (body, cont) = match body.trim_end().strip_suffix('\\') {
            Some(b) => (b, true),
            None => (body, false),
        };
        let l = pending.get_or_insert(Line { number: i + 1, words: Vec::new() });
        l.words.extend(body.split_whitespace().map(str::to_string));
        if !cont {
            let l = pending.take().unwrap();
            if !l.words.is_empty() {
                out.push(l);
            }
        }
    }
    if let Some(l) = pending.filter(|l| !l.words.is_empty()) {
        out.push(l);
    }
    out
}

/// An address resource's argument `ip[/bits[/nic-or-broadcast[/broadcast]]]` as IPaddr2 params.
/// `agent` is the name as written, for messages.
fn address(agent: &str, arg: &str, out: &mut Vec<String>) -> Vec<(String, String)> {
    let f: Vec<&str> = arg.split('/').collect();
    let mut params = Vec::new();
    match f[0].parse::<Ipv4Addr>() {
        Ok(ip) if !ip.is_unspecified() && !ip.is_broadcast() && !ip.is_multicast() => {
            params.push(("ip".into(), ip.to_string()))
        }
        _ => out.push(format!("{agent}: {:?} is not an IPv4 address", f[0])),
    }
    if let Some(bits) = f.get(1) {
        let ok = match bits.parse::<u8>() {
            Ok(b) => (1..=32).contains(&b).then_some(b),
            Err(_) => bits.parse::<Ipv4Addr>().ok().and_then(|m| {
                let v = u32::from(m);
                (v != 0 && v.leading_ones() + v.trailing_zeros() == 32).then_some(v.leading_ones() as u8)
            }),
        };
        match ok {
            Some(b) => params.push(("cidr_netmask".into(), b.to_string())),
            None => {
                out.push(format!("{agent}: netmask {bits:?} is not 1 to 32 or a netmask like 255.255.255.0"))
            }
        }
    }
    let glued = |w: &str| {
        format!(
            "{agent}: {w:?} is glued into the address field {arg:?}: it is not a broadcast address; \
             a service is a separate resource, after a space ({agent}::{} {w})",
            f[..f.len() - 1].join("/")
        )
    };
    if let Some(third) = f.get(2) {
        if let Ok(b) = third.parse::<Ipv4Addr>() {
            // ip/cidr/broadcast (the form of S1's variant).
            params.push(("broadcast".into(), b.to_string()));
            if let Some(w) = f.get(3) {
                out.push(format!(
                    "{agent}: {w:?} after the broadcast address {third}: too many fields in {arg:?}"
                ));
            }
        } else if valid_nic(third) {
            params.push(("nic".into(), third.to_string()));
            if let Some(fourth) = f.get(3) {
                match fourth.parse::<Ipv4Addr>() {
                    Ok(b) => params.push(("broadcast".into(), b.to_string())),
                    Err(_) => out.push(glued(fourth)),
                }
            }
        } else {
            out.push(format!("{agent}: {third:?} is neither an interface name nor a broadcast address"));
        }
    }
    if f.len() > 4 {
        out.push(format!("{agent}: {arg:?} has {} fields; at most ip/bits/nic/broadcast", f.len()));
    }
    params
}

fn valid_nic(n: &str) -> bool {
    !n.is_empty() && n.len() <= 15 && n.chars().all(|c| c.is_ascii_alphanumeric() || "._:-@".contains(c))
}

fn has_unit(root: &Path, name: &str) -> bool {
    ["etc/systemd/system", "lib/systemd/system", "usr/lib/systemd/system"]
        .iter()
        .any(|d| root.join(d).join(format!("{name}.service")).exists())
}

fn init_class(opt: &InitClass, name: &str) -> (&'static str, Option<String>) {
    match opt {
        InitClass::Systemd => ("systemd", None),
        InitClass::Lsb => ("lsb", None),
        InitClass::Auto { root } => {
            if has_unit(root, name) {
                ("systemd", None)
            } else if root.join("etc/init.d").join(name).exists() {
                ("lsb", None)
            } else {
                (
                    "systemd",
                    Some(format!(
                        "{name}: neither {name}.service nor /etc/init.d/{name} is on this node; assumed systemd \
                         (override with --init lsb)"
                    )),
                )
            }
        }
    }
}

fn looks_like_service_known(root: &InitClass, name: &str) -> bool {
    match root {
        InitClass::Auto { root } => has_unit(root, name) || root.join("etc/init.d").join(name).exists(),
        _ => false,
    }
}

/// A converted resource: wanted id, agent, params, ops, notes for the header.
type Converted = (String, String, Vec<(String, String)>, Vec<Op>, Vec<String>);

/// One resource token to a primitive (without id), or its faults.
fn resource(token: &str, opt: &Options) -> Result<Converted, Vec<String>> {
    let mut faults = Vec::new();
    let mut notes = Vec::new();
    let parts: Vec<&str> = token.split("::").collect();
    let (name, args): (&str, Vec<&str>) =
        if parts.len() == 1 && token.split('/').next().is_some_and(|a| a.parse::<Ipv4Addr>().is_ok()) {
            ("IPaddr", vec![token]) // a bare address is IPaddr's
        } else {
            (parts[0], parts[1..].to_vec())
        };
    if name.is_empty() || args.iter().any(|a| a.is_empty()) {
        return Err(vec![format!("{token:?}: empty name or argument (a stray '::')")]);
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || "._@-".contains(c)) {
        return Err(vec![format!("{token:?}: {name:?} is not a resource or service name")]);
    }
    let std_ops = vec![monitor()];
    let want = |n: usize, faults: &mut Vec<String>, usage: &str| {
        if args.len() > n {
            faults.push(format!("{name} takes at most {n} argument(s) ({usage}), got {}", args.len()));
        }
    };
    let base = name.to_lowercase();
    let r = match name {
        "IPaddr" | "IPaddr2" => {
            want(1, &mut faults, "ip/bits/nic/broadcast");
            if args.is_empty() {
                faults.push(format!("{name} needs an address ({name}::ip/bits/nic)"));
                (String::new(), String::new(), Vec::new(), std_ops)
            } else {
                let p = address(name, args[0], &mut faults);
                let ip = p.iter().find(|(k, _)| k == "ip").map(|(_, v)| v.clone()).unwrap_or_default();
                (format!("vip-{ip}"), "ocf:rha:IPaddr2".into(), p, std_ops)
            }
        }
        "apache" | "apache2" | "httpd" => {
            want(1, &mut faults, "the configuration file");
            let p = args.first().map(|c| vec![("configfile".to_string(), c.to_string())]).unwrap_or_default();
            let ops = vec![
                Op::new("start", &[("timeout", "40s")]),
                Op::new("stop", &[("timeout", "60s")]),
                monitor(),
            ];
            (base.clone(), "ocf:rha:apache".into(), p, ops)
        }
        "Filesystem" => {
            want(4, &mut faults, "device::directory::fstype::options");
            if args.len() < 2 {
                faults.push(
                    "Filesystem needs a device and a directory (Filesystem::/dev/sdb1::/data::ext4)".into(),
                );
            }
            let keys = ["device", "directory", "fstype", "options"];
            let p = keys.iter().zip(&args).map(|(k, v)| (k.to_string(), v.to_string())).collect();
            notes.push(
                "Filesystem: rha has no file system agent; this is the upstream ocf:heartbeat:Filesystem"
                    .into(),
            );
            (
                "fs".into(),
                "ocf:heartbeat:Filesystem".into(),
                p,
                vec![Op::new("monitor", &[("interval", "20s"), ("timeout", "40s")])],
            )
        }
        "Raid1" => {
            want(3, &mut faults, "raidconf::raiddev::homehost");
            if args.len() < 2 {
                faults.push(
                    "Raid1 needs a configuration file and a device (Raid1::/etc/mdadm/mdadm.conf::/dev/md0)"
                        .into(),
                );
            }
            let keys = ["raidconf", "raiddev", "homehost"];
            let p = keys.iter().zip(&args).map(|(k, v)| (k.to_string(), v.to_string())).collect();
            ("raid".into(), "ocf:rha:mdraid".into(), p, std_ops)
        }
        "ldirectord" => {
            want(1, &mut faults, "the configuration file");
            let p = args.first().map(|c| vec![("configfile".to_string(), c.to_string())]).unwrap_or_default();
            (
                "ldirectord".into(),
                "ocf:rha:ldirectord".into(),
                p,
                vec![Op::new("monitor", &[("interval", "15s"), ("timeout", "20s")])],
            )
        }
        "MailTo" => {
            want(2, &mut faults, "email::subject");
            if args.is_empty() {
                faults.push("MailTo needs an address (MailTo::root@example.org)".into());
            }
            let keys = ["email", "subject"];
            let p = keys.iter().zip(&args).map(|(k, v)| (k.to_string(), v.to_string())).collect();
            ("mailto".into(), "ocf:heartbeat:MailTo".into(), p, std_ops)
        }
        "IPsrcaddr" => {
            want(1, &mut faults, "the address");
            let p: Vec<(String, String)> =
                args.first().map(|c| vec![("ipaddress".to_string(), c.to_string())]).unwrap_or_default();
            if p.is_empty() {
                faults.push("IPsrcaddr needs an address".into());
            }
            ("srcaddr".into(), "ocf:heartbeat:IPsrcaddr".into(), p, std_ops)
        }
        n if KNOWN.contains(&n) => {
            return Err(vec![format!(
                "{n}: a Heartbeat v1 resource script with no conversion in rha-migrate; configure its OCF \
                 equivalent by hand"
            )]);
        }
        n => {
            // Not a resource.d script we know: a misspelling of one, or an init script.
            let address_args = args
                .first()
                .is_some_and(|a| a.split('/').next().is_some_and(|x| x.parse::<Ipv4Addr>().is_ok()));
            let near = nearest(n, KNOWN);
            if (near.is_some() && !looks_like_service_known(&opt.init, n)) || address_args {
                let hint = match near.or(address_args.then_some("IPaddr")) {
                    Some(k) => format!(" (did you mean {k}?)"),
                    None => String::new(),
                };
                let mut f = vec![format!("unknown resource agent {n:?}{hint}")];
                // Check the argument as the agent it was meant to be, so every fault is named at once.
                if let (Some(k), Some(a)) = (near.or(address_args.then_some("IPaddr")), args.first())
                    && ADDRESS_AGENTS.contains(&k)
                {
                    let mut more = Vec::new();
                    address(k, a, &mut more);
                    f.extend(more);
                }
                return Err(f);
            }
            if !args.is_empty() {
                return Err(vec![format!(
                    "{n}::{}: init scripts take no arguments under Pacemaker (systemd:/lsb: resources have none); \
                     wrap it in a unit or script that needs none",
                    args.join("::")
                )]);
            }
            let (class, note) = init_class(&opt.init, n);
            notes.extend(note);
            let ops = vec![
                Op::new("start", &[("timeout", "100s")]),
                Op::new("stop", &[("timeout", "100s")]),
                Op::new("monitor", &[("interval", "15s"), ("timeout", "100s")]),
            ];
            (base.clone(), format!("{class}:{n}"), Vec::new(), ops)
        }
    };
    if faults.is_empty() { Ok((r.0, r.1, r.2, r.3, notes)) } else { Err(faults) }
}

/// Converts `text` (named `file` in messages).
pub fn convert(file: &str, text: &str, opt: &Options) -> Result<Plan, Faults> {
    let mut faults = Faults::default();
    let mut plan = Plan::default();
    let mut ids = Ids::default();
    let parsed = lines(text);
    if parsed.is_empty() {
        faults.push(file, 0, "no resource lines");
    }
    let cf = opt.ha_cf.clone().unwrap_or_default();
    let failback = cf.auto_failback.unwrap_or(AutoFailback::Legacy);
    let mut per_node: std::collections::BTreeMap<String, usize> = Default::default();
    for l in &parsed {
        *per_node.entry(l.words[0].clone()).or_default() += 1;
    }
    let mut seen: std::collections::BTreeMap<String, usize> = Default::default();
    let mut notes = Vec::new();
    for l in &parsed {
        let node = &l.words[0];
        if !valid_node(node) {
            faults.push(file, l.number, format!("{node:?} is not a node name"));
            continue;
        }
        if !cf.nodes.is_empty() && !cf.nodes.contains(node) {
            faults.push(
                file,
                l.number,
                format!("node {node} is not a node of ha.cf ({})", cf.nodes.join(", ")),
            );
        }
        if l.words.len() == 1 {
            faults.push(file, l.number, format!("{node}: a line without resources"));
            continue;
        }
        let k = seen.entry(node.clone()).or_default();
        *k += 1;
        let gid = if per_node[node] > 1 { format!("rg-{node}-{k}") } else { format!("rg-{node}") };
        let gid = ids.take(&gid);
        let mut members = Vec::new();
        for tok in &l.words[1..] {
            match resource(tok, opt) {
                Ok((wanted, agent, params, ops, n)) => {
                    let id = ids.take(&wanted);
                    notes.extend(n);
                    plan.primitives.push(Primitive {
                        id: id.clone(),
                        agent,
                        params,
                        ops,
                        comment: vec![format!("{file}:{}: {tok}", l.number)],
                    });
                    members.push(id);
                }
                Err(fs) => {
                    for f in fs {
                        faults.push(file, l.number, f);
                    }
                }
            }
        }
        let meta = match failback {
            AutoFailback::Off => vec![("resource-stickiness".to_string(), "200".to_string())],
            _ => Vec::new(),
        };
        plan.locations.push(Location {
            id: ids.take(&format!("{gid}-prefers-{node}")),
            rsc: gid.clone(),
            score: "100".into(),
            node: node.clone(),
        });
        plan.groups.push(Group { id: gid, members, meta });
    }
    if !faults.is_empty() {
        return Err(faults);
    }
    plan.header = vec![
        format!(
            "Converted by rha-migrate from Heartbeat v1 {file}{}.",
            if opt.ha_cf.is_some() { " and ha.cf" } else { "" }
        ),
        "Each haresources line is a group (its resources start left to right and move together),".into(),
        match failback {
            AutoFailback::On => {
                "preferring the line's node: auto_failback on = a location preference, no stickiness.".into()
            }
            AutoFailback::Off => {
                "preferring the line's node at first; auto_failback off = stickiness keeps it where it runs."
                    .into()
            }
            AutoFailback::Legacy => {
                "preferring the line's node (auto_failback not set: Heartbeat's legacy default, failback on)."
                    .into()
            }
        },
        "Heartbeat v1 clusters ran without fencing: configure STONITH and set stonith-enabled=true.".into(),
    ];
    plan.header.extend(notes);
    plan.properties =
        vec![("stonith-enabled".into(), "false".into()), ("no-quorum-policy".into(), "ignore".into())];
    plan.advice = cf.timer_advice();
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hacf;

    fn conv(text: &str, cf: Option<&str>) -> Result<Plan, Faults> {
        let ha_cf = cf.map(|c| hacf::parse("ha.cf", c).unwrap());
        convert("haresources", text, &Options { init: InitClass::Systemd, ha_cf })
    }

    #[test]
    fn continuation_groups_and_failback() {
        let p = conv(
            "# comment\nnode1 IPaddr2::198.51.100.5/24 \\\n  Filesystem::/dev/sdb1::/data::ext4 vsftpd\nnode1 apache\n",
            Some("node node1\nnode node2\nauto_failback off\n"),
        )
        .unwrap();
        assert_eq!(p.groups.len(), 2);
        assert_eq!(p.groups[0].id, "rg-node1-1");
        assert_eq!(p.groups[0].members, ["vip-198.51.100.5", "fs", "vsftpd"]);
        assert_eq!(p.groups[0].meta, [("resource-stickiness".to_string(), "200".to_string())]);
        assert_eq!(p.primitives[1].agent, "ocf:heartbeat:Filesystem");
        assert_eq!(p.primitives[2].agent, "systemd:vsftpd");
        assert!(p.primitives[1].comment[0].starts_with("haresources:2:"));
    }

    #[test]
    fn refusals() {
        let e = |t: &str| conv(t, None).unwrap_err().to_string();
        assert!(e("n1 drbddisk::r0\n").contains("no conversion"), "{}", e("n1 drbddisk::r0\n"));
        assert!(e("n1 vsftpd::x\n").contains("take no arguments"));
        assert!(e("n1 IPaddr::198.51.100.5/24/eth0/198.51.100.255/x\n").contains("fields"));
        assert!(e("n1 IPaddr::300.1.1.1\n").contains("not an IPv4 address"));
        assert!(e("n1 IPaddr\n").contains("needs an address"));
        assert!(e("n1 Filesytem::/dev/sdb1::/data\n").contains("did you mean Filesystem?"));
        assert!(e("n1 a::::b\n").contains("stray"));
        assert!(e("").contains("no resource lines"));
        assert!(e("n1\n").contains("without resources"));
    }

    #[test]
    fn netmask_forms() {
        let p = conv("n1 IPaddr::198.51.100.5/255.255.255.0/eth0/198.51.100.255\n", None).unwrap();
        let params = &p.primitives[0].params;
        assert!(params.contains(&("cidr_netmask".into(), "24".into())));
        assert!(params.contains(&("broadcast".into(), "198.51.100.255".into())));
        assert!(conv("n1 IPaddr::198.51.100.5/255.0.255.0\n", None).is_err());
    }
}
