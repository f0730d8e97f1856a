//! First-level IPVS attributes, the IPVS message payload, and small helpers
//! for reading and writing attribute values.
//!
//! The nested attribute sets live next to their model types:
//! [`super::service`], [`super::dest`], [`super::daemon`], [`super::stats`].

use netlink_packet_core::{
    DecodeError, DefaultNla, Emitable, NLA_F_NESTED, Nla, NlaBuffer, NlasIterator, Parseable,
    ParseableParametrized,
};
use netlink_packet_generic::{GenlFamily, GenlHeader};

use super::consts::*;
use super::daemon::DaemonAttr;
use super::dest::DestAttr;
use super::service::ServiceAttr;

/// A first-level attribute of an IPVS message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IpvsAttr {
    /// `IPVS_CMD_ATTR_SERVICE`: nested service attributes.
    Service(Vec<ServiceAttr>),
    /// `IPVS_CMD_ATTR_DEST`: nested destination attributes.
    Dest(Vec<DestAttr>),
    /// `IPVS_CMD_ATTR_DAEMON`: nested sync daemon attributes.
    Daemon(Vec<DaemonAttr>),
    /// `IPVS_CMD_ATTR_TIMEOUT_TCP` (seconds).
    TimeoutTcp(u32),
    /// `IPVS_CMD_ATTR_TIMEOUT_TCP_FIN` (seconds).
    TimeoutTcpFin(u32),
    /// `IPVS_CMD_ATTR_TIMEOUT_UDP` (seconds).
    TimeoutUdp(u32),
    /// `IPVS_INFO_ATTR_VERSION` (only in the GET_INFO reply).
    InfoVersion(u32),
    /// `IPVS_INFO_ATTR_CONN_TAB_SIZE` (only in the GET_INFO reply).
    InfoConnTabSize(u32),
    /// Anything this library does not know (kept so nothing is lost).
    Other(DefaultNla),
}

impl Nla for IpvsAttr {
    fn value_len(&self) -> usize {
        match self {
            IpvsAttr::Service(v) => v.as_slice().buffer_len(),
            IpvsAttr::Dest(v) => v.as_slice().buffer_len(),
            IpvsAttr::Daemon(v) => v.as_slice().buffer_len(),
            IpvsAttr::TimeoutTcp(_)
            | IpvsAttr::TimeoutTcpFin(_)
            | IpvsAttr::TimeoutUdp(_)
            | IpvsAttr::InfoVersion(_)
            | IpvsAttr::InfoConnTabSize(_) => 4,
            IpvsAttr::Other(o) => o.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        match self {
            // Nests carry NLA_F_NESTED like modern libnl does; the kernel
            // parses IPVS nests leniently either way.
            IpvsAttr::Service(_) => CMD_ATTR_SERVICE | NLA_F_NESTED,
            IpvsAttr::Dest(_) => CMD_ATTR_DEST | NLA_F_NESTED,
            IpvsAttr::Daemon(_) => CMD_ATTR_DAEMON | NLA_F_NESTED,
            IpvsAttr::TimeoutTcp(_) => CMD_ATTR_TIMEOUT_TCP,
            IpvsAttr::TimeoutTcpFin(_) => CMD_ATTR_TIMEOUT_TCP_FIN,
            IpvsAttr::TimeoutUdp(_) => CMD_ATTR_TIMEOUT_UDP,
            IpvsAttr::InfoVersion(_) => INFO_ATTR_VERSION,
            IpvsAttr::InfoConnTabSize(_) => INFO_ATTR_CONN_TAB_SIZE,
            IpvsAttr::Other(o) => o.kind(),
        }
    }

    fn emit_value(&self, buffer: &mut [u8]) {
        match self {
            IpvsAttr::Service(v) => v.as_slice().emit(buffer),
            IpvsAttr::Dest(v) => v.as_slice().emit(buffer),
            IpvsAttr::Daemon(v) => v.as_slice().emit(buffer),
            IpvsAttr::TimeoutTcp(x)
            | IpvsAttr::TimeoutTcpFin(x)
            | IpvsAttr::TimeoutUdp(x)
            | IpvsAttr::InfoVersion(x)
            | IpvsAttr::InfoConnTabSize(x) => put_u32(buffer, *x),
            IpvsAttr::Other(o) => o.emit_value(buffer),
        }
    }
}

impl IpvsAttr {
    /// Parses one first-level attribute of a message with command `cmd`.
    pub fn parse_for(cmd: u8, buf: &NlaBuffer<&[u8]>) -> Result<IpvsAttr, DecodeError> {
        let v = buf.value();
        if cmd == CMD_SET_INFO {
            return Ok(match buf.kind() {
                INFO_ATTR_VERSION => IpvsAttr::InfoVersion(get_u32("INFO_ATTR_VERSION", v)?),
                INFO_ATTR_CONN_TAB_SIZE => IpvsAttr::InfoConnTabSize(get_u32("INFO_ATTR_CONN_TAB_SIZE", v)?),
                _ => IpvsAttr::Other(DefaultNla::parse(buf)?),
            });
        }
        Ok(match buf.kind() {
            CMD_ATTR_SERVICE => IpvsAttr::Service(parse_nested(v, ServiceAttr::parse)?),
            CMD_ATTR_DEST => IpvsAttr::Dest(parse_nested(v, DestAttr::parse)?),
            CMD_ATTR_DAEMON => IpvsAttr::Daemon(parse_nested(v, DaemonAttr::parse)?),
            CMD_ATTR_TIMEOUT_TCP => IpvsAttr::TimeoutTcp(get_u32("TIMEOUT_TCP", v)?),
            CMD_ATTR_TIMEOUT_TCP_FIN => IpvsAttr::TimeoutTcpFin(get_u32("TIMEOUT_TCP_FIN", v)?),
            CMD_ATTR_TIMEOUT_UDP => IpvsAttr::TimeoutUdp(get_u32("TIMEOUT_UDP", v)?),
            _ => IpvsAttr::Other(DefaultNla::parse(buf)?),
        })
    }
}

/// Payload of an IPVS generic netlink message: the command and its attributes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpvsMessage {
    /// `IPVS_CMD_*`.
    pub cmd: u8,
    /// First-level attributes.
    pub attrs: Vec<IpvsAttr>,
}

