//! ipvsadm-save text (`rules_file`, and what `ipvsadm -S` prints): never a panic; errors say
//! why; a table read from text is written back (`ipvsadm -S -n` form) and read again to
//! services the agent finds no difference in (thresholds aside: ipvsadm-save has no -x/-y).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rha_fuzz::FakeResolver;
use rha_ipvs::describe_differences;
use rha_ipvs::save_format::{parse_with, to_table, write};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let cmds = match parse_with(text, &FakeResolver) {
        Ok(c) => c,
        Err(e) => {
            assert!(!e.message.trim().is_empty(), "a parse error without a message");
            return;
        }
    };
    let Ok(table) = to_table(&cmds) else { return };
    let written = write(&table);
    let again = parse_with(&written, &FakeResolver)
        .unwrap_or_else(|e| panic!("our own ipvsadm-save text does not parse: {e}\n{written}"));
    let table2 = to_table(&again).unwrap_or_else(|e| panic!("our own text does not fold: {e}\n{written}"));
    // The same services, and for each no difference in the agent's own judgement (what monitor
    // would report), except connection thresholds: ipvsadm-save has no -x/-y.
    let strip = |s: &rha_ipvs::ServiceSpec| {
        let mut s = s.clone();
        for d in &mut s.dests {
            d.u_threshold = 0;
            d.l_threshold = 0;
        }
        s
    };
    assert_eq!(table.len(), table2.len(), "service count changed:\n{text}\n---\n{written}");
    for want in &table {
        let got = table2
            .iter()
            .find(|s| s.service.key == want.service.key)
            .unwrap_or_else(|| panic!("{} lost:\n{text}\n---\n{written}", want.service.key));
        let diffs = describe_differences(Some(&strip(got)), &strip(want));
        assert!(
            diffs.is_empty(),
            "read → write → read changed {}: {diffs:?}\n{text}\n---\n{written}",
            want.service.key
        );
    }
});
