//! Lab configuration: nodes, networks and the corosync.conf they share.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

use crate::netns::check_test_address;

/// One L2 network of the lab: a bridge in the switch namespace and one interface per node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetSpec {
    /// Interface name inside each node and the client (`eth0`, `eth1`, ...).
    pub ifname: String,
    /// First three octets of the /24, e.g. `"198.51.100"`; node N gets `.1N`-style host
    /// numbers (see [`NetSpec::host_v4`]).
    pub ipv4_prefix: Option<String>,
    /// A /64 prefix ending in `::`, e.g. `"2001:db8:1::"`.
    pub ipv6_prefix: Option<String>,
}

/// Host number of node `i` (0-based): node1 is .11, node2 .12, ...
pub fn node_host_number(i: usize) -> usize {
    11 + i
}

/// Host number of the client namespace.
pub const CLIENT_HOST_NUMBER: usize = 100;

impl NetSpec {
    /// The cluster network: eth0, 198.51.100.0/24, 2001:db8::/64. Corosync runs on it.
    pub fn primary() -> NetSpec {
        NetSpec {
            ifname: "eth0".into(),
            ipv4_prefix: Some("198.51.100".into()),
            ipv6_prefix: Some("2001:db8::".into()),
        }
    }

    /// A second network: eth1, 203.0.113.0/24, 2001:db8:1::/64 (scenario S4 puts a VIP on it).
    pub fn second() -> NetSpec {
        NetSpec {
            ifname: "eth1".into(),
            ipv4_prefix: Some("203.0.113".into()),
            ipv6_prefix: Some("2001:db8:1::".into()),
        }
    }

    /// `prefix.host/24`, if the network has IPv4.
    pub fn host_v4(&self, host: usize) -> Option<String> {
        self.ipv4_prefix.as_ref().map(|p| format!("{p}.{host}/24"))
    }

    /// `prefix<host>/64` (the host number written in hex digits as-is, so node1 is `...::11`).
    pub fn host_v6(&self, host: usize) -> Option<String> {
        self.ipv6_prefix.as_ref().map(|p| format!("{p}{host}/64"))
    }

    fn validate(&self) -> Result<()> {
        if let Some(a) = self.host_v4(1) {
            check_test_address(&a)?;
        }
        if let Some(a) = self.host_v6(1) {
            check_test_address(&a)?;
        }
        if self.ipv4_prefix.is_none() && self.ipv6_prefix.is_none() {
            bail!("network {} has neither IPv4 nor IPv6", self.ifname);
        }
        Ok(())
    }
}

/// What [`crate::lab::Lab::start`] builds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LabConfig {
    /// Number of cluster nodes (1..=9).
    pub nodes: usize,
    /// Letters/digits put into the lab's namespace names (`rha-<pid>-<n>-<tag>node1`), to tell
    /// labs apart in `ip netns list`; default empty.
    pub tag: String,
    /// Node names; default `node1`, `node2`, ...
    pub node_names: Option<Vec<String>>,
    /// Networks besides the primary one (see [`NetSpec::second`]).
    pub extra_networks: Vec<NetSpec>,
    /// Host directory bind-mounted at `/usr/lib/ocf/resource.d/rha` in every node.
    pub ocf_rha_dir: Option<PathBuf>,
    /// Give every node its own `/var/www/html` (with an `index.html` naming the node) and
    /// `/var/log/apache2`, so the stock apache2 config serves a per-node page.
    pub www: bool,
    /// Host directories each node gets its own copy of (e.g. `/var/lib/nfs`, whose state
    /// files must not be shared between nodes): copied from the host when the lab is created
    /// and bind-mounted over the original inside the node.
    pub private_dirs: Vec<PathBuf>,
    /// Corosync totem token timeout in ms (failover speed vs. false alarms under load).
    pub token_ms: u32,
    /// Limit for the cluster to come online in [`crate::lab::Lab::start`].
    pub online_timeout: Duration,
    /// Process whose life keeps the lab's namespaces safe from [`crate::netns::sweep_stale`];
    /// default: the current process.
    pub owner_pid: Option<u32>,
    /// Where the lab's per-node directories go; default the system temp dir.
    pub workdir_parent: Option<PathBuf>,
}

