//! Shell-style wildcards (`*`, `?`, `[...]`), as Apache's `Include` and the shell's `${V#pattern}`
//! use them, and path expansion for `Include`/`IncludeOptional`.

use std::path::{Component, Path, PathBuf};

/// Whether `s` contains a wildcard character.
pub fn has_wildcards(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// `fnmatch(3)` without flags: `*` and `?` match any character (also `/`), `[abc]`, `[a-z]`,
/// `[!x]`/`[^x]` match one character, `\x` matches `x` literally.
pub fn fnmatch(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    match_from(&p, &t)
}

fn match_from(p: &[char], t: &[char]) -> bool {
    // Iterative matcher with backtracking to the last `*` (linear in practice).
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ti));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ti += 1;
                    continue;
                }
                '[' => match class(p, pi, t[ti]) {
                    Some((true, next)) => {
                        pi = next;
                        ti += 1;
                        continue;
                    }
                    Some((false, _)) => {}
                    // An unterminated `[` is an ordinary character.
                    None if t[ti] == '[' => {
                        pi += 1;
                        ti += 1;
                        continue;
                    }
                    None => {}
                },
                '\\' if pi + 1 < p.len() => {
                    if p[pi + 1] == t[ti] {
                        pi += 2;
                        ti += 1;
                        continue;
                    }
                }
                c => {
                    if c == t[ti] {
                        pi += 1;
                        ti += 1;
                        continue;
                    }
                }
            }
        }
        // Mismatch: let the last `*` absorb one more character.
        match star {
            Some((sp, st)) => {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Match `c` against the bracket expression starting at `p[start] == '['`. Returns whether it
/// matched and the index after the closing `]`, or `None` if the expression is unterminated.
fn class(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = i < p.len() && (p[i] == '!' || p[i] == '^');
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < p.len() {
        if p[i] == ']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        let lo = if p[i] == '\\' && i + 1 < p.len() {
            i += 1;
            p[i]
        } else {
            p[i]
        };
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            let hi = p[i + 2];
            if lo <= c && c <= hi {
                matched = true;
            }
            i += 3;
        } else {
            if lo == c {
                matched = true;
            }
            i += 1;
        }
    }
    None
}

/// Expand a path whose components may contain wildcards, in alphabetical order at each level
/// (Apache sorts the matches). Wildcards do not match names starting with a dot unless the
/// pattern component does. Components without wildcards are taken as they are; the caller
/// checks that the results exist.
pub fn expand(pattern: &Path) -> Vec<PathBuf> {
    let mut current: Vec<PathBuf> = vec![PathBuf::new()];
    for comp in pattern.components() {
        let name = match comp {
            Component::RootDir => {
                current.iter_mut().for_each(|p| p.push("/"));
                continue;
            }
            Component::Normal(n) => n,
            other => {
                current.iter_mut().for_each(|p| p.push(other.as_os_str()));
                continue;
            }
        };
        let Some(pat) = name.to_str().filter(|s| has_wildcards(s)) else {
            current.iter_mut().for_each(|p| p.push(name));
            continue;
        };
        let mut next = Vec::new();
        for dir in &current {
            let listing = if dir.as_os_str().is_empty() { Path::new(".") } else { dir.as_path() };
            let Ok(entries) = std::fs::read_dir(listing) else { continue };
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| (!n.starts_with('.') || pat.starts_with('.')) && fnmatch(pat, n))
                .collect();
            names.sort();
            next.extend(names.into_iter().map(|n| dir.join(n)));
        }
        current = next;
        if current.is_empty() {
            break;
        }
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(fnmatch("*.conf", "status.conf"));
        assert!(!fnmatch("*.conf", "status.load"));
        assert!(fnmatch("*", ""));
        assert!(fnmatch("a?c", "abc"));
        assert!(!fnmatch("a?c", "ac"));
        assert!(fnmatch("[0-9]*-default.conf", "000-default.conf"));
        assert!(fnmatch("[!x]b", "ab"));
        assert!(!fnmatch("[!a]b", "ab"));
        assert!(fnmatch("/etc/apache2-*", "/etc/apache2-web"));
        assert!(fnmatch("a\\*", "a*"));
        assert!(!fnmatch("a\\*", "ab"));
        assert!(fnmatch("*a*b*c", "xxaybzzc"));
        assert!(fnmatch("[", "["));
    }

    #[test]
    fn expands_in_order_and_skips_dot_files() {
        let d = tempfile::tempdir().unwrap();
        for n in ["b.conf", "a.conf", ".hidden.conf", "c.load"] {
            std::fs::write(d.path().join(n), "").unwrap();
        }
        std::fs::create_dir(d.path().join("sub1")).unwrap();
        std::fs::write(d.path().join("sub1/x.conf"), "").unwrap();
        let got = expand(&d.path().join("*.conf"));
        assert_eq!(got, vec![d.path().join("a.conf"), d.path().join("b.conf")]);
        let got = expand(&d.path().join("sub*/*.conf"));
        assert_eq!(got, vec![d.path().join("sub1/x.conf")]);
        assert!(expand(&d.path().join("none*/x")).is_empty());
    }
}
