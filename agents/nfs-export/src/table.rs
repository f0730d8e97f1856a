//! The export tables, read as files (no `exportfs -v | grep` in monitor):
//!
//! - `/var/lib/nfs/etab`: exportfs's user-space table, what mountd answers from. It lives on
//!   disk, so it survives a reboot and is stale then (upstream PR #821): it is only believed
//!   together with this boot's state file (see `monitor`).
//! - `/proc/fs/nfsd/exports` and `/proc/net/rpc/nfsd.export/content`: the kernel's export
//!   cache. The kernel fills it on demand (a client's access makes it ask mountd), so an
//!   export that no client has touched yet is not in it; an entry that is there is what nfsd
//!   really serves, so its flags are compared whenever it is present.
//!
//! All three use one line format: `<path>\t<client>(<flags>)`, with whitespace and `\` in
//! the path and client written as `\ooo` octal escapes. Lines starting with `#` are
//! comments; the cache's invalid or expired entries are printed as comments too.

/// Where the tables are; tests and the VM tier point them elsewhere through `RHA_NFS_*`.
#[derive(Clone, Debug)]
pub struct Paths {
    pub etab: std::path::PathBuf,
    pub rmtab: std::path::PathBuf,
    pub kernel_exports: std::path::PathBuf,
    pub export_cache: std::path::PathBuf,
    pub nfsd_dir: std::path::PathBuf,
}

impl Paths {
    pub fn system() -> Paths {
        let env = |name: &str, default: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(std::path::PathBuf::from)
                .unwrap_or_else(|| std::path::PathBuf::from(default))
        };
        let nfsd_dir = env("RHA_NFSD_DIR", "/proc/fs/nfsd");
        Paths {
            etab: env("RHA_NFS_ETAB", "/var/lib/nfs/etab"),
            rmtab: env("RHA_NFS_RMTAB", "/var/lib/nfs/rmtab"),
            kernel_exports: nfsd_dir.join("exports"),
            export_cache: env("RHA_NFS_EXPORT_CACHE", "/proc/net/rpc/nfsd.export/content"),
            nfsd_dir,
        }
    }
}

/// One `<path> <client>(<flags>)` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub path: String,
    pub client: String,
    pub flags: Vec<String>,
}

