//! Meta-data and the validated configuration: ocf:heartbeat:nfsserver's parameters where
//! they make sense for a directly started server.

use std::path::PathBuf;

use ocf_shim::state::StateDir;
use ocf_shim::{ActionSpec, AgentInfo, Context, OcfError, OcfResult, Parameter, Params};

static PARAMETERS: &[Parameter] = &[
    Parameter::string("nfs_shared_infodir")
        .short("Shared NFS state directory")
        .long(
            "A directory on the shared filesystem that is bind-mounted over /var/lib/nfs while the server \
             runs, so that statd's monitor list (sm/), etab and rmtab move with the service. Unmounted on \
             stop after every process holding it is stopped.",
        ),
    Parameter::string("nfs_ip")
        .short("Floating IP of the server")
        .long("The address clients mount from: sm-notify sends reboot notifications from it (-v) so clients reclaim locks against it."),
    Parameter::string("nfs_server_scope")
        .short("NFSv4 server scope")
        .long(
            "The NFSv4.1+ server scope, the same on every node, so that clients reclaim their state after a \
             failover (#1644). nfsd takes it from the host name of the process that starts it: rpc.nfsd is \
             run in its own UTS namespace with this host name. Defaults to the node's host name (no reclaim \
             across nodes).",
        ),
    Parameter::boolean("nfsv4_only")
        .short("NFSv4 only")
        .long("Serve NFSv4 only: no statd, no sm-notify, NFSv3 disabled in nfsd and mountd.")
        .default("false"),
    Parameter::boolean("nfs_no_notify")
        .short("Do not send reboot notifications")
        .long("Do not run sm-notify on start.")
        .default("false"),
    Parameter::boolean("nfs_notify_foreground")
        .short("Wait for sm-notify")
        .long("Run sm-notify in the foreground, within the start timeout; otherwise it runs in the background.")
        .default("false"),
    Parameter::integer("nfs_smnotify_retry_time")
        .short("sm-notify retry time (minutes)")
        .long("How long sm-notify keeps retrying unreachable clients (sm-notify -m).")
        .default("15"),
    Parameter::string("rpcpipefs_dir")
        .short("rpc_pipefs mount point")
        .long("Where rpc_pipefs is mounted (mounted on start if it is not; never unmounted: other RPC users share it, #1300).")
        .default("/run/rpc_pipefs"),
    Parameter::string("nfs_init_script")
        .short("Init script (accepted, never run)")
        .long(
            "Accepted for compatibility with ocf:heartbeat:nfsserver, which hands the work to this script \
             when set. This agent starts rpcbind, statd, mountd and nfsd itself and never runs it; if set, it \
             must still be an executable on this node, as nfsserver checks (start and validate-all fail with \
             OCF_ERR_INSTALLED otherwise): a node without it is not set up like the others.",
        ),
    Parameter::string("nfs_notify_cmd")
        .short("Reboot notification command")
        .long(
            "The sm-notify to run on start: a path or a name looked up in the system path. As with \
             ocf:heartbeat:nfsserver, rpc.statd is accepted too (sm-notify is then run, as nfsserver does); \
             another program is refused (OCF_ERR_CONFIGURED), one that is not installed is OCF_ERR_INSTALLED.",
        )
        .default("sm-notify"),
    Parameter::integer("nfsd_threads")
        .short("nfsd threads")
        .long("Number of nfsd threads (rpc.nfsd N).")
        .default("8"),
];

static ACTIONS: &[ActionSpec] = &[
    ActionSpec::new("start", "60s"),
    ActionSpec::new("stop", "60s"),
    ActionSpec::new("monitor", "20s").interval("10s").depth(0),
    ActionSpec::new("validate-all", "30s"),
    ActionSpec::new("meta-data", "5s"),
];

pub static INFO: AgentInfo = AgentInfo {
    name: "nfs-server",
    version: env!("CARGO_PKG_VERSION"),
    shortdesc: "The kernel NFS server (nfsd, mountd, statd, rpcbind)",
    longdesc: "Starts rpcbind, rpc.statd, rpc.mountd and nfsd directly, each verified with a bounded wait, \
               with statd's state on a shared directory and sm-notify sent from the floating IP; stops every \
               NFS server process (nfsd threads to 0, mountd, statd, sm-notify, nfsdcld, fsidd, and rpcbind if \
               it started it) before the shared directory is unmounted. Monitor reads /proc only: nfsd without \
               threads is not running (7), also on a node whose rpc.statd serves its NFS client, unless this \
               agent started the server this boot and mountd or statd are left (1). Exports are separate \
               resources (ocf:rha:nfs-export), one per client spec, grouped after this one: one server \
               serves many exports, its lifetime is the filesystem's and its parameters are the node's, so \
               it is its own agent rather than a mode of nfs-export. Group: Filesystem, nfs-server, \
               nfs-export..., IPaddr2.",
    parameters: PARAMETERS,
    actions: ACTIONS,
};

