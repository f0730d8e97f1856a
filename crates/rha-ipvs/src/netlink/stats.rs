//! Statistics nests (`IPVS_SVC_ATTR_STATS[64]`, `IPVS_DEST_ATTR_STATS[64]`).
//!
//! The old `STATS` nest mixes widths (counters and rates are u32, byte
//! counters u64); `STATS64` is all u64. Values are read by their length so
//! one type serves both.

use netlink_packet_core::{DecodeError, Nla, NlaBuffer};

use super::attrs::{get_u32, get_u64, put_u32, put_u64};
use super::consts::*;
use crate::types::Stats;

/// Width of a statistics value on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatValue {
    /// 4-byte value.
    U32(u32),
    /// 8-byte value.
    U64(u64),
}

impl StatValue {
    fn get(self) -> u64 {
        match self {
            StatValue::U32(x) => u64::from(x),
            StatValue::U64(x) => x,
        }
    }
}

/// One attribute of a statistics nest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatsAttr {
    /// `IPVS_STATS_ATTR_*`.
    pub kind: u16,
    /// Value (`None` for the alignment pad attribute).
    pub value: Option<StatValue>,
}

impl Nla for StatsAttr {
    fn value_len(&self) -> usize {
        match self.value {
            Some(StatValue::U32(_)) => 4,
            Some(StatValue::U64(_)) => 8,
            None => 0,
        }
    }

    fn kind(&self) -> u16 {
        self.kind
    }

    fn emit_value(&self, buffer: &mut [u8]) {
        match self.value {
            Some(StatValue::U32(x)) => put_u32(buffer, x),
            Some(StatValue::U64(x)) => put_u64(buffer, x),
            None => {}
        }
    }
}

impl StatsAttr {
    /// Parses one statistics attribute; its width comes from its length.
    pub fn parse(buf: &NlaBuffer<&[u8]>) -> Result<StatsAttr, DecodeError> {
        let v = buf.value();
        let value = match v.len() {
            0 => None,
            4 => Some(StatValue::U32(get_u32("STATS", v)?)),
            8 => Some(StatValue::U64(get_u64("STATS", v)?)),
            n => {
                return Err(DecodeError::from(format!("statistics attribute {} has {n} bytes", buf.kind())));
            }
        };
        Ok(StatsAttr { kind: buf.kind(), value })
    }
}

/// Builds the [`Stats`] a nest describes.
pub(crate) fn stats_from_attrs(attrs: &[StatsAttr]) -> Stats {
    let mut s = Stats::default();
    for a in attrs {
        let Some(v) = a.value else { continue };
        let v = v.get();
        match a.kind {
            STATS_ATTR_CONNS => s.conns = v,
            STATS_ATTR_INPKTS => s.inpkts = v,
            STATS_ATTR_OUTPKTS => s.outpkts = v,
            STATS_ATTR_INBYTES => s.inbytes = v,
            STATS_ATTR_OUTBYTES => s.outbytes = v,
            STATS_ATTR_CPS => s.cps = v,
            STATS_ATTR_INPPS => s.inpps = v,
            STATS_ATTR_OUTPPS => s.outpps = v,
            STATS_ATTR_INBPS => s.inbps = v,
            STATS_ATTR_OUTBPS => s.outbps = v,
            _ => {}
        }
    }
    s
}

#[cfg(test)]
/// Encodes [`Stats`] as a nest: all u64 when `wide` (STATS64), else with the
/// kernel's mixed widths (STATS). Only the kernel sends these; this exists
/// for round-trip tests and fakes.
pub(crate) fn stats_to_attrs(s: &Stats, wide: bool) -> Vec<StatsAttr> {
    let fields = [
        (STATS_ATTR_CONNS, s.conns, false),
        (STATS_ATTR_INPKTS, s.inpkts, false),
        (STATS_ATTR_OUTPKTS, s.outpkts, false),
        (STATS_ATTR_INBYTES, s.inbytes, true),
        (STATS_ATTR_OUTBYTES, s.outbytes, true),
        (STATS_ATTR_CPS, s.cps, false),
        (STATS_ATTR_INPPS, s.inpps, false),
        (STATS_ATTR_OUTPPS, s.outpps, false),
        (STATS_ATTR_INBPS, s.inbps, false),
        (STATS_ATTR_OUTBPS, s.outbps, false),
    ];
    fields
        .iter()
        .map(|(kind, v, is64)| StatsAttr {
            kind: *kind,
            value: Some(if wide || *is64 { StatValue::U64(*v) } else { StatValue::U32(*v as u32) }),
        })
        .collect()
}
