//! `/proc/mdstat`: which arrays the kernel has, their level, members and progress.
//!
//! A pure parser over the text, so it is tested on captured contents. The format:
//!
//! ```text
//! md0 : active raid6 loop4[4] loop3[3](F) loop2[2] loop1[1] loop0[0]
//!       3072 blocks super 1.2 level 6, 512k chunk, algorithm 2 [5/4] [UUU_U]
//!       [==>..................]  recovery = 12.6% (1/8) finish=0.1min speed=1K/sec
//! ```

/// One array line block of /proc/mdstat.
#[derive(Clone, Debug, PartialEq)]
pub struct MdstatArray {
    /// Kernel name, e.g. `md0`.
    pub name: String,
    /// `active` (false: `inactive`).
    pub active: bool,
    /// `(read-only)` or `(auto-read-only)` after `active`.
    pub read_only: bool,
    /// `raid1`, `raid6`, ...; None for an inactive array (the kernel does not say).
    pub level: Option<String>,
    pub members: Vec<Member>,
    /// `[n/m]`: slots in the array and working members.
    pub slots: Option<(u32, u32)>,
    /// `resync`, `recovery`, `check`, `reshape`, `repair` with the percentage done.
    pub progress: Option<(String, f64)>,
}

/// A member as `loop3[3](F)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub dev: String,
    pub slot: u32,
    /// `F` faulty, `S` spare, `W` write-mostly, `R` replacement, ...
    pub flags: String,
}

fn parse_member(tok: &str) -> Option<Member> {
    let (dev, rest) = tok.split_once('[')?;
    let (slot, rest) = rest.split_once(']')?;
    let flags: String = rest.chars().filter(|c| c.is_ascii_alphabetic()).collect();
    Some(Member { dev: dev.to_string(), slot: slot.parse().ok()?, flags })
}

/// Parse the whole file; lines that belong to no array (Personalities, unused devices) are
/// skipped, and an unrecognisable line never fails the parse (the kernel may add fields).
pub fn parse(text: &str) -> Vec<MdstatArray> {
    let mut out: Vec<MdstatArray> = Vec::new();
    for line in text.lines() {
        if !line.starts_with(char::is_whitespace) {
            let Some((name, rest)) = line.split_once(" : ") else { continue };
            let name = name.trim();
            if !name.starts_with("md") || name.contains(char::is_whitespace) {
                continue;
            }
            let mut toks = rest.split_whitespace().peekable();
            let active = match toks.next() {
                Some("active") => true,
                Some("inactive") => false,
                _ => continue,
            };
            let mut read_only = false;
            while let Some(t) = toks.peek() {
                if t.starts_with('(') {
                    read_only |= t.contains("read-only");
                    toks.next();
                } else {
                    break;
                }
            }
            let mut level = None;
            if active {
                if let Some(t) = toks.peek() {
                    if !t.contains('[') {
                        level = Some(t.to_string());
                        toks.next();
                    }
                }
            }
            let members = toks.filter_map(parse_member).collect();
            out.push(MdstatArray {
                name: name.to_string(),
                active,
                read_only,
                level,
                members,
                slots: None,
                progress: None,
            });
            continue;
        }
        let Some(cur) = out.last_mut() else { continue };
        let l = line.trim();
        if cur.slots.is_none() {
            if let Some(s) = find_slots(l) {
                cur.slots = Some(s);
            }
        }
        for kind in ["resync", "recovery", "check", "reshape", "repair"] {
            if let Some(pos) = l.find(&format!("{kind} =")) {
                let after = &l[pos + kind.len() + 2..];
                let pct = after.trim_start().split('%').next().and_then(|p| p.trim().parse::<f64>().ok());
                if let Some(p) = pct {
                    cur.progress = Some((kind.to_string(), p));
                }
            } else if l.contains(&format!("{kind}=DELAYED")) || l.contains(&format!("{kind}=PENDING")) {
                cur.progress = Some((kind.to_string(), 0.0));
            }
        }
    }
    out
}

/// `[5/4]` in the status line.
fn find_slots(l: &str) -> Option<(u32, u32)> {
    l.split_whitespace().find_map(|t| {
        let inner = t.strip_prefix('[')?.strip_suffix(']')?;
        let (a, b) = inner.split_once('/')?;
        Some((a.parse().ok()?, b.parse().ok()?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "Personalities : [raid1] [raid6] [raid5] [raid4] [raid0]\n\
md1 : active raid0 loop9[1] loop8[0]\n      \
8192 blocks super 1.2 512k chunks\n\
\n\
md0 : active raid6 loop4[4] loop3[3](F) loop2[2] loop1[1] loop0[0]\n      \
3072 blocks super 1.2 level 6, 512k chunk, algorithm 2 [5/4] [UUU_U]\n      \
[==>..................]  recovery = 12.6% (130/1024) finish=0.1min speed=1K/sec\n\
\n\
md2 : active (auto-read-only) raid1 loop6[1] loop5[0]\n      \
1024 blocks super 1.2 [2/2] [UU]\n      \
\tresync=PENDING\n\
md3 : inactive loop7[0](S)\n      \
1024 blocks super 1.2\n\
\n\
unused devices: <none>\n";

    #[test]
    fn parses_levels_members_slots_and_progress() {
        let a = parse(SAMPLE);
        assert_eq!(a.len(), 4);
        assert_eq!(a[0].name, "md1");
        assert_eq!(a[0].level.as_deref(), Some("raid0"));
        assert_eq!(a[0].slots, None);
        let md0 = &a[1];
        assert!(md0.active && !md0.read_only);
        assert_eq!(md0.level.as_deref(), Some("raid6"));
        assert_eq!(md0.members.len(), 5);
        assert_eq!(md0.members[1], Member { dev: "loop3".into(), slot: 3, flags: "F".into() });
        assert_eq!(md0.slots, Some((5, 4)));
        assert_eq!(md0.progress, Some(("recovery".into(), 12.6)));
        assert!(a[2].read_only);
        assert_eq!(a[2].level.as_deref(), Some("raid1"));
        assert_eq!(a[2].progress, Some(("resync".into(), 0.0)));
        assert!(!a[3].active);
        assert_eq!(a[3].level, None);
        assert_eq!(a[3].members[0].flags, "S");
    }

    #[test]
    fn garbage_never_panics() {
        for t in [
            "",
            "md0 :",
            "md0 : active",
            " : active raid1",
            "md0 : active raid1 x[",
            "\n   [/]\n",
            "md9 : weird",
        ] {
            let _ = parse(t);
        }
        assert!(parse("Personalities : [raid1]\nunused devices: <none>\n").is_empty());
    }
}
