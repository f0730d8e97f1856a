//! `rha-lab`: start a Pacemaker lab cluster that keeps running after the command returns (for
//! demos and manual testing), then run commands in it, kill nodes, and tear it down.
//!
//! The cluster's namespaces are "owned" by a keeper process (`sleep infinity`) started by
//! `up`, so `rha_harness::netns::sweep_stale` run by tests leaves the demo cluster alone
//! while the keeper lives. `down` kills the keeper and removes everything.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use serde::{Deserialize, Serialize};

use rha_harness::lab::{Lab, LabConfig, LabState, NetSpec};
use rha_harness::netns;

const STATE_DIR: &str = "/run/rha-lab";

#[derive(Parser)]
#[command(name = "rha-lab", about = "Run a Pacemaker/Corosync lab cluster in namespaces")]
struct Cli {
    /// Where the running lab is recorded.
    #[arg(long, global = true, default_value = "/run/rha-lab/lab.json")]
    state_file: PathBuf,
    #[command(subcommand)]
    cmd: Sub,
}

#[derive(Subcommand)]
enum Sub {
    /// Start a cluster and wait until it is online.
    Up {
        #[arg(long, default_value_t = 2)]
        nodes: usize,
        /// Directory of agent binaries, mounted at /usr/lib/ocf/resource.d/rha in every node.
        #[arg(long)]
        agents_dir: Option<PathBuf>,
        /// Add eth1 on a second network (203.0.113.0/24).
        #[arg(long)]
        second_network: bool,
        /// Give every node its own /var/www/html with a page naming the node.
        #[arg(long)]
        www: bool,
        /// Give every node its own copy of this host directory (repeatable).
        #[arg(long = "private-dir")]
        private_dirs: Vec<PathBuf>,
        /// Seconds to wait for the cluster to come online.
        #[arg(long, default_value_t = 180)]
        timeout: u64,
    },
    /// Run a command in a node (name or 1-based number).
    Exec {
        node: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        cmd: Vec<String>,
    },
    /// Run a command in the client namespace (attached to every network).
    Client {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        cmd: Vec<String>,
    },
    /// Kill a node: links down, SIGKILL all its processes.
    Kill { node: String },
    /// Restart a killed node and wait until it is online again.
    Revive {
        node: String,
        #[arg(long, default_value_t = 180)]
        timeout: u64,
    },
    /// Show the nodes, their namespaces and crm_mon.
    Status,
    /// Tear the cluster down.
    Down,
    /// Remove leftover rha* namespaces (of dead owners; all with --all).
    Sweep {
        #[arg(long)]
        all: bool,
    },
}

