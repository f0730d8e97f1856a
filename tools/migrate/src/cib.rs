//! `ocf:heartbeat:*` primitives of a CIB to their `ocf:rha:*` equivalents.
//!
//! A primitive is switched only when the rha agent accepts every parameter it sets (from the
//! agent's own meta-data, see [`crate::rha_params`]); otherwise the output says which parameters
//! block it. The switch keeps each primitive's id, parameters, operations and meta attributes and
//! changes only its provider and type, so the printed script is a handful of `cibadmin --modify`
//! calls made on a copy of the CIB and pushed back in ONE change: Pacemaker sees one new
//! configuration and restarts what changed agent in one transition. The script is printed, never
//! run: the administrator reviews it and runs it once (`sh FILE`).

use std::collections::{BTreeMap, BTreeSet};

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use crate::error::Faults;
use crate::names::sh_word;
use crate::plan::Format;
use crate::rha_params::{Source, UPSTREAM, for_upstream};

#[derive(Clone, Debug, Default)]
struct Prim {
    id: String,
    class: String,
    provider: String,
    kind: String,
    /// instance_attributes names, in order.
    params: Vec<String>,
}

#[derive(Default)]
struct Cib {
    prims: Vec<Prim>,
    groups: BTreeMap<String, Vec<String>>,
    /// Clones/bundles: id -> the resource inside.
    clones: BTreeMap<String, String>,
    /// rsc_order first -> then.
    orders: Vec<(String, String)>,
}

fn attr(e: &BytesStart, name: &str) -> Result<Option<String>, String> {
    for a in e.attributes() {
        let a = a.map_err(|e| format!("bad attribute: {e}"))?;
        if AsRef::<str>::as_ref(&a.key) == name {
            let v = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|e| format!("bad attribute value: {e}"))?;
            return Ok(Some(v.into_owned()));
        }
    }
    Ok(None)
}

fn parse(text: &str) -> Result<Cib, String> {
    let mut r = Reader::from_str(text);
    let mut cib = Cib::default();
    // The open elements: (tag, id).
    let mut stack: Vec<(String, Option<String>)> = Vec::new();
    let mut saw_cib = false;
    loop {
        let ev = r.read_event().map_err(|e| format!("not XML at byte {}: {e}", r.buffer_position()))?;
        let (e, empty) = match &ev {
            Event::Start(e) => (e.clone(), false),
            Event::Empty(e) => (e.clone(), true),
            Event::End(_) => {
                stack.pop();
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let tag = AsRef::<str>::as_ref(&e.name()).to_string();
        let id = attr(&e, "id")?;
        if stack.is_empty() && (tag == "cib" || tag == "configuration" || tag == "resources") {
            saw_cib = true;
        }
        let in_resources = stack.iter().any(|(t, _)| t == "resources");
        let parent_tag = stack.last().map(|(t, _)| t.as_str()).unwrap_or("");
        match tag.as_str() {
            "primitive" if in_resources || stack.is_empty() => {
                let id = id.clone().ok_or("a primitive without an id")?;
                let parent = stack
                    .iter()
                    .rev()
                    .find(|(t, _)| matches!(t.as_str(), "group" | "clone" | "master" | "bundle"))
                    .and_then(|(_, i)| i.clone());
                if let Some(p) = &parent {
                    if let Some(g) = cib.groups.get_mut(p) {
                        g.push(id.clone());
                    } else {
                        cib.clones.insert(p.clone(), id.clone());
                    }
                }
                cib.prims.push(Prim {
                    id,
                    class: attr(&e, "class")?.unwrap_or_default(),
                    provider: attr(&e, "provider")?.unwrap_or_default(),
                    kind: attr(&e, "type")?.unwrap_or_default(),
                    params: Vec::new(),
                });
            }
            "group" if in_resources => {
                let id = id.clone().ok_or("a group without an id")?;
                if let Some((_, Some(c))) =
                    stack.iter().rev().find(|(t, _)| matches!(t.as_str(), "clone" | "master"))
                {
                    cib.clones.insert(c.clone(), id.clone());
                }
                cib.groups.insert(id, Vec::new());
            }
            // A parameter: an nvpair of an instance_attributes set of a primitive.
            "nvpair"
                if parent_tag == "instance_attributes"
                    && stack.len() >= 2
                    && stack[stack.len() - 2].0 == "primitive" =>
            {
                let name = attr(&e, "name")?.ok_or("an nvpair without a name")?;
                if let Some(p) = cib.prims.last_mut()
                    && !p.params.contains(&name)
                {
                    p.params.push(name);
                }
            }
            "rsc_order" => {
                if let (Some(f), Some(t)) = (attr(&e, "first")?, attr(&e, "then")?) {
                    cib.orders.push((f, t));
                }
            }
            _ => {}
        }
        if !empty {
            stack.push((tag, id));
        }
    }
    if !saw_cib {
        return Err("not a CIB (no <cib>, <configuration> or <resources> element)".into());
    }
    Ok(cib)
}

/// What the converter decided for one primitive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Switch { id: String, from: String, to: String, assumed: bool },
    Blocked { id: String, from: String, reason: String },
}

/// The decisions and the resources the switch restarts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Conversion {
    pub decisions: Vec<Decision>,
    pub restarts: Vec<String>,
}

