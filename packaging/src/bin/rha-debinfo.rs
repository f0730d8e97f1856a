//! rha-debinfo: tells `packaging/build-deb` what to build and ship.
//!
//! `cargo metadata --no-deps --format-version 1 | rha-debinfo` prints shell-safe lines:
//!
//! ```text
//! root /path/to/workspace
//! target-dir /path/to/target
//! version 0.1.0
//! agent rha-ipaddr2 IPaddr2 /path/to/workspace/agents/IPaddr2
//! sbin rha-ldirectord rha-ldirectord /path/to/workspace/agents/ldirectord
//! ```
//!
//! (`agent|sbin <cargo package> <installed name> <package directory>`; only the directory, the
//! last field, may contain spaces.)

use rha_packaging::workspace::{self, Kind};
use std::io::Read;
use std::process::ExitCode;

fn main() -> ExitCode {
    if std::env::args().len() > 1 {
        eprintln!("usage: cargo metadata --no-deps --format-version 1 | rha-debinfo");
        return ExitCode::from(2);
    }
    let mut json = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut json) {
        eprintln!("rha-debinfo: reading standard input: {e}");
        return ExitCode::FAILURE;
    }
    match workspace::from_metadata(&json) {
        Ok(ws) => {
            println!("root {}", ws.root);
            println!("target-dir {}", ws.target_dir);
            println!("version {}", ws.version);
            for s in &ws.shipped {
                let kind = match s.kind {
                    Kind::Agent => "agent",
                    Kind::Sbin => "sbin",
                };
                println!("{kind} {} {} {}", s.package, s.name, s.dir);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rha-debinfo: {e}");
            ExitCode::FAILURE
        }
    }
}
