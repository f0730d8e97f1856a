//! Reload as a difference (keepalived loses checker state on reload; upstream cannot add or
//! remove a virtual block):
//! - a virtual in both configs keeps its slot: its service settings are edited in place, a
//!   real in both keeps its state (a down real stays down until its check passes) and its
//!   connections; a real whose check or interval changed keeps its state and gets the new
//!   check;
//! - a real only in the old config is drained: weight 0 for `Options::drain`, then deleted
//!   (if it was not in the kernel, it is simply dropped);
//! - a virtual only in the new config starts as at start-up (reals down until checked);
//! - a virtual only in the old config is deleted with its reals at once (there is no pool
//!   left to drain to).

use std::time::Instant;

use rha_check::CheckKey;

use super::ipvs_sync::delete_service;
use super::log;
use super::runner::{Daemon, RealSlot, VirtualSlot};
use crate::model::Config;

impl Daemon {
    pub(super) fn reload(&mut self, new: Config) -> Result<(), String> {
        log::info(&format!("reloading {}", new.path.display()));
        for w in &new.warnings {
            log::warn(&w.to_string());
        }
        let mut old: Vec<VirtualSlot> = std::mem::take(&mut self.virtuals);
        let mut next = Vec::with_capacity(new.virtuals.len());
        let now = Instant::now();
        let drain_until = now + self.opts.drain;
        for v in &new.virtuals {
            let Some(pos) = old.iter().position(|s| s.v.key() == v.key()) else {
                log::info(&format!("virtual {}: added by the reload", v.key()));
                next.push(None);
                continue;
            };
            let mut slot = old.remove(pos);
            let mut old_reals: Vec<RealSlot> = std::mem::take(&mut slot.reals);
            let mut reals = Vec::with_capacity(v.reals.len());
            for r in &v.reals {
                match old_reals.iter().position(|o| o.real.dest.key() == r.dest.key()) {
                    Some(i) => {
                        let mut rs = old_reals.remove(i);
                        let key = CheckKey::new(r.check.clone(), r.target);
                        let same_check =
                            matches!(&rs.sub, Some((k, _, iv)) if *k == key && *iv == v.check_interval);
                        rs.real = r.clone();
                        if !same_check && slot.managed {
                            // New check (or interval): the state stays until its results come
                            // (checktype=on makes it up; off keeps it out of IPVS anyway).
                            self.unsubscribe(&mut rs);
                            let keep = rs.state.clone();
                            self.subscribe(&mut rs, v);
                            if rs.sub.is_some() {
                                rs.state = keep;
                            }
                        }
                        // A drain the old reload started ends when the real is configured again.
                        slot.draining.retain(|(d, _)| d.key() != r.dest.key());
                        reals.push(rs);
                    }
                    None => {
                        let mut rs = RealSlot {
                            real: r.clone(),
                            state: super::real_state::RealState::new(now),
                            sub: None,
                        };
                        if slot.managed {
                            self.subscribe(&mut rs, v);
                        }
                        reals.push(rs);
                    }
                }
            }
            for mut gone in old_reals {
                self.unsubscribe(&mut gone);
                let in_kernel = slot
                    .last
                    .as_ref()
                    .is_some_and(|s| s.dests.iter().any(|d| d.key() == gone.real.dest.key()));
                if in_kernel {
                    log::info(&format!(
                        "real {} of {}: removed by the reload, draining (weight 0) for {} s",
                        gone.real.dest.key(),
                        v.key(),
                        self.opts.drain.as_secs()
                    ));
                    slot.draining.push((gone.real.dest.clone(), drain_until));
                } else {
                    log::info(&format!(
                        "real {} of {}: removed by the reload",
                        gone.real.dest.key(),
                        v.key()
                    ));
                }
            }
            slot.reals = reals;
            slot.v = v.clone();
            slot.dirty = slot.managed;
            next.push(Some(slot));
        }
        // Virtuals the new config does not name.
        let mut errors = Vec::new();
        for mut slot in old {
            for r in &mut slot.reals {
                self.unsubscribe(r);
            }
            if !slot.managed {
                continue;
            }
            let key = slot.v.key();
            match delete_service(&mut self.ipvs, &key) {
                Ok(_) => log::info(&format!("virtual {key}: removed by the reload")),
                Err(e) => errors.push(format!("cannot remove virtual {key}: {e}")),
            }
            if let Err(e) = self.owned.remove(&key) {
                errors.push(e.to_string());
            }
        }
        self.config = new;
        let virtuals: Vec<_> = self.config.virtuals.clone();
        self.virtuals = next
            .into_iter()
            .zip(virtuals)
            .map(|(slot, v)| slot.unwrap_or_else(|| self.new_virtual(v)))
            .collect();
        self.rebuild_index();
        self.reload_error = None;
        self.sync_dirty();
        if errors.is_empty() { Ok(()) } else { Err(errors.join("; ")) }
    }
}
