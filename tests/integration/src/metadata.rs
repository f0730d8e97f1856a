//! The parameters an agent declares, read from its `meta-data` XML (what Pacemaker reads).

use quick_xml::events::Event;
use quick_xml::{Reader, XmlVersion};

/// Names of the `<parameter>` elements under `<parameters>`.
pub fn parameter_names(xml: &str) -> Result<Vec<String>, String> {
    let mut reader = Reader::from_str(xml);
    let mut names = Vec::new();
    let mut saw_agent = false;
    loop {
        let ev = reader.read_event().map_err(|e| format!("meta-data is not XML: {e}"))?;
        match ev {
            Event::Start(e) | Event::Empty(e) => {
                let tag = e.name().as_ref().to_string();
                if tag == "resource-agent" {
                    saw_agent = true;
                }
                if tag == "parameter" {
                    for a in e.attributes() {
                        let a = a.map_err(|e| format!("bad attribute in meta-data: {e}"))?;
                        if a.key.as_ref() == "name" {
                            let v = a.normalized_value(XmlVersion::Implicit1_0).map_err(|e| e.to_string())?;
                            names.push(v.into_owned());
                        }
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_agent {
        return Err("meta-data has no <resource-agent> element".into());
    }
    if names.is_empty() {
        return Err("meta-data declares no parameter".into());
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_names() {
        let xml = r#"<?xml version="1.0"?><!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">
<resource-agent name="x" version="1"><parameters>
<parameter name="ip" unique="1" required="1"><content type="string"/></parameter>
<parameter name="a&amp;b"><content type="boolean" default="false"/></parameter>
</parameters><actions><action name="start" timeout="20s"/></actions></resource-agent>"#;
        assert_eq!(parameter_names(xml).unwrap(), vec!["ip", "a&b"]);
        assert!(parameter_names("<x/>").is_err());
    }
}
