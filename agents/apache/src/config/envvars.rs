//! Environment files (`envfiles`, Debian's `/etc/apache2/envvars`): the small part of the shell
//! language such files use, evaluated without running a shell.
//!
//! Supported: assignments (`VAR=value`, `export VAR[=value]`, `unset VAR`, `set -a`/`set +a`),
//! quoting (`'...'`, `"..."`, `\x`), parameter expansion (`$VAR`, `${VAR}`, `${VAR:-w}`,
//! `${VAR-w}`, `${VAR:=w}`, `${VAR:+w}`, `${#VAR}`, `${VAR#p}`, `${VAR##p}`, `${VAR%p}`,
//! `${VAR%%p}`), `if/elif/else/fi` over `[ ... ]`/`test` conditions (`=`, `!=`, `-z`, `-n`,
//! `-e`, `-f`, `-d`, `-r`, `-x`, `-s`, integer comparisons, `!`), `&&`/`||`, and `.`/`source` of
//! further files. Anything else (command substitution, pipelines, loops, other commands such as
//! `ulimit`) is skipped and noted: a health-check agent must never execute what a file says.
//! Words are not field-split or globbed after expansion.

use std::collections::BTreeMap;
use std::path::Path;

use super::glob::fnmatch;

/// How deep `.`/`source` may nest.
const MAX_SOURCE_DEPTH: usize = 8;

#[derive(Clone, Debug, PartialEq, Eq)]
struct Var {
    value: String,
    exported: bool,
}

/// Shell variables after evaluating environment files.
#[derive(Clone, Debug, Default)]
pub struct ShellEnv {
    vars: BTreeMap<String, Var>,
    allexport: bool,
    /// What was skipped or could not be read, for debug logging.
    pub notes: Vec<String>,
}

impl ShellEnv {
    /// An environment seeded with exported variables.
    pub fn with_exported<I, K, V>(vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut env = ShellEnv::default();
        for (k, v) in vars {
            env.vars.insert(k.into(), Var { value: v.into(), exported: true });
        }
        env
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(|v| v.value.as_str())
    }

    /// Set a variable; `export` marks it exported (it stays exported once it is).
    pub fn set(&mut self, name: &str, value: &str, export: bool) {
        let exported = export || self.allexport || self.vars.get(name).is_some_and(|v| v.exported);
        self.vars.insert(name.to_string(), Var { value: value.to_string(), exported });
    }

    pub fn unset(&mut self, name: &str) {
        self.vars.remove(name);
    }

    /// The exported variables: what a child process (httpd) would see.
    pub fn exported(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().filter(|(_, v)| v.exported).map(|(k, v)| (k.as_str(), v.value.as_str()))
    }

    /// Evaluate a file as `. file` would. A missing file is an error for the caller to judge.
    pub fn source_file(&mut self, path: &Path) -> std::io::Result<()> {
        self.source_at_depth(path, 0)
    }

    fn source_at_depth(&mut self, path: &Path, depth: usize) -> std::io::Result<()> {
        let bytes = std::fs::read(path)?;
        let text = String::from_utf8_lossy(&bytes);
        self.eval_at_depth(&text, depth);
        Ok(())
    }

    /// Evaluate shell text.
    pub fn eval(&mut self, text: &str) {
        self.eval_at_depth(text, 0)
    }

    fn eval_at_depth(&mut self, text: &str, depth: usize) {
        let tokens = tokenize(text);
        let mut parser = Parser { tokens: &tokens, pos: 0 };
        let nodes = parser.list(&[]);
        for n in &nodes {
            self.exec(n, depth);
        }
    }

    fn exec(&mut self, node: &Node, depth: usize) -> bool {
        match node {
            Node::Simple(words) => self.simple(words, depth),
            Node::AndOr(a, and, b) => {
                let ok = self.exec(a, depth);
                if ok == *and { self.exec(b, depth) } else { ok }
            }
            Node::If(branches, otherwise) => {
                for (cond, body) in branches {
                    let mut ok = true;
                    for n in cond {
                        ok = self.exec(n, depth);
                    }
                    if ok {
                        return body.iter().fold(true, |_, n| self.exec(n, depth));
                    }
                }
                otherwise.iter().fold(true, |_, n| self.exec(n, depth))
            }
            Node::Skipped(what) => {
                self.notes.push(format!("skipped: {what}"));
                true
            }
        }
    }

