//! resetpw: reconciles one declarative stack file into a self-service password-reset phone line
//! on AWS. The cloud is the state: resources are found again by deterministic names and
//! ownership tags, so `up`, `diff` and `down` are right from a fresh checkout and after a crash.

pub mod aws;
pub mod call;
pub mod chat;
pub mod chat_contact;
pub mod cli;
pub mod commands;
pub mod engine;
pub mod outputs;
pub mod package;
pub mod progress;
pub mod resources;
pub mod secret;
pub mod stack;
pub mod wait;
