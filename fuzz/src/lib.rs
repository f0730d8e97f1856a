//! Shared by the fuzz targets: decoding inputs into parameters, a deterministic name resolver,
//! the assertions every parser's errors must meet, and [`confine`], which gives a target that
//! reads files (Apache `Include`, envfiles' `.`, `rules_file`) a private root holding only a
//! small tree, so an input naming `/dev/zero` or `/` cannot hang or exhaust the fuzzer.

use std::ffi::OsString;
use std::net::Ipv4Addr;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use std::time::Instant;

use ocf_shim::{Action, AgentInfo, Context, OcfCode, OcfError, Params};

/// `OCF_RESKEY_<name>=<value>` pairs from fuzz input: records separated by NUL (values can hold
/// any other byte, as an environment can); each record's first byte picks the parameter.
pub fn params_from(data: &[u8], names: &[&str]) -> Vec<(OsString, OsString)> {
    data.split(|b| *b == 0)
        .filter(|r| !r.is_empty())
        .map(|r| {
            let name = names[r[0] as usize % names.len()];
            (OsString::from(format!("OCF_RESKEY_{name}")), OsString::from_vec(r[1..].to_vec()))
        })
        .collect()
}

/// The whole of one agent invocation from fuzz input, as Pacemaker would make it: the first
/// byte picks the action from `actions`, the rest are the parameters ([`params_from`]).
/// `None` for empty input. Returns what is left after the first byte too, for targets that
/// also read it as text.
pub fn agent_input<'a>(
    data: &'a [u8],
    info: &'static AgentInfo,
    actions: &[Action],
) -> Option<(Params, Context, &'a [u8])> {
    let (&first, rest) = data.split_first()?;
    let action = actions[first as usize % actions.len()].clone();
    let names: Vec<&str> = info.parameters.iter().map(|p| p.name).collect();
    let params = Params::from_pairs(info, params_from(rest, &names));
    let ctx = Context::from_env(action, info, Instant::now());
    Some((params, ctx, rest))
}

/// An error says why (ocf-shim prints it as the one-line `ocf-exit-reason:`, folding line
/// breaks itself) and is an error code.
pub fn check_reason(e: &OcfError) {
    assert!(!e.reason.trim().is_empty(), "empty exit reason (code {:?})", e.code);
    assert!(e.code != OcfCode::Success && e.code != OcfCode::NotRunning, "an error with code {:?}", e.code);
}

/// A configuration error of parameter values is `OCF_ERR_CONFIGURED` (6) or, for what only
/// this node lacks, 2/5: never 1, 3, 4 or 7.
pub fn check_config_error(e: &OcfError) {
    check_reason(e);
    assert!(
        matches!(e.code, OcfCode::ErrConfigured | OcfCode::ErrArgs | OcfCode::ErrInstalled),
        "configuration error with code {:?}: {}",
        e.code,
        e.reason
    );
}

/// Names resolve deterministically, without DNS: a few host names to 203.0.113.x, a few
/// service names to their ports.
pub struct FakeResolver;

impl rha_ipvs::save_format::Resolver for FakeResolver {
    fn host_v4(&self, name: &str) -> Option<Ipv4Addr> {
        match name {
            "localhost" => Some(Ipv4Addr::LOCALHOST),
            "real1" | "real1.example" => Some(Ipv4Addr::new(203, 0, 113, 1)),
            "real2" | "real2.example" => Some(Ipv4Addr::new(203, 0, 113, 2)),
            "vip" => Some(Ipv4Addr::new(198, 51, 100, 10)),
            _ => None,
        }
    }

    fn service_port(&self, name: &str, _protocol: rha_ipvs::Protocol) -> Option<u16> {
        match name {
            "http" | "www" => Some(80),
            "https" => Some(443),
            "domain" => Some(53),
            "ssh" => Some(22),
            _ => None,
        }
    }
}

/// [`confine`] with a copy of this machine's Debian /etc/apache2 and `files` (relative
/// path, content) in the private root: the setup of every apache target.
pub fn confine_with_apache(files: &[(&str, &str)]) {
    confine(|root| {
        copy_tree(Path::new("/etc/apache2"), &root.join("etc/apache2"));
        write_files(root, files);
    })
}

