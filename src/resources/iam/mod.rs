//! IAM: the fulfillment Lambda's role, its customer policy and the policy attachments.

pub mod attachment;
pub mod bot_role;
pub mod policy;
pub mod role;

use aws_sdk_iam::types::Tag;
use std::collections::BTreeMap;

/// The path every role and policy of resetpw lives under.
pub const PATH: &str = "/resetpw/";

/// A tag map in IAM's shape.
pub fn iam_tags(tags: BTreeMap<String, String>) -> Vec<Tag> {
    tags.into_iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
}
