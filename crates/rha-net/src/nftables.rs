//! Reading nftables state over nfnetlink (`NETLINK_NETFILTER`): whether a table exists, and
//! its rules with their chain, handle, comment and expressions.
//!
//! Only reading lives here. Changes go through `nft -f`, the administrators' interface, whose
//! scripts are applied as one kernel transaction (all or nothing); a monitor only needs to
//! read, and reads without starting a process.

use std::io;

use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_NETFILTER};

use crate::netlink::{Error, Result};

/// nftables address families (`NFPROTO_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NfFamily {
    Ip = 2,
    Arp = 3,
    Ip6 = 10,
}

impl NfFamily {
    /// The family's name in `nft` syntax.
    pub fn keyword(self) -> &'static str {
        match self {
            NfFamily::Ip => "ip",
            NfFamily::Arp => "arp",
            NfFamily::Ip6 => "ip6",
        }
    }
}

/// One rule of a table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub chain: String,
    /// The handle `nft delete rule ... handle N` takes.
    pub handle: u64,
    /// The rule's `comment "..."`, if it has one.
    pub comment: Option<String>,
    /// Its expressions in order (`meta`, `cmp`, `payload`, `hash`, `immediate`, ...), raw: what
    /// a rule does is read by the caller, who knows what it wrote.
    pub exprs: Vec<Expr>,
}

/// One expression of a rule: its kernel name and its attributes (`NFTA_<NAME>_*`), values as
/// the kernel sent them (big-endian integers; nested attributes still encoded).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expr {
    pub name: String,
    pub attrs: Vec<(u16, Vec<u8>)>,
}

impl Expr {
    /// The raw value of attribute `kind`.
    pub fn attr(&self, kind: u16) -> Option<&[u8]> {
        self.attrs.iter().find(|(k, _)| *k == kind).map(|(_, v)| v.as_slice())
    }

    /// Attribute `kind` as a big-endian u32 (how nf_tables sends its integer attributes).
    pub fn be32(&self, kind: u16) -> Option<u32> {
        self.attr(kind).and_then(|v| v.try_into().ok()).map(u32::from_be_bytes)
    }

    /// The raw value inside a nested attribute: `nested(outer, inner)`, e.g. a `cmp`'s
    /// `NFTA_CMP_DATA` → `NFTA_DATA_VALUE`.
    pub fn nested(&self, outer: u16, inner: u16) -> Option<Vec<u8>> {
        let v = self.attr(outer)?;
        attrs(v).into_iter().find(|(k, _)| *k == inner).map(|(_, v)| v.to_vec())
    }
}

/// Attribute numbers of the expressions callers read (from <linux/netfilter/nf_tables.h>).
pub mod attr {
    pub const DATA_VALUE: u16 = 1;
    pub const DATA_VERDICT: u16 = 2;
    pub const VERDICT_CODE: u16 = 1;
    pub const CMP_SREG: u16 = 1;
    pub const CMP_OP: u16 = 2;
    pub const CMP_DATA: u16 = 3;
    pub const PAYLOAD_DREG: u16 = 1;
    pub const PAYLOAD_BASE: u16 = 2;
    pub const PAYLOAD_OFFSET: u16 = 3;
    pub const PAYLOAD_LEN: u16 = 4;
    pub const HASH_SREG: u16 = 1;
    pub const HASH_DREG: u16 = 2;
    pub const HASH_LEN: u16 = 3;
    pub const HASH_MODULUS: u16 = 4;
    pub const HASH_SEED: u16 = 5;
    pub const HASH_OFFSET: u16 = 6;
    pub const HASH_TYPE: u16 = 7;
    pub const META_DREG: u16 = 1;
    pub const META_KEY: u16 = 2;
    pub const META_SREG: u16 = 3;
    pub const IMMEDIATE_DREG: u16 = 1;
    pub const IMMEDIATE_DATA: u16 = 2;
    /// `NFT_CMP_EQ`.
    pub const CMP_EQ: u32 = 0;
    /// `NFT_PAYLOAD_NETWORK_HEADER`.
    pub const PAYLOAD_NETWORK_HEADER: u32 = 1;
    /// `NFT_HASH_JENKINS`.
    pub const HASH_JENKINS: u32 = 0;
    /// `NFT_META_IIF` (`iif "eth0"` compares the interface index), `NFT_META_PKTTYPE`.
    pub const META_IIF: u32 = 4;
    pub const META_PKTTYPE: u32 = 19;
    /// `NF_ACCEPT`, `NF_DROP`.
    pub const VERDICT_ACCEPT: u32 = 1;
    pub const VERDICT_DROP: u32 = 0;
}