impl Default for LabConfig {
    fn default() -> LabConfig {
        LabConfig {
            nodes: 2,
            tag: String::new(),
            node_names: None,
            extra_networks: Vec::new(),
            ocf_rha_dir: None,
            www: false,
            private_dirs: Vec::new(),
            token_ms: 3000,
            online_timeout: Duration::from_secs(180),
            owner_pid: None,
            workdir_parent: None,
        }
    }
}

impl LabConfig {
    /// A default config with `n` nodes.
    pub fn with_nodes(n: usize) -> LabConfig {
        LabConfig { nodes: n, ..LabConfig::default() }
    }

    /// The node names, checked.
    pub fn names(&self) -> Result<Vec<String>> {
        if !self.tag.chars().all(|c| c.is_ascii_alphanumeric()) {
            bail!("lab tag {:?} must be ASCII letters and digits", self.tag);
        }
        if self.nodes == 0 || self.nodes > 9 {
            bail!("a lab has 1..=9 nodes, not {}", self.nodes);
        }
        let names = match &self.node_names {
            Some(n) if n.len() != self.nodes => {
                bail!("{} node names given for {} nodes", n.len(), self.nodes)
            }
            Some(n) => n.clone(),
            None => (1..=self.nodes).map(|i| format!("node{i}")).collect(),
        };
        for n in &names {
            let ok = !n.is_empty()
                && n.len() <= 32
                && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !n.starts_with('-');
            if !ok {
                bail!("invalid node name {n:?} (letters, digits, '-')");
            }
        }
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        if sorted.len() != names.len() {
            bail!("node names must be unique: {names:?}");
        }
        Ok(names)
    }

    /// The private directories, checked.
    pub fn checked_private_dirs(&self) -> Result<Vec<PathBuf>> {
        for d in &self.private_dirs {
            if !d.is_absolute() || d.parent().is_none() {
                bail!("private dir {} must be absolute and not /", d.display());
            }
        }
        Ok(self.private_dirs.clone())
    }

    /// All networks, the primary first.
    pub fn networks(&self) -> Result<Vec<NetSpec>> {
        let mut nets = vec![NetSpec::primary()];
        nets.extend(self.extra_networks.iter().cloned());
        for n in &nets {
            n.validate()?;
        }
        for (i, a) in nets.iter().enumerate() {
            for b in &nets[i + 1..] {
                if a.ifname == b.ifname {
                    bail!("two networks use interface name {}", a.ifname);
                }
                let same_v4 = a.ipv4_prefix.is_some() && a.ipv4_prefix == b.ipv4_prefix;
                let same_v6 = a.ipv6_prefix.is_some() && a.ipv6_prefix == b.ipv6_prefix;
                if same_v4 || same_v6 {
                    bail!("networks {} and {} share an address range", a.ifname, b.ifname);
                }
            }
        }
        Ok(nets)
    }
}

/// The corosync.conf every node uses. Corosync picks its own node id by matching its local
/// addresses against `ring0_addr`, so one file serves all nodes. One directive per line:
/// corosync's parser wants that.
pub fn corosync_conf(names: &[String], ring0: &[String], token_ms: u32) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "totem {{\n\
         \tversion: 2\n\
         \tcluster_name: rhalab\n\
         \ttransport: knet\n\
         \tcrypto_cipher: none\n\
         \tcrypto_hash: none\n\
         \ttoken: {token_ms}\n\
         }}\n\
         logging {{\n\
         \tto_logfile: yes\n\
         \tlogfile: /var/log/corosync/corosync.log\n\
         \tto_stderr: no\n\
         \tto_syslog: no\n\
         \ttimestamp: hires\n\
         }}\n\
         quorum {{\n\
         \tprovider: corosync_votequorum\n"
    );
    if names.len() == 2 {
        // Two nodes: the survivor keeps quorum when its peer dies.
        s.push_str("\ttwo_node: 1\n");
    }
    s.push_str("}\nnodelist {\n");
    for (i, (name, addr)) in names.iter().zip(ring0).enumerate() {
        let _ =
            write!(s, "\tnode {{\n\t\tname: {name}\n\t\tnodeid: {}\n\t\tring0_addr: {addr}\n\t}}\n", i + 1);
    }
    s.push_str("}\n");
    s
}

