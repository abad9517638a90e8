//! AWS collaborators: KMS (bind password), SNS (the SMS) and DynamoDB (failed attempts).

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_sns::types::MessageAttributeValue;
use secrecy::{ExposeSecret, SecretString};

use crate::config::Throttle;
use crate::ports::{
    AttemptStatus, AttemptsStore, Email, IssuedCode, Notifier, NotifyError, StoreError,
};

/// KMS errors at cold start.
#[derive(Debug, thiserror::Error)]
pub enum KmsError {
    #[error("KMS could not decrypt RESETPW_BIND_PASSWORD_CIPHERTEXT ({0}): check it was encrypted with a key this function may use (kms:Decrypt) under the same RESETPW_KMS_ENCRYPTION_CONTEXT")]
    Decrypt(String),
    #[error("the decrypted bind password is empty or not UTF-8: encrypt the password text itself")]
    BadPlaintext,
}

/// The error code of an SDK error (never its message, which may echo request data).
fn code_of<E: aws_sdk_kms::error::ProvideErrorMetadata>(e: &E, fallback: &str) -> String {
    e.code().unwrap_or(fallback).to_string()
}

/// Decrypts the bind password once per cold start.
pub async fn decrypt_bind_password(
    kms: &aws_sdk_kms::Client,
    ciphertext: &[u8],
    context: &BTreeMap<String, String>,
) -> Result<SecretString, KmsError> {
    let context: HashMap<String, String> = context.clone().into_iter().collect();
    let out = kms
        .decrypt()
        .ciphertext_blob(Blob::new(ciphertext.to_vec()))
        .set_encryption_context(Some(context))
        .send()
        .await
        .map_err(|e| KmsError::Decrypt(code_of(&e, "request failed")))?;
    let plaintext = out.plaintext.ok_or(KmsError::BadPlaintext)?.into_inner();
    let text = String::from_utf8(plaintext).map_err(|_| KmsError::BadPlaintext)?;
    if text.is_empty() {
        return Err(KmsError::BadPlaintext);
    }
    Ok(SecretString::from(text))
}

/// SMS through SNS Publish to a phone number; email through SES (v2) from the configured
/// sender, when there is one.
pub struct SnsNotifier {
    client: aws_sdk_sns::Client,
    email: Option<(aws_sdk_sesv2::Client, String)>,
}

impl SnsNotifier {
    pub fn new(client: aws_sdk_sns::Client) -> Self {
        SnsNotifier {
            client,
            email: None,
        }
    }

    /// Also sends email notices through `ses`, from `from`.
    pub fn with_email(mut self, ses: aws_sdk_sesv2::Client, from: String) -> Self {
        self.email = Some((ses, from));
        self
    }
}

#[async_trait]
impl Notifier for SnsNotifier {
    async fn send_sms(&self, phone_e164: &str, message: &SecretString) -> Result<(), NotifyError> {
        let sms_type = MessageAttributeValue::builder()
            .data_type("String")
            .string_value("Transactional")
            .build()
            .map_err(|_| NotifyError::Publish("invalid message attribute".into()))?;
        self.client
            .publish()
            .phone_number(phone_e164)
            .message(message.expose_secret())
            .message_attributes("AWS.SNS.SMS.SMSType", sms_type)
            .send()
            .await
            .map_err(|e| NotifyError::Publish(code_of(&e, "request failed")))?;
        Ok(())
    }

    async fn send_email(&self, email: &Email) -> Result<(), NotifyError> {
        use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
        let Some((ses, from)) = &self.email else {
            return Ok(());
        };
        let text = |t: &str| {
            Content::builder()
                .data(t)
                .charset("UTF-8")
                .build()
                .map_err(|_| NotifyError::Email("invalid content".into()))
        };
        let message = Message::builder()
            .subject(text(&email.subject)?)
            .body(Body::builder().text(text(&email.body)?).build())
            .build();
        ses.send_email()
            .from_email_address(from)
            .destination(Destination::builder().to_addresses(&email.to).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map_err(|e| NotifyError::Email(code_of(&e, "request failed")))?;
        Ok(())
    }
}

/// Failed-attempt counters in DynamoDB.
///
/// Table: partition key `pk` (String); TTL attribute `expires_at` (epoch seconds).
/// Item: `failures` (N), `window_start` (N), `locked_until` (N, 0 = not locked).
/// Every write is conditional on the values read, so concurrent calls cannot lose a count.
pub struct DynamoAttempts {
    client: aws_sdk_dynamodb::Client,
    throttle: Throttle,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Item {
    failures: u32,
    window_start: u64,
    locked_until: u64,
}

impl DynamoAttempts {
    pub fn new(client: aws_sdk_dynamodb::Client, throttle: Throttle) -> Self {
        DynamoAttempts { client, throttle }
    }

