//! Test tier 3: run commands inside one VM booted with Debian's stock kernel (virtme-ng).
//!
//! The host kernel lacks IPVS, md and nfsd, so those agents are tested in a VM. virtme-ng
//! boots the kernel with the host's root filesystem (read-only, with writable overlays), so
//! binaries built on the host run unchanged inside. KVM is unusable on the build machines;
//! the VM runs under TCG (`--disable-kvm`): slow but real.
//!
//! One boot runs a group of commands (booting takes ~20 s under TCG). The guest runs a
//! generated script that prints marker lines with a per-run nonce around each command; the
//! host reads them from the console to get per-command exit codes and outputs. This does not
//! rely on vng propagating exit codes (it does: the last command's), and it tells "the VM
//! did not boot" apart from "a command failed".

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};

use crate::cmd::{self, shell_quote};

/// Overrides the kernel image (`/boot/vmlinuz-...`).
pub const KERNEL_ENV: &str = "RHA_VM_KERNEL";
/// Overrides the path of `vng`.
pub const VNG_ENV: &str = "RHA_VNG";
/// Exported inside the guest: the host's kernel release, so a test can prove it runs in the
/// VM (the guest kernel differs).
pub const HOST_KERNEL_ENV: &str = "RHA_HOST_KERNEL";
/// Exported inside the guest (value `1`).
pub const IN_VM_ENV: &str = "RHA_IN_VM";

/// Panics unless this runs inside the VM `rha-vm run-tests` boots: a VM-tier test outside it
/// fails loudly (the tier never skips).
pub fn assert_in_guest() {
    assert_eq!(
        std::env::var(IN_VM_ENV).as_deref(),
        Ok("1"),
        "VM-tier test outside the VM: run it with `rha-vm run-tests`"
    );
}

/// How the VM is started.
#[derive(Clone, Debug)]
pub struct VmConfig {
    /// Kernel image; default: [`find_kernel`].
    pub kernel: Option<PathBuf>,
    /// Guest memory, in vng's syntax.
    pub memory: String,
    pub cpus: u32,
    /// Limit for the whole run (boot and every command).
    pub timeout: Duration,
    /// Extra environment variables exported in the guest before the commands run.
    pub env: Vec<(String, String)>,
    /// Copy the guest's console output to our stdout as it arrives.
    pub echo: bool,
}

impl Default for VmConfig {
    fn default() -> VmConfig {
        VmConfig {
            kernel: None,
            memory: "2G".into(),
            cpus: 2,
            timeout: Duration::from_secs(3600),
            env: Vec::new(),
            echo: true,
        }
    }
}

/// One command to run in the guest.
#[derive(Clone, Debug)]
pub struct VmCommand {
    /// Name for reports.
    pub label: String,
    pub argv: Vec<String>,
    /// Limit for this command inside the guest (enforced there with `timeout`).
    pub timeout: Duration,
}

impl VmCommand {
    pub fn new<S: AsRef<str>>(argv: &[S]) -> VmCommand {
        let argv: Vec<String> = argv.iter().map(|a| a.as_ref().to_string()).collect();
        VmCommand { label: argv.join(" "), argv, timeout: Duration::from_secs(600) }
    }

    /// A shell script run with `sh -c`.
    pub fn shell(script: &str) -> VmCommand {
        VmCommand::new(&["sh", "-c", script])
    }

    pub fn label(mut self, label: &str) -> VmCommand {
        self.label = label.to_string();
        self
    }

    pub fn timeout(mut self, t: Duration) -> VmCommand {
        self.timeout = t;
        self
    }
}

/// What one command did in the guest.
#[derive(Clone, Debug)]
pub struct VmCommandResult {
    pub label: String,
    /// `None` if the command never finished (the VM died or the run timed out).
    pub exit_code: Option<i32>,
    /// stdout and stderr, interleaved as printed.
    pub output: String,
    pub duration: Option<Duration>,
}

impl VmCommandResult {
    pub fn success(&self) -> bool {
        self.exit_code == Some(0)
    }
}

/// The outcome of one VM run.
#[derive(Clone, Debug)]
pub struct VmRun {
    /// One entry per requested command, in order.
    pub results: Vec<VmCommandResult>,
    /// `uname -r` in the guest.
    pub guest_kernel: String,
    /// From starting vng to the guest script's first line.
    pub boot_time: Duration,
    pub total_time: Duration,
    /// Set when the run ended before every command finished (why).
    pub incomplete: Option<String>,
}

impl VmRun {
    pub fn all_passed(&self) -> bool {
        self.incomplete.is_none() && self.results.iter().all(VmCommandResult::success)
    }
}

