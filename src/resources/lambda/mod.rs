//! Lambda: the fulfillment function, its configuration from the stack file, and its code.

pub mod code;
pub mod environment;
pub mod function;
pub mod permission;
