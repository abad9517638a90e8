//! Bots: CreateBot (which also makes the bot's test alias), DescribeBot, UpdateBot, DeleteBot
//! and ListBots.

use super::{
    accepted,
    aliases::ALIAS_FIELDS,
    invalid,
    lists::{list, ListSpec},
    missing, name_field, new_id, ok, pick_fields, required, skip_in_use_check, strip_nulls,
    tags_of, with, Alias, Answer, Bot, Ctx, LexError, Models, Phase, DRAFT, TEST_ALIAS_ID,
    TEST_ALIAS_NAME,
};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// How ListBots filters and sorts its summaries.
const BOT_LIST: ListSpec = ListSpec {
    filters: &[("BotName", "botName"), ("BotType", "botType")],
    sorts: &[("BotName", "botName")],
    default_sort: "botName",
    not_equals: true,
};

const BOT_FIELDS: &[&str] = &[
    "botName",
    "description",
    "roleArn",
    "dataPrivacy",
    "idleSessionTTLInSeconds",
    "botType",
    "botMembers",
    "errorLogSettings",
];

impl Models {
    pub(super) fn bot(&self, id: &str, read: bool) -> Result<&Bot, LexError> {
        self.bots
            .get(id)
            .ok_or_else(|| missing(read, format!("bot '{id}'")))
    }

    pub(super) fn bot_mut(&mut self, id: &str) -> Result<&mut Bot, LexError> {
        self.bots
            .get_mut(id)
            .ok_or_else(|| missing(false, format!("bot '{id}'")))
    }

    pub(super) fn bot_def(body: &Value) -> Result<Map<String, Value>, LexError> {
        name_field(body, "botName")?;
        let role = required(body, "roleArn")?;
        if !role
            .as_str()
            .is_some_and(|r| r.starts_with("arn:aws") && r.contains(":role/"))
        {
            return Err(invalid(
                "roleArn",
                role,
                "Member must satisfy regular expression pattern: ^arn:aws[a-zA-Z-]*:iam::[0-9]{12}:role/.*$",
            ));
        }
        required(body, "dataPrivacy")?;
        let ttl = required(body, "idleSessionTTLInSeconds")?;
        if !ttl.as_u64().is_some_and(|t| (60..=86400).contains(&t)) {
            return Err(invalid(
                "idleSessionTTLInSeconds",
                ttl,
                "Member must have value less than or equal to 86400 and greater than or equal to 60",
            ));
        }
        let mut def = pick_fields(body, BOT_FIELDS);
        def.entry("botType").or_insert(json!("Bot"));
        Ok(def)
    }

    pub(super) fn create_bot(&mut self, ctx: &Ctx, body: &Value, now: f64) -> Answer {
        let def = Self::bot_def(body)?;
        let name = def["botName"].as_str().unwrap_or("").to_string();
        if self.bots.values().any(|b| b.name() == name) {
            return Err(LexError::Conflict(format!(
                "A bot with the name '{name}' already exists."
            )));
        }
        let id = new_id();
        let test_alias = Alias {
            def: pick_fields(
                &json!({
                    "botAliasName": TEST_ALIAS_NAME,
                    "description": "test bot alias",
                    "botVersion": DRAFT,
                }),
                ALIAS_FIELDS,
            ),
            phase: Phase::moving("Creating", "Available", ctx.delay),
            created: now,
            updated: now,
            history: Vec::new(),
            tags: tags_of(body.get("testBotAliasTags")),
        };
        let bot = Bot {
            def: def.clone(),
            phase: Phase::moving("Creating", "Available", ctx.delay),
            created: now,
            updated: now,
            tags: tags_of(body.get("botTags")),
            draft: BTreeMap::new(),
            versions: BTreeMap::new(),
            next_version: 1,
            aliases: BTreeMap::from([(TEST_ALIAS_ID.to_string(), test_alias)]),
        };
        let answer = with(
            def,
            json!({
                "botId": id,
                "botStatus": "Creating",
                "creationDateTime": now,
                "botTags": body.get("botTags"),
                "testBotAliasTags": body.get("testBotAliasTags"),
            }),
        );
        self.bots.insert(id, bot);
        accepted(answer)
    }

    pub(super) fn bot_answer(id: &str, bot: &Bot) -> Value {
        with(
            bot.def.clone(),
            json!({
                "botId": id,
                "botStatus": bot.phase.now(),
                "creationDateTime": bot.created,
                "lastUpdatedDateTime": bot.updated,
            }),
        )
    }

    pub(super) fn describe_bot(&self, id: &str) -> Answer {
        ok(Self::bot_answer(id, self.bot(id, true)?))
    }

    pub(super) fn update_bot(&mut self, id: &str, body: &Value, now: f64) -> Answer {
        let def = Self::bot_def(body)?;
        self.bot(id, false)?;
        let name = def["botName"].as_str().unwrap_or("");
        if self
            .bots
            .iter()
            .any(|(other, b)| other != id && b.name() == name)
        {
            return Err(LexError::Conflict(format!(
                "A bot with the name '{name}' already exists."
            )));
        }
        let bot = self.bot_mut(id)?;
        bot.def = def;
        bot.updated = now;
        accepted(Self::bot_answer(id, bot))
    }

    pub(super) fn delete_bot(&mut self, id: &str, query: &[(String, String)]) -> Answer {
        let bot = self.bot(id, false)?;
        let in_use = bot.aliases.keys().any(|a| a != TEST_ALIAS_ID);
        if in_use && !skip_in_use_check(query) {
            return Err(LexError::Conflict(format!(
                "Bot '{id}' is in use by one or more aliases. Delete the aliases first, or set skipResourceInUseCheck to delete the bot with them."
            )));
        }
        self.bots.remove(id);
        let bot_resource = format!("bot/{id}");
        let alias_prefix = format!("bot-alias/{id}/");
        self.policies
            .retain(|k, _| *k != bot_resource && !k.starts_with(&alias_prefix));
        accepted(json!({"botId": id, "botStatus": "Deleting"}))
    }

    pub(super) fn list_bots(&self, body: &Value) -> Answer {
        let items = self
            .bots
            .iter()
            .map(|(id, b)| {
                json!({
                    "botId": id,
                    "botName": b.name(),
                    "description": b.def.get("description"),
                    "botStatus": b.phase.now(),
                    "latestBotVersion": b.latest_version(),
                    "lastUpdatedDateTime": b.updated,
                    "botType": b.def.get("botType"),
                })
            })
            .map(strip_nulls)
            .collect();
        list(items, body, &BOT_LIST, "botSummaries", json!({}))
    }
}
