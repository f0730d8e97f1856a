//! Reading an Apache httpd configuration the way httpd does, for the few directives the agent
//! needs: `ServerRoot`, `Include`/`IncludeOptional` (files, directories and wildcards),
//! `Define`/`UnDefine` and `${VAR}`, `LoadModule` (to evaluate `<IfModule>`), `<IfDefine>`,
//! `<IfFile>`, `PidFile`, `DefaultRuntimeDir`, `Listen`, `Port`, the main `ErrorLog`, and the
//! `<Location>` whose handler is `server-status`.
//!
//! The reader is lenient: a missing `Include` target or a malformed line becomes a warning (httpd's
//! own `configtest` is the authority on validity, and start runs it). Only an unreadable main
//! file is an error.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::glob::{expand, has_wildcards};

/// Nested `Include`s deeper than this are ignored (httpd stops at 128).
const MAX_INCLUDE_DEPTH: usize = 64;

/// Modules compiled into the Debian, RHEL and SUSE httpd binaries (`httpd -l`): `<IfModule>`
/// must see them without a `LoadModule`.
const STATIC_MODULES: &[&str] =
    &["core", "so", "watchdog", "http_core", "log_config", "logio", "version", "unixd"];

/// One `Listen` directive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listen {
    /// The address part, `None` for all addresses (`Listen 80`).
    pub host: Option<String>,
    pub port: u16,
    /// The optional protocol argument (`https`).
    pub protocol: Option<String>,
}

impl Listen {
    /// Parse `[addr:]port [protocol]`; `None` if the port is not a number.
    pub fn parse(args: &[String]) -> Option<Listen> {
        let spec = args.first()?;
        let (host, port) = if let Some(rest) = spec.strip_prefix('[') {
            let (addr, port) = rest.split_once("]:")?;
            (Some(addr.to_string()), port)
        } else if let Some((h, p)) = spec.rsplit_once(':') {
            (Some(h.to_string()), p)
        } else {
            (None, spec.as_str())
        };
        let port = port.parse::<u16>().ok().filter(|&p| p > 0)?;
        let host = host.filter(|h| !h.is_empty());
        Some(Listen { host, port, protocol: args.get(1).map(|p| p.to_ascii_lowercase()) })
    }

    /// Whether this listens on every address (so loopback reaches it).
    pub fn is_wildcard(&self) -> bool {
        match self.host.as_deref() {
            None | Some("*") => true,
            Some(h) => h.parse::<IpAddr>().is_ok_and(|a| a.is_unspecified()),
        }
    }

    /// `https` by protocol argument, or by port 443 without one (as httpd decides).
    pub fn is_https(&self) -> bool {
        match self.protocol.as_deref() {
            Some(p) => p == "https",
            None => self.port == 443,
        }
    }
}

/// Where the `server-status` handler is mapped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusLocation {
    /// The `<Location>` path, e.g. `/server-status`.
    pub path: String,
    /// The `<VirtualHost>` arguments when the Location is inside one.
    pub vhost: Option<Vec<String>>,
}

/// What the agent learned from the configuration.
#[derive(Clone, Debug, Default)]
pub struct ApacheConf {
    pub server_root: PathBuf,
    /// The effective `PidFile` (absolute), if the configuration sets one.
    pub pid_file: Option<PathBuf>,
    /// `DefaultRuntimeDir` (absolute), if set.
    pub runtime_dir: Option<PathBuf>,
    /// `Listen` directives in effect, in order.
    pub listens: Vec<Listen>,
    /// The Apache 1.3 `Port` directive.
    pub port: Option<u16>,
    /// The first `<Location>` with `SetHandler server-status` outside any virtual host, else
    /// the first one inside one.
    pub status: Option<StatusLocation>,
    /// The main server's `ErrorLog` when it is a file (not a pipe or syslog).
    pub error_log: Option<PathBuf>,
    /// Files read, in order.
    pub files: Vec<PathBuf>,
    /// Problems that httpd itself would report (configtest is the judge).
    pub warnings: Vec<String>,
}