/// The state file's content.
#[derive(Serialize, Deserialize)]
struct Saved {
    keeper_pid: u32,
    lab: LabState,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rha-lab: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let sf = &cli.state_file;
    match cli.cmd {
        Sub::Up { nodes, agents_dir, second_network, www, private_dirs, timeout } => {
            let cfg = LabConfig {
                nodes,
                extra_networks: if second_network { vec![NetSpec::second()] } else { vec![] },
                ocf_rha_dir: agents_dir,
                www,
                private_dirs,
                online_timeout: Duration::from_secs(timeout),
                workdir_parent: Some(PathBuf::from(STATE_DIR)),
                ..LabConfig::default()
            };
            up(sf, cfg)?
        }
        Sub::Exec { node, cmd } => {
            let (lab, keeper) = attach(sf)?;
            let i = node_index(&lab, &node)?;
            let status = lab.node_cmd(i, &cmd)?.to_command().status();
            lab.detach();
            let _ = keeper;
            return exit_code(status.context("running the command")?);
        }
        Sub::Client { cmd } => {
            let (lab, _) = attach(sf)?;
            let status = Command::new("ip").args(["netns", "exec", lab.client_netns()]).args(&cmd).status();
            lab.detach();
            return exit_code(status.context("running the command")?);
        }
        Sub::Kill { node } => {
            let (mut lab, keeper) = attach(sf)?;
            let i = node_index(&lab, &node)?;
            let r = lab.kill_node(i);
            save(sf, keeper, lab.detach())?;
            r?;
            println!("killed {node}");
        }
        Sub::Revive { node, timeout } => {
            let (mut lab, keeper) = attach(sf)?;
            let i = node_index(&lab, &node)?;
            let t0 = Instant::now();
            let r = lab.revive_node(i).and_then(|_| lab.wait_online(Duration::from_secs(timeout)));
            save(sf, keeper, lab.detach())?;
            r?;
            println!("{node} online again after {:.1}s", t0.elapsed().as_secs_f64());
        }
        Sub::Status => {
            let (lab, _) = attach(sf)?;
            for i in 0..lab.node_count() {
                println!(
                    "{}: {} netns {} ({})",
                    i + 1,
                    lab.node_name(i),
                    lab.node_netns(i),
                    if lab.is_alive(i) { "up" } else { "killed" }
                );
            }
            println!("client netns {}", lab.client_netns());
            let mon = lab.crm_mon();
            lab.detach();
            print!("{}", mon?);
        }
        Sub::Down => down(sf)?,
        Sub::Sweep { all } => {
            let removed = if all { netns::sweep_all()? } else { netns::sweep_stale()? };
            println!("removed {} namespaces {removed:?}", removed.len());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn up(sf: &Path, mut cfg: LabConfig) -> Result<()> {
    if sf.exists() {
        let saved = load(sf)?;
        if netns::process_alive(saved.keeper_pid) {
            bail!("a lab is already running (state file {}); `rha-lab down` first", sf.display());
        }
        // The keeper died (e.g. reboot of the container): what is left is stale.
        down(sf)?;
    }
    fs::create_dir_all(STATE_DIR)?;
    if let Some(parent) = sf.parent() {
        fs::create_dir_all(parent)?;
    }

    // The keeper: its life marks the lab's namespaces as in use.
    let mut keeper = Command::new("sleep")
        .arg("infinity")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .context("starting the keeper process")?;
    cfg.owner_pid = Some(keeper.id());
    let t0 = Instant::now();
    let lab = match Lab::start(cfg) {
        Ok(l) => l,
        Err(e) => {
            let _ = keeper.kill();
            let _ = keeper.wait();
            return Err(e);
        }
    };
    println!("lab up: {} nodes online after {:.1}s", lab.node_count(), t0.elapsed().as_secs_f64());
    for i in 0..lab.node_count() {
        println!(
            "  {} {} (netns {})",
            lab.node_name(i),
            lab.node_ip(i, 0).unwrap_or_default(),
            lab.node_netns(i)
        );
    }
    println!("state: {}", sf.display());
    save(sf, keeper.id(), lab.detach())
}

fn down(sf: &Path) -> Result<()> {
    let saved = load(sf)?;
    let workdir = saved.lab.workdir.clone();
    let result = Lab::attach(saved.lab).and_then(Lab::teardown);
    kill_keeper(saved.keeper_pid);
    if let Err(e) = result {
        // Fall back on the sweep: with the keeper dead, its namespaces count as stale.
        eprintln!("rha-lab: {e:#}; sweeping instead");
        netns::sweep_stale()?;
        let _ = fs::remove_dir_all(&workdir);
    }
    fs::remove_file(sf).with_context(|| format!("removing {}", sf.display()))?;
    println!("lab down");
    Ok(())
}

fn kill_keeper(pid: u32) {
    // Only if it still is our `sleep`: the pid may have been reused since.
    let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    if comm.trim() == "sleep" {
        // SAFETY: plain syscall on a pid we recorded and just checked.
        unsafe {
            libc::kill(pid as libc::pid_t, libc::SIGKILL);
        }
    }
}

fn attach(sf: &Path) -> Result<(Lab, u32)> {
    let saved = load(sf)?;
    Ok((Lab::attach(saved.lab)?, saved.keeper_pid))
}

fn load(sf: &Path) -> Result<Saved> {
    let text =
        fs::read_to_string(sf).with_context(|| format!("no lab state at {} (is a lab up?)", sf.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", sf.display()))
}

fn save(sf: &Path, keeper_pid: u32, lab: LabState) -> Result<()> {
    let text = serde_json::to_string_pretty(&Saved { keeper_pid, lab })?;
    let tmp = sf.with_extension("tmp");
    fs::write(&tmp, text)?;
    fs::rename(&tmp, sf).with_context(|| format!("writing {}", sf.display()))
}

fn node_index(lab: &Lab, node: &str) -> Result<usize> {
    lab.node_index(node).with_context(|| format!("no node {node:?} in the lab"))
}

fn exit_code(status: std::process::ExitStatus) -> Result<ExitCode> {
    Ok(match status.code() {
        Some(c) => ExitCode::from(c.clamp(0, 255) as u8),
        None => ExitCode::FAILURE,
    })
}
