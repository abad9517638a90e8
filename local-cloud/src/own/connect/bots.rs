//! Lex V2 bot associations: AssociateBot / DisassociateBot (which, as in a real account, write or
//! remove the alias's resource-policy statement for Connect, through the Lex state) and ListBots.

use super::instances::find_active;
use super::validate::lex_alias_problem;
use super::{max_results, page_or_error, ApiError, ApiResult, Call, Ctx, Store};
use serde_json::{json, Value};

const MAX_ALIAS_ARN: usize = 100;

/// The alias ARN of an AssociateBot / DisassociateBot body.
fn alias_arn<'c>(call: &'c Call, region: &str) -> Result<&'c str, ApiError> {
    if call.body.get("LexBot").is_some() {
        return Err(ApiError::InvalidRequest(
            "Amazon Lex V1 bots can no longer be associated (Lex V1 was discontinued); use LexV2Bot"
                .into(),
        ));
    }
    let arn = call
        .body
        .pointer("/LexV2Bot/AliasArn")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::InvalidRequest("LexV2Bot.AliasArn is required".into()))?;
    if arn.len() > MAX_ALIAS_ARN {
        return Err(ApiError::InvalidRequest(format!(
            "LexV2Bot.AliasArn is longer than {MAX_ALIAS_ARN} characters"
        )));
    }
    if let Some(problem) = lex_alias_problem(arn, region) {
        return Err(ApiError::InvalidRequest(format!(
            "LexV2Bot.AliasArn {problem}"
        )));
    }
    Ok(arn)
}

pub fn associate(store: &mut Store, ctx: &Ctx<'_>, call: &Call) -> ApiResult {
    let arn = alias_arn(call, &ctx.region)?;
    let instance = find_active(store, ctx, call.label(0))?;
    if instance.bots.iter().any(|b| b == arn) {
        return Err(ApiError::Conflict(format!(
            "Bot alias {arn} is already associated with instance {}",
            instance.id
        )));
    }
    ctx.lex
        .connect_association(arn, &instance.arn, ctx.account, true)
        .map_err(|why| {
            ApiError::InvalidRequest(format!("Bot alias {arn} cannot be associated: {why}"))
        })?;
    instance.bots.push(arn.to_string());
    Ok(Value::Null)
}

pub fn disassociate(store: &mut Store, ctx: &Ctx<'_>, call: &Call) -> ApiResult {
    let arn = alias_arn(call, &ctx.region)?;
    let instance = find_active(store, ctx, call.label(0))?;
    if !instance.bots.iter().any(|b| b == arn) {
        return Err(ApiError::NotFound(format!(
            "Bot alias {arn} is not associated with instance {}",
            instance.id
        )));
    }
    ctx.lex
        .connect_association(arn, &instance.arn, ctx.account, false)
        .map_err(|why| {
            ApiError::InvalidRequest(format!("Bot alias {arn} cannot be disassociated: {why}"))
        })?;
    instance.bots.retain(|b| b != arn);
    Ok(Value::Null)
}

pub fn list(store: &mut Store, ctx: &Ctx<'_>, call: &Call) -> ApiResult {
    let version = call.query_value("lexVersion");
    if !matches!(version, Some("V1" | "V2")) {
        return Err(ApiError::InvalidRequest(
            "lexVersion is required: V1 or V2".into(),
        ));
    }
    let max = max_results(
        call.query_value("maxResults").and_then(|v| v.parse().ok()),
        25,
        25,
    )
    .map_err(|e| ApiError::InvalidRequest(e.to_string()))?;
    let instance = find_active(store, ctx, call.label(0))?;
    let all: Vec<Value> = if version == Some("V2") {
        instance
            .bots
            .iter()
            .map(|arn| json!({"LexV2Bot": {"AliasArn": arn}}))
            .collect()
    } else {
        Vec::new()
    };
    let (items, next) = page_or_error(&all, call.query_value("nextToken"), max)
        .map_err(|e| ApiError::InvalidRequest(e.to_string()))?;
    Ok(json!({"LexBots": items, "NextToken": next}))
}
