//! What every List* operation shares: the request's filters, sortBy, maxResults and nextToken
//! applied to the summaries, and the answer's shape.

use super::{invalid, ok, Answer, LexError};
use serde_json::{json, Value};

/// Page size of List* when the request names no maxResults (unverified for Lex).
pub const DEFAULT_PAGE: usize = 10;

/// How one List* operation filters and sorts its summaries.
pub(super) struct ListSpec<'a> {
    /// Filter name → summary field.
    pub(super) filters: &'a [(&'a str, &'a str)],
    /// Sort attribute → summary field.
    pub(super) sorts: &'a [(&'a str, &'a str)],
    /// Summary field sorted by when the request names no sortBy.
    pub(super) default_sort: &'a str,
    /// Whether filters may use NE (ListBots only); CO and EQ always.
    pub(super) not_equals: bool,
}

fn compare(a: &Value, b: &Value) -> std::cmp::Ordering {
    let num = |v: &Value| {
        v.as_f64()
            .or_else(|| v.as_str().and_then(|s| s.parse::<f64>().ok()))
    };
    match (num(a), num(b)) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Greater,
        (None, Some(_)) => std::cmp::Ordering::Less,
        _ => a
            .as_str()
            .unwrap_or("")
            .to_lowercase()
            .cmp(&b.as_str().unwrap_or("").to_lowercase()),
    }
}

/// Applies the request's filters, sortBy, maxResults and nextToken to `items`.
pub(super) fn page(
    mut items: Vec<Value>,
    body: &Value,
    spec: &ListSpec,
) -> Result<Value, LexError> {
    if let Some(filters) = body.get("filters").and_then(Value::as_array) {
        for filter in filters {
            let name = filter.get("name").and_then(Value::as_str).unwrap_or("");
            let Some((_, field)) = spec.filters.iter().find(|(n, _)| *n == name) else {
                return Err(invalid(
                    "filters.1.member.name",
                    &json!(name),
                    "Member must satisfy enum value set",
                ));
            };
            let values: Vec<&str> = filter
                .get("values")
                .and_then(Value::as_array)
                .map(|v| v.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let operator = filter.get("operator").and_then(Value::as_str).unwrap_or("");
            let keep = |item: &Value| {
                let have = item.get(*field).and_then(Value::as_str).unwrap_or("");
                match operator {
                    "EQ" => values.contains(&have),
                    "CO" => values.iter().any(|v| have.contains(v)),
                    "NE" => !values.contains(&have),
                    _ => false,
                }
            };
            if !(matches!(operator, "EQ" | "CO") || (spec.not_equals && operator == "NE")) {
                let allowed = if spec.not_equals {
                    "[CO, EQ, NE]"
                } else {
                    "[CO, EQ]"
                };
                return Err(invalid(
                    "filters.1.member.operator",
                    &json!(operator),
                    &format!("Member must satisfy enum value set: {allowed}"),
                ));
            }
            items.retain(keep);
        }
    }
    let (field, descending) = match body.get("sortBy") {
        Some(sort) if !sort.is_null() => {
            let attribute = sort.get("attribute").and_then(Value::as_str).unwrap_or("");
            let Some((_, field)) = spec.sorts.iter().find(|(a, _)| *a == attribute) else {
                return Err(invalid(
                    "sortBy.attribute",
                    &json!(attribute),
                    "Member must satisfy enum value set",
                ));
            };
            let order = sort.get("order").and_then(Value::as_str);
            (*field, order == Some("Descending"))
        }
        _ => (spec.default_sort, false),
    };
    items.sort_by(|a, b| {
        compare(
            a.get(field).unwrap_or(&Value::Null),
            b.get(field).unwrap_or(&Value::Null),
        )
    });
    if descending {
        items.reverse();
    }
    let max = match body.get("maxResults") {
        None | Some(Value::Null) => DEFAULT_PAGE,
        Some(v) => match v.as_u64() {
            Some(n @ 1..=1000) => n as usize,
            _ => return Err(invalid(
                "maxResults",
                v,
                "Member must have value less than or equal to 1000 and greater than or equal to 1",
            )),
        },
    };
    let start = match body.get("nextToken").and_then(Value::as_str) {
        None => 0,
        Some(token) => token
            .strip_prefix("page-")
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= items.len())
            .ok_or_else(|| {
                LexError::Validation(format!("The nextToken '{token}' is not valid."))
            })?,
    };
    let end = (start + max).min(items.len());
    let next = (end < items.len()).then(|| format!("page-{end}"));
    Ok(json!({"items": items[start..end].to_vec(), "nextToken": next}))
}

/// The answer of a List* operation: the request's `context` fields (the ids of the parent the
/// summaries belong to), then under `field` the page of `items` the request's filters, sortBy,
/// maxResults and nextToken select, and the `nextToken` of the page after it when there is one.
pub(super) fn list(
    items: Vec<Value>,
    body: &Value,
    spec: &ListSpec,
    field: &str,
    context: Value,
) -> Answer {
    let page = page(items, body, spec)?;
    let mut out = context.as_object().cloned().unwrap_or_default();
    out.insert(field.into(), page["items"].clone());
    if let Some(next) = page["nextToken"].as_str() {
        out.insert("nextToken".into(), json!(next));
    }
    ok(Value::Object(out))
}