    fn simple(&mut self, words: &[String], depth: usize) -> bool {
        let mut i = 0;
        let mut assignments = Vec::new();
        while i < words.len() {
            match split_assignment(&words[i]) {
                Some((name, raw)) => assignments.push((name, raw)),
                None => break,
            }
            i += 1;
        }
        if i == words.len() {
            for (name, raw) in assignments {
                let value = self.expand(raw);
                self.set(name, &value, false);
            }
            return true;
        }
        if !assignments.is_empty() {
            // `VAR=x command`: the assignment applies to that command only.
            self.notes.push(format!("skipped command with temporary assignments: {}", words.join(" ")));
            return true;
        }
        let cmd = self.expand(&words[0]);
        let rest = &words[1..];
        if cmd == "!" {
            return !self.simple(rest, depth);
        }
        match cmd.as_str() {
            "export" | "readonly" => {
                for w in rest {
                    if w.starts_with('-') {
                        continue;
                    }
                    match split_assignment(w) {
                        Some((name, raw)) => {
                            let value = self.expand(raw);
                            self.set(name, &value, cmd == "export");
                        }
                        None => {
                            let name = self.expand(w);
                            if let Some(v) = self.vars.get_mut(&name) {
                                v.exported |= cmd == "export";
                            } else if cmd == "export" {
                                // Exported but unset: not passed to children.
                            }
                        }
                    }
                }
                true
            }
            "unset" => {
                for w in rest.iter().filter(|w| !w.starts_with('-')) {
                    let name = self.expand(w);
                    self.unset(&name);
                }
                true
            }
            "set" => {
                for w in rest {
                    match self.expand(w).as_str() {
                        "-a" => self.allexport = true,
                        "+a" => self.allexport = false,
                        _ => {}
                    }
                }
                true
            }
            "." | "source" => {
                let Some(file) = rest.first().map(|w| self.expand(w)) else { return false };
                if depth >= MAX_SOURCE_DEPTH {
                    self.notes.push(format!("not sourcing {file}: nested too deeply"));
                    return false;
                }
                match self.source_at_depth(Path::new(&file), depth + 1) {
                    Ok(()) => true,
                    Err(e) => {
                        self.notes.push(format!("cannot source {file}: {e}"));
                        false
                    }
                }
            }
            "[" | "test" => {
                let mut args: Vec<String> = rest.iter().map(|w| self.expand(w)).collect();
                if cmd == "[" {
                    if args.last().map(String::as_str) != Some("]") {
                        self.notes.push(format!("malformed test: {}", words.join(" ")));
                        return false;
                    }
                    args.pop();
                }
                test(&args)
            }
            "true" | ":" => true,
            "false" => false,
            _ => {
                self.notes.push(format!("skipped command: {}", words.join(" ")));
                true
            }
        }
    }

    /// `$...` or a backquoted command at `chars[i]`, the same inside double quotes and out:
    /// parameters are substituted into `out`, commands are never executed. Returns the index
    /// after it.
    fn substitution(&mut self, chars: &[char], i: usize, out: &mut String) -> usize {
        if chars[i] == '$' {
            let (s, next) = self.dollar(chars, i);
            out.push_str(&s);
            next
        } else {
            self.notes.push("command substitution not executed".to_string());
            skip_backquote(chars, i)
        }
    }

    /// Expand one word: quotes removed, parameters substituted.
    pub fn expand(&mut self, raw: &str) -> String {
        let chars: Vec<char> = raw.chars().collect();
        let mut out = String::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '\'' => {
                    i += 1;
                    while i < chars.len() && chars[i] != '\'' {
                        out.push(chars[i]);
                        i += 1;
                    }
                    i += 1;
                }
                '"' => {
                    i += 1;
                    while i < chars.len() && chars[i] != '"' {
                        match chars[i] {
                            '\\' if i + 1 < chars.len() && matches!(chars[i + 1], '$' | '`' | '"' | '\\') => {
                                out.push(chars[i + 1]);
                                i += 2;
                            }
                            '\\' if i + 1 < chars.len() && chars[i + 1] == '\n' => i += 2,
                            '$' | '`' => i = self.substitution(&chars, i, &mut out),
                            c => {
                                out.push(c);
                                i += 1;
                            }
                        }
                    }
                    i += 1;
                }
                '\\' => {
                    if i + 1 < chars.len() && chars[i + 1] != '\n' {
                        out.push(chars[i + 1]);
                    }
                    i += 2;
                }
                '$' | '`' => i = self.substitution(&chars, i, &mut out),
                c => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        out
    }

