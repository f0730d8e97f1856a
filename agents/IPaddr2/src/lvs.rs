//! `lvs_support`: an LVS-DR director that is also a real server keeps the virtual address on
//! its loopback while the resource is stopped (it serves the address without answering ARP
//! for it). Start moves it from the loopback to the interface, stop moves it back.
//!
//! What was on the loopback is written to `/run/rha/IPaddr2/<instance>.lo` *before* it is
//! removed, so a start killed half-way still lets stop put it back.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use ocf_shim::state::{StateDir, remove_if_exists};
use ocf_shim::{Context, OcfError, OcfResult};
use rha_net::address::{self, Family, NewAddress};
use rha_net::{Netlink, link, route};

use crate::net_err;
use crate::params::Config;

/// One address taken off a loopback interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Saved {
    pub ifname: String,
    pub prefix_len: u8,
    pub label: Option<String>,
    pub broadcast: Option<Ipv4Addr>,
}

impl Saved {
    fn to_line(&self) -> String {
        let opt = |o: Option<String>| o.unwrap_or_else(|| "-".to_string());
        format!(
            "{} {} {} {}\n",
            self.ifname,
            self.prefix_len,
            opt(self.label.clone()),
            opt(self.broadcast.map(|b| b.to_string()))
        )
    }

    fn from_line(line: &str) -> Option<Saved> {
        let mut f = line.split_whitespace();
        let ifname = f.next()?.to_string();
        let prefix_len = f.next()?.parse().ok()?;
        let label = f.next().filter(|l| *l != "-").map(str::to_string);
        let broadcast = match f.next() {
            None | Some("-") => None,
            Some(b) => Some(b.parse().ok()?),
        };
        Some(Saved { ifname, prefix_len, label, broadcast })
    }
}

/// Where the loopback copy is remembered.
pub fn state_file(ctx: &Context) -> PathBuf {
    StateDir::for_agent(crate::params::INFO.name).instance_file(ctx, ".lo")
}

/// Start: remove the address from every `lo*` interface, remembering it first.
pub fn take_from_loopback(nl: &mut Netlink, cfg: &Config, ctx: &Context) -> OcfResult<()> {
    let IpAddr::V4(_) = cfg.ip else { return Ok(()) };
    let mut found = Vec::new();
    for l in link::all(nl).map_err(net_err)?.into_iter().filter(|l| l.name.starts_with("lo")) {
        for a in address::list(nl, Some(Family::V4), Some(l.index)).map_err(net_err)? {
            if a.address == cfg.ip {
                found.push((l.clone(), a));
            }
        }
    }
    if found.is_empty() {
        return Ok(());
    }
    let file = state_file(ctx);
    let mut content: String = std::fs::read_to_string(&file).unwrap_or_default();
    for (l, a) in &found {
        let s = Saved {
            ifname: l.name.clone(),
            prefix_len: a.prefix_len,
            label: a.label.clone(),
            broadcast: a.broadcast,
        };
        if !content.lines().any(|line| Saved::from_line(line).as_ref() == Some(&s)) {
            content.push_str(&s.to_line());
        }
    }
    let dir = StateDir::for_agent(crate::params::INFO.name);
    dir.write(&file, content.as_bytes()).map_err(|e| {
        OcfError::generic(format!("cannot remember the loopback address in {}: {e}", file.display()))
    })?;
    for (l, a) in found {
        ocf_shim::info!("lvs_support: removing {}/{} from {}", cfg.ip, a.prefix_len, l.name);
        match address::delete(nl, l.index, cfg.ip, a.prefix_len) {
            Err(e) if !address::is_absent(&e) => return Err(net_err(e)),
            _ => {}
        }
        // A host route someone added for it through the loopback would shadow the interface.
        let _ = route::delete_host_route(nl, cfg.ip, l.index);
    }
    Ok(())
}

/// Stop: put the remembered loopback address back.
pub fn restore_to_loopback(nl: &mut Netlink, cfg: &Config, ctx: &Context) -> OcfResult<()> {
    let file = state_file(ctx);
    // No record: nothing to restore, but a start killed while writing it may have left a
    // partial temporary copy, which remove_if_exists also takes away.
    let content = std::fs::read_to_string(&file).unwrap_or_default();
    for s in content.lines().filter_map(Saved::from_line) {
        let Some(l) = link::by_name(nl, &s.ifname).map_err(net_err)? else {
            ocf_shim::warn!("lvs_support: {} is gone, cannot put {} back on it", s.ifname, cfg.ip);
            continue;
        };
        ocf_shim::info!("lvs_support: restoring {}/{} on {}", cfg.ip, s.prefix_len, s.ifname);
        let mut new = NewAddress::new(l.index, cfg.ip, s.prefix_len);
        new.label = s.label.clone();
        new.broadcast = s.broadcast;
        match address::add(nl, &new) {
            Err(e) if !e.is_errno(&[libc::EEXIST]) => return Err(net_err(e)),
            _ => {}
        }
    }
    remove_if_exists(&file).map_err(|e| OcfError::generic(format!("removing {}: {e}", file.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip() {
        for s in [
            Saved { ifname: "lo".into(), prefix_len: 32, label: Some("lo:vip".into()), broadcast: None },
            Saved { ifname: "lo".into(), prefix_len: 32, label: None, broadcast: Some(Ipv4Addr::BROADCAST) },
        ] {
            assert_eq!(Saved::from_line(s.to_line().trim_end()), Some(s));
        }
        assert_eq!(Saved::from_line("lo x - -"), None);
        assert_eq!(Saved::from_line(""), None);
    }
}
