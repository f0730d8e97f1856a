//! monitor (processes, then the status URL; the level-10 test at `OCF_CHECK_LEVEL=10`) and
//! status (processes only).

use std::time::Instant;

use ocf_shim::{Context, OcfError, OcfResult, Status, log};
use regex::bytes::Regex;

use crate::http_check::{self, Options};
use crate::instance::{Check, Instance};
use crate::params::Config;
use crate::procs::PidFile;
use crate::testconf;

/// The main httpd pid when the server runs, `None` when it is cleanly stopped, an error when
/// only parts of it are left.
pub fn running_main(inst: &Instance) -> OcfResult<Option<i32>> {
    let pf = inst.pid_file_state();
    if let PidFile::Running(pid) = pf {
        return Ok(Some(pid));
    }
    let m = inst.members(pf);
    let why = match (pf, &inst.pid_file) {
        (PidFile::Stale(p), Some(f)) => {
            format!("pid file {} names pid {p}, which is not running", f.display())
        }
        (_, Some(f)) => format!("no pid file {}", f.display()),
        (_, None) => "the configuration cannot be read".to_string(),
    };
    if let Some(main) = m.main {
        log::warn(format!("httpd runs as pid {main} but {why}"));
        return Ok(Some(main));
    }
    if !m.is_empty() {
        return Err(OcfError::generic(format!(
            "httpd is not running ({why}) but {} of its processes remain: {:?}",
            m.pids.len(),
            m.pids
        )));
    }
    log::debug(format!("not running: {why}"));
    Ok(None)
}

/// `status`: whether httpd runs, without an HTTP request.
pub fn status(cfg: &Config, ctx: &Context) -> OcfResult<Status> {
    let inst = Instance::resolve(cfg, ctx);
    Ok(match running_main(&inst)? {
        Some(_) => Status::Running,
        None => Status::NotRunning,
    })
}

pub fn monitor(cfg: &Config, ctx: &Context) -> OcfResult<Status> {
    let inst = Instance::resolve(cfg, ctx);
    let Some(pid) = running_main(&inst)? else {
        return Ok(Status::NotRunning);
    };
    // Running, but the parameters or the configuration are no longer usable: a soft failure
    // (recover here or elsewhere), not a cluster-wide stop.
    cfg.check().map_err(|e| OcfError::generic(e.reason))?;
    if let Err(e) = &inst.conf {
        return Err(OcfError::generic(format!("httpd runs (pid {pid}) but {}", e.reason)));
    }
    for n in &inst.env_notes {
        log::debug(format!("envfiles: {n}"));
    }
    let deadline = Instant::now() + ctx.deadline.remaining();
    let check = inst.status_check(cfg);
    http(&check, &options(cfg, None), deadline)?;
    if ctx.requested_check_level >= 10 {
        match testconf::from_config(cfg).map_err(|e| OcfError::generic(e.reason))? {
            Some(spec) => {
                if !spec.ignored.is_empty() {
                    log::debug(format!("client_opts ignored: {}", spec.ignored.join(" ")));
                }
                let url = inst.endpoint(cfg).absolute(&spec.url);
                let check = Check { url, regex: Some(&spec.regex) };
                http(&check, &options(cfg, Some(&spec)), deadline)?;
            }
            None => log::warn(
                "OCF_CHECK_LEVEL=10 without testurl or testconffile: only the status URL was checked",
            ),
        }
    }
    Ok(Status::Running)
}

fn options(cfg: &Config, spec: Option<&testconf::TestSpec>) -> Options {
    Options {
        ipv6: cfg.use_ipv6,
        verify_tls: cfg.tls_verify && !spec.is_some_and(|s| s.insecure),
        auth: spec.and_then(|s| s.auth.clone()),
        headers: spec.map(|s| s.headers.clone()).unwrap_or_default(),
    }
}

/// Why a check failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CheckFailure {
    /// The server gave a complete HTTP answer (a wrong one), as opposed to no answer.
    pub answered: bool,
    pub message: String,
}

impl From<CheckFailure> for OcfError {
    fn from(f: CheckFailure) -> OcfError {
        OcfError::generic(f.message)
    }
}

/// One check: a 2xx response whose body matches, or (without a regex) any answer below 500.
pub fn http(check: &Check, opts: &Options, deadline: Instant) -> Result<(), CheckFailure> {
    let r = http_check::get(&check.url, opts, deadline)
        .map_err(|e| CheckFailure { answered: false, message: format!("{}: {e}", check.url) })?;
    verdict(check.regex, r.status, &r.reason, &r.body)
        .map_err(|e| CheckFailure { answered: true, message: format!("{}: {e}", r.url) })
}

fn verdict(regex: Option<&Regex>, status: u16, reason: &str, body: &[u8]) -> Result<(), String> {
    match regex {
        None if status < 500 => Ok(()),
        Some(re) if (200..300).contains(&status) => {
            if re.is_match(body) {
                Ok(())
            } else {
                Err(format!("the response does not match {:?}", re.as_str()))
            }
        }
        _ => Err(format!("HTTP {status} {reason}").trim_end().to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        let re = crate::params::compile("t", "</ *html *>").unwrap();
        assert!(verdict(Some(&re), 200, "OK", b"<html></html>").is_ok());
        assert_eq!(verdict(Some(&re), 404, "Not Found", b"</html>").unwrap_err(), "HTTP 404 Not Found");
        assert!(verdict(Some(&re), 200, "OK", b"plain").unwrap_err().contains("does not match"));
        assert!(verdict(None, 403, "Forbidden", b"").is_ok());
        assert!(verdict(None, 503, "", b"").is_err());
    }
}
