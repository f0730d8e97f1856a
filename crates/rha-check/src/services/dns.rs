//! service=dns. TODO(checks helper): implement.

use crate::Down;
use crate::outcome::CheckResult;
use crate::run::Probe;

pub async fn check(_probe: &Probe<'_>) -> CheckResult {
    Err(Down::new("service dns is not implemented yet"))
}