/// The newest `/boot/vmlinuz-*` (or `$RHA_VM_KERNEL`), checked to have its modules.
pub fn find_kernel() -> Result<PathBuf> {
    if let Some(k) = std::env::var_os(KERNEL_ENV) {
        let k = PathBuf::from(k);
        if !k.is_file() {
            bail!("${KERNEL_ENV} = {} is not a file", k.display());
        }
        return Ok(k);
    }
    let mut kernels: Vec<(String, PathBuf)> = fs::read_dir("/boot")
        .context("reading /boot (install linux-image-amd64)")?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let ver = name.strip_prefix("vmlinuz-")?.to_string();
            Some((ver, e.path()))
        })
        .collect();
    kernels.sort_by_key(|k| version_key(&k.0));
    let (ver, path) = kernels
        .pop()
        .context("no /boot/vmlinuz-* kernel found: install the Debian package linux-image-amd64")?;
    let modules = Path::new("/lib/modules").join(&ver);
    if !modules.is_dir() {
        bail!(
            "kernel {} has no modules in {} (reinstall linux-image-{ver})",
            path.display(),
            modules.display()
        );
    }
    Ok(path)
}

/// Orders versions like `6.1.0-56-amd64` numerically chunk by chunk.
fn version_key(v: &str) -> Vec<(u64, String)> {
    v.split(['.', '-', '+', '~']).map(|c| (c.parse().unwrap_or(0), c.to_string())).collect()
}

