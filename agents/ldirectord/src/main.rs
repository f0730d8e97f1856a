//! `ocf:rha:ldirectord`: the logic is in the library (start in `src/lib.rs`).
fn main() {
    ocf_shim::run::<rha_ldirectord_agent::Ldirectord>()
}
