//! ocf-shim's typed parameter getters over arbitrary values (any bytes but NUL, as an
//! environment holds them): never a panic; every error is a one-line OCF_ERR_CONFIGURED.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ocf_shim::params::quote;
use ocf_shim::{AgentInfo, OcfCode, Parameter, Params};
use rha_fuzz::{check_reason, params_from};

static PARAMS: &[Parameter] = &[
    Parameter::string("s").required(),
    Parameter::string("d").default("forever"),
    Parameter::boolean("b").default("false"),
    Parameter::boolean("bt").default("true"),
    Parameter::integer("i").default("5"),
    Parameter::integer("n"),
    Parameter::select("sel", &["a", "b", "both"]),
];

static INFO: AgentInfo =
    AgentInfo { name: "fuzz", version: "0", shortdesc: "", longdesc: "", parameters: PARAMS, actions: &[] };

fn configured<T>(r: Result<T, ocf_shim::OcfError>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            check_reason(&e);
            assert_eq!(e.code, OcfCode::ErrConfigured, "{}", e.reason);
            None
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let pairs = params_from(data, &["s", "d", "b", "bt", "i", "n", "sel", "undeclared", "CRM_meta_timeout"]);
    let p = Params::from_pairs(&INFO, pairs);
    for name in ["s", "d", "b", "bt", "i", "n", "sel"] {
        if let Some(raw) = p.raw(name) {
            let q = quote(raw);
            assert!(!q.contains('\n') && q.chars().count() < 1000, "quote({raw:?}) = {q:?}");
        }
        let _ = p.is_set(name);
        let _ = configured(p.str(name));
        let _ = configured(p.str_or_empty(name));
        let _ = configured(p.int::<u32>(name));
        let _ = configured(p.int::<i64>(name));
        let _ = configured(p.int::<u8>(name));
        if let Some(Some(v)) = configured(p.int_in::<u32>(name, 1, 65535)) {
            assert!((1..=65535).contains(&v));
        }
    }
    for name in ["s", "d", "b", "bt"] {
        let _ = configured(p.bool(name));
    }
    if let Some(Some(v)) = configured(p.select("sel")) {
        assert!(["a", "b", "both"].contains(&v));
    }
    if let Some(v) = configured(p.required("s")) {
        assert!(!v.is_empty());
    }
});
