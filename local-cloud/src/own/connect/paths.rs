//! The JSONPath references of the flow language, evaluated over a contact's view
//! (`$.CustomerEndpoint.Address`, `$.Attributes.X`, `$.Lex.SessionAttributes.X`,
//! `$.External.X`, bracket form `$.['LanguageCode']`), whole values or embedded in text
//! ("Hello $.Attributes.firstName, ..."). A path that names nothing reads as the empty string,
//! as Connect leaves an unset reference empty.

use serde_json::Value;

/// The segments of a path (`$.A.B` or `$.['A'].B`), or `None` when `path` is not one.
fn segments(path: &str) -> Option<Vec<String>> {
    let mut rest = path.strip_prefix('$')?;
    let mut out = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix(".[") {
            rest = after;
        } else if let Some(after) = rest.strip_prefix('[') {
            rest = after;
        } else if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            if !after.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
                return None;
            }
            out.push(after[..end].to_string());
            rest = &after[end..];
            continue;
        } else {
            return None;
        }
        // Inside brackets: 'name' or "name", then ].
        let quote = rest.chars().next()?;
        if quote != '\'' && quote != '"' {
            return None;
        }
        let inner = &rest[1..];
        let close = inner.find(quote)?;
        out.push(inner[..close].to_string());
        rest = inner[close + 1..].strip_prefix(']')?;
    }
    (!out.is_empty()).then_some(out)
}

/// The value `path` names in `view`, as text (strings as they are, numbers and booleans
/// printed, objects as JSON); `None` when it names nothing.
pub fn lookup(view: &Value, path: &str) -> Option<String> {
    let mut at = view;
    for segment in segments(path)? {
        at = at.get(&segment)?;
    }
    match at {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-')
}

/// The length of the longest path at the start of `text` (which starts with `$`): dotted
/// names (`.Name`, starting with a letter or `_`) and bracketed ones (`['Name']`, `.['Name']`).
fn path_len(text: &str) -> usize {
    let mut at = 1;
    loop {
        let rest = &text[at..];
        let bracket = rest
            .strip_prefix(".[")
            .map(|r| (2, r))
            .or_else(|| rest.strip_prefix('[').map(|r| (1, r)));
        if let Some((open, inner)) = bracket {
            match inner.find(']') {
                Some(close) if inner.starts_with(['\'', '"']) => at += open + close + 1,
                _ => return at,
            }
        } else if let Some(name) = rest.strip_prefix('.') {
            if !name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
                return at;
            }
            at += 1 + name.find(|c: char| !is_name_char(c)).unwrap_or(name.len());
        } else {
            return at;
        }
    }
}

/// `text` with every embedded path replaced by its value (the empty string when it names
/// nothing). A whole-value path is the same as one embedded path.
pub fn interpolate(view: &Value, text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("$.") {
        out.push_str(&rest[..at]);
        let candidate = &rest[at..];
        let len = path_len(candidate);
        if len > 1 && segments(&candidate[..len]).is_some() {
            out.push_str(&lookup(view, &candidate[..len]).unwrap_or_default());
            rest = &candidate[len..];
        } else {
            out.push_str("$.");
            rest = &candidate[2..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn view() -> Value {
        json!({"CustomerEndpoint": {"Address": "+15550100"}, "ContactId": "c-1",
               "Attributes": {"first": "Ada", "acme-bot": "x"}, "LanguageCode": "en-US",
               "Lex": {"SessionAttributes": {"ResetOutcome": "fulfilled"}, "Slots": {}},
               "External": {"n": 3}})
    }

    #[test]
    fn whole_paths_name_values_in_the_view() {
        assert_eq!(
            lookup(&view(), "$.CustomerEndpoint.Address").as_deref(),
            Some("+15550100")
        );
        assert_eq!(
            lookup(&view(), "$.Lex.SessionAttributes.ResetOutcome").as_deref(),
            Some("fulfilled")
        );
        assert_eq!(
            lookup(&view(), "$.['LanguageCode']").as_deref(),
            Some("en-US")
        );
        assert_eq!(lookup(&view(), "$.External.n").as_deref(), Some("3"));
        assert_eq!(
            lookup(&view(), "$.Attributes.acme-bot").as_deref(),
            Some("x")
        );
        assert_eq!(lookup(&view(), "$.Attributes.missing"), None);
        assert_eq!(lookup(&view(), "not a path"), None);
    }

    #[test]
    fn paths_inside_text_are_replaced() {
        assert_eq!(
            interpolate(&view(), "Hello $.Attributes.first. Your id is $.ContactId"),
            "Hello Ada. Your id is c-1"
        );
        assert_eq!(
            interpolate(&view(), "s3://bucket/lex_$.['LanguageCode']_.wav"),
            "s3://bucket/lex_en-US_.wav"
        );
        assert_eq!(interpolate(&view(), "costs $.5"), "costs $.5");
        assert_eq!(interpolate(&view(), "$.Attributes.none"), "");
        assert_eq!(interpolate(&view(), "plain"), "plain");
    }
}
