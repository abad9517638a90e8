//! IAM: the fulfillment and bot roles, the fulfillment customer policy and its attachments.

pub mod attachment;
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

/// Brings a role's tags to the tags the stack wants for `id`.
pub async fn retag_role(
    cx: &crate::aws::Cx,
    id: &str,
    kind: &'static str,
    live: &crate::engine::Live,
    name: &str,
) -> Result<(), crate::engine::ResourceError> {
    use crate::aws::ApiError;
    crate::resources::apply_tag_delta(
        cx,
        id,
        live,
        (kind, name),
        |set| async {
            let request = cx
                .iam
                .tag_role()
                .role_name(name)
                .set_tags(Some(iam_tags(set)));
            request.send().await.map(drop).map_err(ApiError::from)
        },
        |remove| async {
            let request = cx
                .iam
                .untag_role()
                .role_name(name)
                .set_tag_keys(Some(remove));
            request.send().await.map(drop).map_err(ApiError::from)
        },
    )
    .await
}
