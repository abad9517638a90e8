//! Amazon Connect: instances, queues, contact flows, phone numbers, bot associations, tags.

use super::{lex::Lex, not_implemented, Request};
use axum::body::Body;
use axum::http::{Method, Response};

/// The operation a REST route names, for the call record.
pub fn operation_of(_method: &Method, _path: &str) -> Option<&'static str> {
    None
}

/// In-memory state.
#[derive(Default)]
pub struct Connect {}

impl Connect {
    /// `lex` is the Lex V2 state, which AssociateBot / DisassociateBot change (the alias's
    /// resource policy), as Connect does in a real account.
    pub async fn handle(&self, request: Request<'_>, _lex: &Lex) -> Response<Body> {
        not_implemented(request.call)
    }
}
