//! Host tier: rha-migrate as an administrator runs it, on the scenarios' inputs, and its crmsh
//! output checked by crmsh and Pacemaker (`crm configure verify`, `crm_verify`) with our agents
//! installed (in a private mount namespace).
//!
//! Needs root, crmsh, pacemaker-cli-utils, unshare.

mod common;

use common::*;
use rha_harness::cmd::{require_root, require_tools};
use rha_integration::{Bin, agent_binary};

fn agents() -> Vec<(&'static str, std::path::PathBuf)> {
    [Bin::IpAddr2, Bin::Apache, Bin::IpvsService]
        .into_iter()
        .map(|b| (b.file_name(), agent_binary(b)))
        .collect()
}

fn verify(crm: &str) {
    verify_in(crm, false)
}

fn verify_in(conf: &str, pcs: bool) {
    require_root().unwrap();
    require_tools(&[("crm", "crmsh"), ("crm_verify", "pacemaker-cli-utils"), ("unshare", "util-linux")])
        .unwrap();
    let a = agents();
    let a: Vec<(&str, &std::path::Path)> = a.iter().map(|(n, p)| (*n, p.as_path())).collect();
    let r = if pcs { verify_pcs(conf, &a) } else { verify_crm(conf, &a) };
    if let Err(e) = r {
        panic!("crmsh/pcs/Pacemaker refuse the output:\n{e}\n--- output:\n{conf}");
    }
}

#[test]
fn every_scenario_haresources_line_converts_and_verifies() {
    for line in SCENARIO_LINES {
        // vsftpd is not installed here: lsb/systemd is chosen by the node; systemd meta-data
        // needs systemd running, so verify the init-script form as lsb with a script this host has.
        let r = migrate(&["haresources", "-", "--init", "systemd"], &format!("{line}\n"));
        assert_eq!(r.code, 0, "{line}: {}", r.stderr);
        assert!(r.stdout.contains("ocf:rha:IPaddr2"), "{line}:\n{}", r.stdout);
        let wants = if line.contains("vsftpd") { "systemd:vsftpd" } else { "ocf:rha:apache" };
        assert!(r.stdout.contains(wants), "{line}:\n{}", r.stdout);
        let pcs =
            migrate(&["haresources", "-", "--format", "pcs", "--init", "systemd"], &format!("{line}\n"));
        assert_eq!(pcs.code, 0);
        assert!(pcs.stdout.contains("pcs resource create"), "{}", pcs.stdout);
    }
    // The nodes' names are not pc01/pc02 in the variants: verify those with S1's node names.
    for line in &SCENARIO_LINES[..3] {
        let l = line.replacen(line.split_whitespace().next().unwrap(), "pc01", 1);
        let r = migrate(&["haresources", "-"], &format!("{l}\n"));
        assert_eq!(r.code, 0, "{l}: {}", r.stderr);
        verify(&r.stdout);
        let p = migrate(&["haresources", "-", "--format", "pcs"], &format!("{l}\n"));
        verify_in(&p.stdout, true);
    }
}

#[test]
fn s1_with_ha_cf_is_the_crm_example_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let cf = dir.path().join("ha.cf");
    std::fs::write(&cf, S1_HA_CF).unwrap();
    let r = migrate(&["haresources", "-", "--ha-cf", cf.to_str().unwrap()], S1_HARESOURCES);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = &r.stdout;
    for want in [
        "primitive vip-198.51.100.182 ocf:rha:IPaddr2",
        "params ip=198.51.100.182 cidr_netmask=24 nic=eth0",
        "primitive apache2 ocf:rha:apache",
        "group rg-pc01 vip-198.51.100.182 apache2",
        "location rg-pc01-prefers-pc01 rg-pc01 100: pc01",
        "token: 10000",
    ] {
        assert!(out.contains(want), "missing {want:?}:\n{out}");
    }
    // Deterministic: the same input gives the same bytes.
    let again = migrate(&["haresources", "-", "--ha-cf", cf.to_str().unwrap()], S1_HARESOURCES);
    assert_eq!(again.stdout, r.stdout);
    verify(out);
}

#[test]
fn s2_broken_line_names_both_faults_and_prints_nothing() {
    let r = migrate(&["haresources", "-"], "pi IPadrrs::192.168.0.20/24/eth0/vsftpd\n");
    assert_eq!(r.code, 1);
    assert!(r.stdout.is_empty(), "half-written output: {}", r.stdout);
    assert!(
        r.stderr.contains("<stdin>:1: unknown resource agent \"IPadrrs\" (did you mean IPaddr?)"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("<stdin>:1: IPaddr: \"vsftpd\" is glued into the address field"),
        "{}",
        r.stderr
    );
    // A bad line among good ones: still nothing printed.
    let r = migrate(
        &["haresources", "-"],
        "pc01 IPaddr::198.51.100.182/24/eth0 apache2\npi IPaddr::1.2.3.4/40\n",
    );
    assert_eq!(r.code, 1);
    assert!(r.stdout.is_empty());
    assert!(r.stderr.contains("<stdin>:2: IPaddr: netmask \"40\""), "{}", r.stderr);
    // A node not in ha.cf.
    let dir = tempfile::tempdir().unwrap();
    let cf = dir.path().join("ha.cf");
    std::fs::write(&cf, S1_HA_CF).unwrap();
    let r = migrate(&["haresources", "-", "--ha-cf", cf.to_str().unwrap()], "pc03 apache2\n");
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("node pc03 is not a node of ha.cf"), "{}", r.stderr);
}

/// S3's three forms on the test networks (numeric; the names are resolved in the unit tests).
const S3_RULES: &str = "\
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
";