// From <linux/netfilter/nfnetlink.h> and <linux/netfilter/nf_tables.h>.
const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFT_MSG_GETTABLE: u16 = 1;
const NFT_MSG_NEWRULE: u16 = 6;
const NFT_MSG_GETRULE: u16 = 7;
const NFTA_TABLE_NAME: u16 = 1;
const NFTA_RULE_TABLE: u16 = 1;
const NFTA_RULE_CHAIN: u16 = 2;
const NFTA_RULE_HANDLE: u16 = 3;
const NFTA_RULE_EXPRESSIONS: u16 = 4;
const NFTA_LIST_ELEM: u16 = 1;
const NFTA_EXPR_NAME: u16 = 1;
const NFTA_EXPR_DATA: u16 = 2;
const NFTA_RULE_USERDATA: u16 = 7;
/// libnftnl's user-data record for a rule's comment.
const NFTNL_UDATA_RULE_COMMENT: u8 = 0;

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP: u16 = 0x300;
const NLM_F_DUMP_INTR: u16 = 0x10;
const HEADER: usize = 16;
const NFGENMSG: usize = 4;

/// The rules of table `name` in `family`, or `None` when there is no such table.
pub fn table_rules(family: NfFamily, name: &str) -> Result<Option<Vec<Rule>>> {
    let ctx = |what: &str| format!("nftables: {what} table {} {name}", family.keyword());
    let sock = open().map_err(|e| Error::new(ctx("opening a socket to read"), e))?;
    // A rule dump filtered by a table that does not exist is simply empty: ask for the table.
    match exchange(&sock, NFT_MSG_GETTABLE, NLM_F_REQUEST | NLM_F_ACK, family, NFTA_TABLE_NAME, name, 1) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(None),
        Err(e) => return Err(Error::new(ctx("looking up"), e)),
        Ok(_) => {}
    }
    // A dump interrupted by a concurrent change is asked again (the kernel flags it).
    for attempt in 2.. {
        let (messages, interrupted) = exchange(
            &sock,
            NFT_MSG_GETRULE,
            NLM_F_REQUEST | NLM_F_DUMP,
            family,
            NFTA_RULE_TABLE,
            name,
            attempt,
        )
        .map_err(|e| Error::new(ctx("listing the rules of"), e))?;
        if interrupted && attempt < 5 {
            continue;
        }
        let rule_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWRULE;
        return Ok(Some(
            messages.iter().filter(|(t, _)| *t == rule_type).filter_map(|(_, b)| parse_rule(b)).collect(),
        ));
    }
    unreachable!()
}

fn open() -> io::Result<Socket> {
    let mut sock = Socket::new(NETLINK_NETFILTER)?;
    sock.bind_auto()?;
    sock.connect(&SocketAddr::new(0, 0))?;
    Ok(sock)
}

/// A message of an answer: its type, and its body after the nfgenmsg header.
type Message = (u16, Vec<u8>);

/// Sends one request with one string attribute and collects the answer: the answer's messages
/// as (type, body after the nfgenmsg header), and whether a dump was interrupted.
fn exchange(
    sock: &Socket,
    msg: u16,
    flags: u16,
    family: NfFamily,
    attr: u16,
    value: &str,
    seq: u32,
) -> io::Result<(Vec<Message>, bool)> {
    sock.send(&request(msg, flags, family, attr, value, seq), 0)?;
    let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
    let mut out = Vec::new();
    let mut interrupted = false;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = sock.recv(&mut &mut buf[..], 0)?;
        let mut rest = &buf[..n];
        while rest.len() >= HEADER {
            let len = u32::from_ne_bytes(rest[0..4].try_into().unwrap()) as usize;
            let kind = u16::from_ne_bytes(rest[4..6].try_into().unwrap());
            let mflags = u16::from_ne_bytes(rest[6..8].try_into().unwrap());
            let mseq = u32::from_ne_bytes(rest[8..12].try_into().unwrap());
            if len < HEADER || len > rest.len() {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "truncated netlink message"));
            }
            let body = &rest[HEADER..len];
            rest = &rest[align(len).min(rest.len())..];
            if mseq != seq {
                continue;
            }
            interrupted |= mflags & NLM_F_DUMP_INTR != 0;
            match kind {
                NLMSG_DONE => return Ok((out, interrupted)),
                NLMSG_ERROR => {
                    let code = body.get(0..4).map(|b| i32::from_ne_bytes(b.try_into().unwrap())).unwrap_or(0);
                    if code < 0 {
                        return Err(io::Error::from_raw_os_error(-code));
                    }
                    if !dump {
                        return Ok((out, interrupted));
                    }
                }
                _ => out.push((kind, body.get(NFGENMSG..).unwrap_or_default().to_vec())),
            }
        }
    }
}

fn request(msg: u16, flags: u16, family: NfFamily, attr: u16, value: &str, seq: u32) -> Vec<u8> {
    let mut b = Vec::with_capacity(64);
    b.extend_from_slice(&[0; 4]); // length, filled in below
    b.extend_from_slice(&((NFNL_SUBSYS_NFTABLES << 8) | msg).to_ne_bytes());
    b.extend_from_slice(&flags.to_ne_bytes());
    b.extend_from_slice(&seq.to_ne_bytes());
    b.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it in
    b.extend_from_slice(&[family as u8, 0 /* NFNETLINK_V0 */, 0, 0]);
    let mut v = value.as_bytes().to_vec();
    v.push(0);
    b.extend_from_slice(&((4 + v.len()) as u16).to_ne_bytes());
    b.extend_from_slice(&attr.to_ne_bytes());
    b.extend_from_slice(&v);
    b.resize(align(b.len()), 0);
    let len = b.len() as u32;
    b[0..4].copy_from_slice(&len.to_ne_bytes());
    b
}

