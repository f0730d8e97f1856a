//! mdadm.conf: the `ARRAY` lines (device, UUID, name) and `AUTO`, as mdadm.conf(5) defines
//! them: `#` starts a comment, a line starting with white space continues the previous one,
//! keywords may be abbreviated to three letters and are case-insensitive.

/// One `ARRAY` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArrayLine {
    /// The device (`/dev/md0`, `/dev/md/web`) or `<ignore>`.
    pub dev: String,
    /// `UUID=` normalised to lower-case hex without separators.
    pub uuid: Option<String>,
    pub name: Option<String>,
    /// 1-based line where the ARRAY keyword is (for messages: file:line).
    pub line: usize,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MdadmConf {
    pub arrays: Vec<ArrayLine>,
    /// The `AUTO` words as written (`-all`, `+1.x homehost`, ...).
    pub auto: Option<Vec<String>>,
}

impl MdadmConf {
    /// Whether the conf stops the system's auto-assembly of every array (`AUTO -all`).
    pub fn auto_disabled(&self) -> bool {
        self.auto.as_ref().is_some_and(|w| w.last().is_some_and(|l| l.eq_ignore_ascii_case("-all")))
    }

    /// The ARRAY line for a device as given in md_dev.
    pub fn array_for(&self, dev: &str) -> Option<&ArrayLine> {
        self.arrays.iter().find(|a| same_device(&a.dev, dev))
    }
}

/// `/dev/md0` and `/dev/md/0` name the same array (mdadm treats them alike).
pub fn same_device(a: &str, b: &str) -> bool {
    fn canon(d: &str) -> String {
        match d.strip_prefix("/dev/md/") {
            Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => format!("/dev/md{n}"),
            _ => d.to_string(),
        }
    }
    canon(a) == canon(b)
}

/// Lower-case hex digits only: mdadm writes UUIDs as `a:b:c:d`, blkid as `a-b-c-d`.
pub fn normalise_uuid(u: &str) -> String {
    u.chars().filter(|c| c.is_ascii_hexdigit()).map(|c| c.to_ascii_lowercase()).collect()
}

fn keyword(word: &str, full: &str) -> bool {
    word.len() >= 3 && full.len() >= word.len() && full[..word.len()].eq_ignore_ascii_case(word)
}

/// Parse the text. Errors name the line (`file:line` is added by the caller).
pub fn parse(text: &str) -> Result<MdadmConf, (usize, String)> {
    // Join continuation lines, remembering where each logical line began.
    let mut logical: Vec<(usize, String)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let l = raw.split('#').next().unwrap_or("");
        if l.trim().is_empty() {
            continue;
        }
        if l.starts_with(char::is_whitespace) {
            if let Some((_, prev)) = logical.last_mut() {
                prev.push(' ');
                prev.push_str(l.trim());
                continue;
            }
        }
        logical.push((i + 1, l.trim().to_string()));
    }
    let mut conf = MdadmConf::default();
    for (line, l) in logical {
        let mut words = l.split_whitespace();
        let Some(kw) = words.next() else { continue };
        if keyword(kw, "array") {
            let rest: Vec<&str> = words.collect();
            let mut dev = None;
            let mut uuid = None;
            let mut name = None;
            for w in rest {
                match w.split_once('=') {
                    Some((k, v)) if k.eq_ignore_ascii_case("uuid") => {
                        let n = normalise_uuid(v);
                        if n.len() != 32 {
                            return Err((line, format!("ARRAY: UUID={v} is not a 128-bit UUID")));
                        }
                        uuid = Some(n);
                    }
                    Some((k, v)) if k.eq_ignore_ascii_case("name") => name = Some(v.to_string()),
                    Some(_) => {}
                    None if dev.is_none() => dev = Some(w.to_string()),
                    None => {}
                }
            }
            let Some(dev) = dev else {
                return Err((line, "ARRAY line without a device".to_string()));
            };
            conf.arrays.push(ArrayLine { dev, uuid, name, line });
        } else if keyword(kw, "auto") {
            conf.auto = Some(words.map(str::to_string).collect());
        }
    }
    Ok(conf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_auto_comments_and_continuations() {
        let c = parse(
            "# mdadm.conf\nDEVICE /dev/loop*\nAUTO +imsm -all\n\
             ARRAY /dev/md0 metadata=1.2 name=n1:0\n   UUID=3aaa0122:29827cfa:5331ad66:ca767371\n\
             arr /dev/md/web UUID=3AAA0122-29827CFA-5331AD66-CA767372 # web content\n\
             MAILADDR root\n",
        )
        .unwrap();
        assert!(c.auto_disabled());
        assert_eq!(c.arrays.len(), 2);
        assert_eq!(c.arrays[0].dev, "/dev/md0");
        assert_eq!(c.arrays[0].uuid.as_deref(), Some("3aaa012229827cfa5331ad66ca767371"));
        assert_eq!(c.arrays[0].name.as_deref(), Some("n1:0"));
        assert_eq!(c.arrays[0].line, 4);
        assert_eq!(c.arrays[1].line, 6);
        assert_eq!(c.arrays[1].uuid.as_deref(), Some("3aaa012229827cfa5331ad66ca767372"));
        assert!(c.array_for("/dev/md/0").is_some());
        assert!(c.array_for("/dev/md/web").is_some());
        assert!(c.array_for("/dev/md1").is_none());
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(parse("\nARRAY\n").unwrap_err().0, 2);
        assert_eq!(parse("ARRAY /dev/md0 UUID=12\n").unwrap_err().0, 1);
        let c = parse("AUTO +all\n").unwrap();
        assert!(!c.auto_disabled());
        assert!(!parse("").unwrap().auto_disabled());
        // A continuation with nothing before it is a line of its own.
        assert!(parse("  ARRAY /dev/md0\n").unwrap().arrays.len() == 1);
    }
}
