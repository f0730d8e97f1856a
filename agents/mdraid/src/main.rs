//! `ocf:rha:mdraid`: see the crate documentation in `lib.rs` for the map.
fn main() {
    ocf_shim::run::<rha_mdraid::MdRaid>()
}
