//! Negotiate checks: one file per ldirectord `service`, as keepalived keeps one checker per
//! file. Each exports `pub async fn check(probe: &Probe<'_>) -> CheckResult`; the caller bounds
//! the time (negotiatetimeout), so a service only records its stage and bounds its reads.

pub mod dns;
pub mod ftp;
pub mod http;
pub mod imap;
pub mod ldap;
pub mod mysql;
pub mod nntp;
pub mod pgsql;
pub mod pop;
pub mod radius;
pub mod simpletcp;
pub mod sip;
pub mod smtp;

use crate::outcome::CheckResult;
use crate::run::Probe;
use crate::spec::Service;

/// Runs the negotiate check of the probe's service.
pub async fn negotiate(probe: &Probe<'_>) -> CheckResult {
    match probe.spec.service {
        Service::Http | Service::Https | Service::HttpProxy => http::check(probe).await,
        Service::Dns => dns::check(probe).await,
        Service::Smtp | Service::Submission => smtp::check(probe).await,
        Service::Pop | Service::Pops => pop::check(probe).await,
        Service::Imap | Service::Imaps => imap::check(probe).await,
        Service::Ftp => ftp::check(probe).await,
        Service::Ldap | Service::Ldaps => ldap::check(probe).await,
        Service::Nntp => nntp::check(probe).await,
        Service::Sip => sip::check(probe).await,
        Service::SimpleTcp => simpletcp::check(probe).await,
        Service::Radius => radius::check(probe).await,
        Service::Mysql => mysql::check(probe).await,
        Service::Pgsql => pgsql::check(probe).await,
        // ldirectord: service=none is always up (a negotiate check with nothing to speak).
        Service::None => Ok(()),
    }
}