pub fn analyse(file: &str, text: &str) -> Result<Conversion, Faults> {
    let cib = parse(text).map_err(|m| {
        let mut f = Faults::default();
        f.push(file, 0, m);
        f
    })?;
    let mut decisions = Vec::new();
    let mut switched = BTreeSet::new();
    for p in &cib.prims {
        if p.class != "ocf" || p.provider != "heartbeat" || !UPSTREAM.contains(&p.kind.as_str()) {
            continue;
        }
        let from = format!("ocf:heartbeat:{}", p.kind);
        let Some((to, supported, source)) = for_upstream(&p.kind) else {
            decisions.push(Decision::Blocked {
                id: p.id.clone(),
                from,
                reason: format!("rha has no agent known to replace {} yet", p.kind),
            });
            continue;
        };
        let blocking: Vec<&str> =
            p.params.iter().map(String::as_str).filter(|n| !supported.contains(n)).collect();
        if blocking.is_empty() {
            switched.insert(p.id.clone());
            decisions.push(Decision::Switch {
                id: p.id.clone(),
                from,
                to: format!("ocf:rha:{to}"),
                assumed: source == Source::Assumed,
            });
        } else {
            decisions.push(Decision::Blocked {
                id: p.id.clone(),
                from,
                reason: format!(
                    "ocf:rha:{to} has no parameter{} {}",
                    if blocking.len() > 1 { "s" } else { "" },
                    blocking.join(", ")
                ),
            });
        }
    }
    Ok(Conversion { restarts: restarts(&cib, &switched), decisions })
}

/// A changed agent restarts its primitive, the members after it in its group, and whatever is
/// ordered after any of those (transitively; groups and clones count as their members).
fn restarts(cib: &Cib, switched: &BTreeSet<String>) -> Vec<String> {
    let mut hit: BTreeSet<String> = switched.clone();
    loop {
        let before = hit.len();
        for members in cib.groups.values() {
            if let Some(i) = members.iter().position(|m| hit.contains(m)) {
                hit.extend(members[i..].iter().cloned());
            }
        }
        let contains = |r: &str, hit: &BTreeSet<String>| -> bool {
            hit.contains(r)
                || cib.groups.get(r).is_some_and(|m| m.iter().any(|x| hit.contains(x)))
                || cib.clones.get(r).is_some_and(|inner| {
                    hit.contains(inner)
                        || cib.groups.get(inner).is_some_and(|m| m.iter().any(|x| hit.contains(x)))
                })
        };
        let mut add = Vec::new();
        for (first, then) in &cib.orders {
            if contains(first, &hit) {
                add.push(then.clone());
            }
        }
        for t in add {
            let members = cib
                .groups
                .get(&t)
                .cloned()
                .or_else(|| {
                    cib.clones.get(&t).map(|i| cib.groups.get(i).cloned().unwrap_or_else(|| vec![i.clone()]))
                })
                .unwrap_or_else(|| vec![t.clone()]);
            hit.extend(members);
        }
        if hit.len() == before {
            break;
        }
    }
    // In the CIB's order.
    cib.prims.iter().filter(|p| hit.contains(&p.id)).map(|p| p.id.clone()).collect()
}