fn align(n: usize) -> usize {
    (n + 3) & !3
}

/// The attributes of a message body as (type, value) pairs; malformed tails are ignored.
fn attrs(mut b: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while b.len() >= 4 {
        let len = u16::from_ne_bytes([b[0], b[1]]) as usize;
        let kind = u16::from_ne_bytes([b[2], b[3]]) & 0x3fff; // without NLA_F_NESTED/BYTEORDER
        if len < 4 || len > b.len() {
            break;
        }
        out.push((kind, &b[4..len]));
        b = &b[align(len).min(b.len())..];
    }
    out
}

fn c_string(v: &[u8]) -> String {
    let end = v.iter().position(|&c| c == 0).unwrap_or(v.len());
    String::from_utf8_lossy(&v[..end]).into_owned()
}

fn parse_rule(body: &[u8]) -> Option<Rule> {
    let mut rule = Rule { chain: String::new(), handle: 0, comment: None, exprs: Vec::new() };
    let mut has_handle = false;
    for (kind, v) in attrs(body) {
        match kind {
            NFTA_RULE_CHAIN => rule.chain = c_string(v),
            NFTA_RULE_HANDLE if v.len() == 8 => {
                rule.handle = u64::from_be_bytes(v.try_into().unwrap());
                has_handle = true;
            }
            NFTA_RULE_USERDATA => rule.comment = comment(v),
            NFTA_RULE_EXPRESSIONS => rule.exprs = expressions(v),
            NFTA_RULE_TABLE => {}
            _ => {}
        }
    }
    has_handle.then_some(rule)
}

/// A rule's `NFTA_RULE_EXPRESSIONS`: a list of elements, each a name and its data.
fn expressions(list: &[u8]) -> Vec<Expr> {
    attrs(list)
        .into_iter()
        .filter(|(k, _)| *k == NFTA_LIST_ELEM)
        .map(|(_, elem)| {
            let mut e = Expr::default();
            for (k, v) in attrs(elem) {
                match k {
                    NFTA_EXPR_NAME => e.name = c_string(v),
                    NFTA_EXPR_DATA => e.attrs = attrs(v).into_iter().map(|(k, v)| (k, v.to_vec())).collect(),
                    _ => {}
                }
            }
            e
        })
        .collect()
}

/// The comment in a rule's user data: libnftnl's (type u8, length u8, value) records.
fn comment(mut udata: &[u8]) -> Option<String> {
    while udata.len() >= 2 {
        let (kind, len) = (udata[0], udata[1] as usize);
        let value = udata.get(2..2 + len)?;
        if kind == NFTNL_UDATA_RULE_COMMENT {
            return Some(c_string(value));
        }
        udata = &udata[2 + len..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_layout() {
        let r = request(NFT_MSG_GETRULE, NLM_F_REQUEST | NLM_F_DUMP, NfFamily::Ip, NFTA_RULE_TABLE, "t", 7);
        assert_eq!(r.len(), 16 + 4 + 8);
        assert_eq!(u32::from_ne_bytes(r[0..4].try_into().unwrap()), 28);
        assert_eq!(u16::from_ne_bytes(r[4..6].try_into().unwrap()), 0x0a07);
        assert_eq!(r[16], 2);
        assert_eq!(&r[20..28], &[6, 0, 1, 0, b't', 0, 0, 0]);
    }

    #[test]
    fn rule_attributes() {
        let mut body = Vec::new();
        let mut put = |kind: u16, v: &[u8]| {
            body.extend_from_slice(&((4 + v.len()) as u16).to_ne_bytes());
            body.extend_from_slice(&kind.to_ne_bytes());
            body.extend_from_slice(v);
            body.resize(align(body.len()), 0);
        };
        put(NFTA_RULE_TABLE, b"t\0");
        put(NFTA_RULE_CHAIN, b"prerouting\0");
        put(NFTA_RULE_HANDLE, &5u64.to_be_bytes());
        put(NFTA_RULE_USERDATA, &[0, 11, b'c', b'i', b'p', b'-', b'n', b'o', b'd', b'e', b'-', b'2', 0]);
        let r = parse_rule(&body).unwrap();
        assert_eq!(
            r,
            Rule { chain: "prerouting".into(), handle: 5, comment: Some("cip-node-2".into()), exprs: vec![] }
        );
        assert_eq!(comment(&[1, 2, 9, 9]), None);
        assert_eq!(comment(&[0, 200, 1]), None);
        assert!(parse_rule(&[1, 0]).is_none());
    }
}
