//! `ocf_<provider>_<agent>.7`: the man page of an agent, rendered from its meta-data.
//!
//! The layout follows the pages resource-agents generates for `ocf:heartbeat:*` (NAME,
//! SYNOPSIS, DESCRIPTION, SUPPORTED PARAMETERS, SUPPORTED ACTIONS, EXAMPLE, SEE ALSO), written
//! with the plain man(7) macros only, so `man --warnings` and lintian have nothing to say.

use crate::metadata::{Action, Meta, Param};
use crate::roff::{arg, bold, italic, paragraphs, text};
use std::fmt::Write as _;

/// What the page says beyond the meta-data.
#[derive(Clone, Debug)]
pub struct ManOptions {
    /// OCF provider (the directory under `resource.d`).
    pub provider: String,
    /// `.TH` date, `YYYY-MM-DD`.
    pub date: String,
    /// `.TH` source: package name and version.
    pub source: String,
    /// `.TH` manual title.
    pub manual: String,
    /// Where agents are installed (`$OCF_ROOT/resource.d`).
    pub ocf_resource_dir: String,
    /// Where agents keep per-instance state (`<run_dir>/<agent>/`), if anywhere.
    pub run_dir: Option<String>,
    /// Where the package installs configuration examples, if it does.
    pub examples_dir: Option<String>,
    /// Extra SEE ALSO entries such as `ocf_rha_apache(7)`.
    pub see_also: Vec<String>,
}

impl Default for ManOptions {
    fn default() -> Self {
        ManOptions {
            provider: "rha".into(),
            date: String::new(),
            source: "rha-resource-agents".into(),
            manual: "OCF resource agents".into(),
            ocf_resource_dir: "/usr/lib/ocf/resource.d".into(),
            run_dir: Some("/run/rha".into()),
            examples_dir: None,
            see_also: Vec::new(),
        }
    }
}

/// `ocf_<provider>_<agent>` (the page name, without the section).
pub fn page_name(provider: &str, agent: &str) -> String {
    format!("ocf_{provider}_{agent}")
}

/// What a standard action does, for the SUPPORTED ACTIONS list.
fn action_purpose(name: &str) -> Option<&'static str> {
    Some(match name {
        "start" => "Starts the resource.",
        "stop" => "Stops the resource.",
        "monitor" => "Checks whether the resource is running and healthy.",
        "status" => "Reports whether the resource is running (the older form of monitor).",
        "promote" => "Promotes the resource to the promoted role.",
        "demote" => "Demotes the resource to the unpromoted role.",
        "notify" => "Informs the resource about actions on its clone instances.",
        "migrate_to" => "Migrates the resource to another node.",
        "migrate_from" => "Completes a migration to this node.",
        "reload" => "Applies changed parameters without a restart.",
        "reload-agent" => "Applies changed reloadable parameters without a restart.",
        "recover" => "Recovers the resource.",
        "restart" => "Restarts the resource.",
        "meta-data" => "Prints the agent's description (this page's source) as XML.",
        "validate-all" => "Checks the configuration.",
        "usage" => "Prints a usage line.",
        "methods" => "Lists the supported actions.",
        _ => return None,
    })
}

/// A placeholder for a required parameter's value in the examples.
fn placeholder(p: &Param) -> String {
    match (&p.default, p.options.as_slice()) {
        (Some(d), _) => text(d),
        (None, [first, ..]) => italic(first),
        (None, []) => italic(&p.kind),
    }
}

/// Op attributes of an action for crm/pcs examples, e.g. `interval=10s timeout=20s`.
fn op_attributes(a: &Action) -> String {
    let mut attrs = Vec::new();
    if let Some(i) = &a.interval {
        attrs.push(format!("interval={}", text(i)));
    }
    if let Some(t) = &a.timeout {
        attrs.push(format!("timeout={}", text(t)));
    }
    if let Some(r) = &a.role {
        attrs.push(format!("role={}", text(r)));
    }
    if let Some(d) = a.depth.as_deref().filter(|d| d.trim() != "0") {
        attrs.push(format!("OCF_CHECK_LEVEL={}", text(d)));
    }
    attrs.join(" ")
}

/// A resource id for the examples: `rsc_<agent>` with characters XML ids do not allow replaced.
fn example_id(agent: &str) -> String {
    let tail: String =
        agent.chars().map(|c| if c.is_ascii_alphanumeric() || "_-.".contains(c) { c } else { '_' }).collect();
    format!("rsc_{tail}")
}