/// How long a starting node waits to hear from an existing DC before calling an election.
/// Pacemaker's default (20 s) is sized for real networks; on one bridge 5 s is plenty, and
/// it takes 18 s off every lab start.
pub const DC_DEADTIME: &str = "5s";

/// The CIB every node starts with: the lab's cluster properties already set, so the very
/// first election honours [`DC_DEADTIME`] (the controller reads it from the CIB on start).
/// No digest file is written; Pacemaker accepts a CIB without one.
pub fn initial_cib(nodes: usize) -> String {
    let mut props = vec![("dc-deadtime", DC_DEADTIME), ("stonith-enabled", "false")];
    if nodes == 2 {
        props.push(("no-quorum-policy", "ignore"));
    }
    let mut s = String::from(
        "<cib validate-with=\"pacemaker-3.0\" epoch=\"1\" num_updates=\"0\" admin_epoch=\"0\">\n\
         \x20 <configuration>\n\
         \x20   <crm_config>\n\
         \x20     <cluster_property_set id=\"cib-bootstrap-options\">\n",
    );
    for (name, value) in props {
        let _ = writeln!(
            s,
            "        <nvpair id=\"cib-bootstrap-options-{name}\" name=\"{name}\" value=\"{value}\"/>"
        );
    }
    s.push_str(
        "      </cluster_property_set>\n\
         \x20   </crm_config>\n\
         \x20   <nodes/>\n\
         \x20   <resources/>\n\
         \x20   <constraints/>\n\
         \x20 </configuration>\n\
         \x20 <status/>\n\
         </cib>\n",
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names() {
        assert_eq!(LabConfig::with_nodes(3).names().unwrap(), ["node1", "node2", "node3"]);
        assert!(LabConfig::with_nodes(0).names().is_err());
        let mut c = LabConfig::with_nodes(2);
        c.node_names = Some(vec!["a".into(), "a".into()]);
        assert!(c.names().is_err());
    }

    #[test]
    fn networks_are_checked() {
        let mut c = LabConfig::with_nodes(2);
        c.extra_networks.push(NetSpec::second());
        assert_eq!(c.networks().unwrap().len(), 2);
        c.extra_networks.push(NetSpec {
            ifname: "eth2".into(),
            ipv4_prefix: Some("192.0.2".into()),
            ipv6_prefix: None,
        });
        assert!(c.networks().is_err());
    }

    #[test]
    fn addresses() {
        let p = NetSpec::primary();
        assert_eq!(p.host_v4(node_host_number(0)).unwrap(), "198.51.100.11/24");
        assert_eq!(p.host_v6(node_host_number(1)).unwrap(), "2001:db8::12/64");
    }

    #[test]
    fn cib_seed() {
        let c = initial_cib(2);
        assert!(c.contains(r#"name="dc-deadtime" value="5s""#), "{c}");
        assert!(c.contains(r#"name="no-quorum-policy" value="ignore""#));
        assert!(!initial_cib(3).contains("no-quorum-policy"));
        assert!(c.starts_with("<cib ") && c.ends_with("</cib>\n"));
    }

    #[test]
    fn corosync_two_node() {
        let names = vec!["node1".to_string(), "node2".to_string()];
        let addrs = vec!["198.51.100.11".to_string(), "198.51.100.12".to_string()];
        let c = corosync_conf(&names, &addrs, 3000);
        assert!(c.contains("two_node: 1"));
        assert!(c.contains("ring0_addr: 198.51.100.12"));
        assert!(c.contains("nodeid: 2"));
        assert!(c.contains("token: 3000"));
        let c3 = corosync_conf(&names[..1], &addrs[..1], 3000);
        assert!(!c3.contains("two_node"));
    }
}
