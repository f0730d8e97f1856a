//! The declarative agent description and its meta-data XML.
//!
//! Two dialects are produced from one description:
//! - OCF 1.0 (the default, and what `ocf-tester` validates against `ra-api-1.dtd`): no
//!   `select`, `unique-group`, `reloadable` or `reload-agent`; allowed values of a select
//!   parameter are written into its long description instead.
//! - OCF 1.1, only when the caller announces `OCF_RA_VERSION_MAJOR.MINOR >= 1.1` (Pacemaker
//!   2.1+ does, also for `crm_resource --show-metadata` used by pcs and crmsh).

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

/// The type of a parameter's value; parsing in [`crate::Params`] follows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamType {
    String,
    Integer,
    /// Any form Pacemaker's `crm_is_true` accepts: yes/no, true/false, on/off, y/n, 1/0.
    Boolean,
    /// One of a fixed list of values (rendered as `select` in OCF 1.1).
    Select(&'static [&'static str]),
}

/// One instance parameter.
#[derive(Clone, Copy, Debug)]
pub struct Parameter {
    pub name: &'static str,
    pub kind: ParamType,
    pub shortdesc: &'static str,
    pub longdesc: &'static str,
    pub default: Option<&'static str>,
    pub required: bool,
    /// OCF 1.0 `unique="1"`: no two resources may share the value.
    pub unique: bool,
    /// OCF 1.1 `unique-group`: no two resources may share the combination.
    pub unique_group: Option<&'static str>,
    /// OCF 1.1 `reloadable="1"`: changed through `reload-agent` without a restart.
    pub reloadable: bool,
    /// Accepted for compatibility but not described (e.g. IPaddr2's legacy `netmask`).
    pub hidden: bool,
}

impl Parameter {
    const fn new(name: &'static str, kind: ParamType) -> Self {
        Parameter {
            name,
            kind,
            shortdesc: "",
            longdesc: "",
            default: None,
            required: false,
            unique: false,
            unique_group: None,
            reloadable: false,
            hidden: false,
        }
    }
    pub const fn string(name: &'static str) -> Self {
        Self::new(name, ParamType::String)
    }
    pub const fn integer(name: &'static str) -> Self {
        Self::new(name, ParamType::Integer)
    }
    pub const fn boolean(name: &'static str) -> Self {
        Self::new(name, ParamType::Boolean)
    }
    pub const fn select(name: &'static str, values: &'static [&'static str]) -> Self {
        Self::new(name, ParamType::Select(values))
    }
    pub const fn short(mut self, text: &'static str) -> Self {
        self.shortdesc = text;
        self
    }
    pub const fn long(mut self, text: &'static str) -> Self {
        self.longdesc = text;
        self
    }
    pub const fn default(mut self, value: &'static str) -> Self {
        self.default = Some(value);
        self
    }
    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }
    pub const fn unique(mut self) -> Self {
        self.unique = true;
        self
    }
    pub const fn unique_group(mut self, group: &'static str) -> Self {
        self.unique_group = Some(group);
        self
    }
    pub const fn reloadable(mut self) -> Self {
        self.reloadable = true;
        self
    }
    pub const fn hidden(mut self) -> Self {
        self.hidden = true;
        self
    }
}

/// One advertised action with its advisory timeout (pcs copies these into the CIB).
#[derive(Clone, Copy, Debug)]
pub struct ActionSpec {
    pub name: &'static str,
    pub timeout: &'static str,
    pub interval: Option<&'static str>,
    pub depth: Option<u32>,
    pub role: Option<&'static str>,
}

impl ActionSpec {
    pub const fn new(name: &'static str, timeout: &'static str) -> Self {
        ActionSpec { name, timeout, interval: None, depth: None, role: None }
    }
    pub const fn interval(mut self, interval: &'static str) -> Self {
        self.interval = Some(interval);
        self
    }
    pub const fn depth(mut self, depth: u32) -> Self {
        self.depth = Some(depth);
        self
    }
    pub const fn role(mut self, role: &'static str) -> Self {
        self.role = Some(role);
        self
    }
}

