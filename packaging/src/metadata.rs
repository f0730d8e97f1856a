//! An agent's OCF meta-data XML, parsed into what a man page shows.
//!
//! Both dialects ocf-shim writes are read: OCF 1.0 (`ra-api-1.dtd`) and OCF 1.1 (`select` with
//! `option`s, `unique-group`, `reloadable`, `advanced`, `<deprecated>`). Unknown elements and
//! attributes are ignored, so meta-data from other providers' agents can be read as well.

use quick_xml::Reader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};

/// The whole description of an agent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Meta {
    /// `resource-agent@name`.
    pub name: String,
    /// `resource-agent@version`: the agent's own version.
    pub agent_version: Option<String>,
    /// `<version>`: the OCF version the meta-data follows ("1.0" when absent).
    pub ocf_version: String,
    pub shortdesc: String,
    pub longdesc: String,
    pub parameters: Vec<Param>,
    pub actions: Vec<Action>,
}

/// One `<parameter>`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub required: bool,
    pub unique: bool,
    pub unique_group: Option<String>,
    pub reloadable: bool,
    pub advanced: bool,
    /// Deprecated (1.0 `deprecated`/`obsoletes` attribute or 1.1 `<deprecated>` element).
    pub deprecated: bool,
    /// 1.1 `<deprecated><replaced-with name=…/>`.
    pub replaced_with: Vec<String>,
    pub shortdesc: String,
    pub longdesc: String,
    /// `content@type` ("string" when absent).
    pub kind: String,
    pub default: Option<String>,
    /// 1.1 `select` options.
    pub options: Vec<String>,
}

/// One `<action>`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Action {
    pub name: String,
    pub timeout: Option<String>,
    pub interval: Option<String>,
    pub depth: Option<String>,
    pub role: Option<String>,
    pub start_delay: Option<String>,
}

/// Which description a text element belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Owner {
    Agent,
    Param,
    Other,
}

/// A `longdesc`/`shortdesc`/`version` element being read.
struct OpenText {
    element: String,
    owner: Owner,
    lang: Option<String>,
    text: String,
}

fn attr(e: &BytesStart<'_>, name: &str) -> Result<Option<String>, String> {
    for a in e.attributes() {
        let a = a.map_err(|err| format!("bad attribute in <{}>: {err}", e.name().as_ref()))?;
        if a.key.as_ref() == name {
            let v = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|err| format!("bad value of attribute {name}: {err}"))?;
            return Ok(Some(v.into_owned()));
        }
    }
    Ok(None)
}

fn flag(e: &BytesStart<'_>, name: &str) -> Result<bool, String> {
    Ok(matches!(attr(e, name)?.as_deref().map(str::trim), Some("1" | "true" | "yes")))
}

/// Keeps the first description, or an English one over a non-English one.
fn store(slot: &mut String, slot_is_en: &mut bool, text: &str, lang: Option<&str>) {
    let is_en = lang.is_none_or(|l| l == "en" || l.starts_with("en-") || l.starts_with("en_"));
    if slot.is_empty() || (is_en && !*slot_is_en) {
        *slot = normalize(text);
        *slot_is_en = is_en;
    }
}

/// Trims each line and the whole text, and squeezes runs of blank lines into one.
pub fn normalize(text: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() && out.last().is_none_or(|l| l.is_empty()) {
            continue;
        }
        out.push(line);
    }
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    out.join("\n")
}

