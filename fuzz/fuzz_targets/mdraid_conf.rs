//! ocf:rha:mdraid's reader of mdadm.conf (ARRAY and AUTO, `#` comments, continuation lines,
//! keywords abbreviated to three letters): never a panic; an error names a line of the input
//! that starts an ARRAY line and says why; what it reads is as written (devices and names
//! without blanks or comments, UUIDs as 32 lower-case hex digits, lines in order, each array
//! found again by its own device).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rha_mdraid::mdconf::{self, same_device};

/// Whether input line `n` (1-based) starts a logical ARRAY line: its first word, comments
/// removed, is `array` or an abbreviation of at least three letters.
fn starts_array(text: &str, n: usize) -> bool {
    let Some(raw) = text.lines().nth(n - 1) else { return false };
    let word = raw.split('#').next().unwrap_or("").split_whitespace().next().unwrap_or("");
    word.len() >= 3 && "array".len() >= word.len() && "array"[..word.len()].eq_ignore_ascii_case(word)
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines = text.lines().count();
    let conf = match mdconf::parse(&text) {
        Ok(c) => c,
        Err((line, msg)) => {
            assert!((1..=lines).contains(&line), "error at line {line} of {lines}: {msg}");
            assert!(!msg.trim().is_empty(), "an error without a message at line {line}");
            assert!(starts_array(&text, line), "error at line {line}, not an ARRAY line: {msg}");
            assert_eq!(mdconf::parse(&text), Err((line, msg)), "not deterministic");
            return;
        }
    };
    let mut prev = 0;
    for a in &conf.arrays {
        assert!((1..=lines).contains(&a.line), "ARRAY at line {} of {lines}", a.line);
        assert!(a.line > prev, "ARRAY lines out of order: {} after {prev}", a.line);
        prev = a.line;
        assert!(starts_array(&text, a.line), "ARRAY at line {}, which is not one: {a:?}", a.line);
        let clean = |s: &str| !s.is_empty() && !s.contains(char::is_whitespace) && !s.contains('#');
        assert!(clean(&a.dev) && !a.dev.contains('='), "device {:?}", a.dev);
        if let Some(n) = &a.name {
            assert!(!n.contains(char::is_whitespace) && !n.contains('#'), "name {n:?}");
        }
        if let Some(u) = &a.uuid {
            assert!(u.len() == 32 && u.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')), "uuid {u:?}");
        }
        let found = conf.array_for(&a.dev).expect("an array is found by its own device");
        assert!(same_device(&found.dev, &a.dev));
    }
    if let Some(words) = &conf.auto {
        for w in words {
            assert!(!w.is_empty() && !w.contains(char::is_whitespace) && !w.contains('#'), "AUTO word {w:?}");
        }
    }
    let _ = conf.auto_disabled();
});