/// What, besides the file, shapes how httpd reads its configuration.
#[derive(Clone, Debug, Default)]
pub struct ParseOptions {
    pub configfile: PathBuf,
    /// httpd's compiled-in ServerRoot (or `-d`).
    pub server_root: PathBuf,
    /// `-D` names (the agent always passes `STATUS` and `FOREGROUND`).
    pub defines: Vec<String>,
    /// `-C` directives (before the file) and `-c` directives (after it).
    pub pre_directives: Vec<String>,
    pub post_directives: Vec<String>,
    /// httpd's environment, for `${VAR}`.
    pub env: BTreeMap<String, String>,
}

/// Read the configuration. Fails only when the main file cannot be read.
pub fn parse(opts: &ParseOptions) -> std::io::Result<ApacheConf> {
    let mut p = Reader {
        opts,
        conf: ApacheConf { server_root: opts.server_root.clone(), ..Default::default() },
        defines: opts.defines.iter().map(|d| (d.clone(), None)).collect(),
        modules: STATIC_MODULES.iter().flat_map(|m| module_names(m)).collect(),
        stack: Vec::new(),
        pid_file_raw: None,
        runtime_dir_raw: None,
        vhost_status: None,
    };
    for d in &opts.pre_directives {
        p.line(d, 0);
    }
    let main = p.resolve(&opts.configfile.to_string_lossy());
    let text = std::fs::read(&main)?;
    p.conf.files.push(main.clone());
    p.text(&String::from_utf8_lossy(&text), 1);
    p.stack.clear();
    for d in &opts.post_directives {
        p.line(d, 0);
    }
    Ok(p.finish())
}

/// Both names a module goes by in `<IfModule>`: `status_module` and `mod_status.c`.
fn module_names(stem: &str) -> [String; 2] {
    [format!("{stem}_module"), format!("mod_{stem}.c")]
}

struct Section {
    name: String,
    active: bool,
    args: Vec<String>,
}

struct Reader<'a> {
    opts: &'a ParseOptions,
    conf: ApacheConf,
    /// `-D` names and `Define`d variables (with their values).
    defines: BTreeMap<String, Option<String>>,
    modules: BTreeSet<String>,
    stack: Vec<Section>,
    pid_file_raw: Option<String>,
    runtime_dir_raw: Option<String>,
    vhost_status: Option<StatusLocation>,
}

