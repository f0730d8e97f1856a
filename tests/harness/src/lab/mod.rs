//! A real Pacemaker/Corosync cluster of N nodes in namespaces (the "lab", test tier 2).
//!
//! Layout, following the proven recipe in shared/notes/test-environment.md:
//! - a switch namespace holding one bridge per network (`br0`, `br1`, ...);
//! - per node a network namespace with `eth0` (198.51.100.1N/24, 2001:db8::1N/64) and optional
//!   `eth1` (203.0.113.1N/24, ...), plus a private mount namespace with its own
//!   /var/lib/pacemaker, /var/lib/corosync, /var/log/{pacemaker,corosync}, /etc/corosync and
//!   fresh tmpfs on /dev/shm and /run; corosync and `pacemakerd -f` run detached inside;
//! - a client namespace on every bridge (.100) for reachability tests.
//!
//! [`Lab`] tears all of it down on drop, also when a test panics. A lab can also be detached
//! into a [`LabState`] (kept in a file by `rha-lab`) and attached again later.

mod config;
mod node;
mod ocf;
mod status;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

pub use config::{
    CLIENT_HOST_NUMBER, DC_DEADTIME, LabConfig, NetSpec, corosync_conf, initial_cib, node_host_number,
};
pub use ocf::{OCF_RHA_MOUNT, RESOURCE_D, agents_dir};
pub use status::{ClusterStatus, NodeStatus, ResourceStatus};

use crate::cmd::{self, Cmd, CmdOutput};
use crate::netns::{self, Netns};
use node::NodeDirs;
use ocf::OcfTree;

/// Limit for one command run in a node (crm and pcs start slowly under load).
pub const EXEC_TIMEOUT: Duration = Duration::from_secs(120);

/// Limit for corosync to answer after its start.
const COROSYNC_READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Tools the lab cannot work without, with their Debian packages.
pub const REQUIRED_TOOLS: &[(&str, &str)] = &[
    ("ip", "iproute2"),
    ("nsenter", "util-linux"),
    ("unshare", "util-linux"),
    ("setsid", "util-linux"),
    ("corosync", "corosync"),
    ("corosync-cfgtool", "corosync"),
    ("pacemakerd", "pacemaker"),
    ("crm_mon", "pacemaker-cli-utils"),
    ("crm_attribute", "pacemaker-cli-utils"),
];

/// Set to keep the lab's directories (logs, CIBs) after teardown, for debugging.
pub const KEEP_ENV: &str = "RHA_LAB_KEEP";

static LAB_COUNTER: AtomicU32 = AtomicU32::new(0);

struct LabNode {
    name: String,
    ns: Netns,
    dirs: NodeDirs,
    /// Pid of the `sleep infinity` holding the node's mount/UTS namespaces.
    anchor: Option<u32>,
    /// The anchor as our child, when we started it (reaped at teardown).
    anchor_child: Option<Child>,
    alive: bool,
}

/// What is needed to find a running lab again (see [`Lab::detach`], [`Lab::attach`]).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LabState {
    pub config: LabConfig,
    pub workdir: PathBuf,
    pub switch: String,
    pub client: String,
    pub nodes: Vec<NodeState>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NodeState {
    pub name: String,
    pub netns: String,
    pub anchor: Option<u32>,
    pub alive: bool,
}

/// A running cluster. Dropping it kills every process in it and removes its namespaces and
/// directories.
pub struct Lab {
    cfg: LabConfig,
    networks: Vec<NetSpec>,
    workdir: PathBuf,
    /// The /usr/lib/ocf/resource.d the nodes see, when an agents directory is configured.
    ocf: Option<OcfTree>,
    switch: Option<Netns>,
    client: Option<Netns>,
    nodes: Vec<LabNode>,
    detached: bool,
}

