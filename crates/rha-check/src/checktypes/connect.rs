//! `checktype=connect`: a TCP connection is accepted.

use crate::net::connect_tcp;
use crate::outcome::CheckResult;
use crate::run::Probe;

pub async fn check(probe: &Probe<'_>) -> CheckResult {
    probe.stage("connecting");
    let stream = connect_tcp(probe.target).await?;
    drop(stream);
    Ok(())
}
