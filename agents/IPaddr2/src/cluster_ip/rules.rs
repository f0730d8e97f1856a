//! The nft scripts an instance writes: its bucket's rule, the whole table, the ARP table.

use std::ffi::OsStr;
use std::net::IpAddr;

use ocf_shim::params::quote;
use ocf_shim::{OcfError, OcfResult};
use rha_net::link::format_mac;

use super::derive::{l3, table_name};

pub(super) const CHAIN: &str = "prerouting";
pub(super) const DROP_COMMENT: &str = "cip-drop";
pub(super) const ARP_CHAIN: &str = "output";
pub(super) const ARP_COMMENT: &str = "cip-arp";

pub(super) fn bucket_comment(bucket: u32) -> String {
    format!("cip-node-{bucket}")
}

/// Writes one instance's nft rules: the address, where it arrives, and the hash that picks
/// the buckets.
pub(super) struct RuleWriter<'a> {
    pub(super) ip: IpAddr,
    pub(super) nic: &'a str,
    pub(super) total: u32,
    pub(super) seed: u32,
    pub(super) mac: [u8; 6],
}

impl RuleWriter<'_> {
    pub(super) fn bucket_rule(&self, bucket: u32) -> String {
        let f = l3(self.ip).keyword();
        format!(
            "iif \"{}\" {f} daddr {} jhash {f} saddr mod {} seed {:#010x} offset 1 == {bucket} \
             meta pkttype set host counter accept comment \"{}\"",
            self.nic,
            self.ip,
            self.total,
            self.seed,
            bucket_comment(bucket)
        )
    }

    /// The whole table, replacing whatever is there (`add` then `delete` makes the delete
    /// succeed when there was none), with these buckets.
    pub(super) fn table_script(&self, buckets: &[u32]) -> String {
        let (t, f) = (table_name(self.ip), l3(self.ip).keyword());
        let mut s = format!(
            "add table {f} {t}\ndelete table {f} {t}\ntable {f} {t} {{\n  chain {CHAIN} {{\n    \
             type filter hook prerouting priority mangle; policy accept;\n"
        );
        for &b in buckets {
            s.push_str(&format!("    {}\n", self.bucket_rule(b)));
        }
        s.push_str(&format!(
            "    iif \"{}\" {f} daddr {} counter drop comment \"{DROP_COMMENT}\"\n  }}\n}}\n",
            self.nic, self.ip
        ));
        s
    }

    /// The ARP table, replacing whatever is there: every ARP packet this node sends for the
    /// address (replies, and requests it sends from the address) carries the cluster MAC as
    /// its sender, so no neighbour ever caches a node's own MAC for it.
    pub(super) fn arp_script(&self) -> String {
        let t = table_name(self.ip);
        format!(
            "add table arp {t}\ndelete table arp {t}\ntable arp {t} {{\n  chain {ARP_CHAIN} {{\n    \
             type filter hook output priority 0; policy accept;\n    \
             arp saddr ip {} arp saddr ether set {} counter comment \"{ARP_COMMENT}\"\n  }}\n}}\n",
            self.ip,
            format_mac(&self.mac)
        )
    }
}

/// An interface name nft can take between double quotes.
pub(super) fn check_nic_name(name: &str) -> OcfResult<()> {
    if name.chars().any(|c| c == '"' || c == '\\' || c.is_control()) {
        return Err(OcfError::configured(format!(
            "interface {} cannot be named in an nftables rule",
            quote(OsStr::new(name))
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts() {
        let h = RuleWriter {
            ip: "198.51.100.10".parse().unwrap(),
            nic: "eth0",
            total: 3,
            seed: 0xab,
            mac: [3, 0, 0, 0, 0, 0xa],
        };
        assert!(h.arp_script().contains(
            "arp saddr ip 198.51.100.10 arp saddr ether set 03:00:00:00:00:0a counter comment \"cip-arp\""
        ));
        let s = h.table_script(&[1, 3]);
        assert!(s.starts_with("add table ip IPaddr2_198_51_100_10\ndelete table ip IPaddr2_198_51_100_10\n"));
        assert!(s.contains(
            "iif \"eth0\" ip daddr 198.51.100.10 jhash ip saddr mod 3 seed 0x000000ab offset 1 == 3 \
             meta pkttype set host counter accept comment \"cip-node-3\""
        ));
        assert!(s.find("cip-node-1").unwrap() < s.find("cip-drop").unwrap(), "buckets before the drop");
        assert!(check_nic_name("eth0").is_ok());
        assert!(check_nic_name("a\"b").is_err());
    }
}