impl Lab {
    /// Builds the namespaces, starts corosync and pacemaker on every node, waits until all
    /// nodes are online (within `cfg.online_timeout`) and sets the lab's cluster properties
    /// (`stonith-enabled=false`; `no-quorum-policy=ignore` for two nodes).
    /// On any error everything created so far is removed.
    pub fn start(mut cfg: LabConfig) -> Result<Lab> {
        cmd::require_root()?;
        cmd::require_tools(REQUIRED_TOOLS)?;
        let names = cfg.names()?;
        let networks = cfg.networks()?;
        let private = cfg.checked_private_dirs()?;
        if let Some(dir) = &cfg.ocf_rha_dir {
            if !dir.is_dir() {
                bail!("ocf_rha_dir {} is not a directory", dir.display());
            }
            // Absolute: the mounts are made by a shell whose cwd is not ours to rely on.
            cfg.ocf_rha_dir = Some(fs::canonicalize(dir)?);
        }
        // Leftovers of killed test runs would only cost CPU, but remove them anyway.
        let swept = netns::sweep_stale()?;
        if !swept.is_empty() {
            eprintln!("rha-harness: removed stale namespaces {swept:?}");
        }
        let owner = cfg.owner_pid.unwrap_or_else(std::process::id);
        let parent = cfg.workdir_parent.clone().unwrap_or_else(std::env::temp_dir);
        let workdir = parent.join(format!("rha-lab-{owner}-{}", LAB_COUNTER.fetch_add(1, Ordering::Relaxed)));
        if workdir.exists() {
            // Left by an earlier process that had our pid.
            fs::remove_dir_all(&workdir).with_context(|| format!("removing stale {}", workdir.display()))?;
        }
        fs::create_dir_all(&workdir).with_context(|| format!("creating lab dir {}", workdir.display()))?;

        // From here on, an early return drops `lab`, which tears down what exists.
        let mut lab = Lab {
            cfg,
            networks,
            workdir,
            ocf: None,
            switch: None,
            client: None,
            nodes: Vec::new(),
            detached: false,
        };
        lab.build_network(&names, owner)?;
        let ring0: Vec<String> = (0..names.len())
            .map(|i| {
                let a = lab.networks[0].host_v4(node_host_number(i)).expect("primary network has IPv4");
                a.split('/').next().unwrap_or_default().to_string()
            })
            .collect();
        let conf = corosync_conf(&names, &ring0, lab.cfg.token_ms);
        let cib = initial_cib(names.len());
        lab.write_hosts_file(&names, &ring0)?;
        if let Some(agents) = &lab.cfg.ocf_rha_dir {
            lab.ocf = Some(OcfTree::prepare(&lab.workdir.join("ocf-resource.d"), agents)?);
        }
        for n in &lab.nodes {
            n.dirs.create(&n.name, &conf, &cib, lab.cfg.www)?;
            n.dirs.create_private_copies(&private)?;
        }
        let t0 = Instant::now();
        for i in 0..lab.nodes.len() {
            lab.start_anchor_and_corosync(i)?;
        }
        for i in 0..lab.nodes.len() {
            lab.start_pacemaker(i)?;
        }
        lab.wait_online(lab.cfg.online_timeout)?;
        lab.set_lab_properties()?;
        eprintln!(
            "rha-harness: lab of {} nodes online after {:.1}s (workdir {})",
            lab.nodes.len(),
            t0.elapsed().as_secs_f64(),
            lab.workdir.display()
        );
        Ok(lab)
    }

    fn build_network(&mut self, names: &[String], owner: u32) -> Result<()> {
        let tag = self.cfg.tag.clone();
        let switch = Netns::new_owned_by(&format!("{tag}sw"), owner)?;
        for k in 0..self.networks.len() {
            switch.add_bridge(&format!("br{k}"))?;
        }
        self.switch = Some(switch);
        let client = Netns::new_owned_by(&format!("{tag}client"), owner)?;
        self.connect(&client, "c")?;
        for net in &self.networks {
            for a in [net.host_v4(CLIENT_HOST_NUMBER), net.host_v6(CLIENT_HOST_NUMBER)].into_iter().flatten()
            {
                client.add_addr(&net.ifname, &a)?;
            }
        }
        self.client = Some(client);
        for (i, name) in names.iter().enumerate() {
            let alnum: String = name.chars().filter(char::is_ascii_alphanumeric).collect();
            let ns = Netns::new_owned_by(&format!("{tag}{alnum}"), owner)?;
            self.connect(&ns, &format!("n{}", i + 1))?;
            for net in &self.networks {
                let h = node_host_number(i);
                for a in [net.host_v4(h), net.host_v6(h)].into_iter().flatten() {
                    ns.add_addr(&net.ifname, &a)?;
                }
            }
            self.nodes.push(LabNode {
                name: name.clone(),
                ns,
                dirs: NodeDirs::new(self.workdir.join(name)),
                anchor: None,
                anchor_child: None,
                alive: false,
            });
        }
        Ok(())
    }

