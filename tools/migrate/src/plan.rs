//! A new Pacemaker configuration, and how it is printed for crmsh and for pcs.
//!
//! Both printers take the same plan, so the two forms cannot drift apart; both are
//! deterministic (the plan's order is the input's order).

use crate::names::{crm_value, sh_word};

/// Which tool the printed configuration is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Crm,
    Pcs,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        match s {
            "crm" => Ok(Format::Crm),
            "pcs" => Ok(Format::Pcs),
            _ => Err(format!("unknown format {s:?} (crm or pcs)")),
        }
    }
}

/// One operation of a primitive (`op monitor interval=10s timeout=20s`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    pub name: &'static str,
    pub attrs: Vec<(&'static str, String)>,
}

impl Op {
    pub fn new(name: &'static str, attrs: &[(&'static str, &str)]) -> Op {
        Op { name, attrs: attrs.iter().map(|(k, v)| (*k, v.to_string())).collect() }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Primitive {
    pub id: String,
    /// class:provider:type or class:type.
    pub agent: String,
    pub params: Vec<(String, String)>,
    pub ops: Vec<Op>,
    /// Printed above the primitive (where it came from, what was assumed).
    pub comment: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub id: String,
    pub members: Vec<String>,
    pub meta: Vec<(String, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    pub id: String,
    pub rsc: String,
    pub score: String,
    pub node: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Comment lines at the top.
    pub header: Vec<String>,
    pub properties: Vec<(String, String)>,
    pub primitives: Vec<Primitive>,
    pub groups: Vec<Group>,
    pub locations: Vec<Location>,
    /// Comment lines at the end: what must be done outside the CIB.
    pub advice: Vec<String>,
}

fn comment(out: &mut String, lines: &[String]) {
    for l in lines {
        if l.is_empty() {
            out.push_str("#\n");
        } else {
            out.push_str(&format!("# {l}\n"));
        }
    }
}

fn pairs(v: &[(String, String)], quote: fn(&str) -> String) -> String {
    v.iter().map(|(k, x)| format!("{k}={}", quote(x))).collect::<Vec<_>>().join(" ")
}

fn op_text(op: &Op, quote: fn(&str) -> String) -> String {
    let a: Vec<String> = op.attrs.iter().map(|(k, v)| format!("{k}={}", quote(v))).collect();
    format!("op {} {}", op.name, a.join(" "))
}

impl Plan {
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Crm => self.crm(),
            Format::Pcs => self.pcs(),
        }
    }

    /// A file for `crm configure load update FILE`.
    pub fn crm(&self) -> String {
        let mut out = String::new();
        comment(&mut out, &self.header);
        if !self.header.is_empty() {
            out.push_str("#\n# Load with:  crm configure load update FILE\n");
        }
        if !self.properties.is_empty() {
            out.push_str(&format!("property {}\n", pairs(&self.properties, crm_value)));
        }
        for p in &self.primitives {
            comment(&mut out, &p.comment);
            out.push_str(&format!("primitive {} {}", p.id, p.agent));
            if !p.params.is_empty() {
                out.push_str(&format!(" \\\n    params {}", pairs(&p.params, crm_value)));
            }
            for op in &p.ops {
                out.push_str(&format!(" \\\n    {}", op_text(op, crm_value)));
            }
            out.push('\n');
        }
        for g in &self.groups {
            out.push_str(&format!("group {} {}", g.id, g.members.join(" ")));
            if !g.meta.is_empty() {
                out.push_str(&format!(" \\\n    meta {}", pairs(&g.meta, crm_value)));
            }
            out.push('\n');
        }
        for l in &self.locations {
            out.push_str(&format!("location {} {} {}: {}\n", l.id, l.rsc, l.score, l.node));
        }
        comment(&mut out, &self.advice);
        out
    }

    /// A shell script of pcs commands, for a node of the running cluster.
    pub fn pcs(&self) -> String {
        let mut out = String::from("#!/bin/sh\n");
        comment(&mut out, &self.header);
        if !self.header.is_empty() {
            out.push_str("#\n# Run with:  sh FILE   (on one node of the running cluster)\n");
        }
        out.push_str("set -e\n");
        if !self.properties.is_empty() {
            out.push_str(&format!("pcs property set {}\n", pairs(&self.properties, sh_word)));
        }
        let group_of = |id: &str| self.groups.iter().find(|g| g.members.iter().any(|m| m == id));
        for p in &self.primitives {
            comment(&mut out, &p.comment);
            out.push_str(&format!("pcs resource create {} {}", sh_word(&p.id), p.agent));
            if !p.params.is_empty() {
                out.push_str(&format!(" {}", pairs(&p.params, sh_word)));
            }
            for op in &p.ops {
                out.push_str(&format!(" \\\n    {}", op_text(op, sh_word)));
            }
            if let Some(g) = group_of(&p.id) {
                out.push_str(&format!(" \\\n    --group {}", sh_word(&g.id)));
            }
            out.push('\n');
        }
        for g in &self.groups {
            if !g.meta.is_empty() {
                out.push_str(&format!("pcs resource meta {} {}\n", sh_word(&g.id), pairs(&g.meta, sh_word)));
            }
        }
        for l in &self.locations {
            out.push_str(&format!(
                "pcs constraint location {} prefers {}={}\n",
                sh_word(&l.rsc),
                sh_word(&l.node),
                sh_word(&l.score)
            ));
        }
        comment(&mut out, &self.advice);
        out
    }
}
