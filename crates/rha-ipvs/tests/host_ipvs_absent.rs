//! Host tier: this build machine's kernel has no IPVS (CONFIG_IP_VS unset,
//! no module loading), so connecting must fail with the clear "not
//! available" error an agent's probe turns into "not running" (7).

use rha_ipvs::{Error, Ipvs};

/// True when the running kernel has IPVS (then this test has nothing to say).
fn kernel_has_ipvs() -> bool {
    std::path::Path::new("/proc/net/ip_vs").exists()
}

#[test]
fn connect_reports_ipvs_not_available() {
    if kernel_has_ipvs() {
        eprintln!("skipped: this kernel has IPVS loaded; the VM tier covers it");
        return;
    }
    let err = match Ipvs::connect() {
        Ok(_) => panic!("connected to IPVS although /proc/net/ip_vs does not exist"),
        Err(e) => e,
    };
    assert!(err.is_not_available(), "unexpected error: {err:?}");
    assert!(matches!(err, Error::NotAvailable));
    let text = err.to_string();
    assert!(text.contains("IPVS is not available"), "{text}");
    assert!(text.contains("ip_vs"), "{text}");
    assert_eq!(err.errno(), None);
}