#[test]
fn s3_ipvsadm_rules_convert_and_verify() {
    let r = migrate(&["ipvsadm", "-"], S3_RULES);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = &r.stdout;
    assert_eq!(out.matches(" ocf:rha:ipvs-service \\\n").count(), 3, "{out}");
    assert!(
        out.contains("reals=\"198.51.100.252:80 masq 3; 203.0.113.10:80 masq 3; 203.0.113.17:80 masq 1\""),
        "{out}"
    );
    assert!(out.contains("persistent=300"), "{out}");
    verify(out);
    verify_in(&migrate(&["ipvsadm", "-", "--format", "pcs"], S3_RULES).stdout, true);
    let l = migrate(&["ipvsadm", "-", "--ldirectord"], S3_RULES);
    assert_eq!(l.code, 0, "{}", l.stderr);
    assert!(l.stdout.contains("virtual=198.51.100.252:80\n"), "{}", l.stdout);
    assert!(l.stdout.contains("\treal=203.0.113.252:80 ipip 3\n"), "{}", l.stdout);
    let bad = migrate(
        &["ipvsadm", "-"],
        "-A -t 198.51.100.1:80 -s wrr\n-a -t 198.51.100.1:80 -r 203.0.113.2:80 -q\n",
    );
    assert_eq!(bad.code, 1);
    assert!(bad.stdout.is_empty());
    assert!(bad.stderr.contains("<stdin>:2:"), "{}", bad.stderr);
}

fn s1_heartbeat_cib() -> String {
    // S1 as it runs today on the upstream agents, saved with cibadmin -Q (abridged to what matters).
    r#"<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.9" epoch="5" num_updates="0" admin_epoch="0">
  <configuration>
    <crm_config/>
    <nodes/>
    <resources>
      <group id="site">
        <primitive id="vip" class="ocf" provider="heartbeat" type="IPaddr2">
          <instance_attributes id="vip-ia">
            <nvpair id="vip-ip" name="ip" value="198.51.100.182"/>
            <nvpair id="vip-cidr" name="cidr_netmask" value="24"/>
          </instance_attributes>
          <operations><op id="vip-mon" name="monitor" interval="10s"/></operations>
        </primitive>
        <primitive id="web" class="ocf" provider="heartbeat" type="apache">
          <instance_attributes id="web-ia">
            <nvpair id="web-cf" name="configfile" value="/etc/apache2/apache2.conf"/>
          </instance_attributes>
        </primitive>
        <primitive id="mail" class="ocf" provider="heartbeat" type="MailTo"/>
      </group>
      <primitive id="odd" class="ocf" provider="heartbeat" type="IPaddr2">
        <instance_attributes id="odd-ia">
          <nvpair id="odd-ip" name="ip" value="198.51.100.183"/>
          <nvpair id="odd-x" name="no_such_param" value="1"/>
        </instance_attributes>
      </primitive>
    </resources>
    <constraints/>
  </configuration>
  <status/>
</cib>"#
        .to_string()
}

#[test]
fn cib_switch_names_blockers_and_restarts() {
    let r = migrate(&["cib", "-"], &s1_heartbeat_cib());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = &r.stdout;
    assert!(out.contains("# vip: ocf:heartbeat:IPaddr2 -> ocf:rha:IPaddr2"), "{out}");
    assert!(out.contains("# web: ocf:heartbeat:apache -> ocf:rha:apache"), "{out}");
    assert!(
        out.contains("# odd: stays ocf:heartbeat:IPaddr2: ocf:rha:IPaddr2 has no parameter no_such_param"),
        "{out}"
    );
    assert!(out.contains("will restart (stop, then start) once: vip web mail"), "{out}");
    assert!(!out.contains("id=\"odd\" class"), "{out}");
    assert!(out.contains("crm_shadow --commit"), "{out}");
    let pcs = migrate(&["cib", "-", "--format", "pcs"], &s1_heartbeat_cib());
    assert!(pcs.stdout.contains("pcs cluster cib-push"), "{}", pcs.stdout);
    let bad = migrate(&["cib", "-"], "<cib><configuration><resources><primitive class=\"ocf\"/>");
    assert_eq!(bad.code, 1);
    assert!(bad.stdout.is_empty());
    assert!(bad.stderr.contains("primitive without an id"), "{}", bad.stderr);
}

#[test]
fn cib_script_applies_to_a_saved_cib() {
    // The modify step of the script, run against a file: the switched CIB passes crm_verify and
    // keeps ids, parameters and operations.
    require_tools(&[("cibadmin", "pacemaker-cli-utils"), ("crm_verify", "pacemaker-cli-utils")]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("cib.xml");
    let cib = s1_heartbeat_cib().replace("<crm_config/>", r#"<crm_config><cluster_property_set id="o"><nvpair id="o-s" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>"#);
    std::fs::write(&f, &cib).unwrap();
    let r = migrate(&["cib", f.to_str().unwrap()], "");
    let modifies: Vec<&str> = r.stdout.lines().filter(|l| l.starts_with("cibadmin --modify")).collect();
    assert_eq!(modifies.len(), 2, "{}", r.stdout);
    for m in modifies {
        let o = std::process::Command::new("sh").arg("-c").arg(m).env("CIB_file", &f).output().unwrap();
        assert!(o.status.success(), "{m}: {}", String::from_utf8_lossy(&o.stderr));
    }
    let after = std::fs::read_to_string(&f).unwrap();
    assert!(after.contains(r#"<primitive id="vip" class="ocf" provider="rha" type="IPaddr2">"#), "{after}");
    assert!(after.contains(r#"name="cidr_netmask" value="24""#), "{after}");
    assert!(after.contains(r#"provider="heartbeat" type="MailTo""#), "{after}");
}