    fn hosts_file(&self) -> PathBuf {
        self.workdir.join("hosts")
    }

    /// The host's /etc/hosts plus the nodes' names on the cluster network.
    fn write_hosts_file(&self, names: &[String], addrs: &[String]) -> Result<()> {
        let mut s = fs::read_to_string("/etc/hosts").unwrap_or_default();
        s += "\n# rha lab\n";
        for (n, a) in names.iter().zip(addrs) {
            s += &format!("{a}\t{n}\n");
        }
        if let Some(c) = self.client_ip(0) {
            s += &format!("{c}\tclient\n");
        }
        let path = self.hosts_file();
        fs::write(&path, s).with_context(|| format!("writing {}", path.display()))?;
        fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
        Ok(())
    }

    /// Switch port name of interface `ifname` of the member with port prefix `who`.
    fn port(who: &str, ifname: &str) -> String {
        format!("{who}{ifname}")
    }

    fn connect(&self, ns: &Netns, who: &str) -> Result<()> {
        let switch = self.switch.as_ref().context("no switch")?;
        for (k, net) in self.networks.iter().enumerate() {
            ns.connect_to(&net.ifname, switch, &format!("br{k}"), &Lab::port(who, &net.ifname))?;
        }
        Ok(())
    }

    fn start_anchor_and_corosync(&mut self, i: usize) -> Result<()> {
        let ocf = self.ocf.clone();
        let www = self.cfg.www;
        let private = self.cfg.private_dirs.clone();
        let hosts = self.hosts_file();
        let n = &mut self.nodes[i];
        let script = n.dirs.mount_script(&n.name, ocf.as_ref(), www, &hosts, &private);
        let child =
            node::spawn_anchor(&n.ns, &script).with_context(|| format!("starting node {}", n.name))?;
        let pid = child.id();
        n.anchor = Some(pid);
        n.anchor_child = Some(child);
        n.alive = true;
        node::spawn_daemon(pid, &["corosync", "-f"], &n.dirs.daemon_output("corosync"))?;
        let name = n.name.clone();
        cmd::wait_for(
            &format!("corosync on {name}"),
            COROSYNC_READY_TIMEOUT,
            Duration::from_millis(200),
            || {
                let o =
                    node::nsenter(pid, &["corosync-cfgtool", "-s"]).timeout(Duration::from_secs(10)).run()?;
                Ok(o.success().then_some(()))
            },
        )
        .with_context(|| self.diagnostics())
    }

    fn start_pacemaker(&mut self, i: usize) -> Result<()> {
        let n = &self.nodes[i];
        let pid = n.anchor.context("node has no anchor")?;
        node::spawn_daemon(pid, &["pacemakerd", "-f"], &n.dirs.daemon_output("pacemakerd"))
    }

    fn set_lab_properties(&self) -> Result<()> {
        let mut props = vec![("stonith-enabled", "false")];
        if self.nodes.len() == 2 {
            props.push(("no-quorum-policy", "ignore"));
        }
        for (name, value) in props {
            let c = format!("crm_attribute --type crm_config --name {name} --update {value}");
            // Right after the election the CIB may still refuse updates briefly: retry.
            cmd::wait_for(
                &format!("setting {name}={value}"),
                Duration::from_secs(60),
                Duration::from_secs(1),
                || Ok(self.exec_on_any(&c)?.success().then_some(())),
            )?;
        }
        Ok(())
    }

