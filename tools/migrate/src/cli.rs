//! The command line: `rha-migrate haresources|ipvsadm|cib ...`. The result goes to stdout only
//! when the whole input converted; faults go to stderr, one per line, and the exit code is 1
//! (2 for a usage error, as clap does).

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use rha_ipvs::save_format::SystemResolver;

use crate::error::Faults;
use crate::haresources::{InitClass, Options};
use crate::plan::Format;

#[derive(Parser, Debug)]
#[command(
    name = "rha-migrate",
    version,
    about = "Converts Heartbeat v1, ipvsadm and ocf:heartbeat configurations to rha"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Heartbeat v1 haresources (+ ha.cf) to a crmsh file or a pcs script.
    Haresources {
        /// The haresources file ('-' for stdin).
        file: String,
        /// ha.cf, for node names, auto_failback and the timers.
        #[arg(long = "ha-cf")]
        ha_cf: Option<String>,
        #[arg(long, default_value = "crm", value_parser = parse_format)]
        format: Format,
        /// How init scripts are managed: auto (by what this node has), systemd or lsb.
        #[arg(long, default_value = "auto")]
        init: String,
        /// The node's root for --init auto (where etc/init.d and the systemd units are).
        #[arg(long, default_value = "/")]
        root: PathBuf,
    },
    /// ipvsadm-save (or ipvsadm -S -n) text to ipvs-service primitives or an ldirectord.cf.
    Ipvsadm {
        /// The rules file ('-' for stdin).
        file: String,
        /// Write an ldirectord.cf with health checks instead.
        #[arg(long)]
        ldirectord: bool,
        #[arg(long, default_value = "crm", value_parser = parse_format)]
        format: Format,
    },
    /// ocf:heartbeat primitives of a CIB (cibadmin -Q, or a saved one) to ocf:rha.
    Cib {
        /// The CIB ('-' for stdin; without it, cibadmin -Q).
        file: Option<String>,
        #[arg(long, default_value = "crm", value_parser = parse_format)]
        format: Format,
    },
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse()
}

fn read(file: &str) -> Result<String, String> {
    let mut buf = Vec::new();
    let r = if file == "-" {
        std::io::stdin().read_to_end(&mut buf).map(|_| ())
    } else {
        std::fs::File::open(file).and_then(|mut f| f.read_to_end(&mut buf)).map(|_| ())
    };
    r.map_err(|e| format!("{file}: {e}"))?;
    String::from_utf8(buf).map_err(|_| format!("{file}: not UTF-8 text"))
}

fn name(file: &str) -> String {
    if file == "-" { "<stdin>".into() } else { file.to_string() }
}

fn live_cib() -> Result<String, String> {
    let o = std::process::Command::new("cibadmin")
        .arg("-Q")
        .output()
        .map_err(|e| format!("cibadmin -Q: {e} (give a saved CIB file instead)"))?;
    if !o.status.success() {
        return Err(format!("cibadmin -Q failed: {}", String::from_utf8_lossy(&o.stderr).trim()));
    }
    String::from_utf8(o.stdout).map_err(|_| "cibadmin -Q: not UTF-8".into())
}

fn run(cmd: Cmd) -> Result<String, String> {
    let faults = |f: Faults| f.to_string();
    match cmd {
        Cmd::Haresources { file, ha_cf, format, init, root } => {
            let init = match init.as_str() {
                "auto" => InitClass::Auto { root },
                "systemd" => InitClass::Systemd,
                "lsb" => InitClass::Lsb,
                o => return Err(format!("--init {o:?}: expected auto, systemd or lsb")),
            };
            let text = read(&file)?;
            let ha_cf = match ha_cf {
                Some(f) => Some(crate::hacf::parse(&name(&f), &read(&f)?).map_err(faults)?),
                None => None,
            };
            let plan =
                crate::haresources::convert(&name(&file), &text, &Options { init, ha_cf }).map_err(faults)?;
            Ok(plan.render(format))
        }
        Cmd::Ipvsadm { file, ldirectord, format } => {
            let text = read(&file)?;
            let r = SystemResolver::default();
            if ldirectord {
                crate::ipvsadm::ldirectord(&name(&file), &text, &r).map_err(faults)
            } else {
                Ok(crate::ipvsadm::convert(&name(&file), &text, &r).map_err(faults)?.render(format))
            }
        }
        Cmd::Cib { file, format } => {
            let (label, text) = match file {
                Some(f) => (name(&f), read(&f)?),
                None => ("the live CIB".to_string(), live_cib()?),
            };
            let c = crate::cib::analyse(&label, &text).map_err(faults)?;
            Ok(crate::cib::render(&label, &c, format))
        }
    }
}

/// Runs the command line; returns the exit code.
pub fn main(args: Vec<OsString>) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    match run(cli.cmd) {
        Ok(out) => {
            let mut so = std::io::stdout().lock();
            if so.write_all(out.as_bytes()).and_then(|_| so.flush()).is_err() {
                return 1;
            }
            0
        }
        Err(e) => {
            for l in e.lines() {
                eprintln!("rha-migrate: {l}");
            }
            1
        }
    }
}
