//! Typed access to the `OCF_RESKEY_*` instance parameters, checked against the description.
//!
//! Every parse error is an [`OcfError`] with code 6 (`OCF_ERR_CONFIGURED`: the value is wrong
//! wherever it runs) whose reason names the parameter and quotes the value.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::str::FromStr;

use crate::exit::{OcfError, OcfResult};
use crate::metadata::{AgentInfo, ParamType};

/// Prefix under which Pacemaker passes instance parameters.
pub const RESKEY_PREFIX: &str = "OCF_RESKEY_";

/// The instance parameters of one invocation.
#[derive(Debug, Clone)]
pub struct Params {
    info: &'static AgentInfo,
    values: BTreeMap<String, OsString>,
}

/// Pacemaker's `crm_is_true`/`crm_str_to_boolean` forms (case-insensitive), plus `ja`, which
/// the shell agents' `ocf_is_true` accepts (so switching the provider changes nothing), and
/// its opposite `nein` (`ocf_is_true` reads every other word as false; we name the words).
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "yes" | "y" | "true" | "on" | "ja" => Some(true),
        "0" | "no" | "n" | "false" | "off" | "nein" => Some(false),
        _ => None,
    }
}

/// Quote a value for an error message: control characters and non-UTF-8 bytes are escaped so
/// the exit reason stays one readable line, and huge values are cut.
pub fn quote(value: &OsStr) -> String {
    let lossy = value.to_string_lossy();
    let mut q: String = lossy.chars().take(80).collect::<String>().escape_debug().to_string();
    if lossy.chars().count() > 80 {
        q.push('…');
    }
    format!("'{q}'")
}

impl Params {
    /// The declared parameters found in the process environment.
    pub fn from_env(info: &'static AgentInfo) -> Self {
        Self::from_pairs(info, std::env::vars_os())
    }

    /// The declared parameters among `(OCF_RESKEY_name, value)` pairs (tests use this).
    pub fn from_pairs<I, K, V>(info: &'static AgentInfo, pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<OsString>,
        V: Into<OsString>,
    {
        let mut values = BTreeMap::new();
        for (k, v) in pairs {
            let k: OsString = k.into();
            let Some(name) = k.to_str().and_then(|k| k.strip_prefix(RESKEY_PREFIX)) else {
                continue;
            };
            if info.parameter(name).is_some() {
                values.insert(name.to_string(), v.into());
            }
        }
        Params { info, values }
    }

    fn declared(&self, name: &str) -> &'static crate::metadata::Parameter {
        self.info
            .parameter(name)
            .unwrap_or_else(|| panic!("agent bug: parameter {name} is not declared in the meta-data"))
    }

    /// The raw value as given, even when empty; `None` when unset.
    pub fn raw(&self, name: &str) -> Option<&OsStr> {
        self.declared(name);
        self.values.get(name).map(OsString::as_os_str)
    }

    /// Whether the parameter was given a non-empty value.
    pub fn is_set(&self, name: &str) -> bool {
        self.raw(name).is_some_and(|v| !v.is_empty())
    }

    /// The value as UTF-8, or the declared default when unset or empty (shell `${X:-default}`).
    pub fn str(&self, name: &str) -> OcfResult<Option<&str>> {
        let p = self.declared(name);
        match self.raw(name) {
            Some(v) if !v.is_empty() => v.to_str().map(Some).ok_or_else(|| {
                OcfError::configured(format!("parameter {name}: value {} is not valid UTF-8", quote(v)))
            }),
            _ => Ok(p.default),
        }
    }

    /// The value or the default with surrounding blanks trimmed; `None` when that leaves
    /// nothing (a value of spaces means "not set", as in the shell agents' `[ -z ]` tests).
    pub fn trimmed(&self, name: &str) -> OcfResult<Option<&str>> {
        Ok(self.str(name)?.map(str::trim).filter(|v| !v.is_empty()))
    }

    /// The value or the default; empty string when neither exists.
    pub fn str_or_empty(&self, name: &str) -> OcfResult<&str> {
        Ok(self.str(name)?.unwrap_or(""))
    }

    /// A required value: missing or empty is `OCF_ERR_CONFIGURED`.
    pub fn required(&self, name: &str) -> OcfResult<&str> {
        self.str(name)?.ok_or_else(|| OcfError::configured(format!("required parameter {name} is not set")))
    }

    /// A boolean in any form Pacemaker accepts; unset means the default (or false).
    pub fn bool(&self, name: &str) -> OcfResult<bool> {
        debug_assert!(matches!(self.declared(name).kind, ParamType::Boolean | ParamType::String));
        match self.str(name)? {
            None => Ok(false),
            Some(v) => parse_bool(v).ok_or_else(|| {
                OcfError::configured(format!(
                    "parameter {name}: {} is not a boolean (use true/false, yes/no, on/off, 1/0)",
                    quote(OsStr::new(v))
                ))
            }),
        }
    }

