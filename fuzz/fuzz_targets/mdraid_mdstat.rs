//! ocf:rha:mdraid's reader of /proc/mdstat (and of the one-value sysfs files beside it): never
//! a panic on any text, and what it returns holds only what the input said: arrays named
//! `md...` from their own lines, no level for an inactive array, members as written
//! (`dev[slot](F)`), a progress kind the kernel uses. The percentage is not range-checked: the
//! parser takes the kernel's number as printed and promises no bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rha_mdraid::{mdstat, sysfs};

const KINDS: [&str; 5] = ["resync", "recovery", "check", "reshape", "repair"];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let arrays = mdstat::parse(&text);
    // Every array comes from a line of its own that is not indented and holds " : ".
    let heads = text.lines().filter(|l| !l.starts_with(char::is_whitespace) && l.contains(" : ")).count();
    assert!(arrays.len() <= heads, "{} arrays from {heads} array lines:\n{text}", arrays.len());
    // A member is a `[`-holding token: never more members than `[` in the text.
    let brackets = text.matches('[').count();
    let members: usize = arrays.iter().map(|a| a.members.len()).sum();
    assert!(members <= brackets, "{members} members from {brackets} '[':\n{text}");
    for a in &arrays {
        assert!(a.name.starts_with("md"), "array name {:?}", a.name);
        assert!(!a.name.contains(char::is_whitespace), "array name {:?}", a.name);
        // The name is the head line's text before " : ", trimmed (so "md0\t : " is md0).
        let head = text.lines().any(|l| l.split_once(" : ").is_some_and(|(n, _)| n.trim() == a.name));
        assert!(head, "{} is no array line's name", a.name);
        if !a.active {
            assert_eq!(a.level, None, "inactive {} with a level", a.name);
        }
        if let Some(l) = &a.level {
            assert!(!l.is_empty() && !l.contains('[') && !l.starts_with('('), "level {l:?}");
            assert!(!l.contains(char::is_whitespace), "level {l:?}");
        }
        for m in &a.members {
            assert!(!m.dev.contains(char::is_whitespace) && !m.dev.contains('['), "member {m:?}");
            assert!(m.flags.chars().all(|c| c.is_ascii_alphabetic()), "member flags {m:?}");
            assert!(text.contains(&format!("{}[", m.dev)), "member {m:?} not in the text");
        }
        if let Some((kind, _)) = &a.progress {
            assert!(KINDS.contains(&kind.as_str()), "progress kind {kind:?}");
        }
    }
    // The same text reads the same way again (Debug: a NaN percentage is not == itself).
    assert_eq!(format!("{arrays:?}"), format!("{:?}", mdstat::parse(&text)));

    // The sysfs values the monitor reads beside mdstat.
    let _ = sysfs::parse_array_state(&text);
    let _ = sysfs::parse_sync_completed(&text);
    for f in sysfs::parse_dev_state(&text) {
        assert!(!f.is_empty() && !f.contains(',') && f.trim() == f, "dev state flag {f:?}");
    }
});
