//! `ocf:rha:IPaddr2`: the logic is in the library (start in `src/lib.rs`).
fn main() {
    ocf_shim::run::<rha_ipaddr2::IpAddr2>()
}
