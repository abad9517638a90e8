//! Lex V2 model building (bots, locales, slot types, intents, slots, builds, versions,
//! aliases, tags, resource policies) and, later, the Lex V2 runtime.

use super::{not_implemented, Request};
use axum::body::Body;
use axum::http::{Method, Response};

/// The operation a REST route names, for the call record.
pub fn operation_of(_method: &Method, _path: &str) -> Option<&'static str> {
    None
}

/// In-memory state.
#[derive(Default)]
pub struct Lex {}

impl Lex {
    pub async fn handle(&self, request: Request<'_>) -> Response<Body> {
        not_implemented(request.call)
    }

    /// What Connect's AssociateBot / DisassociateBot do to the bot alias's resource policy:
    /// with `add`, a statement letting `connect.amazonaws.com` call lex:RecognizeText and
    /// lex:StartConversation on `alias_arn` under the conditions AWS:SourceAccount = `account`
    /// and AWS:SourceArn = `instance_arn` (creating the policy or a new revision); without it,
    /// that statement removed. An error when the alias does not exist (Connect answers
    /// InvalidRequestException then).
    #[allow(dead_code)] // called by the Connect handlers as they arrive
    pub fn connect_association(
        &self,
        _alias_arn: &str,
        _instance_arn: &str,
        _account: &str,
        _add: bool,
    ) -> Result<(), String> {
        Ok(())
    }
}
