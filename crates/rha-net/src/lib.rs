//! Placeholder: links, addresses, routes, ARP/NA (being written).
