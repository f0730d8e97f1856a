//! `ocf:rha:ipvs-service`: the logic is in the library (start in `src/lib.rs`).
fn main() {
    ocf_shim::run::<rha_ipvs_service::IpvsService>()
}