/// Undo the tables' `\ooo` octal escapes; any other backslash is kept as it is.
pub fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            let oct = &b[i + 1..i + 4];
            if oct.iter().all(|c| (b'0'..=b'7').contains(c)) {
                let v = (oct[0] - b'0') as u32 * 64 + (oct[1] - b'0') as u32 * 8 + (oct[2] - b'0') as u32;
                if v <= 255 {
                    out.push(v as u8);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parse a whole table. Malformed lines are skipped (a table we cannot read line by line
/// must not make us believe an export is there).
pub fn parse(text: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim_start().starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let Some((path, rest)) = line.split_once(['\t', ' ']) else { continue };
        if path.is_empty() {
            continue;
        }
        let path = unescape(path);
        // The rest: one or more `client(flags)` separated by whitespace; a client without
        // parentheses has no flags listed.
        for item in rest.split_whitespace() {
            let (client, flags) = match item.split_once('(') {
                Some((c, f)) => match f.strip_suffix(')') {
                    Some(f) => (c, f),
                    None => continue,
                },
                None => (item, ""),
            };
            if client.is_empty() {
                continue;
            }
            out.push(Entry {
                path: path.clone(),
                client: unescape(client),
                flags: flags.split(',').filter(|f| !f.is_empty()).map(str::to_string).collect(),
            });
        }
    }
    out
}

/// Read and parse a table; a missing file is an empty table.
pub fn read(path: &std::path::Path) -> std::io::Result<Vec<Entry>> {
    match std::fs::read(path) {
        Ok(b) => Ok(parse(&String::from_utf8_lossy(&b))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// A client spec as the tables write it: IPv6 brackets dropped, `*` also written `<world>`.
pub fn same_client(table: &str, wanted: &str) -> bool {
    let norm = |s: &str| -> String {
        let s = s.trim_start_matches('[').replace(']', "");
        if s == "<world>" { "*".to_string() } else { s.to_ascii_lowercase() }
    };
    norm(table) == norm(wanted)
}

/// Which table a flag list comes from: etab lists every flag both ways; the kernel lists
/// only the set ones of some pairs (`root_squash` appears, `no_root_squash` is its absence).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    Etab,
    Kernel,
}

enum Check {
    Present(&'static str),
    Absent(&'static str),
    /// Not shown in this table (or not a flag we know): not compared.
    Skip,
}

fn kernel_check(opt: &str) -> Check {
    use Check::*;
    match opt {
        "rw" => Present("rw"),
        "ro" => Present("ro"),
        "sync" => Present("sync"),
        "async" => Present("async"),
        "wdelay" => Present("wdelay"),
        "no_wdelay" => Present("no_wdelay"),
        "secure" => Absent("insecure"),
        "insecure" => Present("insecure"),
        "root_squash" => Present("root_squash"),
        "no_root_squash" => Absent("root_squash"),
        "all_squash" => Present("all_squash"),
        "no_all_squash" => Absent("all_squash"),
        "hide" => Absent("nohide"),
        "nohide" => Present("nohide"),
        "crossmnt" => Present("crossmnt"),
        "nocrossmnt" => Absent("crossmnt"),
        "subtree_check" => Absent("no_subtree_check"),
        "no_subtree_check" => Present("no_subtree_check"),
        "insecure_locks" | "no_auth_nlm" => Present("insecure_locks"),
        "secure_locks" | "auth_nlm" => Absent("insecure_locks"),
        _ => Skip,
    }
}

fn etab_check(opt: &str) -> Check {
    use Check::*;
    match opt {
        "no_auth_nlm" => Present("insecure_locks"),
        "auth_nlm" => Present("secure_locks"),
        "rw" | "ro" | "sync" | "async" | "wdelay" | "no_wdelay" | "secure" | "insecure" | "root_squash"
        | "no_root_squash" | "all_squash" | "no_all_squash" | "hide" | "nohide" | "crossmnt"
        | "nocrossmnt" | "subtree_check" | "no_subtree_check" | "insecure_locks" | "secure_locks" => {
            // Present(&'static str) needs a static: map through the kernel list's names.
            match KNOWN.iter().find(|k| **k == opt) {
                Some(k) => Present(k),
                None => Skip,
            }
        }
        _ => Skip,
    }
}

static KNOWN: &[&str] = &[
    "rw",
    "ro",
    "sync",
    "async",
    "wdelay",
    "no_wdelay",
    "secure",
    "insecure",
    "root_squash",
    "no_root_squash",
    "all_squash",
    "no_all_squash",
    "hide",
    "nohide",
    "crossmnt",
    "nocrossmnt",
    "subtree_check",
    "no_subtree_check",
    "insecure_locks",
    "secure_locks",
];

fn hex_only(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_hexdigit()).collect::<String>().to_ascii_lowercase()
}

/// The requested options (`-o` list, fsid included) that `flags` does not satisfy, in the
/// way `table` shows them. Options we do not know how a table shows are not compared
/// (they are listed in the man page).
pub fn unmet(requested: &[String], flags: &[String], table: Table) -> Vec<String> {
    let has = |f: &str| flags.iter().any(|x| x == f);
    let mut missing = Vec::new();
    for opt in requested {
        if let Some(v) = opt.strip_prefix("fsid=") {
            let ok = if v == "root" || v == "0" {
                has("fsid=0") || has("fsid=root")
            } else if v.bytes().all(|b| b.is_ascii_digit()) {
                has(&format!("fsid={}", v.trim_start_matches('0')))
                    || (v.trim_start_matches('0').is_empty() && has("fsid=0"))
            } else {
                // A UUID: the kernel prints it as `uuid=`, etab as `fsid=`, each in its own
                // grouping; compare the hex digits.
                let want = hex_only(v);
                flags.iter().any(|f| {
                    f.strip_prefix("fsid=")
                        .or_else(|| f.strip_prefix("uuid="))
                        .is_some_and(|x| hex_only(x) == want)
                })
            };
            if !ok {
                missing.push(opt.clone());
            }
            continue;
        }
        let check = match table {
            Table::Etab => etab_check(opt),
            Table::Kernel => kernel_check(opt),
        };
        let ok = match check {
            Check::Present(f) => has(f),
            Check::Absent(f) => !has(f),
            Check::Skip => true,
        };
        if !ok {
            missing.push(opt.clone());
        }
    }
    missing
}

#[cfg(test)]
mod tests {
    use super::*;

    const KERNEL: &str = "# Version 1.1\n# Path Client(Flags) # IPs\n\
        /nfs\t10.0.10.0/24(rw,no_root_squash,sync,wdelay,no_subtree_check,fsid=0,uuid=1:2:3:4,sec=1)\n\
        /mnt/raid\t10.0.10.0/24(rw,root_squash,sync,wdelay,no_subtree_check,fsid=1,sec=1)\n\
        /srv/with\\040space\t*(ro,root_squash,sync,wdelay)\n";

    fn v(s: &str) -> Vec<String> {
        s.split(',').map(str::to_string).collect()
    }

    #[test]
    fn parses_kernel_table() {
        let e = parse(KERNEL);
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].path, "/nfs");
        assert_eq!(e[0].client, "10.0.10.0/24");
        assert!(e[0].flags.contains(&"fsid=0".to_string()));
        assert_eq!(e[2].path, "/srv/with space");
        assert_eq!(e[2].client, "*");
    }

    #[test]
    fn parses_etab_and_comments() {
        let etab = "/nfs\t10.0.10.0/24(rw,sync,wdelay,hide,nocrossmnt,secure,no_root_squash,no_all_squash,no_subtree_check,secure_locks,acl,no_pnfs,fsid=0,anonuid=65534,anongid=65534,sec=sys,rw,secure,no_root_squash,no_all_squash)\n# /old\tx(rw)\n\ngarbage\n/a b(rw\n";
        let e = parse(etab);
        assert_eq!(e.len(), 1);
        assert!(
            unmet(&v("fsid=0,rw,sync,no_subtree_check,no_root_squash"), &e[0].flags, Table::Etab).is_empty()
        );
        assert_eq!(unmet(&v("ro,async"), &e[0].flags, Table::Etab), v("ro,async"));
    }

    #[test]
    fn kernel_flags_by_absence() {
        let e = parse(KERNEL);
        assert!(
            unmet(&v("rw,sync,no_subtree_check,no_root_squash,fsid=0"), &e[0].flags, Table::Kernel)
                .is_empty()
        );
        assert_eq!(
            unmet(&v("no_root_squash,fsid=2"), &e[1].flags, Table::Kernel),
            v("no_root_squash,fsid=2")
        );
        assert!(unmet(&v("fsid=root,secure,hide"), &e[0].flags, Table::Kernel).is_empty());
        // Unknown or unshown options are not compared.
        assert!(unmet(&v("sec=sys,mp,acl"), &e[0].flags, Table::Kernel).is_empty());
    }

    #[test]
    fn uuid_fsids_compare_by_hex_digits() {
        let f = v("rw,uuid=0a0b0c0d:01020304:05060708:090a0b0c");
        assert!(unmet(&v("fsid=0A0B0C0D-0102-0304-0506-0708090A0B0C"), &f, Table::Kernel).is_empty());
        assert!(!unmet(&v("fsid=ffffffff-0102-0304-0506-0708090A0B0C"), &f, Table::Kernel).is_empty());
    }

    #[test]
    fn clients() {
        assert!(same_client("<world>", "*"));
        assert!(same_client("2001:db8::/64", "[2001:db8::/64]"));
        assert!(same_client("Host.Example", "host.example"));
        assert!(!same_client("10.0.10.0/24", "10.0.10.0/25"));
    }

    #[test]
    fn unescape_is_total() {
        assert_eq!(unescape("a\\040b\\134c"), "a b\\c");
        assert_eq!(unescape("\\"), "\\");
        assert_eq!(unescape("\\04"), "\\04");
        assert_eq!(unescape("\\999"), "\\999");
        assert_eq!(unescape("\\777"), "\\777");
    }
}
