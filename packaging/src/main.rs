//! rha-mkman: an OCF agent's meta-data XML -> its man page `ocf_<provider>_<agent>.7`.
//!
//! `packaging/build-deb` runs it on every built agent (`--agent`), so the pages are generated
//! from the binaries that are shipped and cannot drift from them.

use rha_packaging::{date, man, metadata};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

const USAGE: &str = "\
usage: rha-mkman [OPTIONS] (--agent PATH | FILE | -)

Writes the man page ocf_<provider>_<agent>.7 of an OCF resource agent from its meta-data.

  --agent PATH          run `PATH meta-data` (empty environment, OCF 1.1 announced) and check
                        that the agent's name is the file name it is installed as
  FILE | -              read meta-data XML from a file or standard input instead
  -o, --output PATH     write there; an existing directory gets ocf_<provider>_<agent>.7
                        (default: standard output)
  --provider NAME       OCF provider (default: rha)
  --date YYYY-MM-DD     page date (default: from SOURCE_DATE_EPOCH, else today)
  --source TEXT         package and version for the page footer
                        (default: rha-resource-agents <version>)
  --examples-dir DIR    mention configuration examples installed in DIR
  --see-also PAGE(N)    add a SEE ALSO entry (repeatable)
  --ocf-1.0             ask the agent for the OCF 1.0 dialect instead of 1.1
  -h, --help            this text
";

/// Pacemaker's default timeout for meta-data.
const META_DATA_TIMEOUT: Duration = Duration::from_secs(20);

struct Args {
    agent: Option<PathBuf>,
    input: Option<String>,
    output: Option<PathBuf>,
    ocf_1_0: bool,
    opts: man::ManOptions,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        agent: None,
        input: None,
        output: None,
        ocf_1_0: false,
        opts: man::ManOptions {
            source: format!("rha-resource-agents {}", env!("CARGO_PKG_VERSION")),
            date: date::iso_date(date::build_time()),
            ..man::ManOptions::default()
        },
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |what: &str| it.next().ok_or(format!("{what} needs a value"));
        match arg.as_str() {
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            "--agent" => a.agent = Some(value("--agent")?.into()),
            "-o" | "--output" => a.output = Some(value("--output")?.into()),
            "--provider" => a.opts.provider = value("--provider")?,
            "--date" => a.opts.date = value("--date")?,
            "--source" => a.opts.source = value("--source")?,
            "--examples-dir" => a.opts.examples_dir = Some(value("--examples-dir")?),
            "--see-also" => a.opts.see_also.push(value("--see-also")?),
            "--ocf-1.0" => a.ocf_1_0 = true,
            s if s.starts_with('-') && s != "-" => return Err(format!("unknown option {s}")),
            s if a.input.is_none() => a.input = Some(s.to_string()),
            s => return Err(format!("unexpected argument {s}")),
        }
    }
    if a.agent.is_some() == a.input.is_some() {
        return Err("give either --agent PATH or an XML file".into());
    }
    if !rha_packaging::workspace::valid_name(&a.opts.provider) {
        return Err(format!("bad provider name {:?}", a.opts.provider));
    }
    Ok(a)
}

/// Runs `agent meta-data` the way Pacemaker does, with nothing else in the environment.
fn run_meta_data(agent: &Path, ocf_1_0: bool) -> Result<String, String> {
    let mut child = Command::new(agent)
        .arg("meta-data")
        .env_clear()
        .env("OCF_ROOT", "/usr/lib/ocf")
        .env("OCF_RA_VERSION_MAJOR", "1")
        .env("OCF_RA_VERSION_MINOR", if ocf_1_0 { "0" } else { "1" })
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", agent.display()))?;
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let deadline = Instant::now() + META_DATA_TIMEOUT;
    let status = loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(st) => break st,
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{} meta-data did not finish in {META_DATA_TIMEOUT:?}", agent.display()));
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    let stdout = reader.join().unwrap_or_default();
    let stderr = String::from_utf8_lossy(&err_reader.join().unwrap_or_default()).into_owned();
    if !status.success() {
        return Err(format!("{} meta-data failed ({status}): {}", agent.display(), stderr.trim()));
    }
    let xml =
        String::from_utf8(stdout).map_err(|_| format!("{} meta-data printed non-UTF-8", agent.display()))?;
    if xml.trim().is_empty() {
        return Err(format!("{} meta-data printed nothing (is it a real agent yet?)", agent.display()));
    }
    Ok(xml)
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let (xml, origin) = match (&args.agent, args.input.as_deref()) {
        (Some(agent), _) => (run_meta_data(agent, args.ocf_1_0)?, agent.display().to_string()),
        (None, Some("-")) => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s).map_err(|e| format!("reading standard input: {e}"))?;
            (s, "standard input".to_string())
        }
        (None, Some(file)) => {
            (std::fs::read_to_string(file).map_err(|e| format!("reading {file}: {e}"))?, file.to_string())
        }
        (None, None) => unreachable!("checked in parse_args"),
    };
    let meta = metadata::parse(&xml).map_err(|e| format!("{origin}: {e}"))?;
    if !rha_packaging::workspace::valid_name(&meta.name) {
        return Err(format!("{origin}: agent name {:?} is not a valid file name", meta.name));
    }
    if let Some(agent) = &args.agent {
        let file = agent.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        if file != meta.name {
            return Err(format!(
                "{origin}: the meta-data names the agent {:?} but it is installed as {file:?}",
                meta.name
            ));
        }
    }
    let page = man::render(&meta, &args.opts);
    match &args.output {
        None => std::io::stdout().write_all(page.as_bytes()).map_err(|e| e.to_string()),
        Some(out) => {
            let path = if out.is_dir() {
                out.join(format!("{}.7", man::page_name(&args.opts.provider, &meta.name)))
            } else {
                out.clone()
            };
            std::fs::write(&path, page).map_err(|e| format!("writing {}: {e}", path.display()))
        }
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rha-mkman: {e}");
            ExitCode::FAILURE
        }
    }
}