/// `vng` from `$RHA_VNG`, PATH, or pip's usual install places.
pub fn find_vng() -> Result<PathBuf> {
    if let Some(v) = std::env::var_os(VNG_ENV) {
        let v = PathBuf::from(v);
        if cmd::find_in_path(&v.to_string_lossy()).is_none() {
            bail!("${VNG_ENV} = {} is not an executable file", v.display());
        }
        return Ok(v);
    }
    if let Some(p) = cmd::find_in_path("vng") {
        return Ok(p);
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    for c in [
        format!("{home}/.local/bin/vng"),
        format!("{home}/.pyenv/shims/vng"),
        "/usr/local/bin/vng".to_string(),
    ] {
        if Path::new(&c).is_file() {
            return Ok(PathBuf::from(c));
        }
    }
    bail!("virtme-ng is not installed (`vng` not found): pip install virtme-ng")
}

/// Boots one VM, runs `cmds` in order inside it and returns each one's result.
/// Errors when the VM cannot start (no vng, no kernel, no qemu, boot failure); a command
/// that fails inside a booted VM is a result, not an error.
pub fn run(cfg: &VmConfig, cmds: &[VmCommand]) -> Result<VmRun> {
    let vng = find_vng()?;
    let kernel = match &cfg.kernel {
        Some(k) => k.clone(),
        None => find_kernel()?,
    };
    cmd::require_tools(&[("qemu-system-x86_64", "qemu-system-x86")])?;
    let nonce = format!(
        "{}-{}",
        std::process::id(),
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos()
    );
    // The guest sees the host's /tmp (as an overlay's lower layer) but not /var/tmp or /run.
    let dir = tempfile::Builder::new()
        .prefix("rha-vm-")
        .tempdir_in("/tmp")
        .context("creating the guest script directory in /tmp")?;
    let script_path = dir.path().join("guest.sh");
    fs::write(&script_path, guest_script(&nonce, cfg, cmds)?)?;

    let exec = format!("sh {}", shell_quote(&script_path.to_string_lossy()));
    let mut child = Command::new(&vng)
        .arg("--run")
        .arg(&kernel)
        .args(["--disable-kvm", "--memory", &cfg.memory])
        .args(["--cpus", &cfg.cpus.to_string()])
        .args(["--user", "root", "--exec", &exec])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Own process group: on timeout we kill vng and the qemu it started together.
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting {}", vng.display()))?;
    let start = Instant::now();

    let (tx, rx) = mpsc::channel::<String>();
    let stdout = child.stdout.take().expect("piped");
    thread::spawn(move || {
        let mut r = BufReader::new(stdout);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match r.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf);
                    let line = line.trim_end_matches(['\n', '\r']).to_string();
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let mut stderr = child.stderr.take().expect("piped");
    let echo = cfg.echo;
    let stderr_text = thread::spawn(move || {
        // vng and qemu complain here; keep it for the error message and pass it on.
        let mut all = Vec::new();
        let mut chunk = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut chunk) {
            if n == 0 {
                break;
            }
            if echo {
                let _ = std::io::stderr().write_all(&chunk[..n]);
            }
            all.extend_from_slice(&chunk[..n]);
        }
        String::from_utf8_lossy(&all).into_owned()
    });

    let mut p = Parser::new(&nonce, cmds);
    let mut timed_out = false;
    let mut console_tail: Vec<String> = Vec::new();
    loop {
        let left = cfg.timeout.saturating_sub(start.elapsed());
        match rx.recv_timeout(left) {
            Ok(line) => {
                if let Some(shown) = p.feed(&line, start.elapsed()) {
                    if echo {
                        println!("{shown}");
                    }
                    console_tail.push(shown);
                    if console_tail.len() > 40 {
                        console_tail.remove(0);
                    }
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                timed_out = true;
                break;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let status: Option<ExitStatus> = if timed_out {
        cmd::kill_group(&mut child);
        None
    } else {
        // stdout closed: vng is exiting.
        match cmd::wait_timeout(&mut child, Duration::from_secs(30))? {
            Some(s) => Some(s),
            None => {
                cmd::kill_group(&mut child);
                None
            }
        }
    };
    let _ = std::io::stdout().flush();
    let err_text = stderr_text.join().unwrap_or_default();
    let total_time = start.elapsed();

    let Some((guest_kernel, boot_time)) = p.booted.clone() else {
        let how = match (timed_out, status) {
            (true, _) => format!("no sign of the guest within {:?}", cfg.timeout),
            (false, Some(s)) => format!("vng exited with {s} before the guest script ran"),
            (false, None) => "vng hung after closing its output".to_string(),
        };
        bail!(
            "the VM did not start ({how}); command: {} --run {} --disable-kvm ...\n\
             --- vng stderr (tail) ---\n{}\n--- console (tail) ---\n{}",
            vng.display(),
            kernel.display(),
            last_lines(&err_text, 30),
            console_tail.join("\n")
        );
    };
    let incomplete = if timed_out {
        Some(format!("the VM run exceeded its limit of {:?}", cfg.timeout))
    } else if !p.done {
        Some(format!(
            "the guest stopped before finishing its commands (vng status {})\n--- vng stderr (tail) ---\n{}",
            status.map(|s| s.to_string()).unwrap_or_else(|| "unknown".into()),
            last_lines(&err_text, 30)
        ))
    } else {
        None
    };
    drop(dir);
    Ok(VmRun { results: p.results, guest_kernel, boot_time, total_time, incomplete })
}

fn last_lines(s: &str, n: usize) -> String {
    let v: Vec<&str> = s.lines().collect();
    v[v.len().saturating_sub(n)..].join("\n")
}

/// The script the guest runs: markers around each command, exit codes in the markers.
fn guest_script(nonce: &str, cfg: &VmConfig, cmds: &[VmCommand]) -> Result<String> {
    let m = format!("@@RHA-VM:{nonce}");
    let mut s = String::from("#!/bin/sh\n");
    s += &format!("echo \"{m}:BOOTED:$(uname -r)\"\n");
    let host_kernel = nix::sys::utsname::uname()?.release().to_string_lossy().into_owned();
    let mut env = vec![(HOST_KERNEL_ENV.to_string(), host_kernel), (IN_VM_ENV.to_string(), "1".to_string())];
    env.extend(cfg.env.iter().cloned());
    for (k, v) in env {
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            bail!("invalid environment variable name {k:?}");
        }
        s += &format!("export {k}={}\n", shell_quote(&v));
    }
    if let Ok(cwd) = std::env::current_dir() {
        s += &format!("cd {} 2>/dev/null || cd /\n", shell_quote(&cwd.to_string_lossy()));
    }
    for (i, c) in cmds.iter().enumerate() {
        let argv: Vec<String> = c.argv.iter().map(|a| shell_quote(a)).collect();
        let secs = c.timeout.as_secs().max(1);
        s += &format!("echo \"{m}:BEGIN:{i}\"\n");
        // stderr into stdout: one stream keeps the order of what the command printed.
        s += &format!("timeout -k 10 {secs} {} </dev/null 2>&1\necho \"{m}:END:{i}:$?\"\n", argv.join(" "));
    }
    s += &format!("echo \"{m}:DONE\"\n");
    Ok(s)
}

/// Splits the console stream into per-command outputs using the markers.
struct Parser {
    marker: String,
    results: Vec<VmCommandResult>,
    current: Option<(usize, Duration)>,
    booted: Option<(String, Duration)>,
    done: bool,
}

impl Parser {
    fn new(nonce: &str, cmds: &[VmCommand]) -> Parser {
        Parser {
            marker: format!("@@RHA-VM:{nonce}:"),
            results: cmds
                .iter()
                .map(|c| VmCommandResult {
                    label: c.label.clone(),
                    exit_code: None,
                    output: String::new(),
                    duration: None,
                })
                .collect(),
            current: None,
            booted: None,
            done: false,
        }
    }

    /// Takes one console line; returns the text to show (markers become readable lines).
    fn feed(&mut self, line: &str, now: Duration) -> Option<String> {
        let Some(pos) = line.find(&self.marker) else {
            self.append(line);
            return Some(line.to_string());
        };
        // Output without a final newline ends up in front of the marker.
        let before = &line[..pos];
        if !before.is_empty() {
            self.append(before);
        }
        let rest = &line[pos + self.marker.len()..];
        let mut f = rest.split(':');
        let shown = match (f.next(), f.next(), f.next()) {
            (Some("BOOTED"), kernel, _) => {
                let k = kernel.unwrap_or_default().to_string();
                let msg = format!("vm: guest up after {:.1}s, kernel {k}", now.as_secs_f64());
                self.booted = Some((k, now));
                msg
            }
            (Some("BEGIN"), Some(i), _) => {
                let i: usize = i.parse().unwrap_or(usize::MAX);
                self.current = Some((i, now));
                let label = self.results.get(i).map(|r| r.label.as_str()).unwrap_or("?");
                format!("vm: --- running {label}")
            }
            (Some("END"), Some(i), Some(code)) => {
                let i: usize = i.parse().unwrap_or(usize::MAX);
                let code: Option<i32> = code.trim().parse().ok();
                let started = self.current.take().map(|(_, t)| t).unwrap_or(now);
                let mut label = "?".to_string();
                if let Some(r) = self.results.get_mut(i) {
                    r.exit_code = code;
                    r.duration = Some(now.saturating_sub(started));
                    label = r.label.clone();
                }
                format!("vm: --- {label}: exit code {}", code.unwrap_or(-1))
            }
            (Some("DONE"), _, _) => {
                self.done = true;
                "vm: --- all commands finished".to_string()
            }
            _ => line.to_string(),
        };
        Some(shown)
    }

    fn append(&mut self, text: &str) {
        if let Some((i, _)) = self.current {
            if let Some(r) = self.results.get_mut(i) {
                r.output.push_str(text);
                r.output.push('\n');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmds() -> Vec<VmCommand> {
        vec![VmCommand::new(&["true"]), VmCommand::new(&["false"])]
    }

    #[test]
    fn parser_splits_outputs() {
        let c = cmds();
        let mut p = Parser::new("n1", &c);
        let m = "@@RHA-VM:n1:";
        let t = Duration::from_secs(1);
        p.feed("[    0.000] kernel noise", t);
        p.feed(&format!("{m}BOOTED:6.1.0-56-amd64"), t);
        p.feed(&format!("{m}BEGIN:0"), t);
        p.feed("hello", t);
        p.feed(&format!("partial{m}END:0:0"), t * 2);
        p.feed(&format!("{m}BEGIN:1"), t * 2);
        p.feed(&format!("{m}END:1:1"), t * 3);
        p.feed(&format!("{m}DONE"), t * 3);
        assert_eq!(p.booted.as_ref().unwrap().0, "6.1.0-56-amd64");
        assert_eq!(p.results[0].exit_code, Some(0));
        assert_eq!(p.results[0].output, "hello\npartial\n");
        assert_eq!(p.results[1].exit_code, Some(1));
        assert!(p.done);
        // Another run's markers are plain text.
        assert!(p.feed("@@RHA-VM:other:DONE", t).is_some());
    }

    #[test]
    fn script_has_markers_and_quoting() {
        let c = vec![VmCommand::new(&["/bin/echo", "a b"]).timeout(Duration::from_secs(5))];
        let s = guest_script("n2", &VmConfig::default(), &c).unwrap();
        assert!(s.contains("@@RHA-VM:n2:BOOTED"));
        assert!(s.contains("timeout -k 10 5 /bin/echo 'a b'"));
        assert!(s.contains("@@RHA-VM:n2:END:0:$?"));
        assert!(s.contains(&format!("export {HOST_KERNEL_ENV}=")));
    }

    #[test]
    fn versions_sort_numerically() {
        let mut v = vec!["6.10.0-1-amd64", "6.1.0-56-amd64", "6.9.2-1-amd64"];
        v.sort_by_key(|a| version_key(a));
        assert_eq!(v, ["6.1.0-56-amd64", "6.9.2-1-amd64", "6.10.0-1-amd64"]);
    }
}