impl IpvsMessage {
    /// A message with a command and attributes.
    pub fn new(cmd: u8, attrs: Vec<IpvsAttr>) -> IpvsMessage {
        IpvsMessage { cmd, attrs }
    }
}

impl GenlFamily for IpvsMessage {
    fn family_name() -> &'static str {
        IPVS_GENL_NAME
    }

    fn command(&self) -> u8 {
        self.cmd
    }

    fn version(&self) -> u8 {
        IPVS_GENL_VERSION
    }
}

impl Emitable for IpvsMessage {
    fn buffer_len(&self) -> usize {
        self.attrs.as_slice().buffer_len()
    }

    fn emit(&self, buffer: &mut [u8]) {
        self.attrs.as_slice().emit(buffer)
    }
}

impl ParseableParametrized<[u8], GenlHeader> for IpvsMessage {
    fn parse_with_param(buf: &[u8], header: GenlHeader) -> Result<Self, DecodeError> {
        let attrs = parse_nested(buf, |b| IpvsAttr::parse_for(header.cmd, b))?;
        Ok(IpvsMessage { cmd: header.cmd, attrs })
    }
}

/// Parses a run of attributes with `f`.
pub(crate) fn parse_nested<T>(
    payload: &[u8],
    f: impl Fn(&NlaBuffer<&[u8]>) -> Result<T, DecodeError>,
) -> Result<Vec<T>, DecodeError> {
    let mut out = Vec::new();
    for nla in NlasIterator::new(payload) {
        out.push(f(&nla?)?);
    }
    Ok(out)
}

fn exact<'a, const N: usize>(what: &str, v: &'a [u8]) -> Result<&'a [u8; N], DecodeError> {
    v.try_into()
        .map_err(|_| DecodeError::from(format!("attribute {what}: expected {N} bytes, got {}", v.len())))
}

pub(crate) fn get_u8(what: &str, v: &[u8]) -> Result<u8, DecodeError> {
    Ok(exact::<1>(what, v)?[0])
}

pub(crate) fn get_u16(what: &str, v: &[u8]) -> Result<u16, DecodeError> {
    Ok(u16::from_ne_bytes(*exact::<2>(what, v)?))
}

/// A `__be16` attribute (ports).
pub(crate) fn get_u16_be(what: &str, v: &[u8]) -> Result<u16, DecodeError> {
    Ok(u16::from_be_bytes(*exact::<2>(what, v)?))
}

pub(crate) fn get_u32(what: &str, v: &[u8]) -> Result<u32, DecodeError> {
    Ok(u32::from_ne_bytes(*exact::<4>(what, v)?))
}

pub(crate) fn get_raw4(what: &str, v: &[u8]) -> Result<[u8; 4], DecodeError> {
    Ok(*exact::<4>(what, v)?)
}

pub(crate) fn get_u64(what: &str, v: &[u8]) -> Result<u64, DecodeError> {
    Ok(u64::from_ne_bytes(*exact::<8>(what, v)?))
}

/// An address attribute: up to 16 bytes, zero-padded (like the kernel's
/// `nla_memcpy` into `union nf_inet_addr`).
pub(crate) fn get_addr16(what: &str, v: &[u8]) -> Result<[u8; 16], DecodeError> {
    if v.len() > 16 || v.len() < 4 {
        return Err(DecodeError::from(format!(
            "attribute {what}: expected 4 to 16 address bytes, got {}",
            v.len()
        )));
    }
    let mut out = [0u8; 16];
    out[..v.len()].copy_from_slice(v);
    Ok(out)
}

/// A NUL-terminated string attribute (anything after the first NUL is ignored).
pub(crate) fn get_string(v: &[u8]) -> String {
    let end = v.iter().position(|b| *b == 0).unwrap_or(v.len());
    String::from_utf8_lossy(&v[..end]).into_owned()
}

pub(crate) fn put_u16(buf: &mut [u8], x: u16) {
    buf[..2].copy_from_slice(&x.to_ne_bytes());
}

pub(crate) fn put_u16_be(buf: &mut [u8], x: u16) {
    buf[..2].copy_from_slice(&x.to_be_bytes());
}

pub(crate) fn put_u32(buf: &mut [u8], x: u32) {
    buf[..4].copy_from_slice(&x.to_ne_bytes());
}

pub(crate) fn put_u64(buf: &mut [u8], x: u64) {
    buf[..8].copy_from_slice(&x.to_ne_bytes());
}

/// Writes a string plus its terminating NUL.
pub(crate) fn put_string(buf: &mut [u8], s: &str) {
    buf[..s.len()].copy_from_slice(s.as_bytes());
    buf[s.len()] = 0;
}
