//! What a cluster-IP table's rules really do, read back from the kernel: which buckets their
//! comments name, and what each bucket rule's expressions say.
//!
//! Comments name the buckets, but only the expressions say how packets are split: when
//! clone-max changes, Pacemaker does not restart running instances, so buckets written
//! before hash `mod 2` while new ones hash `mod 3` — some clients are then accepted by two
//! nodes and some by none, with every comment in place. Start rewrites a table whose rules
//! differ from what this instance would write; monitor reports the difference.
//!
//! The rule [`super::rules`] writes is
//! `iif NIC <l3> daddr IP jhash <l3> saddr mod TOTAL seed SEED offset 1 == BUCKET
//!  meta pkttype set host counter accept`; the kernel holds it as
//! `meta iif → cmp`, `payload daddr → cmp`, `payload saddr → hash → cmp`, `immediate →
//! meta set pkttype`, `counter`, `immediate verdict`.

use std::net::IpAddr;

use rha_net::nftables::{Expr, Rule, attr};

use super::rules::CHAIN;

/// What the rule of one bucket should say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expected {
    pub ip: IpAddr,
    pub total: u32,
    pub seed: u32,
    pub bucket: u32,
}

/// The parts of a bucket rule that decide which packets it accepts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Seen {
    daddr: Option<IpAddr>,
    /// The hash's input: (payload offset, length) in the network header.
    hash_input: Option<(u32, u32)>,
    jenkins: bool,
    modulus: Option<u32>,
    seed: Option<u32>,
    offset: Option<u32>,
    bucket: Option<u32>,
    accept: bool,
}

/// (offset, length) of the source and destination addresses in the network header.
fn address_fields(ip: IpAddr) -> ((u32, u32), (u32, u32)) {
    match ip {
        IpAddr::V4(_) => ((12, 4), (16, 4)),
        IpAddr::V6(_) => ((8, 16), (24, 16)),
    }
}

fn ip_from(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => Some(IpAddr::from(<[u8; 4]>::try_from(bytes).ok()?)),
        16 => Some(IpAddr::from(<[u8; 16]>::try_from(bytes).ok()?)),
        _ => None,
    }
}

