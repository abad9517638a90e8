//! Reading a stack file: bounded in size, alias expansion and nesting; every error names
//! file:line:column and the key, with a did-you-mean for unknown keys and an example for
//! missing ones.

use super::types::Stack;
use std::cell::RefCell;
use std::fmt;
use std::path::{Path, PathBuf};

/// Stack files are small; anything bigger is not one.
const MAX_STACK_BYTES: usize = 1024 * 1024;

/// A stack as read from its file, with the text kept for locating later errors.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub stack: Stack,
    pub path: PathBuf,
    pub source: String,
}

impl Loaded {
    /// The directory relative paths in the stack are resolved against.
    pub fn base_dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// An error about the value at `key_path`, placed at that key's line and column.
    pub fn error_at(&self, key_path: &[&str], message: impl Into<String>) -> StackError {
        let (line, column) = locate(&self.source, key_path);
        StackError::Invalid(Box::new(Invalid {
            file: self.path.clone(),
            line,
            column,
            key: key_path.join("."),
            message: message.into(),
        }))
    }
}

/// Where a problem is, and what it is.
#[derive(Debug)]
pub struct Invalid {
    pub file: PathBuf,
    pub line: u64,
    pub column: u64,
    pub key: String,
    pub message: String,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = if self.key.is_empty() {
            "(top level)"
        } else {
            &self.key
        };
        write!(
            f,
            "{}:{}:{}: {key}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("cannot read stack file {}: {source} (check the path given with -f)", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: the stack file is {size} bytes; stack files are at most {MAX_STACK_BYTES} bytes (is this the right file?)", path.display())]
    TooLarge { path: PathBuf, size: usize },
    #[error("{}: the stack file is empty: it needs at least a name (example: `name: helpdesk`)", path.display())]
    Empty { path: PathBuf },
    #[error("{}:{line}:{column}: not a text file ({what}); a stack file is YAML in UTF-8", path.display())]
    NotText {
        path: PathBuf,
        line: u64,
        column: u64,
        what: &'static str,
    },
    #[error("{0}")]
    Invalid(Box<Invalid>),
}

/// Reads, parses and checks a stack file without calling AWS.
pub fn load(path: &Path) -> Result<Loaded, StackError> {
    let bytes = std::fs::read(path).map_err(|source| StackError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let source = text_of(path, &bytes)?.to_string();
    let stack = parse(path, &source)?;
    let loaded = Loaded {
        stack,
        path: path.to_path_buf(),
        source,
    };
    super::check::check(&loaded)?;
    Ok(loaded)
}

fn text_of<'a>(path: &Path, bytes: &'a [u8]) -> Result<&'a str, StackError> {
    if bytes.len() > MAX_STACK_BYTES {
        return Err(StackError::TooLarge {
            path: path.to_path_buf(),
            size: bytes.len(),
        });
    }
    let not_text = |offset: usize, what| {
        let (line, column) = line_col(&bytes[..offset]);
        StackError::NotText {
            path: path.to_path_buf(),
            line,
            column,
            what,
        }
    };
    let text =
        std::str::from_utf8(bytes).map_err(|e| not_text(e.valid_up_to(), "invalid UTF-8"))?;
    if let Some(offset) = text.find('\0') {
        return Err(not_text(offset, "NUL byte"));
    }
    if text
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#') || l.trim() == "---")
    {
        return Err(StackError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(text)
}

fn line_col(prefix: &[u8]) -> (u64, u64) {
    let line = prefix.iter().filter(|b| **b == b'\n').count() as u64 + 1;
    let column = prefix.iter().rev().take_while(|b| **b != b'\n').count() as u64 + 1;
    (line, column)
}

fn options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_events: 100_000,
            max_aliases: 1_000,
            max_anchors: 1_000,
            max_depth: 32,
            max_nodes: 50_000,
            max_total_scalar_bytes: MAX_STACK_BYTES,
            max_documents: 1,
            max_merge_keys: 100,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: 10_000,
            max_replay_stack_depth: 16,
            max_alias_expansions_per_anchor: 100,
        },
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::Error,
        strict_booleans: true,
        with_snippet: false,
    }
}