/// Renders the man page.
pub fn render(meta: &Meta, opt: &ManOptions) -> String {
    let agent = &meta.name;
    let prov = &opt.provider;
    let page = page_name(prov, agent);
    let spec = format!("ocf:{prov}:{agent}");
    let path = format!("{}/{prov}/{agent}", opt.ocf_resource_dir.trim_end_matches('/'));
    let required: Vec<&Param> = meta.parameters.iter().filter(|p| p.required).collect();
    let has_optional = meta.parameters.iter().any(|p| !p.required);
    let shortdesc = if meta.shortdesc.is_empty() {
        format!("OCF resource agent {agent}")
    } else {
        meta.shortdesc.lines().map(str::trim).collect::<Vec<_>>().join(" ")
    };

    let mut s = String::new();
    // `write!` to a String cannot fail.
    let w = &mut s;
    let _ = writeln!(w, ".\\\" Generated by rha-mkman from the meta-data of {}. Do not edit.", text(&spec));
    let _ = writeln!(
        w,
        ".TH {} 7 {} {} {}",
        arg(&page.to_uppercase()),
        arg(&opt.date),
        arg(&opt.source),
        arg(&opt.manual)
    );
    // No hyphenation, left-aligned: parameter names and values must not be split or stretched.
    w.push_str(".nh\n.ad l\n");

    w.push_str(".SH NAME\n");
    let _ = writeln!(w, "{} \\- {}", text(&page), text(&shortdesc));

    w.push_str(".SH SYNOPSIS\n");
    let mut params_syn = String::new();
    for p in &required {
        let _ = write!(params_syn, " {}={}", text(&p.name), italic(&p.kind));
    }
    if has_optional {
        let _ = write!(params_syn, " [{}={} ...]", italic("parameter"), italic("value"));
    }
    let ops_syn =
        format!(" [{} {} {}={} ...]", bold("op"), italic("action"), italic("attribute"), italic("value"));
    let _ = writeln!(
        w,
        ".PP\n{} {} {}{}{}",
        bold("crm configure primitive"),
        italic("ID"),
        bold(&spec),
        if params_syn.is_empty() { String::new() } else { format!(" {}{params_syn}", bold("params")) },
        ops_syn
    );
    let _ = writeln!(
        w,
        ".PP\n{} {} {}{}{}",
        bold("pcs resource create"),
        italic("ID"),
        bold(&spec),
        params_syn,
        ops_syn
    );
    let actions: Vec<String> = {
        let mut names: Vec<&str> = Vec::new();
        for a in &meta.actions {
            if !names.contains(&a.name.as_str()) {
                names.push(&a.name);
            }
        }
        names.into_iter().map(bold).collect()
    };
    let _ = writeln!(
        w,
        ".PP\n[{}{}={} ...] {} {{{}}}",
        bold("OCF_RESKEY_"),
        italic("parameter"),
        italic("value"),
        bold(&path),
        actions.join(" | ")
    );

    w.push_str(".SH DESCRIPTION\n.PP\n");
    w.push_str(&paragraphs(if meta.longdesc.is_empty() { &shortdesc } else { &meta.longdesc }));
    let _ = writeln!(
        w,
        ".PP\nThe agent is installed as {} for the OCF provider {}; refer to it as {} (never by the bare type {}, which may resolve to another provider\\(aqs agent).",
        italic(&path),
        bold(prov),
        bold(&spec),
        bold(agent)
    );

    w.push_str(".SH \"SUPPORTED PARAMETERS\"\n");
    if meta.parameters.is_empty() {
        w.push_str(".PP\nThis agent has no parameters.\n");
    }
    for p in &meta.parameters {
        let _ = writeln!(w, ".PP\n{}\n.RS 4", bold(&p.name));
        let long_differs =
            !p.longdesc.is_empty() && p.longdesc.trim_end_matches('.') != p.shortdesc.trim_end_matches('.');
        if !p.shortdesc.is_empty() {
            let _ =
                writeln!(w, "{}", italic(&p.shortdesc.lines().map(str::trim).collect::<Vec<_>>().join(" ")));
            if long_differs {
                w.push_str(".sp\n");
            }
        }
        if long_differs || p.shortdesc.is_empty() {
            w.push_str(&paragraphs(&p.longdesc));
        }
        let mut facts = vec![if p.required { "required" } else { "optional" }.to_string()];
        if p.unique {
            facts.push("unique".into());
        }
        if let Some(g) = &p.unique_group {
            facts.push(format!("unique group {g}"));
        }
        if p.reloadable {
            facts.push("reloadable".into());
        }
        if p.advanced {
            facts.push("advanced".into());
        }
        if p.deprecated {
            facts.push(if p.replaced_with.is_empty() {
                "deprecated".into()
            } else {
                format!("deprecated, replaced by {}", p.replaced_with.join(", "))
            });
        }
        facts.push(p.kind.clone());
        if !p.options.is_empty() {
            facts.push(format!("one of: {}", p.options.join(", ")));
        }
        facts.push(match &p.default {
            Some(d) => format!("default \"{d}\""),
            None => "no default".into(),
        });
        let _ = writeln!(w, ".sp\n({})\n.RE", text(&facts.join(", ")));
    }

    w.push_str(
        ".SH \"SUPPORTED ACTIONS\"\n.PP\nThis resource agent supports the following actions (operations):\n",
    );
    for a in &meta.actions {
        let _ = writeln!(w, ".PP\n{}\n.RS 4", bold(&a.name));
        let mut sentences: Vec<String> = Vec::new();
        if let Some(p) = action_purpose(&a.name) {
            sentences.push(p.to_string());
        }
        if let Some(t) = &a.timeout {
            sentences.push(format!("Suggested minimum timeout: {t}."));
        }
        if let Some(i) = a.interval.as_deref().filter(|i| !matches!(i.trim(), "0" | "0s")) {
            sentences.push(format!("Suggested interval: {i}."));
        }
        if let Some(d) = &a.depth {
            sentences.push(format!("Check level (OCF_CHECK_LEVEL): {d}."));
        }
        if let Some(r) = &a.role {
            sentences.push(format!("Role: {r}."));
        }
        if let Some(sd) = &a.start_delay {
            sentences.push(format!("Start delay: {sd}."));
        }
        let _ = writeln!(w, "{}\n.RE", text(&sentences.join(" ")));
    }

    // Examples: the required parameters, and the advised operations.
    let id = example_id(agent);
    let param_args: Vec<String> =
        required.iter().map(|p| format!("{}=\"{}\"", text(&p.name), placeholder(p))).collect();
    let crm_ops: Vec<String> = meta
        .actions
        .iter()
        .filter(|a| matches!(a.name.as_str(), "start" | "stop" | "monitor" | "promote" | "demote"))
        .map(|a| format!("op {} {}", text(&a.name), op_attributes(a)).trim_end().to_string())
        .collect();
    // pcs copies the advised timeouts of the other actions into the CIB by itself.
    let pcs_ops: Vec<String> = meta
        .actions
        .iter()
        .filter(|a| a.name == "monitor")
        .map(|a| format!("op monitor {}", op_attributes(a)).trim_end().to_string())
        .collect();
    w.push_str(".SH EXAMPLE\n");
    let _ = writeln!(w, ".PP\nA resource of this type, configured with {}(8):", bold("crm"));
    example_block(
        w,
        &format!("crm configure primitive {} {}", text(&id), text(&spec)),
        &param_args,
        Some("params"),
        &crm_ops,
    );
    let _ = writeln!(w, ".PP\nThe same with {}(8):", bold("pcs"));
    example_block(
        w,
        &format!("pcs resource create {} {}", text(&id), text(&spec)),
        &param_args,
        None,
        &pcs_ops,
    );
    if let Some(dir) = &opt.examples_dir {
        let _ = writeln!(w, ".PP\nMore complete configurations are installed in {}.", italic(dir));
    }

    w.push_str(".SH FILES\n");
    let _ = writeln!(w, ".TP\n{}\nThe agent.", italic(&path));
    if let Some(run) = &opt.run_dir {
        let _ = writeln!(
            w,
            ".TP\n{}\nPer\\-instance state of running resources, kept across agent calls until the next reboot.",
            italic(&format!("{}/{agent}/", run.trim_end_matches('/')))
        );
    }

    w.push_str(".SH \"SEE ALSO\"\n.PP\n");
    let mut refs: Vec<String> =
        opt.see_also.iter().filter(|r| !r.starts_with(&format!("{page}("))).cloned().collect();
    refs.extend(["crm(8)", "pcs(8)", "crm_resource(8)", "ocf-tester(8)"].map(String::from));
    let refs: Vec<String> = refs
        .iter()
        .map(|r| match r.split_once('(') {
            Some((name, sect)) => format!("{}({sect}", bold(name)),
            None => bold(r),
        })
        .collect();
    let _ = writeln!(w, "{}", refs.join(",\n"));
    s
}