/// Parses meta-data XML.
pub fn parse(xml: &str) -> Result<Meta, String> {
    let mut reader = Reader::from_str(xml);
    let mut meta = Meta::default();
    let mut stack: Vec<String> = Vec::new();
    let mut param: Option<Param> = None;
    let mut open: Option<OpenText> = None;
    let mut seen_root = false;
    // Which descriptions already came from an English element.
    let (mut agent_short_en, mut agent_long_en, mut p_short_en, mut p_long_en) = (false, false, false, false);

    loop {
        let event = reader.read_event().map_err(|e| {
            format!("meta-data is not well-formed XML at byte {}: {e}", reader.error_position())
        })?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                let name = e.name().as_ref().to_string();
                let parent = stack.last().map(String::as_str);
                match (parent, name.as_str()) {
                    (None, "resource-agent") => {
                        seen_root = true;
                        meta.name = attr(e, "name")?.unwrap_or_default();
                        meta.agent_version = attr(e, "version")?;
                        // OCF 1.0 allows shortdesc as an attribute of the root too.
                        if let Some(s) = attr(e, "shortdesc")? {
                            meta.shortdesc = normalize(&s);
                        }
                    }
                    (None, other) => return Err(format!("root element is <{other}>, not <resource-agent>")),
                    (Some("parameters"), "parameter") => {
                        let mut p = Param {
                            name: attr(e, "name")?.ok_or("a <parameter> has no name")?,
                            required: flag(e, "required")?,
                            unique: flag(e, "unique")?,
                            unique_group: attr(e, "unique-group")?,
                            reloadable: flag(e, "reloadable")?,
                            advanced: flag(e, "advanced")?,
                            deprecated: flag(e, "deprecated")? || flag(e, "obsoletes")?,
                            kind: "string".into(),
                            ..Param::default()
                        };
                        if let Some(s) = attr(e, "shortdesc")? {
                            p.shortdesc = normalize(&s);
                        }
                        p_short_en = false;
                        p_long_en = false;
                        if empty {
                            meta.parameters.push(p);
                        } else {
                            param = Some(p);
                        }
                    }
                    (Some("parameter"), "content") => {
                        if let Some(p) = param.as_mut() {
                            if let Some(t) = attr(e, "type")? {
                                p.kind = t;
                            }
                            p.default = attr(e, "default")?;
                        }
                    }
                    (Some("content"), "option") => {
                        if let (Some(p), Some(v)) = (param.as_mut(), attr(e, "value")?) {
                            p.options.push(v);
                        }
                    }
                    (Some("parameter"), "deprecated") => {
                        if let Some(p) = param.as_mut() {
                            p.deprecated = true;
                        }
                    }
                    (Some("deprecated"), "replaced-with") => {
                        if let (Some(p), Some(v)) = (param.as_mut(), attr(e, "name")?) {
                            p.replaced_with.push(v);
                        }
                    }
                    (Some("actions"), "action") => meta.actions.push(Action {
                        name: attr(e, "name")?.ok_or("an <action> has no name")?,
                        timeout: attr(e, "timeout")?,
                        interval: attr(e, "interval")?,
                        depth: attr(e, "depth")?,
                        role: attr(e, "role")?,
                        start_delay: attr(e, "start-delay")?,
                    }),
                    (Some(parent), "longdesc" | "shortdesc" | "version") if !empty => {
                        let owner = match parent {
                            "resource-agent" => Owner::Agent,
                            "parameter" => Owner::Param,
                            _ => Owner::Other,
                        };
                        open = Some(OpenText {
                            element: name.clone(),
                            owner,
                            lang: attr(e, "lang")?,
                            text: String::new(),
                        });
                    }
                    _ => {}
                }
                if !empty {
                    stack.push(name);
                }
            }
            Event::End(ref e) => {
                let name = e.name().as_ref().to_string();
                if stack.pop().as_deref() != Some(name.as_str()) {
                    return Err(format!("unexpected </{name}>"));
                }
                if let Some(t) = open.take_if(|t| t.element == name) {
                    let lang = t.lang.as_deref();
                    match (t.owner, t.element.as_str()) {
                        (Owner::Agent, "version") => meta.ocf_version = t.text.trim().to_string(),
                        (Owner::Agent, "longdesc") => {
                            store(&mut meta.longdesc, &mut agent_long_en, &t.text, lang)
                        }
                        (Owner::Agent, "shortdesc") => {
                            store(&mut meta.shortdesc, &mut agent_short_en, &t.text, lang)
                        }
                        (Owner::Param, "longdesc") => {
                            if let Some(p) = param.as_mut() {
                                store(&mut p.longdesc, &mut p_long_en, &t.text, lang);
                            }
                        }
                        (Owner::Param, "shortdesc") => {
                            if let Some(p) = param.as_mut() {
                                store(&mut p.shortdesc, &mut p_short_en, &t.text, lang);
                            }
                        }
                        _ => {}
                    }
                }
                if name == "parameter"
                    && let Some(p) = param.take()
                {
                    meta.parameters.push(p);
                }
            }
            Event::Text(t) => {
                if let Some(o) = open.as_mut() {
                    o.text.push_str(&t.xml10_content());
                }
            }
            Event::CData(t) => {
                if let Some(o) = open.as_mut() {
                    o.text.push_str(&t);
                }
            }
            Event::GeneralRef(r) => {
                if let Some(o) = open.as_mut() {
                    match r.resolve_char_ref().map_err(|e| format!("bad character reference: {e}"))? {
                        Some(c) => o.text.push(c),
                        None => match resolve_predefined_entity(&r) {
                            Some(s) => o.text.push_str(s),
                            None => return Err(format!("unknown entity &{};", &*r)),
                        },
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !seen_root {
        return Err("no <resource-agent> element (is this meta-data?)".into());
    }
    if !stack.is_empty() {
        return Err(format!("meta-data ends inside <{}>", stack.join("><")));
    }
    if meta.name.is_empty() {
        return Err("<resource-agent> has no name".into());
    }
    if meta.ocf_version.is_empty() {
        meta.ocf_version = "1.0".into();
    }
    Ok(meta)
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML_1_1: &str = r#"<?xml version="1.0"?>
<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">
<resource-agent name="T" version="0.1">
  <version>1.1</version>
  <longdesc lang="de">Deutsch</longdesc>
  <longdesc lang="en">
     A test agent &amp; more.
     Second line.
  </longdesc>
  <shortdesc lang="en">Test &lt;agent&gt;</shortdesc>
  <parameters>
    <parameter name="ip" required="1" unique="1" unique-group="address">
      <longdesc lang="en">The address.</longdesc>
      <shortdesc lang="en">IP</shortdesc>
      <content type="string"/>
    </parameter>
    <parameter name="mode" required="0" unique="0" reloadable="1">
      <longdesc lang="en"><![CDATA[How <fast>.]]></longdesc>
      <shortdesc lang="en">Mode</shortdesc>
      <content type="select" default="a">
        <option value="a"/>
        <option value="b"/>
      </content>
    </parameter>
    <parameter name="old" advanced="1">
      <deprecated><replaced-with name="mode"/><desc lang="en">gone</desc></deprecated>
      <shortdesc lang="en">Old</shortdesc>
      <content type="boolean" default="false"/>
    </parameter>
  </parameters>
  <actions>
    <action name="start" timeout="20s"/>
    <action name="monitor" timeout="20s" interval="10s" depth="0"/>
    <action name="promote" timeout="10s" role="Promoted" start-delay="1s"/>
  </actions>
</resource-agent>
"#;

    #[test]
    fn parses_1_1() {
        let m = parse(XML_1_1).unwrap();
        assert_eq!(m.name, "T");
        assert_eq!(m.agent_version.as_deref(), Some("0.1"));
        assert_eq!(m.ocf_version, "1.1");
        assert_eq!(m.longdesc, "A test agent & more.\nSecond line.");
        assert_eq!(m.shortdesc, "Test <agent>");
        assert_eq!(m.parameters.len(), 3);
        let ip = &m.parameters[0];
        assert!(ip.required && ip.unique && !ip.reloadable);
        assert_eq!(ip.unique_group.as_deref(), Some("address"));
        assert_eq!(ip.longdesc, "The address.");
        let mode = &m.parameters[1];
        assert_eq!(mode.kind, "select");
        assert_eq!(mode.options, ["a", "b"]);
        assert_eq!(mode.default.as_deref(), Some("a"));
        assert_eq!(mode.longdesc, "How <fast>.");
        assert!(mode.reloadable);
        let old = &m.parameters[2];
        assert!(old.deprecated && old.advanced);
        assert_eq!(old.replaced_with, ["mode"]);
        assert_eq!(old.longdesc, "", "the deprecation text is not the parameter's description");
        assert_eq!(m.actions.len(), 3);
        assert_eq!(m.actions[1].interval.as_deref(), Some("10s"));
        assert_eq!(m.actions[1].depth.as_deref(), Some("0"));
        assert_eq!(m.actions[2].role.as_deref(), Some("Promoted"));
        assert_eq!(m.actions[2].start_delay.as_deref(), Some("1s"));
    }

    #[test]
    fn version_defaults_to_1_0() {
        let m = parse(r#"<resource-agent name="x"><parameters/><actions/></resource-agent>"#).unwrap();
        assert_eq!(m.ocf_version, "1.0");
        assert!(m.parameters.is_empty());
    }

    #[test]
    fn rejects_non_metadata() {
        assert!(parse("").is_err());
        assert!(parse("usage: foo {start|stop}").is_err());
        assert!(parse("<html/>").is_err());
        assert!(parse("<resource-agent name='x'><parameters>").is_err());
        assert!(parse("<resource-agent><actions/></resource-agent>").is_err());
    }

    #[test]
    fn normalizes_text() {
        assert_eq!(normalize("\n  a\n   b  \n\n\n  c\n\n"), "a\nb\n\nc");
    }
}
