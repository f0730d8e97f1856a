//! VM tier: S3's ipvsadm rules converted by rha-migrate program the same IPVS table as
//! `ipvsadm -R` of the same text. One namespace gets `ipvsadm -R`, another gets every converted
//! ocf:rha:ipvs-service primitive started by the agent with exactly the printed parameters; their
//! `ipvsadm -S -n` listings must be equal.

use std::process::{Command, Stdio};

use rha_harness::cmd::{require_root, require_tools, run_ok};
use rha_harness::netns::Netns;
use rha_integration::{Bin, agent_binary};
use rha_ipvs::save_format::SystemResolver;

/// S3 (NAT with a director that is also a real server, TUN, DR with persistence) on the test
/// networks, with ipvsadm's symbolic port names.
const S3: &str = "\
-A -t 198.51.100.252:http -s wrr
-a -t 198.51.100.252:http -r 198.51.100.252:http -m -w 3
-a -t 198.51.100.252:http -r 203.0.113.10:http -m -w 3
-a -t 198.51.100.252:http -r 203.0.113.17:http -m -w 1
-A -t 198.51.100.250:80 -s wrr
-a -t 198.51.100.250:80 -r 203.0.113.252:80 -i -w 3
-a -t 198.51.100.250:80 -r 203.0.113.251:80 -i -w 1
-A -t 198.51.100.251:80 -s wrr -p 300
-a -t 198.51.100.251:80 -r 203.0.113.252:80 -g -w 3
-a -t 198.51.100.251:80 -r 203.0.113.251:80 -g -w 1
-A -f 7 -s rr -p 60
-a -f 7 -r 203.0.113.30:0 -g -w 1
";

fn save(ns: &Netns) -> String {
    ns.run_ok(&["ipvsadm", "-S", "-n"]).unwrap().stdout
}

#[test]
fn converted_s3_programs_the_same_table_as_ipvsadm_restore() {
    require_root().unwrap();
    require_tools(&[("ip", "iproute2"), ("ipvsadm", "ipvsadm"), ("modprobe", "kmod")]).unwrap();
    assert_eq!(
        std::env::var(rha_harness::vm::IN_VM_ENV).as_deref(),
        Ok("1"),
        "VM-tier test outside the VM: run it with `rha-vm run-tests`"
    );
    for m in ["ip_vs", "ip_vs_rr", "ip_vs_wrr"] {
        run_ok(&["modprobe", m]).unwrap_or_else(|e| panic!("modprobe {m}: {e:#}"));
    }
    let plan = rha_migrate::ipvsadm::convert("s3", S3, &SystemResolver::default()).unwrap();
    assert_eq!(plan.primitives.len(), 4);

    let oracle = Netns::new("migr").unwrap();
    let mut c = Command::new("ip")
        .args(["netns", "exec", oracle.name(), "ipvsadm", "-R"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    c.stdin.take().unwrap().write_all(S3.as_bytes()).unwrap();
    assert!(c.wait().unwrap().success(), "ipvsadm -R refused S3");

    let ours = Netns::new("miga").unwrap();
    let agent = agent_binary(Bin::IpvsService);
    let run = tempfile::tempdir().unwrap();
    for p in &plan.primitives {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ours.name()]).arg(&agent).arg("start").env_clear();
        cmd.env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("OCF_ROOT", "/usr/lib/ocf")
            .env("OCF_RESOURCE_INSTANCE", &p.id)
            .env("RHA_RUN_DIR", run.path())
            .env("OCF_RESKEY_CRM_meta_timeout", "20000");
        for (k, v) in &p.params {
            cmd.env(format!("OCF_RESKEY_{k}"), v);
        }
        let o = cmd.output().unwrap();
        assert!(
            o.status.success(),
            "{} start: {}\n{}",
            p.id,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let (want, got) = (save(&oracle), save(&ours));
    eprintln!("ipvsadm -S -n after ipvsadm -R:\n{want}");
    assert_eq!(got, want, "the converted primitives program another table");
}
