//! What the address derives, as ocf:heartbeat:IPaddr2 derives it: the default cluster MAC
//! and hash seed, and the names of its nftables table.

use std::net::{IpAddr, Ipv4Addr};

use md5::{Digest, Md5};
use rha_net::nftables::NfFamily;

/// md5 of what ocf:heartbeat:IPaddr2 hashes: `echo $ip $NETMASK $BRDCAST` (an empty broadcast
/// disappears with its separator), so a mixed or migrated cluster derives the same values.
fn digest(ip: IpAddr, prefix: u8, broadcast: Option<Ipv4Addr>) -> [u8; 16] {
    let line = match broadcast {
        Some(b) => format!("{ip} {prefix} {b}\n"),
        None => format!("{ip} {prefix}\n"),
    };
    Md5::digest(line.as_bytes()).into()
}

/// The default cluster MAC: the digest's first six octets with the first made odd (multicast);
/// for IPv6, `33:33` (the IPv6 multicast prefix) and the digest's octets 3 to 6.
pub fn derived_mac(ip: IpAddr, prefix: u8, broadcast: Option<Ipv4Addr>) -> [u8; 6] {
    let d = digest(ip, prefix, broadcast);
    if ip.is_ipv6() {
        return [0x33, 0x33, d[2], d[3], d[4], d[5]];
    }
    let mut mac = [d[0], d[1], d[2], d[3], d[4], d[5]];
    // upstream turns an even second hex digit into 1: the same as setting the low bit when
    // that digit is even, and a digit that is odd already stays.
    if mac[0] & 1 == 0 {
        mac[0] = (mac[0] & 0xf0) | 1;
    }
    mac
}

/// The default hash seed: the digest's first four octets (its first eight hex digits).
pub fn derived_seed(ip: IpAddr, prefix: u8, broadcast: Option<Ipv4Addr>) -> u32 {
    let d = digest(ip, prefix, broadcast);
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// The nftables family of an address's table; its keyword is also the address match's
/// (`ip daddr`, `ip6 daddr`).
pub(super) fn l3(ip: IpAddr) -> NfFamily {
    if ip.is_ipv6() { NfFamily::Ip6 } else { NfFamily::Ip }
}

/// The nftables table of an address: `IPaddr2_198_51_100_10`, `IPaddr2_2001_db8__10`.
pub fn table_name(ip: IpAddr) -> String {
    format!("IPaddr2_{}", ip.to_string().replace(['.', ':'], "_"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rha_net::link::format_mac;

    #[test]
    fn derivations_match_upstreams_shell() {
        // The values themselves are checked against md5sum below; here the rules around them.
        let ip = Ipv4Addr::new(198, 51, 100, 10);
        let mac = derived_mac(IpAddr::V4(ip), 24, Some(Ipv4Addr::new(198, 51, 100, 255)));
        assert_eq!(mac[0] & 1, 1, "multicast");
        assert_ne!(derived_mac(IpAddr::V4(ip), 24, None), mac, "the broadcast is part of the input");
        let v6: IpAddr = "2001:db8::10".parse().unwrap();
        assert_eq!(derived_mac(v6, 64, None)[..2], [0x33, 0x33], "the IPv6 multicast prefix");
        assert_eq!(table_name(v6), "IPaddr2_2001_db8__10");
        assert_eq!(table_name(IpAddr::V4(ip)), "IPaddr2_198_51_100_10");
    }

    #[test]
    fn derivations_agree_with_md5sum() {
        let ip = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 10));
        let brd = Some(Ipv4Addr::new(198, 51, 100, 255));
        let out = std::process::Command::new("sh")
            .args(["-c", "echo 198.51.100.10 24 198.51.100.255 | md5sum"])
            .output()
            .unwrap();
        let hex = String::from_utf8(out.stdout).unwrap();
        let seed = u32::from_str_radix(&hex[..8], 16).unwrap();
        assert_eq!(derived_seed(ip, 24, brd), seed);
        // upstream's sed: the first 12 hex digits, colons, an even 2nd digit becomes 1.
        let mut digits: Vec<char> = hex[..12].chars().collect();
        if "02468ace".contains(digits[1]) {
            digits[1] = '1';
        }
        let want: Vec<String> = digits.chunks(2).map(|c| c.iter().collect()).collect();
        assert_eq!(format_mac(&derived_mac(ip, 24, brd)), want.join(":"));
    }
}