    fn unavailable<E: aws_sdk_dynamodb::error::ProvideErrorMetadata>(&self, e: &E) -> StoreError {
        StoreError::Unavailable {
            table: self.throttle.table.clone(),
            code: e.code().unwrap_or("request failed").to_string(),
        }
    }

    async fn get(&self, key: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.throttle.table)
            .key("pk", AttributeValue::S(key.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.unavailable(&e))?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        let n = |name: &str| -> Result<u64, StoreError> {
            match item.get(name) {
                None => Ok(0),
                Some(AttributeValue::N(v)) => v
                    .parse()
                    .map_err(|_| StoreError::Malformed(self.throttle.table.clone())),
                Some(_) => Err(StoreError::Malformed(self.throttle.table.clone())),
            }
        };
        Ok(Some(Item {
            failures: n("failures")? as u32,
            window_start: n("window_start")?,
            locked_until: n("locked_until")?,
        }))
    }

    fn status_of(&self, item: Option<Item>, now: u64) -> AttemptStatus {
        match item {
            Some(i) if i.locked_until > now => AttemptStatus::Locked {
                until: i.locked_until,
            },
            Some(i)
                if i.locked_until == 0 && now < i.window_start + self.throttle.window_seconds =>
            {
                AttemptStatus::Allowed {
                    failures: i.failures,
                }
            }
            _ => AttemptStatus::Allowed { failures: 0 },
        }
    }
}

fn num(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// The item key of a session's one-time code (user-ID keys never hold `#`).
fn code_key(session: &str) -> String {
    format!("code#{session}")
}

impl DynamoAttempts {
    fn lost_race<E>(e: &aws_sdk_dynamodb::error::SdkError<E>) -> bool
    where
        E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
    {
        e.as_service_error()
            .and_then(|s| s.code())
            .is_some_and(|c| c == "ConditionalCheckFailedException")
    }

    fn code_of_item(
        &self,
        item: &HashMap<String, AttributeValue>,
    ) -> Result<IssuedCode, StoreError> {
        let malformed = || StoreError::Malformed(self.throttle.table.clone());
        let s = |name: &str| match item.get(name) {
            Some(AttributeValue::S(v)) => Ok(v.clone()),
            _ => Err(malformed()),
        };
        let n = |name: &str| match item.get(name) {
            Some(AttributeValue::N(v)) => v.parse::<u64>().map_err(|_| malformed()),
            _ => Err(malformed()),
        };
        Ok(IssuedCode {
            digest: s("digest")?,
            user_key: s("user")?,
            intent: s("intent")?,
            expires_at: n("code_expires")?,
            tries: n("tries")? as u32,
            verified: matches!(item.get("verified"), Some(AttributeValue::Bool(true))),
        })
    }
}

#[async_trait]
impl AttemptsStore for DynamoAttempts {
    async fn status(&self, key: &str, now: u64) -> Result<AttemptStatus, StoreError> {
        Ok(self.status_of(self.get(key).await?, now))
    }

    async fn record_failure(&self, key: &str, now: u64) -> Result<AttemptStatus, StoreError> {
        let t = &self.throttle;
        for _ in 0..5 {
            let current = self.get(key).await?;
            let fresh = match current {
                None => true,
                Some(i) => {
                    (i.locked_until != 0 && i.locked_until <= now)
                        || (i.locked_until == 0 && now >= i.window_start + t.window_seconds)
                }
            };
            let (failures, window_start) = match current {
                Some(i) if !fresh => (i.failures + 1, i.window_start),
                _ => (1, now),
            };
            let locked_until = if failures >= t.max_failures {
                now + t.lockout_seconds
            } else {
                0
            };
            let expires_at = (window_start + t.window_seconds).max(locked_until) + 60;
            let mut put = self
                .client
                .put_item()
                .table_name(&t.table)
                .item("pk", AttributeValue::S(key.to_string()))
                .item("failures", num(failures as u64))
                .item("window_start", num(window_start))
                .item("locked_until", num(locked_until))
                .item("expires_at", num(expires_at));
            put = match current {
                None => put.condition_expression("attribute_not_exists(pk)"),
                Some(i) => put
                    .condition_expression(
                        "failures = :f AND window_start = :w AND locked_until = :l",
                    )
                    .expression_attribute_values(":f", num(i.failures as u64))
                    .expression_attribute_values(":w", num(i.window_start))
                    .expression_attribute_values(":l", num(i.locked_until)),
            };
            match put.send().await {
                Ok(_) => {
                    return Ok(if locked_until > now {
                        AttemptStatus::Locked {
                            until: locked_until,
                        }
                    } else {
                        AttemptStatus::Allowed { failures }
                    })
                }
                Err(e) => {
                    let lost_race = e
                        .as_service_error()
                        .map(|s| s.is_conditional_check_failed_exception())
                        .unwrap_or(false);
                    if !lost_race {
                        return Err(self.unavailable(&e));
                    }
                }
            }
        }
        Err(StoreError::Contention(t.table.clone()))
    }

    async fn clear(&self, key: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.throttle.table)
            .key("pk", AttributeValue::S(key.to_string()))
            .send()
            .await
            .map_err(|e| self.unavailable(&e))?;
        Ok(())
    }

    /// One counter per number and window (`<key>#<window index>`), added to atomically; the
    /// table's TTL removes it a minute after its window.
    async fn count_caller(
        &self,
        key: &str,
        now: u64,
        window_seconds: u64,
    ) -> Result<u32, StoreError> {
        let window = now / window_seconds;
        let out = self
            .client
            .update_item()
            .table_name(&self.throttle.table)
            .key("pk", AttributeValue::S(format!("{key}#{window}")))
            .update_expression("ADD verifications :one SET expires_at = :exp")
            .expression_attribute_values(":one", num(1))
            .expression_attribute_values(":exp", num((window + 1) * window_seconds + 60))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| self.unavailable(&e))?;
        match out.attributes.as_ref().and_then(|a| a.get("verifications")) {
            Some(AttributeValue::N(v)) => v
                .parse()
                .map_err(|_| StoreError::Malformed(self.throttle.table.clone())),
            _ => Err(StoreError::Malformed(self.throttle.table.clone())),
        }
    }

