//! AWS collaborators: KMS (bind password), SNS (the SMS) and DynamoDB (failed attempts).

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_sns::types::MessageAttributeValue;
use secrecy::{ExposeSecret, SecretString};

use crate::config::Throttle;
use crate::ports::{AttemptStatus, AttemptsStore, Notifier, NotifyError, StoreError};

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

/// SMS through SNS Publish to a phone number.
pub struct SnsNotifier {
    client: aws_sdk_sns::Client,
}

impl SnsNotifier {
    pub fn new(client: aws_sdk_sns::Client) -> Self {
        SnsNotifier { client }
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
}