/// Runs the calling thread (libFuzzer's main thread: it runs the target and writes crash
/// files) in a private mount namespace whose root is a fresh tmpfs holding only what `setup`
/// puts there, plus the corpus and artifact paths from the command line at their own paths.
/// Needs root (CAP_SYS_ADMIN); panics otherwise, so a run that cannot confine itself fails.
pub fn confine(setup: impl FnOnce(&Path)) {
    let cwd = std::env::current_dir().expect("cwd");
    // Paths libFuzzer reads and writes: flag values that are paths (-artifact_prefix=, -dict=,
    // ...), corpus directories and input files (every argument not starting with '-').
    let mut keep: Vec<PathBuf> = Vec::new();
    for a in std::env::args_os().skip(1) {
        let b = a.as_bytes();
        // `-flag=value` whose value is a path (artifact prefix, dictionary, ...), or a corpus.
        let path: Option<&[u8]> = if b.first() == Some(&b'-') {
            b.iter().position(|c| *c == b'=').map(|i| &b[i + 1..]).filter(|v| v.contains(&b'/'))
        } else {
            Some(b)
        };
        if let Some(p) = path {
            let p = cwd.join(std::ffi::OsStr::from_bytes(p));
            // For a prefix like ".../crash-", keep its directory.
            let p = if p.exists() { p } else { p.parent().map(Path::to_path_buf).unwrap_or(p) };
            if p.exists() {
                keep.push(p);
            }
        }
    }
    let root = Path::new("/mnt");
    assert!(root.is_dir(), "/mnt is missing: confine() mounts its private root there");
    // SAFETY: plain syscalls with valid C strings; affects this thread's namespaces only.
    unsafe {
        sys(libc::unshare(libc::CLONE_NEWNS | libc::CLONE_FS), "unshare(CLONE_NEWNS) (run as root)");
        sys(
            libc::mount(
                c"none".as_ptr(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ),
            "making / private",
        );
        sys(
            libc::mount(
                c"tmpfs".as_ptr(),
                c"/mnt".as_ptr(),
                c"tmpfs".as_ptr(),
                0,
                c"size=64m,mode=0755".as_ptr().cast(),
            ),
            "mounting a tmpfs root",
        );
    }
    setup(root);
    for p in &keep {
        let inside = root.join(p.strip_prefix("/").unwrap_or(p));
        if p.is_dir() {
            std::fs::create_dir_all(&inside).expect("mount point");
        } else {
            std::fs::create_dir_all(inside.parent().unwrap()).expect("mount point");
            std::fs::write(&inside, b"").expect("mount point");
        }
        bind(p, &inside);
    }
    let inside_cwd = root.join(cwd.strip_prefix("/").unwrap_or(&cwd));
    std::fs::create_dir_all(&inside_cwd).expect("cwd inside");
    std::os::unix::fs::chroot(root).expect("chroot");
    std::env::set_current_dir(&cwd).expect("chdir inside the new root");
}

fn bind(from: &Path, to: &Path) {
    let f = std::ffi::CString::new(from.as_os_str().as_bytes()).unwrap();
    let t = std::ffi::CString::new(to.as_os_str().as_bytes()).unwrap();
    // SAFETY: valid C strings.
    unsafe {
        sys(
            libc::mount(
                f.as_ptr(),
                t.as_ptr(),
                std::ptr::null(),
                libc::MS_BIND | libc::MS_REC,
                std::ptr::null(),
            ),
            "bind-mounting a fuzzer path",
        );
    }
}

fn sys(r: libc::c_int, what: &str) {
    assert!(r == 0, "{what}: {}", std::io::Error::last_os_error());
}

/// Copies `from` into `to` (files, directories, symlinks as symlinks).
pub fn copy_tree(from: &Path, to: &Path) {
    let Ok(meta) = std::fs::symlink_metadata(from) else { return };
    if meta.file_type().is_symlink() {
        if let Ok(target) = std::fs::read_link(from) {
            let _ = std::os::unix::fs::symlink(target, to);
        }
    } else if meta.is_dir() {
        let _ = std::fs::create_dir_all(to);
        if let Ok(rd) = std::fs::read_dir(from) {
            for e in rd.flatten() {
                copy_tree(&e.path(), &to.join(e.file_name()));
            }
        }
    } else if meta.is_file() && meta.len() < 1 << 20 {
        let _ = std::fs::copy(from, to);
    }
}

/// Writes `files` (path relative to `root`, content) under `root`.
pub fn write_files(root: &Path, files: &[(&str, &str)]) {
    for (rel, content) in files {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).expect("directory");
        std::fs::write(&p, content).expect("file");
    }
}