    /// Expand the `$...` starting at `chars[i] == '$'`; returns the text and the next index.
    fn dollar(&mut self, chars: &[char], i: usize) -> (String, usize) {
        let Some(&next) = chars.get(i + 1) else { return ("$".to_string(), i + 1) };
        if next == '{' {
            let end = matching_brace(chars, i + 1);
            let inner: String = chars[i + 2..end.min(chars.len())].iter().collect();
            return (self.braced(&inner), end + 1);
        }
        if next == '(' {
            let end = matching_paren(chars, i + 1);
            self.notes.push("command substitution not executed".to_string());
            return (String::new(), end + 1);
        }
        if next.is_ascii_alphabetic() || next == '_' {
            let mut j = i + 1;
            while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            let name: String = chars[i + 1..j].iter().collect();
            return (self.get(&name).unwrap_or("").to_string(), j);
        }
        if next.is_ascii_digit() || matches!(next, '?' | '$' | '!' | '#' | '@' | '*' | '-') {
            // Positional and special parameters: a sourced file has none worth knowing.
            let v = if next == '?' || next == '#' { "0" } else { "" };
            return (v.to_string(), i + 2);
        }
        ("$".to_string(), i + 1)
    }

    /// `${...}` forms.
    fn braced(&mut self, inner: &str) -> String {
        if let Some(name) = inner.strip_prefix('#')
            && is_name(name)
        {
            return self.get(name).map(|v| v.chars().count()).unwrap_or(0).to_string();
        }
        let name_len = inner.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').count();
        let (name, op) = inner.split_at(name_len);
        let value = self.get(name).map(str::to_string);
        let set_nonempty = value.as_deref().is_some_and(|v| !v.is_empty());
        let ops: [(&str, u8); 10] = [
            (":-", 0),
            (":=", 1),
            (":+", 2),
            (":?", 3),
            ("##", 4),
            ("%%", 5),
            ("-", 6),
            ("=", 7),
            ("+", 8),
            ("?", 9),
        ];
        if op.is_empty() {
            return value.unwrap_or_default();
        }
        for (prefix, kind) in ops {
            if let Some(word) = op.strip_prefix(prefix) {
                return match kind {
                    0 => {
                        if set_nonempty {
                            value.unwrap_or_default()
                        } else {
                            self.expand(word)
                        }
                    }
                    1 => {
                        if set_nonempty {
                            value.unwrap_or_default()
                        } else {
                            let w = self.expand(word);
                            self.set(name, &w, false);
                            w
                        }
                    }
                    2 => {
                        if set_nonempty {
                            self.expand(word)
                        } else {
                            String::new()
                        }
                    }
                    3 | 9 => value.unwrap_or_default(),
                    4 => strip_prefix_pattern(&value.unwrap_or_default(), &self.expand(word), true),
                    5 => strip_suffix_pattern(&value.unwrap_or_default(), &self.expand(word), true),
                    6 => match value {
                        Some(v) => v,
                        None => self.expand(word),
                    },
                    7 => match value {
                        Some(v) => v,
                        None => {
                            let w = self.expand(word);
                            self.set(name, &w, false);
                            w
                        }
                    },
                    _ => {
                        if value.is_some() {
                            self.expand(word)
                        } else {
                            String::new()
                        }
                    }
                };
            }
        }
        if let Some(word) = op.strip_prefix('#') {
            return strip_prefix_pattern(&value.unwrap_or_default(), &self.expand(word), false);
        }
        if let Some(word) = op.strip_prefix('%') {
            return strip_suffix_pattern(&value.unwrap_or_default(), &self.expand(word), false);
        }
        self.notes.push(format!("unsupported expansion ${{{inner}}}"));
        String::new()
    }
}

fn is_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `NAME=value` → `(NAME, raw value)`.
fn split_assignment(word: &str) -> Option<(&str, &str)> {
    let (name, value) = word.split_once('=')?;
    is_name(name).then_some((name, value))
}

