//! Resource ids, value quoting and "did you mean" suggestions.

/// Edit distance (optimal string alignment: a swap of two neighbours is one edit),
/// case-insensitive: how far a misspelt name is from a known one.
pub fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

/// The known name nearest to `name`, if it is near enough to be a misspelling of it
/// (at most 1 edit for names under 6 characters, 2 otherwise). Ties go to the earlier entry.
pub fn nearest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    let limit = if name.chars().count() >= 6 { 2 } else { 1 };
    known
        .iter()
        .map(|k| (distance(name, k), *k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// A CIB id made of `raw`: XML ID characters only, starting with a letter.
pub fn id(raw: &str) -> String {
    let mut s: String =
        raw.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect();
    if !s.starts_with(|c: char| c.is_ascii_alphabetic()) {
        s.insert_str(0, "r-");
    }
    s
}

/// Makes ids unique in order of appearance: the second `web` becomes `web-2`.
#[derive(Default)]
pub struct Ids(std::collections::BTreeSet<String>);

impl Ids {
    pub fn take(&mut self, wanted: &str) -> String {
        let base = id(wanted);
        let mut candidate = base.clone();
        let mut n = 2;
        while self.0.contains(&candidate) {
            candidate = format!("{base}-{n}");
            n += 1;
        }
        self.0.insert(candidate.clone());
        candidate
    }
}

fn plain(v: &str) -> bool {
    !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || "._/:@%+,-[]".contains(c))
}

/// A value for a crmsh `name=value`: double-quoted when it has anything but plain characters.
pub fn crm_value(v: &str) -> String {
    if plain(v) { v.to_string() } else { format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")) }
}

/// A word for a POSIX shell: single-quoted when it has anything but plain characters.
pub fn sh_word(v: &str) -> String {
    if plain(v) && !v.contains('[') && !v.contains(']') {
        v.to_string()
    } else {
        format!("'{}'", v.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misspellings() {
        assert_eq!(nearest("IPadrrs", &["IPaddr", "IPaddr2", "apache"]), Some("IPaddr"));
        assert_eq!(nearest("vsftpd", &["IPaddr", "IPaddr2", "apache"]), None);
        assert_eq!(nearest("nfs", &["LVM", "WAS"]), None);
    }

    #[test]
    fn ids_and_quoting() {
        assert_eq!(id("192.168.0.1"), "r-192.168.0.1");
        let mut ids = Ids::default();
        assert_eq!(ids.take("web"), "web");
        assert_eq!(ids.take("web"), "web-2");
        assert_eq!(crm_value("a b"), "\"a b\"");
        assert_eq!(sh_word("it's"), "'it'\\''s'");
        assert_eq!(sh_word("198.51.100.1"), "198.51.100.1");
    }
}
