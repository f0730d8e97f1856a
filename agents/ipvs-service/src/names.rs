//! Host names in `virtual`, `reals` and rules files, for one invocation: never an unbounded
//! lookup, and no DNS at all where the agent does not need it.
//!
//! - start resolves afresh (names may have moved), each lookup bounded by a share of the
//!   operation's timeout, and records what it resolved (`name <host> <ipv4>` lines of the
//!   instance's record, [`crate::ownership`]);
//! - monitor uses what start recorded; a name start did not record (parameters changed since)
//!   is looked up, bounded;
//! - stop never looks a name up: it uses the record, and what it cannot name it stops by the
//!   service's identity that start recorded. With DNS down a stop must still finish in time,
//!   or the node is fenced.
//!
//! A blocked getaddrinfo cannot be cancelled: the lookup runs on a thread of its own, and when
//! its time is up the agent answers without it (the thread dies with the process).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use ocf_shim::Deadline;
use rha_ipvs::Protocol;
use rha_ipvs::save_format::{Resolver, SystemResolver};

/// The longest one lookup may take, whatever the timeout (getaddrinfo's own default is 5 s per
/// nameserver and try).
const MAX_LOOKUP: Duration = Duration::from_secs(5);

/// How names are found in this invocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Look up afresh, bounded (start, validate-all).
    Fresh,
    /// What start recorded first, a bounded lookup for the rest (monitor).
    RecordedFirst,
    /// What start recorded, nothing else (stop).
    RecordedOnly,
}

/// A blocking host lookup (the system's getaddrinfo in the agent; a stand-in in tests).
pub type Lookup = fn(&str) -> Option<Ipv4Addr>;

fn system_lookup(name: &str) -> Option<Ipv4Addr> {
    SystemResolver::default().host_v4(name)
}

/// The [`Resolver`] of one invocation.
pub struct ActionResolver {
    mode: Mode,
    recorded: BTreeMap<String, Ipv4Addr>,
    deadline: Deadline,
    lookup: Lookup,
    services: SystemResolver,
    /// Every name this invocation resolved, and to what (start records these).
    resolved: RefCell<BTreeMap<String, Ipv4Addr>>,
    /// Names whose lookup ran out of time.
    timed_out: RefCell<Vec<String>>,
}

impl ActionResolver {
    pub fn new(mode: Mode, recorded: BTreeMap<String, Ipv4Addr>, deadline: Deadline) -> Self {
        Self::with_lookup(mode, recorded, deadline, system_lookup)
    }

    pub fn with_lookup(
        mode: Mode,
        recorded: BTreeMap<String, Ipv4Addr>,
        deadline: Deadline,
        lookup: Lookup,
    ) -> Self {
        ActionResolver {
            mode,
            recorded,
            deadline,
            lookup,
            services: SystemResolver::default(),
            resolved: RefCell::new(BTreeMap::new()),
            timed_out: RefCell::new(Vec::new()),
        }
    }

    /// What this invocation resolved.
    pub fn resolved(&self) -> BTreeMap<String, Ipv4Addr> {
        self.resolved.borrow().clone()
    }

    /// Names whose lookup did not answer in time.
    pub fn timed_out(&self) -> Vec<String> {
        self.timed_out.borrow().clone()
    }

    /// One lookup on its own thread, waited for at most a quarter of what is left of the
    /// operation (and at most [`MAX_LOOKUP`]), so that several names still fit.
    fn bounded_lookup(&self, name: &str) -> Option<Ipv4Addr> {
        let limit = (self.deadline.remaining() / 4).min(MAX_LOOKUP);
        let lookup = self.lookup;
        let owned = name.to_string();
        match ocf_shim::deadline::on_thread_within(limit, move || lookup(&owned)) {
            Some(answer) => answer,
            None => {
                ocf_shim::warn!("looking up host name '{name}' did not answer within {limit:?}");
                self.timed_out.borrow_mut().push(name.to_string());
                None
            }
        }
    }
}

impl Resolver for ActionResolver {
    fn host_v4(&self, name: &str) -> Option<Ipv4Addr> {
        let recorded = self.recorded.get(name).copied();
        let answer = match self.mode {
            Mode::Fresh => self.bounded_lookup(name),
            Mode::RecordedFirst => recorded.or_else(|| self.bounded_lookup(name)),
            Mode::RecordedOnly => recorded,
        };
        if let Some(a) = answer {
            self.resolved.borrow_mut().insert(name.to_string(), a);
        }
        answer
    }

    /// Service names come from /etc/services: a file, never the network.
    fn service_port(&self, name: &str, protocol: Protocol) -> Option<u16> {
        self.services.service_port(name, protocol)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hangs(_: &str) -> Option<Ipv4Addr> {
        std::thread::sleep(Duration::from_secs(30));
        None
    }

    fn answers(name: &str) -> Option<Ipv4Addr> {
        (name == "web1").then_some(Ipv4Addr::new(203, 0, 113, 2))
    }

    fn recorded() -> BTreeMap<String, Ipv4Addr> {
        BTreeMap::from([("web1".to_string(), Ipv4Addr::new(203, 0, 113, 9))])
    }

    #[test]
    fn a_hanging_lookup_costs_a_share_of_the_deadline_only() {
        let d = Deadline::after(Duration::from_millis(800));
        let r = ActionResolver::with_lookup(Mode::Fresh, BTreeMap::new(), d, hangs);
        let t = std::time::Instant::now();
        assert_eq!(r.host_v4("web1"), None);
        assert!(t.elapsed() < Duration::from_millis(400), "{:?}", t.elapsed());
        assert_eq!(r.timed_out(), vec!["web1".to_string()]);
    }

    #[test]
    fn stop_uses_only_the_record_and_monitor_prefers_it() {
        let d = || Deadline::after(Duration::from_secs(5));
        let stop = ActionResolver::with_lookup(Mode::RecordedOnly, recorded(), d(), hangs);
        assert_eq!(stop.host_v4("web1"), Some(Ipv4Addr::new(203, 0, 113, 9)));
        let t = std::time::Instant::now();
        assert_eq!(stop.host_v4("web2"), None, "stop never looks up");
        assert!(t.elapsed() < Duration::from_millis(50));
        let monitor = ActionResolver::with_lookup(Mode::RecordedFirst, recorded(), d(), hangs);
        assert_eq!(monitor.host_v4("web1"), Some(Ipv4Addr::new(203, 0, 113, 9)));
        let start = ActionResolver::with_lookup(Mode::Fresh, recorded(), d(), answers);
        assert_eq!(start.host_v4("web1"), Some(Ipv4Addr::new(203, 0, 113, 2)), "start resolves afresh");
        assert_eq!(start.resolved(), BTreeMap::from([("web1".to_string(), Ipv4Addr::new(203, 0, 113, 2))]));
    }
}
