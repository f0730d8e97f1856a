//! `ocf:rha:nfs-server`: the logic is in the library (start in `src/lib.rs`).
fn main() {
    ocf_shim::run::<rha_nfs_server::NfsServer>()
}
