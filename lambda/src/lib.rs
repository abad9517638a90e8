//! Fulfillment Lambda for the ResetPW Lex V2 intent: verifies the caller against Active
//! Directory, resets the password over LDAPS and sends it by SMS.
//!
//! Handler logic ([`handler`]) depends only on the traits in [`ports`]; the real directory
//! ([`ldap`]), AWS services ([`cloud`]) and the runtime wiring ([`app`]) are separate.

pub mod app;
pub mod audit;
pub mod cloud;
pub mod code;
pub mod config;
pub mod handler;
pub mod ldap;
pub mod lex;
pub mod logging;
pub mod normalize;
pub mod password;
pub mod ports;