fn parse(path: &Path, source: &str) -> Result<Stack, StackError> {
    let key_path = RefCell::new(String::new());
    let result = serde_saphyr::with_deserializer_from_str_with_options(source, options(), |de| {
        serde_path_to_error::deserialize::<_, Stack>(de).map_err(|e| {
            *key_path.borrow_mut() = e.path().to_string();
            e.into_inner()
        })
    });
    result.map_err(|err| {
        let (line, column) = err
            .location()
            .map(|l| (l.line(), l.column()))
            .filter(|(l, _)| *l > 0)
            .unwrap_or((1, 1));
        let raw = message_of(&err);
        let mut key = key_path.into_inner();
        if key == "." {
            key.clear();
        }
        let message = explain(&raw, &mut key);
        StackError::Invalid(Box::new(Invalid {
            file: path.to_path_buf(),
            line,
            column,
            key,
            message,
        }))
    })
}

/// The error's text without the location serde-saphyr appends (we print our own).
fn message_of(err: &serde_saphyr::Error) -> String {
    let text = err.without_snippet().to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// Turns serde's wording into ours: unknown keys get a suggestion, missing keys an example.
fn explain(raw: &str, key: &mut String) -> String {
    let first_ticked = raw.split('`').nth(1).unwrap_or("");
    let expected = expected_names(raw);
    let suggestion = |word: &str| {
        super::closest(word, expected.iter().map(String::as_str))
            .map(|c| format!("did you mean `{c}`? "))
            .unwrap_or_default()
    };
    if raw.starts_with("unknown field `") {
        push_key(key, first_ticked);
        return format!(
            "unknown key `{first_ticked}`; {}valid keys here: {}",
            suggestion(first_ticked),
            expected.join(", ")
        );
    }
    if raw.starts_with("unknown variant `") {
        return format!(
            "unknown value `{first_ticked}`; {}valid values: {}",
            suggestion(first_ticked),
            expected.join(", ")
        );
    }
    if raw.starts_with("missing field `") {
        push_key(key, first_ticked);
        return match example_for(first_ticked) {
            Some(example) => {
                format!("missing required key `{first_ticked}` (example: `{example}`)")
            }
            None => format!("missing required key `{first_ticked}`"),
        };
    }
    if let Some(rest) = raw.strip_prefix("duplicate mapping key: ") {
        let dup = rest.split(',').next().unwrap_or(rest).trim();
        *key = if key.is_empty() || key == "?" {
            dup.to_string()
        } else {
            format!("{key}.{dup}")
        };
        return format!("duplicate key `{dup}`: each key may appear once in a mapping");
    }
    if raw.starts_with("budget breached") || (raw.contains("alias") && raw.contains("limit")) {
        return "the file grows past resetpw's limits once its aliases are expanded (at most 1 MiB of text, 1,000 aliases, 32 levels of nesting): write the values out plainly".to_string();
    }
    let plain = match raw {
        r if r.starts_with("invalid u") || r.starts_with("invalid i") => {
            "expected a whole number".to_string()
        }
        r if r.starts_with("invalid f") => "expected a number".to_string(),
        "expected string scalar" => "expected a string".to_string(),
        "expected mapping start" => "expected a mapping of keys to values".to_string(),
        "expected sequence start" => "expected a list".to_string(),
        other => other.to_string(),
    };
    if key == "secret" {
        return format!("{plain}: the password itself never goes in the stack file; name where it comes from (example: `secret: {{env: RESETPW_BIND_PASSWORD}}`)");
    }
    plain
}

/// The names after "expected one of" / "expected" in serde's wording, with or without backticks.
fn expected_names(raw: &str) -> Vec<String> {
    let Some((_, list)) = raw.split_once(", expected ") else {
        return Vec::new();
    };
    let list = list.strip_prefix("one of ").unwrap_or(list);
    list.split(", ")
        .flat_map(|part| part.split(" or "))
        .map(|name| name.trim().trim_matches('`').to_string())
        .filter(|name| !name.is_empty())
        .collect()
}

fn push_key(key: &mut String, field: &str) {
    if key == field || key.ends_with(&format!(".{field}")) {
        return;
    }
    if !key.is_empty() {
        key.push('.');
    }
    key.push_str(field);
}

fn example_for(field: &str) -> Option<&'static str> {
    Some(match field {
        "name" => "name: helpdesk",
        "urls" => "urls: [ldaps://dc1.corp.example.com:636]",
        "base_dn" => "base_dn: OU=Staff,DC=corp,DC=example,DC=com",
        "bind_dn" => "bind_dn: CN=svc-resetpw,OU=Service Accounts,DC=corp,DC=example,DC=com",
        "ca_file" => "ca_file: certs/corp-ca.pem",
        "mode" => "mode: new",
        "directory_cidrs" => "directory_cidrs: [10.0.0.0/24]",
        "cidr" => "cidr: 10.42.1.0/24",
        "availability_zone" => "availability_zone: eu-west-2a",
        "instance_alias" => "instance_alias: corp-helpdesk",
        _ => return None,
    })
}