/// Everything `meta-data` says about an agent.
#[derive(Clone, Copy, Debug)]
pub struct AgentInfo {
    pub name: &'static str,
    /// The agent's own version (`resource-agent@version`).
    pub version: &'static str,
    pub shortdesc: &'static str,
    pub longdesc: &'static str,
    pub parameters: &'static [Parameter],
    pub actions: &'static [ActionSpec],
}

/// Action names `ra-api-1.dtd` allows; anything else is only advertised in OCF 1.1 mode.
const DTD_ACTIONS: &[&str] = &[
    "start",
    "stop",
    "recover",
    "monitor",
    "restart",
    "migrate_to",
    "migrate_from",
    "promote",
    "demote",
    "notify",
    "status",
    "reload",
    "meta-data",
    "usage",
    "methods",
    "validate-all",
];

impl AgentInfo {
    /// Look a parameter up by name.
    pub fn parameter(&self, name: &str) -> Option<&'static Parameter> {
        self.parameters.iter().find(|p| p.name == name)
    }

    /// Whether the agent advertises an action (in either dialect).
    pub fn advertises(&self, action: &str) -> bool {
        self.actions.iter().any(|a| a.name == action)
    }

    /// Monitor depths the agent implements, ascending, always including 0.
    pub fn monitor_depths(&self) -> Vec<u32> {
        let mut depths: Vec<u32> =
            self.actions.iter().filter(|a| a.name == "monitor").map(|a| a.depth.unwrap_or(0)).collect();
        depths.push(0);
        depths.sort_unstable();
        depths.dedup();
        depths
    }

    /// The meta-data XML. `ocf_1_1` selects the OCF 1.1 dialect.
    pub fn to_xml(&self, ocf_1_1: bool) -> String {
        let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
        // Writing into a Vec cannot fail; the helpers below unwrap for that reason.
        let ev = |w: &mut Writer<Vec<u8>>, e: Event<'_>| w.write_event(e).expect("write to Vec");
        ev(&mut w, Event::Decl(BytesDecl::new("1.0", None, None)));
        // ocf-tester validates through this DOCTYPE (cwd /usr/share/resource-agents).
        ev(&mut w, Event::DocType(BytesText::from_escaped(r#"resource-agent SYSTEM "ra-api-1.dtd""#)));
        let mut root = BytesStart::new("resource-agent");
        root.push_attribute(("name", self.name));
        root.push_attribute(("version", self.version));
        ev(&mut w, Event::Start(root));
        text_element(&mut w, "version", if ocf_1_1 { "1.1" } else { "1.0" }, false);
        text_element(&mut w, "longdesc", self.longdesc, true);
        text_element(&mut w, "shortdesc", self.shortdesc, true);

        ev(&mut w, Event::Start(BytesStart::new("parameters")));
        for p in self.parameters.iter().filter(|p| !p.hidden) {
            write_parameter(&mut w, p, ocf_1_1);
        }
        ev(&mut w, Event::End(BytesEnd::new("parameters")));

        ev(&mut w, Event::Start(BytesStart::new("actions")));
        for a in self.actions {
            if !ocf_1_1 && !DTD_ACTIONS.contains(&a.name) {
                continue;
            }
            let mut e = BytesStart::new("action");
            e.push_attribute(("name", a.name));
            e.push_attribute(("timeout", a.timeout));
            if let Some(i) = a.interval {
                e.push_attribute(("interval", i));
            }
            if let Some(d) = a.depth {
                e.push_attribute(("depth", d.to_string().as_str()));
            }
            if let Some(r) = a.role {
                e.push_attribute(("role", r));
            }
            ev(&mut w, Event::Empty(e));
        }
        ev(&mut w, Event::End(BytesEnd::new("actions")));
        ev(&mut w, Event::End(BytesEnd::new("resource-agent")));
        let mut xml = String::from_utf8(w.into_inner()).expect("quick-xml writes UTF-8");
        xml.push('\n');
        xml
    }
}

fn write_parameter(w: &mut Writer<Vec<u8>>, p: &Parameter, ocf_1_1: bool) {
    let mut e = BytesStart::new("parameter");
    e.push_attribute(("name", p.name));
    e.push_attribute(("required", if p.required { "1" } else { "0" }));
    e.push_attribute(("unique", if p.unique { "1" } else { "0" }));
    if ocf_1_1 {
        if let Some(g) = p.unique_group {
            e.push_attribute(("unique-group", g));
        }
        if p.reloadable {
            e.push_attribute(("reloadable", "1"));
        }
    }
    w.write_event(Event::Start(e)).expect("write to Vec");
    let long = match p.kind {
        ParamType::Select(values) if !ocf_1_1 => {
            format!("{}\nAllowed values: {}.", p.longdesc.trim_end(), values.join(", "))
        }
        _ => p.longdesc.to_string(),
    };
    text_element(w, "longdesc", &long, true);
    text_element(w, "shortdesc", p.shortdesc, true);
    let kind = match p.kind {
        ParamType::String => "string",
        ParamType::Integer => "integer",
        ParamType::Boolean => "boolean",
        ParamType::Select(_) if ocf_1_1 => "select",
        ParamType::Select(_) => "string",
    };
    let mut c = BytesStart::new("content");
    c.push_attribute(("type", kind));
    if let Some(d) = p.default {
        c.push_attribute(("default", d));
    }
    match p.kind {
        ParamType::Select(values) if ocf_1_1 => {
            w.write_event(Event::Start(c)).expect("write to Vec");
            for v in values {
                let mut o = BytesStart::new("option");
                o.push_attribute(("value", *v));
                w.write_event(Event::Empty(o)).expect("write to Vec");
            }
            w.write_event(Event::End(BytesEnd::new("content"))).expect("write to Vec");
        }
        _ => w.write_event(Event::Empty(c)).expect("write to Vec"),
    }
    w.write_event(Event::End(BytesEnd::new("parameter"))).expect("write to Vec");
}

fn text_element(w: &mut Writer<Vec<u8>>, name: &str, text: &str, lang: bool) {
    let mut e = BytesStart::new(name);
    if lang {
        e.push_attribute(("lang", "en"));
    }
    w.write_event(Event::Start(e)).expect("write to Vec");
    // BytesText::new escapes &, < and > (the upstream Python helper did not).
    w.write_event(Event::Text(BytesText::new(text))).expect("write to Vec");
    w.write_event(Event::End(BytesEnd::new(name))).expect("write to Vec");
}

#[cfg(test)]
mod tests {
    use super::*;

    static PARAMS: &[Parameter] = &[
        Parameter::string("ip")
            .short("IP & <mask>")
            .long("The address.")
            .required()
            .unique()
            .unique_group("address"),
        Parameter::select("mode", &["a", "b"]).short("Mode").long("How.").default("a").reloadable(),
        Parameter::string("netmask").hidden(),
    ];
    static ACTIONS: &[ActionSpec] = &[
        ActionSpec::new("start", "20s"),
        ActionSpec::new("monitor", "20s").interval("10s").depth(0),
        ActionSpec::new("monitor", "30s").interval("60s").depth(10),
        ActionSpec::new("reload-agent", "20s"),
    ];
    static INFO: AgentInfo = AgentInfo {
        name: "T",
        version: "0.1",
        shortdesc: "Test",
        longdesc: "A test agent.",
        parameters: PARAMS,
        actions: ACTIONS,
    };

    #[test]
    fn ocf_1_0_has_no_1_1_features() {
        let xml = INFO.to_xml(false);
        assert!(xml.contains(r#"<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">"#));
        assert!(xml.contains("<version>1.0</version>"));
        assert!(!xml.contains("reload-agent"));
        assert!(!xml.contains("unique-group"));
        assert!(!xml.contains("reloadable"));
        assert!(!xml.contains("select"));
        assert!(xml.contains("Allowed values: a, b."));
        assert!(xml.contains("IP &amp; &lt;mask&gt;"));
        assert!(!xml.contains("netmask"), "hidden parameters are not described");
    }

    #[test]
    fn ocf_1_1_has_select_and_groups() {
        let xml = INFO.to_xml(true);
        assert!(xml.contains("<version>1.1</version>"));
        assert!(xml.contains(r#"unique-group="address""#));
        assert!(xml.contains(r#"<option value="b"/>"#));
        assert!(xml.contains(r#"name="reload-agent""#));
    }

    #[test]
    fn depths() {
        assert_eq!(INFO.monitor_depths(), vec![0, 10]);
    }
}