    /// Reconnects to a lab described by `state` (e.g. from `rha-lab`'s state file). The
    /// returned value owns the lab: dropping it tears the lab down; use [`Lab::detach`] to
    /// leave it running.
    pub fn attach(state: LabState) -> Result<Lab> {
        let networks = state.config.networks()?;
        let switch = Netns::adopt(&state.switch)?;
        let client = Netns::adopt(&state.client)?;
        let mut nodes = Vec::new();
        for n in &state.nodes {
            nodes.push(LabNode {
                name: n.name.clone(),
                ns: Netns::adopt(&n.netns)?,
                dirs: NodeDirs::new(state.workdir.join(&n.name)),
                anchor: n.anchor,
                anchor_child: None,
                alive: n.alive,
            });
        }
        let ocf = match &state.config.ocf_rha_dir {
            // The tree exists already; preparing it again only re-creates mount points.
            Some(agents) => Some(OcfTree::prepare(&state.workdir.join("ocf-resource.d"), agents)?),
            None => None,
        };
        Ok(Lab {
            cfg: state.config,
            networks,
            ocf,
            workdir: state.workdir,
            switch: Some(switch),
            client: Some(client),
            nodes,
            detached: false,
        })
    }

    /// What [`Lab::attach`] needs.
    pub fn state(&self) -> LabState {
        LabState {
            config: self.cfg.clone(),
            workdir: self.workdir.clone(),
            switch: self.switch.as_ref().map(|s| s.name().to_string()).unwrap_or_default(),
            client: self.client.as_ref().map(|s| s.name().to_string()).unwrap_or_default(),
            nodes: self
                .nodes
                .iter()
                .map(|n| NodeState {
                    name: n.name.clone(),
                    netns: n.ns.name().to_string(),
                    anchor: n.anchor,
                    alive: n.alive,
                })
                .collect(),
        }
    }

    /// Leaves the lab running and returns how to find it again.
    pub fn detach(mut self) -> LabState {
        let st = self.state();
        self.detached = true;
        // Defuse the namespace guards, which would delete the namespaces when dropped.
        for n in self.nodes.drain(..) {
            n.ns.into_name();
        }
        self.client.take().map(Netns::into_name);
        self.switch.take().map(Netns::into_name);
        st
    }

