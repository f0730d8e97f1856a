//! A network namespace whose only nameserver black-holes every query (its packets are dropped
//! by the server's nftables, so getaddrinfo waits its whole timeout: 10 s with
//! `timeout:5 attempts:2`), for tests of agents that must not hang on DNS.
//!
//! It works through `ip netns exec`, which bind-mounts `/etc/netns/<ns>/resolv.conf` and
//! `hosts` over /etc for the command it runs; the directory is removed on drop.

use std::path::PathBuf;

use anyhow::Result;

use crate::netns::Netns;

pub struct DnsDown {
    /// Run agents here with `ip netns exec`.
    pub client: Netns,
    _server: Netns,
    etc: PathBuf,
}

impl DnsDown {
    /// `tag`: ASCII letters and digits.
    pub fn new(tag: &str) -> Result<DnsDown> {
        let client = Netns::new(&format!("{tag}c"))?;
        let server = Netns::new(&format!("{tag}s"))?;
        client.add_veth("eth0", &server, "eth0")?;
        for (ns, a) in [(&client, "198.51.100.1/24"), (&server, "198.51.100.53/24")] {
            ns.link_up("lo")?;
            ns.link_up("eth0")?;
            ns.add_addr("eth0", a)?;
        }
        server.sh_ok(
            "nft add table inet dnsdown && \
             nft add chain inet dnsdown input '{ type filter hook input priority 0; policy accept; }' && \
             nft add rule inet dnsdown input iifname eth0 drop",
        )?;
        let etc = PathBuf::from("/etc/netns").join(client.name());
        // From here on, Drop removes it.
        let down = DnsDown { client, _server: server, etc };
        std::fs::create_dir_all(&down.etc)?;
        std::fs::write(
            down.etc.join("resolv.conf"),
            "nameserver 198.51.100.53\noptions timeout:5 attempts:2\n",
        )?;
        std::fs::write(down.etc.join("hosts"), "127.0.0.1 localhost\n::1 localhost\n")?;
        Ok(down)
    }
}

impl Drop for DnsDown {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.etc);
    }
}