/// The 1-based line and column of the key at `key_path` in block-style YAML, found by
/// indentation; the deepest key found when the whole path is not there. A numeric segment picks
/// that item (from 0) of a block sequence.
pub fn locate(source: &str, key_path: &[&str]) -> (u64, u64) {
    let lines: Vec<&str> = source.lines().collect();
    let mut best = (1, 1);
    let mut at = 0;
    // Indentation of the node found so far; what lies inside it is indented more.
    let mut parent: Option<usize> = None;
    // The first line after an item is found is that item's own line ("- key: value").
    let mut on_item_line = false;
    'segments: for (depth, segment) in key_path.iter().enumerate() {
        let index = segment.parse::<usize>().ok();
        let mut seen_items = 0;
        let mut item_indent = None;
        while at < lines.len() {
            let line = lines[at];
            let trimmed = line.trim_start();
            let indent = line.len() - trimmed.len();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                at += 1;
                continue;
            }
            let is_item = trimmed == "-" || trimmed.starts_with("- ");
            let inside = match parent {
                None => true,
                // `key:` followed by `- item` at the key's own indentation is a sequence too.
                Some(p) => {
                    indent > p || on_item_line || (index.is_some() && is_item && indent == p)
                }
            };
            let first_of_item = std::mem::take(&mut on_item_line);
            if !inside {
                break 'segments;
            }
            if let Some(wanted) = index {
                if is_item && item_indent.is_none_or(|i| i == indent) {
                    item_indent = Some(indent);
                    if seen_items == wanted {
                        best = (at as u64 + 1, indent as u64 + 1);
                        parent = Some(indent);
                        on_item_line = true;
                        continue 'segments;
                    }
                    seen_items += 1;
                }
                at += 1;
                continue;
            }
            let bare = if first_of_item || parent.is_none() || !is_item {
                trimmed.trim_start_matches("- ")
            } else {
                trimmed
            };
            let key = bare
                .split(':')
                .next()
                .unwrap_or("")
                .trim()
                .trim_matches(['"', '\'']);
            if let Some(offset) = flow_key(bare, segment) {
                // `{cidr: …, availability_zone: …}` on one line: the key inside the braces.
                let column = indent + (trimmed.len() - bare.len()) + offset;
                best = (at as u64 + 1, column as u64 + 1);
                break 'segments;
            }
            if key == *segment && bare.contains(':') {
                let column = indent + (trimmed.len() - bare.len());
                best = (at as u64 + 1, column as u64 + 1);
                let value = bare[bare.find(':').unwrap_or(0) + 1..].trim_start();
                if value.starts_with('{') {
                    // `key: {a: 1, b: 2}`: the rest of the path is inside the braces.
                    if let Some(offset) = key_path.get(depth + 1).and_then(|k| flow_key(value, k)) {
                        let column = column + (bare.len() - value.len()) + offset;
                        best = (at as u64 + 1, column as u64 + 1);
                    }
                    break 'segments;
                }
                parent = Some(column);
                at += 1;
                continue 'segments;
            }
            at += 1;
        }
        break;
    }
    best
}

