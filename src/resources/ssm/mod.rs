//! SSM Parameter Store: the directory service account's password, as KMS ciphertext.

pub mod directory_secret;