/// A no-fill example: `head \` then indented continuation lines.
fn example_block(w: &mut String, head: &str, params: &[String], params_kw: Option<&str>, ops: &[String]) {
    let mut lines = vec![head.to_string()];
    if !params.is_empty() {
        match params_kw {
            Some(kw) => lines.push(format!("    {kw} {}", params.join(" "))),
            None => lines.push(format!("    {}", params.join(" "))),
        }
    }
    lines.extend(ops.iter().map(|o| format!("    {o}")));
    w.push_str(".PP\n.RS 4\n.nf\n");
    let n = lines.len();
    for (i, l) in lines.into_iter().enumerate() {
        w.push_str(&l);
        w.push_str(if i + 1 < n { " \\e\n" } else { "\n" });
    }
    w.push_str(".fi\n.RE\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::parse;

    const XML: &str = r#"<?xml version="1.0"?>
<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">
<resource-agent name="demo-agent" version="0.1.0">
  <version>1.0</version>
  <longdesc lang="en">Keeps a file.
.Starts with a dot, has a back\slash.

Second paragraph.</longdesc>
  <shortdesc lang="en">Demo agent</shortdesc>
  <parameters>
    <parameter name="path" required="1" unique="1">
      <longdesc lang="en">Where the file is.</longdesc>
      <shortdesc lang="en">File</shortdesc>
      <content type="string"/>
    </parameter>
    <parameter name="mode" required="0" unique="0">
      <longdesc lang="en">How.
Allowed values: a, b.</longdesc>
      <shortdesc lang="en">Mode</shortdesc>
      <content type="string" default="a"/>
    </parameter>
  </parameters>
  <actions>
    <action name="start" timeout="20s"/>
    <action name="stop" timeout="20s"/>
    <action name="monitor" timeout="20s" interval="10s" depth="0"/>
    <action name="monitor" timeout="30s" interval="60s" depth="10"/>
    <action name="validate-all" timeout="20s"/>
    <action name="meta-data" timeout="5s"/>
  </actions>
</resource-agent>
"#;

    /// The complete expected page: any change in the layout shows up here.
    const EXPECTED: &str = r#".\" Generated by rha-mkman from the meta-data of ocf:rha:demo\-agent. Do not edit.
.TH "OCF_RHA_DEMO\-AGENT" 7 "2024\-02\-29" "rha\-resource\-agents 0.1.0\-1" "OCF resource agents"
.nh
.ad l
.SH NAME
ocf_rha_demo\-agent \- Demo agent
.SH SYNOPSIS
.PP
\fBcrm configure primitive\fR \fIID\fR \fBocf:rha:demo\-agent\fR \fBparams\fR path=\fIstring\fR [\fIparameter\fR=\fIvalue\fR ...] [\fBop\fR \fIaction\fR \fIattribute\fR=\fIvalue\fR ...]
.PP
\fBpcs resource create\fR \fIID\fR \fBocf:rha:demo\-agent\fR path=\fIstring\fR [\fIparameter\fR=\fIvalue\fR ...] [\fBop\fR \fIaction\fR \fIattribute\fR=\fIvalue\fR ...]
.PP
[\fBOCF_RESKEY_\fR\fIparameter\fR=\fIvalue\fR ...] \fB/usr/lib/ocf/resource.d/rha/demo\-agent\fR {\fBstart\fR | \fBstop\fR | \fBmonitor\fR | \fBvalidate\-all\fR | \fBmeta\-data\fR}
.SH DESCRIPTION
.PP
Keeps a file.
.br
\&.Starts with a dot, has a back\eslash.
.sp
Second paragraph.
.PP
The agent is installed as \fI/usr/lib/ocf/resource.d/rha/demo\-agent\fR for the OCF provider \fBrha\fR; refer to it as \fBocf:rha:demo\-agent\fR (never by the bare type \fBdemo\-agent\fR, which may resolve to another provider\(aqs agent).
.SH "SUPPORTED PARAMETERS"
.PP
\fBpath\fR
.RS 4
\fIFile\fR
.sp
Where the file is.
.sp
(required, unique, string, no default)
.RE
.PP
\fBmode\fR
.RS 4
\fIMode\fR
.sp
How.
.br
Allowed values: a, b.
.sp
(optional, string, default "a")
.RE
.SH "SUPPORTED ACTIONS"
.PP
This resource agent supports the following actions (operations):
.PP
\fBstart\fR
.RS 4
Starts the resource. Suggested minimum timeout: 20s.
.RE
.PP
\fBstop\fR
.RS 4
Stops the resource. Suggested minimum timeout: 20s.
.RE
.PP
\fBmonitor\fR
.RS 4
Checks whether the resource is running and healthy. Suggested minimum timeout: 20s. Suggested interval: 10s. Check level (OCF_CHECK_LEVEL): 0.
.RE
.PP
\fBmonitor\fR
.RS 4
Checks whether the resource is running and healthy. Suggested minimum timeout: 30s. Suggested interval: 60s. Check level (OCF_CHECK_LEVEL): 10.
.RE
.PP
\fBvalidate\-all\fR
.RS 4
Checks the configuration. Suggested minimum timeout: 20s.
.RE
.PP
\fBmeta\-data\fR
.RS 4
Prints the agent\(aqs description (this page\(aqs source) as XML. Suggested minimum timeout: 5s.
.RE
.SH EXAMPLE
.PP
A resource of this type, configured with \fBcrm\fR(8):
.PP
.RS 4
.nf
crm configure primitive rsc_demo\-agent ocf:rha:demo\-agent \e
    params path="\fIstring\fR" \e
    op start timeout=20s \e
    op stop timeout=20s \e
    op monitor interval=10s timeout=20s \e
    op monitor interval=60s timeout=30s OCF_CHECK_LEVEL=10
.fi
.RE
.PP
The same with \fBpcs\fR(8):
.PP
.RS 4
.nf
pcs resource create rsc_demo\-agent ocf:rha:demo\-agent \e
    path="\fIstring\fR" \e
    op monitor interval=10s timeout=20s \e
    op monitor interval=60s timeout=30s OCF_CHECK_LEVEL=10
.fi
.RE
.PP
More complete configurations are installed in \fI/usr/share/doc/rha\-resource\-agents/examples\fR.
.SH FILES
.TP
\fI/usr/lib/ocf/resource.d/rha/demo\-agent\fR
The agent.
.TP
\fI/run/rha/demo\-agent/\fR
Per\-instance state of running resources, kept across agent calls until the next reboot.
.SH "SEE ALSO"
.PP
\fBocf_rha_other\fR(7),
\fBcrm\fR(8),
\fBpcs\fR(8),
\fBcrm_resource\fR(8),
\fBocf\-tester\fR(8)
"#;

    fn options() -> ManOptions {
        ManOptions {
            date: "2024-02-29".into(),
            source: "rha-resource-agents 0.1.0-1".into(),
            examples_dir: Some("/usr/share/doc/rha-resource-agents/examples".into()),
            see_also: vec!["ocf_rha_demo-agent(7)".into(), "ocf_rha_other(7)".into()],
            ..ManOptions::default()
        }
    }

    #[test]
    fn golden_page() {
        let page = render(&parse(XML).unwrap(), &options());
        if page != EXPECTED {
            for (i, (a, b)) in page.lines().zip(EXPECTED.lines()).enumerate() {
                assert_eq!(a, b, "first difference at line {}", i + 1);
            }
            assert_eq!(page.lines().count(), EXPECTED.lines().count(), "{page}");
        }
    }

    #[test]
    fn no_parameters_and_hostile_text() {
        let xml = r#"<resource-agent name="x"><shortdesc lang="en">'quoted" \fB</shortdesc>
            <parameters/><actions><action name="start" timeout="1s"/></actions></resource-agent>"#;
        let page = render(&parse(xml).unwrap(), &options());
        assert!(page.contains("This agent has no parameters."));
        assert!(page.contains(r#"ocf_rha_x \- \(aqquoted" \efB"#), "{page}");
        // No text line may start with a control character except our own requests.
        for line in page.lines() {
            if line.starts_with('.') || line.starts_with('\'') {
                let req = line.trim_start_matches(['.', '\'']).split_whitespace().next().unwrap_or("");
                assert!(
                    ["\\\"", "TH", "nh", "ad", "SH", "PP", "RS", "RE", "sp", "br", "nf", "fi", "TP"]
                        .contains(&req),
                    "unexpected request line {line:?}"
                );
            }
        }
    }
}