    /// An integer (or any `FromStr` number); unset means the default, `None` without one.
    pub fn int<T: FromStr>(&self, name: &str) -> OcfResult<Option<T>> {
        match self.str(name)? {
            None => Ok(None),
            Some(v) => v.trim().parse::<T>().map(Some).map_err(|_| {
                OcfError::configured(format!(
                    "parameter {name}: {} is not a valid integer",
                    quote(OsStr::new(v))
                ))
            }),
        }
    }

    /// An integer that must lie within `min..=max`.
    pub fn int_in<T: FromStr + PartialOrd + std::fmt::Display + Copy>(
        &self,
        name: &str,
        min: T,
        max: T,
    ) -> OcfResult<Option<T>> {
        let v = self.int::<T>(name)?;
        if let Some(n) = v
            && (n < min || n > max)
        {
            return Err(OcfError::configured(format!("parameter {name}: {n} is out of range {min}..{max}")));
        }
        Ok(v)
    }

    /// One of the declared select values.
    pub fn select(&self, name: &str) -> OcfResult<Option<&str>> {
        let ParamType::Select(allowed) = self.declared(name).kind else {
            panic!("agent bug: parameter {name} is not a select parameter");
        };
        match self.str(name)? {
            None => Ok(None),
            Some(v) if allowed.contains(&v) => Ok(Some(v)),
            Some(v) => Err(OcfError::configured(format!(
                "parameter {name}: {} is not one of {}",
                quote(OsStr::new(v)),
                allowed.join(", ")
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::OcfCode;
    use crate::metadata::Parameter;
    use std::os::unix::ffi::OsStringExt;

    static PARAMS: &[Parameter] = &[
        Parameter::string("ip").required(),
        Parameter::boolean("flag").default("false"),
        Parameter::boolean("on_by_default").default("true"),
        Parameter::integer("count").default("5"),
        Parameter::select("mode", &["a", "b"]),
        Parameter::string("lft").default("forever"),
    ];
    static INFO: AgentInfo =
        AgentInfo { name: "T", version: "0", shortdesc: "", longdesc: "", parameters: PARAMS, actions: &[] };

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(&INFO, pairs.iter().map(|(k, v)| (format!("OCF_RESKEY_{k}"), v.to_string())))
    }

    #[test]
    fn booleans_in_every_pacemaker_form() {
        // Every form ocf-shellfuncs' ocf_is_true takes: yes|true|1|YES|TRUE|True|ja|on|ON.
        for t in ["1", "yes", "YES", "Y", "true", "TRUE", "True", "ja", "on", "ON", " on "] {
            assert!(params(&[("flag", t)]).bool("flag").unwrap(), "{t}");
        }
        for f in ["0", "no", "N", "false", "off", "nein"] {
            assert!(!params(&[("flag", f)]).bool("flag").unwrap(), "{f}");
        }
        let e = params(&[("flag", "maybe")]).bool("flag").unwrap_err();
        assert_eq!(e.code, OcfCode::ErrConfigured);
        assert!(e.reason.contains("flag") && e.reason.contains("'maybe'"), "{}", e.reason);
        assert!(params(&[]).bool("on_by_default").unwrap());
        assert!(params(&[("on_by_default", "")]).bool("on_by_default").unwrap(), "empty means default");
    }

    #[test]
    fn integers_and_ranges() {
        assert_eq!(params(&[]).int::<u32>("count").unwrap(), Some(5));
        assert_eq!(params(&[("count", "7")]).int::<u32>("count").unwrap(), Some(7));
        assert!(params(&[("count", "x7")]).int::<u32>("count").is_err());
        assert!(params(&[("count", "-1")]).int::<u32>("count").is_err());
        assert!(params(&[("count", "0")]).int_in::<u32>("count", 1, 10).is_err());
    }

    #[test]
    fn required_and_select() {
        assert_eq!(params(&[]).required("ip").unwrap_err().reason, "required parameter ip is not set");
        assert_eq!(params(&[("ip", "")]).required("ip").unwrap_err().code, OcfCode::ErrConfigured);
        assert_eq!(params(&[("mode", "b")]).select("mode").unwrap(), Some("b"));
        assert!(params(&[("mode", "c")]).select("mode").unwrap_err().reason.contains("a, b"));
    }

    #[test]
    fn raw_keeps_empty_values() {
        let p = params(&[("lft", "")]);
        assert_eq!(p.raw("lft"), Some(OsStr::new("")));
        assert!(!p.is_set("lft"));
        assert_eq!(p.str("lft").unwrap(), Some("forever"));
    }

    #[test]
    fn non_utf8_is_a_clear_error_and_undeclared_keys_are_ignored() {
        let bad = OsString::from_vec(vec![b'a', 0xff, b'\n']);
        let p = Params::from_pairs(
            &INFO,
            vec![
                (OsString::from("OCF_RESKEY_ip"), bad),
                (OsString::from("OCF_RESKEY_CRM_meta_interval"), OsString::from("0")),
                (OsString::from("PATH"), OsString::from("/bin")),
            ],
        );
        let e = p.required("ip").unwrap_err();
        assert_eq!(e.code, OcfCode::ErrConfigured);
        assert!(!e.reason.contains('\n'));
    }
}