/// Where `key:` starts inside a one-line flow mapping (`{a: 1, key: 2}`), if it is there.
fn flow_key(text: &str, key: &str) -> Option<usize> {
    if !text.starts_with('{') {
        return None;
    }
    let mut offset = 1;
    for entry in text[1..].split(',') {
        let lead = entry.len() - entry.trim_start().len();
        let name = entry.trim_start().split(':').next().unwrap_or("").trim();
        if name.trim_matches(['"', '\'']) == key && entry.contains(':') {
            return Some(offset + lead);
        }
        offset += entry.len() + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(yaml: &str) -> Result<Stack, String> {
        parse(Path::new("s.yaml"), yaml).map_err(|e| e.to_string())
    }

    #[test]
    fn unknown_key_names_place_and_suggestion() {
        let err = parse_str("name: a\nregoin: us-east-1\n").unwrap_err();
        assert!(
            err.starts_with("s.yaml:2:1: regoin: unknown key `regoin`; did you mean `region`?"),
            "{err}"
        );
    }

    #[test]
    fn nested_unknown_key_has_its_path() {
        let yaml = "name: a\nfulfillment:\n  memory_mb: 256\n  timeout_secs: 3\n";
        let err = parse_str(yaml).unwrap_err();
        assert!(
            err.contains("s.yaml:4:3: fulfillment.timeout_secs"),
            "{err}"
        );
        assert!(err.contains("did you mean `timeout_seconds`?"), "{err}");
    }

    #[test]
    fn wrong_type_names_the_key() {
        let err = parse_str("name: a\nfulfillment:\n  memory_mb: lots\n").unwrap_err();
        assert!(
            err.starts_with("s.yaml:3:14: fulfillment.memory_mb:"),
            "{err}"
        );
    }

    #[test]
    fn missing_name_gives_an_example() {
        let err = parse_str("region: us-east-1\n").unwrap_err();
        assert!(
            err.contains("missing required key `name` (example: `name: helpdesk`)"),
            "{err}"
        );
    }

    #[test]
    fn bad_values_are_explained_where_they_are() {
        let err = parse_str("name: a\nregion: us-esat-1\n").unwrap_err();
        assert!(err.starts_with("s.yaml:2:9: region:"), "{err}");
        assert!(err.contains("did you mean `us-east-1`?"), "{err}");
        let err = parse_str("name: Bad_Name\n").unwrap_err();
        assert!(err.contains("not a valid stack name"), "{err}");
    }

    #[test]
    fn enum_values_get_suggestions() {
        let err =
            parse_str("name: a\nnetwork:\n  mode: natt\n  directory_cidrs: []\n").unwrap_err();
        assert!(err.contains("did you mean `nat`?"), "{err}");
    }

    #[test]
    fn alias_bombs_fail_fast() {
        let mut yaml = String::from("name: a\ntags:\n  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = i - 1;
            yaml.push_str(&format!("  a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"));
        }
        let started = std::time::Instant::now();
        assert!(parse_str(&yaml).is_err());
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn binary_and_empty_input_are_refused() {
        let p = Path::new("s.yaml");
        assert!(matches!(
            text_of(p, b"name: a\n\xff\xfe"),
            Err(StackError::NotText { line: 2, .. })
        ));
        assert!(matches!(
            text_of(p, b"# only a comment\n\n"),
            Err(StackError::Empty { .. })
        ));
        assert!(matches!(
            text_of(p, b"name: a\0"),
            Err(StackError::NotText { .. })
        ));
    }

    #[test]
    fn locate_follows_indentation() {
        let src = "name: a\ndirectory:\n  # c\n  urls: []\n  ca_file: x\nsecret:\n  env: X\n";
        assert_eq!(locate(src, &["directory", "ca_file"]), (5, 3));
        assert_eq!(locate(src, &["secret", "env"]), (7, 3));
        assert_eq!(locate(src, &["secret"]), (6, 1));
        assert_eq!(locate(src, &["directory", "nope"]), (2, 1));
    }

    #[test]
    fn locate_finds_sequence_items() {
        let src = "network:\n  private_subnets:\n    - cidr: 10.0.1.0/24\n      availability_zone: a\n    - cidr: 10.0.2.0/24\n      availability_zone: b\n  egress: nat\n";
        assert_eq!(
            locate(
                src,
                &["network", "private_subnets", "1", "availability_zone"]
            ),
            (6, 7)
        );
        assert_eq!(
            locate(src, &["network", "private_subnets", "1", "cidr"]),
            (5, 7)
        );
        assert_eq!(
            locate(src, &["network", "private_subnets", "0", "cidr"]),
            (3, 7)
        );
        assert_eq!(locate(src, &["network", "egress"]), (7, 3));
        // Indentless sequence, and an index past the end stops at the sequence.
        let src = "subnets:\n- cidr: x\n- cidr: y\nafter: 1\n";
        assert_eq!(locate(src, &["subnets", "1", "cidr"]), (3, 3));
        assert_eq!(locate(src, &["subnets", "5", "cidr"]), (1, 1));
        assert_eq!(locate(src, &["after"]), (4, 1));
        // Scalar items: the item itself.
        let src = "network:\n  subnet_ids:\n    - subnet-1\n    - subnet-2\n";
        assert_eq!(locate(src, &["network", "subnet_ids", "1"]), (4, 5));
        // One-line flow mappings.
        let src = "p:\n  - {cidr: x, availability_zone: a}\n  - {cidr: y, availability_zone: b}\n";
        assert_eq!(locate(src, &["p", "1", "availability_zone"]), (3, 15));
        assert_eq!(locate(src, &["p", "0", "cidr"]), (2, 6));
        let src = "public_subnet: {cidr: 10.0.0.0/24, availability_zone: a}\n";
        assert_eq!(locate(src, &["public_subnet", "cidr"]), (1, 17));
    }
}