/// Follows the registers through the rule's expressions.
fn read(exprs: &[Expr], ip: IpAddr) -> Seen {
    let (_, daddr) = address_fields(ip);
    let mut seen = Seen::default();
    // What each register holds: a payload field, or the hash's result.
    let mut regs: Vec<(u32, Reg)> = Vec::new();
    let set = |regs: &mut Vec<(u32, Reg)>, r: u32, v: Reg| {
        regs.retain(|(k, _)| *k != r);
        regs.push((r, v));
    };
    let get = |regs: &[(u32, Reg)], r: u32| regs.iter().find(|(k, _)| *k == r).map(|(_, v)| *v);
    for e in exprs {
        match e.name.as_str() {
            "payload" => {
                let (Some(dreg), Some(base), Some(off), Some(len)) = (
                    e.be32(attr::PAYLOAD_DREG),
                    e.be32(attr::PAYLOAD_BASE),
                    e.be32(attr::PAYLOAD_OFFSET),
                    e.be32(attr::PAYLOAD_LEN),
                ) else {
                    continue;
                };
                if base == attr::PAYLOAD_NETWORK_HEADER {
                    set(&mut regs, dreg, Reg::Field(off, len));
                }
            }
            "hash" => {
                if let (Some(sreg), Some(dreg)) = (e.be32(attr::HASH_SREG), e.be32(attr::HASH_DREG)) {
                    if let Some(Reg::Field(off, len)) = get(&regs, sreg) {
                        seen.hash_input = Some((off, len));
                    }
                    seen.jenkins =
                        e.be32(attr::HASH_TYPE).unwrap_or(attr::HASH_JENKINS) == attr::HASH_JENKINS;
                    seen.modulus = e.be32(attr::HASH_MODULUS);
                    seen.seed = e.be32(attr::HASH_SEED);
                    seen.offset = e.be32(attr::HASH_OFFSET);
                    set(&mut regs, dreg, Reg::Hash);
                }
            }
            "cmp" => {
                let (Some(sreg), Some(op), Some(value)) = (
                    e.be32(attr::CMP_SREG),
                    e.be32(attr::CMP_OP),
                    e.nested(attr::CMP_DATA, attr::DATA_VALUE),
                ) else {
                    continue;
                };
                if op != attr::CMP_EQ {
                    continue;
                }
                match get(&regs, sreg) {
                    // The hash result is a host-order integer in its register.
                    Some(Reg::Hash) => {
                        seen.bucket = <[u8; 4]>::try_from(value.as_slice()).ok().map(u32::from_ne_bytes)
                    }
                    Some(Reg::Field(off, len)) if (off, len) == daddr => seen.daddr = ip_from(&value),
                    _ => {}
                }
            }
            "immediate" => {
                // The verdict register is 0.
                if e.be32(attr::IMMEDIATE_DREG) == Some(0)
                    && let Some(data) = e.attr(attr::IMMEDIATE_DATA)
                {
                    let verdict = Expr { name: String::new(), attrs: vec![(1, data.to_vec())] };
                    let code = verdict
                        .nested(1, attr::DATA_VERDICT)
                        .and_then(|v| {
                            Expr { name: String::new(), attrs: vec![(1, v)] }.nested(1, attr::VERDICT_CODE)
                        })
                        .and_then(|c| <[u8; 4]>::try_from(c.as_slice()).ok())
                        .map(u32::from_be_bytes);
                    seen.accept = code == Some(attr::VERDICT_ACCEPT);
                }
            }
            _ => {}
        }
    }
    seen
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reg {
    Field(u32, u32),
    Hash,
}

/// How the rule differs from what this instance would write, in words (empty: it does not).
pub fn differences(rule: &Rule, want: &Expected) -> Vec<String> {
    let seen = read(&rule.exprs, want.ip);
    let (saddr, _) = address_fields(want.ip);
    let mut out = Vec::new();
    if seen.daddr != Some(want.ip) {
        out.push(match seen.daddr {
            Some(a) => format!("matches destination {a}, not {}", want.ip),
            None => format!("does not match destination {}", want.ip),
        });
    }
    match seen.modulus {
        None => out.push("has no hash".into()),
        Some(m) if m != want.total => out.push(format!(
            "hashes clients into {m} buckets, this clone has {} (clone-max changed without a restart?)",
            want.total
        )),
        Some(_) => {}
    }
    if seen.modulus.is_some() {
        if seen.hash_input != Some(saddr) || !seen.jenkins {
            out.push("does not hash the client's source address with jhash".into());
        }
        if seen.seed != Some(want.seed) {
            out.push(format!("uses seed {:#010x}, not {:#010x}", seen.seed.unwrap_or(0), want.seed));
        }
        if seen.offset != Some(1) {
            out.push(format!("numbers buckets from {}, not 1", seen.offset.unwrap_or(0)));
        }
    }
    if seen.bucket != Some(want.bucket) {
        out.push(match seen.bucket {
            Some(b) => format!("accepts bucket {b}, not {}", want.bucket),
            None => "compares the hash with nothing".into(),
        });
    }
    if !seen.accept {
        out.push("does not accept".into());
    }
    out
}

/// The buckets a table holds (from the rules' comments).
pub(super) fn buckets(rules: &[Rule]) -> Vec<u32> {
    let mut b: Vec<u32> =
        rules.iter().filter_map(|r| r.comment.as_deref()?.strip_prefix("cip-node-")?.parse().ok()).collect();
    b.sort_unstable();
    b.dedup();
    b
}

/// Every bucket rule of the table that says something else than this instance would write,
/// with how it differs.
pub(super) fn stale_buckets(rules: &[Rule], expected: impl Fn(u32) -> Expected) -> Vec<(u32, String)> {
    rules
        .iter()
        .filter_map(|r| Some((r, r.comment.as_deref()?.strip_prefix("cip-node-")?.parse::<u32>().ok()?)))
        .filter_map(|(r, b)| {
            let d = differences(r, &expected(b));
            (!d.is_empty()).then(|| (b, d.join(", ")))
        })
        .collect()
}

pub(super) fn has_comment(rules: &[Rule], comment: &str) -> bool {
    rules.iter().any(|r| r.chain == CHAIN && r.comment.as_deref() == Some(comment))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster_ip::rules::DROP_COMMENT;

    fn be(v: u32) -> Vec<u8> {
        v.to_be_bytes().to_vec()
    }

    /// An encoded nested attribute (len, type, value), as the kernel sends it.
    fn nla(kind: u16, v: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&((4 + v.len()) as u16).to_ne_bytes());
        b.extend_from_slice(&kind.to_ne_bytes());
        b.extend_from_slice(v);
        while b.len() % 4 != 0 {
            b.push(0);
        }
        b
    }

    fn e(name: &str, attrs: Vec<(u16, Vec<u8>)>) -> Expr {
        Expr { name: name.into(), attrs }
    }

    /// The expressions the kernel returned for `iif "d0" ip daddr 198.51.100.10 jhash ip saddr
    /// mod 3 seed 0x1234 offset 1 == 2 meta pkttype set host counter accept` (dumped once from
    /// a real table; ifindex 3).
    fn kernel_rule(modulus: u32, bucket: u32) -> Rule {
        let value = |v: &[u8]| nla(attr::DATA_VALUE, v);
        Rule {
            chain: "c".into(),
            handle: 2,
            comment: Some(format!("cip-node-{bucket}")),
            exprs: vec![
                e("meta", vec![(2, be(4)), (1, be(1))]),
                e("cmp", vec![(1, be(1)), (2, be(0)), (3, value(&3u32.to_ne_bytes()))]),
                e("payload", vec![(1, be(1)), (2, be(1)), (3, be(16)), (4, be(4))]),
                e("cmp", vec![(1, be(1)), (2, be(0)), (3, value(&[198, 51, 100, 10]))]),
                e("payload", vec![(1, be(2)), (2, be(1)), (3, be(12)), (4, be(4))]),
                e(
                    "hash",
                    vec![
                        (1, be(2)),
                        (2, be(1)),
                        (3, be(4)),
                        (4, be(modulus)),
                        (5, be(0x1234)),
                        (6, be(1)),
                        (7, be(0)),
                    ],
                ),
                e("cmp", vec![(1, be(1)), (2, be(0)), (3, value(&bucket.to_ne_bytes()))]),
                e("immediate", vec![(1, be(1)), (2, value(&[0, 0, 0, 0]))]),
                e("meta", vec![(2, be(19)), (3, be(1))]),
                e("counter", vec![(1, vec![0; 8]), (2, vec![0; 8])]),
                e(
                    "immediate",
                    vec![(1, be(0)), (2, nla(attr::DATA_VERDICT, &nla(attr::VERDICT_CODE, &be(1))))],
                ),
            ],
        }
    }

    fn want(total: u32, bucket: u32) -> Expected {
        Expected { ip: "198.51.100.10".parse().unwrap(), total, seed: 0x1234, bucket }
    }

    #[test]
    fn the_rule_the_agent_writes_has_no_differences() {
        assert_eq!(differences(&kernel_rule(3, 2), &want(3, 2)), Vec::<String>::new());
    }

    #[test]
    fn a_changed_clone_max_is_named() {
        let d = differences(&kernel_rule(2, 2), &want(3, 2));
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].contains("into 2 buckets, this clone has 3"), "{d:?}");
    }

    #[test]
    fn seed_bucket_and_destination_are_compared() {
        let mut w = want(3, 1);
        w.seed = 7;
        w.ip = "198.51.100.11".parse().unwrap();
        let d = differences(&kernel_rule(3, 2), &w).join("; ");
        assert!(d.contains("seed 0x00001234, not 0x00000007"), "{d}");
        assert!(d.contains("accepts bucket 2, not 1"), "{d}");
        assert!(d.contains("destination 198.51.100.10, not 198.51.100.11"), "{d}");
    }

    #[test]
    fn a_rule_without_expressions_differs_in_every_way() {
        let mut r = kernel_rule(3, 2);
        r.exprs.clear();
        let d = differences(&r, &want(3, 2));
        assert!(d.iter().any(|x| x == "has no hash") && d.iter().any(|x| x == "does not accept"), "{d:?}");
    }

    #[test]
    fn buckets_from_comments() {
        let rules = vec![
            Rule { chain: CHAIN.into(), handle: 2, comment: Some("cip-node-3".into()), exprs: vec![] },
            Rule { chain: CHAIN.into(), handle: 3, comment: Some("cip-node-1".into()), exprs: vec![] },
            Rule { chain: CHAIN.into(), handle: 4, comment: Some(DROP_COMMENT.into()), exprs: vec![] },
            Rule { chain: CHAIN.into(), handle: 5, comment: Some("other".into()), exprs: vec![] },
        ];
        assert_eq!(buckets(&rules), vec![1, 3]);
    }
}
