//! The parts of `crm_mon --output-as=xml` the tests look at.
//!
//! XML rather than the text output: the text format changes between Pacemaker versions, the
//! XML has a versioned schema.

use anyhow::{Context, Result, bail};
use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

/// One cluster node as crm_mon sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeStatus {
    pub name: String,
    pub online: bool,
    pub standby: bool,
}

/// One primitive resource (also those inside groups and clones).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceStatus {
    pub id: String,
    /// e.g. `ocf:heartbeat:Dummy` (crm_mon writes `ocf::heartbeat:Dummy`; normalised).
    pub agent: String,
    /// e.g. `Started`, `Stopped`, `Promoted`.
    pub role: String,
    pub active: bool,
    pub failed: bool,
    /// Nodes it runs on.
    pub nodes: Vec<String>,
}

/// A parsed `crm_mon -1 --output-as=xml`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterStatus {
    /// Name of the designated controller, if one is elected.
    pub dc: Option<String>,
    pub with_quorum: bool,
    pub nodes: Vec<NodeStatus>,
    pub resources: Vec<ResourceStatus>,
}

impl ClusterStatus {
    pub fn node(&self, name: &str) -> Option<&NodeStatus> {
        self.nodes.iter().find(|n| n.name == name)
    }

    pub fn resource(&self, id: &str) -> Option<&ResourceStatus> {
        self.resources.iter().find(|r| r.id == id)
    }

    /// The node an active resource runs on (the first one, for clones).
    pub fn location(&self, id: &str) -> Option<&str> {
        self.resource(id).filter(|r| r.active && !r.failed).and_then(|r| r.nodes.first()).map(String::as_str)
    }

    /// Parses crm_mon's XML.
    pub fn parse(xml: &str) -> Result<ClusterStatus> {
        let mut reader = Reader::from_str(xml);
        let mut st = ClusterStatus::default();
        // Element names from the root down to the current element.
        let mut path: Vec<String> = Vec::new();
        let mut saw_root = false;
        loop {
            let ev = reader
                .read_event()
                .with_context(|| format!("parsing crm_mon XML at byte {}", reader.buffer_position()))?;
            match ev {
                Event::Start(e) => {
                    saw_root = true;
                    st.element(&e, &path)?;
                    path.push(name_of(&e));
                }
                Event::Empty(e) => {
                    saw_root = true;
                    st.element(&e, &path)?;
                }
                Event::End(_) => {
                    path.pop();
                }
                Event::Eof => break,
                _ => {}
            }
        }
        if !saw_root {
            bail!("crm_mon printed no XML");
        }
        Ok(st)
    }

    fn element(&mut self, e: &BytesStart<'_>, path: &[String]) -> Result<()> {
        let name = name_of(e);
        let parent = path.last().map(String::as_str);
        let in_resources = path.iter().any(|p| p == "resources");
        match (name.as_str(), parent) {
            ("current_dc", Some("summary")) => {
                if attr(e, "present")?.as_deref() == Some("true") {
                    self.dc = attr(e, "name")?;
                }
                self.with_quorum = attr(e, "with_quorum")?.as_deref() == Some("true");
            }
            ("node", Some("nodes")) => self.nodes.push(NodeStatus {
                name: attr(e, "name")?.unwrap_or_default(),
                online: attr(e, "online")?.as_deref() == Some("true"),
                standby: attr(e, "standby")?.as_deref() == Some("true"),
            }),
            ("resource", _) if in_resources => self.resources.push(ResourceStatus {
                id: attr(e, "id")?.unwrap_or_default(),
                agent: attr(e, "resource_agent")?.unwrap_or_default().replace("::", ":"),
                role: attr(e, "role")?.unwrap_or_default(),
                active: attr(e, "active")?.as_deref() == Some("true"),
                failed: attr(e, "failed")?.as_deref() == Some("true"),
                nodes: Vec::new(),
            }),
            ("node", Some("resource")) if in_resources => {
                if let (Some(r), Some(n)) = (self.resources.last_mut(), attr(e, "name")?) {
                    r.nodes.push(n);
                }
            }
            _ => {}
        }
        Ok(())
    }
}

fn name_of(e: &BytesStart<'_>) -> String {
    e.name().as_ref().to_string()
}

fn attr(e: &BytesStart<'_>, key: &str) -> Result<Option<String>> {
    for a in e.attributes() {
        let a = a.context("bad XML attribute in crm_mon output")?;
        if a.key.as_ref() == key {
            // crm_mon writes XML 1.0.
            return Ok(Some(a.normalized_value(XmlVersion::Implicit1_0)?.into_owned()));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shape of Pacemaker 2.1's output, trimmed.
    const SAMPLE: &str = r#"<?xml version="1.0"?>
<pacemaker-result api-version="2.25" request="crm_mon -1 --output-as=xml">
  <summary>
    <stack type="corosync"/>
    <current_dc present="true" version="2.1.5" name="node1" id="1" with_quorum="true" mixed_version="false"/>
    <nodes_configured number="2"/>
  </summary>
  <nodes>
    <node name="node1" id="1" online="true" standby="false" standby_onfail="false" maintenance="false" pending="false" unclean="false" shutdown="false" expected_up="true" is_dc="true" resources_running="2" type="member"/>
    <node name="node2" id="2" online="false" standby="false" standby_onfail="false" maintenance="false" pending="false" unclean="false" shutdown="false" expected_up="false" is_dc="false" resources_running="0" type="member"/>
  </nodes>
  <resources>
    <resource id="d" resource_agent="ocf::heartbeat:Dummy" role="Started" active="true" orphaned="false" blocked="false" managed="true" failed="false" failure_ignored="false" nodes_running_on="1">
      <node name="node1" id="1" cached="true"/>
    </resource>
    <group id="g" number_resources="1" managed="true" disabled="false">
      <resource id="v" resource_agent="ocf::heartbeat:IPaddr2" role="Started" active="true" orphaned="false" blocked="false" managed="true" failed="false" failure_ignored="false" nodes_running_on="1">
        <node name="node1" id="1" cached="true"/>
      </resource>
    </group>
    <resource id="s" resource_agent="ocf::heartbeat:Dummy" role="Stopped" active="false" orphaned="false" blocked="false" managed="true" failed="false" failure_ignored="false" nodes_running_on="0"/>
  </resources>
  <status code="0" message="OK"/>
</pacemaker-result>"#;

    #[test]
    fn parses_sample() {
        let st = ClusterStatus::parse(SAMPLE).unwrap();
        assert_eq!(st.dc.as_deref(), Some("node1"));
        assert!(st.with_quorum);
        assert_eq!(st.nodes.len(), 2);
        assert!(st.node("node1").unwrap().online);
        assert!(!st.node("node2").unwrap().online);
        assert_eq!(st.location("d"), Some("node1"));
        assert_eq!(st.location("v"), Some("node1"));
        assert_eq!(st.location("s"), None);
        assert_eq!(st.resource("d").unwrap().agent, "ocf:heartbeat:Dummy");
        assert_eq!(st.resources.len(), 3);
    }

    #[test]
    fn rejects_garbage() {
        assert!(ClusterStatus::parse("").is_err());
        assert!(ClusterStatus::parse("<a><b></a>").is_err());
    }
}
