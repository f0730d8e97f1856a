//! Meta-data and the validated configuration. Parameters are ocf:heartbeat:exportfs's, with
//! its fsid numbering (fsid, fsid+1, ... per directory; one directory keeps its fsid).

use std::path::PathBuf;

use ocf_shim::state::StateDir;
use ocf_shim::{ActionSpec, AgentInfo, Context, OcfError, OcfResult, Parameter, Params};

use crate::table::Paths;

static PARAMETERS: &[Parameter] = &[
    Parameter::string("clientspec")
        .short("Client specification")
        .long(
            "The clients the directories are exported to, as exportfs writes them: a host name, an address, \
             a CIDR subnet, @netgroup, * or [IPv6]. One client spec per resource; to export a directory to \
             several clients, configure one resource per client spec (see unlock_on_stop).",
        )
        .required(),
    Parameter::string("options")
        .short("Export options")
        .long(
            "Options passed to exportfs -o (e.g. rw,sync,no_subtree_check,no_root_squash). Start and \
             monitor check that the export carries them: the flags of exports(5) (rw/ro, sync/async, \
             [no_]wdelay, [in]secure, [no_]root_squash, [no_]all_squash, [no]hide, [no]crossmnt, \
             [no_]subtree_check, [in]secure_locks) and fsid. Other options (sec=, acl, mp, anonuid, ...) \
             are passed on but not compared. Empty: exportfs's defaults, still verified as exported.",
        ),
    Parameter::string("directory")
        .short("Directories to export")
        .long("One or more absolute directories, separated by spaces. A trailing / is dropped and an existing directory is canonicalised.")
        .required(),
    Parameter::string("fsid")
        .short("Filesystem id")
        .long(
            "An integer, a UUID, or root (= 0, the NFSv4 pseudo-root). It overrides fsid= in options. With \
             several directories the integer is incremented per directory (fsid, fsid+1, ...); a UUID or \
             root is then refused.",
        ),
    Parameter::boolean("unlock_on_stop")
        .short("Release NFS locks on stop")
        .long(
            "Write each directory to /proc/fs/nfsd/unlock_filesystem on stop, so that the filesystem can be \
             unmounted although clients hold locks. Unlocking is per filesystem, so it would drop the locks \
             of other resources exporting the same directory to other clients: this agent only unlocks when \
             no other client is still exported that directory (per etab), and says so in the log when it \
             skips. It is therefore safe to set on every resource of one directory.",
        )
        .default("true"),
    Parameter::boolean("wait_for_leasetime_on_stop")
        .short("Wait for the NFSv4 lease time on stop")
        .long(
            "Wait /proc/fs/nfsd/nfsv4leasetime + 2 s after unexporting, so that NFSv4 clients notice. The \
             wait is bounded by the stop timeout; if the timeout is too short the agent logs a warning and \
             waits what it can.",
        )
        .default("false"),
    Parameter::string("rmtab_backup")
        .short("rmtab backup file")
        .long(
            "File, relative to each directory, that keeps that directory's /var/lib/nfs/rmtab lines for \
             NFSv3 failover; restored on start. none disables it. Written only when its content changes.",
        )
        .default(".rmtab"),
];

static ACTIONS: &[ActionSpec] = &[
    ActionSpec::new("start", "40s"),
    ActionSpec::new("stop", "120s"),
    ActionSpec::new("monitor", "20s").interval("10s").depth(0),
    ActionSpec::new("validate-all", "30s"),
    ActionSpec::new("meta-data", "5s"),
];

pub static INFO: AgentInfo = AgentInfo {
    name: "nfs-export",
    version: env!("CARGO_PKG_VERSION"),
    shortdesc: "NFS exports of directories to one client spec",
    longdesc: "Exports one or more directories to one client spec with exportfs, and verifies that the \
               export is there with the requested options: in exportfs's table (etab, believed only together \
               with this boot's state file, so a stale etab after a reboot is not 'running') and, where the \
               kernel has the export cached, in /proc/fs/nfsd/exports. Monitor reads those tables directly \
               (no exportfs or grep). Needs a running nfsd (ocf:rha:nfs-server or the distribution's service). \
               Parameters are compatible with ocf:heartbeat:exportfs.",
    parameters: PARAMETERS,
    actions: ACTIONS,
};