/// The conversion as a reviewed script.
pub fn render(file: &str, c: &Conversion, format: Format) -> String {
    let mut out = String::from("#!/bin/sh\n");
    out.push_str(&format!("# rha-migrate cib: ocf:heartbeat resources of {file} switched to ocf:rha.\n"));
    out.push_str("# Nothing has been changed yet: review this script, then run it once (sh FILE) on a\n");
    out.push_str("# cluster node. It edits a copy of the live CIB and pushes it back in one change.\n#\n");
    let switches: Vec<&Decision> =
        c.decisions.iter().filter(|d| matches!(d, Decision::Switch { .. })).collect();
    for d in &c.decisions {
        match d {
            Decision::Switch { id, from, to, assumed } => out.push_str(&format!(
                "# {id}: {from} -> {to}{}\n",
                if *assumed {
                    " (parameters as that agent's issue specifies; it is not in this build)"
                } else {
                    ""
                }
            )),
            Decision::Blocked { id, from, reason } => {
                out.push_str(&format!("# {id}: stays {from}: {reason}\n"))
            }
        }
    }
    if c.decisions.is_empty() {
        out.push_str("# No ocf:heartbeat resource that rha replaces: nothing to do.\n");
    }
    if switches.is_empty() {
        out.push_str("exit 0\n");
        return out;
    }
    let restarts = c.restarts.join(" ");
    out.push_str(&format!("#\n# These resources will restart (stop, then start) once: {restarts}\n"));
    out.push_str("set -e\n");
    let modify: Vec<String> = switches
        .iter()
        .filter_map(|d| match d {
            Decision::Switch { id, to, .. } => {
                let kind = to.rsplit(':').next().unwrap_or_default();
                let xml = format!(r#"<primitive id="{id}" class="ocf" provider="rha" type="{kind}"/>"#);
                Some(format!("cibadmin --modify --xml-text {}", sh_word(&xml)))
            }
            _ => None,
        })
        .collect();
    match format {
        Format::Crm => {
            out.push_str("shadow=rha-migrate-$$\n");
            out.push_str("crm_shadow --create \"$shadow\" --batch --force\n");
            out.push_str(
                "trap 'crm_shadow --delete \"$shadow\" --batch --force >/dev/null 2>&1 || true' EXIT\n",
            );
            out.push_str("export CIB_shadow=\"$shadow\"\n");
            for m in &modify {
                out.push_str(&format!("{m}\n"));
            }
            out.push_str("crm_verify --live-check\n");
            out.push_str(&format!("echo 'rha-migrate: restarting {restarts}' >&2\n"));
            out.push_str("crm_shadow --commit \"$shadow\" --batch --force\n");
        }
        Format::Pcs => {
            out.push_str("dir=$(mktemp -d)\ntrap 'rm -rf \"$dir\"' EXIT\n");
            out.push_str("pcs cluster cib \"$dir/orig.xml\"\ncp \"$dir/orig.xml\" \"$dir/new.xml\"\n");
            for m in &modify {
                out.push_str(&format!("CIB_file=\"$dir/new.xml\" {m}\n"));
            }
            out.push_str("crm_verify --xml-file \"$dir/new.xml\"\n");
            out.push_str(&format!("echo 'rha-migrate: restarting {restarts}' >&2\n"));
            out.push_str("pcs cluster cib-push \"$dir/new.xml\" diff-against=\"$dir/orig.xml\"\n");
        }
    }
    out
}