impl Reader<'_> {
    fn active(&self) -> bool {
        self.stack.last().is_none_or(|s| s.active)
    }

    fn in_section(&self, name: &str) -> Option<&Section> {
        self.stack.iter().rev().find(|s| s.name == name)
    }

    /// A path relative to ServerRoot made absolute.
    fn resolve(&self, p: &str) -> PathBuf {
        let path = Path::new(p);
        if path.is_absolute() { path.to_path_buf() } else { self.conf.server_root.join(path) }
    }

    /// `${VAR}`: a `Define`d variable, else httpd's environment; unknown ones stay as written.
    fn substitute(&self, line: &str) -> String {
        if !line.contains("${") {
            return line.to_string();
        }
        let mut out = String::with_capacity(line.len());
        let mut rest = line;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            match after.find('}') {
                Some(end) => {
                    let name = &after[..end];
                    let value = self
                        .defines
                        .get(name)
                        .and_then(|v| v.clone())
                        .or_else(|| self.opts.env.get(name).cloned());
                    match value {
                        Some(v) => out.push_str(&v),
                        None => out.push_str(&rest[start..start + 2 + end + 1]),
                    }
                    rest = &after[end + 1..];
                }
                None => {
                    out.push_str(&rest[start..]);
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        out
    }

    fn text(&mut self, text: &str, depth: usize) {
        let mut logical = String::new();
        for raw in text.lines() {
            let trimmed_end = raw.trim_end();
            if let Some(cont) = trimmed_end.strip_suffix('\\') {
                logical.push_str(cont);
                logical.push(' ');
                continue;
            }
            logical.push_str(trimmed_end);
            let line = std::mem::take(&mut logical);
            self.line(&line, depth);
        }
        if !logical.is_empty() {
            self.line(&logical.clone(), depth);
        }
    }

    fn line(&mut self, line: &str, depth: usize) {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return;
        }
        let line = self.substitute(line);
        if let Some(close) = line.strip_prefix("</") {
            let name = close.trim_end_matches('>').trim().to_ascii_lowercase();
            // Pop to the matching section (tolerating a missing close tag inside it).
            if let Some(pos) = self.stack.iter().rposition(|s| s.name == name) {
                self.stack.truncate(pos);
            }
            return;
        }
        if let Some(open) = line.strip_prefix('<') {
            let open = open.trim_end();
            let open = open.strip_suffix('>').unwrap_or(open);
            let words = split_args(open);
            let Some((name, args)) = words.split_first() else { return };
            let name = name.to_ascii_lowercase();
            let active = self.active() && self.condition(&name, args);
            self.stack.push(Section { name, active, args: args.to_vec() });
            return;
        }
        if !self.active() {
            return;
        }
        let words = split_args(&line);
        let Some((directive, args)) = words.split_first() else { return };
        self.directive(&directive.to_ascii_lowercase(), args, depth);
    }

    fn condition(&self, section: &str, args: &[String]) -> bool {
        let arg = args.first().map(String::as_str).unwrap_or("");
        let (negate, arg) = match arg.strip_prefix('!') {
            Some(a) => (true, a),
            None => (false, arg),
        };
        let holds = match section {
            "ifmodule" => self.modules.contains(arg),
            "ifdefine" => self.defines.contains_key(arg),
            "iffile" => self.resolve(arg.trim_matches('"')).exists(),
            // <IfVersion>, <IfDirective>, <IfSection>, <If>/<ElseIf>/<Else> and every ordinary
            // section: assume their content applies.
            _ => return true,
        };
        holds != negate
    }

    fn directive(&mut self, name: &str, args: &[String], depth: usize) {
        let first = args.first().map(String::as_str);
        match (name, first) {
            ("serverroot", Some(root)) => self.conf.server_root = PathBuf::from(root),
            ("define", Some(var)) => {
                self.defines.insert(var.to_string(), args.get(1).cloned());
            }
            ("undefine", Some(var)) => {
                self.defines.remove(var);
            }
            ("loadmodule", Some(id)) => {
                self.modules.insert(id.to_string());
                if let Some(stem) = id.strip_suffix("_module") {
                    self.modules.insert(format!("mod_{stem}.c"));
                }
                if let Some(file) =
                    args.get(1).and_then(|f| Path::new(f).file_stem()).and_then(|s| s.to_str())
                {
                    self.modules.insert(format!("{file}.c"));
                }
            }
            ("include" | "includeoptional", Some(spec)) => {
                self.include(spec, name == "includeoptional", depth)
            }
            ("pidfile", Some(f)) => self.pid_file_raw = Some(f.to_string()),
            ("defaultruntimedir", Some(d)) => self.runtime_dir_raw = Some(d.to_string()),
            ("listen", Some(_)) => match Listen::parse(args) {
                Some(l) => self.conf.listens.push(l),
                None => self.conf.warnings.push(format!("cannot parse Listen {}", args.join(" "))),
            },
            ("port", Some(p)) => self.conf.port = p.parse().ok(),
            ("errorlog", Some(f)) if self.in_section("virtualhost").is_none() => {
                self.conf.error_log =
                    if f.starts_with('|') || f.starts_with("syslog") { None } else { Some(self.resolve(f)) };
            }
            ("sethandler", Some(h)) if h.eq_ignore_ascii_case("server-status") => self.status_handler(),
            _ => {}
        }
    }

    fn status_handler(&mut self) {
        let Some(loc) = self.in_section("location") else { return };
        let Some(path) = loc.args.first() else { return };
        let found = StatusLocation {
            path: path.clone(),
            vhost: self.in_section("virtualhost").map(|v| v.args.clone()),
        };
        if found.vhost.is_none() {
            if self.conf.status.is_none() {
                self.conf.status = Some(found);
            }
        } else if self.vhost_status.is_none() {
            self.vhost_status = Some(found);
        }
    }

    fn include(&mut self, spec: &str, optional: bool, depth: usize) {
        if depth >= MAX_INCLUDE_DEPTH {
            self.conf.warnings.push(format!("Include {spec}: nested too deeply"));
            return;
        }
        let path = self.resolve(spec);
        let files = if has_wildcards(&path.to_string_lossy()) {
            let matches = expand(&path);
            if matches.is_empty() && !optional {
                self.conf.warnings.push(format!("Include {spec}: no file matches"));
            }
            matches.into_iter().flat_map(|p| self.files_under(&p)).collect::<Vec<_>>()
        } else if path.exists() {
            self.files_under(&path)
        } else {
            if !optional {
                self.conf.warnings.push(format!("Include {spec}: {} does not exist", path.display()));
            }
            Vec::new()
        };
        for f in files {
            match std::fs::read(&f) {
                Ok(bytes) => {
                    self.conf.files.push(f.clone());
                    self.text(&String::from_utf8_lossy(&bytes), depth + 1);
                }
                Err(e) => self.conf.warnings.push(format!("Include {}: {e}", f.display())),
            }
        }
    }

    /// A file, or every file under a directory (recursively, sorted), as httpd includes them.
    fn files_under(&self, path: &Path) -> Vec<PathBuf> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        collect_files(path, &mut seen, &mut out);
        out
    }

    fn finish(mut self) -> ApacheConf {
        let root = self.conf.server_root.clone();
        self.conf.runtime_dir = self.runtime_dir_raw.as_deref().map(|d| absolute(&root, d));
        // A relative PidFile is relative to DefaultRuntimeDir when set, else to ServerRoot.
        self.conf.pid_file = self.pid_file_raw.as_deref().map(|f| match &self.conf.runtime_dir {
            Some(rt) => absolute(rt, f),
            None => absolute(&root, f),
        });
        if self.conf.status.is_none() {
            self.conf.status = self.vhost_status.take();
        }
        self.conf
    }
}