/// One directory's export.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Export {
    pub dir: String,
    /// The `-o` options, fsid included; empty for exportfs's defaults.
    pub options: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub clientspec: String,
    pub exports: Vec<Export>,
    pub unlock_on_stop: bool,
    pub wait_for_leasetime_on_stop: bool,
    pub rmtab_backup: Option<String>,
    /// This boot's record that start ran (under /run, which a reboot empties).
    pub state_file: PathBuf,
    pub paths: Paths,
}

fn bad(what: &str, value: &str, why: &str) -> OcfError {
    OcfError::configured(format!(
        "parameter {what}: {} {why}",
        ocf_shim::params::quote(std::ffi::OsStr::new(value))
    ))
}

/// An fsid as the parameter gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fsid {
    Number(u64),
    Root,
    Uuid(String),
}

pub fn parse_fsid(v: &str) -> Result<Fsid, &'static str> {
    if v == "root" {
        return Ok(Fsid::Root);
    }
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return v
            .parse::<u32>()
            .map(|n| Fsid::Number(n as u64))
            .map_err(|_| "is out of range (fsid is 32 bits)");
    }
    let hex = v.bytes().filter(|b| b.is_ascii_hexdigit()).count();
    if v.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-' || b == b':') && hex == 32 {
        return Ok(Fsid::Uuid(v.to_string()));
    }
    Err("is not an integer, a UUID (32 hex digits) or root")
}

fn canonical(dir: &str) -> String {
    let trimmed = if dir.len() > 1 { dir.trim_end_matches('/') } else { dir };
    let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
    match std::fs::canonicalize(trimmed) {
        Ok(p) => p.to_string_lossy().into_owned(),
        Err(_) => trimmed.to_string(),
    }
}

/// Build the per-directory exports from the three parameters (pure, for tests).
pub fn build_exports(directory: &str, options: &str, fsid: Option<&str>) -> OcfResult<Vec<Export>> {
    if options.chars().any(char::is_whitespace) {
        return Err(bad(
            "options",
            options,
            "contains whitespace (exportfs -o takes one comma-separated list)",
        ));
    }
    if options.contains(['(', ')']) {
        return Err(bad("options", options, "contains parentheses"));
    }
    let dirs: Vec<&str> = directory.split_whitespace().collect();
    if dirs.is_empty() {
        return Err(bad("directory", directory, "names no directory"));
    }
    for d in &dirs {
        if !d.starts_with('/') {
            return Err(bad("directory", d, "is not an absolute path"));
        }
        if d.bytes().any(|b| b.is_ascii_control()) {
            return Err(bad("directory", d, "contains control characters"));
        }
    }
    let mut base: Vec<String> = options.split(',').filter(|o| !o.is_empty()).map(str::to_string).collect();
    // fsid from options, unless the parameter overrides it.
    let from_options = base.iter().rev().find_map(|o| o.strip_prefix("fsid=")).map(str::to_string);
    let fsid_text = fsid.filter(|f| !f.is_empty()).map(str::to_string).or(from_options);
    base.retain(|o| !o.starts_with("fsid="));
    let fsid = match &fsid_text {
        Some(t) => Some(parse_fsid(t).map_err(|why| bad("fsid", t, why))?),
        None => None,
    };
    if dirs.len() > 1 && matches!(fsid, Some(Fsid::Root) | Some(Fsid::Uuid(_))) {
        return Err(bad(
            "fsid",
            fsid_text.as_deref().unwrap_or(""),
            "cannot be numbered per directory (several directories need an integer fsid)",
        ));
    }
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, d) in dirs.iter().enumerate() {
        let dir = canonical(d);
        if !seen.insert(dir.clone()) {
            return Err(bad("directory", d, "is listed twice"));
        }
        let mut options = base.clone();
        match &fsid {
            Some(Fsid::Number(n)) => {
                let n = n + i as u64;
                if n > u32::MAX as u64 {
                    return Err(bad(
                        "fsid",
                        fsid_text.as_deref().unwrap_or(""),
                        "overflows when numbered per directory",
                    ));
                }
                options.push(format!("fsid={n}"));
            }
            Some(Fsid::Root) => options.push("fsid=0".to_string()),
            Some(Fsid::Uuid(u)) => options.push(format!("fsid={u}")),
            None => {}
        }
        out.push(Export { dir, options });
    }
    Ok(out)
}

