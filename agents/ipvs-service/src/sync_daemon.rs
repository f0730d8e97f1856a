//! The kernel's connection-sync daemon (`ipvsadm --start-daemon`), per role.
//!
//! A node runs at most one master and one backup daemon. start runs the roles the
//! configuration asks for (recording the ones it starts, before starting them); a daemon of
//! the same role already running with the same interface and sync ID is used as it is (and
//! not owned); one with other settings is replaced only if this instance owns it, otherwise
//! start fails naming it. stop stops only owned daemons, and hands them over instead when
//! another instance on the node still wants them.

use ocf_shim::{Context, OcfError, OcfResult};
use rha_ipvs::{Daemon, DaemonState, Ipvs};

use crate::ipvs_error;
use crate::ownership::{self, DaemonSpec, Record};
use crate::params::SyncConfig;

/// The daemons a configuration asks for.
pub fn wanted(sync: Option<&SyncConfig>) -> Vec<DaemonSpec> {
    sync.map(|s| {
        s.roles
            .iter()
            .map(|state| DaemonSpec { state: *state, interface: s.interface.clone(), syncid: s.syncid })
            .collect()
    })
    .unwrap_or_default()
}

fn matches(d: &Daemon, w: &DaemonSpec) -> bool {
    d.state == w.state && d.mcast_ifn == w.interface && d.sync_id == w.syncid
}

fn describe(d: &Daemon) -> String {
    DaemonSpec { state: d.state, interface: d.mcast_ifn.clone(), syncid: d.sync_id }.to_string()
}

/// Makes every wanted daemon run. `save` persists the record before a daemon is started.
pub fn ensure(
    ipvs: &mut Ipvs,
    wanted: &[DaemonSpec],
    rec: &mut Record,
    save: &mut dyn FnMut(&Record) -> OcfResult<()>,
) -> OcfResult<()> {
    for w in wanted {
        let running = ipvs.daemons().map_err(ipvs_error)?;
        match running.iter().find(|d| d.state == w.state) {
            Some(d) if matches(d, w) => continue,
            Some(d) => {
                if !rec.owns.iter().any(|o| o.state == w.state) {
                    return Err(OcfError::generic(format!(
                        "a {} that this resource did not start is running; it cannot also run the configured {w} \
                         (stop the other one, or use its interface and syncid)",
                        describe(d)
                    )));
                }
                ocf_shim::info!("replacing our {} with the configured {w}", describe(d));
                stop_one(ipvs, w.state)?;
                rec.owns.retain(|o| o.state != w.state);
                save(rec)?;
            }
            None => {}
        }
        rec.owns.retain(|o| o.state != w.state);
        rec.owns.push(w.clone());
        save(rec)?;
        ocf_shim::info!("starting the {w}");
        if let Err(e) = ipvs.start_daemon(&Daemon::new(w.state, &w.interface, w.syncid)) {
            // Another agent may have started the same daemon meanwhile: then it is theirs.
            let now = ipvs.daemons().map_err(ipvs_error)?;
            rec.owns.retain(|o| o.state != w.state);
            save(rec)?;
            if now.iter().any(|d| matches(d, w)) {
                continue;
            }
            return Err(match e.errno() {
                // Node-local (another node may have the interface): 5, not 2, so Pacemaker
                // bans this node only instead of giving up on every node.
                Some(libc::ENODEV) => OcfError::installed(format!(
                    "cannot start the {w}: interface {} does not exist on this node",
                    w.interface
                )),
                _ => ipvs_error(e).context(format!("starting the {w}")),
            });
        }
    }
    Ok(())
}

/// Monitor: every wanted daemon runs with its settings. `Err` names what is wrong.
pub fn check(ipvs: &mut Ipvs, wanted: &[DaemonSpec]) -> OcfResult<Result<(), String>> {
    if wanted.is_empty() {
        return Ok(Ok(()));
    }
    let running = ipvs.daemons().map_err(ipvs_error)?;
    let mut problems = Vec::new();
    for w in wanted {
        match running.iter().find(|d| d.state == w.state) {
            Some(d) if matches(d, w) => {}
            Some(d) => problems.push(format!("the configured {w} is not running; a {} is", describe(d))),
            None => problems.push(format!("the {w} is not running")),
        }
    }
    Ok(if problems.is_empty() { Ok(()) } else { Err(problems.join("; ")) })
}

fn stop_one(ipvs: &mut Ipvs, state: DaemonState) -> OcfResult<()> {
    match ipvs.stop_daemon(state) {
        Err(e) if e.errno() == Some(libc::ESRCH) => Ok(()),
        r => r.map_err(|e| ipvs_error(e).context(format!("stopping the {} sync daemon", state.name()))),
    }
}

/// Stop: each owned daemon is handed to another instance that wants it, or stopped if it is
/// still the one we started.
pub fn release(ipvs: &mut Ipvs, rec: &Record, ctx: &Context) -> OcfResult<()> {
    if rec.owns.is_empty() {
        return Ok(());
    }
    let running = ipvs.daemons().map_err(ipvs_error)?;
    let mut others = ownership::others(ctx);
    for o in &rec.owns {
        if let Some((p, other)) = others.iter_mut().find(|(_, r)| r.wants.contains(o)) {
            ocf_shim::info!("leaving the {o} running for {}, which also uses it", p.display());
            other.owns.retain(|x| x.state != o.state);
            other.owns.push(o.clone());
            ownership::write_other(p, other)?;
            continue;
        }
        match running.iter().find(|d| d.state == o.state) {
            Some(d) if matches(d, o) => {
                ocf_shim::info!("stopping the {o}");
                stop_one(ipvs, o.state)?;
            }
            Some(d) => {
                ocf_shim::info!("not stopping the {}: it is not the {o} this resource started", describe(d))
            }
            None => {}
        }
    }
    Ok(())
}
