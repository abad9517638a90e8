//! Bot versions: CreateBotVersion (a numbered copy of the DRAFT), DescribeBotVersion,
//! DeleteBotVersion and ListBotVersions.

use super::{
    accepted, check_numbered, invalid,
    lists::{list, ListSpec},
    missing, ok, required, skip_in_use_check, strip_nulls, with, Answer, Ctx, LexError, Models,
    Phase, Version, DRAFT,
};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// How ListBotVersions filters and sorts its summaries.
const VERSION_LIST: ListSpec = ListSpec {
    filters: &[],
    sorts: &[("BotVersion", "botVersion")],
    default_sort: "botVersion",
    not_equals: false,
};

impl Models {
    pub(super) fn create_version(
        &mut self,
        ctx: &Ctx,
        bot_id: &str,
        body: &Value,
        now: f64,
    ) -> Answer {
        let spec = required(body, "botVersionLocaleSpecification")?.clone();
        let Some(spec_map) = spec.as_object().filter(|m| !m.is_empty()) else {
            return Err(invalid(
                "botVersionLocaleSpecification",
                &spec,
                "Member must have length greater than or equal to 1",
            ));
        };
        let bot = self.bot_mut(bot_id)?;
        let mut locales = BTreeMap::new();
        for (locale_id, source) in spec_map {
            let source_version = source
                .get("sourceBotVersion")
                .and_then(Value::as_str)
                .unwrap_or("");
            let locale = bot
                .locales(source_version)
                .and_then(|ls| ls.get(locale_id))
                .ok_or_else(|| {
                    LexError::PreconditionFailed(format!(
                        "Locale '{locale_id}' does not exist in version '{source_version}' of bot '{bot_id}'."
                    ))
                })?;
            let status = locale.phase.now();
            if status != "Built" {
                return Err(LexError::PreconditionFailed(format!(
                    "Locale '{locale_id}' of version '{source_version}' is {status}, not Built. Build it (BuildBotLocale) before creating a version."
                )));
            }
            let mut snapshot = locale.clone();
            snapshot.phase = Phase::settled("Built");
            locales.insert(locale_id.clone(), snapshot);
        }
        let number = bot.next_version;
        bot.next_version += 1;
        let version = Version {
            bot_def: bot.def.clone(),
            description: body.get("description").filter(|d| !d.is_null()).cloned(),
            phase: Phase::moving("Creating", "Available", ctx.delay),
            created: now,
            locales,
        };
        let answer = strip_nulls(json!({
            "botId": bot_id,
            "botVersion": number.to_string(),
            "description": version.description,
            "botVersionLocaleSpecification": spec,
            "botStatus": "Creating",
            "creationDateTime": now,
        }));
        bot.versions.insert(number, version);
        accepted(answer)
    }

    pub(super) fn version(
        &self,
        bot_id: &str,
        version: &str,
        read: bool,
    ) -> Result<&Version, LexError> {
        check_numbered("botVersion", version)?;
        let bot = self.bot(bot_id, read)?;
        version
            .parse::<u64>()
            .ok()
            .and_then(|n| bot.versions.get(&n))
            .ok_or_else(|| missing(read, format!("version '{version}' of bot '{bot_id}'")))
    }

    pub(super) fn describe_version(&self, bot_id: &str, version: &str) -> Answer {
        let v = self.version(bot_id, version, true)?;
        ok(with(
            v.bot_def.clone(),
            json!({
                "botId": bot_id,
                "botVersion": version,
                "description": v.description,
                "botStatus": v.phase.now(),
                "creationDateTime": v.created,
            }),
        ))
    }

    pub(super) fn delete_version(
        &mut self,
        bot_id: &str,
        version: &str,
        query: &[(String, String)],
    ) -> Answer {
        self.version(bot_id, version, false)?;
        let bot = self.bot_mut(bot_id)?;
        let users: Vec<String> = bot
            .aliases
            .iter()
            .filter(|(_, a)| a.def.get("botVersion").and_then(Value::as_str) == Some(version))
            .map(|(id, _)| id.clone())
            .collect();
        if !users.is_empty() && !skip_in_use_check(query) {
            return Err(LexError::Conflict(format!(
                "Version '{version}' of bot '{bot_id}' is used by alias(es) {}. Point them at another version first, or set skipResourceInUseCheck.",
                users.join(", ")
            )));
        }
        if let Ok(n) = version.parse::<u64>() {
            bot.versions.remove(&n);
        }
        accepted(json!({"botId": bot_id, "botVersion": version, "botStatus": "Deleting"}))
    }

    pub(super) fn list_versions(&self, bot_id: &str, body: &Value) -> Answer {
        let bot = self.bot(bot_id, true)?;
        let mut items: Vec<Value> = vec![strip_nulls(json!({
            "botName": bot.name(),
            "botVersion": DRAFT,
            "description": bot.def.get("description"),
            "botStatus": bot.phase.now(),
            "creationDateTime": bot.created,
        }))];
        items.extend(bot.versions.iter().map(|(n, v)| {
            strip_nulls(json!({
                "botName": v.bot_def.get("botName"),
                "botVersion": n.to_string(),
                "description": v.description,
                "botStatus": v.phase.now(),
                "creationDateTime": v.created,
            }))
        }));
        list(
            items,
            body,
            &VERSION_LIST,
            "botVersionSummaries",
            json!({"botId": bot_id}),
        )
    }
}