#[derive(Clone, Debug)]
pub struct Config {
    pub infodir: Option<PathBuf>,
    pub nfs_ip: Option<String>,
    pub scope: Option<String>,
    pub v4_only: bool,
    pub no_notify: bool,
    pub notify_foreground: bool,
    pub notify_retry_minutes: u32,
    pub rpcpipefs_dir: PathBuf,
    pub threads: u32,
    /// nfs_init_script: checked to exist, never run.
    pub init_script: Option<String>,
    /// nfs_notify_cmd when it names sm-notify (rpc.statd and unset: the system's sm-notify).
    pub notify_cmd: Option<String>,
    pub state_file: PathBuf,
    /// /var/lib/nfs (`RHA_NFS_LIBDIR` for tests).
    pub libdir: PathBuf,
    /// /proc/fs/nfsd.
    pub nfsd_dir: PathBuf,
}

fn bad(what: &str, value: &str, why: &str) -> OcfError {
    OcfError::configured(format!(
        "parameter {what}: {} {why}",
        ocf_shim::params::quote(std::ffi::OsStr::new(value))
    ))
}

fn abs(name: &str, v: &str) -> OcfResult<PathBuf> {
    if !v.starts_with('/') || v.bytes().any(|b| b.is_ascii_control()) || v.split('/').any(|c| c == "..") {
        return Err(bad(name, v, "is not a clean absolute path"));
    }
    Ok(PathBuf::from(v.trim_end_matches('/')))
}

impl Config {
    pub fn from_params(params: &Params, ctx: &Context) -> OcfResult<Config> {
        let infodir = match params.str("nfs_shared_infodir")? {
            Some(v) if !v.is_empty() => Some(abs("nfs_shared_infodir", v)?),
            _ => None,
        };
        let nfs_ip = match params.str("nfs_ip")? {
            Some(v) if !v.is_empty() => {
                if v.parse::<std::net::IpAddr>().is_err() {
                    return Err(bad("nfs_ip", v, "is not an IP address"));
                }
                Some(v.to_string())
            }
            _ => None,
        };
        let scope = match params.str("nfs_server_scope")? {
            Some(v) if !v.is_empty() => {
                if v.len() > 64 || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b)) {
                    return Err(bad(
                        "nfs_server_scope",
                        v,
                        "must be a host name (letters, digits, - . _; at most 64)",
                    ));
                }
                Some(v.to_string())
            }
            _ => None,
        };
        let env_path = |n: &str, d: &str| {
            std::env::var_os(n)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(d))
        };
        let init_script = params.str("nfs_init_script")?.filter(|v| !v.is_empty()).map(str::to_string);
        let notify_cmd = match params.str("nfs_notify_cmd")? {
            Some(v) if !v.is_empty() => match v.rsplit('/').next() {
                Some("sm-notify") => Some(v.to_string()),
                // nfsserver accepts it and runs sm-notify all the same.
                Some("rpc.statd") => None,
                // nfsserver's order: not installed (5) before not the right program (6).
                _ if ocf_shim::process::find_binary(v).is_none() => {
                    return Err(OcfError::installed(format!(
                        "nfs_notify_cmd {v} is not installed on this node"
                    )));
                }
                _ => return Err(bad("nfs_notify_cmd", v, "is neither sm-notify nor rpc.statd")),
            },
            _ => None,
        };
        Ok(Config {
            init_script,
            notify_cmd,
            infodir,
            nfs_ip,
            scope,
            v4_only: params.bool("nfsv4_only")?,
            no_notify: params.bool("nfs_no_notify")?,
            notify_foreground: params.bool("nfs_notify_foreground")?,
            notify_retry_minutes: params.int_in::<u32>("nfs_smnotify_retry_time", 0, 100_000)?.unwrap_or(15),
            rpcpipefs_dir: abs("rpcpipefs_dir", params.str_or_empty("rpcpipefs_dir")?)?,
            threads: params.int_in::<u32>("nfsd_threads", 1, 4096)?.unwrap_or(8),
            state_file: StateDir::for_agent(INFO.name).instance_file(ctx, ".state"),
            libdir: env_path("RHA_NFS_LIBDIR", "/var/lib/nfs"),
            nfsd_dir: env_path("RHA_NFSD_DIR", "/proc/fs/nfsd"),
        })
    }
}
