//! KMS: the stack's key for the directory secret and its alias.

pub mod alias;
pub mod key;
