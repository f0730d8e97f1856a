//! `ipvsadm-save` / `ipvsadm -S -n` text: the format users keep their LVS
//! rules in. [`parse`] reads it (and any `ipvsadm -R` command list),
//! [`to_table`] folds the commands into a table, [`write()`] prints a table
//! exactly as `ipvsadm -S -n` would.

mod names;
mod parse;
mod write;

pub use names::{Resolver, SystemResolver};
pub use parse::{Command, ParseError, parse, parse_with};
pub use write::{sched_flags_string, write, write_service};

use crate::change::Change;
use crate::plan::ServiceSpec;

/// Folds commands into the table they describe, starting from `initial`
/// (an empty table for a save file). Service and real-server commands must
/// make sense in order (no `-a` before its `-A`, no duplicate `-A`), as they
/// would for `ipvsadm -R`; timeouts, daemons and `-Z` do not affect the
/// table and are skipped.
pub fn to_table_from(initial: Vec<ServiceSpec>, cmds: &[Command]) -> Result<Vec<ServiceSpec>, ParseError> {
    let mut table = initial;
    for c in cmds {
        let err = |message: String| ParseError { line: c.line, token: None, message };
        let find = |t: &Vec<ServiceSpec>, k| t.iter().position(|s| s.service.key == k);
        match &c.change {
            Change::AddService(s) => {
                if find(&table, s.key).is_some() {
                    return Err(err(format!("service {} already exists", s.key)));
                }
                table.push(ServiceSpec::new(s.clone()));
            }
            Change::EditService(s) => {
                let i = find(&table, s.key).ok_or_else(|| err(format!("no such service {}", s.key)))?;
                table[i].service = s.clone();
            }
            Change::DelService(k) => {
                let i = find(&table, *k).ok_or_else(|| err(format!("no such service {k}")))?;
                table.remove(i);
            }
            Change::AddDest(k, d) | Change::EditDest(k, d) => {
                let i = find(&table, *k).ok_or_else(|| err(format!("service {k} not defined")))?;
                let pos = table[i].dests.iter().position(|x| x.key() == d.key());
                match (&c.change, pos) {
                    (Change::AddDest(..), None) => table[i].dests.push(d.clone()),
                    (Change::AddDest(..), Some(_)) => {
                        return Err(err(format!("real server {} already exists", d.key())));
                    }
                    (_, Some(p)) => table[i].dests[p] = d.clone(),
                    (_, None) => return Err(err(format!("no such real server {}", d.key()))),
                }
            }
            Change::DelDest(k, dk) => {
                let i = find(&table, *k).ok_or_else(|| err(format!("service {k} not defined")))?;
                let p = table[i]
                    .dests
                    .iter()
                    .position(|x| x.key() == *dk)
                    .ok_or_else(|| err(format!("no such real server {dk}")))?;
                table[i].dests.remove(p);
            }
            Change::Flush => table.clear(),
            Change::Zero(_) | Change::SetTimeouts(_) | Change::StartDaemon(_) | Change::StopDaemon(_) => {}
        }
    }
    Ok(table)
}

/// Folds commands into a table, starting from nothing (see [`to_table_from`]).
pub fn to_table(cmds: &[Command]) -> Result<Vec<ServiceSpec>, ParseError> {
    to_table_from(Vec::new(), cmds)
}

/// Parses save text straight into a table, with the system resolver.
pub fn parse_table(text: &str) -> Result<Vec<ServiceSpec>, ParseError> {
    to_table(&parse(text)?)
}

#[cfg(test)]
mod tests;