    async fn put_code(&self, session: &str, code: &IssuedCode) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.throttle.table)
            .item("pk", AttributeValue::S(code_key(session)))
            .item("digest", AttributeValue::S(code.digest.clone()))
            .item("user", AttributeValue::S(code.user_key.clone()))
            .item("intent", AttributeValue::S(code.intent.clone()))
            .item("code_expires", num(code.expires_at))
            .item("tries", num(code.tries as u64))
            .item("verified", AttributeValue::Bool(code.verified))
            .item("expires_at", num(code.expires_at + 60))
            .send()
            .await
            .map_err(|e| self.unavailable(&e))?;
        Ok(())
    }

    async fn code(&self, session: &str) -> Result<Option<IssuedCode>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.throttle.table)
            .key("pk", AttributeValue::S(code_key(session)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.unavailable(&e))?;
        out.item.as_ref().map(|i| self.code_of_item(i)).transpose()
    }

    async fn code_wrong_try(
        &self,
        session: &str,
        code: &IssuedCode,
    ) -> Result<Option<u32>, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.throttle.table)
            .key("pk", AttributeValue::S(code_key(session)))
            .update_expression("SET tries = tries + :one")
            .condition_expression("digest = :d AND verified = :no")
            .expression_attribute_values(":one", num(1))
            .expression_attribute_values(":d", AttributeValue::S(code.digest.clone()))
            .expression_attribute_values(":no", AttributeValue::Bool(false))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
            .send()
            .await;
        match out {
            Ok(out) => match out.attributes.as_ref().and_then(|a| a.get("tries")) {
                Some(AttributeValue::N(v)) => v
                    .parse()
                    .map(Some)
                    .map_err(|_| StoreError::Malformed(self.throttle.table.clone())),
                _ => Err(StoreError::Malformed(self.throttle.table.clone())),
            },
            Err(e) if Self::lost_race(&e) => Ok(None),
            Err(e) => Err(self.unavailable(&e)),
        }
    }

    async fn code_verified(
        &self,
        session: &str,
        code: &IssuedCode,
        now: u64,
    ) -> Result<bool, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.throttle.table)
            .key("pk", AttributeValue::S(code_key(session)))
            .update_expression("SET verified = :yes")
            .condition_expression(
                "digest = :d AND tries = :t AND verified = :no AND code_expires > :now",
            )
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .expression_attribute_values(":no", AttributeValue::Bool(false))
            .expression_attribute_values(":d", AttributeValue::S(code.digest.clone()))
            .expression_attribute_values(":t", num(code.tries as u64))
            .expression_attribute_values(":now", num(now))
            .send()
            .await;
        match out {
            Ok(_) => Ok(true),
            Err(e) if Self::lost_race(&e) => Ok(false),
            Err(e) => Err(self.unavailable(&e)),
        }
    }

    async fn take_verified_code(
        &self,
        session: &str,
        now: u64,
    ) -> Result<Option<IssuedCode>, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.throttle.table)
            .key("pk", AttributeValue::S(code_key(session)))
            .condition_expression("verified = :yes AND code_expires > :now")
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .expression_attribute_values(":now", num(now))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await;
        match out {
            Ok(out) => out
                .attributes
                .as_ref()
                .map(|i| self.code_of_item(i))
                .transpose(),
            Err(e) if Self::lost_race(&e) => Ok(None),
            Err(e) => Err(self.unavailable(&e)),
        }
    }

    async fn drop_code(&self, session: &str) -> Result<(), StoreError> {
        self.clear(&code_key(session)).await
    }
}
