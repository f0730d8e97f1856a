//! What the package ships, discovered from `cargo metadata --no-deps --format-version 1`.
//!
//! - Every `bin` target of a package whose manifest is under `<workspace>/agents/`,
//!   `<workspace>/daemons/` (rha-ldirectord) or `<workspace>/tools/` (administrators' tools
//!   such as rha-migrate) is an installed binary.
//!   Its name is the name it is installed as.
//! - Names starting with `rha-` are daemons and tools (`/usr/sbin`); all others are OCF agents
//!   (`/usr/lib/ocf/resource.d/rha`).
//!
//! So a new agent crate is packaged without touching `packaging/`.

use serde_json::Value;
use std::path::Path;

/// Where a binary is installed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Agent,
    Sbin,
}

/// One shipped binary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shipped {
    pub kind: Kind,
    /// The Cargo package that builds it (for `cargo build -p`).
    pub package: String,
    /// The bin target name = the installed file name.
    pub name: String,
    /// The package's directory (where a hand-written man page of a tool may live).
    pub dir: String,
}

/// The parts of the workspace build-deb needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workspace {
    pub root: String,
    pub target_dir: String,
    /// The workspace version (taken from this crate, which inherits `workspace.package`).
    pub version: String,
    pub shipped: Vec<Shipped>,
}

/// A file name that is safe as an agent/tool name: it ends up in paths, shell variables and
/// roff, and Pacemaker hides names starting with a dot.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(['.', '-'])
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "._-+".contains(c))
}

/// Reads the metadata JSON.
pub fn from_metadata(json: &str) -> Result<Workspace, String> {
    let v: Value =
        serde_json::from_str(json).map_err(|e| format!("cargo metadata output is not JSON: {e}"))?;
    let s = |v: &Value, key: &str| -> Result<String, String> {
        v.get(key)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or(format!("cargo metadata has no string {key:?}"))
    };
    let root = s(&v, "workspace_root")?;
    let target_dir = s(&v, "target_directory")?;
    let agents_dir = Path::new(&root).join("agents");
    let tools_dir = Path::new(&root).join("tools");
    let daemons_dir = Path::new(&root).join("daemons");
    let members: Vec<&str> = v
        .get("workspace_members")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let packages = v.get("packages").and_then(Value::as_array).ok_or("cargo metadata has no packages")?;

    let mut version = None;
    let mut shipped = Vec::new();
    for p in packages {
        let id = s(p, "id")?;
        if !members.is_empty() && !members.contains(&id.as_str()) {
            continue;
        }
        let name = s(p, "name")?;
        if name == env!("CARGO_PKG_NAME") {
            version = Some(s(p, "version")?);
        }
        let manifest = s(p, "manifest_path")?;
        let manifest = Path::new(&manifest);
        if ![&agents_dir, &daemons_dir, &tools_dir].iter().any(|d| manifest.starts_with(d)) {
            continue;
        }
        let dir = manifest.parent().unwrap_or(manifest).to_string_lossy().into_owned();
        for t in p.get("targets").and_then(Value::as_array).into_iter().flatten() {
            let is_bin =
                t.get("kind").and_then(Value::as_array).is_some_and(|k| k.iter().any(|k| k == "bin"));
            if !is_bin {
                continue;
            }
            let bin = s(t, "name")?;
            if !valid_name(&bin) {
                return Err(format!(
                    "package {name}: binary name {bin:?} cannot be installed as an agent or tool"
                ));
            }
            let kind = if bin.starts_with("rha-") { Kind::Sbin } else { Kind::Agent };
            if shipped.iter().any(|x: &Shipped| x.name == bin) {
                return Err(format!("two packages build a binary named {bin:?}"));
            }
            shipped.push(Shipped { kind, package: name.clone(), name: bin, dir: dir.clone() });
        }
    }
    shipped.sort_by(|a, b| a.name.cmp(&b.name));
    let version = version.ok_or(concat!("package ", env!("CARGO_PKG_NAME"), " is not in the workspace"))?;
    Ok(Workspace { root, target_dir, version, shipped })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(name: &str, manifest: &str, bins: &[(&str, &str)]) -> String {
        let targets: Vec<String> =
            bins.iter().map(|(n, k)| format!(r#"{{"name":"{n}","kind":["{k}"],"src_path":"x"}}"#)).collect();
        format!(
            r#"{{"id":"path+file://{manifest}#{name}@0.1.0","name":"{name}","version":"0.1.0","manifest_path":"{manifest}","targets":[{}]}}"#,
            targets.join(",")
        )
    }

    #[test]
    fn classifies_binaries() {
        let pkgs = [
            pkg(
                "rha-packaging",
                "/w/packaging/Cargo.toml",
                &[("rha-mkman", "bin"), ("rha_packaging", "lib")],
            ),
            pkg("ocf-shim", "/w/ocf-shim/Cargo.toml", &[("example", "example"), ("ocf_shim", "lib")]),
            pkg("rha-ipaddr2", "/w/agents/IPaddr2/Cargo.toml", &[("IPaddr2", "bin"), ("rha_ipaddr2", "lib")]),
            pkg(
                "rha-ldirectord",
                "/w/agents/ldirectord/Cargo.toml",
                &[("ldirectord", "bin"), ("rha-ldirectord", "bin")],
            ),
            pkg("rha-harness", "/w/tests/harness/Cargo.toml", &[("rha-lab", "bin")]),
            pkg(
                "rha-migrate",
                "/w/tools/migrate/Cargo.toml",
                &[("rha-migrate", "bin"), ("rha_migrate", "lib")],
            ),
        ];
        let ids: Vec<String> = pkgs
            .iter()
            .map(|p| serde_json::from_str::<Value>(p).unwrap()["id"].as_str().unwrap().to_string())
            .collect();
        let json = format!(
            r#"{{"packages":[{}],"workspace_members":{},"workspace_root":"/w","target_directory":"/t"}}"#,
            pkgs.join(","),
            serde_json::to_string(&ids).unwrap()
        );
        let ws = from_metadata(&json).unwrap();
        assert_eq!(ws.version, "0.1.0");
        assert_eq!(ws.target_dir, "/t");
        let got: Vec<(Kind, &str, &str, &str)> = ws
            .shipped
            .iter()
            .map(|s| (s.kind, s.package.as_str(), s.name.as_str(), s.dir.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (Kind::Agent, "rha-ipaddr2", "IPaddr2", "/w/agents/IPaddr2"),
                (Kind::Agent, "rha-ldirectord", "ldirectord", "/w/agents/ldirectord"),
                (Kind::Sbin, "rha-ldirectord", "rha-ldirectord", "/w/agents/ldirectord"),
                (Kind::Sbin, "rha-migrate", "rha-migrate", "/w/tools/migrate"),
            ]
        );
    }

    #[test]
    fn names() {
        assert!(valid_name("IPaddr2") && valid_name("ipvs-service") && valid_name("nfs-export"));
        assert!(
            !valid_name(".hidden")
                && !valid_name("a b")
                && !valid_name("a/b")
                && !valid_name("")
                && !valid_name("-x")
        );
    }
}
