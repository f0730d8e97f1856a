//! What one action has read from the kernel and may need again: the addresses of the
//! resource's family, dumped at most once before the action changes anything.
//!
//! start needs them twice before adding the address (findif's broadcast from an address
//! already in the subnet, and the address's own state); one dump serves both. Below
//! [`crate::findif`] and [`crate::address_state`], which both take it; it imports neither.

use rha_net::Netlink;
use rha_net::address::{self, Address, Family};

use crate::net_err;
use ocf_shim::OcfResult;

/// The family's addresses, dumped on first use (RTM_GETADDR) and kept for the action.
pub struct AddressDump {
    family: Family,
    addrs: Option<Vec<Address>>,
}

impl AddressDump {
    pub fn new(family: Family) -> AddressDump {
        AddressDump { family, addrs: None }
    }

    /// Every address of the family (all interfaces); dumped the first time only.
    pub fn get(&mut self, nl: &mut Netlink) -> OcfResult<&[Address]> {
        if self.addrs.is_none() {
            self.addrs = Some(address::list(nl, Some(self.family), None).map_err(net_err)?);
        }
        Ok(self.addrs.as_deref().unwrap_or_default())
    }
}