fn strip_prefix_pattern(value: &str, pattern: &str, longest: bool) -> String {
    let bounds: Vec<usize> = value.char_indices().map(|(i, _)| i).chain([value.len()]).collect();
    let candidates: Box<dyn Iterator<Item = &usize>> =
        if longest { Box::new(bounds.iter().rev()) } else { Box::new(bounds.iter()) };
    for &b in candidates {
        if fnmatch(pattern, &value[..b]) {
            return value[b..].to_string();
        }
    }
    value.to_string()
}

fn strip_suffix_pattern(value: &str, pattern: &str, longest: bool) -> String {
    let bounds: Vec<usize> = value.char_indices().map(|(i, _)| i).chain([value.len()]).collect();
    let candidates: Box<dyn Iterator<Item = &usize>> =
        if longest { Box::new(bounds.iter()) } else { Box::new(bounds.iter().rev()) };
    for &b in candidates {
        if fnmatch(pattern, &value[b..]) {
            return value[..b].to_string();
        }
    }
    value.to_string()
}

fn matching_brace(chars: &[char], open: usize) -> usize {
    let mut depth = 0;
    let mut i = open;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            '\'' => {
                i += 1;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    chars.len()
}

fn matching_paren(chars: &[char], open: usize) -> usize {
    let mut depth = 0;
    for (i, &c) in chars.iter().enumerate().skip(open) {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    chars.len()
}

fn skip_backquote(chars: &[char], open: usize) -> usize {
    let mut i = open + 1;
    while i < chars.len() && chars[i] != '`' {
        if chars[i] == '\\' {
            i += 1;
        }
        i += 1;
    }
    i + 1
}

/// `test` / `[`.
fn test(args: &[String]) -> bool {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    match a.as_slice() {
        [] => false,
        ["!", rest @ ..] => !test(&rest.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
        [s] => !s.is_empty(),
        [op, x] => unary(op, x),
        [x, op, y] => binary(x, op, y),
        _ => false,
    }
}

fn unary(op: &str, x: &str) -> bool {
    let meta = || std::fs::metadata(x);
    match op {
        "-z" => x.is_empty(),
        "-n" => !x.is_empty(),
        "-e" => meta().is_ok(),
        "-f" => meta().is_ok_and(|m| m.is_file()),
        "-d" => meta().is_ok_and(|m| m.is_dir()),
        "-s" => meta().is_ok_and(|m| m.len() > 0),
        "-r" => nix::unistd::access(x, nix::unistd::AccessFlags::R_OK).is_ok(),
        "-x" => nix::unistd::access(x, nix::unistd::AccessFlags::X_OK).is_ok(),
        "-L" | "-h" => std::fs::symlink_metadata(x).is_ok_and(|m| m.file_type().is_symlink()),
        _ => false,
    }
}

fn binary(x: &str, op: &str, y: &str) -> bool {
    let ints = || Some((x.trim().parse::<i64>().ok()?, y.trim().parse::<i64>().ok()?));
    match op {
        "=" | "==" => x == y,
        "!=" => x != y,
        "-eq" => ints().is_some_and(|(a, b)| a == b),
        "-ne" => ints().is_some_and(|(a, b)| a != b),
        "-lt" => ints().is_some_and(|(a, b)| a < b),
        "-le" => ints().is_some_and(|(a, b)| a <= b),
        "-gt" => ints().is_some_and(|(a, b)| a > b),
        "-ge" => ints().is_some_and(|(a, b)| a >= b),
        _ => false,
    }
}

// ---- Syntax: tokens and a tiny recursive-descent parser ------------------------------------

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    /// A word in its raw form (quotes kept; expanded when executed).
    Word(String),
    /// `;` or a newline.
    Sep,
    And,
    Or,
    Pipe,
    Amp,
}

fn tokenize(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut word = String::new();
    let mut i = 0;
    let flush = |word: &mut String, tokens: &mut Vec<Token>| {
        if !word.is_empty() {
            tokens.push(Token::Word(std::mem::take(word)));
        }
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            '#' if word.is_empty() => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            ' ' | '\t' | '\r' => flush(&mut word, &mut tokens),
            '\n' | ';' => {
                flush(&mut word, &mut tokens);
                tokens.push(Token::Sep);
            }
            '&' | '|' => {
                flush(&mut word, &mut tokens);
                let double = chars.get(i + 1) == Some(&c);
                tokens.push(match (c, double) {
                    ('&', true) => Token::And,
                    ('|', true) => Token::Or,
                    ('&', false) => Token::Amp,
                    _ => Token::Pipe,
                });
                if double {
                    i += 1;
                }
            }
            '\\' => {
                if chars.get(i + 1) == Some(&'\n') {
                    i += 2;
                    continue;
                }
                word.push(c);
                if let Some(&n) = chars.get(i + 1) {
                    word.push(n);
                    i += 1;
                }
            }
            '\'' => {
                let start = i;
                i += 1;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                word.extend(&chars[start..(i + 1).min(chars.len())]);
            }
            '"' => {
                let start = i;
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' {
                        i += 1;
                    }
                    i += 1;
                }
                word.extend(&chars[start..(i + 1).min(chars.len())]);
            }
            '$' if matches!(chars.get(i + 1), Some('{') | Some('(')) => {
                let end = if chars[i + 1] == '{' {
                    matching_brace(&chars, i + 1)
                } else {
                    matching_paren(&chars, i + 1)
                };
                word.extend(&chars[i..(end + 1).min(chars.len())]);
                i = end;
            }
            '`' => {
                let end = skip_backquote(&chars, i);
                word.extend(&chars[i..end.min(chars.len())]);
                i = end;
                continue;
            }
            c => word.push(c),
        }
        i += 1;
    }
    flush(&mut word, &mut tokens);
    tokens
}