    pub fn config(&self) -> &LabConfig {
        &self.cfg
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    pub fn node_name(&self, i: usize) -> &str {
        &self.nodes[i].name
    }

    /// Index of a node given its name, or its 1-based number (`"2"`).
    pub fn node_index(&self, name_or_number: &str) -> Option<usize> {
        if let Some(i) = self.nodes.iter().position(|n| n.name == name_or_number) {
            return Some(i);
        }
        let k: usize = name_or_number.parse().ok()?;
        (1..=self.nodes.len()).contains(&k).then(|| k - 1)
    }

    pub fn is_alive(&self, i: usize) -> bool {
        self.nodes[i].alive
    }

    /// Name of node `i`'s network namespace.
    pub fn node_netns(&self, i: usize) -> &str {
        self.nodes[i].ns.name()
    }

    /// Pid of the process whose namespaces node `i` commands run in (`nsenter -t PID -m -n -u`).
    pub fn node_anchor(&self, i: usize) -> Option<u32> {
        self.nodes[i].anchor
    }

    /// Name of the client namespace.
    pub fn client_netns(&self) -> &str {
        self.client.as_ref().map(|c| c.name()).unwrap_or_default()
    }

    /// The networks, primary (eth0) first.
    pub fn networks(&self) -> &[NetSpec] {
        &self.networks
    }

    /// IPv4 address (no prefix) of node `i` on network `net` (0 = eth0).
    pub fn node_ip(&self, i: usize, net: usize) -> Option<String> {
        self.networks
            .get(net)?
            .host_v4(node_host_number(i))
            .map(|a| a.split('/').next().unwrap_or_default().to_string())
    }

    /// IPv4 address (no prefix) of the client on network `net`.
    pub fn client_ip(&self, net: usize) -> Option<String> {
        self.networks
            .get(net)?
            .host_v4(CLIENT_HOST_NUMBER)
            .map(|a| a.split('/').next().unwrap_or_default().to_string())
    }

    /// The lab's host directory (per-node subdirectories with logs, CIB, ...).
    pub fn workdir(&self) -> &Path {
        &self.workdir
    }

    /// Host directory that is /var/www/html in node `i` (with `www: true`).
    pub fn www_dir(&self, i: usize) -> PathBuf {
        self.nodes[i].dirs.www()
    }

    /// Runs `sh -c script` in node `i` (its network, mount and UTS namespaces); returns
    /// the output whatever the exit status.
    pub fn exec(&self, i: usize, script: &str) -> Result<CmdOutput> {
        self.exec_argv(i, &["sh", "-c", script])
    }

    /// Like [`Lab::exec`] but fails unless the script exits 0.
    pub fn exec_ok(&self, i: usize, script: &str) -> Result<CmdOutput> {
        self.exec(i, script)?.check()
    }

    /// The [`Cmd`] that runs `argv` in node `i`, to adjust its timeout or stdin.
    pub fn node_cmd<S: AsRef<std::ffi::OsStr>>(&self, i: usize, argv: &[S]) -> Result<Cmd> {
        let n = self.nodes.get(i).with_context(|| format!("no node {i}"))?;
        if !n.alive {
            bail!("node {} is down", n.name);
        }
        let pid = n.anchor.context("node has no anchor process")?;
        Ok(node::nsenter(pid, argv).timeout(EXEC_TIMEOUT))
    }

    /// Runs `argv` in node `i`; returns the output whatever the exit status.
    pub fn exec_argv<S: AsRef<std::ffi::OsStr>>(&self, i: usize, argv: &[S]) -> Result<CmdOutput> {
        let name = &self.nodes.get(i).with_context(|| format!("no node {i}"))?.name;
        self.node_cmd(i, argv)?.run().with_context(|| format!("on node {name}"))
    }

    /// Runs `sh -c script` on the first live node.
    pub fn exec_on_any(&self, script: &str) -> Result<CmdOutput> {
        self.exec(self.first_alive()?, script)
    }

    fn first_alive(&self) -> Result<usize> {
        self.nodes.iter().position(|n| n.alive).context("no node of the lab is alive")
    }

    /// Runs `sh -c script` in the client namespace.
    pub fn client_exec(&self, script: &str) -> Result<CmdOutput> {
        self.client.as_ref().context("no client namespace")?.sh(script)
    }

    /// Like [`Lab::client_exec`] but fails unless the script exits 0.
    pub fn client_exec_ok(&self, script: &str) -> Result<CmdOutput> {
        self.client_exec(script)?.check()
    }

    /// `crm_mon -1` (text) as seen from the first live node.
    pub fn crm_mon(&self) -> Result<String> {
        Ok(self.exec_on_any("crm_mon -1")?.check()?.stdout)
    }

    /// The cluster state (`crm_mon --output-as=xml`) as seen from the first live node.
    pub fn status(&self) -> Result<ClusterStatus> {
        let out = self.exec_on_any("crm_mon -1 --output-as=xml")?.check()?;
        ClusterStatus::parse(&out.stdout)
    }

    /// Index of the node where `resource` is active, if any.
    pub fn where_is(&self, resource: &str) -> Result<Option<usize>> {
        let st = self.status()?;
        Ok(st.location(resource).and_then(|n| self.node_index(n)))
    }

    /// Waits until `resource` is active somewhere; returns the node index.
    pub fn wait_started(&self, resource: &str, timeout: Duration) -> Result<usize> {
        cmd::wait_for(&format!("resource {resource} to start"), timeout, Duration::from_millis(500), || {
            self.where_is(resource)
        })
        .with_context(|| self.crm_mon().unwrap_or_default())
    }

    /// Waits until `resource` is active on a node other than `from`; returns that node.
    pub fn wait_moved(&self, resource: &str, from: usize, timeout: Duration) -> Result<usize> {
        cmd::wait_for(
            &format!("resource {resource} to leave {}", self.node_name(from)),
            timeout,
            Duration::from_millis(250),
            || Ok(self.where_is(resource)?.filter(|&n| n != from)),
        )
        .with_context(|| self.crm_mon().unwrap_or_default())
    }

    /// Waits until every live node is online in the cluster and a DC is elected.
    pub fn wait_online(&self, timeout: Duration) -> Result<()> {
        let want: Vec<&str> = self.nodes.iter().filter(|n| n.alive).map(|n| n.name.as_str()).collect();
        cmd::wait_for(&format!("nodes {want:?} online"), timeout, Duration::from_millis(500), || {
            let st = self.status()?;
            let all = want.iter().all(|w| st.node(w).is_some_and(|n| n.online));
            Ok((all && st.dc.is_some()).then_some(()))
        })
        .with_context(|| self.diagnostics())
    }

    /// Simulates the death of node `i`: its links go down on the switch side, then all its
    /// processes get SIGKILL (no clean shutdown, like a power cut).
    pub fn kill_node(&mut self, i: usize) -> Result<()> {
        let who = format!("n{}", i + 1);
        let switch = self.switch.as_ref().context("no switch")?;
        for net in &self.networks {
            switch.link_down(&Lab::port(&who, &net.ifname))?;
        }
        let n = &mut self.nodes[i];
        n.ns.kill_all()?;
        if let Some(mut c) = n.anchor_child.take() {
            let _ = c.wait();
        }
        n.anchor = None;
        n.alive = false;
        Ok(())
    }

    /// Brings a killed node back: links up, fresh mount namespace, corosync and pacemaker.
    /// Its CIB and logs persist from before. Call [`Lab::wait_online`] afterwards.
    pub fn revive_node(&mut self, i: usize) -> Result<()> {
        if self.nodes[i].alive {
            bail!("node {} is not down", self.nodes[i].name);
        }
        let who = format!("n{}", i + 1);
        let switch = self.switch.as_ref().context("no switch")?;
        for net in &self.networks {
            switch.link_up(&Lab::port(&who, &net.ifname))?;
        }
        self.start_anchor_and_corosync(i)?;
        self.start_pacemaker(i)
    }

    /// Tails of every node's corosync and pacemaker logs, for error messages.
    pub fn diagnostics(&self) -> String {
        let mut s = String::from("lab diagnostics:");
        for n in &self.nodes {
            for (what, path) in [
                ("corosync.log", n.dirs.corosync_log()),
                ("pacemaker.log", n.dirs.pacemaker_log()),
                ("corosync output", n.dirs.daemon_output("corosync")),
                ("pacemakerd output", n.dirs.daemon_output("pacemakerd")),
            ] {
                s += &format!("\n=== {} {what} (tail) ===\n{}", n.name, node::tail(&path, 15));
            }
        }
        s
    }

    /// Tears the lab down and reports what could not be removed (drop does the same but can
    /// only log).
    pub fn teardown(mut self) -> Result<()> {
        self.detached = true;
        self.do_teardown()
    }

    fn do_teardown(&mut self) -> Result<()> {
        let mut errors = Vec::new();
        // Kill every node first, so no daemon reacts to its peers' disappearance.
        for n in &mut self.nodes {
            if let Err(e) = n.ns.kill_all() {
                errors.push(format!("{}: {e:#}", n.name));
            }
            if let Some(mut c) = n.anchor_child.take() {
                let _ = c.wait();
            }
        }
        let mut all: Vec<Netns> = self.nodes.drain(..).map(|n| n.ns).collect();
        all.extend(self.client.take());
        all.extend(self.switch.take());
        for ns in all {
            let name = ns.name().to_string();
            if let Err(e) = ns.delete() {
                errors.push(format!("{name}: {e:#}"));
            }
        }
        if std::env::var_os(KEEP_ENV).is_some() {
            eprintln!("rha-harness: keeping lab dir {}", self.workdir.display());
        } else if let Err(e) = fs::remove_dir_all(&self.workdir) {
            if e.kind() != std::io::ErrorKind::NotFound {
                errors.push(format!("removing {}: {e}", self.workdir.display()));
            }
        }
        if errors.is_empty() { Ok(()) } else { bail!("lab teardown incomplete: {}", errors.join("; ")) }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if self.detached {
            return;
        }
        if let Err(e) = self.do_teardown() {
            eprintln!("rha-harness: {e:#}");
        }
    }
}
