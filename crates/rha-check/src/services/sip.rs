//! service=sip. TODO(checks helper): implement.

use crate::Down;
use crate::outcome::CheckResult;
use crate::run::Probe;

pub async fn check(_probe: &Probe<'_>) -> CheckResult {
    Err(Down::new("service sip is not implemented yet"))
}