#[derive(Clone, Debug)]
enum Node {
    Simple(Vec<String>),
    /// `a && b` (true) or `a || b` (false).
    AndOr(Box<Node>, bool, Box<Node>),
    If(Vec<(Vec<Node>, Vec<Node>)>, Vec<Node>),
    Skipped(String),
}

struct Parser<'a> {
    tokens: &'a [Token],
    pos: usize,
}

const KEYWORDS_END: &[&str] = &["then", "elif", "else", "fi", "do", "done", "esac"];

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn peek_word(&self) -> Option<&str> {
        match self.peek() {
            Some(Token::Word(w)) => Some(w),
            _ => None,
        }
    }

    fn skip_seps(&mut self) {
        while matches!(self.peek(), Some(Token::Sep)) {
            self.pos += 1;
        }
    }

    /// Commands until one of `until` (a keyword at command position) or the end.
    fn list(&mut self, until: &[&str]) -> Vec<Node> {
        let mut nodes = Vec::new();
        loop {
            self.skip_seps();
            match self.peek() {
                None => break,
                Some(Token::Word(w)) if until.contains(&w.as_str()) => break,
                Some(Token::Word(w)) if KEYWORDS_END.contains(&w.as_str()) => {
                    // A stray terminator: skip it.
                    self.pos += 1;
                }
                Some(Token::Word(_)) => nodes.push(self.and_or()),
                Some(_) => self.pos += 1,
            }
        }
        nodes
    }

    fn and_or(&mut self) -> Node {
        let mut left = self.command();
        loop {
            let and = match self.peek() {
                Some(Token::And) => true,
                Some(Token::Or) => false,
                _ => break,
            };
            self.pos += 1;
            self.skip_seps();
            if self.peek_word().is_none() {
                break;
            }
            let right = self.command();
            left = Node::AndOr(Box::new(left), and, Box::new(right));
        }
        left
    }

    fn command(&mut self) -> Node {
        match self.peek_word() {
            Some("if") => return self.if_clause(),
            Some(kw @ ("case" | "for" | "while" | "until")) => {
                let what = kw.to_string();
                let end = if what == "case" { "esac" } else { "done" };
                self.skip_compound(&what, end);
                return Node::Skipped(format!("{what} ... {end}"));
            }
            _ => {}
        }
        let mut words = Vec::new();
        while let Some(Token::Word(w)) = self.peek() {
            words.push(w.clone());
            self.pos += 1;
        }
        match self.peek() {
            Some(Token::Pipe) | Some(Token::Amp) => {
                // Pipelines and background jobs run commands: skip the whole pipeline.
                while matches!(self.peek(), Some(Token::Pipe) | Some(Token::Amp) | Some(Token::Word(_))) {
                    self.pos += 1;
                }
                Node::Skipped(format!("pipeline or background command: {}", words.join(" ")))
            }
            _ => Node::Simple(words),
        }
    }

    fn skip_compound(&mut self, open: &str, close: &str) {
        let mut depth = 0;
        let mut at_command_start = true;
        while let Some(t) = self.peek() {
            if let Token::Word(w) = t {
                if at_command_start && w == open {
                    depth += 1;
                } else if at_command_start && w == close {
                    depth -= 1;
                    if depth == 0 {
                        self.pos += 1;
                        return;
                    }
                }
                at_command_start = false;
            } else {
                at_command_start = true;
            }
            self.pos += 1;
        }
    }

    fn if_clause(&mut self) -> Node {
        self.pos += 1; // `if`
        let mut branches = Vec::new();
        let mut otherwise = Vec::new();
        loop {
            let cond = self.list(&["then"]);
            if self.peek_word() != Some("then") {
                return Node::Skipped("if without then".to_string());
            }
            self.pos += 1;
            let body = self.list(&["elif", "else", "fi"]);
            branches.push((cond, body));
            match self.peek_word() {
                Some("elif") => {
                    self.pos += 1;
                    continue;
                }
                Some("else") => {
                    self.pos += 1;
                    otherwise = self.list(&["fi"]);
                    if self.peek_word() == Some("fi") {
                        self.pos += 1;
                    }
                    break;
                }
                Some("fi") => {
                    self.pos += 1;
                    break;
                }
                _ => return Node::Skipped("if without fi".to_string()),
            }
        }
        Node::If(branches, otherwise)
    }
}