/// Every file under `path`, each directory read once: symbolic links may make the tree a
/// graph with cycles (`d/a -> .`), which httpd refuses ("Too many levels of symbolic links")
/// but which must never make the agent loop — stop has to return.
fn collect_files(path: &Path, seen: &mut HashSet<(u64, u64)>, out: &mut Vec<PathBuf>) {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(path) else {
        out.push(path.to_path_buf());
        return;
    };
    if !meta.is_dir() {
        out.push(path.to_path_buf());
        return;
    }
    if !seen.insert((meta.dev(), meta.ino())) {
        return;
    }
    let mut names: Vec<PathBuf> = match std::fs::read_dir(path) {
        Ok(rd) => rd.filter_map(|e| e.ok()).map(|e| e.path()).collect(),
        Err(_) => return,
    };
    names.sort();
    for p in names {
        collect_files(&p, seen, out);
    }
}

fn absolute(base: &Path, p: &str) -> PathBuf {
    let path = Path::new(p);
    if path.is_absolute() { path.to_path_buf() } else { base.join(path) }
}

/// Split directive arguments as httpd's `ap_getword_conf` does: whitespace-separated, with
/// `"..."` or `'...'` quoting and backslash escapes inside quotes.
pub fn split_args(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&c) = chars.peek() else { break };
        let mut word = String::new();
        if c == '"' || c == '\'' {
            chars.next();
            while let Some(ch) = chars.next() {
                if ch == '\\' && chars.peek().is_some_and(|&n| n == c || n == '\\') {
                    word.push(chars.next().unwrap_or(ch));
                } else if ch == c {
                    break;
                } else {
                    word.push(ch);
                }
            }
        } else {
            while let Some(&ch) = chars.peek() {
                if ch.is_whitespace() {
                    break;
                }
                word.push(ch);
                chars.next();
            }
        }
        out.push(word);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(configfile: &Path, root: &Path) -> ParseOptions {
        ParseOptions {
            configfile: configfile.to_path_buf(),
            server_root: root.to_path_buf(),
            defines: vec!["STATUS".into(), "FOREGROUND".into()],
            ..Default::default()
        }
    }

    #[test]
    fn listen_forms() {
        let l = |s: &str| Listen::parse(&split_args(s));
        assert_eq!(l("80"), Some(Listen { host: None, port: 80, protocol: None }));
        assert_eq!(l("198.51.100.10:8080").unwrap().host.as_deref(), Some("198.51.100.10"));
        let v6 = l("[2001:db8::1]:443 https").unwrap();
        assert_eq!((v6.host.as_deref(), v6.port, v6.is_https()), (Some("2001:db8::1"), 443, true));
        assert!(l("[::]:80").unwrap().is_wildcard());
        assert!(l("0.0.0.0:80").unwrap().is_wildcard());
        assert!(!l("127.0.0.1:80").unwrap().is_wildcard());
        assert!(l("443").unwrap().is_https());
        assert!(!l("443 http").unwrap().is_https());
        assert_eq!(l("x"), None);
        assert_eq!(l("1.2.3.4:0"), None);
        assert_eq!(l(""), None);
    }

    /// `d/a -> .` and `d/b -> .` make 2^depth paths; each directory must be read once.
    #[test]
    fn self_including_directory_terminates() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("d");
        std::fs::create_dir(&dir).unwrap();
        std::os::unix::fs::symlink(".", dir.join("a")).unwrap();
        std::os::unix::fs::symlink(".", dir.join("b")).unwrap();
        std::fs::write(dir.join("x.conf"), "Listen 8081\n").unwrap();
        let mut seen = HashSet::new();
        let mut files = Vec::new();
        collect_files(&dir, &mut seen, &mut files);
        assert_eq!(files, vec![dir.join("x.conf")]);
    }

    #[test]
    fn quoting() {
        assert_eq!(
            split_args(r#"Location "/a b" 'c' d\e "x\"y""#),
            vec!["Location", "/a b", "c", "d\\e", "x\"y"]
        );
    }

    /// A tree shaped like Debian's, with `IncludeOptional` globs, `${VAR}`, `<IfModule>` and
    /// `<IfDefine>`.
    #[test]
    fn debian_like_tree() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        for sub in ["mods-enabled", "sites-enabled", "conf.d/sub"] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
        }
        std::fs::write(
            root.join("apache2.conf"),
            "# comment\nPidFile ${APACHE_PID_FILE}\nErrorLog ${APACHE_LOG_DIR}/error.log\n\
             IncludeOptional mods-enabled/*.load\nIncludeOptional mods-enabled/*.conf\n\
             Include ports.conf\nIncludeOptional sites-enabled/*.conf\nIncludeOptional nothing/*.conf\n\
             Include conf.d\n<IfDefine NOPE>\nListen 9999\n</IfDefine>\n",
        )
        .unwrap();
        std::fs::write(
            root.join("ports.conf"),
            "Listen 80\n<IfModule ssl_module>\n  Listen 443\n</IfModule>\n",
        )
        .unwrap();
        std::fs::write(root.join("mods-enabled/status.load"), "LoadModule status_module /x/mod_status.so\n")
            .unwrap();
        std::fs::write(
            root.join("mods-enabled/status.conf"),
            "<IfModule mod_status.c>\n<Location \"/my-status\">\n\tSetHandler server-status\n</Location>\n</IfModule>\n",
        )
        .unwrap();
        std::fs::write(
            root.join("sites-enabled/000-default.conf"),
            "<VirtualHost *:80>\nErrorLog /vhost.log\n</VirtualHost>\n",
        )
        .unwrap();
        std::fs::write(root.join("conf.d/sub/deep.conf"), "<IfDefine STATUS>\nDefine DEEP\n</IfDefine>\n<IfDefine DEEP>\nListen 127.0.0.1:8081\n</IfDefine>\n").unwrap();
        let mut o = opts(&root.join("apache2.conf"), root);
        o.env.insert("APACHE_PID_FILE".into(), "/run/apache2/apache2.pid".into());
        o.env.insert("APACHE_LOG_DIR".into(), "/var/log/apache2".into());
        let conf = parse(&o).unwrap();
        assert_eq!(conf.pid_file, Some(PathBuf::from("/run/apache2/apache2.pid")));
        assert_eq!(conf.error_log, Some(PathBuf::from("/var/log/apache2/error.log")));
        assert_eq!(conf.status.as_ref().map(|s| s.path.as_str()), Some("/my-status"));
        let listens: Vec<_> = conf.listens.iter().map(|l| (l.host.clone(), l.port)).collect();
        assert_eq!(listens, vec![(None, 80), (Some("127.0.0.1".into()), 8081)]);
        assert!(conf.warnings.is_empty(), "{:?}", conf.warnings);
    }

    #[test]
    fn pidfile_relative_to_runtime_dir_or_server_root_and_overrides() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("httpd.conf");
        std::fs::write(&f, "ServerRoot /srv/httpd\nPidFile run/httpd.pid\n").unwrap();
        let conf = parse(&opts(&f, Path::new("/etc/apache2"))).unwrap();
        assert_eq!(conf.pid_file, Some(PathBuf::from("/srv/httpd/run/httpd.pid")));
        std::fs::write(&f, "DefaultRuntimeDir /run/x\nPidFile httpd.pid\n").unwrap();
        let mut o = opts(&f, Path::new("/etc/apache2"));
        let conf = parse(&o).unwrap();
        assert_eq!(conf.pid_file, Some(PathBuf::from("/run/x/httpd.pid")));
        o.post_directives.push("PidFile /run/override.pid".into());
        assert_eq!(parse(&o).unwrap().pid_file, Some(PathBuf::from("/run/override.pid")));
    }

    #[test]
    fn status_in_vhost_only_when_no_global_one() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("httpd.conf");
        std::fs::write(
            &f,
            "<VirtualHost 127.0.0.1:8080>\n<Location /vs>\nSetHandler server-status\n</Location>\n</VirtualHost>\n",
        )
        .unwrap();
        let conf = parse(&opts(&f, d.path())).unwrap();
        let s = conf.status.unwrap();
        assert_eq!((s.path.as_str(), s.vhost), ("/vs", Some(vec!["127.0.0.1:8080".to_string()])));
        std::fs::write(
            &f,
            "<VirtualHost *:80>\n<Location /vs>\nSetHandler server-status\n</Location>\n</VirtualHost>\n\
             <Location /global>\nSetHandler server-status\n</Location>\n",
        )
        .unwrap();
        assert_eq!(parse(&opts(&f, d.path())).unwrap().status.unwrap().path, "/global");
    }

    #[test]
    fn include_loops_and_missing_files_are_warnings() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("httpd.conf");
        std::fs::write(&f, format!("Include {}\nInclude /nonexistent.conf\nListen 81\n", f.display()))
            .unwrap();
        let conf = parse(&opts(&f, d.path())).unwrap();
        assert!(conf.warnings.iter().any(|w| w.contains("nested too deeply")));
        assert!(conf.warnings.iter().any(|w| w.contains("nonexistent")));
        assert_eq!(conf.listens.len(), MAX_INCLUDE_DEPTH);
        assert!(parse(&opts(&d.path().join("missing.conf"), d.path())).is_err());
    }

    #[test]
    fn stock_debian_configuration() {
        let f = Path::new("/etc/apache2/apache2.conf");
        if !f.exists() {
            return;
        }
        let mut o = opts(f, Path::new("/etc/apache2"));
        o.env.insert("APACHE_PID_FILE".into(), "/var/run/apache2/apache2.pid".into());
        let conf = parse(&o).unwrap();
        assert_eq!(conf.pid_file, Some(PathBuf::from("/var/run/apache2/apache2.pid")));
        assert_eq!(conf.status.map(|s| s.path), Some("/server-status".to_string()));
        assert_eq!(conf.listens.first().map(|l| l.port), Some(80));
    }
}
