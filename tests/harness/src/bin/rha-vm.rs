//! `rha-vm`: run commands or test executables inside one VM with Debian's stock kernel.
//!
//! `rha-vm run-tests EXE...` is the VM tier of the test suite: it boots once, runs each test
//! executable with `--test-threads=1`, and ends with the line `vm-tier: N passed, N failed`
//! (counts of tests, from libtest's summaries). It exits non-zero when a test failed or the
//! VM could not be started; it never skips.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};

use rha_harness::vm::{self, VmCommand, VmCommandResult, VmConfig};

#[derive(Parser)]
#[command(name = "rha-vm", about = "Run commands inside a VM with Debian's stock kernel")]
struct Cli {
    #[command(subcommand)]
    cmd: Sub,
}

#[derive(Args)]
struct VmOpts {
    /// Limit in seconds for the whole VM run (the VM tier of `tests/run-all` is one run of
    /// every vm_* program: about 40 minutes under TCG on 2 cores, within CI's 90).
    #[arg(long, default_value_t = 3600)]
    timeout: u64,
    /// Guest memory (vng syntax).
    #[arg(long, default_value = "2G")]
    memory: String,
    #[arg(long, default_value_t = 2)]
    cpus: u32,
    /// Kernel image (default: newest /boot/vmlinuz-*).
    #[arg(long)]
    kernel: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Sub {
    /// Run one command in the VM; exit with its exit code.
    Run {
        #[command(flatten)]
        opts: VmOpts,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        cmd: Vec<String>,
    },
    /// Run test executables in the VM, one after the other, each with --test-threads=1.
    RunTests {
        #[command(flatten)]
        opts: VmOpts,
        /// Limit in seconds for each test executable.
        #[arg(long, default_value_t = 900)]
        per_test_timeout: u64,
        /// Also pass --nocapture (show what passing tests print, e.g. timings).
        #[arg(long)]
        nocapture: bool,
        #[arg(required = true)]
        exes: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rha-vm: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn config(o: &VmOpts) -> VmConfig {
    VmConfig {
        kernel: o.kernel.clone(),
        memory: o.memory.clone(),
        cpus: o.cpus,
        timeout: Duration::from_secs(o.timeout),
        ..VmConfig::default()
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.cmd {
        Sub::Run { opts, cmd } => {
            let c = VmCommand::new(&cmd).timeout(Duration::from_secs(opts.timeout));
            let r = vm::run(&config(&opts), &[c])?;
            eprintln!(
                "rha-vm: boot {:.1}s, total {:.1}s",
                r.boot_time.as_secs_f64(),
                r.total_time.as_secs_f64()
            );
            if let Some(why) = &r.incomplete {
                bail!("{why}");
            }
            let code = r.results[0].exit_code.unwrap_or(1);
            Ok(ExitCode::from(code.clamp(0, 255) as u8))
        }
        Sub::RunTests { opts, per_test_timeout, nocapture, exes } => {
            run_tests(&opts, per_test_timeout, nocapture, &exes)
        }
    }
}

fn run_tests(opts: &VmOpts, per_test_timeout: u64, nocapture: bool, exes: &[PathBuf]) -> Result<ExitCode> {
    // Every way of not running the tests still ends with the summary line, counting each
    // executable as a failure.
    let not_run = |e: anyhow::Error| {
        eprintln!("rha-vm: {e:#}");
        println!("vm-tier: 0 passed, {} failed", exes.len());
        Ok(ExitCode::FAILURE)
    };
    let cmds = match test_commands(per_test_timeout, nocapture, exes) {
        Ok(c) => c,
        Err(e) => return not_run(e),
    };
    let run = match vm::run(&config(opts), &cmds) {
        Ok(r) => r,
        Err(e) => return not_run(e),
    };
    Ok(report(&run))
}

/// One guest command per test executable (checked on the host first).
fn test_commands(per_test_timeout: u64, nocapture: bool, exes: &[PathBuf]) -> Result<Vec<VmCommand>> {
    let mut cmds = Vec::new();
    for exe in exes {
        // Absolute paths: the guest starts in our cwd, but be explicit.
        let abs = std::fs::canonicalize(exe).with_context(|| format!("test executable {}", exe.display()))?;
        if rha_harness::cmd::find_in_path(&abs.to_string_lossy()).is_none() {
            bail!("{} is not an executable file", abs.display());
        }
        for hidden in ["/var/tmp", "/run", "/var/log", "/var/cache", "/dev/shm"] {
            if abs.starts_with(hidden) {
                bail!("{} is under {hidden}, which the VM does not share with the host", abs.display());
            }
        }
        let a = abs.to_string_lossy().into_owned();
        let mut argv = vec![a.as_str(), "--test-threads=1"];
        if nocapture {
            argv.push("--nocapture");
        }
        cmds.push(VmCommand::new(&argv).label(&a).timeout(Duration::from_secs(per_test_timeout)));
    }
    Ok(cmds)
}

/// Summarises the run of `run_tests`.
fn report(run: &vm::VmRun) -> ExitCode {
    let (mut passed, mut failed) = (0u64, 0u64);
    println!();
    for r in &run.results {
        let (p, f) = count(r);
        passed += p;
        failed += f;
        // Not worded "N passed": tests/run-all sums every such phrase in the log.
        println!(
            "vm-tier: {} {} (tests ok: {p}, not ok: {f}){}",
            if r.success() { "ok" } else { "FAILED" },
            r.label,
            r.duration.map(|d| format!(" ({:.1}s)", d.as_secs_f64())).unwrap_or_default()
        );
    }
    println!(
        "vm-tier: guest kernel {}, boot {:.1}s, total {:.1}s",
        run.guest_kernel,
        run.boot_time.as_secs_f64(),
        run.total_time.as_secs_f64()
    );
    if let Some(why) = &run.incomplete {
        eprintln!("rha-vm: {why}");
    }
    println!("vm-tier: {passed} passed, {failed} failed");
    if failed == 0 && run.all_passed() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// (passed, failed) of one test executable, from libtest's `test result:` lines. A failing
/// executable whose summary shows no failure (crash, timeout, no summary) counts as one failure.
fn count(r: &VmCommandResult) -> (u64, u64) {
    let (mut p, mut f) = (0, 0);
    for line in r.output.lines() {
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            continue;
        };
        for part in rest.split([';', '.']) {
            let mut w = part.split_whitespace();
            if let (Some(n), Some(what)) = (w.next(), w.next()) {
                match (n.parse::<u64>(), what) {
                    (Ok(n), "passed") => p += n,
                    (Ok(n), "failed") => f += n,
                    _ => {}
                }
            }
        }
    }
    if !r.success() && f == 0 {
        f = 1;
    }
    (p, f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(code: Option<i32>, output: &str) -> VmCommandResult {
        VmCommandResult { label: "t".into(), exit_code: code, output: output.into(), duration: None }
    }

    #[test]
    fn counts_libtest_summaries() {
        let ok = "running 3 tests\ntest result: ok. 3 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s\n";
        assert_eq!(count(&result(Some(0), ok)), (3, 0));
        let bad = "test result: FAILED. 1 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 1.00s\n";
        assert_eq!(count(&result(Some(101), bad)), (1, 2));
        assert_eq!(count(&result(None, "running 1 test\n")), (0, 1));
        assert_eq!(count(&result(Some(0), "")), (0, 0));
    }
}