/// Split a command-line string into words the way a shell would, without expanding anything
/// (used for `options` and `client_opts`). `None` when a quote is unbalanced.
pub fn split_words(s: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return None,
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(n @ ('"' | '\\' | '$' | '`')) => cur.push(n),
                            Some(n) => {
                                cur.push('\\');
                                cur.push(n);
                            }
                            None => return None,
                        },
                        Some(c) => cur.push(c),
                        None => return None,
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Some(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(text: &str) -> ShellEnv {
        let mut env = ShellEnv::default();
        env.eval(text);
        env
    }

    #[test]
    fn debian_envvars() {
        let text =
            std::fs::read_to_string("/etc/apache2/envvars").unwrap_or_else(|_| DEBIAN_ENVVARS.to_string());
        let mut env = ShellEnv::with_exported([("HOME", "/root"), ("PATH", "/usr/bin")]);
        env.eval(&text);
        assert_eq!(env.get("APACHE_PID_FILE"), Some("/var/run/apache2/apache2.pid"));
        assert_eq!(env.get("APACHE_RUN_USER"), Some("www-data"));
        assert_eq!(env.get("SUFFIX"), Some(""));
        assert_eq!(env.get("HOME"), None, "unset HOME");
        let exported: Vec<_> = env.exported().map(|(k, _)| k).collect();
        assert!(exported.contains(&"APACHE_LOCK_DIR") && exported.contains(&"LANG"));
        assert!(!exported.contains(&"SUFFIX"), "SUFFIX is not exported");
    }

    #[test]
    fn debian_multi_instance_suffix() {
        let mut env = ShellEnv::with_exported([("APACHE_CONFDIR", "/etc/apache2-web2")]);
        env.eval(DEBIAN_ENVVARS);
        assert_eq!(env.get("APACHE_PID_FILE"), Some("/var/run/apache2-web2/apache2.pid"));
    }

    const DEBIAN_ENVVARS: &str = r#"
unset HOME
if [ "${APACHE_CONFDIR##/etc/apache2-}" != "${APACHE_CONFDIR}" ] ; then
	SUFFIX="-${APACHE_CONFDIR##/etc/apache2-}"
else
	SUFFIX=
fi
export APACHE_RUN_USER=www-data
export APACHE_RUN_GROUP=www-data
export APACHE_PID_FILE=/var/run/apache2$SUFFIX/apache2.pid
export APACHE_RUN_DIR=/var/run/apache2$SUFFIX
export APACHE_LOCK_DIR=/var/lock/apache2$SUFFIX
export APACHE_LOG_DIR=/var/log/apache2$SUFFIX
export LANG=C
export LANG
"#;

    #[test]
    fn expansions() {
        let env = eval(
            r#"A=abc.tar.gz; B="x $A y"; C='$A'; D=${UNSET:-dflt}; E=${A:+set}; F=${A%.*}; G=${A%%.*}
               H=${A#*.}; I=${A##*.}; J=${#A}; K=${UNSET2:=assigned}; L=\$A; M="a\"b"; N=$(id -u)"#,
        );
        assert_eq!(env.get("B"), Some("x abc.tar.gz y"));
        assert_eq!(env.get("C"), Some("$A"));
        assert_eq!(env.get("D"), Some("dflt"));
        assert_eq!(env.get("E"), Some("set"));
        assert_eq!(env.get("F"), Some("abc.tar"));
        assert_eq!(env.get("G"), Some("abc"));
        assert_eq!(env.get("H"), Some("tar.gz"));
        assert_eq!(env.get("I"), Some("gz"));
        assert_eq!(env.get("J"), Some("10"));
        assert_eq!(env.get("K"), Some("assigned"));
        assert_eq!(env.get("UNSET2"), Some("assigned"));
        assert_eq!(env.get("L"), Some("$A"));
        assert_eq!(env.get("M"), Some("a\"b"));
        assert_eq!(env.get("N"), Some(""), "command substitution is never executed");
    }

    #[test]
    fn conditions_and_lists() {
        let env = eval(
            "X=1\nif [ \"$X\" = 2 ]; then R=two; elif [ -n \"$X\" ]; then R=nonempty; else R=else; fi\n\
             [ -d / ] && S=dir || S=nodir\n[ -f /nonexistent ] && T=yes || T=no\n\
             if ! [ -z \"$X\" ]; then U=ok; fi\nset -a\nV=auto\nset +a\nW=local",
        );
        assert_eq!(env.get("R"), Some("nonempty"));
        assert_eq!(env.get("S"), Some("dir"));
        assert_eq!(env.get("T"), Some("no"));
        assert_eq!(env.get("U"), Some("ok"));
        let exported: Vec<_> = env.exported().map(|(k, _)| k).collect();
        assert!(exported.contains(&"V") && !exported.contains(&"W"));
    }

    #[test]
    fn never_runs_commands() {
        let env = eval(
            "touch /tmp/rha-should-not-exist; X=`rm -rf /`; ulimit -n 65536 | cat; for i in 1 2; do Y=$i; done; Z=ok",
        );
        assert!(!Path::new("/tmp/rha-should-not-exist").exists());
        assert_eq!(env.get("X"), Some(""));
        assert_eq!(env.get("Y"), None);
        assert_eq!(env.get("Z"), Some("ok"));
        assert!(!env.notes.is_empty());
    }

    #[test]
    fn sources_other_files() {
        let d = tempfile::tempdir().unwrap();
        let inner = d.path().join("inner");
        std::fs::write(&inner, "export FROM_INNER=yes\n. ./missing-file\n").unwrap();
        let mut env = ShellEnv::default();
        env.eval(&format!(". {}\n[ -f {} ] && source {}", inner.display(), inner.display(), inner.display()));
        assert_eq!(env.get("FROM_INNER"), Some("yes"));
        // A file sourcing itself stops at the depth limit.
        std::fs::write(&inner, format!(". {}\nLOOP=1", inner.display())).unwrap();
        let mut env = ShellEnv::default();
        env.source_file(&inner).unwrap();
        assert_eq!(env.get("LOOP"), Some("1"));
    }

    #[test]
    fn garbage_is_harmless() {
        for text in [
            "if",
            "if [ a = a ]; then",
            "${",
            "\"unterminated",
            "'",
            "$(",
            "`",
            "fi fi",
            "a=${b:-${c:-${d",
            "((",
            "}",
        ] {
            let _ = eval(text);
        }
    }

    #[test]
    fn word_splitting_for_options() {
        assert_eq!(
            split_words(r#"-DSSL -c "PidFile /run/x y.pid" -C 'Define A b' a\ b"#).unwrap(),
            vec!["-DSSL", "-c", "PidFile /run/x y.pid", "-C", "Define A b", "a b"]
        );
        assert_eq!(split_words("").unwrap(), Vec::<String>::new());
        assert_eq!(split_words("\"\"").unwrap(), vec![""]);
        assert!(split_words("\"open").is_none());
    }
}
