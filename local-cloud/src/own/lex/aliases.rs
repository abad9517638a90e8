//! Bot aliases: CreateBotAlias, DescribeBotAlias, UpdateBotAlias, DeleteBotAlias and
//! ListBotAliases.

use super::{
    accepted, check_numbered, invalid,
    lists::{list, ListSpec},
    missing, name_field, new_id, ok, pick_fields, strip_nulls, tags_of, with, Alias, Answer, Bot,
    Ctx, LexError, Models, Phase, DRAFT, TEST_ALIAS_ID,
};
use serde_json::{json, Map, Value};

/// How ListBotAliases filters and sorts its summaries.
const ALIAS_LIST: ListSpec = ListSpec {
    filters: &[],
    sorts: &[],
    default_sort: "creationDateTime",
    not_equals: false,
};

pub(super) const ALIAS_FIELDS: &[&str] = &[
    "botAliasName",
    "description",
    "botVersion",
    "botAliasLocaleSettings",
    "conversationLogSettings",
    "sentimentAnalysisSettings",
];

impl Models {
    pub(super) fn alias_def(
        bot: &Bot,
        alias_id: Option<&str>,
        body: &Value,
    ) -> Result<Map<String, Value>, LexError> {
        let name = name_field(body, "botAliasName")?;
        if bot
            .aliases
            .iter()
            .any(|(id, a)| Some(id.as_str()) != alias_id && a.def["botAliasName"] == name)
        {
            return Err(LexError::Conflict(format!(
                "An alias with the name '{name}' already exists for this bot."
            )));
        }
        if let Some(version) = body.get("botVersion").and_then(Value::as_str) {
            if alias_id == Some(TEST_ALIAS_ID) {
                if version != DRAFT {
                    return Err(LexError::Validation(format!(
                        "The test alias {TEST_ALIAS_ID} can only use version DRAFT."
                    )));
                }
            } else if version == DRAFT {
                return Err(LexError::Validation(format!(
                    "Only the test alias {TEST_ALIAS_ID} can use version DRAFT; point the alias at a numbered version."
                )));
            } else {
                check_numbered("botVersion", version)?;
                let exists = version
                    .parse::<u64>()
                    .ok()
                    .is_some_and(|n| bot.versions.contains_key(&n));
                if !exists {
                    return Err(LexError::PreconditionFailed(format!(
                        "Version '{version}' of this bot does not exist."
                    )));
                }
            }
        }
        if let Some(settings) = body
            .get("botAliasLocaleSettings")
            .and_then(Value::as_object)
        {
            for (locale_id, setting) in settings {
                if !setting.get("enabled").is_some_and(Value::is_boolean) {
                    return Err(invalid(
                        &format!("botAliasLocaleSettings.{locale_id}.member.enabled"),
                        &Value::Null,
                        "Member must not be null",
                    ));
                }
            }
        }
        Ok(pick_fields(body, ALIAS_FIELDS))
    }

    pub(super) fn alias_answer(
        bot_id: &str,
        alias_id: &str,
        alias: &Alias,
        describe: bool,
    ) -> Value {
        with(
            alias.def.clone(),
            json!({
                "botAliasId": alias_id,
                "botId": bot_id,
                "botAliasStatus": alias.phase.now(),
                "creationDateTime": alias.created,
                "lastUpdatedDateTime": describe.then_some(alias.updated),
                "botAliasHistoryEvents": describe.then(|| alias.history.clone()),
            }),
        )
    }

    pub(super) fn create_alias(
        &mut self,
        ctx: &Ctx,
        bot_id: &str,
        body: &Value,
        now: f64,
    ) -> Answer {
        let bot = self.bot_mut(bot_id)?;
        let def = Self::alias_def(bot, None, body)?;
        let alias = Alias {
            def,
            phase: Phase::moving("Creating", "Available", ctx.delay),
            created: now,
            updated: now,
            history: Vec::new(),
            tags: tags_of(body.get("tags")),
        };
        let id = new_id();
        let mut answer = Self::alias_answer(bot_id, &id, &alias, false);
        if let Some(obj) = answer.as_object_mut() {
            obj.insert("botAliasStatus".into(), json!("Creating"));
            if let Some(tags) = body.get("tags") {
                obj.insert("tags".into(), tags.clone());
            }
        }
        bot.aliases.insert(id, alias);
        accepted(answer)
    }

    pub(super) fn describe_alias(&self, bot_id: &str, alias_id: &str) -> Answer {
        let alias = self
            .bot(bot_id, true)?
            .aliases
            .get(alias_id)
            .ok_or_else(|| missing(true, format!("alias '{alias_id}' of bot '{bot_id}'")))?;
        ok(Self::alias_answer(bot_id, alias_id, alias, true))
    }

    pub(super) fn update_alias(
        &mut self,
        bot_id: &str,
        alias_id: &str,
        body: &Value,
        now: f64,
    ) -> Answer {
        let bot = self.bot_mut(bot_id)?;
        if !bot.aliases.contains_key(alias_id) {
            return Err(missing(
                false,
                format!("alias '{alias_id}' of bot '{bot_id}'"),
            ));
        }
        let mut def = Self::alias_def(bot, Some(alias_id), body)?;
        let Some(alias) = bot.aliases.get_mut(alias_id) else {
            return Err(missing(false, format!("alias '{alias_id}'")));
        };
        if alias_id == TEST_ALIAS_ID {
            def.insert("botVersion".into(), json!(DRAFT));
        }
        let old_version = alias.def.get("botVersion").cloned();
        if old_version.is_some() && old_version.as_ref() != def.get("botVersion") {
            let start = alias
                .history
                .last()
                .and_then(|e| e.get("endDate").cloned())
                .unwrap_or(json!(alias.created));
            alias.history.push(json!({
                "botVersion": old_version, "startDate": start, "endDate": now,
            }));
        }
        alias.def = def;
        alias.updated = now;
        accepted(Self::alias_answer(bot_id, alias_id, alias, false)).map(|(s, mut v)| {
            if let Some(obj) = v.as_object_mut() {
                obj.insert("lastUpdatedDateTime".into(), json!(now));
            }
            (s, v)
        })
    }

    pub(super) fn delete_alias(&mut self, bot_id: &str, alias_id: &str) -> Answer {
        let bot = self.bot_mut(bot_id)?;
        if !bot.aliases.contains_key(alias_id) {
            return Err(missing(
                false,
                format!("alias '{alias_id}' of bot '{bot_id}'"),
            ));
        }
        if alias_id == TEST_ALIAS_ID {
            return Err(LexError::Validation(format!(
                "The test alias {TEST_ALIAS_ID} cannot be deleted."
            )));
        }
        bot.aliases.remove(alias_id);
        self.policies
            .remove(&format!("bot-alias/{bot_id}/{alias_id}"));
        accepted(json!({"botAliasId": alias_id, "botId": bot_id, "botAliasStatus": "Deleting"}))
    }

    pub(super) fn list_aliases(&self, bot_id: &str, body: &Value) -> Answer {
        let items = self
            .bot(bot_id, true)?
            .aliases
            .iter()
            .map(|(id, a)| {
                strip_nulls(json!({
                    "botAliasId": id,
                    "botAliasName": a.def.get("botAliasName"),
                    "description": a.def.get("description"),
                    "botVersion": a.def.get("botVersion"),
                    "botAliasStatus": a.phase.now(),
                    "creationDateTime": a.created,
                    "lastUpdatedDateTime": a.updated,
                }))
            })
            .collect();
        list(
            items,
            body,
            &ALIAS_LIST,
            "botAliasSummaries",
            json!({"botId": bot_id}),
        )
    }
}
