//! Shared by the host and lab tests: running rha-migrate, and checking its crmsh output the way
//! Pacemaker will read it.

#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the built rha-migrate with `args`, `stdin` on its standard input.
pub fn migrate(args: &[&str], stdin: &str) -> Run {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rha-migrate"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let o = c.wait_with_output().unwrap();
    Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8(o.stdout).unwrap(),
        stderr: String::from_utf8(o.stderr).unwrap(),
    }
}

/// The S1 variants and S2's intended line, as scenarios.md gives them.
pub const SCENARIO_LINES: &[&str] = &[
    "pc01 IPaddr::192.168.15.182/24/eth0 apache2",
    "linuxha1 192.168.85.3/27/192.168.85.16 httpd",
    "node IPaddr::192.168.15.182/24/eth0 httpd::/etc/httpd/conf/httpd.conf",
    "pi IPaddr::192.168.0.20/24/eth0 vsftpd",
];

/// S1 on the test network (scenarios.md maps 192.168.x onto 198.51.100.0/24).
pub const S1_HARESOURCES: &str = "pc01 IPaddr::198.51.100.182/24/eth0 apache2\n";
pub const S1_HA_CF: &str =
    "keepalive 2\ndeadtime 10\ninitdead 120\nbcast eth0\nauto_failback on\nnode pc01\nnode pc02\n";

/// Loads `crm` (a crmsh file) into an empty CIB with nodes pc01/pc02, in a private mount
/// namespace where /usr/lib/ocf/resource.d also has our agents as provider rha, and returns
/// the output of `crm configure verify` and `crm_verify` (or why they failed). The base CIB is
/// offline (no quorum), so it ignores quorum and has fencing off, as a file meant to be merged
/// into a running cluster would find it.
pub fn verify_crm(crm: &str, agents: &[(&str, &Path)]) -> Result<String, String> {
    verify_as(crm, false, agents)
}

/// [`verify_crm`] for a pcs script: run with `pcs -f` on the same empty CIB, then `crm_verify`.
pub fn verify_pcs(pcs: &str, agents: &[(&str, &Path)]) -> Result<String, String> {
    verify_as(pcs, true, agents)
}

fn verify_as(conf: &str, pcs: bool, agents: &[(&str, &Path)]) -> Result<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("conf.crm"), conf).unwrap();
    let load = if pcs {
        "pcs() { command pcs -f \"$CIB_file\" \"$@\"; }\n. ./conf.crm 2>load.err || { cat load.err >&2; exit 1; }"
    } else {
        "crm configure load update conf.crm 2>load.err || { cat load.err >&2; exit 1; }\ncrm configure verify 2>&1"
    };
    let rha = d.join("tree/rha");
    std::fs::create_dir_all(&rha).unwrap();
    for (name, bin) in agents {
        std::fs::copy(bin, rha.join(name)).unwrap();
    }
    let script = format!(
        r#"set -e
cd {d}
mount --make-rprivate /
for p in /usr/lib/ocf/resource.d/*; do
    n=$(basename "$p"); [ "$n" = rha ] && continue
    mkdir -p tree/"$n"; mount --bind "$(readlink -f "$p")" tree/"$n"
done
mount --bind tree /usr/lib/ocf/resource.d
cibadmin --empty | sed -e 's#<nodes/>#<nodes><node id="1" uname="pc01"/><node id="2" uname="pc02"/></nodes>#' \
    -e 's#<crm_config/>#<crm_config><cluster_property_set id="base"><nvpair id="base-s" name="stonith-enabled" value="false"/><nvpair id="base-q" name="no-quorum-policy" value="ignore"/></cluster_property_set></crm_config>#' > cib.xml
export CIB_file=$PWD/cib.xml
{load}
if grep -q ERROR load.err; then cat load.err >&2; exit 1; fi
crm_verify --xml-file cib.xml 2>&1
echo verified
"#,
        d = d.display(),
    );
    let o = Command::new("unshare").args(["--mount", "sh", "-c", &script]).output().unwrap();
    let out = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    if o.status.success() && out.contains("verified") && !out.contains("ERROR: ") && !out.contains("error:") {
        Ok(out)
    } else {
        Err(out)
    }
}