pub fn check_clientspec(c: &str) -> OcfResult<()> {
    if c.is_empty() {
        return Err(bad("clientspec", c, "is empty"));
    }
    if c.chars().any(|ch| ch.is_whitespace() || ch.is_control() || ch == '(' || ch == ')' || ch == ',') {
        return Err(bad(
            "clientspec",
            c,
            "must be one client spec (no whitespace, commas or parentheses; one resource per client spec)",
        ));
    }
    if c.contains(':') && !(c.starts_with('[') && c.contains(']')) {
        return Err(bad("clientspec", c, "is an IPv6 address: write it in brackets, [2001:db8::/64]"));
    }
    Ok(())
}

impl Config {
    pub fn from_params(params: &Params, ctx: &Context) -> OcfResult<Config> {
        let clientspec = params.required("clientspec")?.to_string();
        check_clientspec(&clientspec)?;
        let exports = build_exports(
            params.required("directory")?,
            params.str_or_empty("options")?,
            params.str("fsid")?,
        )?;
        let rmtab_backup = match params.str_or_empty("rmtab_backup")? {
            "" | "none" => None,
            r if r.starts_with('/') || r.split('/').any(|c| c == "..") => {
                return Err(bad("rmtab_backup", r, "must be a relative path inside the directory"));
            }
            r => Some(r.to_string()),
        };
        Ok(Config {
            clientspec,
            exports,
            unlock_on_stop: params.bool("unlock_on_stop")?,
            wait_for_leasetime_on_stop: params.bool("wait_for_leasetime_on_stop")?,
            rmtab_backup,
            state_file: StateDir::for_agent(INFO.name).instance_file(ctx, ".state"),
            paths: Paths::system(),
        })
    }

    /// `client:dir` as exportfs takes it.
    pub fn target(&self, e: &Export) -> String {
        format!("{}:{}", self.clientspec, e.dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fsid_is_numbered_per_directory() {
        let e = build_exports("/a /b/ /c", "rw,fsid=9", Some("5")).unwrap();
        let o: Vec<_> = e.iter().map(|e| e.options.join(",")).collect();
        assert_eq!(o, ["rw,fsid=5", "rw,fsid=6", "rw,fsid=7"]);
        assert_eq!(e[1].dir, "/b");
        let one = build_exports("/a", "rw,fsid=9", None).unwrap();
        assert_eq!(one[0].options, ["rw", "fsid=9"]);
        assert_eq!(build_exports("/a", "", Some("root")).unwrap()[0].options, ["fsid=0"]);
        assert!(build_exports("/a", "", None).unwrap()[0].options.is_empty());
    }

    #[test]
    fn refuses_hostile_values() {
        assert!(build_exports("/a /b", "", Some("root")).is_err());
        assert!(build_exports("/a /b", "", Some("0a0b0c0d-0102-0304-0506-0708090a0b0c")).is_err());
        assert!(build_exports("/a", "", Some("0a0b0c0d-0102-0304-0506-0708090a0b0c")).is_ok());
        assert!(build_exports("/a", "", Some("1,rw")).is_err());
        assert!(build_exports("/a", "", Some("4294967296")).is_err());
        assert!(build_exports("/a /b", "", Some("4294967295")).is_err());
        assert!(build_exports("a", "", None).is_err());
        assert!(build_exports("/a /a", "", None).is_err());
        assert!(build_exports("/a", "rw sync", None).is_err());
        assert!(build_exports("/a", "rw)(x", None).is_err());
        assert!(build_exports("   ", "", None).is_err());
        assert!(check_clientspec("10.0.10.0/24").is_ok());
        assert!(check_clientspec("[2001:db8::/64]").is_ok());
        assert!(check_clientspec("2001:db8::1").is_err());
        assert!(check_clientspec("a b").is_err());
        assert!(check_clientspec("a(rw)").is_err());
    }
}
